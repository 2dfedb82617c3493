"""Issue 13 point 1: tourism routes and their stops imported."""

from __future__ import annotations

import uuid
from pathlib import Path

import geopandas as gpd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from tests.io.conftest import do_import
from tests.io.test_import_formats import villages, write_geojson


def test_routes_then_stops(import_engine: Engine, tmp_path: Path) -> None:
    """Routes from a line file, then their stops from a CSV naming villages or points."""
    import pandas as pd

    from tests.io.test_import_formats import LONLAT

    prefix = f"RT{uuid.uuid4().hex[:6]}"
    village_file = villages(prefix)
    (tmp_path / "v").mkdir()
    assert do_import(
        import_engine, write_geojson(village_file, tmp_path / "v"), "villages", apply=True
    ).applied
    routes = gpd.GeoDataFrame(
        {
            "code": [f"{prefix}-R"],
            "name": ["Tuyến làng nghề ven sông Mã"],
            "theme": ["Làng nghề"],
            "mode": ["Xe máy"],
        },
        geometry=[None],
        crs="EPSG:4326",
    )
    (tmp_path / "r").mkdir()
    outcome = do_import(import_engine, write_geojson(routes, tmp_path / "r"), "routes", apply=True)
    assert outcome.applied, outcome.as_json()
    stops = pd.DataFrame(
        {
            "route_code": [f"{prefix}-R"] * 3,
            "seq": ["1", "2", "3"],
            "village_code": [f"{prefix}-0", f"{prefix}-1", ""],
            "name": ["", "", "Bến đò Hoằng Hóa"],
            "lon": ["", "", "105,83111"],
            "lat": ["", "", "19,64333"],
        }
    )
    path = tmp_path / "stops.csv"
    stops.to_csv(path, index=False, sep=";")
    outcome = do_import(import_engine, path, "route-stops", apply=True)
    assert outcome.applied, outcome.as_json()
    with import_engine.connect() as conn:
        line = conn.execute(
            sa.text(
                "SELECT ST_NPoints(geom), ST_X(ST_StartPoint(geom)) FROM tourism_route "
                "WHERE code = :c"
            ),
            {"c": f"{prefix}-R"},
        ).one()
    # The route's line is drawn from its three stops, the first at the first village.
    assert line[0] == 3 and abs(line[1] - LONLAT[0][0]) < 1e-9

    # A stop naming an unknown route is rejected with the reason.
    stops.loc[:, "route_code"] = "NO-SUCH-ROUTE"
    stops.to_csv(path, index=False, sep=";")
    refused = do_import(import_engine, path, "route-stops")
    assert all("names no route" in " ".join(r.reasons) for r in refused.rows)
