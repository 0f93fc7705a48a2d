"""CSV exports of a plan, safe to open in a spreadsheet.

Text cells that a spreadsheet would run as a formula (starting with ``=``, ``+``, ``-``, ``@``,
a tab or a carriage return) are written with a leading apostrophe, as OWASP recommends against
CSV injection: an account named ``=HYPERLINK(...)`` stays text.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

#: Columns of the assignments export (one row per account; moves only with ``moves_only``).
ASSIGNMENT_COLUMNS = (
    "account_id",
    "account_name",
    "previous_csm_id",
    "csm_id",
    "csm_name",
    "moved",
    "arr",
    "reasons",
)


def safe_cell(value: Any) -> Any:
    """``value``, with a leading apostrophe when it is text a spreadsheet would evaluate."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def to_csv(rows: Iterable[Mapping[str, Any]], columns: Sequence[str]) -> str:
    """Rows as CSV text with a header, every text cell made safe."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([safe_cell(_flat(row.get(c))) for c in columns])
    return out.getvalue()


def assignments_csv(plan: Mapping[str, Any], moves_only: bool = False) -> str:
    """The plan JSON's assignments (or only its moves) as CSV."""
    rows = [r for r in plan.get("assignments", []) if r.get("moved") or not moves_only]
    return to_csv(rows, ASSIGNMENT_COLUMNS)


def _flat(value: Any) -> Any:
    if isinstance(value, list | tuple):
        return "; ".join(str(v) for v in value)
    return "" if value is None else value
