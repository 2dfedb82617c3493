"""The map pages in a real browser: Debian's Chromium driven by playwright, no internet."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Page

from api.settings import ApiSettings
from maps import assets
from tests.browser import ARTIFACTS, needs_chromium
from tests.conftest import demo_database
from tests.factories import MISSING_ID, TWO_STOPS, make_key, make_route
from tests.live import live_server

pytestmark = needs_chromium


@pytest.fixture(scope="module")
def map_database_url(pg_server_url: str) -> Iterator[str]:
    """A demo database of this module's own: the editor tests commit what they save."""
    with demo_database(pg_server_url, "craftmap_maps") as url:
        yield url


@pytest.fixture(scope="module")
def planner_key(map_database_url: str) -> str:
    return make_key(map_database_url, "planner", "browser planner")


@pytest.fixture(scope="module")
def served(map_database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """craftmap in its own process, with no basemap so the page needs nothing outside."""
    assets.fetch(ApiSettings().map_assets_dir)
    env = {"CRAFTMAP_BASEMAP_URL": "none"}
    with live_server(map_database_url, tmp_path_factory.mktemp("maps"), env=env) as server:
        yield server.url


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
    for theme in ("Làng nghề", "Vùng nguyên liệu", "Tuyến du lịch", "Đơn vị hành chính"):
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
    assert page.locator(".cm-search li[data-kind=village]", has_text="Trà Đông").count() == 1

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


def test_route_map_has_stops_length_and_print_layout(
    served: str, map_database_url: str, watched: Watched
) -> None:
    page = watched.page
    route_id = make_route(map_database_url, stops=TWO_STOPS)
    page.goto(f"{served}/maps/routes/{route_id}", wait_until="networkidle")
    panel = page.locator("#cm-route-panel")
    assert panel.is_visible()
    text = panel.inner_text()
    assert "km" in text and "Thời lượng" in text
    assert panel.locator("li").count() >= 2
    assert page.locator(".cm-stop").count() >= 2
    page.emulate_media(media="print")
    assert page.locator("#cm-route-panel button").is_hidden()
    ARTIFACTS.mkdir(exist_ok=True)
    page.pdf(path=str(ARTIFACTS / "route.pdf"), format="A4", landscape=True)
    assert watched.errors == [], watched.errors
    outside = [u for u in watched.requests if urlsplit(u).hostname not in {"127.0.0.1"}]
    assert outside == [], outside


def test_unknown_route_is_404(served: str) -> None:
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(f"{served}/maps/routes/{MISSING_ID}")
    assert caught.value.code == 404


def _draw_square(page: Page) -> None:
    """Draw a small square with Leaflet.draw's polygon tool, in the middle of the map."""
    page.locator(".leaflet-draw-draw-polygon").click()
    box = page.locator(".folium-map").bounding_box()
    assert box is not None
    cx, cy = box["x"] + box["width"] / 2 - 150, box["y"] + box["height"] / 2
    for dx, dy in ((0, 0), (40, 0), (40, 40), (0, 40)):
        page.mouse.click(cx + dx, cy + dy)
        page.wait_for_timeout(150)
    page.mouse.click(cx, cy)  # back on the first vertex closes the ring


def test_drawing_a_zone_and_saving_it_creates_it(
    served: str, watched: Watched, planner_key: str
) -> None:
    page = watched.page
    page.goto(f"{served}/maps/edit", wait_until="networkidle")
    form = page.locator("#cm-editor")
    assert form.is_visible()
    _draw_square(page)
    form.locator("input[name=api_key]").fill(planner_key)
    form.locator("input[name=code]").fill("BROWSER-ZONE-1")
    form.locator("input[name=name]").fill("Vùng cói vẽ trên bản đồ")
    form.locator("select[name=material]").select_option("sedge")
    form.locator("button[type=submit]").click()
    message = form.locator(".cm-message")
    message.locator("a").wait_for()
    assert "Đã lưu" in message.inner_text()

    query = "/collections/material-zones/items?code=BROWSER-ZONE-1"
    with urllib.request.urlopen(f"{served}{query}") as response:
        found = json.load(response)["features"]
    assert len(found) == 1
    zone = found[0]
    assert zone["properties"]["name"] == "Vùng cói vẽ trên bản đồ"
    assert zone["properties"]["material"] == "sedge"
    assert zone["geometry"]["type"] in {"Polygon", "MultiPolygon"}
    assert zone["properties"]["area_ha"] > 0
    assert watched.errors == [], watched.errors


def test_saving_without_a_key_shows_the_401_message(served: str, watched: Watched) -> None:
    page = watched.page
    page.goto(f"{served}/maps/edit", wait_until="networkidle")
    _draw_square(page)
    form = page.locator("#cm-editor")
    form.locator("input[name=code]").fill("BROWSER-ZONE-401")
    form.locator("input[name=name]").fill("Không có khóa")
    form.locator("button[type=submit]").click()
    message = form.locator(".cm-message.cm-error")
    message.wait_for()
    assert "401" in message.inner_text() and "khóa API" in message.inner_text()
    with urllib.request.urlopen(
        f"{served}/collections/material-zones/items?code=BROWSER-ZONE-401"
    ) as response:
        assert json.load(response)["numberMatched"] == 0
    # The browser reports the refused request in its console; nothing else may fail.
    assert [e for e in watched.errors if "401" not in e] == []


def test_a_bad_value_shows_the_api_problem_in_the_form(
    served: str, watched: Watched, planner_key: str
) -> None:
    page = watched.page
    page.goto(f"{served}/maps/edit", wait_until="networkidle")
    _draw_square(page)
    form = page.locator("#cm-editor")
    form.locator("input[name=api_key]").fill(planner_key)
    form.locator("input[name=code]").fill("BROWSER-ZONE-1")  # taken by the test above
    form.locator("input[name=name]").fill("Trùng mã")
    form.locator("button[type=submit]").click()
    message = form.locator(".cm-message.cm-error")
    message.wait_for()
    # The zone holding the code is named (tests/maps/test_editor.py checks the link).
    assert message.inner_text().startswith("Mã BROWSER-ZONE-1 đã được dùng cho vùng")


def test_tourism_preset_opens_with_routes(served: str, watched: Watched) -> None:
    page = watched.page
    page.goto(f"{served}/maps/edit?role=tourism", wait_until="networkidle")
    labels = page.locator(".leaflet-control-layers-overlays label").all_inner_texts()
    assert any("Tuyến du lịch" in label for label in labels), labels
    assert not any("Vùng nguyên liệu" in label for label in labels), labels
    # A route is built from stops (villages clicked, free points placed), not drawn bare.
    assert page.locator(".leaflet-draw-draw-marker").count() == 1
    assert page.locator(".leaflet-draw-draw-polyline").count() == 0
    assert page.locator(".leaflet-draw-draw-polygon").count() == 0
    assert page.locator("#cm-editor #cm-stops").count() == 1


@pytest.fixture(scope="module")
def admin_key(map_database_url: str) -> str:
    return make_key(map_database_url, "admin", "browser admin")


def _village(served: str, code: str) -> dict[str, object]:
    with urllib.request.urlopen(f"{served}/collections/villages/items?code={code}") as response:
        features: list[dict[str, object]] = json.load(response)["features"]
    assert len(features) == 1
    return features[0]


def test_moving_a_village_saves_its_new_position(
    served: str, watched: Watched, admin_key: str
) -> None:
    page = watched.page
    page.goto(f"{served}/maps/edit", wait_until="networkidle")
    key = page.locator("#cm-editor input[name=api_key]")
    key.fill(admin_key)
    key.dispatch_event("change")  # what the key may write is asked when it is entered
    page.wait_for_selector("#cm-editor[data-writable~=villages]", state="attached")
    page.locator(".leaflet-draw-edit-edit").click()
    # The editable village markers are the villages' own pins; take one in the middle.
    handles = page.locator(".leaflet-marker-icon.leaflet-edit-marker-selected")
    index = page.evaluate(
        """() => [...document.querySelectorAll('.leaflet-marker-icon.leaflet-edit-marker-selected')]
             .findIndex(el => { const r = el.getBoundingClientRect();
               return r.left > 350 && r.top > 150 && r.right < innerWidth - 350
                 && r.bottom < innerHeight - 150; })"""
    )
    assert index >= 0
    handle = handles.nth(index)
    box = handle.bounding_box()
    assert box is not None
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] - 2
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + 60, y + 40, steps=8)
    page.mouse.up()
    with page.expect_response(lambda r: r.request.method == "PATCH") as patched:
        page.locator(".leaflet-draw-actions a", has_text="Lưu").first.click()
    assert patched.value.status == 200, patched.value.text()
    message = page.locator("#cm-editor .cm-message.cm-ok")
    message.wait_for()
    moved_id = patched.value.json()["id"]
    with urllib.request.urlopen(f"{served}/collections/villages/items/{moved_id}") as response:
        moved = json.load(response)
    with urllib.request.urlopen(f"{served}/collections/villages/items/{moved_id}/history") as r:
        history = json.load(r)
    assert moved["properties"]["version"] >= 2
    latest = history["versions"][-1]
    assert latest["action"] == "update"
    assert latest["state"]["geometry"]["coordinates"] == moved["geometry"]["coordinates"]
    before = history["versions"][-2]["state"]["geometry"]["coordinates"]
    assert before != moved["geometry"]["coordinates"]  # it really moved


