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
from scenarios.gaps import WITHIN_THE_GAP, Difference
from scenarios.influence import Influence
from scenarios.sensitivity import FROM_BASE, Run, Sensitivity

from .formats import pct, plus_minus, signed


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
    if isinstance(value, Difference):
        return difference_cell(value)
    if key == "gap" or key in ("arr_spread", "expertise_match"):
        return pct(value, 3 if key == "gap" else 1)
    if key in ("arr_at_risk", "moved_arr") or key.startswith("projection."):
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
    """Write the comparison to stdout as CSV: raw values, one row per metric (a difference
    within the gaps as ``within the gap``)."""
    writer = csv.writer(sys.stdout)
    writer.writerow(["metric", *result.names])
    for key, label in ROWS:
        writer.writerow(
            [label, *(csv_value(result.value(i, key)) for i in range(len(result.names)))]
        )


def csv_value(value: Any) -> Any:
    """A raw value for CSV; a difference of solved values as its value, or ``within the gap``."""
    if isinstance(value, Difference):
        return WITHIN_THE_GAP if value.within_gap else value.value
    return value


def rank_cell(rank: int | None, ranks: Sequence[int | None], zero: bool = False) -> str:
    """A rank as shown: ``2=`` when another row shares it, ``within the gap`` for none (``-``
    when the value is proven to be exactly zero)."""
    if rank is None:
        return "-" if zero else WITHIN_THE_GAP
    return f"{rank}=" if sum(1 for r in ranks if r == rank) > 1 else str(rank)


def status_cell(run: Run) -> str:
    """A run's status, and where its plan comes from when it was not solved for."""
    return f"{run.plan.status} ({FROM_BASE})" if run.from_base else str(run.plan.status)


def difference_cell(diff: Difference | None, fmt: Callable[[float], str] | None = None) -> str:
    """A difference of solved values with its uncertainty, or ``within the gap``."""
    if diff is None:
        return "-"
    return plus_minus(diff.value, diff.uncertainty, diff.within_gap, fmt)


def frontier_table(result: Sensitivity) -> Table:
    """The best plan for each move budget, its gap, what it gains over the next smaller budget
    (or ``within the gap``), and the share of the full gain it reaches."""
    table = Table(title="Disruption frontier: best plan per move budget", title_justify="left")
    columns = (
        "max moves",
        "status",
        "gap",
        "objective",
        "gain over the smaller budget",
        "share of the gain",
        "moves",
        "moved ARR",
    )
    for column in columns:
        table.add_column(column, justify="right")
    rows = zip(
        result.frontier,
        result.frontier_gain_shares(),
        result.frontier_steps(),
        result.frontier_behind_best(),
        strict=True,
    )
    for run, (_, share), step, behind in rows:
        after = run.plan.after
        reaches = behind is not None and behind.value > 0 and behind.within_gap
        table.add_row(
            "unlimited" if run.value is None else str(run.value),
            status_cell(run),
            compare_cell("gap", run.plan.gap),
            compare_cell("objective", run.plan.objective),
            difference_cell(step),
            pct(share) + (f" ({WITHIN_THE_GAP} of the best)" if reaches else ""),
            "-" if after is None else str(after.kpis["moves"]),
            "-" if after is None else money(float(after.kpis["moved_arr"] or 0)),
        )
    return table


