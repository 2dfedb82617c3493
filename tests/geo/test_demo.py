"""The Thanh Hóa demo dataset: its content, and loading it is idempotent and all-or-nothing."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from geo.io import ingest
from geo.kernel.errors import InvalidInput
from geo.store import migrate
from geo.store.db import make_engine
from tests import DEMO_DIR

COUNT_SQL = {
    "craft_village": "SELECT count(*) FROM craft_village",
    "material_zone": "SELECT count(*) FROM material_zone",
    "tourism_route": "SELECT count(*) FROM tourism_route",
    "route_stop": "SELECT count(*) FROM route_stop",
    "admin_unit": "SELECT count(*) FROM admin_unit",
    "feature_history": "SELECT count(*) FROM feature_history",
}


def _counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {
            name: int(conn.execute(sa.text(sql)).scalar() or 0) for name, sql in COUNT_SQL.items()
        }


def test_second_load_changes_nothing(engine: Engine) -> None:
    before = _counts(engine)
    report = ingest.load_demo(engine, demo_dir=DEMO_DIR, actor="test-second-load")
    after = _counts(engine)
    assert report.written == 0
    assert all(c.unchanged > 0 for c in report.tables.values())
    # Same rows, and no history rows for the no-op load.
    assert after == before


def test_villages_hold_what_the_issue_asks(connection: Connection) -> None:
    rows = connection.execute(
        sa.text(
            "SELECT code, name, commune_name, crafts, kind, geom_precision, precision_m, "
            "geom_source, ST_X(geom) AS lon, ST_Y(geom) AS lat FROM craft_village"
        )
    ).all()
    assert len(rows) >= 30
    for row in rows:
        assert row.commune_name and row.crafts and row.kind, row.code
        assert row.geom_precision and row.geom_source and row.precision_m, row.code
        # Thanh Hóa's extent.
        assert 104.3 <= row.lon <= 106.2 and 19.2 <= row.lat <= 20.7, row.code
    names = {row.name for row in rows}
    assert any("Trà Đông" in name for name in names)  # diacritics survive the round trip


def test_zones_cover_the_materials_where_they_grow(connection: Connection) -> None:
    rows = connection.execute(
        sa.text(
            "SELECT code, material, legacy_district, ST_X(ST_Centroid(geom)) AS lon, area_ha "
            "FROM material_zone"
        )
    ).all()
    assert len(rows) >= 10
    materials = {row.material for row in rows}
    assert {"luong", "rattan", "sedge", "medicinal"} <= materials
    for row in rows:
        assert row.area_ha > 0
        if row.material in {"luong", "vau", "nua"}:
            # Bamboo and luồng grow in the western mountain districts.
            assert row.lon < 105.7, row.code
        if row.material == "sedge":
            # Sedge grows on the coastal plain (Nga Sơn, Quảng Xương).
            assert row.lon > 105.7, row.code


def test_routes_pass_through_their_villages(connection: Connection) -> None:
    routes = connection.execute(
        sa.text(
            "SELECT r.code, r.length_km, count(s.id) AS stops, count(s.village_id) AS villages, "
            "bool_and(ST_DWithin(s.geom, r.geom, 1e-9)) AS on_line "
            "FROM tourism_route r JOIN route_stop s ON s.route_id = r.id GROUP BY r.id"
        )
    ).all()
    assert len(routes) >= 3
    for route in routes:
        assert route.stops >= 3 and route.villages >= 2, route.code
        assert route.on_line, route.code
        assert route.length_km > 1, route.code


def _migrated_engine(url: str) -> Engine:
    migrate.upgrade(url)
    return make_engine(url)


def test_dry_run_writes_nothing(fresh_database_url: str) -> None:
    engine = _migrated_engine(fresh_database_url)
    report = ingest.load_demo(engine, demo_dir=DEMO_DIR, dry_run=True)
    assert report.tables["craft_village"].inserted >= 30
    assert all(n == 0 for n in _counts(engine).values())
    engine.dispose()


def test_a_bad_file_writes_nothing(fresh_database_url: str, tmp_path: Path) -> None:
    demo = tmp_path / "demo"
    shutil.copytree(DEMO_DIR, demo)
    stops = demo / "route_stops.csv"
    lines = stops.read_text(encoding="utf-8").splitlines()
    header = lines[0].split(",")
    bad = dict.fromkeys(header, "")
    bad.update({"route_code": "TH-R-001", "seq": "99", "village_code": "NO-SUCH-VILLAGE"})
    stops.write_text("\n".join([*lines, ",".join(bad[h] for h in header)]) + "\n", "utf-8")
    engine = _migrated_engine(fresh_database_url)
    with pytest.raises(InvalidInput, match="NO-SUCH-VILLAGE"):
        ingest.load_demo(engine, demo_dir=demo)
    # Villages and zones were loaded before the failing stops: all rolled back.
    assert all(n == 0 for n in _counts(engine).values())
    engine.dispose()
