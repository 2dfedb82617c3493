"""The indicator choropleth as Chromium shows it: classes, no data, names as text.

The data is tests/indicators/dashboard_data.py: in 2025 share_env_plan is 100 % in T9C1,
0 % in T9C2 (named like markup), unknown in T9C3 (no villages); T9C4 has no boundary.
Screenshots are left in test-artifacts/issue16/dash/.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page

from maps import charts
from tests.browser import ARTIFACTS, needs_chromium
from tests.indicators import dashboard_data as data

pytestmark = needs_chromium
SHOTS = ARTIFACTS / "issue16" / "dash"
SCREENS = {"desktop": (1280, 800), "phone": (390, 844)}
NO_DATA = {"vi": "Chưa có số liệu", "en": "No data"}
RANGES = {"vi": ["0,0\u00a0%", "100,0\u00a0%"], "en": ["0.0\u00a0%", "100.0\u00a0%"]}


@pytest.fixture(scope="module")
def served(pg_server_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with data.served(pg_server_url, tmp_path_factory.mktemp("map"), "craftmap_choro") as url:
        yield url


def _centre(code: str) -> tuple[float, float]:
    lon, lat = data.COMMUNES[code][1]
    return lat + data.SIZE / 2, lon + data.SIZE / 2


def _at(page: Page, lat: float, lon: float) -> dict[str, str | None]:
    """What the map shows at a place: the element on top there and its fill."""
    found: dict[str, str | None] = page.evaluate(
        """([lat, lon]) => {
          const name = Object.keys(window).find(k => /^map_[0-9a-f]+$/.test(k));
          const map = window[name];
          const p = map.latLngToContainerPoint([lat, lon]);
          const box = map.getContainer().getBoundingClientRect();
          const el = document.elementFromPoint(box.left + p.x, box.top + p.y);
          const pin = el && el.closest('.cm-pin');
          return {tag: el ? el.tagName : null, cls: el ? String(el.getAttribute('class')) : null,
                  fill: el ? el.getAttribute('fill') : null,
                  pin: pin ? pin.style.background : null};
        }""",
        [lat, lon],
    )
    return found


# Each language once and each screen once (Vietnamese on the phone, the narrowest layout
# for the longest words): all four combinations cost the suite 32 s.
@pytest.mark.parametrize(("lang", "screen"), [("en", "desktop"), ("vi", "phone")])
def test_choropleth_colours_units_by_class_and_shows_no_data(
    browser: Browser, served: str, lang: str, screen: str
) -> None:
    width, height = SCREENS[screen]
    page = browser.new_page(viewport={"width": width, "height": height})
    errors: list[str] = []
    dialogs: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    try:
        page.goto(
            f"{served}/maps/indicators/share_env_plan?programme={data.PROGRAMME}&year=2025"
            f"&level=commune&lang={lang}",
            wait_until="networkidle",
        )
        page.wait_for_selector("path.leaflet-interactive")
        page.wait_for_timeout(300)  # the panel's fitBounds
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / f"choropleth-{lang}-{screen}.png"))
        full = _at(page, *_centre("T9C1"))
        none_ = _at(page, *_centre("T9C2"))
        empty = _at(page, *_centre("T9C3"))
        for seen in (full, none_, empty):
            assert seen["tag"] == "path", seen
        # 100 % and 0 % in different classes, both unlike "no data"; no villages: no data.
        assert full["fill"] != none_["fill"]
        assert charts.NO_DATA_COLOUR not in {full["fill"], none_["fill"]}
        assert empty["fill"] == charts.NO_DATA_COLOUR
        stroke = page.evaluate(
            """(colour) => [...document.querySelectorAll('path.leaflet-interactive')]
                .filter(p => p.getAttribute('fill') === colour)
                .map(p => p.getAttribute('stroke'))""",
            charts.NO_DATA_COLOUR,
        )
        assert stroke == [charts.NO_DATA_EDGE]  # seen on any basemap
        # The unit without a boundary: a round pin at its label point.
        assert page.locator(".cm-pin").count() == 1
        if screen == "phone":
            # The legend starts folded on a phone; open it to read it.
            page.click(".cm-legend-toggle")
            page.screenshot(path=str(SHOTS / f"choropleth-{lang}-{screen}-legend.png"))
        legend = page.locator(".cm-legend")
        ranges = legend.locator("[data-class^=c]").all_inner_texts()
        assert [r.strip() for r in ranges] == RANGES[lang]
        assert NO_DATA[lang] in legend.locator(f'[data-class="{"none"}"]').inner_text()
        assert legend.locator('[data-class="point"]').count() == 1
        if screen == "phone":
            page.click(".cm-legend-toggle")  # folded again: the map is in reach
            page.wait_for_timeout(300)
        # The name written like markup is text in its tooltip, never an element.
        lat, lon = _centre("T9C2")
        point = page.evaluate(
            """([lat, lon]) => {
              const map = window[Object.keys(window).find(k => /^map_[0-9a-f]+$/.test(k))];
              const p = map.latLngToContainerPoint([lat, lon]);
              const box = map.getContainer().getBoundingClientRect();
              return [box.left + p.x, box.top + p.y];
            }""",
            [lat, lon],
        )
        page.mouse.move(point[0], point[1])
        tooltip = page.wait_for_selector(".leaflet-tooltip")
        assert tooltip is not None and data.XSS in tooltip.inner_text()
        page.mouse.click(point[0], point[1])
        popup = page.wait_for_selector(".leaflet-popup-content .cm-card")
        assert popup is not None and popup.query_selector("h4").inner_text() == data.XSS
        assert page.locator(".leaflet-popup-content img").count() == 0
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0
        page.wait_for_timeout(400)  # the popup's fade-in, for the screenshot
        page.screenshot(path=str(SHOTS / f"choropleth-{lang}-{screen}-popup.png"))
        assert errors == [] and dialogs == []
    finally:
        page.close()


def test_district_map_is_historical_and_links_back(browser: Browser, served: str) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    try:
        page.goto(
            f"{served}/maps/indicators/share_env_plan?programme={data.PROGRAMME}&year=2025"
            "&level=district&lang=vi",
            wait_until="networkidle",
        )
        panel = page.locator("#cm-indicator-panel").inner_text()
        assert "Huyện cũ (đơn vị lịch sử" in panel
        # The old district has no boundary of its own nor one drawn: it is listed.
        assert data.DISTRICT[1] in panel or page.locator(".cm-pin").count() == 1
        page.click("text=← Bảng chỉ tiêu")
        page.wait_for_url("**/indicators?**")
        assert page.locator("#indicator-share_env_plan").count() == 1
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / "choropleth-back-to-dashboard.png"))
    finally:
        page.close()


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_demo_plan_map_draws_units_without_boundaries_as_pins(
    browser: Browser, served: str, lang: str
) -> None:
    """The demo's communes have label points only: each is a pin, and the legend says so."""
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        page.goto(
            f"{served}/maps/indicators/villages_tourism_linked?programme=4182/QĐ-UBND"
            f"&level=commune&lang={lang}",
            wait_until="networkidle",
        )
        page.wait_for_selector(".cm-pin")
        assert page.locator(".cm-pin").count() > 20
        assert page.locator('.cm-legend [data-class="point"]').count() == 1
        assert page.locator('.cm-legend [data-class="none"]').count() == 1
        # A unit with no data is a pale pin with the dashed edge of its legend swatch.
        edges = page.evaluate(
            """(colour) => [...document.querySelectorAll('.cm-pin')]
                .filter(p => p.getAttribute('style').includes(colour))
                .map(p => getComputedStyle(p).borderTopStyle)""",
            charts.NO_DATA_COLOUR,
        )
        assert edges and set(edges) == {"dashed"}
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / f"choropleth-4182-{lang}-desktop.png"))
        assert errors == []
    finally:
        page.close()
