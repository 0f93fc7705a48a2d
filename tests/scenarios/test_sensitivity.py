"""Sensitivity analysis on the tiny example: properties that hold whatever the data."""

from __future__ import annotations

import json

import pytest
from conftest import ROOT

from cli import main
from optimizer import evaluate, load_scenario, solve
from scenarios.sensitivity import same_optimum, sensitivity, sensitivity_variants

TINY = ROOT / "examples" / "tiny" / "scenario.json"
BUDGETS = (0, 1, 2, 3, None)


@pytest.fixture(scope="module")
def result():  # type: ignore[no-untyped-def]
    return sensitivity(load_scenario(TINY), move_budgets=BUDGETS, workers=2)


def test_frontier_is_monotone_and_respects_each_budget(result) -> None:  # type: ignore[no-untyped-def]
    assert [r.value for r in result.frontier] == list(BUDGETS)
    # Today's books break the ARR tolerance, so keeping everyone in place is impossible.
    assert result.frontier[0].plan.status == "infeasible"
    solved = [r for r in result.frontier if r.plan.has_plan]
    objectives = [r.plan.objective for r in solved]
    assert objectives == sorted(objectives, reverse=True)  # more moves allowed, never worse
    for run in solved:
        if run.value is not None:
            assert run.plan.after.kpis["moves"] <= run.value
    shares = dict(result.frontier_gain_shares())
    assert shares[None] == pytest.approx(1.0)
    assert 0.0 <= shares[1] <= shares[2] <= shares[3] <= 1.0


def test_rule_prices_are_non_negative_and_match_their_definition(result) -> None:  # type: ignore[no-untyped-def]
    base = load_scenario(TINY)
    base_plan = solve(base)
    prices = {r.input: r for r in result.prices}
    assert {
        "rule.renewal_freeze_days",
        "rule.locked",
        "rule.max_moves",
        "rule.arr_tolerance",
    } <= set(prices)
    # One price per locked account too (A1 is the tiny example's only lock).
    assert [name for name in prices if name.startswith("lock.")] == ["lock.A1"]
    assert prices["lock.A1"].value == "C1"
    for run in result.prices:
        assert run.price is not None and run.price >= -1e-9
    # Without the renewal freeze: the freed scenario's score of the base plan minus its optimum.
    freed = base.replace(constraints={**base.constraints.model_dump(), "renewal_freeze_days": None})
    expected = evaluate(freed, base_plan.assignment()).objective - solve(freed).objective
    assert prices["rule.renewal_freeze_days"].price == pytest.approx(expected, abs=1e-9)
    assert expected > 0  # A4 renews inside the freeze and would rather move


def test_no_weight_variant_beats_the_base_on_the_base_objective(result) -> None:  # type: ignore[no-untyped-def]
    # The base plan is optimal for the base weights, so any other plan under the same rules
    # scores at least as much with those weights.
    assert result.base.status == "optimal"
    for run in [*result.weights, *result.stability]:
        assert run.plan.has_plan
        assert run.base_score >= result.base.objective - 1e-9


def test_changed_accounts_are_counted_against_the_base_plan(result) -> None:  # type: ignore[no-untyped-def]
    base = result.base.assignment()
    for run in [*result.weights, *result.frontier, *result.prices]:
        mine = run.plan.assignment()
        assert run.changed_accounts == sum(1 for a, c in mine.items() if base.get(a) != c)


def test_tornado_is_ranked_by_the_largest_swing(result) -> None:  # type: ignore[no-untyped-def]
    rows = result.tornado("arr_at_risk")
    inputs = {r.input for r in [*result.weights, *result.tolerances]}
    assert {row.input for row in rows} == inputs
    # Real effects first, each part largest swing first.
    assert [row.within_gap for row in rows] == sorted(row.within_gap for row in rows)
    for within in (False, True):
        swings = [row.swing for row in rows if row.within_gap is within]
        assert swings == sorted(swings, reverse=True)
    assert all(row.low <= row.high for row in rows)


