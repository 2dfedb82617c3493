"""Domain errors → RFC 9457 problem details (``application/problem+json``)."""

from __future__ import annotations

import html
import json
import logging
import re
from http import HTTPStatus

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.i18n import PROBLEM_DETAILS, PROBLEM_NOUNS, PROBLEM_TITLES
from api.negotiation import vary
from geo.kernel import errors
from geo.kernel.text import Lang, Text, asked_language, negotiate
from geo.store.db import DATABASE_DOWN, DatabaseValueError, StatementCancelled, request_given_up
from geo.store.writes import PreconditionFailed

log = logging.getLogger("craftmap.errors")

PROBLEM_JSON = "application/problem+json"


class BodyTooLarge(errors.LimitExceeded):
    """The request body is larger than ``max_body_bytes`` (413)."""


STATUS_CODES: dict[type[Exception], int] = {
    PreconditionFailed: 412,
    errors.NotFound: 404,
    errors.InvalidInput: 400,
    errors.Conflict: 409,
    errors.DatabaseUnavailable: 503,
    errors.ClusterError: 503,
    # (limits) issue 9
    BodyTooLarge: 413,
    StatementCancelled: 503,
}

# (limits) The database is unreachable, restarting, or cancelled a statement: the client
# may retry later (503 with Retry-After), never a 500. Pool exhaustion counts too. The
# exception classes are geo's (geo.store.db.DATABASE_DOWN).


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


def limit_problem(status: int, exc: errors.LimitExceeded, instance: str) -> JSONResponse:
    """A problem naming the limit a request broke and its value (extension members)."""
    response = problem(status, str(exc), instance=instance)
    body = json.loads(bytes(response.body))
    body.update(limit=exc.limit, value=exc.value)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON)


def _retry_after(request: Request) -> str:
    settings = getattr(request.app.state, "settings", None)
    return str(getattr(settings, "retry_after_seconds", 5))


def _database_down_detail(request: Request, exc: Exception) -> str:
    # A statement timeout is a 503, not a 400: whether a valid query finishes in time
    # depends on the load and the data as much as on the query, so the request is not
    # wrong, and clients (QGIS, GDAL, caches) retry a 503 after Retry-After but treat a
    # 4xx as final. The detail still tells the client how to make it cheaper.
    sqlstate = getattr(getattr(exc, "orig", exc), "sqlstate", None)
    if sqlstate == "57014":  # query_canceled: statement_timeout, or a cancelled request
        settings = getattr(request.app.state, "settings", None)
        name = "statement_timeout_seconds"
        if request.url.path.endswith("/export"):
            name = "export_statement_timeout_seconds"
        seconds = getattr(settings, name, None)
        limit = f" ({seconds:g} s)" if seconds else ""
        return (
            f"the query ran longer than the time limit{limit} and was cancelled; "
            "narrow the filter, bbox or page, or retry later"
        )
    if sqlstate == "55P03":  # lock_not_available: lock_timeout
        return "the database is busy (a lock was not granted in time); retry later"
    return "the database cannot be reached; retry later"


def add_exception_handlers(app: FastAPI, status_codes: dict[type[Exception], int]) -> None:
    """Register one handler per domain error, plus validation, HTTP and catch-all ones."""

    def _domain_handler(status: int):  # type: ignore[no-untyped-def]
        def handler(request: Request, exc: Exception) -> Response:
            if status >= 500:
                # A client that left gets an answer nobody reads: nothing failed here.
                logged = log.info if request_given_up() else log.error
                logged("%s on %s: %s", type(exc).__name__, request.url.path, exc)
            if isinstance(exc, errors.LimitExceeded):
                response = limit_problem(status, exc, request.url.path)
            else:
                response = problem(status, str(exc), instance=request.url.path)
            if status == 503:
                response.headers["Retry-After"] = _retry_after(request)
            return _for_client(request, response)

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

    def unexpected_handler(request: Request, exc: Exception) -> Response:
        # Never echo internals to the client; the traceback goes to the log.
        log.exception("unhandled error on %s", request.url.path, exc_info=exc)
        response = problem(500, "internal error", instance=request.url.path)
        return _in_language(request, response, problem_language(request))

    def database_value_handler(request: Request, exc: Exception) -> Response:
        # A value PostgreSQL refuses (out of range, malformed geometry in a filter) is the
        # client's input that got past the checks: still a 400, never a 500.
        assert isinstance(exc, DatabaseValueError)
        message = getattr(getattr(exc.orig, "diag", None), "message_primary", None)
        detail = f"invalid value: {message or 'the database refused a value of the request'}"
        return _for_client(request, problem(400, detail, instance=request.url.path))

    def database_down_handler(request: Request, exc: Exception) -> Response:
        # The message may hold connection details: it goes to the log, not the client;
        # only its first line (SQLAlchemy appends the statement and its parameters).
        orig = getattr(exc, "orig", None) or exc
        reason = f"{type(orig).__name__}: {str(orig).strip().splitlines()[0] if str(orig) else ''}"
        if getattr(orig, "sqlstate", None) == "57014":
            # Cancelled because its client left (api/limits.py), or by the time limit.
            cancelled = log.info if request_given_up() else log.warning
            cancelled("statement cancelled on %s: %s", request.url.path, reason)
        else:
            log.error("database unavailable on %s: %s", request.url.path, reason)
        response = problem(503, _database_down_detail(request, exc), instance=request.url.path)
        response.headers["Retry-After"] = _retry_after(request)
        return _for_client(request, response)

    for exc_type in DATABASE_DOWN:
        app.add_exception_handler(exc_type, database_down_handler)
    app.add_exception_handler(DatabaseValueError, database_value_handler)
    app.add_exception_handler(RequestValidationError, validation_handler)
    app.add_exception_handler(StarletteHTTPException, http_handler)
    app.add_exception_handler(Exception, unexpected_handler)


