"""Bake the template and check the GitHub Actions workflow that users get.

The workflow is a Jinja template that also holds GitHub expressions, so every check here runs on
the rendered file of a real bake: YAML structure, least-privilege permissions, pinned actions,
the NET_RC secret wiring, and a clean run of zizmor and actionlint (with shellcheck).
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from baking import DEFAULTS, bake, tool

WORKFLOW = Path(".github", "workflows", "image.yml")
SECRET_ID = DEFAULTS["_secret_id"]
NET_RC = "${{ secrets.NET_RC }}"
# The index's entry alone becomes the secret (README.md): never the whole ~/.netrc.
SET_NET_RC = "python3 -m image_tasks secret | gh secret set NET_RC"
COMMIT_EPOCH = "${{ steps.commit.outputs.epoch }}"

# Variants whose rendered workflow differs: GHCR logs in with GITHUB_TOKEN and needs
# `packages: write`; any other registry logs in with REGISTRY_USERNAME/REGISTRY_PASSWORD.
VARIANTS = {
    "ghcr-default": {},
    "docker-hub": {"registry": "docker.io", "github_owner": "Example-Org"},
    "custom-registry": {
        "registry": "registry.example.com",
        "image_name": "registry.example.com/platform/ray-runtime",
    },
}

USES = re.compile(
    r"^\s*(?:-\s+)?uses:\s+(?P<action>[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+(?:/[A-Za-z0-9_./-]+)?)"
    r"@(?P<ref>\S+)(?P<rest>.*)$"
)
SHA = re.compile(r"^[0-9a-f]{40}$")
VERSION_COMMENT = re.compile(r"^\s+#\s+v\d+(?:\.\d+){0,2}\s*$")


class Baked:
    """One bake: the answers given, the project directory, the workflow's text and data."""

    def __init__(self, context: dict[str, str], project: Path) -> None:
        self.context = context
        self.project = project
        self.path = project / WORKFLOW
        self.text = self.path.read_text(encoding="utf-8")
        self.data: dict[str, Any] = yaml.safe_load(self.text)
        self.jobs: dict[str, dict[str, Any]] = self.data["jobs"]

    def steps(self, job: str | None = None) -> list[dict[str, Any]]:
        jobs = [job] if job else list(self.jobs)
        return [step for name in jobs for step in self.jobs[name].get("steps", [])]

    def uses(self, action: str, job: str | None = None) -> list[dict[str, Any]]:
        return [s for s in self.steps(job) if s.get("uses", "").split("@")[0] == action]