def test_variants_answered_by_the_base_plan_match_their_solve(result) -> None:  # type: ignore[no-untyped-def]
    # The tiny example allows 3 moves and its optimum uses 3: the budget of 3 and the narrower
    # ARR tolerance (kept by the base plan) take the base plan without a solve.
    base = load_scenario(TINY)
    reused = [r for r in [*result.frontier, *result.tolerances] if r.from_base]
    assert {(r.input, r.value) for r in reused} == {("max_moves", 3), ("arr_tolerance", 0.15)}
    for run in reused:
        assert run.plan.seconds == 0.0 and run.changed_accounts == 0
        assert (run.plan.objective, run.plan.bound) == (result.base.objective, result.base.bound)
        key = "max_moves" if run.input == "max_moves" else "arr_tolerance"
        variant = base.replace(constraints={**base.constraints.model_dump(), key: run.value})
        solved = solve(variant, score_like=base)
        assert solved.status == "optimal"
        assert run.plan.objective == pytest.approx(solved.objective, abs=1e-9)
    # A looser rule is always solved, even when the base plan keeps it.
    assert not any(r.from_base for r in result.prices)
    assert not next(r for r in result.frontier if r.value is None).from_base


def test_a_variant_the_base_plan_breaks_is_solved() -> None:
    base = load_scenario(TINY)
    base_plan = solve(base)
    moves = base_plan.after.kpis["moves"]
    assert moves >= 1
    fewer = base.replace(constraints={**base.constraints.model_dump(), "max_moves": moves - 1})
    assert same_optimum(base, fewer, base_plan) is None
    same = base.replace(constraints={**base.constraints.model_dump(), "max_moves": moves})
    reused = same_optimum(base, same, base_plan)
    assert reused is not None and reused.assignment() == base_plan.assignment()
    # Any other change (here a weight) is never answered by the base plan.
    weights = {**base.objectives.model_dump(), "balance": 1.0}
    assert same_optimum(base, same.replace(objectives=weights), base_plan) is None


def test_sensitivity_cli_json(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["sensitivity", str(TINY), "--budgets", "1,3,none", "--workers", "1", "--json"]
    grid = ["--weight-factors", "0.25,2", "--tolerance-steps", "0.1"]
    assert main([*args, *grid]) == 0
    data = json.loads(capsys.readouterr().out)
    churn = [w["value"] for w in data["weights"] if w["input"] == "weight.churn_risk"]
    assert churn == [10.0, 80.0]  # 40 x 0.25 and 40 x 2
    assert [t["value"] for t in data["tolerances"]] == [0.3]  # 0.2 + 0.1
    assert [p["value"] for p in data["frontier"]] == [1, 3, None]
    assert data["base"]["status"] == "optimal"
    assert set(data["tornado"]) >= {"objective", "arr_at_risk", "moves"}
    assert all(p["price"] >= -1e-9 for p in data["prices"])


def test_a_zero_weight_is_tried_once_at_a_tenth_of_the_total() -> None:
    base = load_scenario(TINY)
    weights = base.objectives.model_dump()
    # The tiny example leaves some terms at zero; travel (no in-person accounts) and the soft
    # rules' weight (no soft rule) are not tried at all.
    zero = [term for term, w in weights.items() if w == 0 and term not in ("travel", "soft_rules")]
    assert zero
    tried = {v[1] for v in sensitivity_variants(base)}
    assert not {"weight.travel", "weight.soft_rules"} & tried  # nothing they could change
    variants = sensitivity_variants(base, weight_factors=(0.5, 1.5, 2))
    for term in zero:
        runs = [v for v in variants if v[0] == "weights" and v[1] == f"weight.{term}"]
        # 1.5 and 2 would both set it to 10% of the total: one solve, not two.
        assert [v[2] for v in runs] == [pytest.approx(0.1 * sum(weights.values()))]
        assert runs[0][3].name == f"weight.{term} 0 -> {runs[0][2]:g}"
    nonzero = next(term for term, w in weights.items() if w > 0)
    assert len([v for v in variants if v[:2] == ("weights", f"weight.{nonzero}")]) == 3