_DETAIL_PATTERNS = [(re.compile(pattern), said) for pattern, said in PROBLEM_DETAILS]


def problem_language(request: Request) -> Lang | None:
    """The language of a JSON problem: ``lang=``, else the first supported Accept-Language
    entry; None when the request names none (it keeps geo's English, which clients match
    on). A problem page for a browser follows the site's rule (Vietnamese first)."""
    return asked_language(
        request.query_params.get("lang"), request.headers.get("accept-language", "")
    )


def _noun(english: str, lang: Lang) -> str:
    found = PROBLEM_NOUNS.get(english.strip())
    return english if found is None else found(lang)


def _said(clause: str, lang: Lang) -> str | None:
    for pattern, said in _DETAIL_PATTERNS:
        match = pattern.fullmatch(clause)
        if match is not None:
            values = {k: v or "" for k, v in match.groupdict().items()}
            if "noun" in values:
                values["noun"] = _noun(values["noun"], lang)
            return said.format(**values)(lang)
    return None


def translated_detail(detail: str, lang: Lang) -> str:
    """A problem detail in ``lang``: the whole of it, or each ``; ``-separated clause, that
    has words in ``PROBLEM_DETAILS``; the rest is left as geo wrote it."""
    whole = _said(detail, lang)
    if whole is not None:
        return whole
    return "; ".join(_said(clause, lang) or clause for clause in detail.split("; "))


def _in_language(request: Request, response: JSONResponse, lang: Lang | None) -> JSONResponse:
    """The problem with its title and detail in ``lang`` (member names unchanged); as it
    is, in English, when ``lang`` is None."""
    body = json.loads(bytes(response.body))
    title = PROBLEM_TITLES.get(int(body.get("status", 0)))
    if lang is not None:
        if title is not None:
            body["title"] = title(lang)
        if isinstance(body.get("detail"), str):
            body["detail"] = translated_detail(body["detail"], lang)
    answer = JSONResponse(body, status_code=response.status_code, media_type=PROBLEM_JSON)
    for name, value in response.headers.items():
        if name.lower() not in {"content-length", "content-type"}:
            answer.headers[name] = value
    answer.headers["Content-Language"] = lang or _GEO_LANGUAGE
    vary = answer.headers.get("Vary")
    answer.headers["Vary"] = f"{vary}, Accept-Language" if vary else "Accept-Language"
    return answer


# The language geo's messages and HTTP's status phrases are written in.
_GEO_LANGUAGE = "en"
_PAGE_LINK = Text("Về trang chủ craftmap", "craftmap home page")


def _for_client(request: Request, response: JSONResponse) -> Response:
    """The problem in the language asked for; browsers asking for HTML get it as a
    readable page, with the same status."""
    accept = request.headers.get("accept", "")
    asked = request.query_params.get("f")
    if asked is None:
        # Without f, Accept chose between the page and the JSON: caches must know.
        vary(request, "Accept", "Accept-Language")
    if asked == "html" or (asked is None and accept.startswith("text/html")):
        lang = negotiate(
            request.query_params.get("lang"), request.headers.get("accept-language", "")
        )
        body = json.loads(bytes(_in_language(request, response, lang).body))
        page = (
            '<!doctype html><html lang="{lang}"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            "<title>{status} {title}</title>"
            "<style>body{{font-family:system-ui,sans-serif;max-width:40rem;margin:3rem auto;"
            "padding:0 1rem}}h1{{color:#7a3e12}}</style></head><body><h1>{status} {title}</h1>"
            '<p>{detail}</p><p><a href="/?lang={lang}">{home}</a></p></body></html>'
        ).format(
            lang=lang,
            status=body["status"],
            title=html.escape(body["title"]),
            detail=html.escape(body["detail"]),
            home=html.escape(_PAGE_LINK(lang)),
        )
        headers = _kept_headers(response)
        headers["Content-Language"] = lang
        return HTMLResponse(page, status_code=response.status_code, headers=headers)
    return _in_language(request, response, problem_language(request))


def _kept_headers(response: Response) -> dict[str, str]:
    kept = {"www-authenticate", "retry-after"}
    return {k: v for k, v in response.headers.items() if k.lower() in kept}
