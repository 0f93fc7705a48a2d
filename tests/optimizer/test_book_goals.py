"""The leader's book rules: utilization in hours, development and mix goals, renewal load.

The hand-computed cases on the standard team are in test_formulation_rules.py (every backend).
Here: each rule's exact violation on a plan worked out by hand, an exhaustive check of every
plan of a small team (the solver's optimum is the best plan the evaluator accepts, on every
backend), where the effort comes from, bad input named by path, and the switches that price
the rules.
"""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path
from typing import Any

import pytest
from conftest import BACKEND_NAMES, account, csm, make, scenario_dict, solve_ok, weights

from optimizer import Scenario, Status, evaluate, solve
from optimizer.instance import Instance
from optimizer.issues import ScenarioError
from optimizer.rules import active
from optimizer.strategies.lagrangian import supports
from scenarios.sensitivity import rule_switches


def small_team(constraints: dict[str, Any], soft_rules: float = 0.0) -> Scenario:
    """Three CSMs (C1 retains best) and six accounts of mixed industry, size and renewal date;
    churn and balance weights, so that the rules and the objective pull apart."""
    csms = [
        csm("C1", retention_rate=0.95),
        csm("C2", retention_rate=0.85, capacity=0.5),
        csm("C3", retention_rate=0.8),
    ]
    rows = [
        ("A1", 120_000, "retail", "2026-02-10", "high", 2, "C1"),
        ("A2", 80_000, "media", "2026-05-01", "medium", 1, "C1"),
        ("A3", 300_000, "retail", "2026-03-15", "high", 4, "C2"),
        ("A4", 60_000, "media", "2026-02-20", "low", 0.5, "C3"),
        ("A5", 220_000, "retail", "2026-08-01", "medium", 3, "C3"),
        ("A6", 150_000, "media", None, "high", 2, "C3"),
    ]
    accounts = [
        account(
            i,
            arr,
            industry=industry,
            renewal_date=renews,
            churn_risk=risk,
            workload=work,
            current_csm=current,
        )
        for i, arr, industry, renews, risk, work, current in rows
    ]
    return make(
        csms,
        accounts,
        objectives=weights(churn_risk=0.6, balance=0.4, soft_rules=soft_rules),
        constraints=constraints,
    )


LEADER_RULES = {
    "utilization": {"at_least": 0.3, "at_most": 0.95, "hours_per_unit": 5},
    "goals": [
        {
            "name": "C2 grows",
            "csms": ["C2"],
            "where": [{"field": "arr", "at_least": 200_000}],
            "at_least": 1,
        },
        {"name": "mix", "each": "industry", "measure": "arr_share", "at_most": 0.8},
    ],
    "renewal_load": {"max_renewals": 2, "max_arr_share": 0.9},
}


def best_plan_by_enumeration(scenario: Scenario) -> tuple[float, dict[str, str]]:
    """The best plan the evaluator accepts, over all 3^6 plans (the independent check)."""
    ids = [a.id for a in scenario.accounts]
    csms = [c.id for c in scenario.csms]
    best: tuple[float, dict[str, str]] | None = None
    for choice in itertools.product(csms, repeat=len(ids)):
        plan = dict(zip(ids, choice, strict=True))
        evaluation = evaluate(scenario, plan)
        if evaluation.violations:
            continue
        if best is None or evaluation.objective < best[0] - 1e-12:
            best = (evaluation.objective, plan)
    assert best is not None
    return best


@pytest.fixture(scope="module")
def enumerated() -> float:
    """The best objective of a plan keeping every leader rule, by enumeration; checked to be
    worse than the best without them (the rules bind)."""
    objective, _ = best_plan_by_enumeration(small_team(LEADER_RULES))
    unconstrained, _ = best_plan_by_enumeration(small_team({}))
    assert objective > unconstrained + 1e-4
    return objective


