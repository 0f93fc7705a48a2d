"""The API as deployed: ``territory serve`` in its own process, spoken to over real HTTP.

These tests cover what an in-process client cannot: the CLI entry point and uvicorn, the worker
processes, request bodies streamed without a length, and what survives the server being
killed (a job it was running becomes ``failed`` and can be retried; finished plans stay) or
stopped (it exits cleanly, keeps the running job's best plan and leaves no solver behind).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT

httpx = pytest.importorskip("httpx")


from api.store import Store  # noqa: E402
from benchmarks.generator import generate  # noqa: E402
from optimizer.scenario import read_json, resolve_files  # noqa: E402

TINY = ROOT / "examples" / "tiny" / "scenario.json"
SEED = ROOT / "examples" / "seed_150x8" / "scenario.json"
#: The proven optimum of examples/tiny (as docs/check_docs.py quotes it).
TINY_OPTIMUM = 0.18459
START_TIMEOUT_S = 60.0


def inline(path: Path) -> dict[str, Any]:
    """A scenario file as the JSON body the API takes (CSV rows read in)."""
    data = resolve_files(read_json(path), path.parent)
    return json.loads(json.dumps(data, default=str))


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    """One ``territory serve`` process (in its own process group, with its solver processes)."""

    process: subprocess.Popen[bytes]
    url: str
    log: Path
    client: Any = field(init=False)

    def __post_init__(self) -> None:
        self.client = httpx.Client(base_url=self.url, timeout=60.0)

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"the server exited with {self.process.returncode}:\n{self.output()}")
            try:
                if self.client.get("/health", timeout=2.0).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        pytest.fail(
            f"the server did not answer /health in {START_TIMEOUT_S:.0f} s:\n{self.output()}"
        )

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 60.0) -> int:
        """Send ``sig`` and wait for the server to exit; its exit code."""
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
                pytest.fail(f"the server did not stop in {timeout:.0f} s:\n{self.output()}")
        return self.process.returncode

    def stopped_cleanly(self, sig: int = signal.SIGTERM, timeout: float = 60.0) -> bool:
        """Stop with ``sig``: True when the app shut down and the process exited for it.

        uvicorn shuts down gracefully and then re-raises the signal it caught, so a clean exit
        is status 0 or death by that same signal (which service managers count as clean).
        """
        code = self.stop(sig, timeout)
        return code in (0, -sig) and "Application shutdown complete" in self.output()

    def group_alive(self) -> bool:
        """Whether any process of the server's group (e.g. a solver process) is still running."""
        try:
            os.killpg(self.process.pid, 0)
        except ProcessLookupError:
            return False
        return True

    def cleanup(self) -> None:
        self.client.close()
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        if self.group_alive():  # solver processes left behind by a killed server
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)


def launch(log: Path, **settings: str) -> Server:
    """``territory serve`` on a free loopback port, with the caller's ``TERRITORY_*`` settings
    only (none inherited), writing its output to ``log``; not yet waited for."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TERRITORY_")}
    env.update(PYTHONUNBUFFERED="1", **settings)
    port = free_port()
    command = [sys.executable, "-m", "cli", "serve", "--host", "127.0.0.1"]
    with log.open("wb") as out:
        process = subprocess.Popen(
            [*command, "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: the solvers can be found
        )
    return Server(process, f"http://127.0.0.1:{port}", log)


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'api.db'}"


@pytest.fixture
def start_server(tmp_path: Path, database_url: str) -> Iterator[Callable[..., Server]]:
    """Start servers on the test's database (``start_server(**env)``); all are ended after."""
    servers: list[Server] = []

    def start(**extra_env: str) -> Server:
        server = launch(
            tmp_path / f"server-{len(servers)}.log",
            TERRITORY_DATABASE_URL=database_url,
            TERRITORY_WORKERS="1",
            TERRITORY_SYNC_TIME_LIMIT_S="5",
            **extra_env,
        )
        servers.append(server)
        server.wait_ready()
        return server

    try:
        yield start
    finally:
        for server in servers:
            server.cleanup()


