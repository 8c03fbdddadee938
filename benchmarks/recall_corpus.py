"""The labelled images of the recall benchmark (`recall.py`): the credential leaks teams really
leave in container images, one leak per image, and clean images (stock bases, the right way to
use a secret, and files that only look like secrets: placeholders, decoys, documentation).

Every secret is made here from the case's name (`Secrets`), never written in this file: the
repository holds no token a scanner (or a push protection) would take for a real one, and the
same case always builds the same bytes (so an image is built once and cached by content).

A case is a Dockerfile on a base image: ``files`` are copied in (text is formatted with the
case's secrets, bytes are copied as they are), then ``steps`` run; ``tools`` are the steps of a
stage on the Python base, for what the minimal base lacks (ssh-keygen), whose files ``steps``
copy (``COPY --from=tools``).

The base of a leak is ``MINIMAL``, Debian's busybox-static imported by .ci/provision (2 MB,
installed by dpkg, so its files are owned as in any Debian base): the layers a case adds are
the same bytes on any base, the peers read only those layers, and a 2 MB archive is saved and
audited in a fraction of a second where the 310 MB Python base took seconds, 53 times a run.
The bases' own false positives are measured once each, on their clean rows (``stock-*``). A
case whose leak depends on what its base holds keeps the Python base (the unowned file in a
site-packages whose other files pip's RECORDs own).  ``where`` is the part of a
finding's path that says the tool found *this* leak (``<config>``: the image config, which the
peers read as ``config.json``); ``canary`` says whether the leaked value is the build's index
password (the audit is given it as a netrc, as CI passes ``NET_RC``; otherwise it is given an
unrelated one); ``patterns`` whether a rule could see the leak without knowing the value.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import json
import tarfile
import zipfile
from dataclasses import dataclass, field
from urllib.parse import quote

PYTHON = "local/python:3.11-bookworm"
RAY = "local/ray:2.60.0-py311"
MINIMAL = "local/busybox:bookworm"
ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
URLSAFE = ALNUM + "-_"
UPPER32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"


class Secrets:
    """The secrets of one case, derived from its name: the same every run, distinct per case."""

    def __init__(self, name: str) -> None:
        self.name = name

    def _chars(self, kind: str, n: int, alphabet: str) -> str:
        out, counter = [], 0
        while len(out) < n:
            block = hashlib.sha256(f"{self.name}/{kind}/{counter}".encode()).digest()
            out += [alphabet[b % len(alphabet)] for b in block]
            counter += 1
        return "".join(out[:n])

    def _bytes(self, kind: str, n: int) -> bytes:
        return hashlib.sha256(f"{self.name}/{kind}".encode()).digest()[:n]

    def values(self) -> dict[str, str]:
        """Everything a case's text may name with ``{...}``."""
        pw = self._chars("pw", 22, ALNUM)
        pypi = "pypi-" + "AgEIcHlwaS5vcmc" + self._chars("pypi", 120, URLSAFE)
        github = "gh" + "p_" + self._chars("ghp", 36, ALNUM)
        actions = "gh" + "s_" + self._chars("ghs", 36, ALNUM)
        claims = {"sub": "ci-bot", "iss": "https://auth.example.com", "exp": 1893456000}
        jwt = ".".join(
            base64.urlsafe_b64encode(part).rstrip(b"=").decode()
            for part in (
                json.dumps({"alg": "HS256", "typ": "JWT"}).encode(),
                json.dumps(claims | {"jti": self._chars("jti", 16, ALNUM)}).encode(),
                self._bytes("sig", 32),
            )
        )
        special = self._chars("special", 14, ALNUM) + "@/#:%"
        return {
            "pw": pw,
            "pw_basic": base64.b64encode(f"ci-bot:{pw}".encode()).decode(),
            "pw_b64": base64.b64encode(pw.encode()).decode(),
            "special": special,
            "special_quoted": quote(special, safe=""),
            "pypi": pypi,
            "github": github,
            "actions": actions,
            "actions_basic": base64.b64encode(f"x-access-token:{actions}".encode()).decode(),
            "npm": "np" + "m_" + self._chars("npm", 36, ALNUM),
            "hf": "h" + "f_" + self._chars("hf", 34, ALNUM[:52]),
            "akid": "AK" + "IA" + self._chars("akid", 16, UPPER32),
            "aws_secret": self._chars("aws", 40, ALNUM + "+/"),
            "gcp_secret": "GOCSPX-" + self._chars("gcp", 28, URLSAFE),
            "gcp_refresh": "1//0" + self._chars("refresh", 60, URLSAFE),
            "jwt": jwt,
            "bearer": self._chars("bearer", 40, ALNUM),
        }


