"""Request and response bodies of the API as pydantic models.

FastAPI validates every request body against these models and builds the OpenAPI document from
them. The scenario inside a body is the one exception: its model is only its schema here, and
its validation is :meth:`optimizer.Scenario.from_dict`'s (see :data:`ScenarioJson`).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Self

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainValidator,
    WithJsonSchema,
    model_validator,
)
from pydantic_core import PydanticCustomError

from optimizer import Scenario, ScenarioIssue
from optimizer.scenario import Backend

from .store import JobStatus


def _json_object(value: Any) -> dict[str, Any]:
    """Accept any JSON object: what makes it a scenario is checked by ``Scenario.from_dict``."""
    if not isinstance(value, dict):
        raise PydanticCustomError("scenario_type", "must be a JSON object (a scenario)")
    return value


#: A scenario as its JSON object, documented with the Scenario schema.
#:
#: It is not typed as :class:`~optimizer.Scenario` itself: ``Scenario.from_dict`` reports every
#: problem at once with the record's id in the path (``accounts[A7].arr``), where pydantic would
#: name list positions (``accounts.6.arr``), and the server checks the team's size first.
ScenarioJson = Annotated[
    dict[str, Any], PlainValidator(_json_object, json_schema_input_type=Scenario)
]


class Error(BaseModel):
    """The body of every error answer."""

    detail: str = Field(description="What went wrong, in one sentence.")
    issues: list[ScenarioIssue] = Field(
        description="Each problem found, with where it is (path) and what it is."
    )


#: A moment, ISO 8601 in UTC: a string rather than a datetime, so that it is answered exactly
#: as the store gives it.
Timestamp = Annotated[str, WithJsonSchema({"type": "string", "format": "date-time"})]
JobKind = Literal["plan", "compare", "sensitivity"]


class JobSummary(BaseModel):
    """A job as listed (without its plan or result)."""

    id: str
    kind: JobKind
    status: JobStatus
    scenario_id: str
    progress: dict[str, Any] | None = Field(
        description="While running: the live incumbent, bound, gap and elapsed_s"
    )
    plan_id: str | None
    error: str | None = Field(description="Why it failed or was cancelled")
    retry_of: str | None = Field(description="The job this one runs again")
    created_at: Timestamp
    started_at: Timestamp | None
    finished_at: Timestamp | None


class Job(JobSummary):
    """A job with its links, its plan (plan jobs) and its result (compare, sensitivity)."""

    links: dict[str, str] = Field(
        description="self; plan when it has one; retry when it failed or was cancelled"
    )
    plan: dict[str, Any] | None = Field(description="Its plan, as GET /v1/plans/{plan_id}")
    result: Any = Field(
        None,
        description="Compare and sensitivity: the result, once done (as the CLI's --json: every "
        "row with its gap; a difference within the gaps says within_gap and has no rank)",
    )


#: OpenAPI ``responses`` of a request answered 202 with its job when it takes longer.
STILL_SOLVING: dict[int | str, dict[str, Any]] = {
    202: {"model": Job, "description": "Still solving: follow the job (Location)"}
}


def _whole(value: Any) -> Any:
    """A whole number given as 10 or 10.0 (JSON does not tell them apart); not 2.5, "10"
    or true."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


#: A count that a JSON client may write as 10.0.
WholeNumber = Annotated[int, BeforeValidator(_whole)]


class _Request(BaseModel):
    # Strict: JSON has no implicit conversions, so neither does the API (true is not 1,
    # "5" is not 5); an int is still accepted where a float is asked for.
    model_config = ConfigDict(strict=True)


class AssignmentRow(_Request):
    """One row of a plan's ``assignments`` (its other keys are ignored)."""

    account_id: str
    csm_id: str | None = None


class EvaluateRequest(_Request):
    """A scenario and a plan for it, given either way."""

    scenario: ScenarioJson
    assignment: dict[str, str | None] | None = Field(
        None, description="account id -> CSM id (null or empty: unassigned)"
    )
    assignments: list[AssignmentRow] | None = Field(None, description="e.g. a plan's list")

    @model_validator(mode="after")
    def _has_a_plan(self) -> Self:
        if self.assignment is None and self.assignments is None:
            raise PydanticCustomError(
                "plan_missing",
                "give the plan as 'assignment' ({account_id: csm_id}) or 'assignments' "
                "([{account_id, csm_id}])",
            )
        return self


class MonitorRequest(_Request):
    """A snapshot (a scenario with today's owners) and, optionally, what it is compared to."""

    snapshot: ScenarioJson
    since: dict[str, Any] | None = Field(
        None, description="an earlier snapshot (a scenario) or a plan document (POST /v1/plans)"
    )


class RouteRequest(_Request):
    """New accounts to place in a snapshot kept by the server (``snapshot_id``) or sent inline
    (``snapshot``: it is kept too, and the answer gives its id for the next request)."""

    snapshot_id: str | None = Field(None, description="from POST /v1/snapshots or an earlier route")
    snapshot: ScenarioJson | None = None
    accounts: list[dict[str, Any]] = Field(
        default_factory=list,
        description="the new accounts (scenario account objects without current_csm); none: "
        "the snapshot's own accounts without an owner",
        max_length=5_000,
    )
    commit: bool = Field(
        False, description="keep the placed accounts in the snapshot with their new owners"
    )
    exact: bool = Field(False, description="a batch: also solve it with every other account locked")
    time_limit_s: float | None = Field(
        None, ge=0.01, le=86_400, description="for exact: the solve's limit"
    )

    @model_validator(mode="after")
    def _one_snapshot(self) -> Self:
        if (self.snapshot_id is None) == (self.snapshot is None):
            raise PydanticCustomError(
                "snapshot_missing", "give the snapshot inline ('snapshot') or by 'snapshot_id'"
            )
        return self


class _AnalysisRequest(_Request):
    """What compare and sensitivity share: the scenario and the solver options."""

    scenario: ScenarioJson
    backend: Backend | None = Field(None, description="Instead of the scenario's")
    time_limit_s: float | None = Field(
        None, ge=0.01, le=86_400, description="Per solve, capped by TERRITORY_MAX_TIME_LIMIT_S"
    )


class CompareRequest(_AnalysisRequest):
    """A scenario and variants of it, to be solved side by side."""

    variants: list[dict[str, Any]] = Field(
        default_factory=list,
        description="Changes to the scenario, as in a what-if file without 'extends'.",
    )


#: Most values in one sensitivity grid axis.
GRID_VALUES = 20


class SensitivityRequest(_AnalysisRequest):
    """A scenario and the grid to probe it on (each axis optional: the CLI's defaults)."""

    weight_factors: list[float] | None = Field(None, max_length=GRID_VALUES)
    tolerance_steps: list[float] | None = Field(None, max_length=GRID_VALUES)
    move_budgets: list[WholeNumber | None] | None = Field(
        None, max_length=GRID_VALUES, description="null: no budget"
    )
    prices: bool = Field(True, description="Price each rule (one solve per rule)")


class ImportRequest(_Request):
    """A scenario whose accounts and CSMs come as CSV text."""

    scenario: dict[str, Any] = Field(
        description="The scenario JSON; 'accounts' and 'csms' may name CSV files."
    )
    accounts_csv: str | None = Field(None, description="accounts.csv, as text")
    csms_csv: str | None = Field(None, description="csms.csv, as text")
