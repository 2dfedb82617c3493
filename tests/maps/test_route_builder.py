"""The route builder of ``/maps/edit?role=tourism`` in Chromium (issue 15 points 6 and 7).

A small road network of this module's own, every length known by hand (Geod.fwd moves of
whole kilometres, roads at 60 km/h: one minute a kilometre), four tourism villages on it:

    A ──6 km north── K ──8 km east── B
                                     │ 6 km south
                                     C ──20 km east── D

Given A, C, B, D the drive is 20 + 6 + 26 = 52 min; the best order from A (end open) is
A, B, C, D: 14 + 6 + 20 = 40 min, 12 min less.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import shapely
import sqlalchemy as sa
from playwright.sync_api import Browser, Page
from pyproj import Geod

from api.settings import ApiSettings
from geo.io import network
from geo.kernel.vocab import RoadClass
from geo.store.db import set_actor
from maps import assets
from tests.browser import ARTIFACTS, needs_chromium
from tests.conftest import demo_database
from tests.factories import make_key, make_village
from tests.live import LiveServer, live_server

pytestmark = needs_chromium

SHOTS = ARTIFACTS / "issue15" / "editor"
GEOD = Geod(ellps="WGS84")
BASE = (105.20, 20.12)
HOSTILE = "Làng <img src=x onerror=alert(1)> Đông"


def _move(at: tuple[float, float], azimuth: float, km: float) -> tuple[float, float]:
    lon, lat, _ = GEOD.fwd(at[0], at[1], azimuth, km * 1000)
    return (lon, lat)


A = BASE
K = _move(A, 0, 6)
B = _move(K, 90, 8)
C = _move(B, 180, 6)
D = _move(C, 90, 20)
NAMES = {"A": "Làng Gốm Đông Sơn", "B": "Làng Cói Nga Sơn", "C": "Làng Mây Tre Đan", "D": HOSTILE}


@pytest.fixture(scope="module")
def database_url_(pg_server_url: str) -> Iterator[str]:
    with demo_database(pg_server_url, "craftmap_route_builder") as url:
        yield url


@pytest.fixture(scope="module")
def villages(database_url_: str) -> dict[str, int]:
    """The network (the only one: the demo's is dropped) and the four villages; their ids."""
    engine = sa.create_engine(database_url_)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("DELETE FROM road_network"))
            set_actor(conn, "test")

            def road(*points: tuple[float, float]) -> network.Edge:
                return network.Edge(
                    geom=shapely.LineString(points), road_class=RoadClass.TERTIARY, maxspeed=60
                )

            network.build_network(
                conn,
                [road(A, K), road(K, B), road(B, C), road(C, D)],
                name="builder-test",
                source="test",
                source_hash=None,
                approximate=False,
                actor="test",
            )
    finally:
        engine.dispose()
    at = {"A": A, "B": B, "C": C, "D": D}
    return {
        key: make_village(database_url_, at=at[key], name=NAMES[key], tourism_linked=True)
        for key in at
    }


