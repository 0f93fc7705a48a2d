"""Routing new accounts: the placement of one account is the full solve's with every other
account locked; a batch's exact placement is the locked solve's; the blocking rules and the
cheapest rebalance agree with an exhaustive check by the evaluator."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import account, csm, generated, make, weights

from optimizer import Scenario, ScenarioError, evaluate, solve
from optimizer.placement import Router, route_accounts


def unowned(scenario: Scenario, ids: set[str]) -> Scenario:
    """``scenario`` with the accounts ``ids`` taken from their owners (and unlocked)."""
    return scenario.model_copy(
        update={
            "accounts": tuple(
                a.model_copy(update={"current_csm": None, "locked": False}) if a.id in ids else a
                for a in scenario.accounts
            )
        }
    )


def settled(n: int, m: int, seed: int, new: tuple[int, ...]) -> tuple[Scenario, set[str]]:
    """A generated team whose books are its optimal plan (so that they keep every rule), with
    new accounts cloned from accounts ``new`` at half their ARR, without an owner."""
    generated_team = generated(n, m, seed)
    # Without the limits relative to the team's average ARR: a new account's ARR moves every
    # book's target, and a book settled on its limit would break it wherever the account goes.
    rules = generated_team.constraints.model_copy(update={"arr_tolerance": None})
    base = generated_team.model_copy(update={"constraints": rules})
    plan = solve(base, time_limit_s=60)
    assert plan.has_plan
    owners = plan.assignment()
    accounts = [a.model_copy(update={"current_csm": owners[a.id]}) for a in base.accounts]
    clones = [
        base.accounts[k].model_copy(
            update={
                "id": f"NEW{k}",
                "arr": base.accounts[k].arr / 2,
                "current_csm": None,
                "locked": False,
            }
        )
        for k in new
    ]
    scenario = base.model_copy(update={"accounts": (*accounts, *clones)})
    return scenario, {c.id for c in clones}


def locked_solve(scenario: Scenario, ids: set[str]) -> dict[str, str | None]:
    """The full solve with every account but ``ids`` locked, scored as ``scenario``."""
    locked = scenario.model_copy(
        update={
            "accounts": tuple(
                a if a.id in ids else a.model_copy(update={"locked": True})
                for a in scenario.accounts
            )
        }
    )
    plan = solve(locked, time_limit_s=60, score_like=scenario)
    assert plan.status == "optimal", plan.message
    return plan.assignment()


def objective(scenario: Scenario, placed: dict[str, str | None]) -> float:
    return evaluate(scenario, {**scenario.current_assignment(), **placed}).objective


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_one_account_goes_where_the_locked_solve_puts_it(seed: int) -> None:
    everyone, clones = settled(60, 5, seed, (3, 17, 42))
    for target in sorted(clones):
        scenario = everyone.model_copy(
            update={
                "accounts": tuple(a for a in everyone.accounts if a.id not in clones - {target})
            }
        )
        routing = route_accounts(scenario)
        (placement,) = routing.placements
        assert placement.placed and routing.method == "single"
        solved = locked_solve(scenario, {target})
        ours = objective(scenario, {target: placement.csm_id})
        assert ours == pytest.approx(objective(scenario, solved), abs=1e-9)
        # The cost reported is the objective change from the account being unplaced.
        assert placement.cost == pytest.approx(ours - objective(scenario, {}), abs=1e-9)
        assert evaluate(scenario, {**scenario.current_assignment(), **routing.assignment()})


def test_a_batch_is_solved_exactly_on_request_and_never_breaks_a_rule() -> None:
    scenario, ids = settled(80, 6, 4, (2, 9, 23, 31, 47, 60))
    local = route_accounts(scenario)
    exact = route_accounts(scenario, exact=True, time_limit_s=60)
    assert local.method == "batch" and exact.method == "solve"
    best = objective(scenario, locked_solve(scenario, ids))
    assert objective(scenario, exact.assignment()) == pytest.approx(best, abs=1e-9)
    assert objective(scenario, local.assignment()) >= best - 1e-9
    for routing in (local, exact):
        after = evaluate(scenario, {**scenario.current_assignment(), **routing.assignment()})
        assert after.violations == []


def test_books_pushed_past_a_relative_rule_are_named() -> None:
    base = generated(60, 5, 2)
    plan = solve(base, time_limit_s=60)
    owners = plan.assignment()
    accounts = [a.model_copy(update={"current_csm": owners[a.id]}) for a in base.accounts]
    clone = base.accounts[17].model_copy(update={"id": "NEW", "current_csm": None, "locked": False})
    scenario = base.model_copy(update={"accounts": (*accounts, clone)})
    routing = route_accounts(scenario)
    (placement,) = routing.placements
    assert placement.placed
    after = evaluate(scenario, {**scenario.current_assignment(), **routing.assignment()})
    # The receiving book keeps every rule; the books the note names are the evaluator's.
    broken = {v.subject for v in after.violations}
    assert placement.csm_id not in broken
    for csm_id in broken:
        assert f"({csm_id})" in routing.notes[-1]


def blocked_team(**constraints: Any) -> Scenario:
    """C1 and C2 hold skill sap and are full (two accounts each, the limit); C3 has room but
    not the skill. A new account N needs sap."""
    csms = [
        csm("C1", skills=["sap"], retention_rate=0.9),
        csm("C2", skills=["sap"], retention_rate=0.8),
        csm("C3", retention_rate=0.7),
    ]
    accounts = [
        account("A1", 100, current_csm="C1", churn_risk=0.5),
        account("A2", 200, current_csm="C1", churn_risk=0.2),
        account("A3", 150, current_csm="C2", churn_risk=0.4),
        account("A4", 120, current_csm="C2", churn_risk=0.1, required_skills=["sap"]),
        account("A5", 90, current_csm="C3", churn_risk=0.3),
        account("N", 300, churn_risk=0.6, required_skills=["sap"]),
    ]
    rules = {"max_accounts_per_csm": 2, "required_skills": True, **constraints}
    return make(csms, accounts, objectives=weights(churn_risk=1), constraints=rules)


def test_a_blocked_account_names_each_rule_and_the_cheapest_rebalance() -> None:
    scenario = blocked_team()
    routing = route_accounts(scenario)
    (placement,) = routing.placements
    assert not placement.placed and not routing.all_placed
    rules = {c.csm_id: c.rules for c in placement.candidates}
    assert rules == {"C1": ("max_accounts",), "C2": ("max_accounts",), "C3": ("required_skills",)}
    # Every single move of another account out of C1 or C2 (to a CSM the rules allow) that
    # makes room, priced by the evaluator: the rebalance is the cheapest.
    base = scenario.current_assignment()
    options = {}
    for giver in ("C1", "C2"):
        for b, owner in base.items():
            if owner != giver or b == "N":
                continue
            for taker in ("C1", "C2", "C3"):
                if taker == giver:
                    continue
                trial = {**base, b: taker, "N": giver}
                scored = evaluate(scenario, trial)
                if not scored.violations:
                    options[(b, giver, taker)] = scored.objective
    assert options, "room can be made"
    rebalance = placement.rebalance
    assert rebalance is not None
    chosen = (rebalance.account_id, rebalance.from_csm, rebalance.to_csm)
    assert options[chosen] == pytest.approx(min(options.values()), abs=1e-9)
    unplaced = evaluate(scenario, {**base, "N": None}).objective
    assert rebalance.cost == pytest.approx(options[chosen] - unplaced, abs=1e-9)


def test_no_rebalance_when_only_pair_rules_block() -> None:
    scenario = blocked_team()
    no_skill = scenario.model_copy(
        update={"csms": tuple(c.model_copy(update={"skills": ()}) for c in scenario.csms)}
    )
    (placement,) = route_accounts(no_skill).placements
    assert not placement.placed and placement.rebalance is None
    assert all("required_skills" in c.rules for c in placement.candidates)


def test_a_router_commits_placements_and_the_next_request_sees_them() -> None:
    scenario = blocked_team(max_accounts_per_csm=3)
    data = [
        {"id": f"N{k}", "arr": 100, "churn_risk": 0.5, "required_skills": ["sap"]}
        for k in (1, 2, 3)
    ]
    router = Router(scenario.model_copy(update={"accounts": scenario.accounts[:-1]}))
    first = router.route(data[:1], commit=True)
    assert first.placements[0].csm_id == "C1"  # the best retention, room for one more
    second = router.route(data[1:2], commit=True)
    assert second.placements[0].csm_id == "C2"  # C1 is full now
    third = router.route(data[2:3])
    assert not third.placements[0].placed
    assert router.snapshot.account("N1").current_csm == "C1"
    assert "N3" not in {a.id for a in router.snapshot.accounts}  # not committed


def test_the_same_request_gives_the_same_placements() -> None:
    base = generated(80, 6, 5)
    scenario = unowned(base, {base.accounts[k].id for k in (1, 5, 8, 13)})
    assert route_accounts(scenario).assignment() == route_accounts(scenario).assignment()


def test_new_accounts_are_checked_and_named() -> None:
    router = Router(blocked_team())
    with pytest.raises(ScenarioError) as caught:
        router.route(
            [
                {"id": "A1", "arr": 5},
                {"id": "B1", "arr": -5},
                {"id": "B2", "arr": 5, "current_csm": "C1"},
                {"id": "B3", "arr": 5, "workload_by_csm": {"C9": 2}},
            ]
        )
    paths = {issue.path for issue in caught.value.issues}
    # Every problem at once: ids, owners, fields and references.
    assert {
        "accounts[A1].id",
        "accounts[B2].current_csm",
        "accounts[B1].arr",
        "accounts[B3].workload_by_csm.C9",
    } <= paths
    with pytest.raises(ScenarioError, match="none to route"):
        route_accounts(blocked_team().model_copy(update={"accounts": blocked_team().accounts[:-1]}))


def test_new_accounts_are_routed_alone_and_the_pool_stays_as_it_is() -> None:
    scenario = blocked_team(max_accounts_per_csm=3)  # N has no owner: the snapshot's pool
    router = Router(scenario)
    routing = router.route([{"id": "X1", "arr": 100, "churn_risk": 0.5}])
    assert [p.account_id for p in routing.placements] == ["X1"]
    # Its cost is the evaluator's objective change, N staying in no book either way, and no
    # other CSM the rules allow would cost less.
    new = router.new_accounts([{"id": "X1", "arr": 100, "churn_risk": 0.5}])
    combined = scenario.model_copy(update={"accounts": (*scenario.accounts, *new)})
    base = combined.current_assignment()
    placed = routing.placements[0]
    unplaced = evaluate(combined, base).objective
    assert placed.cost == pytest.approx(
        evaluate(combined, {**base, "X1": placed.csm_id}).objective - unplaced, abs=1e-9
    )
    for c in combined.csms:
        trial = evaluate(combined, {**base, "X1": c.id})
        if not {v.rule for v in trial.violations} - {"assign"}:
            assert trial.objective >= unplaced + placed.cost - 1e-9
    both = router.route([{"id": "X1", "arr": 100}, {"id": "X2", "arr": 50}], exact=True)
    assert both.method == "batch" and "no joint solve" in both.notes[0]
    pool = router.route()  # no new accounts: the snapshot's own
    assert [p.account_id for p in pool.placements] == ["N"]
