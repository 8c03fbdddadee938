"""Report formats, redaction in every format, SARIF shape, allow-list, exit codes."""

from __future__ import annotations

import base64
import json

import jsonschema
import pytest
from audit_builders import Image, docker_oci, layer, write
from image_tasks import audit

PASSWORD = "Zq8vR3mT9pL2wX5nK7cQ4"
LOGIN = "ci-bot"
NETRC_TEXT = f"machine nexus.corp login {LOGIN} password {PASSWORD}\n"
OTHER = "Wx7Vb2Nm9Qa4Sd6Fg8Hj"  # a secret found by pattern only


def secret_forms():
    forms = {PASSWORD, OTHER, f"{LOGIN}:{PASSWORD}"}
    for pad in range(3):
        text = base64.b64encode(b"x" * pad + PASSWORD.encode()).decode()
        forms.add(text[2:-2])
    return forms


@pytest.fixture
def leaky(tmp_path):
    image = Image(
        layers=[
            layer(
                ("root/.netrc", NETRC_TEXT.encode()),
                ("etc/pip.conf", f"[global]\nindex-url = https://u:{OTHER}@h/simple\n".encode()),
                ("var/log/b64.log", base64.b64encode(f"{LOGIN}:{PASSWORD}".encode()) + b"\n"),
                ("srv/app.py", f"X = 'https://ci:{PASSWORD}@nexus/s'  # {OTHER}\n".encode()),
            ),
            layer(("root/.wh..netrc", b"")),
        ],
        env=[f"PIP_INDEX_URL=https://ci:{PASSWORD}@nexus/simple"],
        history=[{"created_by": f"RUN |1 TOKEN={PASSWORD} /bin/sh -c x"}, {"created_by": "RUN rm"}],
    )
    return write(tmp_path, docker_oci(image))


@pytest.mark.parametrize("fmt", ["text", "json", "sarif"])
def test_no_secret_in_any_format(leaky, fmt, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("NET_RC", NETRC_TEXT)
    out = tmp_path / f"report.{fmt}"
    code = audit.main([leaky, "--canary-env", "NET_RC", "--format", fmt, "--output", str(out)])
    assert code == 1
    text = out.read_text() + capsys.readouterr().err
    for secret in secret_forms():
        assert secret not in text, secret
    assert "netrc-file" in text


def test_json_report_fields(leaky):
    report = audit.run(leaky, [audit.Canary("netrc password", PASSWORD, LOGIN)])
    doc = json.loads(audit.render(report, "json"))
    assert doc["verdict"] == "leak"
    netrc = next(f for f in doc["findings"] if f["rule"] == "netrc-file")
    assert (netrc["layer"], netrc["deleted_in"], netrc["severity"]) == (0, 1, "critical")
    assert netrc["layer_digest"] and netrc["created_by"]
    assert {f["rule"] for f in doc["findings"]} >= {
        "canary",
        "netrc-file",
        "pip-config-credentials",
        "url-credentials",
        "secret-variable",
    }


def test_sarif_shape(leaky):
    doc = json.loads(audit.render(audit.run(leaky, [PASSWORD]), "sarif"))
    assert doc["version"] == "2.1.0" and doc["$schema"].endswith("sarif-2.1.0.json")
    (run,) = doc["runs"]
    rules = run["tool"]["driver"]["rules"]
    ids = [r["id"] for r in rules]
    assert len(ids) == len(set(ids))
    for rule in rules:
        assert rule["shortDescription"]["text"] and rule["fullDescription"]["text"]
        assert rule["defaultConfiguration"]["level"] in ("error", "warning", "note")
        float(rule["properties"]["security-severity"])
    assert run["results"]
    for result in run["results"]:
        assert result["ruleId"] == ids[result["ruleIndex"]]
        assert result["level"] in ("error", "warning", "note")
        assert result["message"]["text"]
        (location,) = result["locations"]
        uri = location["physicalLocation"]["artifactLocation"]["uri"]
        assert uri and not uri.startswith("/") and " " not in uri
        assert location["logicalLocations"][0]["name"]


def test_sarif_validates_against_schema(leaky):
    schema = {  # the parts of SARIF 2.1.0 that GitHub code scanning reads
        "type": "object",
        "required": ["version", "runs"],
        "properties": {
            "version": {"const": "2.1.0"},
            "runs": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["tool", "results"],
                    "properties": {
                        "tool": {
                            "type": "object",
                            "required": ["driver"],
                            "properties": {
                                "driver": {
                                    "type": "object",
                                    "required": ["name", "rules"],
                                    "properties": {"rules": {"type": "array"}},
                                }
                            },
                        },
                        "results": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "required": ["ruleId", "message", "locations"],
                                "properties": {
                                    "level": {"enum": ["none", "note", "warning", "error"]},
                                    "message": {"type": "object", "required": ["text"]},
                                },
                            },
                        },
                    },
                },
            },
        },
    }
    jsonschema.validate(json.loads(audit.render(audit.run(leaky, [PASSWORD]), "sarif")), schema)


