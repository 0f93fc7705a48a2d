"""The robustness suite (benchmarks/robustness.py): its shapes have their properties, every
scenario is feasible, generation is deterministic, and its plan checker agrees with the
engine's evaluator and catches every hard rule broken by hand."""

from __future__ import annotations

import copy
import datetime as dt
import random
import statistics
from typing import Any

import pytest

from benchmarks.robustness import (
    SETTINGS,
    SHAPES,
    Breach,
    build,
    check_plan,
    markdown,
    run_one,
)
from optimizer import Scenario, evaluate, solve
from optimizer.instance import Instance

SMALL = ((16, 3), (30, 4))


def books(data: dict[str, Any], plan: dict[str, str | None]) -> dict[str, float]:
    """Each CSM's ARR as a multiple of their fair share (capacity-weighted)."""
    capacity = {c["id"]: c.get("capacity", 1.0) for c in data["csms"]}
    total = sum(a["arr"] for a in data["accounts"])
    load = dict.fromkeys(capacity, 0.0)
    for a in data["accounts"]:
        owner = plan[a["id"]]
        if owner is not None:
            load[owner] += a["arr"]
    return {c: load[c] / (total * k / sum(capacity.values())) for c, k in capacity.items()}


def today(data: dict[str, Any]) -> dict[str, str | None]:
    return {a["id"]: a["current_csm"] for a in data["accounts"]}


def rule_names(breaches: list[Breach]) -> set[str]:
    return {b.rule for b in breaches}


# ------------------------------------------------------------------------------- the shapes


@pytest.mark.parametrize("size", SMALL)
@pytest.mark.parametrize("shape", SHAPES)
def test_every_shape_is_valid_and_feasible(shape: str, size: tuple[int, int]) -> None:
    built = build(shape, *size, seed=3)
    scenario = Scenario.from_dict(built.scenario)  # raises on any invalid field
    assert len(scenario.accounts) == size[0] and len(scenario.csms) == size[1]
    # The witness keeps every rule, by the engine's evaluator and by the suite's own check.
    assert evaluate(scenario, built.witness).violations == []
    assert check_plan(built.scenario, built.witness) == []


def test_generation_is_deterministic_per_seed() -> None:
    for shape in SHAPES:
        assert build(shape, 30, 4, seed=5).scenario == build(shape, 30, 4, seed=5).scenario
        assert build(shape, 30, 4, seed=5).scenario != build(shape, 30, 4, seed=6).scenario


@pytest.mark.parametrize("shape", ["skewed", "worst"])
@pytest.mark.parametrize("size", [(30, 4), (120, 6), (400, 12)])
def test_skewed_books_have_hoarders_and_near_empty_books(shape: str, size: tuple[int, int]) -> None:
    data = build(shape, *size, seed=1).scenario
    share = books(data, today(data))
    assert max(share.values()) >= 2.0, share
    assert min(share.values()) <= 0.25, share
    # The balanced baseline has neither.
    base = build("balanced", *size, seed=1).scenario
    even = books(base, today(base))
    assert min(even.values()) > 0.25 and max(even.values()) < 2.0, even


@pytest.mark.parametrize("shape", ["part_time", "worst"])
def test_part_time_shape_has_a_third_of_csms_at_half_to_most_time(shape: str) -> None:
    data = build(shape, 120, 6, seed=2).scenario
    capacities = [c["capacity"] for c in data["csms"]]
    part = [k for k in capacities if k != 1.0]
    assert len(part) == 2
    assert all(0.5 <= k <= 0.8 for k in part)
    assert all(c["capacity"] == 1.0 for c in build("balanced", 120, 6, seed=2).scenario["csms"])


def test_budget_shapes() -> None:
    for shape in ("no_budget", "worst"):
        rules = build(shape, 30, 4, seed=1).scenario["constraints"]
        assert "max_moves" not in rules and "max_moved_arr" not in rules
    rules = build("balanced", 30, 4, seed=1).scenario["constraints"]
    assert rules["max_moves"] >= 6 and rules["max_moved_arr"] > 0


def test_worst_values_continuity_at_0_05() -> None:
    assert build("worst", 30, 4, seed=1).scenario["objectives"]["continuity"] == 0.05
    assert build("skewed", 30, 4, seed=1).scenario["objectives"]["continuity"] == 0


