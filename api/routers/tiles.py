"""OGC API – Tiles: vector tiles (MVT) per collection and for all collections at once."""

from __future__ import annotations

import contextlib
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse, Response

from api import etags, params
from api.deps import RootUrl, SessionDep, SettingsDep, get_engine, read_connection
from api.documents import TMS_URI, link, tileset, tileset_document
from api.hot import HotRoute, path_pattern
from api.negotiation import JSON, MVT, CollectionId, reject_unknown_params
from api.settings import ApiSettings
from geo.query import tile_cache, tiles
from geo.store import catalog
from geo.store.db import Connection, Engine

router = APIRouter(tags=["OGC API – Tiles"])

# Browsers and caches may keep a tile a minute and must revalidate it after (the ETag
# makes revalidation cheap); a write shows within that minute at most.
CACHE_CONTROL = "public, max-age=60, must-revalidate"

TileMatrix = Annotated[str, Path(alias="tileMatrix")]
TileRow = Annotated[str, Path(alias="tileRow")]
TileCol = Annotated[str, Path(alias="tileCol")]
Properties = Annotated[str | None, Query(description="properties to put in the tile")]


def _tile_response(
    request: Request,
    conn: Connection,
    chosen: list[catalog.Collection],
    z: str,
    y: str,
    x: str,
    properties: str | None,
    cap: int,
    *,
    cached: bool = False,
) -> Response:
    """The tile's answer: built by PostGIS, or through the tile cache when ``cached``."""
    reject_unknown_params(request, ("properties",))
    address = params.parse_tile(z, y, x)
    names = params.parse_tile_properties(properties, chosen)
    make = tile_cache.cached_tile if cached else tiles.tile
    encoded = make(conn, chosen, address, properties=names, cap=cap)
    return _encoded_response(request, encoded)


def _encoded_response(request: Request, encoded: tiles.TileBytes) -> Response:
    headers = {"Cache-Control": CACHE_CONTROL}
    if not encoded.data:
        return Response(status_code=204, headers=headers)
    headers["ETag"] = encoded.etag
    unchanged = etags.not_modified(request, encoded.etag, headers)
    if unchanged is not None:
        return unchanged
    return Response(encoded.data, media_type=MVT, headers=headers)


def _cache_used(request: Request, settings: ApiSettings, z: str) -> bool:
    # Tests that run the app on their own rolled-back connection (read_connection_override)
    # see no commits, so no invalidation: they are served as without a cache.
    if not settings.tile_cache_enabled or request.app.state.read_connection_override is not None:
        return False
    zoom = params.whole_number(z, settings.tile_cache_max_zoom)
    return zoom is not None


def _tile_connection(request: Request) -> contextlib.AbstractContextManager[Connection]:
    engine: Engine | None = request.app.state.tile_engine
    return (engine or get_engine(request)).connect()


COLLECTION_TILE_PATH = (
    "/collections/{collectionId}/tiles/WebMercatorQuad/{tileMatrix}/{tileRow}/{tileCol}"
)
COMBINED_TILE_PATH = "/tiles/WebMercatorQuad/{tileMatrix}/{tileRow}/{tileCol}"


@router.get(
    COLLECTION_TILE_PATH,
    response_model=None,
    summary="A vector tile of one collection",
    responses={200: {"content": {MVT: {}}}, 204: {"description": "empty tile"}},
)
def collection_tile(
    collection_id: CollectionId,
    tile_matrix: TileMatrix,
    tile_row: TileRow,
    tile_col: TileCol,
    request: Request,
    properties: Properties = None,
) -> Response:
    """MVT of one collection, built by PostGIS (or from the tile cache); 204 when empty."""
    # The settings straight from the app: a (sync) dependency would cost a thread hop.
    settings: ApiSettings = request.app.state.settings
    if _cache_used(request, settings, tile_matrix):
        with _tile_connection(request) as conn:
            found = catalog.get_collection(conn, collection_id)
            return _tile_response(
                request,
                conn,
                [found],
                tile_matrix,
                tile_row,
                tile_col,
                properties,
                settings.tile_max_features,
                cached=True,
            )
    with read_connection(request) as conn:
        found = catalog.get_collection(conn, collection_id)
        return _tile_response(
            request,
            conn,
            [found],
            tile_matrix,
            tile_row,
            tile_col,
            properties,
            settings.tile_max_features,
        )


@router.get(
    COMBINED_TILE_PATH,
    response_model=None,
    summary="A vector tile of every collection (one layer each)",
    responses={200: {"content": {MVT: {}}}, 204: {"description": "empty tile"}},
)
def combined_tile(
    tile_matrix: TileMatrix,
    tile_row: TileRow,
    tile_col: TileCol,
    request: Request,
    properties: Properties = None,
) -> Response:
    """MVT with one layer per collection, for the maps."""
    # The settings straight from the app: a (sync) dependency would cost a thread hop.
    settings: ApiSettings = request.app.state.settings
    if _cache_used(request, settings, tile_matrix):
        with _tile_connection(request) as conn:
            chosen = catalog.list_collections(conn)
            return _tile_response(
                request,
                conn,
                chosen,
                tile_matrix,
                tile_row,
                tile_col,
                properties,
                settings.tile_max_features,
                cached=True,
            )
    with read_connection(request) as conn:
        chosen = catalog.list_collections(conn)
        return _tile_response(
            request,
            conn,
            chosen,
            tile_matrix,
            tile_row,
            tile_col,
            properties,
            settings.tile_max_features,
        )


