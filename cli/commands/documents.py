"""``report``, ``import`` and ``export``: documents from a plan, and scenarios from CRM exports.

``documents.report`` and ``documents.importer`` load when their command runs, not when
``territory`` starts.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape

from optimizer import ScenarioError

from ..exits import EXIT_INVALID, EXIT_OK
from ..render.documents import print_export, print_import
from ..render.issues import print_issues

# The export's sheets, in order, with the CSV file each is also written to.
EXPORT_FILES = {
    "Owner updates": "owner_updates.csv",
    "Books": "books.csv",
    "Book summary": "book_summary.csv",
}


def read_json_object(path: Path, what: str, err: Console) -> dict[str, Any] | None:
    """Read a JSON object, or say on ``err`` why the file cannot be one.

    Parameters
    ----------
    path : Path
        The file.
    what : str
        What the file should hold ("plan", "sensitivity"), for the message when it is missing.
    err : rich.console.Console
        Standard error.

    Returns
    -------
    dict or None
        The object, or ``None`` after printing the problem.
    """
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        err.print(f"[bold red]Invalid input[/]: {what} file not found: {escape(str(path))}")
        return None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        err.print(
            f"[bold red]Invalid input[/]: {escape(str(path))} is not JSON ({escape(str(exc))})"
        )
        return None
    if not isinstance(data, dict):
        err.print(f"[bold red]Invalid input[/]: {escape(str(path))} is not a JSON object")
        return None
    return data


def cmd_report(args: argparse.Namespace, console: Console, err: Console) -> int:
    """``territory report``: one self-contained HTML report of a plan file.

    Returns
    -------
    int
        0, or 2 when the plan (or the ``--sensitivity``, ``--influence`` or ``--monitor`` file) cannot be
        read as one.
    """
    from documents.report import render_html

    plan = read_json_object(args.plan, "plan", err)
    if plan is None:
        return EXIT_INVALID
    if "status" not in plan or "assignments" not in plan:
        err.print(
            f"[bold red]Invalid input[/]: {escape(str(args.plan))} is not a plan "
            "(no status or assignments; see docs/plan-format.md)"
        )
        return EXIT_INVALID
    sensitivity = None
    if args.sensitivity is not None:
        sensitivity = read_json_object(args.sensitivity, "sensitivity", err)
        if sensitivity is None:
            return EXIT_INVALID
    influence = None
    if args.influence is not None:
        influence = read_json_object(args.influence, "influence", err)
        if influence is None:
            return EXIT_INVALID
    monitor = None
    if args.monitor is not None:
        monitor = read_json_object(args.monitor, "monitor", err)
        if monitor is None:
            return EXIT_INVALID
    try:
        text = render_html(
            plan,
            sensitivity=sensitivity,
            influence=influence,
            monitor=monitor,
            title=args.title,
        )
    except (KeyError, TypeError, ValueError) as exc:
        err.print(
            f"[bold red]Invalid input[/]: the plan is missing or has a wrong field ({escape(repr(exc))})"
        )
        return EXIT_INVALID
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    console.print(
        f"Report written to {escape(str(args.out))} ({len(text) / 1024:,.0f} KB, works offline)"
    )
    return EXIT_OK


def cmd_import(args: argparse.Namespace, console: Console, err: Console) -> int:
    """``territory import``: build a scenario folder from account and CSM exports.

    Returns
    -------
    int
        0, or 2 when the files have problems (all listed, nothing written) or the folder
        cannot be written.
    """
    from documents.importer import import_tables, write_scenario

    name = args.name or args.out.resolve().name or "imported"
    try:
        result = import_tables(
            args.accounts,
            args.csms,
            mapping=args.mapping,
            ignore_unknown=args.ignore_unknown,
            date_format=args.date_format,
            name=name,
            as_of=args.as_of,
        )
    except ScenarioError as exc:
        print_issues(err, exc, "nothing was written")
        return EXIT_INVALID
    try:
        written = write_scenario(result, args.out)
    except OSError as exc:
        err.print(f"[bold red]Cannot write[/] {escape(str(args.out))}: {escape(str(exc))}")
        return EXIT_INVALID
    print_import(console, result, written, args.out)
    return EXIT_OK


def read_plan(path: Path, err: Console) -> dict[str, Any] | None:
    """Read the plan to export, or say on ``err`` why it cannot be read as one."""
    try:
        plan = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        err.print(f"[bold red]Cannot export[/]: plan file not found: {escape(str(path))}")
        return None
    except (OSError, ValueError) as exc:
        err.print(
            f"[bold red]Cannot export[/]: {escape(str(path))} is not a plan JSON file: "
            + escape(str(exc))
        )
        return None
    if not isinstance(plan, dict):
        err.print(f"[bold red]Cannot export[/]: {escape(str(path))} is not a plan JSON object")
        return None
    return plan


def export_tables(plan: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    """The export's sheets by name (``EXPORT_FILES``), each as (columns, rows).

    Raises
    ------
    ValueError
        When the plan lacks what a sheet needs.
    """
    from documents.exports import book_summary_rows, books_rows, owner_updates_rows

    return {
        "Owner updates": owner_updates_rows(plan, args.effective_date),
        "Books": books_rows(plan),
        "Book summary": book_summary_rows(plan),
    }


def write_export(out: Path, tables: dict[str, Any], xlsx: bool) -> list[Path]:
    """Write each sheet as CSV, and all of them as one workbook with ``xlsx``.

    Returns
    -------
    list of Path
        The files written.

    Raises
    ------
    OSError
        When a file cannot be written; the files before it stay.
    """
    from documents.exports import table_csv, write_xlsx

    written = []
    out.mkdir(parents=True, exist_ok=True)
    for sheet, file_name in EXPORT_FILES.items():
        columns, rows = tables[sheet]
        (out / file_name).write_text(table_csv(columns, rows), encoding="utf-8")
        written.append(out / file_name)
    if xlsx:
        written.append(write_xlsx(out / "territory-plan.xlsx", tables))
    return written


def cmd_export(args: argparse.Namespace, console: Console, err: Console) -> int:
    """``territory export``: a plan as a CRM owner update CSV and per-CSM books.

    Returns
    -------
    int
        0, or 2 when the plan cannot be read or exported, or a file cannot be written.
    """
    plan = read_plan(args.plan, err)
    if plan is None:
        return EXIT_INVALID
    try:
        tables = export_tables(plan, args)
    except ValueError as exc:
        err.print(f"[bold red]Cannot export[/] {escape(str(args.plan))}: {escape(str(exc))}")
        return EXIT_INVALID
    try:
        written = write_export(args.out, tables, args.xlsx)
    except OSError as exc:
        err.print(f"[bold red]Cannot write[/] {escape(str(args.out))}: {escape(str(exc))}")
        return EXIT_INVALID
    transition = plan.get("transition")
    from_waves = isinstance(transition, dict) and bool(transition.get("moves"))
    print_export(
        console, tables["Owner updates"][1], len(tables["Book summary"][1]), from_waves, written
    )
    return EXIT_OK
