"""Areas (ha) and lengths (km) computed by PostGIS agree with pyproj's geodesics to 0.1 %."""

from __future__ import annotations

import pytest
import shapely
import sqlalchemy as sa
from pyproj import Geod
from sqlalchemy.engine import Connection

GEOD = Geod(ellps="WGS84")
TOLERANCE = 0.001

POLYGONS = {
    # A 1 km² square near Nga Sơn, a long thin strip across Thanh Hóa, and a large
    # irregular zone in the far south (Cà Mau), where degrees shrink differently.
    "square": "MULTIPOLYGON(((105.95 20,105.9595 20,105.9595 20.009,105.95 20.009,105.95 20)))",
    "strip": "MULTIPOLYGON(((104.5 19.80,106.0 19.80,106.0 19.81,104.5 19.81,104.5 19.80)))",
    "south": "MULTIPOLYGON(((104.9 8.6,105.3 8.7,105.2 9.1,104.95 9.0,104.9 8.6)))",
}
LINES = {
    "short": "LINESTRING(105.7764 19.8064,105.6794 19.8502)",
    "north_south": "LINESTRING(105.8 23.3,105.8 8.6)",
    "zigzag": "LINESTRING(105.46 19.93,105.53 19.98,105.62 20.06,105.65 20.04)",
}


def _geodesic_area_ha(wkt: str) -> float:
    area, _ = GEOD.geometry_area_perimeter(shapely.from_wkt(wkt))
    return abs(area) / 10_000


def _geodesic_length_km(wkt: str) -> float:
    return GEOD.geometry_length(shapely.from_wkt(wkt)) / 1000


@pytest.mark.parametrize("name", sorted(POLYGONS))
def test_zone_area_matches_geodesic(connection: Connection, name: str) -> None:
    wkt = POLYGONS[name]
    area_ha = connection.execute(
        sa.text(
            "INSERT INTO material_zone (code, name, material, geom) "
            "VALUES (:code, 'Vùng đo', 'luong', ST_GeomFromText(:wkt, 4326)) RETURNING area_ha"
        ),
        {"code": f"T-AREA-{name}", "wkt": wkt},
    ).scalar()
    expected = _geodesic_area_ha(wkt)
    assert area_ha == pytest.approx(expected, rel=TOLERANCE)


def test_area_follows_a_reshape(connection: Connection) -> None:
    connection.execute(
        sa.text(
            "INSERT INTO material_zone (code, name, material, geom) "
            "VALUES ('T-RESHAPE', 'Vùng đổi', 'sedge', ST_GeomFromText(:wkt, 4326))"
        ),
        {"wkt": POLYGONS["square"]},
    )
    area_ha = connection.execute(
        sa.text(
            "UPDATE material_zone SET geom = ST_GeomFromText(:wkt, 4326) "
            "WHERE code = 'T-RESHAPE' RETURNING area_ha"
        ),
        {"wkt": POLYGONS["strip"]},
    ).scalar()
    assert area_ha == pytest.approx(_geodesic_area_ha(POLYGONS["strip"]), rel=TOLERANCE)


@pytest.mark.parametrize("name", sorted(LINES))
def test_route_length_matches_geodesic(connection: Connection, name: str) -> None:
    wkt = LINES[name]
    length_km = connection.execute(
        sa.text(
            "INSERT INTO tourism_route (code, name, theme, mode, geom) "
            "VALUES (:code, 'Tuyến đo', 'craft_village', 'car', ST_GeomFromText(:wkt, 4326)) "
            "RETURNING length_km"
        ),
        {"code": f"T-LEN-{name}", "wkt": wkt},
    ).scalar()
    assert length_km == pytest.approx(_geodesic_length_km(wkt), rel=TOLERANCE)


def test_demo_zones_and_routes_match_geodesic(connection: Connection) -> None:
    zones = connection.execute(
        sa.text("SELECT code, area_ha, ST_AsText(geom) AS wkt FROM material_zone")
    ).all()
    routes = connection.execute(
        sa.text(
            "SELECT code, length_km, ST_AsText(geom) AS wkt FROM tourism_route "
            "WHERE geom IS NOT NULL"
        )
    ).all()
    assert len(zones) >= 10 and len(routes) >= 3
    for zone in zones:
        assert zone.area_ha == pytest.approx(_geodesic_area_ha(zone.wkt), rel=TOLERANCE), zone.code
    for route in routes:
        assert route.length_km == pytest.approx(_geodesic_length_km(route.wkt), rel=TOLERANCE), (
            route.code
        )
