"""The pre-gen hook refuses bad answers before anything is written, never echoes a secret, and
leaves no credential behind: not in cookiecutter's replay file, not in a rendered hook script."""

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from baking import AWS, DEFAULTS, GOOGLE, TEMPLATE, tool
from cookiecutter.environment import StrictEnvironment

PASSWORD = "Hunter2-canary-9f3b"  # a password a user typed into the index URL by mistake
TOKEN = "pypi-AgEIcHlwaS5vcmcCanaryToken0123456789"
AWS_URL = AWS["private_index_url"]

REFUSALS = {
    "project-name": (
        {"project_name": 'Acme "Ray" $HOME', "project_slug": "acme-ray"},
        "must be plain text",
    ),
    "slug": ({"project_slug": "Ray Runtime!"}, "is not a valid repository and image name"),
    "image-name-uppercase": ({"image_name": "ghcr.io/Acme/Ray"}, "not an image reference"),
    "image-name-tagged": ({"image_name": "ghcr.io/acme/ray:1"}, "must not carry a tag"),
    "base-image": ({"base_image": "rayproject/ray::latest"}, "not an image reference"),
    "requirement": ({"private_packages": "acme-models>>1"}, "not a valid PEP 508 requirement"),
    "requirement-url": (
        {"private_packages": "acme @ https://example.com/acme.whl"},
        "direct URL reference",
    ),
    "no-packages": ({"private_packages": " , "}, "No private packages"),
    "index-scheme": ({"private_index_url": "ftp://nexus.example.com/simple/"}, "not an http(s)"),
    "index-no-scheme": (
        {"private_index_url": "nexus.example.com/simple/"},
        "'nexus.example.com/simple/' has no scheme. Write it in full, for example "
        "'https://nexus.example.com/simple/'",
    ),
    "index-plain-http": (
        {"private_index_url": "http://nexus.example.com/simple/"},
        "plain http to a remote host",
    ),
    "index-user-password": (
        {"private_index_url": f"https://deploy:{PASSWORD}@nexus.example.com/simple/"},
        "carries credentials",
    ),
    "index-token-as-user": (
        {"private_index_url": f"https://{TOKEN}@nexus.example.com/simple/"},
        "carries credentials",
    ),
    "index-token-in-query": (
        {"private_index_url": f"https://nexus.example.com/simple/?token={TOKEN}"},
        "query or fragment",
    ),
    "index-no-scheme-credentials": (
        {"private_index_url": f"deploy:{PASSWORD}@nexus.example.com/simple/"},
        "has no scheme and carries what looks like credentials",
    ),
    "ray-version-mismatch": (
        {"ray_version": "2.9.0", "base_image": "rayproject/ray:2.60.0-py311"},
        "ships Ray 2.60.0",
    ),
    "python-version-mismatch": (
        {"python_version": "3.12", "base_image": "rayproject/ray:2.60.0-py311"},
        "ships Python 3.11",
    ),
    "uid": ({"base_image_uid": "ray"}, "is not a number"),
    "uid-not-the-base-images": (
        {"base_image_uid": "0", "base_image_gid": "0"},
        "runs as ray, 1000:100, but the base image UID:GID answers are 0:0",
    ),
    "aws-index-url-example": (
        {"index_auth": "aws-codeartifact"},
        "The private index URL is still the example. With index_auth aws-codeartifact, the "
        "private index URL is your repository's simple URL, "
        "https://DOMAIN-ACCOUNT.d.codeartifact.REGION.amazonaws.com/pypi/REPOSITORY/simple/ "
        "(`aws codeartifact get-repository-endpoint",
    ),
    "aws-account": (
        {**AWS, "private_index_url": AWS_URL.replace("012345678901", "12345")},
        "The AWS account ID '12345' in the private index URL is not valid (for example "
        "'123456789012'). With index_auth aws-codeartifact",
    ),
    "aws-region": (
        {**AWS, "private_index_url": AWS_URL.replace("eu-west-1", "Europe")},
        "The AWS region 'Europe' in the private index URL is not valid",
    ),
    "aws-domain": (
        {**AWS, "private_index_url": AWS_URL.replace("acme-", "Acme_Corp-")},
        "The CodeArtifact domain 'Acme_Corp' in the private index URL is not valid",
    ),
    "aws-index-url": (
        {**AWS, "private_index_url": "https://nexus.example.com/simple/"},
        "The private index URL https://nexus.example.com/simple/ is not one. With index_auth "
        "aws-codeartifact",
    ),
    "google-project": (
        {
            **GOOGLE,
            "private_index_url": GOOGLE["private_index_url"].replace("acme-artifacts", "Acme"),
        },
        "The Google Cloud project ID 'Acme' in the private index URL is not valid",
    ),
    "google-index-url": (
        {**GOOGLE, "private_index_url": AWS_URL},
        "With index_auth google-artifact-registry, the private index URL is your repository's "
        "simple URL, https://LOCATION-python.pkg.dev/PROJECT/REPOSITORY/simple/ (`gcloud artifacts "
        "print-settings python",
    ),
}


