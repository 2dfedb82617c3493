"""CORS, and truthful ``OPTIONS``/``HEAD``/``Allow``, read from the app's route table.

Starlette's ``CORSMiddleware`` answers every preflight with one configured method list,
whatever the resource. Here the methods come from the routes whose path matches the
request, so a preflight on ``/collections`` never offers ``DELETE`` and a new route is
covered the day it is added. The same table answers plain ``OPTIONS`` (204 with ``Allow``),
corrects the ``Allow`` of 405 answers (the router names only the first route it tried),
and serves ``HEAD`` wherever ``GET`` is served (FastAPI routes do not): as the GET, with
its status and headers and without its body. A streamed answer (``/export``, items pages
above ``FETCH_AT_ONCE``) has no Content-Length to compute, so its route does not run the
query for a HEAD (api/negotiation.py ``is_head``): a HEAD of an export checks the
parameters and the collection (400/404 as the GET) and costs no more.

Origins come from ``CRAFTMAP_CORS_ORIGINS``. A listed origin may use every method a
resource allows; ``*`` lets any origin read (GET, HEAD) but not write. craftmap never sends
``Access-Control-Allow-Credentials``: keys travel in headers a page sets itself, never in
cookies, so a browser never attaches a craftmap credential on its own.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from fastapi.routing import iter_route_contexts
from starlette.responses import Response
from starlette.routing import Match, Mount
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import problem
from api.negotiation import HEAD_SCOPE_KEY
from api.replicas import LSN_HEADER

METHOD_ORDER = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
ALLOW_HEADERS = (
    "Authorization",
    "X-API-Key",
    "Content-Type",
    "Content-Crs",
    "If-Match",
    "If-None-Match",
    "Accept-Language",
    # Read-your-writes across origins: a portal reads a write's position and sends it back.
    LSN_HEADER,
)
EXPOSE_HEADERS = ("ETag", "Location", "Content-Crs", "Retry-After", "Link", LSN_HEADER)
# Browsers cap this (Chromium at 2 hours); 10 minutes keeps a changed setting quick to apply.
MAX_AGE_S = 600


def route_methods(app: Any, scope: Scope) -> frozenset[str] | None:
    """Methods the routes of ``app`` serve at the request's path; None when none matches.

    The route table's own methods, without the HEAD and OPTIONS this module adds.
    """
    found: set[str] = set()
    matched = False
    for route in iter_route_contexts(app.router.routes):
        original = route.original_route
        if isinstance(original, Mount):
            match, _ = original.matches(scope)
            if match is Match.NONE:
                continue
            if not isinstance(original.app, StaticFiles):
                return None  # an app of its own answers its methods
            matched = True
            found |= {"GET", "HEAD"}
            continue
        match, _ = route.matches(scope)
        if match is not Match.NONE:
            matched = True
            found |= set(route.methods or ())
    return frozenset(found) if matched else None


def allowed_methods(served: Iterable[str]) -> list[str]:
    """What a resource allows, in a stable order: its routes' methods, HEAD with GET, OPTIONS."""
    methods = set(served) | {"OPTIONS"}
    if "GET" in methods:
        methods.add("HEAD")
    return [m for m in METHOD_ORDER if m in methods] + sorted(methods - set(METHOD_ORDER))


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return str(value.decode("latin-1"))
    return None


