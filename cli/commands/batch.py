"""``compare``, ``sensitivity`` and ``sweep``: many solves at once, on local processes or Dask.

They share ``run_batch``: the batch options and a progress bar.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
from rich.progress import Progress as ProgressBar

from optimizer import Scenario, ScenarioError, Status
from scenarios.compare import compare
from scenarios.executors import Outcome
from scenarios.influence import influence, influence_variants
from scenarios.sensitivity import sensitivity, sensitivity_variants
from scenarios.sweep import SweepRow, parse_axis, sweep
from scenarios.variants import load_variant

from ..exits import EXIT_INVALID, EXIT_NO_PLAN, EXIT_OK
from ..render.batch import (
    compare_cell,
    comparison_table,
    print_influence,
    print_sensitivity,
    sweep_table,
    write_comparison_csv,
    write_sweep_csv,
)
from ..render.issues import print_issues

# The KPIs of each sweep combination, after its status, gap and objective.
SWEEP_KPIS = ("arr_spread", "arr_at_risk", "expertise_match", "moves", "moved_arr")


def run_batch(
    err: Console,
    args: argparse.Namespace,
    label: str,
    total: int | None,
    fn: Callable[..., Any],
    *fn_args: Any,
    lines: bool = False,
    **extra: Any,
) -> Any:
    """Call a batch function with the batch options and a progress bar.

    Parameters
    ----------
    err : rich.console.Console
        Standard error, where the bar is drawn (hidden when it is not a terminal).
    args : argparse.Namespace
        The parsed options: ``--backend``, ``--time-limit``, ``--workers``, ``--scheduler``.
    label : str
        The bar's description.
    total : int or None
        How many solves, when known beforehand.
    fn : callable
        ``scenarios.compare.compare``, ``scenarios.sensitivity.sensitivity`` or
        ``scenarios.sweep.sweep``.
    *fn_args, **extra
        Its own arguments.
    lines : bool
        Also print one line per finished run (``outcome_line``) on ``err``, terminal or not.

    Returns
    -------
    Any
        What ``fn`` returns.
    """
    options: dict[str, Any] = dict(extra)
    if args.time_limit is not None:
        options["time_limit_s"] = args.time_limit
    if args.backend is not None:
        options["backend"] = args.backend
    with ProgressBar(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        disable=not err.is_terminal,
        transient=True,
    ) as bar:
        task = bar.add_task(label, total=total)
        done = [0]

        def on_done(_index: int, outcome: Outcome) -> None:
            done[0] += 1
            bar.advance(task)
            if lines:
                # Above the bar on a terminal, one line each otherwise.
                err.print(outcome_line(done[0], total, outcome), markup=False, highlight=False)

        return fn(
            *fn_args,
            scheduler=args.scheduler,
            workers=args.workers,
            on_done=on_done,
            **options,
        )


def outcome_line(done: int, total: int | None, outcome: Outcome) -> str:
    """One finished run as a progress line: ``12/44 weight.churn_risk x1.5: optimal, gap
    0.010%, 3.1 s`` (``from the base plan`` instead of the time when it took no solve)."""
    count = f"{done}/{total}" if total is not None else str(done)
    plan = outcome.plan
    if plan is None:
        return f"{count} {outcome.name}: error: {outcome.error}"
    where = outcome.note or f"{plan.seconds:.1f} s"
    return f"{count} {outcome.name}: {plan.status}, gap {compare_cell('gap', plan.gap)}, {where}"


def cmd_compare(args: argparse.Namespace, console: Console, err: Console) -> int:
    """``territory compare``: solve several scenarios and show their results side by side.

    The valid scenarios are solved even when others are invalid.

    Returns
    -------
    int
        0, or 2 when any scenario is invalid (the others are still compared).
    """
    scenarios: list[Scenario] = []
    names = []
    failed = False
    for path in args.scenarios:
        try:
            scenarios.append(load_variant(path))
            # A scenario.json is named after its folder (what-if/scenario.json -> what-if).
            names.append(path.stem if path.stem != "scenario" else path.parent.name)
        except ScenarioError as exc:
            failed = True
            err.print(f"[bold]{path}[/]:")
            print_issues(err, exc)
    if not scenarios:
        return EXIT_INVALID
    result = run_batch(err, args, "solving", len(scenarios), compare, scenarios, names)
    if args.json:
        print(json.dumps(result.to_dict(), indent=2, default=str))
    elif args.csv:
        write_comparison_csv(result)
    else:
        console.print(comparison_table(result))
    return EXIT_INVALID if failed else EXIT_OK


def sensitivity_options(args: argparse.Namespace) -> dict[str, Any]:
    """The grids given as comma-separated lists; ``none`` or ``unlimited`` is no move budget."""
    options: dict[str, Any] = {}
    if args.weight_factors:
        options["weight_factors"] = [float(f) for f in args.weight_factors.split(",")]
    if args.tolerance_steps:
        options["tolerance_steps"] = [float(f) for f in args.tolerance_steps.split(",")]
    if args.budgets:
        options["move_budgets"] = [
            None if b in ("none", "unlimited") else int(b) for b in args.budgets.split(",")
        ]
    return options


def _analysis(
    args: argparse.Namespace,
    console: Console,
    err: Console,
    count: Callable[[Scenario], int],
    fn: Callable[..., Any],
    show: Callable[[Console, Any], None],
    **options: Any,
) -> int:
    """Load the scenario, run the analysis ``fn`` on it and its ``count`` variants with a
    progress line per run (unless ``--quiet`` or ``--json``), print ``show`` or the JSON.

    Returns
    -------
    int
        0 when the base scenario has a plan, 1 when it has none, 2 for invalid input.
    """
    try:
        scenario = load_variant(args.scenario)
    except ScenarioError as exc:
        print_issues(err, exc)
        return EXIT_INVALID
    # The base and every variant, so that each progress line says how far along the run is.
    total = 1 + count(scenario)
    lines = not (getattr(args, "quiet", False) or args.json)
    result = run_batch(err, args, "variants", total, fn, scenario, lines=lines, **options)
    if args.json:
        print(json.dumps(result.to_dict(), indent=2, default=str))
    else:
        show(console, result)
    return EXIT_OK if result.base.has_plan else EXIT_NO_PLAN


def cmd_sensitivity(args: argparse.Namespace, console: Console, err: Console) -> int:
    """``territory sensitivity``: which inputs matter, the disruption frontier, rule prices.

    Each run's line (``outcome_line``) goes to ``err`` as it ends, unless ``--quiet`` or
    ``--json``; every row of the tables says its gap. Exit codes as :func:`_analysis`.
    """
    options = sensitivity_options(args)

    def count(scenario: Scenario) -> int:
        return len(sensitivity_variants(scenario, **options))

    return _analysis(args, console, err, count, sensitivity, print_sensitivity, **options)


def cmd_influence(args: argparse.Namespace, console: Console, err: Console) -> int:
    """``territory influence``: each objective term and account attribute left out in turn,
    and how much each outcome KPI moves; a row within the gaps says so. Exit codes as
    :func:`_analysis`."""

    def count(scenario: Scenario) -> int:
        return len(influence_variants(scenario))

    return _analysis(args, console, err, count, influence, print_influence)


def sweep_record(row: SweepRow) -> dict[str, Any]:
    """One combination as a flat record: its settings, status, gap, objective and KPIs.

    A combination that could not run (invalid settings) has status ``invalid`` and no values.
    """
    plan = row.plan
    kpis = plan.after.kpis if plan is not None and plan.after is not None else {}
    return {
        **row.settings,
        "status": str(Status.INVALID if plan is None else plan.status),
        "gap": None if plan is None else plan.gap,
        "objective": None if plan is None else plan.objective,
        **{k: kpis.get(k) for k in SWEEP_KPIS},
    }


def cmd_sweep(args: argparse.Namespace, console: Console, err: Console) -> int:
    """``territory sweep``: solve every combination of the ``--set`` axes.

    Returns
    -------
    int
        0, or 2 when the axes are invalid or any combination had invalid settings (every
        combination is still reported).
    """
    try:
        scenario = load_variant(args.scenario)
        axes = [parse_axis(spec) for spec in args.set]
    except ScenarioError as exc:
        print_issues(err, exc)
        return EXIT_INVALID
    rows = run_batch(err, args, "sweep", None, sweep, scenario, axes)
    rejected = [row for row in rows if row.issues]
    for row in rejected:
        err.print(f"[bold]{row.name}[/]:")
        print_issues(err, ScenarioError(row.issues))
    keys = list(rows[0].settings) if rows else []
    records = [sweep_record(row) for row in rows]
    if args.json:
        print(json.dumps(records, indent=2, default=str))
    elif args.csv:
        write_sweep_csv(records, keys)
    else:
        columns = [*keys, "status", "gap", "objective", *SWEEP_KPIS]
        console.print(sweep_table(records, keys, columns))
    return EXIT_INVALID if rejected else EXIT_OK
