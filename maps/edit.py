"""The editing map: draw a material zone or a route and save it through the Features API.

The page holds no secret: the planner types an API key, the browser keeps it for the tab
(sessionStorage) and sends it as a Bearer token. Validation, history and ETags are the
Features API's own, so the page shows the API's problem details as they come.
"""

from __future__ import annotations

import json
from typing import Any

import folium
import geopandas as gpd
from branca.element import MacroElement
from folium import plugins
from folium.template import Template

from geo.kernel import vocab
from geo.kernel.text import Text
from geo.query.mapdata import OverviewData
from maps import build, layers, styles
from maps.escape import ESC_JS, html_text, script_json

# Role presets: which themes the editor opens with, and what a user of that role draws.
PRESETS: dict[str, dict[str, Any]] = {
    "planner": {"collection": "material-zones", "shape": "polygon", "zones": True, "routes": False},
    "tourism": {"collection": "routes", "shape": "polyline", "zones": False, "routes": True},
}

TEXT: dict[str, Text] = {
    "key": Text("Khóa API", "API key"),
    "save": Text("Lưu", "Save"),
    "draw_first": Text("Hãy vẽ đối tượng trên bản đồ trước.", "Draw the feature on the map first."),
    "saved": Text("Đã lưu", "Saved"),
    "unauthorized": Text(
        "Cần khóa API hợp lệ (401): nhập khóa do quản trị viên cấp.",
        "A valid API key is needed (401): enter the key an administrator gave you.",
    ),
    "forbidden": Text(
        "Khóa này không có quyền ghi lớp dữ liệu này (403).",
        "This key may not write this layer (403).",
    ),
    "code": Text("Mã", "Code"),
    "name": Text("Tên", "Name"),
    "material": Text("Nguyên liệu", "Material"),
    "status": Text("Trạng thái", "Status"),
    "theme": Text("Chủ đề", "Theme"),
    "mode": Text("Phương tiện", "Travel mode"),
    "title_planner": Text("Vẽ vùng nguyên liệu mới", "Draw a new material zone"),
    "title_tourism": Text("Vẽ tuyến du lịch mới", "Draw a new tourism route"),
}


def _options(codes: list[str], vocabulary: str, lang: str) -> str:
    return "".join(
        f'<option value="{html_text(code)}">'
        f"{html_text(vocab.label(vocabulary, code, lang))}</option>"
        for code in codes
    )


def _form(role: str, lang: str) -> str:
    field = '<label>{label}<input name="{name}" required></label>'
    rows = [
        field.format(label=html_text(TEXT["code"](lang)), name="code"),
        field.format(label=html_text(TEXT["name"](lang)), name="name"),
    ]
    if role == "planner":
        rows.append(
            f'<label>{TEXT["material"](lang)}<select name="material">'
            f"{_options([m.value for m in vocab.Material], 'material', lang)}</select></label>"
        )
        rows.append(
            f'<label>{TEXT["status"](lang)}<select name="status">'
            f"{_options([s.value for s in vocab.ZoneStatus], 'zone_status', lang)}</select></label>"
        )
    else:
        rows.append(
            f'<label>{TEXT["theme"](lang)}<select name="theme">'
            f"{_options([t.value for t in vocab.RouteTheme], 'route_theme', lang)}</select></label>"
        )
        rows.append(
            f'<label>{TEXT["mode"](lang)}<select name="mode">'
            + "".join(f'<option value="{m.value}">{m.value}</option>' for m in vocab.TravelMode)
            + "</select></label>"
        )
    return "".join(rows)


