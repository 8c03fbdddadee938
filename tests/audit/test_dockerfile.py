"""--dockerfile: each layer mapped to the instruction that made it (multi-stage included), and
SARIF locations on the Dockerfile's lines; without it, a byte offset in the image's file."""

from __future__ import annotations

import json

import pytest
from audit_builders import Image, docker_oci, layer, write
from image_tasks import audit
from image_tasks.audit.scan import dockerfile

PASSWORD = "Zq8vR3mT9pL2wX5nK7cQ4"
NETRC = f"machine nexus login ci password {PASSWORD}\n".encode()

DOCKERFILE = """\
# escape=\\
# a comment before the first stage
ARG BASE=local/python:3.11-bookworm
FROM ${BASE} AS build
RUN --mount=type=secret,id=netrc \\
    cp /run/secrets/netrc /tmp/netrc
RUN <<EOF
echo heredoc body
EOF

FROM ${BASE}
WORKDIR /app
# copies the netrc out of the first stage
COPY --from=build /tmp/netrc /root/.netrc
RUN rm -f /root/.netrc \\
 # a comment inside the continuation
 && echo done
ENV LANG=C.UTF-8
"""

# BuildKit's history for the final stage: the base image's step, then one per instruction
HISTORY = [
    {"created_by": "/bin/sh -c #(nop) ADD file:0123 in / "},
    {"created_by": "WORKDIR /app", "comment": "buildkit.dockerfile.v0"},
    {"created_by": "COPY /tmp/netrc /root/.netrc # buildkit"},
    {"created_by": "RUN /bin/sh -c rm -f /root/.netrc  && echo done # buildkit"},
    {"created_by": "ENV LANG=C.UTF-8", "empty_layer": True},
]


def test_parse_continuations_comments_heredocs_and_stages():
    instructions = dockerfile.parse(DOCKERFILE)
    got = [(i.keyword, i.line, i.end_line, i.stage) for i in instructions]
    assert got == [
        ("ARG", 3, 3, 0),
        ("FROM", 4, 4, 0),
        ("RUN", 5, 6, 0),
        ("RUN", 7, 9, 0),
        ("FROM", 11, 11, 1),
        ("WORKDIR", 12, 12, 1),
        ("COPY", 14, 14, 1),
        ("RUN", 15, 17, 1),
        ("ENV", 18, 18, 1),
    ]
    assert instructions[2].args.startswith("--mount=type=secret,id=netrc")


def test_history_maps_to_the_final_stage_and_the_base():
    instructions = dockerfile.parse(DOCKERFILE)
    steps = [h["created_by"] for h in HISTORY]
    mapped = [(i.keyword, i.line) for i in dockerfile.map_layers(instructions, steps)]
    assert mapped == [("FROM", 11), ("WORKDIR", 12), ("COPY", 14), ("RUN", 15), ("ENV", 18)]


def test_multi_stage_chain_and_classic_builder_history():
    text = "FROM base AS deps\nRUN pip install x\nFROM deps AS app\nCOPY app /app\nFROM app\n"
    text += 'RUN ["python", "-m", "compileall", "/app"]\n'
    steps = [
        "/bin/sh -c #(nop) ADD file:abc in / ",
        "|1 X=1 /bin/sh -c pip install x",
        "/bin/sh -c #(nop) COPY dir:0f9e in /app ",
        "RUN python -m compileall /app # buildkit",
    ]
    mapped = dockerfile.map_layers(dockerfile.parse(text), steps)
    assert [(i.keyword, i.line) for i in mapped] == [
        ("FROM", 1),
        ("RUN", 2),
        ("COPY", 4),
        ("RUN", 6),
    ]


def leaky(tmp_path) -> str:
    image = Image(
        layers=[
            layer(("etc/os-release", b"ID=debian\n")),
            layer(("app", {"dir": True})),
            layer(("root/.netrc", NETRC)),
            layer(("root/.wh..netrc", b"")),
        ],
        history=HISTORY,
        env=[f"API_TOKEN={PASSWORD}"],
    )
    return write(tmp_path, docker_oci(image))


def test_sarif_points_at_the_dockerfile_lines(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "Dockerfile").write_text(DOCKERFILE)
    report = audit.run(leaky(tmp_path), [PASSWORD], dockerfile_path="Dockerfile")
    netrc = next(f for f in report.findings if f.rule == "netrc-file")
    assert netrc.lines == (14, 14) and netrc.instruction.startswith("COPY --from=build")
    variable = next(f for f in report.findings if f.rule == "secret-variable")
    assert variable.lines == (18, 18) or variable.lines == (11, 11)
    doc = json.loads(audit.render(report, "sarif"))
    result = next(r for r in doc["runs"][0]["results"] if r["ruleId"] == "netrc-file")
    (location,) = result["locations"]
    physical = location["physicalLocation"]
    assert physical["artifactLocation"]["uri"] == "Dockerfile"
    assert physical["region"] == {"startLine": 14, "endLine": 14}
    assert location["logicalLocations"][0]["name"] == "/root/.netrc"
    assert "/root/.netrc" in result["message"]["text"] and "layer 2" in result["message"]["text"]
    assert PASSWORD not in json.dumps(doc)
    assert json.loads(audit.render(report, "json"))["findings"][0]["lines"]


def test_without_a_dockerfile_regions_are_byte_offsets(tmp_path):
    doc = json.loads(audit.render(audit.run(leaky(tmp_path), [PASSWORD]), "sarif"))
    canary = next(
        r for r in doc["runs"][0]["results"]
        if r["ruleId"] == "canary" and "root/.netrc" in r["message"]["text"]
    )  # fmt: skip
    physical = canary["locations"][0]["physicalLocation"]
    assert physical["artifactLocation"]["uri"] == "root/.netrc"
    assert physical["region"] == {"byteOffset": NETRC.index(PASSWORD.encode())}


@pytest.mark.parametrize(
    ("content", "words"),
    [(None, "cannot read the Dockerfile"), ("# only a comment\n", "no FROM instruction")],
)
def test_bad_dockerfile_is_exit_2(tmp_path, capsys, content, words):
    path = tmp_path / "Dockerfile"
    if content is not None:
        path.write_text(content)
    assert audit.main([leaky(tmp_path), "--dockerfile", str(path)]) == 2
    err = capsys.readouterr().err
    assert words in err and "Traceback" not in err


def test_dockerfile_uri_is_relative_to_the_repository(tmp_path, monkeypatch):
    from image_tasks.audit.render import sarif

    (tmp_path / "docker").mkdir()
    monkeypatch.chdir(tmp_path)
    assert sarif.dockerfile_uri(str(tmp_path / "docker" / "Dockerfile")) == "docker/Dockerfile"
    assert sarif.dockerfile_uri("docker/Dockerfile") == "docker/Dockerfile"
    assert sarif.dockerfile_uri("/elsewhere/My Dockerfile") == "My%20Dockerfile"
