"""A loopback stand-in for the part of GitHub's REST API the workflow's actions call here:
docker/metadata-action asks for the repository (its default branch, name and URL, for tags and
labels) and, when the event carries no commit date, for the commit. Every other request gets
404 and is recorded, so a test sees what an action asked for."""

from __future__ import annotations

import json
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


class GitHubApi:
    """Serves GET /repos/OWNER/REPO and GET /repos/OWNER/REPO/commits/SHA from a git checkout."""

    def __init__(self, repository: str, default_branch: str, checkout: Path) -> None:
        self.repository = repository
        self.default_branch = default_branch
        self.checkout = checkout
        self.requests: list[str] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self._server.server_port}"

    def __enter__(self) -> GitHubApi:
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *_: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def answer(self, path: str) -> dict | None:
        owner, name = self.repository.split("/")
        if path == f"/repos/{self.repository}":
            return {
                "name": name,
                "full_name": self.repository,
                "owner": {"login": owner},
                "default_branch": self.default_branch,
                "html_url": f"https://github.com/{self.repository}",
                "description": None,
                "license": None,
                "private": True,
            }
        prefix = f"/repos/{self.repository}/commits/"
        if path.startswith(prefix):
            date = subprocess.run(
                ["git", "show", "-s", "--format=%cI", path[len(prefix) :]],
                cwd=self.checkout, capture_output=True, text=True, check=False,
            )  # fmt: skip
            if date.returncode == 0:
                return {
                    "sha": path[len(prefix) :],
                    "commit": {"committer": {"date": date.stdout.strip()}},
                }
        return None

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path = self.path.split("?")[0]
                api.requests.append(path)
                body = api.answer(path)
                data = json.dumps(body or {"message": "Not Found"}).encode()
                self.send_response(200 if body else 404)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *_: object) -> None:
                pass  # the test reads `requests`

        return Handler
