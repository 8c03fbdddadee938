"""The Dockerfile that made the image: its instructions, and which one made each layer.

`parse` reads a Dockerfile as BuildKit does where it matters here: parser directives
(``# escape=``), comments, line continuations, heredocs (``RUN <<EOF``), stages (``FROM ... AS
name``).  `map_layers` matches the image's history (``created_by`` of each step, BuildKit's,
the classic builder's and buildah's spellings) against the instructions of the final stage and
the stages it is built ``FROM`` (multi-stage), from the last step backwards; steps before the
first matched instruction come from the base image and map to the ``FROM`` line.
"""

from __future__ import annotations

import contextlib
import json
import re
from dataclasses import dataclass

from ..errors import AuditError, read_text

_DIRECTIVE = re.compile(r"^#\s*([A-Za-z]+)\s*=\s*(\S+)\s*$")
_HEREDOC = re.compile(r"<<-?\s*([\"']?)([A-Za-z0-9_]+)\1")
_FLAG = re.compile(r"^--[A-Za-z-]+(?:=\S*)?\s+")
_RUN_PREFIX = re.compile(r"^(?:\|\d+\s+(?:\S+=\S*\s+)*)?(?:/bin/sh -c |/bin/bash -c )?")
WINDOW = 4  # instructions skipped at most to match a history step (ones that make no step)


@dataclass(frozen=True)
class Instruction:
    keyword: str  # upper-case: RUN, COPY, FROM...
    args: str  # continuation lines joined, heredoc bodies left out
    line: int  # first line, from 1
    end_line: int
    stage: int


def parse(text: str) -> list[Instruction]:
    """The instructions of a Dockerfile, in order."""
    lines = text.splitlines()
    escape = "\\"
    n = 0
    while n < len(lines) and (m := _DIRECTIVE.match(lines[n].strip())):
        if m.group(1).lower() == "escape":
            escape = m.group(2)[:1] or "\\"
        n += 1
    out: list[Instruction] = []
    stage = -1
    while n < len(lines):
        stripped = lines[n].strip()
        if not stripped or stripped.startswith("#"):
            n += 1
            continue
        start = n
        parts = []
        while True:
            piece = lines[n].rstrip()
            if piece.endswith(escape) and n + 1 < len(lines):
                parts.append(piece[: -len(escape)])
                n += 1
                while n < len(lines) and lines[n].strip().startswith("#"):
                    n += 1  # comment lines inside a continued instruction
                continue
            parts.append(piece)
            break
        joined = " ".join(p.strip() for p in parts)
        for m in _HEREDOC.finditer(joined):  # the heredoc bodies follow the instruction
            word = m.group(2)
            while n + 1 < len(lines) and lines[n + 1].strip() != word:
                n += 1
            n += 1
        keyword, _, args = joined.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            stage += 1
        out.append(Instruction(keyword, args.strip(), start + 1, n + 1, max(stage, 0)))
        n += 1
    return out


def read(path: str) -> list[Instruction]:
    text = read_text(path, "Dockerfile", "--dockerfile", 4 << 20)
    instructions = parse(text)
    if not any(i.keyword == "FROM" for i in instructions):
        raise AuditError(
            f"{path!r} has no FROM instruction, so it is not a Dockerfile; give the one the "
            "image was built from, or drop --dockerfile."
        )
    return instructions


def chain(instructions: list[Instruction]) -> tuple[Instruction, list[Instruction]]:
    """The root FROM of the final image, and every instruction after it that the image holds
    (the final stage's, after those of the stages it is built FROM)."""
    stages: list[list[Instruction]] = []
    names: dict[str, int] = {}
    for ins in instructions:
        if ins.keyword == "FROM":
            stages.append([ins])
            words = ins.args.split()
            words = [w for w in words if not w.startswith("--")]
            if len(words) >= 3 and words[-2].lower() == "as":
                names[words[-1].lower()] = len(stages) - 1
        elif stages:
            stages[-1].append(ins)
    held: list[Instruction] = []
    index = len(stages) - 1
    for _ in range(len(stages)):
        frm, *body = stages[index]
        held[:0] = body
        words = [w for w in frm.args.split() if not w.startswith("--")]
        base = words[0].lower() if words else ""
        parent = names.get(base, int(base) if base.isdigit() else None)
        if parent is None or parent >= index:
            return frm, held
        index = parent
    return stages[index][0], held


def _history_key(created_by: str) -> tuple[str, str]:
    """(keyword, text) of a history step, for matching against an instruction."""
    text = created_by.strip()
    if text.endswith("# buildkit"):
        text = text[: -len("# buildkit")].strip()
    if "#(nop) " in text:  # the classic builder and buildah: /bin/sh -c #(nop) COPY ...
        text = text.split("#(nop) ", 1)[1].strip()
    elif text.startswith(("/bin/sh -c ", "/bin/bash -c ", "|")):
        text = "RUN " + text
    keyword, _, rest = text.partition(" ")
    keyword = keyword.upper()
    if keyword == "RUN":
        rest = _RUN_PREFIX.sub("", rest.strip(), count=1)
    return keyword, " ".join(rest.split())


def _instruction_text(ins: Instruction) -> str:
    args = ins.args
    while (m := _FLAG.match(args)) is not None:  # --mount=..., --from=..., --chown=...
        args = args[m.end() :]
    if ins.keyword in ("RUN", "CMD", "ENTRYPOINT") and args.startswith("["):
        with contextlib.suppress(ValueError):  # not JSON: the shell form after all
            args = " ".join(str(x) for x in json.loads(args))
    return " ".join(args.split())


def _matches(step: tuple[str, str], ins: Instruction) -> bool:
    keyword, text = step
    if keyword != ins.keyword:
        return False
    mine = _instruction_text(ins)
    if keyword in ("COPY", "ADD"):  # history names sources by digest: compare destinations
        return bool(mine) and text.split()[-1:] == mine.split()[-1:]
    if keyword == "RUN":
        return text == mine or (len(mine) > 8 and (mine in text or text in mine))
    return True


def map_layers(instructions: list[Instruction], steps: list[str]) -> list[Instruction]:
    """The instruction that made each history step (``steps``: every step's created_by)."""
    root, held = chain(instructions)
    mapped: list[Instruction] = [root] * len(steps)
    i = len(held) - 1
    for h in range(len(steps) - 1, -1, -1):
        if i < 0:
            break
        key = _history_key(steps[h])
        for j in range(i, max(-1, i - WINDOW - 1), -1):
            if _matches(key, held[j]):
                mapped[h] = held[j]
                i = j - 1
                break
    return mapped
