"""CQL2 filters run in PostGIS give the same answers as the same questions asked in shapely.

Each filter is given as cql2-text and as its cql2-json form; the expected set of codes is
computed with geopandas/shapely/pyproj over the same rows.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import geopandas as gpd
import pandas as pd
import pytest
import shapely
import sqlalchemy as sa
from pyproj import Geod, Transformer
from sqlalchemy.engine import Connection

from geo import catalog, cql2
from geo.errors import InvalidFilter

GEOD = Geod(ellps="WGS84")
TO_VN2000 = Transformer.from_crs(4326, 5897, always_xy=True)
TRA_DONG = shapely.Point(105.679379, 19.850233)


def _frame(connection: Connection, table: str) -> gpd.GeoDataFrame:
    return gpd.read_postgis(f"SELECT * FROM {table}", connection, geom_col="geom")


def _codes_sql(
    connection: Connection,
    collection: catalog.Collection,
    text: str,
    lang: str = "cql2-text",
    **options: Any,
) -> set[str]:
    expression = cql2.parse_filter(text, lang)
    condition = cql2.filter_to_sql(expression, collection.queryables(), **options)
    table = collection.table
    return set(connection.execute(sa.select(table.c.code).where(condition)).scalars())


def _metres(a: shapely.Point, b: shapely.Point) -> float:
    return float(GEOD.inv(a.x, a.y, b.x, b.y)[2])


Expected = Callable[[gpd.GeoDataFrame], "pd.Series[bool]"]

VILLAGE_CASES: list[tuple[str, Expected]] = [
    ("craft_group = 'G4'", lambda f: f.craft_group == "G4"),
    ("craft_group <> 'G4'", lambda f: f.craft_group != "G4"),
    ("name LIKE 'Làng%'", lambda f: f.name.str.startswith("Làng")),
    ("ACCENTI(name) = ACCENTI('tra dong')", lambda f: f.name == "Trà Đông"),
    ("CASEI(name) = CASEI('TRÀ ĐÔNG')", lambda f: f.name == "Trà Đông"),
    (
        "kind IN ('traditional_craft', 'traditional_craft_village')",
        lambda f: f.kind.isin(["traditional_craft", "traditional_craft_village"]),
    ),
    ("workers BETWEEN 100 AND 2000", lambda f: f.workers.between(100, 2000)),
    ("workers IS NULL", lambda f: f.workers.isna()),
    (
        "NOT (craft_group = 'G1') AND tourism_linked = true",
        lambda f: (f.craft_group != "G1") & f.tourism_linked.eq(True),
    ),
    (
        "craft_group = 'G5' OR status = 'lost'",
        lambda f: (f.craft_group == "G5") | (f.status == "lost"),
    ),
    ("recognition_year >= 2022", lambda f: f.recognition_year >= 2022),
    (
        "recognition_date > DATE('2020-01-01')",
        lambda f: pd.to_datetime(f.recognition_date) > pd.Timestamp("2020-01-01"),
    ),
    (
        "S_INTERSECTS(geometry, "
        "POLYGON((105.6 19.7, 105.9 19.7, 105.9 19.9, 105.6 19.9, 105.6 19.7)))",
        lambda f: f.geometry.intersects(shapely.box(105.6, 19.7, 105.9, 19.9)),
    ),
    (
        "S_WITHIN(geometry, BBOX(105.9, 19.9, 106.1, 20.1))",
        lambda f: f.geometry.within(shapely.box(105.9, 19.9, 106.1, 20.1)),
    ),
    (
        "S_DWITHIN(geometry, POINT(105.679379 19.850233), 15000, meters)",
        lambda f: f.geometry.apply(lambda p: _metres(p, TRA_DONG) <= 15000),
    ),
    (
        "S_DWITHIN(geometry, POINT(105.679379 19.850233), 15, kilometers)",
        lambda f: f.geometry.apply(lambda p: _metres(p, TRA_DONG) <= 15000),
    ),
    (
        "A_CONTAINS(crafts, ('dệt chiếu cói'))",
        lambda f: f.crafts.apply(lambda c: "dệt chiếu cói" in c),
    ),
    (
        "A_OVERLAPS(crafts, ('đúc đồng', 'dệt thổ cẩm'))",
        lambda f: f.crafts.apply(lambda c: bool({"đúc đồng", "dệt thổ cẩm"} & set(c))),
    ),
]


@pytest.mark.parametrize(
    ("text", "expected"), VILLAGE_CASES, ids=[c[0][:40] for c in VILLAGE_CASES]
)
def test_village_filters_match_geopandas(
    connection: Connection, text: str, expected: Expected
) -> None:
    frame = _frame(connection, "craft_village")
    want = set(frame[expected(frame).fillna(False).astype(bool)].code)
    got = _codes_sql(connection, catalog.VILLAGES, text)
    assert got == want
    # The same filter written as cql2-json answers the same.
    as_json = json.dumps(cql2.parse_filter(text), ensure_ascii=False)
    assert _codes_sql(connection, catalog.VILLAGES, as_json, "cql2-json") == want
    assert 0 < len(want) < len(frame), "each case must select some villages and not others"


def test_zone_contains_point_and_area_range(connection: Connection) -> None:
    zones = _frame(connection, "material_zone")
    inside = zones.geometry.iloc[0].representative_point()
    text = f"S_CONTAINS(geometry, POINT({inside.x} {inside.y}))"
    assert _codes_sql(connection, catalog.MATERIAL_ZONES, text) == {zones.code.iloc[0]}
    between = "area_ha BETWEEN 200 AND 1000 AND material IN ('sedge', 'medicinal')"
    want = set(
        zones[zones.area_ha.between(200, 1000) & zones.material.isin(["sedge", "medicinal"])].code
    )
    assert want and _codes_sql(connection, catalog.MATERIAL_ZONES, between) == want


def test_literals_in_vn2000_and_latitude_first(connection: Connection) -> None:
    frame = _frame(connection, "craft_village")
    box = shapely.box(105.6, 19.7, 105.9, 19.9)
    want = set(frame[frame.geometry.intersects(box)].code)
    (x1, x2), (y1, y2) = TO_VN2000.transform([105.6, 105.9], [19.7, 19.9])
    in_vn2000 = f"S_INTERSECTS(geometry, BBOX({x1}, {y1}, {x2}, {y2}))"
    got = _codes_sql(connection, catalog.VILLAGES, in_vn2000, filter_srid=5897)
    assert want and got == want
    lat_first = (
        "S_INTERSECTS(geometry, "
        "POLYGON((19.7 105.6, 19.7 105.9, 19.9 105.9, 19.9 105.6, 19.7 105.6)))"
    )
    assert _codes_sql(connection, catalog.VILLAGES, lat_first, swap_axes=True) == want


@pytest.mark.parametrize(
    ("text", "lang", "message"),
    [
        ("colour = 'red'", "cql2-text", "unknown property 'colour'"),
        ("name = ", "cql2-text", "does not parse"),
        ('{"op": "=", "args": [', "cql2-json", "does not parse"),
        ('{"op": "=", "args": [{"property": "nope"}, 1]}', "cql2-json", "unknown property 'nope'"),
        ("workers = 'many'", "cql2-text", "expected a number"),
        ("name LIKE 5", "cql2-text", "pattern must be text"),
        ("S_INTERSECTS(name, POINT(105 20))", "cql2-text", "not a geometry"),
        ("recognition_date > 'yesterday'", "cql2-text", "not a date"),
        ("workers = 1", "cql3-text", "filter-lang"),
        ('{"op": "frobnicate", "args": [1]}', "cql2-json", "frobnicate"),
        ("[1, 2]", "cql2-json", "JSON object"),
    ],
)
def test_bad_filters_say_what_is_wrong(text: str, lang: str, message: str) -> None:
    with pytest.raises(InvalidFilter, match=message.replace("(", r"\(")):
        cql2.filter_to_sql(cql2.parse_filter(text, lang), catalog.VILLAGES.queryables())


def test_filters_through_the_api(client: Any) -> None:
    response = client.get("/collections/villages/items", params={"filter": "colour = 'red'"})
    assert response.status_code == 400
    assert "colour" in response.json()["detail"]
    ok = client.get(
        "/collections/villages/items",
        params={"filter": "ACCENTI(name) LIKE ACCENTI('%dong%')", "limit": 100},
    )
    assert ok.status_code == 200
    names = {f["properties"]["name"] for f in ok.json()["features"]}
    assert "Trà Đông" in names and ok.json()["numberMatched"] == len(names)
