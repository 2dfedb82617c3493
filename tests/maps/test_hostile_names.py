"""Stored XSS: hostile names on every page that shows them, read by Debian's Chromium.

Each payload, if it ever ran, would call ``__pwn`` (a canary the test exposes) or
``alert`` (a dialog the test records). Names are written through the Features API of a
real ``craftmap serve`` on a database of this module's own, then every page that shows
them is opened: the canary must stay silent, craftmap's own scripts must raise no CSP
violation, and each name must show as the literal text it is.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page

from tests.browser import ARTIFACTS, needs_chromium
from tests.conftest import create_database, drop_database, migrate_with_demo
from tests.factories import make_key
from tests.live import CRAFTMAP, LiveServer, live_server

pytestmark = needs_chromium

# One payload per way out of a context: template literal, script element, HTML comment,
# attribute, single- and double-quoted JS string, line separators, SVG, Jinja, alert().
CORPUS = {
    "template": "Vùng `${__pwn('template')}` Thọ Xuân \\`${__pwn('bs')}",
    "script": "</script><script>__pwn('script')</script>",
    "comment": "<!--<script>__pwn('comment')</script>-->",
    "attribute": '"><img src=x onerror="__pwn(\'img\')">',
    "squote": "'-__pwn('squote')-'",
    "dquote": '"-__pwn("dquote")-"',
    "lines": "Dòng\u2028tách\u2029ra');__pwn('lines');//",
    "svg": "<svg onload=__pwn('svg')>",
    "jinja": "{{7*7}} {% if 1 %}x{% endif %} ${7*7}",
    "alert": "`;alert(1);`</textarea><iframe srcdoc='<script>parent.__pwn(1)</script>'>",
    "vietnamese": "Làng nghề Đông Sơn — đá <b>mỹ nghệ</b> ${__pwn('vi')} «Hoằng Hóa»",
}
JS_URL = "javascript:__pwn('href')"

# Watches what a page must never do: call the canary, open a dialog, break CSP, throw.
INIT = """
window.__csp = [];
document.addEventListener('securitypolicyviolation', function(e) {
  window.__csp.push(e.violatedDirective + ' ' + e.blockedURI + ' ' + e.sourceFile
    + ':' + e.lineNumber + ' ' + (e.sample || ''));
});
"""


@dataclass
class Hostile:
    """The server and what the module wrote into it."""

    live: LiveServer
    admin_key: str
    database_url: str
    villages: dict[int, str] = field(default_factory=dict)
    zones: dict[int, str] = field(default_factory=dict)
    routes: dict[int, str] = field(default_factory=dict)
    stops: dict[int, str] = field(default_factory=dict)
    stop_route: int = 0


def _json(live: LiveServer, path: str) -> Any:
    answer = live.request(path, headers={"Accept": "application/geo+json"})
    assert answer.status == 200, (path, answer.body[:300])
    return json.loads(answer.body)


def _rename(live: LiveServer, key: str, collection: str, fid: int, props: dict[str, Any]) -> None:
    answer = live.request(
        f"/collections/{collection}/items/{fid}",
        method="PATCH",
        body=json.dumps({"properties": props}).encode(),
        headers={"Content-Type": "application/merge-patch+json", "Authorization": f"Bearer {key}"},
    )
    assert answer.status == 200, (collection, fid, answer.status, answer.body[:500])


@pytest.fixture(scope="module")
def hostile(pg_server_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hostile]:
    url = create_database(pg_server_url, "craftmap_xss")
    migrate_with_demo(url)
    admin_key = make_key(url, "admin", "xss admin")
    names = list(CORPUS.values())
    log_dir = tmp_path_factory.mktemp("xss")
    try:
        with live_server(url, log_dir, env={"CRAFTMAP_BASEMAP_URL": "none"}) as live:
            found = Hostile(live, admin_key, url)
            for collection, target in (
                ("villages", found.villages),
                ("material-zones", found.zones),
                ("routes", found.routes),
            ):
                ids = sorted(
                    f["id"]
                    for f in _json(live, f"/collections/{collection}/items?limit=100")["features"]
                )
                for fid, name in zip(ids, names, strict=False):
                    _rename(live, admin_key, collection, fid, {"name": name})
                    target[fid] = name
            # A route's stops get the corpus too, and the route a javascript: source.
            stops = _json(live, "/collections/route-stops/items?limit=500")["features"]
            by_route: dict[int, list[dict[str, Any]]] = {}
            for stop in stops:
                by_route.setdefault(stop["properties"]["route_id"], []).append(stop)
            route_id, its_stops = max(by_route.items(), key=lambda pair: len(pair[1]))
            found.stop_route = route_id
            for stop, name in zip(its_stops, names, strict=False):
                _rename(live, admin_key, "route-stops", stop["id"], {"name": name})
                found.stops[stop["id"]] = name
            _rename(live, admin_key, "routes", route_id, {"sources": [JS_URL]})
            yield found
    finally:
        drop_database(url)


class Guarded:
    """A page whose canary calls, dialogs, script errors and CSP reports are recorded."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.pwned: list[str] = []
        self.errors: list[str] = []
        page.expose_function("__pwn", lambda tag="": self.pwned.append(str(tag)))
        page.add_init_script(INIT)
        page.on("pageerror", lambda error: self.errors.append(str(error)))
        # Failed loads are checked by URL below; every other console error counts.
        page.on(
            "console",
            lambda message: (
                self.errors.append(message.text)
                if message.type == "error"
                and not message.text.startswith("Failed to load resource")
                else None
            ),
        )
        self.failed: list[str] = []
        page.on(
            "response",
            lambda r: (
                self.failed.append(f"{r.status} {r.url}")
                if r.status >= 400
                and r.request.resource_type != "document"
                and not r.url.endswith("/favicon.ico")
                else None
            ),
        )

        def dialog(d: Any) -> None:
            self.pwned.append(f"dialog: {d.message}")
            d.dismiss()

        page.on("dialog", dialog)

    def open(self, url: str) -> None:
        self.page.goto(url, wait_until="networkidle")
        self.page.wait_for_timeout(300)

    def check(self, shot: str) -> None:
        """Nothing ran, nothing was refused, nothing threw; a screenshot for people."""
        ARTIFACTS.mkdir(exist_ok=True)
        self.page.screenshot(path=str(ARTIFACTS / f"hostile-{shot}.png"), full_page=True)
        violations = self.page.evaluate("window.__csp")
        assert self.pwned == [], self.pwned
        assert violations == [], violations
        assert self.errors == [], self.errors
        assert self.failed == [], self.failed
        assert self.page.locator("a[href^='javascript:' i]").count() == 0