class CorsMiddleware:
    """Preflights, CORS response headers, OPTIONS, HEAD and 405 ``Allow`` from the routes.

    Parameters
    ----------
    app
        The wrapped ASGI app.
    origins
        Allowed origins (``scheme://host[:port]``) and/or ``*``; empty turns CORS off.
    """

    def __init__(self, app: ASGIApp, *, origins: Sequence[str] = ()) -> None:
        self.app = app
        self.listed = frozenset(o for o in origins if o != "*")
        self.any_origin = "*" in origins

    def _grant(self, origin: str) -> tuple[str, frozenset[str]] | None:
        """The Allow-Origin value and the methods ``origin`` may use; None: not allowed."""
        if origin in self.listed:
            return origin, frozenset(METHOD_ORDER)
        if self.any_origin:
            return "*", READ_METHODS
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer OPTIONS and HEAD from the route table; add CORS headers to answers."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method = scope["method"]
        origin = _header(scope, b"origin")
        grant = self._grant(origin) if origin is not None else None

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                served = route_methods(scope["app"], scope) if message["status"] == 405 else None
                if served is not None:
                    headers = [(k, v) for k, v in headers if k.lower() != b"allow"]
                    headers.append((b"allow", ", ".join(allowed_methods(served)).encode()))
                if grant is not None and method in grant[1]:
                    headers.append((b"access-control-allow-origin", grant[0].encode()))
                    headers.append(
                        (b"access-control-expose-headers", ", ".join(EXPOSE_HEADERS).encode())
                    )
                if self.listed:
                    # The answer depends on Origin: shared caches must keep them apart.
                    headers = _add_vary(headers, "Origin")
                message["headers"] = headers
            await send(message)

        if method == "OPTIONS":
            served = route_methods(scope["app"], scope)
            if served is not None and "OPTIONS" not in served:
                response = self._options(scope, origin, grant, served)
                await response(
                    scope, receive, send_with_headers if not _is_preflight(scope) else send
                )
                return
        if method == "HEAD":
            served = route_methods(scope["app"], scope)
            if served is not None and "GET" in served and "HEAD" not in served:
                # Run as a GET (same status and headers), marked so that a route whose body
                # costs a whole query (a streamed export) can skip it; the body is dropped.
                await self.app(
                    {**scope, "method": "GET", HEAD_SCOPE_KEY: True},
                    receive,
                    _without_body(send_with_headers),
                )
                return
        await self.app(scope, receive, send_with_headers)

    def _options(
        self,
        scope: Scope,
        origin: str | None,
        grant: tuple[str, frozenset[str]] | None,
        served: frozenset[str],
    ) -> Response:
        allow = allowed_methods(served)
        if not _is_preflight(scope):
            return Response(status_code=204, headers={"Allow": ", ".join(allow)})
        if grant is None:
            refused = problem(
                403,
                f"origin {origin} may not call this API from a browser "
                "(allowed origins are set by CRAFTMAP_CORS_ORIGINS)",
                instance=scope["path"],
            )
            refused.headers["Allow"] = ", ".join(allow)
            return refused
        value, granted = grant
        headers = {
            "Allow": ", ".join(allow),
            "Access-Control-Allow-Origin": value,
            "Access-Control-Allow-Methods": ", ".join(m for m in allow if m in granted),
            "Access-Control-Allow-Headers": ", ".join(ALLOW_HEADERS),
            "Access-Control-Max-Age": str(MAX_AGE_S),
        }
        if self.listed:
            headers["Vary"] = "Origin"
        return Response(status_code=204, headers=headers)


def _is_preflight(scope: Scope) -> bool:
    return (
        _header(scope, b"origin") is not None
        and _header(scope, b"access-control-request-method") is not None
    )


def _add_vary(headers: list[tuple[bytes, bytes]], name: str) -> list[tuple[bytes, bytes]]:
    for i, (key, value) in enumerate(headers):
        if key.lower() == b"vary":
            present = {v.strip().lower() for v in value.decode("latin-1").split(",")}
            if name.lower() not in present and "*" not in present:
                headers[i] = (key, value + b", " + name.encode())
            return headers
    return [*headers, (b"vary", name.encode())]


def _without_body(send: Send) -> Send:
    """A ``send`` that passes the GET's status and headers but none of its body (HEAD)."""

    async def head_send(message: Message) -> None:
        if message["type"] != "http.response.body":
            await send(message)
        elif not message.get("more_body", False):
            await send({"type": "http.response.body", "body": b"", "more_body": False})

    return head_send
