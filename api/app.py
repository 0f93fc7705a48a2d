"""The HTTP API: POST a scenario, get a plan (docs/api.md).

``create_app(settings)`` builds the FastAPI application; ``territory serve`` runs it with uvicorn.
Every solve runs in the bounded worker pool (:mod:`api.runner`); every scenario, job and plan is
kept in the job store (:mod:`api.store`).
"""

from __future__ import annotations

import csv
import datetime as dt
import hmac
import json
import tempfile
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, PlainTextResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from coverage.segmentation import route, segment
from documents.exports import assignments_csv
from optimizer import BACKENDS, Scenario, ScenarioError, ScenarioIssue, evaluate
from optimizer.evaluate import assignment_from_rows
from optimizer.instance import Instance
from optimizer.scenario import read_files

from .runner import Runner
from .settings import Settings
from .store import FINAL, Job, Store, digest

API_VERSION = "v1"
#: Validated scenarios remembered by content.
VALIDATED_CACHE = 32
BACKEND_CHOICES = ("auto", *BACKENDS)
#: The web page served at ``/`` and its assets at ``/static/...``.
STATIC = Path(__file__).resolve().parent / "static"


class _Revalidated(StaticFiles):
    """The page's assets, revalidated on every load (ETag): a new version shows at once."""

    def file_response(self, *args: Any, **kwargs: Any) -> Response:
        response = super().file_response(*args, **kwargs)
        response.headers["Cache-Control"] = "no-cache"
        return response


class ApiError(Exception):
    """An error answered with ``status`` and a JSON body ``{"detail", "issues"}``."""

    def __init__(
        self,
        status: int,
        detail: str,
        issues: list[ScenarioIssue] | None = None,
        headers: dict[str, str] | None = None,
    ):
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.issues = issues or []
        self.headers = headers


def _error_body(detail: str, issues: list[ScenarioIssue] | None = None) -> dict[str, Any]:
    return {"detail": detail, "issues": [i.model_dump() for i in issues or []]}


class BodyLimit:
    """Refuse request bodies over ``limit`` bytes with 413, whether or not they announce it."""

    def __init__(self, app: ASGIApp, limit: int):
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope.get("headers") or []).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.limit:
            await _too_large(self.limit, send)
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise _BodyTooLarge
            return message

        try:
            await self.app(scope, counted, send)
        except _BodyTooLarge:
            await _too_large(self.limit, send)


class _BodyTooLarge(Exception):
    pass


