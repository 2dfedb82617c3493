"""Test data of a test's own: features built and written the way the API writes them.

Each ``*_feature`` returns a GeoJSON request body with valid defaults (inside Thanh Hóa,
a unique code) and the attributes a test chooses. Each ``make_*`` writes one through
``geo.store.writes.create`` — the write path of the API, so rules, defaults, history and
derived columns apply — and returns the new id. A test owns what it makes, so it never
leans on the demo rows or on serial ids.

``make_*`` write on any of: the rolled-back ``connection``/``session`` fixtures, an
``Engine`` or a database URL (committed in a transaction of their own, for tests that
talk to a real server process).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session

from geo.kernel.crs import CRS84
from geo.store import catalog, models, writes
from geo.store.catalog import Collection
from geo.store.db import make_engine
from geo.store.keys import create_key

Target = Connection | Session | Engine | str
LonLat = tuple[float, float]

ACTOR = "test-factory"
_HISTORY = models.table_of(models.FeatureHistory)
# Defaults inside Thanh Hóa, so the province rules accept them; the zone lies near Nga Sơn's
# sedge fields.
VILLAGE_AT: LonLat = (105.68, 19.85)
ZONE_AT: LonLat = (105.95, 20.02)
ZONE_SIZE = 0.01
# An id no feature has: the largest int4, which no serial reaches in a test database.
MISSING_ID = 2_147_483_647
# Two stops in Thanh Hóa a few kilometres apart: enough for a route with a drawn line.
TWO_STOPS: tuple[LonLat, LonLat] = ((105.68, 19.85), (105.72, 19.88))


def unique_code(prefix: str, length: int = 32) -> str:
    """A code no other test uses: ``prefix`` and random hex, at most ``length`` characters."""
    return f"{prefix}-{uuid.uuid4().hex}"[:length]


def square(lon: float, lat: float, size: float = ZONE_SIZE) -> dict[str, Any]:
    """A GeoJSON square polygon with its south-west corner at (lon, lat)."""
    ring = [[lon, lat], [lon + size, lat], [lon + size, lat + size], [lon, lat + size], [lon, lat]]
    return {"type": "Polygon", "coordinates": [ring]}


def point(lon: float, lat: float) -> dict[str, Any]:
    """A GeoJSON point."""
    return {"type": "Point", "coordinates": [lon, lat]}


def _feature(geometry: dict[str, Any] | None, properties: dict[str, Any]) -> dict[str, Any]:
    return {"type": "Feature", "geometry": geometry, "properties": properties}


# -- request bodies ----------------------------------------------------------------------------
def village_feature(
    *, at: LonLat = VILLAGE_AT, geometry: dict[str, Any] | None = None, **properties: Any
) -> dict[str, Any]:
    """A valid new village (a craft village of group G4, placed to the hamlet)."""
    return _feature(
        geometry or point(*at),
        {
            "code": unique_code("T-V"),
            "name": "Làng thử nghiệm",
            "kind": "craft_village",
            "craft_group": "G4",
            "geom_precision": "hamlet",
            **properties,
        },
    )


def zone_feature(
    *, at: LonLat = ZONE_AT, geometry: dict[str, Any] | None = None, **properties: Any
) -> dict[str, Any]:
    """A valid new material zone (a planned sedge field, 0.01° square)."""
    return _feature(
        geometry or square(*at),
        {
            "code": unique_code("T-Z"),
            "name": "Vùng cói thử nghiệm",
            "material": "sedge",
            "status": "planned",
            **properties,
        },
    )


def route_feature(*, geometry: dict[str, Any] | None = None, **properties: Any) -> dict[str, Any]:
    """A valid new route; without a geometry its line is drawn from its stops."""
    return _feature(
        geometry,
        {
            "code": unique_code("T-R"),
            "name": "Tuyến thử",
            "theme": "craft_village",
            "mode": "car",
            **properties,
        },
    )


def stop_feature(route_id: int, seq: int, *, at: LonLat, **properties: Any) -> dict[str, Any]:
    """A valid new stop of ``route_id`` at position ``seq``."""
    return _feature(
        point(*at), {"route_id": route_id, "seq": seq, "name": f"Điểm dừng {seq}", **properties}
    )


def admin_unit_feature(
    *, geometry: dict[str, Any] | None = None, **properties: Any
) -> dict[str, Any]:
    """A valid new commune of a test scheme of its own, without a boundary unless given."""
    return _feature(
        geometry,
        {
            "code": unique_code("T", 16),
            "scheme": "test-factory",
            "name": "Xã thử",
            "level": "commune",
            **properties,
        },
    )


# -- writes ------------------------------------------------------------------------------------
@contextmanager
def _connection(target: Target) -> Iterator[Connection]:
    """A connection on ``target``: the caller's own, or a committed transaction of its own."""
    if isinstance(target, Connection):
        yield target
    elif isinstance(target, Session):
        yield target.connection()
    elif isinstance(target, Engine):
        with target.begin() as conn:
            yield conn
    else:
        engine = make_engine(target)
        try:
            with engine.begin() as conn:
                yield conn
        finally:
            engine.dispose()


