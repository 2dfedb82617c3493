"""The feature pages and /api as a browser shows them (issue 12 points 10 and 11).

Screenshots of each page in both languages, on a desktop and a phone, are left in
test-artifacts/issue12/pages/ for a person to look at.
"""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import Browser

from tests.browser import ARTIFACTS, needs_chromium
from tests.live import LiveServer

pytestmark = needs_chromium
SHOTS = ARTIFACTS / "issue12" / "pages"
SCREENS = {"desktop": (1280, 800), "phone": (390, 844)}


def _id(live: LiveServer, collection: str, code: str) -> int:
    answer = live.request(f"/collections/{collection}/items?code={code}")
    return int(json.loads(answer.body)["features"][0]["id"])


@pytest.fixture(scope="module")
def pages(live: LiveServer) -> dict[str, str]:
    zone = _id(live, "material-zones", "TH-Z-009")
    return {
        "village": f"/collections/villages/items/{_id(live, 'villages', 'TH-V-001')}?f=html",
        "route": f"/collections/routes/items/{_id(live, 'routes', 'TH-R-001')}?f=html",
        "zone": f"/collections/material-zones/items/{zone}?f=html",
        "villages": "/collections/villages/items?f=html&limit=20",
        "api": "/api?f=html",
    }


@pytest.mark.parametrize("screen", SCREENS)
@pytest.mark.parametrize("lang", ["vi", "en"])
@pytest.mark.parametrize("name", ["village", "route", "zone", "villages", "api"])
def test_pages_fit_the_screen_and_speak_the_language(
    browser: Browser, live: LiveServer, pages: dict[str, str], name: str, lang: str, screen: str
) -> None:
    width, height = SCREENS[screen]
    page = browser.new_page(viewport={"width": width, "height": height})
    try:
        page.goto(f"{live.url}{pages[name]}&lang={lang}")
        assert page.locator("html").get_attribute("lang") == lang
        # Nothing wider than the screen: a phone scrolls down, never sideways.
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{name} is {overflow}px wider than a {screen} screen"
        # The API page lists codes on purpose: they are the values a parameter takes.
        shown = "" if name == "api" else page.inner_text("body")
        for code in ("craft_village", "commune_centroid", "heritage_craft", "True", "None"):
            assert code not in shown
        SHOTS.mkdir(parents=True, exist_ok=True)
        # /api is thousands of pixels long: its first screen shows how it reads.
        page.screenshot(path=str(SHOTS / f"{name}-{lang}-{screen}.png"), full_page=name != "api")
    finally:
        page.close()


def test_a_revisited_page_keeps_its_styles(
    browser: Browser, live: LiveServer, pages: dict[str, str]
) -> None:
    """A 304 must not carry a policy: the browser would apply it to the cached page.

    With "default-src 'none'" on the 304, Chromium blocked the cached item page's own
    <style> on a second visit and showed it unstyled.
    """
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    try:
        url = f"{live.url}{pages['village']}&lang=vi"
        page.goto(url)
        first = page.evaluate("getComputedStyle(document.body).fontFamily")
        blocked: list[str] = []
        page.on("console", lambda message: blocked.append(message.text))
        answer = page.reload()
        assert answer is not None and answer.status in (200, 304)
        assert page.evaluate("getComputedStyle(document.body).fontFamily") == first
        assert not [text for text in blocked if "Content Security Policy" in text]
    finally:
        page.close()


def test_not_modified_carries_no_policy(live: LiveServer, pages: dict[str, str]) -> None:
    """The 304 leaves the stored page's own policy (and nonce) in force."""
    first = live.request(pages["village"])
    etag = {name.lower(): value for name, value in first.headers.items()}["etag"]
    again = live.request(pages["village"], headers={"If-None-Match": etag})
    assert again.status == 304
    headers = {name.lower(): value for name, value in again.headers.items()}
    assert "content-security-policy" not in headers
    assert headers["x-content-type-options"] == "nosniff"
