"""Credential files whose secret fields are all placeholders hold no credential: a note, not a
finding; one real secret among placeholders is a finding."""

from __future__ import annotations

import base64
import json

import pytest
from audit_builders import Image, docker_oci, layer, write
from image_tasks import audit

REAL = "Zr8Kq2Lm5xWq7TyU"


def audited(tmp_path, path, content):
    return audit.run(write(tmp_path, docker_oci(Image(layers=[layer((path, content))]))))


def auth(user: str, password: str) -> str:
    return base64.b64encode(f"{user}:{password}".encode()).decode()


CASES = [
    ("root/.netrc", "machine nexus login ${USER} password ${TOKEN}\n", "netrc-file"),
    ("root/.netrc", "machine a login $USER password $TOKEN\nmachine b login u password <password>\n"
     "machine c login u password ****\nmachine d login u password \"\"\n", "netrc-file"),
    ("etc/pip.conf", "[global]\nindex-url = https://u:${PIP_PASSWORD}@nexus/simple\n",
     "pip-config-credentials"),
    ("root/.pypirc", "[pypi]\nusername = __token__\npassword = <your-token>\n", "pypirc-file"),
    ("root/.git-credentials", "https://u:${GIT_TOKEN}@github.com\n", "git-credentials"),
    ("root/.docker/config.json", json.dumps({"auths": {"r": {"auth": auth("u", "${TOKEN}")}}}),
     "docker-config-auth"),
    ("root/.npmrc", "//registry.npmjs.org/:_authToken=${NPM_TOKEN}\n", "npmrc-token"),
]  # fmt: skip


@pytest.mark.parametrize(("path", "content", "rule"), CASES, ids=[c[0] for c in CASES])
def test_placeholders_only_is_a_note(tmp_path, path, content, rule):
    report = audited(tmp_path, path, content.encode())
    assert report.findings == [] and report.exit_code == 0
    if rule in ("netrc-file", "docker-config-auth", "pypirc-file"):  # fields read: a note
        assert any(n.startswith(f"/{path}:") and "placeholders" in n for n in report.notes)


@pytest.mark.parametrize(("path", "content", "rule"), CASES, ids=[c[0] for c in CASES])
def test_one_real_secret_among_placeholders_is_a_finding(tmp_path, path, content, rule):
    if rule == "netrc-file":
        content += f"machine other login deploy password {REAL}\n"
    elif rule == "docker-config-auth":
        doc = json.loads(content)
        doc["auths"]["other"] = {"auth": auth("u", REAL)}
        content = json.dumps(doc)
    else:
        content = content.replace("${PIP_PASSWORD}", REAL).replace("<your-token>", REAL)
        content = content.replace("${GIT_TOKEN}", REAL).replace("${NPM_TOKEN}", REAL)
    report = audited(tmp_path, path, content.encode())
    # (the generic patterns may see the same secret: a URL, netrc text, password = ...)
    generic = {"url-credentials", "netrc-entry", "secret-assignment"}
    assert [f.rule for f in report.findings if f.rule not in generic] == [rule]
    rendered = "".join(audit.render(report, fmt) for fmt in ("json", "sarif", "text"))
    assert REAL not in rendered


def test_netrc_token_login_without_password_is_a_secret(tmp_path):
    report = audited(tmp_path, "root/.netrc", b"machine github.com login Zr8Kq2Lm5xWq7TyUi\n")
    assert [f.rule for f in report.findings] == ["netrc-file"]
    assert audited(tmp_path, "root/.netrc", b"# only a comment\n\n").findings == []
