"""The direct models of benchmarks/peers.py state the engine's problem: same optimum on tiny."""

from __future__ import annotations

import pytest
from conftest import ROOT

from benchmarks.peers import run_direct
from optimizer import evaluate, load_scenario, solve
from optimizer.instance import Instance


@pytest.mark.parametrize("runner", ["highs", "cpsat", "cbc"])
def test_direct_models_reach_the_engine_s_optimum(runner: str) -> None:
    scenario = load_scenario(ROOT / "examples" / "tiny" / "scenario.json")
    engine = solve(scenario)
    assert engine.status == "optimal"
    assignment, status, bound, _ = run_direct(Instance(scenario), runner, 20.0, 1)
    assert status == "optimal"
    scored = evaluate(scenario, assignment)
    assert scored.violations == []
    assert scored.objective == pytest.approx(engine.objective, abs=1e-6)
    if bound is not None:
        # The direct CP-SAT model rounds its coefficients: its bound is of a nearby problem.
        assert bound == pytest.approx(engine.objective, abs=1e-4 if runner != "cpsat" else 1e-3)