def wait_for(
    client: Any, job_id: str, done: Callable[[dict[str, Any]], bool], timeout: float = 60.0
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        response = client.get(f"/v1/jobs/{job_id}")
        assert response.status_code == 200, response.text
        job = response.json()
        if done(job):
            return job
        assert time.monotonic() < deadline, f"job {job_id} still {job['status']}: {job}"
        time.sleep(0.1)


def start_long_job(server: Server, backend: str = "highs") -> dict[str, Any]:
    """Queue the 150 x 8 example with a 60 s limit and wait until its solver has a plan."""
    params: dict[str, Any] = {"time_limit_s": 60, "backend": backend}
    response = server.client.post("/v1/jobs", params=params, json=inline(SEED))
    assert response.status_code == 202, response.text
    job_id = response.json()["id"]

    def has_a_plan(job: dict[str, Any]) -> bool:
        if job["status"] in ("done", "failed", "cancelled"):
            return True
        return job["status"] == "running" and (job["progress"] or {}).get("incumbent") is not None

    return wait_for(server.client, job_id, has_a_plan)


def test_plans_and_jobs_over_http(start_server: Callable[..., Server]) -> None:
    server = start_server()
    client = server.client

    health = client.get("/health").json()
    assert health["status"] == "ok" and health["workers"] == 1 and health["database"] == "sqlite"

    # A synchronous plan: the proven optimum of the tiny example.
    response = client.post("/v1/plans", json=inline(TINY))
    assert response.status_code == 200, response.text
    plan = response.json()
    assert plan["status"] == "optimal", plan["message"]
    assert plan["objective"]["total"] == pytest.approx(TINY_OPTIMUM, abs=1e-4)
    assert response.headers["location"] == f"/v1/plans/{plan['plan_id']}"
    stored = client.get(response.headers["location"])
    assert stored.status_code == 200 and stored.json() == plan

    # The same input again is answered from the store.
    again = client.post("/v1/plans", json=inline(TINY))
    assert again.status_code == 200 and again.headers.get("x-territory-reused") == "true"
    assert again.json()["plan_id"] == plan["plan_id"]

    # A job: 202 + Location at once, then followed to its end.
    response = client.post("/v1/jobs", json=inline(TINY))
    assert response.status_code == 202, response.text
    job = response.json()
    assert response.headers["location"] == f"/v1/jobs/{job['id']}"
    assert job["status"] in ("queued", "running", "done")
    job = wait_for(client, job["id"], lambda j: j["status"] not in ("queued", "running"))
    assert job["status"] == "done", job
    assert job["plan"]["status"] == "optimal"
    assert job["plan"]["objective"]["total"] == pytest.approx(TINY_OPTIMUM, abs=1e-4)
    assert job["links"]["plan"] == f"/v1/plans/{job['plan_id']}"
    assert any(j["id"] == job["id"] for j in client.get("/v1/jobs").json())

    # The plan's assignments as CSV: one row per account.
    csv = client.get(f"/v1/plans/{job['plan_id']}/assignments.csv")
    assert csv.status_code == 200, csv.text
    assert csv.headers["content-type"].startswith("text/csv")
    assert "attachment" in csv.headers["content-disposition"]
    lines = csv.text.strip().splitlines()
    assert "account_id" in lines[0]
    assert len(lines) == 1 + len(inline(TINY)["accounts"])

    # Errors are JSON with the field named.
    bad = inline(TINY)
    bad["accounts"][0]["arr"] = -1
    response = client.post("/v1/plans", json=bad)
    assert response.status_code == 422
    assert any(i["path"] == "accounts[A1].arr" for i in response.json()["issues"])
    assert client.get("/v1/plans/nope").status_code == 404
    assert client.get("/v1/jobs/nope").status_code == 404


def test_oversized_bodies_are_refused_even_when_streamed(
    start_server: Callable[..., Server],
) -> None:
    server = start_server(TERRITORY_MAX_REQUEST_BYTES="10000")
    body = json.dumps(inline(TINY)).encode() + b" " * 20_000

    announced = server.client.post(
        "/v1/plans", content=body, headers={"content-type": "application/json"}
    )
    assert announced.status_code == 413, announced.text

    def chunks() -> Iterator[bytes]:  # no Content-Length: chunked transfer encoding
        for start in range(0, len(body), 4096):
            yield body[start : start + 4096]

    streamed = server.client.post(
        "/v1/plans", content=chunks(), headers={"content-type": "application/json"}
    )
    assert streamed.status_code == 413, streamed.text
    assert "larger than this server accepts" in streamed.json()["detail"]
    assert server.client.get("/health").status_code == 200


@pytest.mark.parametrize("backend", ["highs", "cbc"])
def test_a_killed_server_fails_its_running_job_and_keeps_finished_plans(
    start_server: Callable[..., Server], tmp_path: Path, backend: str
) -> None:
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    first = start_server(TMPDIR=str(scratch))
    finished = first.client.post("/v1/plans", json=inline(TINY))
    assert finished.status_code == 200, finished.text
    plan = finished.json()

    if backend == "highs":
        job = start_long_job(first, backend)
    else:  # CBC reports no incumbent on the way: a team it cannot prove in seconds, running
        team = generate(400, 12, seed=3)
        params = {"time_limit_s": 60, "backend": "cbc"}
        job = first.client.post("/v1/jobs", params=params, json=team).json()
        job = wait_for(first.client, job["id"], lambda j: j["status"] != "queued")
        time.sleep(3.0)
    assert job["status"] == "running", job
    first.stop(signal.SIGKILL)
    # Its solver process (and CBC's, beneath it) die with it: nothing is left to clean up.
    deadline = time.monotonic() + 3
    while first.group_alive():
        assert time.monotonic() < deadline, "a solver process outlived the killed server"
        time.sleep(0.05)
    assert [p.name for p in scratch.iterdir()] != []  # the killed server's plans folder

    second = start_server(TMPDIR=str(scratch))
    failed = second.client.get(f"/v1/jobs/{job['id']}").json()
    assert failed["status"] == "failed", failed
    assert "retry" in failed["error"], failed["error"]
    # The best plan its solver had saved is kept, and the dead server's folder is gone.
    if backend == "highs":
        assert failed["plan_id"] is not None, failed
        assert second.client.get(f"/v1/plans/{failed['plan_id']}").json()["assignments"]
    assert len([p for p in scratch.iterdir() if p.name.startswith("territory-jobs-")]) == 1
    assert failed["links"]["retry"] == f"/v1/jobs/{job['id']}/retry"

    kept = second.client.get(f"/v1/plans/{plan['plan_id']}")
    assert kept.status_code == 200 and kept.json() == plan

    retried = second.client.post(f"/v1/jobs/{job['id']}/retry")
    assert retried.status_code == 202, retried.text
    new = retried.json()
    assert new["retry_of"] == job["id"] and new["id"] != job["id"]
    assert retried.headers["location"] == f"/v1/jobs/{new['id']}"
    assert new["scenario_id"] == failed["scenario_id"]
    # Only failed or cancelled jobs are resubmitted.
    assert second.client.post(f"/v1/jobs/{new['id']}/retry").status_code == 409

    cancelled = second.client.delete(f"/v1/jobs/{new['id']}")
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "cancelled"
    assert second.stopped_cleanly(), second.output()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_stopped_server_exits_cleanly_and_keeps_the_best_plan(
    start_server: Callable[..., Server], database_url: str, sig: int
) -> None:
    server = start_server()
    job = start_long_job(server)
    assert job["status"] == "running", job

    started = time.monotonic()
    assert server.stopped_cleanly(sig), server.output()
    assert time.monotonic() - started < 30, "the running solve held the shutdown up"
    deadline = time.monotonic() + 10
    while server.group_alive():  # the solver process ends with the server
        assert time.monotonic() < deadline, "a solver process outlived the server"
        time.sleep(0.1)

    store = Store(database_url)
    try:
        stopped = store.job(job["id"])
        assert stopped is not None
        assert stopped.status == "failed", stopped
        assert stopped.error is not None and "retry" in stopped.error, stopped.error
        assert stopped.plan_id is not None, "the best plan found so far was not kept"
        best = store.plan(stopped.plan_id)
        assert best is not None and best["assignments"]
    finally:
        store.close()


def test_sigterm_drains_first_queued_jobs_stay_queued_and_waiting_clients_are_answered(
    start_server: Callable[..., Server], database_url: str
) -> None:
    import threading

    server = start_server(TERRITORY_SYNC_WAIT_S="120")
    running = start_long_job(server)
    assert running["status"] == "running", running
    queued = [
        server.client.post("/v1/jobs", params={"time_limit_s": 50 + k}, json=inline(SEED)).json()
        for k in range(2)
    ]
    answers: list[Any] = []

    def synchronous() -> None:  # POST /v1/plans waits (up to 120 s) for its queued solve
        with httpx.Client(base_url=server.url, timeout=90.0) as client:
            try:
                answers.append(client.post("/v1/plans", json=inline(TINY)))
            except httpx.HTTPError as exc:
                answers.append(exc)

    waiting = threading.Thread(target=synchronous)
    waiting.start()
    time.sleep(1.0)  # the synchronous request is in, waiting behind the running job
    started = time.monotonic()
    assert server.stopped_cleanly(signal.SIGTERM), server.output()
    waiting.join(timeout=30)
    assert not waiting.is_alive(), "the synchronous request got no answer"
    (answer,) = answers
    assert isinstance(answer, httpx.Response), answer
    # An answer it can act on: the job to follow after the restart, or a 503 to retry.
    assert answer.status_code in (202, 503), answer.text
    assert time.monotonic() - started < 30

    store = Store(database_url)
    try:
        for job in queued:
            kept = store.job(job["id"])
            assert kept is not None and kept.status == "queued", kept
        if answer.status_code == 202:
            kept = store.job(answer.json()["id"])
            assert kept is not None and kept.status == "queued", kept
        stopped = store.job(running["id"])
        assert stopped is not None and stopped.plan_id is not None  # its best plan kept
    finally:
        store.close()
    # The next start runs what was queued.
    again = start_server()
    done = wait_for(again.client, queued[0]["id"], lambda j: j["status"] in ("done", "failed"), 120)
    assert done["status"] == "done", done
