"""Reasons in business words for each row of a plan."""

from __future__ import annotations

from conftest import account, csm, make, solve_ok, weights

from optimizer import Plan, Scenario


def reasons(plan: Plan) -> dict[str, list[str]]:
    return {row.account_id: row.reasons for row in plan.assignments}


def test_a_move_to_a_csm_covering_the_industry_says_so() -> None:
    scenario = make(
        [csm("C1", industries=["fintech"]), csm("C2", industries=["retail"])],
        [
            account("A1", 1000, industry="fintech", current_csm="C2"),
            account("A2", 900, current_csm="C1"),
        ],
        objectives=weights(expertise=1),
    )
    plan = solve_ok(scenario)
    row = next(r for r in plan.assignments if r.account_id == "A1")
    assert (row.csm_id, row.previous_csm_id, row.moved) == ("C1", "C2", True)
    assert "industry match: fintech" in row.reasons
    assert "stays with current CSM" not in row.reasons


def test_locked_and_renewal_frozen_accounts_name_their_rule_only() -> None:
    scenario = make(
        [csm("C1", retention_rate=0.95), csm("C2", retention_rate=0.80)],
        [
            account("A1", 1000, churn_risk="high", current_csm="C2", locked=True),
            account("A2", 1000, churn_risk="high", current_csm="C2", renewal_date="2026-01-15"),
        ],
        constraints={"renewal_freeze_days": 30},
    )
    got = reasons(solve_ok(scenario))
    assert len(got["A1"]) == 1 and "locked" in got["A1"][0]
    assert got["A2"] == ["renewal on 2026-01-15: kept with its CSM through the renewal"]


def test_new_and_staying_accounts_lead_with_their_situation() -> None:
    scenario = make(
        [csm("C1", industries=["retail"], skills=["sql"]), csm("C2")],
        [
            account("A1", 1000, industry="retail", required_skills=["sql"]),
            account("A2", 1000, industry="retail", current_csm="C1"),
        ],
        objectives=weights(expertise=1),
    )
    got = reasons(solve_ok(scenario))
    assert got["A1"] == [
        "new account: placed with the best-suited CSM",
        "industry match: retail",
        "has the required skills: sql",
    ]
    assert got["A2"] == ["stays with current CSM", "industry match: retail"]


def test_forced_moves_name_what_the_previous_csm_lacks() -> None:
    scenario = make(
        [
            csm("C1", region="NA", languages=["en"]),
            csm("C2", region="EMEA", languages=["en", "de"], skills=["sql"]),
        ],
        [
            account("A1", 1000, required_skills=["sql"], current_csm="C1"),
            account("A2", 1000, region="EMEA", current_csm="C1"),
            account("A3", 1000, language="de", current_csm="C1"),
        ],
        constraints={"match_region": True, "match_language": True},
    )
    got = reasons(solve_ok(scenario))
    assert "previous CSM lacks required skill(s): sql" in got["A1"]
    assert "previous CSM is outside region EMEA" in got["A2"]
    assert "previous CSM does not speak de" in got["A3"]


def test_specialist_and_book_reasons() -> None:
    # A1 is high-risk with high potential and moves from C1 (retention 80%, expansion 10%) to
    # C2 (95%, 30%). Books before: C1 1000 + 100 = 1100 (183% of the 600 target), C2 100 (17%).
    scenario = make(
        [
            csm("C1", retention_rate=0.80, expansion_rate=0.10),
            csm("C2", retention_rate=0.95, expansion_rate=0.30),
        ],
        [
            account("A1", 1000, churn_risk="high", expansion_potential="high", current_csm="C1"),
            account("A2", 100, current_csm="C1"),
            account("A3", 100, current_csm="C2"),
        ],
        objectives=weights(churn_risk=1, expansion=1),
    )
    plan = solve_ok(scenario)
    assert plan.assignment()["A1"] == "C2"
    got = reasons(plan)["A1"]
    assert "retention specialist for a high-risk account (retention 95% vs 80%)" in got
    assert any(
        r.startswith("expansion specialist for a high-potential account (expansion 30% vs 10%)")
        for r in got
    )
    assert "relieves an over-capacity book (C1 at 183% of target ARR)" in got
    assert "fills an under-target book (C2 at 17% of target ARR)" in got


def test_medium_risk_is_called_at_risk() -> None:
    scenario = make(
        [csm("C1", retention_rate=0.80), csm("C2", retention_rate=0.95)],
        [
            account("A1", 100, churn_risk="medium", current_csm="C1"),
            account("A2", 100, current_csm="C2"),
        ],
    )
    got = reasons(solve_ok(scenario))["A1"]
    assert "retention specialist for an at-risk account (retention 95% vs 80%)" in got


def test_a_move_with_no_specific_reason_is_a_rebalance() -> None:
    # Low risk (0.05 < 0.2): no retention reason; books exactly on target before the move.
    scenario: Scenario = make(
        [csm("C1", retention_rate=0.80), csm("C2", retention_rate=0.95)],
        [account("A1", 100, current_csm="C1"), account("A2", 100, current_csm="C2")],
    )
    got = reasons(solve_ok(scenario))
    assert got["A1"] == ["rebalances books as part of the overall plan"]
    assert got["A2"] == ["stays with current CSM"]
