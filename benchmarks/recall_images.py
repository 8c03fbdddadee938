"""The recall benchmark's images: each case built by a real engine (Debian's docker 20.10 with
BuildKit: ``--network=host``, there is no bridge here; the case's secret mount and build
arguments), saved by ``docker save`` (a base's archive that .ci/provision already saved for the
speed benchmark is read as it is, when it holds the same image), and the layers a case added
read back as files for the peers."""

from __future__ import annotations

import functools
import json
import os
import subprocess
import tarfile
from pathlib import Path

import audit_benchmark
from recall_corpus import PYTHON, RAY, Case

DOCKER = "/usr/bin/docker"
SAVED_BY_PROVISION = {RAY: "ray-like"}  # base: its name among the speed benchmark's images
# this run's tag: runs beside each other (CI, a colleague's) share the engine's store
RUN = f"run{os.getpid()}"


def require(cases: list[Case]) -> None:
    """Stop, saying what to do, when a base image the cases need is not in docker's store."""
    bases = {c.base for c in cases} | ({PYTHON} if any(c.tools for c in cases) else set())
    missing = [b for b in sorted(bases) if image_id(b) is None]
    if missing:
        raise SystemExit(
            f"recall: the base images {', '.join(missing)} are not in docker's store; "
            "run .ci/provision (as root), which makes them."
        )


def dockerfile(case: Case) -> tuple[str, dict[str, bytes]]:
    """The case's Dockerfile and its build context's files."""
    lines = [f"FROM {PYTHON} AS tools", *case.tools] if case.tools else []
    lines.append(f"FROM {case.base}")
    context = {}
    for n, (dest, value) in enumerate(case.files.items()):
        data = case.render(value)
        context[f"f{n}"] = data.encode() if isinstance(data, str) else data
        lines.append(f"COPY f{n} {dest}")
    lines += [case.render(step) for step in case.steps]
    return "\n".join(lines) + "\n", context


def reference(case: Case, run: str = RUN) -> str:
    return case.base if case.stock else f"rayrt-recall/{case.name}:{run}"


def build(case: Case, workdir: Path) -> str:
    """Build the case's image (BuildKit's cache makes a rebuild cheap); its image ID."""
    if case.stock:
        return image_id(case.base)
    text, context = dockerfile(case)
    ctx = workdir / "context"
    ctx.mkdir(parents=True)
    (ctx / "Dockerfile").write_text(text)
    for name, data in context.items():
        (ctx / name).write_bytes(data)
    cmd = [DOCKER, "build", "--network=host", "-q", "-t", reference(case)]
    for arg in case.build_args:
        cmd += ["--build-arg", case.render(arg)]
    if case.netrc_secret:
        netrc = workdir / "netrc"  # (the mount's source; the workdir is removed after)
        netrc.write_text(
            f"machine nexus.example.com login ci-bot password {case.index_password()}\n"
        )
        cmd += ["--secret", f"id=netrc,src={netrc}"]
    env = dict(os.environ, DOCKER_BUILDKIT="1")
    done = subprocess.run([*cmd, str(ctx)], capture_output=True, text=True, env=env)
    if done.returncode:
        raise SystemExit(f"recall: building {case.name} failed:\n{done.stderr[-2000:]}")
    return image_id(reference(case))


def archive(case: Case, image: str, workdir: Path) -> Path:
    """The image as a docker-archive: saved into ``workdir``, or the provisioned one."""
    if case.stock and case.base in SAVED_BY_PROVISION:
        found = audit_benchmark.provisioned([SAVED_BY_PROVISION[case.base]])
        if not isinstance(found, str) and image_in(found[0].archive) == image:
            return found[0].archive
    path = workdir / "image.tar"
    subprocess.run([DOCKER, "save", "-o", str(path), reference(case)], check=True)
    return path


def remove(case: Case) -> None:
    """Remove the case's image (never a base): the engine keeps BuildKit's cache."""
    if not case.stock:
        subprocess.run([DOCKER, "rmi", "-f", reference(case)], capture_output=True, check=False)


@functools.cache
def base_layers(base: str) -> int:
    return len(json.loads(_inspect(base, "{{json .RootFS.Layers}}")))


def extract(path: Path, dest: Path, skip_layers: int) -> None:
    """The layers above the first ``skip_layers`` (each in its own folder: a file a later layer
    deletes is still there, as in the image) and the config, as ``config.json``."""
    with tarfile.open(path) as tar:
        manifest = json.load(tar.extractfile("manifest.json"))[0]
        dest.mkdir(parents=True)
        (dest / "config.json").write_bytes(tar.extractfile(manifest["Config"]).read())
        for i, member in enumerate(manifest["Layers"][skip_layers:], skip_layers):
            layer_dir = dest / "layers" / str(i)
            layer_dir.mkdir(parents=True)
            with tarfile.open(fileobj=tar.extractfile(member)) as layer:
                wanted = [m for m in layer if m.isreg() or m.isdir()]
                layer.extractall(layer_dir, members=wanted, filter="data")


def image_in(path: Path) -> str | None:
    """The ID of the one image a docker-archive holds (its config's digest)."""
    with tarfile.open(path) as tar:
        manifest = json.load(tar.extractfile("manifest.json"))
    if len(manifest) != 1:
        return None
    config = manifest[0]["Config"]  # <hex>.json (docker 20.10), blobs/sha256/<hex> (25)
    return "sha256:" + config.removeprefix("blobs/sha256/").removesuffix(".json")


def image_id(ref: str) -> str | None:
    """The image's ID, or None when docker's store has no such image."""
    return _inspect(ref, "{{.Id}}")


def _inspect(ref: str, template: str) -> str | None:
    argv = [DOCKER, "image", "inspect", "-f", template, ref]
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    return done.stdout.strip() if done.returncode == 0 else None
