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

Canary encodings in large binaries.  The raw, percent-, JSON- and UTF-16-encoded forms of a
canary are searched in every byte.  Its base64 forms are searched in every text file and every
binary up to 1 MiB (byte code, small databases, keyrings, pickles) but not in larger binaries
(shared libraries, model weights, compressed archives, where base64 text of a credential has
no reason to be and where these extra passes would double the audit's time).  Base64 wrapped
across lines (``base64 FILE`` and ``encodebytes`` break every 76 columns, PEM every 64, with LF
or CR LF) is found in text files outside package trees: the head and tail of each base64 core
are searched there, and a hit counts when the core is whole once CR and LF are removed around
it.  Its limits: cores shorter than 24 characters (a secret under about 18 bytes, unless its
``login:password`` form is long enough) are not searched wrapped; a core can be missed when it
spans more than two line breaks (a secret over about 70 bytes at 64 columns); other wrapping
(indentation or quotes on each line, a JSON ``\n`` escape, URL-safe base64) is not undone.

Archives and compressed files inside a layer are opened (see `nested`).  A file named
``.gz``, ``.tgz``, ``.tar.gz``, ``.zip``, ``.whl``, ``.jar`` or ``.tar`` whose first bytes agree
is decompressed and read: every rule applies to what is inside (paths ``/outer.tgz!/inner``),
and archives inside it are opened too, two levels deep.  Within bounds, each said in the report
when it stops something: a budget of decompressed bytes per image (``Limits.nested_bytes``,
64 MiB; archives left when it is spent are listed in a note, not opened), 32 MiB of stored
bytes for one archive, a decompression ratio of 100 (a bomb stops there), encrypted zip members
(not read).  What is not opened: other formats (``.bz2``, ``.xz``, ``.zst``, ``.deb``, ``.rpm``,
git packs, ``.egg``), archives nested three deep, and whatever a bound stopped; their bytes are
still searched as stored, which finds a canary stored uncompressed (zip member names, stored
members).

These policies are reported in the JSON output; the package-tree and large-binary policies are
switched off by ``strict=True`` (``--strict``).
"""
