"""The collections craftmap serves: their tables, properties, schemas and write roles.

Core collections are fixed tables; each reference layer (exclusion areas, land use,
roads…) is a collection too, its features sharing the ``reference_feature`` table.
Properties are derived from the table columns, so the schema, the queryables, the SQL and
the write validation all come from one definition.
"""

from __future__ import annotations

import functools
import threading
import weakref
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from geo.cql2 import Queryable
from geo.kernel import collections as layers
from geo.kernel.errors import NotFound
from geo.kernel.text import Text
from geo.kernel.vocab import Role
from geo.store import models

# Columns that are never feature properties, or that the server alone sets.
_HIDDEN = {"id", "geom", "label_point", "layer_id", "properties", "leg_geom"}
# The route designer's results are the server's to set, like the history columns.
_READ_ONLY = {
    "created_at",
    "updated_at",
    "version",
    "area_ha",
    "length_km",
    "network_id",
    "drive_min",
    "duration_min",
    "days",
    "leg_kind",
    "leg_note",
    "leg_km",
    "leg_min",
    "day",
    "arrive_at",
    "depart_at",
    "wait_min",
    "window_problem",
}
GEOMETRY = "geometry"
# A clock time as the API accepts it: HH:MM, or HH:MM:SS.
TIME_PATTERN = "^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9])?$"
# Units of the numeric columns, by name (the suffix of most names says it already).
UNITS = {
    "area_ha": "ha",
    "declared_area_ha": "ha",
    "length_km": "km",
    "annual_capacity_t": "t/yr",
    "precision_m": "m",
    "dwell_min": "min",
    "drive_min": "min",
    "duration_min": "min",
    "leg_km": "km",
    "leg_min": "min",
    "wait_min": "min",
    "length_m": "m",
    "maxspeed": "km/h",
    "speed_car": "km/h",
    "speed_motorbike": "km/h",
    "speed_bicycle": "km/h",
    "speed_walking": "km/h",
}


@dataclass(frozen=True)
class Prop:
    """One feature property: its JSON type and the rules a written value must meet."""

    name: str
    type: str  # string, integer, number, boolean, date, datetime, time, array, object
    required: bool = False
    read_only: bool = False
    enum: tuple[str, ...] | None = None
    minimum: float | None = None
    maximum: float | None = None
    max_length: int | None = None
    # The unit of a number ("ha", "km", "t/yr", "m", "min"), for pages; JSON stays bare.
    unit: str | None = None

    def json_schema(self) -> dict[str, Any]:
        """JSON Schema (2020-12) of the property."""
        schema: dict[str, Any]
        if self.type == "date":
            schema = {"type": "string", "format": "date"}
        elif self.type == "datetime":
            schema = {"type": "string", "format": "date-time"}
        elif self.type == "time":
            # A local clock time (opening hours, a timetable); no offset, so not RFC 3339's
            # full-time: a pattern says what is accepted.
            schema = {"type": "string", "pattern": TIME_PATTERN}
        elif self.type == "array":
            schema = {"type": "array", "items": {"type": "string"}}
        elif self.type == "object":
            schema = {"type": "object"}
        else:
            schema = {"type": self.type}
        if self.enum is not None:
            schema["enum"] = list(self.enum)
        if self.minimum is not None:
            schema["minimum"] = self.minimum
        if self.maximum is not None:
            schema["maximum"] = self.maximum
        if self.max_length is not None:
            schema["maxLength"] = self.max_length
        if self.read_only:
            schema["readOnly"] = True
        return schema


def _prop_type(column: sa.Column[Any]) -> str:
    col_type = column.type
    if isinstance(col_type, ARRAY):
        return "array"
    if isinstance(col_type, JSONB):
        return "object"
    if isinstance(col_type, sa.Boolean):
        return "boolean"
    if isinstance(col_type, sa.Integer):
        return "integer"
    if isinstance(col_type, sa.Numeric | sa.Double | sa.Float):
        return "number"
    if isinstance(col_type, sa.DateTime):
        return "datetime"
    if isinstance(col_type, sa.Date):
        return "date"
    if isinstance(col_type, sa.Time):
        return "time"
    return "string"


