"""The install step's preflight (docker/check_index.py), run as the image runs it, on loopback."""

import http.server
import subprocess
import sys
import threading

import pytest
from baking import TEMPLATE

SCRIPT = TEMPLATE / "{{cookiecutter.project_slug}}" / "docker" / "check_index.py"


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
    assert "answered HTTP 401" in result.stderr and "acme-models/" in result.stderr
    assert "s3cret" not in result.stderr
    assert [path for path, _ in handler.seen] == ["/simple/acme-models/"]


def test_redirects_are_not_followed_with_the_credential(tmp_path, netrc):
    elsewhere, visited = serve(200)
    server, _ = serve(302, f"http://localhost:{elsewhere.server_port}/login")
    result = check(tmp_path, netrc, f"http://127.0.0.1:{server.server_port}/simple/", "acme\n")
    assert result.returncode == 0, result.stderr  # left to the installer
    assert visited.seen == []


def test_unreadable_netrc_names_the_mount_owner(tmp_path):
    result = check(tmp_path, tmp_path / "missing", "http://127.0.0.1:9/simple/", "acme\n")
    assert result.returncode == 1
    assert "cannot read the mounted netrc" in result.stderr and "uid and gid" in result.stderr
