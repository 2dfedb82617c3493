"""Compose craftmap's maps: the overview and one map per tourism route (pure builders)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import folium
import geopandas as gpd
import segno
from branca.element import Element, MacroElement
from folium import plugins
from folium.template import Template
from folium.utilities import JsCode

from geo.io import route_handouts as handouts
from geo.kernel import vocab
from geo.kernel.route_notes import note_text
from geo.kernel.text import DEFAULT_LANG, Lang, Text, number
from geo.query.mapdata import OverviewData
from maps import assets, context, layers, styles
from maps.escape import html_text, script_json, url_text


@dataclass(frozen=True)
class MapSettings:
    """Where a map's links and tiles point, its language and its basemap."""

    api_root: str = ""
    lang: Lang = DEFAULT_LANG
    # An XYZ URL template, or "none" for no basemap (works offline).
    basemap_url: str = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
    basemap_attribution: str = "© OpenStreetMap contributors"


TEXT: dict[str, Text] = {
    "search": Text(
        "Tìm làng, nghề, xã, vùng, tuyến…", "Find a village, craft, commune, zone, route…"
    ),
    "legend": Text("Chú giải", "Legend"),
    "certified": Text("Có chứng chỉ (FSC…)", "Certified (FSC…)"),
    "basemap": Text("Bản đồ nền", "Basemap"),
    "api": Text("API", "API"),
    "page": Text("Trang", "Page"),
    "no_match": Text("Không tìm thấy", "No match"),
    "duration": Text("{hours} giờ {minutes} phút", "{hours} h {minutes} min"),
    "minutes": Text("phút", "min"),
    "length": Text("Chiều dài", "Length"),
    "duration_label": Text("Thời lượng", "Duration"),
    "print": Text("In bản đồ", "Print"),
    "layers": Text("Lớp bản đồ", "Layers"),
    "overview_title": Text(
        "Bản đồ làng nghề Thanh Hóa — craftmap", "Thanh Hóa craft village map — craftmap"
    ),
}


_CSS = """
<link rel="icon" href="data:,">
<style>
.cm-pin{width:26px;height:26px;border-radius:50%;border:2px solid #fff;color:#fff;
  display:flex;align-items:center;justify-content:center;font-size:12px;
  box-shadow:0 1px 4px rgba(0,0,0,.45)}
.cm-pin-wrap{background:none;border:none}
.cm-far .cm-stop-wrap{display:none}
.cm-stop{width:24px;height:24px;border-radius:50%;background:#fff;border:3px solid #d7301f;
  font:bold 12px/18px sans-serif;text-align:center;color:#222}
.cm-card h4{margin:0 0 4px;font-size:15px}.cm-card table{font-size:12px;border-collapse:collapse}
.cm-card th{text-align:left;padding-right:8px;color:#555;font-weight:normal}
.cm-legend{background:rgba(255,255,255,.92);padding:8px 10px;border-radius:6px;
  font:12px sans-serif;max-height:60vh;overflow:auto;box-shadow:0 1px 5px rgba(0,0,0,.3)}
.cm-legend h5{margin:6px 0 3px;font-size:12px}
.cm-legend div{display:flex;align-items:center;gap:6px}
.cm-legend .cm-legend-body{display:block}
.cm-legend.cm-collapsed .cm-legend-body{display:none}
.cm-legend-toggle{font:bold 12px sans-serif;background:none;border:0;padding:4px 0;
  cursor:pointer;color:#222}
.cm-legend-toggle::after{content:" ▾"}.cm-collapsed .cm-legend-toggle::after{content:" ▸"}
/* A clicked shape shows its popup, not the browser's focus box (keyboard focus keeps it). */
.leaflet-container path.leaflet-interactive:focus:not(:focus-visible){outline:none}
/* While a popup is open the name hint would only cover it. */
.cm-popup-open .leaflet-tooltip-pane{display:none}
.cm-swatch{display:inline-block;width:14px;height:14px;border-radius:3px}
.cm-search{background:#fff;padding:4px;border-radius:6px;box-shadow:0 1px 5px rgba(0,0,0,.3)}
.cm-search input{width:210px;padding:4px;font-size:13px}
.cm-search ul{list-style:none;margin:2px 0 0;padding:0;max-height:220px;overflow:auto;
  font:13px sans-serif}
.cm-search li{padding:3px 4px;cursor:pointer}.cm-search li:hover{background:#eef}
</style>
"""


# Phones and short landscape screens, where the legend and layer list start folded.
SMALL_SCREEN = "(max-width: 600px), (max-height: 500px)"


class Legend(MacroElement):
    """A legend control: one block per theme, drawn from the themes themselves.

    With a ``title`` the legend folds behind a button named so, folded from the start on
    small screens (``SMALL_SCREEN``), where it would cover most of the map.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function() {
          var legend = L.control({position: 'bottomright'});
          legend.onAdd = function() {
            var div = L.DomUtil.create('div', 'cm-legend');
            {% if this.title_json %}
            var button = L.DomUtil.create('button', 'cm-legend-toggle', div);
            button.type = 'button';
            button.textContent = {{ this.title_json }};
            var body = L.DomUtil.create('div', 'cm-legend-body', div);
            body.innerHTML = {{ this.html_json }};
            function show(open) {
              div.classList.toggle('cm-collapsed', !open);
              button.setAttribute('aria-expanded', open ? 'true' : 'false');
            }
            show(!window.matchMedia({{ this.small_json }}).matches);
            L.DomEvent.on(button, 'click', function() {
              show(div.classList.contains('cm-collapsed'));
            });
            L.DomEvent.disableClickPropagation(div);
            {% else %}
            div.innerHTML = {{ this.html_json }};
            {% endif %}
            L.DomEvent.disableScrollPropagation(div);
            return div;
          };
          legend.addTo({{ this._parent.get_name() }});
        })();
        {% endmacro %}
        """
    )

    def __init__(self, html: str, *, title: str | None = None) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self._name = "Legend"
        self.html_json = script_json(html)
        self.title_json = script_json(title) if title else ""
        self.small_json = script_json(SMALL_SCREEN)


class _SmallScreenLayers(folium.LayerControl):
    """The layer list: open on desktops, folded into its button on small screens.

    The button is named in the page's language (Leaflet names it "Layers").
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }}_layers = {
            base_layers: {
              {%- for key, val in this.base_layers.items() %}
              {{ key|tojson }}: {{ val }},
              {%- endfor %}
            },
            overlays: {
              {%- for key, val in this.overlays.items() %}
              {{ key|tojson }}: {{ val }},
              {%- endfor %}
            },
        };
        let {{ this.get_name() }} = L.control.layers(
            {{ this.get_name() }}_layers.base_layers,
            {{ this.get_name() }}_layers.overlays,
            {{ this.options|tojavascript }}
        ).addTo({{ this._parent.get_name() }});
        {{ this.get_name() }}._layersLink.title = {{ this.button_json }};
        {{ this.get_name() }}._layersLink.setAttribute('aria-label', {{ this.button_json }});
        {% endmacro %}
        """
    )

    def __init__(self, lang: str) -> None:
        super().__init__()
        self.button_json = script_json(TEXT["layers"](lang))
        # Decided in the browser: the option is written out as script, not as a value.
        self.options["collapsed"] = JsCode(  # type: ignore[assignment]  # folium renders JsCode
            f"window.matchMedia({script_json(SMALL_SCREEN)}).matches"
        )


