"""Netrc parsing, canary selection, and the encodings searched."""

from __future__ import annotations

import base64
import json
import re
from urllib.parse import quote

import pytest
from audit_builders import Image, docker_oci, layer, write
from image_tasks import audit
from image_tasks.audit.detect import canaries, netrc

PASSWORD = "Zq8vR3mT9pL2wX5nK7cQ4"
LOGIN = "ci-bot"


def test_parse_netrc_tokens_quotes_macdef_default():
    text = (
        "# comment\nmachine a.example login alice password 'p1'\n"
        'machine "b.example" login bob password "two words"\n'
        "macdef init\nmachine fake login x password inside-macro\n\n"
        "default login anon password x-oauth-basic\n"
    )
    entries = netrc.parse(text)
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
    assert PASSWORD not in audit.render(report, "json")


def test_short_password_uses_login_pair_for_base64(tmp_path):
    short = "Kq7$Lm"
    pair = base64.b64encode(f"{LOGIN}:{short}".encode())
    image = Image(layers=[layer(("root/.docker/x.json", b'{"auth":"' + pair + b'"}'))])
    report = audit.run(write(tmp_path, docker_oci(image)), [audit.Canary("c", short, LOGIN)])
    assert "canary" in {f.rule for f in report.findings}


def test_canary_straddling_buffer_boundary(tmp_path):
    from image_tasks.audit.image import tar as archive

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


NETRC_FILES = {
    "hash-password": "machine nexus login deploy password #Qm7vT2kLp9Xw4Rz8Nb6Yc3Hd\n"
    "machine pypi login ci password Zk4Lm8Qw2Ex6Rt9Yu3Io7Pa1\n",
    "hash-everywhere": "# top comment\n# machine fake login no password no\n"
    "machine #host login #user password #pw1Xy8Kq2Lm5\n"
    "  # a comment line inside the entry\n"
    "  account #acct # trailing comment\n"
    "machine b login u password pw#2Lm5Xq8K # comment\n",
    "quoted": 'machine "a b" login "x y" password "#not a comment"\n'
    'machine c login d password "es\\"caped\\\\"\n'
    "machine e login f password un\\ quoted\n",
    "macdef": "machine a login b password first-Pw8K2\n"
    "macdef init\ncd /tmp\nmachine fake login x password inside-macro\n\n"
    "machine g login h password #after-macro9\n",
    "default": "machine a login b password p1\ndefault login anon password #dflt-Pw9\n",
}


@pytest.mark.parametrize("name", sorted(NETRC_FILES))
def test_parse_netrc_agrees_with_python_netrc(tmp_path, name):
    import netrc as stdlib_netrc

    text = NETRC_FILES[name]
    path = tmp_path / "netrc"
    path.write_text(text)
    expected = {
        host: (login or None, account or None, password or None)
        for host, (login, account, password) in stdlib_netrc.netrc(str(path)).hosts.items()
    }
    got = {
        e.machine if e.machine is not None else "default": (e.login, e.account, e.password)
        for e in netrc.parse(text)
    }
    assert got == expected


def test_hash_password_is_a_canary_and_found(tmp_path):
    path = tmp_path / "netrc"
    path.write_text(NETRC_FILES["hash-password"])
    found = canaries.from_sources(netrc_paths=[str(path)])
    assert [c.value for c in found] == ["#Qm7vT2kLp9Xw4Rz8Nb6Yc3Hd", "Zk4Lm8Qw2Ex6Rt9Yu3Io7Pa1"]
    image = Image(layers=[layer(("opt/leak", b"pw=#Qm7vT2kLp9Xw4Rz8Nb6Yc3Hd\n"))])
    report = audit.run(write(tmp_path, docker_oci(image)), found)
    assert [f.rule for f in report.findings] == ["canary"]


def test_netrc_with_missing_passwords_is_noted(tmp_path):
    secret = "Zk4Lm8Qw2Ex6Rt9Yu3Io7Pa1"
    path = tmp_path / "netrc"
    # 'passwd' of one entry is fine; 'pass' of the other is not a keyword: no password read
    path.write_text(f"machine a login u passwd {secret}\nmachine b login v pass Xy7Kq2Lm5Pw8\n")
    notes: list[str] = []
    found = canaries.from_sources(netrc_paths=[str(path)], notes=notes)
    assert [c.value for c in found] == [secret]
    assert len(notes) == 1 and "2 entries" in notes[0] and "1 password(s) read" in notes[0]
    assert secret not in notes[0] and "Xy7Kq2Lm5Pw8" not in notes[0]
    image = Image(layers=[layer(("etc/a", b"nothing"))])
    report = audit.run(write(tmp_path, docker_oci(image)), found, notes=notes)
    assert notes[0] in report.notes
    complete: list[str] = []
    path.write_text(f"machine a login u password {secret}\n")
    canaries.from_sources(netrc_paths=[str(path)], notes=complete)
    assert complete == []


def test_cli_reports_netrc_note(tmp_path, capsys):
    path = tmp_path / "netrc"
    path.write_text("machine a login u password Zk4Lm8Qw2Ex6Rt9Yu3Io7Pa1\nmachine b login v\n")
    image = Image(layers=[layer(("etc/a", b"nothing"))])
    source = write(tmp_path, docker_oci(image))
    assert audit.main([source, "--netrc", str(path), "--format", "json"]) == 0
    out = capsys.readouterr().out
    assert "1 password(s) read" in json.loads(out)["notes"][0]


URL_PASSWORD = "Ab3/xY9@kL2:mN5%qR8+tU1/vW4@zZ"


@pytest.mark.parametrize(
    "form",
    [
        quote(URL_PASSWORD),  # safe="/", the default
        re.sub("%[0-9A-F]{2}", lambda m: m.group(0).lower(), quote(URL_PASSWORD)),
        URL_PASSWORD.replace("%", "%25").replace("@", "%40").replace(":", "%3A"),
        json.dumps(URL_PASSWORD)[1:-1].replace("/", "\\/"),
    ],
)
def test_url_and_json_slash_forms_are_found(tmp_path, form):
    data = f"url = https://deploy:{form}@nexus.example/simple\n".encode()
    image = Image(layers=[layer(("opt/app/settings.py", data))])
    report = audit.run(write(tmp_path, docker_oci(image)), [audit.Canary("c", URL_PASSWORD)])
    assert "canary" in {f.rule for f in report.findings}, form
    assert form not in audit.render(report, "json")


def test_plain_token_has_one_text_needle_and_one_utf16_needle():
    token = "VbJzn6b9E3rYoTX3rIykRRW8Hjqj"
    built = canaries.build([audit.Canary("c", token)])
    text = [n for n in built.needles if not n.encodings[0].startswith("base64")]
    # an ASCII value's UTF-16 LE and BE forms share one needle: the bytes between the zeros
    utf16 = token.encode("utf-16-le")[:-1]
    assert [(n.data, n.encodings) for n in text] == [
        (token.encode(), ("raw",)),
        (utf16, ("UTF-16 LE", "UTF-16 BE")),
    ]
    assert len({v for v, _, _ in built.variants}) == len(built.variants)
