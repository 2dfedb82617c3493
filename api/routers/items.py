"""OGC API – Features items: read (Parts 1–3), write (Part 4), history and restore."""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
import json
import logging
import re
from collections.abc import Callable, Iterator
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from sqlalchemy.engine import Connection

from api import etags
from api.auth import optional_reader, require_admin, require_writer
from api.deps import SessionDep, SettingsDep, read_connection
from api.i18n import request_language
from api.negotiation import (
    GEOJSON,
    HTML,
    JSON,
    CollectionId,
    FeatureId,
    HistoryId,
    base_url,
    is_head,
    reject_unknown_params,
    wants_html,
)
from api.openapi import ITEMS_PARAMS, items_parameters
from api.routers.ogc import link, render
from api.settings import ApiSettings
from geo import cql2
from geo.kernel.crs import SERVED_CRS, ServedCrs, served_crs
from geo.kernel.errors import InvalidInput, NotFound
from geo.query import features
from geo.store import catalog
from geo.store import writes as repository
from geo.store.db import longer_statements, request_given_up
from geo.store.keys import KeyInfo

router = APIRouter(tags=["OGC API – Features"])
log = logging.getLogger("craftmap.items")

# The opaque part of every strong ETag a feature is served with (api/etags.py strips the
# gzip form): GeoJSON "v3", another CRS "v3-3405", HTML "v3-html-vi" / "v3-3405-html-en".
_VERSION_TAG = re.compile(r"^v(\d+)(?:-\d+)?(?:-html-[a-z]{2})?$")


def _parse_query(
    request: Request, collection: catalog.Collection
) -> tuple[features.ItemsQuery, ServedCrs]:
    params = request.query_params
    crs = served_crs(params.get("crs"))
    bbox_crs = served_crs(params.get("bbox-crs"))
    query = features.ItemsQuery(
        limit=features.parse_limit(params.get("limit")),
        offset=features.parse_offset(params.get("offset")),
        bbox=features.parse_bbox(params.get("bbox"), bbox_crs),
        bbox_crs=bbox_crs,
        interval=features.parse_datetime(params.get("datetime")),
        sortby=features.parse_sortby(params.get("sortby"), collection),
        properties=features.parse_properties(params.get("properties"), collection),
        crs=crs,
    )
    text = params.get("filter")
    if text is not None:
        language = params.get("filter-lang", "cql2-text")
        filter_crs = served_crs(params.get("filter-crs"))
        settings: ApiSettings = request.app.state.settings
        expression = cql2.parse_filter(text, language, max_length=settings.filter_max_length)
        query.filter = cql2.filter_to_sql(
            expression,
            collection.queryables(),
            filter_srid=filter_crs.srid,
            swap_axes=filter_crs.swap_axes,
        )
    elif "filter-lang" in params or "filter-crs" in params:
        raise InvalidInput("filter-lang and filter-crs need a filter")
    equalities = property_equalities(params, collection)
    if equalities is not None:
        query.filter = equalities if query.filter is None else sa.and_(query.filter, equalities)
    return query, crs


def property_equalities(params: Any, collection: catalog.Collection) -> Any:
    """``?material=sedge``: a queryable named as a parameter filters on equality (Part 3)."""
    queryables = collection.queryables()
    conditions = []
    for name, value in params.items():
        found = queryables.get(name)
        if name in ITEMS_PARAMS or found is None or found.type in {"geometry", "array"}:
            continue
        conditions.append(
            cql2.filter_to_sql(
                {"op": "=", "args": [{"property": name}, _typed(found.type, value)]}, queryables
            )
        )
    return sa.and_(*conditions) if conditions else None


def _typed(kind: str, value: str) -> Any:
    try:
        if kind == "integer":
            return int(value)
        if kind == "number":
            return float(value)
    except ValueError as exc:
        raise InvalidInput(f"expected a number, got {value!r}") from exc
    if kind == "boolean":
        if value not in {"true", "false"}:
            raise InvalidInput(f"expected true or false, got {value!r}")
        return value == "true"
    return value


