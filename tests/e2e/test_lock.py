"""The lock, as a user meets it: `nox -s lock` against the real password-protected index writes
requirements.txt with the sha256 of every file the index serves for each pinned package, on
top of the base image's packages; the image installs it with hashes required (pip and uv); a
wheel replaced on the index under the same version fails the build; a lock that no longer
matches requirements.in or the base image is refused before any engine starts."""

import hashlib
import re
from pathlib import Path

import pytest
from baking import bake, tool
from harness import engine_env, run, serve_index, tag, write_wheel

BASE_HAS = "packaging"  # in the ray-like base image: the lock keeps the base's version


@pytest.fixture
def own_index(provisioned, tmp_path):
    """An index of its own (its wheels are replaced by a test): acme-sauce 1.0.0, which needs
    acme-extra (not in the base) and packaging (in the base); yields (url, netrc, wheelhouse)."""
    wheelhouse = tmp_path / "wheelhouse"
    wheelhouse.mkdir()
    write_wheel(wheelhouse, "acme-sauce", "acme_sauce", "1.0.0", ["acme-extra>=0.1", BASE_HAS])
    write_wheel(wheelhouse, "acme-extra", "acme_extra", "0.2.0")
    # The base's own version, which the resolver asks the index about.
    for wheel in Path(provisioned["RAYRT_WHEELHOUSE"]).glob(f"{BASE_HAS}-*.whl"):
        (wheelhouse / wheel.name).symlink_to(wheel)
    with serve_index(bake(tmp_path / "index-repo"), wheelhouse, tmp_path) as (url, netrc, _):
        yield url, netrc, wheelhouse


def repository_for(provisioned, url, folder, **answers):
    return bake(
        folder,
        base_image=provisioned["RAYRT_RAY_IMAGE"],
        ray_version=provisioned["RAYRT_RAY_VERSION"],
        dockerfile_syntax="",
        private_index_url=url,
        private_packages="acme-sauce>=1,<2",
        **answers,
    )


def nox(repository, env, *argv):
    status, output, _ = run([tool("nox"), *argv], cwd=repository, env=env)
    assert "Traceback" not in output
    return status, output


@pytest.mark.engine
@pytest.mark.parametrize("installer", ["pip", "uv"])
def test_lock_pins_every_file_by_hash_and_the_image_installs_it(
    installer, provisioned, own_index, tmp_path
):
    url, netrc, wheelhouse = own_index
    repository = repository_for(provisioned, url, tmp_path / "bake", installer=installer)
    assert "acme-sauce>=1,<2" in (repository / "requirements.in").read_text()
    env = engine_env("buildx", NETRC=str(netrc), IMAGE=tag(f"lock-{installer}"))
    status, output = nox(repository, env, "-s", "lock")
    assert status == 0, output[-4000:]
    lock = (repository / "requirements.txt").read_text()
    for name, version in (("acme_sauce", "1.0.0"), ("acme_extra", "0.2.0")):
        wheel = wheelhouse / f"{name}-{version}-py3-none-any.whl"
        digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
        pinned = re.search(
            rf"^{name.replace('_', '-')}=={version} \\\n\s+--hash=sha256:(\w+)", lock, re.M
        )
        assert pinned and pinned[1] == digest, lock
    base = (repository / "base-packages.txt").read_text()
    kept = re.search(rf"^{BASE_HAS}==(\S+)$", base, re.M)
    assert kept, base
    assert f"{BASE_HAS}=={kept[1]} \\" in lock, "a package the base has is pinned at its version"
    assert f"# base image: {provisioned['RAYRT_RAY_IMAGE']} (ID sha256:" in base
    assert "uv pip compile --generate-hashes" in lock  # what Dependabot reads to compile again
    assert "2 added on top of" in output

    status, output = nox(repository, env, "-s", "build", "--", "--no-cache")
    assert status == 0, output[-4000:]
    assert "--require-hashes" in (repository / "Dockerfile").read_text()


@pytest.fixture
def locked(provisioned, own_index, tmp_path):
    """(repository, env, wheelhouse): a bake against its own index, locked with `nox -s lock`."""
    url, netrc, wheelhouse = own_index
    repository = repository_for(provisioned, url, tmp_path / "bake")
    env = engine_env("buildx", NETRC=str(netrc), IMAGE=tag(tmp_path.name))
    assert nox(repository, env, "-s", "lock")[0] == 0
    return repository, env, wheelhouse


@pytest.mark.engine
def test_a_wheel_replaced_under_the_same_version_fails_the_build(locked):
    repository, env, wheelhouse = locked
    write_wheel(wheelhouse, "acme-sauce", "acme_sauce", "1.0.0", ["acme-extra>=0.1"], "EVIL = 1\n")
    status, output = nox(repository, env, "-s", "build", "--", "--no-cache")
    assert status != 0
    assert (
        "the index served acme-sauce 1.0.0 as other bytes than requirements.txt locked" in output
    ), output[-3000:]
    assert "sha256" in output


@pytest.mark.engine
def test_a_stale_lock_is_refused_before_the_build(locked, provisioned):
    repository, env, _ = locked

    requirements_in = repository / "requirements.in"
    original = requirements_in.read_text()
    requirements_in.write_text(original + "acme-extra\n")
    status, output = nox(repository, env, "-s", "build")
    assert status != 0
    assert (
        "The lock is out of date: requirements.in changed after requirements.txt was written. "
        "Nothing was built. Run `nox -s lock`, then commit requirements.txt and "
        "base-packages.txt."
    ) in " ".join(output.split())
    assert not re.search(r"^\$ docker ", output, re.M), "an engine started on a stale lock"
    requirements_in.write_text(original)

    dockerfile = repository / "Dockerfile"
    text = dockerfile.read_text()
    dockerfile.write_text(
        text.replace(f"FROM {provisioned['RAYRT_RAY_IMAGE']}", "FROM local/other:1")
    )
    status, output = nox(repository, env, "-s", "build")
    assert status != 0
    assert (
        "the Dockerfile's base image is local/other:1, but the lock was made for "
        f"{provisioned['RAYRT_RAY_IMAGE']}"
    ) in " ".join(output.split())

    dockerfile.write_text(text)
    (repository / "requirements.txt").write_text("acme-sauce>=1\n")
    status, output = nox(repository, env, "-s", "build")
    assert status != 0 and "was not written by `nox -s lock`" in output