@pytest.mark.parametrize("backend", BACKEND_NAMES)
def test_the_solver_finds_the_best_plan_that_keeps_every_leader_rule(
    backend: str, enumerated: float
) -> None:
    scenario = small_team(LEADER_RULES)
    objective = enumerated
    solved = solve_ok(scenario, backend=backend)
    assert solved.objective == pytest.approx(objective, abs=1e-7)
    assert evaluate(scenario, solved.assignment()).violations == []


def test_exact_violations_of_todays_books() -> None:
    """Today: C1 = A1, A2; C2 = A3; C3 = A4, A5, A6 (hours: 5 per workload unit)."""
    scenario = small_team(LEADER_RULES)
    found = {(v.rule, v.subject): v for v in evaluate(scenario).violations}
    # C2 (20 hours, capacity 0.5) holds A3 (4 units = 20 hours): 100% > 95%.
    assert found["utilization", "C2"].amount == pytest.approx(20 - 0.95 * 20)
    assert "20.0 hours a week, 100% of their 20 available" in found["utilization", "C2"].message
    # One 2026-Q1 renewal each (A1, A3, A4), within 2 (C2: 1 at capacity 0.5). C2's A3 renews
    # in March: its whole book (300K) renews in Q1, 10% of 300K above the 90% share.
    assert found["renewal_arr[2026-Q1]", "C2"].amount == pytest.approx(300_000 * 0.1)
    assert "$30.0K more ARR renewing in 2026-Q1 than the 90%" in (
        found["renewal_arr[2026-Q1]", "C2"].message
    )
    # C2's book is all retail: 100% against at most 80%.
    assert found["goal:mix:retail:at_most", "C2"].amount == pytest.approx(300_000 * 0.2)
    # C1 holds media 80K of 200K (40%) and retail 60%: fine; C3 holds A4, A6 media 210K of
    # 430K (49%) and retail 51%: fine. C2 holds A3 (300K >= 200K): the goal is met. C1 is 37.5%
    # utilized (15 hours), C3 69% (27.5): inside the band.
    assert set(found) == {
        ("utilization", "C2"),
        ("renewal_arr[2026-Q1]", "C2"),
        ("goal:mix:retail:at_most", "C2"),
    }


def test_renewal_periods_count_the_horizon_only() -> None:
    data = scenario_dict(
        [csm("C1")],
        [
            account("A1", 10, renewal_date="2026-01-01"),  # as_of itself: 2026-Q1
            account("A2", 10, renewal_date="2026-12-31"),  # 364 days ahead: 2026-Q4
            account("A3", 10, renewal_date="2027-01-02"),  # past the 365-day horizon
            account("A4", 10, renewal_date="2025-12-31"),  # before as_of
            account("A5", 10, renewal_date="2026-04-30"),
        ],
        constraints={"renewal_load": {"max_renewals": 3, "period": "month"}},
    )
    inst = Instance(Scenario.from_dict(data))
    periods = {
        key: [i for i, hit in enumerate(hits) if hit] for key, hits in inst.renewal_periods()
    }
    assert periods == {"2026-01": [0], "2026-04": [4], "2026-12": [1]}


def test_renewal_limits_scale_with_capacity() -> None:
    data = scenario_dict(
        [csm("C1"), csm("Half", capacity=0.5)],
        [account("A1", 10, renewal_date="2026-02-01")],
        constraints={"renewal_load": {"max_renewals": 5}},
    )
    inst = Instance(Scenario.from_dict(data))
    assert inst.rule_limits["renewal_load[2026-Q1]"] == [(None, 5), (None, 2)]


