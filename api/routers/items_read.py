"""OGC API – Features items, read side (Parts 1–3): pages, the export, a feature, history.

HTTP only: parameters are parsed by api/params.py, documents built by api/documents.py,
and every query runs in geo.query.features.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from starlette.types import Receive, Scope, Send

from api import documents, etags, params, present
from api.auth import optional_reader
from api.deps import RootUrl, SessionDep, read_connection
from api.documents import link
from api.hot import HotRoute, path_pattern
from api.i18n import FEATURE_PAGE, FIGURES_PAGE, request_language
from api.negotiation import (
    GEOJSON,
    JSON,
    CollectionId,
    FeatureId,
    is_head,
    reject_unknown_params,
    wants_html,
)
from api.openapi import ITEMS_PARAMS, items_parameters
from api.routers import analysis_checks
from api.routers.ogc import render
from api.settings import ApiSettings
from geo.io import export
from geo.kernel import collections as ids
from geo.kernel import text as texts
from geo.kernel import vocab
from geo.kernel.crs import CRS84, SERVED_CRS, ServedCrs, served_crs
from geo.kernel.errors import InvalidInput, NotFound
from geo.kernel.vocab import label
from geo.query import features, related
from geo.store import catalog
from geo.store import writes as repository
from geo.store.db import Connection, longer_statements, request_given_up
from geo.workflows import figures as supply
from geo.workflows import zone_checks

router = APIRouter(tags=["OGC API – Features"])
log = logging.getLogger("craftmap.items")

# The items routes read their parameters from the query string themselves (FastAPI's
# per-parameter parsing cost more than PostGIS's answer to a small page); /api still lists
# them, typed (api/openapi.py).
_ITEMS_DOC: dict[str, dict[str, Any]] = {
    doc["name"]: doc for doc in items_parameters([c.uri for c in SERVED_CRS])
}


def _documented(*names: str) -> dict[str, Any]:
    return {"parameters": [_ITEMS_DOC[name] for name in names]}


def _items_query(
    request: Request, collection: catalog.Collection
) -> tuple[features.ItemsQuery, ServedCrs]:
    settings: ApiSettings = request.app.state.settings
    return params.items_query(
        request.query_params, collection, filter_max_length=settings.filter_max_length
    )


# Bytes per read of a spooled export file.
_FILE_CHUNK = 1 << 20
# What ``f`` may ask of the items (and, but for html, of the export) besides files.
_ITEMS_FORMATS = ("json", "geojson", "html")
_EXPORT_FORMATS = ("json", "geojson")


def _file_format(request: Request, documents: tuple[str, ...]) -> export.Format | None:
    """The file format ``f`` asks for (``gpkg``, ``shp``…), None for a JSON or HTML answer."""
    asked = request.query_params.get("f")
    if asked is None or asked in documents:
        return None
    if asked in export.FILE_FORMATS:
        return export.FORMATS[asked]
    known = ", ".join((*documents, *export.FILE_FORMATS))
    raise InvalidInput(f"f must be one of {known}; got {asked!r}")


def _file_response(
    request: Request,
    collection: catalog.Collection,
    query: features.ItemsQuery,
    fmt: export.Format,
    timeout_ms: int | None = None,
) -> Response:
    """The selection written to a file in a temporary folder, sent, then deleted.

    The file is complete before the 200 goes out, so a failure is still a problem answer;
    memory stays at one chunk of rows (geo.io.export) whatever the selection's size.
    """
    headers = {
        "Content-Disposition": f'attachment; filename="{collection.id}.{fmt.extension}"',
        # KML is WGS 84 whatever was asked (the KML standard allows no other CRS).
        "Content-Crs": f"<{(CRS84 if fmt.key in {'kml', 'kmz'} else query.crs or CRS84).uri}>",
    }
    if is_head(request):
        return Response(media_type=fmt.media_type, headers=headers)
    folder = Path(tempfile.mkdtemp(prefix="craftmap-export-"))
    try:
        with read_connection(request) as conn, longer_statements(conn, timeout_ms):
            done = export.export(conn, collection, query, fmt, folder)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    if done.notes:
        # A KML asked for in another CRS: the file says WGS 84, the header says why.
        headers["Warning"] = f'299 craftmap "{"; ".join(done.notes)}"'
    # The folder goes at once; the open file keeps its data until it is closed, when the
    # last byte is sent or the client leaves (a background task would not run then).
    handle = done.path.open("rb")
    headers["Content-Length"] = str(done.path.stat().st_size)
    shutil.rmtree(folder, ignore_errors=True)

    def chunks() -> Iterator[bytes]:
        with handle:
            while block := handle.read(_FILE_CHUNK):
                yield block

    return ClosedStream(chunks(), media_type=fmt.media_type, headers=headers)


def _page_links(
    request: Request, query: features.ItemsQuery, has_more: bool, collection_url: str
) -> documents.Links:
    here = str(request.url).partition("?")[0]
    return documents.page_links(
        here, request.query_params.multi_items(), query, has_more, collection_url
    )


ITEMS_PATH = "/collections/{collectionId}/items"
ITEM_PATH = "/collections/{collectionId}/items/{featureId}"


@router.get(
    ITEMS_PATH,
    response_model=None,
    summary="Features",
    openapi_extra=_documented(*ITEMS_PARAMS),
)
def get_items(collection_id: CollectionId, request: Request, root: RootUrl) -> Response:
    """Features of a collection, filtered, sorted and paged; GeoJSON built by PostGIS."""
    with read_connection(request) as conn:
        found = catalog.get_collection(conn, collection_id)
        reject_unknown_params(request, (*ITEMS_PARAMS, *found.queryables()))
        query, out_crs = _items_query(request, found)
        collection_url = f"{root}/collections/{found.id}"
        file_format = _file_format(request, _ITEMS_FORMATS)
        headers = {"Content-Crs": f"<{out_crs.uri}>"}
        if file_format is None:
            if wants_html(request):
                matched = features.count_matched(conn, found, query)
                return _items_html(request, conn, found, query, matched, collection_url)
            if query.limit is not None and query.limit <= features.FETCH_AT_ONCE:
                # A small page is written in one piece: streaming it would only add thread hops.
                page = _page_body(request, conn, found, query, collection_url)
                return Response(b"".join(page), media_type=GEOJSON, headers=headers)
            if is_head(request):
                return _head_of_stream(headers)
    if file_format is not None:
        # The page as a file (limit and offset apply, as for GeoJSON); /export holds all.
        return _file_response(request, found, query, file_format)

    def streamed() -> Iterator[bytes]:
        with read_connection(request) as conn:
            yield from _page_body(request, conn, found, query, collection_url)

    return ClosedStream(_started(streamed()), media_type=GEOJSON, headers=headers)


class ClosedStream(StreamingResponse):
    """A stream of a sync generator that is closed, on a worker thread, however it ends.

    A client that leaves mid-stream ends the response with the generator suspended. Left
    to the garbage collector, it was closed later, on any thread, after its request had
    given its connection back: SQLAlchemy finalised the pooled connection first, checked
    it in, and the generator's own close then invalidated it again while another request
    was reading from it (500s in the bench's whole-collection run, which wrk ends with
    pages in flight). Closing here runs the generator's ``with`` blocks in order, inside
    the request (its canceller still active), before the next request can get the
    connection.
    """

    def __init__(self, chunks: Iterator[bytes], **kwargs: Any) -> None:
        super().__init__(chunks, **kwargs)
        self.chunks = chunks

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Send the stream, then close its generator whatever happened meanwhile."""
        try:
            await super().__call__(scope, receive, send)
        finally:
            # Shielded: the disconnect that cancelled the sending must not cancel this.
            # No thread is inside the generator now (anyio waits for a thread it was
            # running before it delivers a cancellation).
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(self._close)

    def _close(self) -> None:
        close = getattr(self.chunks, "close", None)
        if close is None:
            return
        try:
            close()
        except Exception:
            # The answer is sent or its client gone; what is left is the log's business.
            log.warning("closing a stream failed", exc_info=True)


