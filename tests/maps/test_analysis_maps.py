"""The analysis map pages' builders in Chromium, on hand-made results (issue 14 points 5, 8).

The page is the builder's HTML, served to the browser with craftmap's own vendored
scripts; every other request is aborted (no basemap, no internet).
"""

from __future__ import annotations

import dataclasses
import math
import re
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import folium
import pytest
from playwright.sync_api import Browser, Page, Route

from api.settings import ApiSettings
from maps import analysis, assets, build, styles
from tests.browser import ARTIFACTS, needs_chromium
from tests.maps import analysis_cases as cases

pytestmark = needs_chromium

ORIGIN = "http://craftmap.test"
SHOTS = ARTIFACTS / "issue14" / "maps"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
A4_LANDSCAPE = {"width": 1123, "height": 794}


class Opened:
    """A map page with what went wrong in it: script errors and failed requests."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.errors: list[str] = []
        page.on("pageerror", lambda error: self.errors.append(str(error)))
        page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        page.on("requestfailed", lambda r: self.errors.append(f"failed: {r.url}"))


@pytest.fixture
def show(browser: Browser) -> Iterator[Callable[..., Opened]]:
    """Opens a built map in a new context of the given viewport."""
    folder = ApiSettings().map_assets_dir
    assets.fetch(folder)
    contexts = []

    def open_(m: folium.Map, viewport: dict[str, int] = DESKTOP) -> Opened:
        html = m.get_root().render()

        def serve(route: Route) -> None:
            url = route.request.url
            path = url.removeprefix(ORIGIN)
            if path == "/map":
                route.fulfill(status=200, content_type="text/html", body=html)
            elif path.startswith(assets.URL_PREFIX + "/"):
                route.fulfill(path=folder / path.removeprefix(assets.URL_PREFIX + "/"))
            else:
                route.abort()

        context = browser.new_context(viewport=viewport)  # type: ignore[arg-type]
        contexts.append(context)
        page = context.new_page()
        opened = Opened(page)
        page.route("**/*", serve)
        page.goto(f"{ORIGIN}/map", wait_until="networkidle")
        page.wait_for_selector(".cm-legend")
        return opened

    yield open_
    for context in contexts:
        context.close()


def _settings(lang: str) -> build.MapSettings:
    return build.MapSettings(api_root=ORIGIN, lang=lang, basemap_url="none")


def _coverage(lang: str = "vi") -> folium.Map:
    return analysis.build_coverage_map(
        cases.coverage_view(), cases.coverage_parameters(lang), _settings(lang)
    )


def _flow_widths(page: Page) -> list[float]:
    """The stroke widths of the flow lines, as drawn (SVG paths in the flow colour)."""
    return page.evaluate(
        """colour => Array.from(document.querySelectorAll('path.leaflet-interactive'))
             .filter(p => p.getAttribute('stroke') === colour && p.getAttribute('fill') === 'none')
             .map(p => parseFloat(p.getAttribute('stroke-width')))""",
        styles.FLOW_COLOUR,
    )


def test_coverage_map_draws_flows_by_tonnes_classes_circles_and_legend(
    show: Callable[..., Opened],
) -> None:
    opened = show(_coverage("vi"))
    page = opened.page
    widths = _flow_widths(page)
    tonnes = [t for *_, t, _km in cases.FLOWS]
    assert len(widths) == len(tonnes)
    # Drawn in the frame's order: the widths sort as the tonnes do, and follow √tonnes.
    assert sorted(range(len(widths)), key=widths.__getitem__) == sorted(
        range(len(tonnes)), key=tonnes.__getitem__
    )
    for width, t in zip(widths, tonnes, strict=True):
        expected = max(styles.FLOW_MIN_WIDTH, styles.FLOW_MAX_WIDTH * math.sqrt(t / max(tonnes)))
        assert width == pytest.approx(expected, abs=0.01), (t, width)

    # One pin per village, in the colour of its class.
    colours = page.evaluate(
        "Array.from(document.querySelectorAll('.cm-pin')).map(p => p.style.background)"
    )
    expected_colours = sorted(
        _rgb(styles.COVERAGE_CLASSES.colour(cls)) for cls in cases.CLASSES.values()
    )
    assert sorted(colours) == expected_colours

    # Unmet demand: circle radii follow √tonnes (area proportional), largest 28 px.
    radii = page.evaluate(
        """colour => Array.from(document.querySelectorAll('path.leaflet-interactive'))
             .filter(p => p.getAttribute('stroke') === colour)
             .map(p => parseFloat(/a([0-9.]+),/.exec(p.getAttribute('d'))[1]))""",
        styles.UNMET_COLOUR,
    )
    unmet = sorted((u for *_, u in cases.VILLAGES if u), reverse=True)
    assert len(radii) == len(unmet)
    for radius, u in zip(sorted(radii, reverse=True), unmet, strict=True):
        assert radius == pytest.approx(styles.CIRCLE_MAX_RADIUS * math.sqrt(u / unmet[0]), 0.02)

    legend = page.locator(".cm-legend")
    text = legend.inner_text()
    for label in styles.COVERAGE_CLASS_LABELS.values():
        assert label("vi") in text
    for heading in ("flows_layer", "unmet_layer", "zones_layer"):
        assert analysis.TEXT[heading]("vi") in text
    assert "1.000,0 t" in text  # a reference circle of the largest unmet demand
    assert legend.locator("svg circle").count() == 3
    assert page.locator(".leaflet-control-layers").count() == 1
    assert opened.errors == []


def _rgb(hex_colour: str) -> str:
    r, g, b = (int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgb({r}, {g}, {b})"


def test_coverage_panel_shows_the_totals_in_the_page_language(
    show: Callable[..., Opened],
) -> None:
    view = cases.coverage_view(distance_mode="road")
    page = show(
        analysis.build_coverage_map(view, cases.coverage_parameters(), _settings("vi"))
    ).page
    panel = page.locator("#cm-coverage-panel").inner_text()
    for expected in (
        "Nhu cầu\t2.300,0 t",
        "Được cung ứng\t680,0 t",
        "Thiếu hụt\t1.620,0 t",
        "Tỷ lệ đáp ứng\t29,6 %",
        "Khối lượng vận chuyển\t7.618,0 t·km",
        "Làng còn thiếu\t3 trên 4",
        "theo đường bộ (mạng demo roads)",
        "5/6 số liệu là ước tính",
        "V5",
    ):
        assert expected in panel, (expected, panel)
    english = show(
        analysis.build_coverage_map(
            cases.coverage_view(), cases.coverage_parameters("en"), _settings("en")
        )
    ).page
    panel = english.locator("#cm-coverage-panel").inner_text()
    for expected in (
        "Demand\t2,300.0 t",
        "Unmet demand\t1,620.0 t",
        "straight line on the ellipsoid",
        "5 of 6 figures are estimates",
    ):
        assert expected in panel, (expected, panel)


def test_names_are_escaped_in_popups_and_panel(show: Callable[..., Opened]) -> None:
    opened = show(_coverage("vi"))
    page = opened.page
    assert cases.HOSTILE in page.locator("#cm-coverage-panel").inner_text()
    # Every card and tooltip: open them all, the name must be text, never markup.
    page.evaluate(
        """() => { Object.values(window).forEach(v => {
             if (v && v instanceof L.Map) {
               v.eachLayer(l => { if (l.getPopup && l.getPopup()) { l.openPopup(); } });
             } }); }"""
    )
    page.wait_for_timeout(200)
    html = page.content()
    assert "<script>window.__pwn" not in html.split("<body", 1)[1].split("<script", 1)[0]
    assert page.evaluate("window.__pwn") is None
    assert "49" not in page.locator("#cm-coverage-panel").inner_text()
    assert opened.errors == []


def test_missing_figures_are_listed(show: Callable[..., Opened]) -> None:
    page = show(_coverage("en")).page
    missing = page.locator("#cm-coverage-panel .cm-missing li")
    assert missing.count() == 1
    assert "no demand figure for luong" in missing.inner_text()


@pytest.mark.parametrize("lang", ["vi", "en"])
@pytest.mark.parametrize("device", ["desktop", "phone"])
def test_coverage_screenshots(show: Callable[..., Opened], lang: str, device: str) -> None:
    viewport = DESKTOP if device == "desktop" else PHONE
    opened = show(_coverage(lang), viewport)
    page = opened.page
    panel = page.locator("#cm-coverage-panel")
    if device == "phone":
        # Folded on a phone: the map stays usable, the button unfolds the totals.
        assert "cm-folded" in (panel.get_attribute("class") or "")
        assert page.locator("#cm-coverage-panel .cm-panel-body").is_hidden()
        page.screenshot(path=str(_shot(f"coverage-phone-{lang}.png")))
        panel.locator(".cm-fold").click()
        assert page.locator("#cm-coverage-panel .cm-panel-body").is_visible()
        page.screenshot(path=str(_shot(f"coverage-phone-open-{lang}.png")))
    else:
        assert page.locator("#cm-coverage-panel .cm-panel-body").is_visible()
        # Every village beside the panel, not under it.
        box = panel.bounding_box()
        assert box is not None
        for pin in page.locator(".cm-pin").all():
            at = pin.bounding_box()
            assert at is not None and at["x"] > box["x"] + box["width"], at
        page.screenshot(path=str(_shot(f"coverage-{lang}.png")))
    assert opened.errors == []


def _shot(name: str) -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    return SHOTS / name


def test_coverage_prints_a4_landscape_with_legend_and_totals(
    show: Callable[..., Opened],
) -> None:
    page = show(_coverage("vi")).page
    page.set_viewport_size(A4_LANDSCAPE)
    page.emulate_media(media="print")
    page.wait_for_timeout(300)
    assert "cm-print" in (page.locator("html").get_attribute("class") or "")
    assert page.locator(".cm-legend .cm-legend-body").is_visible()
    # The legend leaves the map for the panel's column: it covers no data on paper.
    assert page.locator("#cm-coverage-panel .cm-legend").count() == 1
    map_box = page.locator(".folium-map").bounding_box()
    assert map_box is not None
    for pin in page.locator(".cm-pin").all():
        at = pin.bounding_box()
        assert at is not None
        assert map_box["x"] <= at["x"] and at["x"] + at["width"] <= map_box["x"] + map_box["width"]
        assert (
            map_box["y"] <= at["y"] and at["y"] + at["height"] <= map_box["y"] + map_box["height"]
        )
    assert page.locator("#cm-coverage-panel table").first.is_visible()
    assert page.locator("#cm-coverage-panel .cm-print-button").is_hidden()
    page.screenshot(path=str(_shot("coverage-print-emulated.png")))
    pdf = _shot("coverage-print.pdf")
    page.pdf(path=str(pdf), format="A4", landscape=True)
    if shutil.which("pdftoppm"):
        subprocess.run(
            ["pdftoppm", "-png", "-r", "60", "-singlefile", pdf, SHOTS / "coverage-print"],
            check=True,
        )
        pages = subprocess.run(["pdfinfo", pdf], capture_output=True, text=True).stdout
        assert re.search(r"Pages:\s+1\b", pages), pages


def test_sites_map_draws_k_ranked_cells_with_reasons(show: Callable[..., Opened]) -> None:
    view = cases.sites_view()
    opened = show(analysis.build_sites_map(view, cases.coverage_parameters(), _settings("vi")))
    page = opened.page
    ranks = page.locator(".leaflet-marker-icon .cm-rank").all_inner_texts()
    assert sorted(ranks) == [str(i) for i in range(1, len(cases.SITES) + 1)]
    cells = page.evaluate(
        """colour => Array.from(document.querySelectorAll('path.leaflet-interactive'))
             .filter(p => p.getAttribute('fill') === colour).length""",
        styles.SITE_COLOUR,
    )
    assert cells == len(cases.SITES)
    panel = page.locator("#cm-sites-panel")
    assert panel.locator("ol.cm-ranking li").count() == len(cases.SITES)
    assert "1.200,0 t" in panel.inner_text()
    assert cases.HOSTILE in panel.inner_text()
    # The first site's card names why the cell next to it was left out.
    cell = page.locator(f'path.leaflet-interactive[fill="{styles.SITE_COLOUR}"]').first
    box = cell.bounding_box()
    assert box is not None
    # Off the centre, where the rank badge sits.
    page.mouse.click(box["x"] + box["width"] * 0.2, box["y"] + box["height"] * 0.2)
    popup = page.locator(".leaflet-popup-content")
    popup.wait_for()
    assert "inside exclusion area Pù Luông <core>" in popup.inner_text()
    assert page.evaluate("window.__pwn") is None
    for lang in ("vi", "en"):
        for device, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
            shot = show(
                analysis.build_sites_map(view, cases.coverage_parameters(lang), _settings(lang)),
                viewport,
            )
            shot.page.screenshot(path=str(_shot(f"sites-{device}-{lang}.png")))
            assert shot.errors == []
    assert opened.errors == []


def test_a_long_missing_list_is_cut_with_a_pointer_to_the_full_one(
    show: Callable[..., Opened],
) -> None:
    view = cases.coverage_view()
    many = [analysis.Missing("village", f"V{i}", f"Làng {i}", "no figure") for i in range(25)]
    view = dataclasses.replace(view, missing=many)
    page = show(
        analysis.build_coverage_map(view, cases.coverage_parameters(), _settings("vi"))
    ).page
    items = page.locator("#cm-coverage-panel .cm-missing li")
    assert items.count() == analysis.MISSING_SHOWN + 1
    assert items.last.inner_text() == "… và 5 mục khác (xem bản JSON, CSV)"


def test_sites_map_prints_on_one_page(show: Callable[..., Opened]) -> None:
    view = cases.sites_view()
    page = show(analysis.build_sites_map(view, cases.coverage_parameters(), _settings("vi"))).page
    page.set_viewport_size(A4_LANDSCAPE)
    page.emulate_media(media="print")
    page.wait_for_timeout(300)
    assert page.locator("#cm-sites-panel .cm-legend").count() == 1
    page.screenshot(path=str(_shot("sites-print-emulated.png")))
    pdf = _shot("sites-print.pdf")
    page.pdf(path=str(pdf), format="A4", landscape=True)
    if shutil.which("pdfinfo"):
        pages = subprocess.run(["pdfinfo", pdf], capture_output=True, text=True).stdout
        assert re.search(r"Pages:\s+1\b", pages), pages