class _PopupHidesTooltips(MacroElement):
    """Marks the map ``cm-popup-open`` while a popup is open; the CSS then hides tooltips."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function(map) {
          var box = map.getContainer();
          map.on('popupopen', function() { box.classList.add('cm-popup-open'); });
          map.on('popupclose', function() { box.classList.remove('cm-popup-open'); });
        })({{ this._parent.get_name() }});
        {% endmacro %}
        """
    )

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self._name = "PopupHidesTooltips"


SEARCH_TEXT: dict[str, Text] = {
    "village": Text("Làng nghề", "Craft villages"),
    "zone": Text("Vùng nguyên liệu", "Raw-material zones"),
    "route": Text("Tuyến du lịch", "Tourism routes"),
    "searching": Text("Đang tìm…", "Searching…"),
    "unavailable": Text("Không tìm được vùng (lỗi máy chủ)", "Zone search failed (server error)"),
}

# Zones come back from the server's search in pages of this many.
ZONE_SEARCH_LIMIT = 8


def _terms(row: Any, columns: tuple[str, ...]) -> list[str]:
    # Every other name a village is known by, split into single terms, without repeats.
    terms: list[str] = []
    for column in columns:
        value = row.get(column)
        if not isinstance(value, str):
            continue
        for term in value.replace(";", ",").split(","):
            term = term.strip()
            if term and term not in terms:
                terms.append(term)
    return terms


def _village_terms(row: Any) -> list[str]:
    """The commune (or ""), the code, then every other term; the commune is the list's note."""
    first = [_text(row.get("commune_name")), _text(row.get("code"))]
    others = _terms(row, ("alt_names", "crafts", "hamlets", "legacy_commune", "legacy_district"))
    return first + [term for term in others if term not in first]


def _text(value: Any) -> str:
    # Missing values come out of pandas as None or NaN.
    return value if isinstance(value, str) else ""


def _extent(geometry: Any) -> list[float]:
    """[south, west, north, east, lat, lon] of a line or polygon; the point lies on it."""
    minx, miny, maxx, maxy = geometry.bounds
    on = (
        geometry.interpolate(0.5, normalized=True)
        if geometry.geom_type in {"LineString", "MultiLineString"}
        else geometry.representative_point()
    )
    return [round(v, 6) for v in (miny, minx, maxy, maxx, on.y, on.x)]


def search_index(data: OverviewData, settings: MapSettings) -> dict[str, Any]:
    """What the search box looks through, from the overview's own frames.

    Villages and routes are in the page anyway, so their index is too (villages with their
    other names, crafts, hamlets, communes and legacy units). Zones are indexed only when
    embedded: above the embed limit (a national register has ~200 000) the box asks the
    Features API instead, a CQL2 ``LIKE`` with ``ACCENTI``/``CASEI`` and a small ``limit``,
    so the page stays the same size however many zones there are.
    """

    def shapes(frame: gpd.GeoDataFrame | None) -> list[list[Any]]:
        if frame is None:
            return []
        return [
            [int(row["id"]), _text(row.get("code")), str(row["name"]), *_extent(row.geometry)]
            for row in layers.records(frame)
            if row.geometry is not None and not row.geometry.is_empty
        ]

    villages = [
        [
            int(row["id"]),
            round(row.geometry.y, 6),
            round(row.geometry.x, 6),
            str(row["name"]),
            _village_terms(row),
        ]
        for row in layers.records(data.villages)
        if row.geometry is not None and not row.geometry.is_empty
    ]
    zones_url = None
    if data.zones is None:
        zones_url = f"{settings.api_root}/collections/material-zones/items"
    return {
        "villages": villages,
        "zones": shapes(data.zones),
        "routes": shapes(data.routes),
        "zones_url": zones_url,
        "item_root": f"{settings.api_root}/collections",
        "limit": ZONE_SEARCH_LIMIT,
    }


