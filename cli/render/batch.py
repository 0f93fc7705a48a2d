"""``compare``, ``sensitivity`` and ``sweep``: scenarios side by side, the disruption frontier,
rule prices, tornado and stability tables, and sweep results (as tables or CSV)."""

from __future__ import annotations

import csv
import sys
from collections.abc import Callable, Sequence
from typing import Any

from rich.console import Console
from rich.table import Table

from optimizer.units import money
from scenarios.compare import ROWS, Comparison
from scenarios.sensitivity import Sensitivity

from .formats import pct, signed


def compare_cell(key: str, value: Any) -> str:
    """Format one metric of a batch result (``scenarios.compare.ROWS`` keys, KPIs, settings).

    Parameters
    ----------
    key : str
        The metric: ``gap``, ``objective``, ``term.<name>``, a KPI, or a setting.
    value : Any
        Its value; ``None`` shows as ``-``.

    Returns
    -------
    str
        The cell text.
    """
    if value is None:
        return "-"
    if key == "gap" or key in ("arr_spread", "expertise_match"):
        return pct(value, 3 if key == "gap" else 1)
    if key in ("arr_at_risk", "moved_arr"):
        return money(value)
    if isinstance(value, float):
        return f"{value:.4f}" if key.startswith("term.") or key == "objective" else f"{value:,.2f}"
    return str(value)


def comparison_table(result: Comparison) -> Table:
    """The compared scenarios as columns, one row per metric of ``scenarios.compare.ROWS``."""
    table = Table(title="Scenarios side by side", title_justify="left")
    table.add_column("")
    for name in result.names:
        table.add_column(name, justify="right")
    for key, label in ROWS:
        table.add_row(
            label, *(compare_cell(key, result.value(i, key)) for i in range(len(result.names)))
        )
    return table


def write_comparison_csv(result: Comparison) -> None:
    """Write the comparison to stdout as CSV: raw values, one row per metric."""
    writer = csv.writer(sys.stdout)
    writer.writerow(["metric", *result.names])
    for key, label in ROWS:
        writer.writerow([label, *(result.value(i, key) for i in range(len(result.names)))])


def frontier_table(result: Sensitivity) -> Table:
    """The best plan for each move budget and the share of the full gain it reaches."""
    table = Table(title="Disruption frontier: best plan per move budget", title_justify="left")
    for column in ("max moves", "status", "objective", "share of the gain", "moves", "moved ARR"):
        table.add_column(column, justify="right")
    for run, (_, share) in zip(result.frontier, result.frontier_gain_shares(), strict=True):
        after = run.plan.after
        table.add_row(
            "unlimited" if run.value is None else str(run.value),
            run.plan.status,
            compare_cell("objective", run.plan.objective),
            pct(share),
            "-" if after is None else str(after.kpis["moves"]),
            "-" if after is None else money(float(after.kpis["moved_arr"] or 0)),
        )
    return table


def prices_table(result: Sensitivity) -> Table:
    """What each hard rule costs: the objective gained by dropping it, dearest first."""
    table = Table(title="Price of each hard rule (objective gain without it)", title_justify="left")
    for column in ("rule", "status", "price", "accounts placed differently"):
        table.add_column(column, justify="left" if column == "rule" else "right")
    for run in sorted(result.prices, key=lambda r: -(r.price or 0.0)):
        table.add_row(
            run.input.removeprefix("rule.").replace("lock.", "lock on "),
            run.plan.status,
            compare_cell("objective", run.price),
            str(run.changed_accounts),
        )
    return table


# The tornado tables, in order: the KPI and the format of its change (None: four decimals).
TORNADO_KPIS: tuple[tuple[str, Callable[[float], str] | None], ...] = (
    ("objective", None),
    ("arr_at_risk", money),
    ("arr_spread", lambda v: pct(v, 1)),
    ("moves", lambda v: f"{v:.0f}"),
)


def tornado_tables(result: Sensitivity) -> list[Table]:
    """One tornado table per KPI of ``TORNADO_KPIS`` that the base plan has."""
    tables = []
    for kpi, fmt in TORNADO_KPIS:
        rows = result.tornado(kpi)
        if not rows:
            continue
        table = Table(title=f"Tornado: {kpi} (change vs the base plan)", title_justify="left")
        for column in ("input", "low", "high"):
            table.add_column(column, justify="left" if column == "input" else "right")
        for name, low, high in rows:
            table.add_row(name, signed(low, fmt), signed(high, fmt))
        tables.append(table)
    return tables


def stability_table(result: Sensitivity) -> Table:
    """How many accounts change CSM when each weight moves by 5%."""
    table = Table(
        title="Stability: accounts that change CSM when a weight moves by 5%", title_justify="left"
    )
    table.add_column("weight")
    table.add_column("value", justify="right")
    table.add_column("accounts changed", justify="right")
    for run in result.stability:
        table.add_row(
            run.input.removeprefix("weight."), f"{run.value:g}", str(run.changed_accounts)
        )
    return table


def print_sensitivity(console: Console, result: Sensitivity) -> None:
    """Print a sensitivity analysis: base plan, frontier, rule prices, tornados, stability.

    Parameters
    ----------
    console : rich.console.Console
        Where to print.
    result : scenarios.sensitivity.Sensitivity
        The analysis.
    """
    base = result.base
    console.print(
        f"Base plan: [bold]{base.status}[/], objective {compare_cell('objective', base.objective)}, "
        f"gap {compare_cell('gap', base.gap)}"
    )
    console.print(frontier_table(result))
    console.print(prices_table(result))
    for table in tornado_tables(result):
        console.print(table)
    console.print(stability_table(result))


def sweep_table(records: Sequence[dict[str, Any]], keys: list[str], columns: list[str]) -> Table:
    """One row per sweep combination: its settings as given, then status, gap, objective, KPIs.

    Parameters
    ----------
    records : sequence of dict
        One record per combination, settings first.
    keys : list of str
        The settings' names (the axes).
    columns : list of str
        Every column: the settings, then the results.

    Returns
    -------
    rich.table.Table
        The sweep.
    """
    table = Table(title=f"Sweep: {len(records)} combinations", title_justify="left")
    for column in columns:
        table.add_column(column, justify="right")
    for rec in records:
        table.add_row(
            *(str(rec[k]) for k in keys),
            *(compare_cell(k, rec[k]) for k in list(rec)[len(keys) :]),
        )
    return table


def write_sweep_csv(records: Sequence[dict[str, Any]], keys: list[str]) -> None:
    """Write the sweep records to stdout as CSV (only the settings' header when there are none)."""
    writer = csv.DictWriter(sys.stdout, fieldnames=list(records[0]) if records else keys)
    writer.writeheader()
    writer.writerows(records)