def test_effort_comes_from_the_column_then_the_coverage_model_then_workload() -> None:
    scenario = make(
        [csm("C1"), csm("C2", capacity=0.5), csm("C3", hours_per_week=30)],
        [
            account("A1", 10, effort_hours=7.5, coverage="Task Force", workload=9),
            account("A2", 10, coverage="Task Force", workload=9),  # 3 people / 6 accounts
            account("A3", 10, coverage="Sync"),  # 1 / 20
            account("A4", 10, workload=4),
            account("A5", 10, complexity=2),
        ],
        constraints={"utilization": {"week_hours": 40, "hours_per_unit": 1.5}},
    )
    inst = Instance(scenario)
    assert inst.effort_hours == pytest.approx([7.5, 20.0, 2.0, 6.0, 3.0])
    assert inst.hours == pytest.approx([40.0, 20.0, 30.0])
    assert inst.tracks_hours


def test_books_report_utilization_before_and_after_only_where_hours_are_tracked() -> None:
    scenario = small_team({"utilization": {"hours_per_unit": 5}})
    books = {b.csm_id: b for b in evaluate(scenario).books}
    # C3 holds A4, A5, A6: 0.5 + 3 + 2 units = 27.5 hours of 40.
    assert (books["C3"].hours, books["C3"].hours_available) == (27.5, 40.0)
    assert books["C3"].utilization == pytest.approx(27.5 / 40)
    kpis = evaluate(scenario).kpis
    # C1: 3 units = 15 of 40; C2: 4 units = 20 of 20 (capacity 0.5).
    assert kpis["utilization_min"] == pytest.approx(15 / 40)
    assert kpis["utilization_max"] == pytest.approx(1.0)
    plain = evaluate(small_team({}))
    assert plain.books[0].utilization is None and "utilization_max" not in plain.kpis


def test_a_band_without_limits_is_no_rule_and_keeps_the_decomposition() -> None:
    inst = Instance(small_team({"utilization": {"hours_per_unit": 5}}))
    assert not active(inst, inst.rule("utilization"))  # type: ignore[arg-type]
    assert supports(inst)
    banded = Instance(small_team({"utilization": {"at_most": 0.9}}))
    assert not supports(banded)  # the decomposition prices no hours: auto avoids it
    assert not supports(Instance(small_team({"goals": LEADER_RULES["goals"]})))


def test_sensitivity_switches_off_each_family() -> None:
    switches = rule_switches()
    assert switches["utilization"] == {"utilization": None}
    assert switches["goals"] == {"goals": ()}
    assert switches["renewal_load"] == {"renewal_load": None}
    # Switched off, the leader's rules leave the team's own optimum.
    scenario = small_team(LEADER_RULES)
    data = scenario.model_dump(mode="json")
    for change in (switches["utilization"], switches["goals"], switches["renewal_load"]):
        data["constraints"].update(change)
    assert Instance(Scenario.from_dict(data)).book_rules == Instance(small_team({})).book_rules


@pytest.mark.parametrize(
    ("constraints", "path", "words"),
    [
        (
            {"utilization": {"at_least": 0.9, "at_most": 0.8}},
            "constraints.utilization",
            "at_least 0.9 is above at_most 0.8",
        ),
        (
            {"goals": [{"name": "g", "csms": ["C9"], "at_least": 1}]},
            "constraints.goals[0].csms[0]",
            "unknown CSM id 'C9'",
        ),
        (
            {"goals": [{"name": "g", "where": [{"field": "tier", "equals": "A"}], "at_most": 1}]},
            "constraints.goals[0].where[0].field",
            "Input should be",
        ),
        (
            {"goals": [{"name": "g", "measure": "arr_share", "at_most": 40}]},
            "constraints.goals[0]",
            "at_most 40 is a share of the book",
        ),
        ({"goals": [{"name": "g"}]}, "constraints.goals[0]", "give at_least, at_most or both"),
        (
            {"goals": [{"name": "g", "at_least": 1}, {"name": "g", "at_most": 3}]},
            "constraints.goals[1].name",
            "another goal is already named 'g'",
        ),
        ({"renewal_load": {"period": "quarter"}}, "constraints.renewal_load", "give max_renewals"),
        (
            {"renewal_load": {"max_renewals": 2, "period": "week"}},
            "constraints.renewal_load.period",
            "Input should be",
        ),
    ],
)
def test_bad_leader_rules_are_named_by_path(
    constraints: dict[str, Any], path: str, words: str
) -> None:
    data = scenario_dict([csm("C1")], [account("A1", 10)], constraints=constraints)
    with pytest.raises(ScenarioError) as raised:
        Scenario.from_dict(data)
    issues = {issue.path: issue.message for issue in raised.value.issues}
    assert path in issues, issues
    assert words in issues[path]