class EditorPanel(MacroElement):
    """The attribute form, the key field and the save logic, beside the drawing tools."""

    _template = Template(
        """
        {% macro header(this, kwargs) %}
        <style>
        #cm-editor{position:absolute;top:10px;right:10px;z-index:1000;width:280px;
          background:#fff;padding:10px 12px;border-radius:8px;font:13px sans-serif;
          box-shadow:0 1px 6px rgba(0,0,0,.35)}
        #cm-editor label{display:block;margin:4px 0}#cm-editor input,#cm-editor select{width:100%}
        #cm-editor .cm-error{color:#b00020;white-space:pre-wrap}#cm-editor .cm-ok{color:#1b7837}
        </style>
        {% endmacro %}
        {% macro html(this, kwargs) %}
        <form id="cm-editor" data-collection="{{ this.collection_attr }}">
          <h3 style="margin:0 0 6px;font-size:15px">{{ this.title_html }}</h3>
          <label>{{ this.key_label_html }}
            <input name="api_key" type="password" autocomplete="off"></label>
          {{ this.fields }}
          <button type="submit">{{ this.save_label_html }}</button>
          <p class="cm-message" role="status"></p>
        </form>
        {% endmacro %}
        {% macro script(this, kwargs) %}
        (function() {
          var map = {{ this._parent.get_name() }};
          var text = {{ this.text_json }};
          var apiRoot = {{ this.api_root_json }};
          {{ this.esc_js }}
          var drawn = null;
          map.on('draw:created', function(e) { drawn = e.layer; });
          // Existing features go into the drawing tools' group, so that "edit" reshapes
          // zones and routes and moves villages; each keeps its collection and id.
          var editable = {{ this.editable_group }};
          {{ this.editable_json }}.forEach(function(set) {
            L.geoJSON(set.features, {
              style: function() { return {color: set.colour, weight: 2, fillOpacity: 0.15}; },
              onEachFeature: function(feature, layer) {
                layer.cmCollection = set.collection; layer.cmId = feature.id;
                // Leaflet sets a tooltip string as innerHTML: names are escaped first.
                layer.bindTooltip(esc(feature.properties.name || feature.id));
                editable.addLayer(layer);
              }
            });
          });
          map.on('draw:edited', function(e) {
            e.layers.eachLayer(function(layer) {
              if (layer.cmId !== undefined) saveChange(layer);
            });
          });
          async function saveChange(layer) {
            var url = apiRoot + '/collections/' + encodeURIComponent(layer.cmCollection)
              + '/items/' + encodeURIComponent(layer.cmId);
            var key = keyInput.value;
            sessionStorage.setItem('craftmap-key', key);
            // The current version first: the change is sent with If-Match, so an edit made
            // meanwhile by someone else is refused (412) instead of overwritten.
            var current = await fetch(url, {headers: {'Accept': 'application/geo+json'}});
            var headers = {'Content-Type': 'application/merge-patch+json',
                           'If-Match': current.headers.get('ETag') || '*'};
            if (key) headers['Authorization'] = 'Bearer ' + key;
            var response = await fetch(url, {method: 'PATCH', headers: headers,
              body: JSON.stringify({geometry: layer.toGeoJSON().geometry})});
            await report(response, layer.cmCollection + ' ' + layer.cmId);
          }
          async function report(response, what) {
            if (response.status === 200) {
              show('cm-ok', text.saved + ': ' + what);
              return true;
            }
            if (response.status === 401) { show('cm-error', text.unauthorized); return false; }
            if (response.status === 403) { show('cm-error', text.forbidden); return false; }
            var problem = {};
            try { problem = await response.json(); } catch (e) {}
            var detail = problem.detail || problem.title || response.statusText;
            show('cm-error', response.status + ': ' + detail);
            return false;
          }
          var form = document.getElementById('cm-editor');
          var keyInput = form.elements['api_key'];
          keyInput.value = sessionStorage.getItem('craftmap-key') || '';
          var message = form.querySelector('.cm-message');
          // Messages are text (problem details may quote the user's input); a saved
          // feature's link is built as an element.
          function show(kind, words, href, label) {
            message.className = 'cm-message ' + kind; message.textContent = words;
            if (href !== undefined) {
              var a = document.createElement('a');
              a.href = href; a.textContent = label; message.appendChild(a);
            }
          }
          form.addEventListener('submit', async function(ev) {
            ev.preventDefault();
            if (!drawn) { show('cm-error', text.draw_first); return; }
            sessionStorage.setItem('craftmap-key', keyInput.value);
            var properties = {};
            for (var el of form.elements) {
              if (el.name && el.name !== 'api_key' && el.value !== '') {
                properties[el.name] = el.value;
              }
            }
            var feature = {
              type: 'Feature', geometry: drawn.toGeoJSON().geometry, properties: properties};
            var collection = form.dataset.collection;
            var headers = {
              'Content-Type': 'application/geo+json', 'Accept': 'application/geo+json'};
            if (keyInput.value) headers['Authorization'] = 'Bearer ' + keyInput.value;
            var response = await fetch(apiRoot + '/collections/' + collection + '/items',
              {method: 'POST', headers: headers, body: JSON.stringify(feature)});
            if (response.status === 201) {
              var saved = await response.json();
              var link = response.headers.get('Location') || '';
              show('cm-ok', text.saved + ': ', link + '?f=html', String(saved.id));
              return;
            }
            if (response.status === 401) { show('cm-error', text.unauthorized); return; }
            if (response.status === 403) { show('cm-error', text.forbidden); return; }
            var problem = {};
            try { problem = await response.json(); } catch (e) {}
            var detail = problem.detail || problem.title || response.statusText;
            show('cm-error', response.status + ': ' + detail);
          });
        })();
        {% endmacro %}
        """
    )

    def __init__(
        self,
        role: str,
        lang: str,
        api_root: str,
        editable_group: str,
        editable: list[dict[str, Any]],
    ) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self._name = "EditorPanel"
        self.collection_attr = html_text(PRESETS[role]["collection"])
        self.title_html = html_text(TEXT[f"title_{role}"](lang))
        self.key_label_html = html_text(TEXT["key"](lang))
        self.save_label_html = html_text(TEXT["save"](lang))
        self.fields = _form(role, lang)
        # The root comes from the request's Host when no public URL is set: data, not code.
        self.api_root_json = script_json(api_root)
        self.text_json = script_json(
            {k: TEXT[k](lang) for k in ("draw_first", "saved", "unauthorized", "forbidden")}
        )
        self.editable_group = editable_group
        # Feature names are anyone's text: JSON with no way out of the script element.
        self.editable_json = script_json(editable)
        self.esc_js = ESC_JS


