"""``monitor`` (today's books, then the findings) and ``route`` (the placements)."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from optimizer.placement import Routing
from optimizer.units import money
from scenarios.monitor import MonitorReport

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


def findings_table(report: MonitorReport) -> Table:
    """One row per finding: the trigger, who, the figure against its threshold, the action."""
    table = Table(title=f"{len(report.findings)} findings", title_justify="left")
    table.add_column("trigger")
    table.add_column("finding")
    table.add_column("action")
    for f in report.findings:
        table.add_row(f.trigger, escape(f.message), f.action)
    return table


def print_monitor(console: Console, report: MonitorReport) -> None:
    """The books, then the findings (or that none fired), then the count per trigger."""
    since = f" since {report.since} ({report.since_as_of})" if report.since else ""
    console.print(f"Monitoring {escape(report.scenario)} on {report.as_of}{escape(since)}")
    console.print(books_table(report))
    if not report.findings:
        console.print("[green]No trigger fired.[/]")
        return
    console.print(findings_table(report))
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
