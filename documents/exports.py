"""Exports of a plan, safe to open in a spreadsheet: the assignments, and for a CRM and the
team the owner updates, each CSM's new book and a summary of the books, as CSV or as a
workbook of typed cells.

:func:`assignments_csv` lists the plan's assignments; :func:`owner_updates_csv` lists the
moves as a CRM bulk owner update; :func:`books_csv` and :func:`book_summary_csv` give each
CSM's new book; :func:`write_xlsx` writes any of them as typed spreadsheet cells (formats in
docs/import-export.md).

Text cells that a spreadsheet would run as a formula (starting with ``=``, ``+``, ``-``, ``@``,
a tab or a carriage return) are written with a leading apostrophe, as OWASP recommends against
CSV injection: an account named ``=HYPERLINK(...)`` stays text. Control characters (NUL and the
other C0 and C1 codes but tab and line feed) and bidirectional controls (U+202E and the like)
are removed from every text cell.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from optimizer.tables import column_letter

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


#: Characters no export cell keeps: control characters (NUL and the other C0 and C1 codes but
#: tab and line feed) and the bidirectional controls that make text read other than it is
#: stored (U+202E turns "txt.exe" into "exe.txt" on screen).
_UNSAFE_CHARACTERS = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]"
)


def safe_cell(value: Any) -> Any:
    """``value``, without control characters, and with a leading apostrophe when it is text a
    spreadsheet would evaluate."""
    if not isinstance(value, str):
        return value
    value = _UNSAFE_CHARACTERS.sub("", value)
    if value.startswith(_FORMULA_START):
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


#: Columns of owner_updates.csv: one row per account that changes CSM.
OWNER_UPDATE_COLUMNS = [
    "account_id",
    "account_name",
    "old_owner_id",
    "old_owner_name",
    "new_owner_id",
    "new_owner_name",
    "effective_date",
    "arr",
]
#: Columns of books.csv: one row per account, grouped by its new CSM.
BOOK_COLUMNS = [
    "csm_id",
    "csm_name",
    "account_id",
    "account_name",
    "arr",
    "moved",
    "previous_csm_id",
]
#: Columns of book_summary.csv: one row per CSM, before and after.
BOOK_SUMMARY_COLUMNS = [
    "csm_id",
    "csm_name",
    "capacity",
    "accounts_before",
    "accounts_after",
    "arr_before",
    "arr_after",
    "arr_target",
    "arr_vs_target_before",
    "arr_vs_target_after",
    "workload_before",
    "workload_after",
    "moves_in",
    "moves_out",
]

#: One sheet of an export: its column names and its rows.
Sheet = tuple[list[str], list[list[Any]]]


def _assignments(plan: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    rows = plan.get("assignments") or []
    if not rows:
        status = plan.get("status", "unknown")
        raise ValueError(
            f"the plan has no assignments (status {status!r}): there is nothing to export"
        )
    return list(rows)


def _date(value: Any, what: str) -> dt.date:
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise ValueError(f"{what} {value!r} is not a YYYY-MM-DD date") from None


def owner_updates_rows(plan: Mapping[str, Any], effective_date: dt.date | None = None) -> Sheet:
    """The rows of :func:`owner_updates_csv`, with dates as :class:`datetime.date`."""
    rows = _assignments(plan)
    names = {c.get("csm_id"): c.get("name") for c in plan.get("csms") or []}
    waves: dict[str, Any] = {}
    transition = plan.get("transition")
    if isinstance(transition, Mapping):
        for move in transition.get("moves") or []:
            if isinstance(move, Mapping) and move.get("effective_date"):
                waves[str(move.get("account_id"))] = move["effective_date"]
    fallback = effective_date
    if fallback is None and plan.get("as_of"):
        fallback = _date(plan["as_of"], "the plan's as_of")
    out: list[list[Any]] = []
    undated: list[str] = []
    for row in rows:
        if not row.get("moved"):
            continue
        account_id = str(row.get("account_id"))
        when: dt.date | None = fallback
        if account_id in waves:
            when = _date(waves[account_id], f"transition effective_date of {account_id}")
        if when is None:
            undated.append(account_id)
            continue
        old = row.get("previous_csm_id")
        out.append(
            [
                account_id,
                row.get("account_name"),
                old,
                names.get(old),
                row.get("csm_id"),
                row.get("csm_name") or names.get(row.get("csm_id")),
                when,
                row.get("arr"),
            ]
        )
    if undated:
        shown = ", ".join(undated[:5]) + (" ..." if len(undated) > 5 else "")
        raise ValueError(
            f"no effective date for {len(undated)} move(s) ({shown}): the plan has no transition "
            "dates and no as_of, so pass --effective-date YYYY-MM-DD"
        )
    return list(OWNER_UPDATE_COLUMNS), out


def owner_updates_csv(plan: Mapping[str, Any], effective_date: dt.date | None = None) -> str:
    """The moves as a CRM bulk owner update: one row per account that changes CSM.

    Each move's ``effective_date`` is its date in the plan's ``transition.moves`` when the plan
    has one, else ``effective_date``, else the plan's ``as_of``; a move with none of them raises
    ValueError (so does a plan without assignments).
    """
    columns, rows = owner_updates_rows(plan, effective_date)
    return table_csv(columns, rows)


def books_rows(plan: Mapping[str, Any]) -> Sheet:
    """The rows of :func:`books_csv`."""
    rows = _assignments(plan)
    order = {c.get("csm_id"): i for i, c in enumerate(plan.get("csms") or [])}
    ranked = sorted(
        rows,
        key=lambda r: (
            order.get(r.get("csm_id"), len(order)),
            str(r.get("csm_id")),
            -float(r.get("arr") or 0.0),
            str(r.get("account_id")),
        ),
    )
    return list(BOOK_COLUMNS), [[r.get(c) for c in BOOK_COLUMNS] for r in ranked]


def books_csv(plan: Mapping[str, Any]) -> str:
    """Every account with its new CSM, grouped by CSM (in the plan's CSM order), largest ARR
    first within each book."""
    return table_csv(*books_rows(plan))


def book_summary_rows(plan: Mapping[str, Any]) -> Sheet:
    """The rows of :func:`book_summary_csv`."""
    _assignments(plan)
    out = []
    for entry in plan.get("csms") or []:
        before = entry.get("before") or {}
        after = entry.get("after") or {}
        out.append(
            [
                entry.get("csm_id"),
                entry.get("name"),
                after.get("capacity", before.get("capacity")),
                before.get("accounts"),
                after.get("accounts"),
                before.get("arr"),
                after.get("arr"),
                after.get("arr_target", before.get("arr_target")),
                before.get("arr_vs_target"),
                after.get("arr_vs_target"),
                before.get("workload"),
                after.get("workload"),
                after.get("moves_in"),
                after.get("moves_out"),
            ]
        )
    return list(BOOK_SUMMARY_COLUMNS), out


def book_summary_csv(plan: Mapping[str, Any]) -> str:
    """One row per CSM: accounts, ARR, ARR vs target (1 = on target) and workload, before and
    after, and the moves in and out (from the plan's ``csms``)."""
    return table_csv(*book_summary_rows(plan))


def table_csv(columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """``(columns, rows)`` as CSV text with every text cell made safe (:func:`to_csv`)."""
    return to_csv((dict(zip(columns, row, strict=True)) for row in rows), columns)


_PERCENT_COLUMNS = ("arr_vs_target_before", "arr_vs_target_after")


def write_xlsx(path: str | Path, sheets: Mapping[str, Sheet]) -> Path:
    """Write ``{sheet name: (columns, rows)}`` as a workbook of typed cells: numbers as
    numbers, booleans as booleans, dates as dates (``yyyy-mm-dd``), ``None`` as an empty cell,
    and text as text, with formula-looking text made safe as in :func:`safe_cell`.
    """
    from openpyxl import Workbook
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
    from openpyxl.styles import Font

    book = Workbook()
    book.remove(book.active)
    for name, (columns, rows) in sheets.items():
        sheet = book.create_sheet(title=name[:31])
        for col, header in enumerate(columns, start=1):
            sheet.cell(row=1, column=col, value=header).font = Font(bold=True)
        widths = [len(str(c)) for c in columns]
        for r, row in enumerate(rows, start=2):
            for col, value in enumerate(row, start=1):
                if value is None:
                    continue
                cell = sheet.cell(row=r, column=col)
                if isinstance(value, str):
                    cell.value = ILLEGAL_CHARACTERS_RE.sub("", safe_cell(value))
                    cell.data_type = "s"  # never a formula or an error code
                elif isinstance(value, dt.date):
                    cell.value = value
                    cell.number_format = "yyyy-mm-dd"
                elif isinstance(value, bool | int | float):
                    cell.value = value
                    if columns[col - 1] in _PERCENT_COLUMNS:
                        cell.number_format = "0.0%"
                else:
                    cell.value = str(value)
                    cell.data_type = "s"
                widths[col - 1] = max(widths[col - 1], len(str(cell.value)))
        for col, width in enumerate(widths):
            sheet.column_dimensions[column_letter(col)].width = min(width + 2, 60)
        sheet.freeze_panes = "A2"
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    book.save(target)
    return target
