"""Credential files: the files that tools write credentials to, found by their path.

Paths and formats are those the tools document (netrc, pip, .pypirc for twine, uv, poetry,
git, docker and podman, npm, the cloud CLIs, Hugging Face, kubectl, ssh).  The examples are
ours; every secret in them is made up.
"""

from __future__ import annotations

import re

from .model import FileExample as Ex
from .model import FileRule

# userinfo of a URL: no '/' in the user (a match holds one '://', never two)
URL_USER = rb"[^\s/:@'\"<>{}()\[\]\\|^`]"
URL_SECRET = rb"[^\s/@'\"<>{}()\[\]\\|^`]"
URL_CREDENTIALS = re.compile(
    rb"://(?P<user>" + URL_USER + rb"{1,128}):(?P<secret>" + URL_SECRET + rb"{1,256})@"
    rb"(?P<host>[A-Za-z0-9][A-Za-z0-9.\-]{0,252}|\[[0-9A-Fa-f:.]+\])"
)
# ini-style secret lines of .pypirc and .npmrc
_CREDENTIAL_LINE = re.compile(
    rb"(?im)^[ \t]*(?:password|passwd|_password|_auth|_authtoken|//[^\s=]*:_authtoken|"
    rb"[^\s=]*:_auth(?:token)?|[^\s=]*:_password|aws_secret_access_key|aws_session_token)"
    rb"[ \t]*[=:][ \t]*(?P<secret>[^\s#;]{1,512})"
)
_DOCKER_AUTH = re.compile(
    rb"\"(?:auth|identitytoken|registrytoken|password)\"\s*:\s*\"(?P<secret>[^\"]{1,4096})\""
)
# poetry's auth.toml and config.toml: http-basic passwords and pypi-token values
_POETRY_SECRET = re.compile(
    rb"(?im)^[ \t]*(?:password|pypi|[A-Za-z0-9_-]*token[A-Za-z0-9_-]*)[ \t]*=[ \t]*"
    rb"[\"'](?P<secret>[^\"'\r\n]{1,1024})[\"']"
)
# git's config: an http.extraheader with credentials, or a URL with a password
_GIT_CONFIG_SECRET = re.compile(
    rb"(?i)(?:extraheader[ \t]*=[ \t]*\"?[ \t]*authorization:[ \t]*(?:basic|bearer|token)[ \t]+"
    rb"|://"
    + URL_USER
    + rb"{1,128}:)(?P<secret>[A-Za-z0-9._~+/=%!*-][A-Za-z0-9._~+/=%$!*-]{0,1023})"
)
_GIT_HELP = (
    "A git configuration holds credentials: an http.extraheader with an Authorization header "
    "(actions/checkout persists one unless persist-credentials: false), or a URL with a "
    "token. Remove it and rotate the token."
)
_KUBECONFIG_SECRET = re.compile(
    rb"(?im)^[ \t]*(?:token|password|client-key-data|id-token|refresh-token|access-token)"
    rb"[ \t]*:[ \t]*[\"']?(?P<secret>[^\s\"']{1,65536})"
)

