"""``/api``: the OpenAPI 3.0 document, as JSON or as a readable HTML page."""

from __future__ import annotations

import threading
import time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from api.deps import read_connection
from api.negotiation import OPENAPI_30, reject_unknown_params, wants_html
from api.openapi import describe, to_openapi_30
from api.routers.ogc import render
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
        return render(request, "api.html", api=document)
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
