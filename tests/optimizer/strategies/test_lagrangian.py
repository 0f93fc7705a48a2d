"""The Lagrangian decomposition for very large teams (optimizer/strategies/lagrangian.py): its pair costs must
be the model's, its bound a bound of the full model at any prices, its plans plans that keep
every rule, and its repair must reach plans that single moves cannot."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from test_columns import _full_relaxation, _scenario

from benchmarks.generator import generate
from optimizer import Scenario, evaluate, recover, solve
from optimizer.formulation import build_model
from optimizer.instance import Instance
from optimizer.strategies import pricing as sizes
from optimizer.strategies import use_columns, use_lagrangian
from optimizer.strategies.base import Context
from optimizer.strategies.columns import lagrangian_bound
from optimizer.strategies.lagrangian import Lagrangian, Prices, decompose
from optimizer.strategies.local_search import Search
from optimizer.strategies.pricing import Pricing


def _random_prices(lag: Lagrangian, seed: int) -> Prices:
    rng = np.random.default_rng(seed)
    m = lag.m
    return Prices(
        rng.normal(scale=0.02, size=m),
        rng.normal(scale=0.02, size=m),
        np.abs(rng.normal(scale=0.001, size=m)),
        np.abs(rng.normal(scale=0.001, size=m)),
        float(abs(rng.normal(scale=0.001))),
        float(abs(rng.normal(scale=0.01))),
    )


def test_pair_costs_and_workloads_are_the_models() -> None:
    inst = Instance(_scenario(240, 9))
    lag = Lagrangian(inst)
    pricing = Pricing(inst)
    rows = np.arange(lag.n)
    every = np.broadcast_to(np.arange(lag.m), (lag.n, lag.m))
    # Pricing.costs is checked against the built model in test_columns.py.
    assert np.array_equal(lag.pair_costs(rows, every), pricing.costs(0, lag.n))
    np.testing.assert_allclose(
        lag.workload_of(rows, every), pricing.workload_share(0, lag.n), rtol=0, atol=1e-12
    )


def test_each_book_totals_part_is_its_least_value_on_a_fine_grid() -> None:
    inst = Instance(_scenario(120, 6))
    lag = Lagrangian(inst)
    for seed in range(4):
        prices = _random_prices(lag, seed)
        value, arr_load, workload_load = lag._continuous(prices)
        expected = 0.0
        for label, price, lo, hi, chosen in (
            ("arr", prices.arr, lag.arr_lo, lag.arr_hi, arr_load),
            ("workload", prices.workload, lag.workload_lo, lag.workload_hi, workload_load),
        ):
            for c in range(lag.m):
                grid = np.linspace(lo[c], hi[c], 20_001)
                load = np.zeros((len(grid), lag.m))
                load[:, c] = grid
                values = lag.balance(label, load)[:, c] - price[c] * grid
                assert lo[c] - 1e-12 <= chosen[c] <= hi[c] + 1e-12
                step = (hi[c] - lo[c]) / 20_000
                slope = lag.share[label] + abs(price[c])
                best = float(values.min())
                at_chosen = float(
                    lag.balance(label, np.where(np.arange(lag.m) == c, chosen[c], 0.0))[c]
                    - price[c] * chosen[c]
                )
                assert best - slope * step - 1e-12 <= at_chosen <= best + 1e-12
                expected += at_chosen
        assert value == pytest.approx(expected, abs=1e-12)


def test_any_prices_give_a_bound_of_the_proven_optimum() -> None:
    scenario = _scenario(120, 6, time_limit_s=30, gap=0.0)
    optimum = solve(scenario, backend="highs", time_limit_s=120)  # a proof, even on a busy machine
    assert optimum.status == "optimal" and optimum.objective is not None
    inst = Instance(scenario)
    lag = Lagrangian(inst)
    zero, _, _ = lag.price_all(Prices.zero(lag.m))
    # At zero prices: every account with its cheapest CSM, computed the other way (every row of
    # the built model priced at 0).
    full = build_model(inst)
    assert zero == pytest.approx(
        lagrangian_bound(full, np.zeros(len(full.model.rows)), Pricing(inst)), abs=1e-12
    )
    for seed in range(20):
        bound, _, _ = lag.price_all(_random_prices(lag, seed))
        assert bound <= optimum.objective + 1e-12


def test_price_steps_approach_the_relaxation_and_never_pass_it() -> None:
    scenario = _scenario(120, 6, time_limit_s=30, gap=0.0)
    inst = Instance(scenario)
    lp = _full_relaxation(build_model(inst))
    lag = Lagrangian(inst)
    zero, _, _ = lag.price_all(Prices.zero(lag.m))
    outcome = decompose(inst, scenario.solver, 4.0)
    assert outcome.bound <= lp + 1e-9
    assert outcome.bound > zero + 0.5 * (lp - zero)  # well past the zero-price bound
    assert outcome.choice is not None and outcome.objective is not None
    plan = {inst.accounts[a].id: inst.csms[int(c)].id for a, c in enumerate(outcome.choice)}
    checked = evaluate(scenario, plan)
    assert checked.violations == []
    # The search's objective is the model's, which the evaluator scores independently.
    assert outcome.objective == pytest.approx(checked.objective, abs=1e-9)
    assert outcome.objective >= lp - 1e-9


def _two_books(**constraints: Any) -> Scenario:
    # C01 holds the two small accounts (20K) and C02 the two large ones (200K); each book may
    # hold two accounts and needs at least 50K. No single move can fix C01 (a third account
    # breaks the account limit); exchanging a small and a large account can.
    data = generate(4, 2, seed=5)
    for k, account in enumerate(data["accounts"]):
        account.update(
            arr=10_000.0 if k < 2 else 100_000.0,
            current_csm="C01" if k < 2 else "C02",
            locked=False,
            required_skills=[],
        )
    data["constraints"] = {"max_accounts_per_csm": 2, "min_arr_per_csm": 50_000, **constraints}
    return Scenario.from_dict(data)


def test_exchange_repairs_a_book_that_no_single_move_can() -> None:
    scenario = _two_books()
    assert {(v.rule, v.subject) for v in evaluate(scenario).violations} == {("min_arr", "C01")}
    inst = Instance(scenario)
    lag = Lagrangian(inst)
    search = Search(lag)
    start = np.asarray(inst.current)
    candidates = np.broadcast_to(np.arange(lag.m), (lag.n, lag.m)).copy()
    assert search.evaluate(start)[1] > 0
    choice, objective = search.run(start, candidates, float("inf"))
    assert choice is not None and objective is not None
    plan = {inst.accounts[a].id: inst.csms[int(c)].id for a, c in enumerate(choice)}
    checked = evaluate(scenario, plan)
    assert checked.violations == []
    assert objective == pytest.approx(checked.objective, abs=1e-12)
    assert sorted(plan.values()) == ["C01", "C01", "C02", "C02"]
    # With no move allowed at all, nothing can be repaired: no plan rather than a broken one.
    stuck = Search(Lagrangian(Instance(_two_books(max_moves=0))))
    assert stuck.run(start, candidates, float("inf")) == (None, None)


def test_lagrangian_strategy_gives_a_plan_of_the_full_model_with_its_bound(
    tmp_path: Path,
) -> None:
    scenario = _scenario(120, 6, time_limit_s=3, strategy="lagrangian")
    assert use_lagrangian(Instance(scenario), scenario.solver)
    optimum = solve(
        scenario.replace(
            solver=scenario.solver.model_copy(
                update={"strategy": "full", "time_limit_s": 30, "gap": 0.0}
            )
        )
    )
    assert optimum.status == "optimal" and optimum.objective is not None
    saved = tmp_path / "plans.sol"
    plan = solve(scenario, solution_file=saved)
    assert plan.status in ("optimal", "feasible")
    assert plan.after is not None and plan.after.violations == []
    assert plan.bound is not None and plan.objective is not None
    assert plan.bound <= optimum.objective + 1e-9 <= plan.objective + 2e-9
    assert "Lagrangian decomposition" in plan.message
    # A stopped decomposed solve is recovered from the best plan it wrote.
    assert Path(f"{saved}.plan.json").exists()
    again = recover(scenario, saved)
    assert again.assignment() == plan.assignment()


def test_auto_strategy_picks_the_decomposition_above_the_huge_size(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    scenario = _scenario(150, 8)
    inst = Instance(scenario)
    assert not use_lagrangian(inst, scenario.solver)
    monkeypatch.setattr(sizes, "LARGE_PAIRS", 100)
    monkeypatch.setattr(sizes, "HUGE_PAIRS", 500)
    assert use_lagrangian(inst, scenario.solver)
    assert not use_columns(inst, scenario.solver)
    monkeypatch.setattr(sizes, "HUGE_PAIRS", 10**9)
    assert not use_lagrangian(inst, scenario.solver)
    assert use_columns(inst, scenario.solver)


def test_a_sample_prices_its_accounts_as_the_full_model_does() -> None:
    inst = Instance(_scenario(240, 9))
    lag = Lagrangian(inst)
    prices = _random_prices(lag, 3)
    # Every account, in order: the very same Lagrangian.
    whole = lag.sample(np.arange(lag.n))
    assert whole.price_all(prices)[0] == pytest.approx(lag.price_all(prices)[0], abs=1e-12)
    # A third of them: their pairs cost what they cost in the full model, and every book's
    # limits and targets are scaled to the share (a book limit of 26 accounts becomes 26 / 3).
    rows = np.arange(0, lag.n, 3)
    part = lag.sample(rows)
    every = np.broadcast_to(np.arange(lag.m), (len(rows), lag.m))
    assert np.array_equal(part.pair_costs(np.arange(len(rows)), every), lag.pair_costs(rows, every))
    share = len(rows) / lag.n
    np.testing.assert_allclose(part.count_cap, lag.count_cap * share)
    np.testing.assert_allclose(part.arr_hi, lag.arr_hi * share)
    np.testing.assert_allclose(part.target["arr"], lag.target["arr"] * share)
    _, choice, _ = part.price_all(prices)
    totals = part.totals(choice)
    assert float(np.sum(totals["count"])) == len(rows)


def test_a_spent_move_budget_is_traded_for_a_better_move() -> None:
    # Two accounts with C01 today; C02 retains better. The start plan spends the one allowed
    # move on the small, safe account; moving the large, risky one instead is worth more, but
    # only as a trade (send the first back, then move the second): neither move alone helps.
    data = generate(2, 2, seed=5)
    values = ((10_000.0, 0.1), (200_000.0, 0.6))
    for account, (arr, risk) in zip(data["accounts"], values, strict=True):
        account.update(
            arr=arr,
            churn_risk=risk,
            current_csm="C01",
            locked=False,
            required_skills=[],
            industry=None,
        )
    data["csms"][0].update(retention_rate=0.80)
    data["csms"][1].update(retention_rate=0.95)
    # Churn risk only: no balance, so no exchange of the two between books is ever tried.
    data["objectives"] = {"churn_risk": 1.0, "balance": 0, "expertise": 0, "expansion": 0}
    data["constraints"] = {"max_moves": 1}
    scenario = Scenario.from_dict(data)
    inst = Instance(scenario)
    search = Search(Lagrangian(inst))
    start = np.asarray([1, 0])
    candidates = np.asarray([[0, 1], [0, 1]])
    before, broken = search.evaluate(start)
    assert broken == 0
    choice, objective = search.run(start, candidates, float("inf"))
    assert choice is not None and objective is not None
    assert choice.tolist() == [0, 1]
    plan = {inst.accounts[a].id: inst.csms[int(c)].id for a, c in enumerate(choice)}
    checked = evaluate(scenario, plan)
    assert checked.violations == []
    assert objective == pytest.approx(checked.objective, abs=1e-12) and objective < before


def test_the_search_gives_branch_and_bound_a_plan_of_the_full_model() -> None:
    # When branch and bound has no plan by half time, solve() asks the decomposition's search
    # for one: it must be a solution of the full model (every variable, not only the
    # placements), score as the evaluator scores it, and come with a bound of the optimum.
    from optimizer.backends import get_backend
    from optimizer.strategies.full import searched_plan
    from optimizer.strategies.lns import objective_of

    scenario = _scenario(120, 6, time_limit_s=30, strategy="full")
    optimum = solve(
        scenario.replace(
            solver=scenario.solver.model_copy(update={"gap": 0.0, "time_limit_s": 120})
        )
    )
    assert optimum.status == "optimal" and optimum.objective is not None
    inst = Instance(scenario)
    built = build_model(inst)
    start_plan = {a: c for a, c in scenario.current_assignment().items()}
    ctx = Context(inst, scenario.solver, get_backend("highs"), start_plan)
    found = searched_plan(built, ctx, 3.0, None)
    assert found is not None
    values, bound = found
    assert len(values) == len(built.model.variables)
    assignment = built.assignment(values)
    assert len(assignment) == len(scenario.accounts)
    scored = evaluate(scenario, assignment)
    assert scored.violations == []
    assert objective_of(built, values) == pytest.approx(scored.objective, abs=1e-6)
    assert bound is not None and bound <= optimum.objective + 1e-9 <= scored.objective + 2e-9
    # A bound from branch and bound that is better than the decomposition's is kept.
    again = searched_plan(built, ctx, 3.0, optimum.objective)
    assert again is not None and again[1] == pytest.approx(optimum.objective)


@pytest.mark.parametrize("handed_to", ["one", "all"])
def test_repair_scores_only_accounts_that_can_break_less_and_loses_nothing(
    handed_to: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Today's books of a generated team break rules. The repair (with repair_only, as the
    # decomposition runs it first) must end as soon as every rule holds, and scoring only the
    # accounts of books over a limit or with a candidate book under a minimum must find
    # exactly the repair that scoring every account finds.
    data = generate(600, 12, seed=3)
    data["solver"].update({"threads": 1})
    data["constraints"]["max_moves"] = 200
    # Half of the first CSM's accounts were handed to the second (one book under its ARR
    # window, one over it and over its account limit) or spread over all the others (only
    # the first book is under its window).
    ids = [c["id"] for c in data["csms"]]
    mine = [a for a in data["accounts"] if a["current_csm"] == ids[0] and not a["locked"]]
    for k, account in enumerate(mine[: len(mine) // 2]):
        account["current_csm"] = ids[1] if handed_to == "one" else ids[1 + k % (len(ids) - 1)]
    scenario = Scenario.from_dict(data)
    broken = {(v.rule, v.subject) for v in evaluate(scenario).violations}
    assert ("min_arr", ids[0]) in broken, broken
    if handed_to == "one":
        assert {("max_accounts", ids[1]), ("arr_tolerance", ids[1])} <= broken, broken
    else:
        # Nothing over a limit: only the first book's minimums.
        data["constraints"].update({"max_high_risk_per_csm": None, "required_skills": False})
        scenario = Scenario.from_dict(data)
        broken = {(v.rule, v.subject) for v in evaluate(scenario).violations}
        assert broken == {("min_arr", ids[0]), ("arr_tolerance", ids[0])}, broken
    inst = Instance(scenario)
    lag = Lagrangian(inst)
    _, _, candidates = lag.price_all(Prices.zero(lag.m))
    today = np.where(lag.stay_ok, lag.pricing.current, candidates[:, 0])
    assert Search(lag).evaluate(today)[1] > 0
    repaired, value = Search(lag).run(today, candidates, float("inf"), repair_only=True)
    assert repaired is not None and value is not None
    plan = {inst.accounts[a].id: inst.csms[int(c)].id for a, c in enumerate(repaired)}
    assert evaluate(scenario, plan).violations == []
    improved = Search(lag).run(today, candidates, float("inf"))
    assert improved[1] is not None and improved[1] < value - 1e-9

    def every_book(self: Search, books: Any) -> tuple[np.ndarray, np.ndarray]:
        return np.ones(self.lag.m, dtype=bool), np.ones(self.lag.m, dtype=bool)

    monkeypatch.setattr(Search, "_sides", every_book)
    unrestricted, same = Search(lag).run(today, candidates, float("inf"), repair_only=True)
    assert unrestricted is not None and np.array_equal(unrestricted, repaired)
    assert same == value


def test_a_decomposed_solve_without_any_plan_says_which_rules_conflict() -> None:
    # Today's books break rules and no account may move: no plan exists. The decomposition's
    # search gives up at once; the answer must not blame the time limit but prove the conflict,
    # as the full strategy does.
    data = generate(120, 6, seed=3)
    data["solver"].update({"threads": 1, "time_limit_s": 20, "strategy": "lagrangian"})
    data["constraints"]["max_moves"] = 0
    scenario = Scenario.from_dict(data)
    assert evaluate(scenario).violations
    plan = solve(scenario)
    assert plan.status == "infeasible"
    assert plan.diagnosis is not None and plan.diagnosis.method == "relaxation"
    assert [c.rule for c in plan.diagnosis.conflicts] == ["max_moves"]
    full = solve(scenario.replace(solver=scenario.solver.model_copy(update={"strategy": "full"})))
    assert full.status == "infeasible" and full.diagnosis is not None
    assert full.diagnosis.to_dict() == plan.diagnosis.to_dict()
