"""The template's own sessions: its tests, its lint, and the audit benchmark.

nox -s tests               every test (provisions engines and base images first if need be)
nox -s tests -- -k hooks   a subset
nox -s lint
nox -s benchmark           the audit's speed on the three benchmark images (-- --ablations)
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import nox

nox.options.sessions = ["lint", "tests"]
nox.options.default_venv_backend = "venv"
# Without uv installed, nox logs "uv binary not found." before every virtualenv it makes; the
# venv backend needs no uv, so the line says nothing to our users.
nox.logger.logger.addFilter(lambda record: record.getMessage() != "uv binary not found.")
nox.options.reuse_venv = "yes"

DEV = ("-r", "requirements-dev.txt")


PROVISIONED = Path(os.environ.get("RAYRT_STATE", "/var/tmp/rayrt"), "env")


def provisioned() -> bool:
    docker = shutil.which("docker")
    return (
        PROVISIONED.is_file()
        and docker is not None
        and subprocess.run([docker, "info"], capture_output=True, check=False).returncode == 0
    )


@nox.session
def tests(session: nox.Session) -> None:
    """Bake the template over its options and test what users get, engines included; runs
    .ci/provision first when this machine lacks what the engine tests need (needs root)."""
    session.install(*DEV)
    if not provisioned():
        if os.geteuid() == 0:
            session.run("bash", ".ci/provision", external=True)
        elif shutil.which("sudo") and sys.stdin.isatty():
            session.run("sudo", "bash", ".ci/provision", external=True)
        else:
            session.warn("Not provisioned, and not root: `sudo bash .ci/provision`, then again.")
    session.run("pytest", *(session.posargs or ["tests"]))


@nox.session
def lint(session: nox.Session) -> None:
    """ruff on the template's own Python (the tests lint baked files, as users get them)."""
    session.install("ruff==0.17.5")
    # Named paths: the template folder's pyproject.toml is Jinja, not TOML, until baked.
    paths = ["hooks", "tests", "benchmarks", "noxfile.py"]
    session.run("ruff", "check", "--no-cache", *paths)
    session.run("ruff", "format", "--no-cache", "--check", *paths)


@nox.session
def benchmark(session: nox.Session) -> None:
    """Time the leak audit against dive, gitleaks, gzip -dc and the machine's floor (ratios)."""
    session.install(*DEV)
    session.run("python", "benchmarks/audit_benchmark.py", *session.posargs)
