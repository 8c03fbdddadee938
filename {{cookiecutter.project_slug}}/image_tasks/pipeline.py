"""The tasks: audit the image for leaked credentials, test it, lint the repository (build and
publish have modules of their own).

Each returns an exit status or raises TaskError; noxfile.py and tasks.py only call them.
"""

import os
import shutil
import subprocess
import sys
from collections.abc import Sequence

from image_tasks import audit as leak_audit
from image_tasks import audit_records, credentials, engines, settings
from image_tasks.errors import TaskError


def audit(
    *,
    netrc: str | None = None,
    image: str | None = None,
    engine: str | None = None,
    output_format: str = "text",
    output: str | None = None,
) -> int:
    """Save the image and audit every layer, its config and history, with the netrc's secrets as
    canaries; record the verdict against the image's config digest, which publish checks.

    Writes SARIF as well when AUDIT_SARIF names a file (the workflow uploads it)."""
    config = settings.load(image, engine)
    credential = credentials.resolve(netrc, config.index_url)
    canary = (
        ["--netrc", str(credential.path)]
        if credential.path
        else ["--canary-env", credential.variable]
    )
    chosen = engines.detect(config.engine)
    reports = ["--format", output_format] + (["--output", output] if output else [])
    if os.environ.get("AUDIT_SARIF"):
        reports += ["--sarif", os.environ["AUDIT_SARIF"]]
    audit_records.REPORT.unlink(missing_ok=True)  # a report left by an earlier run is no record
    reports += ["--json", str(audit_records.REPORT), "--display-name", config.image]
    reports += ["--dockerfile", str(config.dockerfile)]  # findings located on its instructions
    print(f"Auditing {config.image} (saved through {chosen.name}).", file=sys.stderr, flush=True)
    with engines.saved_archive(config.image, chosen) as archive:
        status = leak_audit.main([str(archive), *canary, *reports])
    if status in (0, 1):
        for record in audit_records.record_report(config.image):
            print(
                f"Recorded: {record.config_digest} audited {record.verdict} "
                f"({audit_records.RECORDS.relative_to(settings.PROJECT_ROOT)}).",
                file=sys.stderr,
            )
    return status


def test(
    *, image: str | None = None, engine: str | None = None, pytest_args: Sequence[str] = ()
) -> int:
    """Run tests/ against the built image, with the engine and image the tests should use."""
    config = settings.load(image, engine)
    chosen = engines.detect(config.engine)
    chosen.require_image(config.image)
    env = {**os.environ, "IMAGE": config.image, "IMAGE_ENGINE": chosen.name}
    argv = [sys.executable, "-m", "pytest", str(settings.PROJECT_ROOT / "tests"), *pytest_args]
    return subprocess.run(argv, env=env, cwd=settings.PROJECT_ROOT, check=False).returncode


LINTERS = (
    ("hadolint", ["hadolint", "Dockerfile"]),
    ("zizmor", ["zizmor", "--offline", ".github/workflows", ".github/dependabot.yml"]),
    (
        "actionlint",
        ["actionlint", ".github/workflows/image.yml", ".github/workflows/template-check.yml"],
    ),
    ("ruff", ["ruff", "check", "."]),
    ("ruff", ["ruff", "format", "--check", "."]),
)


def lint() -> int:
    """hadolint on the Dockerfile, zizmor and actionlint on the workflows (zizmor on the Dependabot
    configuration too), ruff on the Python."""
    missing = sorted({tool for tool, _ in LINTERS if shutil.which(tool) is None})
    if missing:
        raise TaskError(
            f"Not installed: {', '.join(missing)}. Run `nox -s lint`, which installs them, or "
            "`pip install --group dev` (pip 25.1+) in this repository's virtualenv."
        )
    failed = []
    for tool, argv in LINTERS:
        print("$ " + " ".join(argv), file=sys.stderr, flush=True)
        if subprocess.run(argv, cwd=settings.PROJECT_ROOT, check=False).returncode != 0:
            failed.append(tool)
    if failed:
        print(f"lint: findings from {', '.join(dict.fromkeys(failed))}", file=sys.stderr)
        return 1
    return 0
