"""Reading features: GeoJSON built by PostGIS, one text value per feature, streamed.

Python never parses or re-encodes a feature on the JSON paths: each row is a complete
GeoJSON Feature (``json_build_object`` + ``ST_AsGeoJSON``) and the caller writes the rows
between the collection's opening and closing text.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from psycopg.abc import Buffer
from psycopg.adapt import Loader
from psycopg.types.string import TextLoader
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Connection
from sqlalchemy.sql.elements import ColumnElement

from geo.kernel.crs import CRS84, SRID_STORAGE, ServedCrs
from geo.kernel.errors import NotFound
from geo.store.catalog import Collection

MAX_LIMIT = 10_000
DEFAULT_LIMIT = 10
# OFFSET is a bigint in SQL, and the page asks for limit + 1 rows after it.
MAX_OFFSET = 2**62
# numberMatched is exact up to this many features and omitted above it, so that a count
# never costs more than reading this many index entries.
COUNT_CAP = 100_000
# Pages up to this size are read in one round trip; larger ones through a server-side cursor.
FETCH_AT_ONCE = 1_000
# Rows per round trip of a server-side cursor.
_BATCH = 1_000
# ~1 cm in degrees and 1 mm in metres: more digits only add bytes.
_DIGITS_GEOGRAPHIC = 7
_DIGITS_PROJECTED = 3
# json_build_object takes at most 100 arguments (50 key/value pairs).
_PAIRS_PER_CALL = 50
# Renders the cached feature SQL; percent signs are doubled later, by the statement's own
# compilation, like any literal column.
_LITERAL_DIALECT = postgresql.psycopg.dialect(paramstyle="named")  # type: ignore[no-untyped-call]


@dataclass
class ItemsQuery:
    """What a client asked of an items page, parsed and checked (api/params.py)."""

    # None means every matching feature (the bulk export).
    limit: int | None = DEFAULT_LIMIT
    offset: int = 0
    bbox: tuple[float, float, float, float] | None = None
    bbox_crs: ServedCrs | None = None
    interval: tuple[dt.datetime | None, dt.datetime | None] | None = None
    # Conditions from CQL2 (the filter, then property equalities), all of which must hold.
    filters: list[ColumnElement[bool]] = field(default_factory=list)
    sortby: list[tuple[str, bool]] = field(default_factory=list)
    properties: list[str] | None = None
    crs: ServedCrs | None = None


# -- SQL ---------------------------------------------------------------------------------------
def _geometry_json(collection: Collection, crs: ServedCrs) -> ColumnElement[Any]:
    geom = _rfc7946_rings(collection.table.c.geom, collection.geometry_type)
    if crs.srid != SRID_STORAGE:
        geom = sa.func.ST_Transform(geom, crs.srid)
    if crs.swap_axes:
        geom = sa.func.ST_FlipCoordinates(geom)
    digits = _DIGITS_GEOGRAPHIC if crs.srid in {4326, 4756} else _DIGITS_PROJECTED
    # Kept as text: a cast to json would make PostgreSQL parse every geometry once more.
    return sa.func.coalesce(sa.func.ST_AsGeoJSON(geom, digits), "null")


# Geometry types whose every value is polygonal, and those that never hold a polygon.
_POLYGONAL = frozenset({"Polygon", "MultiPolygon"})
_NOT_POLYGONAL = frozenset({"Point", "MultiPoint", "LineString", "MultiLineString"})


def _rfc7946_rings(geom: ColumnElement[Any], geometry_type: str) -> ColumnElement[Any]:
    """Polygon rings as RFC 7946 asks (exterior counter-clockwise, holes clockwise).

    A ring stored the other way round is served reversed, from the same first vertex;
    every other vertex sequence (lines above all) is served exactly as stored.
    ST_ForcePolygonCCW is applied to polygons only: on PostGIS 3.3 it also reverses every
    line, alone or inside a collection, so routes were served backwards. A collection's
    geometry type is known when its SQL is compiled; only a layer of any geometry pays
    for a per-row test. Orientation is kept by ST_Transform (every served projection has
    east and north axes) and by ST_FlipCoordinates, which only relabels the axes.
    """
    if geometry_type in _POLYGONAL:
        return sa.func.ST_ForcePolygonCCW(geom)
    if geometry_type in _NOT_POLYGONAL:
        return geom
    kind = sa.func.GeometryType(geom)
    return sa.case(
        (kind.in_(["POLYGON", "MULTIPOLYGON"]), sa.func.ST_ForcePolygonCCW(geom)),
        # Lines in a collection must keep their order: only its polygons are oriented.
        (kind == "GEOMETRYCOLLECTION", _oriented_members(geom)),
        else_=geom,
    )


def _oriented_members(geom: ColumnElement[Any]) -> ColumnElement[Any]:
    # Rebuilt member by member only when a polygon in it is not oriented yet. A member that
    # is itself a collection is kept as stored (nested collections come only from imports).
    # The column's name comes from the table definition, never from a request.
    column = str(geom.compile(dialect=_LITERAL_DIALECT))
    rebuilt = sa.literal_column(
        "(SELECT ST_ForceCollection(ST_Collect(CASE WHEN GeometryType(m.part) IN "
        "('POLYGON', 'MULTIPOLYGON') THEN ST_ForcePolygonCCW(m.part) ELSE m.part END "
        f"ORDER BY m.n)) FROM (SELECT n, ST_GeometryN({column}, n) AS part "
        f"FROM generate_series(1, ST_NumGeometries({column})) AS n) AS m)",
        geom.type,
    )
    return sa.case((sa.func.ST_IsPolygonCCW(geom), geom), else_=rebuilt)


def _properties_json(collection: Collection, names: Sequence[str]) -> ColumnElement[Any]:
    if collection.is_reference_layer:
        # Stored properties are already a JSON object; the server-kept ones are added.
        server_kept = {p.name for p in collection.props if p.read_only}
        stored = [n for n in names if n not in server_kept]
        kept = [n for n in names if n in server_kept]
        own: ColumnElement[Any] = sa.func.jsonb_build_object(
            *[x for n in stored for x in (n, collection.table.c.properties[n])]
        )
        if len(stored) == len(collection.props) - len(server_kept):
            own = collection.table.c.properties
        extra = sa.func.jsonb_build_object(*[x for n in kept for x in (n, collection.table.c[n])])
        return sa.cast(own.op("||")(extra), sa.JSON)
    pairs = [(n, collection.column(n)) for n in names]
    chunks = [pairs[i : i + _PAIRS_PER_CALL] for i in range(0, len(pairs), _PAIRS_PER_CALL)]
    if len(chunks) <= 1:
        return sa.func.json_build_object(*[x for pair in pairs for x in pair])
    merged: ColumnElement[Any] = sa.func.jsonb_build_object(*[x for p in chunks[0] for x in p])
    for chunk in chunks[1:]:
        merged = merged.op("||")(sa.func.jsonb_build_object(*[x for p in chunk for x in p]))
    return sa.cast(merged, sa.JSON)


def feature_json(
    collection: Collection, crs: ServedCrs, names: Sequence[str] | None = None
) -> ColumnElement[str]:
    """SQL for one GeoJSON Feature per row, as text."""
    selected = None if names is None else tuple(names)
    return sa.literal_column(_feature_sql(collection, crs, selected), sa.Text)


@functools.lru_cache(maxsize=512)
def _feature_sql(collection: Collection, crs: ServedCrs, names: tuple[str, ...] | None) -> str:
    """The SQL text of one feature, compiled once per collection, CRS and property list.

    Keys and precision are written into the text, so a request binds only its own values:
    building and binding the 40-odd keys of a village took longer than PostGIS's answer.
    """
    selected = [p.name for p in collection.props] if names is None else list(names)
    head = sa.literal('{"type":"Feature","id":') + sa.cast(collection.table.c.id, sa.Text)
    feature = (
        head
        + sa.literal(',"geometry":')
        + _geometry_json(collection, crs)
        + sa.literal(',"properties":')
        + sa.cast(_properties_json(collection, selected), sa.Text)
        + sa.literal("}")
    )
    compiled = feature.compile(dialect=_LITERAL_DIALECT, compile_kwargs={"literal_binds": True})
    return str(compiled)


def envelope(bbox: tuple[float, float, float, float], crs: ServedCrs) -> ColumnElement[Any]:
    """A bbox (storage axis order) as a polygon in storage coordinates."""
    box = sa.func.ST_MakeEnvelope(*bbox, crs.srid)
    if crs.srid == SRID_STORAGE:
        return box
    # Densify first so that the transformed outline follows the projection's curvature. The
    # longer side sets the step: a step from a side of zero width was refused by PostGIS,
    # and one from a thin side made billions of points on the other.
    step = max(bbox[2] - bbox[0], bbox[3] - bbox[1]) / 16
    if step > 0:
        box = sa.func.ST_Segmentize(box, step)
    return sa.func.ST_Transform(box, SRID_STORAGE)


def conditions(collection: Collection, query: ItemsQuery) -> list[ColumnElement[bool]]:
    """WHERE conditions of an items query."""
    where = list(collection.base_filter())
    if query.bbox is not None:
        box = envelope(query.bbox, query.bbox_crs or CRS84)
        where.append(sa.func.ST_Intersects(collection.table.c.geom, box))
    if query.interval is not None and collection.temporal is not None:
        where += _temporal_conditions(collection, query.interval)
    where += query.filters
    return where


def _temporal_conditions(
    collection: Collection, interval: tuple[dt.datetime | None, dt.datetime | None]
) -> list[ColumnElement[bool]]:
    assert collection.temporal is not None
    start_col, end_col = collection.temporal
    start, end = interval
    first = collection.table.c[start_col]
    if end_col is None:
        # A record with one date matches when the date falls in the interval; records
        # without a date never match a datetime filter.
        where: list[ColumnElement[bool]] = [first.is_not(None)]
        if end is not None:
            where.append(first <= _as_column_type(first, end))
        if start is not None:
            where.append(first >= _as_column_type(first, start))
        return where
    # A validity period [first, last] matches when it overlaps the interval; an empty
    # end means it is still valid, an empty start that it was valid since ever.
    last = collection.table.c[end_col]
    overlap: list[ColumnElement[bool]] = []
    if end is not None:
        overlap.append(sa.or_(first.is_(None), first <= _as_column_type(first, end)))
    if start is not None:
        overlap.append(sa.or_(last.is_(None), last >= _as_column_type(last, start)))
    return overlap


def _as_column_type(column: ColumnElement[Any], moment: dt.datetime) -> Any:
    if isinstance(column.type, sa.Date) and not isinstance(column.type, sa.DateTime):
        return moment.date()
    return moment


def _order_by(collection: Collection, sortby: list[tuple[str, bool]]) -> list[Any]:
    order: list[Any] = []
    for name, descending in sortby:
        column = collection.column(name)
        order.append(column.desc().nulls_last() if descending else column.asc().nulls_last())
    order.append(collection.table.c.id)
    return order


def items_statement(
    collection: Collection, query: ItemsQuery, *, counted: bool = False
) -> sa.Select[Any]:
    """One row per feature of the page, plus one more row when another page follows.

    ``counted`` adds the capped number of matches as a second column: PostgreSQL computes
    it once (an InitPlan), and the page needs one statement instead of two.
    """
    feature = feature_json(collection, query.crs or CRS84, query.properties)
    order = _order_by(collection, query.sortby)
    where = conditions(collection, query)
    if query.limit is None:
        return sa.select(feature).select_from(collection.table).where(*where).order_by(*order)
    # The page's ids first, then the features: PostgreSQL would otherwise build the JSON of
    # every row that OFFSET skips.
    table = collection.table
    page = (
        sa.select(table.c.id)
        .where(*where)
        .order_by(*order)
        .limit(query.limit + 1)
        .offset(query.offset)
        .subquery("page")
    )
    columns: list[ColumnElement[Any]] = [feature]
    if counted:
        count = count_statement(collection, query, where=where)
        columns.append(count.correlate(None).scalar_subquery())
    return (
        sa.select(*columns).select_from(table.join(page, table.c.id == page.c.id)).order_by(*order)
    )


def selection_statement(
    collection: Collection, query: ItemsQuery, columns: Sequence[ColumnElement[Any]]
) -> sa.Select[Any]:
    """``columns`` of the features an items query selects, in its order (file exports).

    The page (limit, offset) applies when ``query.limit`` is set; None selects every match.
    """
    statement = (
        sa.select(*columns)
        .select_from(collection.table)
        .where(*conditions(collection, query))
        .order_by(*_order_by(collection, query.sortby))
    )
    if query.limit is not None:
        statement = statement.limit(query.limit).offset(query.offset)
    return statement


def count_statement(
    collection: Collection,
    query: ItemsQuery,
    *,
    where: Sequence[ColumnElement[bool]] | None = None,
) -> sa.Select[Any]:
    """SQL counting matching features, reading at most ``COUNT_CAP + 1`` of them."""
    capped = (
        sa.select(sa.literal(1))
        .select_from(collection.table)
        .where(*(conditions(collection, query) if where is None else where))
        .limit(COUNT_CAP + 1)
        .subquery()
    )
    return sa.select(sa.func.count()).select_from(capped)


def count_matched(conn: Connection, collection: Collection, query: ItemsQuery) -> int | None:
    """Exact number of matching features, or None when it exceeds ``COUNT_CAP``."""
    count = int(conn.execute(count_statement(collection, query)).scalar_one())
    return None if count > COUNT_CAP else count


@dataclass
class PageResult:
    """How many features a streamed page held and whether another page follows."""

    returned: int = 0
    has_more: bool = False
    # From a counted statement's first row: None when unknown or above COUNT_CAP.
    matched: int | None = None


class Utf8Bytes(Loader):
    """Hands text over as the bytes PostgreSQL sent: features go out as UTF-8 unchanged."""

    def load(self, data: Buffer) -> bytes:
        return bytes(data)


@contextlib.contextmanager
def _text_as_bytes(conn: Connection) -> Iterator[None]:
    # Decoding every feature to str only for the response to encode it again cost a third
    # of the Python time of a large page. The pooled connection gets str back afterwards.
    raw: Any = conn.connection.dbapi_connection
    raw.adapters.register_loader("text", Utf8Bytes)
    try:
        yield
    finally:
        raw.adapters.register_loader("text", TextLoader)


def stream_features(
    conn: Connection, statement: sa.Select[Any], limit: int | None, result: PageResult
) -> Iterator[list[bytes]]:
    """Yield the features' GeoJSON (UTF-8 bytes) in batches; fill ``result`` as they go by.

    Small pages are fetched in one round trip. Larger ones come from a server-side cursor
    in batches, so memory stays flat however large the page is; on a connection in
    autocommit mode (the read engine) the cursor gets the transaction block it needs.
    Batches, not rows: per-row Python work was most of the cost of a large page.
    """
    if limit is not None and limit <= FETCH_AT_ONCE:
        with _text_as_bytes(conn):
            page = conn.execute(statement).all()
        yield take_rows(page, limit, result)
        return
    raw: Any = conn.connection.dbapi_connection  # psycopg's, for its transaction()
    block = raw.transaction() if getattr(raw, "autocommit", False) else contextlib.nullcontext()
    with block, _text_as_bytes(conn):
        # Options on the statement, not the connection: they must not outlive this query.
        rows = conn.execute(statement.execution_options(stream_results=True, yield_per=_BATCH))
        for part in rows.partitions():
            yield take_rows(part, limit, result)
            if result.has_more:
                break
        rows.close()


def take_rows(rows: Sequence[Any], limit: int | None, result: PageResult) -> list[bytes]:
    """The page's features of ``rows`` (a counted statement's); fill ``result`` from them."""
    if rows and result.returned == 0 and len(rows[0]) > 1:
        count = rows[0][1]
        result.matched = None if count > COUNT_CAP else int(count)
    if limit is not None and result.returned + len(rows) > limit:
        rows = rows[: limit - result.returned]
        result.has_more = True
    result.returned += len(rows)
    return [row[0] for row in rows]


def item_statement(collection: Collection, feature_id: int, crs: ServedCrs) -> sa.Select[Any]:
    """One feature's JSON text and version."""
    table = collection.table
    return (
        sa.select(feature_json(collection, crs), table.c.version)
        .select_from(table)
        .where(table.c.id == feature_id, *collection.base_filter())
    )


