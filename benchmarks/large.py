"""Large teams: what the engine reaches on 20,000 x 100 up to 250,000 x 1,000 accounts x CSMs.

Each size runs in its own process (so its peak memory is its own): generate the seeded
synthetic team, solve it with the default settings (``solver.strategy = auto``, which picks
column generation at 20,000 x 100 and the Lagrangian decomposition above 5,000,000 eligible
pairs; see docs/scenario-format.md), and record the plan's value, the
full model's bound, the gap, the seconds and the peak resident memory.

    python -m benchmarks.large                       # the default sizes and time limits
    python -m benchmarks.large --sizes 20000x100 --time-limit 60

Results go to ``benchmarks/results/large.md`` and ``.csv``.
"""

from __future__ import annotations

import argparse
import csv
import json
import multiprocessing
import os
import platform
import resource
import time
from datetime import date
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).parent / "results"
#: (accounts, CSMs, time limit in seconds): the issue's targets are 0.5% at 60 s for
#: 20,000 x 100 and 1% at 5 minutes for 250,000 x 1,000.
DEFAULT = ((20_000, 100, 60.0), (50_000, 250, 120.0), (250_000, 1_000, 300.0))


def run_one(n: int, m: int, limit: float, threads: int, queue: Any) -> None:
    from benchmarks.generator import generate
    from optimizer import Scenario, solve

    start = time.perf_counter()
    data = generate(n, m)
    data["solver"].update({"time_limit_s": limit, "threads": threads})
    scenario = Scenario.from_dict(data)
    ready = time.perf_counter() - start
    plan = solve(scenario)
    queue.put(
        {
            "accounts": n,
            "csms": m,
            "time_limit_s": limit,
            "setup_s": round(ready, 1),
            "solve_s": round(plan.seconds, 1),
            "strategy": "lagrangian"
            if "Lagrangian decomposition" in plan.message
            else "columns"
            if "column generation" in plan.message
            else "full",
            "status": plan.status,
            "objective": plan.objective,
            "bound": plan.bound,
            "gap": plan.gap,
            "peak_gib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2),
            "message": plan.message,
        }
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="*", help="e.g. 20000x100 (default: three sizes)")
    parser.add_argument("--time-limit", type=float, help="seconds for every size")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=RESULTS / "large")
    args = parser.parse_args()
    sizes = list(DEFAULT)
    if args.sizes:
        chosen = [tuple(int(v) for v in s.lower().split("x")) for s in args.sizes]
        limits = {(n, m): t for n, m, t in DEFAULT}
        sizes = [(n, m, limits.get((n, m), 60.0)) for n, m in chosen]
    if args.time_limit is not None:
        sizes = [(n, m, args.time_limit) for n, m, _ in sizes]
    rows = []
    context = multiprocessing.get_context("spawn")
    for n, m, limit in sizes:
        queue = context.Queue()
        process = context.Process(target=run_one, args=(n, m, limit, args.threads, queue))
        process.start()
        row = queue.get()
        process.join()
        print(json.dumps(row))
        rows.append(row)
    write(rows, args.out, args.threads)


def write(rows: list[dict[str, Any]], out_path: Path, threads: int) -> None:
    """Write ``rows`` as ``out_path`` .csv and .md."""
    out_path.parent.mkdir(parents=True, exist_ok=True)
    with open(out_path.with_suffix(".csv"), "w", newline="", encoding="utf-8") as out:
        writer = csv.DictWriter(out, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    lines = [
        f"Large teams, {date.today().isoformat()}, {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, {threads} solver thread(s), default settings "
        "(strategy auto: column generation up to 5,000,000 eligible pairs, Lagrangian "
        "decomposition above).",
        "",
        "| accounts x CSMs | strategy | time limit | setup s | solve s | status | plan "
        "| full-model bound | gap | peak memory |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        value = "-" if r["objective"] is None else f"{r['objective']:.4f}"
        bound = "-" if r["bound"] is None else f"{r['bound']:.4f}"
        gap = "-" if r["gap"] is None else f"{r['gap']:.2%}"
        lines.append(
            f"| {r['accounts']:,} x {r['csms']:,} | {r['strategy']} | {r['time_limit_s']:.0f} s "
            f"| {r['setup_s']} "
            f"| {r['solve_s']} | {r['status']} | {value} | {bound} | {gap} | {r['peak_gib']} GiB |"
        )
    out_path.with_suffix(".md").write_text("\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
