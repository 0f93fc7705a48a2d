"""Parallel runs: the local process pool and a real Dask LocalCluster give the same plans."""

from __future__ import annotations

import pytest
from conftest import ROOT

from optimizer import load_scenario, solve
from scenarios.executors import run_scenarios, solve_one

TINY = ROOT / "examples" / "tiny" / "scenario.json"


def _batch() -> list:
    base = load_scenario(TINY)
    return [
        base,
        base.replace(
            name="no_moves_cap", constraints={**base.constraints.model_dump(), "max_moves": None}
        ),
        base.replace(
            name="one_move", constraints={**base.constraints.model_dump(), "max_moves": 1}
        ),
    ]


def test_local_pool_matches_solving_one_by_one() -> None:
    batch = _batch()
    done: list[int] = []
    outcomes = run_scenarios(batch, workers=2, on_done=lambda i, _o: done.append(i))
    assert sorted(done) == [0, 1, 2]
    assert [o.name for o in outcomes] == [s.name for s in batch]
    for scenario, outcome in zip(batch, outcomes, strict=True):
        assert outcome.error is None and outcome.plan is not None
        direct = solve(scenario)
        assert outcome.plan.objective == pytest.approx(direct.objective, rel=1e-9)
        assert outcome.plan.assignment() == direct.assignment()
        # Each solve in a pool gets one solver thread (the pool uses the cores).
        assert outcome.plan.settings["threads"] == 1


def test_a_failing_scenario_is_reported_not_raised() -> None:
    outcome = solve_one(load_scenario(TINY), {"export_model": "model.txt"})
    assert outcome.plan is None
    assert outcome.error is not None and "ValueError" in outcome.error and ".mps" in outcome.error


@pytest.mark.slow
def test_dask_local_cluster_matches_the_local_pool() -> None:
    from dask.distributed import Client, LocalCluster

    batch = _batch()
    local = run_scenarios(batch, workers=1)
    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        remote = run_scenarios(batch, scheduler=client)
        # The same through the scheduler's address, as `--scheduler tcp://...` does.
        by_address = run_scenarios(batch[:1], scheduler=cluster.scheduler_address)
    for a, b in zip(local, remote, strict=True):
        assert a.plan is not None and b.plan is not None
        assert a.plan.objective == pytest.approx(b.plan.objective, rel=1e-9)
        assert a.plan.assignment() == b.plan.assignment()
    assert by_address[0].plan is not None
    assert by_address[0].plan.objective == pytest.approx(local[0].plan.objective, rel=1e-9)


def test_task_options_apply_to_their_own_scenario_only() -> None:
    base = load_scenario(TINY)
    free = base.replace(
        name="free", constraints={**base.constraints.model_dump(), "renewal_freeze_days": None}
    )
    own, scaled = run_scenarios(
        [free, free], workers=1, task_options=[{}, {"score_like": base}], time_limit_s=20
    )
    assert own.plan is not None and scaled.plan is not None
    # The two scales give different optima, so an ignored option would show.
    assert abs(own.plan.objective - scaled.plan.objective) > 1e-3
    assert own.plan.objective == pytest.approx(solve(free).objective, abs=1e-9)
    assert scaled.plan.objective == pytest.approx(solve(free, score_like=base).objective, abs=1e-9)
    with pytest.raises(ValueError, match="one entry per scenario"):
        run_scenarios([free], task_options=[{}, {}])
