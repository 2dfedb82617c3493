"""Mapbox Vector Tiles built by PostGIS (``ST_AsMVT``) on the WebMercatorQuad grid.

The ETag of a tile is the MD5 of its bytes, computed in the same query: any worker or
host gives the same tag for the same data, and a write changes the tags of exactly the
tiles whose content it changes. That holds only because the bytes are deterministic:
every layer takes its features in id order (``ST_AsMVT(... ORDER BY id)``), whatever plan
PostgreSQL picks (parallel scans hand rows over in a different order each time), and the
per-layer cap keeps the lowest ids (see ``CAP_RULE``).

Low zooms stay light (``LOW_ZOOM_RULE``): a zoom-8 tile of the national material zones
held 14,000 parcels, 2 MB, and PostGIS spent most of a second transforming and
simplifying every parcel for it. Up to ``GENERALISED_MAX_ZOOM`` lines and polygons come
from ``tile_generalised``, a copy already in Web Mercator and simplified at zoom 9, kept
in step by triggers (migration 0012b); features smaller than a screen pixel are left out,
and without a ``properties`` choice a layer carries only its code lists. Both rules are
written in the tileset documents and TileJSON (``description``).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import morecantile
import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.sql.elements import ColumnElement

from geo.kernel.crs import SRID_STORAGE
from geo.store import models
from geo.store.catalog import Collection

TMS_ID = "WebMercatorQuad"
TMS = morecantile.tms.get(TMS_ID)
EXTENT = 4096
BUFFER = 64
MAX_ZOOM = 22
MAX_FEATURES_PER_LAYER = 20_000
# The version of what ``tile()`` encodes: part of every tile-cache key (geo/query/tile_cache.py),
# so changing how tiles are built (the SQL, generalised geometry) never serves old bytes.
# 2: low zooms from the generalised copy (issue 17).
TILE_FORMAT = 2
# What a capped layer keeps, for the tileset documents and TileJSON. The lowest ids: the
# index finds the tile's candidates and a top-N sort on the id is cheap, the choice is the
# same on every worker and plan, and a new feature never displaces a kept one (ids only
# grow). The cap applies before features too small to show are dropped
# (PostgreSQL then builds geometries for the kept rows only). Largest-by-area would look
# better at low zoom but costs an area per candidate and changes with every edit.
CAP_RULE = (
    "A layer holds at most {cap} features per tile: when more features' bounding boxes "
    "meet a tile, it keeps the {cap} with the lowest ids (the oldest), so the same tile "
    "always holds the same features; features in id order."
)
_WEB_MERCATOR = 3857
# Earth's circumference in Web Mercator metres.
_WORLD_M = 40_075_016.685578488
# Up to this zoom, lines and polygons come from the generalised copy (tile_generalised,
# migration 0012b), simplified once to half a pixel of a zoom-9 tile; deeper zooms need
# finer detail than the copy keeps.
GENERALISED_MAX_ZOOM = 9
GENERALISED_TOLERANCE = _WORLD_M / 2**GENERALISED_MAX_ZOOM / EXTENT / 2
# The feature tables the copy holds (villages and route stops are points).
GENERALISED_TABLES = frozenset(
    {"material_zone", "tourism_route", "admin_unit", "road_edge", "reference_feature"}
)
LOW_ZOOM_RULE = (
    f"At zoom levels up to {GENERALISED_MAX_ZOOM}, lines and polygons come from a copy "
    "kept in Web Mercator and simplified to half a pixel of a zoom-"
    f"{GENERALISED_MAX_ZOOM} tile (about {GENERALISED_TOLERANCE:.1f} m), and a line or "
    "polygon whose bounding box is smaller than one pixel of a 256-pixel tile at that zoom "
    "(611 m at zoom 8, 306 m at zoom 9) is left out, as tippecanoe does: it could not be "
    "seen. The per-layer cap counts the features that remain. Unless the request names "
    "its properties, such a layer carries only its code-list properties (what a map "
    "colours by: material, status…); the others are on each feature's page."
)
_GENERALISED = models.table_of(models.TileGeneralised)


def tileset_description(cap: int) -> str:
    """What a tile of this server holds and leaves out, for tilesets and TileJSON."""
    return f"{CAP_RULE.format(cap=cap)} {LOW_ZOOM_RULE}"


@dataclass(frozen=True)
class Tile:
    """A tile of the WebMercatorQuad grid."""

    z: int
    x: int
    y: int


@dataclass(frozen=True)
class TileBytes:
    """An encoded tile and its content hash (empty bytes for an empty tile)."""

    data: bytes
    etag: str


def _mvt_layer(
    collection: Collection, properties: Sequence[str] | None, cap: int, low_zoom: int | None
) -> sa.Select[Any]:
    table = collection.table
    envelope = sa.func.ST_TileEnvelope(
        sa.bindparam("z", type_=sa.Integer),
        sa.bindparam("x", type_=sa.Integer),
        sa.bindparam("y", type_=sa.Integer),
    )
    tolerance = sa.bindparam("tolerance", type_=sa.Double)
    names = [p.name for p in collection.props if p.type not in {"object"}]
    low = low_zoom is not None and table.name in GENERALISED_TABLES
    if properties is not None:
        chosen = [n for n in properties if n in names]
    elif low:
        chosen = [p.name for p in collection.props if p.enum is not None]  # LOW_ZOOM_RULE
    else:
        chosen = names
    columns = [_mvt_value(collection, name).label(name) for name in chosen]
    if low_zoom is not None and low:
        rows = _generalised_rows(collection, envelope, columns, cap, low_zoom)
        return _aggregate(collection, rows)
    geom_3857: ColumnElement[Any] = sa.func.ST_Transform(table.c.geom, _WEB_MERCATOR)
    if collection.geometry_type not in {"Point"}:
        # Detail finer than half a tile pixel cannot show: drop it before encoding. Plain
        # Douglas-Peucker: the topology-preserving variant took twice as long for the same
        # tile, and ST_AsMVTGeom repairs what snapping to the tile grid breaks anyway.
        geom_3857 = sa.func.ST_Simplify(geom_3857, tolerance)
    rows = (
        sa.select(
            sa.func.ST_AsMVTGeom(geom_3857, envelope, EXTENT, BUFFER, True).label("geom"),
            table.c.id.label("id"),
            *columns,
        )
        .where(
            *collection.base_filter(),
            # The GiST index works on the stored CRS: compare with the tile in lon/lat.
            table.c.geom.op("&&")(sa.func.ST_Transform(envelope, SRID_STORAGE)),
        )
        .order_by(table.c.id)
        .limit(cap)
        .subquery("rows")
    )
    return _aggregate(collection, rows)


def _generalised_rows(
    collection: Collection,
    envelope: ColumnElement[Any],
    columns: Sequence[ColumnElement[Any]],
    cap: int,
    zoom: int,
) -> sa.Subquery:
    # LOW_ZOOM_RULE: the copy is already in Web Mercator (its GiST index takes the tile as
    # it is) and simplified at zoom 9; below that it is simplified again to the tile's
    # half pixel, which costs far less than transforming the stored geometry. The size
    # is a literal of the statement (one per zoom) so that PostgreSQL picks that zoom's
    # partial index, which holds only the features big enough to keep.
    table, copy = collection.table, _GENERALISED
    min_size = models.TILE_GENERALISED_MIN_SIZE[zoom]
    geom = sa.func.ST_Simplify(copy.c.geom, sa.bindparam("tolerance", type_=sa.Double))
    return (
        sa.select(
            sa.func.ST_AsMVTGeom(geom, envelope, EXTENT, BUFFER, True).label("geom"),
            table.c.id.label("id"),
            *columns,
        )
        .select_from(copy.join(table, table.c.id == copy.c.feature_id))
        .where(
            copy.c.collection == table.name,
            copy.c.geom.op("&&")(envelope),
            copy.c.size_m >= sa.literal_column(repr(min_size), sa.Double),
            *collection.base_filter(),
        )
        .order_by(table.c.id)
        .limit(cap)
        .subquery("rows")
    )


def _aggregate(collection: Collection, rows: sa.Subquery) -> sa.Select[Any]:
    # ORDER BY in the aggregate call itself: a sorted subquery only usually feeds an
    # aggregate in order, and the tile's ETag is the MD5 of these bytes.
    mvt = sa.func.ST_AsMVT(
        sa.literal_column("rows.*"), collection.id, EXTENT, "geom", "id"
    ).aggregate_order_by(rows.c.id)
    return sa.select(mvt).select_from(rows).where(rows.c.geom.is_not(None))


def _mvt_value(collection: Collection, name: str) -> ColumnElement[Any]:
    # MVT values are strings, numbers and booleans: lists become "a; b", dates and times ISO text.
    prop = collection.prop(name)
    column = collection.column(name)
    if prop is not None and prop.type == "array" and not collection.is_reference_layer:
        # A reference layer's array is a JSON value: its text goes in the tile as it is.
        return sa.func.array_to_string(column, "; ")
    if prop is not None and prop.type in {"date", "datetime", "time"}:
        return sa.cast(column, sa.Text)
    if prop is not None and prop.type == "number" and not collection.is_reference_layer:
        # ST_AsMVT writes a numeric column as its text; no served column is numeric today
        # (all are double precision, where the cast costs nothing), but "Number" must hold.
        return sa.cast(column, sa.Double)
    return column


def tile(
    conn: Connection,
    collections: Sequence[Collection],
    tile_address: Tile,
    *,
    properties: Sequence[str] | None = None,
    cap: int = MAX_FEATURES_PER_LAYER,
    generalised: bool = True,
) -> TileBytes:
    """One tile with a layer per collection (layers without features are left out).

    ``cap`` is the most features a layer holds; beyond it the lowest ids are kept. Up to
    ``GENERALISED_MAX_ZOOM`` lines and polygons follow ``LOW_ZOOM_RULE`` (``generalised``
    False builds them from the stored geometries instead, for comparisons).
    """
    statement = _tile_sql(
        tuple(collections),
        None if properties is None else tuple(properties),
        cap,
        _low_zoom(tile_address, generalised),
    )
    data, digest = conn.execute(statement, tile_values(tile_address)).one()
    payload = bytes(data or b"")
    return TileBytes(payload, f'"{digest}"' if payload else "")


def tile_statement(
    collections: Sequence[Collection],
    tile_address: Tile,
    properties: Sequence[str] | None = None,
    cap: int = MAX_FEATURES_PER_LAYER,
    generalised: bool = True,
) -> sa.Select[Any]:
    """SQL giving a tile's bytes and their MD5 in one row, with the tile's values bound."""
    statement = _tile_sql(
        tuple(collections),
        None if properties is None else tuple(properties),
        cap,
        _low_zoom(tile_address, generalised),
    )
    return statement.params(tile_values(tile_address))


def tile_values(tile_address: Tile) -> dict[str, Any]:
    """The values a tile statement binds for ``tile_address``."""
    # Half a pixel of the tile, in metres: finer detail cannot show.
    pixel_m = _WORLD_M / 2**tile_address.z / EXTENT
    return {
        "z": tile_address.z,
        "x": tile_address.x,
        "y": tile_address.y,
        "tolerance": pixel_m / 2,
    }


def _low_zoom(tile_address: Tile, generalised: bool) -> int | None:
    # The zoom whose LOW_ZOOM_RULE applies, or None for a tile built from the stored rows.
    return tile_address.z if generalised and tile_address.z <= GENERALISED_MAX_ZOOM else None


@functools.lru_cache(maxsize=256)
def _tile_sql(
    collections: tuple[Collection, ...],
    properties: tuple[str, ...] | None,
    cap: int,
    low_zoom: int | None,
) -> sa.Select[Any]:
    # Built once per layer set (and per zoom up to GENERALISED_MAX_ZOOM), with the tile
    # address as parameters: building the statement cost more than PostGIS's answer for a
    # small tile.
    parts = [_mvt_layer(c, properties, cap, low_zoom).scalar_subquery() for c in collections]
    combined: ColumnElement[Any] = parts[0]
    for part in parts[1:]:
        combined = combined.op("||")(part)
    # OFFSET 0 keeps PostgreSQL from inlining the subquery, which would build the tile
    # twice: once for the bytes and once more for their MD5.
    built = sa.select(combined.label("mvt")).offset(0).subquery("t")
    return sa.select(
        sa.literal_column("t.mvt"), sa.func.md5(sa.literal_column("t.mvt"))
    ).select_from(built)


def tile_properties(collections: Sequence[Collection]) -> dict[str, str]:
    """The properties tiles of ``collections`` can carry, with the MVT value type of each.

    MVT values are strings, numbers and booleans: objects are left out, lists travel
    joined ("a; b") and dates as ISO text, so both are strings in a tile.
    """
    found: dict[str, str] = {}
    for collection in collections:
        for prop in collection.props:
            if prop.type == "object":
                continue
            found.setdefault(prop.name, _MVT_TYPES.get(prop.type, "string"))
    return found


_MVT_TYPES = {"integer": "integer", "number": "number", "boolean": "boolean"}
# TileJSON `vector_layers.fields`: MapLibre and OGC clients read these three words.
_TILEJSON_TYPES = {
    "integer": "Number",
    "number": "Number",
    "boolean": "Boolean",
    "string": "String",
}


def data_bbox(conn: Connection, collections: Sequence[Collection]) -> list[float] | None:
    """Lon/lat box of every feature of ``collections`` (None when they are all empty)."""
    boxes = []
    for collection in collections:
        extent = sa.func.ST_Extent(collection.table.c.geom)
        row = conn.execute(
            sa.select(
                sa.func.ST_XMin(extent),
                sa.func.ST_YMin(extent),
                sa.func.ST_XMax(extent),
                sa.func.ST_YMax(extent),
            ).where(*collection.base_filter())
        ).one()
        if row[0] is not None:
            boxes.append([float(v) for v in row])
    if not boxes:
        return None
    return [
        min(b[0] for b in boxes),
        min(b[1] for b in boxes),
        max(b[2] for b in boxes),
        max(b[3] for b in boxes),
    ]


def matrix_limits(
    bbox: Sequence[float], min_zoom: int = 0, max_zoom: int = MAX_ZOOM
) -> list[dict[str, Any]]:
    """``tileMatrixSetLimits``: per zoom, the tile rows and columns ``bbox`` touches."""
    west, south, east, north = bbox
    # Inside the grid's latitudes, and a hair inside the box so that a box ending on a
    # tile edge does not claim the next tile (morecantile's own tiles() does the same).
    north = min(north, 85.0511287798)
    south = max(south, -85.0511287798)
    eps = 1e-9
    limits = []
    for z in range(min_zoom, max_zoom + 1):
        top_left = TMS.tile(west + eps, north - eps, z)
        bottom_right = TMS.tile(max(west + eps, east - eps), min(north - eps, south + eps), z)
        limits.append(
            {
                "tileMatrix": str(z),
                "minTileRow": top_left.y,
                "maxTileRow": bottom_right.y,
                "minTileCol": top_left.x,
                "maxTileCol": bottom_right.x,
            }
        )
    return limits


def tilejson(
    collections: Sequence[Collection],
    tiles_url: str,
    bounds: list[float] | None,
    name: str,
    cap: int = MAX_FEATURES_PER_LAYER,
) -> dict[str, Any]:
    """TileJSON 3.0.0 for MapLibre and Leaflet clients.

    ``fields`` give the type a tile really carries ("Number", "String", "Boolean"), not the
    type of the GeoJSON property: a list or a date is a string in a tile.
    """
    return {
        "tilejson": "3.0.0",
        "name": name,
        "description": tileset_description(cap),
        "scheme": "xyz",
        "tiles": [tiles_url],
        "minzoom": 0,
        "maxzoom": MAX_ZOOM,
        "bounds": bounds or [-180.0, -85.05112878, 180.0, 85.05112878],
        "vector_layers": [
            {
                "id": c.id,
                "description": c.description.en,
                "minzoom": 0,
                "maxzoom": MAX_ZOOM,
                "fields": {n: _TILEJSON_TYPES[t] for n, t in tile_properties([c]).items()},
            }
            for c in collections
        ],
    }


_DIMENSIONS = {
    "Point": 0,
    "MultiPoint": 0,
    "LineString": 1,
    "MultiLineString": 1,
    "Polygon": 2,
    "MultiPolygon": 2,
}


def layer_description(collection: Collection) -> dict[str, Any]:
    """A ``layers`` entry of a vector tileset (OGC API – Tiles): the layer and its fields."""
    entry: dict[str, Any] = {
        "id": collection.id,
        "title": collection.title.en,
        "description": collection.description.en,
        "dataType": "vector",
        "geometryType": collection.geometry_type,
        "minTileMatrix": "0",
        "maxTileMatrix": str(MAX_ZOOM),
        "propertiesSchema": {
            "type": "object",
            "properties": {
                name: {"type": kind} for name, kind in tile_properties([collection]).items()
            },
        },
    }
    if collection.geometry_type in _DIMENSIONS:  # a reference layer mixes them
        entry["geometryDimension"] = _DIMENSIONS[collection.geometry_type]
    return entry


def tile_matrix_set() -> dict[str, Any]:
    """The WebMercatorQuad definition (OGC Two Dimensional Tile Matrix Set)."""
    document: dict[str, Any] = TMS.model_dump(mode="json", exclude_none=True, by_alias=True)
    return document
