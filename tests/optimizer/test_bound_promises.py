"""A bound is a promise, on every shape of the robustness suite (benchmarks/robustness.py):
small books of each shape are solved to proven optimality by two backends, which must agree
(a reported ``optimal`` is optimal); no reported bound, the solve's or the bound over whole
books (optimizer/strategies/books.py), may exceed that optimum; the book bound is at least the
linear relaxation's; the pairs that bound's reduced costs remove never exclude the optimum (no
optimal plan uses one, and the model without them has the same optimum); and the plans keep
every rule by the suite's independent checker."""

from __future__ import annotations

from typing import Any

import pytest

from benchmarks.robustness import SHAPES, build, check_plan
from optimizer import Scenario, Status, evaluate, solve
from optimizer.backends import get_backend
from optimizer.formulation import build_model
from optimizer.instance import Instance
from optimizer.strategies.books import book_bound

SIZE = (14, 3)


def _scenario(shape: str, seed: int, backend: str) -> tuple[Scenario, dict[str, Any]]:
    data = build(shape, *SIZE, seed=seed).scenario
    data["solver"] = {"backend": backend, "time_limit_s": 60, "gap": 0.0, "seed": 0, "threads": 1}
    return Scenario.from_dict(data), data


@pytest.mark.parametrize("seed", [1, 2])
@pytest.mark.parametrize("shape", SHAPES)
def test_optima_agree_and_no_bound_exceeds_them(shape: str, seed: int) -> None:
    scenario, data = _scenario(shape, seed, "highs")
    highs = solve(scenario)
    cbc = solve(_scenario(shape, seed, "cbc")[0])
    assert highs.status is Status.OPTIMAL and cbc.status is Status.OPTIMAL
    assert highs.objective == pytest.approx(cbc.objective, abs=1e-8)
    optimum = min(highs.objective, cbc.objective)
    for plan in (highs, cbc):
        assert plan.bound is not None and plan.bound <= optimum + 1e-9
        assert check_plan(data, plan.assignment()) == []
    inst = Instance(scenario)
    backend = get_backend("highs")
    relaxed = backend.relax(build_model(inst).model, scenario.solver, 30.0)
    assert relaxed is not None
    found = book_bound(
        inst,
        backend,
        scenario.solver,
        30.0,
        plans=[highs.assignment()],
        incumbent=optimum,
        fixing_seconds=30.0,
    )
    assert found.bound is not None
    assert relaxed.objective - 1e-9 <= found.bound <= optimum + 1e-9
    assert found.fixings is not None and found.fixings.complete
    removed = set(found.fixings.pairs)
    assert removed  # every shape here has pairs its bound removes: the check below bites
    for plan in (highs, cbc):
        used = {(inst.account_index[a], inst.csm_index[c]) for a, c in plan.assignment().items()}
        assert not used & removed
    assert without(inst, removed, scenario) == pytest.approx(optimum, abs=1e-8)


def without(inst: Instance, pairs: set[tuple[int, int]], scenario: Scenario) -> float:
    """The full model's optimum with ``pairs`` (account, CSM positions) removed, scored by the
    evaluator: the solver's own value may sit a few 1e-7 below it, its totals and deviations
    kept within the solver's feasibility tolerance (measured on ``worst``: the same plan,
    0.4820881 from HiGHS against the evaluator's 0.4820886)."""
    built = build_model(inst)
    for pair in pairs:
        built.model.variables[built.x[pair]].ub = 0.0
    raw = get_backend("highs").solve(built.model, scenario.solver)
    assert raw.termination.name == "OPTIMAL" and raw.values is not None
    return evaluate(scenario, built.assignment(raw.values)).objective
