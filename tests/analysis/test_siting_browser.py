"""The siting page in Chromium: ranked table on a desktop, cards on a phone, both languages."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import Browser
from sqlalchemy.orm import Session

from tests.analysis.test_siting_workflow import at, box, layer
from tests.browser import ARTIFACTS, needs_chromium
from tests.factories import make_village, make_zone, square, unique_code

SHOTS = ARTIFACTS / "issue14" / "siting"
SIZES = {"desktop": (1280, 800), "phone": (390, 844)}


def _scene(session: Session) -> None:
    conn = session.connection()
    villages = {
        "Làng nghề mây tre đan Hoằng Thịnh <b>cũ</b>": ((0, 0), 1250.5),
        "Làng đan cói Nga Sơn": ((3, 0), 640.0),
        "Làng Phú Vinh": ((30, 2), 2100.0),
        "Làng nón lá Trường Xuân": ((31, -1), 380.0),
    }
    for name, ((x, y), tonnes) in villages.items():
        make_village(
            conn,
            at=at(x, y),
            code=unique_code("T-B"),
            name=name,
            material_demand_t={"other": tonnes},
        )
    layer(conn, "exclusion", [({"name": "Vườn quốc gia Yok Đôn"}, box(-1.5, -4.2, 4.5, 4.2))])
    make_zone(
        conn,
        geometry=square(*at(29, 4), 0.03),
        code=unique_code("T-ZB"),
        material="luong",
        status="existing",
    )


@needs_chromium
@pytest.mark.parametrize("lang", ["vi", "en"])
def test_siting_page_on_desktop_and_phone(
    client: TestClient, session: Session, browser: Browser, lang: str
) -> None:
    _scene(session)
    query = {
        "material": "other",
        "k": "3",
        "haul_km": "6",
        "mode": "geodesic",
        "f": "html",
        "lang": lang,
    }
    html = client.get("/analysis/sites", params=query).text
    SHOTS.mkdir(parents=True, exist_ok=True)
    for device, (width, height) in SIZES.items():
        page = browser.new_page(viewport={"width": width, "height": height})
        errors: list[str] = []
        page.on("pageerror", lambda exc, seen=errors: seen.append(str(exc)))
        page.set_content(html)
        page.screenshot(path=str(SHOTS / f"sites-{lang}-{device}.png"), full_page=True)
        assert errors == []
        assert page.locator("table#sites tbody tr").count() == 3
        # Nothing wider than the screen.
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        header_shown = page.locator("table#sites thead").is_visible()
        assert header_shown == (device == "desktop")
        first = page.locator("table#sites tbody tr").first.inner_text()
        assert ("3.380,0" if lang == "vi" else "3,380.0") not in first  # not double-counted
        text = page.locator("body").inner_text()
        assert ("2.480,0" if lang == "vi" else "2,480.0") in text  # 2100 + 380 at rank 1
        assert "Vườn quốc gia Yok Đôn" in text
        assert "<b>cũ</b>" in text  # shown as typed, not as markup
        page.close()
