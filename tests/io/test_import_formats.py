"""Issue 13 points 1 and 5: one import per format, read back equal to the source.

Fixtures are written in the test with pyogrio (GDAL); rows read back from PostGIS must
carry the same names (with their diacritics), codes, numbers, vertex order and
coordinates (to 1e-7°).
"""

from __future__ import annotations

import uuid
import zipfile
from collections.abc import Callable
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from tests.io.conftest import do_import, stored

NAMES = ["Làng nghề mây tre đan Hoằng Lộc", "Làng đúc đồng Trà Đông", "Nón lá Trường Giang"]
LONLAT = [(105.7812345, 19.8012345), (105.6793791, 19.8502331), (105.8311119, 19.6433337)]


def villages(prefix: str) -> gpd.GeoDataFrame:
    """Three villages in Thanh Hóa with codes of this test's own."""
    return gpd.GeoDataFrame(
        {
            "code": [f"{prefix}-{i}" for i in range(3)],
            "name": NAMES,
            "kind": ["craft_village", "traditional_craft_village", "craft_village"],
            "craft_group": ["G4", "G2", "G2"],
            "geom_precision": ["surveyed"] * 3,
            "households": [120, 1500, 87],
        },
        geometry=[shapely.Point(x, y) for x, y in LONLAT],
        crs="EPSG:4326",
    )


# Zones: an irregular ring whose vertex order must survive (clockwise as drawn).
RING = [(105.95, 20.02), (105.951, 20.0301234), (105.9612345, 20.031), (105.96, 20.02)]


def zones(prefix: str) -> gpd.GeoDataFrame:
    """Two luồng zones with codes of this test's own."""
    shapes = [shapely.Polygon(RING), shapely.Polygon([(x + 0.02, y) for x, y in RING])]
    return gpd.GeoDataFrame(
        {
            "code": [f"{prefix}-z0", f"{prefix}-z1"],
            "name": ["Vùng luồng Bá Thước", "Vùng luồng Quan Hóa"],
            "material": ["luong", "luong"],
            "declared_area_ha": [12.5, 1500.25],
        },
        geometry=shapes,
        crs="EPSG:4326",
    )


def _zip(folder: Path, out: Path) -> Path:
    with zipfile.ZipFile(out, "w") as archive:
        for file in sorted(folder.iterdir()):
            archive.write(file, file.name)
    return out


def write_geojson(frame: gpd.GeoDataFrame, tmp: Path) -> Path:
    path = tmp / "data.geojson"
    pyogrio.write_dataframe(frame, path, driver="GeoJSON", COORDINATE_PRECISION=9)
    return path


def write_gpkg(frame: gpd.GeoDataFrame, tmp: Path) -> Path:
    path = tmp / "data.gpkg"
    pyogrio.write_dataframe(frame.iloc[:0], path, layer="empty_first", driver="GPKG")
    pyogrio.write_dataframe(frame, path, layer="lang_nghe", driver="GPKG", append=False)
    return path


def write_shp_zip(frame: gpd.GeoDataFrame, tmp: Path) -> Path:
    folder = tmp / "shp"
    folder.mkdir()
    pyogrio.write_dataframe(frame, folder / "data.shp", driver="ESRI Shapefile")
    return _zip(folder, tmp / "data.zip")


def write_tab_zip(frame: gpd.GeoDataFrame, tmp: Path) -> Path:
    folder = tmp / "tab"
    folder.mkdir()
    pyogrio.write_dataframe(
        frame, folder / "data.tab", driver="MapInfo File", ENCODING="UTF-8", BOUNDS="102,6,118,24"
    )
    return _zip(folder, tmp / "data.zip")


def write_mif(frame: gpd.GeoDataFrame, tmp: Path) -> Path:
    path = tmp / "data.mif"
    pyogrio.write_dataframe(
        frame, path, driver="MapInfo File", FORMAT="MIF", ENCODING="UTF-8", BOUNDS="102,6,118,24"
    )
    return path


def write_kml(frame: gpd.GeoDataFrame, tmp: Path) -> Path:
    path = tmp / "data.kml"
    pyogrio.write_dataframe(frame, path, driver="LIBKML")
    return path


def write_kmz(frame: gpd.GeoDataFrame, tmp: Path) -> Path:
    path = tmp / "data.kmz"
    pyogrio.write_dataframe(frame, path, driver="LIBKML")
    return path