def build_editor(data: OverviewData, settings: build.MapSettings, role: str) -> folium.Map:
    """The editing map for a role preset: planners see zones and villages, tourism staff
    routes and the tourism-linked villages."""
    preset = PRESETS[role]
    lang = settings.lang
    m = build._base_map(settings, build._bounds([data.villages]))
    if preset["zones"] and data.zones is not None:
        layers.thematic_layer(data.zones, styles.MATERIALS, lang=lang).add_to(m)
    if preset["routes"]:
        layers.thematic_layer(data.routes, styles.ROUTES, lang=lang).add_to(m)
    villages = data.villages
    if role == "tourism":
        villages = villages[villages["tourism_linked"].fillna(False).astype(bool)]
    layers.thematic_layer(villages, styles.CRAFT_GROUPS, lang=lang).add_to(m)
    build.Legend(build._legend_html([styles.CRAFT_GROUPS, styles.MATERIALS], lang, False)).add_to(m)
    shapes = {"polyline": False, "polygon": False, "rectangle": False, "circle": False}
    shapes.update({"marker": False, "circlemarker": False, preset["shape"]: True})
    editable_group = folium.FeatureGroup(name="editable", control=False).add_to(m)
    plugins.Draw(  # type: ignore[no-untyped-call]
        feature_group=editable_group,
        draw_options=shapes,
        # Deleting stays with the API and the item pages, where history can undo it.
        edit_options={"edit": True, "remove": False},
        show_geometry_on_click=False,
    ).add_to(m)
    editable = [{"collection": "villages", "colour": "#444444", "features": _features(villages)}]
    if preset["zones"] and data.zones is not None:
        editable.append(
            {"collection": "material-zones", "colour": "#1b7837", "features": _features(data.zones)}
        )
    if preset["routes"]:
        editable.append(
            {"collection": "routes", "colour": "#d7301f", "features": _features(data.routes)}
        )
    EditorPanel(role, lang, settings.api_root, editable_group.get_name(), editable).add_to(m)
    folium.LayerControl(collapsed=True, position="bottomleft").add_to(m)
    build.serve_assets_locally(m)
    return m


def _features(frame: gpd.GeoDataFrame) -> dict[str, Any]:
    """A FeatureCollection with the ids and names the editor needs."""
    collection: dict[str, Any] = json.loads(frame[["id", "name", "geometry"]].to_json())
    for feature in collection["features"]:
        feature["id"] = int(feature["properties"]["id"])
    return collection
