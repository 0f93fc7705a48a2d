"""Between re-plans (docs/monitor.md): ``/v1/monitor`` the triggers of today's books,
``/v1/snapshots`` and ``/v1/route`` new accounts placed in a snapshot kept warm."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body
from fastapi.concurrency import run_in_threadpool

from optimizer import Scenario, ScenarioError
from scenarios.monitor import is_plan_document, monitor

from ..deps import ServiceDep
from ..errors import ApiError, JsonRoute, error_responses
from ..models import MonitorRequest, RouteRequest, ScenarioJson

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


@router.post("/snapshots", status_code=201, responses=error_responses(413))
async def keep_snapshot(
    service: ServiceDep, snapshot: Annotated[ScenarioJson, Body()]
) -> dict[str, Any]:
    """Keep a snapshot (a scenario with today's owners) in memory for routing: answers its
    ``snapshot_id`` for ``POST /v1/route``."""
    key = await run_in_threadpool(service.keep_snapshot, snapshot)
    return _summary(key, service.snapshot(key)[0].snapshot)


@router.get("/snapshots/{snapshot_id}", responses=error_responses(404))
async def get_snapshot(service: ServiceDep, snapshot_id: str) -> dict[str, Any]:
    """A kept snapshot's size and its accounts without an owner (after committed routes)."""
    return _summary(snapshot_id, service.snapshot(snapshot_id)[0].snapshot)


def _summary(key: str, scenario: Scenario) -> dict[str, Any]:
    return {
        "snapshot_id": key,
        "name": scenario.name,
        "as_of": scenario.as_of.isoformat(),
        "accounts": len(scenario.accounts),
        "csms": len(scenario.csms),
        "unowned": [a.id for a in scenario.accounts if not a.current_csm],
    }


@router.post("/route", responses=error_responses(404, 413))
async def route_accounts(service: ServiceDep, body: RouteRequest) -> dict[str, Any]:
    """Place new accounts (none given: the snapshot's accounts without an owner) with the plan's
    objective and hard rules, moving nobody else: each placement with its cost, reasons and
    candidates; when no CSM may take one, the rule that blocks each and the cheapest
    rebalance. With ``commit`` the snapshot keeps them with their new owners."""
    key = body.snapshot_id
    if body.snapshot is not None:
        key = await run_in_threadpool(service.keep_snapshot, body.snapshot)
    assert key is not None  # the model requires one of the two
    router_, lock = service.snapshot(key)
    settings = service.settings
    limit = min(body.time_limit_s or settings.sync_time_limit_s, settings.max_time_limit_s)

    def work() -> dict[str, Any]:
        with lock:
            routing = router_.route(
                body.accounts, commit=body.commit, exact=body.exact, time_limit_s=limit
            )
            return {"snapshot_id": key, **routing.to_dict()}

    try:
        return await run_in_threadpool(work)
    except ScenarioError as exc:
        raise ApiError(422, f"{len(exc.issues)} problem(s) in the accounts.", exc.issues) from None