def test_bad_hours_are_named_by_account_and_csm() -> None:
    data = scenario_dict(
        [csm("C1", hours_per_week=0)], [account("A1", 10, effort_hours=200)], constraints={}
    )
    with pytest.raises(ScenarioError) as raised:
        Scenario.from_dict(data)
    paths = {issue.path for issue in raised.value.issues}
    assert {"csms[C1].hours_per_week", "accounts[A1].effort_hours"} <= paths


def test_a_goal_nobody_can_meet_is_found_before_solving() -> None:
    scenario = small_team(
        {
            "goals": [
                {
                    "name": "too many",
                    "csms": ["C2"],
                    "where": [{"field": "industry", "equals": "media"}],
                    "at_least": 4,
                }
            ]
        }
    )
    plan = solve(scenario)
    assert plan.status is Status.INFEASIBLE
    assert plan.diagnosis is not None and plan.diagnosis.method == "precheck"
    (conflict,) = plan.diagnosis.conflicts
    # Three media accounts (A2, A4, A6) in all.
    assert (conflict.rule, conflict.subject) == ("goal:too many", "C2")
    assert "at least 4" in conflict.message and "only 3" in conflict.message


def test_the_plan_reports_each_leader_rule_today_and_under_the_plan() -> None:
    from documents.report import render_html
    from optimizer.explain.book_goals import describe

    plan = solve_ok(small_team(LEADER_RULES))
    rules = {rule["rule"]: rule for rule in plan.book_goals}
    # One rule per goal, industry value and quarter; share rules read as shares of the book.
    assert set(rules) == {
        "goal:C2 grows",
        "goal:mix:media:at_most",
        "goal:mix:retail:at_most",
        "renewal_load[2026-Q1]",
        "renewal_arr[2026-Q1]",
        "renewal_load[2026-Q2]",
        "renewal_arr[2026-Q2]",
        "renewal_load[2026-Q3]",
        "renewal_arr[2026-Q3]",
    }
    grows = rules["goal:C2 grows"]
    assert [row["csm_id"] for row in grows["csms"]] == ["C2"]  # only the CSM it is for
    (row,) = grows["csms"]
    assert (row["before"], row["at_least"], row["kept_before"]) == (1.0, 1.0, True)
    retail = {row["csm_id"]: row for row in rules["goal:mix:retail:at_most"]["csms"]}
    # Today C2 holds A3 alone (all retail); C1 holds 120K retail of 200K.
    assert retail["C2"]["before"] == pytest.approx(1.0) and not retail["C2"]["kept_before"]
    assert retail["C1"]["before"] == pytest.approx(0.6) and retail["C1"]["kept_before"]
    assert all(row["kept_after"] for rule in plan.book_goals for row in rule["csms"])
    assert all(
        row["after"] is None or row["after"] <= 0.8 + 1e-9
        for row in rules["goal:mix:retail:at_most"]["csms"]
    )
    words = describe(rules["renewal_arr[2026-Q1]"])
    assert words["limit"] == "at most 90%" and words["kept"] == "2/3 -> 3/3"
    # renewal_load: 2 a quarter for full time, 1 for C2 (capacity 0.5): the limits differ.
    assert describe(rules["renewal_load[2026-Q1]"])["limit"] == "per CSM"
    html = render_html(plan.to_dict())
    assert 'id="book-goals"' in html and "goal:C2 grows" in html
    assert 'id="chart-utilization"' in html