def props_of(
    table: sa.Table, ranges: dict[str, tuple[float | None, float | None]]
) -> tuple[Prop, ...]:
    """Properties derived from the columns of ``table``, with value ranges given per name."""
    props: list[Prop] = []
    for column in table.columns:
        if column.name in _HIDDEN:
            continue
        enum = None
        max_length = None
        if isinstance(column.type, sa.Enum):
            enum = tuple(column.type.enums)
        elif isinstance(column.type, sa.String) and column.type.length:
            max_length = column.type.length
        read_only = column.name in _READ_ONLY or column.computed is not None
        low, high = ranges.get(column.name, (None, None))
        props.append(
            Prop(
                name=column.name,
                type=_prop_type(column),
                required=not column.nullable and column.server_default is None and not read_only,
                read_only=read_only,
                enum=enum,
                minimum=low,
                maximum=high,
                max_length=max_length,
                unit=UNITS.get(column.name),
            )
        )
    return tuple(props)


@dataclass(frozen=True)
class Collection:
    """A served collection of features."""

    id: str
    table: sa.Table
    geometry_type: str
    accepted_geometries: frozenset[str]
    title: Text
    description: Text
    props: tuple[Prop, ...]
    write_roles: frozenset[Role]
    # Column names of the record dates that `datetime` filters on (start, end).
    temporal: tuple[str, str | None] | None = None
    layer_id: int | None = None
    # Whether a feature must have a geometry. False where null is a real state, served and
    # accepted alike: a route whose line is drawn from its stops, an admin unit known only
    # by name and code (legacy districts, and every demo unit: no boundaries are loaded).
    geometry_required: bool = True
    # Whether the API refuses every write, whatever the key: a collection built by its
    # own importer (the road network, whose topology a single-edge write would break).
    read_only: bool = False

    @property
    def is_reference_layer(self) -> bool:
        """True for a user-imported reference layer."""
        return self.layer_id is not None

    def prop(self, name: str) -> Prop | None:
        """The property called ``name``, if any."""
        return next((p for p in self.props if p.name == name), None)

    def column(self, name: str) -> ColumnElement[Any]:
        """SQL expression of a property (a column, or a key of a reference feature)."""
        if self.is_reference_layer:
            prop = self.prop(name)
            if prop is not None and prop.read_only:
                # The server-kept ones (created_at, updated_at, version) are real columns.
                return self.table.c[name]
            value: ColumnElement[Any] = self.table.c.properties[name].astext
            if prop is not None and prop.type == "number":
                return sa.cast(value, sa.Double)
            if prop is not None and prop.type == "boolean":
                return sa.cast(value, sa.Boolean)
            return value
        return self.table.c[name]

    def base_filter(self) -> list[ColumnElement[bool]]:
        """Conditions every query of this collection carries (the layer of a reference layer)."""
        if self.layer_id is None:
            return []
        return [self.table.c.layer_id == self.layer_id]

    def queryables(self) -> dict[str, Queryable]:
        """What CQL2 filters and ``sortby`` may name: every property plus ``geometry``."""
        return dict(_queryables(self))

    def json_schema(self, *, base_url: str, kind: str = "schema") -> dict[str, Any]:
        """JSON Schema of the features (``schema``) or of what may be filtered (``queryables``)."""
        properties: dict[str, Any] = {}
        if kind == "queryables":
            properties[GEOMETRY] = {
                "format": f"geometry-{self.geometry_type.lower()}",
                "x-ogc-role": "primary-geometry",
            }
        else:
            # OGC API – Features Part 5: the primary geometry is a property of the schema
            # too; whether it may be null is what reads serve and writes accept.
            properties[GEOMETRY] = {
                "title": GEOMETRY,
                "type": "object" if self.geometry_required else ["object", "null"],
                "format": self.geometry_format(),
                "x-ogc-role": "primary-geometry",
            }
        for prop in self.props:
            if kind == "queryables" and prop.type == "object":
                continue
            properties[prop.name] = {"title": prop.name, **prop.json_schema()}
        schema: dict[str, Any] = {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": f"{base_url}/collections/{self.id}/{kind}",
            "type": "object",
            "title": self.title.en,
            "properties": properties,
        }
        if kind == "queryables":
            schema["additionalProperties"] = False
        else:
            schema["required"] = [p.name for p in self.props if p.required] + (
                [GEOMETRY] if self.geometry_required else []
            )
        return schema

    def geometry_format(self) -> str:
        """Part 5 ``format`` of the geometries a write accepts (``geometry-polygon-or-…``)."""
        kinds = self.accepted_geometries
        for single in ("Point", "LineString", "Polygon"):
            if kinds == {single}:
                return f"geometry-{single.lower()}"
            if kinds == {single, f"Multi{single}"}:
                return f"geometry-{single.lower()}-or-multi{single.lower()}"
        if len(kinds) == 1:
            return f"geometry-{next(iter(kinds)).lower()}"
        return "geometry-any"


