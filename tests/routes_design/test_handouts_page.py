"""The route map page as a guide's hand-out, in Chromium (issue 15 points 5 and 7): the
timetable with the stored times, the straight leg and the missed window marked, the
designer's duration, and on paper a QR code of the page's address that decodes to it.

The page is served by the in-process app on the test's rolled-back transaction (as in
tests/maps/test_route_page.py); screenshots and the printed pages go to
test-artifacts/issue15/handouts/ for a person to look at.
"""

from __future__ import annotations

import shutil
import struct
import subprocess
import zlib
from collections.abc import Callable, Iterator

import pytest
import segno
from fastapi.testclient import TestClient
from playwright.sync_api import Browser, Page, Route
from sqlalchemy.engine import Connection

from tests.browser import ARTIFACTS, needs_chromium
from tests.routes_design.handouts_data import designed_route, long_route, plain_route

pytestmark = needs_chromium

ORIGIN = "http://craftmap.test"
SHOTS = ARTIFACTS / "issue15" / "handouts"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
CM = 96 / 2.54  # CSS pixels per centimetre


@pytest.fixture
def open_page(client: TestClient, browser: Browser) -> Iterator[Callable[..., Page]]:
    """Opens a path of the in-process app in a new context (viewport, pixel ratio)."""
    contexts = []

    def serve(route: Route) -> None:
        if not route.request.url.startswith(ORIGIN):
            route.abort()
            return
        response = client.get(route.request.url)
        route.fulfill(
            status=response.status_code, headers=dict(response.headers), body=response.content
        )

    def open_(path: str, viewport: dict[str, int] = DESKTOP, scale: float = 1) -> Page:
        context = browser.new_context(viewport=viewport, device_scale_factor=scale)  # type: ignore[arg-type]
        contexts.append(context)
        page = context.new_page()
        page.route("**/*", serve)
        page.goto(f"{ORIGIN}{path}", wait_until="networkidle")
        page.wait_for_selector(".cm-stop")
        return page

    yield open_
    for context in contexts:
        context.close()


# -- a small PNG reader: the screenshot of the QR code, as rows of grey levels -------------


def _png_grey(data: bytes) -> list[list[int]]:
    """The pixels of an 8-bit RGB(A) or grey PNG (Chromium's screenshots), as grey levels."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, chunks, header = 8, [], b""
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            chunks.append(body)
        pos += 12 + length
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", header)
    assert depth == 8 and interlace == 0, (depth, interlace)
    channels = {0: 1, 2: 3, 4: 2, 6: 4}[colour]
    raw = zlib.decompress(b"".join(chunks))
    stride = width * channels
    rows: list[bytearray] = []
    previous = bytearray(stride)
    for y in range(height):
        kind = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        for i in range(stride):
            left = line[i - channels] if i >= channels else 0
            up = previous[i]
            corner = previous[i - channels] if i >= channels else 0
            if kind == 1:
                line[i] = (line[i] + left) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + up) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 0xFF
            elif kind == 4:
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                guess = left if pa <= pb and pa <= pc else up if pb <= pc else corner
                line[i] = (line[i] + guess) & 0xFF
        rows.append(line)
        previous = line
    return [
        [
            sum(row[x * channels : x * channels + min(channels, 3)]) // min(channels, 3)
            for x in range(width)
        ]
        for row in rows
    ]


def _modules(grey: list[list[int]], count: int) -> list[list[bool]]:
    """Dark or light at the centre of each of ``count`` × ``count`` modules."""
    height, width = len(grey), len(grey[0])
    return [
        [
            grey[int((r + 0.5) * height / count)][int((c + 0.5) * width / count)] < 128
            for c in range(count)
        ]
        for r in range(count)
    ]


def _print(page: Page, name: str) -> int:
    """Print ``page`` to A4 landscape, render each sheet to PNG; the number of sheets."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.emulate_media(media="print")
    page.wait_for_timeout(300)
    page.screenshot(path=str(SHOTS / f"{name}-print-emulated.png"), full_page=True)
    pdf = SHOTS / f"{name}.pdf"
    page.pdf(path=str(pdf), format="A4", landscape=True, print_background=True)
    for old in SHOTS.glob(f"{name}-sheet-*.png"):
        old.unlink()
    if shutil.which("pdftoppm") is None:
        pytest.skip("pdftoppm (poppler-utils) is missing: the PDF was not rendered")
    subprocess.run(["pdftoppm", "-png", "-r", "80", pdf, SHOTS / f"{name}-sheet"], check=True)
    return len(list(SHOTS.glob(f"{name}-sheet-*.png")))