class VillageSearch(layers.VerbatimRender):
    """One search box for villages, zones and routes that ignores diacritics.

    "ke che" finds Trà Đông by its other name Kẻ Chè, "banh" the villages whose craft is a
    cake, a commune or a legacy district its villages. Both sides are folded (NFD, marks
    removed, đ→d, lower case). Results are grouped by kind; arrows and Enter pick, Escape
    closes, and a pick flies to the feature, opens its card and closes the list. Every
    text reaches the page through ``textContent``: names are anyone's text.
    """

    _template = Template(
        """
        {% macro header(this, kwargs) %}
        <style>
        .leaflet-control.cm-search{background:#fff;padding:4px;border-radius:6px;
          box-shadow:0 1px 5px rgba(0,0,0,.3);font:13px sans-serif}
        .leaflet-control.cm-search input{width:min(300px,calc(100vw - 80px));padding:5px;
          font-size:14px;box-sizing:border-box}
        /* An open list lies above the other corners' controls (layers, legend). */
        .leaflet-top.leaflet-left:has(.cm-search li){z-index:1001}
        .leaflet-control.cm-search ul{list-style:none;margin:2px 0 0;padding:0;
          max-height:min(440px,calc(100vh - 120px));overflow:auto;
          width:min(300px,calc(100vw - 80px))}
        .leaflet-control.cm-search ul:empty{display:none}
        .leaflet-control.cm-search li{padding:4px 6px;cursor:pointer;line-height:1.25}
        .leaflet-control.cm-search li.cm-group{cursor:default;padding:6px 6px 2px;
          font-size:11px;font-weight:bold;text-transform:uppercase;color:#555;
          border-top:1px solid #ddd}
        .leaflet-control.cm-search li.cm-group:first-child{border-top:none}
        .leaflet-control.cm-search li.cm-none{cursor:default;color:#777;font-style:italic}
        .leaflet-control.cm-search li[role=option]:hover,
        .leaflet-control.cm-search li.cm-active{background:#e3ecfa}
        .leaflet-control.cm-search .cm-note{display:block;font-size:11px;color:#666}
        </style>
        {% endmacro %}
        {% macro script(this, kwargs) %}
        (function() {
          var map = {{ this._parent.get_name() }};
          var text = {{ this.text_json }}, index = {{ this.index_json }};
          function fold(s) {
            return String(s).normalize('NFD').replace(/[\\u0300-\\u036f]/g, '')
              .replace(/đ/g, 'd').replace(/Đ/g, 'D').toLowerCase()
              .replace(/[^\\p{L}\\p{N}]+/gu, ' ').trim();
          }
          function entry(kind, id, name, terms, note, extra) {
            var e = {kind: kind, id: id, name: name, terms: terms, note: note,
                     key: fold(name), keys: terms.map(fold)};
            for (var k in extra) e[k] = extra[k];
            return e;
          }
          function shape(kind) {
            return function(r) {
              return entry(kind, r[0], r[2], [r[1]], r[1],
                {bounds: [[r[3], r[4]], [r[5], r[6]]], lat: r[7], lon: r[8]});
            };
          }
          var local = {
            village: index.villages.map(function(r) {
              return entry('village', r[0], r[3], r[4], r[4][0] || null,
                {lat: r[1], lon: r[2]});
            }),
            zone: index.zones.map(shape('zone')),
            route: index.routes.map(shape('route'))
          };
          var kinds = ['village', 'zone', 'route'];
          // Best first: the name starts with the query, contains it, another name or
          // craft or commune contains it, or one of them has words starting with each
          // word of the query ("lang ha" finds "Làng nghề Hà Đông"). Words in different
          // fields do not count: "ke che" must not find kẹo and chè of one village.
          function starts(field, words) {
            var padded = ' ' + field;
            return words.every(function(w) { return padded.indexOf(' ' + w) >= 0; });
          }
          function rank(e, q, words) {
            if (e.key.indexOf(q) === 0) return [0, null];
            if (e.key.indexOf(q) > 0) return [1, null];
            for (var i = 0; i < e.keys.length; i++) {
              if (e.keys[i].indexOf(q) >= 0) return [2, e.terms[i]];
            }
            if (starts(e.key, words)) return [3, null];
            for (var j = 0; j < e.keys.length; j++) {
              if (starts(e.keys[j], words)) return [4, e.terms[j]];
            }
            return null;
          }
          function find(kind, q) {
            var words = q.split(' '), found = [];
            local[kind].forEach(function(e) {
              var r = rank(e, q, words);
              if (r) found.push({e: e, rank: r[0], hint: r[1]});
            });
            found.sort(function(a, b) {
              return a.rank - b.rank || a.e.name.localeCompare(b.e.name, 'vi');
            });
            return found.slice(0, 20);
          }
          var control = L.control({position: 'topleft'});
          var input, list, results = {}, active = -1, timer = null, pending = null;
          control.onAdd = function() {
            var div = L.DomUtil.create('div', 'cm-search');
            input = document.createElement('input'); input.type = 'search';
            input.placeholder = text.placeholder;
            input.setAttribute('aria-label', text.placeholder);
            input.setAttribute('role', 'combobox');
            input.setAttribute('aria-autocomplete', 'list');
            input.setAttribute('aria-expanded', 'false');
            input.setAttribute('aria-controls', 'cm-search-list');
            list = document.createElement('ul'); list.id = 'cm-search-list';
            list.setAttribute('role', 'listbox');
            div.appendChild(input); div.appendChild(list);
            L.DomEvent.disableClickPropagation(div);
            L.DomEvent.disableScrollPropagation(div);
            input.addEventListener('input', search);
            input.addEventListener('keydown', keys);
            return div;
          };
          function search() {
            var q = fold(input.value);
            results = {};
            clearTimeout(timer);
            if (pending) { pending.abort(); pending = null; }
            if (!q) { close(); return; }
            results.village = find('village', q);
            results.route = find('route', q);
            if (index.zones_url) {
              results.zone = 'searching';
              timer = setTimeout(function() { remote(q, input.value); }, 250);
            } else {
              results.zone = find('zone', q);
            }
            draw();
          }
          // Zones above the embed limit: the server searches them (names and codes), with
          // the text as typed (codes keep their dashes), minus LIKE's wildcards.
          function remote(q, typed) {
            var words = typed.replace(/[%_\\\\]/g, ' ').replace(/\\s+/g, ' ').trim();
            var like = "'%" + words.replace(/'/g, "''") + "%'";
            var filter = 'ACCENTI(CASEI(name)) LIKE ACCENTI(CASEI(' + like + '))'
              + ' OR CASEI(code) LIKE CASEI(' + like + ')';
            var url = index.zones_url + '?limit=' + index.limit + '&filter-lang=cql2-text'
              + '&filter=' + encodeURIComponent(filter);
            var controller = new AbortController();
            pending = controller;
            fetch(url, {headers: {Accept: 'application/geo+json'},
                        signal: controller.signal})
              .then(function(r) { if (!r.ok) throw new Error(r.status); return r.json(); })
              .then(function(body) {
                if (fold(input.value) !== q) return;
                results.zone = body.features.map(function(f) {
                  var b = L.geoJSON(f).getBounds(), c = b.getCenter();
                  var e = entry('zone', f.id, String(f.properties.name),
                    [String(f.properties.code)], String(f.properties.code),
                    {bounds: [[b.getSouth(), b.getWest()], [b.getNorth(), b.getEast()]],
                     lat: c.lat, lon: c.lng, remote: true});
                  return {e: e, rank: 0, hint: null};
                });
                draw();
              })
              .catch(function(err) {
                if (err.name === 'AbortError') return;
                results.zone = 'unavailable'; draw();
              })
              .finally(function() { if (pending === controller) pending = null; });
          }
          function options() { return list.querySelectorAll('li[role=option]'); }
          function note(li, t) {
            var span = document.createElement('span');
            span.className = 'cm-note'; span.textContent = t; li.appendChild(span);
          }
          function draw() {
            list.textContent = ''; active = -1;
            var count = 0;
            kinds.forEach(function(kind) {
              var found = results[kind];
              if (!found || !found.length) return;
              var head = document.createElement('li');
              head.className = 'cm-group'; head.setAttribute('role', 'presentation');
              head.textContent = text[kind];
              list.appendChild(head);
              if (typeof found === 'string') {
                var wait = document.createElement('li');
                wait.className = 'cm-none'; wait.textContent = text[found];
                list.appendChild(wait);
                count += 1;
                return;
              }
              found.forEach(function(f) {
                var li = document.createElement('li');
                li.setAttribute('role', 'option'); li.dataset.kind = kind;
                li.id = 'cm-opt-' + kind + '-' + f.e.id;
                li.appendChild(document.createTextNode(f.e.name));
                var extra = f.hint || f.e.note;
                if (extra && extra !== f.e.name) note(li, extra);
                // Leaflet 1.9 lets clicks through controls and checks the target's
                // ancestors, which a picked (removed) item no longer has: the map would
                // take the click as one on itself and close the card just opened.
                li.addEventListener('click', function(ev) { ev.stopPropagation(); go(f.e); });
                list.appendChild(li);
                count += 1;
              });
            });
            if (!count) {
              var none = document.createElement('li');
              none.className = 'cm-none'; none.textContent = text.no_match;
              list.appendChild(none);
            }
            input.setAttribute('aria-expanded', 'true');
          }
          function close() {
            clearTimeout(timer);
            if (pending) { pending.abort(); pending = null; }
            list.textContent = ''; active = -1;
            input.setAttribute('aria-expanded', 'false');
            input.removeAttribute('aria-activedescendant');
          }
          function highlight(i) {
            var all = options();
            if (!all.length) return;
            active = (i + all.length) % all.length;
            all.forEach(function(li, j) {
              li.classList.toggle('cm-active', j === active);
              li.setAttribute('aria-selected', j === active ? 'true' : 'false');
            });
            all[active].scrollIntoView({block: 'nearest'});
            input.setAttribute('aria-activedescendant', all[active].id);
          }
          function keys(ev) {
            // The map must not pan or zoom while the keys are the search box's.
            ev.stopPropagation();
            if (ev.key === 'ArrowDown') { ev.preventDefault(); highlight(active + 1); }
            else if (ev.key === 'ArrowUp') { ev.preventDefault(); highlight(active - 1); }
            else if (ev.key === 'Enter') {
              ev.preventDefault();
              var all = options(), li = all[active >= 0 ? active : 0];
              if (li) li.click();
            } else if (ev.key === 'Escape') { ev.preventDefault(); close(); }
          }
          function near(a, b) {
            return Math.abs(a.getSouth() - b.getSouth()) < 1e-5
              && Math.abs(a.getWest() - b.getWest()) < 1e-5
              && Math.abs(a.getNorth() - b.getNorth()) < 1e-5
              && Math.abs(a.getEast() - b.getEast()) < 1e-5;
          }
          // The layer drawn for a zone or route: the one with a card and the same extent.
          function drawn(bounds) {
            var found = null;
            map.eachLayer(function(layer) {
              if (!found && layer.getPopup && layer.getPopup() && layer.getBounds
                  && near(layer.getBounds(), bounds)) found = layer;
            });
            return found;
          }
          function card(e) {
            var div = document.createElement('div'); div.className = 'cm-card';
            var h = document.createElement('h4'); h.textContent = e.name; div.appendChild(h);
            var p = document.createElement('p'); p.textContent = e.note; div.appendChild(p);
            var links = document.createElement('p'); links.className = 'cm-links';
            var item = index.item_root + '/material-zones/items/'
              + encodeURIComponent(e.id);
            [[text.page, item + '?f=html'], [text.api, item + '?f=json']].forEach(
              function(l, i) {
                if (i) links.appendChild(document.createTextNode(' · '));
                var a = document.createElement('a');
                a.href = l[1]; a.target = '_blank'; a.rel = 'noopener';
                a.textContent = l[0]; links.appendChild(a);
              });
            div.appendChild(links);
            return div;
          }
          function go(e) {
            close();
            input.value = e.name;
            if (e.kind === 'village') {
              var marker = window.cmMarkers && window.cmMarkers[e.id];
              var cluster = window.cmCluster;
              if (marker && cluster && cluster.hasLayer(marker)) {
                // A village asked for shows the villages, even where their layer was off.
                if (!map.hasLayer(cluster)) { map.addLayer(cluster); }
                window.cmShowMarker(marker);
              } else { map.setView([e.lat, e.lon], 15); }
              return;
            }
            var bounds = L.latLngBounds(e.bounds);
            map.fitBounds(bounds, {maxZoom: 15, padding: [20, 20]});
            var layer = !e.remote && drawn(bounds);
            if (layer) { layer.openPopup([e.lat, e.lon]); }
            else if (e.kind === 'zone') {
              L.popup({maxWidth: 360}).setLatLng([e.lat, e.lon]).setContent(card(e))
                .openOn(map);
            }
          }
          map.on('click', function() { if (list) close(); });
          control.addTo(map);
        })();
        {% endmacro %}
        """
    )

    def __init__(self, lang: str, index: dict[str, Any]) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self._name = "VillageSearch"
        texts = {
            "placeholder": TEXT["search"](lang),
            "no_match": TEXT["no_match"](lang),
            "page": TEXT["page"](lang),
            "api": TEXT["api"](lang),
            **{key: value(lang) for key, value in SEARCH_TEXT.items()},
        }
        self.text_json = script_json(texts)
        self.index_json = script_json(index)


