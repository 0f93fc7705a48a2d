"""Every row of a sensitivity analysis says its gap, and a difference within the gaps is
labelled so, not ranked: analyses built by hand from chosen objectives and bounds (no solve)."""

from __future__ import annotations

from typing import Any

import pytest

from cli.render.batch import frontier_table, prices_table, stability_table, tornado_tables
from optimizer import Plan, Status
from optimizer.evaluate import Evaluation
from scenarios.sensitivity import Run, Sensitivity


def plan(objective: float, bound: float | None, **kpis: float) -> Plan:
    """A plan with an objective, a bound (the relative gap follows) and some KPIs."""
    gap = None if bound is None else abs(objective - bound) / abs(objective)
    status = Status.OPTIMAL if gap is not None and gap <= 1e-4 else Status.FEASIBLE
    kpis = {"arr_at_risk": 0.0, "arr_spread": 0.0, "moves": 0, "moved_arr": 0.0, **kpis}
    after = Evaluation(objective, {}, {}, 0.0, [], dict(kpis))
    return Plan(status=status, bound=bound, gap=gap, after=after)


def run(name: str, value: Any, p: Plan, base_score: float | None = None, **kw: Any) -> Run:
    score = p.objective if base_score is None else base_score
    return Run(name, value, p, changed_accounts=kw.pop("changed", 0), base_score=score, **kw)


# Base: objective 1.0, bound 0.99, so its absolute gap is 0.01.
BASE = plan(1.0, 0.99, arr_at_risk=100_000.0, moves=10)


def analysis() -> Sensitivity:
    return Sensitivity(
        base=BASE,
        weights=[
            # A big change of ARR at risk, but the plan scores 1.005 on the base objective:
            # 0.005 from the base, within 0.01 + 0.01. The base could have returned it.
            run("weight.noisy", 0.5, plan(0.8, 0.792, arr_at_risk=150_000.0), 1.005),
            # A small change of ARR at risk with a real objective effect: 0.1 > 0.01 + 0.001.
            run("weight.real", 0.5, plan(0.9, 0.899, arr_at_risk=101_000.0), 1.1),
            run("weight.real", 1.5, plan(1.2, 1.1988, arr_at_risk=99_000.0), 1.05),
        ],
        frontier=[
            run("max_moves", 5, plan(1.3, 1.3)),
            # 1.3 -> 1.0: a real gain of 0.3 (± 0.01).
            run("max_moves", 10, plan(1.0, 0.99)),
            # 1.0 -> 0.995: within 0.01 + 0.0199.
            run("max_moves", None, plan(0.995, 0.9751)),
        ],
        prices=[
            # Prices on the variant's scale: base plan's score minus the variant's optimum.
            run("rule.a", None, plan(0.8, 0.8), price=0.2, base_plan_score=1.0),
            run("rule.b", None, plan(0.805, 0.805), price=0.195, base_plan_score=1.0),
            run("rule.c", None, plan(0.5, 0.5), price=0.5, base_plan_score=1.0),
            run("rule.d", None, plan(0.995, 0.995), price=0.005, base_plan_score=1.0),
        ],
        stability=[
            run("weight.real", 0.95, plan(1.0, 0.99), 1.004, changed=3),
            run("weight.real", 1.05, plan(1.0, 0.99), 1.5, changed=12),
        ],
    )


def test_every_row_of_the_json_has_its_gap() -> None:
    data = analysis().to_dict()
    assert data["base"]["absolute_gap"] == pytest.approx(0.01)
    for group in ("weights", "frontier", "prices", "stability"):
        assert data[group], group
        for row in data[group]:
            assert row["gap"] is not None and row["absolute_gap"] is not None, (group, row)
            assert row["from_base_plan"] is False
    for kpi, rows in data["tornado"].items():
        for row in rows:
            assert {"gap", "uncertainty", "within_gap", "rank"} <= set(row), kpi
            assert row["gap"] is not None
    for row in data["prices"]:
        assert {"price", "uncertainty", "within_gap", "rank"} <= set(row)