_COUNTS = (0, None)

VILLAGES = Collection(
    id=layers.VILLAGES,
    table=models.table_of(models.Village),
    geometry_type="Point",
    accepted_geometries=frozenset({"Point"}),
    title=Text("Làng nghề", "Craft villages"),
    description=Text(
        "Làng nghề, làng nghề truyền thống và nghề truyền thống đã được công nhận.",
        "Recognised craft villages, traditional craft villages and traditional crafts.",
    ),
    props=props_of(
        models.table_of(models.Village),
        {
            "households": _COUNTS,
            "craft_households": _COUNTS,
            "workers": _COUNTS,
            "trained_workers": _COUNTS,
            "ocop_products": _COUNTS,
            "ocop_stars": (3, 5),
            "precision_m": _COUNTS,
            "recognition_year": (1900, 2100),
        },
    ),
    write_roles=frozenset({Role.ADMIN}),
    temporal=("recognition_date", None),
)

MATERIAL_ZONES = Collection(
    id=layers.MATERIAL_ZONES,
    table=models.table_of(models.MaterialZone),
    geometry_type="MultiPolygon",
    accepted_geometries=frozenset({"Polygon", "MultiPolygon"}),
    title=Text("Vùng nguyên liệu", "Raw-material zones"),
    description=Text(
        "Vùng nguyên liệu tập trung: tre luồng, mây, cói, dược liệu.",
        "Concentrated raw-material zones: bamboo and luồng, rattan, sedge, medicinal plants.",
    ),
    props=props_of(
        models.table_of(models.MaterialZone),
        {"annual_capacity_t": _COUNTS, "declared_area_ha": (0, None)},
    ),
    write_roles=frozenset({Role.PLANNER, Role.ADMIN}),
    temporal=("updated_at", None),
)

ROUTES = Collection(
    id=layers.ROUTES,
    table=models.table_of(models.TourismRoute),
    geometry_type="LineString",
    accepted_geometries=frozenset({"LineString"}),
    title=Text("Tuyến du lịch", "Tourism routes"),
    description=Text(
        "Tuyến du lịch làng nghề qua các điểm dừng theo thứ tự.",
        "Craft-village tourism routes through ordered stops.",
    ),
    props=props_of(models.table_of(models.TourismRoute), {}),
    write_roles=frozenset({Role.TOURISM, Role.ADMIN}),
    temporal=("updated_at", None),
    geometry_required=False,
)

