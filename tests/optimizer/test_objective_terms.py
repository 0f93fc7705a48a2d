"""Each objective term on an instance small enough to solve by hand.

Definitions (optimizer/instance.py): weights are normalized to sum 1; every term is a share;
when the continuity weight is 0 the objective adds 0.001 * continuity as a tie-breaker.
Every solver test here runs on all three backends and must hit the hand-computed optimum.
"""

from __future__ import annotations

import pytest
from conftest import BACKEND_NAMES, TIE, account, csm, make, solve_ok, weights

from optimizer import evaluate
from optimizer.instance import Instance

backends = pytest.mark.parametrize("backend", BACKEND_NAMES)


@backends
def test_churn_risk_optimum(backend: str) -> None:
    # Retention C1 0.95, C2 0.80 (range 0.15). A1: 1000 ARR, high (0.5); A2: 500, low (0.05).
    # Normalizer: 1000*0.5*0.15 + 500*0.05*0.15 = 75 + 3.75 = 78.75.
    # One account per CSM: A1->C1, A2->C2 costs 3.75/78.75 = 1/21; the swap costs 75/78.75.
    # Both accounts move (2 of 2): tie-breaker 0.001 * 1.
    scenario = make(
        [csm("C1", retention_rate=0.95), csm("C2", retention_rate=0.80)],
        [
            account("A1", 1_000_000, churn_risk="high", current_csm="C2"),
            account("A2", 500_000, churn_risk="low", current_csm="C1"),
        ],
        objectives=weights(churn_risk=1),
        constraints={"max_accounts_per_csm": 1},
    )
    plan = solve_ok(scenario, backend)
    assert plan.assignment() == {"A1": "C1", "A2": "C2"}
    assert plan.after is not None
    assert plan.after.terms["churn_risk"] == pytest.approx(1 / 21)
    assert plan.after.terms["continuity"] == pytest.approx(1.0)
    assert plan.objective == pytest.approx(1 / 21 + TIE, rel=1e-9)
    assert plan.before is not None
    assert plan.before.terms["churn_risk"] == pytest.approx(75 / 78.75)


@backends
def test_expansion_optimum(backend: str) -> None:
    # Expansion rate C1 0.30, C2 0.10 (range 0.2). A1: 1000 ARR, potential high (0.8);
    # A2: 2000, low (0.1). Normalizer: 1000*0.8*0.2 + 2000*0.1*0.2 = 160 + 40 = 200.
    # One account per CSM: A1->C1 leaves 40/200 = 0.2 on the table; the swap 160/200 = 0.8.
    # Both move: + 0.001.
    scenario = make(
        [csm("C1", expansion_rate=0.30), csm("C2", expansion_rate=0.10)],
        [
            account("A1", 1_000_000, expansion_potential="high", current_csm="C2"),
            account("A2", 2_000_000, expansion_potential="low", current_csm="C1"),
        ],
        objectives=weights(expansion=1),
        constraints={"max_accounts_per_csm": 1},
    )
    plan = solve_ok(scenario, backend)
    assert plan.assignment() == {"A1": "C1", "A2": "C2"}
    assert plan.objective == pytest.approx(0.2 + TIE, rel=1e-9)


@backends
def test_expertise_optimum(backend: str) -> None:
    # C1 covers fintech and takes one account; C2 covers retail. Healthcare (A4) is covered by
    # nobody so it is not counted: normalizer 300 + 100 + 200 = 600. C1 takes A1 (fintech, 300)
    # leaving fintech A2 (100) unmatched: 100/600 = 1/6. One move of four: + 0.001/4.
    scenario = make(
        [csm("C1", industries=["fintech"], max_accounts=1), csm("C2", industries=["retail"])],
        [
            account("A1", 300_000, industry="fintech", current_csm="C2"),
            account("A2", 100_000, industry="fintech", current_csm="C2"),
            account("A3", 200_000, industry="retail", current_csm="C2"),
            account("A4", 1_000_000, industry="healthcare", current_csm="C2"),
        ],
        objectives=weights(expertise=1),
    )
    plan = solve_ok(scenario, backend)
    assert plan.assignment() == {"A1": "C1", "A2": "C2", "A3": "C2", "A4": "C2"}
    assert plan.objective == pytest.approx(1 / 6 + TIE / 4, rel=1e-9)