def test_tight_and_loose_tolerances() -> None:
    tight = build("tight", 120, 6, seed=1).scenario["constraints"]
    loose = build("loose", 120, 6, seed=1).scenario["constraints"]
    base = build("balanced", 120, 6, seed=1).scenario["constraints"]
    assert tight["arr_tolerance"] == 0.05 and tight["workload_tolerance"] == 0.2
    assert "workload_tolerance" not in base
    assert loose["arr_tolerance"] == 0.30
    assert base["max_accounts_per_csm"] < loose["max_accounts_per_csm"]


@pytest.mark.parametrize(("seed", "widened"), [(1, False), (3, True)])
def test_tight_is_widened_only_where_5_percent_cannot_hold(seed: int, widened: bool) -> None:
    # Only the CSMs with the enterprise skill (half the team) may hold enterprise accounts.
    # With seed 3 those carry 54.5% of the ARR, so the enterprise CSMs hold at least 1.09 of
    # their targets: ±5% cannot hold, the tolerance is widened and the widening is said.
    built = build("tight", 120, 6, seed=seed)
    data = built.scenario
    total = sum(a["arr"] for a in data["accounts"])
    enterprise = sum(a["arr"] for a in data["accounts"] if "enterprise" in a["required_skills"])
    skilled = sum("enterprise" in c["skills"] for c in data["csms"]) / len(data["csms"])
    floor = enterprise / total / skilled - 1
    tol = data["constraints"]["arr_tolerance"]
    assert (floor > 0.05) is widened
    if widened:
        assert floor <= tol <= 0.15
        assert any(note.startswith("arr_tolerance 0.05 -> ") for note in built.notes)
        assert "Widened" in data["description"]
    else:
        assert tol == 0.05 and built.notes == []


@pytest.mark.parametrize("size", [(30, 4), (120, 6), (400, 12)])
def test_whales_are_20_to_40_times_the_median_and_not_locked(size: tuple[int, int]) -> None:
    data = build("whales", *size, seed=1).scenario
    arr = sorted(a["arr"] for a in data["accounts"])
    whales = [a for a in data["accounts"] if a["arr"] >= 15 * statistics.median(arr)]
    assert len(whales) >= max(2, round(0.015 * size[0]))
    median_rest = statistics.median(a["arr"] for a in data["accounts"] if a not in whales)
    assert all(19 * median_rest <= w["arr"] <= 45 * median_rest for w in whales)
    assert not any(w["locked"] for w in whales)


def test_locked_shape_locks_about_15_percent() -> None:
    data = build("locked", 120, 6, seed=1).scenario
    assert sum(a["locked"] for a in data["accounts"]) == 18
    base = build("balanced", 120, 6, seed=1).scenario
    assert sum(a["locked"] for a in base["accounts"]) == 4


def test_new_accounts_shape_has_20_percent_without_a_csm() -> None:
    data = build("new_accounts", 120, 6, seed=1).scenario
    assert sum(a["current_csm"] is None for a in data["accounts"]) == 24
    assert all(a["current_csm"] for a in build("balanced", 120, 6, seed=1).scenario["accounts"])


@pytest.mark.parametrize("size", [(36, 6), (120, 6), (400, 12)])
def test_few_eligible_leaves_two_or_three_candidates(size: tuple[int, int]) -> None:
    data = build("few_eligible", *size, seed=1).scenario
    assert data["constraints"]["match_region"] is True
    inst = Instance(Scenario.from_dict(data))  # the engine's own reading of eligibility
    free = [a for a in range(len(inst.accounts)) if inst.fixed[a] is None]
    assert free
    assert all(2 <= len(inst.eligible[a]) <= 3 for a in free)
    assert any(len(inst.eligible[a]) == 2 for a in free)
    # Without the shape most accounts may go to any CSM.
    base = Instance(Scenario.from_dict(build("balanced", *size, seed=1).scenario))
    assert statistics.median(len(e) for e in base.eligible) > 3


# ---------------------------------------------------------------- checker against evaluator


def evaluator_rules(data: dict[str, Any], plan: dict[str, str | None]) -> set[tuple[str, str]]:
    return {(v.rule, v.subject) for v in evaluate(Scenario.from_dict(data), plan).violations}


ELIGIBILITY = {"required_skills", "match_region", "match_language"}


def assert_agree(data: dict[str, Any], plan: dict[str, str | None]) -> None:
    """The checker finds what the evaluator finds. The evaluator names one eligibility rule
    per account (the first that excludes the CSM), the checker each one broken."""
    theirs = evaluator_rules(data, plan)
    ours = {(b.rule, b.subject) for b in check_plan(data, plan)}
    assert {x for x in ours if x[0] not in ELIGIBILITY} == {
        x for x in theirs if x[0] not in ELIGIBILITY
    }
    assert {x for x in theirs if x[0] in ELIGIBILITY} <= ours
    assert {s for r, s in ours if r in ELIGIBILITY} == {s for r, s in theirs if r in ELIGIBILITY}