QUESTIONS = [key for key in DEFAULTS if not key.startswith("_")]


def typed(**answers: str) -> str:
    """What a user types at cookiecutter's prompts: these answers, Enter for every other."""
    return "".join(f"{answers.get(question, '')}\n" for question in QUESTIONS)


def run_cookiecutter(
    tmp_path: Path, answers: dict[str, str], **options
) -> subprocess.CompletedProcess:
    argv = [sys.executable, "-m", "cookiecutter", "-o", str(tmp_path / "out"), str(TEMPLATE)]
    argv += [] if "input" in options else ["--no-input"]
    argv += [f"{key}={value}" for key, value in answers.items()]
    return subprocess.run(argv, capture_output=True, text=True, timeout=120, **options)


@pytest.mark.parametrize(("answers", "message"), REFUSALS.values(), ids=REFUSALS.keys())
def test_refusal(tmp_path, answers, message):
    result = run_cookiecutter(tmp_path, answers)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert message in result.stderr
    assert "error: " in result.stderr
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
    assert PASSWORD not in output and TOKEN not in output
    assert not re.search(r"(?<![a-z])://", output), "a URL shown without its scheme"


def test_all_problems_reported_at_once(tmp_path):
    result = run_cookiecutter(
        tmp_path, {"github_owner": "Acme Corp", "private_index_url": "ftp://x/simple/"}
    )
    assert result.stderr.count("error: ") == 2
    assert "not an image reference" in result.stderr and "not an http(s)" in result.stderr


def test_credentials_in_url_point_to_netrc(tmp_path):
    result = run_cookiecutter(
        tmp_path, {"private_index_url": f"https://deploy:{PASSWORD}@nexus.example.com/simple/"}
    )
    assert "~/.netrc" in result.stderr and "rotate" in result.stderr


@pytest.mark.parametrize(
    "answers",
    [{"private_index_url": "http://127.0.0.1:8080/simple/"}, AWS, GOOGLE],
    ids=["loopback-http", "aws-codeartifact", "google-artifact-registry"],
)
def test_accepted(tmp_path, answers):
    result = run_cookiecutter(tmp_path, answers)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("answers", [{}, {"private_index_url": "ftp://x/simple/"}])
def test_no_rendered_hook_is_left_in_the_temporary_directory(tmp_path, answers):
    """cookiecutter leaves each rendered hook, every answer in it, in TMPDIR; ours delete
    themselves, whether the bake succeeds or is refused."""
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    run_cookiecutter(tmp_path, answers, env={**os.environ, "TMPDIR": str(temporary)})
    assert list(temporary.iterdir()) == []


@pytest.mark.parametrize(
    "url",
    [
        f"https://deploy:{PASSWORD}@nexus.example.com/simple/",
        f"https://nexus.example.com/simple/?token={PASSWORD}",
        f"deploy:{PASSWORD}@nexus.example.com/simple/",
    ],
    ids=["userinfo", "query", "no-scheme"],
)
@pytest.mark.parametrize("how", ["prompt", "command-line"])
def test_a_refused_credential_is_stored_nowhere(tmp_path, url, how):
    """cookiecutter writes every answer to ~/.cookiecutter_replay/ before the hook runs: the
    hook takes the credential out again. Nothing under HOME (TMPDIR included) holds it after."""
    home = tmp_path / "home"
    (home / "tmp").mkdir(parents=True)
    env = {**os.environ, "HOME": str(home), "TMPDIR": str(home / "tmp")}
    env.pop("COOKIECUTTER_CONFIG", None)
    if how == "prompt":  # Enter for every question but the index URL
        result = run_cookiecutter(tmp_path, {}, env=env, input=typed(private_index_url=url))
    else:
        result = run_cookiecutter(tmp_path, {"private_index_url": url}, env=env)
    assert result.returncode != 0
    assert "The credential was not stored: nothing was baked." in result.stderr
    replay = home / ".cookiecutter_replay" / f"{TEMPLATE.name}.json"
    assert f"replay file ({replay}) keeps the answer without it" in result.stderr
    holding = [
        str(path.relative_to(home))
        for path in home.rglob("*")
        if path.is_file() and PASSWORD.encode() in path.read_bytes()
    ]
    assert holding == []
    assert "example-private-package" in replay.read_text(encoding="utf-8")  # the rest stays
    assert PASSWORD not in result.stdout + result.stderr


