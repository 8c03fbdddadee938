"""The build task: the image, with the private index's netrc mounted as a BuildKit secret.

Before the engine starts, the lock must match requirements.in and the base image, and the index
is asked from this machine for every locked package with the credential (`tasks.check`), so a
stale lock, a wrong or rotated password, a redirecting index or one that is down fails in seconds
with its cause, even where the engine would take the install step from its cache. The engine
gets the index's netrc entry alone (`engine.build_secrets`), and the last commit's time for a
reproducible image. After a failure, the end of the engine's output says which cause it was.
"""

import re
import signal
import subprocess
import sys
from urllib.parse import urlsplit

from image_tasks import settings
from image_tasks.credentials import fingerprints, netrc_file
from image_tasks.engine import build_secrets
from image_tasks.engine.commands import Engine, stream
from image_tasks.engine.detect import detect
from image_tasks.errors import TaskError
from image_tasks.index import probe
from image_tasks.lock import lockfile
from image_tasks.state import records
from image_tasks.tasks.check import expiry_hint, index_serves


def build(
    *,
    netrc: str | None = None,
    image: str | None = None,
    engine: str | None = None,
    no_cache: bool = False,
    index_check: bool = True,
) -> int:
    """Build the image, the private index credential mounted as a BuildKit secret; print its
    reference.

    First the lock must match requirements.in and the base image, and the index is asked from
    this machine for every locked package with the credential, so that a stale lock, a refused
    credential, a missing project or a redirect elsewhere fails in seconds with its cause (even
    where the engine would serve the install step from its cache)."""
    config = settings.load(image, engine)
    pinned = lockfile.check(settings.PROJECT_ROOT, config.base_image)
    credential = netrc_file.resolve(netrc, config.index_url)
    login, password = netrc_file.login_for(credential, config.index_url)
    host = urlsplit(config.index_url).hostname or ""
    secret = build_secrets.BuildSecret(host, login, password)
    if index_check:
        index_serves(config.index_url, [pin.name for pin in pinned], login, password)
    chosen = detect(config.engine)
    base_unchanged(chosen, config.base_image)
    swept = build_secrets.sweep(chosen)
    if swept:
        print(swept, file=sys.stderr)
    host_network = probe.is_loopback(host)
    if host_network:
        print(f"The index is on loopback ({host}): building with host networking.", file=sys.stderr)
    epoch = commit_time()
    print(
        f"Building {config.image} with {chosen.name}; index {config.index_url}; credential "
        f"from {credential.origin} (its {host} entry alone)"
        + (f"; the last commit's time, {epoch}." if epoch else "; no commit, no fixed time."),
        file=sys.stderr,
    )
    argv = chosen.build_argv(
        image=config.image,
        dockerfile=config.dockerfile,
        context=config.context,
        secrets=[f"id={config.secret_id},{secret.source()}"],
        build_args={"PRIVATE_INDEX_URL": config.index_url, **secret.build_args(chosen)},
        host_network=host_network,
        no_cache=no_cache,
        timestamp=epoch,
    )
    env = secret.env() | ({"SOURCE_DATE_EPOCH": str(epoch)} if epoch else {})
    status, output = run_interruptible(chosen, argv, env, secret)
    if status != 0:
        raise TaskError(
            f"The build failed ({chosen.name} exited with {status}): {why(output, config)}"
        )
    # What publish checks the audit against: the credential this image was built with.
    built = chosen.require_image(config.image)
    records.record_build(config.image, built, fingerprints.of([password]))
    print(config.image)
    return 0


def run_interruptible(
    engine: Engine, argv: list[str], env: dict[str, str], secret: build_secrets.BuildSecret
) -> tuple[int, str]:
    """The engine's build. Unless it succeeds (it failed, or Ctrl-C or SIGTERM stopped it),
    this run's build containers, where podman copies the mounted netrc, are removed before
    the task goes on."""
    previous = signal.signal(signal.SIGTERM, _terminate)
    status = None
    try:
        status, output = stream(engine, argv, env)
        if status in (130, -2, 143, -15):  # the engine got the user's Ctrl-C or a SIGTERM
            raise KeyboardInterrupt
        return status, output
    finally:
        if status != 0:
            held = signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C waits for it
            try:
                said = build_secrets.remove_own(engine, secret)
            finally:
                signal.signal(signal.SIGINT, held)
            if said:
                print(said, file=sys.stderr)
        signal.signal(signal.SIGTERM, previous)


