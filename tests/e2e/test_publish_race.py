"""publish pushes the audited and tested bytes and no others, however the local tags move: a shim
in front of the engine retags the image, and every release tag, to an unaudited image each time
publish calls the engine, and the registry still ends with the audited image under every tag
and no other manifest anywhere in the repository (read from the registry's own storage)."""

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from baking import tool
from harness import RUN, engine_env, run

SHIM = """#!/bin/sh
# At the moment publish hands the engine the image to push (save, push or tag, as the engine
# names them), the image's tag and every release tag are moved to another image first.
case "$1 $2" in
  save*|push*|tag*|"image save"*|"image push"*|"image tag"*)
    for ref in $RACE_TAGS; do "$RACE_REAL" tag "$RACE_UNAUDITED" "$ref" >/dev/null 2>&1; done
    echo "swapped before: $*" >> "$RACE_LOG" ;;
esac
exec "$RACE_REAL" "$@"
"""


def manifests_in_storage(registry, repository: str) -> list[dict]:
    """Every manifest the registry keeps for the repository, tagged or not, read from its
    storage folder (not through the API the product uses)."""
    root = registry.folder / "data" / "docker" / "registry" / "v2"
    revisions = root / "repositories" / repository / "_manifests" / "revisions" / "sha256"
    found = []
    for revision in sorted(revisions.iterdir()):
        blob = root / "blobs" / "sha256" / revision.name[:2] / revision.name / "data"
        found.append(json.loads(blob.read_bytes()))
    return found


@pytest.mark.engine
@pytest.mark.parametrize("engine", ["buildx", "podman"])
def test_tags_swapped_at_every_engine_call_expose_no_unaudited_byte(
    engine, baked_e2e, local_index, registry, provisioned, tmp_path
):
    name = f"race-{engine}"
    repository = baked_e2e(image_name=f"{registry.host}/e2e-{RUN}/{name}")
    image = f"{registry.host}/e2e-{RUN}/{name}:dev"
    releases = [f"{registry.host}/e2e-{RUN}/{name}:1.0", f"{registry.host}/e2e-{RUN}/{name}:latest"]
    program = "podman" if engine == "podman" else "docker"
    env = engine_env(engine, IMAGE=image, NETRC=str(local_index[1]), **registry.user_env(tmp_path))
    registry.login(engine, env)
    status, output, _ = run([tool("nox"), "-s", "build", "audit", "test"], cwd=repository, env=env)
    assert status == 0, output[-4000:]
    inspect = [program, "image", "inspect", "--format", "{{.Id}}"]
    audited = subprocess.run([*inspect, image], env=env, capture_output=True, text=True).stdout
    audited = "sha256:" + audited.strip().removeprefix("sha256:")
    unaudited = provisioned["RAYRT_PYTHON_IMAGE"]  # any other image in the store

    shim_dir = tmp_path / "shim"
    shim_dir.mkdir()
    (shim_dir / program).write_text(SHIM)
    (shim_dir / program).chmod(0o755)
    log = tmp_path / "engine-calls"
    race = {
        "PATH": f"{shim_dir}:{env['PATH']}",
        "RACE_REAL": shutil.which(program, path=env["PATH"]),
        "RACE_TAGS": " ".join([image, *releases]),
        "RACE_UNAUDITED": unaudited,
        "RACE_LOG": str(log),
    }
    publish = [tool("nox"), "-s", "publish", "--", *(f"--tag={ref}" for ref in releases)]
    try:
        status, output, _ = run(publish, cwd=repository, env={**env, **race})
        assert status == 0, output[-4000:]
        assert "swapped before" in log.read_text(), "no push moment came: the race was not run"
        swapped = subprocess.run([*inspect, image], env=env, capture_output=True, text=True)
        assert audited.removeprefix("sha256:") not in swapped.stdout, "the shim did not swap"
    finally:
        for ref in [image, *releases]:
            subprocess.run([program, "rmi", ref], env=env, capture_output=True)

    logins = registry.user_env(tmp_path)
    auth = Path(logins["REGISTRY_AUTH_FILE"] if engine == "podman" else logins["DOCKER_CONFIG"])
    auth = auth if engine == "podman" else auth / "config.json"
    for ref in releases:
        _, manifest = registry.manifest(ref, auth)
        assert manifest["config"]["digest"] == audited, ref
    stored = manifests_in_storage(registry, f"e2e-{RUN}/{name}")
    assert stored and {m["config"]["digest"] for m in stored} == {audited}
    listed = registry.skopeo(
        "list-tags", "--tls-verify=false", f"docker://{registry.host}/e2e-{RUN}/{name}", auth=auth
    )
    assert sorted(json.loads(listed)["Tags"]) == ["1.0", "latest"]  # no staging tag either
