"""The audit's round-two rules on real images built by a real engine, saved, and audited through
a baked repository's `python -m image_tasks.audit`: a netrc planted under site-packages (found
without a canary), a placeholder-only /root/.netrc (clean), a secret inside a .tar.gz in a layer
(found), and a leaking image's SARIF, located on its Dockerfile, valid under Microsoft's SARIF
multitool with no error and no warning."""

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from baking import need
from harness import engine_env, tag

SITE = "/usr/local/lib/python3.11/site-packages"


def build(context: Path, dockerfile: str, netrc: Path, name: str) -> str:
    (context / "Dockerfile").write_text(dockerfile)
    image = tag(f"audit-e2e-{name}", "leaky")
    subprocess.run(
        ["docker", "buildx", "build", "--load", "--no-cache", "--network=host", "--secret",
         f"id=netrc,src={netrc}", "-t", image, str(context)],
        check=True, capture_output=True, env=engine_env("buildx"),
    )  # fmt: skip
    return image


def audit(auditor: Path, image: str, *options: str, cwd: Path | None = None):
    """The image saved as users are told to save it (the audit knows no engine), then audited."""
    env = {**engine_env("buildx"), "PYTHONPATH": str(auditor)}
    with tempfile.TemporaryDirectory(prefix="audit-e2e-") as scratch:
        archive = Path(scratch, "image.tar")
        subprocess.run(["docker", "save", image, "-o", str(archive)], check=True, env=env)
        result = subprocess.run(
            [sys.executable, "-m", "image_tasks.audit", str(archive), "--format", "json", *options],
            cwd=cwd or auditor, env=env, capture_output=True, text=True, timeout=600,
        )  # fmt: skip
    report = json.loads(result.stdout) if result.stdout.strip() else {}
    return result.returncode, report, result.stdout + result.stderr


@pytest.mark.engine
def test_netrc_planted_under_site_packages_is_found_without_a_canary(
    provisioned, auditor, credential, tmp_path
):
    netrc, password = credential
    (tmp_path / "settings.txt").write_text(netrc.read_text())
    text = f"FROM {provisioned['RAYRT_PYTHON_IMAGE']}\nCOPY settings.txt {SITE}/acme/settings.txt\n"
    image = build(tmp_path, text, netrc, "planted")
    status, report, output = audit(auditor, image)  # no --netrc: nothing to look for by value
    assert status == 1, output
    found = {(f["rule"], f["path"]) for f in report["findings"]}
    assert ("netrc-entry", f"{SITE}/acme/settings.txt") in found
    assert password not in output


@pytest.mark.engine
def test_placeholder_only_root_netrc_is_clean(provisioned, auditor, credential, tmp_path):
    netrc, password = credential
    (tmp_path / "netrc").write_text("machine nexus.example.com login ${USER} password ${TOKEN}\n")
    text = f"FROM {provisioned['RAYRT_PYTHON_IMAGE']}\nCOPY netrc /root/.netrc\n"
    image = build(tmp_path, text, netrc, "placeholders")
    status, report, output = audit(auditor, image, "--netrc", str(netrc))
    assert status == 0, output
    assert report["verdict"] == "clean" and password not in output
    assert any("/root/.netrc" in note and "placeholders" in note for note in report["notes"])


@pytest.mark.engine
def test_secret_inside_a_tar_gz_in_a_layer_is_found(provisioned, auditor, credential, tmp_path):
    netrc, password = credential
    text = (
        f"FROM {provisioned['RAYRT_PYTHON_IMAGE']}\n"
        "RUN --mount=type=secret,id=netrc mkdir -p /opt/backup && "
        "tar -czf /opt/backup/secrets.tar.gz -C /run/secrets netrc\n"
    )
    image = build(tmp_path, text, netrc, "targz")
    status, report, output = audit(auditor, image, "--netrc", str(netrc))
    assert status == 1, output
    found = {(f["rule"], f["path"], f["layer"]) for f in report["findings"]}
    assert ("canary", "/opt/backup/secrets.tar.gz!/netrc", 1) in found
    assert password not in output


def _multitool(provisioned) -> list[str]:
    wrapper = Path(provisioned["RAYRT_SARIF_MULTITOOL"])
    need(wrapper.exists(), f"{wrapper} is missing")
    # the npm wrapper runs the tool through a shell (';' would split the rule kinds): call the
    # platform binary it wraps
    binary = next(wrapper.resolve().parent.glob("node_modules/@microsoft/*-linux/Sarif.Multitool"))
    return [str(binary)]


@pytest.mark.engine
def test_leaking_images_sarif_points_at_the_dockerfile_and_validates(
    provisioned, auditor, credential, tmp_path
):
    netrc, password = credential
    dockerfile = (
        f"FROM {provisioned['RAYRT_PYTHON_IMAGE']}\n"
        "WORKDIR /app\n"
        "# the article's final Dockerfile: the mounted secret copied into place\n"
        "RUN --mount=type=secret,id=netrc \\\n"
        "    cp /run/secrets/netrc /root/.netrc\n"
    )
    image = build(tmp_path, dockerfile, netrc, "sarif")
    sarif, record = tmp_path / "audit.sarif", tmp_path / "audit.json"
    options = ["--netrc", str(netrc), "--display-name", image, "--dockerfile", "Dockerfile"]
    options += ["--sarif", str(sarif), "--json", str(record)]
    status, _, output = audit(auditor, image, *options, cwd=tmp_path)
    assert status == 1, output
    doc = json.loads(sarif.read_text())
    results = doc["runs"][0]["results"]
    netrc_file = next(r for r in results if r["ruleId"] == "netrc-file")
    physical = netrc_file["locations"][0]["physicalLocation"]
    assert physical["artifactLocation"]["uri"] == "Dockerfile"
    assert physical["region"] == {"startLine": 4, "endLine": 5}
    assert doc["runs"][0]["tool"]["driver"]["informationUri"].startswith("https://github.com/")
    assert doc["runs"][0]["properties"]["source"] == image
    inspect = ["docker", "image", "inspect", "--format", "{{.Id}}", image]
    image_id = subprocess.run(inspect, capture_output=True, text=True, check=True).stdout.strip()
    assert json.loads(record.read_text())["images"][0]["config_digest"] == image_id
    assert password not in sarif.read_text() + record.read_text() + output
    validated = tmp_path / "validation.sarif"
    run = subprocess.run(
        [*_multitool(provisioned), "validate", "--rule-kind", "Gh;Sarif",
         "--level", "Error;Warning", "--output", str(validated), str(sarif)],
        capture_output=True, text=True, timeout=300, env={**os.environ, "DOTNET_NOLOGO": "1"},
    )  # fmt: skip
    print(run.stdout)  # (the multitool's own words, for the record)
    assert run.returncode == 0, run.stdout + run.stderr
    problems = [
        (r["ruleId"], r.get("level"), r["message"].get("text", ""))
        for r in json.loads(validated.read_text())["runs"][0]["results"]
    ]
    assert problems == [], problems
