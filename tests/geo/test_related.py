"""The zones and villages a feature page lists as within reach (geo.query.related).

Answers checked against the ellipsoid (pyproj's geodesics) and against the plain query
that measures every row; the fast path must agree with both and use the spatial index.
"""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st
from pyproj import Geod
from sqlalchemy.engine import Connection

from geo.kernel import collections as ids
from geo.query import related
from tests.factories import make_village, make_zone, unique_code

WGS84 = Geod(ellps="WGS84")
HERE = (105.68, 19.85)  # inside Thanh Hóa, so the province rules accept the test's zones


def _at(azimuth: float, km: float) -> tuple[float, float]:
    lon, lat, _ = WGS84.fwd(*HERE, azimuth, km * 1000)
    return lon, lat


def _dot(lon: float, lat: float) -> dict[str, Any]:
    """A zone a metre across centred on (lon, lat): its distance is the point's."""
    d = 0.000005
    ring = [[lon - d, lat - d], [lon + d, lat - d], [lon + d, lat + d], [lon - d, lat + d]]
    return {"type": "Polygon", "coordinates": [[*ring, ring[0]]]}


@settings(max_examples=300, deadline=None)
@given(
    lat=st.floats(-85, 85),
    azimuth=st.floats(-180, 180),
    km=st.floats(0.001, 500),
)
def test_the_box_holds_every_point_within_reach(lat: float, azimuth: float, km: float) -> None:
    lon2, lat2, _ = WGS84.fwd(100.0, lat, azimuth, km * 1000)
    dx, dy = related.reach_degrees(lat, lat, km * 1000)
    assert abs(lat2 - lat) <= dy
    assert dx == 180.0 or abs((lon2 - 100.0 + 180) % 360 - 180) <= dx


def test_a_flat_degree_box_would_miss_a_zone_the_ellipsoid_keeps() -> None:
    # 49.7 km due east at 19.85° N is 0.4745° of longitude; 50 km / 111 km = 0.4505°.
    lon, _ = _at(90, 49.7)
    assert lon - HERE[0] > 50 / 111
    dx, _ = related.reach_degrees(HERE[1], HERE[1], 50_000)
    assert dx >= lon - HERE[0]


def _brute_force(conn: Connection, village: int) -> list[tuple[int, float]]:
    """Every zone measured on the ellipsoid, the nearest ten within reach."""
    rows = conn.execute(
        sa.text(
            "SELECT z.id, ST_Distance(geography(z.geom), geography(v.geom)) / 1000 AS km"
            " FROM material_zone z, craft_village v WHERE v.id = :v"
            " AND ST_Distance(geography(z.geom), geography(v.geom)) <= :reach"
            " ORDER BY 2, 1 LIMIT 10"
        ),
        {"v": village, "reach": related.REACH_KM * 1000},
    )
    return [(r.id, r.km) for r in rows]


def test_nearest_zones_on_the_ellipsoid_not_in_degrees(connection: Connection) -> None:
    connection.execute(sa.text("DELETE FROM material_zone"))
    village = make_village(connection, at=HERE, code=unique_code("T-V-NEAR"))
    placed: dict[str, int] = {}

    def zone(label: str, azimuth: float, km: float) -> None:
        at = _at(azimuth, km)
        placed[label] = make_zone(connection, geometry=_dot(*at), code=unique_code("T-Z-NEAR"))

    for n in range(9):  # nine close ones, 3 km around
        zone(f"close{n}", n * 40.0, 3.0)
    # In degrees, the zone 10.5 km north (0.0949°) is nearer than the one 10.0 km east
    # (0.0957°); on the ground the east one is. Ten are listed: east is the tenth, north
    # is not listed. A nearest-ten by degrees would have listed north instead.
    zone("east", 90.0, 10.0)
    zone("north", 0.0, 10.5)
    zone("far east", 90.0, 49.7)  # in reach, beyond a flat 50/111° box
    zone("out", 90.0, 50.3)

    listed = related.related(connection, ids.VILLAGES, village).zones
    got = [(z.id, z.facts["distance_km"]) for z in listed]
    assert [i for i, _ in got] == [i for i, _ in _brute_force(connection, village)]
    assert placed["east"] in [i for i, _ in got] and placed["north"] not in [i for i, _ in got]
    assert got[-1] == (placed["east"], pytest.approx(10.0, abs=0.005))

    # With the close ones gone, the far one in reach is listed and the one beyond is not.
    connection.execute(
        sa.text("DELETE FROM material_zone WHERE id = ANY(:ids)"),
        {"ids": [placed[f"close{n}"] for n in range(9)]},
    )
    kept = [
        (z.id, round(z.facts["distance_km"], 1))
        for z in related.related(connection, ids.VILLAGES, village).zones
    ]
    assert kept == [
        (placed["east"], 10.0),
        (placed["north"], 10.5),
        (placed["far east"], 49.7),
    ]


def test_the_search_uses_the_spatial_index(connection: Connection) -> None:
    village = make_village(connection, at=HERE, code=unique_code("T-V-INDEX"))
    seen: list[tuple[str, Any]] = []

    def remember(conn: Any, cursor: Any, statement: str, params: Any, *_: Any) -> None:
        if "ST_DWithin" in statement:
            seen.append((statement, params))

    sa.event.listen(connection, "before_cursor_execute", remember)
    try:
        related.related(connection, ids.VILLAGES, village)
    finally:
        sa.event.remove(connection, "before_cursor_execute", remember)
    assert len(seen) == 1
    statement, params = seen[0]
    connection.execute(sa.text("SET LOCAL enable_seqscan = off"))
    raw = connection.connection.driver_connection
    assert raw is not None
    plan = "\n".join(r[0] for r in raw.execute("EXPLAIN " + statement, params))
    assert "Seq Scan on material_zone" not in plan, plan
