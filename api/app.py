"""The HTTP API: POST a scenario, get a plan (docs/api.md).

``create_app(settings)`` builds the FastAPI application; ``territory serve`` runs it with uvicorn.
Every solve runs in the bounded worker pool (:mod:`api.runner`); every scenario, job and plan is
kept in the job store (:mod:`api.store`). The routes are in :mod:`api.routers`, one module per
resource; what they share is in :mod:`api.deps`.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles

from .auth import ApiKey
from .deps import API_VERSION, Service
from .errors import BodyLimit, error_responses, install_handlers
from .routers import analysis, between, jobs, plans, scenarios, service
from .runner import Runner
from .settings import Settings
from .store import Store


class _Revalidated(StaticFiles):
    """The page's assets, revalidated on every load (ETag): a new version shows at once."""

    def file_response(self, *args: Any, **kwargs: Any) -> Response:
        response = super().file_response(*args, **kwargs)
        response.headers["Cache-Control"] = "no-cache"
        return response


def create_app(settings: Settings | None = None) -> FastAPI:
    """The API application with its own store and worker pool.

    Parameters
    ----------
    settings
        What the server allows and where it keeps its data; by default from the
        ``TERRITORY_*`` environment variables.

    Returns
    -------
    FastAPI
        The application. Its solver processes start with its lifespan (uvicorn's startup, or
        entering a ``TestClient``) and stop with it; before that it only answers
        ``openapi()``.
    """
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
    app.state.service = Service(settings, store, runner)
    # The last added runs first: a body announced too large is refused before the key is
    # checked, and a request without the key before its body is read.
    app.add_middleware(ApiKey, key=settings.api_key, prefix=f"/{API_VERSION}")
    app.add_middleware(BodyLimit, limit=settings.max_request_bytes)
    if settings.origins():
        # Outermost: a browser's preflight is answered before the key is asked for.
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.origins(),
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["Content-Type", "X-API-Key", "Authorization"],
            expose_headers=["Location", "Retry-After"],
        )
    install_handlers(app)

    app.include_router(service.router)
    app.mount("/static", _Revalidated(directory=service.STATIC), name="static")
    for resource in (plans, jobs, scenarios, analysis, between):
        app.include_router(
            resource.router,
            prefix=f"/{API_VERSION}",
            responses=error_responses(401, 415, 422),
        )
    return app


def run(host: str = "127.0.0.1", port: int = 8000, settings: Settings | None = None) -> None:
    """Serve the API with uvicorn until interrupted.

    Parameters
    ----------
    host, port
        Where to listen.
    settings
        As for :func:`create_app`.
    """
    import uvicorn

    app = create_app(settings)
    runner: Runner = app.state.runner

    class _Server(uvicorn.Server):
        """uvicorn's server, which first stops the runner taking work when asked to stop."""

        def handle_exit(self, sig: int, frame: Any) -> None:
            # A signal handler must not wait for a lock its thread may hold: drain on a thread.
            threading.Thread(target=runner.drain, name="territory-drain", daemon=True).start()
            super().handle_exit(sig, frame)

    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="info",
        timeout_graceful_shutdown=10,  # then waiting requests are cancelled and solves stopped
    )
    # As uvicorn.run: the Ctrl-C it re-raises once shut down ends the command quietly.
    with contextlib.suppress(KeyboardInterrupt):
        _Server(config).run()
