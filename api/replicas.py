"""Read-your-writes with read replicas: a write's position travels to the client and back.

Each successful write answers with the primary's WAL position after its commit, as the
``Craftmap-LSN`` header and the ``craftmap-lsn`` cookie (HttpOnly, SameSite=Lax, short
lived). A read presenting it (cookie, or the header for clients without cookies) is
served by a replica only once that replica has replayed that far, else by the primary
(`geo.store.replicas.ReadRouter`). Only installed when replicas are configured.
"""

from __future__ import annotations

import logging

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from geo.store.replicas import ReadRouter, parse_lsn

log = logging.getLogger("craftmap.replicas")

LSN_HEADER = "Craftmap-LSN"
LSN_COOKIE = "craftmap-lsn"
# Long enough for any sane replication lag, short enough that a client's reads return to
# the replicas soon after its last write.
LSN_MAX_AGE_SECONDS = 30
_READS = frozenset({"GET", "HEAD", "OPTIONS"})


def client_lsn(request: Request) -> str | None:
    """The WAL position this client last wrote at, if it says one (validated)."""
    return parse_lsn(request.headers.get(LSN_HEADER) or request.cookies.get(LSN_COOKIE))


class WritePositionMiddleware:
    """Add the primary's WAL position to every successful write's answer."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in _READS:
            await self.app(scope, receive, send)
            return

        async def send_with_position(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] < 400:
                router: ReadRouter | None = scope["app"].state.read_router
                lsn = None
                if router is not None:
                    try:
                        lsn = await run_in_threadpool(router.primary_lsn)
                    except Exception as exc:  # the write is committed: answer it anyway
                        log.warning("could not read the primary's WAL position: %s", exc)
                if lsn is not None:
                    headers = MutableHeaders(scope=message)
                    headers.append(LSN_HEADER, lsn)
                    secure = "; Secure" if scope.get("scheme") == "https" else ""
                    headers.append(
                        "Set-Cookie",
                        f"{LSN_COOKIE}={lsn}; Max-Age={LSN_MAX_AGE_SECONDS}; Path=/; "
                        f"HttpOnly; SameSite=Lax{secure}",
                    )
            await send(message)

        await self.app(scope, receive, send_with_position)
