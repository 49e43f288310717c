"""Presenting evaluation results: an aligned text table, and the JSON + CSV report files."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from roleplay._atomic import as_path, atomic_write_text
from roleplay._checked import checked, checked_items
from roleplay.errors import ConfigError
from roleplay.runs.folder import REPORT_MARKER

__all__ = ["adherence_warnings", "table", "write_csv", "write_report"]


def table(rows: Sequence[Mapping[str, Any]]) -> str:
    """Rows as an aligned text table."""
    rows = checked_items(rows, Mapping, "table's rows", "pass a list of dicts with the same keys")
    if not rows:
        return "(no rows)"
    columns = list(rows[0])
    cells = [[("" if r[c] is None else str(r[c])) for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True))]
    lines += ["  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)) for row in cells]
    return "\n".join(lines)


def write_csv(rows: Sequence[Mapping[str, Any]], path: str | Path) -> Path:
    """Rows (dicts with the same keys) as a CSV file, written atomically."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]) if rows else [])
    writer.writeheader()
    writer.writerows(rows)
    return atomic_write_text(path, buffer.getvalue())


def write_report(report: Mapping[str, Any], out: str | Path) -> tuple[Path, Path]:
    """Write ``<out>.json`` (everything) and ``<out>.csv`` (the summary table), atomically.

    The JSON starts with ``"report": REPORT_MARKER``, so run-folder readers never take it for a dialogue.
    """
    out = as_path(out, "write_report's out")
    if not isinstance(checked(report, Mapping, "write_report's report", "pass evaluate_folder's result").get(  # type: ignore[type-abstract]  # mypy#4717: an ABC as isinstance target
            "summary"), list):
        raise ConfigError("write_report's report has no 'summary' list of rows; pass evaluate_folder's result.")
    csv_path = write_csv(report["summary"], out.with_suffix(".csv"))
    json_path = atomic_write_text(out.with_suffix(".json"), json.dumps({"report": REPORT_MARKER, **report}, indent=2,
                                                                   default=str))
    return json_path, csv_path


def adherence_warnings(report: Mapping[str, Any]) -> list[str]:
    """Why adherence scores may mean nothing: dialogues with no policy action, or none in the graph at all.

    Both score 0.0 like a dialogue that broke every rule, so a wrong ``--graph`` would otherwise look like
    a bad model. A dialogue that visits none of its graph's system nodes took its actions from another graph.
    """
    dialogs = report.get("dialogs", [])
    without = sum(1 for d in dialogs if not d["path_length"])
    foreign = sum(1 for d in dialogs if d["path_length"] and not d["coverage"])
    warnings = []
    if without:
        warnings.append(f"{without} of {len(dialogs)} dialogues record no policy action (generated without a "
                        "policy), so their adherence scores are meaningless; evaluate dialogues generated with "
                        "this graph (a scenario with policy:).")
    if foreign:
        warnings.append(f"{foreign} of {len(dialogs)} dialogues took no action that is a node of the graph they "
                        "were evaluated against (were they generated with another graph?); check --graph or "
                        "--star-path.")
    return warnings

