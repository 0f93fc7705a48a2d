"""Protected relationships (``constraints.protect``): an account meeting every condition of a
protection keeps its current CSM, the plan says which condition in words, the evaluator and the
counterfactuals use the same rule, and bad conditions are named by path."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import AS_OF, retention_team, solve_ok

from optimizer import Scenario, ScenarioError, evaluate
from optimizer.instance import Instance
from scenarios.sensitivity import rule_switches, sensitivity_variants

HEALTHY = {"name": "healthy relationship", "when": [{"field": "health_score", "at_least": 80}]}


def _team(protect: list[dict[str, Any]], **fields: dict[str, Any]) -> Scenario:
    """C1 retains better than C2; every account is with C2 today, so without protections
    every account moves to C1 (churn weight only)."""
    return retention_team([0.95, 0.8], {"protect": protect}, fields)


def test_a_met_condition_keeps_the_account_and_says_why() -> None:
    scenario = _team([HEALTHY], A2={"health_score": 86}, A3={"health_score": 79.5})
    inst = Instance(scenario)
    assert inst.protected(1) == "healthy relationship: health_score 86 >= 80"
    assert inst.protected(2) is None  # 79.5 < 80
    assert inst.protected(0) is None  # no health score: not protected
    plan = solve_ok(scenario)
    assert plan.assignment() == {"A1": "C1", "A2": "C2", "A3": "C1", "A4": "C1"}
    row = next(r for r in plan.assignments if r.account_id == "A2")
    assert row.reasons == ["healthy relationship: health_score 86 >= 80: kept with its CSM"]
    # C1 retains better: A2 is held by its protection, and the plan says so in words.
    held = next(h for h in plan.held if h["account_id"] == "A2")
    assert held["rule"] == "protected" and held["kind"] == "protection"
    assert "health_score 86 >= 80" in str(held["text"])
    # A plan that moves it breaks the rule, named with its condition.
    (violation,) = evaluate(scenario, dict.fromkeys(("A1", "A2", "A3", "A4"), "C1")).violations
    assert violation.rule == "protected" and violation.subject == "A2"
    assert violation.message == (
        "account A2 is a protected relationship (healthy relationship: health_score 86 >= 80) "
        "and must stay with C2, not move to C1"
    )


def test_conditions_combine_with_and_protections_with_or() -> None:
    tenure = {
        "name": "long tenure in healthcare",
        "when": [
            {"field": "months_with_csm", "at_least": 24},
            {"field": "industry", "one_of": ["healthcare", "biotech"]},
        ],
    }
    renewing = {
        "name": "renewing soon",
        "when": [{"field": "renewal_in_days", "at_least": 0, "at_most": 60}],
    }
    promoters = {"name": "promoters", "when": [{"field": "nps", "equals": 50}]}
    scenario = _team(
        [tenure, renewing, promoters],
        A1={"csm_since": "2023-06-01", "industry": "healthcare"},  # 31 months: both hold
        A2={"csm_since": "2025-06-01", "industry": "healthcare"},  # 7 months: no
        A3={"renewal_date": "2026-02-15", "csm_since": "2020-01-01", "industry": "retail"},
        A4={"nps": 50, "renewal_date": "2025-12-01"},  # renewed a month ago: only the NPS
    )
    assert AS_OF == "2026-01-01"
    inst = Instance(scenario)
    assert inst.protected(0) == (
        "long tenure in healthcare: months_with_csm 31 >= 24 and industry healthcare "
        "(one of healthcare, biotech)"
    )
    assert inst.protected(1) is None
    assert inst.protected(2) == "renewing soon: renewal_in_days 45 >= 0 and <= 60"
    assert inst.protected(3) == "promoters: nps 50 = 50"
    assert solve_ok(scenario).assignment() == {"A1": "C2", "A2": "C1", "A3": "C2", "A4": "C2"}


def test_an_account_without_a_current_csm_is_not_held() -> None:
    scenario = _team([HEALTHY], A2={"health_score": 90, "current_csm": None})
    assert Instance(scenario).fixed[1] is None
    assert solve_ok(scenario).assignment()["A2"] == "C1"


def test_switching_protections_off_is_a_priced_rule() -> None:
    assert rule_switches()["protect"] == {"protect": ()}
    held = _team([HEALTHY], A2={"health_score": 86})
    priced = {name: s for group, name, _, s in sensitivity_variants(held, (), (), (), True)}
    assert priced["rule.protect"].constraints.protect == ()
    assert Instance(priced["rule.protect"]).fixed[1] is None
    # Without protections there is nothing to price.
    free = {name for _, name, _, _ in sensitivity_variants(_team([]), (), (), (), True)}
    assert "rule.protect" not in free


@pytest.mark.parametrize(
    ("condition", "path", "words"),
    [
        ({"field": "happiness", "at_least": 3}, "when[0].field", "happiness"),
        ({"field": "health_score", "at_least": 90, "at_most": 80}, "when[0]", "above at_most"),
        ({"field": "region", "at_least": 2}, "when[0]", "is a word"),
        ({"field": "nps", "one_of": ["high"]}, "when[0]", "is a number"),
        ({"field": "nps"}, "when[0]", "give a test"),
    ],
)
def test_bad_conditions_are_named_by_path(condition: dict[str, Any], path: str, words: str) -> None:
    with pytest.raises(ScenarioError) as caught:
        _team([{"name": "x", "when": [condition]}])
    issues = caught.value.issues
    assert any(
        i.path.startswith(f"constraints.protect[0].{path}") and words in f"{i.message} {i.path}"
        for i in issues
    ), [(i.path, i.message) for i in issues]