def test_column_generation_keeps_the_leader_rules_at_the_same_optimum(enumerated: float) -> None:
    """The restricted models of column generation carry the scenario's own rules as the full
    model does: the strategy finds the enumerated optimum, and its bound (the full model's
    relaxation, too weak here to prove it) stays below."""
    data = small_team(LEADER_RULES).model_dump(mode="json")
    data["solver"].update({"strategy": "columns", "gap": 0.0, "threads": 1, "time_limit_s": 5})
    scenario = Scenario.from_dict(data)
    plan = solve(scenario)
    assert plan.has_plan and plan.bound is not None, plan.message
    assert plan.objective == pytest.approx(enumerated, abs=1e-7)
    assert plan.bound <= enumerated + 1e-9
    assert evaluate(scenario, plan.assignment()).violations == []


# ------------------------------------------------------------------------------- travel

#: One degree of longitude on the equator: 2 x pi x 6371 km / 360.
DEGREE_KM = 2 * math.pi * 6371.0 / 360


def travel_team(**constraints: Any) -> Scenario:
    """A1 met in person twice a quarter at (0, 0) and A2 remote; C1 one degree east, C2 in
    Lisbon (a named location)."""
    data = scenario_dict(
        [csm("C1", latitude=0.0, longitude=1.0), csm("C2", location="Lisbon")],
        [
            account("A1", 100, latitude=0.0, longitude=0.0, visits_per_quarter=2, current_csm="C2"),
            account("A2", 100, location="Lisbon", current_csm="C2"),
        ],
        constraints=constraints,
    )
    data["travel"] = {
        "speed_kmh": 60,
        "locations": {"Lisbon": {"latitude": 38.72, "longitude": -9.14}},
    }
    return Scenario.from_dict(data)


def test_travel_hours_are_round_trips_at_the_stated_speed() -> None:
    scenario = travel_team()
    inst = Instance(scenario)
    assert inst.distance_km(0, 0) == pytest.approx(DEGREE_KM, rel=1e-9)
    assert inst.travel_hours(0, 0) == pytest.approx(2 * 2 * DEGREE_KM / 60, rel=1e-9)
    assert inst.travel_hours(1, 0) == 0.0  # remote: no visits
    moved = evaluate(scenario, {"A1": "C1", "A2": "C2"})
    books = {b.csm_id: b for b in moved.books}
    assert books["C1"].travel_hours == pytest.approx(2 * 2 * DEGREE_KM / 60)
    assert books["C2"].travel_hours == 0.0
    assert moved.kpis["travel_hours"] == pytest.approx(2 * 2 * DEGREE_KM / 60)
    # Today A1 is with C2 in Lisbon, about 4,400 km away.
    today = evaluate(scenario).kpis["travel_hours"]
    assert today == pytest.approx(2 * 2 * inst.distance_km(0, 1) / 60)
    assert 4_300 < (inst.distance_km(0, 1) or 0) < 4_500


def test_the_travel_limit_keeps_in_person_accounts_within_reach() -> None:
    scenario = travel_team(max_travel_km=500)
    inst = Instance(scenario)
    assert inst.eligible[0] == [0]  # Lisbon is too far for A1
    assert inst.eligible[1] == [0, 1]  # A2 is remote
    (violation,) = evaluate(scenario).violations
    assert (violation.rule, violation.subject) == ("max_travel", "A1")
    assert "4,405 km" in violation.message and "beyond max_travel_km 500" in violation.message
    plan = solve_ok(scenario)
    assert plan.assignment()["A1"] == "C1"
    from documents.report import render_html

    assert 'id="chart-travel"' in render_html(plan.to_dict())


@pytest.mark.parametrize(
    ("change", "path", "words"),
    [
        ({"latitude": 95.0, "longitude": 0.0}, "accounts[A1].latitude", "less than or equal"),
        ({"latitude": 10.0}, "accounts[A1].longitude", "give both latitude and longitude"),
        ({"location": "Atlantis"}, "accounts[A1].location", "unknown location 'Atlantis'"),
    ],
)
def test_bad_places_are_named_by_path(change: dict[str, Any], path: str, words: str) -> None:
    data = scenario_dict([csm("C1")], [account("A1", 10, **change)])
    with pytest.raises(ScenarioError) as raised:
        Scenario.from_dict(data)
    issues = {issue.path: issue.message for issue in raised.value.issues}
    assert path in issues, issues
    assert words in issues[path]


