"""Server settings, read from ``TERRITORY_*`` environment variables (see docs/api.md)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from typing import Any


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        return os.cpu_count() or 1


@dataclass(frozen=True)
class Settings:
    """What the server allows and where it keeps its data.

    Every field can be set with an environment variable ``TERRITORY_<FIELD>`` (upper case), e.g.
    ``TERRITORY_DATABASE_URL=postgresql+psycopg://user:pw@host/db``.
    """

    #: SQLAlchemy URL of the job store: a SQLite file by default, PostgreSQL when set.
    database_url: str = "sqlite:///territory-api.db"
    #: When set, every ``/v1`` request needs ``X-API-Key: <key>`` (or ``Authorization: Bearer``).
    api_key: str | None = None
    #: Largest request body accepted, in bytes (413 beyond it).
    max_request_bytes: int = 20_000_000
    #: Largest team accepted per scenario (413 beyond it).
    max_accounts: int = 50_000
    max_csms: int = 2_000
    #: Most scenarios one compare request may hold.
    max_variants: int = 50
    #: Solver time limit ceiling for jobs, and for plans answered synchronously (seconds).
    max_time_limit_s: float = 600.0
    sync_time_limit_s: float = 30.0
    #: How long a synchronous request waits (queue + solve) before it is answered 202 + a job.
    sync_wait_s: float = 120.0
    #: Solver processes; requests beyond them queue (default: the cores this process may use).
    workers: int = field(default_factory=_cores)
    #: Jobs waiting at most; beyond it new work is refused with 503 and Retry-After.
    max_queued: int = 1_000
    #: Snapshots kept in memory for routing new accounts (the least recently used goes first).
    max_snapshots: int = 8
    #: Web origins allowed to call the API from a browser (CORS), comma-separated, e.g.
    #: ``https://ops.example.com``; unset: none (the server's own page needs none).
    cors_origins: str | None = None

    def origins(self) -> list[str]:
        """The CORS origins, one per comma-separated entry."""
        return [o.strip() for o in (self.cors_origins or "").split(",") if o.strip()]

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None, **overrides: Any) -> Settings:
        """Settings from ``env`` (default ``os.environ``), then ``overrides``."""
        env = dict(os.environ if env is None else env)
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = env.get(f"TERRITORY_{f.name.upper()}")
            if f.name == "api_key" and raw is not None and not raw.strip():
                # An empty key must not quietly mean "no authentication".
                raise ValueError(
                    "TERRITORY_API_KEY is set but empty: set a key, or unset it to run without "
                    "authentication"
                )
            if raw is None or raw == "":
                continue
            kind = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", "")
            try:
                if "int" in kind:
                    values[f.name] = int(raw)
                elif "float" in kind:
                    values[f.name] = float(raw)
                else:
                    values[f.name] = raw
            except ValueError:
                raise ValueError(
                    f"TERRITORY_{f.name.upper()}={raw!r} is not a valid {kind.split()[0]}"
                ) from None
        values.update(overrides)
        settings = cls(**values)
        if settings.workers < 1:
            raise ValueError("TERRITORY_WORKERS must be at least 1")
        return settings
