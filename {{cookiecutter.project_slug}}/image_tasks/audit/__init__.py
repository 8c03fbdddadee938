"""Leak audit of a container image: did a credential reach any byte an engine could load?

Its verdict (`findings.Verdict`) is ``clean`` (exit 0: every byte of the input and of every
stream derived from it was searched, nothing was found), ``leak`` (1: a finding; one canary
anywhere is enough, whatever else is wrong with the input) or ``incomplete`` (3: a bound
stopped the reading of the paths the report names; nothing is proved about them); exit 2 means
it could not audit (bad or ambiguous input: a JSON key twice, an archive member twice, a digest
that does not match; no report).  What it reads, and the policy: `rules`.

Command line::

    python -m image_tasks.audit SOURCE [--netrc PATH] [--canary-env VAR ...]
        [--format text|json|sarif] [--output FILE] [--json FILE] [--sarif FILE]
        [--display-name NAME] [--dockerfile PATH] [--allow-list FILE] [--strict] [--version]

SOURCE is a ``docker save`` archive (classic or Docker 25+ OCI-style), an OCI image layout
directory, an OCI archive (``podman save --format oci-archive``), or ``-`` for an archive on
standard input (streamed, no seeking).  The audit knows no container engine: an image
reference is refused with a message saying how to save it, and a caller that has an engine
(the project's audit task) passes `run` a function that saves one.  Layers may be
uncompressed, gzip, zstd (with the ``zstandard`` wheel or Python 3.14), bzip2 or xz; the
compression is told by magic bytes.  ``--json`` and ``--sarif`` write those reports beside the
chosen format; every report file is renamed into place, or written directly where the path is
not a regular file (``/dev/null``, a FIFO).  ``--display-name`` is how the reports name the
source; ``--dockerfile`` points each finding at the instruction that made its layer.
Progress goes to stderr when it is a terminal.  The JSON report's ``images`` give each
image's name and config digest (the image ID), its ``verdict`` is ``clean``, ``leak`` or
``incomplete`` (its ``incomplete`` names what was not read to its end, and why).

Python API::

    from image_tasks import audit

    report = audit.run("image.tar", canaries=["s3cret"], allow_list=None, strict=False,
                       display_name=None, dockerfile_path=None, save_reference=None)
    report.verdict           # Verdict.CLEAN, LEAK or INCOMPLETE (a str: "clean"...)
    report.exit_code         # 0, 1 or 3 (a source that cannot be audited raises AuditError)
    report.gaps              # [Gap(path, reason, layer)]: what a bound stopped
    report.findings          # list of audit.Finding: rule, severity, path, layer,
                             # created_by, deleted_in, deleted_by, excerpt (redacted),
                             # offset, instruction, lines ...
    report.images            # [ImageInfo(name, config_digest)]; report.summary: one line
    audit.render(report, "sarif")   # "text", "json" or "sarif"; secrets scrubbed from all
    audit.canaries_from(netrc_paths=["~/.netrc"], env_vars=["NET_RC"], notes=notes)
                             # -> [Canary]; notes (a list) gets secret-free remarks, which
                             # audit.run(..., notes=notes) adds to the report
    audit.main(["image.tar", "--canary-env", "NET_RC"])                  # -> exit status

``save_reference``, when given, is called with a SOURCE that names no file or directory and
returns a context manager that yields the path of an archive of that image (and removes it
after).

What is looked for: see `rules` (the policy, and every rule in `rules.catalog`).  The allow-list
format is described in `rules.allowlist`.

The map (each folder imports only from the ones above it; nothing here imports from the rest
of image_tasks):

* `errors` (`AuditError`), `findings` (Finding, Report and the verdict: plain data);
* `image/`: reading the bytes, one reader per format: `readers` (the `Reader` base, files,
  standard input, hashing, peeking), `tar` (the streaming tar reader), `compression` (magic
  bytes; gzip, zstd, bzip2, xz), `layouts` (docker-archive and OCI layouts: which blob is
  which);
* `rules/`: the rules as data (`model`: a file rule, a pattern rule, every policy a field;
  `files`, `patterns`, `catalog`, `placeholders`, `scope`, `variables`) and the user's
  `allowlist`;
* `detect/`: finding secrets in bytes: `canaries` (known secrets and their encodings), `netrc`,
  `search` (term positions: hyperscan when installed, else the stdlib), `matching` (canaries
  and patterns over a buffer range), `checks` (a pattern rule's policy on a match),
  `credfiles`, `ownership` (package records), `redaction`;
* `scan/`: applying them to an image: `limits`, `file` (one file), `layer` (a layer's
  filesystem), `nested` (archives inside files), `documents` (config, manifests, attestations),
  `blobs` (one blob: classified, hashed, scanned), `parallel` (large blobs in worker
  processes), `collector` (reading a source into blobs), `assembly` (from blobs to findings),
  `attribution` and `dockerfile` (which layer and instruction);
* `render/`: one writer per format (`text`, `json_report`, `sarif`), `outputs` (report
  files), `progress`;
* `api` (`run`: the typed entry point), `cli` (`main`: the command line on top of it).
"""

from __future__ import annotations

from .api import Limits, SaveReference, run
from .cli import main
from .detect.canaries import Canary, entry_canaries
from .detect.canaries import from_sources as canaries_from
from .detect.redaction import Scrubber
from .errors import AuditError
from .findings import Finding, Gap, ImageInfo, Report, Verdict
from .render import render
from .render.outputs import write_report
from .render.progress import Progress

__all__ = [
    "AuditError",
    "Canary",
    "Finding",
    "Gap",
    "ImageInfo",
    "Limits",
    "Progress",
    "Report",
    "SaveReference",
    "Scrubber",
    "Verdict",
    "canaries_from",
    "entry_canaries",
    "main",
    "render",
    "run",
    "write_report",
]
