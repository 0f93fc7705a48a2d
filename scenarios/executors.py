"""Run many scenarios at once: a local process pool by default, a Dask cluster on request.

``run_scenarios(scenarios, scheduler=None)`` solves every scenario and returns one
:class:`Outcome` per scenario, in order. A scenario whose solve raises is reported in its
outcome (``error``) and the others still run.

- Local (default): a process pool with one worker per core; each solve gets one solver thread,
  so the pool uses the cores instead of oversubscribing them.
- Dask: ``scheduler="tcp://host:8786"`` (or a ``dask.distributed.Client``) sends the same work to
  a cluster. Start one with ``dask scheduler`` on one machine and ``dask worker tcp://host:8786
  --nthreads 1`` on each worker machine (install this package on every worker).

``dask_mapper(scheduler)`` lends the same cluster to work inside one solve: the bound over whole
books (optimizer/strategies/books.py) prices each CSM's book on a worker.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from typing import Any

from optimizer import Plan, Scenario, Status, Termination, solve


@dataclass
class Outcome:
    """The result of one scenario in a batch: a plan, or the error that stopped it."""

    name: str
    plan: Plan | None
    error: str | None = None
    #: How the plan was had when it was not solved for, e.g. "from the base plan".
    note: str = ""

    def as_plan(self, name: str | None = None) -> Plan:
        """The plan, or a ``no_solution`` plan whose message is the error (named ``name``,
        else the outcome's name)."""
        if self.plan is not None:
            return self.plan
        return Plan(
            status=Status.NO_SOLUTION,
            message=self.error or "",
            scenario=self.name if name is None else name,
            termination=Termination.ERROR,
        )


def solve_one(scenario: Scenario, options: dict[str, Any]) -> Outcome:
    """Solve one scenario; any exception becomes the outcome's ``error`` (runs in a worker)."""
    try:
        return Outcome(scenario.name, solve(scenario, **options))
    except Exception as exc:  # reported per scenario: one bad scenario must not stop a sweep
        return Outcome(scenario.name, None, f"{type(exc).__name__}: {exc}")


def _single_threaded(scenario: Scenario) -> Scenario:
    if scenario.solver.threads == 1:
        return scenario
    return scenario.replace(solver={**scenario.solver.model_dump(), "threads": 1})


def run_scenarios(
    scenarios: Sequence[Scenario],
    *,
    scheduler: Any = None,
    workers: int | None = None,
    on_done: Callable[[int, Outcome], None] | None = None,
    task_options: Sequence[Mapping[str, Any]] | None = None,
    **options: Any,
) -> list[Outcome]:
    """Solve ``scenarios`` in parallel; ``options`` go to :func:`optimizer.solve`.

    Parameters
    ----------
    scheduler
        ``None`` for the local process pool, a Dask scheduler address, or a Dask ``Client``.
    workers
        Local pool size (default: the number of cores). ``1`` solves in this process.
    on_done
        Called with (index, outcome) as each scenario finishes (for progress bars).
    task_options
        Options for one scenario each (same order), over ``options``: e.g. a ``score_like``
        for some, so that runs needing different options still share one pool.
    """
    tasks = [_single_threaded(s) for s in scenarios]
    if task_options is not None and len(task_options) != len(tasks):
        raise ValueError("task_options must have one entry per scenario")
    each = [{**options, **(task_options[i] if task_options else {})} for i in range(len(tasks))]
    if scheduler is not None:
        return _run_dask(tasks, scheduler, on_done, each)
    workers = workers or os.cpu_count() or 1
    results: list[Outcome | None] = [None] * len(tasks)
    if workers == 1 or len(tasks) == 1:
        for i, scenario in enumerate(tasks):
            results[i] = solve_one(scenario, each[i])
            if on_done:
                on_done(i, results[i])  # type: ignore[arg-type]
        return [r for r in results if r is not None]
    # "spawn": solver libraries hold threads that a forked child must not inherit.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=min(workers, len(tasks)), mp_context=context) as pool:
        futures = {pool.submit(solve_one, scenario, each[i]): i for i, scenario in enumerate(tasks)}
        for future in as_completed(futures):
            i = futures[future]
            results[i] = future.result()
            if on_done:
                on_done(i, results[i])  # type: ignore[arg-type]
    return [r for r in results if r is not None]


def _run_dask(
    tasks: list[Scenario],
    scheduler: Any,
    on_done: Callable[[int, Outcome], None] | None,
    options: list[dict[str, Any]],
) -> list[Outcome]:
    from dask.distributed import as_completed as dask_completed

    with _client(scheduler) as client:
        futures = [
            client.submit(solve_one, scenario, options[i], pure=False)
            for i, scenario in enumerate(tasks)
        ]
        index = {future.key: i for i, future in enumerate(futures)}
        results: list[Outcome | None] = [None] * len(tasks)
        for future in dask_completed(futures):
            i = index[future.key]
            results[i] = future.result()
            if on_done:
                on_done(i, results[i])  # type: ignore[arg-type]
        return [r for r in results if r is not None]


@contextlib.contextmanager
def _client(scheduler: Any) -> Iterator[Any]:
    """A Dask client of ``scheduler`` (an address, or a ``Client`` used as it is); one made
    here is closed afterwards."""
    from dask.distributed import Client

    client = scheduler if isinstance(scheduler, Client) else Client(scheduler)
    try:
        yield client
    finally:
        if client is not scheduler:
            client.close()


@contextlib.contextmanager
def dask_mapper(
    scheduler: Any,
) -> Iterator[tuple[Callable[[Callable[..., Any], Sequence[tuple[Any, ...]]], list[Any]], int]]:
    """A mapper for :func:`optimizer.strategies.books.book_bound` (``mapper(function, tasks)``
    runs ``function(*task)`` for every task on the Dask cluster at ``scheduler``, an address or
    a ``Client``, and returns the results in order) and the cluster's worker threads."""
    with _client(scheduler) as client:

        def mapper(function: Callable[..., Any], tasks: Sequence[tuple[Any, ...]]) -> list[Any]:
            futures = [client.submit(function, *task, pure=False) for task in tasks]
            return list(client.gather(futures))

        yield mapper, max(sum(client.nthreads().values()), 1)
