"""Every rule the audit applies: its id, category, severity, help, and what it matches (see the
package docstring for the policy)."""

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
