"""What a feature page links to: a village's routes and nearby zones, a route's stops…

The HTML item pages (issue 12) show these; the JSON API does not (its links stay OGC's).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from geo.kernel import collections as ids
from geo.store import models

# How far a material zone counts as "within reach" of a village (and back): about an hour
# by truck on provincial roads, the distance the DOMAIN supply chains span (luồng from the
# western districts to the lowland workshops is further, and shows on the map instead).
REACH_KM = 50.0
_MAX_NEAR = 10

_VILLAGE = models.table_of(models.Village)
_ZONE = models.table_of(models.MaterialZone)
_ROUTE = models.table_of(models.TourismRoute)
_STOP = models.table_of(models.RouteStop)


@dataclass(frozen=True)
class Related:
    """One linked feature: its collection and id, a name, and a few facts to show."""

    collection: str
    id: int
    name: str
    facts: dict[str, Any] = field(default_factory=dict)


@dataclass
class RelatedSet:
    """The related features of one page, by what they are to it."""

    routes: list[Related] = field(default_factory=list)
    stops: list[Related] = field(default_factory=list)
    villages: list[Related] = field(default_factory=list)
    zones: list[Related] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.routes or self.stops or self.villages or self.zones)


def _geography(geom: Any) -> Any:
    return sa.func.geography(geom)


# Lower bounds of a degree's length on the WGS 84 ellipsoid, in metres: of latitude
# (110 574 m at the equator) and of longitude at the equator (111 319 m, times cos φ).
_METRES_PER_DEGREE_LAT = 110_000.0
_METRES_PER_DEGREE_LON = 111_000.0


def reach_degrees(y_min: float, y_max: float, metres: float) -> tuple[float, float]:
    """How far, in degrees of longitude and latitude, a box spanning latitudes ``y_min`` to
    ``y_max`` must grow to hold every point within ``metres`` of it on the ellipsoid.

    Any path of that length changes latitude by at most ``metres / 110 000`` degrees, and
    never reaches past the latitude φ that adds, where a degree of longitude is at least
    111 000 · cos φ metres long: so the longitude changes by at most ``metres`` over that.

    Examples
    --------
    >>> dx, dy = reach_degrees(21.0, 21.0, 50_000)
    >>> round(dx, 3), round(dy, 4)
    (0.484, 0.4545)
    >>> reach_degrees(-89.9, -89.5, 50_000)[0]
    180.0
    """
    dy = metres / _METRES_PER_DEGREE_LAT
    farthest = max(abs(y_min), abs(y_max)) + dy
    if farthest >= 89.0:
        return 180.0, dy
    return min(180.0, metres / (_METRES_PER_DEGREE_LON * math.cos(math.radians(farthest)))), dy


def _near(conn: Connection, table: sa.Table, other: sa.Table, feature_id: int) -> list[Any]:
    """Rows of ``other`` within REACH_KM of feature ``feature_id`` of ``table``, nearest first.

    ``ST_DWithin`` on geography cannot use the geometry's GiST index, and 50 km holds
    thousands of parcels on the national data (a village page took 7.5 s). So: the
    _MAX_NEAR nearest by the index's planar distance bound the search (the true nearest
    are no farther than the farthest of those, measured on the ellipsoid), and a box in
    degrees that surely holds that radius picks the candidates the exact distance sorts.
    """
    here = sa.select(table.c.geom).where(table.c.id == feature_id).scalar_subquery()
    span = conn.execute(
        sa.select(sa.func.ST_YMin(table.c.geom), sa.func.ST_YMax(table.c.geom)).where(
            table.c.id == feature_id
        )
    ).first()
    if span is None or span[0] is None:
        return []
    metres = sa.func.ST_Distance(_geography(other.c.geom), _geography(here))
    planar_nearest = (
        sa.select(metres.label("m")).order_by(other.c.geom.op("<->")(here)).limit(_MAX_NEAR)
    ).subquery()
    found = conn.execute(
        sa.select(sa.func.count(), sa.func.max(planar_nearest.c.m)).select_from(planar_nearest)
    ).one()
    reach_m = REACH_KM * 1000
    if found[0] == _MAX_NEAR:
        reach_m = min(reach_m, float(found[1]))
    dx, dy = reach_degrees(float(span[0]), float(span[1]), reach_m)
    return list(
        conn.execute(
            sa.select(other, (metres / 1000.0).label("distance_km"))
            .where(
                other.c.geom.op("&&")(sa.func.ST_Expand(here, dx, dy)),
                sa.func.ST_DWithin(_geography(other.c.geom), _geography(here), reach_m),
            )
            .order_by(metres, other.c.id)
            .limit(_MAX_NEAR)
        )
    )


def _stops(conn: Connection, route_id: int) -> list[Related]:
    rows = conn.execute(
        sa.select(
            _STOP.c.id,
            _STOP.c.seq,
            sa.func.coalesce(_STOP.c.name, _VILLAGE.c.name).label("name"),
            _STOP.c.village_id,
            _STOP.c.dwell_min,
            _STOP.c.note,
        )
        .select_from(_STOP.outerjoin(_VILLAGE, _VILLAGE.c.id == _STOP.c.village_id))
        .where(_STOP.c.route_id == route_id)
        .order_by(_STOP.c.seq)
    )
    return [
        Related(
            ids.ROUTE_STOPS,
            row.id,
            row.name or "",
            {
                "seq": row.seq,
                "village_id": row.village_id,
                "dwell_min": row.dwell_min,
                "note": row.note,
            },
        )
        for row in rows
    ]


def _routes_through(conn: Connection, village_id: int) -> list[Related]:
    rows = conn.execute(
        sa.select(_ROUTE.c.id, _ROUTE.c.name, _ROUTE.c.status, sa.func.min(_STOP.c.seq))
        .join(_STOP, _STOP.c.route_id == _ROUTE.c.id)
        .where(_STOP.c.village_id == village_id)
        .group_by(_ROUTE.c.id)
        .order_by(_ROUTE.c.name, _ROUTE.c.id)
    )
    return [Related(ids.ROUTES, r.id, r.name, {"status": r.status}) for r in rows]


def _named(conn: Connection, table: sa.Table, collection: str, row_id: int | None) -> list[Related]:
    if row_id is None:
        return []
    found = conn.execute(sa.select(table.c.name).where(table.c.id == row_id)).scalar()
    return [] if found is None else [Related(collection, row_id, found)]


def related(conn: Connection, collection_id: str, feature_id: int) -> RelatedSet:
    """The features a page of ``feature_id`` in ``collection_id`` links to (none for others).

    - a village: the routes stopping there and the material zones within ``REACH_KM``;
    - a material zone: the villages within ``REACH_KM``;
    - a route: its stops in order;
    - a stop: its route and its village.
    """
    found = RelatedSet()
    if collection_id == ids.VILLAGES:
        found.routes = _routes_through(conn, feature_id)
        found.zones = [
            Related(
                ids.MATERIAL_ZONES,
                r.id,
                r.name,
                {"material": r.material, "distance_km": r.distance_km},
            )
            for r in _near(conn, _VILLAGE, _ZONE, feature_id)
        ]
    elif collection_id == ids.MATERIAL_ZONES:
        found.villages = [
            Related(ids.VILLAGES, r.id, r.name, {"crafts": r.crafts, "distance_km": r.distance_km})
            for r in _near(conn, _ZONE, _VILLAGE, feature_id)
        ]
    elif collection_id == ids.ROUTES:
        found.stops = _stops(conn, feature_id)
    elif collection_id == ids.ROUTE_STOPS:
        row = conn.execute(
            sa.select(_STOP.c.route_id, _STOP.c.village_id).where(_STOP.c.id == feature_id)
        ).first()
        if row is not None:
            found.routes = _named(conn, _ROUTE, ids.ROUTES, row.route_id)
            found.villages = _named(conn, _VILLAGE, ids.VILLAGES, row.village_id)
    return found
