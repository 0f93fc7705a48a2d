"""The API key: when the server has one, every ``/v1`` request must carry it.

Checked as the request arrives, before routing and before its body is read: a client without
the key costs the server no parsing, and learns nothing from the answer (401, for paths that do
not exist too) but that the key is missing.
"""

from __future__ import annotations

import hmac

from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from .errors import error_body


class ApiKey:
    """Answer 401 to requests under ``prefix`` without the key (``X-API-Key`` or bearer).

    Parameters
    ----------
    app
        The application behind it.
    key
        The key; ``None`` lets every request through.
    prefix
        The paths it guards, e.g. ``/v1`` (the web page and ``/health`` stay open).
    """

    def __init__(self, app: ASGIApp, key: str | None, prefix: str):
        self.app = app
        self.key = key
        self.prefix = prefix.rstrip("/")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.key is None or not self._guards(scope):
            await self.app(scope, receive, send)
            return
        given = _given_key(Headers(scope=scope))
        # Compared in constant time: the answer's timing says nothing about the key.
        if given is not None and hmac.compare_digest(given.encode(), self.key.encode()):
            await self.app(scope, receive, send)
            return
        refusal = JSONResponse(
            error_body("A valid API key is required: send it as 'X-API-Key: <key>'."),
            status_code=401,
            headers={"WWW-Authenticate": "Bearer"},
        )
        await refusal(scope, receive, send)

    def _guards(self, scope: Scope) -> bool:
        path: str = scope["path"]
        root: str = scope.get("root_path", "")
        if root and path.startswith(root):  # served under a prefix (uvicorn --root-path)
            path = path[len(root) :]
        return path == self.prefix or path.startswith(self.prefix + "/")


def _given_key(headers: Headers) -> str | None:
    given = headers.get("x-api-key")
    auth = headers.get("authorization", "")
    if given is None and auth.lower().startswith("bearer "):
        given = auth[7:].strip()
    return given
