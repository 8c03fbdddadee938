"""A plain cookiecutter bake records its template as cruft does (.cruft.json), read from the
template checkout's git files by the pre-gen hook, which runs no git; the bake always ends by
saying where the repository is, where its template is recorded, and what to do next."""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
from pathlib import Path

import pytest
from baking import TEMPLATE, tool
from template_repo import commit_all, cruft_create, ok, run

sys.path.insert(0, str(TEMPLATE / "hooks"))
import template_source

sys.path.remove(str(TEMPLATE / "hooks"))


def read(checkout: Path) -> tuple[str | None, str | None]:
    """(commit, origin URL) as the hook reads them."""
    dirs = template_source.git_dirs(checkout)
    assert dirs is not None
    return template_source.head_commit(*dirs), template_source.origin_url(dirs[1])


def git(checkout: Path, env: dict[str, str], *argv: str) -> str:
    return ok("git", *argv, cwd=checkout, env=env).strip()


def test_the_git_files_say_what_git_says(template):
    env, path = template.env, template.path
    assert read(path) == (git(path, env, "rev-parse", "HEAD"), None)

    git(path, env, "remote", "add", "origin", "https://github.com/acme/cookiecutter-ray-runtime")
    git(path, env, "pack-refs", "--all")  # the branch now lives in packed-refs alone
    assert not (path / ".git/refs/heads/main").exists()
    assert read(path) == (
        git(path, env, "rev-parse", "HEAD"),
        "https://github.com/acme/cookiecutter-ray-runtime",
    )

    git(path, env, "checkout", "-q", "--detach", "HEAD")
    assert read(path)[0] == git(path, env, "rev-parse", "HEAD")
    git(path, env, "checkout", "-q", "main")

    worktree = path.parent / "worktree"
    git(path, env, "worktree", "add", "-q", "-b", "other", str(worktree))
    assert (worktree / ".git").is_file()
    template.change("README.md", "## More", "## Further reading")  # moves main, not other
    assert read(worktree) == (git(worktree, env, "rev-parse", "HEAD"), read(path)[1])
    assert read(worktree)[0] != git(path, env, "rev-parse", "main")


def test_a_folder_with_no_commit_or_no_git_records_nothing(tmp_path, template):
    unborn = tmp_path / "unborn"
    unborn.mkdir()
    git(unborn, template.env, "init", "-q")
    assert read(unborn)[0] is None
    assert template_source.cruft_state({}, unborn) is None
    assert template_source.git_dirs(tmp_path) is None


def cookiecutter(template: str | Path, out: Path, env: dict[str, str], *answers: str):
    argv = [sys.executable, "-m", "cookiecutter", "--no-input", "-o", str(out), str(template)]
    return run(*argv, *answers, cwd=out.parent, env=env)


def test_the_record_is_the_one_cruft_writes(tmp_path, template):
    """From a template folder with no remote, as `cookiecutter PATH`: the same .cruft.json as
    `cruft create PATH` for the same answers, and the closing note says CI cannot reach it."""
    answers = {"base_image": "python:3.12-slim", "installer": "uv"}
    baked = cookiecutter(
        template.path, tmp_path / "cookiecutter", template.env,
        *(f"{key}={value}" for key, value in answers.items()),
    )  # fmt: skip
    assert baked.returncode == 0, baked.stderr
    project = tmp_path / "cookiecutter/ray-runtime"
    (tmp_path / "cruft").mkdir()
    by_cruft = cruft_create(template, tmp_path / "cruft", answers)
    ours = json.loads((project / ".cruft.json").read_text())
    theirs = json.loads((by_cruft / ".cruft.json").read_text())
    assert ours == theirs
    assert ours["template"] == str(template.path)
    commit = git(template.path, template.env, "rev-parse", "HEAD")
    assert ours["commit"] == commit
    assert (
        f"Baked {project}. Its template is recorded in .cruft.json, for `nox -s template`: "
        f"{template.path} at commit {commit[:12]}, a folder with no git remote: CI's weekly "
        "check cannot reach it" in baked.stdout
    )


