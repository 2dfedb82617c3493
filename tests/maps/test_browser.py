"""The map pages in a real browser: Debian's Chromium driven by playwright, no internet."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from geo.cluster import free_port
from maps import assets
from tests.test_cli import CRAFTMAP

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists(), reason="Debian's chromium is missing: apt-get install chromium"
)


@pytest.fixture(scope="module")
def served(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """craftmap in its own process, with no basemap so the page needs nothing outside."""
    assets.fetch(assets.default_folder())
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CRAFTMAP_")}
    env.update(DATABASE_URL=database_url, CRAFTMAP_BASEMAP_URL="none")
    log = (tmp_path_factory.mktemp("maps") / "serve.log").open("w")
    server = subprocess.Popen(
        [CRAFTMAP, "serve", "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{base}/ready", timeout=2):
                break
        except OSError:
            time.sleep(0.2)
    yield base
    server.terminate()
    server.wait(timeout=30)
    log.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-dev-shm-usage", "--disable-background-networking"],
        )
        yield chromium
        chromium.close()


class Watched:
    """A page with its JavaScript errors and every URL it asked for."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.errors: list[str] = []
        self.requests: list[str] = []
        page.on("pageerror", lambda error: self.errors.append(str(error)))
        page.on(
            "console",
            lambda message: self.errors.append(message.text) if message.type == "error" else None,
        )
        page.on("request", lambda request: self.requests.append(request.url))


@pytest.fixture
def watched(browser: Browser) -> Iterator[Watched]:
    # A Vietnamese browser: pages follow Accept-Language when lang= is not given.
    context = browser.new_context(viewport={"width": 1280, "height": 860}, locale="vi-VN")
    yield Watched(context.new_page())
    context.close()


def village_names(base: str) -> set[str]:
    """Every village name, from the Features API."""
    with urllib.request.urlopen(f"{base}/collections/villages/items?limit=1000") as response:
        body = json.load(response)
    return {feature["properties"]["name"] for feature in body["features"]}


def test_overview_map_works_offline(served: str, watched: Watched) -> None:
    page = watched.page
    page.goto(f"{served}/maps", wait_until="networkidle")
    page.wait_for_selector(".leaflet-control-layers")

    layer_names = page.locator(".leaflet-control-layers-overlays label").all_inner_texts()
    for theme in ("Làng nghề", "Vùng nguyên liệu", "Tuyến du lịch", "Ranh giới hành chính"):
        assert any(theme in name for name in layer_names), (theme, layer_names)
    legend = page.locator(".cm-legend")
    assert legend.is_visible()
    assert "Cói" in legend.inner_text() and "Chú giải" in legend.inner_text()
    assert page.locator(".leaflet-control-scale").is_visible()
    assert page.locator(".leaflet-control-zoom-fullscreen, .leaflet-control-fullscreen").count()
    assert page.locator(".leaflet-control-measure").count()

    # Search without diacritics, then pick the village: its popup opens with its name.
    search = page.locator(".cm-search input")
    search.fill("tra dong")
    page.locator(".cm-search li", has_text="Trà Đông").first.click()
    popup = page.locator(".leaflet-popup-content")
    popup.wait_for(state="visible")
    assert "Trà Đông" in popup.inner_text()
    assert "/collections/villages/items/" in popup.inner_html()
    search.fill("Trà Đông")
    assert page.locator(".cm-search li", has_text="Trà Đông").count() == 1

    # A click on a village marker opens the popup of that village.
    page.locator(".leaflet-popup-close-button").click()
    popup.wait_for(state="hidden")
    in_view = page.evaluate(
        """() => [...document.querySelectorAll('.cm-pin')].findIndex(el => {
             const r = el.getBoundingClientRect();
             return r.left > 60 && r.top > 60 && r.right < innerWidth - 320
               && r.bottom < innerHeight - 60; })"""
    )
    assert in_view >= 0
    marker = page.locator(".cm-pin").nth(in_view)
    marker.click()
    popup.wait_for(state="visible")
    assert popup.locator("h4").inner_text().strip() in village_names(served)

    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "maps-overview.png"), full_page=True)

    outside = [u for u in watched.requests if urlsplit(u).hostname not in {"127.0.0.1"}]
    assert outside == [], outside
    assert watched.errors == [], watched.errors


def test_overview_map_in_english(served: str, watched: Watched) -> None:
    watched.page.goto(f"{served}/maps?lang=en", wait_until="networkidle")
    labels = watched.page.locator(".leaflet-control-layers-overlays label").all_inner_texts()
    assert any("Craft villages" in label for label in labels), labels
    assert "Sedge" in watched.page.locator(".cm-legend").inner_text()
    assert watched.errors == []


def test_route_map_has_stops_length_and_print_layout(served: str, watched: Watched) -> None:
    page = watched.page
    page.goto(f"{served}/maps/routes/1", wait_until="networkidle")
    panel = page.locator("#cm-route-panel")
    assert panel.is_visible()
    text = panel.inner_text()
    assert "km" in text and "Thời lượng" in text
    assert panel.locator("li").count() >= 2
    assert page.locator(".cm-stop").count() >= 2
    page.emulate_media(media="print")
    assert page.locator("#cm-route-panel button").is_hidden()
    ARTIFACTS.mkdir(exist_ok=True)
    page.pdf(path=str(ARTIFACTS / "route-1.pdf"), format="A4", landscape=True)
    assert watched.errors == [], watched.errors
    outside = [u for u in watched.requests if urlsplit(u).hostname not in {"127.0.0.1"}]
    assert outside == [], outside


def test_unknown_route_is_404(served: str) -> None:
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(f"{served}/maps/routes/999")
    assert caught.value.code == 404
