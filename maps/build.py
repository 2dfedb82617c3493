"""Compose craftmap's maps: the overview and one map per tourism route (pure builders)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import folium
import geopandas as gpd
from branca.element import Element, MacroElement
from folium import plugins
from folium.template import Template
from folium.utilities import JsCode

from geo.kernel import vocab
from geo.kernel.text import DEFAULT_LANG, Lang, Text
from geo.query.mapdata import OverviewData
from maps import assets, layers, styles
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
    "search": Text("Tìm làng nghề…", "Find a village…"),
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


class VillageSearch(MacroElement):
    """A search box for village names that ignores diacritics ("tra dong" finds Trà Đông).

    leaflet-search compares raw strings, so the control is our own: each village's name is
    folded (NFD, marks removed, đ→d, lower case) on both sides.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function() {
          var map = {{ this._parent.get_name() }};
          var text = {{ this.text_json }};
          // The village cluster publishes its rows: [id, lat, lon, group, name, ...].
          var entries = (window.cmPoints || []).map(function(r) {
            return {id: r[0], lat: r[1], lon: r[2], name: r[4], key: fold(r[4])};
          });
          function fold(s) {
            return s.normalize('NFD').replace(/[\\u0300-\\u036f]/g, '')
              .replace(/đ/g, 'd').replace(/Đ/g, 'D').toLowerCase().trim();
          }
          var control = L.control({position: 'topleft'});
          control.onAdd = function() {
            var div = L.DomUtil.create('div', 'cm-search');
            div.innerHTML = '<input type="search"><ul></ul>';
            L.DomEvent.disableClickPropagation(div);
            var input = div.querySelector('input'), list = div.querySelector('ul');
            input.placeholder = text.placeholder;
            input.setAttribute('aria-label', text.placeholder);
            input.addEventListener('input', function() {
              var q = fold(input.value); list.innerHTML = '';
              if (!q) return;
              var found = entries.filter(function(e) { return e.key.indexOf(q) >= 0; })
                .slice(0, 12);
              if (!found.length) {
                var none = document.createElement('li');
                none.className = 'cm-none'; none.textContent = text.no_match;
                list.appendChild(none);
              }
              found.forEach(function(e) {
                var li = document.createElement('li'); li.textContent = e.name;
                li.addEventListener('click', function() { go(e); });
                list.appendChild(li);
              });
            });
            input.addEventListener('keydown', function(ev) {
              var first = list.firstChild;
              if (ev.key === 'Enter' && first && first.click) first.click();
            });
            return div;
          };
          function go(e) {
            var marker = window.cmMarkers && window.cmMarkers[e.id];
            var cluster = window.cmCluster;
            if (marker && cluster) {
              cluster.zoomToShowLayer(marker, function() { marker.openPopup(); });
            } else { map.setView([e.lat, e.lon], 14); }
          }
          control.addTo(map);
        })();
        {% endmacro %}
        """
    )

    def __init__(self, lang: str) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self._name = "VillageSearch"
        self.text_json = script_json(
            {"placeholder": TEXT["search"](lang), "no_match": TEXT["no_match"](lang)}
        )


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


def _duration(minutes: float, length_km: float | None, lang: str) -> str:
    # Stops' dwell time plus driving at 40 km/h on provincial roads (no road routing yet).
    total = int(minutes + (length_km or 0) / 40 * 60)
    hours, rest = divmod(total, 60)
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
    VillageSearch(lang).add_to(m)
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


def _admin_layer(admin: gpd.GeoDataFrame, lang: str) -> folium.FeatureGroup:
    group = folium.FeatureGroup(name=styles.ADMIN_NAME(lang), show=True)
    for row in admin.itertuples():
        geometry = row.geometry
        if geometry.geom_type == "Point":
            folium.CircleMarker(
                [geometry.y, geometry.x],
                radius=3 if row.level == "commune" else 5,
                color=styles.ADMIN_OUTLINE,
                weight=1,
                fill=True,
                fill_opacity=0.6,
                tooltip=html_text(row.name),
            ).add_to(group)
        else:
            folium.GeoJson(
                geometry.__geo_interface__,
                style_function=lambda _f: {
                    "color": styles.ADMIN_OUTLINE,
                    "weight": 1,
                    "fill": False,
                    "dashArray": "4 3",
                },
                tooltip=html_text(row.name),
            ).add_to(group)
    return group


def _route_layer(
    routes: gpd.GeoDataFrame, stops: gpd.GeoDataFrame, settings: MapSettings
) -> folium.FeatureGroup:
    lang = settings.lang
    frame = _labelled(
        routes,
        lang,
        {"theme_label": ("theme", "route_theme"), "mode_label": ("mode", "travel_mode")},
    )
    frame["duration"] = [
        _duration(minutes, length, lang)
        for minutes, length in zip(frame["dwell_min"], frame["length_km"], strict=True)
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
                ("🗺", f"{settings.api_root}/maps/routes/{int(row['id'])}?lang={lang}"),
            ],
        ),
    )
    layers.NumberedStops(stops, name=styles.ROUTES.name(lang)).add_to(group)
    return group


def build_route_map(route: Any, stops: gpd.GeoDataFrame, settings: MapSettings) -> folium.Map:
    """One route: its line, numbered stops with their village cards, length and duration."""
    lang = settings.lang
    routes = gpd.GeoDataFrame([route], geometry="geometry", crs=4326)
    m = _base_map(settings, _bounds([routes, stops]))
    _route_layer(routes, stops, settings).add_to(m)
    for row in stops.itertuples():
        card = layers.popup_html(
            row._asdict(),
            f"{int(row.seq)}. {row.name}",
            STOP_FIELDS,
            lang,
            _links(settings, "villages", row.village_id)
            if row.village_id == row.village_id and row.village_id
            else [],
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
    _root(m).html.add_child(Element(_route_panel(route, stops, lang)))
    _PrintButton().add_to(m)
    serve_assets_locally(m)
    return m


class _PrintButton(MacroElement):
    """The route panel's print button: a listener, as CSP forbids inline handlers."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        document.getElementById('cm-print').addEventListener('click', function() {
          window.print();
        });
        {% endmacro %}
        """
    )

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self._name = "PrintButton"


def _route_panel(route: Any, stops: gpd.GeoDataFrame, lang: str) -> str:
    """The route's card beside the map; on paper it becomes the page's header and stop list."""
    items = "".join(
        f"<li><strong>{int(s.seq)}. {html_text(s.name)}</strong>"
        + (f" — {html_text(s.crafts)}" if isinstance(s.crafts, str) and s.crafts else "")
        + (
            f"<br><small>{html_text(s.commune_name)}</small>"
            if isinstance(s.commune_name, str)
            else ""
        )
        + f" <small>({int(s.dwell_min)} {TEXT['minutes'](lang)})</small></li>"
        for s in stops.itertuples()
    )
    length = route.get("length_km")
    facts = (
        f"{TEXT['length'](lang)}: {length:.1f} km · "
        f"{TEXT['duration_label'](lang)}: "
        f"{_duration(route.get('dwell_min') or 0, length, lang)}"
    )
    return f"""
<aside id="cm-route-panel"><h2>{html_text(route.get("name"))}</h2>
<p class="cm-facts">{facts}</p><ol>{items}</ol>
<button type="button" id="cm-print">{TEXT["print"](lang)}</button></aside>
<style>
#cm-route-panel{{position:absolute;top:10px;left:60px;z-index:1000;width:300px;max-height:80vh;
  overflow:auto;background:rgba(255,255,255,.95);padding:10px 14px;border-radius:8px;
  font:13px sans-serif;box-shadow:0 1px 6px rgba(0,0,0,.35)}}
#cm-route-panel h2{{font-size:16px;margin:0 0 4px}}
#cm-route-panel ol{{padding-left:0;list-style:none}}
@media print {{
  @page {{size: A4 landscape; margin: 10mm}}
  #cm-route-panel{{position:static;width:auto;max-height:none;box-shadow:none}}
  #cm-route-panel button,.leaflet-control-zoom,.leaflet-control-layers,
  .leaflet-control-fullscreen{{display:none}}
  .folium-map{{height:120mm !important;page-break-inside:avoid}}
}}
</style>"""
