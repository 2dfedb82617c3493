"""Structured (JSON lines) request logs."""

from __future__ import annotations

import json
import logging
import os
import re
import time
from typing import Any
from urllib.parse import quote, unquote_plus

from starlette.types import ASGIApp, Message, Receive, Scope, Send

access_log = logging.getLogger("craftmap.access")

# Query parameters that carry credentials; their values never reach the log.
SECRET_PARAMS = frozenset(
    {"api_key", "apikey", "api-key", "key", "token", "access_token", "auth", "password"}
)
# A craftmap token anywhere in a value: the prefix is kept (it names the key), the secret
# is not.
_TOKEN = re.compile(r"cm_([0-9a-f]{8})_[A-Za-z0-9_\-]+")
REDACTED = "[redacted]"
# A query with no escapes names its parameters as written, so a look for the secret names
# (and for a token's prefix) decides whether it needs the full reading.
_PLAIN_QUERY = re.compile(r"[^%+]*")
_MAYBE_SECRET = re.compile(
    r"cm_|(?:^|&)\s*(?:" + "|".join(re.escape(n) for n in sorted(SECRET_PARAMS)) + r")\s*(?:=|&|$)",
    re.IGNORECASE,
)


def redact_token(text: str) -> str:
    """``text`` with every craftmap token's secret replaced.

    Examples
    --------
    >>> redact_token("cm_ab12cd34_s3cr3t-value")
    'cm_ab12cd34_[redacted]'
    """
    return _TOKEN.sub(rf"cm_\1_{REDACTED}", text)


def redact_query(query: str) -> str:
    """A raw query string with credentials redacted, fit for the access log.

    Examples
    --------
    >>> redact_query("f=json&api_key=cm_ab12cd34_s3cr3t&limit=5")
    'f=json&api_key=cm_ab12cd34_[redacted]&limit=5'
    >>> redact_query("token=hunter2")
    'token=[redacted]'
    """
    if not query or (_PLAIN_QUERY.fullmatch(query) and not _MAYBE_SECRET.search(query)):
        # (light, issue 17) Most queries name no credential: no split, no decoding.
        return query
    parts = []
    for part in query.split("&"):
        raw_name, eq, raw_value = part.partition("=")
        name = unquote_plus(raw_name)
        value = unquote_plus(raw_value)
        if name.strip().lower() in SECRET_PARAMS and value:
            hidden = redact_token(value)
            parts.append(f"{raw_name}={hidden if hidden != value else REDACTED}")
        elif _TOKEN.search(value) or _TOKEN.search(name):
            parts.append(
                quote(redact_token(name), safe="[]") + eq + quote(redact_token(value), safe="[]")
            )
        else:
            parts.append(part)
    return "&".join(parts)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message and any ``extra`` fields."""

    # uvicorn adds an ANSI-coloured copy of each message; the JSON line needs only one.
    _RESERVED = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "color_message"}

    def format(self, record: logging.LogRecord) -> str:
        """Render ``record`` as JSON."""
        entry: dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update({k: v for k, v in record.__dict__.items() if k not in self._RESERVED})
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def log_config(*, json_lines: bool = True, level: str = "INFO") -> dict[str, Any]:
    """A ``logging.config.dictConfig`` for the server: craftmap's and uvicorn's logs on stderr.

    Given to uvicorn, which applies it in every worker process.
    """
    formatter = (
        {"()": f"{__name__}.JsonFormatter"}
        if json_lines
        else {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}
    )
    handler = {
        "class": "logging.StreamHandler",
        "formatter": "default",
        "stream": "ext://sys.stderr",
    }
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"default": formatter},
        "handlers": {"default": handler},
        "loggers": {
            "craftmap": {"handlers": ["default"], "level": level, "propagate": False},
            "uvicorn": {"handlers": ["default"], "level": level, "propagate": False},
        },
    }


# nginx's status for a client that closed the connection before the answer began.
CLIENT_CLOSED_REQUEST = 499


class RequestLogMiddleware:
    """Log one line per request with method, path, status, duration and request id.

    Credentials in the query string (or a token in the path) are redacted; headers,
    where keys belong, are not logged at all.

    A plain ASGI middleware (not ``BaseHTTPMiddleware``) so streamed responses pass through
    untouched and the cost per request stays small.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Time the request and log it when the response has started."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = request_id_of(scope)
        status = 0  # no answer started yet

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                message["headers"] = headers
            await send(message)

        crashed = True
        try:
            await self.app(scope, receive, send_wrapper)
            crashed = False
        finally:
            if not status:
                # No answer began: a crash is a 500; otherwise the client left before it
                # (499, as nginx logs a closed request), which is no server error.
                status = 500 if crashed else CLIENT_CLOSED_REQUEST
            if access_log.isEnabledFor(logging.INFO):
                log_request(scope, request_id, status, started)


def request_id_of(scope: Scope) -> str:
    """The client's X-Request-Id, or 16 random hex digits (uuid4().hex[:16] cost more)."""
    return _header(scope, b"x-request-id") or os.urandom(8).hex()


def log_request(
    scope: Scope, request_id: str, status: int, started: float, *, lane: str | None = None
) -> None:
    """The access log's line for a request; ``lane``: which path answered, when not the app."""
    extra = {
        "request_id": request_id,
        "method": scope["method"],
        "path": redact_token(scope["path"]) if "cm_" in scope["path"] else scope["path"],
        "query": redact_query(scope.get("query_string", b"").decode("latin-1")),
        "status": status,
        "duration_ms": round((time.perf_counter() - started) * 1000, 2),
        "client": (scope.get("client") or ("", 0))[0],
    }
    if lane is not None:
        extra["lane"] = lane
    access_log.info("request", extra=extra)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return str(value.decode("latin-1"))[:64]
    return None
