"""``build_parser``: the argparse tree of the ``territory`` command.

Parsing only: the subcommand's name lands in ``args.command`` and ``cli.app`` dispatches on it,
so building the parser imports no command module. ``SUBCOMMANDS`` lists the subcommands in the
order ``territory --help`` shows them; one function per subcommand adds its options.
"""

from __future__ import annotations

import argparse
import datetime as dt
from collections.abc import Callable
from pathlib import Path

from optimizer import BACKENDS


def iso_date(text: str) -> dt.date:
    """Parse a ``YYYY-MM-DD`` option value.

    Parameters
    ----------
    text : str
        The value as typed.

    Returns
    -------
    datetime.date
        The date.

    Raises
    ------
    argparse.ArgumentTypeError
        When ``text`` is not an ISO date; argparse reports it as a usage error (exit code 2).
    """
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date YYYY-MM-DD, got {text!r}") from None


def add_batch_options(p: argparse.ArgumentParser, per: str) -> None:
    """Add the options every batch command (compare, sensitivity, sweep) shares.

    Parameters
    ----------
    p : argparse.ArgumentParser
        The command's parser.
    per : str
        What one solve is for, in the ``--time-limit`` help ("seconds per scenario").
    """
    p.add_argument("--backend", choices=("auto", *BACKENDS))
    p.add_argument("--time-limit", type=float, help=f"seconds per {per}")
    p.add_argument("--workers", type=int, help="local processes (default: one per core)")
    p.add_argument("--scheduler", help="Dask scheduler address, e.g. tcp://host:8786")


def add_json_or_csv(p: argparse.ArgumentParser) -> None:
    """Add ``--json`` and ``--csv``: each replaces the table, so they exclude each other."""
    form = p.add_mutually_exclusive_group()
    form.add_argument("--json", action="store_true")
    form.add_argument("--csv", action="store_true")


def add_solve(p: argparse.ArgumentParser) -> None:
    """``territory solve``: the scenario, the plan file, overrides of its solver settings."""
    p.add_argument("scenario", type=Path)
    p.add_argument("--out", type=Path, help="write the plan JSON here")
    p.add_argument("--backend", choices=("auto", *BACKENDS))
    p.add_argument("--time-limit", type=float, help="seconds (overrides solver.time_limit_s)")
    p.add_argument("--gap", type=float, help="relative gap to stop at (overrides solver.gap)")
    p.add_argument("--seed", type=int)
    p.add_argument("--threads", type=int)
    p.add_argument(
        "--strategy",
        choices=("auto", "full", "columns", "lagrangian"),
        help="full model, column generation for large teams, Lagrangian decomposition for very "
        "large ones, or auto by size",
    )
    p.add_argument("--export-model", type=Path, help="also write the model as .mps or .lp")
    p.add_argument("--json", action="store_true", help="print the plan JSON instead of tables")
    p.add_argument("--quiet", action="store_true", help="print nothing (exit code and --out only)")


def add_evaluate(p: argparse.ArgumentParser) -> None:
    """``territory evaluate``: the scenario and the assignment to score."""
    p.add_argument("scenario", type=Path)
    p.add_argument(
        "--plan", type=Path, help="plan JSON or CSV (account_id,csm_id); default: current CSMs"
    )
    p.add_argument("--json", action="store_true")


def add_monitor(p: argparse.ArgumentParser) -> None:
    """``territory monitor``: the snapshot, the earlier snapshot or plan, the output form."""
    p.add_argument("snapshot", type=Path, help="a scenario whose current_csm are today's owners")
    p.add_argument(
        "--since", type=Path, help="an earlier snapshot or a plan JSON: adds drift and trajectories"
    )
    p.add_argument("--json", action="store_true", help="print the findings as JSON")
    p.add_argument(
        "--all", action="store_true", help="every finding in the table (default: 8 per trigger)"
    )
    p.add_argument("--out", type=Path, help="also write the findings JSON here")
    p.add_argument(
        "--fail-on-trigger", action="store_true", help="exit with 3 when a trigger fired"
    )


def add_route(p: argparse.ArgumentParser) -> None:
    """``territory route``: the snapshot, the new accounts, the output form."""
    p.add_argument("snapshot", type=Path, help="a scenario whose current_csm are today's owners")
    p.add_argument(
        "--accounts",
        type=Path,
        help="new accounts: CSV/XLSX with accounts.csv's columns, or JSON (default: the "
        "snapshot's accounts without an owner)",
    )
    p.add_argument("--exact", action="store_true", help="a batch: also solve it jointly")
    p.add_argument("--time-limit", type=float, help="seconds for --exact's solve")
    p.add_argument("--json", action="store_true", help="print the placements as JSON")
    p.add_argument("--out", type=Path, help="also write the placements JSON here")
    p.add_argument(
        "--commit-to", type=Path, help="write the snapshot with the placed accounts owned here"
    )


