"""OGC API – Tiles: vector tiles (MVT) per collection and for all collections at once."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy.engine import Connection

from api import etags
from api.deps import SessionDep, SettingsDep, read_connection
from api.negotiation import JSON, CollectionId, base_url, reject_unknown_params
from api.routers.ogc import link
from geo import catalog, features, tiles

router = APIRouter(tags=["OGC API – Tiles"])

MVT = "application/vnd.mapbox-vector-tile"
TILEJSON = "application/json"
# Browsers and caches may keep a tile a minute and must revalidate it after (the ETag
# makes revalidation cheap); a write shows within that minute at most.
CACHE_CONTROL = "public, max-age=60, must-revalidate"
TMS_URI = "http://www.opengis.net/def/tilematrixset/OGC/1.0/WebMercatorQuad"

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
) -> Response:
    reject_unknown_params(request, ("properties",))
    address = tiles.parse_tile(z, y, x)
    names = None if properties is None else [n.strip() for n in properties.split(",") if n.strip()]
    encoded = tiles.tile(conn, chosen, address, properties=names)
    headers = {"Cache-Control": CACHE_CONTROL}
    if not encoded.data:
        return Response(status_code=204, headers=headers)
    headers["ETag"] = encoded.etag
    if etags.none_match(request.headers.get("if-none-match"), encoded.etag, wildcard=False):
        return Response(status_code=304, headers=headers)
    return Response(encoded.data, media_type=MVT, headers=headers)


@router.get(
    "/collections/{collectionId}/tiles/WebMercatorQuad/{tileMatrix}/{tileRow}/{tileCol}",
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
    """MVT of one collection, built by PostGIS; 204 when the tile is empty."""
    with read_connection(request) as conn:
        found = catalog.get_collection(conn, collection_id)
        return _tile_response(request, conn, [found], tile_matrix, tile_row, tile_col, properties)


@router.get(
    "/tiles/WebMercatorQuad/{tileMatrix}/{tileRow}/{tileCol}",
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
    with read_connection(request) as conn:
        chosen = catalog.list_collections(conn)
        return _tile_response(request, conn, chosen, tile_matrix, tile_row, tile_col, properties)


def _tileset(root: str, prefix: str, title: str) -> dict[str, Any]:
    template = f"{root}{prefix}/tiles/WebMercatorQuad/{{tileMatrix}}/{{tileRow}}/{{tileCol}}"
    return {
        "title": title,
        "dataType": "vector",
        "crs": "http://www.opengis.net/def/crs/EPSG/0/3857",
        "tileMatrixSetURI": TMS_URI,
        "links": [
            link(f"{root}{prefix}/tiles/WebMercatorQuad", "self", JSON),
            link(
                f"{root}/tileMatrixSets/WebMercatorQuad",
                "http://www.opengis.net/def/rel/ogc/1.0/tiling-scheme",
                JSON,
            ),
            link(template, "item", MVT, "MVT tiles"),
            link(
                f"{root}{prefix}/tiles/WebMercatorQuad/tilejson.json",
                "describedby",
                TILEJSON,
                "TileJSON",
            ),
        ],
    }


@router.get(
    "/collections/{collectionId}/tiles", response_model=None, summary="Tilesets of a collection"
)
def collection_tilesets(
    collection_id: CollectionId, request: Request, session: SessionDep, settings: SettingsDep
) -> Response:
    """The tilesets a collection is served in."""
    reject_unknown_params(request, ())
    found = catalog.get_collection(session, collection_id)
    root = base_url(request, settings.public_url)
    return JSONResponse({"tilesets": [_tileset(root, f"/collections/{found.id}", found.title_en)]})


@router.get(
    "/collections/{collectionId}/tiles/WebMercatorQuad",
    response_model=None,
    summary="Tileset metadata of a collection",
)
def collection_tileset(
    collection_id: CollectionId, request: Request, session: SessionDep, settings: SettingsDep
) -> Response:
    """Tileset metadata: the tiling scheme and the tile URL template."""
    reject_unknown_params(request, ())
    found = catalog.get_collection(session, collection_id)
    root = base_url(request, settings.public_url)
    document = _tileset(root, f"/collections/{found.id}", found.title_en)
    document["layers"] = [
        {"id": found.id, "dataType": "vector", "geometryType": found.geometry_type}
    ]
    return JSONResponse(document)


@router.get(
    "/collections/{collectionId}/tiles/WebMercatorQuad/tilejson.json",
    response_model=None,
    summary="TileJSON of a collection",
)
def collection_tilejson(
    collection_id: CollectionId, request: Request, session: SessionDep, settings: SettingsDep
) -> Response:
    """TileJSON 3 for MapLibre and Leaflet."""
    reject_unknown_params(request, ())
    found = catalog.get_collection(session, collection_id)
    root = base_url(request, settings.public_url)
    url = f"{root}/collections/{found.id}/tiles/WebMercatorQuad/{{z}}/{{y}}/{{x}}"
    box = features.extent(session.connection(), found).get("spatial", {}).get("bbox", [None])[0]
    return JSONResponse(tiles.tilejson([found], url, box, found.title_en))


@router.get("/tiles", response_model=None, summary="Tilesets of all collections")
def all_tilesets(request: Request, settings: SettingsDep) -> Response:
    """The combined tileset (one layer per collection)."""
    reject_unknown_params(request, ())
    root = base_url(request, settings.public_url)
    return JSONResponse({"tilesets": [_tileset(root, "", "craftmap")]})


@router.get("/tiles/WebMercatorQuad/tilejson.json", response_model=None, summary="TileJSON of all")
def all_tilejson(request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    """TileJSON 3 of the combined tileset."""
    reject_unknown_params(request, ())
    root = base_url(request, settings.public_url)
    url = f"{root}/tiles/WebMercatorQuad/{{z}}/{{y}}/{{x}}"
    return JSONResponse(tiles.tilejson(catalog.list_collections(session), url, None, "craftmap"))


@router.get("/tileMatrixSets", response_model=None, summary="Tiling schemes")
def tile_matrix_sets(request: Request, settings: SettingsDep) -> Response:
    """The tiling schemes tiles are served in."""
    reject_unknown_params(request, ())
    root = base_url(request, settings.public_url)
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
