"""``/api``: the OpenAPI 3.0 document, as JSON or as a readable HTML page."""

from __future__ import annotations

import threading
import time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from api.deps import read_connection
from api.i18n import COLLECTION_OPERATIONS, FEATURE_PAGE, OPERATION_SUMMARIES, request_language
from api.negotiation import OPENAPI_30, reject_unknown_params, wants_html
from api.openapi import describe, parameter_text, to_openapi_30
from api.routers.ogc import render
from geo.kernel import text as texts
from geo.kernel.crs import SERVED_CRS
from geo.store import catalog

router = APIRouter(tags=["OGC API – Features"])

# The document lists a path set per collection, and reference layers (and the properties
# their features carry) come and go with writes: it is rebuilt from the catalog at most
# this often, so that clients polling /api cost no database reads.
_DOCUMENT_TTL_S = 30.0
_LOCK = threading.Lock()


@router.get("/api", response_model=None, summary="API definition (OpenAPI 3.0)")
def api_definition(request: Request) -> Response:
    """The OpenAPI 3.0 definition of this service."""
    reject_unknown_params(request, ())
    document = _document(request)
    if wants_html(request):
        lang = request_language(request)
        return render(
            request,
            "api.html",
            api=document,
            operations=_operations(document, lang),
            params_t=texts.in_(FEATURE_PAGE, lang),
        )
    return JSONResponse(document, media_type=OPENAPI_30)


def _fresh(state: Any, now: float) -> dict[str, Any] | None:
    cached: tuple[float, dict[str, Any]] | None = getattr(state, "api_document", None)
    if cached is not None and now - cached[0] < _DOCUMENT_TTL_S:
        return cached[1]
    return None


def _document(request: Request) -> dict[str, Any]:
    state = request.app.state
    now = time.monotonic()
    cached = _fresh(state, now)
    if cached is not None:
        return cached
    with _LOCK:
        cached = _fresh(state, now)
        if cached is not None:
            return cached
        with read_connection(request) as conn:
            collections = catalog.list_collections(conn)
        document = describe(
            to_openapi_30(request.app.openapi()), collections, [c.uri for c in SERVED_CRS]
        )
        state.api_document = (now, document)
        return document


def _values(schema: dict[str, Any]) -> str:
    """A parameter's values in a few words: its enum (shortened), type, range, default."""
    if schema.get("type") == "array":
        return _values(schema.get("items", {})) + ", …"
    if "enum" in schema:
        values = [str(v) for v in schema["enum"]]
        return " | ".join(values[:8]) + (f" | … ({len(values)})" if len(values) > 8 else "")
    words = str(schema.get("type", ""))
    if "minimum" in schema or "maximum" in schema:
        words += f" {schema.get('minimum', '')}…{schema.get('maximum', '')}"
    if "default" in schema:
        words += f" = {schema['default']}"
    return words


def _operations(document: dict[str, Any], lang: str) -> list[dict[str, Any]]:
    """Each operation of the document with its parameters described in ``lang``."""
    found = []
    for path, item in document.get("paths", {}).items():
        for method, operation in item.items():
            parameters = []
            for p in operation.get("parameters", []):
                english = p.get("description", "")
                said = parameter_text(english)
                parameters.append(
                    {
                        "name": p.get("name"),
                        "in": p.get("in"),
                        "required": p.get("required", False),
                        "description": said(lang) if said is not None else english,
                        "values": _values(p.get("schema", {})),
                    }
                )
            found.append(
                {
                    "path": path,
                    "method": method.upper(),
                    "summary": _summary(operation.get("summary", ""), lang),
                    "parameters": parameters,
                }
            )
    return found


def _summary(english: str, lang: str) -> str:
    """An operation's summary in ``lang`` (as it is where it has no words there)."""
    said = OPERATION_SUMMARIES.get(english)
    if said is not None:
        return said(lang)
    head, _, collection = english.rpartition(" ")
    per_collection = COLLECTION_OPERATIONS.get(head)
    return english if per_collection is None else per_collection.format(id=collection)(lang)
