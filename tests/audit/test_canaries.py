"""Netrc parsing, canary selection, and the encodings searched."""

from __future__ import annotations

import base64
import json
from urllib.parse import quote

import pytest
from audit_builders import Image, docker_oci, layer, write
from image_tasks import audit
from image_tasks.audit import canaries

PASSWORD = "Zq8vR3mT9pL2wX5nK7cQ4"
LOGIN = "ci-bot"


def test_parse_netrc_tokens_quotes_macdef_default():
    text = (
        "# comment\nmachine a.example login alice password 'p1'\n"
        'machine "b.example" login bob password "two words"\n'
        "macdef init\nmachine fake login x password inside-macro\n\n"
        "default login anon password x-oauth-basic\n"
    )
    entries = canaries.parse_netrc(text)
    assert [(e.machine, e.login, e.password) for e in entries] == [
        ("a.example", "alice", "'p1'"),
        ("b.example", "bob", "two words"),
        (None, "anon", "x-oauth-basic"),
    ]


def test_canaries_passwords_and_token_logins():
    text = (
        f"machine nexus login {LOGIN} password {PASSWORD}\n"
        "machine github.com login ghp_aB3dE5fG7hJ9kL1mN2pQ4rS6tU8vW0xY2zA4 password x-oauth-basic\n"
        "machine gitlab login glpat-Zr8Kq2Lm5xWq7TyUi\n"
        "machine pypi login __token__ password pypi-AgEIcHlwaS5vcmcCJGQ4\n"
    )
    values = [c.value for c in canaries.netrc_canaries(text, "t")]
    assert values == [
        PASSWORD,
        "ghp_aB3dE5fG7hJ9kL1mN2pQ4rS6tU8vW0xY2zA4",
        "glpat-Zr8Kq2Lm5xWq7TyUi",
        "pypi-AgEIcHlwaS5vcmcCJGQ4",
    ]


def test_canary_env_with_netrc_contents_and_plain_value():
    env = {"NET_RC": f"machine nexus login {LOGIN} password {PASSWORD}\n", "TOKEN": "abcdefghij"}
    found = canaries.from_sources(env_vars=["NET_RC", "TOKEN"], environ=env)
    assert [c.value for c in found] == [PASSWORD, "abcdefghij"]
    assert all(PASSWORD not in c.label for c in found)


def test_errors_never_echo_secrets(tmp_path):
    bad = tmp_path / "netrc"
    bad.write_text(f"machine {PASSWORD}\n")
    with pytest.raises(ValueError) as info:
        canaries.from_sources(netrc_paths=[str(bad)])
    assert PASSWORD not in str(info.value)
    bad.write_text(f"machine x login {LOGIN} passwd {PASSWORD}\n")
    assert [c.value for c in canaries.from_sources(netrc_paths=[str(bad)])] == [PASSWORD]
    with pytest.raises(ValueError) as info:
        canaries.from_sources(env_vars=["MISSING"], environ={})
    assert "MISSING" in str(info.value)


def encoded_forms():
    pair = f"{LOGIN}:{PASSWORD}".encode()
    forms = {
        "raw": PASSWORD.encode(),
        "percent": quote("p@ss/" + PASSWORD, safe="").encode(),
        "json": json.dumps('q"' + PASSWORD)[1:-1].encode(),
    }
    for pad in range(3):
        forms[f"b64-{pad}"] = base64.b64encode(b"x" * pad + PASSWORD.encode() + b"yz")
        forms[f"b64-pair-{pad}"] = base64.b64encode(b"Basic " + b"x" * pad + pair)
        forms[f"b64url-{pad}"] = base64.urlsafe_b64encode(b"\xfb" * pad + PASSWORD.encode())
    return forms


@pytest.mark.parametrize("form", sorted(encoded_forms()))
def test_encodings_are_found(tmp_path, form):
    data = b"prefix " + encoded_forms()[form] + b" suffix\n"
    secret = PASSWORD
    if form == "percent":
        secret = "p@ss/" + PASSWORD
    elif form == "json":
        secret = 'q"' + PASSWORD
    image = Image(layers=[layer(("var/log/build.log", data))])
    report = audit.run(write(tmp_path, docker_oci(image)), [audit.Canary("c", secret, LOGIN)])
    assert [f.rule for f in report.findings] == ["canary"], form
    assert PASSWORD not in report.render("json")


def test_short_password_uses_login_pair_for_base64(tmp_path):
    short = "Kq7$Lm"
    pair = base64.b64encode(f"{LOGIN}:{short}".encode())
    image = Image(layers=[layer(("root/.docker/x.json", b'{"auth":"' + pair + b'"}'))])
    report = audit.run(write(tmp_path, docker_oci(image)), [audit.Canary("c", short, LOGIN)])
    assert "canary" in {f.rule for f in report.findings}


def test_canary_straddling_buffer_boundary(tmp_path):
    from image_tasks.audit import archive

    size = archive.DEFAULT_BUFFER * 2 + 12345
    for offset in (archive.DEFAULT_BUFFER - 5, archive.DEFAULT_BUFFER - 600, size - 30):
        data = bytearray(b"\0" * size)
        data[offset : offset + len(PASSWORD)] = PASSWORD.encode()
        image = Image(layers=[layer(("opt/big.bin", bytes(data)))])
        report = audit.run(write(tmp_path, docker_oci(image)), [PASSWORD])
        assert [f.rule for f in report.findings] == ["canary"], offset


def test_too_short_canary_is_noted_not_searched(tmp_path):
    image = Image(layers=[layer(("etc/a", b"abc"))])
    report = audit.run(write(tmp_path, docker_oci(image)), ["abc"])
    assert report.findings == []
    assert any("shorter than" in n for n in report.notes)
