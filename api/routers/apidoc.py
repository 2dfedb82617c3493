"""``/api``: the OpenAPI 3.0 document, as JSON or as a readable HTML page."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from api.negotiation import OPENAPI_30, reject_unknown_params, wants_html
from api.openapi import to_openapi_30
from api.routers.ogc import render

router = APIRouter(tags=["OGC API – Features"])


@router.get("/api", response_model=None, summary="API definition (OpenAPI 3.0)")
def api_definition(request: Request) -> Response:
    """The OpenAPI 3.0 definition of this service."""
    reject_unknown_params(request, ())
    document = to_openapi_30(request.app.openapi())
    if wants_html(request):
        return render(request, "api.html", api=document)
    return JSONResponse(document, media_type=OPENAPI_30)
