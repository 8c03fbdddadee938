"""The seed article's leaking Dockerfiles and their relatives, built for real, saved, and audited
through the baked repository's `python -m image_tasks.audit`: each flagged with the right rule
and layer. The template's own pattern and the Ray base image are flagged by nothing."""

import json
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from harness import engine_env, tag

NETRC_HOST = "nexus.example.com"
# Layer 0 is the base image's one layer; each variant's first file-writing step is layer 1.
VARIANTS = {
    "credentials-in-build-arg": (
        'ARG INDEX_URL\nRUN test -n "$INDEX_URL"\n',
        {("canary", None), ("url-credentials", None)},
    ),
    "credentials-in-env": (
        "ENV PIP_INDEX_URL=https://deploy:{password}@nexus.example.com/simple/\n",
        {("canary", None), ("url-credentials", None)},
    ),
    "copy-netrc-then-rm": (
        "COPY netrc /root/.netrc\nRUN rm /root/.netrc\n",
        {("canary", 1), ("netrc-file", 1)},
    ),
    "article-final-copy-inside-secret-mount": (
        "RUN --mount=type=secret,id=netrc cp /run/secrets/netrc /root/.netrc\n",
        {("canary", 1), ("netrc-file", 1)},
    ),
    "pip-conf-with-credentials": (
        "RUN --mount=type=secret,id=netrc "
        "printf '[global]\\nindex-url = https://deploy:%s@nexus.example.com/simple/\\n' "
        "\"$(sed -n 's/.*password //p' /run/secrets/netrc)\" > /etc/pip.conf\n",
        {("canary", 1), ("pip-config-credentials", 1)},
    ),
    "multi-stage-carries-netrc": (
        "RUN --mount=type=secret,id=netrc cp /run/secrets/netrc /tmp/netrc\n"
        "FROM {base}\nCOPY --from=0 /tmp/netrc /home/app/.netrc\n",
        {("canary", 1), ("netrc-file", 1)},
    ),
}


def audit(auditor, image: str, netrc) -> tuple[int, dict, str]:
    """The image saved as users are told to save it (the audit knows no engine), then audited."""
    with tempfile.TemporaryDirectory(prefix="seed-audit-") as scratch:
        archive = Path(scratch, "image.tar")
        env = engine_env("buildx")
        subprocess.run(["docker", "save", image, "-o", str(archive)], check=True, env=env)
        result = subprocess.run(
            [sys.executable, "-m", "image_tasks.audit", str(archive), "--netrc", str(netrc),
             "--format", "json"],
            cwd=auditor, env=env, capture_output=True, text=True, timeout=600,
        )  # fmt: skip
    report = json.loads(result.stdout) if result.stdout.strip() else {}
    return result.returncode, report, result.stdout + result.stderr


@pytest.mark.engine
@pytest.mark.parametrize(("dockerfile", "expected"), VARIANTS.values(), ids=VARIANTS.keys())
def test_leaking_variant_is_flagged(
    dockerfile, expected, provisioned, auditor, credential, tmp_path
):
    netrc, password = credential
    base = provisioned["RAYRT_PYTHON_IMAGE"]
    (tmp_path / "netrc").write_text(netrc.read_text())
    text = f"FROM {base}\n" + dockerfile.format(password=password, base=base)
    (tmp_path / "Dockerfile").write_text(text)
    image = tag(f"seed-{abs(hash(text)) % 10**8}", "leaky")
    url = f"https://deploy:{password}@{NETRC_HOST}/simple/"
    subprocess.run(
        # --no-cache: a changed secret does not invalidate the cache, and each run has its own.
        ["docker", "buildx", "build", "--load", "--no-cache", "--network=host", "--secret",
         f"id=netrc,src={netrc}", "--build-arg", f"INDEX_URL={url}", "-t", image, str(tmp_path)],
        check=True, capture_output=True, env=engine_env("buildx"),
    )  # fmt: skip
    status, report, output = audit(auditor, image, netrc)
    assert status == 1, output
    found = {(f["rule"], f["layer"]) for f in report["findings"]}
    for rule, layer in expected:
        assert any(r == rule and layer in (None, at) for r, at in found), (rule, found)
    assert password not in output


@pytest.mark.engine
def test_copied_then_removed_file_names_both_layers(provisioned, auditor, credential, tmp_path):
    netrc, _ = credential
    (tmp_path / "netrc").write_text(netrc.read_text())
    (tmp_path / "Dockerfile").write_text(
        f"FROM {provisioned['RAYRT_PYTHON_IMAGE']}\nCOPY netrc /root/.netrc\nRUN rm /root/.netrc\n"
    )
    image = tag("seed-deleted", "leaky")
    subprocess.run(
        ["docker", "build", "--network=host", "-t", image, str(tmp_path)],
        check=True, capture_output=True, env=engine_env("buildx"),
    )  # fmt: skip
    _, report, _ = audit(auditor, image, netrc)
    netrc_file = next(f for f in report["findings"] if f["rule"] == "netrc-file")
    assert (netrc_file["layer"], netrc_file["deleted_in"]) == (1, 2)
    assert "COPY" in netrc_file["created_by"] and "rm /root/.netrc" in netrc_file["deleted_by"]


@pytest.mark.engine
def test_ray_base_image_is_clean(provisioned, auditor, credential):
    status, report, output = audit(auditor, provisioned["RAYRT_RAY_IMAGE"], credential[0])
    assert status == 0, output
    assert report["verdict"] == "clean"
