"""HiGHS, CP-SAT and CBC solve the one model to the same optimum."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import (
    BACKEND_NAMES,
    EXAMPLE,
    ROOT,
    SCENARIOS,
    TIE,
    account,
    csm,
    generated,
    make,
    scenario_dict,
    solve_ok,
    weights,
)

from optimizer import BACKENDS, Progress, Scenario, load_scenario, solve
from optimizer.backends import get_backend

#: CP-SAT rounds the objective to integers (1e7 steps for the largest coefficient).
TOLERANCE = {"highs": 1e-6, "cpsat": 1e-5, "cbc": 1e-6}


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_backends_reach_the_same_optimum(name: str) -> None:
    scenario = SCENARIOS[name]()
    plans = {backend: solve_ok(scenario, backend) for backend in BACKEND_NAMES}
    reference = plans["highs"].objective
    assert reference is not None
    for backend, plan in plans.items():
        assert plan.backend == backend
        assert plan.objective == pytest.approx(reference, rel=TOLERANCE[backend], abs=1e-9)
        # A proven optimum: the bound is (nearly) the plan's value. CP-SAT's bound is that of
        # its own rounded model (ARR deviation in $10 steps), hence the looser check.
        assert plan.bound is not None
        assert plan.bound <= plan.objective + 1e-9
        slack = 1e-3 if backend == "cpsat" else TOLERANCE[backend]
        assert plan.objective - plan.bound <= slack * max(1.0, plan.objective)


@pytest.mark.parametrize("backend", BACKEND_NAMES)
def test_all_backends_recognize_infeasibility(backend: str) -> None:
    # Four accounts of 100K, three with C1: each book must be 200K +-10%, which takes one move,
    # but no move is allowed. Nothing a pre-check sees; the model itself is infeasible.
    scenario = make(
        [csm("C1"), csm("C2")],
        [account(f"A{i}", 100_000, current_csm="C1" if i < 4 else "C2") for i in range(1, 5)],
        constraints={"arr_tolerance": 0.1, "max_moves": 0},
    )
    plan = solve(scenario, backend=backend)
    assert plan.status == "infeasible"
    assert plan.diagnosis is not None and plan.diagnosis.method == "relaxation"


@pytest.mark.parametrize(
    "backend",
    [
        "highs",
        "cpsat",
        "cbc",
    ],
)
def test_optimum_does_not_depend_on_the_currency_unit(backend: str) -> None:
    # ARR 7, 4, 2 (say, in $K), band 0: target 6.5 each. Splits: {7} | {4, 2} deviates 0.5 + 0.5
    # = 1 of 13; the current {7, 4} | {2} deviates 9 of 13. No tolerance: reference 0.30.
    # Optimum (1/13) / 0.30 + one move of three (A2) * 0.001 / 3.
    accounts = [
        account("A1", 7, workload=0, current_csm="C1"),
        account("A2", 4, workload=0, current_csm="C1"),
        account("A3", 2, workload=0, current_csm="C2"),
    ]
    scenario = make(
        [csm("C1"), csm("C2")],
        accounts,
        objectives=weights(balance=1),
        constraints={"balance_band": 0.0},
    )
    plan = solve(scenario, backend=backend)
    assert plan.status == "optimal"
    assert plan.objective == pytest.approx((1 / 13) / 0.30 + TIE / 3, rel=1e-6)
    assert plan.assignment() == {"A1": "C1", "A2": "C2", "A3": "C2"}


@pytest.mark.parametrize(
    "backend",
    [
        "highs",
        "cpsat",
        "cbc",
    ],
)
def test_an_empty_objective_is_solved(backend: str) -> None:
    # One new account, no CSM rates (both default to 0.9 and 0.2): the churn term is 0 for
    # every plan and there is no current CSM for a tie-breaker, so every coefficient is 0.
    scenario = make(
        [csm("C1"), csm("C2")], [account("A1", 100, workload=0)], objectives=weights(churn_risk=1)
    )
    plan = solve(scenario, backend=backend)
    assert plan.status == "optimal"
    assert plan.objective == 0.0
    assert plan.assignment()["A1"] in ("C1", "C2")


@pytest.mark.parametrize("backend", BACKEND_NAMES)
def test_scaling_all_arr_by_1000_changes_no_term(backend: str) -> None:
    base = scenario_dict(
        [csm("C1", retention_rate=0.9), csm("C2", retention_rate=0.8), csm("C3")],
        [
            account("A1", 41_000, churn_risk="high", current_csm="C1"),
            account("A2", 23_000, workload=2, current_csm="C1"),
            account("A3", 57_000, churn_risk="medium", current_csm="C2"),
            account("A4", 12_000, workload=5, current_csm="C3"),
            account("A5", 30_000, current_csm="C3"),
        ],
        objectives={"churn_risk": 1, "balance": 1, "expertise": 0, "expansion": 0, "continuity": 0},
        constraints={"arr_tolerance": 0.6},
    )
    scaled: dict[str, Any] = {
        **base,
        "accounts": [{**a, "arr": a["arr"] * 1000} for a in base["accounts"]],
    }
    small = solve_ok(Scenario.from_dict(base), backend)
    large = solve_ok(Scenario.from_dict(scaled), backend)
    assert large.objective == pytest.approx(small.objective, rel=TOLERANCE[backend])


@pytest.mark.parametrize("backend", ["highs", "cpsat"])
def test_progress_is_reported_while_solving(backend: str) -> None:
    reports: list[Progress] = []
    plan = solve(generated(30, 4, seed=3), backend=backend, progress=reports.append)
    assert plan.status == "optimal"
    assert reports, "no progress report"
    assert all(r.backend == backend for r in reports)
    assert all(r.elapsed_s >= 0 for r in reports)
    incumbents = [r.incumbent for r in reports if r.incumbent is not None]
    assert incumbents and min(incumbents) >= plan.objective - 1e-6


def test_backend_lookup() -> None:
    assert BACKENDS == ("highs", "cpsat", "cbc")
    assert get_backend("auto").name == "highs"
    assert {get_backend(name).name for name in BACKENDS} == set(BACKENDS)
    with pytest.raises(ValueError, match="unknown backend 'gurobi'"):
        get_backend("gurobi")


def test_auto_backend_runs_highs(team: dict) -> None:
    team["solver"]["backend"] = "auto"
    plan = solve(Scenario.from_dict(team))
    assert plan.backend == "highs"
    assert plan.settings["backend"] == "auto"


def test_solve_arguments_override_the_scenario_settings(team: dict) -> None:
    plan = solve(Scenario.from_dict(team), backend="cbc", time_limit_s=7)
    assert plan.backend == "cbc"
    assert plan.settings["time_limit_s"] == 7


@pytest.mark.slow
def test_time_limit_gives_a_feasible_plan_with_a_gap() -> None:
    scenario = load_scenario(EXAMPLE)
    scenario = scenario.replace(solver={**scenario.solver.model_dump(), "threads": 1, "gap": 0.0})
    plan = solve(scenario, backend="highs", time_limit_s=2)
    assert plan.status == "feasible"
    assert plan.exit_code == 0
    assert "from optimal" in plan.message
    assert plan.bound is not None and plan.gap is not None
    assert plan.bound <= plan.objective
    assert plan.gap > 0
    assert plan.after is not None and plan.after.violations == []


def test_highs_keeps_working_when_later_solves_ask_for_other_thread_counts(team: dict) -> None:
    # HiGHS sizes its thread scheduler once per process; a later solve asking for another count
    # used to fail inside HiGHS ("StatusNotOk") and came back without a plan.
    for threads in (1, 2, 1):
        scenario = Scenario.from_dict({**team, "solver": {**team["solver"], "threads": threads}})
        assert solve(scenario, backend="highs").status == "optimal"


def test_cpsat_handles_sub_hundredth_workloads_and_tiny_weights() -> None:
    # CP-SAT counts in integer steps: a workload of 2.2766 units needs a finer resolution than
    # hundredths, and a weight of 1e-300 must not blow up the objective scaling. Both used to
    # raise; now CP-SAT agrees with HiGHS.
    base = load_scenario(ROOT / "examples" / "tiny" / "scenario.json").model_dump(mode="json")
    base["accounts"][1]["workload"] = 2.2766
    base["constraints"]["workload_tolerance"] = 0.5
    tiny_weight = {**base, "objectives": {"churn_risk": 1, "balance": 1e-300}}
    for data in (base, tiny_weight):
        scenario = Scenario.from_dict(data)
        cpsat, highs = solve(scenario, backend="cpsat"), solve(scenario, backend="highs")
        assert cpsat.status == highs.status == "optimal", (cpsat.message, highs.message)
        assert cpsat.objective == pytest.approx(highs.objective, abs=1e-6)
        assert cpsat.after is not None and cpsat.after.violations == []


@pytest.mark.parametrize("backend", BACKEND_NAMES)
def test_books_filled_exactly_to_their_limit_are_feasible(backend: str) -> None:
    # Workloads 1+1+3+1 = 6 and 2.5 fill both books exactly (unit 8.5 per full-time book, so
    # the rows hold 1/8.5, 3/8.5 ...). Written with 12 digits, C1's row came out 2e-12 over its
    # limit and CBC called the model infeasible; the only plan puts A5 with C2.
    scenario = make(
        [
            csm("C1", capacity=0.5, max_workload=6.0, retention_rate=0.8),
            csm("C2", capacity=0.5, max_workload=2.5, retention_rate=0.8),
        ],
        [
            account("A1", 1000, complexity=1, current_csm="C1", locked=True),
            account("A2", 1000, complexity=1, current_csm="C1", locked=True),
            account("A3", 1000, complexity=3),
            account("A4", 1000, complexity=1, current_csm="C1"),
            account("A5", 1000, workload=2.5),
        ],
        objectives=weights(churn_risk=1),
    )
    plan = solve_ok(scenario, backend)
    assert plan.assignment() == {"A1": "C1", "A2": "C1", "A3": "C1", "A4": "C1", "A5": "C2"}
    assert plan.objective == 0.0


def test_cbc_solves_books_whose_targets_are_not_whole_cents() -> None:
    # Three CSMs of capacity 0.5 / 1 / 1.5 share $244,000: targets of $40,666.67, $81,333.33 and
    # $122,000. Rounding those rows to whole cents (2/3 of a cent off) made CBC call this
    # feasible model infeasible; it must agree with HiGHS.
    data = {
        "name": "property",
        "as_of": "2026-01-01",
        "csms": [
            {
                "id": "C1",
                "capacity": 0.5,
                "retention_rate": 0.8,
                "expansion_rate": 0.05,
                "industries": [],
                "skills": [],
                "region": "NA",
                "languages": [],
            },
            {
                "id": "C2",
                "capacity": 1.0,
                "retention_rate": 0.8,
                "expansion_rate": 0.05,
                "industries": [],
                "skills": [],
                "region": "NA",
                "languages": [],
            },
            {
                "id": "C3",
                "capacity": 1.5,
                "retention_rate": 0.8,
                "expansion_rate": 0.05,
                "industries": [],
                "skills": [],
                "region": "NA",
                "languages": [],
            },
        ],
        "accounts": [
            {
                "id": "A1",
                "arr": 242000,
                "churn_risk": "low",
                "expansion_potential": "low",
                "industry": "fintech",
                "complexity": 1,
                "required_skills": [],
                "renewal_date": "2026-01-01",
                "current_csm": "C1",
                "locked": True,
            },
            {
                "id": "A2",
                "arr": 1000,
                "churn_risk": "low",
                "expansion_potential": "low",
                "industry": "fintech",
                "complexity": 1,
                "required_skills": [],
                "renewal_date": "2026-01-01",
                "current_csm": "C1",
                "locked": True,
            },
            {
                "id": "A3",
                "arr": 1000,
                "churn_risk": "low",
                "expansion_potential": "low",
                "industry": "fintech",
                "complexity": 1,
                "required_skills": [],
                "renewal_date": "2026-01-01",
                "current_csm": "C1",
                "locked": True,
            },
        ],
        "objectives": {
            "churn_risk": 0,
            "balance": 1,
            "expertise": 0,
            "expansion": 0,
            "continuity": 0,
        },
        "constraints": {"match_region": False, "match_language": False, "balance_band": 0.0},
        "solver": {"backend": "highs", "time_limit_s": 20, "gap": 0.0, "seed": 0, "threads": 1},
    }
    scenario = Scenario.from_dict(data)
    highs = solve(scenario, backend="highs")
    cbc = solve(scenario, backend="cbc")
    assert highs.status == cbc.status == "optimal"
    assert cbc.objective == pytest.approx(highs.objective, abs=1e-9)
