"""The pre-gen hook refuses bad answers before anything is written, and never echoes a secret."""

import os
import subprocess
import sys

import pytest
from baking import TEMPLATE

PASSWORD = "Hunter2-canary-9f3b"  # a password a user typed into the index URL by mistake
TOKEN = "pypi-AgEIcHlwaS5vcmcCanaryToken0123456789"

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
    "ray-version-mismatch": (
        {"ray_version": "2.9.0", "base_image": "rayproject/ray:2.60.0-py311"},
        "ships Ray 2.60.0",
    ),
    "python-version-mismatch": (
        {"python_version": "3.12", "base_image": "rayproject/ray:2.60.0-py311"},
        "ships Python 3.11",
    ),
    "uid": ({"base_image_uid": "ray"}, "is not a number"),
    "syntax": ({"dockerfile_syntax": "Docker/Dockerfile:1"}, "not an image reference"),
}


def run_cookiecutter(tmp_path, answers: dict[str, str]) -> subprocess.CompletedProcess:
    argv = [sys.executable, "-m", "cookiecutter", "--no-input", "-o", str(tmp_path), str(TEMPLATE)]
    argv += [f"{key}={value}" for key, value in answers.items()]
    return subprocess.run(argv, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize(("answers", "message"), REFUSALS.values(), ids=REFUSALS.keys())
def test_refusal(tmp_path, answers, message):
    result = run_cookiecutter(tmp_path, answers)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert message in output
    assert "error: " in result.stderr
    assert list(tmp_path.iterdir()) == [], "a refused bake left files behind"
    assert PASSWORD not in output and TOKEN not in output


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


def test_loopback_http_index_is_accepted(tmp_path):
    result = run_cookiecutter(tmp_path, {"private_index_url": "http://127.0.0.1:8080/simple/"})
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("pwd", ["shell", "stale"])
def test_readme_bake_command_works_from_the_clone(tmp_path, pwd):
    """`cookiecutter .`, as README.md says (also when the shell's PWD is stale), and nothing
    written into the template meanwhile."""
    argv = [sys.executable, "-m", "cookiecutter", "--no-input", "-o", str(tmp_path), "."]
    env = {**os.environ, "PWD": str(TEMPLATE) if pwd == "shell" else "/nonexistent"}
    caches = set((TEMPLATE / "{{cookiecutter.project_slug}}").rglob("__pycache__"))
    result = subprocess.run(
        argv, cwd=TEMPLATE, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "ray-runtime" / "Dockerfile").is_file()
    assert set((TEMPLATE / "{{cookiecutter.project_slug}}").rglob("__pycache__")) == caches
