"""Leak audit of a container image: did a credential reach any layer, the config, or an
attestation?

Command line (exit 0 clean, 1 findings, 2 could not audit)::

    python -m image_tasks.audit SOURCE [--netrc PATH] [--canary-env VAR ...]
        [--format text|json|sarif] [--output FILE] [--allow-list FILE] [--strict]

SOURCE is a ``docker save`` archive (classic or Docker 25+ OCI-style), an OCI image layout
directory, an OCI archive (``podman save --format oci-archive``), ``-`` for an archive on
standard input (streamed, no seeking), or a local image reference, which is saved through
``image_tasks.engines.saved_archive``.  Layers may be uncompressed, gzip, zstd (with the
``zstandard`` wheel or Python 3.14), bzip2 or xz; the compression is told by magic bytes.

Python API::

    from image_tasks import audit

    report = audit.run("image.tar", canaries=["s3cret"], allow_list=None, strict=False)
    report.exit_code         # 0 or 1 (a source that cannot be audited raises AuditError)
    report.findings          # list of audit.Finding: rule, severity, path, layer,
                             # created_by, deleted_in, deleted_by, excerpt (redacted), ...
    report.render("sarif")   # "text", "json" or "sarif"; secrets are scrubbed from all
    audit.canaries_from(netrc_paths=["~/.netrc"], env_vars=["NET_RC"], notes=notes)
                             # -> [Canary]; notes (a list) gets secret-free remarks, which
                             # audit.run(..., notes=notes) adds to the report
    audit.main(["image.tar", "--canary-env", "NET_RC"])                  # -> exit status

What is looked for (rule ids in `rules.RULES`; the policy is documented in `rules`):

* ``canary``: the known secrets (netrc passwords and token logins, ``--canary-env`` values)
  and their encodings (percent, JSON, base64 at every alignment, of the value and of
  ``login:password``, also wrapped across lines in text files outside package trees) in
  every byte of every file, in names, link targets, pax records (xattrs, uname, comment,
  any key and value; location ``pax:KEY``), the config, the manifests and indexes
  (``manifest.json`` RepoTags, ``index.json``, annotations) and attestations.  "Every byte"
  means as stored in the layer: compressed files inside a layer (``.gz``, ``.tar.gz``,
  ``.whl``/``.zip``/``.jar``, ``.xz``, ``.zst``...) are not decompressed, so a secret
  compressed into one is not found (see `rules`, "Compressed files inside a layer");
* credential files by path, present or deleted by a later layer (whiteouts, opaque dirs):
  ``netrc-file``, ``pip-config-credentials``, ``pypirc-file``, ``uv-credentials``,
  ``uv-credential-store``, ``git-credentials``, ``docker-config-auth``, ``npmrc-token``,
  ``cloud-credentials``, ``ssh-private-key``, ``run-secrets-file``;
* secret patterns: ``url-credentials``, ``netrc-entry``, ``pypi-token``, ``github-token``,
  ``aws-access-key-id``, ``private-key-block``;
* ``secret-variable``: ENV, LABEL, recorded build arguments and provenance build args whose
  names say "secret" and whose values are literal.

The allow-list format is described in `allowlist`.  Module map: `archive` (streaming tar
reader), `streams` (hashing, decompression), `layouts` (docker/OCI layouts), `rules` (rules
as data), `canaries`, `scanner` (the engine), `redaction`, `report`, `runner`, `cli`.
"""

from __future__ import annotations

from .canaries import Canary
from .canaries import from_sources as canaries_from
from .cli import main
from .errors import AuditError
from .report import Finding, Report
from .runner import Limits, run

__all__ = [
    "AuditError",
    "Canary",
    "Finding",
    "Limits",
    "Report",
    "canaries_from",
    "main",
    "run",
]