def test_large_zone_layers_come_from_the_vector_tiles(
    map_database_url: str, browser: Browser, tmp_path: Path
) -> None:
    # The same page with a limit below the demo's 15 zones: zones must come as tiles.
    env = {"CRAFTMAP_BASEMAP_URL": "none", "CRAFTMAP_MAP_EMBED_LIMIT": "5"}
    with live_server(map_database_url, tmp_path, env=env) as server:
        base = server.url
        context = browser.new_context(locale="vi-VN")
        watched = Watched(context.new_page())
        statuses: list[int] = []
        watched.page.on(
            "response", lambda r: statuses.append(r.status) if "/tiles/" in r.url else None
        )
        watched.page.goto(f"{base}/maps", wait_until="networkidle")
        if not statuses:
            # On a loaded machine the page's script can stay busy past the 500 ms quiet
            # that counts as network idle before it asks for the first tile (seen under
            # xdist, 2026-11-30): wait for that tile, then for the others.
            watched.page.wait_for_event(
                "response", predicate=lambda r: "/tiles/" in r.url, timeout=30_000
            )
            watched.page.wait_for_load_state("networkidle")
        html = watched.page.content()
        assert "Vùng luồng FSC Quan Hóa" not in html  # not embedded
        assert statuses and set(statuses) <= {200, 204}, statuses
        assert 200 in statuses
        assert watched.page.locator(".leaflet-overlay-pane svg path, canvas").count() > 0
        assert watched.errors == [], watched.errors
        context.close()
