"""The tile cache: tiles as ``tiles.tile`` built them, kept in PostgreSQL (``tile_cache``).

A cached tile is keyed by its variant (a digest of what the bytes depend on besides the
data: the layers in order with the properties each carries, the cap and
``tiles.TILE_FORMAT``) and z/x/y. Empty tiles are cached too, as empty bytes (most of a
map's tiles are empty), and served as 204 like a built one.

Invalidation is the database's (migration 0012_tile_cache): at commit, a trigger on every
table that serves tiles deletes the cached tiles of layer sets holding the written
row's collection whose candidate box meets the row's old or new geometry, after taking
that collection's advisory lock exclusively. A fill takes the shared locks of its layers
first, without waiting: when a writer is committing (or waits to), it builds the tile
and does not cache it. Holding the locks, it builds and inserts in ONE statement, whose
snapshot is taken after the locks: a writer committed before is in the tile, and a
writer committing after deletes the row once the fill let go of its locks. So no tile
built from data older than a commit outlives that commit.
"""

from __future__ import annotations

import functools
import hashlib
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import morecantile
import sqlalchemy as sa
from geoalchemy2 import Geometry
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import Connection

from geo.kernel.crs import SRID_STORAGE
from geo.kernel.errors import InvalidInput, NotFound
from geo.query import tiles
from geo.store.catalog import Collection

_METADATA = sa.MetaData()
TABLE = sa.Table(
    "tile_cache",
    _METADATA,
    sa.Column("variant", sa.Text, primary_key=True),
    sa.Column("z", sa.SmallInteger, primary_key=True),
    sa.Column("x", sa.Integer, primary_key=True),
    sa.Column("y", sa.Integer, primary_key=True),
    sa.Column("collections", ARRAY(sa.Text)),
    sa.Column("data", sa.LargeBinary),
    sa.Column("etag", sa.Text),
    sa.Column("envelope", Geometry("POLYGON", srid=SRID_STORAGE, spatial_index=False)),
    sa.Column("created_at", sa.DateTime(timezone=True)),
)

# The hit path's one statement (also the express lane's), run on a psycopg connection as
# a prepared statement: no SQLAlchemy compiling per request.
LOOKUP = "SELECT data, etag FROM tile_cache WHERE variant = %s AND z = %s AND x = %s AND y = %s"
_TRY_LOCKS = sa.text(
    "SELECT c, pg_try_advisory_lock_shared(hashtext('craftmap.tiles'), hashtext(c)) "
    "FROM unnest(CAST(:names AS text[])) AS c"
)
_UNLOCK = sa.text(
    "SELECT pg_advisory_unlock_shared(hashtext('craftmap.tiles'), hashtext(c)) "
    "FROM unnest(CAST(:names AS text[])) AS c"
)


@dataclass(frozen=True)
class Variant:
    """What a cached tile's bytes depend on besides the data and the address."""

    key: str
    collections: tuple[str, ...]  # the layers' ids, sorted


@functools.lru_cache(maxsize=512)
def _variant(
    collections: tuple[Collection, ...], properties: tuple[str, ...] | None, cap: int
) -> Variant:
    parts = [f"format={tiles.TILE_FORMAT}", f"cap={cap}"]
    for collection in collections:
        # The properties the layer really carries (a reference layer's follow its data)
        # and their types (a number is cast), in the order the tile has them.
        names = {p.name: p.type for p in collection.props if p.type != "object"}
        chosen = list(names) if properties is None else [n for n in properties if n in names]
        carried = ",".join(f"{n}:{names[n]}" for n in chosen)
        parts.append(f"{collection.id}#{collection.layer_id}({carried})")
    digest = hashlib.md5("|".join(parts).encode(), usedforsecurity=False).hexdigest()
    return Variant(digest, tuple(sorted(c.id for c in collections)))


def variant(
    collections: Sequence[Collection], properties: Sequence[str] | None, cap: int
) -> Variant:
    """The cache key part of a layer set with these properties and cap."""
    return _variant(tuple(collections), None if properties is None else tuple(properties), cap)


def lookup(conn: Connection, key: Variant, address: tiles.Tile) -> tiles.TileBytes | None:
    """The cached tile, or None (one round trip, a prepared statement)."""
    driver = conn.connection.driver_connection
    assert driver is not None
    with driver.cursor(binary=True) as cursor:
        cursor.execute(LOOKUP, (key.key, address.z, address.x, address.y), prepare=True)
        row = cursor.fetchone()
    if row is None:
        return None
    return tiles.TileBytes(bytes(row[0]), row[1])


