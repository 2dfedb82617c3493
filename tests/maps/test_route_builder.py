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
from maps import assets, edit, route_builder
from tests.browser import ARTIFACTS, needs_chromium, poll_until
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
        poll_until(
            page, "() => document.getElementById('cm-editor').dataset.writable !== undefined"
        )
    # The test's villages in view, on the free side of the panel. On the phone at a fixed
    # zoom: fitBounds once chose zoom 9 there, where B lies 21 px above C and C's numbered
    # stop pin (drawn above its village) covered B's pin, so B could not be clicked. At
    # zoom 10 they are 42 px apart and A to D (28 km) is 196 px wide.
    phone = (viewport or {}).get("width", 1280) < 600
    page.evaluate(
        """([a, d, phone]) => {
          const map = Object.values(window).find(v => v instanceof L.Map);
          const bounds = L.latLngBounds([[a[1], a[0]], [d[1], d[0]]]);
          if (phone) {
            // The bounds' centre a quarter down the screen, above the panel's 55 %.
            map.setView(bounds.getCenter(), 10, {animate: false});
            map.panBy([0, map.getSize().y * 0.25], {animate: false});
          } else {
            map.fitBounds(bounds, {animate: false, paddingTopLeft: [60, 60],
              paddingBottomRight: [420, 60]});
          }
        }""",
        [A, D, phone],
    )
    return opened


def _click_village(page: Page, village_id: int) -> None:
    """A real click on the village's pin, and the stop it adds.

    Under a loaded CI machine a click at the pin's computed centre was lost twice in a
    row (a phone run listed 3 of 4 villages). Playwright's own click waits until the pin
    is visible, stable and the topmost element at its centre, and says what covers it
    otherwise; the pin is marked afresh each try in case the layer was redrawn.
    """
    listed = page.locator("#cm-stops li").count()
    pin = page.locator(f'[data-test-village="{village_id}"]')
    for _ in range(3):
        page.evaluate(
            """(id) => {
              const map = Object.values(window).find(v => v instanceof L.Map);
              map.eachLayer(l => {
                if (l.cmId === id && l.getLatLng && l._icon)
                  l._icon.setAttribute('data-test-village', String(id));
              });
            }""",
            village_id,
        )
        pin.click(timeout=10_000)
        try:
            poll_until(
                page,
                "(n) => document.querySelectorAll('#cm-stops li').length > n",
                arg=listed,
                timeout=5_000,
            )
            return
        except AssertionError:
            continue
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"lost-click-{village_id}.png"))
    raise AssertionError(f"three clicks on village {village_id} added no stop")


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
    poll_until(page, "() => document.getElementById('cm-editor').dataset.preview === 'done'")


def _timetable(page: Page) -> list[dict[str, str]]:
    rows: list[dict[str, str]] = page.evaluate(
        """() => Array.from(document.querySelectorAll('#cm-timetable tr')).slice(1).map(tr => ({
          name: tr.querySelector('.cm-name').firstChild.textContent,
          arrive: tr.querySelector('.cm-arrive').textContent,
          depart: tr.querySelector('.cm-depart').textContent,
          drive: tr.querySelector('.cm-drive').textContent}))"""
    )
    return rows


def _build_given_order(page: Page, villages: dict[str, int], lang: str) -> None:
    """A, C, B, D by clicks, reordered by drag and by button, D removed and clicked again;
    A stays 30 minutes, the others the default hour."""
    words = {k: route_builder.TEXT[k](lang) for k in ("up", "remove")}
    for key in ("A", "C", "B", "D"):
        _click_village(page, villages[key])
    assert _names(page) == [NAMES[k] for k in ("A", "C", "B", "D")]
    _drag(page, 2, 1)
    assert _names(page) == [NAMES[k] for k in ("A", "B", "C", "D")]
    page.locator("#cm-stops li").nth(2).get_by_role("button", name=words["up"]).click()
    assert _names(page) == [NAMES[k] for k in ("A", "C", "B", "D")]
    page.locator("#cm-stops li").nth(3).get_by_role("button", name=words["remove"]).click()
    assert _pins(page) == ["1", "2", "3"]
    _click_village(page, villages["D"])
    dwell = page.locator("#cm-stops li").nth(0).locator("input.cm-dwell")
    dwell.fill("30")
    dwell.dispatch_event("change")
    assert _names(page) == [NAMES[k] for k in ("A", "C", "B", "D")]
    assert _pins(page) == ["1", "2", "3", "4"]


