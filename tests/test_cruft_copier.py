"""cruft and copier, for real, from a git repository of the template: a bake takes a later
template change cleanly, and copier and cookiecutter bake the same tree from the same answers."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
import yaml
from baking import AWS, DEFAULTS, GOOGLE, TEMPLATE, bake, tool
from template_repo import VERSION, commit_all, copier_copy, cruft_create, ok, run

VARIANTS = {
    "defaults": {},
    "aws-codeartifact": AWS,
    "google-artifact-registry": GOOGLE,
    "slim-uv-offline": {
        "installer": "uv",
        "dockerfile_syntax": "",
        "base_image": "python:3.12-slim",
        "python_version": "3.12",
        "base_image_uid": "0",
        "base_image_gid": "0",
        "registry": "docker.io",
        "private_packages": "acme-models[gpu]>=1.4,<2, acme-features==0.3.1",
    },
}
TOOL_FILES = {".cruft.json", ".copier-answers.yml"}


def tree(project: Path) -> dict[str, tuple[bytes, int]]:
    return {
        str(path.relative_to(project)): (path.read_bytes(), path.stat().st_mode)
        for path in sorted(project.rglob("*"))
        if path.is_file() and ".git" not in path.relative_to(project).parts
        and path.name not in TOOL_FILES
    }  # fmt: skip


def rejects(project: Path) -> list[str]:
    return [str(path) for path in project.rglob("*.rej")] + [
        str(path) for path in project.rglob("*.orig")
    ]


@pytest.mark.parametrize("answers", VARIANTS.values(), ids=VARIANTS.keys())
def test_copier_bakes_the_tree_cookiecutter_bakes(tmp_path, template, answers):
    expected = tree(bake(tmp_path / "cookiecutter", **answers))
    copied = tree(copier_copy(template, tmp_path / "copier", answers))
    assert sorted(copied) == sorted(expected)
    for name, (content, mode) in expected.items():
        assert copied[name][0] == content, name
        assert copied[name][1] == mode, name


def test_copier_asks_what_cookiecutter_asks():
    """copier.yml mirrors cookiecutter.json question by question: same names in the same order,
    same defaults, same help, same choices; each checked answer has its validator."""
    spec = importlib.util.spec_from_file_location("answers", TEMPLATE / "hooks" / "answers.py")
    answers = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(answers)
    copier = yaml.safe_load((TEMPLATE / "copier.yml").read_text(encoding="utf-8"))
    questions = {key: value for key, value in copier.items() if not key.startswith("_")}
    asked = [key for key in DEFAULTS if not key.startswith("_")]
    assert list(questions) == asked
    prompts = DEFAULTS["__prompts__"]
    for name in asked:
        question, default = questions[name], DEFAULTS[name]
        prompt = prompts[name]
        if isinstance(default, list):
            labels = {value: prompt.get(value, value) for value in default}
            assert question["choices"] == {label: value for value, label in labels.items()}
            assert question["default"] == default[0]
            assert question["help"] == prompt["__prompt__"]
        else:
            assert question["default"] == default.replace("cookiecutter.", ""), name
            assert question["help"] == prompt, name
        validator = f"{{{{ refusal('{name}') }}}}"
        assert (question.get("validator") == validator) == (name in answers.CHECKS), name
        assert "when" not in question, f"{name}: cookiecutter cannot skip a question"


def test_cruft_takes_a_template_change(tmp_path, template):
    """cruft create, the team edits its README, the template changes it elsewhere: cruft check
    says so, cruft update merges both without a conflict, and cruft check passes after."""
    cruft = tool("cruft")
    (tmp_path / "out").mkdir()
    project = cruft_create(template, tmp_path / "out", AWS)
    assert (
        json.loads((project / ".cruft.json").read_text())["commit"]
        == template.git("rev-parse", "HEAD").strip()
    )
    ok(cruft, "check", cwd=project, env=template.env)
    readme = project / "README.md"
    readme.write_text(readme.read_text().replace("## Deploy", "## Deploy (our clusters)"))
    commit_all(project, template.env, "baked, and our own README heading")

    commit = template.change("README.md", "## More", "## Further reading")
    assert run(cruft, "check", cwd=project, env=template.env).returncode != 0
    ok(cruft, "update", "--skip-apply-ask", cwd=project, env=template.env)

    text = readme.read_text()
    assert "## Further reading" in text and "## Deploy (our clusters)" in text
    assert rejects(project) == []
    assert json.loads((project / ".cruft.json").read_text())["commit"] == commit
    ok(cruft, "check", cwd=project, env=template.env)
    assert not list(template.path.rglob("__pycache__")), "a hook wrote byte code"


def test_cruft_update_without_a_template_change_changes_nothing(tmp_path, template):
    (tmp_path / "out").mkdir()
    project = cruft_create(template, tmp_path / "out", GOOGLE)
    commit_all(project, template.env, "baked")
    ok(tool("cruft"), "update", "--skip-apply-ask", cwd=project, env=template.env)
    assert ok("git", "status", "--porcelain", cwd=project, env=template.env) == ""


def test_copier_takes_a_template_change(tmp_path, template):
    """copier copy of the release tag, the team edits its README, the template releases a
    change: copier check-update sees it, copier update merges both without a conflict."""
    copier = tool("copier")
    project = copier_copy(template, tmp_path / "project", GOOGLE)
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
    assert answers["_commit"] == f"v{VERSION}"
    readme = project / "README.md"
    readme.write_text(readme.read_text().replace("## Deploy", "## Deploy (our clusters)"))
    commit_all(project, template.env, "baked, and our own README heading")
    ok(copier, "check-update", cwd=project, env=template.env)

    template.change("README.md", "## More", "## Further reading")
    template.git("tag", f"v{VERSION}.post1")
    assert run(copier, "check-update", "--quiet", cwd=project, env=template.env).returncode == 2
    ok(copier, "update", "--trust", "--defaults", "--quiet", cwd=project, env=template.env)

    text = readme.read_text()
    assert "## Further reading" in text and "## Deploy (our clusters)" in text
    assert rejects(project) == []
    assert yaml.safe_load((project / ".copier-answers.yml").read_text())["_commit"] == (
        f"v{VERSION}.post1"
    )
    assert 'update_available": false' in ok(
        copier, "check-update", "--output-format", "json", cwd=project, env=template.env
    )
    assert not list(template.path.rglob("__pycache__")), "the extension wrote byte code"


def test_copier_refuses_with_the_message_alone(tmp_path, template):
    password = "Hunter2-canary-copier"
    url = f"https://deploy:{password}@nexus.example.com/simple/"
    result = run(
        tool("copier"), "copy", "--trust", "--defaults", "--data", f"private_index_url={url}",
        template.path, tmp_path / "project",
        cwd=tmp_path, env=template.env,
    )  # fmt: skip
    assert result.returncode == 1
    assert "error: The private index URL carries credentials" in result.stderr
    assert "Traceback" not in result.stderr
    assert password not in result.stdout + result.stderr
    assert not (tmp_path / "project").exists()
