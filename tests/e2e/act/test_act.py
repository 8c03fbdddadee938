"""The baked workflow, executed by nektos/act on this machine for each event it serves, with the
real code of every action at its pinned commit, the session's password-protected index and its
registry. Each test asserts on what really happened: the registry's tags and the image config
they serve, the job summaries, the step outputs, what the sign job handed to cosign, and that
neither password appears in any line act printed.

What cannot run here is replaced in a copy of the workflow, by the named substitutions of
act_workflow.py (each with its reason); a workflow step the test does not know fails it.
"""

from __future__ import annotations

import json
import re
import secrets

import pytest
from act_runner import local_repositories
from act_workflow import Pins, UnknownStep, check, load, substitutions
from act_world import DEFAULT_BRANCH, RELEASE, REPOSITORY, WORKFLOW, git
from harness import RUN, encodings

pytestmark = pytest.mark.engine

IMAGE_STEPS = [
    "Check out", "Set up Docker Buildx", "Image metadata", "Set up Python",
    "Check the lock and the index", "Commit time", "Build the image", "Install nox",
    "Audit the image for leaked credentials", "Test the image",
    "Upload the audit report to code scanning", "Log in to the registry",
    "Publish the audited image", "Keep the audit report and the SBOM for the attestations",
]  # fmt: skip
RAY_VERSION = re.compile(r'io\.ray\.version="([^"]+)"')
UNTIL_PUBLISH = IMAGE_STEPS[: IMAGE_STEPS.index("Log in to the registry")]
# The index check's one paragraph (pypiserver answers a wrong password with 403).
PROBE_REFUSED = re.compile(  # from the runner (the check step) or inside the build
    r"(index_probe: )?the index answered HTTP 40[13] \((Unauthorized|Forbidden)\) for 'local' at "
    r"127\.0\.0\.1: the credential is wrong or expired, or lacks read access to 'acme-sauce'\."
)


@pytest.fixture(scope="module")
def push_main(world):
    """A push to the default branch: the whole workflow, lint included."""
    return world.run(
        "push-main", "push", world.push(f"refs/heads/{DEFAULT_BRANCH}"), world.secrets()
    )


@pytest.fixture(scope="module")
def push_tag(world):
    return world.run(
        "push-tag", "push", world.push(f"refs/tags/{RELEASE}"), world.secrets(), jobs="sign"
    )


@pytest.fixture(scope="module")
def pull_request(world):
    """A pull request from a branch of the repository itself: it gets the secrets."""
    payload = world.pull_request(7, REPOSITORY)
    return world.run("pull-request", "pull_request", payload, world.secrets(), jobs="sign")


@pytest.fixture(scope="module")
def fork_pull_request(world):
    """A pull request from a fork: GitHub gives it no secrets but a read-only token."""
    payload = world.pull_request(8, "outsider/ray-runtime")
    token = {"GITHUB_TOKEN": world.github_token}
    return world.run("fork-pull-request", "pull_request", payload, token, jobs="sign")


def wrong(netrc: str) -> str:
    """The netrc with another password (a rotated or mistyped secret)."""
    return re.sub(r"password \S+", f"password wrong-{secrets.token_urlsafe(12)}", netrc)


@pytest.fixture(scope="module")
def wrong_netrc_push(world):
    """A push to the default branch with a wrong NET_RC, of a commit that changes the
    requirements: a change no build has cached (the run's id in it: the daemon's cache outlives
    test sessions), so the build contacts the index."""
    checkout = world.clone("wrong-netrc")
    with (checkout / "requirements.txt").open("a") as requirements:
        requirements.write(f"# reviewed in {RUN}\n")
    git(checkout, "commit", "--quiet", "--all", "--message", "Review the requirements")
    payload = world.push(f"refs/heads/{DEFAULT_BRANCH}", checkout)
    secrets_ = world.secrets(netrc=wrong(world.netrc))
    return world.run("wrong-netrc", "push", payload, secrets_, jobs="sign", checkout=checkout)


@pytest.fixture(scope="module")
def wrong_netrc_cached_push(world, push_main):
    """The same, after the default branch's image was built: every layer cached. The run stops
    once the build has succeeded: from there on, the wrong secret passed every check."""
    secrets_ = world.secrets(netrc=wrong(world.netrc))
    payload = world.push(f"refs/heads/{DEFAULT_BRANCH}")
    return world.run(
        "wrong-netrc-cached", "push", payload, secrets_, jobs="image", until="Build the image"
    )


EVENTS = [
    "push_main", "push_tag", "pull_request", "fork_pull_request", "wrong_netrc_push",
    "wrong_netrc_cached_push",
]  # fmt: skip


def artifact(event, name: str) -> dict:
    """A file of the artifact the image job kept for the sign job (JSON)."""
    return json.loads((event.handover / "artifacts" / "audit-report" / name).read_text())


def audit_report(event) -> dict:
    return artifact(event, "audit.json")


def audited_config(event) -> str:
    (image,) = audit_report(event)["images"]
    return image["config_digest"]


def sha_tag(world) -> str:
    return f"sha-{git(world.checkout, 'rev-parse', 'HEAD')[:7]}"


