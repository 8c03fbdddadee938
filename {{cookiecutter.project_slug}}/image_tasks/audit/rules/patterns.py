"""Secret patterns: text with the shape of a credential, for when no canary is known.

Token formats are public facts (the issuers document their prefixes; gitleaks, detect-secrets,
trufflehog and kingfisher list them too); the regexes and examples here are ours, and every
secret in them is made up.  Generic rules (``scope="outside-packages"``) skip files a package
manager owns (see `scope`); the token rules, whose shapes are specific, apply everywhere.
"""

from __future__ import annotations

import re

from .files import URL_CREDENTIALS, URL_SECRET, URL_USER
from .model import PatternRule
from .variables import FILE_SECRET_NAME, NOT_SECRET_NAME, NOT_SECRET_VALUE

_NETRC_HOST = rb"(?:machine[ \t\r\n]+(?P<host>\S{1,253})|default)"
_JWT = rb"eyJ[A-Za-z0-9_-]{10,2048}\.eyJ[A-Za-z0-9_-]{10,8192}\.[A-Za-z0-9_-]{16,1024}"
_AUTHORIZATION = (
    rb"(?i:authorization)[\"']?[ \t]*[:=][ \t]*[\"']?[ \t]*(?P<scheme>(?i:basic|bearer|token))"
    rb"[ \t]+"
)
# a shell command's continuation: the rest of the line, and lines ending in a backslash
_SAME_COMMAND = rb"(?:[^\n\\]|\\\r?\n|\\[^\r\n]){0,512}?"
_LOGIN_COMMAND = (
    rb"(?:(?:docker|podman|buildah|skopeo|nerdctl|oras|crane|helm[ \t]+registry)[ \t]+login"
    rb"|twine[ \t]+upload)\b"
)
_SECRET_WORD = (
    rb"(?i:pass(?:word|wd)?|pwd|token|secret|api_?key|access_?key|private_?key|credentials?)"
)
# a value as it stands (bare), or between quotes
_ASSIGNED = rb"[^\s\"'$<>{}()\[\]`,;]"
_QUOTED = rb"[^\s\"'$`]"

