"""The baked workflow as act runs it on these machines: a copy with the few substitutions a
machine without GitHub, Docker Hub or sigstore needs, each one named, with its reason, and
limited to what the machine lacks. Everything else runs as baked.

Every step of the baked workflow must be known here, by job, name and action: a step (or a
`uses:`) this table does not know fails the test, so a change to the workflow updates the test
knowingly, never silently. The actions' code is the real code at the pinned commits
(`--local-repository`, act_runner.py).
"""

from __future__ import annotations

import copy
import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

Step = dict[str, Any]


@dataclass(frozen=True)
class Substitution:
    """One change to one step of the copy, and why this machine needs it."""

    name: str
    why: str
    apply: Callable[[Step, Path], Step]


@dataclass(frozen=True)
class Known:
    """A step the test knows how to run here: its action (None for a `run:` step), the inputs
    it may have (a new input is a change to review), and what this machine needs changed."""

    uses: str | None = None
    inputs: frozenset[str] = frozenset()
    substitutions: tuple[Substitution, ...] = ()


class UnknownStep(AssertionError):
    """The baked workflow has a step, action or input this test does not know how to run."""


def _docker_driver(step: Step, _: Path) -> Step:
    step.setdefault("with", {})["driver"] = "docker"
    return step


def _host_network(step: Step, _: Path) -> Step:
    step["with"]["network"] = "host"
    return step


def _no_gha_cache(step: Step, _: Path) -> Step:
    del step["with"]["cache-from"], step["with"]["cache-to"]
    return step


def _run_instead(step: Step, script: str, env: dict[str, str]) -> Step:
    """The step's name and conditions kept, its action replaced by a script."""
    kept = {k: v for k, v in step.items() if k in ("name", "id", "if", "continue-on-error")}
    return {**kept, "env": env, "run": script}


def _sarif_to_handover(step: Step, handover: Path) -> Step:
    folder = handover / "code-scanning"
    return _run_instead(
        step,
        f'mkdir -p {shlex.quote(str(folder))} && cp -- "$SARIF_FILE" {shlex.quote(str(folder))}/',
        {"SARIF_FILE": step["with"]["sarif_file"]},
    )


def _artifact_to_handover(step: Step, handover: Path) -> Step:
    folder = f'{shlex.quote(str(handover / "artifacts"))}/"$ARTIFACT"'
    # each line of `path` names a file; they land side by side, as upload-artifact stores files
    # of one folder (and a missing one fails the step, as `if-no-files-found: error` does)
    return _run_instead(
        step,
        f'mkdir -p {folder}\nwhile read -r file; do\n  [ -z "$file" ] || cp -- "$file" {folder}/\n'
        'done <<< "$ARTIFACT_PATH"\n',
        {"ARTIFACT": step["with"]["name"], "ARTIFACT_PATH": step["with"]["path"]},
    )


def _artifact_from_handover(step: Step, handover: Path) -> Step:
    folder = handover / "artifacts"
    return _run_instead(
        step,
        f'cp -- {shlex.quote(str(folder))}/"$ARTIFACT"/* .',
        {"ARTIFACT": step["with"]["name"]},
    )


COSIGN = """#!/bin/bash
# cosign, as the act test stands it in: records each call (arguments, and the predicate file's
# contents); sigstore and GitHub's OIDC are unreachable here.
set -euo pipefail
record={record}
mkdir -p "$record"
call="$record/$(find "$record" -name '*.args' | wc -l)"
printf '%s\\n' "$@" > "$call.args"
previous=
for argument in "$@"; do
  if [ "$previous" = --predicate ]; then cp -- "$argument" "$call.predicate"; fi
  previous=$argument
done
"""


def _cosign_stand_in(step: Step, handover: Path) -> Step:
    stand_in = handover / "bin" / "cosign"
    stand_in.parent.mkdir(parents=True, exist_ok=True)
    stand_in.write_text(COSIGN.format(record=shlex.quote(str(handover / "cosign"))))
    stand_in.chmod(0o755)
    return _run_instead(step, f'echo {shlex.quote(str(stand_in.parent))} >> "$GITHUB_PATH"', {})


