"""A bounded pool of solver processes fed from the job store.

``workers`` processes (spawned once, imports warm) each run one task at a time; jobs beyond them
wait in a FIFO queue, so concurrent requests queue instead of oversubscribing the cores. Each
process is driven by one thread of the server, which stores progress and results. Cancelling a
running job, or a job passing its server-side time limit, kills its process (a new one replaces
it) and keeps the best plan the solver had written so far (:func:`optimizer.recover`).
"""

from __future__ import annotations

import asyncio
import contextlib
import glob
import multiprocessing
import os
import queue
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

from optimizer import Termination
from optimizer.recovery import companions

from .store import FINAL, JobStatus, Store
from .worker import main as worker_main

#: Extra seconds a job may run past its solver time limit before the server stops it.
GRACE_S = 30.0


@dataclass
class _Running:
    job_id: str
    deadline: float
    stop: str | None = None  # "cancel" or "timeout" once asked to stop
    progress: dict[str, Any] = field(default_factory=dict)


class Runner:
    def __init__(self, store: Store, workers: int, max_time_limit_s: float):
        self.store = store
        self.workers = workers
        self.max_time_limit_s = max_time_limit_s
        self._queue: queue.Queue[str | None] = queue.Queue()
        # The jobs waiting in the queue and not cancelled: what counts towards the queue limit.
        self._waiting: set[str] = set()
        self._running: dict[str, _Running] = {}
        self._lock = threading.Lock()
        self._waiters: dict[str, list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]]] = {}
        self._closed = threading.Event()
        # Set when the server is asked to stop: no job is started any more (those waiting stay
        # queued in the store, for the next start), and waiting requests are answered at once.
        self._draining = threading.Event()
        self._tmp = ""  # a folder for the plans solvers save while running (made on start)
        self._context = multiprocessing.get_context("spawn")
        self._threads = [
            threading.Thread(target=self._slot, name=f"territory-worker-{i}", daemon=True)
            for i in range(workers)
        ]

    def start(self) -> None:
        self._tmp = tempfile.mkdtemp(prefix=FOLDER_PREFIX)
        with open(os.path.join(self._tmp, OWNER), "w", encoding="utf-8") as handle:
            handle.write(str(os.getpid()))
        self._recover_orphans()
        for job_id in self.store.recover_after_restart():
            self.submit(job_id)
        for thread in self._threads:
            thread.start()

    @property
    def draining(self) -> bool:
        return self._draining.is_set()

    def drain(self) -> None:
        """Stop taking work (the first step of a shutdown): queued jobs stay queued for the next
        start, running ones go on until :meth:`close`, and every request waiting for a job is
        answered now (with the job to follow)."""
        self._draining.set()
        with self._lock:
            waiting = [job_id for job_id in self._waiters]
        for job_id in waiting:
            self._notify(job_id)

    def close(self) -> None:
        """Stop taking work; running jobs are stopped and kept as failed with their best plan."""
        self.drain()
        self._closed.set()
        with self._lock:
            for run in self._running.values():
                run.stop = run.stop or "shutdown"
        for _ in self._threads:
            self._queue.put(None)
        for thread in self._threads:
            thread.join(timeout=30)
        if self._tmp:
            shutil.rmtree(self._tmp, ignore_errors=True)

    @property
    def queued(self) -> int:
        """Jobs waiting for a solver process (a cancelled one no longer counts)."""
        with self._lock:
            return len(self._waiting)

    def submit(self, job_id: str) -> None:
        with self._lock:
            self._waiting.add(job_id)
        self._queue.put(job_id)

    def cancel(self, job_id: str) -> bool:
        """Cancel a job: a queued one at once, a running one when its process is stopped."""
        with self._lock:
            run = self._running.get(job_id)
            if run is not None:
                run.stop = "cancel"
                return True
        stopped = self.store.finish(
            job_id, JobStatus.CANCELLED, error="Cancelled before it started."
        )
        with self._lock:
            self._waiting.discard(job_id)
        if stopped:
            self._notify(job_id)
        return stopped

    async def wait(self, job_id: str, timeout: float) -> bool:
        """Wait until ``job_id`` ends (True) or ``timeout`` passes (False)."""
        if self._draining.is_set():
            job = self.store.job(job_id)
            return job is not None and job.status in FINAL
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        with self._lock:
            self._waiters.setdefault(job_id, []).append((loop, future))
        try:
            job = self.store.job(job_id)
            if job is not None and job.status in FINAL:
                return True
            try:
                await asyncio.wait_for(asyncio.shield(future), timeout)
            except TimeoutError:
                return False
            if self._draining.is_set():  # woken by the shutdown: ended only if it has
                job = self.store.job(job_id)
                return job is not None and job.status in FINAL
            return True
        finally:
            with self._lock:
                waiting = self._waiters.get(job_id, [])
                if (loop, future) in waiting:
                    waiting.remove((loop, future))
                if not waiting:
                    self._waiters.pop(job_id, None)

    def _notify(self, job_id: str) -> None:
        with self._lock:
            waiting = list(self._waiters.get(job_id, []))
        for loop, future in waiting:
            loop.call_soon_threadsafe(_resolve, future)

    # One slot: a thread driving one solver process ---------------------------------------
    def _spawn(self) -> tuple[Any, Connection]:
        ours, theirs = self._context.Pipe()
        process = self._context.Process(target=worker_main, args=(theirs, os.getpid()), daemon=True)
        process.start()
        theirs.close()
        return process, ours

    def _slot(self) -> None:
        process, conn = self._spawn()
        try:
            while not self._closed.is_set():
                job_id = self._queue.get()
                if job_id is None:
                    break
                if self._draining.is_set():
                    continue  # it stays queued in the store: the next start runs it
                with self._lock:
                    self._waiting.discard(job_id)
                alive = self._run(job_id, process, conn)
                if not alive:
                    process.kill()
                    process.join()
                    conn.close()
                    if self._closed.is_set():
                        return
                    process, conn = self._spawn()
        finally:
            if process.is_alive():
                with contextlib.suppress(OSError):
                    conn.send(None)
                process.join(timeout=5)
                if process.is_alive():
                    process.kill()

    def _run(self, job_id: str, process: Any, conn: Connection) -> bool:
        """Run one job on ``process``; False when the process had to be stopped."""
        job = self.store.job(job_id)
        if job is None or not self.store.start(job_id):
            return True
        scenario = self.store.scenario(job.scenario_id)
        request = job.request
        limit = float(request.get("time_limit_s") or self.max_time_limit_s)
        runs = max(1, int(request.get("runs", 1)))  # solves in a compare / sensitivity job
        solution_file = os.path.join(self._tmp, f"{job_id}.sol")
        run = _Running(job_id, time.monotonic() + limit * runs * 1.5 + GRACE_S)
        with self._lock:
            self._running[job_id] = run
        try:
            conn.send(
                {
                    "kind": job.kind,
                    "scenario": scenario,
                    "request": request,
                    "solution_file": solution_file,
                }
            )
            while True:
                if run.stop is None and time.monotonic() > run.deadline:
                    run.stop = "timeout"
                if run.stop is not None:
                    self._stopped(job, scenario, run, solution_file)
                    return False
                if not conn.poll(0.1):
                    if not process.is_alive():
                        self.store.finish(
                            job_id,
                            JobStatus.FAILED,
                            error="The solver process ended unexpectedly (out of memory?). "
                            f"Resubmit with POST /v1/jobs/{job_id}/retry.",
                        )
                        return False
                    continue
                try:
                    kind, payload = conn.recv()
                except (EOFError, OSError):
                    continue  # the liveness check above reports it
                if kind == "progress":
                    run.progress = payload
                    self.store.set_progress(job_id, payload)
                elif kind == "done":
                    self.store.finish(
                        job_id,
                        JobStatus.DONE,
                        plan=payload.get("plan"),
                        result=payload.get("result"),
                    )
                    return True
                else:
                    self.store.finish(job_id, JobStatus.FAILED, error=str(payload))
                    return True
        finally:
            with self._lock:
                self._running.pop(job_id, None)
            # The plans file and what the large-team strategies keep beside it.
            for path in companions(solution_file):
                if os.path.exists(path):
                    os.remove(path)
            self._notify(job_id)

    def _stopped(
        self, job: Any, scenario: dict[str, Any] | None, run: _Running, solution_file: str
    ) -> None:
        """Record a job stopped from outside, with the best plan found so far for a plan job."""
        reason = {
            "cancel": "Cancelled",
            "timeout": "Stopped by the server's time limit",
            "shutdown": "Stopped because the server shut down",
        }[run.stop or "cancel"]
        status = {"timeout": JobStatus.DONE, "shutdown": JobStatus.FAILED}.get(
            run.stop or "", JobStatus.CANCELLED
        )
        # A server's time limit ended the solve like its own would have; the rest interrupted it.
        termination = Termination.TIME_LIMIT if run.stop == "timeout" else Termination.INTERRUPTED
        plan, reason = _best_plan(job, scenario, solution_file, run.progress, reason, termination)
        error = None if plan else reason + "."
        if run.stop == "shutdown":
            error = (
                f"{reason} while this job was running (its best plan so far is kept). "
                f"Resubmit it with POST /v1/jobs/{job.id}/retry."
            )
        self.store.finish(job.id, status, plan=plan, error=error)

    def _recover_orphans(self) -> None:
        """The folders of servers that died without cleaning up (``kill -9``): each job they
        were running ends ``failed`` with the best plan its solver had saved, and the folders
        go. A folder whose server is alive (another server on this machine) is left alone."""
        for folder in glob.glob(os.path.join(tempfile.gettempdir(), f"{FOLDER_PREFIX}*")):
            if folder == self._tmp or _owner_alive(folder):
                continue
            for solution_file in glob.glob(os.path.join(folder, "*.sol")):
                job_id = os.path.basename(solution_file)[: -len(".sol")]
                job = self.store.job(job_id)
                if job is None or job.status is not JobStatus.RUNNING:
                    continue
                scenario = self.store.scenario(job.scenario_id)
                reason = "Stopped because its server was killed"
                plan, reason = _best_plan(
                    job,
                    scenario,
                    solution_file,
                    job.progress or {},
                    reason,
                    Termination.INTERRUPTED,
                )
                self.store.finish(
                    job_id,
                    JobStatus.FAILED,
                    plan=plan,
                    error=f"{reason} while this job was running"
                    + (" (its best plan so far is kept)" if plan else "")
                    + f". Resubmit it with POST /v1/jobs/{job_id}/retry.",
                    only_if=(JobStatus.RUNNING,),
                )
            shutil.rmtree(folder, ignore_errors=True)