def write_fgb(frame: gpd.GeoDataFrame, tmp: Path) -> Path:
    path = tmp / "data.fgb"
    pyogrio.write_dataframe(frame, path, driver="FlatGeobuf")
    return path


WRITERS: dict[str, Callable[[gpd.GeoDataFrame, Path], Path]] = {
    "geojson": write_geojson,
    "gpkg": write_gpkg,
    "shp-zip": write_shp_zip,
    "tab-zip": write_tab_zip,
    "mif": write_mif,
    "kml": write_kml,
    "kmz": write_kmz,
    "fgb": write_fgb,
}
# MapInfo stores coordinates as integers on a grid of its bounds (BOUNDS: Vietnam, ~4e-9°).
TOLERANCE: dict[str, float] = {}


def _prefix(name: str) -> str:
    return f"T{name[:3].upper()}{uuid.uuid4().hex[:6]}"


@pytest.mark.parametrize("fmt", list(WRITERS))
def test_villages_round_trip(fmt: str, import_engine: Engine, tmp_path: Path) -> None:
    source = villages(_prefix(fmt))
    path = WRITERS[fmt](source, tmp_path)
    outcome = do_import(import_engine, path, "villages", apply=True)
    assert outcome.applied, outcome.as_json()
    assert outcome.counts["inserted"] == 3
    back = stored(import_engine, "craft_village", list(source["code"]))
    assert list(back["code"]) == list(source["code"])
    assert list(back["name"]) == NAMES
    assert list(back["households"]) == [120, 1500, 87]
    assert list(back["craft_group"]) == ["G4", "G2", "G2"]
    xy = shapely.get_coordinates(back.geometry.values)
    np.testing.assert_allclose(xy, np.array(LONLAT), atol=TOLERANCE.get(fmt, 1e-7), rtol=0)


@pytest.mark.parametrize("fmt", ["gpkg", "shp-zip", "tab-zip", "geojson"])
def test_zones_keep_vertex_order(fmt: str, import_engine: Engine, tmp_path: Path) -> None:
    source = zones(_prefix(fmt))
    path = WRITERS[fmt](source, tmp_path)
    outcome = do_import(import_engine, path, "material-zones", apply=True)
    assert outcome.applied, outcome.as_json()
    back = stored(import_engine, "material_zone", list(source["code"]))
    assert list(back["name"]) == list(source["name"])
    assert list(back["declared_area_ha"]) == [12.5, 1500.25]
    for mine, theirs in zip(back.geometry.values, source.geometry.values, strict=True):
        assert mine.geom_type == "MultiPolygon"
        got = shapely.get_coordinates(mine.geoms[0].exterior)
        want = shapely.get_coordinates(theirs.exterior)
        if fmt == "shp-zip" or fmt == "tab-zip":
            # Shapefile and MapInfo rings are clockwise; the start vertex is kept.
            assert got[0] == pytest.approx(want[0], abs=2e-7)
            if not shapely.LinearRing(want).is_ccw:
                np.testing.assert_allclose(got, want, atol=2e-7, rtol=0)
        else:
            np.testing.assert_allclose(got, want, atol=1e-7, rtol=0)


def test_gpx_waypoints_and_tracks(import_engine: Engine, tmp_path: Path) -> None:
    """GPX waypoints become points, a track a line (reference layers: GPX has no craft fields)."""
    points = gpd.GeoDataFrame(
        {"name": NAMES}, geometry=[shapely.Point(x, y) for x, y in LONLAT], crs="EPSG:4326"
    )
    path = tmp_path / "trip.gpx"
    pyogrio.write_dataframe(points, path, driver="GPX", layer="waypoints")
    name = f"gpx-{uuid.uuid4().hex[:8]}"
    outcome = do_import(import_engine, path, f"layers/{name}", apply=True)
    assert outcome.applied, outcome.as_json()
    assert outcome.layer == "waypoints"
    with import_engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT f.properties->>'name', ST_X(f.geom), ST_Y(f.geom) FROM reference_feature f "
                "JOIN reference_layer l ON l.id = f.layer_id WHERE l.name = :n ORDER BY f.id"
            ),
            {"n": name},
        ).all()
    assert [r[0] for r in rows] == NAMES
    np.testing.assert_allclose([(r[1], r[2]) for r in rows], LONLAT, atol=1e-7, rtol=0)

    track = gpd.GeoDataFrame(
        {"name": ["Đường làng"]}, geometry=[shapely.MultiLineString([LONLAT])], crs="EPSG:4326"
    )
    path = tmp_path / "track.gpx"
    pyogrio.write_dataframe(track, path, driver="GPX", layer="tracks")
    line_layer = f"gpx-{uuid.uuid4().hex[:8]}"
    outcome = do_import(import_engine, path, f"layers/{line_layer}", apply=True)
    assert outcome.applied, outcome.as_json()
    assert outcome.layer == "tracks"
    with import_engine.connect() as conn:
        wkt = conn.execute(
            sa.text(
                "SELECT ST_AsText(f.geom) FROM reference_feature f JOIN reference_layer l "
                "ON l.id = f.layer_id WHERE l.name = :n"
            ),
            {"n": line_layer},
        ).scalar_one()
    assert wkt.startswith("MULTILINESTRING") or wkt.startswith("LINESTRING")