async def _too_large(limit: int, send: Send) -> None:
    body = json.dumps(
        _error_body(f"The request body is larger than this server accepts ({limit:,} bytes).")
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", b"%d" % len(body)),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def create_app(settings: Settings | None = None) -> FastAPI:
    """The API application with its own store and worker pool (started on startup)."""
    settings = settings or Settings.from_env()
    store = Store(settings.database_url)
    runner = Runner(store, settings.workers, settings.max_time_limit_s)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        runner.start()
        try:
            yield
        finally:
            runner.close()
            store.close()

    app = FastAPI(
        title="Territory assignment API",
        version="1.0",
        summary="Assign customer accounts to CSMs with a provable MIP: plans, jobs, sensitivity.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.store = store
    app.state.runner = runner
    app.add_middleware(BodyLimit, limit=settings.max_request_bytes)

    @app.exception_handler(ApiError)
    async def _api_error(_request: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(
            _error_body(exc.detail, exc.issues), status_code=exc.status, headers=exc.headers
        )

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        issues = [
            ScenarioIssue(
                path=".".join(str(p) for p in err.get("loc", ())), message=str(err.get("msg"))
            )
            for err in exc.errors()
        ]
        return JSONResponse(_error_body("The request is not valid.", issues), status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse(
            _error_body(str(exc.detail)), status_code=exc.status_code, headers=exc.headers
        )

    def authorized(request: Request) -> None:
        if settings.api_key is None:
            return
        given = request.headers.get("x-api-key")
        auth = request.headers.get("authorization", "")
        if given is None and auth.lower().startswith("bearer "):
            given = auth[7:].strip()
        if given is None or not hmac.compare_digest(given.encode(), settings.api_key.encode()):
            raise ApiError(
                401,
                "A valid API key is required: send it as 'X-API-Key: <key>'.",
                headers={"WWW-Authenticate": "Bearer"},
            )

    v1 = APIRouter(prefix=f"/{API_VERSION}", dependencies=[Depends(authorized)])

    # The web page: no API key needed to load it (its requests send the key the user pastes).
    @app.get("/", tags=["service"], response_class=HTMLResponse, include_in_schema=False)
    def page() -> FileResponse:
        """The web page: load a scenario, run it, follow the solve, review and download the plan."""
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})

    app.mount("/static", _Revalidated(directory=STATIC), name="static")

    @app.get("/health", tags=["service"])
    def health() -> dict[str, Any]:
        """Whether the service is up, and how busy it is."""
        return {
            "status": "ok",
            "version": app.version,
            "workers": settings.workers,
            "queued": runner.queued,
            "database": store.engine.dialect.name,
        }

    # Input ------------------------------------------------------------------------------
    async def json_body(request: Request) -> Any:
        raw = await request.body()
        if not raw:
            raise ApiError(422, "The request has no body: send a JSON document.")
        try:
            return json.loads(raw)
        except (ValueError, RecursionError) as exc:
            raise ApiError(422, f"The request body is not valid JSON: {exc}") from None

    validated: OrderedDict[str, tuple[Scenario, dict[str, Any]]] = OrderedDict()

    def scenario_from(data: Any, where: str = "") -> tuple[Scenario, dict[str, Any]]:
        """The validated scenario of ``data`` (the last few are remembered by content: portals
        post the same scenario again and again)."""
        try:
            key = digest(data)
        except (TypeError, ValueError, RecursionError):
            key = None
        if key is not None and key in validated:
            validated.move_to_end(key)
            return validated[key]
        result = _validate(data, where)
        if key is not None:
            validated[key] = result
            if len(validated) > VALIDATED_CACHE:
                validated.popitem(last=False)
        return result

    def _validate(data: Any, where: str) -> tuple[Scenario, dict[str, Any]]:
        prefix = f"{where}." if where else ""
        if not isinstance(data, dict):
            raise ApiError(
                422,
                "The scenario is not valid.",
                [ScenarioIssue(path=where or "body", message="must be a JSON object (a scenario)")],
            )
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
        for key, limit in (("accounts", settings.max_accounts), ("csms", settings.max_csms)):
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
            issues = [
                ScenarioIssue(path=prefix + i.path if prefix else i.path, message=i.message)
                for i in exc.issues
            ]
            raise ApiError(422, f"{len(issues)} problem(s) in the scenario.", issues) from None
        except (RecursionError, TypeError, ValueError) as exc:
            raise ApiError(422, f"The scenario is not valid: {exc}") from None
        return scenario, scenario.model_dump(mode="json")

    def enqueue(kind: str, data: dict[str, Any], request: dict[str, Any]) -> Job:
        if runner.queued >= settings.max_queued:
            raise ApiError(
                503,
                f"{runner.queued} jobs are waiting; try again later.",
                headers={"Retry-After": "30"},
            )
        job = store.create_job(kind, store.put_scenario(data), request)
        runner.submit(job.id)
        return job

    def job_view(job: Job) -> dict[str, Any]:
        view = job.to_dict()
        base = f"/{API_VERSION}/jobs/{job.id}"
        view["links"] = {"self": base}
        view["plan"] = None
        if job.plan_id:
            view["links"]["plan"] = f"/{API_VERSION}/plans/{job.plan_id}"
            view["plan"] = store.plan(job.plan_id)
        if job.result is not None:
            view["result"] = job.result
        if job.status in ("failed", "cancelled"):
            view["links"]["retry"] = f"{base}/retry"
        return view

    def accepted(job: Job) -> JSONResponse:
        return JSONResponse(
            job_view(job),
            status_code=202,
            headers={"Location": f"/{API_VERSION}/jobs/{job.id}"},
        )

    async def finished_or_accepted(job: Job, wait_s: float) -> Response:
        if not await runner.wait(job.id, wait_s):
            current = store.job(job.id)
            return accepted(current or job)
        done = store.job(job.id)
        assert done is not None
        if done.status == "failed":
            raise ApiError(500, f"The job failed: {done.error}")
        if done.kind == "plan":
            return plan_response(done)
        return JSONResponse(job_view(done))

    def plan_response(job: Job, reused: bool = False) -> Response:
        plan = store.plan(job.plan_id) if job.plan_id else None
        if plan is None:
            raise ApiError(409, job.error or f"Job {job.id} ended without a plan ({job.status}).")
        headers = {"Location": f"/{API_VERSION}/plans/{plan['plan_id']}"}
        if reused:
            headers["X-Territory-Reused"] = "true"
        return JSONResponse(plan, headers=headers)

    def body_of(name: str) -> dict[str, Any]:
        return {
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{name}"}}},
            "required": True,
        }

    # Plans ------------------------------------------------------------------------------
    @v1.post(
        "/plans",
        tags=["plans"],
        openapi_extra={"requestBody": body_of("Scenario")},
        responses={202: {"description": "Still solving: follow the job"}, 422: {}, 413: {}},
    )
    async def create_plan(
        request: Request,
        backend: str | None = Query(None, pattern="^(auto|highs|cpsat|cbc)$"),
        time_limit_s: float | None = Query(None, gt=0, le=86_400),
        reuse: bool = Query(True, description="Answer with a stored plan for the same input"),
    ) -> Response:
        """Solve a scenario (the same JSON as the CLI's) and answer with its plan.

        The solver's time limit is the scenario's (or ``time_limit_s``), at most the server's
        synchronous ceiling. An infeasible scenario answers 200 with ``status: infeasible`` and a
        diagnosis. If the plan is not ready within the server's wait (queue + solve), the answer is
        202 with the job to follow.
        """
        scenario, data = scenario_from(await json_body(request))
        opts = _solve_options(scenario, backend, time_limit_s, settings.sync_time_limit_s)
        if reuse:
            scenario_id = store.put_scenario(data)
            previous = store.finished_like("plan", scenario_id, opts)
            if previous is not None and previous.plan_id:
                return plan_response(previous, reused=True)
            # The same plan is being solved (a burst of identical requests): wait for that
            # solve. No await since the look-ups above, so two requests cannot both miss it.
            live = store.live_like("plan", scenario_id, opts)
            if live is not None:
                return await finished_or_accepted(live, settings.sync_wait_s)
        job = enqueue("plan", data, opts)
        return await finished_or_accepted(job, settings.sync_wait_s)

    @v1.get("/plans/{plan_id}", tags=["plans"], responses={404: {}})
    def get_plan(plan_id: str) -> dict[str, Any]:
        """A stored plan (plan JSON, docs/plan-format.md)."""
        plan = store.plan(plan_id)
        if plan is None:
            raise ApiError(404, f"No plan {plan_id!r}.")
        return plan

    @v1.get(
        "/plans/{plan_id}/assignments.csv",
        tags=["plans"],
        response_class=PlainTextResponse,
        responses={404: {}},
    )
    def plan_csv(plan_id: str, moves_only: bool = False) -> Response:
        """The plan's assignments (or only its moves) as CSV, safe to open in a spreadsheet."""
        plan = store.plan(plan_id)
        if plan is None:
            raise ApiError(404, f"No plan {plan_id!r}.")
        name = "moves" if moves_only else "assignments"
        return Response(
            assignments_csv(plan, moves_only=moves_only),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}-{plan_id}.csv"'},
        )

    @v1.get(
        "/plans/{plan_id}/owner_updates.csv",
        tags=["plans"],
        response_class=PlainTextResponse,
        responses={404: {}, 409: {}},
    )
    def plan_owner_updates(
        plan_id: str,
        effective_date: Annotated[
            dt.date | None,
            Query(description="Date of the moves that have none in the plan's transition"),
        ] = None,
    ) -> Response:
        """The moves as a CRM bulk owner update (old and new owner, effective date)."""
        from documents.exports import owner_updates_csv

        return tabular_csv(plan_id, "owner_updates", owner_updates_csv, effective_date)

    @v1.get(
        "/plans/{plan_id}/books.csv",
        tags=["plans"],
        response_class=PlainTextResponse,
        responses={404: {}, 409: {}},
    )
    def plan_books(plan_id: str) -> Response:
        """Every account with its new CSM, grouped by CSM."""
        from documents.exports import books_csv

        return tabular_csv(plan_id, "books", books_csv)

    def tabular_csv(plan_id: str, name: str, export: Callable[..., str], *args: Any) -> Response:
        plan = store.plan(plan_id)
        if plan is None:
            raise ApiError(404, f"No plan {plan_id!r}.")
        try:
            text = export(plan, *args)
        except ValueError as exc:  # e.g. no effective date, or a plan without assignments
            raise ApiError(409, str(exc)) from None
        return Response(
            text,
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}-{plan_id}.csv"'},
        )

    @v1.get(
        "/plans/{plan_id}/report.html",
        tags=["plans"],
        response_class=HTMLResponse,
        responses={404: {}},
    )
    def plan_report(
        plan_id: str,
        download: bool = Query(False, description="As an attachment instead of inline"),
    ) -> Response:
        """The plan's HTML report: one self-contained page (charts and tables, no scripts)."""
        from documents.report import render_html

        plan = store.plan(plan_id)
        if plan is None:
            raise ApiError(404, f"No plan {plan_id!r}.")
        disposition = "attachment" if download else "inline"
        return HTMLResponse(
            render_html(plan),
            headers={
                "Content-Disposition": f'{disposition}; filename="territory-report-{plan_id}.html"'
            },
        )

    # Jobs -------------------------------------------------------------------------------
    @v1.post(
        "/jobs",
        tags=["jobs"],
        status_code=202,
        openapi_extra={"requestBody": body_of("Scenario")},
        responses={422: {}, 413: {}, 503: {}},
    )
    async def create_job(
        request: Request,
        backend: str | None = Query(None, pattern="^(auto|highs|cpsat|cbc)$"),
        time_limit_s: float | None = Query(None, gt=0, le=86_400),
    ) -> Response:
        """Queue a scenario's solve and answer at once with the job (202 + ``Location``)."""
        scenario, data = scenario_from(await json_body(request))
        opts = _solve_options(scenario, backend, time_limit_s, settings.max_time_limit_s)
        return accepted(enqueue("plan", data, opts))

    @v1.get("/jobs", tags=["jobs"])
    def list_jobs(
        status: str | None = Query(None, pattern="^(queued|running|done|failed|cancelled)$"),
        limit: int = Query(50, ge=1, le=500),
    ) -> list[dict[str, Any]]:
        """The newest jobs (without their plans)."""
        return [job.to_dict() for job in store.jobs(status, limit)]

    def existing(job_id: str) -> Job:
        job = store.job(job_id)
        if job is None:
            raise ApiError(404, f"No job {job_id!r}.")
        return job

    @v1.get("/jobs/{job_id}", tags=["jobs"], responses={404: {}})
    def get_job(job_id: str) -> dict[str, Any]:
        """A job's status: queued, running (with the live incumbent, bound and gap), done (with
        the plan or result), failed or cancelled."""
        return job_view(existing(job_id))

    @v1.delete("/jobs/{job_id}", tags=["jobs"], responses={404: {}, 409: {}})
    async def cancel_job(job_id: str) -> dict[str, Any]:
        """Cancel a job; a running plan job keeps the best plan found so far."""
        job = existing(job_id)
        if job.status in FINAL:
            raise ApiError(409, f"Job {job_id} has already ended ({job.status}).")
        runner.cancel(job_id)
        await runner.wait(job_id, 60)
        return job_view(existing(job_id))

    @v1.post("/jobs/{job_id}/retry", tags=["jobs"], status_code=202, responses={404: {}, 409: {}})
    def retry_job(job_id: str) -> Response:
        """Run a failed or cancelled job again (same input), as a new job."""
        job = existing(job_id)
        if job.status not in ("failed", "cancelled"):
            raise ApiError(
                409, f"Job {job_id} is {job.status}; only failed or cancelled jobs are resubmitted."
            )
        if runner.queued >= settings.max_queued:
            raise ApiError(
                503, "Too many jobs are waiting; try again later.", headers={"Retry-After": "30"}
            )
        new = store.create_job(job.kind, job.scenario_id, job.request, retry_of=job.id)
        runner.submit(new.id)
        return accepted(new)

    @v1.post(
        "/scenarios/import",
        tags=["plans"],
        openapi_extra={"requestBody": body_of("ImportRequest")},
        responses={422: {}, 413: {}},
    )
    async def import_scenario(request: Request) -> dict[str, Any]:
        """A scenario whose accounts and CSMs come as CSV text, read as the CLI reads CSV files
        (lists split on ';', empty cells absent), answered validated with every row inline."""
        body = await json_body(request)
        if not isinstance(body, dict) or not isinstance(body.get("scenario"), dict):
            raise ApiError(
                422,
                "The body must be an object with a 'scenario' and its 'accounts_csv' and "
                "'csms_csv' (CSV text).",
            )
        data = dict(body["scenario"])
        issues: list[ScenarioIssue] = []
        with tempfile.TemporaryDirectory(prefix="territory-import-") as folder:
            for kind in ("accounts", "csms"):
                text = body.get(f"{kind}_csv")
                if text is None:
                    if isinstance(data.get(kind), str):
                        issues.append(
                            ScenarioIssue(
                                path=kind,
                                message=f"the scenario names {data[kind]!r}: send its rows as "
                                f"'{kind}_csv' (CSV text)",
                            )
                        )
                    continue
                try:
                    raw = text.encode("utf-8") if isinstance(text, str) else None
                except UnicodeError:
                    raw = None
                if raw is None:
                    issues.append(ScenarioIssue(path=f"{kind}_csv", message="must be CSV text"))
                    continue
                Path(folder, f"{kind}.csv").write_bytes(raw)
                data[kind] = f"{kind}.csv"
            if issues:
                raise ApiError(422, f"{len(issues)} problem(s) in the request.", issues)
            try:
                data, file_issues = read_files(data, Path(folder))
            except ScenarioError as exc:
                raise ApiError(422, "The CSV files could not be read.", exc.issues) from None
            except (csv.Error, ValueError) as exc:
                raise ApiError(422, f"The CSV files could not be read: {exc}") from None
        try:
            _, validated = scenario_from(data)
        except ApiError as exc:
            if exc.status != 422 or not file_issues:
                raise
            issues = file_issues + exc.issues  # every problem at once, as load_scenario does
            raise ApiError(422, f"{len(issues)} problem(s) in the scenario.", issues) from None
        if file_issues:
            raise ApiError(422, f"{len(file_issues)} problem(s) in the CSV files.", file_issues)
        return validated

    @v1.get("/scenarios/{scenario_id}", tags=["plans"], responses={404: {}})
    def get_scenario(scenario_id: str) -> dict[str, Any]:
        """A stored scenario, as validated (every default filled in)."""
        data = store.scenario(scenario_id)
        if data is None:
            raise ApiError(404, f"No scenario {scenario_id!r}.")
        return data

    # Segmentation -------------------------------------------------------------------------
    @v1.post(
        "/segment",
        tags=["analysis"],
        openapi_extra={"requestBody": body_of("Scenario")},
        responses={422: {}, 413: {}},
    )
    async def segment_scenario(request: Request) -> dict[str, Any]:
        """Coverage segmentation of a scenario (docs/segmentation.md): every account's scores
        and factors, value tier and coverage segment, misalignment, capacity planning, the
        expansion ranking and the migrations, plus the accounts that would go to the pool."""
        body = await json_body(request)
        scenario, _ = scenario_from(body)

        def work() -> dict[str, Any]:
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

        return await run_in_threadpool(work)

    # Evaluate, compare, sensitivity ------------------------------------------------------
    @v1.post(
        "/evaluate",
        tags=["analysis"],
        openapi_extra={"requestBody": body_of("EvaluateRequest")},
        responses={422: {}, 413: {}},
    )
    async def evaluate_plan(request: Request) -> dict[str, Any]:
        """Score a given plan (``assignment`` map or a plan's ``assignments`` list) against a
        scenario: KPIs, objective terms and every rule it breaks."""
        body = await json_body(request)
        if not isinstance(body, dict):
            raise ApiError(422, "The body must be an object with 'scenario' and 'assignment'.")
        scenario, _ = scenario_from(body.get("scenario"), "scenario")
        try:
            if isinstance(body.get("assignment"), dict):
                assignment = {
                    str(a): None if c in (None, "") else str(c)
                    for a, c in body["assignment"].items()
                }
            elif isinstance(body.get("assignments"), list):
                assignment = assignment_from_rows(body["assignments"], "assignments")
            else:
                raise ApiError(
                    422,
                    "Give the plan as 'assignment' ({account_id: csm_id}) or 'assignments' "
                    "([{account_id, csm_id}]).",
                )
            instance = Instance(scenario)
            before = evaluate(instance)
            after = evaluate(instance, assignment)
        except ScenarioError as exc:
            raise ApiError(422, f"{len(exc.issues)} problem(s) in the plan.", exc.issues) from None
        scored = after.to_dict()
        scored["objective"] = after.objective_dict(before)
        scored["kpis"] = {"before": before.kpis, "after": after.kpis}
        return scored

    @v1.post(
        "/compare",
        tags=["analysis"],
        openapi_extra={"requestBody": body_of("CompareRequest")},
        responses={202: {}, 422: {}, 413: {}},
    )
    async def compare(
        request: Request,
        wait_s: float = Query(30.0, ge=0, le=600, description="Answer 202 with a job after this"),
    ) -> Response:
        """Solve a scenario and variants of it side by side (as ``territory compare``)."""
        from scenarios.variants import apply_changes

        body = await json_body(request)
        if not isinstance(body, dict):
            raise ApiError(422, "The body must be an object with 'scenario' and 'variants'.")
        scenario, data = scenario_from(body.get("scenario"), "scenario")
        variants = body.get("variants", [])
        if not isinstance(variants, list) or not all(isinstance(v, dict) for v in variants):
            raise ApiError(422, "'variants' must be a list of objects (changes to the scenario).")
        if len(variants) + 1 > settings.max_variants:
            raise ApiError(413, f"At most {settings.max_variants} scenarios per comparison.")
        for i, changes in enumerate(variants):
            try:
                Scenario.from_dict(apply_changes(data, changes, f"variants[{i}]"))
            except ScenarioError as exc:
                raise ApiError(422, f"variants[{i}] is not valid.", exc.issues) from None
            except (TypeError, ValueError, AttributeError) as exc:
                raise ApiError(422, f"variants[{i}] is not valid: {exc}") from None
        opts = _analysis_options(body, scenario, settings.max_time_limit_s)
        opts.update(variants=variants, runs=len(variants) + 1)
        return await finished_or_accepted(enqueue("compare", data, opts), wait_s)

    @v1.post(
        "/sensitivity",
        tags=["analysis"],
        openapi_extra={"requestBody": body_of("SensitivityRequest")},
        responses={202: {}, 422: {}, 413: {}},
    )
    async def sensitivity(
        request: Request,
        wait_s: float = Query(30.0, ge=0, le=600, description="Answer 202 with a job after this"),
    ) -> Response:
        """How the plan responds to the weights, the ARR tolerance, the move budget and each
        rule (as ``territory sensitivity``)."""
        from scenarios.sensitivity import DEFAULT_MOVE_BUDGETS, sensitivity_variants

        body = await json_body(request)
        if not isinstance(body, dict):
            raise ApiError(422, "The body must be an object with a 'scenario'.")
        scenario, data = scenario_from(body.get("scenario"), "scenario")
        grid: dict[str, Any] = {}
        for key, kind in (
            ("weight_factors", float),
            ("tolerance_steps", float),
            ("move_budgets", int),
        ):
            if body.get(key) is None:
                continue
            values = body[key]
            if (
                not isinstance(values, list)
                or len(values) > 20
                or not all(
                    (v is None and key == "move_budgets")
                    or (isinstance(v, int | float) and not isinstance(v, bool))
                    for v in values
                )
            ):
                raise ApiError(422, f"'{key}' must be a list of at most 20 numbers.")
            grid[key] = [None if v is None else kind(v) for v in values]
        if "prices" in body:
            grid["prices"] = bool(body["prices"])
        try:
            runs = 1 + len(
                sensitivity_variants(
                    scenario,
                    grid.get("weight_factors", (0.5, 1.5)),
                    grid.get("tolerance_steps", (-0.05, 0.05)),
                    grid.get("move_budgets", DEFAULT_MOVE_BUDGETS),
                    grid.get("prices", True),
                )
            )
        except (ScenarioError, ValueError) as exc:
            raise ApiError(422, f"The sensitivity grid is not valid: {exc}") from None
        opts = _analysis_options(body, scenario, settings.max_time_limit_s)
        opts.update(grid, runs=runs)
        return await finished_or_accepted(enqueue("sensitivity", data, opts), wait_s)

    app.include_router(v1)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(title=app.title, version=app.version, routes=app.routes)
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        components.update(_body_schemas())
        # Every error, 422 included, answers {"detail", "issues"} (not FastAPI's default body).
        error = {"$ref": "#/components/schemas/Error"}
        for path_item in schema.get("paths", {}).values():
            for operation in path_item.values():
                for code, response in operation.get("responses", {}).items():
                    if code[:1] in ("4", "5"):
                        response["content"] = {"application/json": {"schema": dict(error)}}
        for unused in ("HTTPValidationError", "ValidationError"):
            components.pop(unused, None)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app


