"""End to end on each engine, as a user runs it: bake, `nox -s build audit test publish` against
the local index and a real registry, then prove independently that the registry serves the
audited image, and that neither the index password nor the registry's is in the saved image or
in any blob the registry holds."""

import json
import subprocess
from pathlib import Path

import pytest
from baking import choice_variants, tool
from harness import RUN, blob_places, canary_places, engine_env, run, save_image, tag
from image_tasks.engine.detect import NAMES as ENGINES

TIMINGS = Path(__file__).resolve().parents[2] / ".e2e-timings.json"


def record(name: str, seconds: float) -> None:
    timings = json.loads(TIMINGS.read_text()) if TIMINGS.exists() else {}
    timings[name] = round(seconds, 1)
    TIMINGS.write_text(json.dumps(timings, indent=2, sort_keys=True))


@pytest.fixture(scope="module")
def repository(baked_e2e, registry) -> Path:
    return baked_e2e(image_name=f"{registry.host}/e2e-{RUN}/app")


@pytest.mark.engine
@pytest.mark.parametrize("engine", ENGINES)
def test_nox_builds_audits_tests_and_publishes(engine, repository, local_index, registry, tmp_path):
    _, netrc, password = local_index
    image = f"{registry.host}/e2e-{RUN}/{engine}:dev"
    logins = registry.user_env(tmp_path)
    env = engine_env(engine, IMAGE=image, NETRC=str(netrc), **logins)
    if engine == "docker":
        client = subprocess.run(
            ["docker", "version", "--format", "{{.Client.Version}}"],
            env=env, capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
        assert client.startswith("20."), "the docker engine must be the CLI with built-in BuildKit"

    build = [tool("nox"), "-s", "build", "--", "--no-cache"]  # prove this engine mounts the secret
    status, output, seconds = run(build, cwd=repository, env=env)
    assert status == 0, output[-6000:]
    assert "building with host networking" in output
    record(f"nox -s build ({engine})", seconds)
    registry.login(engine, env)
    status, output_rest, seconds = run(
        [tool("nox"), "-s", "audit", "test"], cwd=repository, env=env
    )
    assert status == 0, output_rest[-6000:]
    record(f"nox -s audit test ({engine})", seconds)
    assert "8 passed" in output_rest
    # As in GitHub Actions: the task writes its step output and the job summary itself.
    actions = {
        "GITHUB_OUTPUT": str(tmp_path / "output"),
        "GITHUB_STEP_SUMMARY": str(tmp_path / "summary"),
    }
    publish = [tool("nox"), "-s", "publish"]
    status, output_publish, seconds = run(publish, cwd=repository, env={**env, **actions})
    assert status == 0, output_publish[-6000:]
    record(f"nox -s publish ({engine})", seconds)
    output_rest += output_publish
    for text in (output, output_rest):
        assert password not in text, "the index password reached the terminal"
        assert registry.password not in text, "the registry password reached the terminal"
        assert "Traceback" not in text

    # What publish says it pushed is what the registry serves, and it is the audited image.
    published = json.loads((repository / ".image-tasks/published.json").read_text())
    auth = Path(logins["REGISTRY_AUTH_FILE"] if engine == "podman" else logins["DOCKER_CONFIG"])
    auth = auth if engine == "podman" else auth / "config.json"
    digest, manifest = registry.manifest(image, auth)
    assert published["image"] == f"{registry.host}/e2e-{RUN}/{engine}@{digest}"
    assert published["image"] in output_rest.splitlines()
    program = "podman" if engine == "podman" else "docker"
    local_id = subprocess.run(
        [program, "image", "inspect", "--format", "{{.Id}}", image],
        env=env, capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    local_id = "sha256:" + local_id.removeprefix("sha256:")
    assert manifest["config"]["digest"] == local_id  # the classic store and podman: the config
    assert f"its image config {local_id} is what the audit read, clean" in output_rest
    audits = json.loads((repository / ".image-tasks/audits.json").read_text())
    assert audits[local_id]["verdict"] == "clean"
    assert audits[local_id]["config_digests"] == [manifest["config"]["digest"]]
    assert (tmp_path / "output").read_text() == f"image={published['image']}\n"
    summary = (tmp_path / "summary").read_text()
    assert f"`{published['image']}`" in summary and f"nox -s pin -- {published['image']}" in summary

    pushed = tmp_path / "pushed"
    registry.skopeo(
        "copy", "-q", "--src-tls-verify=false", f"docker://{image}", f"dir:{pushed}", auth=auth
    )
    assert blob_places(pushed, [password, registry.password]) == []
    archive = tmp_path / "image.tar"
    save_image(engine, image, archive)
    assert canary_places(archive, password) == []


@pytest.mark.engine
def test_invoke_tasks_do_the_same(repository, local_index, registry, tmp_path):
    _, netrc, password = local_index
    image = f"{registry.host}/e2e-{RUN}/invoke:dev"
    env = engine_env("buildx", IMAGE=image, NETRC=str(netrc), **registry.user_env(tmp_path))
    registry.login("buildx", env)
    argv = [tool("invoke"), "build", "audit", "test", "publish"]
    status, output, _ = run(argv, cwd=repository, env=env)
    assert status == 0, output[-6000:]
    assert "8 passed" in output and password not in output and registry.password not in output
    assert f"{registry.host}/e2e-{RUN}/invoke@sha256:" in output


def test_publish_is_never_part_of_the_default_run(repository):
    listing = subprocess.run(
        [tool("nox"), "--list"], cwd=repository, capture_output=True, text=True, check=True
    ).stdout
    defaults = [line.split()[1] for line in listing.splitlines() if line.startswith("* ")]
    assert defaults == ["build", "audit", "test"]
    assert any(line.startswith("- publish") for line in listing.splitlines())


def test_independent_scan_finds_a_planted_canary(provisioned, tmp_path):
    """The control: the independent scan does see a secret that a careless build left behind."""
    secret = "planted-canary-7d1e55a0c3"
    context = tmp_path / "context"
    context.mkdir()
    (context / "netrc").write_text(f"machine example.com login me password {secret}\n")
    (context / "Dockerfile").write_text(
        f"FROM {provisioned['RAYRT_PYTHON_IMAGE']}\nCOPY netrc /root/.netrc\nRUN rm /root/.netrc\n"
    )
    image = tag("e2e-planted")
    subprocess.run(
        ["docker", "build", "--network=host", "-t", image, str(context)],
        check=True, capture_output=True, env=engine_env("buildx"),
    )  # fmt: skip
    archive = tmp_path / "planted.tar"
    save_image("buildx", image, archive)
    places = canary_places(archive, secret)
    assert any(place.endswith("root/.netrc") for place in places), places


# Each installer cookiecutter.json offers beside the default (the other choices need a network
# or a cloud: dockerfile_syntax pulls a frontend, index_auth mints a cloud token).
VARIANTS = {
    **{f"{name}-on-buildx": ("buildx", v) for name, v in choice_variants("installer").items()},
    "root-base-on-podman": (
        "podman",
        {
            "base_image_uid": "0",
            "base_image_gid": "0",
            "private_packages": "acme-sauce, ray[default]",
        },
    ),
}


@pytest.mark.engine
@pytest.mark.parametrize(("engine", "answers"), VARIANTS.values(), ids=VARIANTS.keys())
def test_template_options_build_audit_and_test(
    engine, answers, baked_e2e, provisioned, local_index, tmp_path
):
    if answers.get("base_image_uid") == "0":  # a python:*-slim-like base: root, no Ray
        answers = {**answers, "base_image": provisioned["RAYRT_PYTHON_IMAGE"]}
    repository = baked_e2e(**answers)
    _, netrc, password = local_index
    image = tag(f"e2e-variant-{engine}")
    env = engine_env(engine, IMAGE=image, NETRC=str(netrc))
    status, output, _ = run([tool("nox"), "-s", "build", "audit", "test"], cwd=repository, env=env)
    assert status == 0, output[-6000:]
    assert "8 passed" in output and password not in output
    archive = tmp_path / "image.tar"
    save_image(engine, image, archive)
    assert canary_places(archive, password) == []