def add_outcomes(p: argparse.ArgumentParser) -> None:
    """``territory outcomes``: the plan, its scenario, the actuals, the outputs."""
    p.add_argument("plan", type=Path, help="the plan JSON that was adopted (territory solve --out)")
    p.add_argument(
        "--scenario", type=Path, required=True, help="the scenario the plan was made from"
    )
    p.add_argument(
        "--actuals",
        type=Path,
        required=True,
        help="CSV/XLSX: account_id, outcome (renewed/churned/contracted/expanded), amount, "
        "date, csm_id",
    )
    p.add_argument("--months", type=float, help="the period (default: to the last actual's date)")
    p.add_argument("--csms-out", type=Path, help="write csms.csv with the re-estimated rates")
    p.add_argument("--json", action="store_true", help="print the comparison as JSON")
    p.add_argument("--out", type=Path, help="also write the comparison JSON here")


def add_compare(p: argparse.ArgumentParser) -> None:
    """``territory compare``: the scenarios, the batch options, the output form."""
    p.add_argument("scenarios", type=Path, nargs="+")
    add_batch_options(p, "scenario")
    add_json_or_csv(p)


def add_sensitivity(p: argparse.ArgumentParser) -> None:
    """``territory sensitivity``: the scenario, the batch options, the grids of variants."""
    p.add_argument("scenario", type=Path)
    add_batch_options(p, "solve")
    p.add_argument("--budgets", help="move budgets for the frontier, e.g. 0,5,10,20,none")
    p.add_argument("--weight-factors", help="grid of weight multipliers (default 0.5,1.5)")
    p.add_argument("--tolerance-steps", help="grid of tolerance changes (default -0.05,0.05)")
    p.add_argument(
        "--json", action="store_true", help="print the analysis JSON (no progress lines)"
    )
    p.add_argument(
        "--quiet", action="store_true", help="no progress lines on stderr (the tables still print)"
    )


def add_influence(p: argparse.ArgumentParser) -> None:
    """``territory influence``: the scenario, the batch options, the output form."""
    p.add_argument("scenario", type=Path)
    add_batch_options(p, "solve")
    p.add_argument("--json", action="store_true", help="print the analysis JSON")


def add_sweep(p: argparse.ArgumentParser) -> None:
    """``territory sweep``: the scenario, its axes, the batch options, the output form."""
    p.add_argument("scenario", type=Path)
    p.add_argument(
        "--set",
        action="append",
        required=True,
        metavar="SECTION.FIELD=V1,V2",
        help="an axis, e.g. constraints.arr_tolerance=0.1,0.15,0.2 (repeat for more axes)",
    )
    add_batch_options(p, "solve")
    add_json_or_csv(p)


def add_segment(p: argparse.ArgumentParser) -> None:
    """``territory segment``: the scenario, the scheme, the output folder, the optional solve."""
    p.add_argument("scenario", type=Path)
    p.add_argument("--out", type=Path, help="folder for report.json, CSV tables, communications")
    p.add_argument("--scheme", choices=("segments", "tiers"), help="which scheme drives coverage")
    p.add_argument(
        "--templates", type=Path, help="folder of Jinja2 templates overriding the built-in ones"
    )
    p.add_argument(
        "--solve",
        action="store_true",
        help="also assign the named accounts (segment workloads, pool routing)",
    )
    p.add_argument(
        "--time-limit", type=float, help="seconds for --solve (overrides solver.time_limit_s)"
    )
    p.add_argument("--top", type=int, default=10, help="rows shown per table (default 10)")
    p.add_argument("--json", action="store_true", help="print the report JSON instead of tables")


def add_import(p: argparse.ArgumentParser) -> None:
    """``territory import``: the two exports, how to read their columns and dates, the folder."""
    p.add_argument(
        "--accounts", type=Path, required=True, help="accounts file: .csv, .xlsx or book.xlsx#Sheet"
    )
    p.add_argument(
        "--csms", type=Path, required=True, help="CSM roster: .csv, .xlsx or book.xlsx#Sheet"
    )
    p.add_argument(
        "--mapping",
        type=Path,
        help='JSON {"accounts": {"Their Column": "field" or null}, "csms": {...}} (null ignores)',
    )
    p.add_argument(
        "--ignore-unknown", action="store_true", help="skip columns no alias or mapping names"
    )
    p.add_argument(
        "--date-format",
        choices=("us", "eu", "iso"),
        default="us",
        help="03/04/2026 is March 4 (us, default) or 3 April (eu); iso accepts only YYYY-MM-DD",
    )
    p.add_argument("--name", help="scenario name (default: the --out folder's name)")
    p.add_argument("--as-of", type=iso_date, help="the scenario's as_of date (default: today)")
    p.add_argument(
        "--out", type=Path, required=True, help="folder for scenario.json, accounts.csv, csms.csv"
    )