@pytest.mark.parametrize("shape", SHAPES)
def test_checker_agrees_with_the_evaluator_on_random_plans(shape: str) -> None:
    built = build(shape, 30, 4, seed=2)
    data = built.scenario
    ids = [c["id"] for c in data["csms"]]
    rng = random.Random(shape)
    plans: list[dict[str, str | None]] = [today(data), dict(built.witness)]
    for _ in range(40):
        plan: dict[str, str | None] = dict(built.witness)
        for account in rng.sample(list(plan), rng.randint(1, 8)):
            plan[account] = rng.choice([*ids, None]) if rng.random() < 0.9 else None
        plans.append(plan)
    broken = 0
    for plan in plans:
        assert_agree(data, plan)
        broken += bool(check_plan(data, plan))
    assert broken >= 30  # the random plans do break rules: the comparison is not vacuous


def _solved_plan_passes_both_checks(shape: str, n: int, m: int, seconds: float) -> None:
    data = build(shape, n, m, seed=1).scenario
    data["solver"].update(time_limit_s=seconds, threads=1)
    plan = solve(Scenario.from_dict(data))
    assert plan.has_plan, plan.message
    assignment = plan.assignment()
    assert check_plan(data, assignment) == []
    assert evaluate(Scenario.from_dict(data), assignment).feasible


@pytest.mark.parametrize("shape", SHAPES)
def test_checker_agrees_with_the_evaluator_on_solved_plans(shape: str) -> None:
    _solved_plan_passes_both_checks(shape, 30, 4, 2)


@pytest.mark.slow
@pytest.mark.parametrize("shape", ["worst", "few_eligible", "whales"])
def test_checker_agrees_with_the_evaluator_on_larger_solved_plans(shape: str) -> None:
    _solved_plan_passes_both_checks(shape, 120, 6, 3)


def test_a_solved_plan_is_checked_and_recorded() -> None:
    record = run_one("balanced", "16x3", 1, 1.0, 1)
    assert record["status"] in ("optimal", "feasible")
    assert record["evaluator_feasible"] is True and record["check_ok"] is True
    assert record["check_breaches"] == [] and record["gap"] is not None
    if record["status"] == "optimal":
        assert record["time_to_proof_s"] is not None


# ------------------------------------------------------------------- one rule broken by hand
#
# Three CSMs (C3 half time) and six accounts, as of 2026-01-01. The plan below keeps every
# rule: C1 holds A1 (locked, enterprise) and A2 (high risk, renews in 9 days: frozen), C2 holds
# A3 (German) and A4, C3 (EMEA) holds A5 and the new account A6 (high risk). ARR targets are
# 500 / 500 / 250 and the books are exactly on them; workload targets 8 / 8 / 4, likewise.

AS_OF = "2026-01-01"
HAND_CSMS = [
    {"id": "C1", "skills": ["enterprise"], "region": "NA", "languages": ["en"]},
    {"id": "C2", "skills": [], "region": "NA", "languages": ["en", "de"]},
    {"id": "C3", "skills": ["enterprise"], "region": "EMEA", "languages": ["en"], "capacity": 0.5},
]
HAND_ACCOUNTS = [
    {
        "id": "A1",
        "arr": 400,
        "complexity": 5,
        "required_skills": ["enterprise"],
        "region": "NA",
        "language": "en",
        "current_csm": "C1",
        "locked": True,
    },
    {
        "id": "A2",
        "arr": 100,
        "complexity": 3,
        "churn_risk": "high",
        "region": "NA",
        "renewal_date": "2026-01-10",
        "current_csm": "C1",
    },
    {
        "id": "A3",
        "arr": 250,
        "complexity": 4,
        "region": "NA",
        "language": "de",
        "current_csm": "C2",
    },
    {"id": "A4", "arr": 250, "complexity": 4, "region": "NA", "current_csm": "C2"},
    {"id": "A5", "arr": 100, "complexity": 2, "region": "EMEA", "current_csm": "C3"},
    {"id": "A6", "arr": 150, "complexity": 2, "churn_risk": 0.6, "region": "EMEA"},
]
HAND_PLAN: dict[str, str | None] = {
    "A1": "C1",
    "A2": "C1",
    "A3": "C2",
    "A4": "C2",
    "A5": "C3",
    "A6": "C3",
}
ALL_RULES: dict[str, Any] = {
    "arr_tolerance": 0.1,
    "workload_tolerance": 0.1,
    "max_accounts_per_csm": 4,
    "min_arr_per_csm": 400,
    "max_arr_per_csm": 600,
    "max_high_risk_per_csm": 2,
    "max_moves": 2,
    "max_moved_arr": 300,
    "renewal_freeze_days": 30,
    "required_skills": True,
    "match_region": True,
    "match_language": True,
}