def test_clean_text_report_and_exit_zero(tmp_path, capsys):
    path = write(tmp_path, docker_oci(Image(layers=[layer(("etc/a", b"a"))])))
    assert audit.main([path]) == 0
    out = capsys.readouterr().out
    assert out.startswith("CLEAN:") and out.count("\n") == 1
    doc = json.loads(audit.render(audit.run(path), "sarif"))
    assert doc["runs"][0]["results"] == [] and doc["runs"][0]["tool"]["driver"]["rules"] == []


def test_allow_list(tmp_path, capsys):
    image = Image(
        layers=[
            layer(
                ("opt/vendor/docs/example.txt", b"see https://ci:Qw9zLx7Tp2Vb@nexus.corp/s\n"),
                ("srv/app.py", b"U = 'https://ci:Lp3Kq8Zr5Wx1@nexus.corp/s'\n"),
            )
        ]
    )
    path = write(tmp_path, docker_oci(image))
    allow = tmp_path / "allow.txt"
    allow.write_text("# accepted\nurl-credentials /opt/vendor/docs/* vendor docs with fake creds\n")
    report = audit.run(path, allow_list=str(allow))
    assert [f.path for f in report.findings] == ["/srv/app.py"]
    assert [(f.path, reason) for f, reason in report.allowed] == [
        ("/opt/vendor/docs/example.txt", "vendor docs with fake creds")
    ]
    allow.write_text("* /opt/* everything in opt\n* /srv/* and srv\n")
    assert audit.main([path, "--allow-list", str(allow)]) == 0


@pytest.mark.parametrize(
    ("line", "why"),
    [
        ("url-credentials /opt/*", "reason"),
        ("canary /opt/* it is fine", "canary"),
        ("no-such-rule /opt/* why", "unknown rule"),
    ],
)
def test_allow_list_refusals(tmp_path, capsys, line, why):
    path = write(tmp_path, docker_oci(Image(layers=[layer(("etc/a", b"a"))])))
    allow = tmp_path / "allow.txt"
    allow.write_text(line + "\n")
    assert audit.main([path, "--allow-list", str(allow)]) == 2
    assert why in capsys.readouterr().err


def test_options_before_source(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("NET_RC", NETRC_TEXT)
    path = write(tmp_path, docker_oci(Image(layers=[layer(("etc/a", PASSWORD.encode()))])))
    assert audit.main(["--canary-env", "NET_RC", path]) == 1
    assert audit.main(["--format", "json", "--canary-env", "NET_RC", "--", path]) == 1


def test_usage_errors_exit_2(capsys):
    assert audit.main([]) == 2
    assert audit.main(["x", "--format", "xml"]) == 2
    assert audit.main(["--help"]) == 0


def test_missing_canary_env_is_exit_2(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("NET_RC", raising=False)
    path = write(tmp_path, docker_oci(Image(layers=[layer(("etc/a", b"a"))])))
    assert audit.main([path, "--canary-env", "NET_RC"]) == 2
    err = capsys.readouterr().err
    assert "NET_RC" in err and "Traceback" not in err


def test_sarif_written_beside_the_chosen_format(tmp_path, monkeypatch, capsys):
    """AUDIT_SARIF in CI: the text report for people and SARIF for code scanning, one audit."""
    monkeypatch.setenv("NET_RC", NETRC_TEXT)
    path = write(tmp_path, docker_oci(Image(layers=[layer(("etc/a", PASSWORD.encode()))])))
    sarif = tmp_path / "audit.sarif"
    assert audit.main([path, "--canary-env", "NET_RC", "--sarif", str(sarif)]) == 1
    document = json.loads(sarif.read_text())
    assert document["version"] == "2.1.0"
    assert [r["ruleId"] for r in document["runs"][0]["results"]] == ["canary"]
    assert PASSWORD not in sarif.read_text() and PASSWORD not in capsys.readouterr().out
