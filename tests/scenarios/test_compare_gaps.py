"""Compare: each scenario's objective against the first's, with the gaps (no solve)."""

from __future__ import annotations

import pytest
from rich.console import Console

from cli.render.batch import comparison_table
from optimizer import Plan, Status
from optimizer.evaluate import Evaluation
from optimizer.instance import TERMS
from scenarios.compare import Comparison


def plan(objective: float, bound: float) -> Plan:
    after = Evaluation(objective, dict.fromkeys(TERMS, 0.0), {}, 0.0, [], {})
    return Plan(
        status=Status.FEASIBLE, bound=bound, gap=(objective - bound) / objective, after=after
    )


def test_objective_differences_within_the_gaps_are_labelled_not_ranked() -> None:
    result = Comparison(
        ["base", "close", "far"],
        [plan(1.0, 0.98), plan(1.01, 0.995), plan(1.2, 1.19)],
        [[], [], []],
    )
    assert result.objective_vs_first(0) is None
    close, far = result.objective_vs_first(1), result.objective_vs_first(2)
    assert close is not None and far is not None
    # 0.01 apart, gaps 0.02 and 0.015: within; 0.2 apart, gaps 0.02 and 0.01: real.
    assert close.within_gap and close.uncertainty == pytest.approx(0.035)
    assert not far.within_gap and far.value == pytest.approx(0.2)
    rows = {s["name"]: s for s in result.to_dict()["scenarios"]}
    assert rows["close"]["objective_vs_first"]["within_gap"] is True
    assert rows["far"]["objective_vs_first"]["within_gap"] is False
    assert rows["far"]["absolute_gap"] == pytest.approx(0.01)
    console = Console(width=200, record=True)
    console.print(comparison_table(result))
    line = next(x for x in console.export_text().splitlines() if "objective vs the first" in x)
    assert "within the gap (± 0.0350)" in line and "+0.2000 ± 0.0300" in line
