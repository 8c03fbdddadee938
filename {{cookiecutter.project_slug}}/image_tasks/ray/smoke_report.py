"""Judging the cluster smoke job (deploy/app/runtime_check.py) from the reports it logs: one
line a node, and what is wrong, if anything. Pure functions of the reports."""

import json
from collections.abc import Sequence
from typing import Protocol

REPORT = "NODE-REPORT "  # runtime_check.REPORT (it needs ray, so it is not imported here)


class Node(Protocol):
    name: str
    ip: str
    image: str


def by_address(logs: str) -> dict[str, dict]:
    """The smoke job's report for each node, by node address, from the job's log."""
    lines = (line[len(REPORT) :] for line in logs.splitlines() if line.startswith(REPORT))
    return {report["node_ip"]: report for report in map(json.loads, lines)}


def line(node_name: str, report: dict) -> str:
    """One node's line: address, Ray, Python, user, what it imported (or its failure)."""
    if "error" in report:
        return f"  {node_name:<10} {report.get('node_ip', '?'):<11} FAILED  {report['error']}"
    missing = ", ".join(report["missing"]) or "-"
    return (
        f"  {node_name:<10} {report['node_ip']:<11} Ray {report['ray']}  Python {report['python']}"
        f"  user {report['user']} ({report['uid']}:{report['gid']})"
        f"  imported {' '.join(report['imported']) or '-'}"
        + (f"  MISSING {missing}" if report["missing"] else "")
    )


def problems(
    reports: dict[str, dict], nodes: Sequence[Node], expected_ray: str | None, head_ray: str
) -> list[str]:
    """What is wrong, node by node, then across nodes: Ray versions of the nodes, the head's job
    server and the image's io.ray.version label (expected_ray); Python versions."""
    found = []
    for node in nodes:
        report = reports.get(node.ip)
        if report is None:
            found.append(f"{node.name} ({node.ip}) ran no smoke task")
        elif "error" in report:
            found.append(f"{node.name} ({node.ip}): its task failed: {report['error']}")
        else:
            for name, why in report["missing"].items():
                found.append(
                    f"{node.name} ({node.ip}, image {node.image}) cannot import the private "
                    f"package {name} ({why})"
                )
    ok = [r for r in reports.values() if "error" not in r]
    ray_versions = {r["ray"] for r in ok} | {head_ray} | ({expected_ray} if expected_ray else set())
    if len(ray_versions) > 1:
        found.append(
            f"Ray versions differ: {', '.join(sorted(ray_versions))} (nodes, the head's job "
            "server and the image's io.ray.version label, which is the manifests' rayVersion)"
        )
    pythons = {r["python"] for r in ok}
    if len(pythons) > 1:
        found.append(f"Python versions differ between nodes: {', '.join(sorted(pythons))}")
    return found
