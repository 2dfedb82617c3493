"""OGC API – Features: landing page, conformance, collections, queryables and schemas."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from api.deps import RootUrl, SessionDep
from api.documents import link
from api.i18n import PAGE, export_title, page_texts, request_language
from api.negotiation import (
    GEOJSON,
    HTML,
    JSON,
    OPENAPI_30,
    SCHEMA_JSON,
    CollectionId,
    reject_unknown_params,
    wants_html,
)
from geo.io import export
from geo.kernel.crs import CRS84_URI, SERVED_CRS
from geo.query import features
from geo.store import catalog, queries

router = APIRouter(tags=["OGC API – Features"])

CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/html",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables-query-parameters",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/features-filter",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-text",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-json",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-cql2",
    "http://www.opengis.net/spec/cql2/1.0/conf/advanced-comparison-operators",
    "http://www.opengis.net/spec/cql2/1.0/conf/case-insensitive-comparison",
    "http://www.opengis.net/spec/cql2/1.0/conf/accent-insensitive-comparison",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions-plus",
    "http://www.opengis.net/spec/cql2/1.0/conf/spatial-functions",
    "http://www.opengis.net/spec/cql2/1.0/conf/temporal-functions",
    "http://www.opengis.net/spec/cql2/1.0/conf/array-functions",
    "http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/create-replace-delete",
    "http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/update",
    "http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/optimistic-locking-etags",
    "http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/features",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/tileset",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/tilesets-list",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/geodata-tilesets",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/dataset-tilesets",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/mvt",
]


def render(request: Request, template: str, **context: Any) -> HTMLResponse:
    """An HTML page in the request's language (autoescaped: templates end in .html).

    ``csp_nonce`` is there for any inline script a template may need.
    """
    html = request.app.state.templates.get_template(template).render(
        **page_texts(request_language(request)),
        title=request.app.title,
        csp_nonce=getattr(request.state, "csp_nonce", ""),
        **context,
    )
    return HTMLResponse(html)


def self_links(request: Request, json_type: str = JSON) -> list[dict[str, str]]:
    """``self`` and ``alternate`` links of a resource that has JSON and HTML forms."""
    url = request.url.remove_query_params("f")
    return [
        link(str(url.include_query_params(f="json")), "self", json_type, "JSON"),
        link(str(url.include_query_params(f="html")), "alternate", HTML, "HTML"),
    ]


@router.get("/", response_model=None, summary="Landing page")
def landing(request: Request, session: SessionDep, root: RootUrl) -> Response:
    """Landing page: what craftmap serves, with feature counts per collection."""
    reject_unknown_params(request, ())
    lang = request_language(request)
    counts = queries.collection_counts(session)
    collections = []
    for collection in catalog.list_collections(session):
        collections.append(
            {
                "id": collection.id,
                "title": collection.title(lang),
                "description": collection.description(lang),
                "feature_count": counts.get(collection.id, 0),
            }
        )
    body = {
        "title": request.app.title,
        "description": PAGE["tagline"](lang),
        "collections": collections,
        "links": [
            *self_links(request),
            link(f"{root}/api", "service-desc", OPENAPI_30, "OpenAPI 3.0"),
            link(f"{root}/api?f=html", "service-doc", HTML, "API documentation"),
            link(f"{root}/conformance", "conformance", JSON, "Conformance classes"),
            link(f"{root}/collections", "data", JSON, "Collections"),
            link(f"{root}/tiles", "http://www.opengis.net/def/rel/ogc/1.0/tilesets-vector", JSON),
            link(
                f"{root}/tileMatrixSets",
                "http://www.opengis.net/def/rel/ogc/1.0/tiling-schemes",
                JSON,
            ),
            link(f"{root}/ready", "service-status", JSON, "Readiness"),
            link(f"{root}/maps", "related", HTML, "Map"),
            link(f"{root}/maps/edit", "related", HTML, "Draw and edit"),
        ],
    }
    if wants_html(request):
        # The HTML page carries every link of the JSON one (/req/html/content).
        return render(
            request,
            "landing.html",
            collections=collections,
            root=root,
            links=body["links"],
        )
    return JSONResponse(body)


@router.get("/conformance", response_model=None, summary="Conformance classes")
def conformance(request: Request) -> Response:
    """The conformance classes craftmap implements."""
    reject_unknown_params(request, ())
    if wants_html(request):
        return render(request, "conformance.html", classes=CONFORMANCE)
    return JSONResponse({"conformsTo": CONFORMANCE, "links": self_links(request)})


def collection_document(
    session: SessionDep, collection: catalog.Collection, root: str, lang: str
) -> dict[str, Any]:
    """The JSON description of one collection."""
    items = f"{root}/collections/{collection.id}/items"
    here = f"{root}/collections/{collection.id}"
    return {
        "id": collection.id,
        "title": collection.title(lang),
        "description": collection.description(lang),
        "itemType": "feature",
        "extent": features.extent(session.connection(), collection),
        "crs": [c.uri for c in SERVED_CRS],
        "storageCrs": CRS84_URI,
        "links": [
            link(here, "self", JSON, collection.title(lang)),
            link(f"{here}?f=html", "alternate", HTML),
            link(items, "items", GEOJSON, "Features (GeoJSON)"),
            link(f"{items}?f=html", "items", HTML, "Features (HTML)"),
            link(
                f"{here}/queryables",
                "http://www.opengis.net/def/rel/ogc/1.0/queryables",
                SCHEMA_JSON,
            ),
            link(f"{here}/schema", "http://www.opengis.net/def/rel/ogc/1.0/schema", SCHEMA_JSON),
            link(f"{here}/tiles", "http://www.opengis.net/def/rel/ogc/1.0/tilesets-vector", JSON),
            # Every feature in one file, in each format geo.io.export writes.
            *(
                link(f"{here}/export?f={f.key}", "enclosure", f.media_type, export_title(f))
                for f in export.FORMATS.values()
            ),
        ],
    }


@router.get("/collections", response_model=None, summary="Collections")
def collections(request: Request, session: SessionDep, root: RootUrl) -> Response:
    """Every collection craftmap serves, reference layers included."""
    reject_unknown_params(request, ())
    lang = request_language(request)
    documents = [
        collection_document(session, c, root, lang) for c in catalog.list_collections(session)
    ]
    links = self_links(request)
    if wants_html(request):
        return render(request, "collections.html", collections=documents, links=links)
    return JSONResponse(
        {
            "links": links,
            "collections": documents,
            "crs": [c.uri for c in SERVED_CRS],
        }
    )


@router.get("/collections/{collectionId}", response_model=None, summary="A collection")
def collection(
    collection_id: CollectionId, request: Request, session: SessionDep, root: RootUrl
) -> Response:
    """One collection's description, extent and links."""
    reject_unknown_params(request, ())
    found = catalog.get_collection(session, collection_id)
    lang = request_language(request)
    document = collection_document(session, found, root, lang)
    if wants_html(request):
        return render(request, "collection.html", collection=document)
    return JSONResponse(document)


def _schema_response(
    request: Request, session: SessionDep, root: str, collection_id: str, kind: str
) -> Response:
    reject_unknown_params(request, ())
    found = catalog.get_collection(session, collection_id)
    schema = found.json_schema(base_url=root, kind=kind)
    if wants_html(request):
        return render(request, "schema.html", schema=schema, collection_id=found.id, kind=kind)
    return JSONResponse(schema, media_type=SCHEMA_JSON)


@router.get("/collections/{collectionId}/queryables", response_model=None, summary="Queryables")
def queryables(
    collection_id: CollectionId, request: Request, session: SessionDep, root: RootUrl
) -> Response:
    """The properties a CQL2 filter may name (JSON Schema)."""
    return _schema_response(request, session, root, collection_id, "queryables")


@router.get("/collections/{collectionId}/schema", response_model=None, summary="Feature schema")
def schema(
    collection_id: CollectionId, request: Request, session: SessionDep, root: RootUrl
) -> Response:
    """The schema written features are validated against (JSON Schema)."""
    return _schema_response(request, session, root, collection_id, "schema")
