"""A village's yearly figures page, and the link to it, as Chromium shows them.

Screenshots in both languages, desktop and phone, are left in
test-artifacts/issue16/facts/ for a person to look at. The server runs on a database of
this module's own: the rows it records must not move other tests' indicators.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser

from geo.io import village_stats as files
from geo.store.db import make_engine
from geo.workflows import village_stats as workflow
from tests.browser import ARTIFACTS, needs_chromium
from tests.conftest import ROOMY_RATE_LIMIT_ENV, database_with_roles
from tests.live import LiveServer, live_server

pytestmark = needs_chromium
SHOTS = ARTIFACTS / "issue16" / "facts"
SCREENS = {"desktop": (1280, 800), "phone": (390, 844)}
ROWS = (
    "village_code,year,production_value_vnd,avg_income_vnd_month,workers,trained_workers,"
    "operating_effectively,tourism_linked,establishments,ocop_establishments,ocop_products,"
    "ip_protected,env_plan,exports_usd,sources\n"
    "TH-V-005,2023,118.500.000.000,5.200.000,1.150,610,có,không,280,9,2,,không,,"
    '"Báo cáo 12/BC-UBND xã Nga Thanh (2024);Phiếu điều tra “chiếu cói” <Nga Sơn>"\n'
    "TH-V-005,2024,126.000.000.000,5.600.000,1.200,700,có,có,290,11,3,có,,1.250.000,"
    "Sở Công Thương Thanh Hóa\n"
    "TH-V-005,2025,,,1.260,,,,,,,,có,,\n"
)


@pytest.fixture(scope="module")
def stats_server(
    pg_server_url: str, role_passwords: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    """A server on a database of its own, holding three years of one village."""
    with database_with_roles(pg_server_url, role_passwords, prefix="craftmap_statsweb") as urls:
        engine = make_engine(urls["app"])
        with engine.begin() as conn:
            workflow.import_rows(conn, files.read_csv_text(ROWS), actor="test:browser")
        engine.dispose()
        with live_server(
            urls["app"], tmp_path_factory.mktemp("stats"), env=ROOMY_RATE_LIMIT_ENV
        ) as server:
            yield server


def _village_id(server: LiveServer) -> int:
    answer = server.request("/collections/villages/items?code=TH-V-005")
    return int(json.loads(answer.body)["features"][0]["id"])


@pytest.mark.parametrize("screen", SCREENS)
@pytest.mark.parametrize("lang", ["vi", "en"])
def test_the_yearly_figures_fit_the_screen_and_speak_the_language(
    browser: Browser, stats_server: LiveServer, lang: str, screen: str
) -> None:
    width, height = SCREENS[screen]
    vid = _village_id(stats_server)
    page = browser.new_page(viewport={"width": width, "height": height})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        # From the village's page, its link leads to the yearly figures.
        page.goto(f"{stats_server.url}/collections/villages/items/{vid}?f=html&lang={lang}")
        link = page.locator("a#village-stats")
        link.scroll_into_view_if_needed()
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / f"village-link-{lang}-{screen}.png"))
        link.click()
        page.wait_for_url(f"**/collections/villages/items/{vid}/stats?f=html&lang={lang}")
        assert page.locator("html").get_attribute("lang") == lang
        if screen == "desktop":
            # Facts down, years across, oldest first: the usual statistical table.
            shown_part = page.locator("table#village-stats")
            years = page.locator("table#village-stats thead th.year").all_inner_texts()
            assert years == ["2023", "2024", "2025"]
            env = page.locator("table#village-stats tr[data-fact=env_plan] td").all_inner_texts()
        else:
            # A block per year, newest first: nothing to scroll sideways.
            assert not page.locator("table#village-stats").is_visible()
            shown_part = page.locator("#stats-by-year")
            years = page.locator("#stats-by-year section h2").all_inner_texts()
            assert years == ["2025", "2024", "2023"]
            env = page.locator("#stats-by-year tr[data-fact=env_plan] td").all_inner_texts()
            env.reverse()
        assert shown_part.is_visible()
        shown = shown_part.inner_text()
        if lang == "vi":
            words = ("118.500.000.000", "1.260", "chưa có số liệu", "Không", "đồng/tháng")
        else:
            words = ("118,500,000,000", "1,260", "no data", "No", "VND a month")
        for word in words:
            assert word in shown, word
        assert "Phiếu điều tra “chiếu cói” <Nga Sơn>" in shown
        for code in ("True", "None", "null", "env_plan"):
            assert code not in shown
        # The unknown 2024 plan reads as unknown, the known "no" of 2023 as no.
        assert env == (
            ["Không", "chưa có số liệu", "Có"] if lang == "vi" else ["No", "no data", "Yes"]
        )
        # Each year's creation is in the change history, newest first.
        history = page.locator("#stats-history > li")
        assert history.count() == 3
        added = "thêm năm" if lang == "vi" else "added year"
        assert history.first.inner_text().split(" (")[0].endswith(f"{added} 2025")
        assert not errors
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / f"stats-{lang}-{screen}.png"), full_page=True)
    finally:
        page.close()


def test_no_data_yet_says_so(browser: Browser, stats_server: LiveServer) -> None:
    answer = stats_server.request("/collections/villages/items?code=TH-V-006")
    vid = int(json.loads(answer.body)["features"][0]["id"])
    page = browser.new_page(viewport={"width": 390, "height": 844})
    try:
        page.goto(f"{stats_server.url}/collections/villages/items/{vid}/stats?f=html&lang=vi")
        assert page.locator("#no-stats").inner_text().startswith("Chưa có số liệu năm nào")
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / "stats-none-vi-phone.png"), full_page=True)
    finally:
        page.close()