def test_expertise_counts_only_accounts_an_eligible_csm_could_match() -> None:
    # A5 (retail) needs sql, which only C1 has, and C1 does not cover retail: no eligible CSM
    # covers it, so it is left out. A1 (fintech, with C1) is matched: term 0. Were A5 counted
    # it would be 900 / 1000.
    scenario = make(
        [csm("C1", industries=["fintech"], skills=["sql"]), csm("C2", industries=["retail"])],
        [
            account("A1", 100, industry="fintech", current_csm="C1"),
            account("A5", 900, industry="retail", required_skills=["sql"], current_csm="C1"),
        ],
        objectives=weights(expertise=1),
    )
    assert evaluate(scenario).terms["expertise"] == 0.0
    assert evaluate(scenario, {"A1": "C2", "A5": "C1"}).terms["expertise"] == pytest.approx(1.0)


@backends
def test_continuity_optimum(backend: str) -> None:
    # Total 4000, two CSMs -> target 2000, +-10% -> [1800, 2200]. C1 holds 3000 today, so one of
    # A1..A3 must go to C2 (C2: 500 + 500 + 1000 = 2000). One move of the four accounts that
    # have a CSM (A5 is new): continuity 1/4. No tie-breaker: continuity has the weight.
    scenario = make(
        [csm("C1"), csm("C2")],
        [
            account("A1", 1_000_000, current_csm="C1"),
            account("A2", 1_000_000, current_csm="C1"),
            account("A3", 1_000_000, current_csm="C1"),
            account("A4", 500_000, current_csm="C2"),
            account("A5", 500_000),
        ],
        objectives=weights(continuity=1),
        constraints={"arr_tolerance": 0.1},
    )
    plan = solve_ok(scenario, backend)
    assert plan.objective == pytest.approx(0.25, rel=1e-9)
    assert plan.after is not None and plan.after.tie_break == 0.0
    assert len(plan.moves()) == 1
    assert plan.assignment()["A4"] == plan.assignment()["A5"] == "C2"


@backends
def test_balance_optimum_arr_only(backend: str) -> None:
    # Workloads 0, so only the ARR part counts. Targets 500K each, band 5% = 25K, no tolerance
    # -> reference 0.30 - 0.05 = 0.25. Best split {A1} | {A2, A3} = 600K | 400K: excess
    # 2 * (100K - 25K) = 150K, / 1M = 0.15, / 0.25 = 0.6. From the current books (A1, A2 with
    # C1) that is one move (A2) of three: + 0.001/3.
    scenario = make(
        [csm("C1"), csm("C2")],
        [
            account("A1", 600_000, workload=0, current_csm="C1"),
            account("A2", 300_000, workload=0, current_csm="C1"),
            account("A3", 100_000, workload=0, current_csm="C2"),
        ],
        objectives=weights(balance=1),
    )
    plan = solve_ok(scenario, backend)
    assert plan.assignment() == {"A1": "C1", "A2": "C2", "A3": "C2"}
    assert plan.objective == pytest.approx(0.6 + TIE / 3, rel=1e-9)


@backends
def test_balance_optimum_with_capacity_targets(backend: str) -> None:
    # Capacity 3 : 1 -> targets 750K / 250K, bands 37.5K / 12.5K, reference 0.25.
    # C1 {A1, A3} = 700K, C2 {A2} = 300K: excess 12.5K + 37.5K = 50K -> 0.05 / 0.25 = 0.2.
    # (Next best: {A1, A2} | {A3} or {A1} | {A2, A3}, both 250K -> 1.0.)
    # Everything is with C2 today: A1 and A3 move, + 0.001 * 2/3.
    scenario = make(
        [csm("C1", capacity=3), csm("C2", capacity=1)],
        [
            account("A1", 600_000, workload=0, current_csm="C2"),
            account("A2", 300_000, workload=0, current_csm="C2"),
            account("A3", 100_000, workload=0, current_csm="C2"),
        ],
        objectives=weights(balance=1),
    )
    plan = solve_ok(scenario, backend)
    assert plan.assignment() == {"A1": "C1", "A2": "C2", "A3": "C1"}
    assert plan.objective == pytest.approx(0.2 + TIE * 2 / 3, rel=1e-9)


