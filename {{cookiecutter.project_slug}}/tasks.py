"""Front door 2: invoke tasks, the same tasks as the nox sessions. The logic lives in image_tasks.

invoke build --netrc ~/.netrc
invoke audit test lint
invoke publish --tag ghcr.io/acme/ray-runtime:1.0
invoke cluster --workers 3
"""

from invoke import Collection, Exit, task

from image_tasks.__main__ import main


def run_task(*argv: str) -> None:
    """Run one task through the image_tasks command line; its exit status becomes invoke's."""
    status = main([arg for arg in argv if arg])
    if status:
        raise Exit(code=status)


def options(**values: str | None) -> list[str]:
    return [item for key, value in values.items() if value for item in (f"--{key}", value)]


@task(
    help={
        "netrc": "netrc path",
        "engine": "buildx|docker|podman",
        "no_cache": "rebuild all",
        "no_index_check": "do not ask the index from this machine first",
    }
)
def build(c, netrc=None, image=None, engine=None, no_cache=False, no_index_check=False):
    """Build the image, the private index credential mounted as a BuildKit secret."""
    flags = ["--no-cache"] * no_cache + ["--no-index-check"] * no_index_check
    run_task("build", *options(netrc=netrc, image=image, engine=engine), *flags)


@task(help={"netrc": "netrc path", "image": "image reference", "format": "text|json|sarif"})
def audit(c, netrc=None, image=None, engine=None, format=None, output=None):
    """Save the image and prove no credential survives in any layer, its config or history."""
    run_task(
        "audit",
        *options(netrc=netrc, image=image, engine=engine, format=format, output=output),
    )


@task(help={"image": "image reference", "engine": "buildx|docker|podman"})
def test(c, image=None, engine=None):
    """Run tests/ against the built image: imports, Ray remote tasks, no credential files."""
    run_task("test", *options(image=image, engine=engine))


@task(
    help={"image": "image reference", "engine": "buildx|docker|podman", "tag": "push as REF"},
    iterable=["tag"],
)
def publish(c, image=None, engine=None, tag=None):
    """Push the image a clean audit read, check the registry serves exactly it, pin its digest."""
    tags = [item for ref in tag or () for item in ("--tag", ref)]
    run_task("publish", *options(image=image, engine=engine), *tags)


@task(help={"image": "NAME@sha256:... as publish printed it"})
def pin(c, image):
    """Pin deploy/ to a published image by digest."""
    run_task("pin", image)


@task(help={"workers": "worker nodes (2)", "worker_image": "image for the workers"})
def cluster(c, image=None, engine=None, workers=None, worker_image=None, timeout=None):
    """Start a head and workers from the image, one container each; run a smoke job on all."""
    values = {"workers": workers, "worker-image": worker_image, "timeout": timeout}
    run_task("cluster", *options(image=image, engine=engine, **values))


@task
def lint(c):
    """hadolint the Dockerfile, zizmor and actionlint the workflow, ruff the Python."""
    run_task("lint")


@task
def template(c):
    """Check this repository against its template (cruft or copier); say how to update."""
    run_task("template")


@task(help={"wheelhouse": "folder of wheels", "port": "port on 127.0.0.1", "netrc_out": "link"})
def index(c, wheelhouse="wheelhouse", port=None, netrc_out=None):
    """Serve a wheelhouse from a local password-protected index, with a throwaway netrc."""
    run_task("index", *options(wheelhouse=wheelhouse, port=port, **{"netrc-out": netrc_out}))


namespace = Collection(build, audit, test, publish, pin, cluster, lint, template, index)
