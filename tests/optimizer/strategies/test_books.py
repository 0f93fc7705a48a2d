"""The bound over whole books (optimizer/strategies/books.py): a book's value must be the full
model's objective of that book, exact pricing must be exact (checked against enumerating every
book), and the bound must be a promise: never above an optimum an exact solve proves, never
below the linear relaxation it starts from.
"""

from __future__ import annotations

import dataclasses
import itertools
from typing import Any

import numpy as np
import pytest
from conftest import SCENARIOS

from benchmarks.gap import best_known, load, to_scenario
from benchmarks.generator import generate
from optimizer import Scenario, Status, evaluate, solve
from optimizer.backends import get_backend
from optimizer.formulation import build_model
from optimizer.instance import Instance
from optimizer.strategies import books as books_module
from optimizer.strategies.books import (
    BookColumns,
    book_bound,
    books_of,
    dynamic,
    exact,
    improve,
    knapsack,
)


def _generated(n: int, m: int, seed: int, **constraints: Any) -> Scenario:
    data = generate(n, m, seed=seed)
    data["objectives"]["continuity"] = 5
    for key, value in constraints.items():
        if value is None:
            data["constraints"].pop(key, None)
        else:
            data["constraints"][key] = value
    data["solver"] = {"time_limit_s": 60, "gap": 0.0, "seed": 0, "threads": 1}
    return Scenario.from_dict(data)


#: Small teams of several shapes, each solved to proven optimality in the tests below.
SHAPES = {
    **SCENARIOS,
    "generated_16x3_tight": lambda: _generated(16, 3, 5, arr_tolerance=0.08),
    "generated_18x3_no_budget": lambda: _generated(18, 3, 11, max_moves=None),
    "generated_14x4_few_moves": lambda: _generated(14, 4, 2, max_moves=2),
}


def _optimum(scenario: Scenario) -> Any:
    plan = solve(scenario)
    assert plan.status is Status.OPTIMAL
    return plan


@pytest.mark.parametrize("name", sorted(SHAPES))
def test_books_are_the_model_objective(name: str) -> None:
    scenario = SHAPES[name]()
    plan = _optimum(scenario)
    inst = Instance(scenario)
    books, rhs = books_of(inst)
    choice = np.asarray([inst.csm_index[plan.assignment()[a.id]] for a in inst.accounts])
    total = 0.0
    kept = np.zeros(len(rhs))
    for book in books:
        mask = choice[book.accounts] == book.csm
        assert mask.sum() == (choice == book.csm).sum()  # every account in an eligible book
        assert book.feasible(mask)
        total += book.value(mask)
        kept += book.team[:, mask].sum(axis=1)
    assert total == pytest.approx(evaluate(scenario, plan.assignment()).objective, abs=1e-9)
    assert np.all(kept >= rhs - 1e-9)  # the move budgets, as the master writes them


def _enumerated(book: Any, cost: np.ndarray) -> float:
    best = np.inf
    k = len(book.accounts)
    for bits in itertools.product((False, True), repeat=k):
        mask = np.asarray(bits, dtype=bool)
        if book.feasible(mask):
            best = min(best, book.value(mask, cost))
    return float(best)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_exact_pricing_is_exact(seed: int) -> None:
    scenario = _generated(24, 3, seed, arr_tolerance=0.1, max_accounts_per_csm=9)
    inst = Instance(scenario)
    books, _ = books_of(inst)
    rng = np.random.default_rng(seed)
    backend = get_backend("highs")
    for book in books:
        if len(book.accounts) > 13:
            keep = np.sort(rng.choice(len(book.accounts), 13, replace=False))
            book.accounts, book.cost = book.accounts[keep], book.cost[keep]
            book.amount, book.team = book.amount[:, keep], book.team[:, keep]
        # Prices like the master's: each account's cost minus a random price.
        cost = book.cost - rng.uniform(0.0, 2.0 * float(book.cost.max() or 1.0), len(book.cost))
        truth = _enumerated(book, cost)
        mask, low = exact(book, cost, backend, scenario.solver, 10.0)
        if not np.isfinite(truth):
            assert mask is None
            continue
        assert mask is not None and book.feasible(mask)
        assert book.value(mask, cost) == pytest.approx(truth, abs=1e-7)
        assert low <= truth + 1e-9
        for found in improve(book, cost, np.zeros(len(book.accounts), dtype=bool)):
            assert book.feasible(found)
            assert book.value(found, cost) >= truth - 1e-9