@pytest.fixture
def guarded(browser: Browser, hostile: Hostile) -> Iterator[Guarded]:
    context = browser.new_context(viewport={"width": 1280, "height": 860}, locale="vi-VN")
    # The editor keeps the key for the tab: an admin's key is what a payload would steal.
    key = json.dumps(hostile.admin_key)
    context.add_init_script(f"sessionStorage.setItem('craftmap-key', {key})")
    yield Guarded(context.new_page())
    context.close()


# Opens every tooltip of the layers on the map and returns what they show.
_TOOLTIPS = """() => {
  const map = Object.keys(window).filter(k => /^map_[0-9a-f]+$/.test(k)).map(k => window[k])[0];
  const shown = [];
  map.eachLayer(layer => {
    if (layer.getTooltip && layer.getTooltip() && layer.getLatLng === undefined) {
      layer.openTooltip(layer.getBounds ? layer.getBounds().getCenter() : undefined);
      const el = layer.getTooltip().getElement();
      if (el) shown.push(el.textContent.trim());
      layer.closeTooltip();
    }
  });
  return shown;
}"""

# What the tooltip of each village marker would show (parsed inertly, never inserted).
_MARKER_TOOLTIPS = """(ids) => ids.map(id => {
  const content = window.cmMarkers[id].getTooltip()._content;
  return new DOMParser().parseFromString(content, 'text/html').body.textContent;
})"""

