"""The cluster task's verdict on the smoke job's reports: what makes it fail, and which node and
package it names. (tests/e2e/test_cluster.py runs the real thing; a second Ray release to make
versions differ for real is not at hand here, so that verdict is checked on reports.)"""

import json
import shlex
from dataclasses import dataclass

from baking import TEMPLATE
from image_tasks.ray import smoke_report

PROJECT = TEMPLATE / "{{cookiecutter.project_slug}}"


@dataclass
class Node:
    name: str
    ip: str
    image: str = "localhost/rt:dev"


NODES = [Node("head", "127.0.0.2"), Node("worker-1", "127.0.0.3"), Node("worker-2", "127.0.0.4")]


def report(ip: str, ray: str = "2.60.0", python: str = "3.11.2", missing=None) -> dict:
    return {
        "node_id": f"id-{ip}", "node_ip": ip, "ray": ray, "python": python, "user": "ray",
        "uid": 1000, "gid": 100, "imported": [] if missing else ["acme_sauce"],
        "missing": missing or {},
    }  # fmt: skip


def log_of(*reports: dict) -> str:
    """A job log as Ray writes it: the entrypoint echoed (the check's whole source), then ours."""
    source = (PROJECT / "deploy/app/runtime_check.py").read_text()
    echoed = f"Running entrypoint for job smoke-1: {shlex.join(['python3', '-c', source])}"
    return "\n".join([echoed, *(smoke_report.REPORT + json.dumps(r) for r in reports)])


def test_the_check_and_the_verdict_agree_on_the_report_marker():
    source = (PROJECT / "deploy/app/runtime_check.py").read_text()
    assert f'REPORT = "{smoke_report.REPORT}"' in source


def test_reports_are_read_from_the_job_log_and_nothing_else():
    reports = smoke_report.by_address(log_of(*(report(n.ip) for n in NODES)))
    assert set(reports) == {n.ip for n in NODES}
    assert smoke_report.problems(reports, NODES, "2.60.0", "2.60.0") == []


def test_differing_ray_versions_fail_naming_them():
    reports = smoke_report.by_address(log_of(report("127.0.0.2"), report("127.0.0.3", "2.59.0")))
    found = smoke_report.problems(reports, NODES[:2], "2.60.0", "2.60.0")
    assert found == [
        "Ray versions differ: 2.59.0, 2.60.0 (nodes, the head's job server and the image's "
        "io.ray.version label, which is the manifests' rayVersion)"
    ]


def test_the_images_label_counts_as_a_version():
    reports = {n.ip: report(n.ip) for n in NODES}
    assert (
        "Ray versions differ: 2.60.0, 2.61.0"
        in smoke_report.problems(reports, NODES, "2.61.0", "2.60.0")[0]
    )


def test_differing_pythons_and_a_silent_node_fail():
    reports = {"127.0.0.2": report("127.0.0.2"), "127.0.0.3": report("127.0.0.3", python="3.12.1")}
    found = smoke_report.problems(reports, NODES, None, "2.60.0")
    assert "worker-2 (127.0.0.4) ran no smoke task" in found
    assert "Python versions differ between nodes: 3.11.2, 3.12.1" in found


def test_a_missing_package_names_the_node_its_image_and_the_package():
    why = "PackageNotFoundError: No package metadata was found for acme-sauce"
    reports = {n.ip: report(n.ip) for n in NODES}
    reports["127.0.0.3"] = report("127.0.0.3", missing={"acme-sauce": why})
    assert smoke_report.problems(reports, NODES, None, "2.60.0") == [
        f"worker-1 (127.0.0.3, image localhost/rt:dev) cannot import the private package "
        f"acme-sauce ({why})"
    ]
    assert "MISSING acme-sauce" in smoke_report.line("worker-1", reports["127.0.0.3"])
