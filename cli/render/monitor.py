"""``monitor`` (today's books, then the findings), ``route`` (the placements) and ``outcomes``
(predicted against actual, calibration, re-estimated rates)."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from optimizer.placement import Routing
from optimizer.units import money
from scenarios.monitor import MonitorReport
from scenarios.outcomes import Comparison, OutcomeReport

from .formats import pct


def books_table(report: MonitorReport) -> Table:
    """One row per CSM: accounts, ARR and its load, workload load, ARR at risk and its share,
    utilization, and (with an earlier snapshot) the change of ARR and ARR at risk."""
    since = report.since is not None
    table = Table(title=f"Books on {report.as_of}", title_justify="left")
    for name in ("CSM", "accounts", "ARR", "ARR load", "workload load", "at risk", "risk share"):
        table.add_column(name, justify="left" if name == "CSM" else "right")
    hours = any(b.utilization is not None for b in report.books)
    if hours:
        table.add_column("utilization", justify="right")
    if since:
        table.add_column("ARR change", justify="right")
        table.add_column("risk change", justify="right")
    for b in report.books:
        cells = [
            escape(b.name or b.csm_id),
            str(b.accounts),
            money(b.arr),
            f"{b.arr_load:.2f}",
            f"{b.workload_load:.2f}",
            money(b.arr_at_risk),
            pct(b.risk_share),
        ]
        if hours:
            cells.append("-" if b.utilization is None else pct(b.utilization))
        if since:
            for key in ("arr", "arr_at_risk"):
                change = b.change.get(key)
                cells.append("-" if change is None else f"{change:+.0%}")
        table.add_row(*cells)
    return table


#: Findings of one trigger shown in the table (the JSON has them all).
SHOWN_PER_TRIGGER = 8


def findings_table(report: MonitorReport, per_trigger: int | None = SHOWN_PER_TRIGGER) -> Table:
    """One row per finding (the largest first, at most ``per_trigger`` of each trigger, then
    how many more): the trigger, the sentence with figure and threshold, the action."""
    table = Table(title=f"{len(report.findings)} findings", title_justify="left")
    table.add_column("trigger")
    table.add_column("finding")
    table.add_column("action")
    counts = report.counts()
    shown: dict[str, int] = {}
    for f in report.findings:
        shown[f.trigger] = shown.get(f.trigger, 0) + 1
        if per_trigger is None or shown[f.trigger] <= per_trigger:
            table.add_row(f.trigger, escape(f.message), f.action)
        elif shown[f.trigger] == per_trigger + 1:
            more = counts[f.trigger] - per_trigger
            table.add_row(f.trigger, f"[dim]... and {more} more (--json or --out: all)[/]", "")
    return table


def print_monitor(console: Console, report: MonitorReport, every: bool = False) -> None:
    """The books, then the findings (or that none fired), then the count per trigger."""
    since = f" since {report.since} ({report.since_as_of})" if report.since else ""
    console.print(f"Monitoring {escape(report.scenario)} on {report.as_of}{escape(since)}")
    console.print(books_table(report))
    if not report.findings:
        console.print("[green]No trigger fired.[/]")
        return
    console.print(findings_table(report, None if every else SHOWN_PER_TRIGGER))
    counts = ", ".join(f"{k} {v}" for k, v in report.counts().items())
    console.print(f"Triggers fired: {counts}")


def print_routing(console: Console, routing: Routing) -> None:
    """Each placement with its cost and reasons; for an account no CSM may take, each
    candidate with the rule that blocks it, and the cheapest rebalance."""
    table = Table(
        title=f"{len(routing.placements)} account(s) routed ({routing.method}, "
        f"{routing.seconds * 1000:.0f} ms)",
        title_justify="left",
    )
    table.add_column("account")
    table.add_column("CSM")
    table.add_column("objective change", justify="right")
    table.add_column("why")
    for p in routing.placements:
        table.add_row(
            escape(p.account_name or p.account_id),
            escape(p.csm_name or p.csm_id or "-"),
            "-" if p.cost is None else f"{p.cost:+.5f}",
            escape("; ".join(p.reasons)),
        )
    console.print(table)
    for p in routing.placements:
        if p.placed:
            continue
        console.print(f"[bold red]{escape(p.account_id)}[/]: no CSM can take it under the rules")
        for c in p.candidates[:10]:
            console.print(f"  {escape(c.csm_name or c.csm_id)}: {escape(c.broken[0])}")
    for note in routing.notes:
        console.print(escape(note))


def _comparison_table(title: str, rows: Sequence[Comparison]) -> Table:
    table = Table(title=title, title_justify="left")
    for name in (
        "group",
        "accounts",
        "churn expected",
        "churned",
        "churned ARR expected",
        "churned ARR",
        "contracted ARR",
        "expansion expected",
        "expansion",
    ):
        table.add_column(name, justify="left" if name == "group" else "right")
    for r in rows:
        table.add_row(
            escape(r.group),
            str(r.accounts),
            f"{r.predicted_churned:.1f}",
            str(r.churned),
            money(r.predicted_churned_arr),
            money(r.churned_arr),
            money(r.contracted_arr),
            money(r.predicted_expansion_arr),
            money(r.expansion_arr),
        )
    return table


def print_outcomes(console: Console, report: OutcomeReport) -> None:
    """Predicted against actual (per CSM, segment, moved or kept), the calibration bands and
    the re-estimated rates with their intervals, then the assumptions."""
    console.print(
        f"Outcomes of the plan of {escape(report.scenario)} ({report.plan_as_of}), "
        f"{report.months:.1f} months, {report.accounts} accounts"
        + (f"; {len(report.missing)} without an actual" if report.missing else "")
    )
    console.print(_comparison_table("Per CSM", [*report.by_csm, report.total]))
    console.print(_comparison_table("Per segment", report.by_segment))
    console.print(_comparison_table("Moved and kept accounts", report.by_move))
    bands = Table(title="Calibration of the churn inputs", title_justify="left")
    for name in ("predicted band", "accounts", "predicted", "observed", "95% interval", ""):
        bands.add_column(name, justify="right")
    for b in report.calibration:
        bands.add_row(
            f"{b.low:.0%}-{b.high:.0%}",
            str(b.accounts),
            pct(b.predicted, 1),
            pct(b.observed, 1),
            f"{pct(b.interval[0], 1)}-{pct(b.interval[1], 1)}",
            "ok" if b.consistent else "[yellow]off[/]",
        )
    console.print(bands)
    rates = Table(title="Re-estimated rates (95% intervals)", title_justify="left")
    for name in ("CSM", "accounts", "churned", "retention", "was", "expansion rate", "was"):
        rates.add_column(name, justify="left" if name == "CSM" else "right")
    for e in report.estimates:

        def cell(value: float | None, interval: tuple[float, float] | None) -> str:
            if value is None or interval is None:
                return "-"
            return f"{value:.3f} ({interval[0]:.3f}-{interval[1]:.3f})"

        rates.add_row(
            escape(e.name or e.csm_id),
            str(e.accounts),
            str(e.churned),
            cell(e.retention, e.retention_interval) if e.retention is not None else escape(e.note),
            f"{e.retention_input:.3f}",
            cell(e.expansion_rate, e.expansion_interval),
            f"{e.expansion_input:.3f}",
        )
    console.print(rates)
    for line in report.assumptions:
        console.print(f"[dim]- {escape(line)}[/]")
