"""CQL2 filters run in PostGIS give the same answers as the same questions asked in pandas.

Each filter is given as cql2-text and, written out by hand, as cql2-json; the expected set
of village or zone codes is computed over the same rows with geopandas, shapely and pyproj,
never with PostGIS. Spatial cases check that no feature lies so close to the literal's
edge (or the S_DWITHIN distance) that geodesic and planar arithmetic could disagree.
"""

from __future__ import annotations

import json
import random
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
import sqlalchemy as sa
from geoalchemy2 import Geometry
from pyproj import Geod, Transformer
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.engine import Connection

from geo.cql2 import MAX_DEPTH, Queryable, filter_to_sql, parse_filter
from geo.kernel.crs import SRID_VN2000_TM3_105
from geo.kernel.errors import InvalidFilter
from geo.store import models

VILLAGE = models.table_of(models.Village)
ZONE = models.table_of(models.MaterialZone)
GEOD = Geod(ellps="WGS84")
TO_VN2000 = Transformer.from_crs(4326, SRID_VN2000_TM3_105, always_xy=True)
FROM_VN2000 = Transformer.from_crs(SRID_VN2000_TM3_105, 4326, always_xy=True)
TRA_DONG = shapely.Point(105.679379, 19.850233)  # the village, to the last digit stored
# A box in VN-2000 / TM-3 metres over the middle of the delta, and a point in the same CRS.
VN_BOX = (565_000.0, 2_181_000.0, 590_000.0, 2_199_000.0)
VN_POINT = (571_000.0, 2_195_000.0)


def queryables(table: sa.Table) -> dict[str, Queryable]:
    """Every column as a queryable of its JSON type; ``geom`` is ``geometry``."""
    found: dict[str, Queryable] = {}
    for column in table.columns:
        kind = column.type
        if column.name == "geom":
            found["geometry"] = Queryable("geometry", column, "geometry")
            continue
        if isinstance(kind, JSONB | Geometry):
            continue
        if isinstance(kind, ARRAY):
            name = "array"
        elif isinstance(kind, sa.Boolean):
            name = "boolean"
        elif isinstance(kind, sa.Integer):
            name = "integer"
        elif isinstance(kind, sa.Numeric | sa.Float):
            name = "number"
        elif isinstance(kind, sa.DateTime):
            name = "datetime"
        elif isinstance(kind, sa.Date):
            name = "date"
        else:
            name = "string"
        found[column.name] = Queryable(column.name, column, name)
    return found


TABLES = {"village": VILLAGE, "zone": ZONE}
QUERYABLES = {key: queryables(table) for key, table in TABLES.items()}


def codes(
    connection: Connection, table: str, text: str, lang: str = "cql2-text", **options: Any
) -> set[str]:
    condition = filter_to_sql(parse_filter(text, lang), QUERYABLES[table], **options)
    selected = sa.select(TABLES[table].c.code).where(condition)
    return set(connection.execute(selected).scalars())


def fold(text: str) -> str:
    """What lower(unaccent()) does to Vietnamese, computed without the database."""
    bare = "".join(c for c in unicodedata.normalize("NFD", text) if not unicodedata.combining(c))
    return bare.replace("đ", "d").replace("Đ", "D").lower()


def metres_from(lon: float, lat: float, frame: gpd.GeoDataFrame) -> pd.Series:
    """Geodesic distance on WGS 84 (what geography measures) from a point to each row."""
    xs, ys = frame.geometry.x.to_numpy(), frame.geometry.y.to_numpy()
    _, _, distance = GEOD.inv(np.full(len(xs), lon), np.full(len(xs), lat), xs, ys)
    return pd.Series(distance, index=frame.index)


def dates(frame: gpd.GeoDataFrame) -> pd.Series:
    return pd.to_datetime(frame.recognition_date)


Mask = Callable[[gpd.GeoDataFrame], "pd.Series[bool]"]


@dataclass(frozen=True)
class Case:
    """One question, as cql2-text and cql2-json, and its answer computed in pandas."""

    id: str
    text: str
    json: dict[str, Any]
    expected: Mask
    table: str = "village"
    options: dict[str, Any] = field(default_factory=dict)
    # Points must lie this far (degrees) from the literal's edge for the answer to be robust.
    edge: shapely.Geometry | None = None
    # (lon, lat, metres): no row may lie within 1 % of the S_DWITHIN distance.
    around: tuple[float, float, float] | None = None


def prop(name: str) -> dict[str, str]:
    return {"property": name}


def polygon(*ring: tuple[float, float]) -> dict[str, Any]:
    return {"type": "Polygon", "coordinates": [[list(p) for p in (*ring, ring[0])]]}


DELTA = shapely.box(105.6, 19.7, 105.9, 19.9)
COAST = shapely.box(105.9, 19.9, 106.1, 20.1)
TRIANGLE = shapely.Polygon([(105.6, 19.7), (106.1, 19.7), (105.85, 20.1)])
VN_POINT_LONLAT = FROM_VN2000.transform(*VN_POINT)

