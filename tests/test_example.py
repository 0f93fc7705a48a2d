"""The bundled 150x8 example: loads from CSV, its current books keep the rules, it solves."""

from __future__ import annotations

import pytest
from conftest import EXAMPLE

from optimizer import evaluate, load_scenario, solve


def test_example_loads_with_its_rules() -> None:
    scenario = load_scenario(EXAMPLE)
    assert (len(scenario.accounts), len(scenario.csms)) == (150, 8)
    assert scenario.name == "seed_150x8"
    rules = scenario.constraints
    assert (rules.arr_tolerance, rules.max_accounts_per_csm, rules.max_moves) == (0.15, 25, 30)
    assert any(a.locked for a in scenario.accounts)


def test_current_assignment_keeps_every_rule() -> None:
    scenario = load_scenario(EXAMPLE)
    evaluation = evaluate(scenario)
    assert evaluation.violations == []
    assert evaluation.kpis["moves"] == 0
    assert evaluation.kpis["total_arr"] == pytest.approx(sum(a.arr for a in scenario.accounts))


@pytest.mark.slow
def test_short_solve_gives_a_valid_improving_plan() -> None:
    scenario = load_scenario(EXAMPLE)
    scenario = scenario.replace(solver={**scenario.solver.model_dump(), "threads": 1})
    plan = solve(scenario, time_limit_s=10)
    assert plan.status in ("optimal", "feasible")
    assert plan.after is not None and plan.before is not None
    assert plan.after.violations == []
    assert abs(plan.objective - evaluate(scenario, plan.assignment()).objective) < 1e-9
    assert plan.objective < plan.before.objective
    assert len(plan.moves()) <= 30
    assignment = plan.assignment()
    for account in scenario.accounts:
        if account.locked:
            assert assignment[account.id] == account.current_csm
    assert plan.bound is not None and plan.bound <= plan.objective
