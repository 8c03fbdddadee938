"""The forked worker that audits one large member of a plain archive file (runner._Worker).

It only runs in a process with a single thread (the CLI's case), so these tests run the audit
in a fresh interpreter, once with the worker forced (``Limits(parallel_bytes=1)``: any member
qualifies) and once without, and require the same report, or the same error.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from audit_builders import Image, docker_classic, docker_oci, layer, write

PASSWORD = "Zq8vR3mT9pL2wX5nK7cQ4"
TEMPLATE = Path(__file__).resolve().parents[2] / "{{cookiecutter.project_slug}}"
GH = "ghp_" + "aB3dE5fG7hJ9kL1mN2pQ4rS6tU8vW0xY2zA4"

SCRIPT = """
import json, sys
from image_tasks import audit
from image_tasks.audit import runner

used = []
submit = runner._Worker.submit
def spy(self, blob, offset):
    used.append(blob.name)
    submit(self, blob, offset)
runner._Worker.submit = spy

def outcome(parallel):
    try:
        report = audit.run(sys.argv[1], [sys.argv[2]], limits=audit.Limits(parallel_bytes=parallel))
    except audit.AuditError as exc:
        return {"error": str(exc)}
    doc = json.loads(report.render("json"))
    return {"report": doc, "exit": report.exit_code}

forked = outcome(1)
print(json.dumps({"forked": forked, "used": used, "plain": outcome(0)}))
"""


def run_both(path: str) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT, path, PASSWORD],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": str(TEMPLATE), "PATH": "/usr/bin:/bin", "PYTHONDONTWRITEBYTECODE": "1"},
        timeout=120,
    )
    return json.loads(out.stdout)


def leaky_image() -> Image:
    filler = [(f"usr/lib/f{i}.py", f"x = {i}\n".encode() * 50) for i in range(300)]
    return Image(
        layers=[
            layer(("etc/os-release", b"ID=debian\n"), *filler),
            layer(
                ("root/.netrc", f"machine h login u password {PASSWORD}\n".encode()),
                ("app/config.py", f"TOKEN = '{GH}'\n".encode()),
                ("app/blob.bin", b"\0" * 300_000 + PASSWORD.encode() + b"\0"),
            ),
            layer(("root/.wh..netrc", b""), ("app/link", {"symlink": "../etc/os-release"})),
        ]
    )


def test_worker_gives_the_same_report(tmp_path):
    for name, data in (
        ("classic.tar", docker_classic(leaky_image())),
        ("oci.tar", docker_oci(leaky_image())),
    ):
        result = run_both(write(tmp_path, data, name))
        assert result["used"], name  # the worker did audit a member
        assert result["forked"] == result["plain"], name
        assert result["plain"]["exit"] == 1
        rules = {f["rule"] for f in result["plain"]["report"]["findings"]}
        assert {"canary", "netrc-file", "github-token"} <= rules
        assert PASSWORD not in json.dumps(result)


def test_worker_errors_are_the_audits_errors(tmp_path):
    data = bytearray(docker_classic(leaky_image()))
    # corrupt the first layer's second header (inside the member the worker reads)
    first = data.index(b"etc/os-release")
    second = data.index(b"usr/lib/f0.py", first)
    data[second + 150] ^= 0x55
    result = run_both(write(tmp_path, bytes(data)))
    assert result["used"]
    assert "error" in result["plain"]
    assert result["forked"] == result["plain"]


def test_worker_on_a_truncated_archive(tmp_path):
    data = docker_classic(leaky_image())
    result = run_both(write(tmp_path, data[: len(data) // 2]))
    assert "error" in result["plain"]
    assert "error" in result["forked"]