def _hot_collection_tile(request: Request, found: dict[str, str], root: str) -> Response:
    # The path parameters are text in the route too (the handlers parse them): the same
    # 400/404 answers. A repeated ?properties= is read as FastAPI reads it (the last one).
    return collection_tile(
        found["collectionId"],
        found["tileMatrix"],
        found["tileRow"],
        found["tileCol"],
        request,
        request.query_params.get("properties"),
    )


def _hot_combined_tile(request: Request, found: dict[str, str], root: str) -> Response:
    return combined_tile(
        found["tileMatrix"],
        found["tileRow"],
        found["tileCol"],
        request,
        request.query_params.get("properties"),
    )


# (hottile, issue 17) Answered before FastAPI's router by api.hot.HotReads: a warm-cache
# tile costs the database little, so the routing around it was most of its cost.
HOT_ROUTES = (
    HotRoute(path_pattern(COLLECTION_TILE_PATH), _hot_collection_tile),
    HotRoute(path_pattern(COMBINED_TILE_PATH), _hot_combined_tile),
)


@router.get(
    "/collections/{collectionId}/tiles", response_model=None, summary="Tilesets of a collection"
)
def collection_tilesets(
    collection_id: CollectionId, request: Request, session: SessionDep, root: RootUrl
) -> Response:
    """The tilesets a collection is served in."""
    reject_unknown_params(request, ())
    found = catalog.get_collection(session, collection_id)
    return JSONResponse({"tilesets": [tileset(root, f"/collections/{found.id}", found.title.en)]})


@router.get(
    "/collections/{collectionId}/tiles/WebMercatorQuad",
    response_model=None,
    summary="Tileset metadata of a collection",
)
def collectiontileset(
    collection_id: CollectionId,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    root: RootUrl,
) -> Response:
    """Tileset metadata: the tiling scheme, the tile URL template, layers and limits."""
    reject_unknown_params(request, ())
    found = catalog.get_collection(session, collection_id)
    bbox = tiles.data_bbox(session.connection(), [found])
    return JSONResponse(
        tileset_document(
            root,
            f"/collections/{found.id}",
            found.title.en,
            [found],
            bbox,
            settings.tile_max_features,
        )
    )


@router.get(
    "/collections/{collectionId}/tiles/WebMercatorQuad/tilejson.json",
    response_model=None,
    summary="TileJSON of a collection",
)
def collection_tilejson(
    collection_id: CollectionId,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    root: RootUrl,
) -> Response:
    """TileJSON 3 for MapLibre and Leaflet."""
    reject_unknown_params(request, ())
    found = catalog.get_collection(session, collection_id)
    url = f"{root}/collections/{found.id}/tiles/WebMercatorQuad/{{z}}/{{y}}/{{x}}"
    box = tiles.data_bbox(session.connection(), [found])
    return JSONResponse(
        tiles.tilejson([found], url, box, found.title.en, settings.tile_max_features)
    )


@router.get("/tiles", response_model=None, summary="Tilesets of all collections")
def all_tilesets(request: Request, root: RootUrl) -> Response:
    """The combined tileset (one layer per collection)."""
    reject_unknown_params(request, ())
    return JSONResponse({"tilesets": [tileset(root, "", "craftmap")]})


@router.get(
    "/tiles/WebMercatorQuad", response_model=None, summary="Tileset metadata of all collections"
)
def alltileset(
    request: Request, session: SessionDep, settings: SettingsDep, root: RootUrl
) -> Response:
    """The combined tileset: one layer per collection, limits covering all the data."""
    reject_unknown_params(request, ())
    chosen = catalog.list_collections(session)
    bbox = tiles.data_bbox(session.connection(), chosen)
    return JSONResponse(
        tileset_document(root, "", "craftmap", chosen, bbox, settings.tile_max_features)
    )


@router.get("/tiles/WebMercatorQuad/tilejson.json", response_model=None, summary="TileJSON of all")
def all_tilejson(
    request: Request, session: SessionDep, settings: SettingsDep, root: RootUrl
) -> Response:
    """TileJSON 3 of the combined tileset."""
    reject_unknown_params(request, ())
    url = f"{root}/tiles/WebMercatorQuad/{{z}}/{{y}}/{{x}}"
    chosen = catalog.list_collections(session)
    bbox = tiles.data_bbox(session.connection(), chosen)
    return JSONResponse(tiles.tilejson(chosen, url, bbox, "craftmap", settings.tile_max_features))


@router.get("/tileMatrixSets", response_model=None, summary="Tiling schemes")
def tile_matrix_sets(request: Request, root: RootUrl) -> Response:
    """The tiling schemes tiles are served in."""
    reject_unknown_params(request, ())
    return JSONResponse(
        {
            "tileMatrixSets": [
                {
                    "id": tiles.TMS_ID,
                    "title": "Google Maps Compatible for the World",
                    "uri": TMS_URI,
                    "links": [link(f"{root}/tileMatrixSets/WebMercatorQuad", "self", JSON)],
                }
            ]
        }
    )


@router.get("/tileMatrixSets/WebMercatorQuad", response_model=None, summary="WebMercatorQuad")
def web_mercator_quad(request: Request) -> Response:
    """The WebMercatorQuad tile matrix set."""
    reject_unknown_params(request, ())
    return JSONResponse(tiles.tile_matrix_set())