def prices_table(result: Sensitivity) -> Table:
    """What each hard rule costs: the objective gained by dropping it ± the gaps, dearest
    first; prices within the gap come last, unranked."""
    table = Table(
        title="Price of each hard rule (objective gain without it, ± the gaps)",
        title_justify="left",
    )
    for column in ("rank", "rule", "status", "gap", "price", "accounts placed differently"):
        table.add_column(column, justify="left" if column == "rule" else "right")
    order = result.price_order()
    ranks = [rank for _, rank in order]
    for run, rank in order:
        price = result.price_difference(run)
        table.add_row(
            rank_cell(rank, ranks, zero=price is not None and price.is_zero),
            run.input.removeprefix("rule.")
            .replace("lock.", "lock on ")
            .replace("override.", "override on "),
            status_cell(run),
            compare_cell("gap", run.plan.gap),
            difference_cell(price),
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
    """One tornado table per KPI of ``TORNADO_KPIS`` that the base plan has: real effects first,
    largest swing first; inputs whose effect on the objective is within the gap come last and
    say so. The objective's table ranks the inputs (shared ranks where effects cannot be told
    apart)."""
    tables = []
    for kpi, fmt in TORNADO_KPIS:
        rows = result.tornado(kpi)
        if not rows:
            continue
        table = Table(title=f"Tornado: {kpi} (change vs the base plan)", title_justify="left")
        last = "rank" if kpi == "objective" else "effect"
        for column in ("input", "low", "high", "± (objective)", "gap", last):
            table.add_column(column, justify="left" if column == "input" else "right")
        ranks = [row.rank for row in rows]
        for row in rows:
            if row.low == row.high == 0:
                verdict = "no change"
            elif kpi == "objective":
                verdict = rank_cell(row.rank, ranks)
            else:
                verdict = WITHIN_THE_GAP if row.within_gap else "real"
            table.add_row(
                row.input,
                signed(row.low, fmt),
                signed(row.high, fmt),
                "-" if row.uncertainty is None else f"{row.uncertainty:.4f}",
                compare_cell("gap", row.gap),
                verdict,
            )
        tables.append(table)
    return tables


def stability_table(result: Sensitivity) -> Table:
    """How many accounts change CSM when each weight moves by 5%, and whether that changes the
    base objective by more than the gaps (otherwise the base could have chosen the same plan)."""
    table = Table(
        title="Stability: accounts that change CSM when a weight moves by 5%", title_justify="left"
    )
    for column in ("weight", "value", "status", "gap", "accounts changed", "objective effect"):
        table.add_column(column, justify="left" if column == "weight" else "right")
    for run in result.stability:
        effect = result.effect(run)
        changed = str(run.changed_accounts)
        if run.changed_accounts and (effect is None or effect.within_gap):
            changed += f" ({WITHIN_THE_GAP})"
        table.add_row(
            run.input.removeprefix("weight."),
            f"{run.value:g}",
            status_cell(run),
            compare_cell("gap", run.plan.gap),
            changed,
            difference_cell(effect),
        )
    return table


def print_sensitivity(console: Console, result: Sensitivity) -> None:
    """Print a sensitivity analysis: base plan, frontier, rule prices, tornados, stability.

    Every row shows its gap; a difference smaller than the gaps involved shows as ``within the
    gap`` (``scenarios.gaps``).

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
        f"bound {compare_cell('objective', base.bound)}, gap {compare_cell('gap', base.gap)}"
    )
    console.print(frontier_table(result))
    console.print(prices_table(result))
    for table in tornado_tables(result):
        console.print(table)
    console.print(stability_table(result))


#: How each KPI change of ``territory influence`` is shown.
INFLUENCE_FORMATS: dict[str, tuple[str, Callable[[float], str]]] = {
    "arr_at_risk": ("ARR at risk", money),
    "expertise_match": ("expertise match", lambda v: f"{v * 100:.1f} pts"),
    "expected_expansion_arr": ("expected expansion", money),
    "arr_spread": ("ARR spread", lambda v: f"{v * 100:.1f} pts"),
    "moves": ("moves", lambda v: f"{v:.0f}"),
    "travel_hours": ("travel h/qtr", lambda v: f"{v:,.0f}"),
}


def influence_table(result: Influence) -> Table:
    """One row per input left out: what was done, each KPI's change against the base plan,
    the effect on the base objective (± the gaps), and the accounts placed differently."""
    kpis = result.to_dict()["kpis"]
    table = Table(
        title="Which inputs matter (each left out; KPI change against the base plan)",
        title_justify="left",
    )
    table.add_column("input")
    table.add_column("left out as")
    for kpi in kpis:
        table.add_column(INFLUENCE_FORMATS[kpi][0], justify="right")
    table.add_column("objective effect", justify="right")
    table.add_column("accounts moved", justify="right")
    for row in result.ordered(kpis[0] if kpis else "arr_at_risk"):
        cells = []
        for kpi in kpis:
            value = row.kpis.get(kpi)
            cells.append(signed(value, INFLUENCE_FORMATS[kpi][1]))
        if not row.plan.has_plan:
            note = f"no plan ({row.plan.status})"
        else:
            note = difference_cell(row.effect)
        table.add_row(
            row.input,
            row.change,
            *cells,
            note,
            str(row.changed_accounts) if row.plan.has_plan else "-",
        )
    return table


def print_influence(console: Console, result: Influence) -> None:
    """Print which inputs matter: the base plan, then one row per input left out. A row
    whose objective effect is within the gaps says so: its KPI changes are not shown to come
    from the input."""
    base = result.base
    console.print(
        f"Base plan: [bold]{base.status}[/], objective {compare_cell('objective', base.objective)}, "
        f"gap {compare_cell('gap', base.gap)}"
    )
    console.print(influence_table(result))
    within = [row.input for row in result.rows if row.plan.has_plan and row.within_gap]
    if within:
        console.print(
            f"{WITHIN_THE_GAP}: {', '.join(within)} (the base could have returned the same "
            "plan: their changes are not shown to come from the input)."
        )


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
