"""The zone-checks page and a zone's "Needs attention" box as Chromium shows them.

The pages come from the in-process app on the test's rolled-back data (crafted zones for
every check, beside the demo's); Chromium renders them. Screenshots in both languages,
on a desktop and a phone, go to test-artifacts/issue14/checks/ for a person to look at.
"""

from __future__ import annotations

import json
import uuid

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from playwright.sync_api import Browser
from sqlalchemy.orm import Session

from tests.browser import ARTIFACTS, needs_chromium
from tests.factories import make_village, make_zone, square

pytestmark = needs_chromium
SHOTS = ARTIFACTS / "issue14" / "checks"
SCREENS = {"desktop": (1280, 800), "phone": (390, 844)}
AS_OF = "2026-06-15"


def _code() -> str:
    # Codes as a department writes them (TH-Z-001), unique among parallel tests.
    return f"VL-Z-{uuid.uuid4().hex[:4].upper()}"


def _crafted(session: Session) -> int:
    """A zone for each check (Mekong delta); the id of the one with most to say."""
    lon, lat = 105.40, 9.60
    worst = make_zone(
        session,
        code=_code(),
        at=(lon, lat),
        name="Vùng cói Hòa Bình (thử)",
        certification_scheme="VietGAP",
        certificate_no="VG-2024-117",
        certificate_expiry="2026-05-31",
        declared_area_ha=150,
    )
    make_zone(
        session,
        code=_code(),
        at=(lon + 0.005, lat),
        name="Vùng cói mở rộng (đề xuất)",
        status="proposed",
    )
    make_zone(
        session,
        code=_code(),
        at=(lon, lat + 0.05),
        name="Vùng mây ven rừng",
        material="rattan",
        certification_scheme="FSC-FM",
        certificate_no="FSC-C123456",
        certificate_expiry="2026-07-20",
        annual_capacity_t=80,
    )
    make_zone(
        session,
        code=_code(),
        at=(lon + 0.05, lat + 0.05),
        name="Vùng dược liệu Tân Phú",
        material="medicinal",
        certification_scheme="organic",
        certificate_no="ORG-55",
    )
    conn = session.connection()
    layer = conn.execute(
        sa.text(
            "INSERT INTO reference_layer (name, title, kind) "
            "VALUES (:name, 'Rừng đặc dụng', 'exclusion') RETURNING id"
        ),
        {"name": f"rung-dac-dung-{uuid.uuid4().hex[:4]}"},
    ).scalar_one()
    for name, shape in (
        ("Phân khu bảo vệ nghiêm ngặt", square(lon + 0.008, lat + 0.002)),
        ("Vùng đệm", square(lon + 0.06, lat + 0.05)),
    ):
        conn.execute(
            sa.text(
                "INSERT INTO reference_feature (layer_id, properties, geom) VALUES (:l, "
                "jsonb_build_object('name', CAST(:n AS text)), "
                "ST_SetSRID(ST_GeomFromGeoJSON(:g), 4326))"
            ),
            {"l": layer, "n": name, "g": json.dumps(shape)},
        )
    make_village(session, at=(105.95, 9.90), name="Làng chiếu Định Yên (thử)")
    return worst


def _show(browser: Browser, html: str, shot: str, screen: str) -> dict[str, int]:
    width, height = SCREENS[screen]
    page = browser.new_page(viewport={"width": width, "height": height})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        page.set_content(html)
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        heads_shown = page.evaluate(
            "[...document.querySelectorAll('table.findings thead')]"
            ".filter(h => getComputedStyle(h).display !== 'none').length"
        )
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / shot), full_page=True)
        # The first screen too: what a reader sees before scrolling.
        page.screenshot(path=str(SHOTS / shot.replace(".png", "-first-screen.png")))
        for name in ("exclusion", "no_village"):
            section = page.locator(f"#check-{name}")
            if section.count():
                section.screenshot(path=str(SHOTS / shot.replace(".png", f"-{name}.png")))
    finally:
        page.close()
    assert not errors
    return {"overflow": overflow, "heads_shown": heads_shown}


@pytest.mark.parametrize("screen", SCREENS)
@pytest.mark.parametrize("lang", ["vi", "en"])
def test_checks_page_reads_on_desktop_and_phone(
    browser: Browser, client: TestClient, session: Session, lang: str, screen: str
) -> None:
    _crafted(session)
    html = client.get(
        "/analysis/zone-checks", params={"f": "html", "lang": lang, "as_of": AS_OF}
    ).text
    for check in ("overlap", "exclusion", "certificate", "area_mismatch", "no_village"):
        assert f'id="check-{check}"' in html
    seen = _show(browser, html, f"zone-checks-{lang}-{screen}.png", screen)
    assert seen["overflow"] <= 0, f"{seen['overflow']}px wider than a {screen} screen"
    # A phone shows each finding as a card (no table header); a desktop as a table.
    assert (seen["heads_shown"] == 0) == (screen == "phone")


@pytest.mark.parametrize("screen", SCREENS)
@pytest.mark.parametrize("lang", ["vi", "en"])
def test_zone_page_box(
    browser: Browser, client: TestClient, session: Session, lang: str, screen: str
) -> None:
    worst = _crafted(session)
    html = client.get(
        f"/collections/material-zones/items/{worst}", params={"f": "html", "lang": lang}
    ).text
    assert 'id="attention"' in html
    seen = _show(browser, html, f"zone-page-{lang}-{screen}.png", screen)
    assert seen["overflow"] <= 0