def _legend_html(
    themes: list[styles.Theme], lang: str, certified: bool, *, heading: bool = True
) -> str:
    # heading=False: a titled Legend shows the heading on its folding button instead.
    parts = [f"<strong>{TEXT['legend'](lang)}</strong>"] if heading else []
    for theme in themes:
        parts.append(f"<h5>{html_text(theme.name(lang))}</h5>")
        for colour, icon, label in theme.legend(lang):
            swatch = (
                f'<span class="cm-swatch" style="background:{colour}">'
                + (
                    f'<i class="fa-solid fa-{icon}" style="color:#fff;font-size:9px"></i>'
                    if theme.icons
                    else ""
                )
                + "</span>"
            )
            parts.append(f"<div>{swatch}{html_text(label)}</div>")
        if theme is styles.MATERIALS and certified:
            parts.append(
                f'<div><span class="cm-swatch" style="border:3px solid {styles.CERTIFIED_OUTLINE}">'
                f"</span>{TEXT['certified'](lang)}</div>"
            )
    return "".join(parts)


def _root(m: folium.Map) -> Any:
    # The Figure, typed loosely by folium.
    return m.get_root()


def _elements(root: Any) -> Iterator[Any]:
    yield root
    for child in getattr(root, "_children", {}).values():
        yield from _elements(child)


def serve_assets_locally(m: folium.Map) -> None:
    """Point every script and stylesheet at craftmap's own copies (see ``maps.assets``).

    Raises
    ------
    RuntimeError
        When an element needs a file craftmap does not serve: better than a page that
        quietly reaches out to a CDN.
    """
    for element in _elements(m):
        for attribute, local in (
            ("default_js", assets.SCRIPTS),
            ("default_css", assets.STYLESHEETS),
        ):
            wanted = getattr(element, attribute, None)
            if not wanted:
                continue
            kept = []
            for name, _url in wanted:
                if name in local:
                    kept.append((name, local[name]))
                elif name not in _UNUSED:
                    raise RuntimeError(f"map asset {name!r} is not served by craftmap")
            setattr(element, attribute, kept)
    _root(m).header.add_child(
        Element(f'<link rel="stylesheet" href="{assets.STYLESHEETS["fontawesome_css"]}"/>'),
        name="fontawesome_css",
    )


# Assets folium's Map always lists that craftmap's pages never use.
_UNUSED = {
    "bootstrap",
    "bootstrap_css",
    "glyphicons_css",
    "awesome_markers",
    "awesome_markers_css",
    "awesome_markers_font_css",
    "awesome_rotate_css",
}


def _base_map(settings: MapSettings, bounds: list[list[float]] | None) -> folium.Map:
    # max_zoom: marker clusters need one even when there is no basemap to give it.
    m = folium.Map(tiles=None, control_scale=True, zoom_start=8, location=[19.9, 105.5])
    m.options["maxZoom"] = 19
    if settings.basemap_url != "none":
        folium.TileLayer(
            settings.basemap_url,
            attr=settings.basemap_attribution,
            name=TEXT["basemap"](settings.lang),
            max_zoom=19,
        ).add_to(m)
    if bounds:
        m.fit_bounds(bounds)
    _root(m).header.add_child(Element(_CSS), name="craftmap_css")
    # Land, coast and borders under the tiles: what shows offline or with no basemap.
    _root(m).header.add_child(Element(context.CSS), name="craftmap_context_css")
    context.ContextLayer(settings.lang).add_to(m)
    return m


class _ZoomClass(MacroElement):
    """Marks the map ``cm-far`` below zoom 10, where numbered stops would only clutter it."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function(map) {
          function mark() {
            map.getContainer().classList.toggle('cm-far', map.getZoom() < 10);
          }
          map.on('zoomend', mark); map.whenReady(mark);
        })({{ this._parent.get_name() }});
        {% endmacro %}
        """
    )

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self._name = "ZoomClass"


def _bounds(frames: list[gpd.GeoDataFrame | None]) -> list[list[float]] | None:
    boxes = [f.total_bounds for f in frames if f is not None and len(f)]
    if not boxes:
        return None
    minx = min(b[0] for b in boxes)
    miny = min(b[1] for b in boxes)
    maxx = max(b[2] for b in boxes)
    maxy = max(b[3] for b in boxes)
    return [[float(miny), float(minx)], [float(maxy), float(maxx)]]


def _links(settings: MapSettings, collection: str, feature_id: Any) -> list[tuple[str, str]]:
    item = f"{settings.api_root}/collections/{collection}/items/{int(feature_id)}"
    return [
        (TEXT["page"](settings.lang), f"{item}?f=html"),
        (TEXT["api"](settings.lang), f"{item}?f=json"),
    ]


