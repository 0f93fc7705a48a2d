"""``/v1/jobs``: queue a solve, follow it, cancel it, run it again."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Response

from ..deps import ServiceDep, solve_options
from ..errors import ApiError, JsonRoute, error_responses
from ..models import Backend, Job, JobStatus, JobSummary, ScenarioJson
from ..store import FINAL, RETRYABLE

router = APIRouter(route_class=JsonRoute, tags=["jobs"])

#: How long a cancelled job may take to stop before the answer shows it as it is.
CANCEL_WAIT_S = 60


@router.post("/jobs", status_code=202, response_model=Job, responses=error_responses(413, 503))
async def create_job(
    service: ServiceDep,
    scenario: Annotated[ScenarioJson, Body()],
    backend: Backend | None = None,
    time_limit_s: Annotated[float | None, Query(ge=0.01, le=86_400)] = None,
) -> Response:
    """Queue a scenario's solve and answer at once with the job (202 + ``Location``)."""
    valid, data = service.scenario(scenario)
    opts = solve_options(valid, backend, time_limit_s, service.settings.max_time_limit_s)
    return service.accepted(service.enqueue("plan", data, opts))


@router.get("/jobs", response_model=list[JobSummary])
def list_jobs(
    service: ServiceDep,
    status: JobStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> list[dict[str, Any]]:
    """The newest jobs (without their plans)."""
    return [job.to_dict() for job in service.store.jobs(status, limit)]


@router.get(
    "/jobs/{job_id}",
    response_model=Job,
    response_model_exclude_unset=True,
    responses=error_responses(404),
)
def get_job(service: ServiceDep, job_id: str) -> dict[str, Any]:
    """A job's status: queued, running (with the live incumbent, bound and gap), done (with
    the plan or result), failed or cancelled."""
    return service.job_view(service.job(job_id))


@router.delete(
    "/jobs/{job_id}",
    response_model=Job,
    response_model_exclude_unset=True,
    responses=error_responses(404, 409),
)
async def cancel_job(service: ServiceDep, job_id: str) -> dict[str, Any]:
    """Cancel a job; a running plan job keeps the best plan found so far."""
    job = service.job(job_id)
    if job.status in FINAL:
        raise ApiError(409, f"Job {job_id} has already ended ({job.status}).")
    service.runner.cancel(job_id)
    await service.runner.wait(job_id, CANCEL_WAIT_S)
    return service.job_view(service.job(job_id))


@router.post(
    "/jobs/{job_id}/retry",
    status_code=202,
    response_model=Job,
    responses=error_responses(404, 409, 503),
)
def retry_job(service: ServiceDep, job_id: str) -> Response:
    """Run a failed or cancelled job again (same input), as a new job."""
    job = service.job(job_id)
    if job.status not in RETRYABLE:
        raise ApiError(
            409, f"Job {job_id} is {job.status}; only failed or cancelled jobs are resubmitted."
        )
    service.refuse_when_full("Too many jobs are waiting; try again later.")
    new = service.store.create_job(job.kind, job.scenario_id, job.request, retry_of=job.id)
    service.runner.submit(new.id)
    return service.accepted(new)