def hand(rules: dict[str, Any] | None = None, **changes: Any) -> dict[str, Any]:
    """The hand-made scenario with ``rules`` (default: all of them), CSM and account fields
    changed by ``changes`` ({"C2": {"max_accounts": 1}})."""
    data: dict[str, Any] = {
        "name": "hand",
        "as_of": AS_OF,
        "csms": copy.deepcopy(HAND_CSMS),
        "accounts": copy.deepcopy(HAND_ACCOUNTS),
        "constraints": dict(ALL_RULES if rules is None else rules),
    }
    for record in data["csms"] + data["accounts"]:
        record.update(changes.get(record["id"], {}))
    return data


def moved(**changes: str | None) -> dict[str, str | None]:
    return {**HAND_PLAN, **changes}


def test_the_hand_made_plan_keeps_every_rule() -> None:
    assert check_plan(hand(), HAND_PLAN) == []
    assert evaluate(Scenario.from_dict(hand()), HAND_PLAN).violations == []


# (rules on, field changes, plan, the rules it breaks: rule -> subjects)
CASES: dict[
    str, tuple[dict[str, Any], dict[str, Any], dict[str, str | None], dict[str, set[str]]]
] = {
    "assign: an account left out": (
        {"max_moves": 5},
        {},
        {k: v for k, v in HAND_PLAN.items() if k != "A4"},
        {"assign": {"A4"}},
    ),
    "assign: a leftover counts as a move": (
        {"max_moves": 0},
        {},
        moved(A4=None),
        {"assign": {"A4"}, "max_moves": {"team"}},
    ),
    "locked": ({"required_skills": True}, {}, moved(A1="C2"), {"locked": {"A1"}}),
    "renewal_freeze": ({"renewal_freeze_days": 30}, {}, moved(A2="C2"), {"renewal_freeze": {"A2"}}),
    "renewal_freeze: the last day of the window": (
        {"renewal_freeze_days": 9},
        {},
        moved(A2="C2"),
        {"renewal_freeze": {"A2"}},
    ),
    "required_skills": (
        {"required_skills": True},
        {"A1": {"locked": False}},
        moved(A1="C2"),
        {"required_skills": {"A1"}},
    ),
    "match_region": ({"match_region": True}, {}, moved(A5="C2"), {"match_region": {"A5"}}),
    "match_language": ({"match_language": True}, {}, moved(A3="C1"), {"match_language": {"A3"}}),
    "max_accounts: the team's limit, scaled and rounded down": (
        {"max_accounts_per_csm": 3},
        {},
        HAND_PLAN,
        {"max_accounts": {"C3"}},
    ),
    "max_accounts: a CSM's own": (
        {},
        {"C2": {"max_accounts": 1}},
        HAND_PLAN,
        {"max_accounts": {"C2"}},
    ),
    "min_arr: the team's, scaled": (
        {"min_arr_per_csm": 500.01},
        {},
        HAND_PLAN,
        {"min_arr": {"C1", "C2", "C3"}},
    ),
    "min_arr: a CSM's own": ({}, {"C3": {"min_arr": 260}}, HAND_PLAN, {"min_arr": {"C3"}}),
    "max_arr: the team's, scaled": (
        {"max_arr_per_csm": 499.99},
        {},
        HAND_PLAN,
        {"max_arr": {"C1", "C2", "C3"}},
    ),
    "max_arr: a CSM's own": ({}, {"C1": {"max_arr": 450}}, HAND_PLAN, {"max_arr": {"C1"}}),
    "arr_tolerance": ({"arr_tolerance": 0.1}, {}, moved(A5="C1"), {"arr_tolerance": {"C1", "C3"}}),
    "max_workload": ({}, {"C1": {"max_workload": 7.9}}, HAND_PLAN, {"max_workload": {"C1"}}),
    "workload_tolerance: per-CSM workload": (
        {"workload_tolerance": 0.1},
        {"A3": {"workload_by_csm": {"C2": 6}}},
        HAND_PLAN,
        {"workload_tolerance": {"C2"}},
    ),
    "max_high_risk: rounded down with capacity": (
        {"max_high_risk_per_csm": 1},
        {},
        HAND_PLAN,
        {"max_high_risk": {"C3"}},
    ),
    "max_high_risk: a probability at the threshold": (
        {"max_high_risk_per_csm": 1, "high_risk_threshold": 0.2},
        {"A1": {"churn_risk": "medium"}},
        HAND_PLAN,
        {"max_high_risk": {"C1", "C3"}},
    ),
    "max_moves": ({"max_moves": 0}, {}, moved(A4="C1"), {"max_moves": {"team"}}),
    "max_moved_arr": ({"max_moved_arr": 249}, {}, moved(A4="C1"), {"max_moved_arr": {"team"}}),
}