def _page_links(
    request: Request, query: features.ItemsQuery, has_more: bool, collection_url: str
) -> list[dict[str, str]]:
    # Plain urlencode: Starlette's URL helpers re-parse the URL on every call.
    here = str(request.url).partition("?")[0]
    kept = [(k, v) for k, v in request.query_params.multi_items() if k != "f"]
    paging = [(k, v) for k, v in kept if k != "offset"]

    def url(params: list[tuple[str, str]]) -> str:
        return f"{here}?{urlencode(params)}"

    step = query.limit or features.DEFAULT_LIMIT
    links = [
        link(url([*kept, ("f", "json")]), "self", GEOJSON, "this page"),
        link(url([*kept, ("f", "html")]), "alternate", HTML, "HTML"),
        link(collection_url, "collection", JSON, "the collection"),
    ]
    if has_more:
        links.append(link(url([*paging, ("offset", str(query.offset + step))]), "next", GEOJSON))
    if query.offset > 0:
        previous = str(max(0, query.offset - step))
        links.append(link(url([*paging, ("offset", previous)]), "prev", GEOJSON))
    return links


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


# The items routes read their parameters from the query string themselves (FastAPI's
# per-parameter parsing cost more than PostGIS's answer to a small page); /api still lists
# them, typed (api/openapi.py).
_ITEMS_DOC: dict[str, dict[str, Any]] = {
    doc["name"]: doc for doc in items_parameters([c.uri for c in SERVED_CRS])
}


def _documented(*names: str) -> dict[str, Any]:
    return {"parameters": [_ITEMS_DOC[name] for name in names]}


@router.get(
    "/collections/{collectionId}/items",
    response_model=None,
    summary="Features",
    openapi_extra=_documented(*ITEMS_PARAMS),
)
def get_items(collection_id: CollectionId, request: Request) -> Response:
    """Features of a collection, filtered, sorted and paged; GeoJSON built by PostGIS."""
    settings: ApiSettings = request.app.state.settings
    root = base_url(request, settings.public_url)
    with read_connection(request) as conn:
        found = catalog.get_collection(conn, collection_id)
        reject_unknown_params(request, (*ITEMS_PARAMS, *found.queryables()))
        query, out_crs = _parse_query(request, found)
        collection_url = f"{root}/collections/{found.id}"
        if wants_html(request):
            matched = features.count_matched(conn, found, query)
            return _items_html(request, conn, found, query, matched, collection_url)
        headers = {"Content-Crs": f"<{out_crs.uri}>"}
        if query.limit is not None and query.limit <= features.FETCH_AT_ONCE:
            # A small page is written in one piece: streaming it would only add thread hops.
            page = _page_body(request, conn, found, query, collection_url)
            return Response(b"".join(page), media_type=GEOJSON, headers=headers)
        if is_head(request):
            return _head_of_stream(headers)

    def streamed() -> Iterator[bytes]:
        with read_connection(request) as conn:
            yield from _page_body(request, conn, found, query, collection_url)

    return StreamingResponse(_started(streamed()), media_type=GEOJSON, headers=headers)


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
    return _collection_body(
        conn,
        features.items_statement(collection, query, counted=True),
        query.limit,
        lambda result: _page_links(request, query, result.has_more, collection_url),
        # An empty page past the end carries no count: ask for it.
        count_if_empty=lambda: (
            features.count_matched(conn, collection, query) if query.offset else 0
        ),
    )


