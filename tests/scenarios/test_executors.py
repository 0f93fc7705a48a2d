"""Parallel runs: the local process pool and a real Dask LocalCluster give the same plans, and
the bound over whole books priced on a LocalCluster's workers is the bound priced here."""

from __future__ import annotations

import pytest
from conftest import ROOT

from optimizer import load_scenario, solve
from scenarios.executors import dask_mapper, run_scenarios, solve_one

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


@pytest.mark.slow
def test_books_priced_on_a_dask_cluster_give_the_same_bound() -> None:
    """Each exact round prices every CSM's book as one task on the cluster (here a real
    LocalCluster of two worker processes): the bound, its rounds and its convergence are the
    ones of pricing the books one after the other here."""
    from dask.distributed import Client, LocalCluster

    from benchmarks.robustness import build
    from optimizer import Scenario
    from optimizer.backends import get_backend
    from optimizer.instance import Instance
    from optimizer.strategies.books import book_bound

    data = build("skewed", 16, 3, seed=2).scenario
    data["solver"] = {"time_limit_s": 60, "gap": 0.0, "seed": 0, "threads": 1}
    scenario = Scenario.from_dict(data)
    inst = Instance(scenario)
    backend = get_backend("highs")
    here = book_bound(inst, backend, scenario.solver, 60.0)
    calls: list[int] = []
    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
        dask_mapper(client) as (mapper, workers),
    ):

        def counted(function, tasks):  # type: ignore[no-untyped-def]
            calls.append(len(tasks))
            return mapper(function, tasks)

        remote = book_bound(inst, backend, scenario.solver, 60.0, mapper=counted, workers=workers)
    assert workers == 2
    assert calls and all(n == len(inst.csms) for n in calls)  # every book, every exact round
    assert len(calls) == remote.exact_rounds
    assert here.converged and remote.converged
    assert here.bound is not None and remote.bound is not None
    assert remote.bound == pytest.approx(here.bound, abs=1e-9)
    assert remote.exact_rounds == here.exact_rounds