DOCKER_DRIVER = Substitution(
    "setup-buildx: the `docker` driver",
    "its default driver (docker-container) pulls moby/buildkit from Docker Hub, unreachable here; "
    "the `docker` driver builds with the daemon's own BuildKit",
    _docker_driver,
)
HOST_NETWORK = Substitution(
    "build-push-action: `network: host`",
    "dockerd here runs with --bridge=none (no iptables in this sandbox), so a build's RUN steps "
    "reach the local index on loopback only through the host's network",
    _host_network,
)
NO_GHA_CACHE = Substitution(
    "build-push-action: no `cache-from`/`cache-to` type=gha",
    "the `docker` driver can neither import nor export a gha cache, and act serves no GitHub "
    "cache API here; the daemon's local cache stands in",
    _no_gha_cache,
)
SARIF_HANDOVER = Substitution(
    "upload-sarif: a copy of the SARIF file to the test",
    "codeql-action's lib/entry-points.js is missing from the offline copy, so upload-sarif cannot "
    "start here (nor reach code scanning); the stand-in keeps the step's `if` and "
    "continue-on-error and hands the file to the test, which checks it",
    _sarif_to_handover,
)
ARTIFACT_UPLOAD = Substitution(
    "upload-artifact: a copy into a folder named after the artifact",
    "act 0.2.89's artifact server answers HTTP 500 to the v7 client; the stand-in keeps the "
    "step's `if`, name and path, and fails as `if-no-files-found: error` does",
    _artifact_to_handover,
)
ARTIFACT_DOWNLOAD = Substitution(
    "download-artifact: a copy from that folder into the workspace",
    "the other half of the artifact hand-over above (the same client, the same server)",
    _artifact_from_handover,
)
COSIGN_STAND_IN = Substitution(
    "cosign-installer: a stand-in `cosign` that records its arguments and predicate",
    "cosign-installer downloads cosign from GitHub releases, and keyless signing needs sigstore "
    "and GitHub's OIDC: none is reachable here, so the sign job is checked to start with the "
    "pushed digest and to call cosign with it, not to sign",
    _cosign_stand_in,
)

# act copies the working tree instead of running actions/checkout (its default for the
# repository under test): nothing is fetched.
CHECKOUT = Known("actions/checkout", frozenset({"persist-credentials"}))
# setup-python finds the tool-cache entry the test makes (act_runner.make_tool_cache): it cannot
# download a Python here.
SETUP_PYTHON = Known("actions/setup-python", frozenset({"python-version"}))
LOGIN = Known("docker/login-action", frozenset({"registry", "username", "password"}))
RUN = Known()

KNOWN: dict[str, dict[str, Known]] = {
    "preflight": {"Check the NET_RC secret": RUN, "Check the registry credentials": RUN},
    "lint": {"Check out": CHECKOUT, "Set up Python": SETUP_PYTHON, "Install nox": RUN, "Lint": RUN},
    "image": {
        "Check out": CHECKOUT,
        "Set up Docker Buildx": Known("docker/setup-buildx-action", substitutions=(DOCKER_DRIVER,)),
        # asks the loopback stand-in for GitHub's API (github_api.py) what it asks api.github.com
        "Image metadata": Known("docker/metadata-action", frozenset({"images", "flavor", "tags"})),
        "Set up Python": SETUP_PYTHON,
        # the lock is current and the index serves it, from the runner, before every build
        "Check the lock and the index": RUN,
        "Commit time": RUN,
        "Build the image": Known(
            "docker/build-push-action",
            frozenset(
                {"context", "outputs", "push", "tags", "labels", "secrets", "provenance", "sbom"}
                | {"cache-from", "cache-to"}
            ),
            (HOST_NETWORK, NO_GHA_CACHE),
        ),
        "Install nox": RUN,
        "Audit the image for leaked credentials": RUN,
        "Test the image": RUN,
        "Upload the audit report to code scanning": Known(
            "github/codeql-action/upload-sarif",
            frozenset({"sarif_file", "category"}),
            (SARIF_HANDOVER,),
        ),
        "Log in to the registry": LOGIN,
        "Publish the audited image": RUN,
        "Keep the audit report and the SBOM for the attestations": Known(
            "actions/upload-artifact",
            frozenset({"name", "path", "if-no-files-found", "retention-days"}),
            (ARTIFACT_UPLOAD,),
        ),
    },
    "sign": {
        "Install cosign": Known("sigstore/cosign-installer", substitutions=(COSIGN_STAND_IN,)),
        "Log in to the registry": LOGIN,
        "Fetch the audit report and the SBOM": Known(
            "actions/download-artifact", frozenset({"name"}), (ARTIFACT_DOWNLOAD,)
        ),
        "Sign the pushed digest": RUN,
        "Attest the audit report": RUN,
        "Attest the SBOM": RUN,
        "Summary": RUN,
    },
}


