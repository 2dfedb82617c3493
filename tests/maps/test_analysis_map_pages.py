"""``/maps/analysis/coverage`` served by the app on the test's rolled-back transaction:
the page draws ``run_coverage``'s own answer, and bad parameters are problem details.

The features sit in a corner with no demo data (Cà Mau's coast) and use the material
``other``, which no demo row grows, so the answer depends only on this test's rows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import Browser, Page, Route
from sqlalchemy.engine import Connection

from geo.kernel.text import number
from geo.workflows.coverage import CoverageRequest, run_coverage
from maps import styles
from tests.browser import needs_chromium
from tests.factories import make_village, make_zone, square

ORIGIN = "http://craftmap.test"
MATERIAL = "other"
LON, LAT = 105.0, 9.0
NAME = "Làng <script>window.__pwn='name'</script> \"Đông\" {{ 7*7 }}"


@pytest.fixture
def supplied(connection: Connection) -> dict[str, int]:
    """Two villages short of one small zone, one fully supplied, one with no figure."""
    ids = {
        "V1": make_village(
            connection,
            at=(LON, LAT),
            code="T-MAP-V1",
            name=NAME,
            material_demand_t={MATERIAL: 10.0},
        ),
        "V2": make_village(
            connection,
            at=(LON + 0.05, LAT),
            code="T-MAP-V2",
            name="Làng Hai",
            material_demand_t={MATERIAL: 30.0},
        ),
        "V3": make_village(
            connection,
            at=(LON - 0.05, LAT),
            code="T-MAP-V3",
            name="Làng Ba",
            material_demand_t={MATERIAL: 2000.0},
        ),
        "V4": make_village(
            connection,
            at=(LON, LAT + 0.08),
            code="T-MAP-V4",
            name="Làng Bốn",
            material_demand_t={"luong": 5.0, MATERIAL: None},
        ),
    }
    make_zone(
        connection,
        geometry=square(LON, LAT + 0.03, 0.01),
        code="T-MAP-Z1",
        name="Vùng <b>thử</b>",
        material=MATERIAL,
        annual_capacity_t=1240.0,
        status="existing",
    )
    return ids


@pytest.fixture
def open_page(client: TestClient, browser: Browser) -> Iterator[Callable[..., Page]]:
    contexts = []

    def serve(route: Route) -> None:
        if not route.request.url.startswith(ORIGIN):
            route.abort()
            return
        response = client.get(route.request.url)
        route.fulfill(
            status=response.status_code, headers=dict(response.headers), body=response.content
        )

    def open_(path: str) -> Page:
        context = browser.new_context(viewport={"width": 1280, "height": 800})
        contexts.append(context)
        page = context.new_page()
        page.route("**/*", serve)
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        # The basemap's tiles are aborted on purpose (no internet); craftmap's own must load.
        page.on(
            "requestfailed", lambda r: errors.append(r.url) if r.url.startswith(ORIGIN) else None
        )
        page.goto(f"{ORIGIN}{path}", wait_until="networkidle")
        page.wait_for_selector(".cm-legend")
        assert errors == []
        return page

    yield open_
    for context in contexts:
        context.close()


@needs_chromium
def test_coverage_page_draws_the_workflows_answer(
    supplied: dict[str, int], connection: Connection, open_page: Callable[..., Page]
) -> None:
    result = run_coverage(connection, CoverageRequest(MATERIAL, 50.0, mode="geodesic"))
    assert result.totals.unmet_t > 0 and len(result.flows) >= 2
    page = open_page(f"/maps/analysis/coverage?material={MATERIAL}&mode=geodesic&lang=vi")
    panel = page.locator("#cm-coverage-panel").inner_text()
    t = result.totals
    for label, value in (
        ("Nhu cầu", t.demand_t),
        ("Được cung ứng", t.supplied_t),
        ("Thiếu hụt", t.unmet_t),
    ):
        assert f"{label}\t{number(value, 'vi', 1)} t" in panel, (label, panel)
    assert f"Khối lượng vận chuyển\t{number(t.tonne_km, 'vi', 1)} t·km" in panel
    assert f"Làng còn thiếu\t{t.villages_short}/{t.villages}" in panel
    assert "đường chim bay trên elipxoit" in panel
    assert "T-MAP-V4" in panel  # listed as missing a figure
    flows = page.evaluate(
        """colour => Array.from(document.querySelectorAll('path.leaflet-interactive'))
             .filter(p => p.getAttribute('stroke') === colour && p.getAttribute('fill') === 'none')
             .length""",
        styles.FLOW_COLOUR,
    )
    assert flows == len(result.flows)
    # The village without a figure is drawn, grey, beside the analysed ones.
    colours = page.evaluate(
        "Array.from(document.querySelectorAll('.cm-pin')).map(p => p.style.background)"
    )
    assert len(colours) == len(result.villages) + 1
    assert "rgb(158, 158, 158)" in colours
    assert page.evaluate("window.__pwn") is None
    links = page.locator("#cm-coverage-panel a").evaluate_all("a => a.map(x => x.href)")
    assert any(h.endswith("&f=csv") and "/analysis/coverage?material=other" in h for h in links)


@pytest.mark.parametrize(
    "query",
    ["material=gold", "haul_km=abc", "haul_km=-5", "mode=air", "include=destroyed", "zoom=3"],
)
def test_bad_parameters_are_problem_details(client: TestClient, query: str) -> None:
    answer = client.get(f"/maps/analysis/coverage?{query}")
    assert answer.status_code == 400, answer.text[:300]
    assert answer.headers["content-type"].startswith("application/problem+json") or (
        "text/html" in answer.headers["content-type"]
    )
    body = client.get(f"/maps/analysis/coverage?{query}", headers={"Accept": "application/json"})
    assert body.headers["content-type"].startswith("application/problem+json")
    assert body.json()["status"] == 400 and body.json()["detail"]
