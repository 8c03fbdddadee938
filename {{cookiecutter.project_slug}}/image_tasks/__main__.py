"""python -m image_tasks TASK [options]: the tasks with their options, as the front doors call them.

Exit status 0 on success; a TaskError prints its one-paragraph message and exits 2 (the audit's
own statuses pass through: 1 means findings).
"""

import argparse
import sys

if sys.version_info < (3, 11):  # noqa: UP036 - tomllib: a message, not an ImportError
    sys.exit(
        f"error: the tasks need Python 3.11 or newer (this is {sys.version.split()[0]}). "
        "Install nox or invoke with a newer python3, e.g. `python3.11 -m pip install nox`."
    )

from image_tasks import (
    audit_image,
    build,
    cluster,
    image_tests,
    lint,
    local_index,
    publish,
    template,
)
from image_tasks.errors import TaskError


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="python -m image_tasks", description=__doc__)
    tasks = top.add_subparsers(dest="task", required=True)

    def task(name: str, function, **kwargs) -> argparse.ArgumentParser:
        summary = " ".join(function.__doc__.split("\n\n")[0].split())  # the whole first paragraph
        sub = tasks.add_parser(name, help=summary, description=summary, **kwargs)
        sub.set_defaults(function=function)
        return sub

    def image_options(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--image", help="image reference (default: $IMAGE, else NAME:dev)")
        sub.add_argument(
            "--engine",
            choices=("buildx", "docker", "podman"),
            help="container engine (default: $IMAGE_ENGINE, else detected)",
        )

    for name, function in (("build", build.build), ("audit", audit_image.audit)):
        sub = task(name, function)
        image_options(sub)
        sub.add_argument("--netrc", help="netrc path (default: $NETRC, $NET_RC, ~/.netrc)")
        if name == "build":
            sub.add_argument(
                "--no-cache",
                action="store_true",
                help="rebuild every step (after rotating the credential, say)",
            )
            sub.add_argument(
                "--no-index-check",
                dest="index_check",
                action="store_false",
                help="skip asking the index from this machine first (the build still checks)",
            )
        if name == "audit":
            sub.add_argument(
                "--format", dest="output_format", default="text", choices=("text", "json", "sarif")
            )
            sub.add_argument("--output", help="write the report to this file")
    test = task("test", image_tests.test)
    image_options(test)
    # `nox -- --netrc PATH` hands the same arguments to build, audit, test and publish.
    test.add_argument("--netrc", help=argparse.SUPPRESS)
    push = task("publish", publish.publish)
    image_options(push)
    push.add_argument(
        "--tag",
        dest="tags",
        action="append",
        default=[],
        metavar="REF",
        help="push the audited image as REF instead of IMAGE (repeatable)",
    )
    push.add_argument("--netrc", help=argparse.SUPPRESS)
    task("pin", publish.pin).add_argument("image", metavar="NAME@sha256:...")
    task("lint", lint.lint)
    ray_cluster = task("cluster", cluster.cluster)
    image_options(ray_cluster)
    ray_cluster.add_argument("--workers", type=int, default=2, help="worker nodes (default 2)")
    ray_cluster.add_argument("--worker-image", help="start the workers from this local image")
    ray_cluster.add_argument(
        "--timeout", type=float, default=180, help="seconds to join, and to run the job (180)"
    )
    ray_cluster.add_argument("--netrc", help=argparse.SUPPRESS)  # as for test: nox -- --netrc
    task("template", template.check)
    index = task("index", local_index.serve)
    index.add_argument("--wheelhouse", default="wheelhouse", help="folder of wheels to serve")
    index.add_argument("--port", type=int, help="port on 127.0.0.1 (default: a free one)")
    index.add_argument("--netrc-out", help="also link the throwaway netrc here")
    return top


def main(argv: list[str] | None = None) -> int:
    arguments, extra = parser().parse_known_args(argv)
    options = {k: v for k, v in vars(arguments).items() if k not in {"task", "function"}}
    if arguments.task in ("test", "publish", "cluster"):
        options.pop("netrc")
    if arguments.task == "test":
        options["pytest_args"] = extra
    elif extra:
        parser().error(f"unrecognized arguments: {' '.join(extra)}")
    try:
        return arguments.function(**options)
    except TaskError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