def _legs(page: Page) -> list[dict[str, Any]]:
    """The legs drawn on the map: their kind (CSS class) and vertex count."""
    legs: list[dict[str, Any]] = page.evaluate(
        """() => {
          const map = Object.values(window).find(v => v instanceof L.Map);
          const found = [];
          map.eachLayer(l => {
            if (l instanceof L.Polyline && (l.options.className || '').includes('cm-leg')) {
              found.push({cls: l.options.className, vertices: l.getLatLngs().length});
            }
          });
          return found;
        }"""
    )
    return legs


def _fill_route(page: Page, code: str) -> None:
    page.locator("#cm-editor input[name=code]").fill(code)
    page.locator("#cm-editor input[name=name]").fill(f"Tuyến làng nghề {code}")


def _route_by_code(live: LiveServer, code: str) -> list[dict[str, Any]]:
    answer = live.request(
        f"/collections/routes/items?code={code}", headers={"Accept": "application/geo+json"}
    )
    assert answer.status == 200
    features: list[dict[str, Any]] = json.loads(answer.body)["features"]
    return features


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


GIVEN = [
    ("08:00", "08:30", ""),
    ("08:50", "09:50", "20"),
    ("09:56", "10:56", "6"),
    ("11:22", "12:22", "26"),
]
BEST = [
    ("08:00", "08:30", ""),
    ("08:44", "09:44", "14"),
    ("09:50", "10:50", "6"),
    ("11:10", "12:10", "20"),
]
# Each language once and each screen once (Vietnamese on the phone, the narrowest layout
# for the longest words): all four combinations cost the suite 19 s.
SCREENS = [
    ("en", {"width": 1280, "height": 800}, "desktop"),
    ("vi", {"width": 390, "height": 844}, "phone"),
]


@pytest.mark.parametrize(("lang", "viewport", "device"), SCREENS)
def test_preview_draws_road_legs_and_timetable_and_optimise_reorders(
    browser: Browser,
    live: LiveServer,
    villages: dict[str, int],
    lang: str,
    viewport: dict[str, int],
    device: str,
) -> None:
    opened = _open(browser, live, lang, viewport)
    page = opened.page
    _build_given_order(page, villages, lang)
    _settled(page)
    # Three road legs; A → C follows the road round K and B: four vertices, not two.
    legs = _legs(page)
    assert len(legs) == 3 and all("cm-leg-road" in leg["cls"] for leg in legs), legs
    assert legs[0]["vertices"] == 4
    rows = _timetable(page)
    assert [r["name"] for r in rows] == [NAMES[k] for k in ("A", "C", "B", "D")]
    assert [(r["arrive"], r["depart"], r["drive"]) for r in rows] == GIVEN
    page.locator("#cm-optimise").click()
    poll_until(page, "() => document.getElementById('cm-editor').dataset.preview === 'done'")
    page.wait_for_selector(".cm-saving")
    assert _names(page) == [NAMES[k] for k in ("A", "B", "C", "D")]
    assert _pins(page) == ["1", "2", "3", "4"]
    assert page.locator(".cm-saving").inner_text() == route_builder.TEXT["saving_time"](
        lang
    ).replace("{n}", "12")
    rows = _timetable(page)
    assert [r["name"] for r in rows] == [NAMES[k] for k in ("A", "B", "C", "D")]
    assert [(r["arrive"], r["depart"], r["drive"]) for r in rows] == BEST
    # On a phone every button of the list is a finger wide and the list scrolls.
    sizes = page.evaluate(
        """() => Array.from(document.querySelectorAll(
          '#cm-stops button, #cm-optimise, #cm-editor button[type=submit]'))
          .map(b => [b.offsetWidth, b.offsetHeight])"""
    )
    assert all(w >= 44 and h >= 44 for w, h in sizes), sizes
    assert page.evaluate("getComputedStyle(document.getElementById('cm-stops')).overflowY") == (
        "auto"
    )
    # The hostile village name is text everywhere it shows.
    assert page.locator("#cm-editor img, .leaflet-tooltip img, .leaflet-popup img").count() == 0
    assert opened.dialogs == [] and opened.errors == []
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"builder-{device}-{lang}.png"))
    page.locator("#cm-timetable").scroll_into_view_if_needed()
    page.screenshot(path=str(SHOTS / f"builder-timetable-{device}-{lang}.png"))


