"""Projected impact and phased transitions, on scenarios small enough to check by hand."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from conftest import transition_team as _scenario

from optimizer import evaluate, solve
from optimizer.explain.impact import expansion_coverage
from optimizer.explain.transition import first_monday_after, plan_transition
from optimizer.instance import Instance
from optimizer.plan import AssignmentRow


def _row(
    account_id: str, previous: str | None, csm: str, arr: float = 100.0, stay: Any = None
) -> AssignmentRow:
    return AssignmentRow(
        account_id,
        None,
        csm,
        None,
        previous,
        previous is not None and previous != csm,
        arr,
        ["test"],
        None,
        stay,
    )


def test_waves_respect_the_handoff_limit_and_order_by_gain() -> None:
    accounts = [{"id": f"X{i}", "arr": 100 * (i + 1), "current_csm": "A"} for i in range(4)]
    s = _scenario(accounts, weeks=6, max_handoffs_per_week=1)
    rows = [
        _row(f"X{i}", "A", "B", 100 * (i + 1), {"allowed": True, "cost": 0.1 * (i + 1)})
        for i in range(4)
    ]
    t = plan_transition(Instance(s), rows)
    assert t["start"] == "2026-01-12"
    order = [(m["account_id"], m["wave"], m["effective_date"]) for m in t["moves"]]
    # One handoff per CSM per week: the largest gain first, one per week.
    assert order == [
        ("X3", 1, "2026-01-12"),
        ("X2", 2, "2026-01-19"),
        ("X1", 3, "2026-01-26"),
        ("X0", 4, "2026-02-02"),
    ]
    assert [w["moves"] for w in t["waves"]] == [1, 1, 1, 1, 0, 0]
    assert t["waves"][0]["arr"] == 400 and t["flagged"] == 0


def test_required_moves_go_first_and_new_accounts_do_not_count_as_giving() -> None:
    accounts = [
        {"id": "gain", "arr": 900, "current_csm": "A"},
        {"id": "forced", "arr": 100, "current_csm": "A"},
        {"id": "new", "arr": 500},
    ]
    s = _scenario(accounts, max_handoffs_per_week=2)
    rows = [
        _row("gain", "A", "B", 900, {"allowed": True, "cost": 0.5}),
        _row("forced", "A", "B", 100, {"allowed": False, "cost": 0.0}),
        _row("new", None, "A", 500),
    ]
    t = plan_transition(Instance(s), rows)
    moves = {m["account_id"]: m for m in t["moves"]}
    assert [m["account_id"] for m in t["moves"]] == ["forced", "gain", "new"]
    assert moves["forced"]["priority"] == "required" and moves["forced"]["wave"] == 1
    assert moves["gain"]["wave"] == 1  # A gives 2 (the limit), B receives 2
    # The new account needs no outgoing CSM, but A is at its limit of 2 in week 1.
    assert moves["new"]["kind"] == "new" and moves["new"]["wave"] == 2
    assert moves["new"]["from_csm_id"] is None


def test_renewals_move_after_the_renewal_or_are_flagged() -> None:
    accounts = [
        # Renews 2026-01-30: weeks starting 2026-01-12, -19, -26 are within 30 days of it.
        {"id": "soon", "arr": 100, "current_csm": "A", "renewal_date": "2026-01-30"},
        # Renews after the six-week window but within 30 days of its last weeks: week 1 is fine.
        {"id": "later", "arr": 100, "current_csm": "A", "renewal_date": "2026-03-30"},
    ]
    s = _scenario(accounts, weeks=6, renewal_buffer_days=30)
    rows = [_row(a["id"], "A", "B", 100, {"allowed": True, "cost": 0.1}) for a in accounts]
    t = plan_transition(Instance(s), rows)
    moves = {m["account_id"]: m for m in t["moves"]}
    assert moves["soon"]["wave"] == 4 and moves["soon"]["effective_date"] == "2026-02-02"
    assert moves["later"]["wave"] == 1
    assert t["flagged"] == 0
    # Three weeks (01-12, 01-19, 01-26), all within 30 days before a 2026-02-05 renewal.
    edge = {"id": "edge", "arr": 100, "current_csm": "A", "renewal_date": "2026-02-05"}
    s = _scenario([edge], weeks=3, renewal_buffer_days=30)
    t = plan_transition(Instance(s), [_row("edge", "A", "B", 100, {"allowed": True, "cost": 0.1})])
    move = t["moves"][0]
    assert move["flagged"] and move["wave"] is None and t["flagged"] == 1
    assert move["effective_date"] == "2026-02-06"  # the day after the renewal
    assert "renews on 2026-02-05" in move["flag"]
    assert move["brief"] is None  # written by documents.briefs (tests/documents/test_briefs.py)
    # Capacity, not renewals: one handoff per week, two weeks, three moves.
    s = _scenario(
        [{"id": f"C{i}", "arr": 1, "current_csm": "A"} for i in range(3)],
        weeks=2,
        max_handoffs_per_week=1,
    )
    t = plan_transition(
        Instance(s), [_row(f"C{i}", "A", "B", 1, {"allowed": True, "cost": 0.1}) for i in range(3)]
    )
    flagged = [m for m in t["moves"] if m["flagged"]]
    assert len(flagged) == 1 and "no week within 2 has room" in flagged[0]["flag"]
    assert flagged[0]["effective_date"] == "2026-01-26"


def test_first_monday_after() -> None:
    assert first_monday_after(dt.date(2026, 1, 7)) == dt.date(2026, 1, 12)
    assert first_monday_after(dt.date(2026, 1, 12)) == dt.date(2026, 1, 19)  # a Monday: next one


def test_projected_impact_in_a_solved_plan() -> None:
    accounts = [
        {
            "id": "P",
            "arr": 1000,
            "churn_risk": "high",
            "expansion_potential": "high",
            "current_csm": "A",
        },
        {
            "id": "Q",
            "arr": 3000,
            "churn_risk": "low",
            "expansion_potential": "low",
            "current_csm": "B",
        },
    ]
    s = _scenario(accounts)
    plan = solve(s)
    data = plan.to_dict()
    impact = {row["metric"]: row for row in data["impact"]}
    before, after = evaluate(s), evaluate(s, plan.assignment())
    assert impact["arr_at_risk"]["before"] == pytest.approx(before.kpis["arr_at_risk"])
    assert impact["arr_at_risk"]["after"] == pytest.approx(after.kpis["arr_at_risk"])
    # Churn risk is the only term: P goes to B (retention 0.95). Team mean retention 0.875.
    assert plan.assignment()["P"] == "B"
    p_after = 1000 * 0.5 * 0.05 / 0.125
    assert impact["arr_at_risk"]["after"] == pytest.approx(p_after + 3000 * 0.05 * 0.05 / 0.125)
    assert impact["arr_at_risk"]["improved"] is True
    # Expansion-ready ARR (P only) goes from A (0.1 < mean 0.2) to B (0.3 >= 0.2): 0 -> 100 %.
    assert impact["expansion_coverage"]["before"] == 0.0
    assert impact["expansion_coverage"]["after"] == 1.0
    assert all(row["assumption"] for row in data["impact"])
    assert data["transition"]["moves"][0]["account_id"] == "P"
    inst = Instance(s)
    assert expansion_coverage(inst, [None, None]) == 0.0


def test_budgets_on_large_teams_explain_the_largest_changes_first(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import importlib

    explain = importlib.import_module("optimizer.explain.reasons")
    explanation = importlib.import_module("optimizer.explain.explanation")

    accounts = [{"id": f"X{i}", "arr": 100 * (i + 1), "current_csm": "A"} for i in range(6)]
    s = _scenario(accounts, max_handoffs_per_week=10)
    # One priced change per account would allow 2 of them (2 CSMs: 1 alternative each).
    monkeypatch.setattr(explanation, "PAIR_BUDGET", 2)
    monkeypatch.setattr(explain, "HELD_PAIR_LIMIT", 0)
    monkeypatch.setattr(explain, "PAIR_BUDGET", 2)
    plan = solve(s)
    moved = [r for r in plan.assignments if r.moved]
    assert len(moved) >= 3  # churn risk: B retains better
    explained = {r.account_id for r in moved if r.runner_up is not None}
    largest = sorted(moved, key=lambda r: -r.arr)[:2]
    assert explained == {r.account_id for r in largest}
    assert all(r.stay is not None for r in moved)
    assert (
        f"runner-ups are given for the 2 largest of the {len(moved)} changed accounts"
        in plan.held_note
    )
    assert plan.transition is not None and len(plan.transition["moves"]) == len(moved)
