"""``/maps/analysis/coverage`` served by the app on the test's rolled-back transaction:
the page draws ``run_coverage``'s own answer, and bad parameters are problem details.

The features sit in a corner with no demo data (Cà Mau's coast) and use the material
``other``, which no demo row grows, so the answer depends only on this test's rows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from playwright.sync_api import Browser, Page, Route
from sqlalchemy.engine import Connection

from geo.kernel.text import number
from geo.workflows.coverage import CoverageRequest, run_coverage
from geo.workflows.siting import SitingRequest, suggest_sites
from maps import styles
from tests.browser import ARTIFACTS, needs_chromium
from tests.factories import make_village, make_zone, square

ORIGIN = "http://craftmap.test"
SHOTS = ARTIFACTS / "issue14" / "maps"
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
    assert f"Làng còn thiếu\t{t.villages_short} trên {t.villages}" in panel
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


# Đắk Lắk, far from the demo's Thanh Hóa data: kilometres in degrees at this latitude.
LON0, LAT0 = 108.05, 12.68
KM_LON, KM_LAT = 1 / 108.63, 1 / 110.58


def _at(x_km: float, y_km: float) -> tuple[float, float]:
    return (LON0 + x_km * KM_LON, LAT0 + y_km * KM_LAT)


@pytest.fixture
def short_villages(connection: Connection) -> str:
    """Two clusters 30 km apart and an exclusion area over the best cells of the first."""
    for code, (x, y), tonnes, name in (
        ("T-SITE-A", (0, 0), 100.0, NAME),
        ("T-SITE-B", (3, 0), 50.0, "Làng Bê"),
        ("T-SITE-C", (30, 0), 20.0, "Làng Xê"),
    ):
        make_village(
            connection, at=_at(x, y), code=code, name=name, material_demand_t={MATERIAL: tonnes}
        )
    layer_id = connection.execute(
        sa.text("INSERT INTO reference_layer (name, title, kind) VALUES (:n, :t, :k) RETURNING id"),
        {"n": "t-map-exclusion", "t": "Lớp cấm thử", "k": "exclusion"},
    ).scalar()
    (a, b), (c, d) = _at(-1.5, -4.2), _at(4.5, 4.2)
    connection.execute(
        sa.text(
            "INSERT INTO reference_feature (layer_id, properties, geom) "
            "VALUES (:l, CAST(:p AS jsonb), ST_GeomFromText(:g, 4326))"
        ),
        {
            "l": layer_id,
            "p": '{"name": "Vườn quốc gia thử"}',
            "g": f"POLYGON(({a} {b},{c} {b},{c} {d},{a} {d},{a} {b}))",
        },
    )
    return "Vườn quốc gia thử"


@needs_chromium
def test_sites_page_draws_the_ranked_sites_and_the_exclusion(
    short_villages: str, connection: Connection, open_page: Callable[..., Page]
) -> None:
    # Straight lines: the test's villages lie far from any road network.
    asked = SitingRequest(material=MATERIAL, k=2, haul_km=4.0, mode="geodesic")
    result = suggest_sites(connection, asked)
    assert [s.rank for s in result.sites] == [1, 2]
    page = open_page(
        f"/maps/analysis/sites?material={MATERIAL}&k=2&haul_km=4&mode=geodesic&lang=vi"
    )
    ranks = page.locator(".leaflet-marker-icon .cm-rank").all_inner_texts()
    assert sorted(ranks) == ["1", "2"]
    cells = page.locator(f'path.leaflet-interactive[fill="{styles.SITE_COLOUR}"]')
    assert cells.count() == 2
    exclusion = page.locator(f'path.leaflet-interactive[stroke="{styles.EXCLUSION_COLOUR}"]')
    assert exclusion.count() == 1
    panel = page.locator("#cm-sites-panel")
    items = panel.locator("ol.cm-ranking li")
    assert items.count() == 2
    for item, site in zip(items.all(), result.sites, strict=True):
        assert f"{number(site.score_t, 'vi', 1)} t" in item.inner_text()
    assert NAME in panel.inner_text()
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "sites-db-vi.png"))
    # The cell may lie under a village's circle: the click goes to the cell itself.
    cells.first.dispatch_event("click")
    popup = page.locator(".leaflet-popup-content")
    popup.wait_for()
    card = popup.inner_text()
    assert "Vị trí" in card and f"vùng cấm: {short_villages}" in card, card
    assert page.evaluate("window.__pwn") is None