@pytest.fixture(scope="module")
def live(database_url_: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    assets.fetch(ApiSettings().map_assets_dir)
    env = {"CRAFTMAP_BASEMAP_URL": "none"}
    with live_server(database_url_, tmp_path_factory.mktemp("builder"), env=env) as server:
        yield server


@pytest.fixture(scope="module")
def keys(database_url_: str) -> dict[str, str]:
    return {
        role: make_key(database_url_, role, f"builder {role}") for role in ("viewer", "tourism")
    }


class Opened:
    def __init__(self, page: Page) -> None:
        self.page = page
        self.errors: list[str] = []
        self.dialogs: list[str] = []
        page.on("pageerror", lambda error: self.errors.append(str(error)))

        def dialog(d: Any) -> None:
            self.dialogs.append(d.message)
            d.dismiss()

        page.on("dialog", dialog)


def _open(
    browser: Browser,
    live: LiveServer,
    lang: str = "vi",
    viewport: dict[str, int] | None = None,
    key: str | None = None,
) -> Opened:
    context = browser.new_context(viewport=viewport or {"width": 1280, "height": 800})  # type: ignore[arg-type]
    opened = Opened(context.new_page())
    page = opened.page
    page.goto(f"{live.url}/maps/edit?role=tourism&lang={lang}", wait_until="networkidle")
    if key is not None:
        field = page.locator("#cm-editor input[name=api_key]")
        field.fill(key)
        field.dispatch_event("change")
        page.wait_for_function(
            "document.getElementById('cm-editor').dataset.writable !== undefined"
        )
    # The test's villages in view, on the free side of the panel.
    phone = (viewport or {}).get("width", 1280) < 600
    page.evaluate(
        """([a, d, phone]) => {
          const map = Object.values(window).find(v => v instanceof L.Map);
          const bounds = L.latLngBounds([[a[1], a[0]], [d[1], d[0]]]);
          map.fitBounds(bounds, {animate: false, paddingTopLeft: [60, 60],
            paddingBottomRight: phone ? [30, map.getSize().y * 0.55] : [420, 60]});
        }""",
        [A, D, phone],
    )
    return opened


def _click_village(page: Page, village_id: int) -> None:
    """A real click on the village's pin."""
    box = page.evaluate(
        """(id) => {
          const map = Object.values(window).find(v => v instanceof L.Map);
          let found = null;
          map.eachLayer(l => { if (l.cmId === id && l.getLatLng && l._icon) found = l; });
          const r = found._icon.getBoundingClientRect();
          return {x: r.x + r.width / 2, y: r.y + r.height / 2};
        }""",
        village_id,
    )
    page.mouse.click(box["x"], box["y"])


def _drag(page: Page, source: int, target: int) -> None:
    """HTML5 drag and drop by the stop's grip (a drag begun on a field selects its text)."""
    stops = page.locator("#cm-stops li")
    stops.nth(source).drag_to(
        stops.nth(target), source_position={"x": 10, "y": 14}, target_position={"x": 60, "y": 14}
    )


def _names(page: Page) -> list[str]:
    return page.locator("#cm-stops li .cm-stop-name").all_inner_texts()


def _pins(page: Page) -> list[str]:
    return page.locator(".cm-stop-pin").all_inner_texts()


def _settled(page: Page) -> None:
    """The preview asked after the last change has answered."""
    page.wait_for_timeout(500)
    page.wait_for_function("document.getElementById('cm-editor').dataset.preview === 'done'")


def _timetable(page: Page) -> list[dict[str, str]]:
    rows: list[dict[str, str]] = page.evaluate(
        """() => Array.from(document.querySelectorAll('#cm-timetable tr')).slice(1).map(tr => ({
          name: tr.querySelector('.cm-name').firstChild.textContent,
          arrive: tr.querySelector('.cm-arrive').textContent,
          depart: tr.querySelector('.cm-depart').textContent,
          drive: tr.querySelector('.cm-drive').textContent}))"""
    )
    return rows


def _build_given_order(page: Page, villages: dict[str, int]) -> None:
    """A, C, B, D by clicks, then reordered, a stop removed and added again; A stays 30 min."""
    for key in ("A", "C", "B", "D"):
        _click_village(page, villages[key])
    assert _names(page) == [NAMES[k] for k in ("A", "C", "B", "D")]
    assert _pins(page) == ["1", "2", "3", "4"]
    # Drag B (third) onto the second place: A, B, C, D.
    _drag(page, 2, 1)
    assert _names(page) == [NAMES[k] for k in ("A", "B", "C", "D")]
    # C up with its button: A, C, B, D again.
    page.locator("#cm-stops li").nth(2).get_by_role("button", name=_word(page, "up")).click()
    assert _names(page) == [NAMES[k] for k in ("A", "C", "B", "D")]
    # D removed, then clicked again.
    page.locator("#cm-stops li").nth(3).get_by_role("button", name=_word(page, "remove")).click()
    assert _names(page) == [NAMES[k] for k in ("A", "C", "B")]
    assert _pins(page) == ["1", "2", "3"]
    _click_village(page, villages["D"])
    dwell = page.locator("#cm-stops li").nth(0).locator("input.cm-dwell")
    dwell.fill("30")
    dwell.dispatch_event("change")
    assert _names(page) == [NAMES[k] for k in ("A", "C", "B", "D")]
    assert _pins(page) == ["1", "2", "3", "4"]


def _word(page: Page, key: str) -> str:
    return str(
        page.evaluate(
            f"() => document.querySelector('#cm-stops button[title]') && ({json.dumps(key)})"
        )
    )


def test_villages_clicked_become_stops_reordered_and_removed(
    browser: Browser, live: LiveServer, villages: dict[str, int]
) -> None:
    opened = _open(browser, live, "en")
    page = opened.page
    for key in ("A", "C", "B", "D"):
        _click_village(page, villages[key])
    assert _names(page) == [NAMES[k] for k in ("A", "C", "B", "D")]
    assert _pins(page) == ["1", "2", "3", "4"]
    _drag(page, 2, 1)
    assert _names(page) == [NAMES[k] for k in ("A", "B", "C", "D")]
    page.locator("#cm-stops li").nth(2).get_by_role("button", name="Move up").click()
    assert _names(page) == [NAMES[k] for k in ("A", "C", "B", "D")]
    page.locator("#cm-stops li").nth(0).get_by_role("button", name="Move down").click()
    assert _names(page) == [NAMES[k] for k in ("C", "A", "B", "D")]
    page.locator("#cm-stops li").nth(3).get_by_role("button", name="Remove the stop").click()
    assert _names(page) == [NAMES[k] for k in ("C", "A", "B")]
    assert _pins(page) == ["1", "2", "3"]
    # The hostile name is text in the list and the pin's tooltip; no dialog, no image.
    _click_village(page, villages["D"])
    assert _names(page)[-1] == HOSTILE
    page.locator(".cm-stop-pin").nth(3).hover()
    page.wait_for_timeout(200)
    assert page.locator("#cm-editor img, .leaflet-tooltip img").count() == 0
    assert opened.dialogs == [] and opened.errors == []
