"""Leak audit of a container image: did a credential reach any layer, the config, or an
attestation?

Command line (exit 0 clean, 1 findings, 2 could not audit)::

    python -m image_tasks.audit SOURCE [--netrc PATH] [--canary-env VAR ...]
        [--format text|json|sarif] [--output FILE] [--json FILE] [--sarif FILE]
        [--display-name NAME] [--dockerfile PATH] [--allow-list FILE] [--strict] [--version]

SOURCE is a ``docker save`` archive (classic or Docker 25+ OCI-style), an OCI image layout
directory, an OCI archive (``podman save --format oci-archive``), ``-`` for an archive on
standard input (streamed, no seeking), or a local image reference, which is saved through
``image_tasks.engine.save.saved_archive`` (and names the report).  Layers may be uncompressed,
gzip, zstd (with the ``zstandard`` wheel or Python 3.14), bzip2 or xz; the compression is told
by magic bytes.  ``--json`` and ``--sarif`` write those reports beside the chosen format; every
report file is renamed into place, or written directly where the path is not a regular file
(``/dev/null``, a FIFO).  ``--display-name`` is how the reports name the source; ``--dockerfile``
points each finding at the instruction that made its layer.  Progress goes to stderr when it
is a terminal.  The JSON report's ``images`` give each image's name and config digest (the
image ID), its ``verdict`` is ``clean`` or ``leak``.

Python API::

    from image_tasks import audit

    report = audit.run("image.tar", canaries=["s3cret"], allow_list=None, strict=False,
                       display_name=None, dockerfile_path=None)
    report.exit_code         # 0 or 1 (a source that cannot be audited raises AuditError)
    report.findings          # list of audit.Finding: rule, severity, path, layer,
                             # created_by, deleted_in, deleted_by, excerpt (redacted),
                             # offset, instruction, lines ...
    report.images            # [ImageInfo(name, config_digest)]
    report.render("sarif")   # "text", "json" or "sarif"; secrets are scrubbed from all
    audit.canaries_from(netrc_paths=["~/.netrc"], env_vars=["NET_RC"], notes=notes)
                             # -> [Canary]; notes (a list) gets secret-free remarks, which
                             # audit.run(..., notes=notes) adds to the report
    audit.main(["image.tar", "--canary-env", "NET_RC"])                  # -> exit status
    audit.BlobScanner(settings, scrubber).scan_blob(name, reader, size)
                             # one blob (a layer, a config...) from any readers.Reader

What is looked for (rule ids in `rules.RULES`; the policy is documented in `rules`):

* ``canary``: the known secrets (netrc passwords and token logins, ``--canary-env`` values)
  and their encodings (percent, JSON, base64 at every alignment, of the value and of
  ``login:password``, also wrapped across lines in text files outside package trees) in
  every byte of every file and inside nested archives (``.gz``, ``.tgz``, ``.zip``, ``.whl``,
  ``.jar``, ``.tar``; two levels, within a byte budget per image), in names, link targets,
  pax records (xattrs, uname, comment, any key and value; location ``pax:KEY``), the
  config, the manifests and indexes (``manifest.json`` RepoTags, ``index.json``,
  annotations) and attestations;
* credential files by path, present or deleted by a later layer (whiteouts, opaque dirs),
  unless every secret field they hold is a placeholder: ``netrc-file``,
  ``pip-config-credentials``, ``pypirc-file``, ``uv-credentials``, ``uv-credential-store``,
  ``git-credentials``, ``docker-config-auth``, ``npmrc-token``, ``cloud-credentials``,
  ``ssh-private-key``, ``run-secrets-file``;
* secret patterns: ``url-credentials``, ``netrc-entry``, ``pypi-token``, ``github-token``,
  ``aws-access-key-id``, ``private-key-block`` (the generic ones skip only files a package
  manager owns: see `ownership`);
* ``package-file-modified``: a file an installed distribution's RECORD lists, changed since;
* ``secret-variable``: ENV, LABEL, recorded build arguments and provenance build args whose
  names say "secret" and whose values are literal.

The allow-list format is described in `allowlist`.  Module map, bottom up (each imports only
modules above it in this list):

* `errors`, `readers` (the `Reader` base, files, hashing, peeking), `archive` (the streaming
  tar reader), `compression` (magic bytes, inflate with isal when installed), `layouts`
  (docker and OCI layouts);
* `rules` (rules as data, the policy), `canaries`, `redaction`, `sarif` (SARIF 2.1.0),
  `report` (findings; text and JSON);
* `search` (where terms occur: hyperscan when installed, else the stdlib), `matching`
  (canaries and patterns over a buffer range), `credfiles`, `ownership`, `filescan` (one
  file's scan: ``feed``/``finish``), `nested`, `layerscan` (a layer's filesystem),
  `configscan` (config and JSON), `dockerfile`, `attribution`;
* `parallel` (large blobs in worker processes), `sources` (reading a source, classifying and
  scanning its blobs: ``BlobScanner.scan_blob``), `assembly` (from blobs to findings),
  `runner` (``run``), `outputs` (report files), `progress`, `cli`.
"""

from __future__ import annotations

from .canaries import Canary, entry_canaries
from .canaries import from_sources as canaries_from
from .cli import main
from .errors import AuditError
from .report import Finding, Report
from .runner import Limits, run
from .sources import BlobScanner

__all__ = [
    "AuditError",
    "BlobScanner",
    "Canary",
    "Finding",
    "Limits",
    "Report",
    "canaries_from",
    "entry_canaries",
    "main",
    "run",
]
