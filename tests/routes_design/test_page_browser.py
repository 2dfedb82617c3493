"""The saved design's timetable page in Chromium: both languages, desktop and phone."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from fastapi.testclient import TestClient
from playwright.sync_api import Browser
from sqlalchemy.orm import Session

from tests.api.conftest import bearer
from tests.factories import make_route, make_stop
from tests.routes_design import network_cases as net
from tests.routes_design.network_cases import at

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "issue15" / "legs"
VIEWPORTS = {"desktop": (1280, 800), "phone": (390, 844)}


def test_design_page_shows_the_timetable_problems_and_fallbacks(
    client: TestClient, session: Session, keys: dict[str, str], browser: Browser
) -> None:
    conn = session.connection()
    net.build(conn)
    route_id = make_route(conn, mode="car", name="Làng nghề ven sông <Cà Mau> & biển")
    names = [
        ("S0", {"name": "Làng chiếu cói Phú Tân", "dwell_min": 45}),
        ("N0", {"name": "Làng gốm Lò Chum", "dwell_min": 90, "opens": "09:00", "closes": "09:30"}),
        ("N2", {"name": "Chợ nổi Cái Nước", "dwell_min": 30, "overnight": True}),
        ("I0", {"name": "Đảo Hòn Khoai <b>thử</b>", "dwell_min": 60}),
        ("I1", {"name": "Bến thuyền Rạch Gốc", "dwell_min": 20, "leg_mode": "boat"}),
    ]
    for seq, (where, props) in enumerate(names, start=1):
        make_stop(conn, route_id, seq, at=at(where), **props)
    answer = client.post(
        f"/routes/{route_id}/design", json={"network": net.NAME}, headers=bearer(keys["tourism"])
    )
    assert answer.status_code == 200, answer.text
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for lang in ("vi", "en"):
        html = client.get(f"/routes/{route_id}/design", params={"f": "html", "lang": lang}).text
        assert "<b>thử</b>" not in html and "&lt;b&gt;thử&lt;/b&gt;" in html
        for device, (width, height) in VIEWPORTS.items():
            context = browser.new_context(viewport={"width": width, "height": height})
            page = context.new_page()
            page.set_content(html)
            rows = page.locator("table#timetable tbody tr")
            assert rows.count() == 5
            problem = page.locator("tr.problem")
            assert problem.count() == 1 and problem.get_attribute("data-seq") == "2"
            assert page.locator("tr[data-fallback]").count() == 2  # the island and the boat
            assert page.locator("#fallbacks li").count() == 2
            overflow = page.evaluate(
                "document.scrollingElement.scrollWidth - document.scrollingElement.clientWidth"
            )
            assert overflow <= 0, f"{lang} {device}: {overflow}px wider than the screen"
            page.screenshot(path=str(ARTIFACTS / f"design-{lang}-{device}.png"), full_page=True)
            context.close()
        if lang == "vi":
            assert "Chờ mở cửa" in html and " km" in html
            # The stored notes are said in Vietnamese on the Vietnamese page.
            assert "sau giờ đóng cửa 09:30" in html and "after closing" not in html
            assert "chặng đi thuyền, vẽ thẳng" in html and "not connected" not in html
            km = conn.execute(
                sa.text("SELECT leg_km FROM route_stop WHERE route_id = :r AND seq = 2"),
                {"r": route_id},
            ).scalar_one()
            assert f"{km:.1f}".replace(".", ",") + " km" in html