ROUTE_STOPS = Collection(
    id=layers.ROUTE_STOPS,
    table=models.table_of(models.RouteStop),
    geometry_type="Point",
    accepted_geometries=frozenset({"Point"}),
    title=Text("Điểm dừng", "Route stops"),
    description=Text(
        "Các điểm dừng của tuyến du lịch.",
        "The stops of the tourism routes.",
    ),
    props=props_of(models.table_of(models.RouteStop), {"seq": (1, None), "dwell_min": _COUNTS}),
    write_roles=frozenset({Role.TOURISM, Role.ADMIN}),
    temporal=("updated_at", None),
    # A stop with a village_id and no geometry stands where its village stands (hooks).
    geometry_required=False,
)

ADMIN_UNITS = Collection(
    id=layers.ADMIN_UNITS,
    table=models.table_of(models.AdminUnit),
    geometry_type="MultiPolygon",
    accepted_geometries=frozenset({"Polygon", "MultiPolygon"}),
    title=Text("Đơn vị hành chính", "Administrative units"),
    description=Text(
        "Tỉnh, huyện (trước 2025) và xã, phường, với thời gian hiệu lực.",
        "Provinces, districts (before 2025) and communes, with their validity dates.",
    ),
    props=props_of(models.table_of(models.AdminUnit), {}),
    write_roles=frozenset({Role.ADMIN}),
    temporal=("valid_from", "valid_to"),
    geometry_required=False,
)

# pgRouting's columns (vertex ids, costs per mode) stay in the database: a road's page and
# tiles show its class, speeds and length, from which the costs follow.
_ROUTING_COLUMNS = {"source", "target"} | {
    f"{kind}_{mode}"
    for kind in ("cost", "reverse_cost")
    for mode in ("car", "motorbike", "bicycle", "walking")
}

ROADS = Collection(
    id=layers.ROADS,
    table=models.table_of(models.RoadEdge),
    geometry_type="LineString",
    accepted_geometries=frozenset({"LineString"}),
    title=Text("Mạng lưới đường bộ", "Road network"),
    description=Text(
        "Các đoạn đường của mạng lưới giao thông đã dựng tô-pô (tách tại nút giao), với cấp "
        "đường, đường một chiều và tốc độ theo phương tiện; dùng cho tìm đường.",
        "The road network's edges, split at junctions into a routable topology, with road "
        "class, one-way flag and speeds by travel mode; used for routing.",
    ),
    props=tuple(
        p
        for p in props_of(
            models.table_of(models.RoadEdge),
            {
                "maxspeed": (1, None),
                "speed_car": (0, None),
                "speed_motorbike": (0, None),
                "speed_bicycle": (0, None),
                "speed_walking": (0, None),
            },
        )
        if p.name not in _ROUTING_COLUMNS
    ),
    write_roles=frozenset(),
    temporal=("updated_at", None),
    read_only=True,
)

CORE: tuple[Collection, ...] = (
    VILLAGES,
    MATERIAL_ZONES,
    ROUTES,
    ROUTE_STOPS,
    ADMIN_UNITS,
    ROADS,
)
BY_ID = {c.id: c for c in CORE}

_REFERENCE = models.table_of(models.ReferenceFeature)
_LAYER = models.table_of(models.ReferenceLayer)
_JSON_TYPES = {"number": "number", "boolean": "boolean", "array": "array", "object": "object"}