def assert_published(world, event, tags: list[str]) -> str:
    """The image job built, audited clean, tested and pushed `tags` (the first names the
    published digest); the registry serves the audited config under each; returns the image
    the publish step output, by digest."""
    run = event.run
    assert run.results("image") == dict.fromkeys(IMAGE_STEPS, "success"), run.log("image")
    names = [f"{world.registry.host}/{world.image_repository}:{tag}" for tag in tags]
    assert run.outputs("image", "Image metadata")["tags"].splitlines() == names
    config = audited_config(event)
    assert audit_report(event)["verdict"] == "clean"
    assert run.outputs("image", "Build the image")["imageid"] == config
    assert {tag: event.after[tag].config for tag in tags} == dict.fromkeys(tags, config)
    assert set(event.pushed) == set(tags)
    image = f"{world.registry.host}/{world.image_repository}@{event.after[tags[0]].digest}"
    assert run.outputs("image", "Publish the audited image") == {"image": image}
    summary = run.summary("image")
    ci_image = load(world.checkout / WORKFLOW)["env"]["CI_IMAGE"]
    assert f"**Leak audit of `{ci_image}`:** CLEAN: no secret found" in summary
    assert f"**Published:** `{image}`" in summary
    sbom = artifact(event, "sbom.spdx.json")
    assert f"**SBOM:** {len(sbom['packages'])} packages, SPDX JSON" in summary
    sarif = json.loads((event.handover / "code-scanning" / "audit.sarif").read_text())
    assert sarif["version"] == "2.1.0" and sarif["runs"][0]["results"] == []
    return image


def assert_signed(world, event, image: str) -> None:
    """The sign job started with the pushed digest and handed it, the audit report and the
    SBOM to cosign (which cannot run here: a stand-in records the calls)."""
    run = event.run
    assert run.job_result("sign") == "success", run.log("sign")
    predicate_type = load(world.checkout / WORKFLOW)["env"]["AUDIT_PREDICATE_TYPE"]
    calls = event.cosign_calls()
    assert [args for args, _ in calls] == [
        ["sign", "--yes", image],
        ["attest", "--yes", "--type", predicate_type, "--predicate", "audit.json", image],
        ["attest", "--yes", "--type", "spdxjson", "--predicate", "sbom.spdx.json", image],
    ]
    assert json.loads(calls[1][1]) == audit_report(event)
    assert json.loads(calls[2][1]) == artifact(event, "sbom.spdx.json")
    assert f"**Signed and attested:** `{image}`" in run.summary("sign")


def test_push_to_the_default_branch_builds_audits_tests_publishes_and_signs(world, push_main):
    run = push_main.run
    assert run.status == 0, run.text[-6000:]
    assert {job: run.job_result(job) for job in ("preflight", "lint", "image", "sign")} == {
        "preflight": "success", "lint": "success", "image": "success", "sign": "success",
    }  # fmt: skip
    assert run.outputs("preflight", "Check the NET_RC secret") == {"build": "true"}
    image = assert_published(world, push_main, [DEFAULT_BRANCH, "latest", sha_tag(world)])
    assert_signed(world, push_main, image)
    assert push_main.api_requests == [f"/repos/{REPOSITORY}"]


def test_a_release_tag_publishes_its_semver_tags(world, push_tag):
    run = push_tag.run
    assert run.status == 0, run.text[-6000:]
    assert run.outputs("image", "Image metadata")["version"] == "1.2.3"
    image = assert_published(world, push_tag, ["1.2.3", "1.2", sha_tag(world)])
    assert DEFAULT_BRANCH not in push_tag.pushed and "latest" not in push_tag.pushed
    assert_signed(world, push_tag, image)


def test_a_pull_request_builds_audits_and_tests_but_never_logs_in_or_pushes(world, pull_request):
    run = pull_request.run
    assert run.status == 0, run.text[-6000:]
    assert run.results("image") == dict.fromkeys(UNTIL_PUBLISH, "success"), run.log("image")
    assert "pr-7" in run.outputs("image", "Image metadata")["tag-names"].splitlines()
    assert "CLEAN: no secret found" in run.summary("image")
    assert "Published" not in run.summary("image")
    assert pull_request.pushed == {} and pull_request.after == pull_request.before
    assert run.job_result("sign") is None, "the sign job needs a published image"


def test_a_pull_request_from_a_fork_skips_the_build_with_a_warning(world, fork_pull_request):
    run = fork_pull_request.run
    assert run.status == 0, run.text[-6000:]
    assert run.results("preflight") == {"Check the NET_RC secret": "success"}
    assert run.outputs("preflight", "Check the NET_RC secret") == {"build": "false"}
    summary = run.summary("preflight")
    assert "### The NET_RC secret is not available" in summary
    assert "This is a pull request from a fork" in summary
    assert "was **not built, audited or tested**" in summary
    assert "::warning title=NET_RC not available::Pull requests from forks get no secrets" in (
        run.log("preflight")
    )
    assert run.job_result("image") is None and run.job_result("sign") is None
    assert fork_pull_request.after == fork_pull_request.before


