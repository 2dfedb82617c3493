"""The collection page's download links as a browser shows and follows them (issue 13).

Screenshots in both languages, on a desktop and a phone, are left in
test-artifacts/issue13/export/ for a person to look at.
"""

from __future__ import annotations

from pathlib import Path

import pyogrio
import pytest
from playwright.sync_api import Browser

from tests.browser import ARTIFACTS, needs_chromium
from tests.live import LiveServer

pytestmark = needs_chromium
SHOTS = ARTIFACTS / "issue13" / "export"
SCREENS = {"desktop": (1280, 800), "phone": (390, 844)}
LABELS = {
    "vi": "Tải về tất cả đối tượng: GeoPackage (dùng cho QGIS)",
    "en": "All features: GeoPackage (for QGIS)",
}


@pytest.mark.parametrize("screen", SCREENS)
@pytest.mark.parametrize("lang", ["vi", "en"])
def test_the_collection_page_offers_every_download(
    browser: Browser, live: LiveServer, tmp_path: Path, lang: str, screen: str
) -> None:
    width, height = SCREENS[screen]
    page = browser.new_page(viewport={"width": width, "height": height}, accept_downloads=True)
    try:
        page.goto(f"{live.url}/collections/material-zones?f=html&lang={lang}")
        # Nothing wider than the screen (the CRS URIs of the page once were, on a phone).
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"the page is {overflow}px wider than a {screen} screen"
        # Once in the downloads list at the top, once in the links table.
        assert page.locator("ul.downloads a[rel=enclosure]").count() == 9
        assert page.locator("table a[rel=enclosure]").count() == 9
        assert page.get_by_role("link", name=LABELS[lang], exact=True).count() == 1
        gpkg = page.locator("ul.downloads").get_by_role("link", name=LABELS[lang].split(": ")[1])
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / f"collection-{lang}-{screen}.png"), full_page=True)
        with page.expect_download() as download:
            gpkg.click()
        assert download.value.suggested_filename == "material-zones.gpkg"
        saved = tmp_path / "material-zones.gpkg"
        download.value.save_as(saved)
        assert pyogrio.read_info(saved)["features"] > 0
    finally:
        page.close()