def read_page(
    conn: Connection,
    collection: Collection,
    query: ItemsQuery,
    result: PageResult,
    *,
    counted: bool = False,
) -> Iterator[list[bytes]]:
    """The features of an items page (every match when ``query.limit`` is None), streamed.

    ``counted`` reads numberMatched from the page's first row (``result.matched``).
    """
    statement = items_statement(collection, query, counted=counted)
    return stream_features(conn, statement, query.limit, result)


def read_item(
    conn: Connection, collection: Collection, feature_id: int, crs: ServedCrs
) -> tuple[str, int]:
    """One feature's GeoJSON text and version.

    Raises
    ------
    NotFound
        When the collection has no such feature.
    """
    row = conn.execute(item_statement(collection, feature_id, crs)).first()
    if row is None:
        raise NotFound(f"no feature {feature_id} in {collection.id}")
    return row[0], row[1]


def extent(conn: Connection, collection: Collection) -> dict[str, Any]:
    """Spatial (CRS84) and temporal extent of a collection."""
    table = collection.table
    box = conn.execute(
        sa.select(
            sa.func.ST_XMin(sa.func.ST_Extent(table.c.geom)),
            sa.func.ST_YMin(sa.func.ST_Extent(table.c.geom)),
            sa.func.ST_XMax(sa.func.ST_Extent(table.c.geom)),
            sa.func.ST_YMax(sa.func.ST_Extent(table.c.geom)),
        ).where(*collection.base_filter())
    ).one()
    result: dict[str, Any] = {}
    if box[0] is not None:
        result["spatial"] = {
            "bbox": [[round(v, 6) for v in box]],
            "crs": "http://www.opengis.net/def/crs/OGC/1.3/CRS84",
        }
    if collection.temporal is not None:
        interval = _temporal_interval(conn, collection)
        if interval is not None:
            result["temporal"] = {
                "interval": [interval],
                "trs": "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian",
            }
    return result