# Opens every popup on the map and returns their titles.
_POPUP_TITLES = """() => {
  const map = Object.keys(window).filter(k => /^map_[0-9a-f]+$/.test(k)).map(k => window[k])[0];
  const titles = [];
  map.eachLayer(layer => {
    const popup = layer.getPopup && layer.getPopup();
    if (!popup) return;
    const at = layer.getLatLng ? layer.getLatLng()
      : (layer.getBounds ? layer.getBounds().getCenter() : null);
    if (!at) return;
    layer.openPopup(at);
    const h = popup.getElement() && popup.getElement().querySelector('h4');
    if (h) titles.push(h.textContent);
    layer.closePopup();
  });
  return titles;
}"""


def _squash(text: str) -> str:
    # Tooltips wrap their text in white space; compare the names, not the padding.
    return re.sub(r"[ \t\n\r]+", " ", text).strip()


def _shown(expected: dict[int, str], texts: list[str]) -> None:
    seen = {_squash(t) for t in texts}
    missing = [name for name in expected.values() if _squash(name) not in seen]
    assert missing == [], (missing, sorted(seen)[:40])


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_overview_shows_hostile_names_as_text(
    hostile: Hostile, guarded: Guarded, lang: str
) -> None:
    page = guarded.page
    guarded.open(f"{hostile.live.url}/maps?lang={lang}")
    page.wait_for_selector(".cm-legend")
    tooltips = page.evaluate(_TOOLTIPS)
    _shown(hostile.zones, tooltips)
    _shown(hostile.routes, tooltips)
    titles = page.evaluate(_POPUP_TITLES)
    _shown(hostile.zones, titles)
    _shown(hostile.routes, titles)
    ids = sorted(hostile.villages)
    assert page.evaluate(_MARKER_TOOLTIPS, ids) == [hostile.villages[i] for i in ids]
    # A village's card, opened from the search box, shows its name as text.
    name = CORPUS["vietnamese"]
    page.locator(".cm-search input").fill("lang nghe dong son")
    page.locator(".cm-search li", has_text="mỹ nghệ").first.click()
    popup = page.locator(".leaflet-popup-content h4", has_text="mỹ nghệ")
    popup.wait_for(state="visible")
    assert popup.inner_text() == name
    page.locator(".cm-search input").fill("")
    guarded.check(f"overview-{lang}")


@pytest.mark.parametrize("role", ["planner", "tourism"])
def test_editor_shows_hostile_names_as_text(hostile: Hostile, guarded: Guarded, role: str) -> None:
    page = guarded.page
    guarded.open(f"{hostile.live.url}/maps/edit?role={role}")
    page.wait_for_selector("#cm-editor")
    assert page.locator("#cm-editor input[name=api_key]").input_value() == hostile.admin_key
    shown = page.evaluate(_TOOLTIPS)
    _shown(hostile.zones if role == "planner" else hostile.routes, shown)
    # The editable copies, drawn from the page's GeoJSON by the editor's own script.
    editable = page.evaluate(
        """() => {
          const shown = [];
          const map = Object.keys(window).filter(k => /^map_[0-9a-f]+$/.test(k))
            .map(k => window[k])[0];
          map.eachLayer(layer => {
            if (layer.cmId !== undefined && layer.getTooltip()) {
              shown.push(new DOMParser().parseFromString(layer.getTooltip()._content,
                'text/html').body.textContent);
            }
          });
          return shown;
        }"""
    )
    _shown(hostile.zones if role == "planner" else hostile.routes, editable)
    guarded.check(f"edit-{role}")