def fill(
    conn: Connection,
    collections: Sequence[Collection],
    address: tiles.Tile,
    *,
    properties: Sequence[str] | None = None,
    cap: int = tiles.MAX_FEATURES_PER_LAYER,
) -> tuple[tiles.TileBytes, bool]:
    """Build a tile and cache it; also whether it was cached (False: a writer was committing).

    ``conn`` must be in autocommit (the tile engine's): the locks are the session's and
    the building insert commits by itself before they are let go.
    """
    driver = conn.connection.driver_connection
    if driver is None or not driver.autocommit:
        # Inside a transaction the row would outlive the locks until COMMIT: no caching.
        return tiles.tile(conn, collections, address, properties=properties, cap=cap), False
    key = variant(collections, properties, cap)
    names = list(key.collections)
    taken = [name for name, ok in conn.execute(_TRY_LOCKS, {"names": names}) if ok]
    try:
        if len(taken) < len(names):
            return tiles.tile(conn, collections, address, properties=properties, cap=cap), False
        sql, values = _fill_statement(conn, collections, key, address, properties, cap)
        data, digest = conn.exec_driver_sql(sql, values).one()
    finally:
        if taken:
            conn.execute(_UNLOCK, {"names": taken})
    payload = bytes(data or b"")
    return tiles.TileBytes(payload, f'"{digest}"' if payload else ""), True


def _fill_statement(
    conn: Connection,
    collections: Sequence[Collection],
    key: Variant,
    address: tiles.Tile,
    properties: Sequence[str] | None,
    cap: int,
) -> tuple[str, dict[str, Any]]:
    # The tile's own statement, wrapped: one statement builds, stores and returns the tile.
    compiled = tiles.tile_statement(collections, address, properties, cap).compile(
        dialect=conn.dialect
    )
    sql = (
        f"WITH built(mvt, digest) AS ({compiled}), "
        "stored AS (INSERT INTO tile_cache (variant, z, x, y, collections, data, etag, envelope) "
        "SELECT %(cache_variant)s, %(cache_z)s, %(cache_x)s, %(cache_y)s, "
        "%(cache_collections)s::text[], coalesce(mvt, ''::bytea), "
        "CASE WHEN length(coalesce(mvt, ''::bytea)) > 0 THEN '\"' || digest || '\"' "
        "ELSE '' END, "
        f"ST_Transform(ST_TileEnvelope(%(cache_z)s, %(cache_x)s, %(cache_y)s), {SRID_STORAGE}) "
        "FROM built ON CONFLICT DO NOTHING) "
        "SELECT mvt, digest FROM built"
    )
    values = {
        **compiled.params,
        "cache_variant": key.key,
        "cache_z": address.z,
        "cache_x": address.x,
        "cache_y": address.y,
        "cache_collections": list(key.collections),
    }
    return sql, values


def cached_tile(
    conn: Connection,
    collections: Sequence[Collection],
    address: tiles.Tile,
    *,
    properties: Sequence[str] | None = None,
    cap: int = tiles.MAX_FEATURES_PER_LAYER,
) -> tiles.TileBytes:
    """The tile from the cache, built and cached on a miss (``conn``: autocommit)."""
    found = lookup(conn, variant(collections, properties, cap), address)
    if found is not None:
        return found
    return fill(conn, collections, address, properties=properties, cap=cap)[0]


# -- warming, clearing, statistics (the `craftmap tiles` commands) ------------------------------
@dataclass
class SeedReport:
    """What a seed did."""

    built: int = 0
    empty: int = 0
    cached: int = 0  # already in the cache
    uncached: int = 0  # built while a writer committed, so not kept
    seconds: float = 0.0
    per_zoom: dict[int, int] = field(default_factory=dict)


def parse_zooms(text: str) -> list[int]:
    """``"5-10"`` or ``"8"`` → the zoom levels, checked against the grid.

    Examples
    --------
    >>> parse_zooms("5-7")
    [5, 6, 7]
    >>> parse_zooms("12")
    [12]
    """
    first, _, last = text.strip().partition("-")
    try:
        low, high = int(first), int(last or first)
    except ValueError:
        raise InvalidInput(f"--zooms {text!r}: give a zoom or a range such as 5-10") from None
    if low > high:
        raise InvalidInput(f"--zooms {text!r}: the first zoom is above the last")
    if low < 0 or high > tiles.MAX_ZOOM:
        raise InvalidInput(f"--zooms {text!r}: zooms are 0 to {tiles.MAX_ZOOM}")
    return list(range(low, high + 1))


def parse_bbox(text: str) -> tuple[float, float, float, float]:
    """``"W,S,E,N"`` in lon/lat degrees."""
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        values = []
    if len(values) != 4:
        raise InvalidInput(f"--bbox {text!r}: give W,S,E,N in degrees, e.g. 104.3,19.3,106.1,20.7")
    west, south, east, north = values
    if not (-180 <= west < east <= 180 and -90 <= south < north <= 90):
        raise InvalidInput(f"--bbox {text!r}: west < east within ±180, south < north within ±90")
    return west, south, east, north