def test_a_wrong_netrc_fails_at_the_index_check_with_its_message(world, wrong_netrc_push):
    run = wrong_netrc_push.run
    assert run.status != 0
    assert run.job_result("image") == "failure"
    results = run.results("image")
    check = "Check the lock and the index"
    assert list(results)[-1] == check and results[check] == "failure"
    assert set(results) <= set(IMAGE_STEPS[: IMAGE_STEPS.index(check) + 1])
    assert PROBE_REFUSED.search(run.log("image", check))
    assert wrong_netrc_push.after == wrong_netrc_push.before
    assert run.job_result("sign") is None


def test_a_wrong_netrc_fails_even_when_every_layer_is_cached(world, wrong_netrc_cached_push):
    """Issue 15, item 2: the check step asks the index from the runner on every run, so a
    cached install step no longer hides a wrong NET_RC."""
    run = wrong_netrc_cached_push.run
    assert run.results("image").get("Check the lock and the index") == "failure"
    assert run.results("image").get("Build the image") != "success", "built with a wrong NET_RC"
    assert PROBE_REFUSED.search(run.log("image"))


@pytest.mark.parametrize("event", EVENTS)
def test_no_password_in_any_line_act_printed(world, event, request):
    """Neither the index's password (right or wrong) nor the registry's, in any encoding."""
    run = request.getfixturevalue(event).run
    passwords = [world.registry.password, *re.findall(r"password (\S+)", world.netrc)]
    printed = run.text.encode()
    assert not [p for p in passwords if any(form in printed for form in encodings(p))]
    assert "password wrong-" not in run.text


def test_the_copy_differs_from_the_baked_workflow_only_by_the_named_substitutions(world, push_main):
    baked = load(world.checkout / WORKFLOW)
    ran = load(world.folder / "push-main" / "image.yml")
    changed = {
        (job, before["name"])
        for job in baked["jobs"]
        for before, after in zip(
            baked["jobs"][job]["steps"], ran["jobs"][job]["steps"], strict=True
        )
        if before != after
    }
    assert changed == {
        ("image", "Set up Docker Buildx"), ("image", "Build the image"),
        ("image", "Upload the audit report to code scanning"),
        ("image", "Keep the audit report and the SBOM for the attestations"),
        ("sign", "Install cosign"), ("sign", "Fetch the audit report and the SBOM"),
    }  # fmt: skip
    for job in baked["jobs"]:
        baked["jobs"][job].pop("steps"), ran["jobs"][job].pop("steps")
    assert ran == baked, "only steps change; jobs, triggers, permissions and env stay as baked"
    assert len(substitutions()) == 7


@pytest.mark.parametrize(
    "change",
    ["a new step", "another action", "a new input", "a step renamed"],
)
def test_a_workflow_step_the_test_does_not_know_fails_it(world, change):
    workflow = load(world.checkout / WORKFLOW)
    steps = workflow["jobs"]["image"]["steps"]
    build = next(step for step in steps if step["name"] == "Build the image")
    if change == "a new step":
        steps.insert(3, {"name": "Warm the cache", "run": "true"})
    elif change == "another action":
        build["uses"] = "other/build-action@" + "0" * 40
    elif change == "a new input":
        build["with"]["build-args"] = "A=1"
    else:
        build["name"] = "Build"
    with pytest.raises(UnknownStep, match="Update KNOWN"):
        check(workflow)


def test_a_new_pin_needs_a_new_offline_copy(tmp_path):
    """An action pinned to a commit the offline copies do not hold is refused, not run with
    the code of another commit."""
    sha, other = "1" * 40, "2" * 40
    (tmp_path / "README.md").write_text(f"| docker+login-action | {sha} (v4.1.0) |\n")
    (tmp_path / "docker+login-action").mkdir()
    argv = local_repositories(Pins({"docker/login-action": sha}), tmp_path)
    assert argv[-1] == f"docker/login-action@{sha}={tmp_path / 'docker+login-action'}"
    with pytest.raises(AssertionError, match="a new pin needs a new offline copy"):
        local_repositories(Pins({"docker/login-action": other}), tmp_path)


def test_the_sbom_lists_ray_and_the_private_package_with_their_versions(world, push_main):
    """The SBOM the audit made in CI, from the archive it audited: an image built from the
    local index, named after the CI image and its ID."""
    sbom = artifact(push_main, "sbom.spdx.json")
    versions = {(p["name"], p.get("versionInfo")) for p in sbom["packages"]}
    ray_version = RAY_VERSION.search((world.checkout / "Dockerfile").read_text())[1]
    assert {("acme-sauce", "1.0.0"), ("ray", ray_version)} <= versions
    (root,) = [p for p in sbom["packages"] if p.get("primaryPackagePurpose") == "CONTAINER"]
    ci_image = load(world.checkout / WORKFLOW)["env"]["CI_IMAGE"]
    assert (root["name"], root["versionInfo"]) == (ci_image, audited_config(push_main))
    for package in sbom["packages"]:  # kept in the test log (-rA shows it)
        if package["name"] in ("acme-sauce", "ray"):
            print(json.dumps({k: v for k, v in package.items() if k != "externalRefs"}))