@pytest.mark.parametrize("backend", BACKEND_NAMES)
def test_the_travel_term_sends_in_person_accounts_to_the_nearest_csm(backend: str) -> None:
    """Travel weight only: A1 (two visits a quarter at (0, 0)) is with C2 in Lisbon today, the
    farthest of its two CSMs: the term is 1 (all of its spread), and 0 with C1 one degree away.
    The plan moves it (one move of two: tie-break 0.001 / 2)."""
    data = travel_team().model_dump(mode="json")
    data["objectives"] = weights(travel=1)
    scenario = Scenario.from_dict(data)
    assert evaluate(scenario).terms["travel"] == pytest.approx(1.0)
    plan = solve_ok(scenario, backend=backend)
    assert plan.assignment() == {"A1": "C1", "A2": "C2"}
    assert plan.objective == pytest.approx(0.001 / 2, abs=1e-9)
    assert plan.after is not None and plan.after.terms["travel"] == pytest.approx(0.0, abs=1e-12)


def test_a_weighed_travel_term_needs_every_place() -> None:
    data = scenario_dict(
        [csm("C1", latitude=1.0, longitude=1.0), csm("C2")],
        [account("A1", 10, visits_per_quarter=1), account("A2", 10)],
        objectives=weights(churn_risk=1, travel=1),
    )
    with pytest.raises(ScenarioError) as raised:
        Scenario.from_dict(data)
    paths = {issue.path for issue in raised.value.issues}
    assert paths == {"csms[C2].location", "accounts[A1].location"}


def test_sensitivity_prices_each_leader_rule_that_is_on() -> None:
    from scenarios.sensitivity import sensitivity_variants

    def priced(scenario: Scenario) -> set[str]:
        return {name for group, name, _, _ in sensitivity_variants(scenario) if group == "prices"}

    names = priced(small_team(LEADER_RULES))
    assert {"rule.utilization", "rule.goals", "rule.renewal_load"} <= names
    assert {"goal.C2 grows", "goal.mix"} <= names  # and each goal on its own
    assert "rule.max_travel_km" in priced(travel_team(max_travel_km=500))
    # Hours tracked without a band, and no goals: nothing of them to price.
    plain = priced(small_team({"utilization": {"hours_per_unit": 5}}))
    assert not {"rule.utilization", "rule.goals", "rule.renewal_load"} & plain


# ---------------------------------------------------------------------------- soft forms

SOFT_BAND = {"utilization": {"at_least": 0.5, "hours_per_unit": 10, "soft": True}}
SOFT_GOAL = {
    "goals": [
        {
            "name": "large",
            "csms": ["C2"],
            "where": [{"field": "arr", "at_least": 250_000}],
            "at_least": 1,
            "soft": True,
        }
    ]
}


def soft_team(constraints: dict[str, Any], soft_weight: float) -> Scenario:
    """The standard 4x2 team (churn weight 1; leaving ARR x with C2 costs x / 1M) with a soft
    rule weighed ``soft_weight``."""
    from conftest import team_accounts, team_csms

    return make(
        team_csms(),
        team_accounts(),
        objectives=weights(churn_risk=1, soft_rules=soft_weight),
        constraints=constraints,
    )


ALL_C1 = {"A1": "C1", "A2": "C1", "A3": "C1", "A4": "C1"}


