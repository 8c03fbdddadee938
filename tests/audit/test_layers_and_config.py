"""Deletions by later layers, history attribution, config, build args and attestations."""

from __future__ import annotations

from audit_builders import Image, docker_classic, docker_oci, layer, oci_archive, write
from image_tasks import audit

PASSWORD = "Zq8vR3mT9pL2wX5nK7cQ4"
NETRC = f"machine nexus.corp login ci password {PASSWORD}\n".encode()
HISTORY = [
    {"created_by": "/bin/sh -c #(nop) ADD file:abc in /"},
    {"created_by": "/bin/sh -c #(nop) ENV LANG=C.UTF-8", "empty_layer": True},
    {"created_by": "COPY .netrc /root/.netrc # buildkit"},
    {"created_by": "RUN /bin/sh -c pip install x && rm /root/.netrc # buildkit"},
    {"created_by": "RUN /bin/sh -c rm -rf /root # buildkit"},
]


def findings(report, rule):
    return [f for f in report.findings if f.rule == rule]


def test_deleted_file_reports_adding_and_deleting_layer(tmp_path):
    image = Image(
        layers=[
            layer(("etc/os-release", b"ID=debian\n")),
            layer(("root/.netrc", NETRC)),
            layer(("root/.wh..netrc", b""), ("usr/lib/x.py", b"x")),
            layer(("etc/hostname", b"h")),
        ],
        history=[*HISTORY[:4], {"created_by": "RUN true"}],
    )
    report = audit.run(write(tmp_path, docker_classic(image)))
    (netrc,) = findings(report, "netrc-file")
    assert (netrc.layer, netrc.deleted_in) == (1, 2)
    assert netrc.created_by == "COPY .netrc /root/.netrc # buildkit"
    assert netrc.deleted_by.startswith("RUN /bin/sh -c pip install x && rm")
    assert "deleted in 2" in audit.render(report, "text")


def test_opaque_directory_and_directory_whiteout_delete(tmp_path):
    image = Image(
        layers=[
            layer(("root/.netrc", NETRC), ("home/ray/.git-credentials", b"https://u:Zr8Kq2L@h\n")),
            layer(("root/.wh..wh..opq", b"")),
            layer(("home/.wh.ray", b"")),
        ]
    )
    report = audit.run(write(tmp_path, docker_oci(image, "gzip")))
    got = {(f.rule, f.layer, f.deleted_in) for f in report.findings}
    assert ("netrc-file", 0, 1) in got
    assert ("git-credentials", 0, 2) in got


def test_file_present_in_final_image_has_no_deleting_layer(tmp_path):
    image = Image(layers=[layer(("root/.netrc", NETRC)), layer(("etc/a", b"a"))])
    (netrc,) = findings(audit.run(write(tmp_path, docker_oci(image))), "netrc-file")
    assert netrc.deleted_in is None


def test_config_env_labels_cmd_and_build_args(tmp_path):
    url = f"https://ci:{PASSWORD}@nexus.corp/simple"
    image = Image(
        layers=[layer(("etc/a", b"a")), layer(("app/x", b"x"))],
        env=[
            "PATH=/usr/bin",
            f"PIP_INDEX_URL={url}",
            "API_TOKEN=Zr8Kq2Lm5xWq7Ty",
            "GPG_KEY=A035C8C1",
        ],
        labels={"org.example.secret": "Zr8Kq2Lm5xWq7Tz", "maintainer": "me"},
        history=[
            {"created_by": "ADD rootfs /"},
            {"created_by": "ARG PIP_EXTRA_INDEX_URL", "empty_layer": True},
            {"created_by": f"RUN |1 PIP_EXTRA_INDEX_URL={url} /bin/sh -c pip install x"},
        ],
    )
    report = audit.run(write(tmp_path, docker_oci(image)))
    got = {(f.rule, f.location, f.path, f.layer) for f in report.findings}
    assert ("url-credentials", "config", "<config>/config/Env/1", None) in got
    assert ("secret-variable", "config", "<config>/config/Env/2", None) in got
    assert ("secret-variable", "config", "<config>/config/Labels/org.example.secret", None) in got
    assert ("url-credentials", "history", "<config>/history/2/created_by", 1) in got
    assert not any("GPG_KEY" in f.message for f in report.findings)
    text = audit.render(report, "json")
    assert PASSWORD not in text and "Zr8Kq2Lm5xWq7Ty" not in text


def test_placeholders_in_config_are_clean(tmp_path):
    image = Image(
        layers=[layer(("etc/a", b"a"))],
        env=[
            "NETRC=/run/secrets/netrc",
            "PIP_INDEX_URL=https://nexus.corp/simple",
            "UV_INDEX_PRIVATE_PASSWORD=${PASSWORD}",
            "PASSWORD_FILE=/run/secrets/pw",
        ],
        history=[{"created_by": "RUN |1 TOKEN= /bin/sh -c --mount=type=secret,id=netrc pip i"}],
    )
    assert audit.run(write(tmp_path, docker_oci(image))).findings == []


def test_netrc_text_in_env(tmp_path):
    image = Image(layers=[layer(("etc/a", b"a"))], env=[f"NETRC={NETRC.decode()}"])
    rules = {f.rule for f in audit.run(write(tmp_path, docker_oci(image))).findings}
    assert {"secret-variable", "netrc-entry"} <= rules


def test_canary_in_history(tmp_path):
    image = Image(
        layers=[layer(("etc/a", b"a"))],
        history=[{"created_by": f"RUN /bin/sh -c echo {PASSWORD} > /dev/null"}],
    )
    report = audit.run(write(tmp_path, docker_oci(image)), [PASSWORD])
    (f,) = findings(report, "canary")
    assert (f.location, f.layer) == ("history", 0)
    assert PASSWORD not in f.created_by + f.excerpt + audit.render(report, "text")


def test_provenance_attestation_build_args(tmp_path):
    statement = {
        "_type": "https://in-toto.io/Statement/v0.1",
        "predicateType": "https://slsa.dev/provenance/v0.2",
        "predicate": {
            "invocation": {
                "parameters": {
                    "args": {
                        "build-arg:PIP_INDEX_URL": f"https://ci:{PASSWORD}@nexus.corp/simple",
                        "build-arg:HF_TOKEN": "hf_Zr8Kq2Lm5xWq7TyUiOp",
                    }
                }
            }
        },
    }
    image = Image(layers=[layer(("etc/a", b"a"))], attestations=[statement])
    report = audit.run(write(tmp_path, oci_archive(image)), [PASSWORD])
    got = {(f.rule, f.location) for f in report.findings}
    assert {
        ("canary", "attestation"),
        ("url-credentials", "attestation"),
        ("secret-variable", "attestation"),
    } <= got
    assert PASSWORD not in audit.render(report, "sarif")
