"""The overview map's search box in a real browser (issue 12 point 6).

It finds villages by name, other name, craft, commune and legacy unit, zones by name and
code (from the page, or from the Features API above the embed limit) and routes by name,
grouped by kind in the page's language; a pick flies to the feature, opens its card and
closes the list. Expected villages are worked out here from the Features API, folded the
way the page folds, so the test does not restate the page's own index.
"""

from __future__ import annotations

import json
import re
import unicodedata
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import geopandas as gpd
import pytest
import shapely
from playwright.sync_api import Browser, Page

from api.settings import ApiSettings
from geo.query.mapdata import OverviewData
from maps import assets, build
from tests.browser import ARTIFACTS, needs_chromium
from tests.conftest import demo_database
from tests.factories import make_village
from tests.live import live_server

pytestmark = needs_chromium

SHOTS = ARTIFACTS / "issue12" / "search"
HOSTILE = "<img src=x onerror=\"window.__pwn='img'\"> Làng `${window.__pwn='tpl'}` gốm"
HOSTILE_ALT = "<svg onload=\"window.__pwn='svg'\">Kẻ Độc"
GROUPS = {
    "vi": ("Làng nghề", "Vùng nguyên liệu", "Tuyến du lịch"),
    "en": ("Craft villages", "Raw-material zones", "Tourism routes"),
}
# Finds the folium map and reports its centre and zoom.
_VIEW = """() => {
  const map = Object.keys(window).map(k => window[k]).find(v => v instanceof L.Map);
  const c = map.getCenter(), b = map.getBounds();
  return {lat: c.lat, lon: c.lng, zoom: map.getZoom(),
          south: b.getSouth(), west: b.getWest(), north: b.getNorth(), east: b.getEast()};
}"""


def fold(text: str) -> str:
    """What the page does to both sides: no marks, đ→d, lower case."""
    bare = "".join(c for c in unicodedata.normalize("NFD", text) if not unicodedata.combining(c))
    return " ".join(
        re.sub(r"[\W_]+", " ", bare.replace("đ", "d").replace("Đ", "D").lower()).split()
    )