@pytest.mark.parametrize("how", ["clone", "git-url"])
def test_a_cookiecutter_bake_takes_the_template_s_changes(tmp_path, template, how):
    """`cookiecutter .` in a clone (records its origin), or `cookiecutter URL`: the template
    check sees a later template commit, and `cruft update` takes it."""
    url = f"file://{template.path}"
    if how == "clone":
        clone = tmp_path / "clone"
        ok("git", "clone", "-q", url, clone, cwd=tmp_path, env=template.env)
        source: str | Path = clone
    else:
        source = f"git+{url}"  # cookiecutter clones it into ~/.cookiecutters
    baked = cookiecutter(source, tmp_path / "out", template.env)
    assert baked.returncode == 0, baked.stderr
    project = tmp_path / "out/ray-runtime"
    state = json.loads((project / ".cruft.json").read_text())
    assert state["template"] == url
    assert f"recorded in .cruft.json, for `nox -s template`: {url} at commit" in baked.stdout
    commit_all(project, template.env, "baked")
    check = [sys.executable, "-m", "image_tasks", "template"]
    path = f"{Path(sys.executable).parent}:{template.env['PATH']}"
    env = {**template.env, "PATH": path}
    assert "Up to date with the template" in ok(*check, cwd=project, env=env)

    template.change("README.md", "## More", "## Further reading")
    behind = run(*check, cwd=project, env=env)
    assert behind.returncode == 1 and "cruft update" in behind.stdout
    ok(tool("cruft"), "update", "--skip-apply-ask", cwd=project, env=template.env)
    assert "## Further reading" in (project / "README.md").read_text()
    assert "Up to date with the template" in ok(*check, cwd=project, env=env)


def test_a_template_that_is_not_a_git_checkout_is_not_recorded(tmp_path, template):
    folder = tmp_path / "unpacked"
    shutil.copytree(template.path, folder, ignore=shutil.ignore_patterns(".git"))
    baked = cookiecutter(folder, tmp_path / "out", template.env)
    assert baked.returncode == 0, baked.stderr
    assert not (tmp_path / "out/ray-runtime/.cruft.json").exists()
    assert "No template is recorded (the template folder is not a git checkout)" in baked.stdout


def test_the_closing_message_prints_under_the_temporary_directory(tmp_path, template):
    """The system's temporary directory (tests bake there, so do users trying it out); and
    under cruft: printed for `cruft create`, not for the two bakes of `cruft update`."""
    assert Path(tempfile.gettempdir()) in tmp_path.parents
    env = {**template.env, "TMPDIR": str(tmp_path)}
    baked = cookiecutter(template.path, tmp_path / "out", env)
    assert f"Baked {tmp_path / 'out/ray-runtime'}. " in baked.stdout
    said = " ".join(baked.stdout.split())
    assert "Next: cd " in said and "then `nox -s lock` to pin the private packages" in said

    (tmp_path / "cruft").mkdir()
    created = run(
        tool("cruft"), "create", "--no-input", "--output-dir", tmp_path / "cruft", template.path,
        cwd=tmp_path, env=env,
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    assert "cruft records its template in .cruft.json" in created.stdout
    project = tmp_path / "cruft/ray-runtime"
    commit_all(project, env, "baked")
    template.change("README.md", "## More", "## Further reading")
    updated = run(tool("cruft"), "update", "--skip-apply-ask", cwd=project, env=env)
    assert updated.returncode == 0, updated.stderr
    assert "Baked " not in updated.stdout + updated.stderr
    assert "## Further reading" in (project / "README.md").read_text()


def test_copier_ends_with_the_same_message(tmp_path, template):
    result = run(
        tool("copier"), "copy", "--trust", "--defaults", template.path, tmp_path / "project",
        cwd=tmp_path, env=template.env,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    said = " ".join(result.stderr.split())
    assert f"Baked {tmp_path / 'project'}. Its template is recorded in .copier-answers.yml" in said
    assert f"Next: cd {tmp_path / 'project'} and follow README.md" in said