@pytest.fixture(scope="module", params=list(VARIANTS), ids=list(VARIANTS))
def baked(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Baked:
    extra = VARIANTS[request.param]
    out = tmp_path_factory.mktemp(f"bake-{request.param}")
    return Baked({**DEFAULTS, **extra}, bake(out, **extra))


def registry(baked: Baked) -> str:
    return baked.data["env"]["REGISTRY"]


def test_renders_without_jinja_leftovers(baked: Baked) -> None:
    assert "{%" not in baked.text
    assert "cookiecutter." not in baked.text
    assert "\r" not in baked.text
    assert baked.text.endswith("\n")


def test_parses_and_triggers(baked: Baked) -> None:
    # PyYAML reads the bare key `on` as the boolean True (YAML 1.1).
    triggers = baked.data.get("on", baked.data.get(True))
    assert set(triggers) >= {"push", "pull_request"}
    assert "pull_request_target" not in triggers
    assert "tags" in triggers["push"]


def test_cookiecutter_values_reach_the_workflow(baked: Baked) -> None:
    env = baked.data["env"]
    if "image_name" in baked.context and "{{" not in baked.context["image_name"]:
        assert env["IMAGE_NAME"] == baked.context["image_name"]
    assert env["IMAGE_NAME"].startswith(env["REGISTRY"] + "/")
    assert env["IMAGE_NAME"] == env["IMAGE_NAME"].lower()
    assert env["CI_IMAGE"] == env["IMAGE_NAME"] + ":ci"
    assert env["REGISTRY"] == baked.context["registry"]
    assert env["PYTHON_VERSION"] == baked.context["python_version"]


def test_top_level_permissions_are_empty(baked: Baked) -> None:
    assert baked.data["permissions"] == {}


def test_every_job_declares_least_privilege(baked: Baked) -> None:
    for name, job in baked.jobs.items():
        assert "permissions" in job, f"job {name} must declare its permissions"
        perms = job["permissions"]
        assert isinstance(perms, dict), f"job {name}: no read-all/write-all"
        assert set(perms.values()) <= {"read", "write", "none"}
        writes = {scope for scope, level in perms.items() if level == "write"}
        allowed = {"image": {"security-events", "packages"}, "sign": {"id-token", "packages"}}
        assert writes <= allowed.get(name, set()), f"job {name} writes {writes}"
    grants = {name for name, job in baked.jobs.items() if "packages" in job["permissions"]}
    assert grants == ({"image", "sign"} if registry(baked) == "ghcr.io" else set())
    tokens = {name for name, job in baked.jobs.items() if "id-token" in job["permissions"]}
    assert tokens == {"sign"}, "only the job that signs may mint an OIDC token"


def test_every_action_is_pinned_to_a_commit_with_a_version_comment(baked: Baked) -> None:
    lines = [line for line in baked.text.splitlines() if re.match(r"^\s*(-\s+)?uses:", line)]
    assert len(lines) == sum(1 for s in baked.steps() if "uses" in s)
    assert lines
    for line in lines:
        match = USES.match(line)
        assert match, f"unexpected uses: line {line!r}"
        assert SHA.match(match["ref"]), f"not pinned to a full commit SHA: {line!r}"
        assert VERSION_COMMENT.match(match["rest"]), f"no '# vX.Y.Z' comment: {line!r}"
    # One action, one pin: two steps never use different commits of the same action.
    pins: dict[str, set[str]] = {}
    for line in lines:
        match = USES.match(line)
        assert match
        pins.setdefault(match["action"], set()).add(match["ref"])
    assert all(len(refs) == 1 for refs in pins.values()), pins


def test_checkout_does_not_persist_credentials(baked: Baked) -> None:
    checkouts = baked.uses("actions/checkout")
    assert checkouts
    for step in checkouts:
        assert step.get("with", {}).get("persist-credentials") is False


def test_netrc_goes_to_the_build_as_a_quoted_buildkit_secret(baked: Baked) -> None:
    assert f'"netrc={NET_RC}"' in baked.text
    (build,) = baked.uses("docker/build-push-action")
    assert build["with"]["secrets"].strip() == f'"{SECRET_ID}={NET_RC}"'
    assert "build-args" not in build["with"], "nothing secret (or not) goes in build args"


def test_secret_id_matches_the_dockerfile(baked: Baked) -> None:
    dockerfile = baked.project / "Dockerfile"
    assert f"id={SECRET_ID}" in dockerfile.read_text(encoding="utf-8")


def test_no_attestation_records_build_arguments(baked: Baked) -> None:
    assert not re.search(r"(provenance|attests):.*mode=max", baked.text)
    for step in baked.uses("docker/build-push-action"):
        assert str(step["with"].get("provenance")).lower() in {"false", "mode=min"}
        assert str(step["with"].get("sbom", "false")).lower() == "false"
        assert "attests" not in step["with"]


def step_named(baked: Baked, job: str, name: str) -> dict[str, Any]:
    (step,) = [s for s in baked.steps(job) if s.get("name") == name]
    return step


def test_one_build_and_the_audited_bytes_are_published(baked: Baked) -> None:
    """Built once, loaded, never pushed by the build; audit, test, then publish of those bytes."""
    (build,) = baked.uses("docker/build-push-action")
    assert baked.uses("docker/build-push-action", "image") == [build]
    assert build["with"]["push"] is False and "load" not in build["with"]
    # Loaded into the runner's engine (type=docker), its files' times clamped to the commit's.
    assert build["with"]["outputs"] == "type=docker,rewrite-timestamp=true"
    assert build["with"]["tags"].splitlines() == [
        "${{ env.CI_IMAGE }}",
        "${{ steps.meta.outputs.tags }}",
    ]
    for step in baked.steps():
        assert not re.search(
            r"\b(docker|podman|buildah)\s+(build|push)|buildx", step.get("run", "")
        )
    names = [s.get("name") for s in baked.steps("image")]
    order = ["Build the image", "Audit the image for leaked credentials", "Test the image",
             "Log in to the registry", "Publish the audited image"]  # fmt: skip
    assert [names.index(n) for n in order] == sorted(names.index(n) for n in order)
    publish = step_named(baked, "image", "Publish the audited image")
    assert "nox -s publish" in publish["run"]
    assert (
        publish["env"]["IMAGE"] == "${{ env.CI_IMAGE }}"
        and publish["env"]["IMAGE_ENGINE"] == "buildx"
    )
    # A failed audit or test stops the job before these steps: their `if` has no always().
    gated = [s for s in baked.steps("image") if names.index(s["name"]) > names.index(order[2])]
    for step in gated:
        if step["name"] in ("Log in to the registry", "Publish the audited image"):
            assert step["if"] == "env.PUBLISH == 'true'"
    condition = baked.jobs["image"]["env"]["PUBLISH"]
    assert "github.event_name != 'pull_request'" in condition
    assert "github.event.repository.default_branch" in condition and "refs/tags/" in condition


def test_publish_step_pushes_every_release_tag(baked: Baked, tmp_path: Path) -> None:
    """The step's script under bash, with a stand-in nox that records its arguments (the task
    itself writes the step output and the summary: tests/e2e/test_engines.py)."""
    step = step_named(baked, "image", "Publish the audited image")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "nox").write_text("#!/bin/sh\nprintf '%s\\n' \"$@\" > args\n")
    (bin_dir / "nox").chmod(0o755)
    tags = "ghcr.io/acme/x:main\nghcr.io/acme/x:sha-1234567\n"
    env = {"PATH": f"{bin_dir}:{os.environ['PATH']}", "TAGS": tags}
    result = subprocess.run(
        [tool("bash"), "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]],
        cwd=tmp_path, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    args = (tmp_path / "args").read_text().split()
    assert args == ["-s", "publish", "--", "--tag", "ghcr.io/acme/x:main",
                    "--tag", "ghcr.io/acme/x:sha-1234567"]  # fmt: skip


def test_sign_job_signs_and_attests_the_published_digest(baked: Baked) -> None:
    sign = baked.jobs["sign"]
    assert sign["needs"] == "image"
    assert sign["if"] == "needs.image.outputs.image != ''"
    assert baked.jobs["image"]["outputs"]["image"] == "${{ steps.publish.outputs.image }}"
    assert sign["env"]["IMAGE"] == "${{ needs.image.outputs.image }}"
    assert baked.uses("sigstore/cosign-installer", "sign")
    runs = [s.get("run", "") for s in baked.steps("sign")]
    assert 'cosign sign --yes "$IMAGE"' in runs
    assert (
        'cosign attest --yes --type "$AUDIT_PREDICATE_TYPE" --predicate audit.json "$IMAGE"' in runs
    )
    assert 'cosign attest --yes --type spdxjson --predicate sbom.spdx.json "$IMAGE"' in runs
    assert baked.data["env"]["AUDIT_PREDICATE_TYPE"].startswith("urn:")
    (upload,) = baked.uses("actions/upload-artifact", "image")
    (download,) = baked.uses("actions/download-artifact", "sign")
    assert upload["with"]["name"] == download["with"]["name"]
    assert upload["with"]["path"].split() == [
        ".image-tasks/audit.json",
        ".image-tasks/sbom.spdx.json",
    ]
    assert upload["if"] == "steps.publish.outcome == 'success'"
    assert not baked.uses("actions/checkout", "sign"), "the signing job runs no repository code"


def test_registry_login(baked: Baked) -> None:
    logins = baked.uses("docker/login-action")
    assert [s in baked.steps("image") for s in logins] == [True, False]
    assert logins[0]["with"] == logins[1]["with"]
    login = logins[0]
    assert login["with"]["registry"] == "${{ env.REGISTRY }}"
    if registry(baked) == "ghcr.io":
        assert login["with"]["password"] == "${{ secrets.GITHUB_TOKEN }}"
        assert "REGISTRY_PASSWORD" not in baked.text
    else:
        assert login["with"]["username"] == "${{ secrets.REGISTRY_USERNAME }}"
        assert login["with"]["password"] == "${{ secrets.REGISTRY_PASSWORD }}"
        assert "GITHUB_TOKEN" not in baked.text
        checks = [s for s in baked.steps("preflight") if "REGISTRY_PASSWORD" in str(s)]
        assert checks, "a missing registry secret must be reported plainly"


def test_missing_netrc_is_reported_plainly(baked: Baked) -> None:
    preflight = baked.jobs["preflight"]
    assert preflight["permissions"] == {}
    image = baked.jobs["image"]
    assert "preflight" in image["needs"]
    assert image["if"] == "needs.preflight.outputs.build == 'true'"
    (check,) = [s for s in preflight["steps"] if s.get("id") == "netrc"]
    assert check["env"]["NET_RC"] == NET_RC
    script = check["run"]
    assert SET_NET_RC in script and "< ~/.netrc" not in script
    assert "::warning " in script and "::error " in script
    assert "GITHUB_STEP_SUMMARY" in script


@pytest.mark.parametrize(
    ("env", "code", "annotation", "build"),
    [
        ({"NET_RC": "machine h login u password p", "EVENT_NAME": "push"}, 0, None, "true"),
        (
            {"NET_RC": "", "EVENT_NAME": "pull_request", "HEAD_REPOSITORY": "fork/x"},
            0,
            "warning",
            "false",
        ),
        (
            {"NET_RC": "", "EVENT_NAME": "pull_request", "HEAD_REPOSITORY": "acme/x"},
            1,
            "error",
            "false",
        ),
        ({"NET_RC": "", "EVENT_NAME": "push"}, 1, "error", "false"),
    ],
    ids=["secret-set", "fork-pr-skips", "own-pr-fails", "push-fails"],
)
def test_netrc_check_script(
    baked: Baked,
    tmp_path: Path,
    env: dict[str, str],
    code: int,
    annotation: str | None,
    build: str,
) -> None:
    bash = tool("bash")
    (check,) = [s for s in baked.jobs["preflight"]["steps"] if s.get("id") == "netrc"]
    output, summary = tmp_path / "output", tmp_path / "summary"
    run_env = {
        "PATH": os.environ.get("PATH", ""),
        "GITHUB_OUTPUT": str(output),
        "GITHUB_STEP_SUMMARY": str(summary),
        "REPOSITORY": "acme/x",
        "HEAD_REPOSITORY": "",
        **env,
    }
    result = subprocess.run(
        [bash, "--noprofile", "--norc", "-eo", "pipefail", "-c", check["run"]],
        env=run_env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == code, result.stderr
    assert output.read_text() == f"build={build}\n"
    if annotation is None:
        assert result.stdout == ""
        assert not summary.exists()
    else:
        assert result.stdout.startswith(f"::{annotation} ")
        text = summary.read_text()
        assert "NET_RC" in text
        if annotation == "error":
            assert SET_NET_RC in text
    assert "password p" not in result.stdout + result.stderr


def test_audit_and_sarif_upload(baked: Baked) -> None:
    steps = baked.steps("image")
    (audit,) = [s for s in steps if "nox -s audit" in s.get("run", "")]
    assert audit["env"]["AUDIT_SARIF"] == "audit.sarif"
    assert audit["env"]["IMAGE"] == "${{ env.CI_IMAGE }}"
    assert audit["env"]["IMAGE_ENGINE"] == "buildx"
    assert audit["env"]["NET_RC"] == NET_RC
    (upload,) = baked.uses("github/codeql-action/upload-sarif", "image")
    assert "always()" in upload["if"]
    assert "hashFiles('audit.sarif') != ''" in upload["if"]
    assert upload["with"]["sarif_file"] == "audit.sarif"
    names = [s.get("name") for s in steps]
    assert names.index(audit["name"]) > names.index("Build the image")


def test_upload_sarif_may_read_the_run(baked: Baked) -> None:
    """upload-sarif calls GET /repos/:owner/:repo/actions/runs/:id: in a private repository
    that needs `actions: read`, and continue-on-error would hide the failure."""
    assert baked.jobs["image"]["permissions"]["actions"] == "read"


def test_the_lock_and_the_index_are_checked_before_every_build(baked: Baked) -> None:
    """Cached layers or not, a revoked NET_RC, a stale lock or a redirecting index fails the
    run before the build, with the tasks' own message."""
    names = [s.get("name") for s in baked.steps("image")]
    check = step_named(baked, "image", "Check the lock and the index")
    assert check["run"] == "python -m image_tasks check"
    assert check["env"] == {"NET_RC": NET_RC}
    where = names.index(check["name"])
    assert names.index("Set up Python") < where < names.index("Build the image")
    assert "continue-on-error" not in check and "if" not in check


def test_a_rerun_of_the_same_commit_builds_the_same_image(baked: Baked, tmp_path: Path) -> None:
    """The image's time is the commit's; the only labels added to the Dockerfile's are the
    commit and its time, so the Dockerfile's title survives and no wall-clock label is minted."""
    (build,) = baked.uses("docker/build-push-action")
    assert build["env"] == {"SOURCE_DATE_EPOCH": COMMIT_EPOCH}
    assert build["with"]["labels"].splitlines() == [
        "org.opencontainers.image.revision=${{ github.sha }}",
        "org.opencontainers.image.created=${{ steps.commit.outputs.created }}",
    ]
    assert "outputs.labels" not in baked.text, "metadata-action's labels replace the title"
    dockerfile = (baked.project / "Dockerfile").read_text(encoding="utf-8")
    assert "ARG SOURCE_DATE_EPOCH" not in dockerfile, "a new value every commit: no layer cache"
    assert "org.opencontainers.image.title=" in dockerfile
    # The step itself, on a real commit: the same outputs on every run of it.
    git = ["git", "-C", str(tmp_path), "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run(
        [*git, "commit", "-q", "--allow-empty", "-m", "x", "--date", "2026-01-02T03:04:05Z"],
        env={**os.environ, "GIT_COMMITTER_DATE": "2026-01-02T03:04:05Z"},
        check=True,
    )
    step = step_named(baked, "image", "Commit time")
    outputs = []
    for _ in range(2):
        output = tmp_path / f"output-{len(outputs)}"
        subprocess.run(
            [tool("bash"), "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]],
            cwd=tmp_path, env={"PATH": os.environ["PATH"], "GITHUB_OUTPUT": str(output)},
            check=True,
        )  # fmt: skip
        outputs.append(output.read_text())
    assert outputs[0] == outputs[1] == "epoch=1767323045\ncreated=2026-01-02T03:04:05Z\n"


def test_no_expressions_in_shell_scripts(baked: Baked) -> None:
    """Values reach scripts through env:, never by ${{ }} interpolation (template injection)."""
    for step in baked.steps():
        assert "${{" not in step.get("run", ""), step.get("name")


def test_setup_python_does_not_restore_a_cache(baked: Baked) -> None:
    for step in baked.uses("actions/setup-python"):
        assert "cache" not in step.get("with", {})


def test_zizmor_finds_nothing(baked: Baked) -> None:
    zizmor = tool("zizmor")
    result = subprocess.run(
        [zizmor, "--offline", "--no-config", "--no-ignores", "--persona=pedantic", str(WORKFLOW)],
        cwd=baked.project,
        capture_output=True,
        text=True,
        check=False,
    )
    report = result.stdout + result.stderr
    assert result.returncode == 0, report
    assert "No findings to report" in report, report


def test_actionlint_and_shellcheck_find_nothing(baked: Baked) -> None:
    actionlint = tool("actionlint")
    shellcheck = tool("shellcheck")
    result = subprocess.run(
        [actionlint, "-no-color", "-shellcheck", shellcheck, str(WORKFLOW)],
        cwd=baked.project,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == "", result.stdout
