"""The audit's rules and policy, as data (`model`: what a rule is, every policy a field;
`files`: credential files; `patterns`: secret patterns; `catalog`: every rule; `placeholders`:
values that are no secret; `scope`: package trees; `variables`: names that say "secret";
`allowlist`: accepted findings).  The engines that apply them live in `..detect` and `..scan`;
each rule's examples, true and false positives, are run by the tests.

Five categories:

``canary``
    A known secret (or one of its encodings) found anywhere.  Applies to every byte of every
    file, to names and link targets, to every pax record of a tar member (key and value; the
    pattern rules apply there too), to the image config, to the manifests and indexes
    (``manifest.json``, ``index.json``, OCI manifests and their annotations) and to
    attestations.  No exception,
    no allow-list entry: a known secret in an image is always a leak.
``credential-file``
    A file whose *path* says it holds credentials (``.netrc``, ``pip.conf`` with credentials,
    ``.docker/config.json`` with auths...), present in a layer or deleted by a later one.  Some
    rules also require a content check (``content``) so that a credential-free ``pip.conf``
    is not reported.
``secret-pattern``
    Text that has the shape of a credential, for when no canary is known.  Applied to text
    files (no NUL byte in the first 8 KiB, the heuristic of grep and git; binaries are left to
    the canaries) and to every string of the config and attestations.  Matches whose secret
    is a placeholder (``${VAR}``, ``<password>``, ``****``, ``changeme``...) are not findings.
``image-config``
    Secret-looking variables in ENV, LABEL and recorded build arguments.
``package-integrity``
    A file an installed package owns that no longer matches its record.

Scope policy for installed third-party code. Files under a package tree (``site-packages``,
``dist-packages``, the Python standard library, ``/usr/share/doc``, ``node_modules``, conda package
caches) that a package manager owns are published code that any image installing those packages
carries; they are full of documentation examples (pip's own ``https://user:password@host``) and test
fixtures (private keys of test suites). A file is owned when an installed distribution's
``*.dist-info/RECORD`` lists it (with the same size, and the same sha256 where the audit computed
one: for files where a generic pattern matched), or dpkg's ``var/lib/dpkg/info/*.list``, or a conda
environment's ``conda-meta/*.json``, in the same layer or a lower one (see `ownership`). In an owned
file the *generic* patterns (rules with ``scope="outside-packages"``: URLs with a password, netrc
text, PEM private keys, JWTs, Authorization headers, passwords on command lines,
``NAME_PASSWORD=value`` assignments) are not applied, except to files that installers and tools
write (``direct_url.json``, ``*.pth``, ``*.egg-link``); the token rules, whose shapes are specific
(PyPI, GitHub, AWS, npm, Hugging Face, GitLab, Slack, Google), apply everywhere, and so do canaries
and credential-file rules. A file in a package tree that no package manager owns (a build step
planted it) is an ordinary file and gets every rule. An owned file whose size or sha256 no longer
matches its RECORD is a finding itself (``package-file-modified``). Line-wrapped base64 (below) is
searched outside package trees only.

Credential files whose secret fields are all placeholders. A netrc, ``pip.conf``, ``.pypirc``,
``uv.toml``, poetry's ``auth.toml``, ``.git-credentials``, a git config, a kubeconfig, docker config
or ``.npmrc`` whose secret fields (passwords; a netrc's logins where no password stands beside them;
a docker ``auth``'s password; ``_authToken``; an ``http.extraheader`` credential; a kubeconfig
token) are all unfilled (``${VAR}``, ``$VAR``, ``$(cmd)``, ``<password>``, ``****``, empty:
`is_unfilled`) holds no credential: a note, not a finding. One real secret among placeholders is a
finding. Files found by path alone (keys, cloud credentials, uv's store, a Hugging Face token,
``/run/secrets``) are findings whatever they hold.

Canaries in every byte. Every encoded form of a canary (raw, percent- and JSON-encoded, UTF-16
LE and BE, base64 at every alignment) is searched in every byte of the input and of every stream
derived from it, whatever the parser makes of it (see `scan.blobs` and `detect.stream_search`):
tar headers, padding and what follows the end-of-archive marker, compressed blobs as stored and
decompressed, JSON documents as bytes and as parsed, every decompressed nested stream. A canary
found anywhere is a leak, even in input the audit cannot otherwise read. Base64 wrapped across
lines (``base64 FILE`` and ``encodebytes`` break every 76 columns, PEM every 64, with LF or CR
LF) is found in text files outside package trees: the head and tail of each base64 core are
searched there, and a hit counts when the core is whole once CR and LF are removed around it.
Its limits: cores shorter than 24 characters (a secret under about 18 bytes, unless its
``login:password`` form is long enough) are not searched wrapped; a core can be missed when it
spans more than two line breaks (a secret over about 70 bytes at 64 columns); other wrapping
(indentation or quotes on each line, a JSON ``\n`` escape, URL-safe base64) is not undone.

Archives and compressed files inside a layer are opened (see `scan.nested`), told by their
first bytes, whatever their names: gzip, zstd, xz, bzip2, unix compress, zip (wheels, jars,
zipapps, jmods; stored, deflate, bzip2 and lzma entries, checked against the central
directory), tar and ``ar`` (Debian packages).  Every rule applies to what is inside (paths
``/outer.tgz!/inner``), and archives inside are opened too, eight levels deep.  There is no
budget for the image; each archive has its bounds, and whatever a bound stops makes the verdict
incomplete, the path named: a decompressed stream past 200 times its stored bytes (after the
first 64 MiB) or past 4 GiB, an archive nested deeper, the deadline, formats recognised but not
opened (7z, rar, lz4, lzip, rpm, cpio), zip entries that are encrypted or use another method,
or that only the central directory names, a compress stream of 9-bit codes past its full table
(readers read what follows differently).  A corrupt or truncated stream is read as far as it
decodes (a note): no reader gets more from it.

These policies are reported in the JSON output; the package-tree policy (and wrapped base64
outside package trees only) is switched off by ``strict=True`` (``--strict``).
"""
