"""Between re-plans: routing latency through the HTTP API with the snapshot warm, and monitor time.

    python -m benchmarks.between                      # 2,000 x 20 and 20,000 x 100, 200 routes each
    python -m benchmarks.between --sizes 2000x20 --routes 50

For each size a real server (``territory serve`` on a free 127.0.0.1 port, a fresh SQLite
store) is started; the generated team is posted once to ``POST /v1/snapshots`` (timed: the
one-off validation), then one new account after the other is routed with ``POST /v1/route``
(``snapshot_id``, not committed, so that every request sees the same book): the client-side
latency of each request, p50 and p99. The same routes are timed in process
(:class:`optimizer.placement.Router`) for comparison, and ``monitor`` is timed on the snapshot
alone and since an earlier snapshot (every ARR moved a few percent, 90 days before).
Results go to ``benchmarks/results/between.csv`` and ``.md``.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import platform
import random
import statistics
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

import httpx

from optimizer import Scenario
from optimizer.placement import Router
from scenarios.monitor import monitor

from .generator import generate
from .load_test import percentile, start_server, stop_server

ROOT = Path(__file__).resolve().parent
RESULTS = ROOT / "results"


def new_account(rng: random.Random, index: int, industries: list[str]) -> dict[str, Any]:
    return {
        "id": f"NEW{index:05d}",
        "name": f"New account {index}",
        "arr": round(rng.uniform(5_000, 200_000)),
        "churn_risk": rng.choice(["low", "medium", "high"]),
        "expansion_potential": rng.choice(["low", "medium", "high"]),
        "industry": rng.choice(industries),
        "complexity": rng.randint(1, 5),
    }


def earlier(data: dict[str, Any], rng: random.Random) -> Scenario:
    """The same team 90 days before, every ARR a few percent different."""
    then = json.loads(json.dumps(data))
    then["as_of"] = (dt.date.fromisoformat(data["as_of"]) - dt.timedelta(days=90)).isoformat()
    for account in then["accounts"]:
        account["arr"] = round(account["arr"] * rng.uniform(0.85, 1.1), 2)
    return Scenario.from_dict(then)


def wait_up(url: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"the server at {url} did not answer /health in {seconds:g} s")


def run_size(n: int, m: int, routes: int) -> dict[str, Any]:
    data = generate(n, m, seed=1)
    snapshot = Scenario.from_dict(data)
    industries = sorted({a.industry for a in snapshot.accounts if a.industry})
    rng = random.Random(7)
    accounts = [new_account(rng, i, industries) for i in range(routes)]

    # In process.
    router = Router(snapshot)
    local = []
    for account in accounts:
        start = time.perf_counter()
        routing = router.route([account])
        local.append(time.perf_counter() - start)
        assert routing.placements[0].placed or routing.placements[0].candidates

    # Monitor.
    start = time.perf_counter()
    alone = monitor(snapshot)
    monitor_s = time.perf_counter() - start
    before = earlier(data, random.Random(3))
    start = time.perf_counter()
    since = monitor(snapshot, before)
    monitor_since_s = time.perf_counter() - start

    # Through the API.
    with tempfile.TemporaryDirectory() as folder:
        process, url, _log = start_server(Path(folder), workers=1)
        try:
            wait_up(url)
            with httpx.Client(timeout=120) as client:
                start = time.perf_counter()
                kept = client.post(f"{url}/v1/snapshots", json=data)
                keep_s = time.perf_counter() - start
                kept.raise_for_status()
                key = kept.json()["snapshot_id"]
                remote = []
                placed = 0
                for account in accounts:
                    body = {"snapshot_id": key, "accounts": [account]}
                    start = time.perf_counter()
                    answer = client.post(f"{url}/v1/route", json=body)
                    remote.append(time.perf_counter() - start)
                    answer.raise_for_status()
                    placed += answer.json()["all_placed"]
        finally:
            stop_server(process)
    return {
        "size": f"{n}x{m}",
        "routes": routes,
        "placed": placed,
        "snapshot_post_s": round(keep_s, 2),
        "api_p50_ms": round(1000 * percentile(remote, 0.5), 1),
        "api_p99_ms": round(1000 * percentile(remote, 0.99), 1),
        "api_max_ms": round(1000 * max(remote), 1),
        "in_process_p50_ms": round(1000 * percentile(local, 0.5), 1),
        "in_process_p99_ms": round(1000 * percentile(local, 0.99), 1),
        "monitor_s": round(monitor_s, 2),
        "monitor_since_s": round(monitor_since_s, 2),
        "findings": len(alone.findings),
        "findings_since": len(since.findings),
        "mean_api_ms": round(1000 * statistics.fmean(remote), 1),
    }


def write(rows: list[dict[str, Any]]) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    with (RESULTS / "between.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    lines = [
        f"Measured {date.today()} on {platform.machine()}, Python {platform.python_version()}; "
        "one server process (1 solver worker), requests one after the other from one client "
        "on the same machine; new accounts drawn at random (seed 7), not committed.",
        "",
        "| accounts x CSMs | routes | placed | POST /v1/snapshots s | route p50 ms | route p99 ms "
        "| route max ms | in-process p50 ms | in-process p99 ms | monitor s | monitor since s "
        "| findings (since) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['size']} | {r['routes']} | {r['placed']} | {r['snapshot_post_s']} | "
            f"{r['api_p50_ms']} | {r['api_p99_ms']} | {r['api_max_ms']} | "
            f"{r['in_process_p50_ms']} | {r['in_process_p99_ms']} | {r['monitor_s']} | "
            f"{r['monitor_since_s']} | {r['findings']} ({r['findings_since']}) |"
        )
    (RESULTS / "between.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="2000x20,20000x100")
    parser.add_argument("--routes", type=int, default=200)
    args = parser.parse_args()
    rows = []
    for size in args.sizes.split(","):
        n, m = (int(v) for v in size.lower().split("x"))
        rows.append(run_size(n, m, args.routes))
        print(json.dumps(rows[-1]), flush=True)
    write(rows)


if __name__ == "__main__":
    main()
