"""``/maps/routes/{id}`` in Chromium: the route fits the free map on screen and on paper.

The page is served by the in-process app on the test's rolled-back transaction: the
browser's requests to ``ORIGIN`` go through the ``client`` fixture, every other request is
aborted (no internet, no basemap tiles).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import Browser, Page, Route, expect
from sqlalchemy.engine import Connection

from geo.kernel.vocab import STRAIGHT_LINE_KMH
from tests.browser import ARTIFACTS, needs_chromium
from tests.factories import make_route, make_stop, make_village

pytestmark = needs_chromium

ORIGIN = "http://craftmap.test"
SHOTS = ARTIFACTS / "issue12" / "route"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
# A4 landscape at CSS's 96 px per inch.
A4_LANDSCAPE = {"width": 1123, "height": 794}
# Five stops spread across Thanh Hóa, west to east: the first lies where the panel sits.
WIDE = ((104.75, 20.35), (105.25, 19.55), (105.75, 20.45), (105.95, 19.45), (105.45, 20.05))
HOSTILE = "<img src=x onerror=\"window.__pwn='description'\">"
DESCRIPTION = f"Đi qua năm làng nghề ven sông Mã.\nMang theo nước uống. {HOSTILE}"


@dataclass
class WideRoute:
    """A route of five stops, each at a village of its own."""

    id: int
    villages: list[int]
    name: str


@pytest.fixture
def wide_route(connection: Connection) -> WideRoute:
    name = "Tuyến làng nghề sông Mã <script>window.__pwn='name'</script>"
    route_id = make_route(connection, name=name, description=DESCRIPTION, mode="bicycle")
    villages = []
    for seq, at in enumerate(WIDE, start=1):
        village = make_village(
            connection, at=at, name=f"Làng Đông Sơn {seq}", commune_name="Xã Hà Lĩnh"
        )
        villages.append(village)
        make_stop(connection, route_id, seq, at=at, village_id=village, name=None, dwell_min=45)
    return WideRoute(route_id, villages, name)


@pytest.fixture
def open_page(client: TestClient, browser: Browser) -> Iterator[Callable[..., Page]]:
    """Opens a path of the in-process app in a new browser context of the given viewport."""
    contexts = []

    def serve(route: Route) -> None:
        if not route.request.url.startswith(ORIGIN):
            route.abort()
            return
        response = client.get(route.request.url)
        route.fulfill(
            status=response.status_code, headers=dict(response.headers), body=response.content
        )

    def open_(path: str, viewport: dict[str, int] = DESKTOP) -> Page:
        context = browser.new_context(viewport=viewport)  # type: ignore[arg-type]
        contexts.append(context)
        page = context.new_page()
        page.route("**/*", serve)
        page.goto(f"{ORIGIN}{path}", wait_until="networkidle")
        page.wait_for_selector(".cm-stop")
        return page

    yield open_
    for context in contexts:
        context.close()


def _box(page: Page, selector: str) -> dict[str, float]:
    box = page.locator(selector).first.bounding_box()
    assert box is not None, selector
    return box


def _stops(page: Page) -> list[dict[str, float]]:
    boxes = [
        page.locator(".cm-stop").nth(i).bounding_box()
        for i in range(page.locator(".cm-stop").count())
    ]
    assert len(boxes) >= len(WIDE)
    return [b for b in boxes if b is not None]


def _inside(inner: dict[str, float], outer: dict[str, float]) -> bool:
    return (
        inner["x"] >= outer["x"]
        and inner["y"] >= outer["y"]
        and inner["x"] + inner["width"] <= outer["x"] + outer["width"]
        and inner["y"] + inner["height"] <= outer["y"] + outer["height"]
    )


def _overlap(a: dict[str, float], b: dict[str, float]) -> bool:
    return not (
        a["x"] + a["width"] <= b["x"]
        or b["x"] + b["width"] <= a["x"]
        or a["y"] + a["height"] <= b["y"]
        or b["y"] + b["height"] <= a["y"]
    )


@pytest.mark.parametrize(
    ("lang", "viewport", "shot"),
    [
        ("vi", DESKTOP, "route-vi.png"),
        ("en", DESKTOP, "route-en.png"),
        ("vi", PHONE, "route-phone-vi.png"),
        ("en", PHONE, "route-phone-en.png"),
    ],
)
def test_every_stop_is_beside_the_panel_on_screen(
    wide_route: WideRoute,
    open_page: Callable[..., Page],
    lang: str,
    viewport: dict[str, int],
    shot: str,
) -> None:
    page = open_page(f"/maps/routes/{wide_route.id}?lang={lang}", viewport)
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / shot))
    panel, map_box = _box(page, "#cm-route-panel"), _box(page, ".folium-map")
    for stop in _stops(page):
        assert _inside(stop, map_box), (stop, map_box)
        assert not _overlap(stop, panel), (stop, panel)
        for control in page.locator(".leaflet-control-zoom, .leaflet-control-layers").all():
            box = control.bounding_box()
            assert box is None or not _overlap(stop, box), (stop, box)


# Paints the stop markers a colour nothing else on the page has, to find them in the PDF.
_MARK = ".cm-stop{background:#00ff00 !important}"


def _green_blobs(ppm: bytes) -> list[int]:
    """Pixel counts of the connected pure-green areas of a binary PPM (P6) image."""
    header = re.match(rb"P6\s+(\d+)\s+(\d+)\s+(\d+)\s", ppm)
    assert header is not None
    width, height = int(header[1]), int(header[2])
    pixels = ppm[header.end() :]
    green = {
        i
        for i in range(width * height)
        if pixels[3 * i] < 90 and pixels[3 * i + 1] > 200 and pixels[3 * i + 2] < 90
    }
    sizes = []
    while green:
        todo, size = [green.pop()], 0
        while todo:
            i = todo.pop()
            size += 1
            x = i % width
            for j in (i - width, i + width, i - 1 if x else -1, i + 1 if x < width - 1 else -1):
                if j in green:
                    green.remove(j)
                    todo.append(j)
        sizes.append(size)
    return sizes


def test_printed_route_shows_every_stop(
    wide_route: WideRoute, open_page: Callable[..., Page], tmp_path: Path
) -> None:
    page = open_page(f"/maps/routes/{wide_route.id}?lang=vi")
    page.set_viewport_size(A4_LANDSCAPE)
    page.emulate_media(media="print")
    expect(page.locator("html")).to_have_class(re.compile(r"\bcm-print\b"))
    map_box = _box(page, ".folium-map")
    assert map_box["width"] > 600 and map_box["height"] > 600  # 190 × 185 mm
    for stop in _stops(page):
        assert _inside(stop, map_box), (stop, map_box)
    assert page.locator("#cm-route-panel button").is_hidden()
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "route-print-emulated.png"))

    # The PDF itself: Chromium's own print of the page, A4 landscape.
    pdf = SHOTS / "route-print.pdf"
    page.pdf(path=str(pdf), format="A4", landscape=True)
    if shutil.which("pdftoppm") is None:
        pytest.skip("pdftoppm (poppler-utils) is missing: the PDF was not checked")
    subprocess.run(
        ["pdftoppm", "-png", "-r", "50", "-singlefile", pdf, SHOTS / "route-print"], check=True
    )
    page.add_style_tag(content=_MARK)
    marked = tmp_path / "marked.pdf"
    page.pdf(path=str(marked), format="A4", landscape=True)
    subprocess.run(["pdftoppm", "-r", "50", "-singlefile", marked, tmp_path / "marked"], check=True)
    # A marker is some 100 px at 50 dpi; single pixels are edges of other colours.
    sizes = [n for n in _green_blobs((tmp_path / "marked.ppm").read_bytes()) if n > 20]
    # One blob per stop (its two markers coincide), each whole: a stop cut by the map's
    # edge, or left off the page, would be missing or smaller than the others.
    assert len(sizes) == len(WIDE), sizes
    assert min(sizes) > 0.7 * max(sizes), sizes


def test_panel_names_links_and_describes_the_route(
    wide_route: WideRoute, open_page: Callable[..., Page], client: TestClient
) -> None:
    page = open_page(f"/maps/routes/{wide_route.id}?lang=vi")
    panel = page.locator("#cm-route-panel")
    text = panel.inner_text()
    assert page.title() == f"{wide_route.name} — Bản đồ tuyến du lịch — craftmap"
    assert panel.locator("h1").inner_text() == wide_route.name
    assert "Phương tiện: Xe đạp" in text and "Chủ đề: Làng nghề" in text
    length = re.search(r"Chiều dài: (\d+),(\d) km", text)
    assert length, text
    # Five stops of 45 minutes, and the way between them by bicycle at the estimate's speed
    # (15 km/h, the designer's straight-line speed: one table for both since issue 15).
    assert STRAIGHT_LINE_KMH["bicycle"] == 15.0
    minutes = int(5 * 45 + float(f"{length[1]}.{length[2]}") / 15 * 60)
    assert f"Thời lượng: {minutes // 60} giờ {minutes % 60} phút" in text, text
    assert "Đi qua năm làng nghề ven sông Mã." in text and HOSTILE in text
    assert page.evaluate("window.__pwn") is None
    assert (
        panel.locator("a", has_text="Bản đồ tổng quan").get_attribute("href")
        == f"{ORIGIN}/maps?lang=vi"
    )
    links = panel.locator("ol a")
    assert links.count() == len(WIDE)
    for index, village in enumerate(wide_route.villages):
        link = links.nth(index)
        assert link.inner_text() == f"Làng Đông Sơn {index + 1}"
        assert link.get_attribute("href") == (
            f"{ORIGIN}/collections/villages/items/{village}?f=html&lang=vi"
        )
    with page.expect_navigation():
        links.first.click()
    assert page.url.endswith(f"/collections/villages/items/{wide_route.villages[0]}?f=html&lang=vi")
    assert "Làng Đông Sơn 1" in page.locator("body").inner_text()

    english = open_page(f"/maps/routes/{wide_route.id}?lang=en")
    text = english.locator("#cm-route-panel").inner_text()
    assert "Travel by: Bicycle" in text and "Theme: Craft villages" in text
    assert re.search(r"Length: \d+\.\d km", text), text
    assert english.title().endswith("— Tourism route map — craftmap")

    # The route's own popup links its map by name: no emoji that fonts may lack.
    html = client.get(f"/maps/routes/{wide_route.id}?lang=vi").text
    assert "🗺" not in html and ">Bản đồ tuyến</a>" in html


def test_print_button_fits_before_printing(
    wide_route: WideRoute, open_page: Callable[..., Page]
) -> None:
    page = open_page(f"/maps/routes/{wide_route.id}?lang=vi")
    # What the page looks like when it asks the browser to print.
    page.evaluate(
        """window.print = function() {
             document.body.dataset.printedAs = document.documentElement.className;
           }"""
    )
    page.locator("#cm-print").click()
    expect(page.locator("body")).to_have_attribute("data-printed-as", re.compile(r"\bcm-print\b"))
