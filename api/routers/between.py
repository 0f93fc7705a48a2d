"""``/v1/monitor``: between re-plans, the triggers of today's books (docs/monitor.md)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool

from optimizer import Scenario, ScenarioError
from scenarios.monitor import is_plan_document, monitor

from ..deps import ServiceDep
from ..errors import ApiError, JsonRoute, error_responses
from ..models import MonitorRequest

router = APIRouter(route_class=JsonRoute, tags=["between re-plans"])


@router.post("/monitor", responses=error_responses(413))
async def monitor_snapshot(service: ServiceDep, body: MonitorRequest) -> dict[str, Any]:
    """Every trigger of the snapshot's ``monitor`` section on today's books and, with
    ``since`` (an earlier snapshot or a plan document), the drift and trajectories since then:
    each finding with its CSM or account, figure, threshold and suggested action."""
    snapshot, _ = service.scenario(body.snapshot, "snapshot")
    since: Scenario | dict[str, Any] | None = None
    if body.since is not None:
        since = (
            body.since if is_plan_document(body.since) else service.scenario(body.since, "since")[0]
        )
    try:
        report = await run_in_threadpool(monitor, snapshot, since)
    except ScenarioError as exc:
        raise ApiError(422, f"{len(exc.issues)} problem(s) in 'since'.", exc.issues) from None
    return report.to_dict()
