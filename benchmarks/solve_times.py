"""Solve time and gap per backend on the bundled example and seeded synthetic teams.

    python -m benchmarks.solve_times                      # all sizes, all backends, 60 s each
    python -m benchmarks.solve_times --sizes 150x8 --backends highs --time-limit 30

Each run builds the scenario (benchmarks/generator.py, seed 7; 150x8 is the bundled example),
solves it through the engine's own ``solve`` with one backend, and records the status, the
objective (the evaluator's score of the plan), the best bound, the relative gap, the wall time of
the whole solve, and, for backends that report progress, the first time the gap fell under 1%
and 0.1%. Results go to ``benchmarks/results/solve_times.csv`` and ``.md``.
"""

from __future__ import annotations

import argparse
import csv
import os
import platform
import time
from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path

from benchmarks.generator import generate
from optimizer import Progress, Scenario, load_scenario, solve

ROOT = Path(__file__).resolve().parent
EXAMPLE = ROOT.parent / "examples" / "seed_150x8" / "scenario.json"
SIZES = ("150x8", "2000x20", "5000x40")
BACKENDS = ("highs", "cpsat", "cbc")


@dataclass
class Row:
    size: str
    backend: str
    status: str
    objective: float | None
    bound: float | None
    gap: float | None
    seconds: float
    to_1pct_s: float | None
    to_01pct_s: float | None
    moves: int | None


def scenario_for(size: str) -> Scenario:
    if size == "150x8":
        return load_scenario(EXAMPLE)
    n_accounts, n_csms = (int(x) for x in size.split("x"))
    return Scenario.from_dict(generate(n_accounts, n_csms, seed=7))


def run_one(scenario: Scenario, size: str, backend: str, time_limit_s: float, threads: int) -> Row:
    firsts: dict[float, float] = {}

    def watch(p: Progress) -> None:
        for level in (0.01, 0.001):
            if p.gap is not None and p.gap <= level and level not in firsts:
                firsts[level] = p.elapsed_s

    settings = scenario.solver.model_copy(
        update={"time_limit_s": time_limit_s, "threads": threads, "gap": 1e-4}
    )
    start = time.perf_counter()
    plan = solve(scenario.replace(solver=settings), backend=backend, progress=watch)
    seconds = time.perf_counter() - start
    if plan.gap is not None:  # the final gap counts too (CBC reports no progress)
        for level in (0.01, 0.001):
            if plan.gap <= level and level not in firsts:
                firsts[level] = seconds
    moves = plan.after.kpis["moves"] if plan.after else None
    return Row(
        size,
        backend,
        plan.status,
        plan.objective,
        plan.bound,
        plan.gap,
        seconds,
        firsts.get(0.01),
        firsts.get(0.001),
        int(moves) if moves is not None else None,
    )


def _fmt(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def markdown(rows: list[Row], time_limit_s: float, threads: int) -> str:
    lines = [
        f"Measured {date.today().isoformat()} on {os.cpu_count()} cores ({platform.machine()}, "
        f"Python {platform.python_version()}); time limit {time_limit_s:g} s, requested gap 0.01%, "
        f"{threads} thread(s) per solver, seed 0. Times are wall seconds of the whole solve "
        "(model build, solver, evaluation, explanations).",
        "",
        "| accounts x CSMs | backend | status | objective | bound | gap | seconds | time to 1% | time to 0.1% | moves |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r.size} | {r.backend} | {r.status} | {_fmt(r.objective, '.5f')} | {_fmt(r.bound, '.5f')} | "
            f"{_fmt(None if r.gap is None else 100 * r.gap, '.3f')}% | {r.seconds:.1f} | "
            f"{_fmt(r.to_1pct_s, '.1f')} | {_fmt(r.to_01pct_s, '.1f')} | {_fmt(r.moves, 'd')} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description="Solve time and gap per backend.")
    parser.add_argument("--sizes", default=",".join(SIZES))
    parser.add_argument("--backends", default=",".join(BACKENDS))
    parser.add_argument("--time-limit", type=float, default=60.0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=ROOT / "results")
    args = parser.parse_args()
    rows = []
    for size in args.sizes.split(","):
        scenario = scenario_for(size)
        for backend in args.backends.split(","):
            row = run_one(scenario, size, backend, args.time_limit, args.threads)
            rows.append(row)
            print(
                f"{size:>8} {backend:>6} {row.status:>11} obj {_fmt(row.objective, '.5f')} "
                f"gap {_fmt(None if row.gap is None else 100 * row.gap, '.3f')}% {row.seconds:.1f} s",
                flush=True,
            )
    args.out.mkdir(parents=True, exist_ok=True)
    with (args.out / "solve_times.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(asdict(rows[0])))
        writer.writeheader()
        writer.writerows(asdict(r) for r in rows)
    table = markdown(rows, args.time_limit, args.threads)
    (args.out / "solve_times.md").write_text(table, encoding="utf-8")
    print()
    print(table)


if __name__ == "__main__":
    main()