VILLAGE_FIELDS = (
    ("kind_label", Text("Loại", "Kind")),
    ("crafts", Text("Nghề", "Crafts")),
    ("group_label", Text("Nhóm ngành", "Craft group")),
    ("commune_name", Text("Xã", "Commune")),
    ("workers", Text("Lao động", "Workers")),
    ("ocop_stars", Text("OCOP (sao)", "OCOP stars")),
)
ZONE_FIELDS = (
    ("material_label", Text("Nguyên liệu", "Material")),
    ("species", Text("Loài", "Species")),
    ("status_label", Text("Trạng thái", "Status")),
    ("area_ha", Text("Diện tích (ha)", "Area (ha)")),
    ("annual_capacity_t", Text("Sản lượng/năm (t)", "Yearly output (t)")),
    ("certification_label", Text("Chứng chỉ", "Certificate")),
)
ROUTE_FIELDS = (
    ("theme_label", Text("Chủ đề", "Theme")),
    ("mode_label", Text("Phương tiện", "Travel mode")),
    ("stops", Text("Số điểm dừng", "Stops")),
    ("length_km", Text("Chiều dài (km)", "Length (km)")),
    ("duration", Text("Thời lượng", "Duration")),
)

STOP_FIELDS = (
    ("crafts", Text("Nghề", "Crafts")),
    ("commune_name", Text("Xã", "Commune")),
    ("dwell_min", Text("Dừng (phút)", "Stop (min)")),
)


def _labelled(
    frame: gpd.GeoDataFrame, lang: str, columns: dict[str, tuple[str, str]]
) -> gpd.GeoDataFrame:
    frame = frame.copy()
    for target, (source, vocabulary) in columns.items():
        frame[target] = [
            vocab.label(vocabulary, str(v), lang) if layers.given(v) else None
            for v in frame[source]
        ]
    return frame


def _duration(minutes: float, length_km: float | None, lang: str, speed_kmh: float = 40) -> str:
    # Stops' dwell time plus driving at 40 km/h on provincial roads (no road routing yet).
    total = int(minutes + (length_km or 0) / speed_kmh * 60)
    hours, rest = divmod(total, 60)
    return TEXT["duration"].format(hours=hours, minutes=rest)(lang)


def _hours(minutes: float, lang: str) -> str:
    hours, rest = divmod(int(round(minutes)), 60)
    return TEXT["duration"].format(hours=hours, minutes=rest)(lang)


def _village_layer(villages: gpd.GeoDataFrame, settings: MapSettings) -> layers.PointCluster:
    lang = settings.lang
    frame = _labelled(
        villages,
        lang,
        {"kind_label": ("kind", "village_kind"), "group_label": ("craft_group", "craft_group")},
    )
    item = f"{settings.api_root}/collections/villages/items/{{id}}"
    return layers.PointCluster(
        frame,
        styles.CRAFT_GROUPS,
        lang=lang,
        fields=VILLAGE_FIELDS,
        links=[(TEXT["page"](lang), f"{item}?f=html"), (TEXT["api"](lang), f"{item}?f=json")],
    )


def zone_tiles_url(settings: MapSettings) -> str:
    """The material zones' vector tiles; folium writes the URL unescaped into a script."""
    root = url_text(settings.api_root)
    return f"{root}/collections/material-zones/tiles/WebMercatorQuad/{{z}}/{{y}}/{{x}}"


def build_overview(data: OverviewData, settings: MapSettings) -> folium.Map:
    """The overview: villages, material zones, routes with numbered stops, admin units.

    Zones are embedded as GeoJSON when few, and drawn from the vector tiles otherwise.
    """
    lang = settings.lang
    m = _base_map(settings, _bounds([data.villages, data.zones, data.routes]))
    # Drawn bottom-up: boundaries, zones, routes, then villages on top.
    _admin_layer(data.admin, lang).add_to(m)
    certified = False
    if data.zones is not None:
        zones = _labelled(
            data.zones,
            lang,
            {
                "material_label": ("material", "material"),
                "status_label": ("status", "zone_status"),
                "certification_label": ("certification_scheme", "certification_scheme"),
            },
        )
        certified = any(layers.given(v) for v in zones["certification_scheme"])
        layers.thematic_layer(
            zones,
            styles.MATERIALS,
            lang=lang,
            # given(): a NULL scheme reads as NaN, which is truthy.
            outline=lambda row: (
                styles.CERTIFIED_OUTLINE if layers.given(row.get("certification_scheme")) else None
            ),
            popup=lambda row: layers.popup_html(
                row, row["name"], ZONE_FIELDS, lang, _links(settings, "material-zones", row["id"])
            ),
        ).add_to(m)
    else:
        layers.tile_layer(
            zone_tiles_url(settings),
            styles.MATERIALS,
            lang=lang,
            layer="material-zones",
            outline=("certification_scheme", styles.CERTIFIED_OUTLINE),
        ).add_to(m)
        # The tiles do not say whether any zone is certified: the legend explains the outline.
        certified = True
    _route_layer(data.routes, data.stops, settings).add_to(m)
    _ZoomClass().add_to(m)
    _village_layer(data.villages, settings).add_to(m)
    plugins.Fullscreen(position="topright").add_to(m)  # type: ignore[no-untyped-call]
    plugins.MeasureControl(  # type: ignore[no-untyped-call]
        position="topright", primary_length_unit="kilometers", primary_area_unit="hectares"
    ).add_to(m)
    VillageSearch(lang, search_index(data, settings)).add_to(m)
    Legend(
        _legend_html(
            [styles.CRAFT_GROUPS, styles.MATERIALS, styles.ROUTES], lang, certified, heading=False
        ),
        title=TEXT["legend"](lang),
    ).add_to(m)
    _PopupHidesTooltips().add_to(m)
    _SmallScreenLayers(lang).add_to(m)
    _root(m).title = html_text(TEXT["overview_title"](lang))
    serve_assets_locally(m)
    return m


def _admin_layer(admin: gpd.GeoDataFrame, lang: str) -> context.AdminUnits:
    # Boundaries where loaded, labelled places where only a centre is (maps/context.py).
    return context.AdminUnits(admin, lang)


def _route_layer(
    routes: gpd.GeoDataFrame, stops: gpd.GeoDataFrame, settings: MapSettings
) -> folium.FeatureGroup:
    lang = settings.lang
    frame = _labelled(
        routes,
        lang,
        {"theme_label": ("theme", "route_theme"), "mode_label": ("mode", "travel_mode")},
    )
    # A designed route's duration is the designer's (driving, waits, stops); others guess.
    stored = frame["duration_min"] if "duration_min" in frame else [None] * len(frame)
    frame["duration"] = [
        _hours(total, lang) if layers.given(total) else _duration(minutes, length, lang)
        for minutes, length, total in zip(
            frame["dwell_min"], frame["length_km"], stored, strict=True
        )
    ]
    group = layers.thematic_layer(
        frame,
        styles.ROUTES,
        lang=lang,
        popup=lambda row: layers.popup_html(
            row,
            row["name"],
            ROUTE_FIELDS,
            lang,
            [
                *_links(settings, "routes", row["id"]),
                (
                    ROUTE_TEXT["route_map"](lang),
                    f"{settings.api_root}/maps/routes/{int(row['id'])}?lang={lang}",
                ),
            ],
        ),
    )
    layers.NumberedStops(stops, name=styles.ROUTES.name(lang)).add_to(group)
    return group


