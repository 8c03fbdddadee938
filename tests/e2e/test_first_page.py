"""The baked README's first page, as a new user follows it: every shell block, verbatim and in
order, in one shell on a terminal, typing what it asks for.

The repository is baked with cookiecutter from a git repository of the template (as from a
clone), against the real password-protected local index and the real registry. Two commands
need what cannot run here, and get stand-ins on PATH that say so: `gh` (GitHub is out of reach:
it keeps the secret it is given, and `repo create` adds a bare repository as `origin`, which the
push then reaches for real) and `kubectl` (no cluster: `apply -k` renders the kustomization with
the real kustomize, and the test validates every resource against its KubeRay CRD). Everything
else is real: the credential typed at the prompt, the virtual environment and its installs,
the lock against the index, git, the build, audit and tests on the first engine found, lint,
`docker login` and the publish to the registry, and the template check against the template's
repository.
"""

from __future__ import annotations

import json
import os
import pty
import re
import select
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from baking import tool
from harness import RUN
from kuberay import pod_specs, validate
from template_repo import Template, environment

BLOCKS = re.compile(r"```sh\n(.*?)\n\s*```", re.S)
GH = """#!/bin/sh
# A stand-in for the GitHub CLI: GitHub cannot be reached from here.
echo "gh $*" >> "$STANDIN/gh.log"
case "$1 $2" in
  "repo create")
    git rev-parse -q --verify HEAD > /dev/null || { echo "gh: nothing committed" >&2; exit 1; }
    git init -q --bare "$STANDIN/github.git" && git remote add origin "$STANDIN/github.git" ;;
  "secret set") cat > "$STANDIN/secret-$3" ;;
  "variable set") printf '%s\\n' "$5" > "$STANDIN/variable-$3" ;;
  *) echo "gh stand-in: $* is not a command the README gives" >&2; exit 1 ;;
esac
"""
KUBECTL = """#!/bin/sh
# A stand-in for kubectl: no cluster runs here. `apply -k DIR` renders what it would send.
[ "$1 $2" = "apply -k" ] || { echo "kubectl stand-in: only apply -k" >&2; exit 1; }
"{kubectl}" kustomize "$3" > "$STANDIN/applied-$(basename "$3").yaml"
"""


def first_page(readme: str) -> list[str]:
    blocks = [re.sub(r"^ {3}", "", block, flags=re.M) for block in BLOCKS.findall(readme)]
    return [block for block in blocks if block.strip()]


def on_a_terminal(
    argv: list[str], *, cwd: Path, env: dict[str, str], replies: list[tuple[str, str]],
    timeout: float,
) -> tuple[int, str]:  # fmt: skip
    """Run argv on a pseudo-terminal, as in a user's shell, typing each reply once its prompt
    has appeared (so a password is typed after echo is off, as a user types it)."""
    pid, terminal = pty.fork()
    if pid == 0:  # the child: the shell
        os.chdir(cwd)
        os.execvpe(argv[0], argv, env)
    output, seen, pending = b"", 0, list(replies)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if not select.select([terminal], [], [], 5)[0]:
                continue
            try:
                chunk = os.read(terminal, 65536)
            except OSError:  # the shell exited: the terminal is gone
                break
            if not chunk:
                break
            output += chunk
            if pending and pending[0][0].encode() in output[seen:]:
                seen = output.index(pending[0][0].encode(), seen) + len(pending[0][0])
                os.write(terminal, pending.pop(0)[1].encode() + b"\n")
        else:
            os.kill(pid, 9)
            pytest.fail(f"the first page did not finish in {timeout} s:\n{output[-6000:]!r}")
    finally:
        os.close(terminal)
    _, status = os.waitpid(pid, 0)
    assert not pending, f"never asked {pending[0][0]!r}"
    return os.waitstatus_to_exitcode(status), output.decode(errors="replace").replace("\r\n", "\n")


