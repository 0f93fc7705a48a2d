"""Outcome projection: retained ARR, churned ARR and expansion, worked out by hand."""

from __future__ import annotations

import pytest
from conftest import account, csm, make, weights

from optimizer import solve
from optimizer.explain.projection import survival


def test_survival_is_a_constant_hazard_with_a_handoff_quarter() -> None:
    assert survival(0.2, 12) == pytest.approx(0.8)
    assert survival(0.2, 6) == pytest.approx(0.8**0.5)
    # Handoff: 25% a year for the first quarter, 20% for the other nine months.
    assert survival(0.2, 12, 0.05) == pytest.approx(0.75**0.25 * 0.8**0.75)
    assert survival(0.2, 2, 0.05) == pytest.approx(0.75 ** (2 / 12))
    assert survival(0.98, 12, 0.05) == pytest.approx(0.0)  # no probability passes 1


def test_the_plan_projects_each_book_today_and_after_with_handoffs_counted() -> None:
    """C1 and C2 both retain 90% (the team's mean: probabilities stay as given). A1 (100K,
    churn 0.2, potential 0.5) stays with C1 (expansion rate 0.2); A2 (200K, churn 0.1,
    potential 0.1) is pinned from C2 to C1: it pays the 5% handoff bump for a quarter. A3
    (50K, churn 0.3, potential 0.4) has no CSM today and goes to C2 (expansion rate 0.1)."""
    scenario = make(
        [
            csm("C1", retention_rate=0.9, expansion_rate=0.2),
            csm("C2", retention_rate=0.9, expansion_rate=0.1),
        ],
        [
            account("A1", 100_000, churn_risk=0.2, expansion_potential=0.5, current_csm="C1"),
            account("A2", 200_000, churn_risk=0.1, expansion_potential=0.1, current_csm="C2"),
            account("A3", 50_000, churn_risk=0.3, expansion_potential=0.4),
        ],
        objectives=weights(churn_risk=1),
        constraints={
            "overrides": [
                {"account": "A2", "pin": "C1", "reason": "test"},
                {"account": "A3", "pin": "C2", "reason": "test"},
            ]
        },
    )
    plan = solve(scenario)
    assert plan.assignment() == {"A1": "C1", "A2": "C1", "A3": "C2"}
    assert plan.projection is not None
    year = next(h for h in plan.projection["horizons"] if h["months"] == 12)
    a2_moved = 0.85**0.25 * 0.9**0.75  # 10% + 5% for the handoff quarter, then 10%
    # Today: A3 has no CSM (mean retention 0.9: p as given; mean expansion rate 0.15).
    assert year["before"]["retained_arr"] == pytest.approx(
        100_000 * 0.8 + 200_000 * 0.9 + 50_000 * 0.7
    )
    assert year["before"]["expected_expansion_arr"] == pytest.approx(
        100_000 * 0.5 * 0.2 * 0.8 + 200_000 * 0.1 * 0.1 * 0.9 + 50_000 * 0.4 * 0.15 * 0.7
    )
    assert year["after"]["retained_arr"] == pytest.approx(
        100_000 * 0.8 + 200_000 * a2_moved + 50_000 * 0.7
    )
    assert year["after"]["churned_arr"] == pytest.approx(
        100_000 * 0.2 + 200_000 * (1 - a2_moved) + 50_000 * 0.3
    )
    books = {row["csm_id"]: row for row in year["csms"]}
    assert books["C1"]["after"]["expected_expansion_arr"] == pytest.approx(
        100_000 * 0.5 * 0.2 * 0.8 + 200_000 * 0.1 * 0.2 * a2_moved
    )
    assert books["C2"]["after"]["retained_arr"] == pytest.approx(50_000 * 0.7)
    half = next(h for h in plan.projection["horizons"] if h["months"] == 6)
    assert half["after"]["retained_arr"] == pytest.approx(
        100_000 * 0.8**0.5 + 200_000 * 0.85**0.25 * 0.9**0.25 + 50_000 * 0.7**0.5
    )
    assert any("handoff" in line for line in plan.projection["assumptions"])
    from documents.report import render_html

    html = render_html(plan.to_dict())
    assert 'id="projection"' in html and "handoff_churn" in html
