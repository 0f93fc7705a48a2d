"""Is the time limit the wall time a user waits? ``solve`` at several sizes and limits.

    python -m benchmarks.time_limits                 # the default cases, about 3 minutes
    python -m benchmarks.time_limits --cases 5000x60@10,2000x20@10

Each case solves a generated team (seed 1, one solver thread) with the given limit, in its own
process (a fresh interpreter, as the CLI), and reports the wall time of the whole ``solve``
(instance, search, scoring, explanations) against the limit: the overrun in seconds and in
percent (target: within 10% or 2 s, whichever is larger). Results go to
``benchmarks/results/time_limits.md``.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent
RESULTS = ROOT / "results"
CASES = "150x8@5,2000x20@10,5000x60@10,5000x60@30,20000x120@20"

CHILD = """
import json, sys, time
from benchmarks.generator import generate
from optimizer import Scenario, solve
n, m, limit = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
data = generate(n, m, seed=1)
data["solver"]["threads"] = 1
scenario = Scenario.from_dict(data)
start = time.perf_counter()
plan = solve(scenario, time_limit_s=limit)
wall = time.perf_counter() - start
print(json.dumps({"wall": wall, "status": str(plan.status), "gap": plan.gap,
                  "held_note": plan.held_note}))
"""


def run(n: int, m: int, limit: float) -> dict[str, object]:
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(n), str(m), str(limit)],
        cwd=ROOT.parent,
        capture_output=True,
        text=True,
        check=True,
    )
    found = json.loads(out.stdout.strip().splitlines()[-1])
    wall = float(found["wall"])
    over = wall - limit
    return {
        "case": f"{n}x{m}",
        "limit": limit,
        "wall": round(wall, 2),
        "over_s": round(over, 2),
        "over_pct": round(100 * over / limit, 1),
        "within": over <= max(0.1 * limit, 2.0),
        "status": found["status"],
        "gap": found["gap"],
        "cut": "time limit" in str(found["held_note"]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default=CASES)
    args = parser.parse_args()
    rows = []
    for case in args.cases.split(","):
        size, limit = case.split("@")
        n, m = (int(v) for v in size.split("x"))
        rows.append(run(n, m, float(limit)))
        print(json.dumps(rows[-1]), flush=True)
    lines = [
        f"Measured {date.today()} on {platform.machine()}, Python {platform.python_version()}, "
        "one solver thread, generated teams (seed 1), each case in its own process.",
        "",
        "| team | limit s | wall s | over s | over % | within 10% or 2 s | status | gap | "
        "explanations cut |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        gap = "-" if r["gap"] is None else f"{float(r['gap']):.3%}"  # type: ignore[arg-type]
        lines.append(
            f"| {r['case']} | {r['limit']:g} | {r['wall']} | {r['over_s']} | {r['over_pct']} | "
            f"{'yes' if r['within'] else 'no'} | {r['status']} | {gap} | "
            f"{'yes' if r['cut'] else 'no'} |"
        )
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "time_limits.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
