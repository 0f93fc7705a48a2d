"""Sweep throughput: scenarios per second on the local process pool and on a Dask LocalCluster.

    python -m benchmarks.throughput                     # 1,000 variants, 0.05 s per solve
    python -m benchmarks.throughput --count 200 --time-limit 1

The sweep is a grid of what-ifs on the bundled 150 x 8 example (objective weights and the ARR
tolerance), each solved through the engine's own ``solve`` and warm-started from the base plan,
the way ``territory sensitivity`` runs its variants. With a per-solve limit this short the
solver returns its best plan at the limit: the table reports how far from optimal those plans are
provably (their gap) next to the speed. Results go to ``benchmarks/results/throughput.md``.
"""

from __future__ import annotations

import argparse
import itertools
import os
import platform
import statistics
import time
from datetime import date
from pathlib import Path
from typing import Any

from optimizer import Scenario, load_scenario, solve
from scenarios.executors import Outcome, run_scenarios

ROOT = Path(__file__).resolve().parent
EXAMPLE = ROOT.parent / "examples" / "seed_150x8" / "scenario.json"


def sweep(base: Scenario, count: int) -> list[Scenario]:
    """``count`` variants: weights on a grid around 40/30/20/10 and tolerances 10-20%."""
    grid = itertools.product(
        (30, 40, 50),
        (20, 30, 40),
        (10, 20, 30),
        (5, 10, 15),
        (0, 5),
        (0.10, 0.125, 0.15, 0.175, 0.20),
    )
    out = []
    for i, (churn, balance, expertise, expansion, continuity, tolerance) in enumerate(
        itertools.cycle(grid)
    ):
        if i == count:
            break
        out.append(
            base.replace(
                name=f"sweep-{i}",
                objectives={
                    "churn_risk": churn,
                    "balance": balance,
                    "expertise": expertise,
                    "expansion": expansion,
                    "continuity": continuity,
                },
                constraints={**base.constraints.model_dump(), "arr_tolerance": tolerance},
            )
        )
    return out


def summarize(label: str, outcomes: list[Outcome], seconds: float) -> dict[str, Any]:
    plans = [o.plan for o in outcomes if o.plan is not None]
    gaps = [p.gap for p in plans if p.gap is not None]
    statuses: dict[str, int] = {}
    for p in plans:
        statuses[p.status] = statuses.get(p.status, 0) + 1
    return {
        "executor": label,
        "scenarios": len(outcomes),
        "seconds": seconds,
        "per_second": len(outcomes) / seconds,
        "statuses": ", ".join(f"{k} {v}" for k, v in sorted(statuses.items())),
        "errors": sum(1 for o in outcomes if o.error),
        "median_gap": statistics.median(gaps) if gaps else None,
        "max_gap": max(gaps) if gaps else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description="Sweep throughput, local pool vs Dask.")
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--time-limit", type=float, default=0.05, help="seconds per solve")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--no-dask", action="store_true")
    parser.add_argument("--out", type=Path, default=ROOT / "results")
    args = parser.parse_args()

    base = load_scenario(EXAMPLE)
    base_plan = solve(base, time_limit_s=60)
    start_plan = base_plan.assignment()
    scenarios = sweep(base, args.count)
    options = {"time_limit_s": args.time_limit, "warm_start": start_plan}
    rows = []

    t = time.perf_counter()
    local = run_scenarios(scenarios, workers=args.workers, **options)
    rows.append(summarize(f"local pool ({args.workers} processes)", local, time.perf_counter() - t))
    print(rows[-1], flush=True)

    if not args.no_dask:
        from dask.distributed import Client, LocalCluster

        with (
            LocalCluster(
                n_workers=args.workers, threads_per_worker=1, processes=True, dashboard_address=None
            ) as cluster,
            Client(cluster) as client,
        ):
            client.run(lambda: __import__("optimizer"))  # workers import the engine before timing
            t = time.perf_counter()
            remote = run_scenarios(scenarios, scheduler=client, **options)
            rows.append(
                summarize(
                    f"Dask LocalCluster ({args.workers} workers x 1 thread)",
                    remote,
                    time.perf_counter() - t,
                )
            )
            print(rows[-1], flush=True)

    lines = [
        f"Measured {date.today().isoformat()} on {os.cpu_count()} cores ({platform.machine()}, Python "
        f"{platform.python_version()}): {args.count} variants of examples/seed_150x8 (weights and ARR "
        f"tolerance on a grid), each solved with HiGHS (1 thread), warm-started from the base plan, "
        f"time limit {args.time_limit:g} s per solve. The base plan itself ({base_plan.status}, gap "
        f"{100 * (base_plan.gap or 0):.3f}%) took {base_plan.seconds:.1f} s and is not counted.",
        "",
        "| executor | scenarios | seconds | scenarios/s | statuses | errors | median gap | max gap |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        median = "-" if r["median_gap"] is None else f"{100 * r['median_gap']:.2f}%"
        worst = "-" if r["max_gap"] is None else f"{100 * r['max_gap']:.2f}%"
        lines.append(
            f"| {r['executor']} | {r['scenarios']} | {r['seconds']:.1f} | {r['per_second']:.1f} | "
            f"{r['statuses']} | {r['errors']} | {median} | {worst} |"
        )
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "throughput.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