def _terminate(signum, frame) -> None:
    raise SystemExit(128 + signum)


def commit_time() -> int | None:
    """The last commit's time (SOURCE_DATE_EPOCH), or None outside a git repository."""
    try:
        result = subprocess.run(
            ["git", "log", "-1", "--format=%ct"],
            cwd=settings.PROJECT_ROOT, capture_output=True, text=True, check=False,
        )  # fmt: skip
    except OSError:
        return None
    found = result.stdout.strip()
    return int(found) if result.returncode == 0 and found.isdigit() else None


def base_unchanged(engine: Engine, base_image: str) -> None:
    """Where the engine has the base image, it must be the one the lock was made on."""
    listed = lockfile.listed_base(settings.PROJECT_ROOT)
    current = engine.image_id(base_image)
    if listed and current and current != listed[1]:
        raise TaskError(
            f"The lock is out of date: the base image {base_image} is {current} in "
            f"{engine.name}'s store, but the lock was made on {listed[1]}. Nothing was built. "
            f"{lockfile.REDO}"
        )


FRONTEND_PULL_FAILED = re.compile(
    r"resolve image config|failed to (?:resolve|fetch|do request)|pull access denied|"
    r"dial tcp|no such host|i/o timeout|connection refused"
)


# pip names the file under its "DO NOT MATCH THE HASHES" banner ("acme-sauce==1.0.0 from URL");
# uv says "Hash mismatch for `acme-sauce==1.0.0`".
PIP_MISMATCH = re.compile(r"DO NOT MATCH THE HASHES.*?\s([A-Za-z0-9][\w.-]*)==(\S+) from ", re.S)
UV_MISMATCH = re.compile(r"Hash mismatch for `([\w.-]+)==([^`]+)`")
UNLOCKED = re.compile(
    r"Hashes are required in --require-hashes mode|no trusted hash was provided for|"
    r"all requirements must have their versions pinned"
)


def why(output: str, config: settings.TaskSettings) -> str:
    """The cause of a failed build, read from the end of the engine's output, and what to do."""
    said = re.findall(r"index_probe: (.+)", output)
    if said:
        found = said[-1].rstrip(".")
        return f"the install step's index check says {found}.{expiry_hint(found, config.index_url)}"
    frontend = config.frontend
    if frontend and frontend.split(":")[0] in output and FRONTEND_PULL_FAILED.search(output):
        return (
            f"the Dockerfile's first line, `# syntax={frontend}`, makes the engine pull that "
            "frontend image before it builds, and the pull failed (an offline or air-gapped "
            "builder cannot reach Docker Hub). Delete that line: the engine's built-in frontend "
            "supports the secret mount."
        )
    replaced = PIP_MISMATCH.search(output) or UV_MISMATCH.search(output)
    if replaced:
        return (
            f"the index served {replaced[1]} {replaced[2]} as other bytes than requirements.txt "
            "locked: a file replaced on the index under the same version (or a mirror serving "
            "another build of it), and the install refused it. Find out who replaced it first; "
            "if the new file is legitimate, `nox -s lock -- --upgrade` records its hash."
        )
    if UNLOCKED.search(output):
        return (
            "the install needs a package that requirements.txt does not pin with a hash (the "
            "lock is incomplete, or was edited by hand). Run `nox -s lock`, then build again."
        )
    if re.search(r"secret \S+ not found|no secret with id", output):
        return (
            f"no credential reached the engine as the secret {config.secret_id!r}; run the "
            "build through `nox -s build`, which finds the netrc and passes it."
        )
    return (
        "its output above shows the first error. 'No matching distribution found' means the "
        "index lacks a version that requirements.txt asks for (or a dependency it should proxy)."
    )