def _collection_body(
    conn: Connection,
    statement: Any,
    limit: int | None,
    links_for: Callable[[features.PageResult], list[dict[str, str]]],
    *,
    count_if_empty: Callable[[], int | None] | None = None,
) -> Iterator[bytes]:
    """A FeatureCollection written as PostGIS hands over its features, a chunk at a time.

    With ``count_if_empty`` the statement is a counted one: numberMatched comes from its
    first row, so that row is read before the head is written.
    """
    result = features.PageResult()
    batches = features.stream_features(conn, statement, limit, result)
    first_batch = next(batches, [])
    head = '{"type":"FeatureCollection",'
    if count_if_empty is not None:
        matched = result.matched if first_batch else count_if_empty()
        if matched is not None:
            head += f'"numberMatched":{matched},'
    yield (head + f'"timeStamp":"{_now()}","features":[').encode()
    separator = b""
    for batch in itertools.chain([first_batch], batches):
        if batch:
            yield separator + b",".join(batch)
            separator = b","
    tail = f'],"numberReturned":{result.returned},"links":{json.dumps(links_for(result))}}}'
    yield tail.encode()


@router.get(
    "/collections/{collectionId}/export",
    response_model=None,
    summary="Every matching feature in one streamed GeoJSON file",
    openapi_extra=_documented(*(name for name in ITEMS_PARAMS if name not in {"limit", "offset"})),
)
def export_items(collection_id: CollectionId, request: Request) -> Response:
    """All matching features (no paging), streamed so memory stays flat at any size."""
    settings: ApiSettings = request.app.state.settings
    with read_connection(request) as conn:
        found = catalog.get_collection(conn, collection_id)
        allowed = [p for p in ITEMS_PARAMS if p not in {"limit", "offset"}]
        reject_unknown_params(request, (*allowed, *found.queryables()))
        query, out_crs = _parse_query(request, found)
    query.limit, query.offset = None, 0
    collection_url = f"{base_url(request, settings.public_url)}/collections/{found.id}"

    export_timeout = (
        round(settings.export_statement_timeout_seconds * 1000)
        if settings.export_statement_timeout_seconds > 0
        else 0  # 0 switches PostgreSQL's timeout off
    )

    headers = {
        "Content-Crs": f"<{out_crs.uri}>",
        "Content-Disposition": f'attachment; filename="{found.id}.geojson"',
    }
    if is_head(request):
        return _head_of_stream(headers)

    def streamed() -> Iterator[bytes]:
        with read_connection(request) as conn, longer_statements(conn, export_timeout):
            yield from _collection_body(
                conn,
                features.items_statement(found, query),
                None,
                lambda result: [link(collection_url, "collection", JSON)],
            )

    return StreamingResponse(_started(streamed()), media_type=GEOJSON, headers=headers)


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
        for batch in features.stream_features(
            conn, features.items_statement(collection, query), query.limit, result
        )
        for text in batch
    ]
    shapes, box = features.svg_shapes(conn, collection, [f["id"] for f in page])
    return render(
        request,
        "items.html",
        collection=collection,
        features=page,
        columns=query.properties or [p.name for p in collection.props][:8],
        matched=matched,
        query=query,
        links=_page_links(request, query, result.has_more, collection_url),
        shapes=shapes,
        box=box,
    )


def _etag(version: int, crs: ServedCrs, html_lang: str | None = None) -> str:
    """One strong ETag per representation: version, CRS, and HTML in its language."""
    tag = f"v{version}" if crs.uri.endswith("CRS84") else f"v{version}-{crs.srid}"
    return f'"{tag}-html-{html_lang}"' if html_lang else f'"{tag}"'


def _expected_version(if_match: str | None) -> int | None:
    """The version an ``If-Match`` asks for; None: no condition (absent, or ``*``).

    Strong comparison (RFC 9110 §13.1.1): weak tags never match. ``*`` matches any
    existing feature (a missing one is a 404 either way).
    """
    if if_match is None:
        return None
    tags = etags.strong_tags(if_match)
    if tags == "*":
        return None
    for opaque in tags:
        found = _VERSION_TAG.match(opaque)
        if found:
            return int(found.group(1))
    # A tag we never issued (or only weak ones) cannot match: the precondition fails.
    return -1


