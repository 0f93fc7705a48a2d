"""``/v1/plans``: solve a scenario and answer with its plan; a stored plan and its exports."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Response
from fastapi.responses import HTMLResponse

from documents.exports import assignments_csv
from optimizer import ScenarioIssue

from ..deps import Service, ServiceDep, solve_options
from ..errors import ApiError, JsonRoute, error_responses
from ..models import STILL_SOLVING, Backend, ScenarioJson

router = APIRouter(route_class=JsonRoute, tags=["plans"])


def _file(media_type: str, description: str, *errors: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` of a route answering a file of ``media_type``.

    Its route's ``response_class`` is a plain ``Response`` (no media type of its own), so
    that FastAPI documents its errors as JSON, the way they are answered.
    """
    content = {media_type: {"schema": {"type": "string"}}}
    return {200: {"description": description, "content": content}, **error_responses(*errors)}


@router.post(
    "/plans",
    responses={**STILL_SOLVING, **error_responses(409, 413, 503)},
)
async def create_plan(
    service: ServiceDep,
    scenario: Annotated[ScenarioJson, Body()],
    backend: Backend | None = None,
    time_limit_s: Annotated[float | None, Query(ge=0.01, le=86_400)] = None,
    reuse: Annotated[
        bool, Query(description="Answer with a stored plan for the same input")
    ] = True,
) -> Response:
    """Solve a scenario (the same JSON as the CLI's) and answer with its plan.

    The solver's time limit is the scenario's (or ``time_limit_s``), at most the server's
    synchronous ceiling. An infeasible scenario answers 200 with ``status: infeasible`` and a
    diagnosis. If the plan is not ready within the server's wait (queue + solve), the answer is
    202 with the job to follow.
    """
    settings = service.settings
    valid, data = service.scenario(scenario)
    opts = solve_options(valid, backend, time_limit_s, settings.sync_time_limit_s)
    if reuse:
        store = service.store
        scenario_id = store.put_scenario(data)
        previous = store.finished_like("plan", scenario_id, opts)
        if previous is not None and previous.plan_id:
            return service.plan_response(previous, reused=True)
        # The same plan is being solved (a burst of identical requests): wait for that
        # solve. No await since the look-ups above, so two requests cannot both miss it.
        live = store.live_like("plan", scenario_id, opts)
        if live is not None:
            return await service.finished_or_accepted(live, settings.sync_wait_s)
    job = service.enqueue("plan", data, opts)
    return await service.finished_or_accepted(job, settings.sync_wait_s)


@router.get("/plans/{plan_id}", responses=error_responses(404))
def get_plan(service: ServiceDep, plan_id: str) -> dict[str, Any]:
    """A stored plan (plan JSON, docs/plan-format.md)."""
    return service.plan(plan_id)


@router.get(
    "/plans/{plan_id}/assignments.csv",
    response_class=Response,
    responses=_file("text/csv", "The CSV file", 404),
)
def plan_csv(service: ServiceDep, plan_id: str, moves_only: bool = False) -> Response:
    """The plan's assignments (or only its moves) as CSV, safe to open in a spreadsheet."""
    plan = service.plan(plan_id)
    name = "moves" if moves_only else "assignments"
    return _attachment(assignments_csv(plan, moves_only=moves_only), name, plan_id)


@router.get(
    "/plans/{plan_id}/owner_updates.csv",
    response_class=Response,
    responses=_file("text/csv", "The CSV file", 404, 409),
)
def plan_owner_updates(
    service: ServiceDep,
    plan_id: str,
    effective_date: Annotated[
        str | None,
        Query(
            description="Date (YYYY-MM-DD) of the moves that have none in the plan's transition",
            pattern=r"^\d{4}-\d{2}-\d{2}$",
        ),
    ] = None,
) -> Response:
    """The moves as a CRM bulk owner update (old and new owner, effective date)."""
    from documents.exports import owner_updates_csv

    day = None
    if effective_date is not None:
        try:
            day = dt.date.fromisoformat(effective_date)
        except ValueError:
            raise ApiError(
                422,
                "effective_date is not a date.",
                [
                    ScenarioIssue(
                        path="query.effective_date", message=f"no such day: {effective_date}"
                    )
                ],
            ) from None
    return _tabular_csv(service, plan_id, "owner_updates", owner_updates_csv, day)


@router.get(
    "/plans/{plan_id}/books.csv",
    response_class=Response,
    responses=_file("text/csv", "The CSV file", 404, 409),
)
def plan_books(service: ServiceDep, plan_id: str) -> Response:
    """Every account with its new CSM, grouped by CSM."""
    from documents.exports import books_csv

    return _tabular_csv(service, plan_id, "books", books_csv)


@router.get(
    "/plans/{plan_id}/report.html",
    response_class=Response,
    responses=_file("text/html", "The report", 404),
)
def plan_report(
    service: ServiceDep,
    plan_id: str,
    download: Annotated[bool, Query(description="As an attachment instead of inline")] = False,
) -> Response:
    """The plan's HTML report: one self-contained page (charts and tables, no scripts)."""
    from documents.report import render_html

    plan = service.plan(plan_id)
    disposition = "attachment" if download else "inline"
    return HTMLResponse(
        render_html(plan),
        headers={
            "Content-Disposition": f'{disposition}; filename="territory-report-{plan_id}.html"'
        },
    )


def _tabular_csv(
    service: Service, plan_id: str, name: str, export: Callable[..., str], *args: Any
) -> Response:
    """The plan's ``export`` as a CSV attachment; 409 when the plan cannot give it."""
    plan = service.plan(plan_id)
    try:
        text = export(plan, *args)
    except ValueError as exc:  # e.g. no effective date, or a plan without assignments
        raise ApiError(409, str(exc)) from None
    return _attachment(text, name, plan_id)


def _attachment(text: str, name: str, plan_id: str) -> Response:
    return Response(
        text,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}-{plan_id}.csv"'},
    )
