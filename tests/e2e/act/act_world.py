"""The act test's world: one baked repository as GitHub would hold it (acme/ray-runtime),
its registry and index, the events' payloads as GitHub sends them, and each event's run, kept
with the registry's tags before and after it.

The events share the repository, the action cache (setup-python's tool cache, pip's downloads)
and the daemon's build cache, as runs of one repository share a runner image and the gha cache;
each run gets its own HOME (docker logins, buildx builders), workspace and hand-over folder.
"""

from __future__ import annotations

import json
import secrets
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from act_runner import Run, act
from act_workflow import runnable_copy
from github_api import GitHubApi
from harness import Registry
from test_engines import record

REPOSITORY = "acme/ray-runtime"
DEFAULT_BRANCH = "main"
RELEASE = "v1.2.3"
WORKFLOW = Path(".github", "workflows", "image.yml")
MANIFESTS = (
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.docker.distribution.manifest.v2+json",
)


def git(checkout: Path, *argv: str) -> str:
    """git as a developer of the repository runs it (main as the first branch)."""
    people = {f"GIT_{role}_{key}": value for role in ("AUTHOR", "COMMITTER")
              for key, value in (("NAME", "Dev"), ("EMAIL", "dev@acme.example"))}  # fmt: skip
    result = subprocess.run(
        ["git", "-c", "init.defaultBranch=main", *argv], cwd=checkout,
        env={**people, "PATH": "/usr/bin:/bin"}, capture_output=True, text=True, check=True,
    )  # fmt: skip
    return result.stdout.strip()


@dataclass(frozen=True)
class Served:
    """What the registry serves under one tag: the manifest's digest and its image config."""

    digest: str
    config: str


def served(registry: Registry, repository: str) -> dict[str, Served]:
    """Every tag of repository in the registry, read over its HTTP API with the account."""
    if registry.status(f"/v2/{repository}/tags/list") != 200:
        return {}
    _, body = registry.read(f"/v2/{repository}/tags/list")
    tags = {}
    for tag in json.loads(body)["tags"] or []:
        headers, manifest = registry.read(f"/v2/{repository}/manifests/{tag}", *MANIFESTS)
        config = json.loads(manifest)["config"]["digest"]
        tags[tag] = Served(headers["Docker-Content-Digest"], config)
    return tags


@dataclass
class Event:
    """One event's act run, and the registry's tags before and after it."""

    run: Run
    handover: Path
    before: dict[str, Served]
    after: dict[str, Served]
    api_requests: list[str]

    @property
    def pushed(self) -> dict[str, Served]:
        return {tag: s for tag, s in self.after.items() if self.before.get(tag) != s}

    def cosign_calls(self) -> list[tuple[list[str], str | None]]:
        """(arguments, predicate text or None) of each call the sign job made to cosign."""
        folder = self.handover / "cosign"
        calls = []
        for args in sorted(folder.glob("*.args"), key=lambda p: int(p.stem)):
            predicate = args.with_suffix(".predicate")
            calls.append(
                (
                    args.read_text().splitlines(),
                    predicate.read_text() if predicate.exists() else None,
                )
            )
        return calls


@dataclass
class World:
    """The repository, its registry and index, and the events run so far."""

    checkout: Path
    registry: Registry
    image_repository: str
    netrc: str
    folder: Path
    cache: Path
    github_token: str = field(default_factory=lambda: "ghs_" + secrets.token_hex(18))
    events: dict[str, Event] = field(default_factory=dict)

    def secrets(self, netrc: str | None = None) -> dict[str, str]:
        """The repository's secrets: NET_RC, the registry's account, and a token."""
        return {
            "NET_RC": self.netrc if netrc is None else netrc,
            "REGISTRY_USERNAME": self.registry.user,
            "REGISTRY_PASSWORD": self.registry.password,
            "GITHUB_TOKEN": self.github_token,
        }

    def push(self, ref: str, checkout: Path | None = None) -> dict[str, Any]:
        """A push event's payload, as GitHub sends it, for the checkout's HEAD."""
        checkout = checkout or self.checkout
        sha = git(checkout, "rev-parse", "HEAD")
        commit = {"id": sha, "timestamp": git(checkout, "show", "-s", "--format=%cI")}
        return {
            "ref": ref, "before": "0" * 40, "after": sha, "created": False, "deleted": False,
            "forced": False, "head_commit": commit, "commits": [commit],
            "repository": self.repository(), "sender": {"login": "dev"},
        }  # fmt: skip

    def pull_request(self, number: int, head_repository: str) -> dict[str, Any]:
        """A pull_request (synchronize) event's payload from head_repository's branch."""
        sha = git(self.checkout, "rev-parse", "HEAD")
        side = {"ref": "feature", "sha": sha, "repo": {"full_name": head_repository}}
        base = {"ref": DEFAULT_BRANCH, "sha": sha, "repo": {"full_name": REPOSITORY}}
        return {
            "action": "synchronize", "number": number,
            "pull_request": {"number": number, "head": side, "base": base},
            "repository": self.repository(), "sender": {"login": head_repository.split("/")[0]},
        }  # fmt: skip

    def repository(self) -> dict[str, Any]:
        owner, name = REPOSITORY.split("/")
        return {
            "name": name, "full_name": REPOSITORY, "owner": {"login": owner},
            "default_branch": DEFAULT_BRANCH, "html_url": f"https://github.com/{REPOSITORY}",
        }  # fmt: skip

    def run(
        self,
        name: str,
        event: str,
        payload: dict[str, Any],
        secrets: dict[str, str],
        *,
        jobs: str | None = None,
        checkout: Path | None = None,
        until: str | None = None,
    ) -> Event:
        """Run event once with act (its result kept under name for the module); `until`: stop
        act once that step has succeeded."""
        if name not in self.events:
            work = self.folder / name
            handover = work / "handover"
            checkout = checkout or self.checkout
            copy, pins = runnable_copy(checkout / WORKFLOW, work / "image.yml", handover)
            before = served(self.registry, self.image_repository)
            with GitHubApi(REPOSITORY, DEFAULT_BRANCH, checkout) as api:
                run = act(
                    event, payload, workflow=copy, checkout=checkout, pins=pins,
                    secrets=secrets, work=work, cache=self.cache, github_api=api.url, jobs=jobs,
                    until=until,
                )  # fmt: skip
            after = served(self.registry, self.image_repository)
            self.events[name] = Event(run, handover, before, after, api.requests)
            record(f"act: {name}", run.seconds)
        return self.events[name]

    def clone(self, name: str) -> Path:
        """Another checkout of the repository (for an event on another commit)."""
        target = self.folder / "checkouts" / name
        git(self.folder, "clone", "--quiet", str(self.checkout), str(target))
        git(target, "remote", "set-url", "origin", f"https://github.com/{REPOSITORY}.git")
        return target