FILE_RULES: tuple[FileRule, ...] = (
    FileRule(
        id="netrc-file",
        category="credential-file",
        title="netrc file in a layer",
        severity="critical",
        help="A .netrc holds index credentials. Mount it as a BuildKit secret "
        "(RUN --mount=type=secret,id=netrc and NETRC=/run/secrets/netrc) instead of COPYing or "
        "copying it: a later 'rm' does not remove it from the lower layer.",
        names=(".netrc", "_netrc"),
        fields="netrc",
        true_positives=(
            Ex("root/.netrc", "machine nexus.example.com login ci password Q7vLm2Rt9xWp\n"),
            Ex("home/ray/.netrc", "default login ci-bot password Hs8Kq3Vn5Lz1\n"),
            Ex(
                "root/_netrc",
                "machine github.com login ghp_Z8yXw7Vu6Ts5Rq4Po3Nm2Lk1Jh0Gf9Ed8Cb7A\n",
            ),
        ),
        false_positives=(
            Ex("root/.netrc", "machine nexus.example.com login ${USER} password ${PASSWORD}\n"),
            Ex("app/.netrc", "machine nexus.example.com login <user> password <password>\n"),
        ),
    ),
    FileRule(
        id="pip-config-credentials",
        category="credential-file",
        title="pip configuration with credentials",
        severity="critical",
        help="pip.conf/pip.ini holds an index URL with a password. Keep credentials in a "
        "secret-mounted netrc, and the URL in the config without userinfo.",
        names=("pip.conf", "pip.ini"),
        fields="content",
        content=URL_CREDENTIALS,
        true_positives=(
            Ex(
                "etc/pip.conf",
                "[global]\nindex-url = https://ci:Q7vLm2Rt9xWp@nexus.example.com/simple\n",
            ),
            Ex(
                "root/.pip/pip.ini",
                "[global]\nextra-index-url =\n  https://u:p%40ss9Zq@h.example/simple\n",
            ),
        ),
        false_positives=(
            Ex("etc/pip.conf", "[global]\nindex-url = https://nexus.example.com/simple\n"),
            Ex("etc/pip.conf", "[global]\nindex-url = https://${USER}:${PASSWORD}@nexus/simple\n"),
        ),
    ),
    FileRule(
        id="pypirc-file",
        category="credential-file",
        title=".pypirc with a password",
        severity="critical",
        help="A .pypirc with a password (an upload token, read by twine) is in the image. "
        "Remove it and rotate the token.",
        names=(".pypirc",),
        fields="content",
        content=_CREDENTIAL_LINE,
        true_positives=(
            Ex(
                "root/.pypirc",
                "[pypi]\nusername = __token__\npassword = pypi-AgEIcHlwaS5vcmcQ7vLm\n",
            ),
        ),
        false_positives=(
            Ex("root/.pypirc", "[pypi]\nusername = __token__\npassword = ${PYPI_TOKEN}\n"),
        ),
    ),
    FileRule(
        id="uv-credentials",
        category="credential-file",
        title="uv.toml index with credentials",
        severity="critical",
        help="A uv.toml index URL with a password is in the image. Give uv the secret-mounted "
        "netrc (NETRC) or UV_INDEX_*_PASSWORD from a secret mount.",
        names=("uv.toml",),
        fields="content",
        content=URL_CREDENTIALS,
        true_positives=(
            Ex(
                "root/.config/uv/uv.toml",
                '[[index]]\nurl = "https://ci:Q7vLm2Rt9xWp@nexus.example.com/simple"\n',
            ),
        ),
        false_positives=(
            Ex("root/.config/uv/uv.toml", '[[index]]\nurl = "https://nexus.example.com/simple"\n'),
        ),
    ),
    FileRule(
        id="uv-credential-store",
        category="credential-file",
        title="uv credential store",
        severity="critical",
        help="uv's credential store (uv auth login) is in the image. Remove it and rotate the "
        "credentials.",
        names=("credentials.toml",),
        parents=("uv/credentials",),
        true_positives=(
            Ex(
                "root/.local/share/uv/credentials/credentials.toml",
                '[[credential]]\npassword = "x"\n',
            ),
        ),
        false_positives=(Ex("app/credentials.toml", '[[credential]]\npassword = "x"\n'),),
    ),
    FileRule(
        id="poetry-credentials",
        category="credential-file",
        title="poetry credentials",
        severity="critical",
        help="poetry's auth.toml or config.toml holds an http-basic password or a PyPI token. "
        "Pass POETRY_HTTP_BASIC_*_PASSWORD from a secret mount instead, and rotate the "
        "credential.",
        names=("auth.toml", "config.toml"),
        parents=("pypoetry",),
        fields="content",
        content=_POETRY_SECRET,
        true_positives=(
            Ex(
                "root/.config/pypoetry/auth.toml",
                '[http-basic.nexus]\nusername = "ci"\npassword = "Q7vLm2Rt9xWp"\n',
            ),
            Ex(
                "root/.config/pypoetry/auth.toml",
                '[pypi-token]\npypi = "pypi-AgEIcHlwaS5vcmcQ7vLm2Rt9xWp"\n',
            ),
        ),
        false_positives=(
            Ex(
                "root/.config/pypoetry/config.toml",
                '[repositories.nexus]\nurl = "https://nexus.example.com/simple"\n',
            ),
            Ex("app/config.toml", '[http-basic.nexus]\npassword = "Q7vLm2Rt9xWp"\n'),
        ),
    ),
    FileRule(
        id="git-credentials",
        category="credential-file",
        title="git credential store",
        severity="critical",
        help="A git credential store is in the image. Remove it and rotate the tokens.",
        names=(".git-credentials",),
        fields="content",
        content=URL_CREDENTIALS,
        true_positives=(
            Ex("root/.git-credentials", "https://ci:ghp_Q7vLm2Rt9xWpQ7vLm2Rt9x@github.com\n"),
        ),
        false_positives=(Ex("root/.git-credentials", ""),),
    ),
    FileRule(
        id="git-config-credentials",
        category="credential-file",
        title="git configuration with credentials",
        severity="critical",
        help=_GIT_HELP,
        names=(".gitconfig", "gitconfig"),
        fields="content",
        content=_GIT_CONFIG_SECRET,
        true_positives=(
            Ex("root/.gitconfig", "[http]\n\textraHeader = Authorization: Bearer Q7vLm2Rt9xWpZ3\n"),
            Ex(
                "etc/gitconfig",
                '[url "https://ci:Q7vLm2Rt9xWp@git.example.com/"]\n\tinsteadOf = https://git.example.com/\n',
            ),
        ),
        false_positives=(
            Ex(
                "root/.gitconfig", "[http]\n\textraheader = Authorization: Bearer ${GITHUB_TOKEN}\n"
            ),
            Ex("root/.gitconfig", "[credential]\n\thelper = store\n"),
        ),
    ),
    FileRule(
        id="git-repository-credentials",
        category="credential-file",
        title="git repository or user configuration with credentials",
        severity="critical",
        help=_GIT_HELP,
        names=("config",),
        parents=(".git", "git"),
        fields="content",
        content=_GIT_CONFIG_SECRET,
        true_positives=(
            Ex(
                "app/.git/config",
                '[http "https://github.com/"]\n\textraheader = AUTHORIZATION: basic '
                "eC1hY2Nlc3MtdG9rZW46Z2hzX1E3dkxtMlJ0\n",
            ),
            Ex(
                "root/.config/git/config",
                "[http]\n\textraHeader = Authorization: token Q7vLm2Rt9xWpZ3\n",
            ),
            Ex(
                "app/.git/config",
                '[remote "origin"]\n\turl = https://x-access-token:ghs_Q7vLm2Rt9xWp@github.com/o/r\n',
            ),
        ),
        false_positives=(
            Ex("app/.git/config", '[remote "origin"]\n\turl = https://github.com/o/r\n'),
            Ex("etc/config", "[http]\n\textraheader = Authorization: Bearer Q7vLm2Rt9xWpZ3\n"),
        ),
    ),
    FileRule(
        id="docker-config-auth",
        category="credential-file",
        title="container registry credentials",
        severity="critical",
        help="A docker/podman auth file with registry credentials is in the image. Remove it "
        "and rotate the credentials.",
        names=("config.json", "auth.json"),
        parents=(".docker", "containers"),
        fields="docker-auth",
        content=_DOCKER_AUTH,
        true_positives=(
            Ex(
                "root/.docker/config.json",
                '{"auths": {"r.example.com": {"auth": "Y2k6UTd2TG0yUnQ5eFdw"}}}',
            ),
        ),
        false_positives=(
            Ex("root/.docker/config.json", '{"credsStore": "desktop", "auths": {}}'),
            Ex("root/.docker/config.json", '{"auths": {"r": {"auth": "Y2k6JHtQQVNTV09SRH0="}}}'),
        ),
    ),
    FileRule(
        id="npmrc-token",
        category="credential-file",
        title=".npmrc with a token",
        severity="critical",
        help="An .npmrc with an auth token is in the image. Use a secret mount and "
        "${NPM_TOKEN} expansion instead.",
        names=(".npmrc", "npmrc"),
        fields="content",
        content=_CREDENTIAL_LINE,
        true_positives=(
            Ex(
                "root/.npmrc",
                "//registry.npmjs.org/:_authToken=npm_Q7vLm2Rt9xWpQ7vLm2Rt9xWpQ7vLm2Rt9xWp\n",
            ),
            Ex(
                "app/.npmrc",
                "registry=https://nexus.example.com/npm/\n_auth=Y2k6UTd2TG0yUnQ5eFdw\n",
            ),
        ),
        false_positives=(Ex("root/.npmrc", "//registry.npmjs.org/:_authToken=${NPM_TOKEN}\n"),),
    ),
    FileRule(
        id="kubeconfig-credentials",
        category="credential-file",
        title="kubeconfig with credentials",
        severity="critical",
        help="A kubeconfig with a token, password or client key is in the image. Give "
        "workloads a service account at run time instead, and revoke the credential.",
        names=("config", "kubeconfig", "kubeconfig.yaml"),
        parents=(".kube",),
        fields="content",
        content=_KUBECONFIG_SECRET,
        true_positives=(
            Ex(
                "root/.kube/config",
                "users:\n- name: ci\n  user:\n    token: Q7vLm2Rt9xWpQ7vLm2Rt9xWp\n",
            ),
        ),
        false_positives=(
            Ex("root/.kube/config", "users:\n- name: ci\n  user:\n    exec:\n      command: aws\n"),
        ),
    ),
    FileRule(
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
        true_positives=(
            Ex("root/.aws/credentials", "[default]\naws_access_key_id = AKIA...\n"),
            Ex("root/.config/gcloud/application_default_credentials.json", "{}"),
        ),
        false_positives=(Ex("root/.aws/config", "[default]\nregion = eu-west-1\n"),),
    ),
    FileRule(
        id="huggingface-token",
        category="credential-file",
        title="Hugging Face token file",
        severity="critical",
        help="huggingface-cli login stored a token in the image. Pass HF_TOKEN from a secret "
        "mount at build time, or at run time, and revoke the token.",
        names=("token", "stored_tokens"),
        parents=("huggingface", ".huggingface"),
        true_positives=(
            Ex("root/.cache/huggingface/token", "hf_Q7vLm2Rt9xWpQ7vLm2Rt9xWpQ7vLm2Rt"),
        ),
        false_positives=(Ex("app/token", "hf_Q7vLm2Rt9xWpQ7vLm2Rt9xWpQ7vLm2Rt"),),
    ),
    FileRule(
        id="ssh-private-key",
        category="credential-file",
        title="SSH private key",
        severity="critical",
        help="An SSH private key is in the image. Use RUN --mount=type=ssh instead, remove the "
        "key and revoke it.",
        names=("id_rsa", "id_dsa", "id_ecdsa", "id_ed25519", "id_ecdsa_sk", "id_ed25519_sk"),
        true_positives=(Ex("root/.ssh/id_ed25519", "-----BEGIN OPENSSH PRIVATE KEY-----\n"),),
        false_positives=(Ex("root/.ssh/id_ed25519.pub", "ssh-ed25519 AAAAC3Nz ci@host\n"),),
    ),
    FileRule(
        id="run-secrets-file",
        category="credential-file",
        title="file left under /run/secrets",
        severity="critical",
        help="A non-empty file under /run/secrets was written into a layer: the secret was "
        "copied rather than mounted. (Empty mount points that build engines leave are not "
        "reported.)",
        under=("run/secrets/", "var/run/secrets/"),
        true_positives=(Ex("run/secrets/netrc", "machine h login u password p\n"),),
        false_positives=(Ex("run/secrets/netrc", ""),),
    ),
)