def make(target: Target, collection: Collection, feature: dict[str, Any]) -> int:
    """Write ``feature`` into ``collection`` through the API's write path; its new id."""
    with _connection(target) as conn:
        options = writes.WriteOptions(actor=ACTOR, content_crs=CRS84)
        return writes.create(conn, collection, feature, options).id


def make_village(target: Target, *, at: LonLat = VILLAGE_AT, **properties: Any) -> int:
    """A new village (see ``village_feature``); its id."""
    return make(target, catalog.VILLAGES, village_feature(at=at, **properties))


def make_zone(
    target: Target,
    *,
    at: LonLat = ZONE_AT,
    geometry: dict[str, Any] | None = None,
    **properties: Any,
) -> int:
    """A new material zone (see ``zone_feature``); its id."""
    return make(
        target, catalog.MATERIAL_ZONES, zone_feature(at=at, geometry=geometry, **properties)
    )


def make_route(
    target: Target,
    *,
    stops: Sequence[LonLat] = (),
    geometry: dict[str, Any] | None = None,
    **properties: Any,
) -> int:
    """A new route with ``stops`` in order (its line drawn through them); its id."""
    with _connection(target) as conn:
        route_id = make(conn, catalog.ROUTES, route_feature(geometry=geometry, **properties))
        for seq, at in enumerate(stops, start=1):
            make_stop(conn, route_id, seq, at=at)
    return route_id


def make_stop(target: Target, route_id: int, seq: int, *, at: LonLat, **properties: Any) -> int:
    """A new stop of ``route_id`` (see ``stop_feature``); its id."""
    return make(target, catalog.ROUTE_STOPS, stop_feature(route_id, seq, at=at, **properties))


def make_admin_unit(
    target: Target, *, geometry: dict[str, Any] | None = None, **properties: Any
) -> int:
    """A new administrative unit (see ``admin_unit_feature``); its id."""
    return make(target, catalog.ADMIN_UNITS, admin_unit_feature(geometry=geometry, **properties))


def remove(target: Target, collection: Collection, feature_id: int) -> None:
    """Delete a feature through the API's write path (its history keeps it)."""
    with _connection(target) as conn:
        options = writes.WriteOptions(actor=ACTOR, content_crs=CRS84)
        writes.delete(conn, collection, feature_id, options)


@contextmanager
def committed_village(target: Engine | str, **properties: Any) -> Iterator[int]:
    """A village committed for the block (a server process sees it), deleted after it.

    For tests on the shared database, whose other tests must not find it there.
    """
    village_id = make_village(target, **properties)
    try:
        yield village_id
    finally:
        remove(target, catalog.VILLAGES, village_id)


def path_ids(target: Target) -> dict[str, str]:
    """Values for the id parameters of the app's paths, each naming a feature made here.

    ``featureId`` is a new village (of collection ``villages``), ``historyId`` the entry of
    its creation, ``routeId`` a new route with two stops.
    """
    with _connection(target) as conn:
        village_id = make_village(conn)
        history_id = conn.execute(
            sa.select(_HISTORY.c.id).where(
                _HISTORY.c.table_name == catalog.VILLAGES.table.name,
                _HISTORY.c.feature_id == str(village_id),
            )
        ).scalar_one()
        route_id = make_route(conn, stops=TWO_STOPS)
    return {"featureId": str(village_id), "historyId": str(history_id), "routeId": str(route_id)}


def make_key(target: Target, role: str, name: str | None = None) -> str:
    """A new API key of ``role``; its token (committed unless on a test's connection)."""
    with _connection(target) as conn:
        return create_key(conn, name=name or f"test {role}", role=role)[0]