def add_export(p: argparse.ArgumentParser) -> None:
    """``territory export``: the plan, the folder, the owner changes' date, the workbook."""
    p.add_argument("plan", type=Path, help="plan JSON written by territory solve --out")
    p.add_argument(
        "--out", type=Path, required=True, help="folder for owner_updates.csv, books.csv, ..."
    )
    p.add_argument(
        "--effective-date",
        type=iso_date,
        help="date of the owner changes when the plan has no transition dates",
    )
    p.add_argument(
        "--xlsx", action="store_true", help="also write territory-plan.xlsx with the three sheets"
    )


def add_report(p: argparse.ArgumentParser) -> None:
    """``territory report``: the plan, the HTML file, the sensitivity analysis to add."""
    p.add_argument("plan", type=Path, help="a plan JSON (territory solve --out)")
    p.add_argument("--out", type=Path, default=Path("report.html"), help="default report.html")
    p.add_argument(
        "--sensitivity", type=Path, help="territory sensitivity --json output: adds the frontier"
    )
    p.add_argument(
        "--influence",
        type=Path,
        help="territory influence --json output: adds which inputs matter",
    )
    p.add_argument(
        "--monitor", type=Path, help="territory monitor --json output: adds the triggers"
    )
    p.add_argument("--title", help="the report's title")


def add_validate(p: argparse.ArgumentParser) -> None:
    """``territory validate``: the scenario."""
    p.add_argument("scenario", type=Path)


def add_schema(p: argparse.ArgumentParser) -> None:
    """``territory schema``: where the schema goes (default stdout)."""
    p.add_argument("--out", type=Path)


def add_serve(p: argparse.ArgumentParser) -> None:
    """``territory serve``: where to listen, the solver processes, the job store."""
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    p.add_argument("--workers", type=int, help="solver processes (default: the cores)")
    p.add_argument(
        "--database-url", help="job store URL (default TERRITORY_DATABASE_URL or SQLite)"
    )


# (name, one-line help, the function adding its options), in the order of `territory --help`.
SUBCOMMANDS: tuple[tuple[str, str, Callable[[argparse.ArgumentParser], None]], ...] = (
    ("solve", "solve a scenario and write a reassignment plan", add_solve),
    ("evaluate", "score an assignment: objective, books, KPIs, violations", add_evaluate),
    ("monitor", "between re-plans: triggers, drift and trajectories of today's books", add_monitor),
    ("route", "place new accounts in today's books, moving nobody else", add_route),
    (
        "outcomes",
        "a plan's predictions against what happened; re-estimated CSM rates",
        add_outcomes,
    ),
    ("compare", "solve several scenarios and show them side by side", add_compare),
    ("sensitivity", "which inputs matter, the disruption frontier, rule prices", add_sensitivity),
    (
        "influence",
        "each objective term and account attribute left out: how much each KPI moves",
        add_influence,
    ),
    ("sweep", "solve every combination of a few settings", add_sweep),
    ("segment", "coverage segments, capacity, expansion ranking, tier migrations", add_segment),
    ("import", "read accounts and CSMs from CSV/XLSX exports into a scenario", add_import),
    ("export", "a plan as a CRM owner update CSV and per-CSM books (CSV, XLSX)", add_export),
    ("report", "one self-contained HTML report of a plan", add_report),
    ("validate", "check a scenario and list every problem", add_validate),
    ("schema", "print the scenario JSON Schema", add_schema),
    ("serve", "run the HTTP API (docs/api.md)", add_serve),
)


def build_parser() -> argparse.ArgumentParser:
    """Build the parser of the ``territory`` command.

    Returns
    -------
    argparse.ArgumentParser
        The parser; ``parse_args`` sets ``command`` to the subcommand's name.
    """
    parser = argparse.ArgumentParser(
        prog="territory", description="Assign customer accounts to CSMs, optimally."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for name, help_text, add_options in SUBCOMMANDS:
        add_options(sub.add_parser(name, help=help_text))
    return parser
