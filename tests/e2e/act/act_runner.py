"""Running the workflow with nektos/act in host mode, and reading what it did.

act runs every step on this machine (`-P ubuntu-24.04=-self-hosted`), with the real code of each
action at the commit the workflow pins: from the offline copies in $RAYRT_ACTIONS
(`--local-repository OWNER/REPO@SHA=DIR`, `--action-offline-mode`), or, where that variable is
unset outside CI, fetched from GitHub as act normally does. Secrets reach act through a named
pipe (never a command line, an environment variable the steps would inherit, or a file on disk).
act gives every step its own environment, so it runs in a clean one: a runner's PATH, a HOME of
its own (docker logins, buildx builders), and nothing of the test's.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import re
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from act_workflow import Pins, load
from baking import IN_CI, tool

RUNNER = "ubuntu-24.04"
ACTIONS_VARIABLE = "RAYRT_ACTIONS"
# A GitHub-hosted runner's PATH, less what this machine has elsewhere (no virtualenv of the test).
RUNNER_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
TIMEOUT = 1800  # seconds for one run: the workflow's own job timeouts are longer
PIN_ROW = re.compile(r"^\|\s*(?P<folder>[\w.-]+\+[\w.-]+)\s*\|\s*(?P<sha>[0-9a-f]{40})\b", re.M)


def offline_actions() -> Path | None:
    """The folder of offline action copies, or None: act then fetches from GitHub (never in CI,
    where this machine reaches no GitHub and an unset variable is a broken .ci/run)."""
    value = os.environ.get(ACTIONS_VARIABLE)
    if not value:
        assert not IN_CI, f"{ACTIONS_VARIABLE} is unset: .ci/run sets it to ../shared/actions"
        return None
    folder = Path(value)
    assert (folder / "README.md").is_file(), f"{ACTIONS_VARIABLE}={folder} holds no README.md"
    return folder


def local_repositories(pins: Pins, folder: Path | None) -> list[str]:
    """act's arguments that serve each pinned action from its offline copy, which must be of
    the pinned commit (the copies' README lists each folder's commit)."""
    if folder is None:
        return []
    copies = {m["folder"]: m["sha"] for m in PIN_ROW.finditer((folder / "README.md").read_text())}
    argv = ["--action-offline-mode"]
    for repository, sha in sorted(pins.refs.items()):
        name = repository.replace("/", "+")
        assert copies.get(name) == sha and (folder / name).is_dir(), (
            f"the workflow pins {repository}@{sha}, and {folder} holds "
            f"{copies.get(name) or 'no copy of it'}: a new pin needs a new offline copy"
        )
        argv += ["--local-repository", f"{repository}@{sha}={folder / name}"]
    return argv


def make_tool_cache(cache: Path, version: str) -> Path:
    """setup-python's tool-cache entry for `version` (X.Y): a `venv --copies` of this Python,
    marked complete; setup-python cannot download one here."""
    assert f"{sys.version_info[0]}.{sys.version_info[1]}" == version, (
        f"the workflow sets up Python {version} and the tests run on {platform.python_version()}"
    )
    entry = cache / "Python" / platform.python_version() / "x64"
    if not (entry.parent / "x64.complete").exists():
        python = getattr(sys, "_base_executable", sys.executable)
        subprocess.run([python, "-m", "venv", "--copies", str(entry)], check=True)
        (entry.parent / "x64.complete").write_text("")
    return entry


class SecretPipe:
    """act's --secret-file as a named pipe: a thread writes the secrets (YAML, so a multi-line
    value stays whole) when act opens it, and nothing stays on disk."""

    def __init__(self, folder: Path, secrets: dict[str, str]) -> None:
        self.path = folder / "secrets.yml"
        os.mkfifo(self.path, 0o600)
        self._text = json.dumps(secrets)
        self._thread = threading.Thread(target=self._write, daemon=True)
        self._thread.start()

    def _write(self) -> None:
        try:
            with open(self.path, "w", encoding="utf-8") as pipe:
                pipe.write(self._text)
        except BrokenPipeError:
            pass

    def close(self) -> None:
        if self._thread.is_alive():  # act never read it: open the other end to release the writer
            descriptor = os.open(self.path, os.O_RDONLY | os.O_NONBLOCK)
            self._thread.join(timeout=5)
            os.close(descriptor)
        self.path.unlink()


@dataclass
class Line:
    """One message act printed for a job (a message may span several lines), and the step that
    was running then."""

    job: str
    step: str | None
    text: str


@dataclass
class Run:
    """What one act run did: its exit status, wall time, everything act printed, and its
    messages by job and step. act's text log is read (`--log-prefix-job-id`): its JSON log
    prints the value of every ::add-mask:: command in clear, which no runner does."""

    status: int
    seconds: float
    text: str
    lines: list[Line] = field(default_factory=list)

    @classmethod
    def parse(cls, status: int, seconds: float, text: str, jobs: list[str]) -> Run:
        prefix = re.compile(rf"^\[({'|'.join(map(re.escape, jobs))})\] (.*)$")
        lines: list[Line] = []
        current: dict[str, str | None] = {}
        for raw in text.splitlines():
            match = prefix.match(raw)
            if match is None:
                if lines:
                    lines[-1].text += "\n" + raw
                continue
            job, message = match.groups()
            started = re.match(r"⭐ Run (?:Main|Pre|Post) (.*)$", message)
            if started:
                current[job] = started[1]
            lines.append(Line(job, current.get(job), message))
        return cls(status, seconds, text, lines)

    def _messages(self, job: str, step: str | None = None) -> list[str]:
        return [line.text for line in self.lines if line.job == job and step in (None, line.step)]

    def results(self, job: str) -> dict[str, str]:
        """Each main step's result in job, by name: success or failure (a step continued on
        error counts as failure); steps act skipped or never reached are absent."""
        found = {}
        for message in self._messages(job):
            match = re.match(r"\s*(?:✅  Success|❌  Failure) - Main (.*) \[[^]]*\]$", message)
            if match:
                found[match[1]] = "success" if "✅" in message else "failure"
        return found

    def job_result(self, job: str) -> str | None:
        """success or failure, or None when act did not run the job."""
        for message in self._messages(job):
            if message.startswith("🏁  Job "):
                return "success" if message == "🏁  Job succeeded" else "failure"
        return None

    def summary(self, job: str) -> str:
        """The job summary: every step's GITHUB_STEP_SUMMARY, in order."""
        mark = "  ⚙  Summary - "
        return "".join(m[len(mark) :] for m in self._messages(job) if m.startswith(mark))

    def outputs(self, job: str, step: str) -> dict[str, str]:
        """The outputs a step (by name) set through GITHUB_OUTPUT."""
        mark = "  ⚙  ::set-output:: "
        pairs = [
            m[len(mark) :].partition("=") for m in self._messages(job, step) if m.startswith(mark)
        ]
        return {name: value for name, _, value in pairs}

    def log(self, job: str, step: str | None = None) -> str:
        """Everything a job (or one of its steps) printed."""
        return "\n".join(self._messages(job, step))