@dataclass(frozen=True)
class Case:
    name: str
    category: str
    where: str = ""  # ("" for a clean image)
    files: dict[str, object] = field(default_factory=dict)  # dest -> text (formatted) | bytes
    steps: tuple[str, ...] = ()  # Dockerfile lines after the COPYs (formatted)
    tools: tuple[str, ...] = ()  # Dockerfile lines of a stage "tools" on the Python base
    build_args: tuple[str, ...] = ()  # NAME=value (formatted)
    netrc_secret: bool = False  # the build mounts a netrc secret (id=netrc)
    canary: str | None = None  # the key of the leaked value when it is the index password
    patterns: bool = True  # could a rule see the leak without knowing the value?
    base: str = MINIMAL

    @property
    def clean(self) -> bool:
        return not self.where

    @property
    def stock(self) -> bool:
        """Is the image the base itself (nothing added)?"""
        return not (self.files or self.steps)

    def secrets(self) -> dict[str, str]:
        return Secrets(self.name).values()

    def index_password(self) -> str:
        """The password the audit is given: the leaked value, or one the image never saw."""
        values = self.secrets()
        return values[self.canary] if self.canary else Secrets(self.name + "/index").values()["pw"]

    def render(self, value):
        return value.format(**self.secrets()) if isinstance(value, str) else value