def _refused_versions(if_none_match: str | None) -> frozenset[int] | Literal["*"]:
    """The versions an ``If-None-Match`` on a write excludes (weak comparison, §13.1.2)."""
    tags = etags.any_tags(if_none_match)
    if tags == "*":
        return "*"
    found = (_VERSION_TAG.match(opaque) for opaque in tags)
    return frozenset(int(m.group(1)) for m in found if m)


def _feature_response(
    request: Request,
    conn: Connection,
    collection: catalog.Collection,
    feature_id: int,
    crs: ServedCrs,
    root: str,
    *,
    status: int = 200,
) -> Response:
    row = conn.execute(features.item_statement(collection, feature_id, crs)).first()
    if row is None:
        raise NotFound(f"no feature {feature_id} in {collection.id}")
    text, version = row
    as_html = wants_html(request)
    etag = _etag(version, crs, request_language(request) if as_html else None)
    here = f"{root}/collections/{collection.id}/items/{feature_id}"
    headers = {"ETag": etag, "Content-Crs": f"<{crs.uri}>"}
    if (
        status == 200
        and request.method == "GET"
        and etags.none_match(request.headers.get("if-none-match"), etag, wildcard=False)
    ):
        return Response(status_code=304, headers=headers)
    if as_html:
        feature = json.loads(text)
        shapes, box = features.svg_shapes(conn, collection, [feature_id])
        html = render(
            request,
            "item.html",
            collection=collection,
            feature=feature,
            shapes=shapes,
            box=box,
            history_url=f"{here}/history",
        )
        html.headers.update(headers)
        return html
    links = [
        link(here, "self", GEOJSON),
        link(f"{here}?f=html", "alternate", HTML),
        link(f"{root}/collections/{collection.id}", "collection", JSON),
        link(f"{here}/history", "version-history", JSON),
    ]
    body = text[:-1] + f',"links":{json.dumps(links)}}}'
    return Response(body, status_code=status, media_type=GEOJSON, headers=headers)


@router.get(
    "/collections/{collectionId}/items/{featureId}",
    response_model=None,
    summary="A feature",
    openapi_extra=_documented("crs"),
)
def get_item(collection_id: CollectionId, feature_id: FeatureId, request: Request) -> Response:
    """One feature, with an ETag (If-None-Match answers 304)."""
    reject_unknown_params(request, ("crs",))
    settings: ApiSettings = request.app.state.settings
    with read_connection(request) as conn:
        found = catalog.get_collection(conn, collection_id)
        return _feature_response(
            request,
            conn,
            found,
            features.parse_feature_id(feature_id),
            served_crs(request.query_params.get("crs")),
            base_url(request, settings.public_url),
        )


def _options(
    key_actor: str,
    content_crs: str | None,
    if_match: str | None,
    allow_overlap: bool = False,
    settings: ApiSettings | None = None,
    if_none_match: str | None = None,
) -> repository.WriteOptions:
    limits = repository.WriteLimits()
    if settings is not None:
        limits = repository.WriteLimits(
            max_string_chars=settings.max_string_chars,
            max_vertices=settings.max_vertices,
            max_features=settings.max_features,
        )
    return repository.WriteOptions(
        actor=key_actor,
        content_crs=served_crs(content_crs),
        expected_version=_expected_version(if_match),
        refused_versions=_refused_versions(if_none_match),
        allow_exclusion_overlap=allow_overlap,
        limits=limits,
    )


ContentCrs = Annotated[str | None, Header(alias="Content-Crs")]
IfMatch = Annotated[str | None, Header(alias="If-Match")]
IfNoneMatch = Annotated[str | None, Header(alias="If-None-Match")]
AllowOverlap = Annotated[
    bool,
    Query(alias="allow-exclusion-overlap", description="save a zone that overlaps exclusion areas"),
]


