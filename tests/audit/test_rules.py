"""Each rule fires on what it is for, and stays quiet on placeholders and examples."""

from __future__ import annotations

import base64
import hashlib

import pytest
from audit_builders import Image, docker_oci, layer, write
from image_tasks import audit

GH = "ghp_" + "aB3dE5fG7hJ9kL1mN2pQ4rS6tU8vW0xY2zA4"
PYPI = "pypi-AgEIcHlwaS5vcmcCJGQ4ZmM5YjZlLTk2YjMtNDk1Ny1iNjE0LWM2NjZjYjI0NTU0ZQACKlsz"
AWS = "AKIAZ7QW3RT5YU7IO9PB"
KEY_BODY = base64.b64encode(bytes(range(256)) * 2).decode()
PRIVATE_KEY = (
    "-----BEGIN OPENSSH PRIVATE KEY-----\n"
    + "\n".join(KEY_BODY[i : i + 64] for i in range(0, 320, 64))
    + "\n-----END OPENSSH PRIVATE KEY-----\n"
)


def scan(tmp_path, *files, **kwargs):
    path = write(tmp_path, docker_oci(Image(layers=[layer(*files)])), "r.tar")
    return audit.run(path, **kwargs)


def record(site: str, dist: str, files) -> tuple[str, bytes]:
    """A dist-info RECORD owning ``files`` (paths under ``site``), as pip writes it."""
    lines = []
    for path, data in files:
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        lines.append(f"{path[len(site) + 1 :]},sha256={digest},{len(data)}")
    lines.append(f"{dist}.dist-info/RECORD,,")
    return f"{site}/{dist}.dist-info/RECORD", ("\n".join(lines) + "\n").encode()


def rules_of(report):
    return {f.rule for f in report.findings}


@pytest.mark.parametrize(
    ("path", "content", "rule"),
    [
        ("root/.netrc", b"machine h login u password p4ssQw9zLx\n", "netrc-file"),
        ("home/ray/_netrc", b"default login tok\n", "netrc-file"),
        (
            "etc/pip.conf",
            b"[global]\nindex-url = https://u:Qw9zLx7Tp2@nexus.corp/simple\n",
            "pip-config-credentials",
        ),
        (
            "root/.config/pip/pip.ini",
            b"[global]\nextra-index-url=https://a:Zr8Kq2Lm5x@h/s\n",
            "pip-config-credentials",
        ),
        ("root/.pypirc", b"[pypi]\nusername = __token__\npassword = Zr8Kq2Lm5xWq\n", "pypirc-file"),
        (
            "root/.config/uv/uv.toml",
            b'[[index]]\nurl = "https://u:Zr8Kq2Lm5x@h/simple"\n',
            "uv-credentials",
        ),
        (
            "root/.local/share/uv/credentials/credentials.toml",
            b'[[credential]]\nx="y"\n',
            "uv-credential-store",
        ),
        ("root/.git-credentials", b"https://u:Zr8Kq2Lm5x@github.com\n", "git-credentials"),
        (
            "root/.docker/config.json",
            b'{"auths": {"ghcr.io": {"auth": "dTpacjhLcTJMbTV4"}}}',
            "docker-config-auth",
        ),
        ("root/.npmrc", b"//registry.npmjs.org/:_authToken=npm_Zr8Kq2Lm5xWq7Ty\n", "npmrc-token"),
        ("root/.aws/credentials", b"[default]\naws_secret_access_key = abc\n", "cloud-credentials"),
        ("root/.config/gcloud/application_default_credentials.json", b"{}", "cloud-credentials"),
        ("root/.azure/msal_token_cache.json", b"{}", "cloud-credentials"),
        ("root/.ssh/id_ed25519", PRIVATE_KEY.encode(), "ssh-private-key"),
        ("run/secrets/netrc", b"machine h login u password p\n", "run-secrets-file"),
    ],
)
def test_credential_files(tmp_path, path, content, rule):
    assert rule in rules_of(scan(tmp_path, (path, content)))


@pytest.mark.parametrize(
    ("path", "content"),
    [
        ("etc/pip.conf", b"[global]\nindex-url = https://nexus.corp/simple\n"),
        ("root/.npmrc", b"//registry.npmjs.org/:_authToken=${NPM_TOKEN}\n"),
        ("root/.docker/config.json", b'{"auths": {}, "credsStore": "desktop"}'),
        ("root/.pypirc", b"[pypi]\nusername = __token__\n"),
        ("root/.netrc", b""),
        ("run/secrets/netrc", b""),
    ],
)
def test_credential_files_without_credentials(tmp_path, path, content):
    report = scan(tmp_path, ("run/secrets", {"dir": True}), (path, content))
    assert report.findings == []


@pytest.mark.parametrize(
    ("content", "rule"),
    [
        (b"INDEX = 'https://ci:Qw9zLx7Tp2Vb@nexus.corp/simple'\n", "url-credentials"),
        (b"# copied\nmachine nexus.corp login ci password Qw9zLx7Tp2Vb\n", "netrc-entry"),
        (f"token = '{PYPI}'\n".encode(), "pypi-token"),
        (f"TOKEN={GH}\n".encode(), "github-token"),
        (
            b"t = 'github_pat_11ABCDEFG0abcdefghijKLMNOP_qrstuvwxyz0123456789"
            b"ABCDEFGHIJKLMNOPQRS'\n",
            "github-token",
        ),
        (f"key_id = {AWS}\n".encode(), "aws-access-key-id"),
        (PRIVATE_KEY.replace("OPENSSH ", "RSA ").encode(), "private-key-block"),
    ],
)
def test_patterns(tmp_path, content, rule):
    report = scan(tmp_path, ("srv/app/settings.py", content))
    assert rule in rules_of(report)
    finding = next(f for f in report.findings if f.rule == rule)
    assert finding.path == "/srv/app/settings.py"
    assert finding.layer == 0