CASES = [
    Case(
        "equals-enum",
        "craft_group = 'G4'",
        {"op": "=", "args": [prop("craft_group"), "G4"]},
        lambda f: f.craft_group == "G4",
    ),
    Case(
        "not-equal-and",
        "craft_group <> 'G4' AND kind <> 'craft_village'",
        {
            "op": "and",
            "args": [
                {"op": "<>", "args": [prop("craft_group"), "G4"]},
                {"op": "<>", "args": [prop("kind"), "craft_village"]},
            ],
        },
        lambda f: (f.craft_group != "G4") & (f.kind != "craft_village"),
    ),
    Case(
        "like-diacritics",
        "name LIKE 'Trà%'",
        {"op": "like", "args": [prop("name"), "Trà%"]},
        lambda f: f.name.str.startswith("Trà"),
    ),
    Case(
        "like-one-character",
        "name LIKE 'Nga T_n%'",
        {"op": "like", "args": [prop("name"), "Nga T_n%"]},
        lambda f: f.name.str.match(r"Nga T.n"),
    ),
    Case(
        "accenti-equals",
        "ACCENTI(name) = ACCENTI('tra dong')",
        {
            "op": "=",
            "args": [
                {"op": "accenti", "args": [prop("name")]},
                {"op": "accenti", "args": ["tra dong"]},
            ],
        },
        lambda f: f.name.map(fold) == "tra dong",
    ),
    Case(
        "accenti-like",
        "ACCENTI(name) LIKE ACCENTI('%thon%')",
        {
            "op": "like",
            "args": [
                {"op": "accenti", "args": [prop("name")]},
                {"op": "accenti", "args": ["%thon%"]},
            ],
        },
        lambda f: f.name.map(fold).str.contains("thon"),
    ),
    Case(
        "casei-like",
        "CASEI(name) LIKE CASEI('%SINH VẬT CẢNH%')",
        {
            "op": "like",
            "args": [
                {"op": "casei", "args": [prop("name")]},
                {"op": "casei", "args": ["%SINH VẬT CẢNH%"]},
            ],
        },
        lambda f: f.name.str.lower().str.contains("sinh vật cảnh"),
    ),
    Case(
        "casei-and-accenti",
        "ACCENTI(CASEI(name)) LIKE ACCENTI(CASEI('NON LA%'))",
        {
            "op": "like",
            "args": [
                {"op": "accenti", "args": [{"op": "casei", "args": [prop("name")]}]},
                {"op": "accenti", "args": [{"op": "casei", "args": ["NON LA%"]}]},
            ],
        },
        lambda f: f.name.map(fold).str.startswith("non la"),
    ),
    Case(
        "in",
        "kind IN ('traditional_craft', 'traditional_craft_village')",
        {"op": "in", "args": [prop("kind"), ["traditional_craft", "traditional_craft_village"]]},
        lambda f: f.kind.isin(["traditional_craft", "traditional_craft_village"]),
    ),
    Case(
        "between-households",
        "households BETWEEN 100 AND 200",
        {"op": "between", "args": [prop("households"), 100, 200]},
        lambda f: f.households.between(100, 200),
    ),
    Case(
        "is-null",
        "recognition_year IS NULL",
        {"op": "isNull", "args": [prop("recognition_year")]},
        lambda f: f.recognition_year.isna(),
    ),
    Case(
        "is-not-null-or",
        "ocop_stars IS NOT NULL OR craft_group = 'G5' OR status = 'lost'",
        {
            "op": "or",
            "args": [
                {"op": "not", "args": [{"op": "isNull", "args": [prop("ocop_stars")]}]},
                {"op": "=", "args": [prop("craft_group"), "G5"]},
                {"op": "=", "args": [prop("status"), "lost"]},
            ],
        },
        lambda f: f.ocop_stars.notna() | (f.craft_group == "G5") | (f.status == "lost"),
    ),
    Case(
        "not-and-boolean",
        "NOT (craft_group = 'G1') AND tourism_linked = true",
        {
            "op": "and",
            "args": [
                {"op": "not", "args": [{"op": "=", "args": [prop("craft_group"), "G1"]}]},
                {"op": "=", "args": [prop("tourism_linked"), True]},
            ],
        },
        lambda f: (f.craft_group != "G1") & f.tourism_linked.eq(True),
    ),
    Case(
        # SQL's three-valued logic: NOT of an unknown comparison is still unknown.
        "not-skips-unknown",
        "NOT (recognition_year >= 2022)",
        {"op": "not", "args": [{"op": ">=", "args": [prop("recognition_year"), 2022]}]},
        lambda f: f.recognition_year < 2022,
    ),
    Case(
        "date-greater",
        "recognition_date > DATE('2020-01-01')",
        {"op": ">", "args": [prop("recognition_date"), {"date": "2020-01-01"}]},
        lambda f: dates(f) > pd.Timestamp("2020-01-01"),
    ),
    Case(
        "date-between",
        "recognition_date BETWEEN DATE('2015-01-01') AND DATE('2021-12-31')",
        {
            "op": "between",
            "args": [prop("recognition_date"), {"date": "2015-01-01"}, {"date": "2021-12-31"}],
        },
        lambda f: dates(f).between(pd.Timestamp("2015-01-01"), pd.Timestamp("2021-12-31")),
    ),
    Case(
        "t-before",
        "T_BEFORE(recognition_date, DATE('2016-01-01'))",
        {"op": "t_before", "args": [prop("recognition_date"), {"date": "2016-01-01"}]},
        lambda f: dates(f) < pd.Timestamp("2016-01-01"),
    ),
    Case(
        "t-during-open",
        "T_DURING(recognition_date, INTERVAL('2021-06-01', '..'))",
        {"op": "t_during", "args": [prop("recognition_date"), {"interval": ["2021-06-01", ".."]}]},
        lambda f: dates(f) > pd.Timestamp("2021-06-01"),
    ),
    Case(
        "t-intersects",
        "T_INTERSECTS(recognition_date, INTERVAL('2022-01-01', '2022-12-31'))",
        {
            "op": "t_intersects",
            "args": [prop("recognition_date"), {"interval": ["2022-01-01", "2022-12-31"]}],
        },
        lambda f: dates(f).dt.year == 2022,
    ),
    Case(
        "s-intersects-polygon",
        "S_INTERSECTS(geometry, POLYGON((105.6 19.7, 105.9 19.7, 105.9 19.9, 105.6 19.9, "
        "105.6 19.7)))",
        {
            "op": "s_intersects",
            "args": [
                prop("geometry"),
                polygon((105.6, 19.7), (105.9, 19.7), (105.9, 19.9), (105.6, 19.9)),
            ],
        },
        lambda f: f.geometry.intersects(DELTA),
        edge=DELTA,
    ),
    Case(
        "s-intersects-bbox",
        "S_INTERSECTS(geometry, BBOX(105.9, 19.9, 106.1, 20.1))",
        {"op": "s_intersects", "args": [prop("geometry"), {"bbox": [105.9, 19.9, 106.1, 20.1]}]},
        lambda f: f.geometry.intersects(COAST),
        edge=COAST,
    ),
    Case(
        "s-within-triangle",
        "S_WITHIN(geometry, POLYGON((105.6 19.7, 106.1 19.7, 105.85 20.1, 105.6 19.7)))",
        {
            "op": "s_within",
            "args": [prop("geometry"), polygon((105.6, 19.7), (106.1, 19.7), (105.85, 20.1))],
        },
        lambda f: f.geometry.within(TRIANGLE),
        edge=TRIANGLE,
    ),
    Case(
        "s-disjoint-bbox-3d",
        "S_DISJOINT(geometry, BBOX(105.6, 19.7, 0, 105.9, 19.9, 100))",
        {
            "op": "s_disjoint",
            "args": [prop("geometry"), {"bbox": [105.6, 19.7, 0, 105.9, 19.9, 100]}],
        },
        lambda f: f.geometry.disjoint(DELTA),
        edge=DELTA,
    ),
    Case(
        "s-equals",
        "S_EQUALS(geometry, POINT(105.679379 19.850233))",
        {
            "op": "s_equals",
            "args": [prop("geometry"), {"type": "Point", "coordinates": [105.679379, 19.850233]}],
        },
        lambda f: f.geometry.geom_equals(TRA_DONG),
    ),
    Case(
        "s-touches",
        "S_TOUCHES(geometry, POLYGON((105.679379 19.850233, 105.7 19.850233, 105.7 19.9, "
        "105.679379 19.850233)))",
        {
            "op": "s_touches",
            "args": [
                prop("geometry"),
                polygon((105.679379, 19.850233), (105.7, 19.850233), (105.7, 19.9)),
            ],
        },
        lambda f: f.geometry.touches(
            shapely.Polygon([(105.679379, 19.850233), (105.7, 19.850233), (105.7, 19.9)])
        ),
    ),
    Case(
        "s-dwithin-metres",
        "S_DWITHIN(geometry, POINT(105.679379 19.850233), 15000, meters)",
        {
            "op": "s_dwithin",
            "args": [
                prop("geometry"),
                {"type": "Point", "coordinates": [105.679379, 19.850233]},
                15000,
            ],
        },
        lambda f: metres_from(105.679379, 19.850233, f) <= 15_000,
        around=(105.679379, 19.850233, 15_000),
    ),
    Case(
        "s-dwithin-kilometres",
        "S_DWITHIN(geometry, POINT(105.679379 19.850233), 26.5, kilometers)",
        {
            "op": "S_DWITHIN",
            "args": [
                prop("geometry"),
                {"type": "Point", "coordinates": [105.679379, 19.850233]},
                26.5,
                "km",
            ],
        },
        lambda f: metres_from(105.679379, 19.850233, f) <= 26_500,
        around=(105.679379, 19.850233, 26_500),
    ),
    Case(
        "a-contains",
        "A_CONTAINS(crafts, ('dệt chiếu cói'))",
        {"op": "a_contains", "args": [prop("crafts"), ["dệt chiếu cói"]]},
        lambda f: f.crafts.map(lambda c: "dệt chiếu cói" in c),
    ),
    Case(
        "a-overlaps",
        "A_OVERLAPS(crafts, ('đúc đồng', 'dệt thổ cẩm'))",
        {"op": "a_overlaps", "args": [prop("crafts"), ["đúc đồng", "dệt thổ cẩm"]]},
        lambda f: f.crafts.map(lambda c: bool({"đúc đồng", "dệt thổ cẩm"} & set(c))),
    ),
    Case(
        "a-containedby",
        "A_CONTAINEDBY(crafts, ('làm men rượu', 'nấu rượu', 'nấu rượu cần', 'mộc'))",
        {
            "op": "a_containedBy",
            "args": [prop("crafts"), ["làm men rượu", "nấu rượu", "nấu rượu cần", "mộc"]],
        },
        lambda f: f.crafts.map(
            lambda c: set(c) <= {"làm men rượu", "nấu rượu", "nấu rượu cần", "mộc"}
        ),
    ),
    Case(
        "a-equals-as-sets",
        "A_EQUALS(crafts, ('nấu rượu', 'làm men rượu'))",
        {"op": "a_equals", "args": [prop("crafts"), ["nấu rượu", "làm men rượu"]]},
        lambda f: f.crafts.map(lambda c: set(c) == {"nấu rượu", "làm men rượu"}),
    ),
    Case(
        "vn2000-bbox",
        f"S_INTERSECTS(geometry, BBOX({VN_BOX[0]}, {VN_BOX[1]}, {VN_BOX[2]}, {VN_BOX[3]}))",
        {"op": "s_intersects", "args": [prop("geometry"), {"bbox": list(VN_BOX)}]},
        lambda f: f.to_crs(SRID_VN2000_TM3_105).geometry.intersects(shapely.box(*VN_BOX)),
        options={"filter_srid": SRID_VN2000_TM3_105},
    ),
    Case(
        "vn2000-dwithin",
        f"S_DWITHIN(geometry, POINT({VN_POINT[0]} {VN_POINT[1]}), 17.5, km)",
        {
            "op": "s_dwithin",
            "args": [
                prop("geometry"),
                {"type": "Point", "coordinates": list(VN_POINT)},
                17.5,
                {"property": "km"},
            ],
        },
        lambda f: metres_from(*VN_POINT_LONLAT, f) <= 17_500,
        options={"filter_srid": SRID_VN2000_TM3_105},
        around=(*VN_POINT_LONLAT, 17_500),
    ),
    Case(
        "epsg4326-latitude-first",
        "S_INTERSECTS(geometry, POLYGON((19.7 105.6, 19.7 105.9, 19.9 105.9, 19.9 105.6, "
        "19.7 105.6)))",
        {
            "op": "s_intersects",
            "args": [
                prop("geometry"),
                polygon((19.7, 105.6), (19.7, 105.9), (19.9, 105.9), (19.9, 105.6)),
            ],
        },
        lambda f: f.geometry.intersects(DELTA),
        options={"swap_axes": True},
        edge=DELTA,
    ),
    Case(
        "epsg4326-bbox-latitude-first",
        "S_WITHIN(geometry, BBOX(19.9, 105.9, 20.1, 106.1))",
        {"op": "s_within", "args": [prop("geometry"), {"bbox": [19.9, 105.9, 20.1, 106.1]}]},
        lambda f: f.geometry.within(COAST),
        options={"swap_axes": True},
        edge=COAST,
    ),
    Case(
        "zone-contains-point",
        "S_CONTAINS(geometry, POINT(105.9904 19.995))",
        {
            "op": "s_contains",
            "args": [prop("geometry"), {"type": "Point", "coordinates": [105.9904, 19.995]}],
        },
        lambda f: f.geometry.contains(shapely.Point(105.9904, 19.995)),
        table="zone",
    ),
    Case(
        "zone-within-bbox",
        "S_WITHIN(geometry, BBOX(105.2, 19.85, 105.4, 20.2))",
        {"op": "s_within", "args": [prop("geometry"), {"bbox": [105.2, 19.85, 105.4, 20.2]}]},
        lambda f: f.geometry.within(shapely.box(105.2, 19.85, 105.4, 20.2)),
        table="zone",
    ),
    Case(
        "zone-overlaps-bbox",
        "S_OVERLAPS(geometry, BBOX(105.99, 19.9, 106.1, 20.1))",
        {"op": "s_overlaps", "args": [prop("geometry"), {"bbox": [105.99, 19.9, 106.1, 20.1]}]},
        lambda f: f.geometry.overlaps(shapely.box(105.99, 19.9, 106.1, 20.1)),
        table="zone",
    ),
    Case(
        "zone-crossed-by-line",
        "S_CROSSES(geometry, LINESTRING(105.95 19.995, 106.05 19.995))",
        {
            "op": "s_crosses",
            "args": [
                prop("geometry"),
                {"type": "LineString", "coordinates": [[105.95, 19.995], [106.05, 19.995]]},
            ],
        },
        lambda f: f.geometry.crosses(shapely.LineString([(105.95, 19.995), (106.05, 19.995)])),
        table="zone",
    ),
    Case(
        "zone-area-between-and-in",
        "area_ha BETWEEN 200 AND 1000 AND material IN ('sedge', 'medicinal')",
        {
            "op": "and",
            "args": [
                {"op": "between", "args": [prop("area_ha"), 200, 1000]},
                {"op": "in", "args": [prop("material"), ["sedge", "medicinal"]]},
            ],
        },
        lambda f: f.area_ha.between(200, 1000) & f.material.isin(["sedge", "medicinal"]),
        table="zone",
    ),
]