def test_route_map_shows_hostile_names_as_text(hostile: Hostile, guarded: Guarded) -> None:
    page = guarded.page
    guarded.open(f"{hostile.live.url}/maps/routes/{hostile.stop_route}")
    panel = page.locator("#cm-route-panel")
    text = panel.inner_text()
    for name in hostile.stops.values():
        assert _squash(name) in _squash(text)
    titles = page.evaluate(_POPUP_TITLES)
    stop_titles = {_squash(t.split(". ", 1)[1]) for t in titles if ". " in t}
    assert {_squash(n) for n in hostile.stops.values()} <= stop_titles, stop_titles
    # The print button works without an inline handler.
    printed = page.evaluate(
        """() => { let n = 0; window.print = () => { n += 1; };
                   document.querySelector('#cm-route-panel button').click(); return n; }"""
    )
    assert printed == 1
    guarded.check("route")


@pytest.mark.parametrize(
    ("collection", "attribute"),
    [
        ("villages", "villages"),
        ("material-zones", "zones"),
        ("routes", "routes"),
        ("route-stops", "stops"),
    ],
)
def test_html_pages_show_hostile_names_as_text(
    hostile: Hostile, guarded: Guarded, collection: str, attribute: str
) -> None:
    page = guarded.page
    written: dict[int, str] = getattr(hostile, attribute)
    base = f"{hostile.live.url}/collections/{collection}"
    guarded.open(f"{base}/items?f=html&limit=100")
    body = _squash(page.locator("body").inner_text())
    for name in written.values():
        assert _squash(name) in body, name
    guarded.check(f"items-{collection}")
    for fid, name in list(written.items())[:4] + [
        (f, n) for f, n in written.items() if n == CORPUS["jinja"]
    ]:
        guarded.open(f"{base}/items/{fid}?f=html")
        assert _squash(page.locator("h1").inner_text()) == _squash(name)
        guarded.check(f"item-{collection}-{fid}")
        guarded.open(f"{base}/items/{fid}/history?f=html")
        assert page.locator("#versions tbody tr").count() >= 2
        guarded.check(f"history-{collection}-{fid}")


def test_jinja_payload_is_not_evaluated(hostile: Hostile, guarded: Guarded) -> None:
    fid = next(f for f, n in hostile.villages.items() if n == CORPUS["jinja"])
    guarded.open(f"{hostile.live.url}/collections/villages/items/{fid}?f=html")
    assert guarded.page.locator("h1").inner_text().startswith("{{7*7}}")
    guarded.check("jinja")


def test_javascript_source_is_text_not_a_link(hostile: Hostile, guarded: Guarded) -> None:
    guarded.open(f"{hostile.live.url}/collections/routes/items/{hostile.stop_route}?f=html&lang=en")
    # Sources are provenance: the page lists them under "Source and accuracy" (issue 12).
    assert JS_URL in guarded.page.locator("#provenance").inner_text()
    guarded.check("javascript-url")


def test_error_page_shows_a_hostile_path_as_text(hostile: Hostile, guarded: Guarded) -> None:
    payload = "<img src=x onerror=__pwn('404')>"
    guarded.open(f"{hostile.live.url}/collections/{payload}/items?f=html")
    assert "404" in guarded.page.locator("h1").inner_text()
    assert "<img" in guarded.page.locator("body").inner_text()
    guarded.check("error-page")


def test_standalone_overview_file_shows_hostile_names_as_text(
    hostile: Hostile, guarded: Guarded, tmp_path: Path
) -> None:
    out = tmp_path / "overview.html"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CRAFTMAP_")}
    env["DATABASE_URL"] = hostile.database_url
    subprocess.run(
        [CRAFTMAP, "map", "overview", "--out", str(out), "--basemap", "none"],
        env=env,
        check=True,
        capture_output=True,
        timeout=300,
    )
    guarded.open(out.as_uri())
    guarded.page.wait_for_selector(".cm-legend")
    tooltips = guarded.page.evaluate(_TOOLTIPS)
    _shown(hostile.zones, tooltips)
    _shown(hostile.routes, tooltips)
    ids = sorted(hostile.villages)
    assert guarded.page.evaluate(_MARKER_TOOLTIPS, ids) == [hostile.villages[i] for i in ids]
    guarded.check("standalone-overview")
