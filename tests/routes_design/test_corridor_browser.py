"""The villages-on-the-way page in Chromium: it reads on a desktop and a phone in both
languages, and its "Add to route" button inserts the village with the key typed in.

Chromium talks to the in-process app on the test's rolled-back data: every request to
http://craftmap.test is answered by the TestClient. Screenshots go to
test-artifacts/issue15/corridor/ for a person to look at.
"""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from playwright.sync_api import Browser, Page, Route, expect
from sqlalchemy.orm import Session

from geo.store.keys import create_key
from tests.browser import ARTIFACTS, needs_chromium
from tests.routes_design.corridor_cases import build

pytestmark = needs_chromium
SHOTS = ARTIFACTS / "issue15" / "corridor"
SCREENS = {"desktop": (1280, 800), "phone": (390, 844)}
ORIGIN = "http://craftmap.test"


def _page(browser: Browser, client: TestClient, screen: str) -> Page:
    width, height = SCREENS[screen]
    page = browser.new_page(viewport={"width": width, "height": height})

    def answer(route: Route) -> None:
        request = route.request
        path = request.url.removeprefix(ORIGIN)
        headers = {k: v for k, v in request.headers.items() if k.lower() != "host"}
        reply = client.request(
            request.method, path, headers=headers, content=request.post_data_buffer
        )
        route.fulfill(status=reply.status_code, headers=dict(reply.headers), body=reply.content)

    page.route(f"{ORIGIN}/**", answer)
    return page


@pytest.mark.parametrize("screen", SCREENS)
@pytest.mark.parametrize("lang", ["vi", "en"])
def test_the_page_reads_on_desktop_and_phone(
    browser: Browser, client: TestClient, session: Session, lang: str, screen: str
) -> None:
    case = build(session.connection())
    page = _page(browser, client, screen)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        page.goto(f"{ORIGIN}/routes/{case.route_id}/corridor?f=html&lang={lang}&km=5")
        rows = page.locator("table.corridor tbody tr")
        assert rows.count() >= 4
        names = rows.locator("td.village a").all_inner_texts()
        # M (the smaller detour) before N (nearer the line, across the river).
        assert names.index("Làng M") < names.index("Làng N bên sông")
        detour = page.locator(f'tr[data-village="{case.m}"] td.detour').inner_text()
        assert detour == ("3,7" if lang == "vi" else "3.7")
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / f"corridor-{lang}-{screen}.png"), full_page=True)
    finally:
        page.close()
    assert not errors
    assert overflow <= 0, f"{overflow}px wider than a {screen} screen"


def test_add_to_route_inserts_the_village(
    browser: Browser, client: TestClient, session: Session
) -> None:
    case = build(session.connection())
    token = create_key(session.connection(), name="test tourism", role="tourism")[0]
    page = _page(browser, client, "desktop")
    try:
        page.goto(f"{ORIGIN}/routes/{case.route_id}/corridor?f=html&lang=vi&km=5")
        page.fill("#api-key", token)
        row = page.locator(f'tr[data-village="{case.m}"]')
        row.locator("button.add").click()
        # The page's CSP allows no eval, so wait with locators, not wait_for_function.
        expect(page.locator("#insert-status")).to_have_text("Đã thêm vào tuyến ở vị trí 3.")
        assert page.locator(f'tr[data-village="{case.m}"]').count() == 0
        page.screenshot(path=str(SHOTS / "corridor-vi-added.png"), full_page=True)
        # Without a key the button says why, in words, and nothing is written.
        page.fill("#api-key", "")
        page.locator(f'tr[data-village="{case.n}"] button.add').click()
        expect(page.locator("#insert-status")).to_have_text(re.compile("^Không thêm được: "))
    finally:
        page.close()
    seqs = session.connection().execute(
        sa.text("SELECT village_id FROM route_stop WHERE route_id = :r ORDER BY seq"),
        {"r": case.route_id},
    )
    assert [r[0] for r in seqs] == [case.stops[0], case.stops[1], case.m, case.stops[2]]
