"""Infeasibility diagnosis: the pre-checks and the elastic relaxation name the right rule."""

from __future__ import annotations

import json

import pytest
from conftest import account, csm, make

from optimizer import Scenario, solve
from optimizer.diagnose import diagnose, find_conflicts, precheck
from optimizer.instance import Instance


def conflicts_of(scenario: Scenario) -> list[tuple[str, str]]:
    return [(c.rule, c.subject) for c in precheck(Instance(scenario))]


def infeasible(scenario: Scenario, method: str):
    plan = solve(scenario)
    assert plan.status == "infeasible", plan.message
    assert plan.exit_code == 1
    assert plan.diagnosis is not None and plan.diagnosis.method == method
    return plan.diagnosis


# ------------------------------------------------------------------ pre-checks


def test_csm_locked_to_more_accounts_than_allowed() -> None:
    scenario = make(
        [csm("C1"), csm("C2")],
        [account(f"A{i}", 1000, current_csm="C1", locked=True) for i in (1, 2, 3)],
        constraints={"max_accounts_per_csm": 2},
    )
    diagnosis = infeasible(scenario, "precheck")
    (conflict,) = diagnosis.conflicts
    assert (conflict.rule, conflict.subject) == ("max_accounts", "C1")
    assert "locked to 3 accounts" in conflict.message and "at most 2" in conflict.message


def test_renewal_frozen_accounts_count_as_kept() -> None:
    scenario = make(
        [csm("C1", max_accounts=1), csm("C2")],
        [account(f"A{i}", 1000, current_csm="C1", renewal_date="2026-01-10") for i in (1, 2)],
        constraints={"renewal_freeze_days": 30},
    )
    assert conflicts_of(scenario) == [("max_accounts", "C1")]


def test_team_minimum_arr_above_the_total() -> None:
    # 2 CSMs x 600K minimum = 1.2M, but the accounts add up to 1M.
    scenario = make(
        [csm("C1"), csm("C2")],
        [account("A1", 700_000), account("A2", 300_000)],
        constraints={"min_arr_per_csm": 600_000},
    )
    (conflict,) = infeasible(scenario, "precheck").conflicts
    assert (conflict.rule, conflict.subject) == ("min_arr", "team")
    assert "$1.20M" in conflict.message and "$1.00M" in conflict.message


def test_team_maximum_arr_below_the_total() -> None:
    scenario = make(
        [csm("C1"), csm("C2", max_arr=300_000)],
        [account("A1", 400_000), account("A2", 400_000)],
        constraints={"max_arr_per_csm": 450_000},
    )
    assert conflicts_of(scenario) == [("max_arr", "team")]


def test_team_account_limits_below_the_number_of_accounts() -> None:
    scenario = make(
        [csm("C1", max_accounts=1), csm("C2", max_accounts=1)],
        [account(f"A{i}", 100) for i in (1, 2, 3)],
    )
    (conflict,) = infeasible(scenario, "precheck").conflicts
    assert (conflict.rule, conflict.subject) == ("max_accounts", "team")
    assert "2 accounts in all" in conflict.message and "there are 3" in conflict.message


def test_an_account_no_csm_may_take_for_missing_skills() -> None:
    scenario = make(
        [csm("C1", skills=["sql"]), csm("C2", skills=["k8s"])],
        [account("A1", 1000), account("A2", 500, required_skills=["sql", "k8s"])],
    )
    (conflict,) = infeasible(scenario, "precheck").conflicts
    assert (conflict.rule, conflict.subject) == ("required_skills", "A2")
    assert "No CSM may take account A2" in conflict.message
    assert "sql" in conflict.message and "k8s" in conflict.message


def test_an_account_no_csm_may_take_for_its_region() -> None:
    scenario = make(
        [csm("C1", region="NA"), csm("C2", region="EMEA")],
        [account("A1", 1000, region="APAC")],
        constraints={"match_region": True},
    )
    (conflict,) = infeasible(scenario, "precheck").conflicts
    assert (conflict.rule, conflict.subject) == ("match_region", "A1")
    assert "APAC" in conflict.message


@pytest.mark.parametrize(
    ("csm_fields", "constraints", "expected"),
    [
        # 800K locked with C1, whose own maximum is 500K.
        ({"max_arr": 500_000}, {}, ("max_arr", "C1")),
        # Target 500K +-10%: 800K locked is above 550K.
        ({}, {"arr_tolerance": 0.1}, ("arr_tolerance", "C1")),
        # Workload 4 locked, max 3.
        ({"max_workload": 3}, {}, ("max_workload", "C1")),
        # Locked workload 4 above the window: target 3 (6 / 2) * 1.2 = 3.6.
        ({}, {"workload_tolerance": 0.2}, ("workload_tolerance", "C1")),
        # The locked account is high-risk; capacity 0.5 * 1 rounds down to 0.
        ({"capacity": 0.5}, {"max_high_risk_per_csm": 1}, ("max_high_risk", "C1")),
    ],
)
def test_locked_book_above_a_csm_limit(
    csm_fields: dict, constraints: dict, expected: tuple
) -> None:
    scenario = make(
        [csm("C1", **csm_fields), csm("C2")],
        [
            account("A1", 800_000, workload=4, churn_risk="high", current_csm="C1", locked=True),
            account("A2", 200_000, workload=2, current_csm="C2"),
        ],
        constraints=constraints,
    )
    assert expected in conflicts_of(scenario)
    assert infeasible(scenario, "precheck").conflicts


