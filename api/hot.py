"""(light, issue 17) The hottest GETs, answered before FastAPI's router.

A single feature costs PostgreSQL a fraction of a millisecond; FastAPI's router, its
dependency solving, its exception and exit-stack layers cost more than that per request.
:class:`HotReads` sits innermost in the middleware stack (every middleware still runs:
log, security headers, CORS and HEAD, conditional requests, GZip, body cap, cancelling)
and calls the very route functions FastAPI would call, with the same ``Request``, so the
answer is the same object sent the same way. What it skips is only the routing.

Errors are answered by the app's own exception handlers (as Starlette's
``ExceptionMiddleware`` would), so a 404 or 400 is the same problem+json. The routes stay
in FastAPI's table: /api documents them, OPTIONS and 405 read them, and any request this
path does not take (another method, a ``root_path``) goes there.
"""

from __future__ import annotations

import asyncio
import contextvars
import inspect
import re
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from anyio import to_thread
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from api.deps import root_url

# A sync function given the request, its path parameters and the root URL; it runs on a
# worker thread (it blocks on the database), once per request: one hop, as FastAPI's.
HotHandler = Callable[[Request, dict[str, str], str], Response]


@dataclass(frozen=True)
class HotRoute:
    """A GET path answered by ``handler``; the pattern's named groups are its parameters.

    The pattern must match exactly the paths the FastAPI route of the same handler matches
    (Starlette's ``{name}`` is ``[^/]+``).
    """

    pattern: re.Pattern[str]
    handler: HotHandler


def path_pattern(template: str) -> re.Pattern[str]:
    """The regular expression of a route template: ``{name}`` matches one path segment.

    Examples
    --------
    >>> path_pattern("/collections/{collectionId}/items/{featureId}").pattern
    '/collections/(?P<collectionId>[^/]+)/items/(?P<featureId>[^/]+)'
    """
    parts = re.split(r"\{([A-Za-z_][A-Za-z0-9_]*)\}", template)
    out = []
    for n, part in enumerate(parts):
        out.append(f"(?P<{part}>[^/]+)" if n % 2 else re.escape(part).replace("\\/", "/"))
    return re.compile("".join(out))


class HotReads:
    """Answer the GETs of ``routes`` without FastAPI's router; pass everything else on."""

    def __init__(self, app: ASGIApp, *, routes: Sequence[HotRoute] = (), threads: int = 0) -> None:
        self.app = app
        self.routes = tuple(routes)
        # A few threads of their own: fewer threads wait on the GIL at once than in the
        # shared pool of 40, and a hop through a plain executor costs half anyio's.
        self.executor = (
            ThreadPoolExecutor(threads, thread_name_prefix="hot-read") if threads > 0 else None
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Run a hot route's handler on a worker thread and send its response."""
        if scope["type"] == "http" and scope["method"] == "GET" and not scope.get("root_path"):
            path = scope["path"]
            for route in self.routes:
                found = route.pattern.fullmatch(path)
                if found is not None:
                    await self._answer(route.handler, found.groupdict(), scope, receive, send)
                    return
        await self.app(scope, receive, send)

    async def _answer(
        self,
        handler: HotHandler,
        params: dict[str, str],
        scope: Scope,
        receive: Receive,
        send: Send,
    ) -> None:
        scope["path_params"] = params
        request = Request(scope, receive)
        try:
            root = await root_url(request)
            if self.executor is None:
                response = await to_thread.run_sync(handler, request, params, root)
            else:
                # The request's context (its statement canceller) goes with it.
                context = contextvars.copy_context()
                response = await asyncio.get_running_loop().run_in_executor(
                    self.executor, context.run, handler, request, params, root
                )
        except Exception as exc:
            respond = _exception_handler(scope["app"], exc)
            if respond is None:
                raise  # the server-error layer answers it, as for any route
            answered = respond(request, exc)
            response = await answered if inspect.isawaitable(answered) else answered
        await response(scope, receive, send)


def _exception_handler(
    app: Any, exc: Exception
) -> Callable[[Request, Exception], Response | Awaitable[Response]] | None:
    """The app's handler for ``exc`` as Starlette's ExceptionMiddleware looks it up.

    ``Exception`` (and 500) belong to the outermost server-error layer, not to this one.
    """
    handlers: dict[Any, Any] = getattr(app, "exception_handlers", {})
    for cls in type(exc).__mro__:
        if cls is Exception:
            return None
        if cls in handlers:
            found: Callable[[Request, Exception], Response | Awaitable[Response]] = handlers[cls]
            return found
    return None
