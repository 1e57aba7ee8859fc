"""An evaluation's result: sections of rows of named numbers, printed as a table and written as JSON."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field


@dataclass
class Section:
    title: str
    caption: str
    rows: dict[str, dict[str, float]] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)  # measures (or the whole section) not computed, and why
    notes: list[str] = field(default_factory=list)  # how this section departs from the official protocol

    def note_missing(self, nets, needs: dict[str, str]) -> None:
        for key, measure in needs.items():
            if key in nets.missing:
                line = f"{measure}: {nets.missing[key]}"
                if line not in self.skipped:
                    self.skipped.append(line)

    def table(self) -> str:
        """Rows x measures; a row of its own measures (``overall``) is listed below, one measure a line."""
        lines = [f"== {self.title} ({self.caption})"]
        tabular = {n: r for n, r in self.rows.items() if n != "overall"}
        columns: list[str] = []
        for row in tabular.values():
            columns += [c for c in row if c not in columns]
        if tabular:
            first = max(len(r) for r in tabular) + 2
            widths = [max(len(c), 9) for c in columns]
            lines.append(" " * first + "  ".join(c.rjust(w) for c, w in zip(columns, widths, strict=True)))
            for name, row in tabular.items():
                cells = [_cell(row.get(c)).rjust(w) for c, w in zip(columns, widths, strict=True)]
                lines.append(name.ljust(first) + "  ".join(cells))
        if "overall" in self.rows:
            lines.append("overall:")
            width = max(len(k) for k in self.rows["overall"]) + 2
            lines += [f"  {k.ljust(width)}{_cell(v)}" for k, v in self.rows["overall"].items()]
        lines += [f"  skipped {line}" for line in self.skipped]
        lines += [f"  not measured: {line}" for line in self.notes]
        return "\n".join(lines)


def _cell(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float) and math.isnan(value):
        return "n/a"
    return f"{value:.4g}"


def to_json(sections: list[Section], meta: dict) -> str:
    def clean(v):
        return None if isinstance(v, float) and math.isnan(v) else v

    return json.dumps({"meta": meta, "sections": [
        {"title": s.title, "caption": s.caption, "skipped": s.skipped, "not_measured": s.notes,
         "rows": {n: {k: clean(v) for k, v in r.items()} for n, r in s.rows.items()}} for s in sections]},
        indent=1)