@pytest.fixture
def frames(connection: Connection) -> dict[str, gpd.GeoDataFrame]:
    # The demo has a single recognition date; date each village in its recognition year
    # (inside the rolled-back transaction) so that date filters have rows to tell apart.
    connection.execute(
        sa.update(VILLAGE)
        .where(VILLAGE.c.recognition_year.is_not(None), VILLAGE.c.recognition_date.is_(None))
        .values(
            recognition_date=sa.func.make_date(
                VILLAGE.c.recognition_year, 1 + VILLAGE.c.id % 12, 1 + VILLAGE.c.id % 28
            )
        )
    )
    return {
        key: gpd.read_postgis(f"SELECT * FROM {table.name}", connection, geom_col="geom")
        for key, table in TABLES.items()
    }


def assert_robust(case: Case, frame: gpd.GeoDataFrame) -> None:
    """No row sits where rounding or geodesic vs planar arithmetic could flip the answer."""
    if case.edge is not None:
        gap = shapely.distance(frame.geometry.to_numpy(), case.edge.boundary).min()
        assert gap > 1e-3, f"a feature lies {gap:.5f}° from the literal's edge"
    if case.around is not None:
        lon, lat, limit = case.around
        gap = (metres_from(lon, lat, frame) - limit).abs().min()
        assert gap > 0.01 * limit, f"a feature lies {gap:.0f} m from the S_DWITHIN limit"
    if case.options.get("filter_srid") == SRID_VN2000_TM3_105 and case.edge is None:
        projected = frame.to_crs(SRID_VN2000_TM3_105).geometry.to_numpy()
        gap = shapely.distance(projected, shapely.box(*VN_BOX).boundary).min()
        assert gap > 200, f"a feature lies {gap:.0f} m from the VN-2000 box's edge"


