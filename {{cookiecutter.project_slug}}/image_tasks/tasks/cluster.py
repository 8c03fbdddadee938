"""The cluster task: a local Ray cluster from the built image (`ray.cluster`), proven by a smoke
job on every node; every container removed afterwards."""

import secrets
import sys
import time

from image_tasks import settings, validation
from image_tasks.engine.containers import run_of
from image_tasks.engine.detect import detect
from image_tasks.errors import TaskError
from image_tasks.ray import cluster as ray_cluster
from image_tasks.ray import smoke_report
from image_tasks.ray.jobs import Dashboard

# The check the RayJob runs and the RayService serves, submitted as the smoke job.
SMOKE_JOB = settings.PROJECT_ROOT / "deploy" / "app" / "runtime_check.py"
MAX_WORKERS = 16


def cluster(
    *,
    image: str | None = None,
    engine: str | None = None,
    workers: int = 2,
    worker_image: str | None = None,
    timeout: float = 180,
) -> int:
    """Start a head and workers from the image, one container each; run a smoke job on all.

    The smoke job goes through the head's Jobs API; every container is removed afterwards."""
    if not 1 <= workers <= MAX_WORKERS:
        raise TaskError(f"--workers must be 1 to {MAX_WORKERS} (each worker is a container).")
    if timeout <= 0:
        raise TaskError("--timeout must be a positive number of seconds.")
    config = settings.load(image, engine)
    worker_image = validation.check_image(
        worker_image or config.image, what="worker image", allow_tag=True
    )
    source, distributions = _smoke_job_inputs()
    chosen = detect(config.engine)
    for reference in dict.fromkeys((config.image, worker_image)):
        chosen.require_image(reference)
    expected_ray = chosen.image_labels(config.image).get("io.ray.version")
    nodes, url = ray_cluster.plan(config.image, worker_image, workers)
    dashboard = Dashboard(url, token=secrets.token_urlsafe(32))
    start = time.monotonic()
    with run_of(chosen, "cluster") as run:
        _say(f"Starting a Ray head and {_workers(workers)} from {config.image} on {chosen.name}.")
        head_ray = ray_cluster.start(run, nodes, dashboard, start + timeout)
        joined = time.monotonic() - start
        _say(f"All {len(nodes)} nodes alive after {joined:.0f} s; submitting the smoke job.")
        reports = ray_cluster.smoke_job(dashboard, source, distributions, run.run_id, timeout)
        for node in nodes:
            print(smoke_report.line(node.name, reports.get(node.ip, {"error": "no report"})))
        problems = smoke_report.problems(reports, nodes, expected_ray, head_ray)
        if problems:
            raise TaskError(
                f"The smoke job found: {'; '.join(problems)}. Every node must run an image built "
                "from this repository (nox -s build) with the same Ray; see "
                f"{ray_cluster.WORKER_HELP}."
            )
        versions = next(iter(reports.values()))
        print(
            f"PASS: {len(nodes)} nodes (a head and {_workers(workers)}) from {config.image} joined "
            f"in {joined:.0f} s and each ran the smoke job, importing "
            f"{', '.join(distributions) or 'nothing'}; Ray {versions['ray']} and Python "
            f"{versions['python']} everywhere ({time.monotonic() - start:.0f} s in all)."
        )
    _say("Removed the cluster's containers.")
    return 0


def _smoke_job_inputs() -> tuple[str, list[str]]:
    """The check's source and the private distributions' names, read before anything starts."""
    requirements = settings.PROJECT_ROOT / "requirements.in"
    try:
        source = SMOKE_JOB.read_text(encoding="utf-8")
        text = requirements.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise TaskError(
            f"Cannot read {error.filename or 'a project file'} ({error.__class__.__name__}): the "
            "cluster task needs requirements.in and deploy/app/runtime_check.py; restore them "
            "from the template."
        ) from None
    return source, validation.requirement_names(text)


def _workers(count: int) -> str:
    return f"{count} worker{'s' if count > 1 else ''}"


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)