def test_the_route_page_shows_the_stored_timetable(
    connection: Connection, open_page: Callable[..., Page]
) -> None:
    designed = designed_route(connection)
    SHOTS.mkdir(parents=True, exist_ok=True)
    for lang in ("vi", "en"):
        page = open_page(f"/maps/routes/{designed.id}?lang={lang}")
        rows = page.locator(".cm-timetable tbody tr")
        assert rows.count() == 5
        cells = [rows.nth(i).locator("td").all_inner_texts() for i in range(5)]
        assert [c[0] for c in cells] == ["1", "2", "3", "4", "5"]
        assert [(c[2], c[3], c[4]) for c in cells] == [
            ("1", "08:00", "09:00"),
            ("1", "09:31", "10:31"),
            ("1", "10:45", "16:45"),
            ("2", "08:45", "09:45"),
            ("2", "10:23", "11:23"),
        ]
        assert [c[5] for c in cells] == ["", "31", "14", "45", "38"]  # drive minutes
        assert cells[3][6] == "15"  # the wait for the opening
        straight = page.locator("tr.cm-straight .cm-leg-straight").all_inner_texts()
        missed = page.locator("tr.cm-missed .cm-window-problem").all_inner_texts()
        if lang == "vi":
            assert "đường thẳng — không có đường bộ" in straight[0]
            assert "đi thuyền" in straight[1]
            assert missed[0].startswith("⚠ Không kịp giờ mở cửa: đến 10:45")
            facts = page.locator(".cm-facts").inner_text()
            # The designer's 1 843 min (2 days), not the 40 km/h estimate.
            assert "30 giờ 43 phút, trong đó lái xe 2 giờ 8 phút (2 ngày)" in facts
            assert "ước tính" not in facts
        else:
            assert "straight line — no road" in straight[0] and "by boat" in straight[1]
            assert missed[0].startswith("⚠ Opening hours missed")
            assert "30 h 43 min, of which 2 h 8 min driving (2 days)" in (
                page.locator(".cm-facts").inner_text()
            )
        assert page.locator("path.cm-straight-leg").count() == 2  # dashed on the map
        downloads = page.locator("a.cm-download")
        assert [downloads.nth(i).get_attribute("href") for i in range(3)] == [
            f"{ORIGIN}/routes/{designed.id}/{fmt}?lang={lang}" for fmt in ("gpx", "kml", "kmz")
        ]
        assert not page.locator(".cm-qr").is_visible()  # paper only
        page.screenshot(path=str(SHOTS / f"designed-{lang}-desktop.png"))
        phone = open_page(f"/maps/routes/{designed.id}?lang={lang}", PHONE)
        phone.screenshot(path=str(SHOTS / f"designed-{lang}-phone.png"))


def test_the_printed_page_carries_a_qr_code_of_its_address(
    connection: Connection, open_page: Callable[..., Page]
) -> None:
    designed = designed_route(connection)
    for lang in ("vi", "en"):
        url = f"{ORIGIN}/maps/routes/{designed.id}?lang={lang}"
        page = open_page(f"/maps/routes/{designed.id}?lang={lang}", scale=4)
        page.emulate_media(media="print")
        qr = page.locator(".cm-qr svg")
        box = qr.bounding_box()
        assert box is not None and box["width"] >= 2.5 * CM and box["height"] >= 2.5 * CM
        assert page.locator(".cm-qr .cm-url").inner_text() == url  # the address in words
        # Decode what Chromium drew: each module's centre, against the symbol of the URL.
        symbol = segno.make(url, error="m")
        expected = [[bool(v) for v in row] for row in symbol.matrix_iter(scale=1, border=4)]
        drawn = _modules(_png_grey(qr.screenshot()), len(expected))
        assert drawn == expected
        other = segno.make(f"{ORIGIN}/maps/routes/{designed.id + 1}?lang={lang}", error="m")
        assert drawn != [[bool(v) for v in row] for row in other.matrix_iter(scale=1, border=4)]
        assert _print(page, f"designed-{lang}") == 1  # one A4 sheet


def test_an_undesigned_route_says_its_duration_is_an_estimate(
    connection: Connection, open_page: Callable[..., Page]
) -> None:
    route = plain_route(connection)
    for lang, words in (
        ("vi", ("ước tính với 35 km/giờ", "Chưa tính giờ")),
        ("en", ("an estimate at 35 km/h", "Times not computed")),
    ):
        page = open_page(f"/maps/routes/{route}?lang={lang}")
        assert words[0] in page.locator(".cm-facts").inner_text()
        assert words[1] in page.locator(".cm-untimed").inner_text()
        assert page.locator(".cm-timetable").count() == 0
        assert page.locator("#cm-route-panel li").count() == 3
        page.screenshot(path=str(SHOTS / f"undesigned-{lang}-desktop.png"))
        # No basemap in the tests: its note shows on screen, never on paper over a stop.
        assert page.locator(".cm-offline-note").is_visible()
        assert _print(page, f"undesigned-{lang}") == 1
        assert not page.locator(".cm-offline-note").is_visible()
        map_box = page.locator(".folium-map").bounding_box()
        assert map_box is not None
        for i in range(page.locator(".cm-stop").count()):
            stop = page.locator(".cm-stop").nth(i).bounding_box()
            assert (
                stop is not None and map_box["y"] <= stop["y"] <= map_box["y"] + map_box["height"]
            )


def test_a_long_route_prints_on_two_sheets_at_most(
    connection: Connection, open_page: Callable[..., Page]
) -> None:
    route = long_route(connection)
    page = open_page(f"/maps/routes/{route}?lang=vi")
    assert page.locator(".cm-timetable tbody tr").count() == 15
    page.screenshot(path=str(SHOTS / "long-vi-desktop.png"))
    open_page(f"/maps/routes/{route}?lang=vi", PHONE).screenshot(
        path=str(SHOTS / "long-vi-phone.png")
    )
    assert _print(page, "long-vi") <= 2