@pytest.mark.parametrize("lang", ["cql2-text", "cql2-json"])
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_filters_match_geopandas(
    connection: Connection, frames: dict[str, gpd.GeoDataFrame], case: Case, lang: str
) -> None:
    frame = frames[case.table]
    mask = case.expected(frame).fillna(False).astype(bool)
    want = set(frame[mask].code)
    assert 0 < len(want) < len(frame), "each case must select some rows and not others"
    assert_robust(case, frame)
    text = case.text if lang == "cql2-text" else json.dumps(case.json, ensure_ascii=False)
    assert codes(connection, case.table, text, lang, **case.options) == want


def test_timestamps(connection: Connection, frames: dict[str, gpd.GeoDataFrame]) -> None:
    # The fixture's update moved updated_at forward for the villages it dated.
    frame = frames["village"]
    loaded = frame.updated_at.min()
    stamp = loaded.isoformat().replace("+00:00", "Z")
    want = set(frame[frame.updated_at > loaded].code)
    assert 0 < len(want) < len(frame)
    assert codes(connection, "village", f"updated_at > TIMESTAMP('{stamp}')") == want
    assert codes(connection, "village", f"T_AFTER(updated_at, TIMESTAMP('{stamp}'))") == want
    during = f"T_DURING(updated_at, INTERVAL('{stamp}', '..'))"
    assert codes(connection, "village", during) == want
    # A date compared with a date-time means midnight UTC of that day, here every row.
    everything = set(frame.code)
    assert codes(connection, "village", "updated_at >= DATE('2000-01-01')") == everything