def test_the_credential_is_taken_out_even_when_the_hook_then_fails(tmp_path):
    """The replay file is scrubbed before anything that can fail: here the hook cannot find the
    template's checks (a broken copy of the template)."""
    broken = tmp_path / "template"
    shutil.copytree(TEMPLATE, broken, ignore=shutil.ignore_patterns(".git", ".nox", ".venv"))
    (broken / "hooks" / "answers.py").unlink()
    home = tmp_path / "home"
    (home / "tmp").mkdir(parents=True)
    env = {**os.environ, "HOME": str(home), "TMPDIR": str(home / "tmp")}
    env.pop("COOKIECUTTER_CONFIG", None)
    url = f"https://deploy:{PASSWORD}@nexus.example.com/simple/"
    argv = [sys.executable, "-m", "cookiecutter", "--no-input", "-o", str(tmp_path / "out"),
            str(broken), f"private_index_url={url}"]  # fmt: skip
    result = subprocess.run(argv, capture_output=True, text=True, timeout=120, env=env)
    assert result.returncode != 0 and "cannot find the template's hooks/answers.py" in result.stderr
    assert "The credential was not stored" in result.stderr
    assert not [p for p in home.rglob("*") if p.is_file() and PASSWORD.encode() in p.read_bytes()]


def test_dockerfile_frontend_is_a_clear_choice(tmp_path):
    """The prompt names both frontends; the second, the engine's own, drops the syntax line."""
    result = run_cookiecutter(tmp_path, {}, input=typed(dockerfile_syntax="2"))
    assert result.returncode == 0, result.stderr
    assert "docker/dockerfile:1, pulled from Docker Hub at every build" in result.stdout
    assert "the engine's built-in frontend: no '# syntax=' line, works offline" in result.stdout
    dockerfile = tmp_path / "out" / "ray-runtime" / "Dockerfile"
    assert not dockerfile.read_text(encoding="utf-8").startswith("# syntax")


def test_an_empty_dockerfile_frontend_on_the_command_line_bakes(tmp_path):
    result = run_cookiecutter(tmp_path, {"dockerfile_syntax": ""})
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stdout + result.stderr


@pytest.mark.parametrize("pwd", ["shell", "stale"])
def test_readme_bake_command_works_from_the_clone(tmp_path, pwd):
    """`cookiecutter .`, as README.md says (also when the shell's PWD is stale), and nothing
    written into the template meanwhile."""
    argv = [sys.executable, "-m", "cookiecutter", "--no-input", "-o", str(tmp_path), "."]
    env = {**os.environ, "PWD": str(TEMPLATE) if pwd == "shell" else "/nonexistent"}
    caches = set(TEMPLATE.rglob("__pycache__"))
    result = subprocess.run(
        argv, cwd=TEMPLATE, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "ray-runtime" / "Dockerfile").is_file()
    assert set(TEMPLATE.rglob("__pycache__")) == caches


def rendered_hook(tmp_path: Path):
    """hooks/pre_gen_project.py as cookiecutter renders it, imported as a module."""
    source = (TEMPLATE / "hooks" / "pre_gen_project.py").read_text(encoding="utf-8")
    # the hook uses none of the template's filters: no _extensions to import
    context = {"cookiecutter": {k: v for k, v in DEFAULTS.items() if k != "_extensions"}}
    script = tmp_path / "rendered_pre_gen_project.py"
    script.write_text(StrictEnvironment(context=context).from_string(source).render(**context))
    spec = importlib.util.spec_from_file_location("rendered_pre_gen_project", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_lsof_finds_a_working_directory_as_proc_does(tmp_path):
    """macOS has no /proc: the hook asks lsof for its parent's working directory instead."""
    hook = rendered_hook(tmp_path)
    tool("lsof")
    sleeper = subprocess.Popen(["sleep", "30"], cwd=tmp_path)
    try:
        assert hook.lsof_working_directory(sleeper.pid) == tmp_path
        assert hook.working_directory(sleeper.pid) == tmp_path
    finally:
        sleeper.kill()
        sleeper.wait()
