"""The audit's rules, as data.  The engines that apply them are `filescan` (with `matching`
and `search`), `credfiles`, `layerscan` and `configscan`.

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

Scope policy for installed third-party code.  Files under a package tree (``site-packages``,
``dist-packages``, the Python standard library, ``/usr/share/doc``, ``node_modules``, conda
package caches) that a package manager owns are published code that any image installing
those packages carries; they are full of documentation examples (pip's own
``https://user:password@host``) and test fixtures (private keys of test suites).  A file is
owned when an installed distribution's ``*.dist-info/RECORD`` lists it (with the same size, and
the same sha256 where the audit computed one: for files where a generic pattern matched),
or dpkg's ``var/lib/dpkg/info/*.list``, or a conda environment's ``conda-meta/*.json``, in the
same layer or a lower one (see `ownership`).  In an owned file the *generic* patterns
(``url-credentials``, ``netrc-entry``, ``private-key-block``; rules with
``scope="outside-packages"``) are not applied, except to files that installers and tools write
(``direct_url.json``, ``*.pth``, ``*.egg-link``); the token rules, whose shapes are specific
(PyPI, GitHub, AWS), apply everywhere, and so do canaries and credential-file rules.  A file
in a package tree that no package manager owns (a build step planted it) is an ordinary file
and gets every rule.  An owned file whose size or sha256 no longer matches its RECORD is a
finding itself (``package-file-modified``).  Line-wrapped base64 (below) is searched outside
package trees only.

Credential files whose secret fields are all placeholders.  A netrc, ``pip.conf``,
``.pypirc``, ``uv.toml``, ``.git-credentials``, docker config or ``.npmrc`` whose secret fields
(passwords; a netrc's logins where no password stands beside them; a docker ``auth``'s
password; ``_authToken``) are all unfilled (``${VAR}``, ``$VAR``, ``$(cmd)``, ``<password>``,
``****``, empty: `is_unfilled`) holds no credential: a note, not a finding.  One real secret
among placeholders is a finding.  Files found by path alone (keys, cloud credentials, uv's
store, ``/run/secrets``) are findings whatever they hold.

Canary encodings in large binaries.  The raw, percent- and JSON-encoded forms of a canary are
searched in every byte.  Its base64 forms are searched in every text file and every binary
up to 1 MiB (byte code, small databases, keyrings, pickles) but not in larger binaries
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

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Rule:
    id: str
    category: str
    title: str
    severity: str
    help: str
    # secret-pattern rules: candidate positions come from ``keywords`` (bytes.find) or from
    # ``locator``: a regex with a literal prefix (which re searches fast) that matches wherever
    # ``regex`` can (the tighter it is, the fewer files need a closer look); ``regex`` is then
    # matched at each candidate; its group 'secret' is what gets redacted and checked for
    # placeholders.
    keywords: tuple[bytes, ...] = ()
    locator: re.Pattern[bytes] | None = None
    regex: re.Pattern[bytes] | None = None
    max_length: int = 1024
    scope: str = "everywhere"  # or "outside-packages"
    # credential-file rules: ``names`` are base names, ``parents`` required parent dirs
    names: tuple[str, ...] = ()
    parents: tuple[str, ...] = ()
    under: tuple[str, ...] = ()  # path prefixes (without leading '/')
    content: re.Pattern[bytes] | None = None  # must match (with a real secret) to report
    fields: str = ""  # or the format whose secret fields are read: "netrc", "docker-auth"
    example_values: tuple[str, ...] = ()


CANARY = Rule(
    id="canary",
    category="canary",
    title="Known secret found in the image",
    severity="critical",
    help="A value from the build's netrc (or another canary) is in the image. Rotate the "
    "credential, then rebuild with the secret mounted (RUN --mount=type=secret) and never "
    "copied, echoed, or passed as a build argument.",
)

_URL_USER = rb"[^\s/:@'\"<>{}()\[\]\\|^`]"  # (no '/': a match holds one '://', never two)
_URL_SECRET = rb"[^\s/@'\"<>{}()\[\]\\|^`]"
_URL_CRED = re.compile(
    rb"://(?P<user>" + _URL_USER + rb"{1,128}):(?P<secret>" + _URL_SECRET + rb"{1,256})@"
    rb"(?P<host>[A-Za-z0-9][A-Za-z0-9.\-]{0,252}|\[[0-9A-Fa-f:.]+\])"
)
_NETRC_ENTRY = re.compile(
    rb"machine[ \t\r\n]+(?P<host>\S{1,253})"
    rb"(?:[ \t\r\n]+(?:login|account|port)[ \t\r\n]+\S{1,256}){0,3}"
    rb"[ \t\r\n]+password[ \t\r\n]+(?P<secret>\"[^\"\n]{1,256}\"|[^\s\"]{1,256})"
)
_CRED_LINE = re.compile(
    rb"(?im)^[ \t]*(?:password|passwd|_password|_auth|_authtoken|//[^\s=]*:_authtoken|"
    rb"[^\s=]*:_auth(?:token)?|[^\s=]*:_password|aws_secret_access_key|aws_session_token)"
    rb"[ \t]*[=:][ \t]*(?P<secret>[^\s#;]{1,512})"
)
_DOCKER_AUTH = re.compile(
    rb"\"(?:auth|identitytoken|registrytoken|password)\"\s*:\s*\"(?P<secret>[^\"]{1,4096})\""
)

RULES: tuple[Rule, ...] = (
    CANARY,
    # -- credential files, by path ---------------------------------------------------------
    Rule(
        id="netrc-file",
        category="credential-file",
        title="netrc file in a layer",
        severity="critical",
        help="A .netrc holds index credentials. Mount it as a BuildKit secret "
        "(RUN --mount=type=secret,id=netrc and NETRC=/run/secrets/netrc) instead of COPYing or "
        "copying it: a later 'rm' does not remove it from the lower layer.",
        names=(".netrc", "_netrc"),
        fields="netrc",
    ),
    Rule(
        id="pip-config-credentials",
        category="credential-file",
        title="pip configuration with credentials",
        severity="critical",
        help="pip.conf/pip.ini holds an index URL with a password. Keep credentials in a "
        "secret-mounted netrc, and the URL in the config without userinfo.",
        names=("pip.conf", "pip.ini"),
        content=_URL_CRED,
    ),
    Rule(
        id="pypirc-file",
        category="credential-file",
        title=".pypirc with a password",
        severity="critical",
        help="A .pypirc with a password (an upload token) is in the image. Remove it and "
        "rotate the token.",
        names=(".pypirc",),
        content=_CRED_LINE,
    ),
    Rule(
        id="uv-credentials",
        category="credential-file",
        title="uv credentials or uv.toml index with credentials",
        severity="critical",
        help="uv's credential store or a uv.toml index URL with a password is in the image. "
        "Give uv the secret-mounted netrc (NETRC) or UV_INDEX_*_PASSWORD from a secret mount.",
        names=("uv.toml",),
        content=_URL_CRED,
    ),
    Rule(
        id="uv-credential-store",
        category="credential-file",
        title="uv credential store",
        severity="critical",
        help="uv's credential store (uv auth login) is in the image. Remove it and rotate the "
        "credentials.",
        names=("credentials.toml",),
        parents=("uv/credentials",),
    ),
    Rule(
        id="git-credentials",
        category="credential-file",
        title="git credential store",
        severity="critical",
        help="A git credential store is in the image. Remove it and rotate the tokens.",
        names=(".git-credentials",),
        content=_URL_CRED,
    ),
    Rule(
        id="docker-config-auth",
        category="credential-file",
        title="container registry credentials",
        severity="critical",
        help="A docker/podman auth file with registry credentials is in the image. Remove it "
        "and rotate the credentials.",
        names=("config.json", "auth.json"),
        parents=(".docker", "containers"),
        content=_DOCKER_AUTH,
        fields="docker-auth",
    ),
    Rule(
        id="npmrc-token",
        category="credential-file",
        title=".npmrc with a token",
        severity="critical",
        help="An .npmrc with an auth token is in the image. Use a secret mount and "
        "${NPM_TOKEN} expansion instead.",
        names=(".npmrc", "npmrc"),
        content=_CRED_LINE,
    ),
    Rule(
        id="cloud-credentials",
        category="credential-file",
        title="cloud provider credentials",
        severity="critical",
        help="Cloud credentials (AWS, gcloud, Azure) are in the image. Remove them and rotate "
        "them; give workloads credentials at run time.",
        names=(
            "credentials",
            "credentials.db",
            "access_tokens.db",
            "application_default_credentials.json",
            "adc.json",
            "accessTokens.json",
            "msal_token_cache.json",
            "msal_token_cache.bin",
            "service_principal_entries.json",
        ),
        parents=(".aws", "gcloud", "legacy_credentials", ".azure"),
    ),
    Rule(
        id="ssh-private-key",
        category="credential-file",
        title="SSH private key",
        severity="critical",
        help="An SSH private key is in the image. Use RUN --mount=type=ssh instead, remove the "
        "key and revoke it.",
        names=("id_rsa", "id_dsa", "id_ecdsa", "id_ed25519", "id_ecdsa_sk", "id_ed25519_sk"),
    ),
    Rule(
        id="run-secrets-file",
        category="credential-file",
        title="file left under /run/secrets",
        severity="critical",
        help="A non-empty file under /run/secrets was written into a layer: the secret was "
        "copied rather than mounted. (Empty mount points that build engines leave are not "
        "reported.)",
        under=("run/secrets/", "var/run/secrets/"),
    ),
    # -- patterns --------------------------------------------------------------------------
    Rule(
        id="url-credentials",
        category="secret-pattern",
        title="URL with a password in its userinfo",
        severity="high",
        help="A URL of the form scheme://user:password@host is stored in the image. Use a URL "
        "without credentials and a secret-mounted netrc.",
        # "://" alone is in most text files (every URL); user:secret@ after it is rare
        locator=re.compile(rb"://" + _URL_USER + rb"+:" + _URL_SECRET + rb"+@"),
        regex=_URL_CRED,
        max_length=700,
        scope="outside-packages",
    ),
    Rule(
        id="netrc-entry",
        category="secret-pattern",
        title="netrc entry with a password",
        severity="high",
        help="Text in netrc syntax (machine ... password ...) is stored in the image, whatever "
        "the file's name. Mount the netrc as a secret instead.",
        # "machine" alone is in much of Ray's text ("machine learning"); a netrc token after
        # its host is not
        locator=re.compile(
            rb"machine[ \t\r\n]+\S+[ \t\r\n]+(?:login|account|port|password)[ \t\r\n]"
        ),
        regex=_NETRC_ENTRY,
        max_length=1200,
        scope="outside-packages",
    ),
    Rule(
        id="pypi-token",
        category="secret-pattern",
        title="PyPI API token",
        severity="critical",
        help="A PyPI API token is stored in the image. Revoke it on pypi.org and use trusted "
        "publishing or a secret mount.",
        keywords=(b"pypi-AgE",),
        regex=re.compile(rb"(?P<secret>pypi-AgE[A-Za-z0-9_\-]{50,2000})"),
        max_length=2100,
    ),
    Rule(
        id="github-token",
        category="secret-pattern",
        title="GitHub token",
        severity="critical",
        help="A GitHub token (classic ghp_/gho_/ghu_/ghs_/ghr_ or fine-grained github_pat_) is "
        "stored in the image. Revoke it and pass tokens as secret mounts.",
        # one locator pass for both shapes (a second pass for the keyword cost as much)
        locator=re.compile(rb"(?:gh[pousr]|github_pat)_"),
        regex=re.compile(
            rb"(?P<secret>gh[pousr]_[A-Za-z0-9]{36,251}|github_pat_[A-Za-z0-9_]{22,255})"
            rb"(?![A-Za-z0-9_])"
        ),
        max_length=280,
        example_values=("ghp_xxxx", "ghp_0000", "ghp_1234567890", "ghp_abcdef", "ghp_ABCDEF"),
    ),
    Rule(
        id="aws-access-key-id",
        category="secret-pattern",
        title="AWS access key ID",
        severity="high",
        help="An AWS access key ID is stored in the image; its secret key is probably nearby. "
        "Deactivate the key and use roles or run-time credentials.",
        locator=re.compile(rb"A[KS]IA[0-9A-Z]{16}"),
        regex=re.compile(rb"(?P<secret>A[KS]IA[0-9A-Z]{16})(?![0-9A-Za-z])"),
        max_length=20,
        example_values=("AKIAIOSFODNN7EXAMPLE", "EXAMPLE", "AKIAXXXX", "AKIA0000"),
    ),
    Rule(
        id="private-key-block",
        category="secret-pattern",
        title="PEM private key",
        severity="critical",
        help="A PEM private key is stored in the image. Remove it, revoke it, and provide keys "
        "at run time or through secret mounts.",
        # (a label's words as one bounded class: hyperscan runs it 3x faster than the group)
        locator=re.compile(rb"-----BEGIN [A-Z0-9 ]{0,64}PRIVATE KEY-----"),  # (not certs)
        regex=re.compile(
            rb"-----BEGIN [A-Z0-9 ]{0,64}PRIVATE KEY-----[\r\n]+"
            rb"(?:[A-Za-z\-]+:[^\n]*\n)*[\r\n]*(?P<secret>[A-Za-z0-9+/=\r\n]{64,8192})"
        ),
        max_length=9000,
        scope="outside-packages",
    ),
    # -- package integrity ---------------------------------------------------------------
    Rule(
        id="package-file-modified",
        category="package-integrity",
        title="file owned by an installed package no longer matches its record",
        severity="medium",
        help="A file that an installed distribution's RECORD lists has another size or sha256 "
        "than the record says: a build step changed installed code after installing it. "
        "Reinstall the package, or patch it upstream, instead of editing site-packages.",
    ),
    # -- image config --------------------------------------------------------------------
    Rule(
        id="secret-variable",
        category="image-config",
        title="secret-looking variable with a literal value",
        severity="high",
        help="An ENV, LABEL or build argument whose name says it is a secret holds a literal "
        "value, which is recorded in the image config or history. Pass secrets with "
        "RUN --mount=type=secret, never ARG/ENV/LABEL.",
    ),
)

RULES_BY_ID = {rule.id: rule for rule in RULES}
PATTERN_RULES = tuple(r for r in RULES if r.category == "secret-pattern")
FILE_RULES = tuple(r for r in RULES if r.category == "credential-file")

# Names of variables that carry secrets (matched on the upper-cased name).
SECRET_NAME = re.compile(
    r"(?:^|_)(?:PASS|PASSWORD|PASSWD|PWD|TOKEN|SECRET|APIKEY|API_KEY|ACCESS_KEY|PRIVATE_KEY|"
    r"SECRET_KEY|CREDENTIALS?|AUTH|NETRC|NET_RC)(?:$|_)"
)
NOT_SECRET_NAME = re.compile(
    r"(?:_FILE|_PATH|_DIR|_URL|_ID|_HOST|_USER|_USERNAME|_TYPE|_METHOD|_ENABLED|_MODE|"
    r"_LENGTH|_EXPIRY|_PROVIDER)$|^GPG_KEY$|PUBLIC_KEY"
)

# Package trees (see the module docstring for the policy).
PACKAGE_TREE = re.compile(
    r"(?:^|/)(?:site|dist)-packages/|(?:^|/)node_modules/"
    r"|(?:^|/)lib/python\d[\d.]*/(?!site-packages/|dist-packages/)"
    r"|^usr/share/(?:doc|man|info|locale)/"
    r"|(?:^|/)(?:ana|mini)?conda\d?/pkgs/|^opt/conda/pkgs/"
)
INSTALLER_SUFFIXES = (".dist-info/direct_url.json", ".pth", ".egg-link")

PLACEHOLDER_WORDS = (
    "password",
    "passwd",
    "secret",
    "example",
    "changeme",
    "change_me",
    "change-me",
    "placeholder",
    "dummy",
    "redacted",
    "hunter2",
    "your",
    "token",
    "xxx",
    "***",
    "...",
    "username",
    "foobar",
    "tiger",
    "<",
    "${",
    "$(",
    "%(",
    "{" * 2,  # a template marker (spelt so that no template engine sees one here)
)
PLACEHOLDER_VALUES = frozenset(
    {
        "",
        "pass",
        "pwd",
        "pw",
        "user",
        "foo",
        "bar",
        "baz",
        "test",
        "admin",
        "guest",
        "root",
        "none",
        "null",
        "true",
        "false",
        "yes",
        "no",
        "0",
        "1",
        "x",
        "abc",
        "abc123",
        "123456",
        "qwerty",
        "login",
        "name",
        "key",
    }
)
_TEMPLATE = re.compile(
    r"^\$[A-Za-z_{(]|^%[sd(]|\{[A-Za-z_0-9]*\}|^<[^>]*>$|^\[[^\]]*\]$|^@[A-Z_]+@$"
)


# A credential file's secret field that is not filled in: ${VAR}, $VAR, $(cmd), <password>,
# %(name)s, a template marker, @VAR@, a mask (****, xxxx, ----), or nothing.
_UNFILLED = re.compile(
    r"^(?:\$\{[^}]*\}|\$[A-Za-z_][A-Za-z0-9_]*|\$\([^)]*\)|<[^<>]*>|%\([^)]*\)s"
    r"|\{\{[^}]*\}\}|@[A-Za-z_]+@|[*xX.#-]+)$"
)


def is_unfilled(value: str) -> bool:
    """True for a credential file's field that holds no secret (see `_UNFILLED`): stricter
    than `is_placeholder`, since a file found by its path is a strong signal."""
    v = value.strip().strip("\"'")
    return not v or _UNFILLED.match(v) is not None


def is_placeholder(value: str) -> bool:
    """True for values that are not real secrets: templates, masks, dictionary examples."""
    v = value.strip().strip("\"'")
    low = v.lower()
    if low in PLACEHOLDER_VALUES or len(v) < 4:
        return True
    if _TEMPLATE.search(v):
        return True
    if len(set(v)) <= 2:  # ****, xxxx, 0000, ...., xXxX
        return True
    return any(word in low for word in PLACEHOLDER_WORDS)


def in_package_tree(path: str) -> bool:
    """Is ``path`` (normalised, no leading '/') inside installed third-party code?"""
    if "-packages/" in path or "node_modules/" in path:
        slashed = "/" + path
        packaged = (
            "/site-packages/" in slashed
            or "/dist-packages/" in slashed
            or "/node_modules/" in slashed
        )
    elif "lib/python" in path or "pkgs/" in path:
        packaged = PACKAGE_TREE.search(path) is not None
    elif path.startswith("usr/share/"):
        packaged = path[10:].startswith(("doc/", "man/", "info/", "locale/"))
    else:
        return False
    return packaged and not path.endswith(INSTALLER_SUFFIXES)
