"""``/api``: the OpenAPI 3.0 document, as JSON or as a readable HTML page."""

from __future__ import annotations

import copy
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from api.negotiation import OPENAPI_30, reject_unknown_params, wants_html
from api.openapi import to_openapi_30
from api.routers.ogc import render
from geo import catalog

router = APIRouter(tags=["OGC API – Features"])


@router.get("/api", response_model=None, summary="API definition (OpenAPI 3.0)")
def api_definition(request: Request) -> Response:
    """The OpenAPI 3.0 definition of this service."""
    reject_unknown_params(request, ())
    document = to_openapi_30(request.app.openapi())
    _add_collection_paths(document)
    if wants_html(request):
        return render(request, "api.html", api=document)
    return JSONResponse(document, media_type=OPENAPI_30)


def _add_collection_paths(document: dict[str, Any]) -> None:
    """One items path per core collection, listing its queryables as query parameters.

    Clients such as GDAL read these to send property filters to the server.
    """
    generic = document["paths"].get("/collections/{collectionId}/items", {}).get("get")
    if generic is None:
        return
    for collection in catalog.CORE:
        operation = copy.deepcopy(generic)
        operation["operationId"] = f"get_items_{collection.id.replace('-', '_')}"
        operation["summary"] = f"Features of {collection.id}"
        parameters = [p for p in operation.get("parameters", []) if p.get("in") != "path"]
        for prop in collection.props:
            if prop.type in {"object", "array"}:
                continue
            schema = {k: v for k, v in prop.json_schema().items() if k != "readOnly"}
            parameters.append(
                {
                    "name": prop.name,
                    "in": "query",
                    "required": False,
                    "description": f"features whose {prop.name} equals this value",
                    "schema": schema,
                }
            )
        operation["parameters"] = parameters
        document["paths"][f"/collections/{collection.id}/items"] = {"get": operation}
