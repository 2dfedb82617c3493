"""Domain errors → RFC 9457 problem details (``application/problem+json``)."""

from __future__ import annotations

import html
import json
import logging
from http import HTTPStatus

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from sqlalchemy import exc as sa_exc
from starlette.exceptions import HTTPException as StarletteHTTPException

from geo import errors
from geo.repository import PreconditionFailed

log = logging.getLogger("craftmap.errors")

PROBLEM_JSON = "application/problem+json"

STATUS_CODES: dict[type[Exception], int] = {
    PreconditionFailed: 412,
    errors.NotFound: 404,
    errors.InvalidInput: 400,
    errors.Conflict: 409,
    errors.DatabaseUnavailable: 503,
    errors.ClusterError: 503,
}


def problem(status: int, detail: str | None, *, instance: str | None = None) -> JSONResponse:
    """A problem-details response (RFC 9457)."""
    phrase = HTTPStatus(status).phrase
    if detail:
        # A lone surrogate from the client, echoed in a message, would fail the UTF-8
        # encoding of the answer and turn it into a 500 (cql2 area, issue 9).
        detail = detail.encode("utf-8", "backslashreplace").decode("utf-8")
    body = {
        "type": "about:blank",
        "title": phrase,
        "status": status,
        "detail": detail or phrase,
    }
    if instance:
        body["instance"] = instance
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON)


def add_exception_handlers(app: FastAPI, status_codes: dict[type[Exception], int]) -> None:
    """Register one handler per domain error, plus validation, HTTP and catch-all ones."""

    def _domain_handler(status: int):  # type: ignore[no-untyped-def]
        def handler(request: Request, exc: Exception) -> Response:
            if status >= 500:
                log.error("%s on %s: %s", type(exc).__name__, request.url.path, exc)
            return _for_client(request, problem(status, str(exc), instance=request.url.path))

        return handler

    for exc_type, status in status_codes.items():
        app.add_exception_handler(exc_type, _domain_handler(status))

    def validation_handler(request: Request, exc: Exception) -> Response:
        # OGC API - Features wants 400 for invalid parameters, not FastAPI's 422.
        assert isinstance(exc, RequestValidationError)
        details = "; ".join(
            f"{'.'.join(str(p) for p in err.get('loc', ()))}: {err.get('msg')}"
            for err in exc.errors()
        )
        return _for_client(request, problem(400, details, instance=request.url.path))

    def http_handler(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        response = problem(exc.status_code, str(exc.detail), instance=request.url.path)
        if exc.headers:
            response.headers.update(exc.headers)
        return _for_client(request, response)

    def unexpected_handler(request: Request, exc: Exception) -> JSONResponse:
        # Never echo internals to the client; the traceback goes to the log.
        log.exception("unhandled error on %s", request.url.path, exc_info=exc)
        return problem(500, "internal error", instance=request.url.path)

    def database_value_handler(request: Request, exc: Exception) -> Response:
        # A value PostgreSQL refuses (out of range, malformed geometry in a filter) is the
        # client's input that got past the checks: still a 400, never a 500.
        assert isinstance(exc, sa_exc.DataError)
        message = getattr(getattr(exc.orig, "diag", None), "message_primary", None)
        detail = f"invalid value: {message or 'the database refused a value of the request'}"
        return _for_client(request, problem(400, detail, instance=request.url.path))

    app.add_exception_handler(sa_exc.DataError, database_value_handler)
    app.add_exception_handler(RequestValidationError, validation_handler)
    app.add_exception_handler(StarletteHTTPException, http_handler)
    app.add_exception_handler(Exception, unexpected_handler)


def _for_client(request: Request, response: JSONResponse) -> Response:
    """Browsers asking for HTML get the problem as a readable page, with the same status."""
    accept = request.headers.get("accept", "")
    asked = request.query_params.get("f")
    if asked == "html" or (asked is None and accept.startswith("text/html")):
        body = json.loads(bytes(response.body))
        page = (
            '<!doctype html><html><head><meta charset="utf-8"><title>{status} {title}</title>'
            "<style>body{{font-family:system-ui,sans-serif;max-width:40rem;margin:3rem auto}}"
            "h1{{color:#7a3e12}}</style></head><body><h1>{status} {title}</h1><p>{detail}</p>"
            '<p><a href="/">craftmap</a></p></body></html>'
        ).format(
            status=body["status"],
            title=html.escape(body["title"]),
            detail=html.escape(body["detail"]),
        )
        return HTMLResponse(page, status_code=response.status_code, headers=_kept_headers(response))
    return response


def _kept_headers(response: Response) -> dict[str, str]:
    return {k: v for k, v in response.headers.items() if k.lower() == "www-authenticate"}
