"""The figures page and the village/zone pages' figure tables as Chromium shows them.

Screenshots in both languages, desktop and phone, are left in
test-artifacts/issue14/figures/ for a person to look at.
"""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import Browser

from tests.browser import ARTIFACTS, needs_chromium
from tests.live import LiveServer

pytestmark = needs_chromium
SHOTS = ARTIFACTS / "issue14" / "figures"
SCREENS = {"desktop": (1280, 800), "phone": (390, 844)}


def _id(live: LiveServer, collection: str, code: str) -> int:
    answer = live.request(f"/collections/{collection}/items?code={code}")
    return int(json.loads(answer.body)["features"][0]["id"])


@pytest.fixture(scope="module")
def pages(live: LiveServer) -> dict[str, str]:
    return {
        "figures": "/figures?f=html",
        "village": f"/collections/villages/items/{_id(live, 'villages', 'TH-V-003')}?f=html",
        "zone": (
            f"/collections/material-zones/items/{_id(live, 'material-zones', 'TH-Z-009')}?f=html"
        ),
    }


@pytest.mark.parametrize("screen", SCREENS)
@pytest.mark.parametrize("lang", ["vi", "en"])
@pytest.mark.parametrize("name", ["figures", "village", "zone"])
def test_figures_fit_the_screen_and_speak_the_language(
    browser: Browser, live: LiveServer, pages: dict[str, str], name: str, lang: str, screen: str
) -> None:
    width, height = SCREENS[screen]
    page = browser.new_page(viewport={"width": width, "height": height})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        page.goto(f"{live.url}{pages[name]}&lang={lang}")
        assert page.locator("html").get_attribute("lang") == lang
        table = page.locator("table#figures")
        assert table.is_visible()
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{name} is {overflow}px wider than a {screen} screen"
        shown = table.inner_text()
        estimate, tonnes = ("Ước tính", "12.800") if lang == "vi" else ("Estimate", "12,800")
        assert estimate in shown
        if name in ("figures", "zone"):
            assert tonnes in shown
        for code in ("True", "None", "sedge", "luong"):
            assert code not in shown
        assert not errors
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / f"{name}-{lang}-{screen}.png"), full_page=True)
    finally:
        page.close()
