"""The baked README's command for CI's NET_RC secret, run verbatim: only the index host's netrc
entry reaches `gh secret set` (a stand-in `gh` records what it is given: the real one needs
GitHub), and no other host's password; the task refuses to write the entry to a terminal."""

import os
import pty
import re
import subprocess
import sys

import pytest
from baking import bake

INDEX = "nexus.example.com"


@pytest.fixture(scope="module")
def baked(tmp_path_factory):
    return bake(tmp_path_factory.mktemp("secret"))


@pytest.fixture
def home(tmp_path):
    """A user's ~/.netrc with the index's entry and another host's."""
    home = tmp_path / "home"
    home.mkdir()
    netrc = home / ".netrc"
    netrc.write_text(
        "machine github.com login me password other-host-password-5d1\n"
        f"machine {INDEX}\n  login deploy\n  password index-password-77a\n"
    )
    netrc.chmod(0o600)
    return home


def readme_command(project) -> str:
    readme = (project / "README.md").read_text(encoding="utf-8")
    (command,) = {line.strip() for line in readme.splitlines() if "| gh secret set NET_RC" in line
                  and line.strip().startswith("python3")}  # fmt: skip
    return command


def test_only_the_index_entry_reaches_the_secret(baked, home, tmp_path):
    command = readme_command(baked)
    assert command == "python3 -m image_tasks secret | gh secret set NET_RC"
    stand_in = tmp_path / "bin"
    stand_in.mkdir()
    (stand_in / "gh").write_text(f'#!/bin/sh\necho "$*" > {tmp_path}/args\ncat > {tmp_path}/got\n')
    (stand_in / "gh").chmod(0o755)
    env = {
        "PATH": f"{stand_in}:{os.path.dirname(sys.executable)}:/usr/bin:/bin",
        "HOME": str(home),
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    result = subprocess.run(
        ["bash", "-o", "pipefail", "-c", command], cwd=baked, env=env,
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "args").read_text().split() == ["secret", "set", "NET_RC"]
    assert (tmp_path / "got").read_text() == (
        f"machine {INDEX}\nlogin deploy\npassword index-password-77a\n"
    )
    assert "password" not in result.stdout + result.stderr.replace("no other", "")
    assert f"Wrote the {INDEX} entry of ~/.netrc" in result.stderr


def test_the_entry_is_never_written_to_a_terminal(baked, home):
    leader, follower = pty.openpty()
    env = {**os.environ, "HOME": str(home), "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("NETRC", None)
    env.pop("NET_RC", None)
    result = subprocess.run(
        [sys.executable, "-m", "image_tasks", "secret"], cwd=baked, env=env,
        stdout=follower, stderr=subprocess.PIPE, text=True, check=False,
    )  # fmt: skip
    os.close(follower)
    shown = os.read(leader, 4096).decode() if result.returncode == 0 else ""
    os.close(leader)
    assert result.returncode == 2 and shown == ""
    assert re.search(r"pipe it into the GitHub CLI", result.stderr)
    assert "index-password" not in result.stderr
