"""What each collection adds to the generic write path (geo/store/writes.py).

writes.py creates, replaces, patches, deletes and restores any collection the same way;
whatever one family of collections does beyond that (its domain rules, the route line
drawn from the stops, the reference layers' free properties) is a `WriteHooks` subclass
here, registered under its collection id in `HOOKS`. A new collection with no rules of
its own needs nothing: it gets the plain `WriteHooks`.

The order of one write::

    values(...)               checked properties → column values   (create, replace, patch)
    check(conn, write)        domain rules, before anything changes (create, replace, patch)
    before_write(conn, write) read what after_write needs; may add column values
                                                                  (create, replace, patch, delete)
    INSERT / UPDATE / DELETE
    after_write(conn, write)  keep other rows in step             (all, restore too)
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal, Protocol

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.sql.elements import ColumnElement

from geo.kernel import collections as ids
from geo.kernel.errors import InvalidGeometry, InvalidInput
from geo.kernel.vocab import LineSource
from geo.store import models, queries, rules
from geo.store.catalog import TIME_PATTERN, Collection, Prop


@dataclass
class Write:
    """One write as the hooks see it."""

    kind: Literal["create", "update", "delete", "restore"]
    collection: Collection
    # The columns about to be written (a restore: the recorded state); before_write may add.
    values: dict[str, Any]
    # The new geometry as SQL; None when the request sent none (or null).
    geom: ColumnElement[Any] | None = None
    # A patch without a geometry member: the stored geometry stays.
    keep_geometry: bool = False
    # None on a create until the row is inserted.
    feature_id: int | None = None
    # The stored row before the write (None on create and restore).
    old: sa.Row[Any] | None = None
    allow_exclusion_overlap: bool = False
    # What before_write keeps for after_write.
    memo: dict[str, Any] = field(default_factory=dict)

    def stored_geom(self) -> ColumnElement[Any]:
        """The geometry stored now, as SQL (for rules on a patch that keeps it)."""
        table = self.collection.table
        return sa.select(table.c.geom).where(table.c.id == self.feature_id).scalar_subquery()


class WriteHooks:
    """A collection whose properties are its columns and which has no rules of its own."""

    # -- properties ----------------------------------------------------------------------------
    def values(self, collection: Collection, properties: dict[str, Any]) -> dict[str, Any]:
        """Column values of checked ``properties`` (read-only ones are ignored)."""
        known = {p.name: p for p in collection.props}
        unknown = sorted(set(properties) - set(known))
        if unknown:
            raise InvalidInput(
                f"unknown properties {', '.join(unknown)} for collection {collection.id}"
            )
        values: dict[str, Any] = {}
        for prop in collection.props:
            if prop.read_only:
                continue
            if prop.name not in properties:
                if prop.required:
                    raise InvalidInput(f"property {prop.name} is required")
                continue
            values[prop.name] = _check_value(prop, properties[prop.name])
        return values

    def stored_properties(self, collection: Collection, row: sa.Row[Any]) -> dict[str, Any]:
        """The writable properties of a stored row, as JSON (what a patch merges into)."""
        return {
            p.name: _json_ready(row._mapping[p.name]) for p in collection.props if not p.read_only
        }

    def fill_missing(self, collection: Collection, values: dict[str, Any]) -> dict[str, Any]:
        """A full replacement: writable properties left out go back to their default.

        Those without a default become empty.
        """
        for prop in collection.props:
            if not prop.read_only and prop.name not in values:
                has_default = collection.table.c[prop.name].server_default is not None
                values[prop.name] = sa.literal_column("DEFAULT") if has_default else None
        return values

    def in_history(self, collection: Collection, properties: dict[str, Any]) -> bool:
        """Whether a recorded state (its row's columns but geom) belongs to ``collection``."""
        return True

    # -- around the write ----------------------------------------------------------------------
    def check(self, conn: Connection, write: Write) -> None:
        """Domain rules, before anything is written; they raise `rules.RuleViolation`."""

    def set_checks(
        self, geom: ColumnElement[Any], value: Callable[[str], ColumnElement[Any]]
    ) -> SetChecks:
        """`check`'s rules for writes with a new geometry, as SQL over many rows at once.

        ``geom`` and ``value(column)`` are SQL naming one row's new geometry and column
        values (the import's staged rows). The checks are those `check` runs, in its order.
        """
        return SetChecks([])

    def before_write(self, conn: Connection, write: Write) -> None:
        """Just before the row is written: read what after_write needs, add column values."""

    def after_write(self, conn: Connection, write: Write) -> None:
        """Just after the row is written (or deleted, or restored): keep other rows in step."""


@dataclass
class SetChecks:
    """A collection's rules as SQL checks; zone-clear-of-exclusions after them, if named."""

    checks: list[rules.Check]
    exclusions: bool = False


class VillageHooks(WriteHooks):
    """Craft villages lie in Vietnam, and in their commune when it has a boundary."""

    def set_checks(
        self, geom: ColumnElement[Any], value: Callable[[str], ColumnElement[Any]]
    ) -> SetChecks:
        return SetChecks(rules.village_checks(geom, value("commune_code")))

    def check(self, conn: Connection, write: Write) -> None:
        geom = write.geom
        if geom is None and write.keep_geometry:
            geom = write.stored_geom()  # a new commune_code must still contain the village
        if geom is not None:
            rules.village_in_vietnam(conn, geom, write.values.get("commune_code"))


class ZoneHooks(WriteHooks):
    """Material zones lie in their province, clear of exclusion areas unless accepted."""

    def set_checks(
        self, geom: ColumnElement[Any], value: Callable[[str], ColumnElement[Any]]
    ) -> SetChecks:
        codes = sa.func.coalesce(value("commune_codes"), sa.text("'{}'::text[]"))
        return SetChecks(rules.zone_checks(geom, codes), exclusions=True)

    def check(self, conn: Connection, write: Write) -> None:
        values = write.values
        if write.geom is not None:
            rules.zone_in_vietnam(conn, write.geom, values.get("commune_codes"))
            rules.zone_clear_of_exclusions(conn, write.geom, allowed=write.allow_exclusion_overlap)
        elif (
            write.keep_geometry
            and write.old is not None
            and isinstance(values.get("commune_codes"), list)
            and values["commune_codes"] != list(write.old.commune_codes or [])
        ):
            # New commune_codes must still name the zone's province (zone-in-province).
            rules.zone_in_vietnam(conn, write.stored_geom(), values.get("commune_codes"))


class RouteHooks(WriteHooks):
    """A route's line lies in Vietnam and passes its stops; without one it is drawn from them.

    A route whose line follows the roads (``line_source='roads'``) is the route designer's:
    setting it designs the route; a line the client sends (other than the stored one)
    makes the route ``'drawn'``.
    """

    def check(self, conn: Connection, write: Write) -> None:
        if write.geom is None:
            return
        rules.route_in_vietnam(conn, write.geom)
        if write.feature_id is not None:
            rules.route_passes_stops(conn, write.feature_id, write.geom)

    def before_write(self, conn: Connection, write: Write) -> None:
        if write.kind not in ("create", "update"):
            return
        if write.geom is not None and not _same_line(conn, write):
            # The client drew this line: it is kept as drawn, not redrawn from the stops.
            write.values["line_source"] = LineSource.DRAWN.value
        if (
            write.kind == "update"
            and write.geom is None
            and not write.keep_geometry
            and write.feature_id is not None
            and _line_source(write) != LineSource.ROADS
        ):
            write.values["geom"] = queries.stops_line(write.feature_id)

    def after_write(self, conn: Connection, write: Write) -> None:
        if write.kind == "create" and write.geom is None and write.feature_id is not None:
            queries.draw_route_line_from_stops(conn, write.feature_id)
        if (
            write.kind in ("create", "update")
            and write.feature_id is not None
            and _line_source(write) == LineSource.ROADS
            and (
                write.old is None
                or str(write.old.line_source) != LineSource.ROADS
                or (write.geom is None and not write.keep_geometry)
                or any(
                    name in write.values and write.values[name] != getattr(write.old, name)
                    for name in ("mode", "start_time")
                )
            )
        ):
            _designer().design(conn, write.feature_id)


def _line_source(write: Write) -> str | None:
    value = write.values.get("line_source")
    if isinstance(value, str):
        return value
    if "line_source" not in write.values and write.old is not None:
        return str(write.old.line_source)
    return None  # DEFAULT on a full replacement: 'stops'


def _same_line(conn: Connection, write: Write) -> bool:
    """Whether the line sent is the one stored (a feature read and sent back unchanged)."""
    if write.old is None or write.old.geom is None or write.geom is None:
        return False
    same = conn.execute(sa.select(sa.func.ST_Equals(write.stored_geom(), write.geom))).scalar()
    return bool(same)


class RouteDesigner(Protocol):
    """What the route designer (geo.workflows.route_design, a room above) does on writes."""

    def design(self, conn: Connection, route_id: int) -> None:
        """Design the route along the roads in its stops' order and save it."""

    def refresh(self, conn: Connection, route_id: int, stop_ids: set[int]) -> None:
        """Recompute the legs that reach ``stop_ids``, then the timetable and the line."""


_DESIGNER: list[RouteDesigner] = []


def register_route_designer(designer: RouteDesigner) -> None:
    """Install the route designer (done when geo.workflows.route_design is imported)."""
    _DESIGNER[:] = [designer]


def _designer() -> RouteDesigner:
    if not _DESIGNER:
        raise rules.RuleViolation(
            "route-designer: this route follows the roads, and the route designer is not "
            "loaded in this process to recompute its legs"
        )
    return _DESIGNER[0]


def _is_roads(conn: Connection, route_id: int) -> bool:
    route = models.table_of(models.TourismRoute)
    found = conn.execute(sa.select(route.c.line_source).where(route.c.id == route_id)).scalar()
    return found is not None and str(found) == LineSource.ROADS


def _next_stop(conn: Connection, route_id: int, seq: int) -> int | None:
    stop = models.table_of(models.RouteStop)
    found = conn.execute(
        sa.select(stop.c.id)
        .where(stop.c.route_id == route_id, stop.c.seq > seq)
        .order_by(stop.c.seq)
        .limit(1)
    ).scalar()
    return None if found is None else int(found)


class RouteStopHooks(WriteHooks):
    """A stop names a route (and maybe a village) that exist; its routes' lines follow it.

    A stop with a ``village_id`` and no geometry stands where its village stands. On a
    route that follows the roads, a stop's write recomputes only the legs into and out of
    it (the leg out is stored on the next stop; a stop that moves away leaves its old
    next stop a new leg in), then the timetable.
    """

    def check(self, conn: Connection, write: Write) -> None:
        _stop_references_exist(conn, write.values)
        if write.geom is None and write.values.get("village_id") is not None:
            if write.kind == "create" or not write.keep_geometry:
                write.geom = _village_position(write.values["village_id"])
        if write.geom is None and not write.keep_geometry:
            raise InvalidGeometry(
                "a stop needs a geometry, or a village_id: it then stands where its village stands"
            )
        if write.geom is not None:
            rules.stop_in_vietnam(conn, write.geom)

    def before_write(self, conn: Connection, write: Write) -> None:
        if write.geom is not None and write.values.get("geom") is None:
            write.values["geom"] = write.geom
        # Whether each route's line is the one drawn from its stops, before the stop moves.
        write.memo["followed"] = {
            route_id: rules.line_follows_stops(conn, route_id) for route_id in _route_ids(write)
        }
        if write.old is not None:
            write.memo["old_next"] = _next_stop(conn, write.old.route_id, write.old.seq)

    def after_write(self, conn: Connection, write: Write) -> None:
        if write.kind == "restore":
            route_id = write.values["route_id"]
            if _is_roads(conn, route_id):
                _designer().design(conn, route_id)
            else:
                queries.draw_route_line_from_stops(conn, route_id)
            return
        route = models.table_of(models.TourismRoute)
        followed: dict[int, bool] = write.memo.get("followed", {})
        for route_id in _route_ids(write):
            if _is_roads(conn, route_id):
                _designer().refresh(conn, route_id, _touched_stops(conn, write, route_id))
                continue
            if followed.get(route_id, True):
                # The line was drawn from the stops: draw it again.
                queries.draw_route_line_from_stops(conn, route_id)
                continue
            line = route.c.geom
            has_line = conn.execute(
                sa.select(line.is_not(None)).where(route.c.id == route_id)
            ).scalar()
            if has_line:
                rules.route_passes_stops(
                    conn, route_id, sa.select(line).where(route.c.id == route_id).scalar_subquery()
                )


def _touched_stops(conn: Connection, write: Write, route_id: int) -> set[int]:
    """The stops of ``route_id`` whose leg in changes with a stop write (maybe none)."""
    old = write.old
    touched: set[int] = set()
    if write.kind == "update" and old is not None and old.route_id == route_id:
        values = write.values
        moved = not write.keep_geometry or any(
            name in values and values[name] != getattr(old, name)
            for name in ("seq", "route_id", "leg_mode")
        )
        if not moved:
            return touched  # a dwell time or a name: only the timetable changes
    if old is not None and old.route_id == route_id and write.memo.get("old_next") is not None:
        touched.add(write.memo["old_next"])
    if write.kind != "delete" and write.feature_id is not None:
        stop = models.table_of(models.RouteStop)
        now = conn.execute(
            sa.select(stop.c.route_id, stop.c.seq).where(stop.c.id == write.feature_id)
        ).first()
        if now is not None and now.route_id == route_id:
            touched.add(write.feature_id)
            following = _next_stop(conn, route_id, now.seq)
            if following is not None:
                touched.add(following)
    return touched


def _village_position(village_id: int) -> ColumnElement[Any]:
    village = models.table_of(models.Village)
    return sa.select(village.c.geom).where(village.c.id == village_id).scalar_subquery()


def _route_ids(write: Write) -> set[int]:
    """The routes a stop write touches: the one it names now and the one it had."""
    values = write.values
    found = {values["route_id"]} if values.get("route_id") is not None else set()
    if write.old is not None:
        found.add(write.old.route_id)
    return found


def _stop_references_exist(conn: Connection, values: dict[str, Any]) -> None:
    village = models.table_of(models.Village)
    route = models.table_of(models.TourismRoute)
    if not conn.execute(sa.select(sa.exists().where(route.c.id == values["route_id"]))).scalar():
        raise InvalidInput(f"route_id {values['route_id']} does not exist")
    if (
        values.get("village_id") is not None
        and not conn.execute(
            sa.select(sa.exists().where(village.c.id == values["village_id"]))
        ).scalar()
    ):
        raise InvalidInput(f"village_id {values['village_id']} does not exist")


class ReferenceLayerHooks(WriteHooks):
    """A reference layer's features share one table; their properties are a free JSON object."""

    def values(self, collection: Collection, properties: dict[str, Any]) -> dict[str, Any]:
        json.dumps(properties)  # any JSON object is fine for a reference feature
        return {
            "properties": {k: v for k, v in properties.items() if not _server_kept(collection, k)}
        }

    def stored_properties(self, collection: Collection, row: sa.Row[Any]) -> dict[str, Any]:
        return dict(row.properties)

    def fill_missing(self, collection: Collection, values: dict[str, Any]) -> dict[str, Any]:
        return values  # the whole properties object is replaced already

    def in_history(self, collection: Collection, properties: dict[str, Any]) -> bool:
        return properties.get("layer_id") == collection.layer_id

    def before_write(self, conn: Connection, write: Write) -> None:
        if write.kind == "create":
            write.values["layer_id"] = write.collection.layer_id


# Admin units have no rules of their own: a unit may lack a boundary (geometry_required).
_PLAIN = WriteHooks()
_REFERENCE_LAYER = ReferenceLayerHooks()
HOOKS: dict[str, WriteHooks] = {
    ids.VILLAGES: VillageHooks(),
    ids.MATERIAL_ZONES: ZoneHooks(),
    ids.ROUTES: RouteHooks(),
    ids.ROUTE_STOPS: RouteStopHooks(),
    ids.ADMIN_UNITS: _PLAIN,
    # Read-only over the API (catalog.ROADS.read_only): the importer builds it whole.
    ids.ROADS: _PLAIN,
}


def hooks_for(collection: Collection) -> WriteHooks:
    """The hooks of ``collection``: its own, a reference layer's, or the plain ones."""
    if collection.layer_id is not None:
        return _REFERENCE_LAYER
    return HOOKS.get(collection.id, _PLAIN)


# -- values of one property ---------------------------------------------------------------------
def _check_value(prop: Prop, value: Any) -> Any:
    if value is None:
        if prop.required:
            raise InvalidInput(f"property {prop.name} is required and may not be null")
        return None
    expected = prop.type
    if expected == "string" and not isinstance(value, str):
        raise InvalidInput(f"property {prop.name} must be a string")
    if expected == "integer" and (isinstance(value, bool) or not isinstance(value, int)):
        raise InvalidInput(f"property {prop.name} must be a whole number")
    if expected == "number":
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
        ):
            raise InvalidInput(f"property {prop.name} must be a number")
    if expected == "boolean" and not isinstance(value, bool):
        raise InvalidInput(f"property {prop.name} must be true or false")
    if expected == "array" and (
        not isinstance(value, list) or not all(isinstance(v, str) for v in value)
    ):
        raise InvalidInput(f"property {prop.name} must be a list of strings")
    if expected == "object" and not isinstance(value, dict):
        raise InvalidInput(f"property {prop.name} must be an object")
    if expected == "date":
        try:
            value = dt.date.fromisoformat(value) if isinstance(value, str) else None
        except ValueError:
            value = None
        if value is None:
            raise InvalidInput(f"property {prop.name} must be a date as YYYY-MM-DD")
    if expected == "time":
        if not isinstance(value, str) or re.fullmatch(TIME_PATTERN, value) is None:
            raise InvalidInput(f"property {prop.name} must be a clock time as HH:MM")
        value = dt.time.fromisoformat(value)
    if prop.enum is not None and value not in prop.enum:
        raise InvalidInput(
            f"property {prop.name} must be one of {', '.join(prop.enum)}; got {value!r}"
        )
    if prop.minimum is not None and value < prop.minimum:
        raise InvalidInput(f"property {prop.name} must be at least {prop.minimum:g}")
    if prop.maximum is not None and value > prop.maximum:
        raise InvalidInput(f"property {prop.name} must be at most {prop.maximum:g}")
    if prop.max_length is not None and len(value) > prop.max_length:
        raise InvalidInput(f"property {prop.name} is longer than {prop.max_length} characters")
    return value


def _server_kept(collection: Collection, name: str) -> bool:
    prop = collection.prop(name)
    return prop is not None and prop.read_only


def _json_ready(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    return value