PATTERN_RULES: tuple[PatternRule, ...] = (
    PatternRule(
        id="url-credentials",
        category="secret-pattern",
        title="URL with a password in its userinfo",
        severity="high",
        help="A URL of the form scheme://user:password@host is stored in the image. Use a URL "
        "without credentials and a secret-mounted netrc.",
        # "://" alone is in most text files (every URL); user:secret@ after it is rare
        locators=(re.compile(rb"://" + URL_USER + rb"+:" + URL_SECRET + rb"+@"),),
        regex=URL_CREDENTIALS,
        max_length=700,
        scope="outside-packages",
        short_secret=8,  # docs say user:pass@, scott:tiger@
        redact=("secret", "user"),
        true_positives=(
            "pip install --index-url https://ci-bot:Q7vLm2Rt9xWp@nexus.example.com/simple app",
            "DATABASE_URL=postgres://app:Hs8Kq3Vn5Lz1@db:5432/app",
            "url = https://x-access-token:ghs_Q7vLm2Rt9xWp@github.com/o/r.git",
        ),
        false_positives=(
            "https://user:password@nexus.example.com/simple",
            "postgres://scott:tiger@localhost/db",
            "https://${USER}:${PASSWORD}@nexus/simple",
            "https://nexus.example.com/simple",
        ),
    ),
    PatternRule(
        id="netrc-entry",
        category="secret-pattern",
        title="netrc entry with a password",
        severity="high",
        help="Text in netrc syntax (machine ... password ..., or a default entry) is stored in "
        "the image, whatever the file's name. Mount the netrc as a secret instead.",
        # "machine" alone is in much of Ray's text ("machine learning"); a netrc token after
        # its host is not
        locators=(
            re.compile(rb"machine[ \t\r\n]+\S+[ \t\r\n]+(?:login|account|port|password)[ \t\r\n]"),
            re.compile(rb"default[ \t\r\n]+(?:login|account|port|password)[ \t\r\n]"),
        ),
        regex=re.compile(
            _NETRC_HOST + rb"(?:[ \t\r\n]+(?:login[ \t\r\n]+(?P<user>\S{1,256})"
            rb"|(?:account|port)[ \t\r\n]+\S{1,256})){0,3}"
            rb"[ \t\r\n]+password[ \t\r\n]+(?P<secret>\"[^\"\n]{1,256}\"|[^\s\"]{1,256})"
        ),
        max_length=1200,
        scope="outside-packages",
        anonymous_users=("anonymous", "ftp"),
        min_classes=2,  # prose reads as netrc too: "a machine for password history"
        true_positives=(
            "machine nexus.example.com login ci password Q7vLm2Rt9xWp",
            "machine nexus.example.com\n  login ci\n  password Q7vLm2Rt9xWp\n",
            "default login ci-bot password Hs8Kq3Vn5Lz1",
        ),
        false_positives=(
            "machine nexus.example.com login ${USER} password ${PASSWORD}",
            "machine learning models need a password",
            "a machine for password history",
            "default login anonymous password user@site",  # (anonymous FTP: an e-mail address)
        ),
    ),
    PatternRule(
        id="pypi-token",
        category="secret-pattern",
        title="PyPI API token",
        severity="critical",
        help="A PyPI API token is stored in the image. Revoke it on pypi.org and use trusted "
        "publishing or a secret mount.",
        keywords=(b"pypi-AgE",),
        regex=re.compile(rb"(?P<secret>pypi-AgE[A-Za-z0-9_\-]{50,2000})"),
        max_length=2100,
        placeholders="none",
        min_distinct=6,
        fixed_prefix=8,
        known_examples=("example",),
        true_positives=(
            "password = pypi-AgEIcHlwaS5vcmcCJDk0ZTFmNmI3LTc4YjItNGQ0Ni05NTRhLTg1ZWM2ZjYw"
            "YmM3NwACKlszLCJlMmQ",
        ),
        false_positives=(
            "password = pypi-AgEIcHlwaS5vcmc",  # too short to be one
            "pypi-AgEIcHlwaS5vcmcEXAMPLEEXAMPLEEXAMPLEEXAMPLEEXAMPLEEXAMPLEEXAMPLEEXAMPLE",
        ),
    ),
    PatternRule(
        id="github-token",
        category="secret-pattern",
        title="GitHub token",
        severity="critical",
        help="A GitHub token (classic ghp_/gho_/ghu_/ghs_/ghr_ or fine-grained github_pat_) is "
        "stored in the image. Revoke it and pass tokens as secret mounts.",
        # one locator for both shapes (a second term for the keyword cost as much)
        locators=(re.compile(rb"(?:gh[pousr]|github_pat)_"),),
        regex=re.compile(
            rb"(?P<secret>gh[pousr]_[A-Za-z0-9]{36,251}|github_pat_[A-Za-z0-9_]{22,255})"
            rb"(?![A-Za-z0-9_])"
        ),
        max_length=280,
        placeholders="none",
        min_distinct=6,
        fixed_prefix=8,
        known_examples=(
            "example",
            "ghp_xxxx",
            "ghp_0000",
            "ghp_1234567890",
            "ghp_abcdef",
            "ghp_ABCDEF",
        ),
        true_positives=(
            "GH_TOKEN=ghp_Z8yXw7Vu6Ts5Rq4Po3Nm2Lk1Jh0Gf9Ed8Cb7A",
            "github_pat_11ABCDEFG0Q7vLm2Rt9xWp_Hs8Kq3Vn5Lz1Q7vLm2Rt9xWpHs8Kq3Vn5Lz1Q7vLm2Rt9xWpHs8Kq3V",
        ),
        false_positives=(
            "token: ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
            "ghp_1234567890abcdefghijklmnopqrstuvwxyz",
            "ghp_short",
        ),
    ),
    PatternRule(
        id="aws-access-key-id",
        category="secret-pattern",
        title="AWS access key ID",
        severity="high",
        help="An AWS access key ID is stored in the image; its secret key is probably nearby. "
        "Deactivate the key and use roles or run-time credentials.",
        locators=(re.compile(rb"A[KS]IA[0-9A-Z]{16}"),),
        # bounded on both sides, as the issuer's IDs stand and gitleaks' rule reads them
        regex=re.compile(rb"(?<![0-9A-Za-z])(?P<secret>A[KS]IA[0-9A-Z]{16})(?![0-9A-Za-z])"),
        max_length=21,  # (one byte past the key, for the lookahead)
        placeholders="none",
        min_distinct=5,
        fixed_prefix=4,
        known_examples=("AKIAIOSFODNN7EXAMPLE", "EXAMPLE", "AKIAXXXX", "AKIA0000"),
        true_positives=(
            "aws_access_key_id = AKIAZ7QW3RT5YU2IO4PL",
            "https://bucket.s3.amazonaws.com/k?AWSAccessKeyId=ASIAZ7QW3RT5YU2IO4PL&Expires=1",
        ),
        false_positives=(
            "AKIAIOSFODNN7EXAMPLE",
            "AKIA0000000000000000",
            "AKIAZ7QW3RT5YU2IO4PLX",
            # base64 that spells the shape: Pillow's PIL/ImageFont.py (its embedded font),
            # as it stands and with the run ending at a '/' (only the left boundary tells)
            "QAHAEwAAQAAAAAAAgAHAGQAAQAAAAAAAwAaAKIAAQAAAAAABAAHAM0AAQAAAAAABQA8AU8AAQAA",
            "QAHAEwAAQAAAAAAAgAHAGQAAQAAAAAAAwAaAKIAAQAAAAAABAAHAM0A/QAAAAAABQA8AU8AAQAA",
        ),
    ),
    PatternRule(
        id="npm-token",
        category="secret-pattern",
        title="npm access token",
        severity="critical",
        help="An npm access token is stored in the image. Revoke it on npmjs.com and pass it "
        "as a secret mount (${NPM_TOKEN} in .npmrc).",
        keywords=(b"npm_",),
        regex=re.compile(rb"(?<![A-Za-z0-9_])(?P<secret>npm_[A-Za-z0-9]{36})(?![A-Za-z0-9_])"),
        max_length=41,
        placeholders="none",
        min_distinct=8,
        fixed_prefix=4,
        known_examples=("example",),
        true_positives=(
            "//registry.npmjs.org/:_authToken=npm_Q7vLm2Rt9xWpHs8Kq3Vn5Lz1Q7vLm2Rt9xWp",
        ),
        false_positives=(
            "npm_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
            "npm_config_cache_lock_stale_1234567890ab",
        ),
    ),
    PatternRule(
        id="huggingface-token",
        category="secret-pattern",
        title="Hugging Face token",
        severity="critical",
        help="A Hugging Face access token is stored in the image. Revoke it and pass HF_TOKEN "
        "at run time or as a secret mount.",
        keywords=(b"hf_",),
        regex=re.compile(rb"(?<![A-Za-z0-9_])(?P<secret>hf_[A-Za-z]{34})(?![A-Za-z0-9_])"),
        max_length=38,
        placeholders="none",
        min_distinct=10,
        fixed_prefix=3,
        known_examples=("example",),
        true_positives=("HF_TOKEN=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",),
        false_positives=(
            "hf_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
            "hf_hub_download_cache_dir_for_tests",
        ),
    ),
    PatternRule(
        id="gitlab-token",
        category="secret-pattern",
        title="GitLab personal access token",
        severity="critical",
        help="A GitLab access token is stored in the image. Revoke it and pass tokens as "
        "secret mounts.",
        keywords=(b"glpat-",),
        regex=re.compile(rb"(?P<secret>glpat-[A-Za-z0-9_\-]{20,64})(?![A-Za-z0-9_\-])"),
        max_length=70,
        placeholders="none",
        min_distinct=8,
        fixed_prefix=6,
        known_examples=("example",),
        true_positives=("CI_TOKEN=glpat-Q7vLm2Rt9xWpHs8Kq3Vn",),
        false_positives=("glpat-xxxxxxxxxxxxxxxxxxxx", "glpat-EXAMPLEtokenEXAMPLE"),
    ),
    PatternRule(
        id="slack-token",
        category="secret-pattern",
        title="Slack token",
        severity="high",
        help="A Slack bot, user or app token is stored in the image. Revoke it and pass it at "
        "run time.",
        keywords=(b"xox",),
        regex=re.compile(
            rb"(?<![A-Za-z0-9])(?P<secret>xox[baprs]-[0-9]{8,14}-[0-9A-Za-z-]{8,120})"
            rb"(?![A-Za-z0-9-])"
        ),
        max_length=140,
        placeholders="none",
        min_distinct=8,
        fixed_prefix=5,
        known_examples=("example", "xxxx"),
        true_positives=(
            "SLACK_BOT_TOKEN=xoxb-263594206564-2343594206574-Q7vLm2Rt9xWpHs8Kq3Vn5Lz1",
        ),
        false_positives=(
            "xoxb-000000000000-0000000000000-xxxxxxxxxxxxxxxxxxxxxxxx",
            "xoxb-your-token",
        ),
    ),
    PatternRule(
        id="google-client-secret",
        category="secret-pattern",
        title="Google OAuth client secret",
        severity="high",
        help="A Google OAuth client secret is stored in the image. Rotate it in the Google "
        "Cloud console and give workloads credentials at run time.",
        keywords=(b"GOCSPX-",),
        regex=re.compile(rb"(?P<secret>GOCSPX-[A-Za-z0-9_\-]{28})(?![A-Za-z0-9_\-])"),
        max_length=36,
        placeholders="none",
        min_distinct=8,
        fixed_prefix=7,
        known_examples=("example",),
        true_positives=('"client_secret": "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"',),
        false_positives=("GOCSPX-xxxxxxxxxxxxxxxxxxxxxxxxxxxx",),
    ),
    PatternRule(
        id="private-key-block",
        category="secret-pattern",
        title="PEM private key",
        severity="critical",
        help="A PEM private key is stored in the image. Remove it, revoke it, and provide keys "
        "at run time or through secret mounts.",
        # (a label's words as one bounded class: hyperscan runs it 3x faster than the group)
        locators=(re.compile(rb"-----BEGIN [A-Z0-9 ]{0,64}PRIVATE KEY-----"),),  # (not certs)
        regex=re.compile(
            rb"-----BEGIN [A-Z0-9 ]{0,64}PRIVATE KEY-----[\r\n]+"
            rb"(?:[A-Za-z\-]+:[^\n]*\n)*[\r\n]*(?P<secret>[A-Za-z0-9+/=\r\n]{64,8192})"
        ),
        max_length=9000,
        scope="outside-packages",
        placeholders="none",
        min_length=64,
        true_positives=(
            "-----BEGIN RSA PRIVATE KEY-----\n"
            + "MIIEpAIBAAKCAQEAq7vLm2Rt9xWpHs8Kq3Vn5Lz1Q7vLm2Rt9xWp\n" * 3,
        ),
        false_positives=(
            "-----BEGIN RSA PRIVATE KEY-----\n...\n-----END RSA PRIVATE KEY-----\n",
            "-----BEGIN CERTIFICATE-----\n"
            + "MIIEpAIBAAKCAQEAq7vLm2Rt9xWpHs8Kq3Vn5Lz1Q7vLm2Rt9xWp\n" * 3,
        ),
    ),
    PatternRule(
        id="jwt",
        category="secret-pattern",
        title="JSON Web Token",
        severity="high",
        help="A signed JSON Web Token (a bearer credential: whoever holds it acts as its "
        "subject until it expires) is stored in the image. Revoke it, and fetch tokens at "
        "run time.",
        locators=(re.compile(rb"eyJ[A-Za-z0-9_-]{10,}\.eyJ"),),
        regex=re.compile(rb"(?P<secret>" + _JWT + rb")(?![A-Za-z0-9_\-.=])"),
        max_length=11300,
        scope="outside-packages",
        check="jwt",
        placeholders="none",
        # jwt.io's example token, in countless docs
        known_examples=("SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c",),
        true_positives=(
            "token: eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"
            ".eyJzdWIiOiJjaS1ib3QiLCJleHAiOjE4OTM0NTYwMDB9"
            ".Q7vLm2Rt9xWpHs8Kq3Vn5Lz1Q7vLm2Rt9xWpHs8Kq3Vn",
        ),
        false_positives=(
            "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwi"
            "aWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c",
            # not a JWT: the header is no JSON object with an "alg"
            "eyJ4eHh4eHh4eHh4eHgiOjF9.eyJzdWIiOiJjaS1ib3QiLCJleHAiOjE4OTM0NTYwMDB9.Q7vLm2Rt9xWpHs8Kq3Vn",
        ),
    ),
    PatternRule(
        id="authorization-header",
        category="secret-pattern",
        title="HTTP Authorization header with a credential",
        severity="high",
        help="An Authorization header with a literal credential (Basic, Bearer or token) is "
        "stored in the image: in a script, a shell history, a client configuration or git's "
        "http.extraheader. Read the credential from a secret mount at run time instead.",
        locators=(re.compile(_AUTHORIZATION),),
        regex=re.compile(_AUTHORIZATION + rb"(?P<secret>[A-Za-z0-9._~+/=\-]{8,4096})"),
        max_length=4200,
        scope="outside-packages",
        check="authorization",
        min_distinct=6,
        min_classes=2,
        true_positives=(
            'curl -H "Authorization: Bearer Q7vLm2Rt9xWpHs8Kq3Vn5Lz1" https://api.example.com',
            "\textraheader = AUTHORIZATION: basic eC1hY2Nlc3MtdG9rZW46Z2hzX1E3dkxtMlJ0OXhXcA==",
            'headers = {"Authorization": "token Hs8Kq3Vn5Lz1Q7vLm2Rt"}',
        ),
        false_positives=(
            'curl -H "Authorization: Bearer $TOKEN" https://api.example.com',
            "Authorization: Bearer <token>",
            "Authorization: Bearer XXXXXXXXXXXX",
            "Authorization: Basic dXNlcjpwYXNzd29yZA==",  # user:password
            'assert headers["Authorization"] == "Bearer test-token"',
            "the Authorization: token authentication scheme",
        ),
    ),
    PatternRule(
        id="curl-user-password",
        category="secret-pattern",
        title="curl command with a password",
        severity="high",
        help="A curl command with -u/--user user:password is kept in the image (a script, a "
        "shell history). Read the credential from a netrc mounted as a secret (curl --netrc) "
        "instead.",
        keywords=(b"curl",),
        regex=re.compile(
            rb"curl\b" + _SAME_COMMAND + rb"[ \t](?:-u|--user)(?:[ \t]+|=)(?P<q>[\"']?)"
            rb"(?P<user>[^\s:\"'$`]{1,128}):(?P<secret>[^\s\"'`]{1,256})(?P=q)(?=\s|$)"
        ),
        max_length=1200,
        scope="outside-packages",
        true_positives=(
            "curl -fsSL -u ci-bot:Q7vLm2Rt9xWp https://nexus.example.com/raw/model.bin",
            "curl -s \\\n  --user 'deploy:Hs8Kq3Vn5Lz1' https://api.example.com",
        ),
        false_positives=(
            'curl -u "$NEXUS_USER:$NEXUS_PASSWORD" https://nexus.example.com/x',
            "curl -u admin:admin http://localhost:8080",
            "curl --user user:password https://example.com",
            "or `curl -u admin:admin`.",
            "docker run -u 1000:100 image",
        ),
    ),
    PatternRule(
        id="cli-password-option",
        category="secret-pattern",
        title="login or upload command with a password",
        severity="high",
        help="A registry login or an upload (docker/podman login -p, twine upload -p, "
        "--password) with a literal password is kept in the image. Use --password-stdin from "
        "a secret mount, or a credential helper.",
        locators=(re.compile(_LOGIN_COMMAND),),
        regex=re.compile(
            _LOGIN_COMMAND + _SAME_COMMAND + rb"[ \t](?:-p|--password)(?:[ \t]+|=)(?P<q>[\"']?)"
            rb"(?P<secret>[^\s\"'|;&`]{1,256})(?P=q)(?=\s|$)"
        ),
        max_length=1200,
        scope="outside-packages",
        true_positives=(
            "docker login -u ci-bot -p Q7vLm2Rt9xWp registry.example.com",
            "twine upload -u __token__ --password=pypi-Hs8Kq3Vn5Lz1Q7vLm2Rt dist/*",
        ),
        false_positives=(
            'docker login -u ci-bot -p "$REGISTRY_PASSWORD" registry.example.com',
            "docker login -u ci-bot --password-stdin registry.example.com",
            "podman login -u user -p password quay.io",
        ),
    ),
    PatternRule(
        id="secret-assignment",
        category="secret-pattern",
        title="secret-looking variable with a literal value in a file",
        severity="high",
        help="A line assigns a literal value to a variable whose name says it is a secret "
        '(NAME_PASSWORD=..., token: ..., api_key = "..."): an .env file, a settings module, '
        "a file a build step left in a package tree. Read secrets from a secret mount or the "
        "environment at run time instead.",
        # a name that ends in a secret word, its separator and eight characters of a literal
        # value, at a line's start (a name with the word inside, tokens = ..., would send
        # every tokenizer of the Ray image down the slow path: 13k candidates, not 700)
        locators=(
            re.compile(
                rb"(?m)^[ \t]*(?:export[ \t]+)?[\"']?(?:[A-Za-z0-9.\-]*[_.\-])?"
                + _SECRET_WORD
                + rb"[\"']?[ \t]*(?::=|[:=])[ \t]*[\"']?"
                + _ASSIGNED
                + rb"{8}"
            ),
        ),
        regex=re.compile(
            rb"(?m)^[ \t]*(?:export[ \t]+)?(?P<nq>[\"']?)(?P<name>[A-Za-z_][A-Za-z0-9_.\-]{0,127})"
            rb"(?P=nq)[ \t]*(?::=|[:=])[ \t]*(?P<q>[\"'])?(?P<secret>(?(q)"
            + _QUOTED
            + rb"{1,512}|"
            + _ASSIGNED
            + rb"{1,512}))(?(q)(?P=q))[ \t]*(?:[,;]|#.*|//.*)?\r?$"
        ),
        max_length=800,
        scope="outside-packages",
        min_length=8,
        min_distinct=5,
        min_classes=2,
        variable="name",
        secret_names=FILE_SECRET_NAME,
        not_secret_names=NOT_SECRET_NAME,
        not_secrets=NOT_SECRET_VALUE,
        true_positives=(
            "NEXUS_PASSWORD=Q7vLm2Rt9xWp",
            'DB_PASSWORD = "Hs8Kq3Vn5Lz1"',
            "export API_TOKEN='Q7vLm2Rt9xWpHs8K'",
            "  password: UTd2TG0yUnQ5eFdw",
            '"client_secret": "Hs8Kq3Vn5Lz1Q7vL",',
        ),
        false_positives=(
            "NEXUS_PASSWORD=changeme",
            "DB_PASSWORD=${DB_PASSWORD}",
            'DB_PASSWORD = os.environ["DB_PASSWORD"]',
            "token = self.tokenizer.encode(text)",
            "api_key = args.api_key",
            "PASSWORD_FILE=/run/secrets/password",
            "TOKEN_URL=https://auth.example.com/token",
            "AUTH_TIMEOUT=86400000",
            "password = getpass.getpass()",
            "secret = pass:insta # openssl.cnf's example",
            "                'token': tstring,",
            "credentials = stored_credentials",
            "token_ids = Q7vLm2Rt9xWpHs8K",  # (the name must end in the secret word)
        ),
    ),
)
