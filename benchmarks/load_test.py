"""The HTTP API under load: many concurrent clients against a real server, phase by phase.

    python -m benchmarks.load_test                                  # 50 clients, 60 s per phase
    python -m benchmarks.load_test --clients 5 --seconds 5 --phases repeat,evaluate

Each phase starts its own server (``territory serve`` on a free 127.0.0.1 port, with a fresh
temporary SQLite store, so no queue spills from one phase into the next), waits for ``/health``,
then runs ``--clients`` clients that each send one request after the other for ``--seconds``;
requests still in flight then get up to ``--timeout`` to finish. The server is always stopped at
the end (also on errors and Ctrl-C), and the whole run has a hard deadline. Phases:

- ``repeat``: POST /v1/plans with the 150 x 8 example, reuse on (the first solve is then reused);
- ``distinct``: POST /v1/plans?reuse=false&time_limit_s=0.5, each request a different variant
  (one account's ARR changed by a few dollars), so every request is solved;
- ``evaluate``: POST /v1/evaluate with the example and its current assignment;
- ``jobs``: POST /v1/jobs?time_limit_s=0.5, then GET /v1/jobs/{id} until it ends.

Latencies cover every request, errors included (a timeout counts as its whole wait). Results go
to ``benchmarks/results/load_test.csv`` and ``.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import copy
import csv
import itertools
import json
import math
import os
import platform
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import httpx

from optimizer.scenario import read_json, resolve_files

ROOT = Path(__file__).resolve().parent
EXAMPLE = ROOT.parent / "examples" / "seed_150x8" / "scenario.json"
PHASES = ("repeat", "distinct", "evaluate", "jobs")
JSON = {"content-type": "application/json"}


@dataclass
class Phase:
    name: str
    latencies: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    statuses: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0
    server_errors: int = 0  # tracebacks in the server's log


def example() -> dict[str, Any]:
    data = resolve_files(read_json(EXAMPLE), EXAMPLE.parent)
    loaded: dict[str, Any] = json.loads(json.dumps(data, default=str))
    return loaded


def variant(base: dict[str, Any], index: int) -> bytes:
    """The example with one account's ARR raised by a few dollars (distinct per ``index``)."""
    data = copy.deepcopy(base)
    account = data["accounts"][index % len(data["accounts"])]
    account["arr"] = float(account["arr"]) + 1 + index // len(data["accounts"])
    return json.dumps(data).encode()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def start_server(workdir: Path, workers: int | None) -> tuple[subprocess.Popen[bytes], str, Path]:
    port = free_port()
    env = {
        **os.environ,
        "TERRITORY_DATABASE_URL": f"sqlite:///{workdir / 'store.db'}",
        "TMPDIR": str(workdir),  # the server's scratch files go with the phase's folder
    }
    if workers is not None:
        env["TERRITORY_WORKERS"] = str(workers)
    log = workdir / "server.log"
    command = [sys.executable, "-m", "cli", "serve", "--host", "127.0.0.1"]
    with log.open("wb") as out:
        process = subprocess.Popen(
            [*command, "--port", str(port)],
            cwd=ROOT.parent,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: the solver processes go with it
        )
    return process, f"http://127.0.0.1:{port}", log


