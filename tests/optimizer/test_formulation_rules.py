"""Every hard rule: the solver keeps it, and the evaluator flags a plan that breaks it.

All cases use the standard 4x2 team of conftest.py (churn weight only): C1 retains better than
C2, so without rules every account goes to C1. The churn normalizer is 0.03 * total ARR =
30,000, so leaving an account of ARR x with C2 costs x / 1,000,000; the move tie-breaker adds
0.001 * moves / 4. Each case's expected optimum is worked out by hand in its comment.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import pytest
from conftest import (
    AS_OF,
    BACKEND_NAMES,
    TIE,
    account,
    csm,
    make,
    rules_of,
    scenario_dict,
    solve_ok,
    team_accounts,
    team_csms,
)

from optimizer import Scenario, evaluate, solve
from optimizer.formulation import build_model
from optimizer.instance import Instance

ALL_C1 = {"A1": "C1", "A2": "C1", "A3": "C1", "A4": "C1"}
CURRENT = {"A1": "C1", "A2": "C1", "A3": "C2", "A4": "C2"}
#: A3 stays with C2, the rest with C1 (one move: A4).
KEEP_A3 = {"A1": "C1", "A2": "C1", "A3": "C2", "A4": "C1"}
#: A4 stays with C2, the rest with C1 (one move: A3).
KEEP_A4 = {"A1": "C1", "A2": "C1", "A3": "C1", "A4": "C2"}


def per_move(moves: int) -> float:
    return TIE * moves / 4


@dataclass
class RuleCase:
    name: str
    change: Callable[[dict[str, Any]], None]
    expected: dict[str, str]
    objective: float
    broken: set[tuple[str, str]]  # violations of ALL_C1 (the rule-free optimum)
    keeper: dict[str, str] = field(default_factory=lambda: dict(CURRENT))

    def scenario(self) -> Scenario:
        data = scenario_dict(team_csms(), team_accounts())
        self.change(data)
        return Scenario.from_dict(data)


def rule(**constraints: Any) -> Callable[[dict[str, Any]], None]:
    def change(data: dict[str, Any]) -> None:
        data["constraints"].update(constraints)

    return change


def csm_field(csm_id: str, **fields: Any) -> Callable[[dict[str, Any]], None]:
    def change(data: dict[str, Any]) -> None:
        next(c for c in data["csms"] if c["id"] == csm_id).update(fields)

    return change


def account_field(account_id: str, **fields: Any) -> Callable[[dict[str, Any]], None]:
    def change(data: dict[str, Any]) -> None:
        next(a for a in data["accounts"] if a["id"] == account_id).update(fields)

    return change


def both(*changes: Callable[[dict[str, Any]], None]) -> Callable[[dict[str, Any]], None]:
    def change(data: dict[str, Any]) -> None:
        for c in changes:
            c(data)

    return change


CASES = [
    # C1 holds at most 3: the cheapest account to leave with C2 is A1 (0.1); A1 moves out and
    # A3, A4 move in (3 moves).
    RuleCase(
        "max_accounts_per_csm",
        rule(max_accounts_per_csm=3),
        {"A1": "C2", "A2": "C1", "A3": "C1", "A4": "C1"},
        0.1 + per_move(3),
        {("max_accounts", "C1")},
    ),
    RuleCase(
        "csm.max_accounts",
        csm_field("C1", max_accounts=3),
        {"A1": "C2", "A2": "C1", "A3": "C1", "A4": "C1"},
        0.1 + per_move(3),
        {("max_accounts", "C1")},
    ),
    # Team limit 4 scaled by C1's capacity 0.5 = 2 accounts: C1 takes the two largest (A3, A4),
    # A1 + A2 stay with C2 at 0.3; all four move.
    RuleCase(
        "max_accounts_per_csm scaled by capacity",
        both(rule(max_accounts_per_csm=4), csm_field("C1", capacity=0.5)),
        {"A1": "C2", "A2": "C2", "A3": "C1", "A4": "C1"},
        0.3 + per_move(4),
        {("max_accounts", "C1")},
    ),
    # C2 must keep >= 250K: cheapest is A3 alone (0.3, one move) - A1 + A2 also cost 0.3 but
    # need four moves.
    RuleCase(
        "min_arr_per_csm",
        rule(min_arr_per_csm=250_000),
        KEEP_A3,
        0.3 + per_move(1),
        {("min_arr", "C2")},
    ),
    RuleCase(
        "csm.min_arr",
        csm_field("C2", min_arr=250_000),
        KEEP_A3,
        0.3 + per_move(1),
        {("min_arr", "C2")},
    ),
    # C1 may hold at most 700K of the 1M: at least 300K stays with C2, as for min_arr.
    RuleCase(
        "max_arr_per_csm",
        rule(max_arr_per_csm=700_000),
        KEEP_A3,
        0.3 + per_move(1),
        {("max_arr", "C1")},
    ),
    RuleCase(
        "csm.max_arr",
        csm_field("C1", max_arr=700_000),
        KEEP_A3,
        0.3 + per_move(1),
        {("max_arr", "C1")},
    ),
    # Targets 500K, +-20% -> each book in [400K, 600K]. C2's cheapest book is 400K: {A4}
    # (one move) or {A1, A3} (two moves); cost 0.4.
    RuleCase(
        "arr_tolerance",
        rule(arr_tolerance=0.2),
        KEEP_A4,
        0.4 + per_move(1),
        {("arr_tolerance", "C1"), ("arr_tolerance", "C2")},
        keeper=KEEP_A4,
    ),
    # Workloads 1 each, target 2, +-20% -> exactly two accounts each: C2 gets the two smallest
    # (A1 + A2 = 0.3), all four move.
    RuleCase(
        "workload_tolerance",
        rule(workload_tolerance=0.2),
        {"A1": "C2", "A2": "C2", "A3": "C1", "A4": "C1"},
        0.3 + per_move(4),
        {("workload_tolerance", "C1"), ("workload_tolerance", "C2")},
    ),
    # C1 carries at most 3 workload units = 3 accounts: as max_accounts 3.
    RuleCase(
        "csm.max_workload",
        csm_field("C1", max_workload=3),
        {"A1": "C2", "A2": "C1", "A3": "C1", "A4": "C1"},
        0.1 + per_move(3),
        {("max_workload", "C1")},
    ),
    # A3, A4 high risk (p 0.5). Normalizer 3000 + 6000 + 22500 + 30000 = 61500. C1 may take
    # only one of them: A3 stays with C2 (22500 / 61500), A4 moves.
    RuleCase(
        "max_high_risk_per_csm",
        both(
            rule(max_high_risk_per_csm=1),
            account_field("A3", churn_risk="high"),
            account_field("A4", churn_risk="high"),
        ),
        KEEP_A3,
        22_500 / 61_500 + per_move(1),
        {("max_high_risk", "C1")},
        keeper=KEEP_A3,
    ),
    # Threshold 0.2: every medium account is high risk, so at most 3 per CSM, as max_accounts.
    RuleCase(
        "high_risk_threshold",
        rule(max_high_risk_per_csm=3, high_risk_threshold=0.2),
        {"A1": "C2", "A2": "C1", "A3": "C1", "A4": "C1"},
        0.1 + per_move(3),
        {("max_high_risk", "C1")},
    ),
    # One move only: the bigger one, A4 (A3 stays: 0.3).
    RuleCase(
        "max_moves",
        rule(max_moves=1),
        KEEP_A3,
        0.3 + per_move(1),
        {("max_moves", "team")},
    ),
    # 350K may move: A3 (300K) can, A4 (400K) cannot -> A4 stays (0.4).
    RuleCase(
        "max_moved_arr",
        rule(max_moved_arr=350_000),
        KEEP_A4,
        0.4 + per_move(1),
        {("max_moved_arr", "team")},
    ),
    # A4 renews in 14 days (frozen), A3 in 60 (free). A4's only eligible CSM is C2, so its
    # churn cost is 0 (best eligible) and it drops out of the normalizer: churn 0, one move.
    RuleCase(
        "renewal_freeze_days",
        both(
            rule(renewal_freeze_days=30),
            account_field("A4", renewal_date="2026-01-15"),
            account_field("A3", renewal_date="2026-03-02"),
        ),
        KEEP_A4,
        per_move(1),
        {("renewal_freeze", "A4")},
    ),
    # A protected relationship (health 86 >= 80) keeps A4 with C2; A3 (health 70) may move.
    # As for the freeze, A4's only eligible CSM is C2: churn 0, one move (A3).
    RuleCase(
        "protect",
        both(
            rule(
                protect=[{"name": "healthy", "when": [{"field": "health_score", "at_least": 80}]}]
            ),
            account_field("A4", health_score=86),
            account_field("A3", health_score=70),
        ),
        KEEP_A4,
        per_move(1),
        {("protected", "A4")},
    ),
    # A pin to C2 and a forbidden C1 leave A4 only C2, like the lock below: churn 0, one move.
    RuleCase(
        "pinned",
        rule(overrides=[{"account": "A4", "pin": "C2", "reason": "the champion asked"}]),
        KEEP_A4,
        per_move(1),
        {("pinned", "A4")},
    ),
    RuleCase(
        "forbidden",
        rule(overrides=[{"account": "A4", "forbid": ["C1"], "reason": "past escalation"}]),
        KEEP_A4,
        per_move(1),
        {("forbidden", "A4")},
    ),
    # Utilization: 10 hours a week per workload unit, 40-hour weeks: C2 must be at least 50%
    # utilized (20 hours, two accounts): C2 takes the two smallest (A1 + A2 = 0.3), four moves.
    RuleCase(
        "utilization.at_least",
        rule(utilization={"at_least": 0.5, "hours_per_unit": 10}),
        {"A1": "C2", "A2": "C2", "A3": "C1", "A4": "C1"},
        0.3 + per_move(4),
        {("utilization", "C2")},
    ),
    # A4 takes 34 hours a week (effort_hours), the others 1 (a workload unit each); C1 has 35
    # hours, so A4 plus one more at most: C1 keeps A4 and A3 (35 hours, at the edge) and A1 + A2
    # stay with C2 (0.3), four moves.
    RuleCase(
        "utilization.at_most with effort_hours and hours_per_week",
        both(
            rule(utilization={"at_most": 1.0}),
            account_field("A4", effort_hours=34),
            csm_field("C1", hours_per_week=35),
        ),
        {"A1": "C2", "A2": "C2", "A3": "C1", "A4": "C1"},
        0.3 + per_move(4),
        {("utilization", "C1")},
    ),
    # C2 keeps at least one account of 250K or more: A3, the cheaper of the two (0.3).
    RuleCase(
        "goals: accounts at_least",
        rule(
            goals=[
                {
                    "name": "large",
                    "csms": ["C2"],
                    "where": [{"field": "arr", "at_least": 250_000}],
                    "at_least": 1,
                }
            ]
        ),
        KEEP_A3,
        0.3 + per_move(1),
        {("goal:large", "C2")},
    ),
    # A3 and A4 are retail; C1 covers at most 500K of retail ARR: one of them stays with C2,
    # A3 (0.3).
    RuleCase(
        "goals: arr at_most",
        both(
            rule(
                goals=[
                    {
                        "name": "retail cap",
                        "where": [{"field": "industry", "equals": "retail"}],
                        "measure": "arr",
                        "at_most": 500_000,
                    }
                ]
            ),
            account_field("A3", industry="retail"),
            account_field("A4", industry="retail"),
        ),
        KEEP_A3,
        0.3 + per_move(1),
        {("goal:retail cap", "C1")},
        keeper=KEEP_A3,  # today C2 holds both
    ),
    # At most 60% of C1's ARR in one industry (A1, A2 media; A3, A4 retail): all four give
    # 70% retail. Without A3: 400K of 700K = 57% (0.3); without A1 or A2 retail stays above
    # 60%; without A4 costs 0.4. Today's books break it too (C1 is 100% media).
    RuleCase(
        "goals: arr_share at_most, each industry",
        both(
            rule(
                goals=[
                    {
                        "name": "concentration",
                        "csms": ["C1"],
                        "each": "industry",
                        "measure": "arr_share",
                        "at_most": 0.6,
                    }
                ]
            ),
            account_field("A1", industry="media"),
            account_field("A2", industry="media"),
            account_field("A3", industry="retail"),
            account_field("A4", industry="retail"),
        ),
        KEEP_A3,
        0.3 + per_move(1),
        {("goal:concentration:retail:at_most", "C1")},
        keeper=KEEP_A3,
    ),
    # At least 60% of C1's accounts of 250K or more: all four give 2 of 4; without A1 (0.1),
    # 2 of 3.
    RuleCase(
        "goals: account_share at_least",
        rule(
            goals=[
                {
                    "name": "senior",
                    "csms": ["C1"],
                    "where": [{"field": "arr", "at_least": 250_000}],
                    "measure": "account_share",
                    "at_least": 0.6,
                }
            ]
        ),
        {"A1": "C2", "A2": "C1", "A3": "C1", "A4": "C1"},
        0.1 + per_move(3),
        {("goal:senior:at_least", "C1")},
        keeper={"A1": "C2", "A2": "C1", "A3": "C1", "A4": "C1"},
    ),
    # A3 and A4 renew in the same quarter; one renewal a quarter per CSM: A3 stays with C2.
    RuleCase(
        "renewal_load.max_renewals",
        both(
            rule(renewal_load={"max_renewals": 1}),
            account_field("A3", renewal_date="2026-02-15"),
            account_field("A4", renewal_date="2026-03-20"),
        ),
        KEEP_A3,
        0.3 + per_move(1),
        {("renewal_load[2026-Q1]", "C1")},
        keeper=KEEP_A3,
    ),
    # A4 is met in person at (0, 0); C1 is 3 degrees of longitude away on the equator
    # (333.6 km), C2 one (111.2 km): within 200 km only C2 may take it, as for a lock.
    RuleCase(
        "max_travel_km",
        both(
            rule(max_travel_km=200),
            account_field("A4", latitude=0.0, longitude=0.0, visits_per_quarter=1),
            csm_field("C1", latitude=0.0, longitude=3.0),
            csm_field("C2", latitude=0.0, longitude=1.0),
        ),
        KEEP_A4,
        per_move(1),
        {("max_travel", "A4")},
    ),
    # Eligibility rules on A4 work the same way: churn 0, one move (A3).
    RuleCase("locked", account_field("A4", locked=True), KEEP_A4, per_move(1), {("locked", "A4")}),
    RuleCase(
        "required_skills",
        account_field("A4", required_skills=["sql"]),
        KEEP_A4,
        per_move(1),
        {("required_skills", "A4")},
    ),
    RuleCase(
        "match_region",
        both(rule(match_region=True), account_field("A4", region="EMEA")),
        KEEP_A4,
        per_move(1),
        {("match_region", "A4")},
    ),
    RuleCase(
        "match_language",
        both(rule(match_language=True), account_field("A4", language="de")),
        KEEP_A4,
        per_move(1),
        {("match_language", "A4")},
    ),
]
IDS = [case.name for case in CASES]


def test_without_rules_every_account_goes_to_the_best_retainer() -> None:
    # Churn 0; A3 and A4 move: 0.001 * 2 / 4.
    plan = solve_ok(Scenario.from_dict(scenario_dict(team_csms(), team_accounts())))
    assert plan.assignment() == ALL_C1
    assert plan.objective == pytest.approx(0.0005, abs=1e-9)


@pytest.mark.parametrize("backend", BACKEND_NAMES)
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_solver_keeps_the_rule_at_the_hand_computed_optimum(case: RuleCase, backend: str) -> None:
    plan = solve_ok(case.scenario(), backend=backend)
    assert plan.assignment() == case.expected
    assert plan.objective == pytest.approx(case.objective, rel=1e-6, abs=1e-9)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_evaluator_flags_a_plan_that_breaks_the_rule(case: RuleCase) -> None:
    violations = evaluate(case.scenario(), ALL_C1).violations
    assert rules_of(violations) == case.broken
    assert all(v.message for v in violations)
    assert all(v.amount >= 0 for v in violations)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_evaluator_accepts_a_plan_that_keeps_the_rule(case: RuleCase) -> None:
    assert evaluate(case.scenario(), case.keeper).violations == []
    assert evaluate(case.scenario(), case.expected).violations == []


def test_violation_messages_carry_the_numbers() -> None:
    case = CASES[0]
    (violation,) = evaluate(case.scenario(), ALL_C1).violations
    assert "4 accounts" in violation.message and "at most 3" in violation.message
    assert violation.amount == 1
    moves = next(c for c in CASES if c.name == "max_moves")
    (violation,) = evaluate(moves.scenario(), ALL_C1).violations
    assert "2 accounts change CSM" in violation.message and "max_moves is 1" in violation.message


def test_moved_arr_exactly_at_the_budget_is_allowed(team: dict) -> None:
    team["constraints"]["max_moved_arr"] = 700_000  # ALL_C1 moves A3 + A4 = 700K exactly
    assert evaluate(Scenario.from_dict(team), ALL_C1).violations == []


def test_unassigned_accounts_are_violations(team: dict) -> None:
    evaluation = evaluate(Scenario.from_dict(team), {"A1": "C1", "A2": "C1", "A3": None})
    assert rules_of(evaluation.violations) == {("assign", "A3"), ("assign", "A4")}
    # Both left C2: two moves of four.
    assert evaluation.kpis["moves"] == 2
    assert evaluation.terms["continuity"] == pytest.approx(0.5)


# ------------------------------------------------------------------ switches and edge cases


def test_required_skills_can_be_switched_off(team: dict) -> None:
    account_field("A4", required_skills=["sql"])(team)
    team["constraints"]["required_skills"] = False
    plan = solve_ok(Scenario.from_dict(team))
    assert plan.assignment() == ALL_C1


def test_region_and_language_are_ignored_unless_matching_is_on(team: dict) -> None:
    account_field("A4", region="EMEA", language="de")(team)
    assert solve_ok(Scenario.from_dict(team)).assignment() == ALL_C1


def test_csm_without_region_or_languages_takes_any_account() -> None:
    scenario = make(
        [csm("C1", retention_rate=0.95), csm("C2", retention_rate=0.8, region="EMEA")],
        [account("A1", 1000, region="EMEA", language="de", current_csm="C2")],
        constraints={"match_region": True, "match_language": True},
    )
    plan = solve_ok(scenario)
    assert plan.assignment() == {"A1": "C1"}


def test_lock_wins_over_a_skill_the_csm_lacks() -> None:
    scenario = make(
        [csm("C1", retention_rate=0.8), csm("C2", retention_rate=0.95, skills=["sql"])],
        [account("A1", 1000, required_skills=["sql"], current_csm="C1", locked=True)],
    )
    assert evaluate(scenario).violations == []
    assert solve_ok(scenario).assignment() == {"A1": "C1"}


@pytest.mark.parametrize(
    ("renewal", "frozen"),
    [
        ("2026-01-01", True),  # renews today
        ("2026-01-31", True),  # exactly 30 days ahead
        ("2026-02-01", False),  # 31 days ahead
        ("2025-12-31", False),  # renewed yesterday
    ],
)
def test_renewal_freeze_window_bounds(renewal: str, frozen: bool) -> None:
    scenario = make(
        [csm("C1"), csm("C2")],
        [account("A1", 1000, renewal_date=renewal, current_csm="C1")],
        constraints={"renewal_freeze_days": 30},
        as_of=AS_OF,
    )
    inst = Instance(scenario)
    assert (inst.fixed[0] == "renewal_freeze") is frozen
    assert inst.eligible[0] == ([0] if frozen else [0, 1])


def test_renewal_freeze_needs_a_current_csm() -> None:
    scenario = make(
        [csm("C1"), csm("C2")],
        [account("A1", 1000, renewal_date="2026-01-02")],
        constraints={"renewal_freeze_days": 30},
    )
    assert Instance(scenario).eligible[0] == [0, 1]


def test_forced_move_when_the_current_csm_lacks_a_required_skill() -> None:
    scenario = make(
        [csm("C1", retention_rate=0.95), csm("C2", retention_rate=0.8, skills=["sql"])],
        [account("A1", 1000, required_skills=["sql"], current_csm="C1")],
    )
    assert rules_of(evaluate(scenario).violations) == {("required_skills", "A1")}
    plan = solve_ok(scenario)
    assert plan.assignment() == {"A1": "C2"}
    # Churn 0 (C2 is the only eligible CSM); continuity 1 (the one account moved).
    assert plan.objective == pytest.approx(TIE * 1.0)


def test_team_limits_scale_with_capacity_and_the_stricter_limit_binds() -> None:
    scenario = make(
        [
            csm("Half", capacity=0.5),
            csm("Double", capacity=2, max_accounts=3, min_arr=500),
            csm("Own", min_arr=100, max_arr=250),
        ],
        [account("A1", 1000)],
        constraints={
            "max_accounts_per_csm": 5,
            "min_arr_per_csm": 200,
            "max_arr_per_csm": 300,
            "max_high_risk_per_csm": 3,
        },
    )
    inst = Instance(scenario)
    half, double, own = (_limits(inst, c) for c in range(3))
    # Half: 5 * 0.5 = 2.5 -> 2 accounts; 100 min; 150 max; 3 * 0.5 = 1.5 -> 1 high-risk.
    assert (half.max_accounts, half.min_arr, half.max_arr, half.max_high_risk) == (2, 100, 150, 1)
    # Double: own 3 < 10; own 500 > 400; team 600; 6 high-risk.
    assert (double.max_accounts, double.min_arr, double.max_arr, double.max_high_risk) == (
        3,
        500,
        600,
        6,
    )
    # Own: team 200 > own 100 for the minimum; own 250 < team 300 for the maximum.
    assert (own.min_arr, own.max_arr) == (200, 250)


def test_tolerance_windows_follow_capacity_weighted_targets() -> None:
    scenario = make(
        [csm("C1", capacity=3), csm("C2", capacity=1)],
        [account("A1", 800, workload=2), account("A2", 200, workload=6)],
        constraints={"arr_tolerance": 0.1, "workload_tolerance": 0.5},
    )
    inst = Instance(scenario)
    first, second = _limits(inst, 0), _limits(inst, 1)
    # ARR targets 750 / 250; workload targets 6 / 2.
    assert first.arr_window == pytest.approx((675, 825))
    assert second.arr_window == pytest.approx((225, 275))
    assert first.workload_window == pytest.approx((3, 9))
    assert second.workload_window == pytest.approx((1, 3))


def _limits(inst: Instance, c: int) -> SimpleNamespace:
    """CSM ``c``'s limits as the registry's rules give them (optimizer/rules.py)."""
    return SimpleNamespace(
        max_accounts=inst.limits("max_accounts", c)[1],
        min_arr=inst.limits("min_arr", c)[0],
        max_arr=inst.limits("max_arr", c)[1],
        max_high_risk=inst.limits("max_high_risk", c)[1],
        arr_window=inst.limits("arr_tolerance", c),
        workload_window=inst.limits("workload_tolerance", c),
    )


# ------------------------------------------------------------------ the model itself


def test_excluded_pairs_get_no_variable_and_every_account_one_assignment_row(team: dict) -> None:
    account_field("A4", locked=True)(team)
    account_field("A3", required_skills=["sql"])(team)
    built = build_model(Instance(Scenario.from_dict(team)))
    names = {v.name for v in built.model.variables}
    assert {"x[A1,C1]", "x[A1,C2]", "x[A2,C1]", "x[A2,C2]", "x[A3,C2]", "x[A4,C2]"} <= names
    assert "x[A4,C1]" not in names and "x[A3,C1]" not in names
    assign_rows = [r for r in built.model.rows if r.group and r.group[0] == "assign"]
    assert sorted(r.group[1] for r in assign_rows if r.group) == ["A1", "A2", "A3", "A4"]
    assert all(r.lb == r.ub == 1 for r in assign_rows)


def test_rows_are_grouped_by_rule_and_subject_and_can_be_relaxed(team: dict) -> None:
    team["constraints"].update(max_accounts_per_csm=3, arr_tolerance=0.2, max_moves=1)
    account_field("A4", locked=True)(team)
    inst = Instance(Scenario.from_dict(team))
    groups = {r.group for r in build_model(inst).model.rows if r.group}
    assert {
        ("max_accounts", "C1"),
        ("max_accounts", "C2"),
        ("arr_tolerance", "C1"),
        ("arr_tolerance", "C2"),
        ("max_moves", "team"),
    } <= groups
    relaxed = build_model(inst, relax=frozenset({"max_accounts", "locked"}))
    relaxed_groups = {r.group[0] for r in relaxed.model.rows if r.group}
    assert "max_accounts" not in relaxed_groups and "arr_tolerance" in relaxed_groups
    assert "x[A4,C1]" in {v.name for v in relaxed.model.variables}


def test_infeasible_rules_are_reported_not_violated(team: dict) -> None:
    # Max 1 account per CSM for 4 accounts: no plan at all.
    team["constraints"]["max_accounts_per_csm"] = 1
    plan = solve(Scenario.from_dict(team))
    assert plan.status == "infeasible"
    assert plan.after is None and plan.assignments == []
    assert plan.exit_code == 1


def test_book_rules_are_short_rows_on_load_variables() -> None:
    # Each book total is written once; the rules and the balance rows refer to it with one or
    # two entries (long repeated sums made HiGHS's presolve take minutes at 5,000 x 40). The
    # dense form (for CBC) repeats the sums and has the same optimum.
    from benchmarks.generator import generate
    from optimizer.formulation import build_model

    inst = Instance(Scenario.from_dict(generate(40, 4, seed=3)))
    built = build_model(inst)
    short = ("min_arr", "max_arr", "arr_tolerance", "over_", "under_")
    rows = [r for r in built.model.rows if r.name.startswith(short)]
    assert rows and all(len(r.index) <= 2 for r in rows)
    dense = build_model(inst, dense=True)
    assert all(len(r.index) > 2 for r in dense.model.rows if r.name.startswith(short))
    assert solve(inst.scenario, backend="highs").objective == pytest.approx(
        solve(inst.scenario, backend="cbc").objective, rel=1e-6
    )
