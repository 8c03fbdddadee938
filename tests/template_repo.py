"""A git repository of the template, and cruft and copier run on it as a user runs them."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

from baking import TEMPLATE, tool

VERSION = re.search(
    r'__version__ = "(.+)"',
    (TEMPLATE / "{{cookiecutter.project_slug}}/image_tasks/__init__.py").read_text("utf-8"),
)[1]


def environment(home: Path) -> dict[str, str]:
    """A user with nothing configured, and a git identity for the commits."""
    identity = {"GIT_AUTHOR_NAME": "Template Tests", "GIT_AUTHOR_EMAIL": "tests@example.com"}
    identity |= {"GIT_COMMITTER_NAME": "Template Tests", "GIT_COMMITTER_EMAIL": "tests@example.com"}
    return {**os.environ, "HOME": str(home), **identity}


def run(*argv: str | Path, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(arg) for arg in argv], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )


def ok(*argv: str | Path, cwd: Path, env: dict[str, str]) -> str:
    result = run(*argv, cwd=cwd, env=env)
    assert result.returncode == 0, f"{argv}: {result.stdout}{result.stderr}"
    return result.stdout


class Template:
    """A git repository of the template as it stands in this checkout, tagged as released."""

    def __init__(self, path: Path, env: dict[str, str]) -> None:
        self.path, self.env = path, env
        files = ok("git", "ls-files", "-z", "-co", "--exclude-standard", cwd=TEMPLATE, env=env)
        for name in filter(None, files.split("\0")):
            target = path / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes((TEMPLATE / name).read_bytes())
            target.chmod((TEMPLATE / name).stat().st_mode)
        self.git("init", "-q", "-b", "main")
        self.commit("the template as released")
        self.git("tag", f"v{VERSION}")

    def git(self, *argv: str) -> str:
        return ok("git", *argv, cwd=self.path, env=self.env)

    def commit(self, message: str) -> str:
        self.git("add", "-A")
        self.git("commit", "-q", "-m", message)
        return self.git("rev-parse", "HEAD").strip()

    def change(self, relative: str, old: str, new: str) -> str:
        """Commit one edit to a file of the baked project."""
        path = self.path / "{{cookiecutter.project_slug}}" / relative
        text = path.read_text(encoding="utf-8")
        assert old in text
        path.write_text(text.replace(old, new, 1), encoding="utf-8")
        return self.commit(f"change {relative}")


def cruft_create(template: Template, out: Path, answers: dict[str, str]) -> Path:
    ok(
        tool("cruft"), "create", "--no-input", "--output-dir", out,
        "--extra-context", json.dumps(answers), template.path,
        cwd=out, env=template.env,
    )  # fmt: skip
    return out / (answers.get("project_slug") or "ray-runtime")


def copier_copy(template: Template, destination: Path, answers: dict[str, str]) -> Path:
    data = [item for key, value in answers.items() for item in ("--data", f"{key}={value}")]
    ok(
        tool("copier"), "copy", "--trust", "--defaults", "--quiet", *data,
        template.path, destination,
        cwd=destination.parent, env=template.env,
    )  # fmt: skip
    return destination


def commit_all(project: Path, env: dict[str, str], message: str) -> None:
    if not (project / ".git").exists():
        ok("git", "init", "-q", "-b", "main", cwd=project, env=env)
    ok("git", "add", "-A", cwd=project, env=env)
    ok("git", "commit", "-q", "-m", message, cwd=project, env=env)