ROUTE_TEXT: dict[str, Text] = {
    "overview": Text("← Bản đồ tổng quan", "← Overview map"),
    "route_page": Text("Thông tin tuyến", "Route details"),
    "route_map": Text("Bản đồ tuyến", "Route map"),
    "title": Text("Bản đồ tuyến du lịch", "Tourism route map"),
    "theme": Text("Chủ đề", "Theme"),
    "mode": Text("Phương tiện", "Travel by"),
    "stops": Text("Các điểm dừng", "Stops"),
    "stop_for": Text("dừng {minutes} phút", "{minutes} min stop"),
    "timetable": Text("Lịch trình", "Timetable"),
    "col_no": Text("Số", "No."),
    "col_stop": Text("Điểm dừng", "Stop"),
    "col_day": Text("Ngày", "Day"),
    "col_arrive": Text("Đến", "Arrive"),
    "col_leave": Text("Đi", "Leave"),
    "col_drive": Text("Lái xe (phút)", "Drive (min)"),
    "col_wait": Text("Chờ (phút)", "Wait (min)"),
    "designed": Text("{duration}, trong đó lái xe {drive}", "{duration}, of which {drive} driving"),
    "days": Text("{days} ngày", "{days} days"),
    "estimate": Text(
        "ước tính với {speed} km/giờ, chưa thiết kế theo đường bộ",
        "an estimate at {speed} km/h, not designed along the roads",
    ),
    "downloads": Text("Tải về cho hướng dẫn viên", "Downloads for the guide"),
    "qr": Text("Quét để mở bản đồ tuyến", "Scan to open the route map"),
    "legs_straight": Text("Chặng đường thẳng", "Straight legs"),
}


# An undesigned route is estimated at the designer's straight-line speeds (geo.kernel.vocab).
SPEED_KMH = vocab.STRAIGHT_LINE_KMH


def build_route_map(
    route: Any,
    stops: gpd.GeoDataFrame,
    settings: MapSettings,
    plan: handouts.RoutePlan | None = None,
) -> folium.Map:
    """One route: its line, numbered stops with their village cards, length and duration.

    The panel beside the map names the route, its facts, description and stops (each
    village linked to its page); the route is fitted to the part of the map the panel
    leaves free, and to the map's printed size when the page is printed. With the
    designer's ``plan`` the panel shows the timetable and the straight legs are drawn
    dashed; the printed page carries a QR code of the page's address.
    """
    lang = settings.lang
    routes = gpd.GeoDataFrame([route], geometry="geometry", crs=4326)
    bounds = _bounds([routes, stops])
    # _RouteFit fits the route, without animation: an animated first fit would end after
    # it and undo it.
    m = _base_map(settings, None)
    # Quarter zoom steps: the fit fills the free part of the map (the page, on paper).
    m.options["zoomSnap"] = 0.25
    _root(m).title = html_text(f"{route.get('name')} — {ROUTE_TEXT['title'](lang)} — craftmap")
    _route_layer(routes, stops, settings).add_to(m)
    if plan is not None:
        _straight_legs(plan, lang).add_to(m)
    for row in stops.itertuples():
        card = layers.popup_html(
            row._asdict(),
            f"{int(row.seq)}. {row.name}",
            STOP_FIELDS,
            lang,
            _links(settings, "villages", row.village_id) if _has_village(row) else [],
        )
        folium.Marker(
            [row.geometry.y, row.geometry.x],
            icon=folium.DivIcon(
                html=f'<div class="cm-stop">{int(row.seq)}</div>',
                icon_size=(24, 24),
                icon_anchor=(12, 12),
                class_name="cm-pin-wrap",
            ),
            popup=folium.Popup(card, max_width=320),
        ).add_to(m)
    plugins.Fullscreen(position="topright").add_to(m)  # type: ignore[no-untyped-call]
    folium.LayerControl(collapsed=True).add_to(m)
    _root(m).html.add_child(Element(_route_panel(route, stops, settings, plan)))
    if bounds:
        _RouteFit(bounds).add_to(m)
    _PrintButton().add_to(m)
    serve_assets_locally(m)
    return m


def _straight_legs(plan: handouts.RoutePlan, lang: str) -> folium.FeatureGroup:
    # Drawn over the route line: legs with no road (or by boat) dashed, with their words.
    group = folium.FeatureGroup(name=ROUTE_TEXT["legs_straight"](lang))
    for stop in plan.stops:
        words = handouts.leg_words(stop, lang)
        if words and len(stop.leg_line) >= 2:
            folium.PolyLine(  # type: ignore[no-untyped-call]
                [(lat, lon) for lon, lat in stop.leg_line],
                color="#ff8800",
                weight=5,
                dash_array="8 8",
                tooltip=html_text(words),
                class_name="cm-straight-leg",
            ).add_to(group)
    return group


def _has_village(stop: Any) -> bool:
    # NaN (a free stop in a frame with villages) is not equal to itself.
    return bool(stop.village_id == stop.village_id and stop.village_id)


class _RouteFit(MacroElement):
    """Fits the route into the part of the map that the panel and the controls leave free.

    On screen the panel covers one side of the map (the left on a desktop, the bottom on a
    phone): the route goes into the largest free part. For print the map takes its paper
    size (``cm-print``) before Leaflet measures it, so the printed page shows every stop.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function(map) {
          var bounds = L.latLngBounds({{ this.bounds_json }});
          var html = document.documentElement;
          var printing = window.matchMedia('print');
          // A stop marker's radius and shadow, plus some air.
          var MARGIN = 24;
          function box(el) { return el ? el.getBoundingClientRect() : null; }
          function screenPadding() {
            var container = map.getContainer(), m = box(container);
            var tl = [MARGIN, MARGIN], br = [MARGIN, MARGIN];
            var right = box(container.querySelector('.leaflet-top.leaflet-right'));
            if (right && right.width) br[0] = Math.max(br[0], right.width + 8);
            container.querySelectorAll('.leaflet-bottom').forEach(function(c) {
              var r = box(c); if (r.height) br[1] = Math.max(br[1], r.height + 8);
            });
            var panel = document.getElementById('cm-route-panel'), p = box(panel);
            if (p && p.width && p.right > m.left && p.left < m.right) {
              var cover = {left: p.right - m.left, top: p.bottom - m.top,
                           bottom: m.bottom - p.top, right: m.right - p.left};
              var free = [
                ['left', (m.width - cover.left) * m.height],
                ['top', m.width * (m.height - cover.top)],
                ['bottom', m.width * (m.height - cover.bottom)],
                ['right', (m.width - cover.right) * m.height]
              ].sort(function(a, b) { return b[1] - a[1]; })[0][0];
              var room = cover[free] + MARGIN;
              if (free === 'left') tl[0] = Math.max(tl[0], room);
              if (free === 'top') tl[1] = Math.max(tl[1], room);
              if (free === 'bottom') br[1] = Math.max(br[1], room);
              if (free === 'right') br[0] = Math.max(br[0], room);
            }
            return {paddingTopLeft: tl, paddingBottomRight: br};
          }
          function fit(printed) {
            map.invalidateSize({pan: false});
            var options = printed ? {padding: [MARGIN, MARGIN]} : screenPadding();
            options.animate = false;
            map.fitBounds(bounds, options);
          }
          function toPrint() { html.classList.add('cm-print'); fit(true); }
          function toScreen() { html.classList.remove('cm-print'); fit(false); }
          window.addEventListener('beforeprint', toPrint);
          window.addEventListener('afterprint', toScreen);
          printing.addEventListener('change', function(e) {
            if (e.matches) { toPrint(); } else { toScreen(); }
          });
          // The print button: fit first, then give the basemap's tiles a moment to load.
          window.cmPrintRoute = function() {
            toPrint();
            var waiting = [];
            map.eachLayer(function(l) {
              if (l instanceof L.GridLayer && l.isLoading()) waiting.push(l);
            });
            var done = false;
            function go() { if (!done) { done = true; window.print(); } }
            if (!waiting.length) { go(); return; }
            var left = waiting.length;
            waiting.forEach(function(l) {
              l.once('load', function() { if (--left === 0) go(); });
            });
            setTimeout(go, 4000);
          };
          map.whenReady(function() { if (printing.matches) { toPrint(); } else { fit(false); } });
        })({{ this._parent.get_name() }});
        {% endmacro %}
        """
    )

    def __init__(self, bounds: list[list[float]]) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self._name = "RouteFit"
        self.bounds_json = script_json(bounds)


