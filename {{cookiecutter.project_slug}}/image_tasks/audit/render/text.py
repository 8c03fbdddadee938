"""The report as text, for people: one row a finding, the layers involved, notes, the verdict."""

from __future__ import annotations

from ..findings import Report


def render(report: Report) -> str:
    lines = []
    if report.findings:
        header = ("SEVERITY", "RULE", "LAYER", "PATH", "DETAIL")
        rows = []
        for f in report.findings:
            layer = "-" if f.layer is None else str(f.layer)
            if f.deleted_in is not None:
                layer += f" (deleted in {f.deleted_in})"
            detail = f.message + (f" | {f.excerpt}" if f.excerpt else "")
            rows.append((f.severity, f.rule, layer, _short(f.path, 60), _short(detail, 110)))
        widths = [max(len(r[i]) for r in [header, *rows]) for i in range(4)]
        for row in [header, *rows]:
            lines.append(
                "  ".join(c.ljust(w) for c, w in zip(row[:4], widths, strict=True)) + "  " + row[4]
            )
        steps = {}
        for f in report.findings:
            if f.layer is not None and f.created_by:
                steps.setdefault(f.layer, f.created_by)
            if f.deleted_in is not None and f.deleted_by:
                steps.setdefault(f.deleted_in, f.deleted_by)
        if steps:
            lines.append("")
            lines.append("Layers involved:")
            for layer in sorted(steps):
                lines.append(f"  {layer}: {_short(steps[layer], 150)}")
    for note in report.notes:
        lines.append(f"note: {note}")
    for gap in report.gaps:
        lines.append(f"incomplete: {_where(gap)}: {gap.reason}")
    for gap, reason in report.accepted:
        lines.append(f"accepted unread: {_where(gap)}: {gap.reason} (allow-list: {reason})")
    if report.allowed:
        lines.append(f"{len(report.allowed)} finding(s) accepted by the allow-list.")
    lines.append(report.summary)
    return "\n".join(lines) + "\n"


def _where(gap) -> str:
    return gap.path + (f" (layer {gap.layer})" if gap.layer is not None else "")


def _short(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"