@backends
def test_balance_optimum_averages_arr_and_workload(backend: str) -> None:
    # ARR 600K/300K/100K, workloads 1/1/2 (target 2 each, band 0.1). Splits (ARR part, workload
    # part, mean), both references 0.25:
    #   {A1} | {A2, A3}: ARR 0.6; workload 1 | 3 -> 2 * 0.9 / 4 / 0.25 = 1.8; mean 1.2
    #   {A1, A2} | {A3}: ARR 2 * 375K / 1M / 0.25 = 3.0; workload 0; mean 1.5
    #   {A1, A3} | {A2}: ARR 2 * 175K / 1M / 0.25 = 1.4; workload 1.8; mean 1.6
    # Everything is with C1 today, so the cheapest way to {A1} | {A2, A3} moves A1 alone.
    scenario = make(
        [csm("C1"), csm("C2")],
        [
            account("A1", 600_000, workload=1, current_csm="C1"),
            account("A2", 300_000, workload=1, current_csm="C1"),
            account("A3", 100_000, workload=2, current_csm="C1"),
        ],
        objectives=weights(balance=1),
    )
    plan = solve_ok(scenario, backend)
    assert plan.assignment() == {"A1": "C2", "A2": "C1", "A3": "C1"}
    assert plan.objective == pytest.approx(1.2 + TIE / 3, rel=1e-9)


def test_balance_term_by_hand_with_tolerances_and_band() -> None:
    accounts = [
        account("A1", 600_000, workload=1, current_csm="C1"),
        account("A2", 300_000, workload=1, current_csm="C2"),
        account("A3", 100_000, workload=2, current_csm="C2"),
    ]
    # ARR excess share 0.15, workload excess share 0.45 (see the test above).
    cases = [
        ({}, 0.25, 0.25),  # default tolerance 0.30 - band 0.05 for both parts
        ({"arr_tolerance": 0.45}, 0.40, 0.40),  # the ARR tolerance serves both parts
        ({"workload_tolerance": 0.35}, 0.25, 0.30),  # workload has its own
        ({"arr_tolerance": 0.45, "workload_tolerance": 0.35}, 0.40, 0.30),
        ({"arr_tolerance": 0.05}, 0.01, 0.01),  # tolerance == band: floor of 0.01
    ]
    for constraints, arr_ref, work_ref in cases:
        scenario = make([csm("C1"), csm("C2")], accounts, constraints=constraints)
        inst = Instance(scenario)
        assert inst.balance_reference("arr") == pytest.approx(arr_ref)
        assert inst.balance_reference("workload") == pytest.approx(work_ref)
        balance = evaluate(scenario).terms["balance"]
        assert balance == pytest.approx((0.15 / arr_ref + 0.45 / work_ref) / 2), constraints


def test_balance_band_widens_the_comfort_zone() -> None:
    # 600K | 400K against 500K targets: within a 20% band the excess is zero; with band 0 it is
    # 200K / 1M = 0.2, over the reference 0.30 -> 0.6667.
    accounts = [
        account("A1", 600_000, workload=0, current_csm="C1"),
        account("A2", 400_000, workload=0, current_csm="C2"),
    ]
    wide = make([csm("C1"), csm("C2")], accounts, constraints={"balance_band": 0.2})
    tight = make([csm("C1"), csm("C2")], accounts, constraints={"balance_band": 0.0})
    assert evaluate(wide).terms["balance"] == 0.0
    assert evaluate(tight).terms["balance"] == pytest.approx(0.2 / 0.3)


@backends
@pytest.mark.parametrize(
    ("churn", "expansion", "winner"),
    [(3, 1, "C1"), (30, 10, "C1"), (0.75, 0.25, "C1"), (1, 3, "C2"), (10, 30, "C2")],
)
def test_weights_are_normalized(backend: str, churn: float, expansion: float, winner: str) -> None:
    # One new account: C1 keeps customers best (churn term 0, expansion term 1), C2 grows them
    # best (churn 1, expansion 0). Normalized weights 3:1 -> C1 scores 0.25, C2 0.75; 1:3 the
    # reverse. The scale of the weights does not matter.
    scenario = make(
        [
            csm("C1", retention_rate=0.95, expansion_rate=0.1),
            csm("C2", retention_rate=0.85, expansion_rate=0.3),
        ],
        [account("A1", 1_000_000, churn_risk="high", expansion_potential="high")],
        objectives=weights(churn_risk=churn, expansion=expansion),
    )
    plan = solve_ok(scenario, backend)
    assert plan.assignment() == {"A1": winner}
    assert plan.objective == pytest.approx(0.25, rel=1e-9)
    assert plan.after is not None
    assert sum(plan.after.weights.values()) == pytest.approx(1.0)


