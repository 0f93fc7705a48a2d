"""The neighbourhood search's sub-models (optimizer/strategies/lns.py): a neighbourhood cut from
the model in arrays must be the model with everything else fixed, no more and no less."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest

from benchmarks.generator import generate
from benchmarks.robustness import build as build_shape
from optimizer import Scenario, evaluate
from optimizer.backends import get_backend
from optimizer.formulation import AssignmentModel, build_model
from optimizer.instance import Instance
from optimizer.scenario import SolverSettings
from optimizer.status import Termination
from optimizer.strategies.lns import Parts, Polish, improve, objective_of


@pytest.fixture(scope="module")
def case() -> tuple[AssignmentModel, SolverSettings, list[float]]:
    data = generate(90, 6, seed=5)
    data["objectives"].update({"continuity": 5})
    data["constraints"]["max_moves"] = 25
    data["solver"].update({"threads": 1, "time_limit_s": 3})
    scenario = Scenario.from_dict(data)
    built = build_model(Instance(scenario))
    # A plan of the model (any feasible one will do), with every auxiliary variable's value.
    raw = get_backend("highs").solve(built.model, scenario.solver)
    assert raw.values is not None
    return built, scenario.solver, list(raw.values)


def _neighbourhoods(built: AssignmentModel, seed: int) -> list[list[int]]:
    """Random accounts free to go anywhere, and the accounts of two books re-dealt between them."""
    rng = random.Random(seed)
    accounts = sorted({a for a, _ in built.x})
    out = []
    for size in (5, 12, 20):
        chosen = set(rng.sample(accounts, size))
        out.append(sorted(v for (a, _), v in built.x.items() if a in chosen))
    return out


def _book_neighbourhood(built: AssignmentModel, values: list[float], books: set[int]) -> list[int]:
    owners = {a for (a, c), v in built.x.items() if c in books and values[v] > 0.5}
    return sorted(v for (a, c), v in built.x.items() if a in owners and c in books)


def test_cut_is_the_model_with_the_rest_fixed(case) -> None:
    built, _, values = case
    model = built.model
    binaries = set(built.x.values())
    parts = Parts(model, binaries)
    activity = parts.activity(values)
    for j, row in enumerate(model.rows):
        assert activity[j] == pytest.approx(
            sum(c * values[i] for i, c in zip(row.index, row.coef, strict=True)), abs=1e-9
        )
    for freed in [*_neighbourhoods(built, 1), _book_neighbourhood(built, values, {0, 3})]:
        part, kept = parts.cut(freed, values, activity)
        kept_set = set(kept)
        assert set(freed) <= kept_set and len(part.variables) == len(kept)
        assert not (kept_set - set(freed)) & binaries
        # Every row that touches a kept variable is in the part; no other.
        touching = [r for r in model.rows if kept_set & set(r.index)]
        assert [r.name for r in part.rows] == [r.name for r in touching]
        # No row links a kept variable to an auxiliary one left out (the kept set is closed).
        for r in touching:
            assert all(i in kept_set or i in binaries for i in r.index), r.name
        # The plan itself satisfies the part, row by row, with the same slack as in the model.
        for sub, full in zip(part.rows, touching, strict=True):
            lhs = sum(c * values[kept[k]] for k, c in zip(sub.index, sub.coef, strict=True))
            full_lhs = sum(c * values[i] for i, c in zip(full.index, full.coef, strict=True))
            assert lhs - sub.lb == pytest.approx(full_lhs - full.lb, abs=1e-9) or math.isinf(
                full.lb
            )
            assert sub.ub - lhs == pytest.approx(full.ub - full_lhs, abs=1e-9) or math.isinf(
                full.ub
            )
        # Its objective differs from the model's by a constant: the fixed variables' part.
        fixed_part = sum(c * values[i] for i, c in model.objective.items() if i not in kept_set)
        assert fixed_part + sum(
            c * values[kept[k]] for k, c in part.objective.items()
        ) == pytest.approx(objective_of(built, values) - model.constant, abs=1e-9)


def test_a_book_neighbourhood_leaves_the_other_books_out(case) -> None:
    built, _, values = case
    parts = Parts(built.model, set(built.x.values()))
    freed = _book_neighbourhood(built, values, {1, 4})
    _, kept = parts.cut(freed, values, parts.activity(values))
    names = [built.model.variables[i].name for i in kept]
    csms = [c.id for c in built.instance.csms]
    for k, csm in enumerate(csms):
        mentioned = any(name.endswith(f"[{csm}]") for name in names)
        assert mentioned == (k in (1, 4)), (csm, names)


def test_sub_model_optimum_equals_fixing_the_full_model(case) -> None:
    built, settings, values = case
    backend = get_backend("highs")
    parts = Parts(built.model, set(built.x.values()))
    activity = parts.activity(values)
    neighbourhoods = [*_neighbourhoods(built, 2), _book_neighbourhood(built, values, {2, 5})]
    for freed in neighbourhoods:
        part, kept = parts.cut(freed, values, activity)
        cut = backend.solve_part(part, settings, {}, 30.0, hint=[values[i] for i in kept])
        fixed = {v: values[v] for v in built.x.values() if v not in set(freed)}
        whole = backend.solve_part(built.model, settings, fixed, 30.0, hint=values)
        assert cut is not None and whole is not None
        assert cut[1] is Termination.OPTIMAL and whole[1] is Termination.OPTIMAL
        merged = list(values)
        for i, value in zip(kept, cut[0], strict=True):
            merged[i] = value
        assert objective_of(built, merged) == pytest.approx(
            objective_of(built, whole[0]), rel=1e-7, abs=1e-9
        )
        assert objective_of(built, merged) <= objective_of(built, values) + 1e-9
        # The merged solution keeps every row of the full model.
        for row in built.model.rows:
            lhs = sum(c * merged[i] for i, c in zip(row.index, row.coef, strict=True))
            assert row.lb - 1e-6 <= lhs <= row.ub + 1e-6, row.name


def test_improve_returns_a_better_plan_that_keeps_every_rule(case) -> None:
    built, settings, values = case
    improved, steps = improve(built, get_backend("highs"), settings, values, 3.0)
    assert objective_of(built, improved) <= objective_of(built, values) + 1e-12
    plan = built.assignment(improved)
    scored = evaluate(built.instance.scenario, plan)
    assert not scored.violations
    assert np.isclose(scored.objective, objective_of(built, improved), atol=1e-6)
    assert steps >= 0


def test_polish_keeps_to_a_restricted_models_pairs() -> None:
    # A restricted model (each account with its CSM in a plan known to keep every rule and two
    # other CSMs): the local search's exchanges and widened candidates could reach any
    # eligible CSM; the polished plan must still be a plan of this model, keep every rule and
    # score what the model says.
    witnessed = build_shape("skewed", 150, 8, seed=1)
    scenario = Scenario.from_dict(witnessed.scenario)
    inst = Instance(scenario)
    rng = random.Random(4)
    start = [inst.csm_index[witnessed.witness[a.id]] for a in inst.accounts]
    columns = []
    for a in range(len(inst.accounts)):
        eligible = [c for c in range(len(inst.csms)) if c not in inst.exclusions[a]]
        others = [c for c in eligible if c != start[a]]
        columns.append(sorted({start[a], *rng.sample(others, min(2, len(others)))}))
    built = build_model(inst, columns=columns)
    parts = Parts(built.model, set(built.x.values()))
    # The witness as a solution of the model: its pairs fixed, the totals solved for.
    point = [0.0] * len(built.model.variables)
    for a, c in enumerate(start):
        point[built.x[a, c]] = 1.0
    part, kept = parts.cut([], point, parts.activity(point), every_auxiliary=True)
    solved = get_backend("highs").solve_part(part, scenario.solver, {}, 10.0)
    assert solved is not None
    for i, value in zip(kept, solved[0], strict=True):
        point[i] = value
    assert parts.keeps_every_row(point)
    polish = Polish.of(built, parts)
    assert polish is not None
    found = polish.run(point, 5.0, get_backend("highs"), scenario.solver)
    assert found is not None  # a plan built to keep the rules, not to score well
    assert objective_of(built, found) < objective_of(built, point)
    assert parts.keeps_every_row(found)
    plan = built.assignment(found)
    for account, csm in plan.items():
        assert (inst.account_index[account], inst.csm_index[csm]) in built.x
    scored = evaluate(scenario, plan)
    assert not scored.violations
    assert scored.objective == pytest.approx(objective_of(built, found), abs=1e-6)


def test_restricted_search_never_leaves_the_allowed_pairs(case) -> None:
    from optimizer.strategies.lagrangian import Lagrangian
    from optimizer.strategies.local_search import Search

    built = case[0]
    inst = built.instance
    search = Search(Lagrangian(inst))
    rng = random.Random(9)
    allowed = [pair for pair in built.x if rng.random() < 0.5 or inst.current[pair[0]] == pair[1]]
    search.restrict(allowed)
    keys = {a * len(inst.csms) + c for a, c in allowed}
    rows = np.repeat(np.arange(len(inst.accounts)), len(inst.csms))
    csms = np.tile(np.arange(len(inst.csms)), len(inst.accounts))
    assert search._allows(rows, csms).tolist() == [
        int(a) * len(inst.csms) + int(c) in keys for a, c in zip(rows, csms, strict=True)
    ]