@dataclasses.dataclass(frozen=True)
class WriteTarget:
    """The collection a write goes to and the key that may write it."""

    collection: catalog.Collection
    key: KeyInfo


def write_target(collection_id: CollectionId, request: Request, session: SessionDep) -> WriteTarget:
    """Check the key (401/403) before anything reads the body."""
    reject_unknown_params(request, ("allow-exclusion-overlap",))
    found = catalog.get_collection(session, collection_id)
    return WriteTarget(found, require_writer(request, session.connection(), found))


WriteTargetDep = Annotated[WriteTarget, Depends(write_target)]


async def accepted_body(request: Request, target: WriteTargetDep) -> bytes:
    """The raw body, read only once the key was accepted (BodyLimitMiddleware caps its size).

    Depending on ``write_target`` orders the two: FastAPI solves it first.
    """
    return await request.body()


AcceptedBody = Annotated[bytes, Depends(accepted_body)]
# Any JSON surrogate escape; only lone ones are refused, after parsing.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


def _json_body(raw: bytes, options: repository.WriteOptions) -> Any:
    """Parse a write's body: a clear 400 for anything that is not JSON."""
    if not raw.strip():
        raise InvalidInput("the request needs a JSON body (a GeoJSON Feature)")
    repository.check_raw_body(raw, options.limits)
    try:
        body = json.loads(raw)
        if _SURROGATE_ESCAPE.search(raw):
            json.dumps(body, ensure_ascii=False).encode()  # refuses a lone surrogate
    except (ValueError, RecursionError) as exc:
        raise InvalidInput(f"the body is not valid JSON: {str(exc)[:200]}") from exc
    return body


def _body_doc(title: str, description: str) -> dict[str, Any]:
    # The body is read by the route (after the key check), so FastAPI does not see it:
    # /api still documents it. Limits: settings max_body_bytes, max_string_chars,
    # max_vertices and max_features.
    schema = {
        "type": "object",
        "additionalProperties": True,
        "description": description,
        "title": title,
    }
    return {
        "requestBody": {
            "required": True,
            "description": (
                f"{description}. Limits (413 or 400 naming the limit): body size, "
                "characters per string property, vertices per geometry, features per "
                "request (one Feature per write)."
            ),
            "content": {
                "application/json": {"schema": schema},
                "application/geo+json": {"schema": schema},
            },
        }
    }


@router.post(
    "/collections/{collectionId}/items",
    response_model=None,
    status_code=201,
    summary="Create a feature",
    openapi_extra=_body_doc("Feature", "a GeoJSON Feature"),
)
def create_item(
    target: WriteTargetDep,
    body: AcceptedBody,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    content_crs: ContentCrs = None,
    allow_exclusion_overlap: AllowOverlap = False,
) -> Response:
    """Create a feature (API key with a role that may write the collection)."""
    found, key = target.collection, target.key
    options = _options(key.actor, content_crs, None, allow_exclusion_overlap, settings)
    written = repository.create(session.connection(), found, _json_body(body, options), options)
    session.commit()
    root = base_url(request, settings.public_url)
    response = _feature_response(
        request, session.connection(), found, written.id, served_crs(None), root, status=201
    )
    response.headers["Location"] = f"{root}/collections/{found.id}/items/{written.id}"
    return response


@router.put(
    "/collections/{collectionId}/items/{featureId}",
    response_model=None,
    summary="Replace a feature",
    openapi_extra=_body_doc("Feature", "a GeoJSON Feature"),
)
def replace_item(
    target: WriteTargetDep,
    feature_id: FeatureId,
    body: AcceptedBody,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    content_crs: ContentCrs = None,
    if_match: IfMatch = None,
    if_none_match: IfNoneMatch = None,
    allow_exclusion_overlap: AllowOverlap = False,
) -> Response:
    """Replace a feature; with If-Match, a stale ETag gets 412."""
    return _change(
        repository.replace,
        request,
        session,
        settings,
        (target, feature_id, body),
        _options(
            target.key.actor,
            content_crs,
            if_match,
            allow_exclusion_overlap,
            settings,
            if_none_match,
        ),
    )