def test_csm_minimum_above_their_maximum_and_above_what_they_may_take() -> None:
    # Targets 500K, +-10%. C1 must hold 900K (own minimum) but the window caps them at 550K.
    # C2's binding minimum is the window's 450K (above their own 300K), yet only A2 (200K) may
    # go to them: A1 needs sql. And 900K + 450K exceeds the 1M total.
    scenario = make(
        [csm("C1", min_arr=900_000, skills=["sql"]), csm("C2", min_arr=300_000)],
        [account("A1", 800_000, required_skills=["sql"]), account("A2", 200_000)],
        constraints={"arr_tolerance": 0.1},
    )
    found = {(c.rule, c.subject): c.message for c in precheck(Instance(scenario))}
    assert set(found) == {("min_arr", "C1"), ("arr_tolerance", "C2"), ("min_arr", "team")}
    assert "$900K" in found[("min_arr", "C1")] and "at most $550K" in found[("min_arr", "C1")]
    assert "$450K" in found[("arr_tolerance", "C2")]
    assert "add up to only $200K" in found[("arr_tolerance", "C2")]
    assert "$1.35M" in found[("min_arr", "team")]


def test_forced_moves_beyond_the_move_budget() -> None:
    scenario = make(
        [csm("C1"), csm("C2", skills=["sql"])],
        [account(f"A{i}", 100, required_skills=["sql"], current_csm="C1") for i in (1, 2)],
        constraints={"max_moves": 1},
    )
    (conflict,) = infeasible(scenario, "precheck").conflicts
    assert (conflict.rule, conflict.subject) == ("max_moves", "team")
    assert "2 accounts must leave" in conflict.message


def test_a_feasible_scenario_passes_the_prechecks(team: dict) -> None:
    assert precheck(Instance(Scenario.from_dict(team))) == []


# ------------------------------------------------------------------ relaxation


def moves_vs_tolerance() -> Scenario:
    # Three 100K accounts with C1, one with C2: +-10% of 200K needs one move; none allowed.
    # Relaxing max_moves (one group) beats relaxing both CSMs' windows (two groups).
    return make(
        [csm("C1"), csm("C2")],
        [account(f"A{i}", 100_000, current_csm="C1" if i < 4 else "C2") for i in (1, 2, 3, 4)],
        constraints={"arr_tolerance": 0.1, "max_moves": 0},
    )


def test_move_budget_too_small_for_the_arr_tolerance() -> None:
    scenario = moves_vs_tolerance()
    assert precheck(Instance(scenario)) == []
    diagnosis = infeasible(scenario, "relaxation")
    assert [(c.rule, c.subject) for c in diagnosis.conflicts] == [("max_moves", "team")]
    assert "max_moves 0" in diagnosis.conflicts[0].message
    assert "makes a plan possible" in diagnosis.note


def test_account_limit_and_arr_tolerance_conflict_only_jointly() -> None:
    # 300K + 3 x 100K, at most 2 accounts each, each book within 270K..330K: the only balanced
    # split is {300K} | {3 x 100K}, which breaks the account limit. Relaxing one CSM's account
    # limit suffices; relaxing ARR windows would take both.
    scenario = make(
        [csm("C1"), csm("C2")],
        [account("A1", 300_000), *(account(f"A{i}", 100_000) for i in (2, 3, 4))],
        constraints={"arr_tolerance": 0.1, "max_accounts_per_csm": 2},
    )
    assert precheck(Instance(scenario)) == []
    diagnosis = infeasible(scenario, "relaxation")
    assert len(diagnosis.conflicts) == 1
    conflict = diagnosis.conflicts[0]
    assert conflict.rule == "max_accounts" and conflict.subject in ("C1", "C2")
    assert "3 accounts" in conflict.message and "at most 2" in conflict.message


def test_high_risk_limit_and_required_skills_conflict_only_jointly() -> None:
    # Three high-risk accounts need sql, which only C1 has, but C1 may hold one high-risk
    # account. One switch (C1's high-risk limit) beats lifting the skill rule for two accounts.
    scenario = make(
        [csm("C1", skills=["sql"]), csm("C2")],
        [
            *(
                account(f"A{i}", 1000, churn_risk="high", required_skills=["sql"])
                for i in (1, 2, 3)
            ),
            account("A4", 1000),
        ],
        constraints={"max_high_risk_per_csm": 1},
    )
    assert precheck(Instance(scenario)) == []
    diagnosis = infeasible(scenario, "relaxation")
    assert [(c.rule, c.subject) for c in diagnosis.conflicts] == [("max_high_risk", "C1")]
    assert "at most 1" in diagnosis.conflicts[0].message


def test_diagnose_runs_the_prechecks_first() -> None:
    locked = make(
        [csm("C1", max_accounts=0), csm("C2")],
        [account("A1", 1, current_csm="C1", locked=True)],
    )
    settings = locked.solver
    assert diagnose(Instance(locked), settings).method == "precheck"
    relaxed = diagnose(Instance(moves_vs_tolerance()), settings)
    assert relaxed.method == "relaxation"
    direct = find_conflicts(Instance(moves_vs_tolerance()), settings)
    assert relaxed.to_dict() == direct.to_dict()


def test_infeasible_plan_document() -> None:
    plan = solve(moves_vs_tolerance())
    data = json.loads(json.dumps(plan.to_dict(), default=str))
    assert data["status"] == "infeasible"
    assert data["objective"] is None and data["bound"] is None and data["gap"] is None
    assert data["assignments"] == [] and data["violations"] == []
    assert data["kpis"]["after"] is None and data["kpis"]["before"]["moves"] == 0
    assert all(c["after"] is None and c["before"] for c in data["csms"])
    assert data["diagnosis"]["method"] == "relaxation"
    assert data["diagnosis"]["conflicts"][0]["rule"] == "max_moves"
