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
from geo.query import tiles
from geo.store import catalog

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
    cap: int,
) -> Response:
    reject_unknown_params(request, ("properties",))
    address = tiles.parse_tile(z, y, x)
    names = tiles.parse_properties(properties, chosen)
    encoded = tiles.tile(conn, chosen, address, properties=names, cap=cap)
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
    settings: SettingsDep,
    properties: Properties = None,
) -> Response:
    """MVT of one collection, built by PostGIS; 204 when the tile is empty."""
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
    settings: SettingsDep,
    properties: Properties = None,
) -> Response:
    """MVT with one layer per collection, for the maps."""
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


def _tileset(root: str, prefix: str, title: str) -> dict[str, Any]:
    """A tileset as listed in ``…/tiles``: what OGC API – Tiles requires of a summary."""
    here = f"{root}{prefix}/tiles/WebMercatorQuad"
    template = f"{here}/{{tileMatrix}}/{{tileRow}}/{{tileCol}}"
    return {
        "title": title,
        "dataType": "vector",
        "crs": "http://www.opengis.net/def/crs/EPSG/0/3857",
        "tileMatrixSetURI": TMS_URI,
        "links": [
            link(here, "self", JSON),
            link(
                f"{root}/tileMatrixSets/WebMercatorQuad",
                "http://www.opengis.net/def/rel/ogc/1.0/tiling-scheme",
                JSON,
            ),
            # /req/tileset/description: a link with a URI template says so.
            {**link(template, "item", MVT, "MVT tiles"), "templated": True},
            link(f"{here}/tilejson.json", "describedby", TILEJSON, "TileJSON"),
        ],
    }


def _tileset_document(
    root: str,
    prefix: str,
    title: str,
    layers: list[catalog.Collection],
    bbox: list[float] | None,
    cap: int,
) -> dict[str, Any]:
    """The tileset document itself: the summary plus its layers, limits and cap."""
    document = _tileset(root, prefix, title)
    document["description"] = tiles.CAP_RULE.format(cap=cap)
    document["layers"] = [tiles.layer_description(c) for c in layers]
    if bbox is not None:
        document["boundingBox"] = {
            "lowerLeft": bbox[:2],
            "upperRight": bbox[2:],
            "crs": "http://www.opengis.net/def/crs/OGC/1.3/CRS84",
        }
        # Clients ask for no tile outside the data (an empty collection has no limits).
        document["tileMatrixSetLimits"] = tiles.matrix_limits(bbox)
    return document


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
    return JSONResponse({"tilesets": [_tileset(root, f"/collections/{found.id}", found.title.en)]})


@router.get(
    "/collections/{collectionId}/tiles/WebMercatorQuad",
    response_model=None,
    summary="Tileset metadata of a collection",
)
def collection_tileset(
    collection_id: CollectionId, request: Request, session: SessionDep, settings: SettingsDep
) -> Response:
    """Tileset metadata: the tiling scheme, the tile URL template, layers and limits."""
    reject_unknown_params(request, ())
    found = catalog.get_collection(session, collection_id)
    root = base_url(request, settings.public_url)
    bbox = tiles.data_bbox(session.connection(), [found])
    return JSONResponse(
        _tileset_document(
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
    collection_id: CollectionId, request: Request, session: SessionDep, settings: SettingsDep
) -> Response:
    """TileJSON 3 for MapLibre and Leaflet."""
    reject_unknown_params(request, ())
    found = catalog.get_collection(session, collection_id)
    root = base_url(request, settings.public_url)
    url = f"{root}/collections/{found.id}/tiles/WebMercatorQuad/{{z}}/{{y}}/{{x}}"
    box = tiles.data_bbox(session.connection(), [found])
    return JSONResponse(
        tiles.tilejson([found], url, box, found.title.en, settings.tile_max_features)
    )


@router.get("/tiles", response_model=None, summary="Tilesets of all collections")
def all_tilesets(request: Request, settings: SettingsDep) -> Response:
    """The combined tileset (one layer per collection)."""
    reject_unknown_params(request, ())
    root = base_url(request, settings.public_url)
    return JSONResponse({"tilesets": [_tileset(root, "", "craftmap")]})


@router.get(
    "/tiles/WebMercatorQuad", response_model=None, summary="Tileset metadata of all collections"
)
def all_tileset(request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    """The combined tileset: one layer per collection, limits covering all the data."""
    reject_unknown_params(request, ())
    root = base_url(request, settings.public_url)
    chosen = catalog.list_collections(session)
    bbox = tiles.data_bbox(session.connection(), chosen)
    return JSONResponse(
        _tileset_document(root, "", "craftmap", chosen, bbox, settings.tile_max_features)
    )


@router.get("/tiles/WebMercatorQuad/tilejson.json", response_model=None, summary="TileJSON of all")
def all_tilejson(request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    """TileJSON 3 of the combined tileset."""
    reject_unknown_params(request, ())
    root = base_url(request, settings.public_url)
    url = f"{root}/tiles/WebMercatorQuad/{{z}}/{{y}}/{{x}}"
    chosen = catalog.list_collections(session)
    bbox = tiles.data_bbox(session.connection(), chosen)
    return JSONResponse(tiles.tilejson(chosen, url, bbox, "craftmap", settings.tile_max_features))


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
