"""The image's SBOM, as a user gets it from `nox -s audit`: syft reads the archive the audit
saved (the image is saved once) and writes SPDX JSON to the state folder, for a clean image
only. Tested on a real image built from the local password-protected index: the private
package and Ray are listed with their versions, and the document names the audited image ID."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from baking import tool
from harness import engine_env, run, tag

SBOM = Path(".image-tasks", "sbom.spdx.json")
LEAK = (
    "RUN --mount=type=secret,id=netrc,uid=1000,gid=100,required=true "
    "cp /run/secrets/netrc /home/ray/.netrc\n"
)


@pytest.fixture(scope="module")
def built(baked_e2e, local_index):
    """A baked repository whose image is built (buildx), and its user's environment."""
    repository = baked_e2e()
    image = tag("sbom")
    env = engine_env("buildx", IMAGE=image, NETRC=str(local_index[1]))
    status, output, _ = run([tool("nox"), "-s", "build"], cwd=repository, env=env)
    assert status == 0, output[-6000:]
    yield repository, image, env
    subprocess.run(["docker", "image", "rm", image], capture_output=True, check=False)


def image_id(image: str) -> str:
    return subprocess.run(
        ["docker", "image", "inspect", "--format", "{{.Id}}", image],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip


@pytest.mark.engine
def test_nox_audit_writes_the_sbom_of_the_image_it_audited(built, local_index):
    repository, image, env = built
    status, output, _ = run([tool("nox"), "-s", "audit"], cwd=repository, env=env)
    assert status == 0, output[-6000:]
    text = (repository / SBOM).read_text()
    sbom = json.loads(text)
    assert sbom["spdxVersion"] == "SPDX-2.3"
    versions = {(p["name"], p.get("versionInfo")) for p in sbom["packages"]}
    ray_version = re.search(r'io\.ray\.version="([^"]+)"', (repository / "Dockerfile").read_text())
    assert {("acme-sauce", "1.0.0"), ("ray", ray_version[1])} <= versions
    (root,) = [p for p in sbom["packages"] if p.get("primaryPackagePurpose") == "CONTAINER"]
    assert (root["name"], root["versionInfo"]) == (image, image_id(image))
    assert f"SBOM: {len(sbom['packages'])} packages, SPDX JSON (.image-tasks/sbom.spdx.json)" in (
        output
    )
    assert (repository / SBOM).stat().st_mode & 0o077 == 0
    assert local_index[2] not in text and local_index[2] not in output


@pytest.mark.engine
def test_without_syft_the_audit_says_how_to_install_it_before_saving(built):
    """Asked before the image is saved: the state folder is left as it was."""
    repository, _, env = built
    bare = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    assert subprocess.run(["which", "syft"], env={"PATH": bare}, check=False).returncode != 0
    state = repository / ".image-tasks"
    before = {path.name: path.read_bytes() for path in state.glob("*")}
    argv = [sys.executable, "-m", "image_tasks", "audit"]
    status, output, _ = run(argv, cwd=repository, env={**env, "PATH": bare})
    assert status == 2, output
    assert "syft is not installed, so the image's SBOM cannot be made." in output
    assert "pip install --group audit" in output and "Traceback" not in output
    assert "Auditing" not in output, "the image was saved before syft was asked for"
    assert {path.name: path.read_bytes() for path in state.glob("*")} == before


@pytest.mark.engine
def test_a_leaking_image_gets_no_sbom_and_an_earlier_one_is_removed(built):
    repository, _, env = built
    status, output, _ = run([tool("nox"), "-s", "audit"], cwd=repository, env=env)
    assert status == 0 and (repository / SBOM).exists(), output[-6000:]
    dockerfile = repository / "Dockerfile"
    clean = dockerfile.read_text()
    final_user = clean.rindex("\nUSER ")
    dockerfile.write_text(clean[: final_user + 1] + LEAK + clean[final_user + 1 :])
    try:
        status, output, _ = run([tool("nox"), "-s", "build"], cwd=repository, env=env)
        assert status == 0, output[-6000:]
        status, output, _ = run([tool("nox"), "-s", "audit"], cwd=repository, env=env)
    finally:
        dockerfile.write_text(clean)
    assert status == 1 and "LEAK:" in output, output[-6000:]
    assert not (repository / SBOM).exists()
    assert "SBOM" not in output