def _temporal_interval(conn: Connection, collection: Collection) -> list[str | None] | None:
    """[earliest start, latest end] of the features, None at an open end; None when empty.

    With validity periods (start and end columns, e.g. admin units' valid_from/valid_to) a
    NULL start means "valid since before the records" and a NULL end "still valid": either
    makes the interval unbounded at that end (OGC API – Features Part 1,
    extent.temporal.interval). A single date column (an instant per feature) has no open
    end: a NULL there is an unknown date and is left out.
    """
    assert collection.temporal is not None
    table = collection.table
    start_col, end_col = collection.temporal
    first = table.c[start_col]
    last = table.c[end_col] if end_col else first
    row = conn.execute(
        sa.select(
            sa.func.count(),
            sa.func.min(first),
            sa.func.max(last),
            sa.func.count(first),
            sa.func.count(last),
        ).where(*collection.base_filter())
    ).one()
    total, low, high, with_start, with_end = row
    if end_col is None:
        return None if low is None else [_iso(low), _iso(high)]
    if total == 0:
        return None
    return [
        _iso(low) if with_start == total else None,
        _iso(high) if with_end == total else None,
    ]


def _iso(value: dt.date | dt.datetime | None) -> str | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
    return f"{value.isoformat()}T00:00:00Z"


def svg_shapes(
    conn: Connection, collection: Collection, feature_ids: Sequence[int]
) -> tuple[list[tuple[int, str, str]], tuple[float, float, float, float] | None]:
    """SVG of some features for the HTML pages, drawn by PostGIS: (id, kind, svg) and extent."""
    if not feature_ids:
        return [], None
    table = collection.table
    geom = table.c.geom
    rows = conn.execute(
        sa.select(
            table.c.id,
            sa.func.GeometryType(geom),
            sa.func.ST_AsSVG(geom, 0, 5),
        ).where(table.c.id.in_(list(feature_ids)))
    ).all()
    box = conn.execute(
        sa.select(
            sa.func.ST_XMin(sa.func.ST_Extent(geom)),
            sa.func.ST_YMin(sa.func.ST_Extent(geom)),
            sa.func.ST_XMax(sa.func.ST_Extent(geom)),
            sa.func.ST_YMax(sa.func.ST_Extent(geom)),
        ).where(table.c.id.in_(list(feature_ids)))
    ).one()
    shapes = [(int(r[0]), str(r[1]), str(r[2])) for r in rows]
    return shapes, (None if box[0] is None else (box[0], box[1], box[2], box[3]))
