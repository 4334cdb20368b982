"""Printing a benchmark's table and storing its numbers in ``bench/results/<name>.json``."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def table(rows: list[dict[str, Any]], columns: list[str]) -> str:
    """A plain-text table of ``rows`` with ``columns``."""
    cells = [[_cell(row.get(c)) for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) if cells else len(c) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)),
             "  ".join("-" * w for w in widths)]
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)) for r in cells]
    return "\n".join(lines)


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.2f}" if abs(value) < 100 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def save(name: str, machine: dict[str, Any], runs: list[dict[str, Any]], goals: dict[str, Any],
         notes: list[str]) -> Path:
    """Write the result file and return its path."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{name}.json"
    document = {"benchmark": name, "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "machine": machine, "goals": goals, "runs": runs, "notes": notes}
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(document, indent=2, default=str) + "\n")
    tmp.replace(path)
    return path


def load_all() -> list[dict[str, Any]]:
    """Every stored result, by benchmark name."""
    return [json.loads(p.read_text()) for p in sorted(RESULTS_DIR.glob("*.json"))]