#: One solver thread per process: the pool's processes share the cores (and HiGHS fixes its
#: thread count per process at the first solve).
SOLVER_THREADS = 1


def _solve_options(
    scenario: Scenario, backend: str | None, time_limit_s: float | None, ceiling: float
) -> dict[str, Any]:
    """The solver options a job runs with: the server's time-limit ceiling applied."""
    return {
        "backend": backend or scenario.solver.backend,
        "time_limit_s": min(float(time_limit_s or scenario.solver.time_limit_s), ceiling),
        "threads": SOLVER_THREADS,
    }


def _analysis_options(body: dict[str, Any], scenario: Scenario, ceiling: float) -> dict[str, Any]:
    """The solver options of a compare / sensitivity body, checked."""
    backend = body.get("backend")
    if backend is not None and backend not in BACKEND_CHOICES:
        raise ApiError(422, f"'backend' must be one of {', '.join(BACKEND_CHOICES)}.")
    limit = body.get("time_limit_s")
    if limit is not None and (
        isinstance(limit, bool) or not isinstance(limit, int | float) or not 0 < limit <= 86_400
    ):
        raise ApiError(422, "'time_limit_s' must be a number of seconds above 0.")
    return _solve_options(scenario, backend, limit, ceiling)


def _body_schemas() -> dict[str, Any]:
    """OpenAPI component schemas of the request bodies (the scenario contract and wrappers)."""
    scenario = Scenario.model_json_schema(ref_template="#/components/schemas/{model}")
    defs = scenario.pop("$defs", {})
    ref = {"$ref": "#/components/schemas/Scenario"}
    return {
        **defs,
        "Scenario": scenario,
        "ScenarioIssue": ScenarioIssue.model_json_schema(),
        "Error": {
            "type": "object",
            "required": ["detail", "issues"],
            "properties": {
                "detail": {"type": "string"},
                "issues": {
                    "type": "array",
                    "items": {"$ref": "#/components/schemas/ScenarioIssue"},
                    "description": "Each problem found, with where it is (path) and what it is.",
                },
            },
        },
        "ImportRequest": {
            "type": "object",
            "required": ["scenario"],
            "properties": {
                "scenario": {
                    "type": "object",
                    "description": "The scenario JSON; 'accounts' and 'csms' may name CSV files.",
                },
                "accounts_csv": {"type": "string", "description": "accounts.csv, as text"},
                "csms_csv": {"type": "string", "description": "csms.csv, as text"},
            },
        },
        "EvaluateRequest": {
            "type": "object",
            "required": ["scenario"],
            "properties": {
                "scenario": ref,
                "assignment": {
                    "type": "object",
                    "additionalProperties": {"type": ["string", "null"]},
                    "description": "account id -> CSM id",
                },
                "assignments": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "account_id": {"type": "string"},
                            "csm_id": {"type": ["string", "null"]},
                        },
                        "required": ["account_id"],
                    },
                },
            },
        },
        "CompareRequest": {
            "type": "object",
            "required": ["scenario"],
            "properties": {
                "scenario": ref,
                "variants": {
                    "type": "array",
                    "items": {"type": "object"},
                    "description": "Changes to the scenario, as in a what-if file without 'extends'.",
                },
                "backend": {"type": "string", "enum": list(BACKEND_CHOICES)},
                "time_limit_s": {"type": "number", "exclusiveMinimum": 0},
            },
        },
        "SensitivityRequest": {
            "type": "object",
            "required": ["scenario"],
            "properties": {
                "scenario": ref,
                "weight_factors": {"type": "array", "items": {"type": "number"}, "maxItems": 20},
                "tolerance_steps": {"type": "array", "items": {"type": "number"}, "maxItems": 20},
                "move_budgets": {
                    "type": "array",
                    "items": {"type": ["integer", "null"]},
                    "maxItems": 20,
                },
                "prices": {"type": "boolean"},
                "backend": {"type": "string", "enum": list(BACKEND_CHOICES)},
                "time_limit_s": {"type": "number", "exclusiveMinimum": 0},
            },
        },
    }


def run(host: str = "127.0.0.1", port: int = 8000, settings: Settings | None = None) -> None:
    """Serve the API with uvicorn until interrupted."""
    import uvicorn

    uvicorn.run(
        create_app(settings),
        host=host,
        port=port,
        log_level="info",
        timeout_graceful_shutdown=10,  # then waiting requests are cancelled and solves stopped
    )