def act(
    event: str,
    payload: dict[str, Any],
    *,
    workflow: Path,
    checkout: Path,
    pins: Pins,
    secrets: dict[str, str],
    work: Path,
    cache: Path,
    github_api: str,
    jobs: str | None = None,
    until: str | None = None,
) -> Run:
    """Run `event` (its webhook payload given) on the workflow copy, for the checkout; with
    `until`, stop act once the step of that name has succeeded."""
    home = work / "home"
    (home / ".cache").mkdir(parents=True, exist_ok=True)
    # pip's downloads are kept between runs, as a runner image keeps its caches
    (cache / "pip").mkdir(parents=True, exist_ok=True)
    if not (home / ".cache" / "pip").exists():
        (home / ".cache" / "pip").symlink_to(cache / "pip")
    event_file = work / "event.json"
    event_file.write_text(json.dumps(payload))
    pipe = SecretPipe(work, secrets)
    tool("node")  # act runs the actions' JavaScript with the machine's Node.js, as a runner does
    argv = [
        tool("act"), event,
        "--workflows", str(workflow),
        "--eventpath", str(event_file),
        "--platform", f"{RUNNER}=-self-hosted",
        "--action-cache-path", str(cache),
        "--secret-file", str(pipe.path),
        "--env-file", os.devnull, "--var-file", os.devnull, "--input-file", os.devnull,
        "--env", f"GITHUB_API_URL={github_api}",
        "--no-cache-server",
        "--log-prefix-job-id",
        *local_repositories(pins, offline_actions()),
        *(["--job", jobs] if jobs else []),
    ]  # fmt: skip
    env = {"PATH": RUNNER_PATH, "HOME": str(home), "LANG": "C.UTF-8"}
    start = time.monotonic()
    done = re.compile(rf"^\[\w+\]   ✅  Success - Main {re.escape(until)} \[") if until else None
    printed = []
    try:
        with subprocess.Popen(
            argv, cwd=checkout, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True, start_new_session=True,
        ) as process:  # fmt: skip
            watchdog = threading.Timer(TIMEOUT, process.kill)
            watchdog.start()
            for line in process.stdout:
                printed.append(line)
                if done and done.match(line):
                    process.terminate()
            status = process.wait()
            watchdog.cancel()
            if done:  # whatever act had started when it was stopped (its own process group)
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGTERM)
    finally:
        pipe.close()
    seconds = time.monotonic() - start
    text = "".join(printed)
    (work / "act.log").write_text(text)
    return Run.parse(status, seconds, text, list(load(workflow)["jobs"]))
