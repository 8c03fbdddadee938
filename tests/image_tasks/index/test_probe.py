"""The index probe (image_tasks/index/probe.py), run as the install step runs it inside the
image (a script, the netrc in NETRC) against HTTP servers on loopback that answer as indexes
do. The build task's use of it from the host is tested end to end (tests/e2e/test_failures.py)."""

import http.server
import socket
import subprocess
import sys
import threading
from typing import ClassVar

import pytest
from baking import TEMPLATE

SCRIPT = TEMPLATE / "{{cookiecutter.project_slug}}" / "image_tasks" / "index" / "probe.py"


class Recorder(http.server.BaseHTTPRequestHandler):
    """Answers every request with the class's status (and Location), recording what it got."""

    status, location, seen = 200, None, []

    def do_GET(self):
        type(self).seen.append((self.path, self.headers.get("Authorization")))
        self.send_response(self.status)
        if self.location:
            self.send_header("Location", self.location)
        self.end_headers()

    def log_message(self, *args):
        pass


def serve(status: int, location: str | None = None):
    handler = type("Handler", (Recorder,), {"status": status, "location": location, "seen": []})
    server = http.server.HTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, handler


@pytest.fixture
def netrc(tmp_path):
    path = tmp_path / "netrc"
    path.write_text("machine 127.0.0.1 login deploy password s3cret-preflight\n")
    return path


def check(tmp_path, netrc, url: str, requirements: str) -> subprocess.CompletedProcess:
    (tmp_path / "requirements.txt").write_text(requirements)
    return subprocess.run(
        [sys.executable, str(SCRIPT), url, str(tmp_path / "requirements.txt")],
        env={"NETRC": str(netrc)}, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def test_refused_credential_is_said_plainly(tmp_path, netrc):
    server, handler = serve(401)
    url = f"http://127.0.0.1:{server.server_port}/simple/"
    result = check(tmp_path, netrc, url, "# comment\n--hash=sha256:00\nAcme_Models[gpu]>=1\n")
    assert result.returncode == 1
    assert "answered HTTP 401" in result.stderr and "for 'deploy' at 127.0.0.1" in result.stderr
    assert "wrong or expired" in result.stderr and "'acme-models'" in result.stderr
    assert "s3cret" not in result.stderr
    assert [path for path, _ in handler.seen] == ["/simple/acme-models/"]


def test_a_project_the_index_lacks_is_named(tmp_path, netrc):
    server, _ = serve(404)
    url = f"http://127.0.0.1:{server.server_port}/simple/"
    result = check(tmp_path, netrc, url, "acme-orbitt==1.0\n")
    assert result.returncode == 1
    assert "'acme-orbitt' is not on the index 127.0.0.1" in result.stderr


def test_an_index_that_is_down_is_named_with_its_port(tmp_path, netrc):
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = check(tmp_path, netrc, f"http://127.0.0.1:{port}/simple/", "acme\n")
    assert result.returncode == 1
    assert f"cannot reach 127.0.0.1:{port} (connection refused)" in result.stderr


def test_a_name_sent_to_another_origin_is_dependency_confusion(tmp_path, netrc):
    """pypiserver's default fallback, or a proxy misconfigured: the index answers a name it
    lacks with a redirect elsewhere, and pip would follow it. The credential is not sent."""
    elsewhere, visited = serve(200)
    target = f"http://localhost:{elsewhere.server_port}/simple/acme/"
    server, _ = serve(303, target)
    result = check(tmp_path, netrc, f"http://127.0.0.1:{server.server_port}/simple/", "acme\n")
    assert result.returncode == 1
    assert (
        f"index_probe: the index 127.0.0.1 sends 'acme' to {target} (HTTP 303) instead of "
        "serving it: whoever publishes that name there would be installed (dependency "
        "confusion). Make the index serve every name itself, proxying public PyPI: a Nexus "
        "group, an Artifactory virtual repository, or pypiserver with --disable-fallback."
    ) in result.stderr
    assert visited.seen == [] and "s3cret" not in result.stderr


def test_a_redirect_within_the_index_is_followed(tmp_path, netrc):
    """A trailing slash or another spelling of the name: the same origin, so the same
    credential goes with the request, and the index serves the name itself."""

    class Moves(Recorder):
        seen: ClassVar[list] = []

        def do_GET(self):
            type(self).seen.append((self.path, self.headers.get("Authorization")))
            moved = self.path == "/simple/acme/"
            self.send_response(301 if moved else 200)
            if moved:
                self.send_header("Location", "/simple/acme-models/")
            self.end_headers()

    server = http.server.HTTPServer(("127.0.0.1", 0), Moves)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    result = check(tmp_path, netrc, f"http://127.0.0.1:{server.server_port}/simple/", "acme\n")
    assert result.returncode == 0, result.stderr
    assert [path for path, _ in Moves.seen] == ["/simple/acme/", "/simple/acme-models/"]
    assert all(auth and auth.startswith("Basic ") for _, auth in Moves.seen)


def test_unreadable_netrc_names_the_mount_owner(tmp_path):
    result = check(tmp_path, tmp_path / "missing", "http://127.0.0.1:9/simple/", "acme\n")
    assert result.returncode == 1
    assert "cannot read the mounted netrc" in result.stderr and "uid and gid" in result.stderr