def test_save_writes_the_route_its_stops_and_the_design(
    browser: Browser,
    live: LiveServer,
    villages: dict[str, int],
    keys: dict[str, str],
    database_url_: str,
) -> None:
    opened = _open(browser, live, "vi", key=keys["tourism"])
    page = opened.page
    _build_given_order(page, villages, "vi")
    _settled(page)
    page.locator("#cm-optimise").click()
    page.wait_for_selector(".cm-saving")
    _fill_route(page, "T-RB-OK")
    page.locator("#cm-editor button[type=submit]").click()
    poll_until(page, "() => document.getElementById('cm-editor').dataset.savedRoute")
    message = page.locator("#cm-editor .cm-message")
    assert message.inner_text() == route_builder.TEXT["saved_all"]("vi").replace(
        "{code}", "T-RB-OK"
    ).replace("{n}", "4")
    [route] = _route_by_code(live, "T-RB-OK")
    route_id = route["id"]
    assert route["properties"]["line_source"] == "roads"
    assert route["properties"]["start_time"] == "08:00:00"
    assert route["properties"]["drive_min"] == pytest.approx(40, abs=0.1)
    stops = json.loads(
        live.request(
            f"/collections/route-stops/items?route_id={route_id}",
            headers={"Accept": "application/geo+json"},
        ).body
    )["features"]
    stops.sort(key=lambda f: f["properties"]["seq"])
    props = [f["properties"] for f in stops]
    assert [p["village_id"] for p in props] == [villages[k] for k in ("A", "B", "C", "D")]
    assert [p["dwell_min"] for p in props] == [30, 60, 60, 60]
    assert [p["arrive_at"] for p in props] == ["08:00:00", "08:44:00", "09:50:00", "11:10:00"]
    assert [p["leg_kind"] for p in props] == [None, "road", "road", "road"]
    # Village stops are sent without a geometry: each stands where its village stands.
    for stop, key in zip(stops, ("A", "B", "C", "D"), strict=True):
        assert stop["geometry"]["coordinates"] == pytest.approx(
            list({"A": A, "B": B, "C": C, "D": D}[key]), abs=1e-7
        )
    # The history has the route, each stop, and the design's writes, by this key's actor.
    engine = sa.create_engine(database_url_)
    try:
        with engine.connect() as conn:
            written = conn.execute(
                sa.text(
                    "SELECT table_name, action, count(*) FROM feature_history "
                    "WHERE (table_name = 'tourism_route' AND feature_id = :r) "
                    "OR (table_name = 'route_stop' AND feature_id = ANY(:s)) "
                    "GROUP BY 1, 2"
                ),
                {"r": str(route_id), "s": [str(f["id"]) for f in stops]},
            ).all()
    finally:
        engine.dispose()
    counts = {(t, a): n for t, a, n in written}
    assert counts[("tourism_route", "create")] == 1
    assert counts[("route_stop", "create")] == 4
    assert counts.get(("route_stop", "update"), 0) >= 3
    # Links to the route's map and its page.
    links = page.locator("#cm-route-links a")
    hrefs = [links.nth(i).get_attribute("href") or "" for i in range(links.count())]
    assert any(f"/maps/routes/{route_id}" in h for h in hrefs), hrefs
    assert opened.errors == [] and opened.dialogs == []
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "builder-saved-desktop-vi.png"))


@pytest.mark.parametrize("role", ["viewer", None])
def test_a_key_that_may_not_write_is_told_in_words_and_nothing_is_saved(
    browser: Browser,
    live: LiveServer,
    villages: dict[str, int],
    keys: dict[str, str],
    role: str | None,
) -> None:
    opened = _open(browser, live, "en", key=None if role is None else keys[role])
    page = opened.page
    for key in ("A", "B"):
        _click_village(page, villages[key])
    code = f"T-RB-{role or 'NONE'}".upper()
    _fill_route(page, code)
    page.locator("#cm-editor button[type=submit]").click()
    message = page.locator("#cm-editor .cm-message.cm-error")
    message.wait_for()
    expected = route_builder.TEXT["nothing_saved"]("en")
    words = edit.TEXT["forbidden" if role else "unauthorized"]("en")
    assert message.inner_text() == f"{words} {expected}"
    assert _route_by_code(live, code) == []
    assert opened.errors == []


