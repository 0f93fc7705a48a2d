"""``/v1/segment``, ``/v1/evaluate``, ``/v1/compare``, ``/v1/sensitivity``: analyses of a
scenario beyond its one plan."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Response
from fastapi.concurrency import run_in_threadpool

from coverage import route, segment
from optimizer import Scenario, ScenarioError, evaluate
from optimizer.evaluate import assignment_from_rows
from optimizer.instance import Instance

from ..deps import ServiceDep, solve_options
from ..errors import ApiError, JsonRoute, error_responses
from ..models import (
    STILL_SOLVING,
    CompareRequest,
    EvaluateRequest,
    Job,
    ScenarioJson,
    SensitivityRequest,
)

router = APIRouter(route_class=JsonRoute, tags=["analysis"])

#: ``wait_s`` of compare and sensitivity: how long to wait before answering 202 with the job.
WaitS = Annotated[float, Query(ge=0, le=600, description="Answer 202 with a job after this")]


@router.post("/segment", responses=error_responses(413))
async def segment_scenario(
    service: ServiceDep, scenario: Annotated[ScenarioJson, Body()]
) -> dict[str, Any]:
    """Coverage segmentation of a scenario (docs/segmentation.md): every account's scores
    and factors, value tier and coverage segment, misalignment, capacity planning, the
    expansion ranking and the migrations, plus the accounts that would go to the pool."""
    valid, _ = service.scenario(scenario)
    return await run_in_threadpool(_segmentation, valid)


def _segmentation(scenario: Scenario) -> dict[str, Any]:
    report = segment(scenario)
    data = report.to_dict()
    try:
        routing = route(scenario, report)
    except ValueError as exc:  # every account pooled, or every CSM in the pool
        data["routing"] = {"error": str(exc)}
    else:
        data["routing"] = {
            "pooled": list(routing.pooled),
            "pool_csms": list(routing.pool_csms),
            "notes": list(routing.notes),
            "named_accounts": len(routing.scenario.accounts),
        }
    return data


@router.post("/evaluate", responses=error_responses(413))
async def evaluate_plan(service: ServiceDep, body: EvaluateRequest) -> dict[str, Any]:
    """Score a given plan (``assignment`` map or a plan's ``assignments`` list) against a
    scenario: KPIs, objective terms and every rule it breaks."""
    scenario, _ = service.scenario(body.scenario, "scenario")
    try:
        if body.assignment is not None:
            assignment = {a: c or None for a, c in body.assignment.items()}
        else:  # the model requires one of the two
            rows = [
                {"account_id": r.account_id, "csm_id": r.csm_id} for r in body.assignments or []
            ]
            assignment = assignment_from_rows(rows, "assignments")
        instance = Instance(scenario)
        before = evaluate(instance)
        after = evaluate(instance, assignment)
    except ScenarioError as exc:  # accounts or CSMs the scenario does not have
        raise ApiError(422, f"{len(exc.issues)} problem(s) in the plan.", exc.issues) from None
    scored = after.to_dict()
    scored["objective"] = after.objective_dict(before)
    scored["kpis"] = {"before": before.kpis, "after": after.kpis}
    return scored


@router.post(
    "/compare", response_model=Job, responses={**STILL_SOLVING, **error_responses(413, 503)}
)
async def compare(service: ServiceDep, body: CompareRequest, wait_s: WaitS = 30.0) -> Response:
    """Solve a scenario and variants of it side by side (as ``territory compare``)."""
    from scenarios.variants import apply_changes

    settings = service.settings
    scenario, data = service.scenario(body.scenario, "scenario")
    if len(body.variants) + 1 > settings.max_variants:
        raise ApiError(413, f"At most {settings.max_variants} scenarios per comparison.")
    # Each variant is checked now, so that a bad one is a 422 rather than a failed job.
    for i, changes in enumerate(body.variants):
        try:
            Scenario.from_dict(apply_changes(data, changes, f"variants[{i}]"))
        except ScenarioError as exc:
            raise ApiError(422, f"variants[{i}] is not valid.", exc.issues) from None
        except (TypeError, ValueError, AttributeError) as exc:
            raise ApiError(422, f"variants[{i}] is not valid: {exc}") from None
    opts = solve_options(scenario, body.backend, body.time_limit_s, settings.max_time_limit_s)
    opts.update(variants=body.variants, runs=len(body.variants) + 1)
    return await service.finished_or_accepted(service.enqueue("compare", data, opts), wait_s)


@router.post(
    "/sensitivity", response_model=Job, responses={**STILL_SOLVING, **error_responses(413, 503)}
)
async def sensitivity(
    service: ServiceDep, body: SensitivityRequest, wait_s: WaitS = 30.0
) -> Response:
    """How the plan responds to the weights, the ARR tolerance, the move budget and each
    rule (as ``territory sensitivity``)."""
    from scenarios.sensitivity import sensitivity_variants

    scenario, data = service.scenario(body.scenario, "scenario")
    # Only the axes the request gives: the job's options (and so its reuse) are as sent.
    grid: dict[str, Any] = {
        key: getattr(body, key)
        for key in ("weight_factors", "tolerance_steps", "move_budgets")
        if getattr(body, key) is not None
    }
    if "prices" in body.model_fields_set:
        grid["prices"] = body.prices
    try:
        # The base and every variant (the defaults are sensitivity's own).
        runs = 1 + len(sensitivity_variants(scenario, **grid))
    except (ScenarioError, ValueError) as exc:
        raise ApiError(422, f"The sensitivity grid is not valid: {exc}") from None
    settings = service.settings
    opts = solve_options(scenario, body.backend, body.time_limit_s, settings.max_time_limit_s)
    opts.update(grid, runs=runs)
    return await service.finished_or_accepted(service.enqueue("sensitivity", data, opts), wait_s)
