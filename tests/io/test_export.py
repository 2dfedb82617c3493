"""Issue 13 point 3: every export format, read back with pyogrio, equals the source rows.

Rows of the test's own, with awkward values (diacritics, quotes, newlines, NULLs, lists,
a polygon with a hole, a multipolygon, a line whose vertex order matters), are written
through geo.io.export and read back with GDAL (pyarrow for GeoParquet): same rows, same
properties, geometries equal within 1e-7° (1 mm in a projected CRS) in the same vertex
order, and the CRS read back from the file is the one asked for.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import zipfile
from pathlib import Path
from typing import Any

import geopandas
import pandas as pd
import pyogrio
import pytest
import shapely
import sqlalchemy as sa
from pyproj import CRS, Transformer
from sqlalchemy.engine import Connection

from geo import cql2
from geo.io import export
from geo.kernel.crs import CRS84, ServedCrs, served_crs
from geo.kernel.errors import InvalidInput
from geo.query import features
from geo.store import catalog, models
from geo.store.catalog import Collection
from tests.factories import make_route, make_village, make_zone, unique_code

AWKWARD = 'Vùng "cói" Nga Sơn\nđợt 2 – Hợp tác xã Nga Thanh\'s, 100%'
# Exterior counter-clockwise with a clockwise hole, and a two-part multipolygon.
HOLED = {
    "type": "Polygon",
    "coordinates": [
        [
            [105.9512345, 20.0212345],
            [105.9687654, 20.0212345],
            [105.9687654, 20.0387654],
            [105.9512345, 20.0387654],
            [105.9512345, 20.0212345],
        ],
        [
            [105.9555555, 20.0255555],
            [105.9555555, 20.0311111],
            [105.9611111, 20.0311111],
            [105.9611111, 20.0255555],
            [105.9555555, 20.0255555],
        ],
    ],
}
MULTI = {
    "type": "MultiPolygon",
    "coordinates": [
        [[[105.91, 20.01], [105.92, 20.01], [105.92, 20.02], [105.91, 20.01]]],
        [[[105.93, 20.01], [105.93, 20.02], [105.94, 20.02], [105.93, 20.01]]],
    ],
}
# A zigzag written west to east: read backwards, its first vertex would be the easternmost.
LINE = {
    "type": "LineString",
    "coordinates": [
        [105.7712345, 19.8012345],
        [105.7748765, 19.8067654],
        [105.7794321, 19.8023456],
        [105.7834567, 19.8071111],
    ],
}
# WGS 84 longitude/latitude, VN-2000 / TM-3 105° (Thanh Hóa), WGS 84 / UTM 48N.
CRSS = [CRS84, served_crs("EPSG:5897"), served_crs("EPSG:32648")]


def _selection(collection: Collection, prefix: str, crs: ServedCrs) -> features.ItemsQuery:
    query = features.ItemsQuery(limit=None, crs=crs)
    expression = cql2.parse_filter(f"code LIKE '{prefix}%'", "cql2-text", max_length=1000)
    query.filters.append(cql2.filter_to_sql(expression, collection.queryables()))
    return query


@pytest.fixture
def rows(connection: Connection) -> str:
    """Zones, villages and routes of this test, their codes starting with the returned prefix."""
    prefix = unique_code("T-X", 12)
    make_zone(
        connection,
        geometry=HOLED,
        code=f"{prefix}-z1",
        name=AWKWARD,
        annual_capacity_t=1234.5,
        declared_area_ha=2.25,
        certificate_expiry="2027-03-31",
        commune_codes=["26503", "26506"],
        sources=["Quyết định 1234/QĐ-UBND", "Sở NN&PTNT Thanh Hóa"],
        notes=None,
    )
    make_zone(connection, geometry=MULTI, code=f"{prefix}-z2", name="Ruộng cói Nga Tân")
    make_village(
        connection,
        code=f"{prefix}-v1",
        name="Làng chiếu cói Nga Sơn",
        alt_names=["Làng Hới", 'Hới "chiếu"'],
        households=412,
        recognition_date="2009-08-21",
        operating_effectively=True,
        tourism_linked=False,
        notes="dòng 1\ndòng 2; còn nữa",
    )
    make_village(connection, code=f"{prefix}-v2", name="Làng đá Nhồi", households=None)
    make_route(connection, geometry=LINE, code=f"{prefix}-r1", description="Tuyến <b>thử</b> & đi")
    make_route(connection, code=f"{prefix}-r2", name="Tuyến chưa vẽ")  # no line
    return prefix


def _source(
    conn: Connection, collection: Collection, query: features.ItemsQuery
) -> list[dict[str, Any]]:
    """The selected rows as the items endpoint gives them, with the stored geometry."""
    geojson = json.loads(
        b"["
        + b",".join(
            b
            for batch in features.read_page(conn, collection, query, features.PageResult())
            for b in batch
        )
        + b"]"
    )
    stored = dict(
        conn.execute(
            sa.select(collection.table.c.id, sa.func.ST_AsBinary(collection.table.c.geom)).where(
                collection.table.c.id.in_([f["id"] for f in geojson])
            )
        ).all()
    )
    return [
        {
            "id": f["id"],
            **f["properties"],
            "geometry": None if stored[f["id"]] is None else shapely.from_wkb(stored[f["id"]]),
        }
        for f in geojson
    ]


def _projected(geometry: shapely.Geometry | None, crs: ServedCrs) -> shapely.Geometry | None:
    if geometry is None or crs.srid == 4326:
        return geometry
    to = Transformer.from_crs(4326, crs.srid, always_xy=True)
    return shapely.transform(geometry, lambda xy: _stack(to.transform(xy[:, 0], xy[:, 1])))


def _stack(pair: tuple[Any, Any]) -> Any:
    import numpy as np

    return np.column_stack(pair)


def _read(path: Path, fmt: str, collection: Collection, crs: ServedCrs) -> pd.DataFrame:
    if fmt == "parquet":
        frame = geopandas.read_parquet(path)
        assert frame.crs is not None
        assert CRS(frame.crs).equals(CRS.from_epsg(crs.srid) if crs != CRS84 else CRS("OGC:CRS84"))
        return frame
    if fmt in {"csv", "xlsx"}:
        frame = pyogrio.read_dataframe(path, read_geometry=False)
        if "WKT" in frame:
            frame["geometry"] = [
                shapely.from_wkt(t) if isinstance(t, str) and t else None for t in frame.pop("WKT")
            ]
        else:
            east, north = ("lon", "lat") if crs.srid in {4326, 4756} else ("x", "y")
            xs, ys = frame.pop(east), frame.pop(north)
            frame["geometry"] = [
                shapely.Point(float(x), float(y)) for x, y in zip(xs, ys, strict=True)
            ]
        return frame
    if fmt == "shp":
        members = zipfile.ZipFile(path).namelist()
        assert {f"{collection.id}.{e}" for e in ("shp", "shx", "dbf", "prj", "cpg")} <= set(members)
        assert "README.txt" in members
        assert zipfile.ZipFile(path).read(f"{collection.id}.cpg").strip() == b"UTF-8"
    frame = pyogrio.read_dataframe(path)
    if fmt in {"kml", "kmz"}:
        frame = frame.rename(columns={"Name": "name"})
        frame["geometry"] = shapely.force_2d(frame.geometry.values)
        crs = CRS84
    found = pyogrio.read_info(path)["crs"]
    assert CRS(found).equals(CRS.from_epsg(crs.srid), ignore_axis_order=True), found
    return frame


def _missing(value: Any) -> bool:
    return value is None or value is pd.NaT or (isinstance(value, float) and math.isnan(value))


def _same_value(fmt: str, prop_type: str, expected: Any, got: Any) -> bool:
    if prop_type == "array" and fmt == "parquet":
        return expected is None and got is None or list(got) == expected
    if expected is None or expected == []:
        # CSV and Shapefile cannot tell an empty text from none; KML leaves it out.
        return _missing(got) or got == ""
    if _missing(got):
        return False
    if prop_type == "array":
        return list(got) == expected if fmt == "parquet" else got == ";".join(expected)
    if prop_type == "object":
        return json.loads(got) == expected
    if prop_type in {"integer", "number"}:
        # dBASE, KML and Excel numbers hold 15 significant digits; the others hold all 17.
        close = 1e-14 if fmt in {"shp", "kml", "kmz", "xlsx"} else 0
        return math.isclose(float(got), expected, rel_tol=close)
    if prop_type == "boolean":
        return (got in {"1", "true"} if isinstance(got, str) else bool(float(got))) == expected
    if prop_type == "date":
        return pd.Timestamp(got).date() == dt.date.fromisoformat(expected)
    if prop_type == "datetime":
        moment = pd.Timestamp(expected)
        seen = pd.Timestamp(got)
        if seen.tzinfo is None:
            seen = seen.tz_localize("UTC")
        return abs((seen - moment).total_seconds()) < 0.001
    return bool(got == expected)


def _same_geometry(fmt: str, expected: Any, got: Any, crs: ServedCrs) -> bool:
    if expected is None:
        return _missing(got) or got is None or got.is_empty
    tolerance = 1e-7 if crs.srid in {4326, 4756} else 1e-3
    if fmt == "shp":
        # A Shapefile orients rings its own way (exterior clockwise); vertices keep their
        # sequence from the same first vertex.
        expected, got = shapely.orient_polygons(expected), shapely.orient_polygons(got)
    if fmt in {"shp", "kml", "kmz"} and got.geom_type != expected.geom_type:
        # Shapefile and KML do not tell a polygon from a one-part multipolygon.
        multi = {"Polygon": shapely.MultiPolygon, "LineString": shapely.MultiLineString}
        if expected.geom_type in multi:
            expected = multi[expected.geom_type]([expected])
        else:
            got = multi[got.geom_type]([got])
    return bool(shapely.equals_exact(expected, got, tolerance=tolerance))


def _check(
    fmt: str,
    collection: Collection,
    crs: ServedCrs,
    source: list[dict[str, Any]],
    frame: pd.DataFrame,
) -> None:
    assert len(frame) == len(source)
    key = "feature_id" if fmt in {"kml", "kmz"} else "id"
    by_id = {
        int(float(i)): row for i, row in zip(frame[key], frame.to_dict("records"), strict=True)
    }
    assert set(by_id) == {row["id"] for row in source}
    renamed = (
        export.short_names(["id", *(p.name for p in collection.props)]) if fmt == "shp" else {}
    )
    for row in source:
        got = by_id[row["id"]]
        for prop in collection.props:
            if fmt in {"kml", "kmz"} and prop.name == "description":
                continue  # KML's <description>: checked in its own test
            field = renamed.get(prop.name, prop.name)
            assert field in got, (fmt, field)
            assert _same_value(fmt, prop.type, row[prop.name], got[field]), (
                fmt,
                prop.name,
                row[prop.name],
                got[field],
            )
        expected = _projected(row["geometry"], CRS84 if fmt in {"kml", "kmz"} else crs)
        assert _same_geometry(
            fmt, expected, got["geometry"], crs if fmt not in {"kml", "kmz"} else CRS84
        ), (
            fmt,
            row["id"],
            expected,
            got["geometry"],
        )


@pytest.mark.parametrize("fmt", export.FILE_FORMATS)
@pytest.mark.parametrize("crs", CRSS, ids=lambda c: str(c.srid) if c != CRS84 else "CRS84")
@pytest.mark.parametrize(
    "collection", [catalog.MATERIAL_ZONES, catalog.VILLAGES, catalog.ROUTES], ids=lambda c: c.id
)
def test_every_format_reads_back_as_the_source(
    connection: Connection,
    rows: str,
    tmp_path: Path,
    fmt: str,
    crs: ServedCrs,
    collection: Collection,
) -> None:
    query = _selection(collection, rows, crs)
    done = export.export(connection, collection, query, export.FORMATS[fmt], tmp_path)
    source = _source(connection, collection, _selection(collection, rows, CRS84))
    assert done.features == len(source) == 2
    _check(fmt, collection, crs, source, _read(done.path, fmt, collection, crs))
    if fmt in {"kml", "kmz"}:
        assert bool(done.notes) == (crs != CRS84)


def test_a_cql2_filter_selects_exactly_the_matching_rows(
    connection: Connection, rows: str, tmp_path: Path
) -> None:
    query = _selection(catalog.MATERIAL_ZONES, rows, CRS84)
    expression = cql2.parse_filter("annual_capacity_t > 1000", "cql2-text", max_length=1000)
    query.filters.append(cql2.filter_to_sql(expression, catalog.MATERIAL_ZONES.queryables()))
    done = export.export(
        connection, catalog.MATERIAL_ZONES, query, export.FORMATS["gpkg"], tmp_path
    )
    frame = pyogrio.read_dataframe(done.path)
    assert list(frame["code"]) == [f"{rows}-z1"]


def test_the_geojson_file_is_what_the_items_endpoint_serves(
    connection: Connection, rows: str, tmp_path: Path
) -> None:
    query = _selection(catalog.ROUTES, rows, CRS84)
    done = export.export(connection, catalog.ROUTES, query, export.FORMATS["geojson"], tmp_path)
    document = json.loads(done.path.read_text(encoding="utf-8"))
    assert [f["properties"]["code"] for f in document["features"]] == [f"{rows}-r1", f"{rows}-r2"]
    assert document["features"][0]["geometry"] == LINE
    assert pyogrio.read_info(done.path)["features"] == 2


def test_kml_names_and_describes_each_placemark(
    connection: Connection, rows: str, tmp_path: Path
) -> None:
    query = _selection(catalog.ROUTES, rows, served_crs("EPSG:5897"))
    done = export.export(connection, catalog.ROUTES, query, export.FORMATS["kmz"], tmp_path)
    assert "WGS 84" in done.notes[0] and "5897" in done.notes[0]
    with zipfile.ZipFile(done.path) as archive:
        # LIBKML's KMZ: doc.kml links each layer's file (layers/<id>.kml).
        kml = archive.read("layers/routes.kml").decode()
    assert "<name>Tuyến chưa vẽ</name>" in kml
    # Text is escaped for XML, not dropped or doubled.
    assert (
        "Tuyến &lt;b&gt;thử&lt;/b&gt; &amp; đi" in kml or "<![CDATA[Tuyến <b>thử</b> & đi]]>" in kml
    )


def test_csv_opens_in_excel_with_vietnamese(
    connection: Connection, rows: str, tmp_path: Path
) -> None:
    query = _selection(catalog.VILLAGES, rows, CRS84)
    done = export.export(connection, catalog.VILLAGES, query, export.FORMATS["csv"], tmp_path)
    data = done.path.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")  # the byte-order mark Excel needs for UTF-8
    assert "Làng chiếu cói Nga Sơn" in data.decode("utf-8-sig")
    header = data.decode("utf-8-sig").splitlines()[0].split(",")
    assert header[0] == "id" and header[-2:] == ["lon", "lat"]


def test_xlsx_numbers_are_numbers(connection: Connection, rows: str, tmp_path: Path) -> None:
    import openpyxl

    query = _selection(catalog.MATERIAL_ZONES, rows, CRS84)
    done = export.export(
        connection, catalog.MATERIAL_ZONES, query, export.FORMATS["xlsx"], tmp_path
    )
    sheet = openpyxl.load_workbook(done.path).active
    assert sheet is not None
    header = [c.value for c in sheet[1]]
    first = {h: c.value for h, c in zip(header, sheet[2], strict=True)}
    assert first["annual_capacity_t"] == 1234.5
    assert isinstance(first["certificate_expiry"], dt.datetime | dt.date)
    assert first["name"] == AWKWARD


def test_shapefile_names_fields_and_lists_the_mapping(
    connection: Connection, rows: str, tmp_path: Path
) -> None:
    query = _selection(catalog.VILLAGES, rows, served_crs("EPSG:5897"))
    done = export.export(connection, catalog.VILLAGES, query, export.FORMATS["shp"], tmp_path)
    assert done.renamed["recognition_decision"] == "recognitio"
    assert done.renamed["recognition_date"] == "recognit_1"
    readme = zipfile.ZipFile(done.path).read("README.txt").decode()
    assert "recognit_1     recognition_date" in readme
    prj = zipfile.ZipFile(done.path).read("villages.prj").decode()
    assert CRS(prj).equals(CRS.from_epsg(5897), ignore_axis_order=True)
    assert all(len(name) <= 10 for name in pyogrio.read_info(done.path)["fields"])


def test_a_mixed_layer_gives_one_shapefile_per_geometry_type(
    connection: Connection, tmp_path: Path
) -> None:
    layers = models.table_of(models.ReferenceLayer)
    feature_table = models.table_of(models.ReferenceFeature)
    name = unique_code("t-mixed", 30).lower()
    layer_id = connection.execute(
        sa.insert(layers).values(name=name, title="Hỗn hợp", kind="other").returning(layers.c.id)
    ).scalar_one()
    for wkt, label in [
        ("POINT(105.7 19.8)", "điểm"),
        ("LINESTRING(105.7 19.8, 105.8 19.9)", "đường"),
        ("POLYGON((105.7 19.8, 105.8 19.8, 105.8 19.9, 105.7 19.8))", "vùng"),
        ("MULTIPOLYGON(((105.6 19.8, 105.65 19.8, 105.65 19.9, 105.6 19.8)))", "vùng 2"),
    ]:
        connection.execute(
            sa.insert(feature_table).values(
                layer_id=layer_id,
                properties={"label": label, "size": 1.5},
                geom=sa.func.ST_GeomFromText(wkt, 4326),
            )
        )
    row = connection.execute(sa.select(layers).where(layers.c.id == layer_id)).one()
    collection = catalog._reference_collection(connection, row)
    done = export.export(
        connection, collection, features.ItemsQuery(limit=None), export.FORMATS["shp"], tmp_path
    )
    assert done.features == 4
    members = set(zipfile.ZipFile(done.path).namelist())
    for suffix in ("point", "line", "polygon"):
        assert f"{name}_{suffix}.shp" in members and f"{name}_{suffix}.prj" in members
    read = {
        suffix: pyogrio.read_dataframe(f"/vsizip/{done.path}/{name}_{suffix}.shp")
        for suffix in ("point", "line", "polygon")
    }
    assert list(read["point"]["label"]) == ["điểm"]
    assert list(read["line"]["label"]) == ["đường"]
    assert sorted(read["polygon"]["label"]) == ["vùng", "vùng 2"]
    # The other formats hold the mixed layer in one file.
    done = export.export(
        connection, collection, features.ItemsQuery(limit=None), export.FORMATS["gpkg"], tmp_path
    )
    assert sorted(pyogrio.read_dataframe(done.path)["label"]) == ["vùng", "vùng 2", "điểm", "đường"]


def test_a_page_exports_only_that_page(connection: Connection, rows: str, tmp_path: Path) -> None:
    query = _selection(catalog.VILLAGES, rows, CRS84)
    query.limit, query.offset = 1, 1
    done = export.export(connection, catalog.VILLAGES, query, export.FORMATS["fgb"], tmp_path)
    assert list(pyogrio.read_dataframe(done.path)["code"]) == [f"{rows}-v2"]


def test_format_names() -> None:
    assert export.format_of_path(Path("x.shp.zip")).key == "shp"
    assert export.format_of_path(Path("x.geoparquet")).key == "parquet"
    with pytest.raises(InvalidInput, match="--format"):
        export.format_of_path(Path("x.doc"))
    with pytest.raises(InvalidInput, match="gpkg"):
        export.format_named("exe")