@pytest.mark.parametrize("name", sorted(SHAPES))
def test_the_book_bound_is_a_promise(name: str) -> None:
    scenario = SHAPES[name]()
    plan = _optimum(scenario)
    inst = Instance(scenario)
    backend = get_backend("highs")
    relaxed = backend.relax(build_model(inst).model, scenario.solver, 30.0)
    assert relaxed is not None
    found = book_bound(inst, backend, scenario.solver, 60.0, plans=[plan.assignment()])
    assert found.bound is not None
    assert found.bound <= plan.objective + 1e-9
    assert found.bound >= relaxed.objective - 1e-9
    # Small books converge: the bound meets the master LP, which the plan's books cap.
    assert found.converged and found.master is not None
    assert found.master >= found.bound - 1e-9
    assert found.master <= plan.objective + 1e-9


def test_columns_keep_every_rule_and_cover_no_account_twice() -> None:
    scenario = SHAPES["generated_24x4"]()
    inst = Instance(scenario)
    generator = BookColumns(inst, get_backend("highs"), scenario.solver)
    generator.start(10.0)
    generator.add_plan([c if c is not None else 0 for c in inst.current])
    before = len(generator.columns)
    generator.run(5.0)
    assert len(generator.columns) >= before
    for column in generator.columns:
        book = generator.books[column.book]
        assert book.feasible(column.mask)
        assert column.cost == pytest.approx(book.value(column.mask))
        # Only eligible accounts: a column's accounts are the book's candidates.
        chosen = book.accounts[column.mask]
        assert all(column.book in inst.eligible[a] for a in chosen.tolist())


@pytest.mark.parametrize("name", ["gap1-1", "gap1-2", "gap2-1"])
def test_the_book_bound_keeps_its_promise_on_published_gap_optima(name: str) -> None:
    """On OR-Library GAP instances with proven optima (benchmarks/data/gap), the bound, turned
    into GAP units, never promises more than the published optimum, and it is at least the
    linear relaxation's (the strong bound of the GAP literature)."""
    row = next(r for r in best_known() if r["instance"] == name)
    assert row["proven_optimal"] == "yes"
    gap = load(row)
    scenario = to_scenario(gap, time_limit_s=30)
    inst = Instance(scenario)
    backend = get_backend("highs")
    relaxed = backend.relax(build_model(inst).model, scenario.solver, 30.0)
    assert relaxed is not None
    found = book_bound(inst, backend, scenario.solver, 30.0)
    assert found.bound is not None and found.converged
    # A maximization: value = sum of the best profits - objective * norm, so the lowest
    # objective is the highest value any plan can reach.
    total_best, norm = sum(inst._best_preference), inst._preference_norm
    promised = total_best - found.bound * norm
    assert promised >= int(row["best_known"]) - 1e-6
    assert promised <= total_best - relaxed.objective * norm + 1e-6


def _gap_instance(name: str) -> tuple[Instance, Scenario, dict[str, str]]:
    row = next(r for r in best_known() if r["instance"] == name)
    scenario = to_scenario(load(row), time_limit_s=30)
    return Instance(scenario), scenario, row


@pytest.mark.parametrize("name", ["gap1-1", "gap4-1"])
def test_knapsack_books_are_priced_exactly_by_dynamic_programming(name: str) -> None:
    """A GAP agent's book is an integer knapsack: dynamic programming must find the same
    cheapest book as the book's MIP, at prices that make some accounts worth taking and
    others not."""
    inst, scenario, _ = _gap_instance(name)
    books, _ = books_of(inst)
    backend = get_backend("highs")
    rng = np.random.default_rng(7)
    for book in books:
        assert book.knapsack is not None
        as_mip = dataclasses.replace(book, _knapsack=None)
        for _ in range(3):
            cost = book.cost - rng.uniform(0.0, 2.0 * float(book.cost.max()) + 1e-3, len(book.cost))
            mask, value = dynamic(book.knapsack, cost)
            assert mask is not None and book.feasible(mask)
            assert value == pytest.approx(book.value(mask, cost), abs=1e-12)
            found, low = exact(as_mip, cost, backend, scenario.solver, 30.0)
            assert found is not None
            assert value == pytest.approx(book.value(found, cost), abs=1e-7)
            assert low <= value + 1e-7


