"""``territory segment``: coverage models, misalignment, utilization, expansion, migrations.

``coverage.segmentation`` is imported for type checking only: ``segment`` loads it when it runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Console
from rich.table import Table

from optimizer import Plan
from optimizer.units import money

from .plans import print_plan

if TYPE_CHECKING:
    from coverage import Routing, SegmentationReport


def coverage_models_table(report: SegmentationReport) -> Table:
    """Accounts per coverage model today and as recommended, with the FTE each needs."""
    table = Table(title="Coverage models", title_justify="left")
    for col in (
        "model",
        "cadence",
        "today",
        "recommended",
        "ARR",
        "FTE needed",
        "FTE staffed",
        "gap",
    ):
        table.add_column(col, justify="left" if col in ("model", "cadence") else "right")
    today = report.counts("current")
    for row in report.capacity.models:
        table.add_row(
            row.name + ("" if row.named else " (pool)"),
            row.cadence,
            str(today.get(row.name, 0)),
            str(row.accounts),
            money(row.arr),
            f"{row.fte_needed:.1f}",
            f"{row.fte_staffed:.1f}",
            f"{row.gap:+.1f}",
        )
    return table


def impact_table(report: SegmentationReport, top: int) -> Table:
    """The ``top`` misaligned accounts whose coverage change matters most."""
    impact = Table(title="Highest-impact coverage changes", title_justify="left")
    for col in ("account", "ARR", "today", "recommended", "impact"):
        impact.add_column(col, justify="left" if col == "account" else "right")
    for account_id in report.misalignment.top[:top]:
        r = report.account(account_id)
        impact.add_row(
            r.name or r.account_id, money(r.arr), r.current, r.recommended, money(r.impact)
        )
    return impact


def utilization_table(report: SegmentationReport, top: int) -> Table | None:
    """CSM utilization, busiest first; a long team shows its ``top`` busiest and least busy."""
    loads = sorted(report.capacity.csms, key=lambda c: -c.utilization_recommended)
    if not loads:
        return None
    util = Table(title="CSM utilization (1.0 = a full book)", title_justify="left")
    for col in ("CSM", "serves", "accounts", "as covered today", "as recommended", "state"):
        util.add_column(col, justify="left" if col in ("CSM", "serves", "state") else "right")
    shown = loads if len(loads) <= 2 * top else loads[:top] + loads[-top:]
    for c in shown:
        util.add_row(
            c.name or c.csm_id,
            c.serves,
            str(c.accounts),
            f"{c.utilization_current:.2f}",
            f"{c.utilization_recommended:.2f}",
            c.state,
        )
    return util


def expansion_table(report: SegmentationReport, top: int) -> Table:
    """The ``top`` expansion opportunities, ranked, with their owner and trigger."""
    exp = Table(title="Expansion opportunities", title_justify="left")
    for col in ("#", "account", "ARR", "headroom", "score", "owner", "trigger"):
        exp.add_column(col, justify="left" if col in ("account", "owner", "trigger") else "right")
    for e in report.expansion[:top]:
        exp.add_row(
            str(e.rank),
            e.name or e.account_id,
            money(e.arr),
            money(e.headroom),
            f"{e.score:.2f}",
            e.owner,
            e.trigger,
        )
    return exp


def print_misalignment(console: Console, report: SegmentationReport) -> None:
    """Print the value tiers and how many accounts (and how much ARR) are covered wrongly today."""
    m = report.misalignment
    tiers = report.counts("tier")
    console.print(
        "Value tiers: " + ", ".join(f"{name} {tiers.get(name, 0)}" for name in sorted(tiers))
    )
    console.print(
        f"Misaligned: {m.misaligned} accounts ({m.share:.0%}), {money(m.misaligned_arr)} ARR "
        f"({m.arr_share:.0%}); under-served {m.under_served} ({money(m.under_served_arr)}), "
        f"over-served {m.over_served} ({money(m.over_served_arr)}); "
        f"{m.fte_needed:.1f} FTE more needed, {m.fte_freed:.1f} FTE freed."
    )


def print_segmentation(console: Console, report: SegmentationReport, top: int) -> None:
    """Print a segmentation report as tables.

    Parameters
    ----------
    console : rich.console.Console
        Where to print.
    report : coverage.SegmentationReport
        The report.
    top : int
        Rows shown per table (``--top``).
    """
    m = report.misalignment
    console.print(
        f"[bold]{report.scenario}[/] as of {report.as_of}: {m.accounts} accounts, "
        f"{money(m.arr)} ARR; coverage driven by [bold]{report.scheme}[/]."
    )
    console.print(coverage_models_table(report))
    print_misalignment(console, report)
    if m.top:
        console.print(impact_table(report, top))
    util = utilization_table(report, top)
    if util is not None:
        console.print(util)
    for action in report.capacity.actions:
        console.print(f"  - {action.text}")
    console.print(expansion_table(report, top))
    ups = sum(1 for g in report.migrations if g.direction == "up")
    exceptions = sum(1 for g in report.migrations if g.exception)
    console.print(
        f"Migrations: {ups} up, {len(report.migrations) - ups} down, {exceptions} exception(s) "
        "(renewal close, at risk, competitor, locked)."
    )


def print_routed_plan(console: Console, routing: Routing, plan: Plan) -> None:
    """Print the assignment of the named accounts after routing the rest to the pool.

    Parameters
    ----------
    console : rich.console.Console
        Where to print.
    routing : coverage.Routing
        The routed scenario, the pooled accounts and the routing notes.
    plan : optimizer.Plan
        The routed scenario's plan.
    """
    console.print(
        f"\nAssignment of the named accounts: {len(routing.scenario.accounts)} accounts, "
        f"{len(routing.scenario.csms)} CSMs; {len(routing.pooled)} account(s) go to the pool."
    )
    for note in routing.notes:
        console.print(f"  - {note}")
    print_plan(console, plan)