@pytest.mark.parametrize("backend", BACKEND_NAMES)
@pytest.mark.parametrize(
    ("constraints", "soft_weight", "expected", "objective"),
    [
        # C2 should be 50% utilized (20 of 40 hours, 10 an account). Empty, it is 20 hours
        # short: one full-time book of effort (40 hours / capacity 2), over capacity 2: 0.5.
        # Weights 1:1 (0.5 each): everything with C1 costs 0.5 x 0.5 + tie 0.001 x 2/4 = 0.2505;
        # A1 + A2 with C2 keeps the band at churn 0.5 x 0.3 + tie 0.001 = 0.151; A1 alone
        # 0.5 x 0.1 + 0.5 x 0.25 + 0.00075 = 0.17575. The band wins.
        (SOFT_BAND, 1.0, {"A1": "C2", "A2": "C2", "A3": "C1", "A4": "C1"}, 0.151),
        # Weights 4:1 (0.8, 0.2): everything with C1 costs 0.2 x 0.5 + 0.0005 = 0.1005, the
        # band 0.8 x 0.3 + 0.001 = 0.241, A1 alone 0.08 + 0.05 + 0.00075: the band gives way.
        (SOFT_BAND, 0.25, ALL_C1, 0.1005),
        # C2 should keep one account of 250K or more: short by one account (1 / capacity 2).
        # 1:1: A3 with C2 costs 0.5 x 0.3 + 0.001 x 1/4 = 0.15025 against 0.25 + 0.0005.
        (SOFT_GOAL, 1.0, {"A1": "C1", "A2": "C1", "A3": "C2", "A4": "C1"}, 0.15025),
        # 4:1: 0.2 x 0.5 + 0.0005 = 0.1005 against 0.8 x 0.3 + 0.00025: the goal gives way.
        (SOFT_GOAL, 0.25, ALL_C1, 0.1005),
    ],
)
def test_a_soft_rule_costs_its_excess_instead_of_ruling_plans_out(
    backend: str,
    constraints: dict[str, Any],
    soft_weight: float,
    expected: dict[str, str],
    objective: float,
) -> None:
    scenario = soft_team(constraints, soft_weight)
    plan = solve_ok(scenario, backend=backend)
    assert plan.assignment() == expected
    assert plan.objective == pytest.approx(objective, abs=1e-9)
    # A soft rule is never a violation; its excess is the soft_rules term.
    everything = evaluate(scenario, ALL_C1)
    assert everything.violations == []
    assert everything.terms["soft_rules"] == pytest.approx(0.5)


def test_a_soft_rule_without_a_weight_is_refused() -> None:
    data = scenario_dict([csm("C1")], [account("A1", 10)], constraints=SOFT_BAND)
    with pytest.raises(ScenarioError) as raised:
        Scenario.from_dict(data)
    (issue,) = raised.value.issues
    assert issue.path == "objectives.soft_rules"
    assert "constraints.utilization.soft" in issue.message


def test_counterfactuals_price_soft_rules_as_the_evaluator_does() -> None:
    """Every single change of a plan under the leader's rules made soft: the counterfactual's
    objective change equals the evaluator's, and a soft rule never blocks it."""
    from optimizer.explain.counterfactual import MoveScorer

    rules = {
        **LEADER_RULES,
        "utilization": {**LEADER_RULES["utilization"], "soft": True},  # type: ignore[dict-item]
        "goals": [{**g, "soft": True} for g in LEADER_RULES["goals"]],  # type: ignore[attr-defined]
        "renewal_load": {**LEADER_RULES["renewal_load"], "soft": True},  # type: ignore[dict-item]
        "protect": [{"name": "big", "when": [{"field": "arr", "at_least": 200_000}], "soft": True}],
    }
    scenario = small_team(rules, soft_rules=0.3)
    inst = Instance(scenario)
    assert all(not r.hard for r in inst.book_rules if active(inst, r))
    plan = solve_ok(scenario)
    assignment = plan.assignment()
    chosen = [inst.csm_index[assignment[a.id]] for a in inst.accounts]
    scorer = MoveScorer(inst, chosen)
    base = evaluate(inst, assignment)
    soft_moved = 0
    for a in range(len(inst.accounts)):
        for c in range(len(inst.csms)):
            if c == chosen[a]:
                continue
            alt = scorer.alternative(a, c)
            changed = {**assignment, inst.accounts[a].id: inst.csms[c].id}
            after = evaluate(inst, changed)
            assert alt.delta == pytest.approx(after.objective - base.objective, abs=1e-12)
            assert alt.allowed and after.violations == []
            soft_moved += "soft_rules" in alt.terms
    assert soft_moved > 0