# Allen's relations as the CQL2 standard tabulates them, for an instant (a0 = a1) against
# an instant or interval [b0, b1]; ".." is the far past as a start, the far future as an end.
ALLEN: dict[str, Callable[[Any, Any, Any, Any], bool]] = {
    "T_AFTER": lambda a0, a1, b0, b1: a0 > b1,
    "T_BEFORE": lambda a0, a1, b0, b1: a1 < b0,
    "T_CONTAINS": lambda a0, a1, b0, b1: a0 < b0 and a1 > b1,
    "T_DISJOINT": lambda a0, a1, b0, b1: a1 < b0 or a0 > b1,
    "T_DURING": lambda a0, a1, b0, b1: a0 > b0 and a1 < b1,
    "T_EQUALS": lambda a0, a1, b0, b1: a0 == b0 and a1 == b1,
    "T_FINISHEDBY": lambda a0, a1, b0, b1: a0 < b0 and a1 == b1,
    "T_FINISHES": lambda a0, a1, b0, b1: a0 > b0 and a1 == b1,
    "T_INTERSECTS": lambda a0, a1, b0, b1: a0 <= b1 and a1 >= b0,
    "T_MEETS": lambda a0, a1, b0, b1: a1 == b0,
    "T_METBY": lambda a0, a1, b0, b1: a0 == b1,
    "T_OVERLAPPEDBY": lambda a0, a1, b0, b1: b0 < a0 < b1 < a1,
    "T_OVERLAPS": lambda a0, a1, b0, b1: a0 < b0 < a1 < b1,
    "T_STARTEDBY": lambda a0, a1, b0, b1: a0 == b0 and a1 > b1,
    "T_STARTS": lambda a0, a1, b0, b1: a0 == b0 and a1 < b1,
}
PERIODS = [
    ("2021-12-21",),
    ("2015-03-01", "2022-06-30"),
    ("..", "2021-12-21"),
    ("2021-12-21", ".."),
    ("..", ".."),
    ("2021-12-21", "2021-12-21"),
]


