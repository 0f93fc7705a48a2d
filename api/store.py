"""The job store: scenarios, jobs and plans in a SQL database through SQLAlchemy.

SQLite (a file, nothing to set up) by default; PostgreSQL when the URL points at one. Bodies are
stored as JSON text, so the same tables work on both. A finished plan survives restarts; a job
that was running when the server stopped is marked ``failed`` with a message saying how to
resubmit it (``POST /v1/jobs/{id}/retry``); queued jobs are queued again.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import threading
import uuid
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    Column,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    event,
    select,
    update,
)
from sqlalchemy.engine import Engine

metadata = MetaData()

scenarios = Table(
    "scenarios",
    metadata,
    Column("id", String(64), primary_key=True),  # sha256 of the canonical JSON
    Column("name", String(200), nullable=False),
    Column("accounts", Integer, nullable=False),
    Column("csms", Integer, nullable=False),
    Column("body", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

jobs = Table(
    "jobs",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("kind", String(16), nullable=False),  # plan | compare | sensitivity
    Column("status", String(16), nullable=False, index=True),
    Column("request_key", String(64), nullable=False, index=True),
    Column("scenario_id", String(64), ForeignKey("scenarios.id"), nullable=False),
    Column("request", Text, nullable=False),  # options and any extra scenarios, JSON
    Column("progress", Text),
    Column("result", Text),  # compare / sensitivity result, JSON
    Column("plan_id", String(36)),
    Column("error", Text),
    Column("retry_of", String(36)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("started_at", DateTime(timezone=True)),
    Column("finished_at", DateTime(timezone=True)),
)

plans = Table(
    "plans",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("job_id", String(36), ForeignKey("jobs.id"), nullable=False, index=True),
    Column("status", String(16), nullable=False),
    Column("objective", Float),
    Column("gap", Float),
    Column("body", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)


class JobStatus(StrEnum):
    """Where a job is: queued and running are live, the others final (stored as their value)."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"


LIVE = (JobStatus.QUEUED, JobStatus.RUNNING)
FINAL = (JobStatus.DONE, JobStatus.FAILED, JobStatus.CANCELLED)
#: What a failed or cancelled job may be retried from.
RETRYABLE = (JobStatus.FAILED, JobStatus.CANCELLED)


def canonical(data: Any) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)


def digest(data: Any) -> str:
    return hashlib.sha256(canonical(data).encode()).hexdigest()


def request_key(kind: str, scenario_id: str, request: dict[str, Any]) -> str:
    """What makes two jobs the same work: their kind, scenario and options."""
    return digest({"kind": kind, "scenario": scenario_id, "request": request})


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass
class Job:
    id: str
    kind: str
    status: JobStatus
    scenario_id: str
    request: dict[str, Any]
    progress: dict[str, Any] | None
    result: Any
    plan_id: str | None
    error: str | None
    retry_of: str | None
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None

    def to_dict(self) -> dict[str, Any]:
        """The job as the API shows it (without its result body)."""

        def stamp(value: dt.datetime | None) -> str | None:
            if value is None:
                return None
            if value.tzinfo is None:  # SQLite drops the zone; we only store UTC
                value = value.replace(tzinfo=dt.UTC)
            return value.isoformat()

        return {
            "id": self.id,
            "kind": self.kind,
            "status": str(self.status),
            "scenario_id": self.scenario_id,
            "progress": self.progress,
            "plan_id": self.plan_id,
            "error": self.error,
            "retry_of": self.retry_of,
            "created_at": stamp(self.created_at),
            "started_at": stamp(self.started_at),
            "finished_at": stamp(self.finished_at),
        }