@pytest.mark.engine
def test_the_first_page_runs_as_written(provisioned, local_index, registry, tmp_path):
    url, index_netrc, index_password = local_index
    login = re.search(r"login (\S+)", index_netrc.read_text())[1]
    home = tmp_path / "home"
    template = Template(tmp_path / "template", environment(home))
    answers = {
        "registry": registry.host,
        "image_name": f"{registry.host}/firstday-{RUN}/ray-runtime",
        "base_image": provisioned["RAYRT_RAY_IMAGE"],
        "dockerfile_syntax": "",  # no frontend image can be pulled here
        "private_index_url": url,
        "private_packages": "acme-sauce>=1,<2",  # the local index's wheel (conftest.py)
    }
    (tmp_path / "work").mkdir()
    argv = [sys.executable, "-m", "cookiecutter", "--no-input", "-o", str(tmp_path / "work")]
    argv += [str(template.path), *(f"{key}={value}" for key, value in answers.items())]
    bake = subprocess.run(argv, env=template.env, capture_output=True, text=True, timeout=120)
    assert bake.returncode == 0, bake.stderr
    project = tmp_path / "work/ray-runtime"
    blocks = first_page((project / "README.md").read_text(encoding="utf-8"))
    assert len(blocks) == 8, "a block was added to the first page: run it here too"

    standin = tmp_path / "standin"
    (standin / "bin").mkdir(parents=True)
    for name, script in (("gh", GH), ("kubectl", KUBECTL.replace("{kubectl}", tool("kubectl")))):
        (standin / "bin" / name).write_text(script)
        (standin / "bin" / name).chmod(0o755)
    env = {
        key: value
        for key, value in template.env.items()
        if key not in {"NETRC", "NET_RC", "IMAGE", "IMAGE_ENGINE", "VIRTUAL_ENV"}
    }
    venv = str(Path(sys.executable).parent)
    system_path = ":".join(p for p in os.environ["PATH"].split(":") if p != venv)
    env |= {
        "PATH": f"{standin / 'bin'}:{system_path}",
        "STANDIN": str(standin),
        "PIP_CACHE_DIR": str(Path.home() / ".cache/pip"),  # this machine's, not the new HOME's
        "NO_COLOR": "1",
        "TERM": "dumb",
    }
    script = "\n".join(blocks)
    replies = [
        ("Index user for 127.0.0.1: ", login),
        ("Its password or token: ", index_password),
        ("Username: ", registry.user),
        ("Password: ", registry.password),
    ]
    status, output = on_a_terminal(
        ["bash", "--noprofile", "--norc", "-euo", "pipefail", "-c", script],
        cwd=project, env=env, replies=replies, timeout=2400,
    )  # fmt: skip
    assert status == 0, output[-8000:]
    assert index_password not in output and registry.password not in output
    assert "Traceback" not in output

    # Set up once: the credential, typed at the prompt, in a netrc only its owner reads; the lock,
    # pushed with the bake; the index's entry in GitHub's secret, set after the repository was
    # made and before the push.
    netrc = home / ".netrc"
    assert stat.S_IMODE(netrc.stat().st_mode) == 0o600
    assert netrc.read_text() == f"machine 127.0.0.1\nlogin {login}\npassword {index_password}\n"
    # the index host's entry alone: here the netrc holds no other
    assert (standin / "secret-NET_RC").read_text() == netrc.read_text()
    gh = (standin / "gh.log").read_text().splitlines()
    assert gh == ["gh repo create acme/ray-runtime --private --source .", "gh secret set NET_RC"]
    pushed = subprocess.run(
        ["git", "--git-dir", str(standin / "github.git"), "log", "--format=%s", "main"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert pushed.strip() == "Bake from cookiecutter-ray-runtime"
    files = subprocess.run(
        ["git", "--git-dir", str(standin / "github.git"), "ls-tree", "--name-only", "main"],
        capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    assert {"requirements.in", "requirements.txt", "base-packages.txt"} <= set(files)
    assert (project / ".venv/bin/nox").is_file() and (project / ".venv/bin/invoke").is_file()

    # The loop, lint, publish: against the real index and registry.
    assert "8 passed" in output and "Session lint was successful" in output
    published = json.loads((project / ".image-tasks/published.json").read_text())["image"]
    assert published.startswith(f"{answers['image_name']}@sha256:")
    # Deploy: what `kubectl apply -k deploy/raycluster` sends runs the published digest.
    applied = yaml.safe_load((standin / "applied-raycluster.yaml").read_text())
    validate(applied)
    assert {c["image"] for pod in pod_specs(applied) for c in pod["containers"]} == {published}
    # Update: the template check reached the template's repository.
    assert "Up to date with the template" in output
    subprocess.run(["docker", "image", "rm", "-f", f"{answers['image_name']}:dev"],
                   capture_output=True, check=False)  # fmt: skip