def _started(chunks: Iterator[bytes]) -> Iterator[bytes]:
    """Run a stream's query before the 200 goes out; end it quietly if its client left.

    The first chunk comes after PostgreSQL's first rows, so a timeout or an outage is
    still answered 503 with a problem. A later failure can only cut the stream short.
    """
    first = next(chunks)

    def rest() -> Iterator[bytes]:
        yield first
        try:
            yield from chunks
        except Exception:
            if not request_given_up():
                raise  # the client is there: cut the stream, so it sees it is incomplete
            log.info("stream ended: the client left")

    return rest()


def _page_body(
    request: Request,
    conn: Connection,
    collection: catalog.Collection,
    query: features.ItemsQuery,
    collection_url: str,
) -> Iterator[bytes]:
    result = features.PageResult()
    return documents.feature_collection(
        features.read_page(conn, collection, query, result, counted=True),
        result,
        lambda result: _page_links(request, query, result.has_more, collection_url),
        # An empty page past the end carries no count: ask for it.
        count_if_empty=lambda: (
            features.count_matched(conn, collection, query) if query.offset else 0
        ),
    )


@router.get(
    "/collections/{collectionId}/export",
    response_model=None,
    summary="Every matching feature in one file: GeoJSON (streamed), GeoPackage, Shapefile…",
    openapi_extra=_documented(*(name for name in ITEMS_PARAMS if name not in {"limit", "offset"})),
)
def export_items(collection_id: CollectionId, request: Request, root: RootUrl) -> Response:
    """All matching features (no paging), with memory flat at any size.

    ``f`` picks the format: GeoJSON (the default) is streamed as PostGIS writes it; the
    file formats (``gpkg``, ``shp``, ``kml``, ``kmz``, ``csv``, ``xlsx``, ``fgb``,
    ``parquet``) are spooled to a temporary file first (geo.io.export).
    """
    settings: ApiSettings = request.app.state.settings
    with read_connection(request) as conn:
        found = catalog.get_collection(conn, collection_id)
        allowed = [p for p in ITEMS_PARAMS if p not in {"limit", "offset"}]
        reject_unknown_params(request, (*allowed, *found.queryables()))
        file_format = _file_format(request, _EXPORT_FORMATS)
        query, out_crs = _items_query(request, found)
    query.limit, query.offset = None, 0
    collection_url = f"{root}/collections/{found.id}"

    export_timeout = (
        round(settings.export_statement_timeout_seconds * 1000)
        if settings.export_statement_timeout_seconds > 0
        else 0  # 0 switches PostgreSQL's timeout off
    )

    if file_format is not None:
        return _file_response(request, found, query, file_format, export_timeout)
    headers = {
        "Content-Crs": f"<{out_crs.uri}>",
        "Content-Disposition": f'attachment; filename="{found.id}.geojson"',
    }
    if is_head(request):
        return _head_of_stream(headers)

    def streamed() -> Iterator[bytes]:
        with read_connection(request) as conn, longer_statements(conn, export_timeout):
            result = features.PageResult()
            yield from documents.feature_collection(
                features.read_page(conn, found, query, result),
                result,
                lambda result: [link(collection_url, "collection", JSON)],
            )

    return ClosedStream(_started(streamed()), media_type=GEOJSON, headers=headers)


