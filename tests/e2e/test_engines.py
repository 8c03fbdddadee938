"""End to end on each engine, as a user runs it: bake, `nox -s build audit test`, then prove
independently that the index password is nowhere in the saved image."""

import json
import subprocess
from pathlib import Path

import pytest
from baking import tool
from harness import canary_places, engine_env, run, save_image, tag

ENGINES = ("buildx", "docker", "podman")
TIMINGS = Path(__file__).resolve().parents[2] / ".e2e-timings.json"


def record(name: str, seconds: float) -> None:
    timings = json.loads(TIMINGS.read_text()) if TIMINGS.exists() else {}
    timings[name] = round(seconds, 1)
    TIMINGS.write_text(json.dumps(timings, indent=2, sort_keys=True))


@pytest.fixture(scope="module")
def repository(baked_e2e) -> Path:
    return baked_e2e()


@pytest.mark.engine
@pytest.mark.parametrize("engine", ENGINES)
def test_nox_builds_audits_and_tests(engine, repository, local_index, tmp_path):
    _, netrc, password = local_index
    image = tag(f"e2e-{engine}")
    env = engine_env(engine, IMAGE=image, NETRC=str(netrc))
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
    status, output_rest, seconds = run(
        [tool("nox"), "-s", "audit", "test"], cwd=repository, env=env
    )
    assert status == 0, output_rest[-6000:]
    record(f"nox -s audit test ({engine})", seconds)
    assert "8 passed" in output_rest
    for text in (output, output_rest):
        assert password not in text, "the password reached the terminal"
        assert "Traceback" not in text

    archive = tmp_path / "image.tar"
    save_image(engine, image, archive)
    assert canary_places(archive, password) == []


@pytest.mark.engine
def test_invoke_tasks_do_the_same(repository, local_index):
    _, netrc, password = local_index
    env = engine_env("buildx", IMAGE=tag("e2e-invoke"), NETRC=str(netrc))
    status, output, _ = run([tool("invoke"), "build", "audit", "test"], cwd=repository, env=env)
    assert status == 0, output[-6000:]
    assert "8 passed" in output and password not in output


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


VARIANTS = {
    "uv-on-buildx": ("buildx", {"installer": "uv"}),
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
