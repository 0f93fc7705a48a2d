"""Handoff briefs: the documents written for each move of a plan's transition."""

from __future__ import annotations

import pytest
from conftest import transition_team as _scenario

from documents import briefs
from documents.briefs import handoff_briefs, plan_document
from optimizer import solve
from optimizer.explain.transition import plan_transition
from optimizer.instance import Instance
from optimizer.plan import AssignmentRow


def _row(account_id: str, previous: str, csm: str, arr: float, cost: float) -> AssignmentRow:
    stay = {"allowed": True, "cost": cost}
    return AssignmentRow(account_id, None, csm, None, previous, True, arr, ["test"], None, stay)


def test_briefs_name_both_csms_risks_and_expansion() -> None:
    accounts = [
        {
            "id": "R1",
            "name": "Risky Co",
            "arr": 250_000,
            "current_csm": "A",
            "churn_risk": "high",
            "potential_arr": 400_000,
            "renewal_date": "2026-05-01",
        }
    ]
    s = _scenario(accounts)
    t = plan_transition(Instance(s), [_row("R1", "A", "B", 250_000, 0.2)])
    (brief,) = handoff_briefs(s, t["moves"])
    assert brief.startswith("# Handoff: Risky Co (R1)")
    assert "From **A** to **B**, effective 2026-01-12 (wave 1)" in brief
    assert "high churn risk (50%)" in brief
    assert "$150K between today's ARR and its estimated potential" in brief
    assert "A: introduce B to the champion before 2026-01-12" in brief


def test_a_flagged_move_says_why_in_its_brief() -> None:
    # Three weeks (01-12, 01-19, 01-26), all within 30 days before a 2026-02-05 renewal.
    edge = {"id": "edge", "arr": 100, "current_csm": "A", "renewal_date": "2026-02-05"}
    s = _scenario([edge], weeks=3, renewal_buffer_days=30)
    t = plan_transition(Instance(s), [_row("edge", "A", "B", 100, 0.1)])
    (move,) = t["moves"]
    assert move["flagged"] and "renews on 2026-02-05" in move["flag"]
    (brief,) = handoff_briefs(s, [move])
    assert move["flag"] in brief


def test_the_plan_document_writes_briefs_up_to_the_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    accounts = [{"id": f"X{i}", "arr": 100 * (i + 1), "current_csm": "A"} for i in range(6)]
    s = _scenario(accounts, max_handoffs_per_week=10)
    plan = solve(s)
    moves = plan.to_dict()["transition"]["moves"]
    assert len(moves) >= 3 and all(m["brief"] is None for m in moves)  # the engine writes none
    monkeypatch.setattr(briefs, "BRIEF_LIMIT", 1)
    data = plan_document(plan, s)
    assert data["transition"]["briefs"] == 1
    assert [m["brief"] is not None for m in data["transition"]["moves"]].count(True) == 1
    assert data["transition"]["moves"][0]["brief"].startswith("# Handoff: ")