def test_a_locations_table_is_read_from_a_file_and_its_bad_cells_are_named(
    tmp_path: Path,
) -> None:
    from optimizer import load_scenario

    scenario = travel_team().model_dump(mode="json")
    scenario["travel"]["locations"] = "places.csv"
    (tmp_path / "s.json").write_text(json.dumps(scenario), encoding="utf-8")
    (tmp_path / "places.csv").write_text(
        "Location,Latitude,Longitude\nLisbon,38.72,-9.14\n", encoding="utf-8"
    )
    loaded = load_scenario(tmp_path / "s.json")
    assert loaded.travel.locations["Lisbon"].latitude == 38.72
    assert Instance(loaded).csm_place[1] == (38.72, -9.14)
    (tmp_path / "places.csv").write_text(
        "location,latitude,longitude\nLisbon,38.72,-9.14\nLisbon,1,2\nPorto,95,-8.6\n",
        encoding="utf-8",
    )
    with pytest.raises(ScenarioError) as raised:
        load_scenario(tmp_path / "s.json")
    issues = {issue.path: issue.message for issue in raised.value.issues}
    assert "given twice" in issues["places.csv row 3, column 'location'"]
    assert "from -90 to 90 (got '95')" in issues["places.csv row 4, column 'latitude'"]
    (tmp_path / "places.csv").write_text("location,lat\nLisbon,38\n", encoding="utf-8")
    with pytest.raises(ScenarioError) as raised:
        load_scenario(tmp_path / "s.json")
    (issue,) = raised.value.issues
    assert issue.path == "travel.locations" and "missing: latitude, longitude" in issue.message


@pytest.mark.parametrize("backend", BACKEND_NAMES)
@pytest.mark.parametrize(
    ("soft_weight", "expected", "objective"),
    [
        # A4 (with C2 today, health 86) is softly protected: moving it costs one account over
        # capacity 2 = 0.5 of the term. 1:1 weights: everything with C1 costs 0.5 x 0.5 +
        # tie 0.001 x 2/4 = 0.2505; A4 kept costs churn 0.5 x 0.4 + 0.00025 = 0.20025.
        (1.0, {"A1": "C1", "A2": "C1", "A3": "C1", "A4": "C2"}, 0.20025),
        # 4:1: 0.2 x 0.5 + 0.0005 = 0.1005 against 0.8 x 0.4 + 0.00025: A4 moves.
        (0.25, ALL_C1, 0.1005),
    ],
)
def test_a_soft_protection_costs_a_move_of_its_account(
    backend: str, soft_weight: float, expected: dict[str, str], objective: float
) -> None:
    protect = {
        "protect": [
            {"name": "healthy", "when": [{"field": "health_score", "at_least": 80}], "soft": True}
        ]
    }
    data = soft_team(protect, soft_weight).model_dump(mode="json")
    data["accounts"][3]["health_score"] = 86
    scenario = Scenario.from_dict(data)
    inst = Instance(scenario)
    assert (
        inst.protected(3) is None and inst.softly_protected(3) == "healthy: health_score 86 >= 80"
    )
    assert inst.eligible[3] == [0, 1]  # not a hard rule: both CSMs stay possible
    plan = solve_ok(scenario, backend=backend)
    assert plan.assignment() == expected
    assert plan.objective == pytest.approx(objective, abs=1e-9)
    assert evaluate(scenario, ALL_C1).terms["soft_rules"] == pytest.approx(0.5)
