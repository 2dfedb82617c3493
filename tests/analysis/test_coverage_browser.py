"""The coverage pages as Chromium shows them, in both languages, on a desktop and a phone.

Screenshots are left in test-artifacts/issue14/coverage/ for a person to look at.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from playwright.sync_api import Browser

from geo.store.db import make_engine
from tests.analysis.test_coverage_workflow import LAT, LON, MATERIAL, SIZE
from tests.browser import ARTIFACTS, needs_chromium
from tests.factories import make_village, make_zone, square
from tests.live import LiveServer

pytestmark = needs_chromium
SHOTS = ARTIFACTS / "issue14" / "coverage"
SCREENS = {"desktop": (1280, 800), "phone": (390, 844)}
VILLAGES = [
    ("T-CB-V1", "Làng đan lát Tân Hưng <i>", 0.0, 0.0, 1500.0),
    ("T-CB-V2", "Làng mây tre Khánh Hội", 0.0, 0.10, 820.5),
    ("T-CB-V3", "Làng chiếu cói Đất Mũi", 0.5, 0.0, 300.0),
]
ZONES = [
    ("T-CB-ZA", "Vùng nguyên liệu Năm Căn", 0.03, "existing", 1200.0),
    ("T-CB-ZP", "Vùng quy hoạch Ngọc Hiển", 0.12, "planned", 600.0),
    ("T-CB-ZN", "Vùng chưa có số liệu", -0.03, "existing", None),
]


@pytest.fixture(scope="module")
def committed(database_url: str) -> Iterator[None]:
    engine = make_engine(database_url)
    try:
        for code, name, dlon, dlat, demand in VILLAGES:
            make_village(
                engine,
                at=(LON + dlon, LAT + dlat),
                code=code,
                name=name,
                material_demand_t={MATERIAL: demand},
            )
        for code, name, dlat, status, capacity in ZONES:
            make_zone(
                engine,
                geometry=square(LON, LAT + dlat, SIZE),
                code=code,
                name=name,
                material=MATERIAL,
                status=status,
                annual_capacity_t=capacity,
            )
        yield
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text("DELETE FROM craft_village WHERE code LIKE 'T-CB-%'"))
            conn.execute(sa.text("DELETE FROM material_zone WHERE code LIKE 'T-CB-%'"))
        engine.dispose()


@pytest.mark.parametrize("screen", SCREENS)
@pytest.mark.parametrize("lang", ["vi", "en"])
def test_coverage_page_fits_and_speaks_the_language(
    browser: Browser, live: LiveServer, committed: None, lang: str, screen: str
) -> None:
    width, height = SCREENS[screen]
    page = browser.new_page(viewport={"width": width, "height": height})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        page.goto(
            f"{live.url}/analysis/coverage?material={MATERIAL}&haul_km=10&mode=geodesic"
            f"&include=planned&f=html&lang={lang}"
        )
        assert page.locator("html").get_attribute("lang") == lang
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"the page is {overflow}px wider than a {screen} screen"
        mode = page.inner_text("#distance-mode")
        assert ("đường chim bay" if lang == "vi" else "straight line") in mode
        v1 = page.locator('#villages tr[data-code="T-CB-V1"]').inner_text()
        # The user's text stays text; numbers in the page's language.
        assert "Tân Hưng <i>" in v1
        assert ("1.500,0" if lang == "vi" else "1,500.0") in v1
        assert page.locator('#missing tr[data-code="T-CB-ZN"]').count() == 1
        if screen == "phone":
            # Cards: each cell labelled, no table header on a phone.
            assert not page.locator("#villages thead").is_visible()
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / f"coverage-{lang}-{screen}.png"), full_page=True)
        assert errors == []
    finally:
        page.close()


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_analysis_landing_page(browser: Browser, live: LiveServer, lang: str) -> None:
    page = browser.new_page(viewport={"width": 390, "height": 844})
    try:
        page.goto(f"{live.url}/analysis?f=html&lang={lang}")
        assert page.locator("#analyses li").count() >= 6
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / f"analysis-{lang}-phone.png"), full_page=True)
    finally:
        page.close()