@pytest.mark.parametrize("op", sorted(ALLEN))
def test_temporal_functions_follow_allen(
    connection: Connection, frames: dict[str, gpd.GeoDataFrame], op: str
) -> None:
    frame = frames["village"]
    dated = frame[frame.recognition_date.notna()]
    for period in PERIODS:
        if len(period) == 1:
            literal = f"DATE('{period[0]}')"
            b0 = b1 = pd.Timestamp(period[0])
        else:
            literal = f"INTERVAL('{period[0]}', '{period[1]}')"
            b0 = pd.Timestamp.min if period[0] == ".." else pd.Timestamp(period[0])
            b1 = pd.Timestamp.max if period[1] == ".." else pd.Timestamp(period[1])
        want = {
            code
            for code, day in zip(dated.code, pd.to_datetime(dated.recognition_date), strict=True)
            if ALLEN[op](day, day, b0, b1)
        }
        got = codes(connection, "village", f"{op}(recognition_date, {literal})")
        assert got == want, f"{op} {literal}"


def test_property_parameters_send_iso_dates(
    connection: Connection, frames: dict[str, gpd.GeoDataFrame]
) -> None:
    # ?recognition_date=2021-12-21 and GDAL send dates as plain strings.
    expression = {"op": "=", "args": [prop("recognition_date"), "2021-12-21"]}
    condition = filter_to_sql(expression, QUERYABLES["village"])
    got = set(connection.execute(sa.select(VILLAGE.c.code).where(condition)).scalars())
    frame = frames["village"]
    assert got == set(frame[dates(frame) == pd.Timestamp("2021-12-21")].code) == {"TH-V-013"}


def test_boolean_property_is_a_condition(
    connection: Connection, frames: dict[str, gpd.GeoDataFrame]
) -> None:
    frame = frames["village"]
    want = set(frame[frame.tourism_linked.eq(True)].code)
    assert codes(connection, "village", "tourism_linked") == want
    assert codes(connection, "village", "tourism_linked AND TRUE") == want


def test_values_are_bound_parameters() -> None:
    hostile = "x'; DROP TABLE craft_village; --"
    text = "name = 'x''; DROP TABLE craft_village; --' AND S_INTERSECTS(geometry, POINT(105 20))"
    condition = filter_to_sql(parse_filter(text), QUERYABLES["village"])
    compiled = sa.select(VILLAGE.c.code).where(condition).compile(dialect=postgresql.dialect())
    assert "DROP" not in str(compiled)
    assert "105" not in str(compiled)
    assert hostile in compiled.params.values()


@pytest.mark.parametrize(
    "text",
    [
        "S_INTERSECTS(geometry, BBOX(105.6, 19.7, 105.9, 19.9))",
        "S_WITHIN(geometry, POLYGON((105.6 19.7, 106.1 19.7, 105.85 20.1, 105.6 19.7)))",
        "S_DWITHIN(geometry, POINT(105.68 19.85), 15, km)",
    ],
)
def test_spatial_filters_use_the_gist_index(connection: Connection, text: str) -> None:
    connection.execute(sa.text("SET LOCAL enable_seqscan = off"))
    condition = filter_to_sql(parse_filter(text), QUERYABLES["village"])
    compiled = sa.select(VILLAGE.c.code).where(condition).compile(connection)
    plan = connection.exec_driver_sql(f"EXPLAIN {compiled}", compiled.params).scalars().all()
    assert any("ix_craft_village_geom" in line for line in plan), plan