#: The folders of the plans solvers save while running: one per server, named by this prefix,
#: with its server's process id in ``OWNER``.
FOLDER_PREFIX = "territory-jobs-"
OWNER = "owner.pid"


def _owner_alive(folder: str) -> bool:
    """Whether the server that made ``folder`` still runs (unknown owners count as alive)."""
    try:
        with open(os.path.join(folder, OWNER), encoding="utf-8") as handle:
            pid = int(handle.read().strip())
    except (OSError, ValueError):
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _best_plan(
    job: Any,
    scenario: dict[str, Any] | None,
    solution_file: str,
    progress: dict[str, Any],
    reason: str,
    termination: Termination,
) -> tuple[dict[str, Any] | None, str]:
    """The plan document of the best plan a stopped plan job's solver saved (``None`` for
    other jobs, or when none can be read: then the reason says why)."""
    if job.kind != "plan" or scenario is None:
        return None, reason
    from documents.briefs import plan_document
    from optimizer import Scenario, recover

    try:
        stopped = Scenario.from_dict(scenario)
        recovered = recover(
            stopped,
            solution_file,
            backend=job.request.get("backend"),
            bound=progress.get("bound"),
            seconds=float(progress.get("elapsed_s") or 0.0),
            reason=reason,
            termination=termination,
        )
        return plan_document(recovered, stopped), reason
    except Exception as exc:  # the job still ends, with the reason
        return None, reason + f" (the best plan could not be read back: {exc})"


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)