@pytest.mark.parametrize("case", list(CASES))
def test_the_checker_catches_a_rule_broken_by_hand(case: str) -> None:
    rules, changes, plan, expected = CASES[case]
    data = hand(rules, **changes)
    found: dict[str, set[str]] = {}
    for b in check_plan(data, plan):
        found.setdefault(b.rule, set()).add(b.subject)
    assert found == expected
    # The engine's evaluator sees the same.
    theirs: dict[str, set[str]] = {}
    for rule, subject in evaluator_rules(data, plan):
        theirs.setdefault(rule, set()).add(subject)
    assert theirs == expected


def test_assign_catches_unknown_ids() -> None:
    assert rule_names(check_plan(hand(), moved(A4="C9"))) >= {"assign"}
    assert rule_names(check_plan(hand(), {**HAND_PLAN, "A99": "C1"})) == {"assign"}


def test_exemptions_and_windows() -> None:
    # A locked account stays with a CSM who lacks its skill; a frozen one with one in
    # another region; neither is a breach.
    data = hand(None, C1={"skills": []}, A2={"region": "EMEA"})
    assert check_plan(data, HAND_PLAN) == []
    assert evaluate(Scenario.from_dict(data), HAND_PLAN).violations == []
    # The freeze window is 0..renewal_freeze_days days inclusive: a renewal yesterday or
    # outside the window does not hold the account.
    day = dt.date.fromisoformat(AS_OF)
    for offset, frozen in ((-1, False), (0, True), (9, True), (10, False)):
        renewal = (day + dt.timedelta(days=offset)).isoformat()
        data = hand({"renewal_freeze_days": 9}, A2={"renewal_date": renewal})
        assert ("renewal_freeze" in rule_names(check_plan(data, moved(A2="C2")))) is frozen
        assert (
            any(
                v.rule == "renewal_freeze"
                for v in evaluate(Scenario.from_dict(data), moved(A2="C2")).violations
            )
            is frozen
        )
    # A new account never counts as a move.
    assert check_plan(hand({"max_moves": 0}), moved(A6="C2")) == []


# ------------------------------------------------------------------------------- the report


def test_the_table_names_the_worst_shape_and_counts_a_missing_plan_as_worst() -> None:
    runs = [
        {"shape": "balanced", "size": "120x6", "seed": 1, "status": "optimal", "gap": 0.0001,
         "time_to_proof_s": 4.0, "evaluator_feasible": True, "check_ok": True},
        {"shape": "tight", "size": "120x6", "seed": 1, "status": "feasible", "gap": 0.02,
         "time_to_proof_s": None, "evaluator_feasible": True, "check_ok": True},
        {"shape": "worst", "size": "400x12", "seed": 2, "status": "no_solution", "gap": None,
         "time_to_proof_s": None},
        {"shape": "skewed", "size": "400x12", "seed": 1, "status": "feasible", "gap": 0.001,
         "time_to_proof_s": None, "evaluator_feasible": False, "check_ok": False},
    ]  # fmt: skip
    table = markdown(runs, "header")
    assert "| 120x6 | 2 | 1.005% | 2.000% (tight, seed 1) | 1/2 | 4.0 | 0 | 0 |" in table
    assert "| 400x12 | 2 | no plan | no plan (worst, seed 2) | 0/2 | - | 1 | 1 |" in table
    assert "| skewed | 400x12 | 1 | 0.100% | 0.100% | 0/1 | - | 0 | 1 |" in table


def test_settings_cover_every_shape() -> None:
    assert set(SETTINGS) == set(SHAPES)
    with pytest.raises(ValueError, match="unknown shape"):
        build("nonsense", 16, 3)