def test_csv_lonlat_with_decimal_commas(import_engine: Engine, tmp_path: Path) -> None:
    prefix = _prefix("csv")
    source = villages(prefix)
    frame = pd.DataFrame(source.drop(columns="geometry"))
    frame["lon"] = [f"{x:.7f}".replace(".", ",") for x, _ in LONLAT]
    frame["lat"] = [f"{y:.7f}".replace(".", ",") for _, y in LONLAT]
    frame["households"] = ["120", "1.500", "87"]
    path = tmp_path / "lang_nghe.csv"
    frame.to_csv(path, sep=";", index=False, encoding="utf-8")
    outcome = do_import(import_engine, path, "villages", apply=True)
    assert outcome.applied, outcome.as_json()
    assert any("decimal comma" in note for note in outcome.notes)
    back = stored(import_engine, "craft_village", list(source["code"]))
    assert list(back["name"]) == NAMES
    assert list(back["households"]) == [120, 1500, 87]
    np.testing.assert_allclose(
        shapely.get_coordinates(back.geometry.values), np.array(LONLAT), atol=1e-7, rtol=0
    )


def test_csv_xy_in_vn2000_tm3(import_engine: Engine, tmp_path: Path) -> None:
    from pyproj import Transformer

    from geo.kernel.crs import vn2000_tm3

    prefix = _prefix("xy")
    source = villages(prefix)
    to_tm3 = Transformer.from_crs(4326, vn2000_tm3(105.5), always_xy=True)
    xs, ys = to_tm3.transform([p[0] for p in LONLAT], [p[1] for p in LONLAT])
    frame = pd.DataFrame(source.drop(columns="geometry"))
    frame["x"] = [f"{v:.4f}" for v in xs]
    frame["y"] = [f"{v:.4f}" for v in ys]
    path = tmp_path / "toado.csv"
    frame.to_csv(path, index=False)
    outcome = do_import(import_engine, path, "villages", apply=True, crs="vn2000-tm3:105.5")
    assert outcome.applied, outcome.as_json()
    back = stored(import_engine, "craft_village", list(source["code"]))
    # 0.1 mm in the file is about 1e-9°.
    np.testing.assert_allclose(
        shapely.get_coordinates(back.geometry.values), np.array(LONLAT), atol=1e-7, rtol=0
    )


def test_xlsx_second_sheet(import_engine: Engine, tmp_path: Path) -> None:
    prefix = _prefix("xls")
    source = villages(prefix)
    frame = pd.DataFrame(source.drop(columns="geometry"))
    frame["kinh_do"] = [x for x, _ in LONLAT]
    frame["vi_do"] = [y for _, y in LONLAT]
    path = tmp_path / "lang_nghe.xlsx"
    pyogrio.write_dataframe(
        pd.DataFrame({"ghi_chu": ["bảng khác"]}), path, layer="Ghi chú", driver="XLSX"
    )
    pyogrio.write_dataframe(frame, path, layer="Làng nghề", driver="XLSX", append=True)
    outcome = do_import(import_engine, path, "villages", apply=True, layer="Làng nghề")
    assert outcome.applied, outcome.as_json()
    assert any("kinh_do → lon" in note for note in outcome.notes)
    back = stored(import_engine, "craft_village", list(source["code"]))
    assert list(back["name"]) == NAMES
    np.testing.assert_allclose(
        shapely.get_coordinates(back.geometry.values), np.array(LONLAT), atol=1e-7, rtol=0
    )
