"""A solve stopped from outside keeps its best plan: the improving-plan file and recover()."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import ROOT

from optimizer import load_scenario, recover, solve
from optimizer.backends.base import append_solution, read_last_solution

TINY = ROOT / "examples" / "tiny" / "scenario.json"


def test_last_complete_block_wins_and_a_cut_block_is_ignored(tmp_path: Path) -> None:
    path = tmp_path / "plans.sol"
    append_solution(str(path), 3.0, [1.0, 0.0, 0.0])
    append_solution(str(path), 2.0, [0.0, 1.0, 0.0])
    with path.open("a") as out:  # a writer killed in the middle of its third plan
        out.write("Objective 1.0\n# Columns 3\nc0 0\nc1 0\n")
    assert read_last_solution(str(path), 3) == [0.0, 1.0, 0.0]
    assert read_last_solution(str(path), 4) is None  # another model's file
    assert read_last_solution(str(tmp_path / "missing.sol"), 3) is None


@pytest.mark.parametrize("backend", ["highs", "cpsat"])
def test_the_saved_plans_end_with_the_returned_plan(tmp_path: Path, backend: str) -> None:
    scenario = load_scenario(TINY)
    path = tmp_path / "plans.sol"
    plan = solve(scenario, backend=backend, solution_file=path)
    assert plan.status == "optimal"
    again = recover(scenario, path, backend=backend, bound=plan.bound, reason="Stopped")
    assert again.status == "feasible"  # a recovered plan never claims a finished proof
    assert again.assignment() == plan.assignment()
    assert again.objective == pytest.approx(plan.objective)
    assert again.gap == pytest.approx(0.0, abs=1e-6)
    assert again.message.startswith("Stopped: the best plan found so far")


def test_without_any_saved_plan_the_current_books_are_kept(tmp_path: Path) -> None:
    scenario = load_scenario(ROOT / "examples" / "seed_150x8" / "scenario.json")
    plan = recover(scenario, tmp_path / "none.sol", reason="Cancelled")
    assert plan.status == "feasible"
    assert plan.moves() == []
    assert plan.after is not None and plan.after.violations == []
    assert "current assignment" in plan.message


def test_without_any_plan_and_broken_books_there_is_no_plan(tmp_path: Path) -> None:
    scenario = load_scenario(TINY)  # A6 has no CSM today: the current books are not a plan
    plan = recover(scenario, tmp_path / "none.sol", reason="Cancelled")
    assert plan.status == "no_solution"
    assert plan.assignments == []