@backends
def test_tie_break_keeps_the_current_books_when_nothing_else_differs(backend: str) -> None:
    # Same retention everywhere: the churn normalizer is 0 and every plan scores 0, so only
    # the move count (0.001 * moves / 3) separates them: nobody moves.
    scenario = make(
        [csm("C1", retention_rate=0.9), csm("C2", retention_rate=0.9)],
        [
            account("A1", 100_000, churn_risk="high", current_csm="C2"),
            account("A2", 200_000, current_csm="C1"),
            account("A3", 300_000, current_csm="C2"),
        ],
        objectives=weights(churn_risk=1),
    )
    plan = solve_ok(scenario, backend)
    assert plan.assignment() == scenario.current_assignment()
    assert plan.objective == 0.0


def test_tie_break_is_added_only_without_a_continuity_weight() -> None:
    accounts = [account("A1", 100, current_csm="C1"), account("A2", 300, current_csm="C1")]
    moved = {"A1": "C2", "A2": "C1"}
    without = evaluate(
        make([csm("C1"), csm("C2")], accounts, objectives=weights(churn_risk=1)), moved
    )
    assert without.tie_break == pytest.approx(TIE * 0.5)
    assert without.objective == pytest.approx(
        sum(without.weights[k] * without.terms[k] for k in without.terms) + TIE * 0.5
    )
    with_weight = evaluate(
        make([csm("C1"), csm("C2")], accounts, objectives=weights(churn_risk=1, continuity=1)),
        moved,
    )
    assert with_weight.tie_break == 0.0
    assert with_weight.objective == pytest.approx(0.5 * with_weight.terms["churn_risk"] + 0.5 * 0.5)


def test_missing_csm_rates_take_the_team_mean() -> None:
    scenario = make(
        [
            csm("C1", retention_rate=0.95, expansion_rate=0.3),
            csm("C2", retention_rate=0.85),
            csm("C3"),
        ],
        [account("A1", 1)],
    )
    inst = Instance(scenario)
    assert inst.retention == pytest.approx([0.95, 0.85, 0.90])
    assert inst.expansion_rate == pytest.approx([0.3, 0.3, 0.3])
    bare = Instance(make([csm("C1"), csm("C2")], [account("A1", 1)]))
    assert (bare.retention, bare.expansion_rate) == ([0.9, 0.9], [0.2, 0.2])


def test_terms_by_hand_for_the_current_and_the_swapped_plan() -> None:
    # Churn normalizer: A1 600*0.5*0.15 = 45 plus A2 300*0.05*0.15 = 2.25 -> 47.25.
    # Expansion normalizer: A1 600*0.1*0.2 = 12 plus A2 300*0.8*0.2 = 48 -> 60.
    scenario = make(
        [
            csm("C1", retention_rate=0.95, expansion_rate=0.1, industries=["fintech"]),
            csm("C2", retention_rate=0.80, expansion_rate=0.3, industries=["retail"]),
        ],
        [
            account("A1", 600, churn_risk="high", industry="fintech", current_csm="C2"),
            account("A2", 300, expansion_potential="high", industry="retail", current_csm="C1"),
        ],
        objectives=weights(churn_risk=1),
    )
    current = evaluate(scenario)
    assert current.terms["churn_risk"] == pytest.approx(45 / 47.25)
    assert current.terms["expansion"] == pytest.approx(48 / 60)
    assert current.terms["expertise"] == pytest.approx(1.0)  # both with the wrong industry
    assert current.terms["continuity"] == 0.0
    swapped = evaluate(scenario, {"A1": "C1", "A2": "C2"})
    assert swapped.terms["churn_risk"] == pytest.approx(2.25 / 47.25)
    assert swapped.terms["expansion"] == pytest.approx(12 / 60)
    assert swapped.terms["expertise"] == 0.0
    assert swapped.terms["continuity"] == 1.0
