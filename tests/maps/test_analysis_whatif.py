"""The editor's what-if (issue 14 points 2 and 5) in Chromium, against a live server.

A planner draws a zone, gives it a material and a capacity, presses What-if: the editor
shows the unmet demand before and after, the villages the zone newly supplies in full and
draws its flows for now, exactly as ``POST /analysis/coverage/what-if`` answered, and
nothing is written until Save.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from playwright.sync_api import Browser, Page

from api.settings import ApiSettings
from geo.kernel.text import number
from maps import assets
from tests.browser import ARTIFACTS, needs_chromium, poll_until
from tests.conftest import demo_database
from tests.factories import make_key, make_village
from tests.live import LiveServer, live_server

pytestmark = needs_chromium

SHOTS = ARTIFACTS / "issue14" / "maps"
MATERIAL = "other"  # no demo zone grows it: the answer depends on this test's villages only
NAME = "Làng <img src=x onerror=\"window.__pwn='whatif'\"> 'Đông' {{ 7*7 }}"


@pytest.fixture(scope="module")
def database_url_(pg_server_url: str) -> Iterator[str]:
    with demo_database(pg_server_url, "craftmap_whatif") as url:
        yield url


@pytest.fixture(scope="module")
def live(database_url_: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    assets.fetch(ApiSettings().map_assets_dir)
    env = {"CRAFTMAP_BASEMAP_URL": "none"}
    with live_server(database_url_, tmp_path_factory.mktemp("whatif"), env=env) as server:
        yield server


@pytest.fixture(scope="module")
def planner(database_url_: str) -> str:
    return make_key(database_url_, "planner", "what-if planner")


class Opened:
    def __init__(self, page: Page) -> None:
        self.page = page
        self.errors: list[str] = []
        page.on("pageerror", lambda error: self.errors.append(str(error)))


def _open(
    browser: Browser, live: LiveServer, key: str, lang: str, viewport: dict[str, int]
) -> Opened:
    context = browser.new_context(viewport=viewport)  # type: ignore[arg-type]
    opened = Opened(context.new_page())
    page = opened.page
    page.goto(f"{live.url}/maps/edit?lang={lang}", wait_until="networkidle")
    field = page.locator("#cm-editor input[name=api_key]")
    field.fill(key)
    field.dispatch_event("change")
    poll_until(page, "() => document.getElementById('cm-editor').dataset.writable !== undefined")
    return opened


def _draw_square(page: Page, phone: bool) -> dict[str, float]:
    """A 40-pixel square on the free part of the map; its centre as lon/lat.

    On a desktop left of the centre (the form holds the right side), on a phone in the
    upper quarter (the form holds the lower half).
    """
    # Over Thanh Hóa city, where the demo's roads meet (the analysis runs by road).
    page.evaluate(
        "() => Object.values(window).find(v => v instanceof L.Map)"
        ".setView([19.80, 105.70], 11, {animate: false})"
    )
    page.locator(".leaflet-draw-draw-polygon").click()
    box = page.locator(".folium-map").bounding_box()
    assert box is not None
    if phone:
        cx, cy = box["x"] + box["width"] / 2 - 20, box["y"] + box["height"] * 0.22
    else:
        cx, cy = box["x"] + box["width"] / 2 - 150, box["y"] + box["height"] / 2
    for dx, dy in ((0, 0), (40, 0), (40, 40), (0, 40)):
        page.mouse.click(cx + dx, cy + dy)
        page.wait_for_timeout(120)
    page.mouse.click(cx, cy)
    centre: dict[str, float] = page.evaluate(
        """() => {
          const map = Object.values(window).find(v => v instanceof L.Map);
          let found = null;
          map.eachLayer(l => {
            if (l instanceof L.Polygon && l.cmId === undefined && !l.feature) found = l;
          });
          const c = found.getBounds().getCenter();
          return {lon: c.lng, lat: c.lat};
        }"""
    )
    return centre


def _counts(database_url: str) -> tuple[int, int]:
    engine = sa.create_engine(database_url)
    try:
        with engine.connect() as conn:
            zones = conn.execute(sa.text("SELECT count(*) FROM material_zone")).scalar_one()
            history = conn.execute(sa.text("SELECT count(*) FROM feature_history")).scalar_one()
    finally:
        engine.dispose()
    return int(zones), int(history)


def _tonnes(value: float, lang: str) -> str:
    return f"{number(float(value), lang, 1)} t"


@pytest.mark.parametrize(
    ("lang", "viewport", "device"),
    [
        # Each language once and each screen once (Vietnamese on the phone, the narrowest
        # layout for the longest words): all four combinations cost the suite 48 s.
        ("en", {"width": 1280, "height": 800}, "desktop"),
        ("vi", {"width": 390, "height": 844}, "phone"),
    ],
)
def test_what_if_shows_the_apis_answer_and_writes_nothing(
    browser: Browser,
    live: LiveServer,
    planner: str,
    database_url_: str,
    lang: str,
    viewport: dict[str, int],
    device: str,
) -> None:
    opened = _open(browser, live, planner, lang, viewport)
    page = opened.page
    centre = _draw_square(page, device == "phone")
    # Two villages that need the material, east and west of the zone (within the 50 km
    # haul, outside the drawn square): the near one gets all it grows.
    tag = f"{lang}-{device}"
    near = f"T-WI-{tag}-A"
    far = f"T-WI-{tag}-B"
    made = [
        make_village(
            database_url_,
            at=(centre["lon"] + 0.2, centre["lat"]),
            code=near,
            name=NAME,
            material_demand_t={MATERIAL: 100.0},
        ),
        make_village(
            database_url_,
            at=(centre["lon"] - 0.35, centre["lat"]),
            code=far,
            name="Làng Xa",
            material_demand_t={MATERIAL: 30.0},
        ),
    ]
    try:
        _what_if(page, database_url_, lang, device, near, far)
        assert opened.errors == []
    finally:
        # The module's database is shared by the four runs: each answer is its own.
        _delete(database_url_, made)
        page.context.close()


def _delete(database_url: str, ids: list[int]) -> None:
    engine = sa.create_engine(database_url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("DELETE FROM craft_village WHERE id = ANY(:ids)"), {"ids": ids})
    finally:
        engine.dispose()


def _what_if(page: Page, database_url_: str, lang: str, device: str, near: str, far: str) -> None:
    form = page.locator("#cm-editor")
    before = _counts(database_url_)

    form.locator("select[name=material]").select_option(MATERIAL)
    # Nothing to run without a capacity: said in words, no request sent.
    form.locator("input[name=annual_capacity_t]").fill("")
    form.locator("#cm-whatif").click()
    result = form.locator("#cm-whatif-result")
    assert "sản lượng" in result.inner_text() or "capacity" in result.inner_text()

    form.locator("input[name=annual_capacity_t]").fill("100")
    with page.expect_response("**/analysis/coverage/what-if") as answered:
        form.locator("#cm-whatif").click()
    response = answered.value
    assert response.status == 200, response.text()[:300]
    answer: dict[str, Any] = response.json()
    result.locator("table").wait_for()
    diff = answer["diff"]
    # The hand-computed answer: 130 t needed, 100 t grown, all of it to the near village.
    assert diff["unmet_before_t"] == pytest.approx(130.0)
    assert diff["unmet_after_t"] == pytest.approx(30.0)
    assert near in diff["newly_covered"] and far not in diff["newly_covered"]
    text = result.inner_text()
    for key in ("unmet", "supplied"):
        was, now = diff[f"{key}_before_t"], diff[f"{key}_after_t"]
        assert f"{_tonnes(was, lang)} → {_tonnes(now, lang)}" in text, text
    assert f"{diff['villages_short_before']} → {diff['villages_short_after']}" in text
    assert _tonnes(100.0, lang) in text
    assert f"{NAME} ({near})" in text
    new_flows = [f for f in answer["scenario"]["flows"] if f["zone_id"] is None]
    assert page.locator("path.cm-whatif-flow").count() == len(new_flows) == 1
    assert page.evaluate("window.__pwn") is None
    page.screenshot(path=str(_shot(f"whatif-{device}-{lang}.png")))

    # Nothing written: no zone, no history row.
    assert _counts(database_url_) == before

    # The API's refusal is shown in its own words.
    page.locator("#cm-whatif-haul").fill("9000")
    with page.expect_response("**/analysis/coverage/what-if") as refused:
        form.locator("#cm-whatif").click()
    assert refused.value.status == 400
    detail = json.loads(refused.value.text())["detail"]
    error = result.locator(".cm-error")
    error.wait_for()
    assert error.inner_text() == f"400: {detail}"
    assert page.locator("path.cm-whatif-flow").count() == 0
    assert _counts(database_url_) == before


def _shot(name: str) -> Any:
    SHOTS.mkdir(parents=True, exist_ok=True)
    return SHOTS / name