@router.patch(
    "/collections/{collectionId}/items/{featureId}",
    response_model=None,
    summary="Update a feature",
    openapi_extra=_body_doc("Merge Patch", "RFC 7396 merge patch of the Feature"),
)
def patch_item(
    target: WriteTargetDep,
    feature_id: FeatureId,
    body: AcceptedBody,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    content_crs: ContentCrs = None,
    if_match: IfMatch = None,
    if_none_match: IfNoneMatch = None,
    allow_exclusion_overlap: AllowOverlap = False,
) -> Response:
    """Change part of a feature with a JSON merge patch; with If-Match, a stale ETag gets 412."""
    return _change(
        repository.patch,
        request,
        session,
        settings,
        (target, feature_id, body),
        _options(
            target.key.actor,
            content_crs,
            if_match,
            allow_exclusion_overlap,
            settings,
            if_none_match,
        ),
    )


def _change(
    write: Callable[..., repository.Written],
    request: Request,
    session: Any,
    settings: Any,
    change: tuple[WriteTarget, str, bytes],
    options: repository.WriteOptions,
) -> Response:
    """PUT and PATCH (key already checked): write, commit, answer with the new feature."""
    target, feature_id, raw = change
    fid = features.parse_feature_id(feature_id)
    write(session.connection(), target.collection, fid, _json_body(raw, options), options)
    session.commit()
    return _feature_response(
        request,
        session.connection(),
        target.collection,
        fid,
        served_crs(None),
        base_url(request, settings.public_url),
    )


@router.delete(
    "/collections/{collectionId}/items/{featureId}",
    response_model=None,
    status_code=204,
    summary="Delete a feature",
)
def delete_item(
    collection_id: CollectionId,
    feature_id: FeatureId,
    request: Request,
    session: SessionDep,
    if_match: IfMatch = None,
    if_none_match: IfNoneMatch = None,
) -> Response:
    """Delete a feature (kept in its history; an admin can restore it)."""
    reject_unknown_params(request, ())
    conn = session.connection()
    found = catalog.get_collection(session, collection_id)
    key = require_writer(request, conn, found)
    fid = features.parse_feature_id(feature_id)
    repository.delete(
        conn, found, fid, _options(key.actor, None, if_match, if_none_match=if_none_match)
    )
    session.commit()
    return Response(status_code=204)


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
    fid = features.parse_feature_id(feature_id)
    reader = optional_reader(request, session.connection())
    versions = repository.history(
        session.connection(), found, fid, reveal_actors=reader is not None
    )
    if not versions:
        raise NotFound(f"no history for feature {fid} in {found.id}")
    if wants_html(request):
        return render(request, "history.html", collection=found, feature_id=fid, versions=versions)
    return JSONResponse({"collection": found.id, "featureId": fid, "versions": versions})


@router.post(
    "/collections/{collectionId}/items/{featureId}/history/{historyId}/restore",
    response_model=None,
    summary="Restore a feature to a recorded version (admin)",
)
def restore_item(
    collection_id: CollectionId,
    feature_id: FeatureId,
    history_id: HistoryId,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
) -> Response:
    """Bring back a deleted or overwritten feature as a history entry recorded it."""
    reject_unknown_params(request, ())
    conn = session.connection()
    key = require_admin(request, conn)
    found = catalog.get_collection(session, collection_id)
    fid = features.parse_feature_id(feature_id)
    repository.restore(conn, found, fid, features.parse_history_id(history_id), actor=key.actor)
    session.commit()
    return _feature_response(
        request,
        session.connection(),
        found,
        fid,
        served_crs(None),
        base_url(request, settings.public_url),
    )