def stop_server(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM (graceful: running solves are stopped), then SIGKILL the whole group."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=45)
        except subprocess.TimeoutExpired:
            print("the server did not stop within 45 s of SIGTERM: killed", file=sys.stderr)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


async def wait_healthy(client: httpx.AsyncClient, url: str, seconds: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + seconds
    while True:
        try:
            response = await client.get(f"{url}/health", timeout=2)
            if response.status_code == 200:
                health: dict[str, Any] = response.json()
                return health
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"the server at {url} did not answer /health in {seconds:g} s")
        await asyncio.sleep(0.2)


Request = Callable[[httpx.AsyncClient, str, int, Phase], Awaitable[None]]


def requests_for(base: dict[str, Any], timeout: float) -> dict[str, Request]:
    plain = json.dumps(base).encode()
    current = {a["id"]: a.get("current_csm") for a in base["accounts"]}
    evaluation = json.dumps({"scenario": base, "assignment": current}).encode()

    def checked(response: httpx.Response, phase: Phase) -> Any:
        if response.status_code >= 300:
            phase.errors[f"HTTP {response.status_code}"] += 1
            return None
        return response.json()

    async def repeat(client: httpx.AsyncClient, url: str, _i: int, phase: Phase) -> None:
        response = await client.post(f"{url}/v1/plans", content=plain, headers=JSON)
        body = checked(response, phase)
        if response.status_code == 202:
            phase.statuses["202 job"] += 1
        elif body is not None:
            reused = response.headers.get("x-territory-reused") == "true"
            phase.statuses[f"{body.get('status')}{' (reused)' if reused else ''}"] += 1

    async def distinct(client: httpx.AsyncClient, url: str, i: int, phase: Phase) -> None:
        response = await client.post(
            f"{url}/v1/plans",
            params={"reuse": "false", "time_limit_s": "0.5"},
            content=variant(base, i),
            headers=JSON,
        )
        body = checked(response, phase)
        if response.status_code == 202:
            phase.statuses["202 job"] += 1
        elif body is not None:
            phase.statuses[str(body.get("status"))] += 1

    async def evaluate(client: httpx.AsyncClient, url: str, _i: int, phase: Phase) -> None:
        response = await client.post(f"{url}/v1/evaluate", content=evaluation, headers=JSON)
        body = checked(response, phase)
        if body is not None:
            phase.statuses["feasible" if body.get("feasible") else "infeasible"] += 1

    async def jobs(client: httpx.AsyncClient, url: str, _i: int, phase: Phase) -> None:
        response = await client.post(
            f"{url}/v1/jobs", params={"time_limit_s": "0.5"}, content=plain, headers=JSON
        )
        job = checked(response, phase)
        give_up = time.monotonic() + timeout
        while job is not None and job["status"] in ("queued", "running"):
            if time.monotonic() > give_up:
                raise httpx.TimeoutException(f"job {job['id']} still {job['status']}")
            await asyncio.sleep(0.25)
            job = checked(await client.get(f"{url}/v1/jobs/{job['id']}"), phase)
        if job is not None:
            plan = job.get("plan") or {}
            phase.statuses[f"{job['status']} {plan.get('status', '')}".strip()] += 1

    return {"repeat": repeat, "distinct": distinct, "evaluate": evaluate, "jobs": jobs}


async def run_phase(
    name: str, send: Request, args: argparse.Namespace, workdir: Path
) -> tuple[Phase, dict[str, Any]]:
    phase = Phase(name)
    process, url, log = start_server(workdir, args.workers)
    limits = httpx.Limits(max_connections=args.clients + 5, max_keepalive_connections=args.clients)
    counter = itertools.count()
    try:
        async with httpx.AsyncClient(limits=limits, timeout=args.timeout) as client:
            health = await wait_healthy(client, url)
            start = time.monotonic()
            stop_at = start + args.seconds

            async def one_client() -> None:
                while time.monotonic() < stop_at:
                    t = time.monotonic()
                    try:
                        await send(client, url, next(counter), phase)
                    except httpx.TimeoutException:
                        phase.errors["timeout"] += 1
                    except httpx.TransportError as exc:
                        phase.errors[f"connection ({type(exc).__name__})"] += 1
                    except ValueError:
                        phase.errors["bad JSON"] += 1
                    phase.latencies.append(time.monotonic() - t)

            await asyncio.gather(*(one_client() for _ in range(args.clients)))
            phase.seconds = time.monotonic() - start
    finally:
        stop_server(process)
    phase.server_errors = log.read_text(errors="replace").count("Traceback")
    return phase, health


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def summary(phase: Phase) -> dict[str, Any]:
    lat = phase.latencies or [float("nan")]
    count = len(phase.latencies)
    return {
        "phase": phase.name,
        "requests": count,
        "seconds": round(phase.seconds, 1),
        "per_second": round(count / phase.seconds, 2) if phase.seconds else 0.0,
        **{f"p{q}_s": round(percentile(lat, q / 100), 3) for q in (50, 95, 99)},
        "max_s": round(max(lat), 3),
        "errors": sum(phase.errors.values()),
        "error_kinds": ", ".join(f"{k} {v}" for k, v in sorted(phase.errors.items())) or "-",
        "statuses": ", ".join(f"{k} {v}" for k, v in sorted(phase.statuses.items())) or "-",
        "server_tracebacks": phase.server_errors,
    }


async def run_all(args: argparse.Namespace, phases: list[str]) -> list[dict[str, Any]]:
    send = requests_for(example(), args.timeout)
    rows: list[dict[str, Any]] = []
    for name in phases:
        with tempfile.TemporaryDirectory(prefix=f"territory-load-{name}-") as tmp:
            phase, health = await run_phase(name, send[name], args, Path(tmp))
        rows.append({**summary(phase), "workers": health.get("workers")})
        print(rows[-1], flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description="The HTTP API under concurrent load.")
    parser.add_argument("--clients", type=int, default=50, help="concurrent clients")
    parser.add_argument("--seconds", type=float, default=60, help="how long each phase sends")
    parser.add_argument("--phases", default="repeat,distinct,evaluate,jobs")
    parser.add_argument("--workers", type=int, help="server solver processes (default: cores)")
    parser.add_argument(
        "--timeout",
        type=float,
        default=130,
        help="client timeout per request (default 130 s: past the server's 120 s sync wait, "
        "so its 202 answers are seen)",
    )
    parser.add_argument("--out", type=Path, default=ROOT / "results")
    args = parser.parse_args()
    phases = [p.strip() for p in args.phases.split(",") if p.strip()]
    unknown = sorted(set(phases) - set(PHASES))
    if unknown or not phases or args.clients < 1 or args.seconds <= 0:
        parser.error(f"phases are {', '.join(PHASES)}; clients >= 1 and seconds > 0")
    # Per phase: server start, sending, in-flight requests finishing, server stop.
    deadline = len(phases) * (60 + args.seconds + args.timeout + 60)
    try:
        rows = asyncio.run(asyncio.wait_for(run_all(args, phases), deadline))
    except TimeoutError:
        sys.exit(f"load test stopped: the overall deadline of {deadline:g} s passed")
    except KeyboardInterrupt:
        sys.exit("load test interrupted (the server was stopped)")

    today = date.today().isoformat()
    machine = f"{os.cpu_count()} cores ({platform.machine()}, {platform.platform()}, Python {platform.python_version()})"
    args.out.mkdir(parents=True, exist_ok=True)
    with (args.out / "load_test.csv").open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, ["date", "machine", "clients", "seconds_per_phase", *rows[0]])
        writer.writeheader()
        for r in rows:
            meta = {"date": today, "machine": machine, "clients": args.clients}
            writer.writerow({**meta, "seconds_per_phase": args.seconds, **r})
    lines = [
        f"Measured {today} on {machine}; the load generator runs on the same machine. "
        f"{args.clients} concurrent clients, {args.seconds:g} s of sending per phase, client "
        f"timeout {args.timeout:g} s, {rows[0]['workers']} solver worker(s), SQLite store, "
        "a fresh server per phase. Example: examples/seed_150x8 (150 accounts x 8 CSMs).",
        "",
        "| phase | requests | seconds | req/s | p50 s | p95 s | p99 s | max s | errors | statuses | server tracebacks |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        errors = f"{r['errors']} ({r['error_kinds']})" if r["errors"] else "0"
        lines.append(
            f"| {r['phase']} | {r['requests']} | {r['seconds']} | {r['per_second']} | "
            f"{r['p50_s']} | {r['p95_s']} | {r['p99_s']} | {r['max_s']} | {errors} | "
            f"{r['statuses']} | {r['server_tracebacks']} |"
        )
    (args.out / "load_test.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
