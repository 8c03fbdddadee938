"""The build task: the image, with the private index's netrc mounted as a BuildKit secret.

Before the engine starts, the index is asked from this machine for every requirement with the
credential (`index.probe`), so a wrong or rotated password, a typo'd package or an index that
is down fails in seconds with its cause, even where the engine would take the install step
from its cache. After a failure, the engine's output says which step failed: the install from
the index (and why), or a step of the team's own.
"""

import re
import sys
from urllib.parse import urlsplit

from image_tasks import settings, validation
from image_tasks.credentials import fingerprints, netrc_file
from image_tasks.engine.build_failure import failed_step
from image_tasks.engine.commands import stream
from image_tasks.engine.detect import detect
from image_tasks.errors import TaskError
from image_tasks.index import cloud, probe
from image_tasks.state import records


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
    projects = validation.requirement_names(text)
    credential = netrc_file.resolve(netrc, config.index_url)
    login, password = netrc_file.login_for(credential, config.index_url)
    if index_check:
        check_index(config.index_url, projects, login, password)
    chosen = detect(config.engine)
    host = urlsplit(config.index_url).hostname or ""
    host_network = probe.is_loopback(host)
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
    status, output = stream(chosen, argv)
    if status in (130, -2):  # the engine was interrupted with the user's Ctrl-C
        raise KeyboardInterrupt
    if status != 0:
        raise TaskError(why(output, config, f"{chosen.name} exited with {status}"))
    # What publish checks the audit against: the credential this image was built with.
    built = chosen.require_image(config.image)
    records.record_build(config.image, built, fingerprints.of(netrc_file.passwords(credential)))
    print(config.image)
    return 0


FRONTEND_PULL_FAILED = re.compile(
    r"resolve image config|failed to (?:resolve|fetch|do request)|pull access denied|"
    r"dial tcp|no such host|i/o timeout|connection refused"
)


def why(output: str, config: settings.TaskSettings, exited: str) -> str:
    """What made the build fail, read from the engine's output, and what to do: the message."""
    checked = re.findall(r"index_probe: (.+)", output)
    if checked:
        found = checked[-1].rstrip(".")
        return (
            f"The build failed ({exited}): the install step's index check says {found}."
            + expiry_hint(found, config.index_url)
        )
    frontend = config.frontend
    if frontend and frontend.split(":")[0] in output and FRONTEND_PULL_FAILED.search(output):
        return (
            f"The build failed ({exited}): the Dockerfile's first line, `# syntax={frontend}`, "
            "makes the engine pull that frontend image before it builds, and the pull failed (an "
            "offline or air-gapped builder cannot reach Docker Hub). Delete that line: the "
            "engine's built-in frontend supports the secret mount."
        )
    if re.search(r"secret \S+ not found|no secret with id", output):
        return (
            f"The build failed ({exited}): no credential reached the engine as the secret "
            f"{config.secret_id!r}; run the build through `nox -s build`, which finds the netrc "
            "and passes it."
        )
    step = failed_step(output)
    said = f': it said "{step.said}"' if step and step.said else ""
    if step and not step.installs:
        return (
            f"The build failed in the Dockerfile's step `{step.instruction}`, not in the install "
            f"from the private index{said}. Fix that step; its whole output is above."
        )
    lacking = re.search(r"No matching distribution found for (\S+)", output)
    lacking = lacking or re.search(r"there is no version of (\S+) and", output)  # uv
    if lacking:
        installer = "pip" if "No matching" in lacking[0] else "uv"
        return (
            f"The build failed in the install from the private index: {installer} found no "
            f"version of {lacking[1]} there. Check the version requirements.txt asks for, and "
            "that the index proxies public PyPI for the dependencies."
        )
    where = "in the install from the private index" if step else f"({exited})"
    return f"The build failed {where}{said}; its output above shows the first error."


def check_index(index_url: str, projects: list[str], login: str, password: str) -> None:
    """The index serves every project to this credential, or a TaskError naming why not."""
    found = probe.problem(index_url, projects, login, password)
    if found:
        raise TaskError(
            f"The index cannot serve this build: {found}. Nothing was built. (If the engine "
            "reaches the index differently from this machine, --no-index-check skips this "
            "check; an install step that runs checks again inside the build, one the engine "
            "takes from its cache does not.)" + expiry_hint(found, index_url)
        )
    host = urlsplit(index_url).hostname
    print(f"Index check: {host} serves {', '.join(projects)} to this credential.", file=sys.stderr)


def expiry_hint(found: str, index_url: str) -> str:
    """A refused credential for an index of short-lived tokens (CodeArtifact, Artifact
    Registry) has most likely expired: say how to make a new one."""
    refused = re.search(r"HTTP 40[13]\b", found)
    return cloud.token_expiry_hint(index_url) if refused else ""
