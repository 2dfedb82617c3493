"""Request guards: a cap on the body size, and cancelling the queries of a client that left.

Both are plain ASGI middleware: they must act before any route reads the body, and see
the client's ``http.disconnect`` while a sync route runs in the thread pool.
"""

from __future__ import annotations

import asyncio
import threading

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import BodyTooLarge, limit_problem, problem
from geo.store.db import StatementCanceller, cancellable


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return bytes(value)
    return None


class BodyLimitMiddleware:
    """Refuse bodies over ``max_bytes`` with 413, never holding more than that in memory.

    A Content-Length over the cap is answered at once, before the app runs. A chunked (or
    understated) body is counted as the app reads it; reading past the cap raises
    ``BodyTooLarge``, which the app answers with 413. The app reads a write's body only
    after the API key was accepted, so a request without a key costs no body at all.
    """

    def __init__(
        self, app: ASGIApp, *, max_bytes: int, path_limits: dict[str, int] | None = None
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        # Paths with a cap of their own (file uploads: /imports).
        self.path_limits = dict(path_limits or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check the declared length, then count what is actually received."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cap = self.path_limits.get(scope["path"], self.max_bytes)
        upload = scope["method"] == "POST" and scope["path"] in self.path_limits
        if upload and not _carries_key(scope):
            # An upload's form is parsed before its route checks the key: without one,
            # refuse it here so an anonymous client costs no disk (the key itself is
            # still checked by the route, with the role it needs).
            refused = problem(
                401,
                "an upload needs an API key (Authorization: Bearer <key> or X-API-Key)",
                instance=scope["path"],
            )
            refused.headers["WWW-Authenticate"] = 'Bearer realm="craftmap"'
            await refused(scope, receive, send)
            return
        limit_name = "max_body_bytes" if cap == self.max_bytes else "import_max_bytes"
        declared = _header(scope, b"content-length")
        if declared is not None:
            try:
                length = int(declared)
            except ValueError:
                length = -1
            if length < 0:
                await problem(400, "Content-Length is not a number", instance=scope["path"])(
                    scope, receive, send
                )
                return
            if length > cap:
                too_large = BodyTooLarge(
                    f"the body is {length} bytes; at most {cap} are accepted",
                    limit=limit_name,
                    value=cap,
                )
                await limit_problem(413, too_large, scope["path"])(scope, receive, send)
                return
        received = 0

        async def counted_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > cap:
                    raise BodyTooLarge(
                        f"the body is larger than {cap} bytes, the most accepted",
                        limit=limit_name,
                        value=cap,
                    )
            return message

        await self.app(scope, counted_receive, send)


class CancelOnDisconnect:
    """Cancel a request's running database statements when its client goes away.

    Sync routes run in the thread pool and a thread cannot be interrupted; PostgreSQL
    can. Every connection the request checks out joins a ``StatementCanceller`` (through
    a context variable the worker threads inherit). Once the body has been read, a task
    waits for ``http.disconnect``; if it comes before the response is complete, the
    canceller stops the statements and refuses new ones.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Run the app with a canceller and a disconnect watcher."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        canceller = StatementCanceller()
        body_read = asyncio.Event()
        gone = asyncio.Event()
        finished = False
        stashed: list[Message] = []
        has_body = _header(scope, b"transfer-encoding") is not None or (
            _header(scope, b"content-length") or b"0"
        ).strip() not in {b"0", b""}

        async def app_receive() -> Message:
            if not has_body:
                await body_read.wait()  # the watcher takes the (empty) body message
                if stashed:
                    return stashed.pop()
            elif not body_read.is_set():
                message = await receive()
                if message["type"] != "http.request" or not message.get("more_body", False):
                    body_read.set()
                if message["type"] == "http.disconnect":
                    gone.set()
                return message
            # After the body only a disconnect can come; the watcher reads it.
            await gone.wait()
            return {"type": "http.disconnect"}

        async def watch() -> None:
            if not has_body:
                # Take the empty body message now (the app gets it from the stash), so
                # the next receive is the one that reports a disconnect.
                stashed.append(await receive())
                body_read.set()
            await body_read.wait()
            message = await receive()
            while message["type"] != "http.disconnect":
                message = await receive()
            gone.set()
            if not finished:
                # Blocking calls to the server: on a thread of its own, never the event
                # loop, and not the thread pool, which the slow requests may fill.
                threading.Thread(target=canceller.cancel_until_released, daemon=True).start()

        async def watched_send(message: Message) -> None:
            nonlocal finished
            if message["type"] == "http.response.body" and not message.get("more_body", False):
                finished = True
            await send(message)

        with cancellable(canceller):
            watcher = asyncio.create_task(watch())
            try:
                await self.app(scope, app_receive, watched_send)
            finally:
                finished = True
                watcher.cancel()
                canceller.release()


def _carries_key(scope: Scope) -> bool:
    """The request presents some API key (valid or not: the route decides)."""
    authorization = (_header(scope, b"authorization") or b"").lower()
    return authorization.startswith(b"bearer ") or bool(_header(scope, b"x-api-key"))
