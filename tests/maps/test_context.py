"""The offline context (maps/context.py): land, coast and borders under every map, and
administrative units as boundaries or labelled places, in a browser with no internet."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import geopandas as gpd
import pytest
import shapely
from playwright.sync_api import Browser, Page, Route
from sqlalchemy.engine import Connection

from api.settings import ApiSettings
from geo.query import mapdata
from maps import assets, build, context
from tests.browser import ARTIFACTS, needs_chromium
from tests.conftest import demo_database
from tests.factories import make_admin_unit
from tests.live import live_server

SHOTS = ARTIFACTS / "issue12" / "context"
# Points every drawing of Vietnam must get right (lon, lat): Hà Nội and Thanh Hóa city are
# on land, the Gulf of Tonkin and the sea off Quảng Ngãi are not; the Cầu Treo border gate
# (Hà Tĩnh–Bolikhamxay) is on the Vietnam–Laos border.
HANOI = (105.85, 21.03)
THANH_HOA = (105.78, 19.81)
GULF_OF_TONKIN = (107.3, 19.5)
OFF_QUANG_NGAI = (109.5, 15.0)
CAU_TREO = (105.16, 18.39)


@pytest.fixture(scope="module")
def vendor() -> Path:
    folder = ApiSettings().map_assets_dir
    assets.fetch(folder)
    return folder


def _context_data(vendor: Path) -> dict[str, Any]:
    text = (vendor / assets.WORLD_ATLAS.folder / assets.CONTEXT_SCRIPT).read_text()
    return dict(json.loads(text.split("window.cmContext = ", 1)[1].rstrip().rstrip(";")))


# -- the pinned package and its derived script ---------------------------------------------


def test_world_atlas_is_pinned_and_a_tampered_tarball_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert assets.WORLD_ATLAS.version == "2.0.2"
    assert assets.WORLD_ATLAS.integrity.startswith("sha512-")
    # Everything but world-atlas is "present"; world-atlas's download is not what was pinned.
    for package in assets.PACKAGES:
        if package is not assets.WORLD_ATLAS:
            (tmp_path / package.folder).mkdir()
            (tmp_path / package.folder / "package.json").write_text("{}")
    opened: list[str] = []

    def fake_urlopen(url: str, timeout: float) -> io.BytesIO:
        opened.append(url)
        return io.BytesIO(b"not the pinned tarball")

    monkeypatch.setattr(assets.urllib.request, "urlopen", fake_urlopen)
    with pytest.raises(RuntimeError, match="world-atlas@2.0.2: integrity mismatch"):
        assets.fetch(tmp_path)
    assert opened == ["https://registry.npmjs.org/world-atlas/-/world-atlas-2.0.2.tgz"]
    assert not (tmp_path / assets.WORLD_ATLAS.folder).exists()


def test_the_context_script_holds_vietnams_land_and_borders(vendor: Path) -> None:
    assert assets.missing(vendor) == []
    data = _context_data(vendor)
    land = shapely.geometry.shape(data["land"])
    lines = shapely.geometry.shape(data["borders"])
    assert land.geom_type == "MultiPolygon" and lines.geom_type == "MultiLineString"
    assert shapely.box(*context.REGION).buffer(1e-9).contains(land)
    assert land.contains(shapely.Point(HANOI)) and land.contains(shapely.Point(THANH_HOA))
    assert not land.intersects(shapely.Point(GULF_OF_TONKIN))
    assert not land.intersects(shapely.Point(OFF_QUANG_NGAI))
    # Borders are between countries: near the Cầu Treo gate, far from the coast at Hà Nội.
    assert lines.distance(shapely.Point(CAU_TREO)) < 0.05
    assert lines.distance(shapely.Point(HANOI)) > 0.5
    assert lines.distance(shapely.Point(OFF_QUANG_NGAI)) > 1


def test_a_deleted_context_script_is_written_again(vendor: Path, tmp_path: Path) -> None:
    # A vendor folder from before this layer has world-atlas but not craftmap's script.
    package = tmp_path / assets.WORLD_ATLAS.folder
    package.mkdir()
    for name in ("package.json", context.SOURCE):
        (package / name).write_bytes((vendor / assets.WORLD_ATLAS.folder / name).read_bytes())
    others = [p for p in assets.PACKAGES if p is not assets.WORLD_ATLAS]
    for other in others:
        (tmp_path / other.folder).mkdir()
        (tmp_path / other.folder / "package.json").write_text("{}")
    assert assets.missing(tmp_path) == [assets.WORLD_ATLAS]
    assets.fetch(tmp_path)
    assert (package / assets.CONTEXT_SCRIPT).is_file() and assets.missing(tmp_path) == []


# -- administrative units read from PostGIS ------------------------------------------------


def test_admin_units_come_with_their_boundary_or_their_centre(connection: Connection) -> None:
    square = shapely.box(105.60, 19.70, 105.70, 19.80)
    make_admin_unit(connection, geometry=json.loads(shapely.to_geojson(square)), name="Xã Có Ranh")
    make_admin_unit(connection, name="Xã Không Ranh")
    admin = mapdata.overview(connection).admin.set_index("name")
    bounded = admin.loc["Xã Có Ranh"]
    assert bounded.geometry.geom_type in {"Polygon", "MultiPolygon"}
    assert square.contains(shapely.Point(bounded.label_lon, bounded.label_lat))
    # The demo's units have centres only: points, labelled at their own centre.
    province = admin.loc["Tỉnh Thanh Hóa"]
    assert province.geometry.geom_type == "Point"
    assert (province.label_lon, province.label_lat) == pytest.approx(
        (province.geometry.x, province.geometry.y)
    )
    assert "Xã Không Ranh" not in admin.index  # no boundary, no centre: nothing to draw


# -- in a browser with no internet ---------------------------------------------------------


def _offline(page: Page) -> list[str]:
    """Abort every request that leaves this machine; the aborted URLs."""
    aborted: list[str] = []

    def handle(route: Route) -> None:
        url = route.request.url
        host = urlsplit(url).hostname
        if url.startswith(("file:", "data:")) or host in {"127.0.0.1", "localhost"}:
            route.continue_()
        else:
            aborted.append(url)
            route.abort()

    page.route("**/*", handle)
    return aborted


def _standalone(m: Any, vendor: Path, out: Path) -> str:
    out.write_text(assets.inline(m.get_root().render(), vendor), encoding="utf-8")
    return out.as_uri()


# The context pane's paths and the stacking of the panes, read from the page.
_PANES = """() => {
  const z = n => Number(getComputedStyle(document.querySelector('.leaflet-' + n)).zIndex);
  const pane = document.querySelector('.leaflet-cmContext-pane');
  const paths = pane ? [...pane.querySelectorAll('path')] : [];
  return {
    context: pane ? Number(getComputedStyle(pane).zIndex) : null,
    tiles: z('tile-pane'), overlays: z('overlay-pane'), markers: z('marker-pane'),
    land: paths.filter(p => p.classList.contains('cm-land')).map(p => p.getAttribute('d').length),
    borders: paths.filter(p => p.classList.contains('cm-border'))
      .map(p => p.getAttribute('d').length),
  };
}"""

# The drawn border's nearest approach (in screen pixels) to a place, sampled along the
# SVG path itself: what the user sees, not the data behind it.
_BORDER_DISTANCE = """([mapName, lat, lon]) => {
  const map = window[mapName];
  const box = map.getContainer().getBoundingClientRect();
  const target = map.latLngToContainerPoint([lat, lon]);
  const tx = target.x + box.left, ty = target.y + box.top;
  let best = Infinity;
  for (const path of document.querySelectorAll('.leaflet-cmContext-pane path.cm-border')) {
    // From the SVG's user space to the screen through its laid-out box, which includes
    // every CSS transform Leaflet puts on the panes.
    const svg = path.ownerSVGElement, view = svg.viewBox.baseVal;
    const rect = svg.getBoundingClientRect(), length = path.getTotalLength();
    for (let at = 0; at <= length; at += 1) {
      const p = path.getPointAtLength(at);
      const x = rect.left + (p.x - view.x) * rect.width / view.width;
      const y = rect.top + (p.y - view.y) * rect.height / view.height;
      best = Math.min(best, Math.hypot(x - tx, y - ty));
    }
  }
  return best;
}"""


def _map_name(page: Page) -> str:
    return str(page.evaluate("document.querySelector('.folium-map').id"))


@pytest.fixture(scope="module")
def served(pg_server_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """craftmap with the demo and no basemap (``CRAFTMAP_BASEMAP_URL=none``)."""
    assets.fetch(ApiSettings().map_assets_dir)
    with demo_database(pg_server_url, "craftmap_context") as url:
        env = {"CRAFTMAP_BASEMAP_URL": "none"}
        with live_server(url, tmp_path_factory.mktemp("context"), env=env) as server:
            yield server.url


@needs_chromium
@pytest.mark.parametrize("lang", ["vi", "en"])
def test_overview_without_basemap_draws_the_context_under_everything(
    served: str, browser: Browser, lang: str
) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    for name, viewport in (("desktop", (1280, 800)), ("phone", (390, 844))):
        ctx = browser.new_context(viewport={"width": viewport[0], "height": viewport[1]})
        page = ctx.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error, errors=errors: errors.append(str(error)))
        aborted = _offline(page)
        page.goto(f"{served}/maps?lang={lang}", wait_until="networkidle")
        page.wait_for_selector(".leaflet-cmContext-pane path.cm-border")
        panes = page.evaluate(_PANES)
        assert panes["land"] and min(panes["land"]) > 1000, panes
        assert panes["borders"] and min(panes["borders"]) > 1000, panes
        assert panes["context"] < panes["tiles"] < panes["overlays"] < panes["markers"]
        # Province names are shown at the opening zoom; the demo has no boundaries, so
        # nothing is drawn as one.
        assert page.locator(".cm-place-province span", has_text="Tỉnh Thanh Hóa").is_visible()
        assert page.locator(".leaflet-cmAdmin-pane path").count() == 0
        page.screenshot(path=SHOTS / f"overview-none-{lang}-{name}.png")
        ctx.close()
        assert not errors and not aborted, (errors, aborted)


@needs_chromium
def test_the_border_is_drawn_where_vietnam_meets_laos(served: str, browser: Browser) -> None:
    ctx = browser.new_context(viewport={"width": 1280, "height": 800})
    page = ctx.new_page()
    _offline(page)
    page.goto(f"{served}/maps?lang=vi", wait_until="networkidle")
    name = _map_name(page)
    page.evaluate(f"window['{name}'].setView([19.2, 105.6], 8, {{animate: false}})")
    page.wait_for_timeout(300)
    near = page.evaluate(_BORDER_DISTANCE, [name, CAU_TREO[1], CAU_TREO[0]])
    far = page.evaluate(_BORDER_DISTANCE, [name, THANH_HOA[1], THANH_HOA[0]])
    # 1 px at zoom 8 is about 600 m here.
    assert near < 8, near
    assert far > 80, far
    # Commune names wait for a closer zoom, then show.
    assert not page.locator(".cm-place-commune span").first.is_visible()
    page.evaluate(f"window['{name}'].setView([19.81, 105.78], 11, {{animate: false}})")
    page.wait_for_timeout(300)
    assert page.locator(".cm-place-commune span", has_text="Phường Hạc Thành").is_visible()
    page.screenshot(path=SHOTS / "overview-none-vi-communes-z11.png")
    ctx.close()


@needs_chromium
@pytest.mark.parametrize("path", ["/maps/edit", "/maps/routes/1"])
def test_every_map_page_has_the_context(served: str, browser: Browser, path: str) -> None:
    ctx = browser.new_context(viewport={"width": 1280, "height": 800})
    page = ctx.new_page()
    _offline(page)
    page.goto(f"{served}{path}?lang=en", wait_until="networkidle")
    page.wait_for_selector(".leaflet-cmContext-pane path.cm-land")
    panes = page.evaluate(_PANES)
    assert panes["land"] and panes["borders"] and panes["context"] < panes["overlays"]
    page.screenshot(path=SHOTS / f"{path.strip('/').replace('/', '-')}-none-en.png")
    ctx.close()


@needs_chromium
def test_when_the_basemap_cannot_be_reached_the_context_shows(
    vendor: Path, browser: Browser, tmp_path: Path
) -> None:
    # The default basemap (OpenStreetMap), in a standalone file, with the internet cut off.
    m = build._base_map(build.MapSettings(lang="vi"), [[19.3, 104.9], [20.7, 106.1]])
    build.serve_assets_locally(m)
    url = _standalone(m, vendor, tmp_path / "offline.html")
    ctx = browser.new_context(viewport={"width": 1280, "height": 800})
    page = ctx.new_page()
    aborted = _offline(page)
    page.goto(url, wait_until="networkidle")
    page.wait_for_selector(".cm-basemap-offline .cm-offline-note")
    assert any("tile.openstreetmap.org" in u for u in aborted)
    panes = page.evaluate(_PANES)
    # Under the tiles: online, OpenStreetMap covers it; offline it is what shows.
    assert panes["context"] < panes["tiles"] and panes["land"] and panes["borders"]
    note = page.locator(".cm-offline-note").inner_text()
    assert note == context.TEXT["offline"]("vi")
    assert "Natural Earth" in page.locator(".leaflet-control-attribution").inner_text()
    page.screenshot(path=SHOTS / "standalone-osm-unreachable-vi.png")
    ctx.close()


@needs_chromium
def test_admin_boundaries_are_drawn_and_centres_are_labelled_places(
    vendor: Path, browser: Browser, tmp_path: Path
) -> None:
    hostile = '<img src=x onerror="window.hacked=1">'
    admin = gpd.GeoDataFrame(
        {
            "name": ["Tỉnh Thử", "Xã Có Ranh", "Xã Chỉ Có Tâm", hostile],
            "level": ["province", "commune", "commune", "commune"],
            "label_lon": [105.5, None, None, None],
            "label_lat": [19.9, None, None, None],
            "geometry": [
                shapely.box(105.0, 19.5, 106.0, 20.3),
                shapely.box(105.6, 19.7, 105.75, 19.8),
                shapely.Point(105.3, 20.1),
                shapely.Point(105.2, 19.6),
            ],
        },
        crs=4326,
    )
    m = build._base_map(
        build.MapSettings(basemap_url="none", lang="vi"), [[19.5, 105], [20.3, 106]]
    )
    build._admin_layer(admin, "vi").add_to(m)
    build.serve_assets_locally(m)
    url = _standalone(m, vendor, tmp_path / "admin.html")
    ctx = browser.new_context(viewport={"width": 1280, "height": 800})
    page = ctx.new_page()
    _offline(page)
    page.goto(url, wait_until="networkidle")
    name = _map_name(page)
    page.evaluate(f"window['{name}'].setView([19.9, 105.5], 10, {{animate: false}})")
    page.wait_for_timeout(300)
    # Two boundaries, as polygons; the centres are not drawn as shapes at all.
    boundaries = page.locator(".leaflet-cmAdmin-pane path.cm-admin-boundary")
    assert boundaries.count() == 2
    assert page.locator(".leaflet-overlay-pane path").count() == 0
    assert page.locator(".leaflet-interactive").count() == 0
    # Every unit is named at its place: with a dot where it has no boundary.
    places = page.locator(".leaflet-cmPlaces-pane .cm-place")
    assert sorted(places.all_inner_texts()) == sorted(admin["name"])
    dots = page.locator(".cm-place-dot").all_inner_texts()
    assert sorted(dots) == sorted(["Xã Chỉ Có Tâm", hostile])
    assert page.locator(".cm-place-province").inner_text() == "Tỉnh Thử"
    assert page.evaluate("window.hacked") is None and page.locator("img[src=x]").count() == 0
    page.screenshot(path=SHOTS / "admin-boundaries-and-places-vi.png")
    ctx.close()
