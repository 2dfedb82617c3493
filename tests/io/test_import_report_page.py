"""The HTML import report in Chromium: both languages, desktop and phone, text escaped."""

from __future__ import annotations

import uuid

import geopandas as gpd
import pandas as pd
import pytest
import shapely
from playwright.sync_api import Browser
from sqlalchemy.engine import Engine

from geo.io.imports import report as reports
from tests.browser import ARTIFACTS, needs_chromium
from tests.io.conftest import do_import
from tests.io.test_import_formats import villages, write_geojson

OUT = ARTIFACTS / "issue13" / "import"
HOSTILE = '<img src=x onerror="document.title=1">Làng "Đông" & <b>Sơn</b>'
SIZES = {"desktop": (1280, 800), "phone": (390, 844)}


@pytest.fixture(scope="module")
def report(import_engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """A dry run's report with every status: ok, an update, a repair, rejections."""
    tmp = tmp_path_factory.mktemp("report")
    source = villages(f"RPT{uuid.uuid4().hex[:6]}")
    source.loc[1, "name"] = HOSTILE
    source.loc[2, "craft_group"] = "Mây tre đan"
    source.loc[0, "households"] = -1
    extra = source.iloc[[1]].copy()
    extra["code"] = source.loc[1, "code"]
    extra.geometry = [shapely.Point(100.1, 15.2)]  # Thailand
    frame = gpd.GeoDataFrame(pd.concat([source, extra], ignore_index=True), crs=source.crs)
    outcome = do_import(import_engine, write_geojson(frame, tmp), "villages")
    document = outcome.as_json()
    assert document["counts"]["rejected"] == 3
    reasons = [" ".join(r["reasons"]) for r in document["rows"]]
    assert "longitude 100.1, latitude 15.2 lies outside Vietnam" in reasons[3]
    assert "required and empty" not in reasons[2]  # the unknown value is the one reason
    return document


@needs_chromium
@pytest.mark.parametrize("lang", ["vi", "en"])
@pytest.mark.parametrize("size", list(SIZES))
def test_report_page(browser: Browser, report: dict[str, object], lang: str, size: str) -> None:
    page_html = reports.as_html(report, lang)
    OUT.mkdir(parents=True, exist_ok=True)
    width, height = SIZES[size]
    page = browser.new_page(viewport={"width": width, "height": height})
    try:
        page.set_content(page_html)
        page.screenshot(path=str(OUT / f"report-{lang}-{size}.png"), full_page=True)
        # The hostile name is text, not markup.
        assert page.locator("img").count() == 0
        assert page.locator("td b").count() == 0
        assert HOSTILE in page.inner_text("table >> nth=-1")
        assert page.title() != "1"
        # Nothing wider than the screen; every cell of every row in view, reasons too.
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        right_edges = page.eval_on_selector_all(
            "table.rows td", "cells => cells.map(c => c.getBoundingClientRect().right)"
        )
        assert max(right_edges) <= width
        body = page.inner_text("body")
        if lang == "vi":
            assert "Báo cáo nhập dữ liệu" in body and "Bị từ chối" in body
        else:
            assert "Import report" in body and "Rejected" in body
    finally:
        page.close()


def test_counts_in_each_language(report: dict[str, object]) -> None:
    big = {**report, "counts": {**report["counts"], "rows": 1500}}  # type: ignore[dict-item]
    assert "<b>1.500</b>" in reports.as_html(big, "vi")
    assert "<b>1,500</b>" in reports.as_html(big, "en")


def test_csv_defuses_formulas(report: dict[str, object]) -> None:
    rows = [
        {
            "row": 1,
            "key": "=HYPERLINK(1)",
            "name": "@x",
            "status": "ok",
            "action": "insert",
            "reasons": [],
        }
    ]
    text = reports.as_csv({**report, "rows": rows})
    assert "'=HYPERLINK(1)" in text and "'@x" in text
