"""The tasks: build the image, audit it for leaked credentials, test it, lint the repository.

Each returns an exit status or raises TaskError; noxfile.py and tasks.py only call them.
"""

import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from urllib.parse import urlsplit

from image_tasks import audit as leak_audit
from image_tasks import audit_records, credentials, engines, index_probe, settings, validation
from image_tasks.errors import TaskError


def build(
    *,
    netrc: str | None = None,
    image: str | None = None,
    engine: str | None = None,
    no_cache: bool = False,
    index_check: bool = True,
) -> int:
    """Build the image with the netrc mounted as a BuildKit secret; print its reference.

    First, from this machine, the index is asked for every requirement with the credential,
    so that a refused credential, a missing project or an index that is down fails in seconds
    with its cause (even where the engine would serve the install step from its cache)."""
    config = settings.load(image, engine)
    requirements = settings.PROJECT_ROOT / "requirements.txt"
    try:
        text = requirements.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise TaskError(
            f"Cannot read {requirements} ({error.__class__.__name__}): it lists what the image "
            "installs from the private index, one requirement a line."
        ) from None
    validation.requirement_names(text)
    credential = credentials.resolve(netrc)
    login, password = credentials.login_for(credential, config.index_url)
    if index_check:
        check_index(config.index_url, index_probe.projects(text), login, password)
    chosen = engines.detect(config.engine)
    host = urlsplit(config.index_url).hostname or ""
    host_network = validation.is_loopback(host)
    if host_network:
        print(f"The index is on loopback ({host}): building with host networking.", file=sys.stderr)
    print(
        f"Building {config.image} with {chosen.name}; index {config.index_url}; "
        f"credential from {credential.origin}.",
        file=sys.stderr,
    )
    argv = chosen.build_argv(
        image=config.image,
        dockerfile=config.dockerfile,
        context=config.context,
        secrets=[f"id={config.secret_id},{credential.secret_source()}"],
        build_args={"PRIVATE_INDEX_URL": config.index_url},
        host_network=host_network,
        no_cache=no_cache,
    )
    status = engines.stream(chosen, argv)
    if status in (130, -2):  # the engine was interrupted with the user's Ctrl-C
        raise KeyboardInterrupt
    if status != 0:
        raise TaskError(
            f"The build failed ({chosen.name} exited with {status}); its output above shows the "
            "first error. An HTTP 401 or 403 from the index means the netrc credential is wrong or "
            "lacks access to a package; 'secret netrc not found' means no credential reached the "
            "engine; a 404 means a package or version is not on the index."
            + validation.token_expiry_hint(config.index_url)
        )
    print(config.image)
    return 0


def check_index(index_url: str, projects: list[str], login: str, password: str) -> None:
    """The index serves every project to this credential, or a TaskError naming why not."""
    found = index_probe.problem(index_url, projects, login, password)
    if found:
        raise TaskError(
            f"The index cannot serve this build: {found}. Nothing was built. (If the engine "
            "reaches the index differently from this machine, --no-index-check skips this "
            "check; the install step checks again inside the build.)"
        )
    print(f"Index check: {urlsplit(index_url).hostname} serves {', '.join(projects)} to "
          f"{login!r}.", file=sys.stderr)  # fmt: skip


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
    credential = credentials.resolve(netrc)
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
    audit_records.REPORT.parent.mkdir(exist_ok=True)
    reports += ["--json", str(audit_records.REPORT), "--display-name", config.image]
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