def _reference_collection(conn: Connection | Session, row: sa.Row[Any]) -> Collection:
    # A reference layer's properties are whatever its features carry; their JSON types are
    # read from the data so that numbers filter and sort as numbers.
    keys = conn.execute(
        sa.select(
            sa.func.jsonb_object_keys(_REFERENCE.c.properties).label("key"),
        )
        .where(_REFERENCE.c.layer_id == row.id)
        .distinct()
    ).scalars()
    props = []
    for key in sorted(keys):
        json_type = conn.execute(
            sa.select(sa.func.jsonb_typeof(_REFERENCE.c.properties[key]))
            .where(_REFERENCE.c.layer_id == row.id, _REFERENCE.c.properties.has_key(key))
            .limit(1)
        ).scalar()
        props.append(Prop(name=key, type=_JSON_TYPES.get(str(json_type), "string")))
    props += [
        Prop("created_at", "datetime", read_only=True),
        Prop("updated_at", "datetime", read_only=True),
        Prop("version", "integer", read_only=True),
    ]
    return Collection(
        id=row.name,
        table=_REFERENCE,
        geometry_type="Geometry",
        accepted_geometries=frozenset(
            {"Point", "MultiPoint", "LineString", "MultiLineString", "Polygon", "MultiPolygon"}
        ),
        # A reference layer has one title and description, whatever the language.
        title=Text(row.title, row.title),
        description=Text(row.description or "", row.description or ""),
        props=tuple(props),
        write_roles=frozenset({Role.PLANNER, Role.ADMIN}),
        temporal=("updated_at", None),
        layer_id=row.id,
    )


def get_collection(conn: Connection | Session, collection_id: str) -> Collection:
    """The collection with this id (core or reference layer).

    Raises
    ------
    NotFound
        When there is none.
    """
    if collection_id in BY_ID:
        return BY_ID[collection_id]
    found = _reference_layers(conn).get(collection_id)
    if found is None:
        raise NotFound(f"no collection {collection_id!r}")
    return found


def list_collections(conn: Connection | Session) -> list[Collection]:
    """Every served collection: the core ones, then the reference layers by name."""
    return [*CORE, *_reference_layers(conn).values()]


# -- the reference layers, cached per engine ------------------------------------------------
# Building them takes 1 + (1 + K) queries per layer of K properties, and every tile and
# items request needs them. The cache is keyed by the catalog version, one row that a
# trigger rewrites on every statement writing reference_layer or reference_feature
# (migration 0005), so one cheap query per request sees writes by any worker or tool. The
# key is the row's version (a sequence number: it tells apart the statements of one
# transaction) with its xmin (the writing transaction: a rolled-back write, or a restored
# backup whose sequence starts again lower, never brings a cached state back). A few keys
# are kept: a writing transaction sees its own while the others see the committed one.
_VERSION = models.table_of(models.CatalogVersion)
_KEPT_VERSIONS = 4
_cache: weakref.WeakKeyDictionary[Engine, dict[tuple[str, int], dict[str, Collection]]] = (
    weakref.WeakKeyDictionary()
)
_cache_lock = threading.Lock()


def _engine_of(conn: Connection | Session) -> Engine:
    bind = conn.get_bind() if isinstance(conn, Session) else conn
    return bind.engine if isinstance(bind, Connection) else bind


def _reference_layers(conn: Connection | Session) -> dict[str, Collection]:
    """The reference-layer collections by name (in name order), as ``conn`` sees them."""
    # The version is read before the layers: a write committed in between is then cached
    # under a number that is already out of date, never the other way round.
    xmin, number = conn.execute(
        sa.select(sa.literal_column("xmin").cast(sa.Text), _VERSION.c.version)
    ).one()
    version = (str(xmin), int(number))
    engine = _engine_of(conn)
    with _cache_lock:
        cached = _cache.get(engine, {}).get(version)
    if cached is not None:
        return cached
    rows = conn.execute(sa.select(_LAYER).order_by(_LAYER.c.name)).all()
    built = {row.name: _reference_collection(conn, row) for row in rows}
    with _cache_lock:
        versions = _cache.setdefault(engine, {})
        versions[version] = built
        while len(versions) > _KEPT_VERSIONS:
            del versions[next(iter(versions))]
    return built


@functools.lru_cache(maxsize=256)
def _queryables(collection: Collection) -> dict[str, Queryable]:
    # Built once per collection: every items request asks for them twice.
    found = {
        p.name: Queryable(p.name, collection.column(p.name), p.type)
        for p in collection.props
        if p.type != "object"
    }
    found[GEOMETRY] = Queryable(GEOMETRY, collection.table.c.geom, "geometry")
    return found
