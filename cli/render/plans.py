"""Plans and evaluations: objective terms, CSM books, KPIs, moves, solve progress.

``solve`` and ``segment --solve`` print plans; ``evaluate`` prints an evaluation with the same
tables, in a single value column.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from optimizer import Evaluation, Plan, Progress, Status
from optimizer.explain.book_goals import describe
from optimizer.units import money

from .formats import pct


def progress_line(p: Progress) -> str:
    """The one-line status shown on a terminal while a solve runs.

    Parameters
    ----------
    p : optimizer.Progress
        The solver's latest report.

    Returns
    -------
    str
        Backend, incumbent, bound, gap and elapsed seconds.
    """
    gap = "-" if p.gap is None else f"{p.gap:.3%}"
    inc = "-" if p.incumbent is None else f"{p.incumbent:.5f}"
    bnd = "-" if p.bound is None else f"{p.bound:.5f}"
    return f"solving ({p.backend}): incumbent {inc}  bound {bnd}  gap {gap}  {p.elapsed_s:.1f} s"


#: Terms shown only when weighed or non-zero (most scenarios use neither).
OPTIONAL_TERMS = ("travel", "soft_rules")


def terms_table(after: Evaluation | None, before: Evaluation | None) -> Table:
    """Objective terms; with only ``after`` (evaluate mode) a single value column.

    Parameters
    ----------
    after : optimizer.Evaluation or None
        The plan's evaluation (``None`` when no plan was found).
    before : optimizer.Evaluation or None
        Today's assignment; ``None`` for a single value column.

    Returns
    -------
    rich.table.Table
        One row per term with its weight (``travel`` and ``soft_rules`` only when weighed or
        non-zero), and the total.
    """
    single = before is None
    table = Table(title="Objective (each term: 0 = ideal)", title_justify="left")
    table.add_column("term")
    table.add_column("weight", justify="right")
    if not single:
        table.add_column("before", justify="right")
    table.add_column("value" if single else "after", justify="right")
    source = after or before
    assert source is not None

    def cells(get: Any) -> list[str]:
        values = [] if single else ["-" if before is None else get(before)]
        return [*values, "-" if after is None else get(after)]

    shown = [e for e in (before, after) if e is not None]
    for name, weight in source.weights.items():
        if name in OPTIONAL_TERMS and not weight and not any(e.terms[name] for e in shown):
            continue  # travel or soft rules the scenario does not use
        table.add_row(name, pct(weight), *cells(lambda e, name=name: f"{e.terms[name]:.4f}"))
    table.add_row("[bold]total[/]", "", *cells(lambda e: f"[bold]{e.objective:.5f}[/]"))
    return table


def books_table(after: Evaluation | None, before: Evaluation) -> Table:
    """Each CSM's book, ``before -> after`` when there is a plan.

    Parameters
    ----------
    after : optimizer.Evaluation or None
        The plan's evaluation; ``None`` shows ``before`` alone (evaluate mode, or no plan).
    before : optimizer.Evaluation
        Today's assignment (or the evaluated one).

    Returns
    -------
    rich.table.Table
        Accounts, ARR, share of the ARR target, workload, risk and expertise per CSM.
    """
    title = "CSM books (before -> after)" if after is not None else "CSM books"
    table = Table(title=title, title_justify="left")
    hours = before.books[0].utilization is not None if before.books else False
    travel = before.books[0].travel_hours is not None if before.books else False
    for column in (
        "CSM",
        "accounts",
        "ARR",
        "% of target",
        "workload",
        *(("utilization",) if hours else ()),
        *(("travel h/qtr",) if travel else ()),
        "high-risk",
        "ARR at risk",
        "expertise",
    ):
        table.add_column(column, justify="left" if column == "CSM" else "right")
    for i, old in enumerate(before.books):
        new = after.books[i] if after else None

        def pair(get: Any, fmt: Any, old: Any = old, new: Any = new) -> str:
            return fmt(get(old)) if new is None else f"{fmt(get(old))} -> {fmt(get(new))}"

        used = (pair(lambda b: b.utilization, pct),) if hours else ()
        table.add_row(
            f"{old.name or old.csm_id} ({old.csm_id})" if old.name else old.csm_id,
            pair(lambda b: b.accounts, str),
            pair(lambda b: b.arr, money),
            pair(lambda b: b.arr_vs_target, pct),
            pair(lambda b: b.workload, lambda v: f"{v:,.0f}"),
            *used,
            *((pair(lambda b: b.travel_hours, lambda v: f"{v:,.0f}"),) if travel else ()),
            pair(lambda b: b.high_risk, str),
            pair(lambda b: b.arr_at_risk, money),
            pair(lambda b: b.expertise_match_rate, pct),
        )
    return table


# The KPIs shown, in order, with their cell format.
KPI_FORMATS: dict[str, Callable[[Any], str]] = {
    "arr_spread": lambda v: pct(v, 1),
    "arr_max_deviation": lambda v: pct(v, 1),
    "workload_cv": lambda v: pct(v, 1),
    "expertise_match": lambda v: pct(v, 1),
    "arr_at_risk": money,
    "expected_expansion_arr": money,
    "max_high_risk_per_csm": str,
    "moves": str,
    "moved_arr": money,
    "travel_hours": lambda v: f"{v:,.0f} h/qtr",
    "utilization_min": lambda v: pct(v, 0),
    "utilization_max": lambda v: pct(v, 0),
}


def kpi_table(after: Evaluation | None, before: Evaluation) -> Table:
    """KPIs before and after; with ``after=None`` (evaluate mode) a single value column.

    Parameters
    ----------
    after : optimizer.Evaluation or None
        The plan's evaluation.
    before : optimizer.Evaluation
        Today's assignment (or the evaluated one).

    Returns
    -------
    rich.table.Table
        One row per KPI of ``KPI_FORMATS``.
    """
    table = Table(title="KPIs", title_justify="left")
    table.add_column("KPI")
    table.add_column("value" if after is None else "before", justify="right")
    if after is not None:
        table.add_column("after", justify="right")
    for key, fmt in KPI_FORMATS.items():
        if key not in before.kpis:
            continue  # utilization, where the scenario does not track hours
        row = [before.kpis.get(key)] + ([] if after is None else [after.kpis.get(key)])
        table.add_row(key, *("-" if v is None else fmt(v) for v in row))
    return table


def moves_table(plan: Plan, limit: int) -> Table:
    """The plan's largest moves by ARR, with the reasons for each.

    Parameters
    ----------
    plan : optimizer.Plan
        A plan with moves.
    limit : int
        How many moves to show; the title still counts them all.

    Returns
    -------
    rich.table.Table
        Account, ARR, from, to and why.
    """
    moves = sorted(plan.moves(), key=lambda r: -r.arr)
    table = Table(
        title=f"Moves ({len(moves)}; largest {min(limit, len(moves))} shown)", title_justify="left"
    )
    for column in ("account", "ARR", "from", "to", "why"):
        table.add_column(column, justify="right" if column == "ARR" else "left")
    for row in moves[:limit]:
        table.add_row(
            f"{row.account_name or row.account_id} ({row.account_id})",
            money(row.arr),
            row.previous_csm_id or "-",
            row.csm_id,
            "; ".join(row.reasons),
        )
    return table


def print_plan_status(console: Console, plan: Plan) -> None:
    """Print the status line, the objective and bound, and the diagnosis when there is one."""
    colour = {Status.OPTIMAL: "green", Status.FEASIBLE: "yellow"}.get(plan.status, "red")
    console.print(f"[bold {colour}]{plan.status.upper()}[/] {plan.message}")
    if plan.has_plan:
        bound = "-" if plan.bound is None else f"{plan.bound:.5f}"
        console.print(
            f"objective {plan.objective:.5f}  bound {bound}  gap {pct(plan.gap, 4)}  "
            f"backend {plan.backend}  {plan.seconds:.2f} s"
        )
    for issue in plan.issues:
        console.print(f"  - {escape(issue.path)}: {escape(issue.message)}")
    if plan.diagnosis is not None:
        console.print(f"[bold]Why[/] ({plan.diagnosis.method}):")
        for conflict in plan.diagnosis.conflicts:
            console.print(f"  - {conflict.message}")
        if plan.diagnosis.note:
            console.print(f"  {plan.diagnosis.note}")


def print_transition(console: Console, transition: dict[str, Any]) -> None:
    """Print one line on the weekly handoff waves; the briefs themselves are in the plan JSON."""
    used = [w for w in transition["waves"] if w["moves"]]
    console.print(
        f"Transition: {len(transition['moves'])} change(s) in {len(used)} weekly wave(s) from "
        f"{transition['start']} (at most {transition['max_handoffs_per_week']} handoffs per CSM "
        f"per week); {transition['flagged']} flagged. Briefs: plan JSON "
        "`transition.moves[].brief`, or `territory report`."
    )


def print_held(console: Console, held: list[dict[str, Any]]) -> None:
    """Print the accounts a rule kept in place although moving them would score better.

    Counted by the rule that held them, then the first five with the reason.
    """
    kinds: dict[str, int] = {}
    for row in held:
        kinds[row["kind"]] = kinds.get(row["kind"], 0) + 1
    counts = ", ".join(f"{n} by {kind}" for kind, n in sorted(kinds.items()))
    console.print(f"Held in place although a move would score better: {counts}.")
    for row in held[:5]:
        console.print(
            f"  - {escape(str(row['account_name'] or row['account_id']))}: {escape(row['text'])}"
        )


def print_plan(console: Console, plan: Plan, moves_shown: int = 15) -> None:
    """Print a plan: status, then objective terms, books, KPIs, moves, transition, held accounts.

    Parameters
    ----------
    console : rich.console.Console
        Where to print.
    plan : optimizer.Plan
        The solve's result, with or without a plan.
    moves_shown : int
        The most moves listed.
    """
    print_plan_status(console, plan)
    if plan.before is None:
        return
    console.print(terms_table(plan.after, plan.before))
    console.print(books_table(plan.after, plan.before))
    console.print(kpi_table(plan.after, plan.before))
    if plan.has_plan and plan.moves():
        console.print(moves_table(plan, moves_shown))
    if plan.has_plan and plan.transition and plan.transition["moves"]:
        print_transition(console, plan.transition)
    if plan.held:
        print_held(console, plan.held)
    if plan.has_plan and plan.overrides:
        print_overrides(console, plan.overrides)
    if plan.has_plan and plan.projection:
        console.print(projection_table(plan.projection))
    if plan.has_plan and plan.book_goals:
        console.print(book_goals_table(plan.book_goals))
    if plan.has_plan and plan.equity and plan.equity["groups"]:
        print_equity(console, plan.equity)


def projection_table(projection: dict[str, Any]) -> Table:
    """Retained ARR, churned ARR and expected expansion per horizon, today's books -> the plan
    (the assumptions are in the plan JSON and the report)."""
    table = Table(
        title="Projected outcomes (today's books -> the plan; handoffs add churn risk)",
        title_justify="left",
    )
    for column in ("months", "retained ARR", "churned ARR", "expected expansion"):
        table.add_column(column, justify="right")
    for h in projection["horizons"]:
        cells = [
            f"{money(h['before'][k])} -> {money(h['after'][k])}"
            for k in ("retained_arr", "churned_arr", "expected_expansion_arr")
        ]
        table.add_row(str(h["months"]), *cells)
    return table


def book_goals_table(rules: list[dict[str, Any]]) -> Table:
    """The leader's book rules (goals, renewal load): each rule's limit, the books that keep
    it today and under the plan, and the book closest to its limit."""
    table = Table(title="Goals and renewal load (books keeping each rule)", title_justify="left")
    for column in ("rule", "counts", "limit", "kept: today -> plan", "closest to its limit"):
        table.add_column(column)
    for rule in rules:
        words = describe(rule)
        table.add_row(
            escape(rule["rule"]) + (" (soft)" if rule.get("soft") else ""),
            escape(rule["counts"]),
            words["limit"],
            words["kept"],
            escape(words["closest"]),
        )
    return table


def print_overrides(console: Console, overrides: list[dict[str, Any]]) -> None:
    """Print every override with its reason and what a single change it rules out would
    gain (``territory sensitivity`` prices each one exactly)."""
    console.print(f"Overrides ({len(overrides)}):")
    for row in overrides:
        what = "pinned to" if row["kind"] == "pin" else "forbidden from"
        who = f" ({row['author']}, {row['date']})" if row.get("author") and row.get("date") else ""
        cost = (
            f"without it, {row['better_csm_id']} would be {row['gain_without']:.4f} better"
            if row["better_csm_id"]
            else "costs nothing a single change would gain"
        )
        console.print(
            f"  - {escape(row['account_id'])} {what} {escape(', '.join(row['csm_ids']))}: "
            f"{escape(row['reason'])}{escape(who)}; {cost}"
        )


def print_equity(console: Console, equity: dict[str, Any]) -> None:
    """Print the equity audit's findings: the groups of accounts the plan serves clearly worse
    than the rest of the team (the full table is in the plan JSON and the report)."""
    findings = equity["findings"]
    groups = len(equity["groups"])
    if not findings:
        console.print(
            f"Equity audit: no region, segment or ARR band ({groups} groups) is served clearly "
            "worse than the rest."
        )
        return
    console.print(f"Equity audit: {len(findings)} finding(s) over {groups} groups:")
    for line in findings:
        console.print(f"  - {escape(line)}")


def print_evaluation(console: Console, evaluation: Evaluation) -> None:
    """Print an evaluated assignment: terms, books, KPIs and every hard-rule violation.

    Parameters
    ----------
    console : rich.console.Console
        Where to print.
    evaluation : optimizer.Evaluation
        The assignment's evaluation.
    """
    console.print(terms_table(evaluation, None))
    console.print(books_table(None, evaluation))
    console.print(kpi_table(None, evaluation))
    if evaluation.violations:
        console.print(f"[bold red]{len(evaluation.violations)} hard-rule violation(s)[/]:")
        for v in evaluation.violations:
            console.print(f"  - [bold]{v.rule}[/] ({v.subject}): {v.message}")
    else:
        console.print("[green]No hard-rule violations.[/]")
