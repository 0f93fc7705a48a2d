"""Per-pair inputs: preference scores and CSM-specific workload, by hand and on published GAPs."""

from __future__ import annotations

import pytest
from conftest import account, csm, make, scenario_dict, solve_ok, weights

from benchmarks.gap import best_known, load, run_one, to_scenario
from optimizer import Scenario, ScenarioError, evaluate


def two_by_two(**extra: object) -> Scenario:
    return make(
        [csm("C1"), csm("C2", max_workload=4)],
        [
            account("A1", 100, workload=1, preferences={"C1": 3, "C2": 1}, **extra),
            account("A2", 100, workload=1, preferences={"C2": 2}),
        ],
        objectives=weights(preference=1),
    )


def test_preference_term_by_hand() -> None:
    scenario = two_by_two()
    # Best: A1 with C1 (3), A2 with C2 (2); range (3 - 1) + (2 - 0) = 4.
    assert evaluate(scenario, {"A1": "C1", "A2": "C2"}).terms["preference"] == 0.0
    assert evaluate(scenario, {"A1": "C2", "A2": "C1"}).terms["preference"] == pytest.approx(1.0)
    assert evaluate(scenario, {"A1": "C1", "A2": "C1"}).terms["preference"] == pytest.approx(0.5)
    plan = solve_ok(scenario)
    assert plan.assignment() == {"A1": "C1", "A2": "C2"}


def test_workload_with_a_given_csm_decides_who_can_take_the_account() -> None:
    # A1 now prefers C2, but takes 5 units with C2, whose maximum is 4: it stays with C1.
    scenario = make(
        [csm("C1"), csm("C2", max_workload=4)],
        [
            account("A1", 100, workload=1, preferences={"C2": 1}, workload_by_csm={"C2": 5}),
            account("A2", 100, workload=1),
        ],
        objectives=weights(preference=1),
    )
    violated = evaluate(scenario, {"A1": "C2", "A2": "C1"})
    assert [v.rule for v in violated.violations] == ["max_workload"]
    assert violated.books[1].workload == 5
    plan = solve_ok(scenario)
    assert plan.assignment()["A1"] == "C1"
    assert plan.after is not None and plan.after.terms["preference"] == pytest.approx(1.0)


def test_unknown_csm_ids_in_per_pair_inputs_are_named() -> None:
    data = scenario_dict(
        [csm("C1")],
        [account("A1", 1, preferences={"C9": 1}, workload_by_csm={"C8": 2})],
        objectives=weights(preference=1),
    )
    with pytest.raises(ScenarioError) as caught:
        Scenario.from_dict(data)
    paths = {issue.path for issue in caught.value.issues}
    assert paths == {"accounts[A1].preferences.C9", "accounts[A1].workload_by_csm.C8"}


@pytest.mark.parametrize("name", ["gap1-1", "gap12-1", "a05100"])
def test_published_gap_optima_are_reached_and_proven(name: str) -> None:
    row = next(r for r in best_known() if r["instance"] == name)
    assert row["proven_optimal"] == "yes"
    outcome = run_one(row, time_limit_s=30)
    assert outcome.value == int(row["best_known"])
    assert outcome.proven


def test_the_gap_adapter_writes_an_ordinary_scenario() -> None:
    row = next(r for r in best_known() if r["instance"] == "gap1-1")
    gap = load(row)
    assert (gap.agents, gap.jobs, gap.sense) == (5, 15, "max")
    scenario = to_scenario(gap, time_limit_s=5)
    again = Scenario.from_dict(scenario.model_dump(mode="json"))  # the JSON contract round trip
    assert again == scenario
    job = scenario.accounts[0]
    assert job.workload_by_csm["agent0"] == gap.resource[0][0]
    assert job.preferences["agent4"] == gap.cost[4][0]
    assert scenario.csms[2].max_workload == gap.capacity[2]


def test_per_csm_numbers_are_checked_like_any_number() -> None:
    data = scenario_dict(
        [csm("C1"), csm("C2")],
        [account("A1", 1, preferences={"C1": -1e300, "C2": True}, workload_by_csm={"C1": 1e16})],
        objectives=weights(preference=1),
    )
    with pytest.raises(ScenarioError) as caught:
        Scenario.from_dict(data)
    found = {issue.path: issue.message for issue in caught.value.issues}
    assert "must be at most" in found["accounts[A1].preferences.C1"]
    assert "must be a number" in found["accounts[A1].preferences.C2"]
    assert "must be at most" in found["accounts[A1].workload_by_csm.C1"]
