"""The service itself: ``/health`` and the web page at ``/`` (no API key needed for either)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse

from ..deps import ServiceDep

#: The web page served at ``/`` and its assets at ``/static/...``.
STATIC = Path(__file__).resolve().parent.parent / "static"

router = APIRouter(tags=["service"])


# The page's own requests send the key the user pastes into it.
@router.get("/", response_class=HTMLResponse, include_in_schema=False)
def page() -> FileResponse:
    """The web page: load a scenario, run it, follow the solve, review and download the plan."""
    return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})


@router.get("/health")
def health(request: Request, service: ServiceDep) -> dict[str, Any]:
    """Whether the service is up, and how busy it is."""
    return {
        "status": "ok",
        "version": request.app.version,
        "workers": service.settings.workers,
        "queued": service.runner.queued,
        "database": service.store.engine.dialect.name,
    }
