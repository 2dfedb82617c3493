"""Province and commune packages (issue 13, point 4): GeoPackage with QGIS styles, KMZ."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pyogrio
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from geo.io.package import Area, write_package
from maps.styles import PACKAGE_PALETTE

KML = "{http://www.opengis.net/kml/2.2}"
LAYERS = ["villages", "material_zones", "routes", "route_stops", "admin_units", "admin_centres"]


def _count(conn: Connection, sql: str) -> int:
    return int(conn.execute(sa.text(sql)).scalar_one())


def test_province_package_holds_every_feature_of_the_demo(
    connection: Connection, tmp_path: Path
) -> None:
    out = tmp_path / "thanh-hoa.gpkg"
    counts = write_package(connection, Area(code="38"), out, palette=PACKAGE_PALETTE)
    listed = {name for name, _ in pyogrio.list_layers(out)}
    assert set(LAYERS) <= listed and "readme" in listed and "layer_styles" in listed
    # The demo is all Thanh Hóa: the province package holds every feature.
    expected = {
        "villages": _count(connection, "SELECT count(*) FROM craft_village"),
        "material_zones": _count(connection, "SELECT count(*) FROM material_zone"),
        "routes": _count(connection, "SELECT count(*) FROM tourism_route"),
        "route_stops": _count(connection, "SELECT count(*) FROM route_stop"),
        "admin_units": _count(
            connection,
            "SELECT count(*) FROM admin_unit WHERE scheme = 'NQ1686/2025' "
            "AND (code = '38' OR parent_code = '38')",
        ),
    }
    for name, count in expected.items():
        assert counts[name] == count > 0, name
        assert pyogrio.read_info(out, layer=name)["features"] == count, name
    villages = pyogrio.read_dataframe(out, layer="villages")
    assert "Trà Đông" in set(villages["name"])
    # gpkg_contents carries both languages' descriptions.
    with sqlite3.connect(out) as db:
        description = db.execute(
            "SELECT description FROM gpkg_contents WHERE table_name = 'villages'"
        ).fetchone()[0]
    assert "Làng nghề" in description and "Craft villages" in description


ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "issue13" / "package"


def test_write_artifacts(connection: Connection) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    write_package(
        connection, Area(code="38"), ARTIFACTS / "thanh-hoa.gpkg", palette=PACKAGE_PALETTE
    )
    write_package(connection, Area(code="38"), ARTIFACTS / "thanh-hoa.kmz", palette=PACKAGE_PALETTE)
