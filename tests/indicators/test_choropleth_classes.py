"""Class breaks and the static choropleth (issue 16 point 4), without a database."""

from __future__ import annotations

from xml.etree import ElementTree

import geopandas as gpd
import pytest
from shapely.geometry import Point, box

from maps import charts

SVG = "{http://www.w3.org/2000/svg}"
XSS = "<img src=x onerror=alert(1)>"


def test_classify_keeps_missing_values_out_of_every_class() -> None:
    c = charts.classify([10.0, None, 80.0, 20.0, float("nan"), 90.0], k=2)
    assert c.breaks == (20.0, 90.0)
    assert c.classes == (0, None, 1, 0, None, 1)
    assert c.colour(None) == charts.NO_DATA_COLOUR


@pytest.mark.parametrize(
    ("values", "k", "classes"),
    [
        ([5.0, 5.0, None], 5, (0, 0, None)),
        ([1.0, 2.0], 5, (0, 1)),
        ([None, None], 5, (None, None)),
        ([], 5, ()),
    ],
)
def test_classify_with_fewer_distinct_values_than_classes(
    values: list[float | None], k: int, classes: tuple[int | None, ...]
) -> None:
    assert charts.classify(values, k=k).classes == classes


def test_class_ranges_in_the_pages_number_format() -> None:
    c = charts.classify([1500.5, 10.0, 20.0, 1600.0], k=2)
    # Each range runs over the values in the class: ranges never overlap.
    assert c.ranges("percent", "vi") == ["10,0 – 20,0\u00a0%", "1.500,5 – 1.600,0\u00a0%"]
    assert c.ranges("percent", "en") == ["10.0 – 20.0\u00a0%", "1,500.5 – 1,600.0\u00a0%"]


def _frame() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {
            "code": ["a", "b", "c", "d"],
            "name": ["Xã Thiệu Trung", XSS, "Phường Hạc Thành", "Xã Không Ranh Giới"],
            "value": [10.0, 60.0, None, 35.5],
        },
        geometry=[
            box(105.7, 19.8, 105.8, 19.9),
            box(105.8, 19.8, 105.95, 19.92),
            box(105.7, 19.9, 105.85, 20.0),
            Point(105.9, 19.95),
        ],
        crs=4326,
    )


@pytest.mark.parametrize(
    ("lang", "no_data", "north"), [("vi", "Chưa có số liệu", "Bắc"), ("en", "No data", "N")]
)
def test_svg_choropleth_has_legend_north_arrow_scale_and_escaped_names(
    lang: str, no_data: str, north: str
) -> None:
    frame = _frame()
    classes = charts.classify(list(frame["value"]), k=3)
    svg = charts.svg_choropleth(frame, classes, lang, f"Tỷ lệ {XSS}", unit="percent")
    root = ElementTree.fromstring(svg)
    units = [e for e in root.iter() if e.get("class", "").startswith("cm-unit")]
    fills = {"".join(e.itertext()).split(":")[0]: e.get("fill") for e in units}
    assert fills["Xã Thiệu Trung"] != fills[XSS]
    assert fills["Phường Hạc Thành"] == charts.NO_DATA_COLOUR
    # The unit without a polygon is a circle at its label point.
    assert [e.tag for e in units if "Ranh" in "".join(e.itertext())] == [f"{SVG}circle"]
    texts = ["".join(t.itertext()) for t in root.iter(f"{SVG}text")]
    assert no_data in texts and north in texts
    assert any(t.endswith(" km") for t in texts)
    assert len([e for e in root.iter() if e.get("class") == "cm-legend-range"]) == 3
    assert "<img" not in svg
