"""`solve()` itself and the plan it returns: statuses, exit codes, model export."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import EXAMPLE, account, csm, make

from optimizer import Plan, Scenario, ScenarioIssue, Status, Termination, load_scenario, solve
from optimizer.plan import EXIT_CODES, STATUSES
from optimizer.status import SOLVER_CODES, termination_of


def test_statuses_map_to_documented_exit_codes() -> None:
    assert set(EXIT_CODES) == set(STATUSES)
    assert {s: EXIT_CODES[s] for s in STATUSES} == {
        "optimal": 0,
        "feasible": 0,
        "infeasible": 1,
        "no_solution": 1,
        "invalid": 2,
    }


def test_invalid_plan_document() -> None:
    plan = Plan.invalid([ScenarioIssue(path="accounts[A1].arr", message="bad")], scenario="x.json")
    assert (plan.status, plan.exit_code, plan.has_plan, plan.objective) == (
        "invalid",
        2,
        False,
        None,
    )
    data = plan.to_dict()
    assert data["issues"] == [{"path": "accounts[A1].arr", "message": "bad"}]
    assert data["csms"] == [] and data["kpis"] == {"before": None, "after": None}
    assert data["scenario"] == "x.json" and "1 problem(s)" in data["message"]


def test_an_optimal_plan_reports_a_zero_gap(team: dict) -> None:
    plan = solve(Scenario.from_dict(team))
    assert plan.status == "optimal" and plan.has_plan and plan.exit_code == 0
    assert plan.gap == 0.0 and plan.bound == pytest.approx(plan.objective)
    assert plan.message.startswith("Optimal plan")
    assert "2 account(s) change CSM" in plan.message
    assert [row.account_id for row in plan.moves()] == ["A3", "A4"]


def test_export_model_with_an_unknown_suffix_fails_before_solving(tmp_path: Path) -> None:
    scenario = make([csm("C1")], [account("A1", 1)])
    with pytest.raises(ValueError, match=r"\.mps or \.lp"):
        solve(scenario, export_model=tmp_path / "model.txt")
    assert not (tmp_path / "model.txt").exists()


def test_export_model_writes_an_lp_file(tmp_path: Path) -> None:
    scenario = make([csm("C1"), csm("C2")], [account("A1", 1, current_csm="C1")])
    plan = solve(scenario, export_model=tmp_path / "model.lp")
    assert plan.status == "optimal"
    text = (tmp_path / "model.lp").read_text(encoding="utf-8")
    assert "x_A1_C1_" in text and "x_A1_C2_" in text


def test_nothing_is_exported_when_the_prechecks_already_fail(tmp_path: Path) -> None:
    scenario = make([csm("C1", max_accounts=0)], [account("A1", 1, current_csm="C1", locked=True)])
    plan = solve(scenario, export_model=tmp_path / "model.mps")
    assert plan.status == "infeasible" and not plan.has_plan
    assert plan.diagnosis is not None and plan.diagnosis.method == "precheck"


def test_termination_says_why_each_solve_stopped(team: dict) -> None:
    proven = solve(Scenario.from_dict(team))
    assert (proven.status, proven.termination) == (Status.OPTIMAL, Termination.OPTIMAL)
    conflict = make([csm("C1", max_accounts=0)], [account("A1", 1, current_csm="C1", locked=True)])
    blocked = solve(conflict)
    assert (blocked.status, blocked.termination) == (Status.INFEASIBLE, Termination.INFEASIBLE)
    rejected = Plan.invalid([ScenarioIssue(path="accounts", message="bad")])
    assert rejected.termination is Termination.INVALID_INPUT
    # The seed example needs seconds to prove: one second ends at the time limit with a plan.
    short = solve(load_scenario(EXAMPLE), time_limit_s=1)
    assert (short.status, short.termination) == (Status.FEASIBLE, Termination.TIME_LIMIT)
    for plan in (proven, blocked, rejected, short):
        assert plan.to_dict()["termination"] == plan.termination.value
        assert plan.to_dict()["status"] == plan.status.value
        assert plan.summary().splitlines()[0].endswith(f"{plan.status} ({plan.termination})")
    assert "bound" in short.summary() and "account(s) change CSM" in short.summary()


def test_every_solver_code_has_a_meaning() -> None:
    # A code a solver library defines but the table lacks would read as "unknown".
    import pulp
    from ortools.math_opt.python import mathopt
    from ortools.sat.python import cp_model

    codes = {
        "highs": [reason.name for reason in mathopt.TerminationReason],
        "cpsat": [
            status.name
            for status in (
                cp_model.OPTIMAL,
                cp_model.FEASIBLE,
                cp_model.INFEASIBLE,
                cp_model.UNKNOWN,
                cp_model.MODEL_INVALID,
            )
        ],
        "cbc": list(pulp.LpSolution.values()),
    }
    for backend, names in codes.items():
        assert set(SOLVER_CODES[backend]) == set(names), backend
        assert all(termination_of(backend, n) is not Termination.UNKNOWN for n in names)
    assert termination_of("highs", "SOMETHING_NEW") is Termination.UNKNOWN
    assert termination_of("nobody", "OPTIMAL") is Termination.UNKNOWN
