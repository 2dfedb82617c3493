"""The indicator dashboard as Chromium shows it: vi and en, desktop and phone.

The data is tests/indicators/dashboard_data.py (values worked out by hand there).
Screenshots are left in test-artifacts/issue16/dash/ for a person to look at.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser

from tests.browser import ARTIFACTS, needs_chromium
from tests.indicators import dashboard_data as data

pytestmark = needs_chromium
SHOTS = ARTIFACTS / "issue16" / "dash"
SCREENS = {"desktop": (1280, 800), "phone": (390, 844)}
WORDS = {
    "vi": {
        "env": "66,7\u00a0%",
        "trained": "60,0\u00a0%",
        "target_2025": "Mục tiêu 2025: ít nhất 50,0\u00a0% — ✓ Đạt",
        "target_2030": "Mục tiêu 2030: ít nhất 100,0\u00a0% — ! Chậm tiến độ",
        "lacks": "1 làng thiếu số liệu",
        "lacks_two": "2 làng thiếu số liệu",
        "districts": "cấp huyện không còn từ ngày 1/7/2025",
    },
    "en": {
        "env": "66.7\u00a0%",
        "trained": "60.0\u00a0%",
        "target_2025": "Target 2025: at least 50.0\u00a0% — ✓ Met",
        "target_2030": "Target 2030: at least 100.0\u00a0% — ! Behind",
        "lacks": "1 village lacks data",
        "lacks_two": "2 villages lack data",
        "districts": "the district level was abolished on 1/7/2025",
    },
}


@pytest.fixture(scope="module")
def served(pg_server_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with data.served(pg_server_url, tmp_path_factory.mktemp("dash"), "craftmap_dash") as url:
        yield url


@pytest.mark.parametrize("screen", SCREENS)
@pytest.mark.parametrize("lang", ["vi", "en"])
def test_dashboard_shows_values_targets_gaps_and_fits(
    browser: Browser, served: str, lang: str, screen: str
) -> None:
    width, height = SCREENS[screen]
    page = browser.new_page(viewport={"width": width, "height": height})
    errors: list[str] = []
    dialogs: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    words = WORDS[lang]
    try:
        page.goto(f"{served}/indicators?programme={data.PROGRAMME}&year=2025&f=html&lang={lang}")
        assert page.locator("html").get_attribute("lang") == lang
        env = page.locator("#indicator-share_env_plan")
        assert env.locator(".figure").inner_text() == words["env"]
        targets = env.locator("ul.targets li").all_inner_texts()
        assert targets == [words["target_2025"], words["target_2030"]]
        assert env.locator(".lacks").inner_text() == words["lacks"]
        # The series: 2022, 2024 and 2025 have values; 2023 and the current year none.
        assert env.locator(".series circle.cm-point").count() == 3
        assert env.locator(".series polyline.cm-line").count() == 1
        assert env.locator(".progress .cm-bar").count() == 1
        trained = page.locator("#indicator-share_workers_trained")
        assert trained.locator(".figure").inner_text() == words["trained"]
        assert trained.locator(".lacks").inner_text() == words["lacks_two"]
        assert page.locator(".indicator").count() == 3
        # The pickers: the years with data, the loaded programmes.
        years = page.locator("#year-picker option").all_inner_texts()
        assert {"2022", "2024", "2025"} <= set(years) and "2023" not in years
        assert page.locator("#year-picker").input_value() == "2025"
        assert page.locator("#programme-picker").input_value() == data.PROGRAMME
        # A unit named like markup stays text; the unit without villages says so.
        row = page.locator('#units-commune tr[data-code="T9C2"] td.name')
        assert row.inner_text() == data.XSS
        assert page.locator("img").count() == 0
        assert page.locator('#units-commune tr[data-code="T9C3"]').get_attribute("class") == (
            "no-villages"
        )
        assert words["districts"] in page.locator("#districts-note").inner_text()
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"the page is {overflow}px wider than a {screen} screen"
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / f"dashboard-{lang}-{screen}.png"), full_page=True)
        assert errors == [] and dialogs == []
    finally:
        page.close()


def test_year_picker_goes_to_the_chosen_year(browser: Browser, served: str) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    try:
        page.goto(f"{served}/indicators?programme={data.PROGRAMME}&f=html&lang=vi")
        # The default year is the latest with data (the current year has none).
        assert page.locator("#year-picker").input_value() == "2025"
        page.select_option("#year-picker", "2024")
        page.click("#pickers button[type=submit]")
        page.wait_for_url("**year=2024**")
        env = page.locator("#indicator-share_env_plan .figure")
        assert env.inner_text() == "33,3\u00a0%"
        # The other language keeps the year and the programme.
        page.click("#language-switch")
        page.wait_for_url("**lang=en**")
        assert page.locator("#year-picker").input_value() == "2024"
        assert page.locator("#programme-picker").input_value() == data.PROGRAMME
        assert env.inner_text() == "33.3\u00a0%"
    finally:
        page.close()


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_a_bad_year_shows_a_readable_page(browser: Browser, served: str, lang: str) -> None:
    page = browser.new_page(viewport={"width": 390, "height": 844})
    try:
        answer = page.goto(f"{served}/indicators?year=1800&f=html&lang={lang}")
        assert answer is not None and answer.status == 400
        assert "1800" in page.inner_text("body")
    finally:
        page.close()


@pytest.mark.parametrize("screen", SCREENS)
@pytest.mark.parametrize("lang", ["vi", "en"])
def test_actions_page_lists_links_and_dates(
    browser: Browser, served: str, lang: str, screen: str
) -> None:
    width, height = SCREENS[screen]
    page = browser.new_page(viewport={"width": width, "height": height})
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    try:
        page.goto(f"{served}/indicators/actions?f=html&lang={lang}")
        risky = page.locator('#action-at_risk tr[data-code="T9-R1"] td.name')
        assert risky.inner_text() == f"Làng nguy cơ {data.XSS}"
        assert page.locator("img").count() == 0
        # Four lists, each with its count; the T9 villages must have their files renamed.
        assert page.locator("#action-counts li").count() == 4
        renamed = page.locator("#action-abolished_name tr[data-code^='T9-V']")
        assert renamed.count() == 4
        expiry = dt.date.today() + dt.timedelta(days=30)
        due = page.locator('#action-expiring_certificate tr[data-code="T9-Z1"] td.due')
        assert due.inner_text() == expiry.strftime("%d/%m/%Y" if lang == "vi" else "%Y-%m-%d")
        href = risky.locator("a").get_attribute("href") or ""
        assert "/collections/villages/items/" in href and f"lang={lang}" in href
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"the page is {overflow}px wider than a {screen} screen"
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / f"actions-{lang}-{screen}.png"), full_page=True)
        page.click('#action-at_risk tr[data-code="T9-R1"] td.name a')
        page.wait_for_url("**/collections/villages/items/**")
        assert data.XSS in page.inner_text("h1")
        assert dialogs == []
    finally:
        page.close()


@pytest.mark.parametrize("screen", SCREENS)
@pytest.mark.parametrize("lang", ["vi", "en"])
def test_the_demo_plan_dashboard_fits(
    browser: Browser, served: str, lang: str, screen: str
) -> None:
    """Thanh Hóa's plan on the demo data: every target a card, nothing wider than a phone."""
    width, height = SCREENS[screen]
    page = browser.new_page(viewport={"width": width, "height": height})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        page.goto(f"{served}/indicators?programme=4182/QĐ-UBND&f=html&lang={lang}")
        assert page.locator("#programme-picker").input_value() == "4182/QĐ-UBND"
        assert page.locator("article.indicator").count() == 10
        assert page.locator("article.indicator svg.cm-progress").count() == 10
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"the page is {overflow}px wider than a {screen} screen"
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / f"dashboard-4182-{lang}-{screen}.png"), full_page=True)
        assert errors == []
    finally:
        page.close()


def test_dashboard_prints_without_its_controls(browser: Browser, served: str) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    try:
        page.goto(f"{served}/indicators?programme={data.PROGRAMME}&year=2025&f=html&lang=vi")
        page.emulate_media(media="print")
        assert not page.locator("#pickers").is_visible()
        assert page.locator("#indicator-share_env_plan .progress svg").is_visible()
        SHOTS.mkdir(parents=True, exist_ok=True)
        pdf = page.pdf(path=str(SHOTS / "dashboard-vi-print.pdf"), format="A4")
        assert pdf.startswith(b"%PDF")
    finally:
        page.close()