@pytest.mark.parametrize(
    "content",
    [
        b"url = 'https://user:password@host/simple'\n",
        b"url = 'https://${USER}:${PASSWORD}@nexus/simple'\n",
        b"url = 'https://$USER:$TOKEN@nexus/simple'\n",
        b"url = f'https://{user}:{password}@{host}/simple'\n",
        b"url = 'https://<user>:<password>@host/'\n",
        b"url = 'https://user:****@host/'\n",
        b"url = 'https://user:xxx@host/'\n",
        b"url = 'https://admin:changeme@host/'\n",
        b"url = 'https://scott:tiger@localhost/db'\n",
        b"url = 'https://u:%s@%s' % (p, h)\n",
        b"machine example.com login user password <password>\n",
        b"aws_access_key_id = AKIAIOSFODNN7EXAMPLE\n",
        b"token = ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n",
        b"-----BEGIN RSA PRIVATE KEY-----\n...\n-----END RSA PRIVATE KEY-----\n",
    ],
)
def test_placeholders_are_not_findings(tmp_path, content):
    assert scan(tmp_path, ("srv/app/settings.py", content)).findings == []


def test_package_tree_policy(tmp_path):
    site = "usr/local/lib/python3.11/site-packages"
    example = b"# e.g. https://someone:Qw9zLx7Tp2Vb@pypi.example/simple\n"
    files = [
        (f"{site}/pip/_internal/models/link.py", example),
        (f"{site}/pkg/tests/keys/test.key", PRIVATE_KEY.replace("OPENSSH ", "").encode()),
        (f"{site}/pkg/docs/netrc.txt", b"machine h login u password Qw9zLx7Tp2Vb\n"),
    ]
    owned = [*files, record(site, "pkg-1.0", files)]
    assert scan(tmp_path, *owned).findings == []
    # the same files, owned by no package: every rule
    unowned = rules_of(scan(tmp_path, *files))
    assert {"url-credentials", "private-key-block", "netrc-entry"} <= unowned
    strict = scan(tmp_path, *owned, strict=True)
    assert {"url-credentials", "private-key-block", "netrc-entry"} <= rules_of(strict)
    # token rules, canaries and installer-written files are checked inside packages too
    report = scan(
        tmp_path,
        (f"{site}/pkg/config.py", f"T = '{GH}'\n".encode()),
        (
            f"{site}/pkg-1.0.dist-info/direct_url.json",
            b'{"url": "https://u:Qw9zLx7Tp2Vb@nexus.corp/pkg.whl"}',
        ),
        (f"{site}/other/data.bin", b"\0\0Qw9zLx7Tp2VbX\0"),
        canaries=["Qw9zLx7Tp2VbX"],
    )
    assert rules_of(report) == {"github-token", "url-credentials", "canary"}


def test_binary_files_get_canaries_not_patterns(tmp_path):
    data = b"\0ELF" + f" {GH} ".encode() + b"\0" * 10
    assert scan(tmp_path, ("usr/lib/libx.so", data)).findings == []
    assert rules_of(scan(tmp_path, ("usr/lib/libx.so", data), canaries=[GH])) == {"canary"}


def test_symlink_target_and_file_name_canaries(tmp_path):
    secret = "Qw9zLx7Tp2VbNm"
    report = scan(
        tmp_path,
        ("etc/link", {"symlink": f"/opt/{secret}/x"}),
        (f"tmp/{secret}.txt", b"x"),
        canaries=[secret],
    )
    assert {(f.rule, f.location) for f in report.findings} == {
        ("canary", "link"),
        ("canary", "name"),
    }


def test_pattern_straddling_pieces_of_a_large_text_file(tmp_path):
    filler = b"# " + b"a" * 77 + b"\n"
    body = filler * ((1 << 20) // 80 - 1) + b"x = 'https://ci:Qw9zLx7Tp2Vb@nexus.corp/s'\n"
    body += filler * 2000
    report = scan(tmp_path, ("srv/big.py", body))
    assert rules_of(report) == {"url-credentials"}


def test_a_match_that_starts_inside_a_failed_candidate_is_found(tmp_path):
    # the candidate at the first "machine" (its host) fails; the one inside it matches: both
    # engines must try it
    text = b"machine machine login password Wq7Zr2Lx9Kp4\n"
    report = scan(tmp_path, ("opt/app/hosts.txt", text))
    assert {(f.rule, f.path) for f in report.findings} == {("netrc-entry", "/opt/app/hosts.txt")}


@pytest.mark.parametrize(
    "text",
    [
        b"See https://docs.ray.io/en/latest/ and git://example.org/repo.git\n",
        b"Ray runs machine learning on every machine in the cluster.\n",
        b"-----BEGIN CERTIFICATE-----\nMIIB" + b"A" * 200 + b"\n-----END CERTIFICATE-----\n",
    ],
)
def test_what_only_looks_like_a_rule_is_quiet(tmp_path, text):
    assert scan(tmp_path, ("opt/app/notes.txt", text)).findings == []
