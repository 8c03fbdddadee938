"""The template's own sessions: its tests, its lint, and the audit benchmark.

nox -s tests               every test (needs .ci/provision once: engines, base images)
nox -s tests -- -k hooks   a subset
nox -s lint
nox -s benchmark           the audit's speed on the provisioned Ray image (-- --ablations)
"""

import nox

nox.options.sessions = ["lint", "tests"]
nox.options.default_venv_backend = "venv"
nox.options.reuse_venv = "yes"

DEV = ("-r", "requirements-dev.txt")


@nox.session
def tests(session: nox.Session) -> None:
    """Bake the template over its options and test what users get, engines included."""
    session.install(*DEV)
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
    """Time the leak audit against dive and a plain read of the same archive (ratios)."""
    session.install(*DEV)
    session.run("python", "benchmarks/audit_benchmark.py", *session.posargs)
