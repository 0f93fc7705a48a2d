"""What the routes share: the :class:`Service` (scenarios, jobs, answers).

One :class:`Service` per application, kept on ``app.state.service``; a route asks for it with a
parameter typed :data:`ServiceDep`.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Annotated, Any

from fastapi import Depends, Request, Response
from fastapi.responses import JSONResponse

from optimizer import Scenario, ScenarioError, ScenarioIssue
from optimizer.instance import Instance
from optimizer.placement import Router

from .errors import ApiError
from .models import Backend
from .runner import Runner
from .settings import Settings
from .store import RETRYABLE, Job, JobStatus, Store, digest

API_VERSION = "v1"
#: Validated scenarios remembered by content.
VALIDATED_CACHE = 32
#: One solver thread per process: the pool's processes share the cores (and HiGHS fixes its
#: thread count per process at the first solve).
SOLVER_THREADS = 1


class Service:
    """The store, the worker pool and the rules every route applies to them.

    Parameters
    ----------
    settings
        What the server allows (sizes, time limits, queue length).
    store
        Where scenarios, jobs and plans are kept.
    runner
        The solver processes that run the jobs.
    """

    def __init__(self, settings: Settings, store: Store, runner: Runner):
        self.settings = settings
        self.store = store
        self.runner = runner
        # Portals post the same scenario again and again: the last few are not validated twice.
        self._validated: OrderedDict[str, tuple[Scenario, dict[str, Any]]] = OrderedDict()
        # Snapshots kept warm for routing: a router each, and a lock so that one request at a
        # time routes into (and commits to) a snapshot.
        self._routers: OrderedDict[str, tuple[Router, threading.Lock]] = OrderedDict()
        self._routers_lock = threading.Lock()

    # Snapshots ----------------------------------------------------------------------------
    def keep_snapshot(self, data: dict[str, Any]) -> str:
        """Validate a snapshot, keep it warm for routing and answer its id (the digest of
        what was sent: the same snapshot sent again is the same one, placements kept)."""
        try:
            key = digest(data)[:32]
        except (TypeError, ValueError, RecursionError):
            raise ApiError(422, "The snapshot is not a JSON object of a scenario.") from None
        with self._routers_lock:
            if key in self._routers:
                self._routers.move_to_end(key)
                return key
        scenario, _ = self.scenario(data, "snapshot")
        router = Router(scenario)
        with self._routers_lock:
            self._routers.setdefault(key, (router, threading.Lock()))
            while len(self._routers) > self.settings.max_snapshots:
                self._routers.popitem(last=False)
        return key

    def snapshot(self, key: str) -> tuple[Router, threading.Lock]:
        """The router of a kept snapshot, or 404 saying how to get one."""
        with self._routers_lock:
            found = self._routers.get(key)
            if found is not None:
                self._routers.move_to_end(key)
        if found is None:
            raise ApiError(
                404,
                f"No snapshot {key!r} in memory (the server keeps the last "
                f"{self.settings.max_snapshots}, and none after a restart): POST it again to "
                "/v1/snapshots or inline to /v1/route.",
            )
        return found

    # Scenarios ----------------------------------------------------------------------------
    def scenario(self, data: dict[str, Any], where: str = "") -> tuple[Scenario, dict[str, Any]]:
        """The scenario of ``data``, validated, and its JSON with every default filled in.

        Parameters
        ----------
        data
            The scenario's JSON object, as sent.
        where
            Where it is in the request body (``"scenario"``), prefixed to the issues' paths.

        Raises
        ------
        ApiError
            413 when the team is larger than the server takes, 422 with every problem at once.
        """
        try:
            key: str | None = digest(data)
        except (TypeError, ValueError, RecursionError):
            key = None
        if key is not None and key in self._validated:
            self._validated.move_to_end(key)
            return self._validated[key]
        result = self._validate(data, where)
        if key is not None:
            self._validated[key] = result
            if len(self._validated) > VALIDATED_CACHE:
                self._validated.popitem(last=False)
        return result

    def _validate(self, data: dict[str, Any], where: str) -> tuple[Scenario, dict[str, Any]]:
        prefix = f"{where}." if where else ""
        # The server reads no files: a scenario naming its CSV files is refused, not resolved.
        references = [
            ScenarioIssue(
                path=prefix + key,
                message="file references are not read over HTTP: include the rows inline",
            )
            for key in ("csms", "accounts")
            if isinstance(data.get(key), str)
        ]
        if references:
            raise ApiError(422, "The scenario is not valid.", references)
        for key, limit in (
            ("accounts", self.settings.max_accounts),
            ("csms", self.settings.max_csms),
        ):
            rows = data.get(key)
            if isinstance(rows, list) and len(rows) > limit:
                raise ApiError(
                    413,
                    f"{prefix}{key}: {len(rows):,} rows; this server accepts at most {limit:,} "
                    f"(TERRITORY_MAX_{key.upper()}).",
                )
        try:
            scenario = Scenario.from_dict(data)
        except ScenarioError as exc:
            issues = [ScenarioIssue(path=prefix + i.path, message=i.message) for i in exc.issues]
            raise ApiError(422, f"{len(issues)} problem(s) in the scenario.", issues) from None
        except (RecursionError, TypeError, ValueError) as exc:
            raise ApiError(422, f"The scenario is not valid: {exc}") from None
        if scenario.constraints.overrides:
            # An override that another hard rule does not allow is bad input too (the solve
            # would answer an invalid plan): refused before queueing, with its path.
            conflicts = Instance(scenario).override_conflicts()
            if conflicts:
                issues = [ScenarioIssue(path=prefix + i.path, message=i.message) for i in conflicts]
                raise ApiError(422, f"{len(issues)} problem(s) in the scenario.", issues)
        return scenario, scenario.model_dump(mode="json")

    # Jobs ---------------------------------------------------------------------------------
    def enqueue(self, kind: str, data: dict[str, Any], request: dict[str, Any]) -> Job:
        """A new job for ``data`` (a validated scenario), queued for the solver processes.

        Raises
        ------
        ApiError
            503 with ``Retry-After`` when the queue is full.
        """
        if self.runner.draining:
            raise ApiError(
                503,
                "The server is shutting down; try again shortly.",
                headers={"Retry-After": "30"},
            )
        self.refuse_when_full(f"{self.runner.queued} jobs are waiting; try again later.")
        job = self.store.create_job(kind, self.store.put_scenario(data), request)
        self.runner.submit(job.id)
        return job

    def refuse_when_full(self, detail: str) -> None:
        """Raise 503 (``Retry-After: 30``) with ``detail`` when the queue is full."""
        if self.runner.queued >= self.settings.max_queued:
            raise ApiError(503, detail, headers={"Retry-After": "30"})

    def job(self, job_id: str) -> Job:
        """The job ``job_id``; 404 when there is none."""
        job = self.store.job(job_id)
        if job is None:
            raise ApiError(404, f"No job {job_id!r}.")
        return job

    def job_view(self, job: Job) -> dict[str, Any]:
        """The job as the API shows it: with its links, its plan and its result."""
        view = job.to_dict()
        base = f"/{API_VERSION}/jobs/{job.id}"
        view["links"] = {"self": base}
        view["plan"] = None
        if job.plan_id:
            view["links"]["plan"] = f"/{API_VERSION}/plans/{job.plan_id}"
            view["plan"] = self.store.plan(job.plan_id)
        if job.result is not None:
            view["result"] = job.result
        if job.status in RETRYABLE:
            view["links"]["retry"] = f"{base}/retry"
        return view

    def accepted(self, job: Job) -> JSONResponse:
        """202 with the job and its ``Location``."""
        return JSONResponse(
            self.job_view(job),
            status_code=202,
            headers={"Location": f"/{API_VERSION}/jobs/{job.id}"},
        )

    async def finished_or_accepted(self, job: Job, wait_s: float) -> Response:
        """The job's plan (plan jobs) or the job (with its result) once it ends within
        ``wait_s``; 202 with the job otherwise."""
        if not await self.runner.wait(job.id, wait_s):
            return self.accepted(self.store.job(job.id) or job)
        done = self.job(job.id)
        if done.status is JobStatus.FAILED:
            raise ApiError(500, f"The job failed: {done.error}")
        if done.kind == "plan":
            return self.plan_response(done)
        return JSONResponse(self.job_view(done))

    # Plans --------------------------------------------------------------------------------
    def plan(self, plan_id: str) -> dict[str, Any]:
        """The plan ``plan_id``; 404 when there is none."""
        plan = self.store.plan(plan_id)
        if plan is None:
            raise ApiError(404, f"No plan {plan_id!r}.")
        return plan

    def plan_response(self, job: Job, reused: bool = False) -> Response:
        """The plan of a finished ``job`` with its ``Location`` (and ``X-Territory-Reused``
        when it was answered from the store); 409 when the job ended without one."""
        plan = self.store.plan(job.plan_id) if job.plan_id else None
        if plan is None:
            raise ApiError(409, job.error or f"Job {job.id} ended without a plan ({job.status}).")
        headers = {"Location": f"/{API_VERSION}/plans/{plan['plan_id']}"}
        if reused:
            headers["X-Territory-Reused"] = "true"
        return JSONResponse(plan, headers=headers)


def solve_options(
    scenario: Scenario, backend: Backend | None, time_limit_s: float | None, ceiling: float
) -> dict[str, Any]:
    """The solver options a job runs with: the server's time-limit ceiling applied."""
    return {
        "backend": backend or scenario.solver.backend,
        "time_limit_s": min(float(time_limit_s or scenario.solver.time_limit_s), ceiling),
        "threads": SOLVER_THREADS,
    }


def get_service(request: Request) -> Service:
    """The application's :class:`Service` (a FastAPI dependency)."""
    service: Service = request.app.state.service
    return service


ServiceDep = Annotated[Service, Depends(get_service)]