@pytest.fixture(scope="module")
def search_database_url(pg_server_url: str) -> Iterator[str]:
    """The demo plus one village whose name and other name are markup."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    with demo_database(pg_server_url, "craftmap_search") as url:
        make_village(url, name=HOSTILE, alt_names=[HOSTILE_ALT], crafts=["làm gốm"])
        yield url


@pytest.fixture(scope="module")
def served(search_database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    assets.fetch(ApiSettings().map_assets_dir)
    env = {"CRAFTMAP_BASEMAP_URL": "none"}
    with live_server(search_database_url, tmp_path_factory.mktemp("search"), env=env) as server:
        yield server.url


def _get(url: str) -> Any:
    with urllib.request.urlopen(url) as response:
        return json.load(response)


@pytest.fixture(scope="module")
def villages(served: str) -> list[dict[str, Any]]:
    body = _get(f"{served}/collections/villages/items?limit=1000")
    return [feature["properties"] | {"id": feature["id"]} for feature in body["features"]]


def expected(villages: list[dict[str, Any]], query: str, *columns: str) -> set[str]:
    """Names of the villages whose ``columns`` (text or lists of text) contain ``query``."""
    q = fold(query)
    found = set()
    for village in villages:
        for column in columns:
            value = village.get(column) or []
            values = value if isinstance(value, list) else [value]
            if any(q in fold(v) for v in values):
                found.add(village["name"])
    return found


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="vi-VN")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("dialog", lambda dialog: (errors.append(f"dialog {dialog.message}"), dialog.dismiss()))
    yield page
    assert errors == [], errors
    assert page.evaluate("() => window.__pwn") is None
    context.close()


def _open(page: Page, url: str) -> None:
    page.goto(url, wait_until="networkidle")
    page.wait_for_selector(".cm-search input")


def _search(page: Page, query: str) -> None:
    page.locator(".cm-search input").fill(query)
    page.locator(".cm-search li").first.wait_for()


def _shown(page: Page, kind: str) -> list[str]:
    """The names listed under ``kind`` (without their grey notes)."""
    return page.eval_on_selector_all(
        f".cm-search li[data-kind={kind}]",
        "els => els.map(el => el.firstChild.textContent)",
    )


def _closed(page: Page) -> bool:
    return page.evaluate(
        """() => { const ul = document.querySelector('.cm-search ul');
                   return ul.children.length === 0 && ul.offsetHeight === 0
                     && document.querySelector('.cm-search input')
                          .getAttribute('aria-expanded') === 'false'; }"""
    )


def _popup_title(page: Page) -> str:
    title = page.locator(".leaflet-popup-content h4")
    title.wait_for(state="visible")
    return title.inner_text()


def _centred_on(page: Page, lat: float, lon: float) -> None:
    page.wait_for_timeout(600)  # the fly-to animation
    view = page.evaluate(_VIEW)
    assert view["south"] < lat < view["north"] and view["west"] < lon < view["east"], view
    # Near the middle: within a quarter of the view each way (the card's autopan included).
    assert abs(view["lat"] - lat) < (view["north"] - view["south"]) / 4, view
    assert abs(view["lon"] - lon) < (view["east"] - view["west"]) / 4, view
    assert view["zoom"] >= 11, view
    # The card opened by the pick is still open once the map has settled.
    assert page.locator(".leaflet-popup-content h4").is_visible()


def test_other_name_without_diacritics_finds_the_village(
    served: str, page: Page, villages: list[dict[str, Any]]
) -> None:
    _open(page, f"{served}/maps")
    _search(page, "ke che")
    assert _shown(page, "village") == ["Trà Đông"]
    option = page.locator(".cm-search li[data-kind=village]").first
    assert option.locator(".cm-note").inner_text() == "Kẻ Chè"  # why it matched
    assert page.locator(".cm-search li.cm-group").all_inner_texts()[0].lower() == "làng nghề"
    page.screenshot(path=str(SHOTS / "vi-desktop-alt-name.png"))
    option.click()
    assert _popup_title(page) == "Trà Đông"
    assert _closed(page)
    village = next(v for v in villages if v["name"] == "Trà Đông")
    body = _get(f"{served}/collections/villages/items/{village['id']}")
    lon, lat = body["geometry"]["coordinates"]
    _centred_on(page, lat, lon)
    assert page.locator(".cm-search input").input_value() == "Trà Đông"


_CHECKED_LAYERS = """() => [...document.querySelectorAll('.leaflet-control-layers-overlays label')]
    .filter(l => l.querySelector('input').checked).map(l => l.textContent.trim())"""


def test_a_village_found_with_the_village_layer_off_turns_it_on(
    served: str, page: Page, villages: list[dict[str, Any]]
) -> None:
    """With the layer off, picking a village threw a TypeError and showed nothing."""
    _open(page, f"{served}/maps")
    shown = page.evaluate(_CHECKED_LAYERS)
    page.evaluate(
        "() => Object.values(window).find(v => v instanceof L.Map).removeLayer(window.cmCluster)"
    )
    assert len(page.evaluate(_CHECKED_LAYERS)) == len(shown) - 1
    _search(page, "ke che")
    page.locator(".cm-search li[data-kind=village]").first.click()
    assert _popup_title(page) == "Trà Đông"
    village = next(v for v in villages if v["name"] == "Trà Đông")
    body = _get(f"{served}/collections/villages/items/{village['id']}")
    lon, lat = body["geometry"]["coordinates"]
    _centred_on(page, lat, lon)
    # The layer control shows the villages on again, as the map does.
    assert page.evaluate(_CHECKED_LAYERS) == shown
    page.screenshot(path=str(SHOTS / "vi-desktop-layer-off-pick.png"))


@pytest.mark.parametrize("query", ["chiếu cói", "banh"])
def test_crafts_find_their_villages(
    served: str, page: Page, villages: list[dict[str, Any]], query: str
) -> None:
    want = expected(villages, query, "crafts")
    assert len(want) >= 4  # the demo has several of each
    _open(page, f"{served}/maps")
    _search(page, query)
    shown = set(_shown(page, "village"))
    # Every village of the craft, and nothing unrelated (names may match too).
    assert want <= shown, want - shown
    assert shown <= want | expected(villages, query, "name", "alt_names", "commune_name")


@pytest.mark.parametrize(
    ("query", "columns"),
    [
        ("xa tan tien", ("commune_name",)),
        ("Phường Hạc Thành", ("commune_name",)),
        ("huyen nong cong", ("legacy_district",)),
        ("xã thọ lộc", ("legacy_commune",)),
    ],
)
def test_communes_and_legacy_units_find_their_villages(
    served: str, page: Page, villages: list[dict[str, Any]], query: str, columns: tuple[str, ...]
) -> None:
    want = expected(villages, query, *columns)
    assert len(want) >= 2
    _open(page, f"{served}/maps")
    _search(page, query)
    assert set(_shown(page, "village")) == want


@pytest.mark.parametrize("query", ["TH-Z-008", "th-z-008", "vung may duoi tan"])
def test_a_zone_code_or_name_finds_the_zone(served: str, page: Page, query: str) -> None:
    name = "Vùng mây dưới tán rừng Cẩm Thủy"
    _open(page, f"{served}/maps")
    _search(page, query)
    assert _shown(page, "zone") == [name]
    page.locator(".cm-search li[data-kind=zone]").click()
    assert _popup_title(page) == name
    assert _closed(page)
    zone = _zone(served, "TH-Z-008")
    bbox = _bbox(zone["features"][0]["geometry"])
    _centred_on(page, (bbox[1] + bbox[3]) / 2, (bbox[0] + bbox[2]) / 2)


def _zone(base: str, code: str) -> Any:
    return _get(f"{base}/collections/material-zones/items?filter=" + quote(f"code='{code}'"))


def _bbox(geometry: dict[str, Any]) -> tuple[float, float, float, float]:
    points = [p for polygon in geometry["coordinates"] for ring in polygon for p in ring]
    xs = [p[0] for p in points]
    ys = [p[1] for p in points]
    return min(xs), min(ys), max(xs), max(ys)


def test_a_route_name_finds_the_route(served: str, page: Page) -> None:
    _open(page, f"{served}/maps")
    _search(page, "ven bien hoang hoa")
    name = "Ven biển: Hoằng Hóa – Hậu Lộc – Nga Sơn"
    assert _shown(page, "route") == [name]
    page.locator(".cm-search li[data-kind=route]").click()
    assert _popup_title(page) == name
    assert _closed(page)
    body = _get(f"{served}/collections/routes/items?limit=100")
    route = next(f for f in body["features"] if f["properties"]["name"] == name)
    xs = [p[0] for p in route["geometry"]["coordinates"]]
    ys = [p[1] for p in route["geometry"]["coordinates"]]
    page.wait_for_timeout(600)  # the fly-to animation
    assert page.locator(".leaflet-popup-content h4").is_visible()
    view = page.evaluate(_VIEW)
    assert view["west"] <= min(xs) and max(xs) <= view["east"], view  # the whole route
    assert view["south"] <= min(ys) and max(ys) <= view["north"], view


def test_results_are_grouped_by_kind_and_keys_work(served: str, page: Page) -> None:
    _open(page, f"{served}/maps")
    # "nga son": villages by name and legacy district, zones and a route by name.
    _search(page, "nga son")
    groups = page.locator(".cm-search li.cm-group").all_inner_texts()
    assert [g.lower() for g in groups] == [g.lower() for g in GROUPS["vi"]]
    page.screenshot(path=str(SHOTS / "vi-desktop-grouped.png"))
    search = page.locator(".cm-search input")
    search.press("ArrowDown")
    search.press("ArrowDown")
    active = page.locator(".cm-search li.cm-active")
    assert active.count() == 1
    assert active.get_attribute("id") == search.get_attribute("aria-activedescendant")
    second = _shown(page, "village")[1]
    search.press("ArrowUp")
    search.press("ArrowDown")
    search.press("Enter")
    assert _popup_title(page) == second
    assert _closed(page)
    # Escape closes the list and leaves the text; the map's keys stay the map's.
    _search(page, "nga son")
    before = page.evaluate(_VIEW)
    search.press("Escape")
    assert _closed(page)
    assert search.input_value() == "nga son"
    assert page.evaluate(_VIEW) == before


def test_english_page_labels_its_groups_in_english(served: str, browser: Browser) -> None:
    for lang, viewport, device in (
        ("en", {"width": 1280, "height": 800}, "desktop"),
        ("vi", {"width": 390, "height": 844}, "phone"),
        ("en", {"width": 390, "height": 844}, "phone"),
    ):
        context = browser.new_context(viewport=viewport, locale="vi-VN")
        page = context.new_page()
        _open(page, f"{served}/maps?lang={lang}")
        assert page.locator(".cm-search input").get_attribute("placeholder") == (
            "Find a village, craft, commune, zone, route…"
            if lang == "en"
            else "Tìm làng, nghề, xã, vùng, tuyến…"
        )
        _search(page, "nga son")
        groups = page.locator(".cm-search li.cm-group").all_inner_texts()
        assert [g.lower() for g in groups] == [g.lower() for g in GROUPS[lang]]
        box = page.locator(".cm-search").bounding_box()
        assert box is not None and box["x"] + box["width"] <= viewport["width"]
        page.screenshot(path=str(SHOTS / f"{lang}-{device}-results.png"))
        context.close()


def test_hostile_names_show_as_text(served: str, page: Page) -> None:
    _open(page, f"{served}/maps")
    _search(page, "ke doc")  # by its hostile other name, without diacritics
    assert _shown(page, "village") == [HOSTILE]
    note = page.locator(".cm-search li[data-kind=village] .cm-note")
    assert note.inner_text() == HOSTILE_ALT
    assert page.locator(".cm-search img, .cm-search svg").count() == 0
    page.locator(".cm-search li[data-kind=village]").click()
    assert _popup_title(page) == HOSTILE
    assert _closed(page)
    _search(page, "<img")
    assert _shown(page, "village") == [HOSTILE]
    # It has no commune: no note, and no "nan" standing in for one.
    assert page.locator(".cm-search li[data-kind=village] .cm-note").count() == 0
    page.screenshot(path=str(SHOTS / "vi-desktop-hostile.png"))


def test_zones_above_the_embed_limit_are_searched_on_the_server(
    search_database_url: str, browser: Browser, tmp_path: Path
) -> None:
    # Below the demo's 15 zones: the page carries no zone, the API answers the search.
    env = {"CRAFTMAP_BASEMAP_URL": "none", "CRAFTMAP_MAP_EMBED_LIMIT": "5"}
    with live_server(search_database_url, tmp_path, env=env) as server:
        context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="vi-VN")
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        asked: list[str] = []
        page.on("request", lambda r: asked.append(r.url) if "filter=" in r.url else None)
        _open(page, f"{server.url}/maps")
        assert "Vùng cói Nga Sơn" not in page.content()
        name = "Vùng cói Nga Sơn"
        for query in ("vung coi nga son", "th-z-009"):
            page.locator(".cm-search input").fill(query)
            page.locator(".cm-search li[data-kind=zone]").first.wait_for()
            assert _shown(page, "zone") == [name]
        assert asked and all("limit=8" in url for url in asked)
        page.locator(".cm-search li[data-kind=zone]").click()
        assert _popup_title(page) == name
        assert (
            "/collections/material-zones/items/"
            in page.locator(".leaflet-popup-content").inner_html()
        )
        assert _closed(page)
        zone = _zone(server.url, "TH-Z-009")
        bbox = _bbox(zone["features"][0]["geometry"])
        _centred_on(page, (bbox[1] + bbox[3]) / 2, (bbox[0] + bbox[2]) / 2)
        page.screenshot(path=str(SHOTS / "vi-desktop-server-zone.png"))
        assert errors == [], errors
        context.close()


def test_the_index_carries_other_names_and_asks_the_api_for_tiled_zones() -> None:
    villages = gpd.GeoDataFrame(
        {
            "id": [1, 2],
            "code": ["TH-V-1", "TH-V-2"],
            "name": ["Trà Đông", "Làng mới"],
            "alt_names": ["làng Chè; Kẻ Chè", None],
            "crafts": ["đúc đồng, làm bánh", None],
            "hamlets": [None, None],
            "commune_name": ["Xã Thiệu Trung", None],
            "legacy_commune": ["Xã Thiệu Trung", float("nan")],
            "legacy_district": ["Huyện Thiệu Hóa", None],
            "geometry": [shapely.Point(105.68, 19.85), shapely.Point(105.7, 19.9)],
        },
        crs=4326,
    )
    empty = gpd.GeoDataFrame({"geometry": []}, crs=4326)
    data = OverviewData(villages, None, 200_000, empty, empty, empty)
    index = build.search_index(data, build.MapSettings(api_root="https://gis.example"))
    assert index["villages"] == [
        [
            1,
            19.85,
            105.68,
            "Trà Đông",
            # The commune first (the list's note), then the code, then each term once.
            ["Xã Thiệu Trung", "TH-V-1", "làng Chè", "Kẻ Chè", "đúc đồng", "làm bánh"]
            + ["Huyện Thiệu Hóa"],
        ],
        [2, 19.9, 105.7, "Làng mới", ["", "TH-V-2"]],  # no "nan" for what is missing
    ]
    # 200 000 zones are not in the page: the box asks the Features API for a few.
    assert index["zones"] == []
    assert index["zones_url"] == "https://gis.example/collections/material-zones/items"
    assert index["limit"] <= 10
