"""Every error the API answers, in one shape: ``{"detail": str, "issues": [{path, message}]}``.

Bad input is 422 (413 when too large), never a 500: the request body is parsed here
(:class:`JsonRoute`), its size is capped here (:class:`BodyLimit`), and FastAPI's own errors
(validation, unknown paths) are answered in the same shape by the handlers of
:func:`install_handlers`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

from fastapi import FastAPI, HTTPException, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from optimizer import ScenarioIssue

from .models import Error

#: What each error status means, for the OpenAPI document.
ERROR_STATUSES = {
    401: "No valid API key (only when the server has one)",
    404: "No such id",
    409: "Not possible in the job's or plan's present state",
    413: "Too large for this server",
    415: "The body is not sent as application/json",
    422: "Not valid: the issues name each problem",
    503: "Too many jobs waiting (Retry-After)",
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for ``statuses``, each answered with the :class:`Error` body."""
    return {status: {"model": Error, "description": ERROR_STATUSES[status]} for status in statuses}


class ApiError(HTTPException):
    """An error answered with ``status_code`` and the body ``{"detail", "issues"}``.

    An :class:`~fastapi.HTTPException`, so that FastAPI passes it through unchanged even when
    it is raised while the request body is read (a body too large, not JSON).
    """

    def __init__(
        self,
        status_code: int,
        detail: str,
        issues: Sequence[ScenarioIssue] | None = None,
        headers: dict[str, str] | None = None,
    ):
        super().__init__(status_code=status_code, detail=detail, headers=headers)
        self.issues = list(issues or [])


def error_body(detail: str, issues: Sequence[ScenarioIssue] = ()) -> dict[str, Any]:
    """The JSON body of an error answer."""
    return Error(detail=detail, issues=list(issues)).model_dump(mode="json")


def install_handlers(app: FastAPI) -> None:
    """Answer every error of ``app`` with the :class:`Error` body."""
    app.add_exception_handler(StarletteHTTPException, _http_error)  # ApiError included
    app.add_exception_handler(RequestValidationError, _invalid)


async def _http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    issues = exc.issues if isinstance(exc, ApiError) else []
    return JSONResponse(
        error_body(str(exc.detail), issues), status_code=exc.status_code, headers=exc.headers
    )


async def _invalid(_request: Request, exc: Exception) -> JSONResponse:
    """FastAPI's validation errors, with readable paths: ``variants.0``, ``query.backend``."""
    assert isinstance(exc, RequestValidationError)
    errors = list(exc.errors())
    issues = [_issue(error) for error in errors]
    whole_body = [e for e in errors if tuple(e.get("loc", ())) == ("body",)]
    if any(e.get("type") == "missing" for e in whole_body):
        detail = "The request has no body: send a JSON document."
    elif any(isinstance(e.get("input"), bytes) for e in whole_body):
        # FastAPI parses a body as JSON only when it says so: bytes are any other body.
        detail = "The request body is not JSON: send it with 'content-type: application/json'."
        issues = [ScenarioIssue(path="body", message="not sent as application/json")]
    else:
        named = "; ".join(f"{i.path}: {i.message}" for i in issues[:3])
        more = "; ..." if len(issues) > 3 else ""
        detail = f"{len(issues)} problem(s) in the request: {named}{more}."
    return JSONResponse(error_body(detail, issues), status_code=422)


def _issue(error: Any) -> ScenarioIssue:
    """One of FastAPI's errors as an issue; a body's fields are named without ``body.``."""
    loc = [str(part) for part in error.get("loc", ())]
    if loc[:1] == ["body"] and len(loc) > 1:
        loc = loc[1:]
    return ScenarioIssue(path=".".join(loc), message=str(error.get("msg")))


class JsonRequest(Request):
    """A request whose body, when it is JSON, is parsed with a 422 for anything unreadable.

    FastAPI turns only a syntax error into a 422 and answers other parse failures (invalid
    UTF-8, nesting too deep for the parser) with 400.
    """

    async def json(self) -> Any:
        try:
            return json.loads(await self.body())
        except (ValueError, RecursionError) as exc:
            raise ApiError(422, f"The request body is not valid JSON: {exc}") from None


#: Methods whose requests may carry a body.
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


def json_media_type(value: str) -> bool:
    """``application/json`` or a ``+json`` type (parameters such as ``charset`` allowed)."""
    media = value.split(";", 1)[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


class JsonRoute(APIRoute):
    """A route whose handler reads its request as a :class:`JsonRequest`; a body sent as
    anything but JSON (``application/json`` or ``+json``) is refused with 415 before it is
    read. A form or ``text/plain`` body is what any web page may send to any server without
    asking (no CORS preflight): refusing it keeps other sites from queueing solves on a
    server without an API key."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def json_only(request: Request) -> Response:
            if request.method in BODY_METHODS and _has_body(request):
                declared = request.headers.get("content-type", "")
                if not json_media_type(declared):
                    raise ApiError(
                        415,
                        f"Send the body as JSON with Content-Type: application/json (got "
                        f"{declared or 'no Content-Type'}).",
                    )
            return await handler(JsonRequest(request.scope, request.receive))

        return json_only


def _has_body(request: Request) -> bool:
    length = request.headers.get("content-length")
    if length is not None:
        return length.strip() not in ("", "0")
    return "chunked" in request.headers.get("transfer-encoding", "").lower()


class BodyTooLarge(ApiError):
    """A request body over the server's limit (413)."""

    def __init__(self, limit: int):
        super().__init__(
            413, f"The request body is larger than this server accepts ({limit:,} bytes)."
        )


class BodyLimit:
    """Refuse request bodies over ``limit`` bytes with 413, whether or not they announce it.

    A body that announces its length is refused before it is read; one that does not (chunked)
    is counted as it arrives, and :class:`BodyTooLarge` is raised where it is read: FastAPI
    answers it with the exception handlers, and anything reading it outside a route ends here.
    """

    def __init__(self, app: ASGIApp, limit: int):
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope.get("headers") or []).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.limit:
            await self._refuse(send)
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise BodyTooLarge(self.limit)
            return message

        try:
            await self.app(scope, counted, send)
        except BodyTooLarge:
            await self._refuse(send)

    async def _refuse(self, send: Send) -> None:
        exc = BodyTooLarge(self.limit)
        body = json.dumps(error_body(exc.detail)).encode()
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
