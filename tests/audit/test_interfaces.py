"""What other tasks and tools rely on: --version, --json, --display-name, the images and their
config digests, and progress on a terminal only."""

from __future__ import annotations

import hashlib
import json
import os
import pty
import subprocess
import sys
from pathlib import Path

import image_tasks
from audit_builders import Image, docker_classic, docker_oci, layer, write
from image_tasks import audit
from test_manifests import rewrite

PASSWORD = "Zq8vR3mT9pL2wX5nK7cQ4"
TEMPLATE = Path(__file__).resolve().parents[2] / "{{cookiecutter.project_slug}}"


def image() -> Image:
    return Image(
        layers=[layer(("root/.netrc", f"machine h login u password {PASSWORD}\n".encode()))]
    )


def test_version_is_the_templates(tmp_path, capsys):
    assert audit.main(["--version"]) == 0
    assert (
        capsys.readouterr().out.strip() == f"python -m image_tasks.audit {image_tasks.__version__}"
    )
    report = audit.run(write(tmp_path, docker_oci(image())), [PASSWORD])
    assert json.loads(audit.render(report, "json"))["tool"]["version"] == image_tasks.__version__
    driver = json.loads(audit.render(report, "sarif"))["runs"][0]["tool"]["driver"]
    assert driver["version"] == image_tasks.__version__
    source = "".join(p.read_text() for p in (TEMPLATE / "image_tasks" / "audit").glob("*.py"))
    assert "1.0.0" not in source and '"https://github.com/"' not in source


def test_json_beside_the_format_with_images_and_config_digests(tmp_path, capsys):
    built = image()
    path = write(tmp_path, docker_classic(built))
    out = tmp_path / "audit.json"
    assert audit.main([path, "--json", str(out), "--display-name", "acme/app:dev"]) == 1
    text = capsys.readouterr().out
    assert text.startswith("SEVERITY") and "LEAK" in text and "acme/app:dev" in text
    doc = json.loads(out.read_text())
    assert doc["verdict"] == "leak" and doc["source"] == "acme/app:dev"
    config = hashlib.sha256(built.config()).hexdigest()
    assert doc["images"] == [{"name": "t:1", "config_digest": f"sha256:{config}"}]
    assert PASSWORD not in out.read_text()


def test_display_name_names_an_untagged_image_and_the_sarif(tmp_path, capsys):
    def untag(name, doc):
        if name == "manifest.json":
            doc[0]["RepoTags"] = []
        elif name == "index.json":
            doc["manifests"][0].pop("annotations")
        return doc

    path = write(tmp_path, rewrite(docker_oci(image()), untag))
    sarif = tmp_path / "audit.sarif"
    argv = [path, "--format", "json", "--display-name", "acme/app:dev", "--sarif", str(sarif)]
    assert audit.main(argv) == 1
    doc = json.loads(capsys.readouterr().out)
    assert doc["images"][0]["name"] == "acme/app:dev"
    assert "acme/app:dev" in doc["summary"] and path not in doc["summary"]
    properties = json.loads(sarif.read_text())["runs"][0]["properties"]
    assert properties["source"] == "acme/app:dev"
    assert properties["images"][0]["configDigest"] == doc["images"][0]["config_digest"]


def _run_audit(path: str, stderr) -> int:
    env = {
        "PYTHONPATH": str(TEMPLATE),
        "PATH": "/usr/bin:/bin",
        "PYTHONDONTWRITEBYTECODE": "1",
        "NET_RC": f"machine h login u password {PASSWORD}",
    }
    argv = [sys.executable, "-m", "image_tasks.audit", path, "--canary-env", "NET_RC"]
    argv += ["--output", os.devnull]
    return subprocess.run(
        argv, env=env, stderr=stderr, stdout=subprocess.DEVNULL, timeout=120
    ).returncode


def test_progress_on_a_terminal_only(tmp_path):
    big = Image(
        layers=[layer(*[(f"opt/f{i}", os.urandom(4096)) for i in range(3000)]), *image().layers]
    )
    path = write(tmp_path, docker_oci(big))
    controller, terminal = pty.openpty()
    try:
        assert _run_audit(path, terminal) == 1
        os.close(terminal)
        shown = b""
        while True:
            try:
                chunk = os.read(controller, 65536)
            except OSError:  # the terminal's other side closed
                break
            if not chunk:
                break
            shown += chunk
    finally:
        os.close(controller)
    assert b"audit: layer" in shown and b"MB read" in shown
    assert b"LEAK" in shown  # (the verdict, printed after the progress line was cleared)
    err = tmp_path / "stderr.txt"
    with open(err, "wb") as handle:
        assert _run_audit(path, handle) == 1
    assert b"audit: layer" not in err.read_bytes() and b"LEAK" in err.read_bytes()