def test_books_with_a_balance_term_are_not_knapsacks() -> None:
    books, _ = books_of(Instance(SHAPES["generated_24x4"]()))
    assert books and all(book.bands for book in books)
    assert all(knapsack(book) is None for book in books)


def test_forcing_an_account_in_keeps_the_books_value() -> None:
    """A book with account i forced in, plus i's cost, is the same book: same value, same
    rules kept, for CS books (balance bands move with the forced account's amounts)."""
    inst = Instance(SHAPES["generated_24x4"]())
    books, _ = books_of(inst)
    rng = np.random.default_rng(3)
    for book in books:
        for _ in range(20):
            mask = rng.random(len(book.accounts)) < 0.3
            chosen = np.flatnonzero(mask)
            if not len(chosen):
                continue
            i = int(chosen[0])
            sub = book.forcing(i)
            rest = np.delete(mask, i)
            assert sub.value(rest) + book.cost[i] == pytest.approx(book.value(mask), abs=1e-12)
            assert sub.feasible(rest) == book.feasible(mask)


@pytest.mark.parametrize("name", ["gap1-1", "gap1-2", "gap2-1", "gap4-1"])
def test_pairs_removed_by_reduced_cost_never_exclude_a_published_optimum(name: str) -> None:
    """With the published (proven) optimum as the incumbent, the pairs the book bound removes
    leave a model whose optimum is still the published one, and there are pairs to remove."""
    inst, scenario, row = _gap_instance(name)
    assert row["proven_optimal"] == "yes"
    total_best, norm = sum(inst._best_preference), inst._preference_norm
    optimum = (total_best - int(row["best_known"])) / norm  # a profit instance
    found = book_bound(
        inst, get_backend("highs"), scenario.solver, 30.0, incumbent=optimum, fixing_seconds=30.0
    )
    assert found.converged and found.fixings is not None and found.fixings.complete
    removed = set(found.fixings.pairs)
    assert 0 < len(removed) < found.fixings.checked
    built = build_model(inst)
    for pair in removed:
        built.model.variables[built.x[pair]].ub = 0.0
    raw = get_backend("highs").solve(built.model, scenario.solver)
    assert raw.objective is not None and raw.bound is not None
    assert total_best - raw.objective * norm == pytest.approx(int(row["best_known"]), abs=1e-6)
    assert total_best - raw.bound * norm <= int(row["best_known"]) + 1e-6


@pytest.mark.parametrize("name", ["gap4-1", "generated_14x4_few_moves"])
def test_the_master_kept_in_the_lp_server_is_the_rebuilt_master(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The master kept between rounds in the LP server's process (columns added in place, each
    solve from the last basis) is the same linear program as the master written out anew: on
    the columns generated, both have the same optimum, and a generation without the server
    converges to the same bound (a GAP instance, and a team with a move budget: a team row)."""
    if name in SHAPES:
        scenario = SHAPES[name]()
        inst = Instance(scenario)
    else:
        inst, scenario, _ = _gap_instance(name)
    backend = get_backend("highs")
    kept = BookColumns(inst, backend, scenario.solver)
    kept.start(10.0)
    found = kept.run(30.0)
    assert found.converged and found.master is not None and found.bound is not None
    again = kept.master(30.0)  # the server is gone after the run: written out anew
    assert again is not None
    assert again[0] == pytest.approx(found.master, rel=1e-7, abs=1e-9)
    monkeypatch.setattr(books_module, "LpServer", None)  # no server: the master rebuilt
    rebuilt = BookColumns(inst, backend, scenario.solver)
    rebuilt.start(10.0)
    plain = rebuilt.run(30.0)
    assert plain.converged and plain.bound is not None
    assert plain.bound == pytest.approx(found.bound, rel=1e-6, abs=1e-9)
