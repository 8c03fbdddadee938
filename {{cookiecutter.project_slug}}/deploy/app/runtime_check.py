"""Every node of a Ray cluster from this image imports every private package: the check that
`nox -s cluster` submits through the Jobs API, the RayJob runs and the RayService serves.

python3 runtime_check.py [DISTRIBUTION...]   a task pinned to every alive node (node affinity,
                                             not soft); one REPORT line a node, as JSON
runtime_check:app                            the Serve application (import_path): GET / answers
                                             the report of the replica's node

Distributions come from the arguments, else from PRIVATE_DISTRIBUTIONS (space-separated: the
manifests set it). Standard library and ray only; runs in the image, never on the host.
"""

import importlib
import importlib.metadata
import json
import os
import platform
import pwd
import sys

import ray

REPORT = "NODE-REPORT "
TASK_TIMEOUT_S = 120


def top_level_modules(distribution: importlib.metadata.Distribution) -> list[str]:
    names = (distribution.read_text("top_level.txt") or "").split()
    if not names:  # wheels without top_level.txt: the first path part of each file
        for path in distribution.files or ():
            head = path.parts[0]
            if not head.endswith((".dist-info", ".data")) and head not in ("..", "bin"):
                names.append(head.removesuffix(".py"))
    return sorted(set(names) - {"__pycache__"})


def node_report(distributions: list[str]) -> dict:
    """This node's Ray and Python, its user, and what each private distribution imports."""
    imported, missing = [], {}
    for name in distributions:
        try:
            for module in top_level_modules(importlib.metadata.distribution(name)):
                importlib.import_module(module)
                imported.append(module)
        except Exception as error:  # reported per package; the caller judges
            missing[name] = f"{type(error).__name__}: {error}"
    try:
        user = pwd.getpwuid(os.getuid()).pw_name
    except KeyError:  # an arbitrary uid (OpenShift) has no passwd entry
        user = str(os.getuid())
    return {
        "node_id": ray.get_runtime_context().get_node_id(),
        "node_ip": ray.util.get_node_ip_address(),
        "ray": ray.__version__,
        "python": platform.python_version(),
        "user": user,
        "uid": os.getuid(),
        "gid": os.getgid(),
        "imported": imported,
        "missing": missing,
    }


def main(distributions: list[str]) -> int:
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    ray.init(log_to_driver=False)
    probe = ray.remote(num_cpus=1)(node_report)
    pinned = {
        node["NodeManagerAddress"]: probe.options(
            scheduling_strategy=NodeAffinitySchedulingStrategy(node["NodeID"], soft=False)
        ).remote(distributions)
        for node in ray.nodes()
        if node["Alive"]
    }
    failed = False
    for node_ip, result in pinned.items():
        try:
            report = ray.get(result, timeout=TASK_TIMEOUT_S)
        except Exception as error:  # the node's failure is its report
            report = {"node_ip": node_ip, "error": f"{type(error).__name__}: {error}"[:2000]}
        failed = failed or "error" in report or bool(report["missing"])
        print(REPORT + json.dumps(report), flush=True)
    return 1 if failed else 0


def app(args: dict):
    """The Serve application builder (serveConfigV2 import_path runtime_check:app)."""
    from ray import serve

    distributions = args.get("distributions") or os.environ.get("PRIVATE_DISTRIBUTIONS", "").split()

    @serve.deployment
    class RuntimeCheck:
        def __call__(self, request) -> dict:
            return node_report(distributions)

    return RuntimeCheck.bind()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:] or os.environ.get("PRIVATE_DISTRIBUTIONS", "").split()))