class _PrintButton(MacroElement):
    """The route panel's print button: a listener, as CSP forbids inline handlers."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        document.getElementById('cm-print').addEventListener('click', function() {
          if (window.cmPrintRoute) { window.cmPrintRoute(); } else { window.print(); }
        });
        {% endmacro %}
        """
    )

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self._name = "PrintButton"


def _text_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


def _qr_svg(url: str) -> str:
    """The QR code of ``url`` as inline SVG (sized by CSS; the page's CSP allows it)."""
    return str(
        segno.make(url, error="m").svg_inline(
            scale=1, border=4, omitsize=True, dark="#000", light="#fff"
        )
    )


def route_page_url(settings: MapSettings, route_id: int) -> str:
    """The route map's address, which the printed page's QR code encodes."""
    return f"{settings.api_root}/maps/routes/{int(route_id)}?lang={settings.lang}"


# Above this many stops the printed timetable goes on a page of its own.
PRINT_TIMETABLE_ROWS = 8


def _timetable(plan: handouts.RoutePlan, stops: gpd.GeoDataFrame, settings: MapSettings) -> str:
    """The designer's timetable: one row per stop, a missed window and a straight leg
    marked in words (not by colour alone)."""
    lang, root = settings.lang, settings.api_root
    villages = {int(s.seq): s for s in stops.itertuples() if _has_village(s)}
    # A unit goes under its column's name: the columns stay narrow, the words whole.
    head = "".join(
        f"<th>{html_text(ROUTE_TEXT[k](lang)).replace(' (', '<br>(')}</th>"
        for k in (
            "col_no",
            "col_stop",
            "col_day",
            "col_arrive",
            "col_leave",
            "col_drive",
            "col_wait",
        )
    )
    rows = []
    for stop in plan.stops:
        name = html_text(stop.name)
        village = villages.get(stop.seq)
        if village is not None:
            href = html_text(
                f"{root}/collections/villages/items/{int(village.village_id)}?f=html&lang={lang}"
            )
            name = f'<a href="{href}">{name}</a>'
        notes = [ROUTE_TEXT["stop_for"].format(minutes=stop.dwell_min)(lang)]
        if stop.opens is not None or stop.closes is not None:
            hours = handouts.WORDS["hours"].format(
                opens=handouts.clock(stop.opens), closes=handouts.clock(stop.closes)
            )
            notes.append(hours(lang))
        if stop.overnight:
            notes.append(handouts.WORDS["overnight"](lang))
        marks = ""
        straight = handouts.leg_words(stop, lang)
        if straight:
            marks += f'<div class="cm-leg-straight">⚠ {html_text(straight)}</div>'
        if stop.window_problem:
            said = note_text(stop.window_problem, lang)
            problem = handouts.WORDS["missed"].format(problem=said)(lang)
            marks += f'<div class="cm-window-problem">⚠ {html_text(problem)}</div>'
        drive = "" if stop.leg_min is None else number(handouts.minutes(stop.leg_min), lang)
        wait = handouts.minutes(stop.wait_min)
        classes = " ".join(
            c
            for c, on in (
                ("cm-missed", bool(stop.window_problem)),
                ("cm-straight", bool(straight)),
                ("cm-overnight", stop.overnight),
            )
            if on
        )
        rows.append(
            f'<tr class="{classes}" data-seq="{stop.seq}"><td class="cm-num">{stop.seq}</td>'
            f"<td><strong>{name}</strong><br><small>{html_text(' · '.join(notes))}</small>"
            f"{marks}</td><td class='cm-num'>{stop.day or ''}</td>"
            f"<td class='cm-time'>{handouts.clock(stop.arrive_at)}</td>"
            f"<td class='cm-time'>{handouts.clock(stop.depart_at)}</td>"
            f"<td class='cm-num'>{drive}</td>"
            f"<td class='cm-num'>{number(wait, lang) if wait else ''}</td></tr>"
        )
    return (
        f'<table class="cm-timetable"><caption>{ROUTE_TEXT["timetable"](lang)}</caption>'
        f"<thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


def _stop_list(stops: gpd.GeoDataFrame, settings: MapSettings) -> str:
    lang, root = settings.lang, settings.api_root
    items = []
    for s in stops.itertuples():
        name = html_text(s.name)
        if _has_village(s):
            href = html_text(f"{root}/collections/villages/items/{int(s.village_id)}?f=html")
            name = f'<a href="{href}&amp;lang={lang}">{name}</a>'
        crafts = _text_or_none(s.crafts)
        details = [html_text(c) for c in (_text_or_none(s.commune_name),) if c]
        if s.dwell_min == s.dwell_min and s.dwell_min:
            details.append(ROUTE_TEXT["stop_for"].format(minutes=int(s.dwell_min))(lang))
        items.append(
            f'<li><span class="cm-no">{int(s.seq)}</span><div><strong>{name}</strong>'
            + (f" — {html_text(crafts)}" if crafts else "")
            + (f"<br><small>{' · '.join(details)}</small>" if details else "")
            + "</div></li>"
        )
    return f"<h2>{ROUTE_TEXT['stops'](lang)}</h2><ol>{''.join(items)}</ol>"


def _route_panel(
    route: Any,
    stops: gpd.GeoDataFrame,
    settings: MapSettings,
    plan: handouts.RoutePlan | None = None,
) -> str:
    """The route's card beside the map; on paper it becomes the page's left column.

    A designed route shows its timetable and the designer's duration; any other route its
    stops and a duration said plainly to be an estimate. The QR code shows on paper only.
    """
    lang, root = settings.lang, settings.api_root
    route_id = int(route.get("id"))
    length = route.get("length_km")
    facts = []
    theme, mode = _text_or_none(route.get("theme")), _text_or_none(route.get("mode"))
    if theme:
        facts.append(f"{ROUTE_TEXT['theme'](lang)}: {vocab.label('route_theme', theme, lang)}")
    if mode:
        facts.append(f"{ROUTE_TEXT['mode'](lang)}: {vocab.label('travel_mode', mode, lang)}")
    if length == length and length is not None:
        facts.append(f"{TEXT['length'](lang)}: {number(length, lang)} km")
    timed = plan is not None and plan.timed and plan.duration_min is not None
    if plan is not None and timed and plan.duration_min is not None:
        duration = _hours(plan.duration_min, lang)
        if plan.drive_min is not None:
            duration = ROUTE_TEXT["designed"].format(
                duration=duration, drive=_hours(plan.drive_min, lang)
            )(lang)
        if plan.days and plan.days > 1:
            duration += f" ({ROUTE_TEXT['days'].format(days=plan.days)(lang)})"
    else:
        speed = SPEED_KMH.get(mode or "", SPEED_KMH["car"])
        duration = _duration(
            route.get("dwell_min") or 0, length if length == length else None, lang, speed
        )
        duration += f" ({ROUTE_TEXT['estimate'].format(speed=number(speed, lang, 0))(lang)})"
    facts.append(f"{TEXT['duration_label'](lang)}: {duration}")
    description = _text_or_none(route.get("description"))
    overview = html_text(f"{root}/maps?lang={lang}")
    page = html_text(f"{root}/collections/routes/items/{route_id}?f=html&lang={lang}")
    if plan is not None and timed:
        body = _timetable(plan, stops, settings)
        untimed = ""
    else:
        body = _stop_list(stops, settings)
        speed = SPEED_KMH.get(mode or "", SPEED_KMH["car"])
        words = handouts.WORDS["not_computed"].format(speed=number(speed, lang, 0))(lang)
        untimed = f'<p class="cm-untimed">{html_text(words)}</p>'
    downloads = " · ".join(
        f'<a class="cm-download" href="{html_text(f"{root}/routes/{route_id}/{fmt}?lang={lang}")}"'
        f" download>{fmt.upper()}</a>"
        for fmt in handouts.FORMATS
    )
    url = route_page_url(settings, route_id)
    qr = ""
    if url.startswith(("http://", "https://")):
        qr = (
            f'<figure class="cm-qr" role="img" aria-label="{html_text(ROUTE_TEXT["qr"](lang))}">'
            f"{_qr_svg(url)}<figcaption>{ROUTE_TEXT['qr'](lang)}<br>"
            f'<span class="cm-url">{html_text(url)}</span></figcaption></figure>'
        )
    long = plan is not None and timed and len(plan.stops) > PRINT_TIMETABLE_ROWS
    return f"""
<aside id="cm-route-panel" class="{"cm-long" if long else ""}" aria-labelledby="cm-route-name">
<nav class="cm-nav"><a href="{overview}">{ROUTE_TEXT["overview"](lang)}</a>
<a href="{page}">{ROUTE_TEXT["route_page"](lang)}</a></nav>
<h1 id="cm-route-name">{html_text(route.get("name"))}</h1>
<p class="cm-facts">{"".join(f"<span>{html_text(f)}</span>" for f in facts)}</p>
{f'<p class="cm-description">{html_text(description)}</p>' if description else ""}
{qr}{untimed}<div id="cm-stops">{body}</div>
<p class="cm-downloads">{ROUTE_TEXT["downloads"](lang)}: {downloads}</p>
<button type="button" id="cm-print">{TEXT["print"](lang)}</button></aside>
<style>
#cm-route-panel{{position:absolute;top:10px;left:56px;z-index:1000;width:360px;
  max-height:calc(100% - 60px);box-sizing:border-box;overflow:auto;
  background:rgba(255,255,255,.96);padding:10px 14px;border-radius:8px;
  font:13px/1.4 sans-serif;color:#222;box-shadow:0 1px 6px rgba(0,0,0,.35);
  overflow-wrap:anywhere}}
#cm-route-panel h1{{font-size:17px;margin:6px 0 4px}}
#cm-route-panel h2{{font-size:13px;margin:10px 0 4px;color:#555}}
#cm-route-panel .cm-nav{{display:flex;justify-content:space-between;gap:8px;font-size:12px}}
#cm-route-panel a{{color:#0b5394}}
#cm-route-panel .cm-facts{{margin:0;color:#333}}
#cm-route-panel .cm-facts span{{display:inline-block;margin-right:12px}}
#cm-route-panel .cm-description{{margin:6px 0 0;white-space:pre-line}}
#cm-route-panel .cm-untimed{{margin:6px 0 0;padding:4px 6px;background:#fff4d6;
  border-left:3px solid #e0a800;font-size:12px}}
#cm-route-panel ol{{padding-left:0;margin:0;list-style:none}}
#cm-route-panel li{{display:flex;gap:8px;align-items:flex-start;margin:0 0 6px}}
#cm-route-panel .cm-no{{flex:none;width:20px;height:20px;border-radius:50%;border:2px solid #d7301f;
  font:bold 11px/20px sans-serif;text-align:center;background:#fff}}
#cm-route-panel small{{color:#555}}
#cm-route-panel button{{margin-top:4px;padding:4px 10px;font-size:13px}}
.cm-timetable{{border-collapse:collapse;width:100%;font-size:12px;margin-top:8px}}
.cm-timetable caption{{text-align:left;font-weight:bold;color:#555;padding-bottom:2px}}
.cm-timetable th{{text-align:left;font-weight:normal;color:#555;border-bottom:1px solid #999;
  padding:2px 3px;vertical-align:bottom;font-size:11px;white-space:nowrap;
  overflow-wrap:normal}}
.cm-timetable td{{padding:3px;border-bottom:1px solid #ddd;vertical-align:top}}
.cm-timetable .cm-num,.cm-timetable .cm-time{{text-align:right;white-space:nowrap;
  font-variant-numeric:tabular-nums}}
.cm-timetable tr.cm-missed td{{background:#fde2e1}}
.cm-timetable tr.cm-overnight td{{border-bottom:2px solid #333}}
.cm-timetable .cm-window-problem{{color:#a50f15;font-weight:bold;font-size:11px}}
.cm-timetable .cm-leg-straight{{color:#8a4b00;font-size:11px}}
#cm-route-panel .cm-downloads{{font-size:12px;margin:8px 0 0}}
#cm-route-panel .cm-qr{{display:none;margin:6px 0 0}}
#cm-route-panel .cm-qr svg{{width:30mm;height:30mm;display:block}}
#cm-route-panel .cm-qr figcaption{{font-size:8pt;color:#333}}
@media (max-width: 600px) {{
  #cm-route-panel{{top:auto;bottom:58px;left:8px;right:8px;width:auto;max-height:42%}}
}}
html.cm-print .folium-map{{position:relative !important;width:190mm !important;
  height:185mm !important}}
@media print {{
  @page {{size: A4 landscape; margin: 10mm}}
  html,body{{height:auto !important}}
  #cm-route-panel{{position:static;float:left;width:84mm;max-height:none;box-shadow:none;
    padding:0;background:none;font-size:9pt;overflow:visible}}
  #cm-route-panel h1{{font-size:13pt;margin-top:0}}
  #cm-route-panel a{{color:inherit;text-decoration:none}}
  /* The offline-basemap note would only hide a stop on paper. */
  #cm-route-panel button,#cm-route-panel .cm-nav,#cm-route-panel .cm-downloads,
  .leaflet-control-zoom,.leaflet-control-layers,.leaflet-control-fullscreen,
  .cm-offline-note{{display:none}}
  #cm-route-panel .cm-qr{{display:flex;gap:3mm;align-items:center;page-break-inside:avoid}}
  #cm-route-panel .cm-qr svg{{flex:none}}
  .cm-timetable{{font-size:8pt}}
  .cm-timetable th{{font-size:7pt}}
  .cm-timetable tr{{page-break-inside:avoid}}
  .cm-timetable tr.cm-missed td{{print-color-adjust:exact;-webkit-print-color-adjust:exact}}
  /* A long timetable goes on in the same column on the next page, cut between rows
     (its header repeated), after the QR code that stays on the first. */
  .folium-map{{position:relative !important;width:182mm !important;height:185mm !important;
    margin-left:88mm;page-break-inside:avoid;print-color-adjust:exact;
    -webkit-print-color-adjust:exact}}
}}
</style>"""
