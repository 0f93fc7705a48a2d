"""Overrides with reasons (``constraints.overrides``): a pin or a forbidden pair is a hard rule
of the registry; the plan lists each with its reason and the gain of the single change it alone
rules out (checked against the evaluator); an override that breaks another hard rule, or names
what does not exist, is refused by path."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import retention_team, solve_ok

from optimizer import Scenario, ScenarioError, Status, evaluate, solve
from scenarios.sensitivity import sensitivity_variants


def _team(
    overrides: list[dict[str, Any]],
    protect: list[dict[str, Any]] | None = None,
    **fields: dict[str, Any],
) -> Scenario:
    """C1 retains best, then C2, then C3; every account is with C3 today, so without overrides
    every account moves to C1 (churn weight only)."""
    return retention_team(
        [0.95, 0.85, 0.7], {"overrides": overrides, "protect": protect or []}, fields
    )


PIN = {
    "account": "A2",
    "pin": "C2",
    "reason": "the champion asked for Jordan",
    "author": "VP CS",
    "date": "2026-11-20",
}
FORBID = {"account": "A4", "forbid": ["C1"], "reason": "escalation with this CSM last year"}


def test_pins_and_forbidden_pairs_hold_and_are_listed_with_reasons_and_gains() -> None:
    scenario = _team([PIN, FORBID])
    plan = solve_ok(scenario)
    assert plan.assignment() == {"A1": "C1", "A2": "C2", "A3": "C1", "A4": "C2"}
    row = next(r for r in plan.assignments if r.account_id == "A2")
    assert "pinned to C2: the champion asked for Jordan" in row.reasons
    rows = {o["account_id"]: o for o in plan.overrides}
    assert rows["A2"]["kind"] == "pin" and rows["A2"]["csm_ids"] == ["C2"]
    assert rows["A2"]["author"] == "VP CS" and rows["A2"]["date"] == "2026-11-20"
    assert rows["A4"]["kind"] == "forbid" and rows["A4"]["reason"] == FORBID["reason"]
    # The gain without each: the single change it alone rules out, scored by the evaluator.
    for account_id, better in (("A2", "C1"), ("A4", "C1")):
        assert rows[account_id]["better_csm_id"] == better
        changed = {**plan.assignment(), account_id: better}
        gain = plan.objective - evaluate(scenario, changed).objective
        assert gain > 0
        assert rows[account_id]["gain_without"] == pytest.approx(gain, rel=1e-9, abs=1e-12)
    # A plan that ignores them breaks both rules, each named with its reason.
    messages = {
        v.rule: v.message
        for v in evaluate(scenario, dict.fromkeys(("A1", "A2", "A3", "A4"), "C1")).violations
    }
    assert messages == {
        "pinned": "account A2 is pinned to C2 (the champion asked for Jordan) but is assigned "
        "to C1",
        "forbidden": "account A4 may not go to C1 (escalation with this CSM last year) but is "
        "assigned there",
    }


def test_sensitivity_prices_every_override_and_each_one() -> None:
    names = {name for _, name, _, _ in sensitivity_variants(_team([PIN, FORBID]), (), (), (), True)}
    assert {"rule.overrides", "override.A2", "override.A4"} <= names


@pytest.mark.parametrize(
    ("override", "fields", "path", "words"),
    [
        ({**PIN, "pin": "C1"}, {"A2": {"locked": True}}, "pin", "lock"),
        (
            {"account": "A2", "forbid": ["C3"], "reason": "r"},
            {"A2": {"health_score": 90}},
            "forbid[0]",
            "protected relationship",
        ),
    ],
)
def test_an_override_that_breaks_another_hard_rule_is_refused_by_path(
    override: dict[str, Any], fields: dict[str, Any], path: str, words: str
) -> None:
    protect = [{"name": "healthy", "when": [{"field": "health_score", "at_least": 80}]}]
    scenario = _team([override], protect, **fields)
    plan = solve(scenario)
    assert plan.status is Status.INVALID
    (issue,) = plan.issues
    assert issue.path == f"constraints.overrides[0].{path}" and words in issue.message


@pytest.mark.parametrize(
    ("overrides", "path", "words"),
    [
        ([{**PIN, "account": "A9"}], "constraints.overrides[0].account", "unknown account"),
        ([{**PIN, "pin": "C9"}], "constraints.overrides[0].pin", "unknown CSM"),
        ([{**FORBID, "forbid": ["C1", "C8"]}], "constraints.overrides[0].forbid[1]", "C8"),
        ([{**PIN, "forbid": ["C1"]}], "constraints.overrides[0]", "not both"),
        ([{"account": "A2", "reason": "r"}], "constraints.overrides[0]", "either pin"),
        ([{**PIN, "reason": ""}], "constraints.overrides[0].reason", "at least 1"),
        ([PIN, {**PIN, "pin": "C1"}], "constraints.overrides[1].pin", "already pinned"),
        (
            [PIN, {"account": "A2", "forbid": ["C2"], "reason": "r"}],
            "constraints.overrides[0].pin",
            "also forbidden",
        ),
    ],
)
def test_bad_overrides_are_named_by_path(
    overrides: list[dict[str, Any]], path: str, words: str
) -> None:
    with pytest.raises(ScenarioError) as caught:
        _team(overrides)
    found = [(i.path, i.message) for i in caught.value.issues]
    assert any(p == path and words in m for p, m in found), found