def _head_of_stream(headers: dict[str, str]) -> Response:
    """A HEAD of a streamed GeoJSON answer: its headers, without running its query.

    A stream has no Content-Length, so nothing in the headers needs the rows. The one
    placeholder chunk is dropped with the rest of a HEAD's body (api/cors.py); it makes
    GZip write Content-Encoding and Vary as it does for the GET's stream. A HEAD cannot
    see what only the query finds (a statement timeout or an outage, 503 for the GET).
    """
    return StreamingResponse(iter([b" "]), media_type=GEOJSON, headers=headers)


def _items_html(
    request: Request,
    conn: Connection,
    collection: catalog.Collection,
    query: features.ItemsQuery,
    matched: int | None,
    collection_url: str,
) -> Response:
    result = features.PageResult()
    page = [
        json.loads(text)
        for batch in features.read_page(conn, collection, query, result)
        for text in batch
    ]
    shapes, box = features.svg_shapes(conn, collection, [f["id"] for f in page])
    lang = request_language(request)
    header, cells = present.list_cells(
        collection, page, present.list_columns(collection, query.properties), lang
    )
    return render(
        request,
        "items.html",
        collection=collection,
        features=page,
        header=header,
        cells=cells,
        name_label=present.property_label("name", lang),
        matched=matched,
        query=query,
        links=_page_links(request, query, result.has_more, collection_url),
        shapes=shapes,
        box=box,
    )


