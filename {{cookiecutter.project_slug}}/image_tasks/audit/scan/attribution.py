"""Where a finding came from: its layer, the history step (and Dockerfile instruction) that
made the layer, and the later layer that deleted the file, if one did.

Layers are scanned one by one (or side by side), so a finding knows only its blob; this module
resolves the rest once the whole image is known.
"""

from __future__ import annotations

from .dockerfile import Instruction
from .layer import LayerResult


def attribute(findings, layers: list[tuple[str, LayerResult]], history) -> None:
    """Fill layer numbers, history steps and deletions into findings (in place).

    ``layers`` is a list of (blob key, LayerResult) in image order; ``history`` the created_by
    text of each layer (or None).
    """
    index_of = {}
    for i, (key, _) in enumerate(layers):
        index_of.setdefault(key, i)
    for finding in findings:
        if finding.blob in index_of and finding.layer is None:
            i = index_of[finding.blob]
            finding.layer = i
            finding.created_by = history[i] if i < len(history) else None
        if finding.layer is None or (
            finding.location not in ("file", "name", "link")
            and not finding.location.startswith("pax:")
        ):
            continue
        # a file inside a nested archive goes with the archive's own file
        path = finding.path.lstrip("/").split("!/", 1)[0]
        j = deleted_in(path, [r for _, r in layers], finding.layer + 1, len(layers) - 1)
        if j is not None:
            finding.deleted_in = j
            finding.deleted_by = history[j] if j < len(history) else None


def deleted_in(path: str, results: list[LayerResult], first: int, last: int) -> int | None:
    """The first layer from ``first`` to ``last`` that deletes ``path`` (whiteouts, opaque
    directories), or None."""
    for j in range(first, last + 1):
        if _deleted(path, results[j].whiteouts, results[j].opaque):
            return j
    return None


def _deleted(path: str, whiteouts: set[str], opaque: set[str]) -> bool:
    if not whiteouts and not opaque:
        return False
    parts = path.split("/")
    for n in range(len(parts), 0, -1):
        prefix = "/".join(parts[:n])
        if prefix in whiteouts:
            return True
        if n < len(parts) and prefix in opaque:
            return True
    return "" in opaque and len(parts) > 0


def locate(findings, image, instructions: list[Instruction], steps: list[Instruction]) -> None:
    """Point each finding at the Dockerfile instruction that made its layer (``steps``: the
    instruction of each history step, `dockerfile.map_layers`); a config value at the ENV,
    LABEL or ARG that set it; anything else at the final stage's FROM."""
    layer_step = {layer: step for step, layer in image.history_index.items()}
    last_from = next(i for i in reversed(instructions) if i.keyword == "FROM")
    for finding in findings:
        ins = None
        if finding.path.startswith("<config>/history/"):
            step = int(finding.path.split("/")[2])
            ins = steps[step] if step < len(steps) else None
        elif finding.layer is not None and finding.layer in layer_step:
            step = layer_step[finding.layer]
            ins = steps[step] if step < len(steps) else None
        elif finding.path.startswith("<config>/config/"):
            ins = _setter(instructions, finding.variable or "", finding.path)
        ins = ins or last_from
        finding.instruction = f"{ins.keyword} {ins.args}"[:200]
        finding.lines = (ins.line, ins.end_line)


def _setter(instructions: list[Instruction], name: str, path: str) -> Instruction | None:
    keyword = "LABEL" if "/Labels/" in path else "ENV"
    for ins in reversed(instructions):
        if ins.keyword == keyword and (not name or name in ins.args):
            return ins
    return None
