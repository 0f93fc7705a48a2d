"""``serve``: the HTTP API (docs/api.md).

``api`` (FastAPI, uvicorn, SQLAlchemy) loads when the command runs, not when ``territory`` starts.
"""

from __future__ import annotations

import argparse
from typing import Any

from rich.console import Console

from ..exits import EXIT_INVALID, EXIT_OK


def startup_line(host: str, port: int, settings: Any) -> str:
    """What the server runs with: where, the solver processes, the store's kind,
    authentication and the CORS origins."""
    auth = "on (X-API-Key)" if settings.api_key else "off (no TERRITORY_API_KEY)"
    cors = ", ".join(settings.origins()) or "none"
    return (
        f"Serving on http://{host}:{port} (OpenAPI at /docs), {settings.workers} solver "
        f"process(es), store {settings.database_url.split('://')[0]}, authentication {auth}, "
        f"CORS origins {cors}"
    )


def cmd_serve(args: argparse.Namespace, console: Console, err: Console) -> int:
    """``territory serve``: run the API until interrupted.

    ``--workers`` and ``--database-url`` override the ``TERRITORY_*`` environment. Where it
    listens, or why the settings are invalid, goes to ``err``; the server logs on its own.

    Returns
    -------
    int
        0 once the server stops, or 2 for invalid settings.
    """
    from api import Settings, run

    overrides: dict[str, Any] = {}
    if args.workers is not None:
        overrides["workers"] = args.workers
    if args.database_url:
        overrides["database_url"] = args.database_url
    try:
        settings = Settings.from_env(**overrides)
    except ValueError as exc:
        err.print(f"[red]error:[/] {exc}")
        return EXIT_INVALID
    err.print(startup_line(args.host, args.port, settings))
    run(args.host, args.port, settings)
    return EXIT_OK
