"""What a bake asks, and what it derives instead: every index_auth choice asks the same short list
(a cloud index's account, region or project are read from its URL), and the answers a
well-known base image's tag implies (its Ray, its Python, the user it runs as) default to what
the tag says, for cookiecutter, cruft and copier alike; an answer that contradicts the tag is
still refused."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from baking import AWS, DEFAULTS, GOOGLE, TEMPLATE, tool
from template_repo import copier_copy, cruft_create, run

QUESTIONS = [key for key in DEFAULTS if not key.startswith("_")]
# What the user types for each choice: the choice's number, and a cloud index's URL.
CHOICES = {
    "netrc-secret": {"index_auth": "1"},
    "aws-codeartifact": {"index_auth": "2", "private_index_url": AWS["private_index_url"]},
    "google-artifact-registry": {
        "index_auth": "3",
        "private_index_url": GOOGLE["private_index_url"],
    },
}


def question_text(name: str) -> str:
    """A question's prompt, up to its first parenthesis, as cookiecutter.json words it."""
    prompt = DEFAULTS["__prompts__"][name]
    return (prompt if isinstance(prompt, str) else prompt["__prompt__"]).split("(")[0].strip()


def prompts(output: str) -> list[tuple[int, int, str]]:
    """cookiecutter's prompts as it printed them: (number, of how many, the question's text)."""
    found = re.findall(r"\[(\d+)/(\d+)\] ([^\n(]+)", output)
    return [(int(number), int(total), text.strip()) for number, total, text in found]


@pytest.mark.parametrize("index_auth", CHOICES)
def test_every_index_auth_asks_only_what_it_uses(tmp_path, index_auth):
    """A real interactive cookiecutter run, Enter for every question the choice does not need."""
    typed = "".join(f"{CHOICES[index_auth].get(q, '')}\n" for q in QUESTIONS)
    argv = [sys.executable, "-m", "cookiecutter", "-o", str(tmp_path), str(TEMPLATE)]
    result = subprocess.run(
        argv, input=typed, capture_output=True, text=True, timeout=120,
        env={**os.environ, "COLUMNS": "400"},
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    asked = prompts(result.stdout)
    assert [number for number, _, _ in asked] == list(range(1, 16)), asked
    assert {total for _, total, _ in asked} == {15}
    texts = [text for _, _, text in asked]
    assert texts == [question_text(name) for name in QUESTIONS]
    state = json.loads((tmp_path / "ray-runtime/.cruft.json").read_text())
    assert state["context"]["cookiecutter"]["index_auth"] == index_auth


def test_copier_asks_the_same_questions_and_never_skips_one():
    """copier.yml mirrors cookiecutter.json (test_cruft_copier holds them to each other): with no
    question left that only some choices need, no `when:` hides one, so copier asks 15 too."""
    copier = yaml.safe_load((TEMPLATE / "copier.yml").read_text(encoding="utf-8"))
    questions = [key for key in copier if not key.startswith("_")]
    assert len(questions) == len(QUESTIONS) == 15
    assert not [name for name in questions if "when" in copier[name]]


DERIVED = {
    "python:3.12-slim": {
        "ray_version": "2.60.0",  # a python image has no Ray: the template's default
        "python_version": "3.12",
        "base_image_uid": "0",
        "base_image_gid": "0",
    },
    "rayproject/ray:2.50.1-py312-cu128": {
        "ray_version": "2.50.1",
        "python_version": "3.12",
        "base_image_uid": "1000",
        "base_image_gid": "100",
    },
    "registry.example.com/team/ray-base:2024-05": {  # says nothing: the template's defaults
        "ray_version": "2.60.0",
        "python_version": "3.11",
        "base_image_uid": "1000",
        "base_image_gid": "100",
    },
}


def cookiecutter_bake(out: Path, answers: dict[str, str]) -> subprocess.CompletedProcess:
    argv = [sys.executable, "-m", "cookiecutter", "--no-input", "-o", str(out), str(TEMPLATE)]
    argv += [f"{key}={value}" for key, value in answers.items()]
    return subprocess.run(argv, capture_output=True, text=True, timeout=120)


def recorded(project: Path) -> dict[str, str]:
    if (project / ".copier-answers.yml").is_file():
        return yaml.safe_load((project / ".copier-answers.yml").read_text())
    return json.loads((project / ".cruft.json").read_text())["context"]["cookiecutter"]


@pytest.mark.parametrize("base_image", DERIVED)
@pytest.mark.parametrize("how", ["cookiecutter", "cruft", "copier"])
def test_a_base_image_tag_gives_the_answers_it_implies(tmp_path, template, base_image, how):
    answers = {"base_image": base_image}
    if how == "cookiecutter":
        result = cookiecutter_bake(tmp_path, answers)
        assert result.returncode == 0, result.stderr
        project = tmp_path / "ray-runtime"
    elif how == "cruft":
        (tmp_path / "out").mkdir()
        project = cruft_create(template, tmp_path / "out", answers)
    else:
        project = copier_copy(template, tmp_path / "copier", answers)
    expected = DERIVED[base_image]
    assert {key: recorded(project)[key] for key in expected} == expected
    dockerfile = (project / "Dockerfile").read_text()
    uid, gid = expected["base_image_uid"], expected["base_image_gid"]
    assert f"--mount=type=secret,id=netrc,uid={uid},gid={gid}," in dockerfile
    workflow = (project / ".github/workflows/image.yml").read_text()
    assert f'PYTHON_VERSION: "{expected["python_version"]}"' in workflow
    raycluster = (project / "deploy/raycluster/raycluster.yaml").read_text()
    assert f'rayVersion: "{expected["ray_version"]}"' in raycluster


CONTRADICTIONS = {
    "python": (
        {"base_image": "python:3.12-slim", "python_version": "3.11"},
        "The base image 'python:3.12-slim' ships Python 3.12, but the Python version answer is "
        "3.11. Answer 3.12 (the default after this base image), or choose a base image with "
        "Python 3.11.",
    ),
    "user": (
        {"base_image": "python:3.12-slim", "base_image_uid": "1000", "base_image_gid": "100"},
        "The base image 'python:3.12-slim' runs as root, 0:0, but the base image UID:GID answers "
        "are 1000:100; the secret mount must be readable by the installing user. Answer 0 and 0 "
        "(the defaults after this base image).",
    ),
    "ray": (
        {"base_image": "rayproject/ray:2.50.1-py312", "ray_version": "2.60.0"},
        "The base image 'rayproject/ray:2.50.1-py312' ships Ray 2.50.1, but the Ray version "
        "answer is 2.60.0; the RayCluster's rayVersion must match the image. Answer 2.50.1",
    ),
}


@pytest.mark.parametrize(("answers", "message"), CONTRADICTIONS.values(), ids=CONTRADICTIONS)
def test_an_explicit_answer_that_contradicts_the_tag_is_refused(
    tmp_path, template, answers, message
):
    result = cookiecutter_bake(tmp_path / "cookiecutter", answers)
    assert result.returncode != 0 and f"error: {message}" in result.stderr
    assert not (tmp_path / "cookiecutter" / "ray-runtime").exists()
    data = [item for key, value in answers.items() for item in ("--data", f"{key}={value}")]
    copier = run(
        tool("copier"), "copy", "--trust", "--defaults", *data, template.path, tmp_path / "copier",
        cwd=tmp_path, env=template.env,
    )  # fmt: skip
    assert copier.returncode == 1 and f"error: {message}" in copier.stderr
    assert "Traceback" not in copier.stderr