# A province by its name with or without "Tỉnh"/"Thành phố", accents and case aside; its
# current unit first.
_PROVINCE = sa.text(
    "SELECT code, scheme, geom IS NOT NULL AS bounded FROM admin_unit "
    "WHERE level = 'province' AND craftmap_fold(name) IN "
    "(craftmap_fold(:name), craftmap_fold('Tỉnh ' || :name), craftmap_fold('Thành phố ' || :name)) "
    "ORDER BY (valid_to IS NULL) DESC, valid_from DESC NULLS LAST LIMIT 1"
)
# Without a boundary: the box of its units' boundaries or label points and of the villages
# of its communes.
_PROVINCE_BOX = sa.text(
    "WITH units AS (SELECT code, COALESCE(geom, label_point) AS g FROM admin_unit "
    "  WHERE scheme = :scheme AND (code = :code OR parent_code = :code)), "
    "shapes AS (SELECT g FROM units UNION ALL "
    "  SELECT v.geom FROM craft_village v JOIN units u ON v.commune_code = u.code) "
    "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) "
    "FROM (SELECT ST_Extent(g)::geometry AS e FROM shapes) AS box"
)


def province_bbox(conn: Connection, name: str) -> tuple[float, float, float, float]:
    """A province's box: its boundary's when one is loaded, else its units' and villages'.

    Raises
    ------
    NotFound
        When no province has that name (accents, case and "Tỉnh" aside).
    """
    unit = conn.execute(_PROVINCE, {"name": name.strip()}).one_or_none()
    if unit is None:
        raise NotFound(f"no province named {name!r} among the administrative units")
    row = conn.execute(_PROVINCE_BOX, {"code": unit.code, "scheme": unit.scheme}).one()
    if row[0] is None:
        raise NotFound(f"province {name!r} has no boundary, units or villages to seed tiles for")
    west, south, east, north = (float(v) for v in row)
    if west == east or south == north:  # one point: a box around it
        west, south, east, north = west - 0.05, south - 0.05, east + 0.05, north + 0.05
    return west, south, east, north


def data_bbox(
    conn: Connection, collections: Sequence[Collection]
) -> tuple[float, float, float, float]:
    """The extent of all the data of ``collections``."""
    box = tiles.data_bbox(conn, collections)
    if box is None:
        raise NotFound("there is no data to seed tiles for")
    return (box[0], box[1], box[2], box[3])


def tiles_over(bbox: Sequence[float], zooms: Iterable[int]) -> list[tiles.Tile]:
    """Every tile of ``zooms`` that meets ``bbox`` (lon/lat)."""
    west, south, east, north = bbox
    found = morecantile.tms.get(tiles.TMS_ID).tiles(west, south, east, north, list(zooms))
    return [tiles.Tile(t.z, t.x, t.y) for t in found]


def seed(
    conn: Connection,
    collections: Sequence[Collection],
    addresses: Sequence[tiles.Tile],
    *,
    properties: Sequence[str] | None = None,
    cap: int = tiles.MAX_FEATURES_PER_LAYER,
) -> SeedReport:
    """Build and cache every tile of ``addresses`` not cached yet (``conn``: autocommit)."""
    report = SeedReport()
    key = variant(collections, properties, cap)
    started = time.perf_counter()
    for address in addresses:
        if lookup(conn, key, address) is not None:
            report.cached += 1
            continue
        built, kept = fill(conn, collections, address, properties=properties, cap=cap)
        if not kept:
            report.uncached += 1
        elif built.data:
            report.built += 1
        else:
            report.empty += 1
        report.per_zoom[address.z] = report.per_zoom.get(address.z, 0) + 1
    report.seconds = time.perf_counter() - started
    return report


def clear(conn: Connection) -> int:
    """Empty the cache; how many tiles it held."""
    return conn.execute(sa.delete(TABLE)).rowcount


@dataclass(frozen=True)
class ZoomStats:
    """The cached tiles of one zoom."""

    z: int
    tiles: int
    empty: int
    bytes: int


def stats(conn: Connection) -> list[ZoomStats]:
    """Per zoom: cached tiles, how many are empty, their bytes."""
    rows = conn.execute(
        sa.select(
            TABLE.c.z,
            sa.func.count(),
            sa.func.count().filter(sa.func.length(TABLE.c.data) == 0),
            sa.func.coalesce(sa.func.sum(sa.func.length(TABLE.c.data)), 0),
        )
        .group_by(TABLE.c.z)
        .order_by(TABLE.c.z)
    ).all()
    return [ZoomStats(int(r[0]), int(r[1]), int(r[2]), int(r[3])) for r in rows]