@dataclass
class Pins:
    """Every `OWNER/REPO@SHA` the workflow uses (sub-path actions by their repository)."""

    refs: dict[str, str] = field(default_factory=dict)

    def add(self, uses: str) -> None:
        action, _, ref = uses.partition("@")
        repository = "/".join(action.split("/")[:2])
        if self.refs.setdefault(repository, ref) != ref:
            raise UnknownStep(
                f"{repository} is pinned to two commits: {ref}, {self.refs[repository]}"
            )


class _Loader(yaml.SafeLoader):
    """GitHub reads YAML 1.2, where only true and false are booleans; YAML 1.1 (PyYAML) also
    reads on/off/yes/no as booleans, and so the key `on` as True."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def _dumper() -> type[yaml.SafeDumper]:
    class Dumper(yaml.SafeDumper):
        pass

    def text(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
        style = "|" if "\n" in value else None
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)

    Dumper.add_representer(str, text)
    return Dumper


def load(path: Path) -> dict[str, Any]:
    return yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader)


def check(workflow: dict[str, Any]) -> Pins:
    """Refuse a workflow with a step, action or input not in KNOWN; return its pins."""
    pins = Pins()
    problems = []
    jobs = workflow["jobs"]
    if set(jobs) != set(KNOWN):
        problems.append(f"jobs {sorted(jobs)}, the test knows {sorted(KNOWN)}")
    for job, known_steps in KNOWN.items():
        steps = jobs.get(job, {}).get("steps", [])
        names = [step.get("name") for step in steps]
        if names != list(known_steps):
            problems.append(f"job {job}: steps {names}, the test knows {list(known_steps)}")
            continue
        for step in steps:
            known = known_steps[step["name"]]
            uses = step.get("uses")
            action = uses.partition("@")[0] if uses else None
            if action != known.uses:
                problems.append(f"{job} / {step['name']}: uses {uses}, known: {known.uses}")
                continue
            if uses:
                pins.add(uses)
                unknown = set(step.get("with", {})) - known.inputs
                if unknown:
                    problems.append(f"{job} / {step['name']}: inputs {sorted(unknown)}")
    if problems:
        raise UnknownStep(
            "The baked workflow differs from what the act test knows how to run here: "
            + "; ".join(problems)
            + ". Update KNOWN in tests/e2e/act/act_workflow.py (and the substitutions, if this "
            "machine cannot run the new step as it is) knowingly."
        )
    return pins


def runnable_copy(baked: Path, destination: Path, handover: Path) -> tuple[Path, Pins]:
    """Write the copy act runs; return it and the workflow's pins."""
    workflow = load(baked)
    pins = check(workflow)
    changed = copy.deepcopy(workflow)
    for job, known_steps in KNOWN.items():
        steps = changed["jobs"][job]["steps"]
        for index, step in enumerate(steps):
            for substitution in known_steps[step["name"]].substitutions:
                steps[index] = substitution.apply(steps[index], handover)
    destination.write_text(
        yaml.dump(changed, Dumper=_dumper(), sort_keys=False, width=1000), encoding="utf-8"
    )
    return destination, pins


def substitutions() -> list[Substitution]:
    """Every substitution, once, in workflow order (for the report)."""
    seen: dict[str, Substitution] = {}
    for steps in KNOWN.values():
        for known in steps.values():
            for substitution in known.substitutions:
                seen.setdefault(substitution.name, substitution)
    return list(seen.values())