class Store:
    """Scenarios, jobs and plans behind one SQLAlchemy engine (safe to share across threads)."""

    def __init__(self, url: str):
        self.url = url
        self.engine = _engine(url)
        metadata.create_all(self.engine)
        self._lock = threading.Lock()  # SQLite allows one writer: serialize ours

    def close(self) -> None:
        self.engine.dispose()

    # Scenarios -------------------------------------------------------------------------
    def put_scenario(self, data: dict[str, Any]) -> str:
        """Store a validated scenario dict once (by content) and return its id."""
        sid = digest(data)
        with self._lock, self.engine.begin() as conn:
            found = conn.execute(select(scenarios.c.id).where(scenarios.c.id == sid)).first()
            if found is None:
                conn.execute(
                    scenarios.insert().values(
                        id=sid,
                        name=str(data.get("name", ""))[:200],
                        accounts=len(data.get("accounts", ())),
                        csms=len(data.get("csms", ())),
                        body=canonical(data),
                        created_at=_now(),
                    )
                )
        return sid

    def scenario(self, sid: str) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(scenarios.c.body).where(scenarios.c.id == sid)).first()
        return None if row is None else json.loads(row[0])

    # Jobs ------------------------------------------------------------------------------
    def create_job(
        self,
        kind: str,
        scenario_id: str,
        request: dict[str, Any],
        retry_of: str | None = None,
    ) -> Job:
        job_id = str(uuid.uuid4())
        key = request_key(kind, scenario_id, request)
        with self._lock, self.engine.begin() as conn:
            conn.execute(
                jobs.insert().values(
                    id=job_id,
                    kind=kind,
                    status=JobStatus.QUEUED,
                    request_key=key,
                    scenario_id=scenario_id,
                    request=canonical(request),
                    retry_of=retry_of,
                    created_at=_now(),
                )
            )
        job = self.job(job_id)
        assert job is not None
        return job

    def job(self, job_id: str) -> Job | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(jobs).where(jobs.c.id == job_id)).mappings().first()
        return None if row is None else _job(row)

    def jobs(self, status: JobStatus | None = None, limit: int = 100) -> list[Job]:
        query = select(jobs).order_by(jobs.c.created_at.desc()).limit(limit)
        if status is not None:
            query = query.where(jobs.c.status == status)
        with self.engine.connect() as conn:
            return [_job(row) for row in conn.execute(query).mappings()]

    def finished_like(self, kind: str, scenario_id: str, request: dict[str, Any]) -> Job | None:
        """The newest job with the same input that finished with a result (for re-use)."""
        done = (JobStatus.DONE,)
        return self._like(kind, scenario_id, request, done, jobs.c.finished_at.desc())

    def live_like(self, kind: str, scenario_id: str, request: dict[str, Any]) -> Job | None:
        """The oldest queued or running job with the same input (to wait on, not re-solve)."""
        return self._like(kind, scenario_id, request, LIVE, jobs.c.created_at)

    def _like(
        self,
        kind: str,
        scenario_id: str,
        request: dict[str, Any],
        statuses: tuple[JobStatus, ...],
        order: Any,
    ) -> Job | None:
        key = request_key(kind, scenario_id, request)
        query = (
            select(jobs)
            .where(jobs.c.request_key == key, jobs.c.status.in_(statuses))
            .order_by(order)
            .limit(1)
        )
        with self.engine.connect() as conn:
            row = conn.execute(query).mappings().first()
        return None if row is None else _job(row)

    def start(self, job_id: str) -> bool:
        """Mark a queued job running; False when it is no longer queued (e.g. cancelled)."""
        with self._lock, self.engine.begin() as conn:
            done = conn.execute(
                update(jobs)
                .where(jobs.c.id == job_id, jobs.c.status == JobStatus.QUEUED)
                .values(status=JobStatus.RUNNING, started_at=_now())
            )
        return done.rowcount == 1

    def set_progress(self, job_id: str, progress: dict[str, Any]) -> None:
        with self._lock, self.engine.begin() as conn:
            conn.execute(
                update(jobs)
                .where(jobs.c.id == job_id, jobs.c.status == JobStatus.RUNNING)
                .values(progress=canonical(progress))
            )

    def finish(
        self,
        job_id: str,
        status: JobStatus,
        *,
        plan: dict[str, Any] | None = None,
        result: Any = None,
        error: str | None = None,
        only_if: tuple[JobStatus, ...] = LIVE,
    ) -> bool:
        """Record a job's end (and its plan); False when it had already ended."""
        assert status in FINAL
        with self._lock, self.engine.begin() as conn:
            plan_id = None
            if plan is not None:
                plan_id = str(uuid.uuid4())
                conn.execute(
                    plans.insert().values(
                        id=plan_id,
                        job_id=job_id,
                        status=plan["status"],
                        objective=(plan.get("objective") or {}).get("total"),
                        gap=plan.get("gap"),
                        body=canonical({**plan, "plan_id": plan_id, "job_id": job_id}),
                        created_at=_now(),
                    )
                )
            done = conn.execute(
                update(jobs)
                .where(jobs.c.id == job_id, jobs.c.status.in_(only_if))
                .values(
                    status=status,
                    plan_id=plan_id,
                    result=None if result is None else canonical(result),
                    error=error,
                    finished_at=_now(),
                )
            )
            if done.rowcount != 1 and plan_id is not None:
                conn.execute(plans.delete().where(plans.c.id == plan_id))
        return done.rowcount == 1

    def result(self, job_id: str) -> Any:
        with self.engine.connect() as conn:
            row = conn.execute(select(jobs.c.result).where(jobs.c.id == job_id)).first()
        return None if row is None or row[0] is None else json.loads(row[0])

    def plan(self, plan_id: str) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(plans.c.body).where(plans.c.id == plan_id)).first()
        return None if row is None else json.loads(row[0])

    def recover_after_restart(self) -> list[str]:
        """Mark jobs left running by a stopped server failed; return the queued ones to re-run."""
        message = (
            "The server stopped while this job was running; nothing was lost but its progress. "
            "Resubmit it with POST /v1/jobs/{id}/retry."
        )
        with self._lock, self.engine.begin() as conn:
            running = [
                r[0]
                for r in conn.execute(select(jobs.c.id).where(jobs.c.status == JobStatus.RUNNING))
            ]
            for job_id in running:
                conn.execute(
                    update(jobs)
                    .where(jobs.c.id == job_id)
                    .values(
                        status=JobStatus.FAILED,
                        error=message.format(id=job_id),
                        finished_at=_now(),
                    )
                )
            queued = conn.execute(
                select(jobs.c.id)
                .where(jobs.c.status == JobStatus.QUEUED)
                .order_by(jobs.c.created_at)
            )
            return [r[0] for r in queued]


def _job(row: Any) -> Job:
    return Job(
        id=row["id"],
        kind=row["kind"],
        status=JobStatus(row["status"]),
        scenario_id=row["scenario_id"],
        request=json.loads(row["request"]),
        progress=None if row["progress"] is None else json.loads(row["progress"]),
        result=None if row["result"] is None else json.loads(row["result"]),
        plan_id=row["plan_id"],
        error=row["error"],
        retry_of=row["retry_of"],
        created_at=row["created_at"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
    )


def _engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cursor = dbapi_conn.cursor()
            if ":memory:" not in url and url not in ("sqlite://", "sqlite:///"):
                cursor.execute("PRAGMA journal_mode=WAL")  # readers never wait for the writer
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=True)
