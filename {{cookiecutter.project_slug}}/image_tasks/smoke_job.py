"""The cluster task's smoke job: the Jobs API runs it on the head, in the image, as the driver.

Not imported by the tasks (it needs ray): cluster.py sends this file's text as the entrypoint
``python3 -c SOURCE DISTRIBUTION...``. It runs one task pinned to every alive
node (node affinity, not soft); each imports every top-level module of the private
distributions and reports its node, Ray and Python versions and its user. The driver prints one
JSON line per node, each starting with REPORT, and leaves the verdict to the cluster task.
"""

import importlib
import importlib.metadata
import json
import os
import platform
import pwd
import sys

import ray
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

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


@ray.remote(num_cpus=1)
def probe(distributions: list[str]) -> dict:
    imported, missing = [], {}
    for name in distributions:
        try:
            for module in top_level_modules(importlib.metadata.distribution(name)):
                importlib.import_module(module)
                imported.append(module)
        except Exception as error:  # reported per package; the task judges
            missing[name] = f"{type(error).__name__}: {error}"
    try:
        user = pwd.getpwuid(os.getuid()).pw_name
    except KeyError:  # an arbitrary uid (OpenShift) has no passwd entry
        user = str(os.getuid())
    context = ray.get_runtime_context()
    return {
        "node_id": context.get_node_id(),
        "node_ip": ray.util.get_node_ip_address(),
        "ray": ray.__version__,
        "python": platform.python_version(),
        "user": user,
        "uid": os.getuid(),
        "gid": os.getgid(),
        "imported": imported,
        "missing": missing,
    }


def main(distributions: list[str]) -> None:
    ray.init(log_to_driver=False)
    nodes = [node for node in ray.nodes() if node["Alive"]]
    pinned = {
        node["NodeManagerAddress"]: probe.options(
            scheduling_strategy=NodeAffinitySchedulingStrategy(node["NodeID"], soft=False)
        ).remote(distributions)
        for node in nodes
    }
    for node_ip, result in pinned.items():
        try:
            report = ray.get(result, timeout=TASK_TIMEOUT_S)
        except Exception as error:  # the node's failure is its report
            report = {"node_ip": node_ip, "error": f"{type(error).__name__}: {error}"[:2000]}
        print(REPORT + json.dumps(report), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
