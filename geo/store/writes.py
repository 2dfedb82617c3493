"""Writing features (OGC API – Features Part 4): create, replace, patch, delete, restore.

Every function runs inside the caller's transaction and never commits: the API commits
after the whole request succeeded, so a failed rule or a stale version writes nothing.
Geometries arrive as GeoJSON in the request's CRS and are transformed by PostGIS.
The path is the same for every collection: what one collection does beyond it (its
domain rules, a route's line drawn from its stops) is its hooks' work (geo/store/hooks.py).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any, Literal

import shapely
import shapely.geometry
import sqlalchemy as sa
from geoalchemy2 import Geometry
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Connection
from sqlalchemy.sql.elements import ColumnElement

from geo.kernel.crs import SRID_STORAGE, ServedCrs, untransformable
from geo.kernel.errors import Conflict, InvalidGeometry, InvalidInput, LimitExceeded, NotFound
from geo.kernel.numbers import is_finite_number
from geo.store import models
from geo.store.catalog import Collection
from geo.store.db import set_actor, translate_errors
from geo.store.hooks import Write, hooks_for

_HISTORY = models.table_of(models.FeatureHistory)
_KEYS = models.table_of(models.ApiKey)


class PreconditionFailed(Conflict):
    """The feature changed since the client read it (its ETag no longer matches)."""


@dataclass(frozen=True)
class WriteLimits:
    """How large one written feature may be (None: no limit). The API sets them from settings."""

    max_string_chars: int | None = None
    max_vertices: int | None = None
    max_features: int | None = None


@dataclass(frozen=True)
class WriteOptions:
    """Who writes, in which CRS the geometry comes, and what the request accepts."""

    actor: str
    content_crs: ServedCrs
    expected_version: int | None = None
    # If-None-Match on a write: the versions it must not be at ("*": must not exist).
    refused_versions: frozenset[int] | Literal["*"] = frozenset()
    allow_exclusion_overlap: bool = False
    limits: WriteLimits = WriteLimits()


@dataclass(frozen=True)
class Written:
    """The id and new version of a written feature."""

    id: int
    version: int


# -- size limits -------------------------------------------------------------------------------
def check_limits(collection: Collection, body: Any, limits: WriteLimits) -> None:
    """Refuse a body larger than ``limits`` before any other work on it.

    Checked on the raw JSON, before shapely or PostGIS see it: a million-vertex polygon
    must not be parsed, validated and stored only to be served to every map visitor.
    """
    if not isinstance(body, dict):
        return
    check_feature_count(body, limits)
    check_string_lengths(collection, body.get("properties"), limits)
    if "geometry" in body:
        check_vertex_count(body["geometry"], limits)


def check_raw_body(raw: bytes, limits: WriteLimits) -> None:
    """Before the body is parsed: refuse one with far more JSON arrays than vertices allowed.

    Every position is an array, so the count of ``[`` bounds the vertices from above.
    Parsed, a body of tiny arrays takes ~15 times its size in memory (10 MB → 150 MB);
    this keeps a body over the vertex limit from ever being parsed.
    """
    if limits.max_vertices is None:
        return
    arrays = raw.count(b"[")
    allowed = 2 * limits.max_vertices + 10_000  # rings, parts and list properties too
    if arrays > allowed:
        raise LimitExceeded(
            f"the body holds {arrays} JSON arrays, more than {allowed}: at most "
            f"{limits.max_vertices} vertices are accepted",
            limit="max_vertices",
            value=limits.max_vertices,
        )


def check_feature_count(body: Any, limits: WriteLimits) -> None:
    """A body carrying a collection may hold at most ``max_features`` features.

    Writes take one Feature today; the check is here so that any endpoint taking a
    FeatureCollection inherits it.
    """
    if limits.max_features is None or not isinstance(body, dict):
        return
    members = body.get("features")
    if isinstance(members, list) and len(members) > limits.max_features:
        raise LimitExceeded(
            f"the request carries {len(members)} features; at most {limits.max_features} "
            "are accepted per request",
            limit="max_features",
            value=limits.max_features,
        )


def check_string_lengths(collection: Collection, properties: Any, limits: WriteLimits) -> None:
    """Every string in the properties (also inside lists and objects) within its limit.

    The limit is the property's own maximum when the schema has one, else
    ``max_string_chars``.
    """
    if limits.max_string_chars is None or not isinstance(properties, dict):
        return
    for name, value in properties.items():
        prop = collection.prop(name) if isinstance(name, str) else None
        limit = limits.max_string_chars
        if prop is not None and prop.max_length is not None:
            limit = min(limit, prop.max_length)
        longest = _longest_string(value)
        if longest > limit:
            raise LimitExceeded(
                f"property {name} holds a string of {longest} characters; "
                f"the limit is {limit} characters",
                limit="max_string_chars",
                value=limit,
            )
        if len(str(name)) > limits.max_string_chars:
            raise LimitExceeded(
                f"a property name is {len(str(name))} characters long; "
                f"the limit is {limits.max_string_chars}",
                limit="max_string_chars",
                value=limits.max_string_chars,
            )


def _longest_string(value: Any) -> int:
    # Iterative: a deeply nested object must not exhaust the stack.
    longest, pending = 0, [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            longest = max(longest, len(item))
        elif isinstance(item, list):
            pending.extend(item)
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
    return longest


def check_vertex_count(geometry: Any, limits: WriteLimits) -> None:
    """At most ``max_vertices`` positions in a GeoJSON geometry (all parts and rings)."""
    if limits.max_vertices is None or not isinstance(geometry, dict):
        return
    count = _count_positions(geometry)
    if count > limits.max_vertices:
        raise LimitExceeded(
            f"the geometry has {count} vertices; at most {limits.max_vertices} are accepted",
            limit="max_vertices",
            value=limits.max_vertices,
        )


def _count_positions(geometry: dict[str, Any]) -> int:
    count = 0
    pending: list[Any] = [geometry.get("coordinates")]
    pending.extend(g for g in geometry.get("geometries") or [] if isinstance(g, dict))
    while pending:
        item = pending.pop()
        if isinstance(item, dict):  # a member of a GeometryCollection
            pending.append(item.get("coordinates"))
            pending.extend(g for g in item.get("geometries") or [] if isinstance(g, dict))
        elif isinstance(item, list) and item:
            first = item[0]
            if isinstance(first, int | float):
                count += 1  # a position
            elif isinstance(first, list) and first and isinstance(first[0], int | float):
                count += len(item)  # a line or ring of positions
            else:
                pending.extend(item)
    return count


# -- validation --------------------------------------------------------------------------------
def validate_properties(collection: Collection, properties: Any) -> dict[str, Any]:
    """Check a feature's properties against the collection's schema; return column values.

    Read-only properties (area, version, timestamps) are ignored, so a feature read with
    GET can be sent back with PUT unchanged.
    """
    if not isinstance(properties, dict):
        raise InvalidInput("properties must be a JSON object")
    _check_storable(properties)
    return hooks_for(collection).values(collection, properties)


def validate_geometry(collection: Collection, geometry: Any, crs: ServedCrs) -> str | None:
    """Check a GeoJSON geometry's type and validity; return it as GeoJSON text (None if null)."""
    if geometry is None:
        if not collection.geometry_required:
            return None  # a route's line is drawn from its stops; a unit may have no boundary
        raise InvalidGeometry(f"geometry is required for {collection.id}")
    _check_geojson_positions(collection, geometry)
    try:
        shape = shapely.geometry.shape(geometry)
    except (
        AttributeError,
        KeyError,
        TypeError,
        ValueError,
        IndexError,
        shapely.errors.ShapelyError,
    ) as exc:
        raise InvalidGeometry(f"geometry is not valid GeoJSON: {exc}") from exc
    if shape.geom_type not in collection.accepted_geometries:
        raise InvalidGeometry(
            f"geometry must be a {' or '.join(sorted(collection.accepted_geometries))} "
            f"for {collection.id}, got {shape.geom_type}"
        )
    if shape.is_empty:
        raise InvalidGeometry("geometry is empty")
    if not shapely.is_valid(shape):
        raise InvalidGeometry(f"geometry is invalid: {shapely.is_valid_reason(shape)}")
    _check_crs_domain(shape, crs)
    # Written from the checked shape, not from the request: what PostGIS reads is what was
    # checked (no "crs" member, no text for numbers), in two dimensions like the columns.
    return shapely.to_geojson(shapely.force_2d(shape))


# -- what PostgreSQL and PostGIS would refuse with a 500 (cql2 area, issue 9) ----------------
_SURROGATE = re.compile("[\ud800-\udfff]")
# How deep the lists of positions nest in each geometry type's coordinates.
_POSITION_DEPTH = {
    "Point": 0,
    "MultiPoint": 1,
    "LineString": 1,
    "MultiLineString": 2,
    "Polygon": 2,
    "MultiPolygon": 3,
}


def _unstorable_text(text: str) -> str | None:
    if "\x00" in text:
        return "a NUL character (U+0000)"
    if _SURROGATE.search(text):
        return "a lone surrogate (U+D800–U+DFFF), which is not a character"
    return None


def _check_storable(properties: dict[str, Any]) -> None:
    """Refuse names and values of properties that PostgreSQL cannot store.

    psycopg cannot encode a lone surrogate (sent as a JSON escape) as UTF-8, and text and
    jsonb refuse NUL and NaN; each came back as a 500. Nested values are walked without
    recursion.
    """
    stack: list[tuple[str, Any]] = [("", properties)]
    while stack:
        where, node = stack.pop()
        problem = None
        if isinstance(node, str):
            problem = _unstorable_text(node)
        elif isinstance(node, float) and not math.isfinite(node):
            problem = f"{node}, which is not a JSON number"
        elif isinstance(node, dict):
            for key, value in node.items():
                if isinstance(key, str) and (bad_name := _unstorable_text(key)):
                    raise InvalidInput(f"a property name {where or 'in properties'} has {bad_name}")
                stack.append((where or f"of property {key}", value))
        elif isinstance(node, list):
            stack.extend((where, item) for item in node)
        if problem is not None:
            raise InvalidInput(f"a value {where} has {problem}")


def _check_geojson_positions(collection: Collection, geometry: Any) -> None:
    """Refuse a GeoJSON geometry whose coordinates are not nested lists of numbers.

    shapely reads text as numbers and flattens wrong nesting; PostGIS then either stored
    what the client did not mean or refused it with a 500.
    """
    kind = geometry.get("type") if isinstance(geometry, dict) else None
    # A type that is not text (an object, a list) cannot be looked up: it is no GeoJSON.
    if not isinstance(kind, str) or kind not in _POSITION_DEPTH:
        if isinstance(kind, str) and kind == "GeometryCollection":
            raise InvalidGeometry(
                f"geometry must be a {' or '.join(sorted(collection.accepted_geometries))} "
                f"for {collection.id}, got {kind}"
            )
        raise InvalidGeometry(
            "geometry is not valid GeoJSON: expected an object whose type is one of "
            f"{', '.join(_POSITION_DEPTH)}, got {str(kind)[:40]!r}"
        )
    depth = _POSITION_DEPTH[kind]
    stack: list[tuple[Any, int]] = [(geometry.get("coordinates"), depth)]
    while stack:
        node, level = stack.pop()
        if not isinstance(node, list):
            raise InvalidGeometry(
                f"geometry is not valid GeoJSON: {kind} coordinates are {depth} levels of "
                "lists around positions [x, y]"
            )
        if level > 0:
            stack.extend((item, level - 1) for item in node)
        elif node and not (2 <= len(node) <= 3 and all(is_finite_number(v) for v in node)):
            shown = json.dumps(node, allow_nan=True, default=str)[:60]
            raise InvalidGeometry(
                f"geometry is not valid GeoJSON: a position is [x, y] or [x, y, z] in finite "
                f"numbers, got {shown}"
            )


def _check_crs_domain(shape: shapely.Geometry, crs: ServedCrs) -> None:
    """Refuse positions PostGIS could not transform from the request's CRS to storage."""
    xy = shapely.get_coordinates(shape)
    east, north = (xy[:, 1], xy[:, 0]) if crs.swap_axes else (xy[:, 0], xy[:, 1])
    bad = untransformable(crs.srid, east, north)
    if bad is None:
        return
    position = f"({xy[bad, 0]:g} {xy[bad, 1]:g})"
    if crs.srid == SRID_STORAGE:
        raise InvalidGeometry(
            f"geometry coordinates are outside longitude/latitude range: {position}"
        )
    raise InvalidGeometry(
        f"geometry coordinates {position} lie outside EPSG:{crs.srid}: they cannot be "
        "transformed to longitude/latitude"
    )


def geometry_sql(collection: Collection, geojson: str, crs: ServedCrs) -> ColumnElement[Any]:
    """SQL turning request GeoJSON in ``crs`` into a storage geometry of the column's type."""
    geom: ColumnElement[Any] = sa.func.ST_SetSRID(sa.func.ST_GeomFromGeoJSON(geojson), crs.srid)
    if crs.swap_axes:
        geom = sa.func.ST_FlipCoordinates(geom)
    if crs.srid != SRID_STORAGE:
        geom = sa.func.ST_Transform(geom, SRID_STORAGE)
    if collection.geometry_type == "MultiPolygon":
        geom = sa.func.ST_Multi(geom)
    return geom


# -- reading what is stored ---------------------------------------------------------------------
def _current(conn: Connection, collection: Collection, feature_id: int) -> sa.Row[Any]:
    table = collection.table
    row = conn.execute(
        sa.select(table)
        .where(table.c.id == feature_id, *collection.base_filter())
        .with_for_update()
    ).first()
    if row is None:
        raise NotFound(f"no feature {feature_id} in {collection.id}")
    return row


def _check_version(row: sa.Row[Any], options: WriteOptions) -> None:
    """The conditions of If-Match (``expected_version``) and If-None-Match (RFC 9110 §13.1)."""
    expected = options.expected_version
    if expected is not None and row.version != expected:
        raise PreconditionFailed(
            f"the feature is at version {row.version}, the request expected {expected}: "
            "read it again and re-apply the change"
        )
    refused = options.refused_versions
    if refused == "*":
        raise PreconditionFailed("the feature exists, and If-None-Match: * asked that it did not")
    if row.version in refused:
        raise PreconditionFailed(
            f"the feature is at version {row.version}, which If-None-Match excludes"
        )


# -- writes ------------------------------------------------------------------------------------
def create(
    conn: Connection, collection: Collection, feature: Any, options: WriteOptions
) -> Written:
    """Insert a new feature; return its id and version."""
    check_limits(collection, feature, options.limits)
    properties, geometry = _split_feature(feature)
    values = validate_properties(collection, properties)
    geojson = validate_geometry(collection, geometry, options.content_crs)
    hooks = hooks_for(collection)
    with translate_errors():
        set_actor(conn, options.actor)
        geom = geometry_sql(collection, geojson, options.content_crs) if geojson else None
        write = Write(
            "create",
            collection,
            values,
            geom,
            allow_exclusion_overlap=options.allow_exclusion_overlap,
        )
        hooks.check(conn, write)
        hooks.before_write(conn, write)
        if geom is not None:
            values["geom"] = geom
        table = collection.table
        row = conn.execute(
            sa.insert(table).values(**values).returning(table.c.id, table.c.version)
        ).one()
        write.feature_id = row.id
        hooks.after_write(conn, write)
    return Written(row.id, row.version)


def replace(
    conn: Connection, collection: Collection, feature_id: int, feature: Any, options: WriteOptions
) -> Written:
    """Replace a feature's properties and geometry (PUT)."""
    check_limits(collection, feature, options.limits)
    properties, geometry = _split_feature(feature)
    values = _fill_missing(collection, validate_properties(collection, properties))
    geojson = validate_geometry(collection, geometry, options.content_crs)
    return _update(conn, collection, feature_id, values, geojson, options)


def patch(
    conn: Connection,
    collection: Collection,
    feature_id: int,
    merge_patch: Any,
    options: WriteOptions,
) -> Written:
    """Apply an RFC 7396 merge patch to a feature (PATCH)."""
    if not isinstance(merge_patch, dict):
        raise InvalidInput("a merge patch must be a JSON object")
    check_limits(collection, merge_patch, options.limits)
    unexpected = set(merge_patch) - {"type", "id", "properties", "geometry", "links"}
    if unexpected:
        raise InvalidInput(
            f"a feature patch may change properties and geometry, not {sorted(unexpected)}"
        )
    current = _current(conn, collection, feature_id)
    stored = hooks_for(collection).stored_properties(collection, current)
    merged = _merge(stored, merge_patch.get("properties", {}))
    values = _fill_missing(collection, validate_properties(collection, merged))
    geojson = None
    if "geometry" in merge_patch:
        geojson = validate_geometry(collection, merge_patch["geometry"], options.content_crs)
    return _update(
        conn,
        collection,
        feature_id,
        values,
        geojson,
        options,
        keep_geometry="geometry" not in merge_patch,
    )


def _merge(target: Any, patch_doc: Any) -> Any:
    # RFC 7396: objects merge recursively, null removes a member, anything else replaces.
    if not isinstance(patch_doc, dict):
        return patch_doc
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch_doc.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = _merge(result.get(key), value)
    return result


def _fill_missing(collection: Collection, values: dict[str, Any]) -> dict[str, Any]:
    # A full replacement: writable properties left out (or removed by a patch) go back to
    # their default, or become empty when they have none.
    return hooks_for(collection).fill_missing(collection, values)


def _update(
    conn: Connection,
    collection: Collection,
    feature_id: int,
    values: dict[str, Any],
    geojson: str | None,
    options: WriteOptions,
    *,
    keep_geometry: bool = False,
) -> Written:
    table = collection.table
    hooks = hooks_for(collection)
    with translate_errors():
        set_actor(conn, options.actor)
        old = _current(conn, collection, feature_id)
        _check_version(old, options)
        geom = (
            None
            if keep_geometry
            else (geometry_sql(collection, geojson, options.content_crs) if geojson else None)
        )
        write = Write(
            "update",
            collection,
            values,
            geom,
            keep_geometry=keep_geometry,
            feature_id=feature_id,
            old=old,
            allow_exclusion_overlap=options.allow_exclusion_overlap,
        )
        hooks.check(conn, write)
        if geom is not None:
            values["geom"] = geom
        elif not keep_geometry:
            # geometry: null where the collection allows it (admin units) clears it; the
            # hooks may put another in its place (a route's line drawn from its stops).
            values["geom"] = None
        hooks.before_write(conn, write)
        row = conn.execute(
            sa.update(table)
            .where(table.c.id == feature_id, table.c.version == old.version)
            .values(**values)
            .returning(table.c.id, table.c.version)
        ).one()
        hooks.after_write(conn, write)
    return Written(row.id, row.version)


def delete(
    conn: Connection, collection: Collection, feature_id: int, options: WriteOptions
) -> None:
    """Delete a feature (its history keeps it, and an admin can restore it)."""
    table = collection.table
    hooks = hooks_for(collection)
    with translate_errors():
        set_actor(conn, options.actor)
        old = _current(conn, collection, feature_id)
        _check_version(old, options)
        write = Write("delete", collection, {}, feature_id=feature_id, old=old)
        hooks.before_write(conn, write)
        conn.execute(sa.delete(table).where(table.c.id == feature_id))
        hooks.after_write(conn, write)


def _split_feature(feature: Any) -> tuple[Any, Any]:
    if not isinstance(feature, dict) or feature.get("type") != "Feature":
        raise InvalidInput('the body must be a GeoJSON Feature ("type": "Feature")')
    if "geometry" not in feature:
        raise InvalidGeometry(
            "a Feature needs a geometry member (null is allowed only for routes and admin-units)"
        )
    return feature.get("properties") or {}, feature["geometry"]


# -- history -----------------------------------------------------------------------------------
def shown_actor(*, reveal_actors: bool) -> sa.ColumnElement[Any]:
    """Who wrote a history row, as a reader may see it (join ``api_key`` on ``is_key``).

    Readers with a key see the actor in full; others ``API key (<role>)`` or ``command line``.
    """
    if reveal_actors:
        return _HISTORY.c.actor
    return sa.case(
        (
            _HISTORY.c.actor.startswith("key:"),
            sa.func.coalesce(
                sa.literal("API key (") + sa.cast(_KEYS.c.role, sa.Text) + sa.literal(")"),
                sa.literal("API key"),
            ),
        ),
        (_HISTORY.c.actor.startswith("cli:"), sa.literal("command line")),
        else_=_HISTORY.c.actor,
    )


def history(
    conn: Connection, collection: Collection, feature_id: int, *, reveal_actors: bool = False
) -> list[dict[str, Any]]:
    """Every recorded version of a feature, oldest first, each state as a GeoJSON Feature.

    Who wrote is named in full (``key:<prefix>:<name>``) only with ``reveal_actors``
    (readers with a valid key). Otherwise a write made with a key shows as
    ``API key (<role>)``, one from the command line as ``command line``: a key's name may
    name a person, and its prefix is half of what a guess needs.
    """
    state = sa.func.coalesce(_HISTORY.c.after, _HISTORY.c.before)
    as_feature = sa.func.json_build_object(
        "type",
        "Feature",
        "id",
        _HISTORY.c.feature_id,
        "geometry",
        sa.cast(sa.func.ST_AsGeoJSON(sa.cast(state["geom"].astext, _geometry_type()), 7), sa.JSON),
        "properties",
        state.op("-")("geom"),
    )
    is_key = _HISTORY.c.actor.startswith("key:")
    actor = shown_actor(reveal_actors=reveal_actors)
    rows = conn.execute(
        sa.select(
            _HISTORY.c.id,
            _HISTORY.c.action,
            actor.label("actor"),
            _HISTORY.c.at,
            sa.cast(state["version"].astext, sa.Integer).label("version"),
            as_feature.label("state"),
        )
        .select_from(
            _HISTORY.outerjoin(
                _KEYS,
                sa.and_(is_key, _KEYS.c.prefix == sa.func.split_part(_HISTORY.c.actor, ":", 2)),
            )
        )
        .where(
            _HISTORY.c.table_name == collection.table.name, _HISTORY.c.feature_id == str(feature_id)
        )
        .order_by(_HISTORY.c.id)
    ).all()
    hooks = hooks_for(collection)
    rows = [r for r in rows if hooks.in_history(collection, r.state["properties"] or {})]
    return [
        {
            "history_id": r.id,
            "action": r.action,
            "actor": r.actor,
            "at": r.at.isoformat(),
            "version": r.version,
            "state": r.state,
        }
        for r in rows
    ]


def _geometry_type() -> Geometry:
    return Geometry(srid=SRID_STORAGE)


def restore(
    conn: Connection, collection: Collection, feature_id: int, history_id: int, *, actor: str
) -> Written:
    """Bring a feature back to the state a history entry recorded (undoes deletes too)."""
    entry = conn.execute(
        sa.select(_HISTORY).where(
            _HISTORY.c.id == history_id,
            _HISTORY.c.table_name == collection.table.name,
            _HISTORY.c.feature_id == str(feature_id),
        )
    ).first()
    if entry is None:
        raise NotFound(f"no history entry {history_id} for feature {feature_id} in {collection.id}")
    state = entry.after if entry.after is not None else entry.before
    table = collection.table
    columns = [
        c.name
        for c in table.columns
        if c.computed is None and c.name not in {"created_at", "updated_at", "version"}
    ]
    recorded = sa.func.coalesce(_HISTORY.c.after, _HISTORY.c.before)["version"].astext
    last_version = (
        conn.execute(
            sa.select(sa.func.max(sa.cast(recorded, sa.Integer))).where(
                _HISTORY.c.table_name == table.name, _HISTORY.c.feature_id == str(feature_id)
            )
        ).scalar()
        or 0
    )
    with translate_errors():
        set_actor(conn, actor)
        conn.execute(sa.text("SELECT set_config('craftmap.action', 'restore', true)"))
        column_list = ", ".join(f'"{c}"' for c in columns)
        # Column names come from the table definition, never from the request.
        updates = ", ".join(f'"{c}" = EXCLUDED."{c}"' for c in columns if c != "id")
        statement = sa.text(
            f"INSERT INTO {table.name} ({column_list}, version) "
            f"SELECT {column_list}, :next_version "
            f"FROM jsonb_populate_record(NULL::{table.name}, :state) "
            f"ON CONFLICT (id) DO UPDATE SET {updates} RETURNING id, version"
        ).bindparams(sa.bindparam("state", type_=JSONB))
        row = conn.execute(statement, {"state": state, "next_version": last_version + 1}).one()
        conn.execute(sa.text("SELECT set_config('craftmap.action', '', true)"))
        hooks_for(collection).after_write(
            conn, Write("restore", collection, dict(state), feature_id=feature_id)
        )
    return Written(row.id, row.version)
