"""The baked repository's local index (`nox -s index`), run as a user runs it: it serves only its
wheelhouse (no fallback to public PyPI), and however it is stopped (SIGTERM or SIGHUP to nox,
which does not pass them on; SIGTERM to the task itself) it leaves no server and no netrc."""

import base64
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from baking import bake, tool
from harness import write_wheel


@pytest.fixture(scope="module")
def repository(tmp_path_factory) -> Path:
    project = bake(tmp_path_factory.mktemp("index"))
    (project / "wheelhouse").mkdir()
    write_wheel(project / "wheelhouse", "acme-sauce", "acme_sauce", "1.0.0")
    return project


def start(repository: Path, netrc: Path, *front_door: str) -> tuple[subprocess.Popen, str, Path]:
    """Start the index through a front door; return the process, the index URL and the private
    folder that holds its password."""
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    process = subprocess.Popen(
        [*front_door, "--netrc-out", str(netrc)], cwd=repository, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )  # fmt: skip
    for line in process.stdout:
        if line.startswith("Local index: "):
            return process, line.split()[2], netrc.resolve().parent
    pytest.fail(f"the index did not start (exit {process.wait()})")


def status(url: str, netrc: Path) -> int:
    login, password = (netrc.read_text().split()[i] for i in (3, 5))
    token = base64.b64encode(f"{login}:{password}".encode()).decode()

    class NoRedirects(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    request = urllib.request.Request(url, headers={"Authorization": f"Basic {token}"})
    try:
        urllib.request.build_opener(NoRedirects).open(request, timeout=5).close()
        return 200
    except urllib.error.HTTPError as error:
        return error.code


def gone(url: str, netrc: Path, private: Path, timeout: float = 15) -> bool:
    """Nothing listens on the index's port any more, and the netrc and its folder are gone."""
    port = int(url.split(":")[2].split("/")[0])
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            listening = probe.connect_ex(("127.0.0.1", port)) == 0
        if not listening and not netrc.is_symlink() and not private.exists():
            return True
        time.sleep(0.2)
    return False


def test_serves_only_its_wheelhouse(repository, tmp_path):
    netrc = tmp_path / "netrc"
    process, url, private = start(repository, netrc, tool("nox"), "-s", "index", "--")
    try:
        assert status(f"{url}acme-sauce/", netrc) == 200
        # pypiserver's default answers a 303 to pypi.org: dependency confusion.
        assert status(f"{url}acme-orbitt/", netrc) == 404
    finally:
        os.killpg(process.pid, signal.SIGINT)
        process.wait(timeout=30)
    assert gone(url, netrc, private)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_signal_to_nox_stops_the_server(repository, tmp_path, signum):
    netrc = tmp_path / "netrc"
    process, url, private = start(repository, netrc, tool("nox"), "-s", "index", "--")
    process.send_signal(signum)  # to nox alone, as `kill` or a closing CI step does
    process.wait(timeout=30)
    assert gone(url, netrc, private), "the server or the netrc outlived nox"


def test_sigterm_to_the_task_stops_the_server(repository, tmp_path):
    netrc = tmp_path / "netrc"
    task = [sys.executable, "-m", "image_tasks", "index"]
    process, url, private = start(repository, netrc, *task)
    process.terminate()
    assert process.wait(timeout=30) == 0
    assert gone(url, netrc, private)