def test_a_boat_leg_and_a_free_point_are_drawn_and_named(
    browser: Browser, live: LiveServer, villages: dict[str, int]
) -> None:
    opened = _open(browser, live, "vi")
    page = opened.page
    _click_village(page, villages["A"])
    _click_village(page, villages["B"])
    second = page.locator("#cm-stops li").nth(1)
    second.locator("summary").click()
    boat = second.get_by_label(route_builder.TEXT["boat"]("vi"))
    boat.check()
    # A free point, placed with the marker tool east of D: it must be named first.
    page.locator(".leaflet-draw-draw-marker").click()
    at = page.evaluate(
        """(d) => {
          const map = Object.values(window).find(v => v instanceof L.Map);
          const p = map.latLngToContainerPoint([d[1], d[0]]);
          const r = map.getContainer().getBoundingClientRect();
          return {x: r.x + p.x, y: r.y + p.y - 60};
        }""",
        D,
    )
    page.mouse.click(at["x"], at["y"])
    free = page.locator("#cm-stops li").nth(2).locator(".cm-stop-name input")
    expect_focus = page.evaluate("() => document.activeElement.placeholder")
    assert expect_focus == route_builder.TEXT["free_point"]("vi")
    page.wait_for_selector("#cm-route-summary .cm-error")
    assert page.locator("#cm-route-summary").inner_text() == route_builder.TEXT["name_free"](
        "vi"
    ).replace("{n}", "3")
    free.fill("Bến đò <b>Hàm Rồng</b>")
    free.dispatch_event("change")
    _settled(page)
    kinds = [leg["cls"] for leg in _legs(page)]
    assert len(kinds) == 2 and "cm-leg-boat" in kinds[0], kinds
    # The boat leg is labelled on the map, in the page's words, as text.
    label = page.locator(".leaflet-tooltip.cm-leg-label").first
    assert label.inner_text().startswith(route_builder.TEXT["kind_boat"]("vi"))
    rows = _timetable(page)
    assert [r["name"] for r in rows][1:] == [NAMES["B"], "Bến đò <b>Hàm Rồng</b>"]
    # The boat goes straight from A to B, at 12 km/h.
    straight_km = GEOD.inv(A[0], A[1], B[0], B[1])[2] / 1000
    assert rows[1]["drive"] == str(round(straight_km / 12 * 60))
    assert page.locator("#cm-editor b, .leaflet-tooltip b").count() == 0
    assert opened.errors == [] and opened.dialogs == []
    page.screenshot(path=str(SHOTS / "builder-boat-free-point-desktop-vi.png"))


def test_a_stop_refused_says_what_is_saved_and_deletes_it_on_request(
    browser: Browser, live: LiveServer, villages: dict[str, int], keys: dict[str, str]
) -> None:
    opened = _open(browser, live, "en", key=keys["tourism"])
    page = opened.page
    _click_village(page, villages["A"])
    _click_village(page, villages["B"])
    second = page.locator("#cm-stops li").nth(1)
    second.locator("summary").click()
    # Closing before it opens: the API refuses the second stop.
    for cls, value in (("cm-opens", "10:00"), ("cm-closes", "09:00")):
        field = second.locator(f"input.{cls}")
        field.fill(value)
        field.dispatch_event("change")
    _fill_route(page, "T-RB-HALF")
    page.locator("#cm-editor button[type=submit]").click()
    retry = page.get_by_role("button", name=route_builder.TEXT["retry"]("en"))
    retry.wait_for()
    [route] = _route_by_code(live, "T-RB-HALF")
    message = page.locator("#cm-editor .cm-message").inner_text()
    assert message.startswith(
        route_builder.TEXT["partly_saved"]("en")
        .replace("{code}", "T-RB-HALF")
        .replace("{id}", str(route["id"]))
        .replace("{done}", "1")
        .replace("{n}", "2")
        .replace("{step}", route_builder.TEXT["step_stop"]("en").replace("{i}", "2"))
    ), message
    assert "\n4" in message  # the API's status and its words follow
    page.get_by_role("button", name=route_builder.TEXT["delete_saved"]("en")).click()
    page.wait_for_selector("#cm-editor .cm-message.cm-ok")
    assert page.locator("#cm-editor .cm-message").inner_text() == route_builder.TEXT["deleted"](
        "en"
    )
    assert _route_by_code(live, "T-RB-HALF") == []
    assert opened.errors == []
