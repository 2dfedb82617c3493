"""``craftmap map overview --out FILE``: one file that works from a disk, with no network."""

from __future__ import annotations

import base64
import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer
from playwright.sync_api import Browser, Page, Route

from api import cli
from api.settings import ApiSettings
from maps import assets
from tests.browser import ARTIFACTS, needs_chromium
from tests.live import CRAFTMAP

SHOTS = ARTIFACTS / "issue12" / "route"
API_ROOT = "https://craftmap.example.gov.vn/thanh-hoa"


def test_stylesheet_fonts_and_images_become_data_uris() -> None:
    folder = ApiSettings().map_assets_dir
    assets.fetch(folder)
    for url in assets.STYLESHEETS.values():
        path = folder / url.removeprefix(assets.URL_PREFIX + "/")
        css = assets.inline_css(path.read_text(encoding="utf-8"), path.parent, folder)
        relative = [
            u for u in re.findall(r"url\(\s*['\"]?([^'\")]+)", css) if not u.startswith("data:")
        ]
        # Leaflet's old-IE behaviour URL is the only one left: it names no file.
        assert relative in ([], ["#default#VML"]), (url, relative)
    fonts = folder / assets.STYLESHEETS["fontawesome_css"].removeprefix(assets.URL_PREFIX + "/")
    css = assets.inline_css(fonts.read_text(encoding="utf-8"), fonts.parent, folder)
    solid = (fonts.parent.parent / "webfonts" / "fa-solid-900.woff2").read_bytes()
    embedded = re.findall(r"data:font/woff2;base64,([A-Za-z0-9+/=]+)", css)
    # Each font file once, as WOFF2: Font Awesome names the solid face three times.
    assert len(embedded) == len(set(embedded)) == 4
    assert "font/ttf" not in css
    assert re.search(r'font-family:"Font Awesome 6 Free";[^}]*font-weight:900', css)
    assert base64.b64encode(solid).decode("ascii") in embedded


def test_api_root_defaults_to_the_public_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRAFTMAP_PUBLIC_URL", API_ROOT + "/")
    settings = cli._map_settings("vi", None, "none")
    assert settings.api_root == API_ROOT
    assert settings.basemap_url == "none"
    assert cli._map_settings("en", "https://other.example/", "none").api_root == (
        "https://other.example"
    )
    assert cli._map_settings("vi", None, "configured").basemap_url == ApiSettings().basemap_url
    with pytest.raises(typer.BadParameter):
        cli._map_settings("vi", "javascript:alert(1)", "none")


@pytest.fixture(scope="module")
def overview_file(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo's overview written by the CLI, with links to ``API_ROOT`` and no basemap."""
    out = tmp_path_factory.mktemp("standalone") / "tong-quan.html"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CRAFTMAP_")}
    env["DATABASE_URL"] = database_url
    subprocess.run(
        [CRAFTMAP, "map", "overview", "--out", str(out), "--api-root", API_ROOT],
        env=env,
        check=True,
        capture_output=True,
        timeout=300,
    )
    return out


@pytest.fixture
def offline_page(browser: Browser) -> Iterator[tuple[Page, list[str]]]:
    """A page that may read file:// only; every other request is aborted and recorded."""
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="vi-VN")
    page = context.new_page()
    refused: list[str] = []

    def only_files(route: Route) -> None:
        if route.request.url.startswith(("file://", "data:")):
            route.continue_()
        else:
            refused.append(route.request.url)
            route.abort()

    page.route("**/*", only_files)
    yield page, refused
    context.close()


# The width of a solid icon glyph, and of the same text in the fallback font.
_GLYPH_WIDTHS = """() => {
  const probe = (family) => {
    const i = document.createElement('i');
    i.textContent = '\\uf3c5';  // fa-location-dot
    i.style.cssText = 'font: 900 40px ' + family + '; position: absolute; visibility: hidden';
    document.body.appendChild(i);
    const width = i.getBoundingClientRect().width;
    i.remove();
    return width;
  };
  return [probe('"Font Awesome 6 Free"'), probe('monospace')];
}"""


@needs_chromium
def test_standalone_overview_shows_icons_offline_and_links_to_the_api_root(
    overview_file: Path, offline_page: tuple[Page, list[str]]
) -> None:
    page, refused = offline_page
    failed: list[str] = []
    page.on("requestfailed", lambda request: failed.append(request.url))
    page.goto(overview_file.as_uri(), wait_until="networkidle")
    page.wait_for_selector(".cm-pin i.fa-solid")
    page.evaluate("document.fonts.ready")

    # Offline by default: no basemap, no font or control image from anywhere else.
    assert refused == [] and failed == [], (refused, failed)
    assert page.evaluate("document.fonts.check('900 16px \"Font Awesome 6 Free\"')")
    icon, fallback = page.evaluate(_GLYPH_WIDTHS)
    assert icon > 0 and abs(icon - fallback) > 1, (icon, fallback)
    images = page.evaluate(
        """() => ['.leaflet-control-layers-toggle', '.leaflet-control-zoom-fullscreen',
                  '.leaflet-control-measure-toggle']
            .map(s => document.querySelector(s))
            .filter(Boolean)
            .map(el => getComputedStyle(el).backgroundImage)"""
    )
    assert images and all(i.startswith('url("data:image/') for i in images), images

    # Every link of every popup, the villages' (built on click) too, opens API_ROOT.
    hrefs = page.evaluate(
        """() => {
          const map = window[Object.keys(window).find(k => /^map_[0-9a-f]+$/.test(k))];
          const hrefs = [];
          const collect = (html) => {
            const div = document.createElement('div'); div.innerHTML = html;
            div.querySelectorAll('a[href]').forEach(a => hrefs.push(a.getAttribute('href')));
          };
          const visit = (l) => {
            const popup = l.getPopup && l.getPopup();
            if (!popup) return;
            const content = popup.getContent();
            collect(typeof content === 'function' ? content(l) : content);
          };
          map.eachLayer(visit);
          // Villages sit in the cluster, off the map until zoomed to.
          Object.values(window.cmMarkers || {}).forEach(visit);
          return hrefs;
        }"""
    )
    assert hrefs, "no popup links found"
    assert all(h.startswith(API_ROOT + "/") for h in hrefs), [
        h for h in hrefs if not h.startswith(API_ROOT + "/")
    ]
    assert any("/collections/villages/items/" in h for h in hrefs)
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "standalone-offline.png"))
