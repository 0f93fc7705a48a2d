"""The bound over whole books (optimizer/strategies/books.py) against the linear relaxation.

For each instance: the LP relaxation's value, the book-level bound reached within the time
limit (with the master LP's value, the rounds, how many priced every book exactly, and whether
it converged), the best known value, and how many (account, CSM) pairs the bound's reduced
costs remove against that value (pairs no better plan uses). Published GAP instances are
reported in GAP units (profit for the maximization sets), where an integral optimum is proven
when the bound rounds to it; engine scenarios in the engine's objective.

    python -m benchmarks.book_bound                 # gap1-1 .. gap12-1, c/d/e10100, the seed
    python -m benchmarks.book_bound --instances gap8-1 examples/seed_150x8/scenario.json \
        --time-limit 300

Writes ``results/book_bound.md``.
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path
from typing import Any

from optimizer.backends import get_backend
from optimizer.formulation import build_model
from optimizer.instance import Instance
from optimizer.scenario import load_scenario
from optimizer.strategies.books import Fixings, book_bound
from scenarios.executors import dask_mapper

from .gap import best_known, load, to_scenario

RESULTS = Path(__file__).parent / "results"
DEFAULT = [
    "gap1-1",
    "gap4-1",
    "gap8-1",
    "gap12-1",
    "c10100",
    "d10100",
    "e10100",
    "examples/seed_150x8/scenario.json",
]
#: Best known values of engine scenarios (proven optima, benchmarks/README.md): the value
#: shown, and one at least the optimum to remove pairs against.
KNOWN = {"examples/seed_150x8/scenario.json": (0.34607, 0.3460702)}
#: Seconds for removing pairs by reduced cost, at most.
FIXING_S = 30.0


def measure(name: str, seconds: float, scheduler: Any = None) -> list[str]:
    """One table row for a GAP instance name or a scenario file (with ``scheduler``, a Dask
    address or client, the books of each exact round are priced on its workers)."""
    rows = {r["instance"]: r for r in best_known()}
    scenario = to_scenario(load(rows[name]), seconds) if name in rows else load_scenario(name)
    scenario = scenario.replace(
        solver=scenario.solver.model_copy(update={"threads": 1, "time_limit_s": seconds})
    )
    inst = Instance(scenario)
    backend = get_backend("highs")
    relaxed = backend.relax(build_model(inst).model, scenario.solver, seconds)
    total = sum(inst._best_preference)
    incumbent: float | None
    if name in rows:
        # GAP units: value = sum of each job's best profit - objective * norm (max sets), so
        # the best known value is this objective (exactly: integers).
        sign = 1 if rows[name]["sense"] == "max" else -1
        incumbent = (total - sign * int(rows[name]["best_known"])) / inst._preference_norm
    else:
        incumbent = KNOWN[name][1] if name in KNOWN else None
    started = time.perf_counter()
    if scheduler is None:
        found = book_bound(
            inst, backend, scenario.solver, seconds, incumbent=incumbent, fixing_seconds=FIXING_S
        )
    else:
        with dask_mapper(scheduler) as (mapper, workers):
            found = book_bound(
                inst,
                backend,
                scenario.solver,
                seconds,
                mapper=mapper,
                workers=workers,
                incumbent=incumbent,
                fixing_seconds=FIXING_S,
            )
    # The bound's seconds (its start from the LP relaxation included), without the fixing's.
    took = time.perf_counter() - started - (found.fixings.seconds if found.fixings else 0.0)

    def shown(value: float | None) -> str:
        if value is None:
            return "-"
        if name not in rows:
            return f"{value:.5f}"
        # GAP units: value = sum of each job's best profit - objective * norm (max sets).
        sign = 1 if rows[name]["sense"] == "max" else -1
        return f"{sign * (total - value * inst._preference_norm):.2f}"

    known = rows[name]["best_known"] if name in rows else KNOWN.get(name, (None,))[0]
    proven = "-"
    if name in rows and found.bound is not None:
        bound = float(shown(found.bound))
        rounded = (
            math.floor(bound + 1e-6) if rows[name]["sense"] == "max" else math.ceil(bound - 1e-6)
        )
        proven = "yes" if rounded == int(rows[name]["best_known"]) else "no"
    return [
        name,
        str(known if known is not None else "-"),
        shown(None if relaxed is None else relaxed.objective),
        shown(found.bound),
        shown(found.master),
        str(found.rounds),
        str(found.exact_rounds),
        "yes" if found.converged else "no",
        f"{took:.1f}",
        proven,
        removed(found.fixings),
    ]


def removed(fixings: Fixings | None) -> str:
    """Pairs removed by reduced cost against the best known value, of the pairs looked at."""
    if fixings is None:
        return "-"
    share = len(fixings.pairs) / fixings.checked if fixings.checked else 0.0
    note = "" if fixings.complete else " (time out)"
    return f"{len(fixings.pairs):,} of {fixings.checked:,} ({share:.0%}), {fixings.seconds:.1f} s{note}"


HEADER = [
    "instance",
    "best known",
    "LP relaxation",
    "book bound",
    "master LP",
    "rounds",
    "exact rounds",
    "converged",
    "seconds",
    "bound proves the best known",
    "pairs removed against the best known",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", nargs="*", default=DEFAULT)
    parser.add_argument("--time-limit", type=float, default=60.0)
    parser.add_argument("--out", type=Path, default=RESULTS / "book_bound.md")
    parser.add_argument(
        "--scheduler",
        help="a Dask scheduler address (tcp://host:8786): price each book on its workers",
    )
    args = parser.parse_args()
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    for name in args.instances:
        row = measure(name, args.time_limit, args.scheduler)
        lines.append("| " + " | ".join(row) + " |")
        print(lines[-1], flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