@pytest.mark.parametrize(
    ("text", "lang", "options", "fragments"),
    [
        (
            "colour = 'red'",
            "cql2-text",
            {},
            ["unknown property 'colour'", "queryables are:", "name"],
        ),
        (
            '{"op": "=", "args": [{"property": "nope"}, 1]}',
            "cql2-json",
            {},
            ["unknown property 'nope'"],
        ),
        ("name = ", "cql2-text", {}, ["cql2-text filter does not parse", "expected"]),
        ("S_INTERSECTS(geometry, POLYGON((1 1, 2 2 3 3)))", "cql2-text", {}, ["does not parse"]),
        ('{"op": "=", "args": [', "cql2-json", {}, ["cql2-json filter does not parse", "EOF"]),
        ('{"foo": 1}', "cql2-json", {}, ["does not parse", '"op"']),
        ("[1, 2]", "cql2-json", {}, ["must be a condition"]),
        ("workers = 1", "cql3-text", {}, ["filter-lang must be one of"]),
        (
            "workers = 'many'",
            "cql2-text",
            {},
            ["property 'workers' is an integer", "expected a number", "'many'"],
        ),
        ("name = 5", "cql2-text", {}, ["property 'name' is a string", "got 5"]),
        (
            "tourism_linked = 'yes'",
            "cql2-text",
            {},
            ["property 'tourism_linked' is a boolean", "true or false"],
        ),
        ("recognition_date > 'yesterday'", "cql2-text", {}, ["'yesterday' is not a date"]),
        (
            "recognition_date > 2020",
            "cql2-text",
            {},
            ["property 'recognition_date' is a date", "DATE("],
        ),
        (
            "recognition_year = DATE('2020-01-01')",
            "cql2-text",
            {},
            ["is an integer", "DATE('2020-01-01')"],
        ),
        (
            "recognition_date = DATE('2020-02-30')",
            "cql2-text",
            {},
            ["DATE('2020-02-30') is not a date"],
        ),
        (
            "workers = recognition_date",
            "cql2-text",
            {},
            ["cannot compare property 'workers'", "a date"],
        ),
        ("crafts = 'mộc'", "cql2-text", {}, ["property 'crafts' (an array)", "A_CONTAINS"]),
        ("geometry = 'x'", "cql2-text", {}, ["S_INTERSECTS"]),
        ("workers = NULL", "cql2-text", {}, ["IS NULL"]),
        (
            "workers LIKE '1%'",
            "cql2-text",
            {},
            ["LIKE applies to text", "property 'workers' is an integer"],
        ),
        ("name LIKE 'x\\'", "cql2-text", {}, ["ends with an escape character"]),
        (
            "name BETWEEN 'a' AND 'b'",
            "cql2-text",
            {},
            ["BETWEEN applies to numbers", "property 'name'"],
        ),
        ("CASEI(workers) = 1", "cql2-text", {}, ["CASEI applies to text", "property 'workers'"]),
        (
            "S_INTERSECTS(name, POINT(105 20))",
            "cql2-text",
            {},
            ["property 'name' is a string, not a geometry"],
        ),
        (
            "A_CONTAINS(name, ('x'))",
            "cql2-text",
            {},
            ["A_CONTAINS needs arrays", "property 'name'"],
        ),
        ("A_CONTAINS(crafts, (1, 2))", "cql2-text", {}, ["lists of text", "1 is not text"]),
        (
            "T_BEFORE(name, DATE('2020-01-01'))",
            "cql2-text",
            {},
            ["T_BEFORE needs dates", "property 'name'"],
        ),
        ("T_DURING(recognition_date, INTERVAL('2020-01-01'))", "cql2-text", {}, ["INTERVAL needs"]),
        (
            "S_DWITHIN(geometry, POINT(105 20), 5, furlongs)",
            "cql2-text",
            {},
            ["units must be one of", "'furlongs'"],
        ),
        ("S_DWITHIN(geometry, POINT(105 20), -5)", "cql2-text", {}, ["non-negative", "-5"]),
        ("S_WITHIN(geometry, BBOX(106, 20, 105, 19))", "cql2-text", {}, ["lower corner first"]),
        ("S_INTERSECTS(geometry, POINT(1))", "cql2-text", {}, ["malformed POINT literal"]),
        (
            "S_INTERSECTS(geometry, POLYGON((105 19, 106 20, 106 19, 105 20, 105 19)))",
            "cql2-text",
            {},
            ["Polygon literal is not a valid geometry", "Self-intersection"],
        ),
        (
            "S_INTERSECTS(geometry, POINT(20 105))",
            "cql2-text",
            {},
            ["(20 105) are not a longitude/latitude", "longitude first"],
        ),
        (
            "S_INTERSECTS(geometry, POINT(105 20))",
            "cql2-text",
            {"swap_axes": True},
            ["latitude first"],
        ),
        (
            "S_INTERSECTS(geometry, POINT(1000000000000 1000000000000))",
            "cql2-text",
            {"filter_srid": SRID_VN2000_TM3_105},
            ["outside EPSG:5897"],
        ),
        ("households + 1 > 5", "cql2-text", {}, ["arithmetic (+) is not supported"]),
        ("foo(name) = 1", "cql2-text", {}, ["unsupported function 'foo'"]),
        (
            '{"op": "frobnicate", "args": [1]}',
            "cql2-json",
            {},
            ["unsupported operator 'frobnicate'", "s_intersects"],
        ),
        ("name", "cql2-text", {}, ["property 'name' is a string, not a condition"]),
        ("workers = 1 AND 5", "cql2-text", {}, ["expected a condition, got 5"]),
        ("(" * 30 + "workers = 1" + ")" * 30, "cql2-text", {}, ["nests parentheses 30 deep"]),
        ("NOT " * 3000 + "workers = 1", "cql2-text", {}, ["3000 NOT or minus operators"]),
        ("NOT " * 100 + "workers = 1", "cql2-text", {}, [f"nests more than {MAX_DEPTH} levels"]),
        (
            '{"op": "not", "args": [' * 100
            + '{"op": "isNull", "args": [{"property": "name"}]}'
            + "]}" * 100,
            "cql2-json",
            {},
            ["does not parse", "recursion limit"],
        ),
    ],
)
def test_bad_filters_say_what_is_wrong(
    text: str, lang: str, options: dict[str, Any], fragments: list[str]
) -> None:
    with pytest.raises(InvalidFilter) as raised:
        filter_to_sql(parse_filter(text, lang), QUERYABLES["village"], **options)
    for fragment in fragments:
        assert fragment in str(raised.value)


