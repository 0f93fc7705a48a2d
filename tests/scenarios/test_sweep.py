"""Free-form sweeps: axes, combinations, per-combination errors."""

from __future__ import annotations

import json

import pytest
from conftest import ROOT

from cli import main
from optimizer import ScenarioError, load_scenario, solve
from scenarios.sweep import parse_axis, sweep

TINY = ROOT / "examples" / "tiny" / "scenario.json"


def test_axes_parse_json_scalars() -> None:
    assert parse_axis("constraints.max_moves=1, 2,null") == (
        "constraints",
        "max_moves",
        [1, 2, None],
    )
    assert parse_axis("solver.backend=highs,cbc") == ("solver", "backend", ["highs", "cbc"])
    for bad in ("max_moves=1", "accounts.arr=1", "constraints.max_moves=", "constraints.max_moves"):
        with pytest.raises(ScenarioError):
            parse_axis(bad)


def test_every_combination_is_solved_and_bad_ones_are_reported() -> None:
    base = load_scenario(TINY)
    axes = [parse_axis("constraints.max_moves=1,2,3"), parse_axis("objectives.balance=30,-1")]
    rows = sweep(base, axes, workers=2)
    assert [
        (r.settings["constraints.max_moves"], r.settings["objectives.balance"]) for r in rows
    ] == [
        (1, 30),
        (1, -1),
        (2, 30),
        (2, -1),
        (3, 30),
        (3, -1),
    ]
    bad = [r for r in rows if r.issues]
    assert len(bad) == 3 and all(r.plan is None for r in bad)
    assert all(issue.path == "objectives.balance" for r in bad for issue in r.issues)
    good = [r for r in rows if not r.issues]
    # The same plans as solving each combination directly; more moves allowed never hurts.
    for row in good:
        budget = row.settings["constraints.max_moves"]
        direct = solve(
            base.replace(constraints={**base.constraints.model_dump(), "max_moves": budget})
        )
        assert row.plan is not None and row.plan.objective == pytest.approx(
            direct.objective, rel=1e-9
        )
        assert row.plan.after.kpis["moves"] <= budget
    objectives = [r.plan.objective for r in good]
    assert objectives == sorted(objectives, reverse=True)


def test_sweep_cli(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["sweep", str(TINY), "--set", "constraints.max_moves=2,3", "--workers", "1", "--json"]
    assert main(args) == 0
    records = json.loads(capsys.readouterr().out)
    assert [r["constraints.max_moves"] for r in records] == [2, 3]
    assert all(
        r["status"] == "optimal" and r["moves"] <= r["constraints.max_moves"] for r in records
    )
    assert main(["sweep", str(TINY), "--set", "constraints.arr_tolerance=0.2,1.5", "--csv"]) == 2
    captured = capsys.readouterr()
    assert "constraints.arr_tolerance=1.5" in captured.err
    lines = captured.out.strip().splitlines()
    assert lines[0].startswith("constraints.arr_tolerance,status") and len(lines) == 3