def _tgz(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz", format=tarfile.PAX_FORMAT) as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(data), 1700000000, 0o600
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def _zip(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            z.writestr(zipfile.ZipInfo(name, (2024, 1, 1, 0, 0, 0)), data)
    return out.getvalue()


def _case_bytes(name: str, build) -> bytes:
    """Bytes built from a case's secrets (an archive, another encoding)."""
    return build(Secrets(name).values())


NETRC = "machine nexus.example.com\n  login ci-bot\n  password {pw}\n"
PIP_URL = "https://ci-bot:{pw}@nexus.example.com/repository/pypi/simple"


def _netrc_text(s: dict[str, str]) -> bytes:
    return NETRC.format(**s).encode()


LEAKS: tuple[Case, ...] = (
    # -- netrc ------------------------------------------------------------------------------
    Case("netrc-file", "netrc", "root/.netrc", {"/root/.netrc": NETRC}, canary="pw"),
    Case(
        "netrc-default",
        "netrc",
        "root/.netrc",
        {"/root/.netrc": "default login ci-bot password {pw}\n"},
        canary="pw",
    ),
    Case(
        "netrc-token-login",
        "netrc",
        "home/app/.netrc",
        {"/home/app/.netrc": "machine github.com login {github} password x-oauth-basic\n"},
        canary="github",
    ),
    Case(
        "netrc-seed-copy",  # the seed article's final Dockerfile: the mounted secret copied
        "netrc",
        "root/.netrc",
        steps=(
            "RUN --mount=type=secret,id=netrc cp /run/secrets/netrc /root/.netrc && "
            "chmod 600 /root/.netrc",
        ),
        netrc_secret=True,
        canary="pw",
    ),
    # -- pip --------------------------------------------------------------------------------
    Case(
        "pip-conf",
        "pip",
        "etc/pip.conf",
        {"/etc/pip.conf": "[global]\nindex-url = " + PIP_URL + "\n"},
        canary="pw",
    ),
    Case(
        "pip-conf-user-extra",
        "pip",
        "root/.pip/pip.conf",
        {
            "/root/.pip/pip.conf": "[global]\nindex-url = https://pypi.org/simple\n"
            "extra-index-url =\n    " + PIP_URL + "\ntimeout = 60\n"
        },
        canary="pw",
    ),
    Case(
        "requirements-index-url",
        "pip",
        "app/requirements.txt",
        {"/app/requirements.txt": "--index-url " + PIP_URL + "\nrequests==2.32.3\n"},
        canary="pw",
    ),
    # -- .pypirc and twine ---------------------------------------------------------------------
    Case(
        "pypirc",
        "pypirc-twine",
        "root/.pypirc",
        {
            "/root/.pypirc": "[distutils]\nindex-servers =\n    pypi\n\n[pypi]\n"
            "username = __token__\npassword = {pypi}\n"
        },
        canary="pypi",
    ),
    Case(
        "pypirc-private",
        "pypirc-twine",
        "root/.pypirc",
        {
            "/root/.pypirc": "[distutils]\nindex-servers = nexus\n\n[nexus]\n"
            "repository = https://nexus.example.com/repository/pypi-internal/\n"
            "username = ci-bot\npassword = {pw}\n"
        },
        canary="pw",
    ),
    Case(
        "twine-command",
        "pypirc-twine",
        "app/release.sh",
        {
            "/app/release.sh": "#!/bin/sh\nset -e\npython -m build\n"
            "twine upload --repository-url https://nexus.example.com/repository/pypi-internal/"
            " -u ci-bot -p {pw} dist/*\n"
        },
        canary="pw",
    ),
    # -- uv -----------------------------------------------------------------------------------
    Case(
        "uv-credentials-store",
        "uv",
        "root/.local/share/uv/credentials/credentials.toml",
        {
            "/root/.local/share/uv/credentials/credentials.toml": "[[credential]]\nservice = "
            '"https://nexus.example.com/repository/pypi/simple"\nusername = "ci-bot"\n'
            'password = "{pw}"\n'
        },
        canary="pw",
    ),
    Case(
        "uv-toml-index",
        "uv",
        "root/.config/uv/uv.toml",
        {
            "/root/.config/uv/uv.toml": '[[index]]\nname = "nexus"\nurl = "' + PIP_URL + '"\n'
            "default = true\n"
        },
        canary="pw",
    ),
    Case(
        "uv-pyproject-index",
        "uv",
        "app/pyproject.toml",
        {
            "/app/pyproject.toml": '[project]\nname = "app"\nversion = "1.0"\n\n'
            '[[tool.uv.index]]\nname = "nexus"\nurl = "' + PIP_URL + '"\n'
        },
        canary="pw",
    ),
    # -- poetry -------------------------------------------------------------------------------
    Case(
        "poetry-auth",
        "poetry",
        "root/.config/pypoetry/auth.toml",
        {
            "/root/.config/pypoetry/auth.toml": '[http-basic.nexus]\nusername = "ci-bot"\n'
            'password = "{pw}"\n'
        },
        canary="pw",
    ),
    Case(
        "poetry-pypi-token",
        "poetry",
        "root/.config/pypoetry/auth.toml",
        {"/root/.config/pypoetry/auth.toml": '[pypi-token]\npypi = "{pypi}"\n'},
        canary="pypi",
    ),
    Case(
        "poetry-config",
        "poetry",
        "root/.config/pypoetry/config.toml",
        {
            "/root/.config/pypoetry/config.toml": "[virtualenvs]\nin-project = true\n\n"
            '[repositories.nexus]\nurl = "https://nexus.example.com/repository/pypi/simple"\n\n'
            '[http-basic.nexus]\nusername = "ci-bot"\npassword = "{pw}"\n'
        },
        canary="pw",
    ),
    # -- git ----------------------------------------------------------------------------------
    Case(
        "git-credentials",
        "git",
        "root/.git-credentials",
        {"/root/.git-credentials": "https://ci-bot:{github}@github.com\n"},
        canary="github",
    ),
    Case(
        "git-extraheader-basic",  # what actions/checkout persists
        "git",
        "app/.git/config",
        {
            "/app/.git/config": '[core]\n\trepositoryformatversion = 0\n[remote "origin"]\n'
            "\turl = https://github.com/example/app\n"
            '[http "https://github.com/"]\n\textraheader = AUTHORIZATION: basic {actions_basic}\n'
        },
        canary="actions",
    ),
    Case(
        "git-extraheader-bearer",
        "git",
        "root/.gitconfig",
        {
            "/root/.gitconfig": "[user]\n\tname = CI\n[http]\n"
            "\textraHeader = Authorization: Bearer {bearer}\n"
        },
        canary="bearer",
    ),
    Case(
        "git-remote-url",
        "git",
        "app/.git/config",
        {
            "/app/.git/config": '[remote "origin"]\n'
            "\turl = https://x-access-token:{actions}@github.com/example/app.git\n"
        },
        canary="actions",
    ),
    # -- docker and npm -----------------------------------------------------------------------
    Case(
        "docker-config",
        "docker-npm",
        "root/.docker/config.json",
        {
            "/root/.docker/config.json": '{{\n  "auths": {{\n    "registry.example.com": '
            '{{\n      "auth": "{pw_basic}"\n    }}\n  }}\n}}\n'
        },
        canary="pw",
    ),
    Case(
        "npmrc-token",
        "docker-npm",
        "root/.npmrc",
        {"/root/.npmrc": "//registry.npmjs.org/:_authToken={npm}\n"},
        canary="npm",
    ),
    Case(
        "npmrc-basic",
        "docker-npm",
        "app/.npmrc",
        {
            "/app/.npmrc": "registry=https://nexus.example.com/repository/npm/\n"
            "_auth={pw_basic}\nalways-auth=true\n"
        },
        canary="pw",
    ),
    # -- cloud and service credentials ----------------------------------------------------------
    Case(
        "aws-credentials",
        "cloud",
        "root/.aws/credentials",
        {
            "/root/.aws/credentials": "[default]\naws_access_key_id = {akid}\n"
            "aws_secret_access_key = {aws_secret}\n"
        },
    ),
    Case(
        "gcloud-adc",
        "cloud",
        "application_default_credentials.json",
        {
            "/root/.config/gcloud/application_default_credentials.json": '{{\n  "client_id": '
            '"32555940559.apps.googleusercontent.com",\n  "client_secret": "{gcp_secret}",\n'
            '  "refresh_token": "{gcp_refresh}",\n  "type": "authorized_user"\n}}\n'
        },
    ),
    Case(
        "kubeconfig-token",
        "cloud",
        "root/.kube/config",
        {
            "/root/.kube/config": "apiVersion: v1\nkind: Config\nclusters:\n- cluster:\n"
            "    server: https://k8s.example.com:6443\n  name: prod\nusers:\n- name: ci\n"
            "  user:\n    token: {jwt}\ncontexts:\n- context: {{cluster: prod, user: ci}}\n"
            "  name: prod\ncurrent-context: prod\n"
        },
    ),
    Case(
        "huggingface-token",
        "cloud",
        "root/.cache/huggingface/token",
        {"/root/.cache/huggingface/token": "{hf}"},
    ),
    # -- private keys ---------------------------------------------------------------------------
    Case(
        "ssh-key",
        "private-key",
        "root/.ssh/id_ed25519",
        tools=(
            "RUN mkdir -p /root/.ssh && ssh-keygen -q -t ed25519 -N '' -f /root/.ssh/id_ed25519",
        ),
        steps=("COPY --from=tools /root/.ssh /root/.ssh",),
    ),
    Case(
        "pem-key-elsewhere",
        "private-key",
        "app/certs/server.key",
        tools=(
            "RUN mkdir -p /app/certs && ssh-keygen -q -t rsa -b 2048 -m PEM -N '' "
            "-f /app/certs/server.key && rm /app/certs/server.key.pub",
        ),
        steps=("COPY --from=tools /app/certs /app/certs",),
    ),
    # -- tokens in files -------------------------------------------------------------------------
    Case(
        "jwt-in-yaml",
        "token-in-file",
        "app/config/settings.yaml",
        {
            "/app/config/settings.yaml": "api:\n  endpoint: https://api.example.com/v1\n"
            "  token: {jwt}\n"
        },
    ),
    Case(
        "bearer-in-config",
        "token-in-file",
        "app/config/client.ini",
        {
            "/app/config/client.ini": "[api]\nurl = https://api.example.com\n"
            "header = Authorization: Bearer {bearer}\n"
        },
        canary="bearer",
    ),
    Case(
        "github-token-in-source",
        "token-in-file",
        "app/deploy.py",
        {"/app/deploy.py": 'import requests\n\nGH = "{github}"\n'},
        canary="github",
    ),
    # -- command lines kept in files -----------------------------------------------------------
    Case(
        "curl-user-script",
        "command-line",
        "app/scripts/fetch-model.sh",
        {
            "/app/scripts/fetch-model.sh": "#!/bin/sh\nset -eu\ncurl -fsSL -u ci-bot:{pw} "
            "https://nexus.example.com/repository/raw/model.bin -o /tmp/model.bin\n"
        },
        canary="pw",
    ),
    Case(
        "curl-header-history",
        "command-line",
        "root/.bash_history",
        {
            "/root/.bash_history": 'ls -la\ncd /app\ncurl --header "Authorization: Basic '
            '{pw_basic}" https://nexus.example.com/service/rest/v1/status\nexit\n'
        },
        canary="pw",
    ),
    Case(
        "docker-login-history",
        "command-line",
        "root/.bash_history",
        {"/root/.bash_history": "docker login -u ci-bot -p {pw} registry.example.com\nexit\n"},
        canary="pw",
    ),
    # -- NAME_PASSWORD=value -----------------------------------------------------------------
    Case(
        "dotenv",
        "assignment",
        "app/.env",
        {"/app/.env": "DATABASE_HOST=db\nNEXUS_USER=ci-bot\nNEXUS_PASSWORD={pw}\nLOG_LEVEL=info\n"},
        canary="pw",
    ),
    Case(
        "unowned-site-packages-file",
        "assignment",
        "site-packages/build_env.txt",
        {
            "/usr/local/lib/python3.11/site-packages/build_env.txt": "NEXUS_USER=ci-bot\n"
            "NEXUS_PASSWORD={pw}\n"
        },
        canary="pw",
        base=PYTHON,  # beside the files pip's RECORDs own
    ),
    Case(
        "python-settings",
        "assignment",
        "app/settings.py",
        {"/app/settings.py": 'DEBUG = False\nDB_USER = "app"\nDB_PASSWORD = "{pw}"\n'},
        canary="pw",
    ),
    # -- the image config ------------------------------------------------------------------------
    Case(
        "env-password", "image-config", "<config>", steps=("ENV NEXUS_PASSWORD={pw}",), canary="pw"
    ),
    Case(
        "env-index-url",
        "image-config",
        "<config>",
        steps=("ENV PIP_INDEX_URL=" + PIP_URL,),
        canary="pw",
    ),
    Case(
        "label-token",
        "image-config",
        "<config>",
        steps=("LABEL com.example.registry-token={bearer}",),
        canary="bearer",
    ),
    Case(
        "arg-in-history",
        "image-config",
        "<config>",
        steps=("ARG NEXUS_PASSWORD", 'RUN test -n "$NEXUS_PASSWORD"'),
        build_args=("NEXUS_PASSWORD={pw}",),
        canary="pw",
    ),
    # -- encodings ----------------------------------------------------------------------------
    Case(
        "url-encoded",
        "encoded",
        "usr/local/pip.conf",
        {
            "/usr/local/pip.conf": "[global]\nindex-url = https://ci-bot:{special_quoted}"
            "@nexus.example.com/simple\n"
        },
        canary="special",
    ),
    Case(
        "base64-k8s-secret",
        "encoded",
        "app/deploy/secret.yaml",
        {
            "/app/deploy/secret.yaml": "apiVersion: v1\nkind: Secret\nmetadata:\n  name: nexus\n"
            "type: Opaque\ndata:\n  username: Y2ktYm90\n  password: {pw_b64}\n"
        },
        canary="pw",
    ),
    Case(
        "base64-wrapped-netrc",
        "encoded",
        "app/netrc.b64",
        {
            "/app/netrc.b64": _case_bytes(
                "base64-wrapped-netrc", lambda s: base64.encodebytes(_netrc_text(s))
            )
        },
        canary="pw",
        patterns=False,
    ),
    Case(
        "utf16le-netrc",
        "encoded",
        "app/creds.txt",
        {
            "/app/creds.txt": _case_bytes(
                "utf16le-netrc", lambda s: _netrc_text(s).decode().encode("utf-16")
            )
        },
        canary="pw",
        patterns=False,
    ),
    Case(
        "utf16be-env",
        "encoded",
        "app/env.txt",
        {
            "/app/env.txt": _case_bytes(
                "utf16be-env", lambda s: f"NEXUS_PASSWORD={s['pw']}\n".encode("utf-16-be")
            )
        },
        canary="pw",
        patterns=False,
    ),
    # -- deleted in a later layer --------------------------------------------------------------
    Case(
        "deleted-netrc",
        "deleted",
        "root/.netrc",
        {"/root/.netrc": NETRC},
        steps=("RUN rm /root/.netrc",),
        canary="pw",
    ),
    Case(
        "deleted-pip-conf",
        "deleted",
        "etc/pip.conf",
        {"/etc/pip.conf": "[global]\nindex-url = " + PIP_URL + "\n"},
        steps=("RUN grep -q index-url /etc/pip.conf && rm /etc/pip.conf",),  # read, then gone
        canary="pw",
    ),
    # -- nested archives -----------------------------------------------------------------------
    Case(
        "nested-tgz",
        "nested",
        "app/backup.tgz",
        {
            "/app/backup.tgz": _case_bytes(
                "nested-tgz", lambda s: _tgz({"root/.netrc": _netrc_text(s)})
            )
        },
        canary="pw",
    ),
    Case(
        "nested-zip-in-tgz",
        "nested",
        "opt/bundle.tar.gz",
        {
            "/opt/bundle.tar.gz": _case_bytes(
                "nested-zip-in-tgz",
                lambda s: _tgz(
                    {
                        "bundle/config.zip": _zip(
                            {"pip.conf": ("[global]\nindex-url = " + PIP_URL.format(**s)).encode()}
                        )
                    }
                ),
            )
        },
        canary="pw",
    ),
    Case(
        "nested-wheel",
        "nested",
        "internal_tools-1.0-py3-none-any.whl",
        {
            "/app/dist/internal_tools-1.0-py3-none-any.whl": _case_bytes(
                "nested-wheel",
                lambda s: _zip(
                    {
                        "internal_tools/_index.py": (
                            f'INDEX_URL = "{PIP_URL.format(**s)}"\n'.encode()
                        ),
                        "internal_tools-1.0.dist-info/METADATA": b"Name: internal-tools\n",
                    }
                ),
            )
        },
        canary="pw",
    ),
    Case(
        "gzip-no-suffix",
        "nested",
        "app/state.dat",
        {
            "/app/state.dat": _case_bytes(
                "gzip-no-suffix", lambda s: gzip.compress(_netrc_text(s), mtime=0)
            )
        },
        canary="pw",
        patterns=False,
    ),
)

JWT_IO_EXAMPLE_PARTS = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9",
    "SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c",
)

CLEAN: tuple[Case, ...] = (
    Case("stock-minimal-base", "clean"),
    Case("stock-python-base", "clean", base=PYTHON),
    Case("stock-ray-base", "clean", base=RAY),
    Case(
        "secret-mount",  # the product's pattern: the netrc mounted, read, never written
        "clean",
        steps=(
            "RUN --mount=type=secret,id=netrc,target=/root/.netrc grep -q password /root/.netrc",
        ),
        netrc_secret=True,
    ),
    Case(
        "placeholders",
        "clean",
        files={
            "/app/.netrc.example": "machine nexus.example.com\n  login ${{NEXUS_USER}}\n"
            "  password ${{NEXUS_PASSWORD}}\n",
            "/root/.netrc": "machine nexus.example.com login <user> password <password>\n",
            "/etc/pip.conf": "[global]\nindex-url = https://nexus.example.com/repository/pypi/simple\n",
            "/root/.npmrc": "//registry.npmjs.org/:_authToken=${{NPM_TOKEN}}\n",
            "/root/.docker/config.json": '{{"credsStore": "desktop", "auths": {{}}}}\n',
            "/root/.pypirc": "[pypi]\nusername = __token__\npassword = ${{PYPI_TOKEN}}\n",
            "/root/.config/uv/uv.toml": '[[index]]\nname = "nexus"\n'
            'url = "https://nexus.example.com/repository/pypi/simple"\n',
            "/root/.config/pypoetry/config.toml": "[repositories.nexus]\n"
            'url = "https://nexus.example.com/repository/pypi/simple"\n',
            "/root/.gitconfig": "[credential]\n\thelper = store\n[user]\n\tname = CI\n",
            "/app/.env.example": "NEXUS_USER=\nNEXUS_PASSWORD=changeme\nAPI_TOKEN=<your-token>\n"
            "DB_PASSWORD=${{DB_PASSWORD}}\n",
            "/app/settings.py": 'import os\n\nDB_PASSWORD = os.environ["DB_PASSWORD"]\n'
            'API_TOKEN = os.environ.get("API_TOKEN", "")\n',
            "/app/scripts/fetch.sh": '#!/bin/sh\ncurl -fsSL -u "$NEXUS_USER:$NEXUS_PASSWORD" '
            "https://nexus.example.com/x -o /tmp/x\n"
            'curl -H "Authorization: Bearer $TOKEN" https://api.example.com/v1\n'
            'twine upload -u __token__ -p "$PYPI_TOKEN" dist/*\n'
            'docker login -u ci-bot --password-stdin registry.example.com <"$PASSWORD_FILE"\n',
            "/app/deploy/secret.yaml": "apiVersion: v1\nkind: Secret\nmetadata:\n  name: nexus\n"
            "stringData:\n  password: ${{NEXUS_PASSWORD}}\n",
        },
    ),
    Case(
        "documentation",
        "clean",
        files={
            "/app/docs/configuration.md": "# Configuration\n\nPoint pip at the index:\n\n"
            "    pip install --index-url https://user:password@nexus.example.com/simple app\n\n"
            "or put `machine nexus.example.com login USER password PASSWORD` in ~/.netrc.\n"
            "AWS keys look like AKIAIOSFODNN7EXAMPLE / wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY.\n"
            "A token looks like `ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx`.\n"
            "Send it as `Authorization: Bearer <token>`; or `curl -u admin:admin`.\n"
            "An example JWT (from jwt.io): "
            + JWT_IO_EXAMPLE_PARTS[0]
            + ".eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ."
            + JWT_IO_EXAMPLE_PARTS[1]
            + "\n\n    -----BEGIN RSA PRIVATE KEY-----\n    ...\n"
            + "    -----END RSA PRIVATE KEY-----\n",
            "/app/tests/test_client.py": "from app import client\n\n\ndef test_login():\n"
            '    c = client.Client(user="alice", password="hunter2")\n'
            '    assert c.headers["Authorization"] == "Bearer test-token"\n',
        },
    ),
)

CASES: tuple[Case, ...] = LEAKS + CLEAN
