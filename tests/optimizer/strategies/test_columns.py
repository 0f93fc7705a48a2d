"""The large-team strategy (optimizer/strategies/columns.py): its vectorized pricing must be the model's own
coefficients, its bound must be a bound of the full model, and its plans plans of the full model.
"""

from __future__ import annotations

import math
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from ortools.math_opt.python import mathopt

from benchmarks.generator import generate
from optimizer import Scenario, evaluate, recover, solve
from optimizer.backends.highs import to_proto
from optimizer.formulation import AssignmentModel, build_model
from optimizer.instance import Instance
from optimizer.strategies import columns as columns_module
from optimizer.strategies import use_columns
from optimizer.strategies.columns import duals_of, generate_columns, lagrangian_bound
from optimizer.strategies.lp_server import LpServer
from optimizer.strategies.pricing import Pricing
from optimizer.strategies.rounding import repair_point, round_point


def _scenario(n: int, m: int, **solver: Any) -> Scenario:
    data = generate(n, m, seed=3)
    # Every objective term and every per-pair input in play.
    data["objectives"].update({"continuity": 5, "preference": 5, "travel": 5, "soft_rules": 3})
    # A soft protection: moving a healthy account costs the soft_rules term.
    data["constraints"]["protect"] = [
        {"name": "healthy", "when": [{"field": "health_score", "at_least": 80}], "soft": True}
    ]
    ids = [c["id"] for c in data["csms"]]
    for k, account in enumerate(data["accounts"][:: max(1, n // 12)]):
        account["preferences"] = {ids[k % m]: 3.0, ids[(k + 1) % m]: -1.0}
        account["workload_by_csm"] = {ids[(k + 2) % m]: 4.5}
    # Every CSM placed; every fifth account met in person somewhere between them.
    for k, csm in enumerate(data["csms"]):
        csm.update({"latitude": 40.0 + k % 3, "longitude": -100.0 + 2 * k})
    for k, account in enumerate(data["accounts"][::5]):
        account.update(
            {
                "latitude": 39.0 + k % 5,
                "longitude": -101.0 + k % 17,
                "visits_per_quarter": 1 + k % 3,
            }
        )
    data["solver"].update({"threads": 1, **solver})
    return Scenario.from_dict(data)


def _rows_by_column(built: AssignmentModel) -> dict[int, list[tuple[int, float]]]:
    out: dict[int, list[tuple[int, float]]] = {}
    for j, row in enumerate(built.model.rows):
        for i, c in zip(row.index, row.coef, strict=True):
            out.setdefault(i, []).append((j, c))
    return out


def _random_prices(built: AssignmentModel, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.normal(scale=0.05, size=len(built.model.rows))


def test_pricing_is_the_models_objective() -> None:
    inst = Instance(_scenario(240, 9))
    built = build_model(inst)
    costs = Pricing(inst).costs(0, len(inst.accounts))
    for a in range(len(inst.accounts)):
        for c in range(len(inst.csms)):
            var = built.x.get((a, c))
            if var is None:
                assert costs[a, c] == math.inf, (a, c)
            else:
                assert costs[a, c] == pytest.approx(
                    built.model.objective.get(var, 0.0), abs=1e-12
                ), (a, c)


def test_reduced_costs_are_the_models_rows() -> None:
    # For any row prices, the vectorized reduced cost of each pair (without its account's own
    # row) equals objective minus prices times the pair's column, read off the built rows.
    inst = Instance(
        _scenario(
            240,
            9,
        )
    )
    built = build_model(inst)
    pricing = Pricing(inst)
    y = _random_prices(built, 1)
    duals = duals_of(built, y)  # also makes y sign-consistent
    reduced = duals.reduced(pricing, pricing.costs(0, pricing.n), 0, pricing.n)
    column = _rows_by_column(built)
    assign = {j for j, row in enumerate(built.model.rows) if row.group and row.group[0] == "assign"}
    checked = 0
    for (a, c), var in built.x.items():
        expected = built.model.objective.get(var, 0.0) - sum(
            y[j] * coef for j, coef in column[var] if j not in assign
        )
        assert reduced[a, c] == pytest.approx(expected, abs=1e-9), (a, c)
        checked += 1
    assert checked == sum(len(cs) for cs in inst.eligible)


def _full_relaxation(built: AssignmentModel) -> float:
    proto = to_proto(built.model, "lp")
    del proto.variables.integers[:]
    proto.variables.integers.extend([False] * len(built.model.variables))
    model = mathopt.Model.from_model_proto(proto)
    result = mathopt.solve(
        model,
        mathopt.SolverType.HIGHS,
        params=mathopt.SolveParameters(time_limit=timedelta(seconds=60)),
    )
    assert result.termination.reason == mathopt.TerminationReason.OPTIMAL
    return float(result.objective_value())


def test_bound_is_below_the_proven_optimum_and_reaches_the_full_relaxation() -> None:
    scenario = _scenario(120, 6, time_limit_s=120, gap=0.0)
    optimum = solve(scenario, backend="highs")
    assert optimum.status == "optimal" and optimum.objective is not None
    inst = Instance(scenario)
    full = build_model(inst)
    lp = _full_relaxation(full)
    # Any prices give a bound of the full model...
    pricing = Pricing(inst)
    for seed in range(5):
        assert lagrangian_bound(full, _random_prices(full, seed), pricing) <= optimum.objective
    # ... and column generation, from a few pairs per account, reaches the full relaxation.
    columns = generate_columns(inst, scenario.solver, 30)
    assert columns.converged
    assert len(columns.built.x) < len(full.x)
    assert columns.bound is not None
    assert columns.bound == pytest.approx(lp, rel=1e-6, abs=1e-9)
    assert columns.bound <= optimum.objective + 1e-9


def test_columns_strategy_gives_a_plan_of_the_full_model_with_its_bound(tmp_path: Path) -> None:
    scenario = _scenario(120, 6, time_limit_s=3, strategy="columns")
    assert use_columns(Instance(scenario), scenario.solver)
    full = solve(
        scenario.replace(
            solver=scenario.solver.model_copy(
                update={"strategy": "full", "time_limit_s": 30, "gap": 0.0}
            )
        )
    )
    assert full.status == "optimal" and full.objective is not None
    saved = tmp_path / "plans.sol"
    plan = solve(scenario, solution_file=saved)
    assert plan.status in ("optimal", "feasible")
    assert plan.after is not None and plan.after.violations == []
    assert plan.objective == pytest.approx(evaluate(scenario, plan.assignment()).objective)
    assert plan.bound is not None and plan.objective is not None
    # The bound is the full model's: below its proven optimum, and the plan above it.
    assert plan.bound <= full.objective + 1e-9 <= plan.objective + 2e-9
    assert "column generation" in plan.message
    # A stopped large-team solve is recovered from the plans and pairs it wrote.
    assert Path(f"{saved}.columns").exists()
    again = recover(scenario, saved)
    assert again.assignment() == plan.assignment()


def test_auto_strategy_follows_the_team_size() -> None:
    small = _scenario(150, 8)
    assert small.solver.strategy == "auto"
    assert not use_columns(Instance(small), small.solver)
    forced = small.solver.model_copy(update={"strategy": "columns"})
    assert use_columns(Instance(small), forced)
    large = Scenario.from_dict(generate(5000, 40))  # 200,000 pairs, most of them eligible
    assert use_columns(Instance(large), large.solver)
    whole = large.solver.model_copy(update={"strategy": "full"})
    assert not use_columns(Instance(large), whole)


def test_repair_replaces_only_the_accounts_of_broken_books() -> None:
    # C01 holds four accounts with a limit of three: the repair moves one of its accounts and
    # leaves the books of C02 and C03 (four each, room for five) as they are.
    data = generate(12, 3, seed=5)
    for k, account in enumerate(data["accounts"]):
        account.update(current_csm=("C01" if k < 4 else "C02" if k < 8 else "C03"), locked=False)
        account["required_skills"] = []
    data["constraints"] = {"max_accounts_per_csm": 5}
    data["csms"][0]["max_accounts"] = 3
    scenario = Scenario.from_dict(data)
    inst = Instance(scenario)
    before = evaluate(scenario)
    broken = {v.subject for v in before.violations}
    assert broken == {"C01"}
    built = build_model(inst, columns=[list(range(3)) for _ in inst.accounts])
    values = round_point(built, repair_point(built, broken), scenario.solver, 10)
    assert values is not None
    plan = built.assignment(values)
    assert evaluate(scenario, plan).violations == []
    moved = {a for a, c in plan.items() if c != scenario.account(a).current_csm}
    assert len(moved) == 1 and scenario.account(moved.pop()).current_csm == "C01"


def test_lp_server_solves_a_hand_computed_lp_and_warm_starts() -> None:
    # min x0 + 2 x1  s.t.  x0 + x1 >= 1,  x0 <= 0.3,  x >= 0: x = (0.3, 0.7), value 1.7, and
    # the row prices are 2 (the cover row) and -1 (x0's cap): 1 - 2 + 1 = 0 and 2 - 2 = 0.
    with LpServer() as server:
        server.add_rows([1.0, -math.inf], [math.inf, 0.3])
        server.add_columns([1.0, 2.0], [0.0, 0.0], [math.inf] * 2, [0, 2], [0, 1, 0], [1.0] * 3)
        first = server.solve(10)
        assert first["ok"]
        assert first["objective"] == pytest.approx(1.7)
        assert list(first["x"]) == pytest.approx([0.3, 0.7])
        assert list(first["y"]) == pytest.approx([2.0, -1.0])
        # A cheaper column x2 (cost 0.5, covers the row): it takes the whole cover.
        server.add_columns([0.5], [0.0], [math.inf], [0], [0], [1.0])
        second = server.solve(10)
        assert second["objective"] == pytest.approx(0.5)
        assert list(second["x"]) == pytest.approx([0.0, 0.0, 1.0])


def test_both_relaxation_routes_give_the_same_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    scenario = _scenario(120, 6)
    inst = Instance(scenario)
    kept = generate_columns(inst, scenario.solver, 30)

    def unavailable(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("no LP server")

    monkeypatch.setattr(columns_module._HighsMaster, "__init__", unavailable)
    rebuilt = generate_columns(inst, scenario.solver, 30)
    assert (kept.route, rebuilt.route) == ("highs", "mathopt")
    assert kept.converged and rebuilt.converged
    assert kept.bound is not None and rebuilt.bound is not None
    assert kept.bound == pytest.approx(rebuilt.bound, rel=1e-7, abs=1e-9)


def test_lagrangian_seed_finds_the_same_relaxation_in_fewer_rounds_when_books_are_skewed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Today's books far from balanced (every account with one of two CSMs): the columns seeded
    at the Lagrangian ascent's prices reach the same converged relaxation (and bound) as the
    unseeded ones, in fewer rounds (here 1 against 3)."""
    data = generate(400, 8, seed=5)
    ids = [c["id"] for c in data["csms"]]
    for k, account in enumerate(data["accounts"]):
        if not account.get("locked"):
            account["current_csm"] = ids[k % 2]
    data["constraints"].pop("max_moves", None)
    data["solver"].update({"threads": 1})
    scenario = Scenario.from_dict(data)
    inst = Instance(scenario)
    seeded = generate_columns(inst, scenario.solver, 120)
    monkeypatch.setattr(columns_module, "SEED_STEPS", 0)
    plain = generate_columns(inst, scenario.solver, 120)
    assert seeded.converged and plain.converged
    assert "Lagrangian prices" in seeded.log[0]
    assert not any("Lagrangian" in line for line in plain.log)
    assert seeded.relaxation == pytest.approx(plain.relaxation, rel=1e-6)
    assert seeded.bound == pytest.approx(plain.bound, rel=1e-6)
    assert seeded.rounds < plain.rounds


def test_a_restarted_round_may_run_past_the_share_within_the_stretch(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Every relaxation "takes" 10 s of a virtual clock: with a 25 s share, a third round
    # (predicted 10 s, after rounds ending at 10 and 20 s) does not fit the share but fits a
    # 45 s stretch; without a stretch generation stops after two rounds.
    scenario = _scenario(240, 9)
    inst = Instance(scenario)
    # Few columns to start from, one more per account and round: several rounds to converge.
    monkeypatch.setattr(columns_module, "SEED_STEPS", 0)
    monkeypatch.setattr(columns_module, "INITIAL_COLUMNS", 1)
    monkeypatch.setattr(columns_module, "RANDOM_COLUMNS", 0)
    monkeypatch.setattr(columns_module, "NEW_COLUMNS", 1)
    virtual = [0.0]
    real_solve = columns_module._HighsMaster.solve

    def slow_solve(self: Any, seconds: float) -> Any:
        assert seconds > 0
        virtual[0] += 10.0
        return real_solve(self, 60.0)

    monkeypatch.setattr(columns_module._HighsMaster, "solve", slow_solve)

    def clock() -> float:
        return virtual[0]

    free = generate_columns(inst, scenario.solver, 1000, clock=clock)
    assert free.converged and free.rounds >= 3  # the instance needs three rounds or more
    virtual[0] = 0.0
    short = generate_columns(inst, scenario.solver, 25, clock=clock)
    assert short.rounds == 2 and not short.converged
    virtual[0] = 0.0
    stretched = generate_columns(inst, scenario.solver, 25, stretch=45, clock=clock)
    assert stretched.rounds == min(free.rounds, 4)
    assert stretched.bound is not None and short.bound is not None
    assert stretched.bound >= short.bound - 1e-12