def feature_response(
    request: Request,
    conn: Connection,
    collection: catalog.Collection,
    feature_id: int,
    crs: ServedCrs,
    root: str,
    *,
    status: int = 200,
) -> Response:
    """A feature as GeoJSON or HTML, with its ETag; a GET whose If-None-Match holds gets 304."""
    text, version = features.read_item(conn, collection, feature_id, crs)
    as_html = wants_html(request)
    linked = related.related(conn, collection.id, feature_id) if as_html else None
    # (checks, issue 14) A zone's page lists its reasons to be checked again; they depend
    # on other zones and on the date, so they are part of the page's tag too.
    attention = (
        zone_checks.findings_of_zone(conn, feature_id, dt.date.today())
        if as_html and collection.id == ids.MATERIAL_ZONES
        else []
    )
    # A figure of an older year changes the page but not the feature's version.
    yearly = (
        supply.figures_of_feature(conn, collection.id, feature_id)
        if as_html and collection.id in (ids.VILLAGES, ids.MATERIAL_ZONES)
        else []
    )
    # The page shows its related features too (a route added through a village changes
    # the village's page, not its version): their digest is part of the page's tag.
    html_tag = (
        f"{request_language(request)}-"
        f"{hashlib.sha256(repr((linked, attention, yearly)).encode()).hexdigest()[:12]}"
        if as_html
        else None
    )
    etag = etags.feature_etag(version, crs, html_tag)
    here = f"{root}/collections/{collection.id}/items/{feature_id}"
    headers = {"ETag": etag, "Content-Crs": f"<{crs.uri}>"}
    if status == 200 and request.method == "GET":
        unchanged = etags.not_modified(request, etag, headers)
        if unchanged is not None:
            return unchanged
    if as_html:
        feature = json.loads(text)
        shapes, box = features.svg_shapes(conn, collection, [feature_id])
        lang = request_language(request)
        properties = feature["properties"]
        html = render(
            request,
            "item.html",
            collection=collection,
            feature=feature,
            rows=present.feature_rows(collection, properties, lang),
            provenance=present.provenance_rows(collection, properties, lang),
            updated=present.updated_text(properties, lang),
            fname=properties.get("name") or f"{collection.title(lang)} {feature_id}",
            feature_texts=texts.in_(FEATURE_PAGE, lang),
            units={"min": present.unit_text("min", lang)},
            materials={code: label("material", code, lang) for code in vocab.Material},
            related=linked,
            reach_km=texts.number(related.REACH_KM, lang, 0),
            km=lambda value: texts.number(value, lang, 1) + " km",
            shapes=shapes,
            box=box,
            history_url=f"{here}/history",
            attention=analysis_checks.attention_context(attention, lang) if attention else None,
            figures=present.figure_rows(yearly, lang),
            fig=texts.in_(FIGURES_PAGE, lang),
        )
        html.headers.update(headers)
        return html
    body = documents.feature_document(
        text, documents.feature_links(root, collection.id, feature_id)
    )
    return Response(body, status_code=status, media_type=GEOJSON, headers=headers)


@router.get(
    ITEM_PATH,
    response_model=None,
    summary="A feature",
    openapi_extra=_documented("crs"),
)
def get_item(
    collection_id: CollectionId, feature_id: FeatureId, request: Request, root: RootUrl
) -> Response:
    """One feature, with an ETag (If-None-Match answers 304)."""
    reject_unknown_params(request, ("crs",))
    with read_connection(request) as conn:
        found = catalog.get_collection(conn, collection_id)
        return feature_response(
            request,
            conn,
            found,
            params.parse_feature_id(feature_id),
            served_crs(request.query_params.get("crs")),
            root,
        )


def _hot_items(request: Request, params: dict[str, str], root: str) -> Response:
    return get_items(params["collectionId"], request, root)


def _hot_item(request: Request, params: dict[str, str], root: str) -> Response:
    return get_item(params["collectionId"], params["featureId"], request, root)


# (light, issue 17) Answered before FastAPI's router by api.hot.HotReads: the same
# functions, called with the same request, without the routing around them.
HOT_ROUTES = (
    HotRoute(path_pattern(ITEMS_PATH), _hot_items),
    HotRoute(path_pattern(ITEM_PATH), _hot_item),
)


@router.get(
    "/collections/{collectionId}/items/{featureId}/history",
    response_model=None,
    summary="Version history of a feature",
)
def item_history(
    collection_id: CollectionId, feature_id: FeatureId, request: Request, session: SessionDep
) -> Response:
    """Every recorded version of a feature: who, when, what it looked like.

    Who wrote is named (key name and prefix) only to readers sending a valid API key;
    others see "API key (role)" or "command line".
    """
    reject_unknown_params(request, ())
    found = catalog.get_collection(session, collection_id)
    fid = params.parse_feature_id(feature_id)
    reader = optional_reader(request, session.connection())
    versions = repository.history(
        session.connection(), found, fid, reveal_actors=reader is not None
    )
    if not versions:
        raise NotFound(f"no history for feature {fid} in {found.id}")
    if wants_html(request):
        return render(request, "history.html", collection=found, feature_id=fid, versions=versions)
    return JSONResponse({"collection": found.id, "featureId": fid, "versions": versions})