# -- fuzzing: whatever a client sends, the answer is a result or an InvalidFilter --------------
_VALUES: list[Any] = [
    0,
    1,
    -1,
    2.5,
    138,
    2**63,
    10**400,
    True,
    False,
    None,
    "",
    "G4",
    "Trà%",
    "%\\",
    "a\x00b",
    "2020-01-01",
    "2020-01-01T00:00:00Z",
    "..",
    "meters",
    "furlongs",
    {"property": "name"},
    {"property": "workers"},
    {"property": "crafts"},
    {"property": "geometry"},
    {"property": "recognition_date"},
    {"property": "updated_at"},
    {"property": "tourism_linked"},
    {"property": "nope"},
    {"property": 5},
    {"property": None},
    {"date": "2020-01-01"},
    {"date": "2020-13-45"},
    {"date": 5},
    {"timestamp": "garbage"},
    {"timestamp": "0001-01-01T00:00:00+14:00"},
    {"date": "9999-12-31"},
    {"interval": ["2020-01-01", ".."]},
    {"interval": [1]},
    {"interval": "x"},
    {"interval": [{"property": "recognition_date"}, "2030-01-01"]},
    {"bbox": [105, 19, 106, 20]},
    {"bbox": [1, 2]},
    {"bbox": ["a", 1, 2, 3]},
    {"bbox": [-500, -100, 500, 100]},
    {"bbox": [105, 19, 0, 106, 20]},
    {"type": "Point", "coordinates": [105.7, 19.85]},
    {"type": "Point", "coordinates": []},
    {"type": "Point", "coordinates": "x"},
    {"type": "Point", "coordinates": [1e30, 1e30]},
    {"type": "Polygon", "coordinates": [[[1, 1], [2, 2]]]},
    {"type": "Feature"},
    {"type": "GeometryCollection", "geometries": [{"type": "Point", "coordinates": [105, 20]}]},
    ["a", "b"],
    [1, [2]],
    [],
    {},
    {"foo": 1},
    {"op": "and"},
    {"op": 5, "args": []},
    {"op": "casei", "args": [{"property": "name"}]},
    {"op": "accenti", "args": ["x"]},
    {"op": "casei", "args": 5},
    {"op": "+", "args": [1, 2]},
]
_OPS: list[Any] = [
    "and",
    "or",
    "not",
    "=",
    "<>",
    "<",
    "<=",
    ">",
    ">=",
    "like",
    "between",
    "in",
    "isNull",
    "casei",
    "accenti",
    "s_intersects",
    "s_within",
    "s_contains",
    "s_dwithin",
    "S_DWITHIN",
    "t_before",
    "t_after",
    "t_during",
    "t_intersects",
    "t_equals",
    "t_meets",
    "t_overlaps",
    "a_contains",
    "a_containedBy",
    "a_overlaps",
    "a_equals",
    "frobnicate",
    "POINT",
    5,
    None,
]


def _mutate(rng: random.Random, node: Any) -> Any:
    """A real filter with one part swapped for something a careless client might send."""
    if rng.random() < 0.3 or not isinstance(node, dict) or not isinstance(node.get("args"), list):
        return rng.choice([*_VALUES, {"op": rng.choice(_OPS), "args": rng.sample(_VALUES, 2)}])
    changed = {**node, "args": list(node["args"])}
    if changed["args"]:
        index = rng.randrange(len(changed["args"]))
        changed["args"][index] = _mutate(rng, changed["args"][index])
    if rng.random() < 0.15:
        changed["op"] = rng.choice(_OPS)
    return changed


@pytest.mark.parametrize("options", [{}, {"swap_axes": True}, {"filter_srid": SRID_VN2000_TM3_105}])
def test_mangled_filters_translate_and_run_or_say_why(
    connection: Connection, options: dict[str, Any]
) -> None:
    rng = random.Random(2026)
    real = [c.json for c in CASES if c.table == "village"]
    translated = refused = 0
    for _ in range(500):
        tree = rng.choice(real)
        for _ in range(rng.randint(0, 2)):
            tree = _mutate(rng, tree)
        try:
            condition = filter_to_sql(tree, QUERYABLES["village"], **options)
        except InvalidFilter:
            refused += 1
            continue
        # A filter that translates must also run: the database never sees a bad value.
        with connection.begin_nested():
            connection.execute(sa.select(sa.func.count()).select_from(VILLAGE).where(condition))
        translated += 1
    assert translated > 100 and refused > 100


def test_filters_through_the_api(client: Any) -> None:
    response = client.get("/collections/villages/items", params={"filter": "colour = 'red'"})
    assert response.status_code == 400
    assert "colour" in response.json()["detail"]
    found = client.get(
        "/collections/villages/items",
        params={"filter": "ACCENTI(name) LIKE ACCENTI('%dong%')", "limit": 100},
    )
    assert found.status_code == 200
    names = {f["properties"]["name"] for f in found.json()["features"]}
    assert "Trà Đông" in names and found.json()["numberMatched"] == len(names)
