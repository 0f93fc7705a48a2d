"""``monitor``, ``route`` and ``outcomes``: between re-plans, what today's books break and
where they drift, where new accounts go, and what a plan's predictions were worth."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape

from optimizer import ScenarioError, ScenarioIssue
from optimizer.placement import Router
from optimizer.scenario import read_files, read_json
from scenarios.monitor import load_reference, monitor
from scenarios.outcomes import outcomes, read_actuals, write_csm_table
from scenarios.variants import load_variant

from ..exits import EXIT_INVALID, EXIT_NO_PLAN, EXIT_OK, EXIT_TRIGGERED
from ..render.issues import print_issues
from ..render.monitor import print_monitor, print_outcomes, print_routing
from .files import write_json


def emit(args: argparse.Namespace, data: dict[str, Any], show: Callable[[], None]) -> None:
    """Write ``data`` to ``--out`` when given, then print it as JSON (``--json``) or ``show``
    the tables."""
    if args.out:
        write_json(args.out, data)
    if args.json:
        print(json.dumps(data, indent=2, default=str))
    else:
        show()


def cmd_monitor(args: argparse.Namespace, console: Console, err: Console) -> int:
    """``territory monitor``: the triggers of the snapshot's ``monitor`` section on today's
    books, and with ``--since`` the drift and trajectories since an earlier snapshot or plan.

    Returns
    -------
    int
        0; 3 with ``--fail-on-trigger`` when a trigger fired; 2 for invalid input.
    """
    try:
        snapshot = load_variant(args.snapshot)
        since = load_reference(args.since) if args.since else None
        report = monitor(snapshot, since)
    except ScenarioError as exc:
        print_issues(err, exc)
        return EXIT_INVALID
    emit(args, report.to_dict(), lambda: print_monitor(console, report, every=args.all))
    return EXIT_TRIGGERED if args.fail_on_trigger and report.fired else EXIT_OK


def read_new_accounts(path: Path) -> list[dict[str, Any]]:
    """New accounts from a CSV or XLSX table (the columns of accounts.csv) or a JSON file (a
    list of accounts, or an object with ``accounts``). Raises :class:`ScenarioError`."""
    if path.suffix.lower() == ".json":
        data: Any = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None
        if data is None:
            raise ScenarioError([ScenarioIssue(path=str(path), message="file not found")])
        rows = data.get("accounts") if isinstance(data, dict) else data
        if not isinstance(rows, list):
            raise ScenarioError(
                [ScenarioIssue(path=str(path), message="expected a list of accounts")]
            )
        return rows
    data, issues = read_files({"accounts": str(path.resolve())}, Path.cwd())
    if issues:
        raise ScenarioError(issues)
    return list(data["accounts"])


def cmd_route(args: argparse.Namespace, console: Console, err: Console) -> int:
    """``territory route``: place new accounts (and the snapshot's accounts without an
    owner) with the plan's objective and rules, moving nobody else.

    Returns
    -------
    int
        0 when every account was placed, 1 when a rule blocks one (the candidates and the
        cheapest rebalance are printed), 2 for invalid input.
    """
    try:
        snapshot = load_variant(args.snapshot)
        rows = read_new_accounts(args.accounts) if args.accounts else []
        router = Router(snapshot)
        routing = router.route(
            rows, commit=args.commit_to is not None, exact=args.exact, time_limit_s=args.time_limit
        )
    except (ScenarioError, json.JSONDecodeError) as exc:
        if isinstance(exc, json.JSONDecodeError):
            exc = ScenarioError(
                [ScenarioIssue(path=str(args.accounts), message=f"not JSON: {exc}")]
            )
        print_issues(err, exc)
        return EXIT_INVALID
    if args.commit_to:
        write_json(args.commit_to, router.snapshot.model_dump(mode="json", exclude_defaults=True))
    emit(args, routing.to_dict(), lambda: print_routing(console, routing))
    return EXIT_OK if routing.all_placed else EXIT_NO_PLAN


def cmd_outcomes(args: argparse.Namespace, console: Console, err: Console) -> int:
    """``territory outcomes``: a plan's predictions against the actual outcomes, the churn
    inputs' calibration and each CSM's re-estimated rates (optionally as a csms.csv).

    Returns
    -------
    int
        0, or 2 for invalid input (each problem named by file, row and column, or account).
    """
    try:
        scenario = load_variant(args.scenario)
        plan = read_json(args.plan)
        if not isinstance(plan.get("assignments"), list):
            raise ScenarioError(
                [ScenarioIssue(path=str(args.plan), message="not a plan (no assignments)")]
            )
        actuals = read_actuals(args.actuals)
        report = outcomes(scenario, plan, actuals, months=args.months)
    except ScenarioError as exc:
        print_issues(err, exc)
        return EXIT_INVALID
    if args.csms_out:
        write_csm_table(scenario, report, args.csms_out)

    def show() -> None:
        print_outcomes(console, report)
        if args.csms_out:
            console.print(f"CSM table with the re-estimated rates: {escape(str(args.csms_out))}")

    emit(args, report.to_dict(), show)
    return EXIT_OK