def test_the_tornado_puts_effects_within_the_gap_last_however_large() -> None:
    result = analysis()
    rows = result.tornado("arr_at_risk")
    # weight.noisy moves ARR at risk by 50,000, weight.real by 1,000 at most; only the
    # latter is a real effect.
    assert [r.input for r in rows] == ["weight.real", "weight.noisy"]
    assert [r.within_gap for r in rows] == [False, True]
    assert rows[1].swing > rows[0].swing
    objective = result.tornado("objective")
    assert [(r.input, r.rank) for r in objective] == [("weight.real", 1), ("weight.noisy", None)]
    noisy = objective[1]
    # Its effect: 1.005 - 1.0, uncertain by the base's gap plus the run's (0.01 + 0.008).
    assert noisy.low == noisy.high == pytest.approx(0.005)
    assert noisy.uncertainty == pytest.approx(0.018)
    # Its gap: the largest relative gap among its run and the base.
    assert noisy.gap == pytest.approx(0.01)
    data = result.to_dict()["tornado"]["arr_at_risk"]
    assert [(r["input"], r["within_gap"]) for r in data] == [
        ("weight.real", False),
        ("weight.noisy", True),
    ]


def test_rule_prices_carry_both_gaps_and_tie_when_they_cannot_be_told_apart() -> None:
    result = analysis()
    order = [(run.input, rank) for run, rank in result.price_order()]
    # c (0.5) is dearest; a (0.2) and b (0.195) differ by 0.005, within their gaps (0.01 each:
    # the base's 1% of 1.0, the variants' zero): they share rank 2; d (0.005) is within the gap
    # of zero.
    assert order == [("rule.c", 1), ("rule.a", 2), ("rule.b", 2), ("rule.d", None)]
    a = result.price_difference(result.prices[0])
    assert a is not None and a.uncertainty == pytest.approx(0.01)
    data = {row["input"]: row for row in result.to_dict()["prices"]}
    assert data["rule.d"]["within_gap"] is True and data["rule.d"]["rank"] is None
    assert data["rule.a"]["uncertainty"] == pytest.approx(0.01)
    assert (data["rule.a"]["rank"], data["rule.b"]["rank"]) == (2, 2)


def test_frontier_steps_and_stability_effects_within_the_gap() -> None:
    result = analysis()
    steps = result.frontier_steps()
    assert steps[0] is None  # the smallest budget has nothing to gain over
    assert steps[1] is not None and not steps[1].within_gap
    assert steps[1].value == pytest.approx(0.3) and steps[1].uncertainty == pytest.approx(0.01)
    assert steps[2] is not None and steps[2].within_gap
    data = result.to_dict()
    assert data["frontier"][2]["gain_over_previous"]["within_gap"] is True
    # The unlimited budget is the best; 10 moves are 0.005 behind it, within 0.01 + 0.0199.
    assert data["frontier"][2]["behind_best"] == {
        "value": 0.0,
        "uncertainty": 0.0,
        "within_gap": True,
    }
    assert data["frontier"][1]["behind_best"] == {
        "value": pytest.approx(0.005),
        "uncertainty": pytest.approx(0.0299),
        "within_gap": True,
    }
    effects = [row["effect"]["within_gap"] for row in data["stability"]]
    assert effects == [True, False]


def test_the_tables_say_within_the_gap_instead_of_ranking() -> None:
    from rich.console import Console

    console = Console(width=200, record=True)
    result = analysis()
    console.print(prices_table(result))
    prices = console.export_text().splitlines()
    lines = {line.split("│")[2].strip(): line for line in prices if line.count("│") > 3}
    assert "2=" in lines["a"] and "2=" in lines["b"]
    assert "within the gap" in lines["d"] and "+0.5000 ± 0.0100" in lines["c"]
    console.print(frontier_table(result))
    console.print(stability_table(result))
    for table in tornado_tables(result):
        console.print(table)
    text = console.export_text()
    assert "3 (within the gap)" in text  # stability: the 3 accounts are not a real change
    assert "+0.3000 ± 0.0100" in text  # frontier: the gain of 10 moves over 5


def test_differences_are_written_with_their_uncertainty_or_as_within_the_gap() -> None:
    from cli.render.formats import plus_minus

    assert plus_minus(0.3, 0.01, False) == "+0.3000 ± 0.0100"
    # Enough decimals for two significant digits of a small uncertainty.
    assert plus_minus(0.066733, 0.000044, False) == "+0.066733 ± 0.000044"
    assert plus_minus(-0.002, 0.0041, True) == "within the gap (± 0.0041)"
    assert plus_minus(1.0, None, True) == "within the gap (no bound)"
    assert plus_minus(0.0, 0.0, True) == "0"  # proven equal
    assert plus_minus(None, 0.1, False) == "-"
