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
from maps import build, layers, route_builder, styles
from maps.escape import ESC_JS, html_text, script_json

# Role presets: which themes the editor opens with, and what a user of that role draws.
PRESETS: dict[str, dict[str, Any]] = {
    "planner": {"collection": "material-zones", "shape": "polygon", "zones": True, "routes": False},
    # Tourism staff build a route from stops; a drawn marker is a free stop.
    "tourism": {"collection": "routes", "shape": "marker", "zones": False, "routes": True},
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
    "code_used": Text("Mã {code} đã được dùng cho vùng ", "Code {code} is already used by zone "),
    "code_used_route": Text(
        "Mã {code} đã được dùng cho tuyến ", "Code {code} is already used by route "
    ),
    "code_free": Text(". Mã còn trống: {code}.", ". A free code: {code}."),
    "not_a_number": Text(
        "„{field}”: „{value}” không phải là số (ví dụ {example}).",
        "“{field}”: “{value}” is not a number (e.g. {example}).",
    ),
    "proposed": Text("Mã trống tiếp theo, có thể sửa", "The next free code; you may change it"),
    "none": Text("— chưa chọn —", "— not set —"),
    "communes_hint": Text(
        "Giữ Ctrl (⌘ trên Mac) để chọn nhiều xã", "Hold Ctrl (⌘ on a Mac) to pick several"
    ),
    "section_zone": Text("Vùng nguyên liệu", "The zone"),
    "section_land": Text("Đất và sản lượng", "Land and output"),
    "section_owner": Text("Chủ quản lý và chứng chỉ", "Holder and certificate"),
    "section_place": Text("Địa bàn và quy hoạch", "Place and plan"),
    "code": Text("Mã", "Code"),
    "name": Text("Tên", "Name"),
    "material": Text("Nguyên liệu", "Material"),
    "species": Text("Loài cây", "Species"),
    "species_latin": Text("Tên khoa học", "Scientific name"),
    "status": Text("Trạng thái", "Status"),
    "land_type": Text("Loại đất", "Land type"),
    "declared_area_ha": Text("Diện tích công bố (ha)", "Declared area (ha)"),
    "annual_capacity_t": Text("Sản lượng hằng năm (tấn)", "Yearly capacity (tonnes)"),
    "harvest_season": Text("Mùa khai thác", "Harvest season"),
    "owner_type": Text("Loại chủ quản lý", "Kind of holder"),
    "owner": Text("Chủ quản lý", "Holder"),
    "certification_scheme": Text("Chứng chỉ", "Certificate"),
    "certificate_no": Text("Số chứng chỉ", "Certificate number"),
    "certificate_expiry": Text("Ngày hết hạn chứng chỉ", "Certificate expiry"),
    "commune_codes": Text("Xã, phường", "Communes"),
    "legacy_district": Text("Huyện (trước 2025)", "District (before 2025)"),
    "plan_ref": Text("Số quyết định quy hoạch", "Plan reference"),
    "notes": Text("Ghi chú", "Notes"),
    "theme": Text("Chủ đề", "Theme"),
    "mode": Text("Phương tiện", "Travel mode"),
    "title_planner": Text("Vẽ vùng nguyên liệu mới", "Draw a new material zone"),
    "title_tourism": Text("Xây dựng tuyến du lịch mới", "Build a new tourism route"),
    "page_title": Text("Biên tập bản đồ — craftmap", "Map editor — craftmap"),
    "whatif": Text("Thử kịch bản", "What-if"),
    "whatif_hint": Text(
        "Tính lại cung ứng với vùng đang vẽ, chưa lưu gì",
        "Run the supply analysis with the zone being drawn; nothing is saved",
    ),
    "haul_km": Text("Cự ly vận chuyển tối đa (km)", "Longest haul (km)"),
    "section_whatif": Text("Thử kịch bản trước khi lưu", "What-if before saving"),
    "whatif_running": Text("Đang tính…", "Running…"),
    "capacity_first": Text(
        "Nhập sản lượng hằng năm (tấn) của vùng để thử kịch bản.",
        "Enter the zone's yearly capacity (tonnes) to run the what-if.",
    ),
    "whatif_unmet": Text("Thiếu hụt", "Unmet demand"),
    "whatif_supplied": Text("Được cung ứng", "Supplied"),
    "whatif_short": Text("Số làng còn thiếu", "Villages short"),
    "whatif_new_zone": Text("Vùng mới cung ứng", "The new zone supplies"),
    "whatif_covered": Text("Làng được đáp ứng đủ nhờ vùng mới", "Villages newly fully supplied"),
    "whatif_none": Text("không có", "none"),
    "whatif_unsaved": Text(
        "Chưa lưu gì: nhấn „Lưu” để ghi vùng này.",
        "Nothing is saved: press “Save” to record this zone.",
    ),
    "whatif_flows": Text(
        "Luồng cung ứng của vùng mới (tạm thời)", "The new zone's flows (for now)"
    ),
    "zoom_in": Text("Phóng to", "Zoom in"),
    "zoom_out": Text("Thu nhỏ", "Zoom out"),
    "fullscreen": Text("Toàn màn hình", "Full screen"),
    "fullscreen_off": Text("Thoát toàn màn hình", "Exit full screen"),
}

# Leaflet.draw's own words (its L.drawLocal), by their path in that object. Leaflet.draw
# writes them as HTML: they are escaped like any other text.
DRAW_TEXT: dict[str, Text] = {
    "draw.toolbar.actions.title": Text("Hủy vẽ", "Cancel drawing"),
    "draw.toolbar.actions.text": Text("Hủy", "Cancel"),
    "draw.toolbar.finish.title": Text("Kết thúc vẽ", "Finish drawing"),
    "draw.toolbar.finish.text": Text("Hoàn tất", "Finish"),
    "draw.toolbar.undo.title": Text("Xóa điểm vừa vẽ", "Delete last point drawn"),
    "draw.toolbar.undo.text": Text("Xóa điểm cuối", "Delete last point"),
    "draw.toolbar.buttons.polyline": Text("Vẽ đường (tuyến)", "Draw a line"),
    "draw.toolbar.buttons.polygon": Text("Vẽ vùng (đa giác)", "Draw a polygon"),
    "draw.toolbar.buttons.rectangle": Text("Vẽ hình chữ nhật", "Draw a rectangle"),
    "draw.toolbar.buttons.circle": Text("Vẽ hình tròn", "Draw a circle"),
    "draw.toolbar.buttons.marker": Text("Đặt điểm", "Place a marker"),
    "draw.toolbar.buttons.circlemarker": Text("Đặt điểm tròn", "Place a circle marker"),
    "draw.handlers.circle.tooltip.start": Text(
        "Nhấn và kéo để vẽ hình tròn.", "Click and drag to draw a circle."
    ),
    "draw.handlers.circle.radius": Text("Bán kính", "Radius"),
    "draw.handlers.circlemarker.tooltip.start": Text(
        "Nhấn vào bản đồ để đặt điểm tròn.", "Click the map to place a circle marker."
    ),
    "draw.handlers.marker.tooltip.start": Text(
        "Nhấn vào bản đồ để đặt điểm.", "Click the map to place a marker."
    ),
    "draw.handlers.polygon.tooltip.start": Text(
        "Nhấn để bắt đầu vẽ vùng.", "Click to start drawing the shape."
    ),
    "draw.handlers.polygon.tooltip.cont": Text(
        "Nhấn để vẽ tiếp.", "Click to continue drawing the shape."
    ),
    "draw.handlers.polygon.tooltip.end": Text(
        "Nhấn vào điểm đầu tiên để khép vùng.", "Click the first point to close the shape."
    ),
    "draw.handlers.polyline.error": Text(
        "Lỗi: các cạnh không được cắt nhau!", "Error: the edges must not cross!"
    ),
    "draw.handlers.polyline.tooltip.start": Text(
        "Nhấn để bắt đầu vẽ đường.", "Click to start drawing the line."
    ),
    "draw.handlers.polyline.tooltip.cont": Text(
        "Nhấn để vẽ tiếp.", "Click to continue drawing the line."
    ),
    "draw.handlers.polyline.tooltip.end": Text(
        "Nhấn lại điểm cuối để kết thúc.", "Click the last point again to finish the line."
    ),
    "draw.handlers.rectangle.tooltip.start": Text(
        "Nhấn và kéo để vẽ hình chữ nhật.", "Click and drag to draw a rectangle."
    ),
    "draw.handlers.simpleshape.tooltip.end": Text(
        "Thả chuột để kết thúc.", "Release the mouse to finish drawing."
    ),
    "edit.toolbar.actions.save.title": Text("Lưu các thay đổi", "Save the changes"),
    "edit.toolbar.actions.save.text": Text("Lưu", "Save"),
    "edit.toolbar.actions.cancel.title": Text(
        "Hủy sửa, bỏ mọi thay đổi", "Cancel editing, discard all changes"
    ),
    "edit.toolbar.actions.cancel.text": Text("Hủy", "Cancel"),
    "edit.toolbar.actions.clearAll.title": Text("Xóa tất cả các lớp", "Clear all layers"),
    "edit.toolbar.actions.clearAll.text": Text("Xóa tất cả", "Clear all"),
    "edit.toolbar.buttons.edit": Text("Sửa hình dạng, vị trí", "Edit shapes and positions"),
    "edit.toolbar.buttons.editDisabled": Text(
        "Không có lớp nào khóa này được sửa", "Nothing this key may edit"
    ),
    "edit.toolbar.buttons.remove": Text("Xóa đối tượng", "Delete features"),
    "edit.toolbar.buttons.removeDisabled": Text("Không có gì để xóa", "Nothing to delete"),
    "edit.handlers.edit.tooltip.text": Text(
        "Kéo các nút hoặc điểm để sửa.", "Drag the handles or markers to edit the features."
    ),
    "edit.handlers.edit.tooltip.subtext": Text(
        "Nhấn Hủy để bỏ các thay đổi.", "Click Cancel to undo the changes."
    ),
    "edit.handlers.remove.tooltip.text": Text(
        "Nhấn vào đối tượng để xóa.", "Click on a feature to remove it."
    ),
}


class ControlWords(MacroElement):
    """Leaflet.draw's toolbar and hints, and the zoom buttons, in the page's language.

    Added before the drawing tools: Leaflet.draw reads ``L.drawLocal`` when it builds its
    toolbar.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function() {
          var words = {{ this.words_json }};
          Object.keys(words).forEach(function(path) {
            var keys = path.split('.'), at = L.drawLocal;
            keys.slice(0, -1).forEach(function(k) { at = at[k] = at[k] || {}; });
            at[keys[keys.length - 1]] = words[path];
          });
          var zoom = {{ this.zoom_json }};
          var container = {{ this._parent.get_name() }}.getContainer();
          [['.leaflet-control-zoom-in', zoom.zoom_in], ['.leaflet-control-zoom-out', zoom.zoom_out]]
            .forEach(function(pair) {
              var button = container.querySelector(pair[0]);
              if (button) { button.title = pair[1]; button.setAttribute('aria-label', pair[1]); }
            });
        })();
        {% endmacro %}
        """
    )

    def __init__(self, lang: str) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self._name = "ControlWords"
        self.words_json = script_json({k: html_text(t(lang)) for k, t in DRAW_TEXT.items()})
        self.zoom_json = script_json({k: TEXT[k](lang) for k in ("zoom_in", "zoom_out")})


def _options(codes: list[str], vocabulary: str, lang: str, *, blank: bool = False) -> str:
    empty = f'<option value="">{html_text(TEXT["none"](lang))}</option>' if blank else ""
    return empty + "".join(
        f'<option value="{html_text(code)}">'
        f"{html_text(vocab.label(vocabulary, code, lang))}</option>"
        for code in codes
    )


def _label(name: str, lang: str, control: str, hint: str = "") -> str:
    title = f' title="{html_text(hint)}"' if hint else ""
    return f"<label{title}>{html_text(TEXT[name](lang))}{control}</label>"


def _input(
    name: str, lang: str, *, kind: str = "text", required: bool = False, hint: str = ""
) -> str:
    """A text, number or date field; numbers are typed as the page's language writes them."""
    attrs = f'name="{name}" data-label="{html_text(TEXT[name](lang))}"'
    if hint:
        attrs += f' title="{html_text(hint)}"'
    if required:
        attrs += " required"
    if kind == "number":
        attrs += ' type="text" inputmode="decimal" data-kind="number"'
    elif kind == "date":
        attrs += ' type="date"'
    return _label(name, lang, f"<input {attrs}>")


def _select(name: str, vocabulary: str, codes: list[str], lang: str, *, blank: bool) -> str:
    options = _options(codes, vocabulary, lang, blank=blank)
    return _label(name, lang, f'<select name="{name}">{options}</select>')


def _zone_form(lang: str, communes: list[tuple[str, str]]) -> str:
    """Every field a planner records of a zone, grouped as on the provincial forms."""

    def section(title: str, rows: list[str]) -> str:
        return (
            f"<fieldset><legend>{html_text(TEXT[title](lang))}</legend>{''.join(rows)}</fieldset>"
        )

    codes = _input("code", lang, required=True, hint=TEXT["proposed"](lang))
    commune_options = "".join(
        f'<option value="{html_text(code)}">{html_text(name)} ({html_text(code)})</option>'
        for code, name in communes
    )
    return "".join(
        [
            section(
                "section_zone",
                [
                    codes,
                    _input("name", lang, required=True),
                    _select(
                        "material", "material", [m.value for m in vocab.Material], lang, blank=False
                    ),
                    _input("species", lang),
                    _input("species_latin", lang),
                    _select(
                        "status",
                        "zone_status",
                        [s.value for s in vocab.ZoneStatus],
                        lang,
                        blank=False,
                    ),
                ],
            ),
            section(
                "section_land",
                [
                    _select(
                        "land_type",
                        "land_type",
                        [t.value for t in vocab.LandType],
                        lang,
                        blank=True,
                    ),
                    _input("declared_area_ha", lang, kind="number"),
                    _input("annual_capacity_t", lang, kind="number"),
                    _input("harvest_season", lang),
                ],
            ),
            section(
                "section_owner",
                [
                    _select(
                        "owner_type",
                        "owner_type",
                        [o.value for o in vocab.OwnerType],
                        lang,
                        blank=True,
                    ),
                    _input("owner", lang),
                    _select(
                        "certification_scheme",
                        "certification_scheme",
                        [c.value for c in vocab.CertificationScheme],
                        lang,
                        blank=True,
                    ),
                    _input("certificate_no", lang),
                    _input("certificate_expiry", lang, kind="date"),
                ],
            ),
            section(
                "section_place",
                [
                    _label(
                        "commune_codes",
                        lang,
                        f'<select name="commune_codes" multiple size="4" data-kind="list">'
                        f"{commune_options}</select>",
                        TEXT["communes_hint"](lang),
                    ),
                    _input("legacy_district", lang),
                    _input("plan_ref", lang),
                    _label("notes", lang, '<textarea name="notes" rows="3"></textarea>'),
                ],
            ),
        ]
    )


def _whatif(lang: str) -> str:
    """The what-if: the haul it assumes, its button and where its answer goes.

    Its fields carry no ``name``: the zone saved is the form's, never the what-if's.
    """
    haul = (
        f'<label>{html_text(TEXT["haul_km"](lang))}<input id="cm-whatif-haul" type="text" '
        f'inputmode="decimal" value="50" data-kind="number" '
        f'data-label="{html_text(TEXT["haul_km"](lang))}"></label>'
    )
    return (
        f'<fieldset class="cm-whatif"><legend>{html_text(TEXT["section_whatif"](lang))}</legend>'
        f"{haul}"
        f'<button type="button" id="cm-whatif" title="{html_text(TEXT["whatif_hint"](lang))}">'
        f"{html_text(TEXT['whatif'](lang))}</button>"
        '<div id="cm-whatif-result" role="status" aria-live="polite"></div></fieldset>'
    )


def _form(role: str, lang: str, communes: list[tuple[str, str]] | None = None) -> str:
    if role == "planner":
        return _zone_form(lang, communes or [])
    fields = "".join(
        [
            _input("code", lang, required=True),
            _input("name", lang, required=True),
            _select("theme", "route_theme", [t.value for t in vocab.RouteTheme], lang, blank=False),
            _select("mode", "travel_mode", [m.value for m in vocab.TravelMode], lang, blank=False),
            _select(
                "status", "route_status", [s.value for s in vocab.RouteStatus], lang, blank=False
            ),
        ]
    )
    return route_builder.route_form(lang, fields)


class EditorPanel(MacroElement):
    """The attribute form, the key field and the save logic, beside the drawing tools."""

    _template = Template(
        """
        {% macro header(this, kwargs) %}
        <style>
        #cm-editor{position:absolute;top:10px;right:10px;z-index:1000;width:300px;
          max-height:calc(100% - 40px);overflow:auto;box-sizing:border-box;
          background:#fff;padding:10px 12px;border-radius:8px;font:13px sans-serif;
          box-shadow:0 1px 6px rgba(0,0,0,.35)}
        #cm-editor label{display:block;margin:4px 0;color:#333}
        #cm-editor input,#cm-editor select,#cm-editor textarea{width:100%;box-sizing:border-box;
          font:13px sans-serif;padding:3px}
        #cm-editor fieldset{border:1px solid #ddd;border-radius:6px;margin:6px 0;
          padding:2px 8px 6px}
        #cm-editor legend{font-weight:bold;font-size:12px;color:#1b5e20}
        #cm-editor [aria-invalid=true]{border:2px solid #b00020}
        #cm-editor button{margin-top:6px;padding:5px 16px;font-size:14px}
        #cm-editor .cm-error{color:#b00020;white-space:pre-wrap}#cm-editor .cm-ok{color:#1b7837}
        #cm-editor .cm-whatif{background:#f4f8fb;border-color:#9ecae1}
        #cm-editor .cm-whatif legend{color:#0b5394}
        #cm-editor .cm-whatif button{margin-top:4px;padding:4px 12px;font-size:13px}
        #cm-whatif-result table{border-collapse:collapse;width:100%;font-size:12px;margin-top:4px}
        #cm-whatif-result th{text-align:left;font-weight:normal;color:#444;padding-right:6px}
        #cm-whatif-result td{text-align:right;font-variant-numeric:tabular-nums}
        #cm-whatif-result p{margin:4px 0;font-size:12px}
        #cm-whatif-result .cm-error{color:#b00020}
        /* The form holds the right side: the legend and attribution sit left of it. */
        .leaflet-bottom.leaflet-right{right:320px}
        @media (max-width:600px){
          #cm-editor{top:auto;bottom:10px;right:10px;left:10px;width:auto;max-height:48%}
          .leaflet-bottom{bottom:calc(48% + 10px)}.leaflet-bottom.leaflet-right{right:0}
          .cm-legend{display:none}
        }
        </style>
        {% endmacro %}
        {% macro html(this, kwargs) %}
        <form id="cm-editor" data-collection="{{ this.collection_attr }}"
          {{- this.builder_attr }} novalidate>
          <h3 style="margin:0 0 6px;font-size:15px">{{ this.title_html }}</h3>
          <label>{{ this.key_label_html }}
            <input name="api_key" type="password" autocomplete="off"></label>
          {{ this.fields }}
          {{ this.whatif_html }}
          <button type="submit">{{ this.save_label_html }}</button>
          <p class="cm-message" role="status"></p>
        </form>
        {% endmacro %}
        {% macro script(this, kwargs) %}
        (function() {
          var map = {{ this._parent.get_name() }};
          var text = {{ this.text_json }};
          var apiRoot = {{ this.api_root_json }};
          var lang = {{ this.lang_json }};
          var usedCodes = {{ this.codes_json }};
          {{ this.esc_js }}
          var drawn = null;
          map.on('draw:created', function(e) { drawn = e.layer; });
          // Existing features, one group per collection. A group joins the drawing tools'
          // group (which gives it edit handles) only when the key's role may write it.
          var editable = {{ this.editable_group }};
          var villageLayer = {{ this.village_group }};
          var sets = {};
          {{ this.editable_json }}.forEach(function(set) {
            var group = sets[set.collection] = L.featureGroup();
            L.geoJSON(set.features, {
              style: function() { return {color: set.colour, weight: 2, fillOpacity: 0.15}; },
              // A village is one themed pin, shown in the villages layer and moved in place.
              pointToLayer: function(feature, at) {
                var pin = document.createElement('div');
                pin.className = 'cm-pin'; pin.style.background = feature.properties.colour;
                var glyph = document.createElement('i');
                glyph.className = 'fa-solid fa-' + feature.properties.icon;
                pin.appendChild(glyph);
                return L.marker(at, {icon: L.divIcon({html: pin, className: 'cm-pin-wrap',
                  iconSize: [26, 26], iconAnchor: [13, 13]})});
              },
              onEachFeature: function(feature, layer) {
                layer.cmCollection = set.collection; layer.cmId = feature.id;
                // Leaflet sets a tooltip string as innerHTML: names are escaped first.
                layer.bindTooltip(esc(feature.properties.name || feature.id));
                group.addLayer(layer);
                if (set.collection === 'villages') villageLayer.addLayer(layer);
              }
            });
          });
          var form = document.getElementById('cm-editor');
          // The villages in view beside the form, not under it.
          var within = villageLayer.getBounds();
          if (within.isValid()) {
            var panel = form.getBoundingClientRect(), size = map.getSize();
            var beside = panel.width < size.x * 0.6;
            map.fitBounds(within, {paddingTopLeft: [60, 20], paddingBottomRight:
              beside ? [panel.width + 30, 20] : [20, panel.height + 30]});
          }
          var keyInput = form.elements['api_key'];
          keyInput.value = sessionStorage.getItem('craftmap-key') || '';
          var message = form.querySelector('.cm-message');
          var access = Promise.resolve();
          var accessTurn = 0;
          // What the key may write decides which layers get edit handles (none without one).
          async function applyAccess() {
            // data-writable is absent while a key is checked, so nothing reads the last
            // key's answer; a slower answer for an older key is dropped.
            var turn = ++accessTurn;
            delete form.dataset.writable;
            var writable = [];
            var key = keyInput.value;
            if (key) {
              var response = await fetch(apiRoot + '/maps/edit/access',
                {headers: {'Authorization': 'Bearer ' + key, 'Accept': 'application/json'}});
              if (turn !== accessTurn) return;
              if (response.status === 401) show('cm-error', text.unauthorized);
              else if (response.ok) writable = (await response.json()).writable;
              if (turn !== accessTurn) return;
            }
            Object.keys(sets).forEach(function(collection) {
              var may = writable.indexOf(collection) >= 0;
              sets[collection].eachLayer(function(layer) {
                if (may) { editable.addLayer(layer); }
                else if (editable.hasLayer(layer)) {
                  editable.removeLayer(layer);
                  // Taken off the map with the group: a village pin stays in its layer.
                  if (villageLayer.hasLayer(layer) && map.hasLayer(villageLayer)) {
                    map.addLayer(layer);
                  }
                }
              });
            });
            form.dataset.writable = writable.join(' ');
          }
          keyInput.addEventListener('change', function() {
            sessionStorage.setItem('craftmap-key', keyInput.value);
            access = applyAccess();
          });
          access = applyAccess();
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
            await problem(response);
            return false;
          }
          async function problem(response) {
            if (response.status === 401) { show('cm-error', text.unauthorized); return; }
            if (response.status === 403) { show('cm-error', text.forbidden); return; }
            var body = {};
            try { body = await response.json(); } catch (e) {}
            var detail = body.detail || body.title || response.statusText;
            show('cm-error', response.status + ': ' + detail);
          }
          // Messages are text (problem details may quote the user's input); links are
          // built as elements.
          function show(kind, words, href, label, after) {
            message.className = 'cm-message ' + kind; message.textContent = words;
            if (href !== undefined) {
              var a = document.createElement('a');
              a.href = href; a.textContent = label; message.appendChild(a);
              if (after) message.appendChild(document.createTextNode(after));
            }
          }
          // The next free code: the commonest prefix of the codes in use ("TH-Z-"), its
          // highest number plus one, as wide as the others ("TH-Z-016").
          function nextCode() {
            var prefixes = {};
            usedCodes.forEach(function(code) {
              var m = /^(.*?)([0-9]+)$/.exec(code);
              if (!m) return;
              var p = prefixes[m[1]] = prefixes[m[1]] || {count: 0, top: 0, width: 0};
              p.count += 1; p.top = Math.max(p.top, parseInt(m[2], 10));
              p.width = Math.max(p.width, m[2].length);
            });
            var best = Object.keys(prefixes).sort(function(a, b) {
              return prefixes[b].count - prefixes[a].count || (a < b ? -1 : 1); })[0];
            if (best === undefined) return '';
            var p = prefixes[best], n = p.top, code;
            do { n += 1; code = best + String(n).padStart(p.width, '0'); }
            while (usedCodes.indexOf(code) >= 0);
            return code;
          }
          var codeInput = form.elements['code'];
          var proposed = nextCode();
          if (proposed && !codeInput.value) codeInput.value = proposed;
          // Numbers as the page's language writes them: 1.500,5 on Vietnamese pages.
          var parts = new Intl.NumberFormat(lang).formatToParts(12345.6);
          var group = parts.find(function(p) { return p.type === 'group'; }).value;
          var decimal = parts.find(function(p) { return p.type === 'decimal'; }).value;
          var example = new Intl.NumberFormat(lang, {minimumFractionDigits: 1}).format(1500);
          var digits = /^[0-9]+$/, triple = /^[0-9]{3}$/, lead = /^[0-9]{1,3}$/;
          function number(el) {
            var raw = el.value.trim().replace(/ /g, '');
            var pieces = raw.split(decimal);
            if (pieces.length > 2 || (pieces.length === 2 && !digits.test(pieces[1]))) return null;
            var whole = pieces[0].split(group);
            // Thousands groups must be whole: "1.5" is not one and a half on a Vietnamese page.
            if (whole.length > 1 && !(lead.test(whole[0]) && whole.slice(1).every(function(g) {
              return triple.test(g); }))) return null;
            if (!digits.test(whole.join(''))) return null;
            return Number(whole.join('') + (pieces.length === 2 ? '.' + pieces[1] : ''));
          }
          form.addEventListener('submit', async function(ev) {
            ev.preventDefault();
            // A route is saved by the route builder, stop by stop.
            if (form.dataset.builder) return;
            if (!drawn) { show('cm-error', text.draw_first); return; }
            sessionStorage.setItem('craftmap-key', keyInput.value);
            var properties = {};
            for (var el of form.elements) {
              if (!el.name || el.name === 'api_key') continue;
              el.removeAttribute('aria-invalid');
              if (el.dataset.kind === 'list') {
                var picked = Array.from(el.selectedOptions).map(function(o) { return o.value; });
                if (picked.length) properties[el.name] = picked;
              } else if (el.value.trim() === '') {
                continue;
              } else if (el.dataset.kind === 'number') {
                var value = number(el);
                if (value === null) {
                  el.setAttribute('aria-invalid', 'true'); el.focus();
                  show('cm-error', text.not_a_number.replace('{field}', el.dataset.label)
                    .replace('{value}', el.value).replace('{example}', example));
                  return;
                }
                properties[el.name] = value;
              } else {
                properties[el.name] = el.value.trim();
              }
            }
            var feature = {
              type: 'Feature', geometry: drawn.toGeoJSON().geometry, properties: properties};
            var collection = form.dataset.collection;
            var headers = {
              'Content-Type': 'application/geo+json', 'Accept': 'application/geo+json'};
            if (keyInput.value) headers['Authorization'] = 'Bearer ' + keyInput.value;
            var items = apiRoot + '/collections/' + encodeURIComponent(collection) + '/items';
            var response = await fetch(items,
              {method: 'POST', headers: headers, body: JSON.stringify(feature)});
            if (response.status === 201) {
              var saved = await response.json();
              var link = response.headers.get('Location') || '';
              show('cm-ok', text.saved + ': ', link + '?f=html', String(saved.id));
              whatifFlows.clearLayers();
              if (properties.code) usedCodes.push(properties.code);
              if (properties.code === proposed) codeInput.value = proposed = nextCode();
              return;
            }
            if (response.status === 409 && properties.code
                && await codeTaken(items, properties.code)) {
              return;
            }
            await problem(response);
          });
          // The what-if: the zone being drawn, with the form's material and capacity, sent
          // to the coverage analysis; the answer is shown here and its flows drawn for now.
          // Nothing is written: the zone is saved only by the form's own Save.
          var whatifButton = document.getElementById('cm-whatif');
          var whatifBox = document.getElementById('cm-whatif-result');
          var whatifFlows = L.layerGroup().addTo(map);
          var tonnes = new Intl.NumberFormat(lang,
            {minimumFractionDigits: 1, maximumFractionDigits: 1});
          function t(v) { return tonnes.format(Number(v) || 0) + ' t'; }
          function whatifSay(kind, words) {
            whatifBox.textContent = '';
            var p = document.createElement('p'); p.className = kind; p.textContent = words;
            whatifBox.appendChild(p);
          }
          function whatifRow(table, label, value) {
            var tr = document.createElement('tr');
            var th = document.createElement('th'); th.textContent = label;
            var td = document.createElement('td'); td.textContent = value;
            tr.appendChild(th); tr.appendChild(td); table.appendChild(tr);
          }
          // The analysis answers rows (or GeoJSON features): their values either way.
          function rows(list) {
            if (!list) return [];
            return (Array.isArray(list) ? list : (list.features || [])).map(function(r) {
              return r.properties ? Object.assign({geometry: r.geometry}, r.properties) : r;
            });
          }
          map.on('draw:created draw:deleted', function() {
            whatifFlows.clearLayers(); if (whatifBox) whatifBox.textContent = '';
          });
          async function runWhatif() {
            whatifFlows.clearLayers();
            if (!drawn) { whatifSay('cm-error', text.draw_first); return; }
            var capacityField = form.elements['annual_capacity_t'];
            var capacity = capacityField.value.trim() === '' ? null : number(capacityField);
            if (capacity === null) {
              capacityField.setAttribute('aria-invalid', 'true'); capacityField.focus();
              whatifSay('cm-error', text.capacity_first);
              return;
            }
            capacityField.removeAttribute('aria-invalid');
            var haulField = document.getElementById('cm-whatif-haul');
            var haul = number(haulField);
            if (haul === null) {
              haulField.setAttribute('aria-invalid', 'true'); haulField.focus();
              whatifSay('cm-error', text.not_a_number.replace('{field}', haulField.dataset.label)
                .replace('{value}', haulField.value).replace('{example}', example));
              return;
            }
            haulField.removeAttribute('aria-invalid');
            var material = form.elements['material'].value;
            var zone = {geometry: drawn.toGeoJSON().geometry, capacity_t: capacity,
                        material: material};
            var code = form.elements['code'].value.trim();
            var name = form.elements['name'].value.trim();
            if (code) zone.code = code;
            if (name) zone.name = name;
            var body = {material: material, haul_km: haul, scenario: {zones: [zone]}};
            var headers = {'Content-Type': 'application/json', 'Accept': 'application/json'};
            if (keyInput.value) headers['Authorization'] = 'Bearer ' + keyInput.value;
            whatifSay('', text.whatif_running);
            whatifButton.disabled = true;
            var response;
            try {
              response = await fetch(apiRoot + '/analysis/coverage/what-if',
                {method: 'POST', headers: headers, body: JSON.stringify(body)});
            } catch (err) {
              whatifSay('cm-error', String(err));
              return;
            } finally { whatifButton.disabled = false; }
            if (!response.ok) {
              var problemBody = {};
              try { problemBody = await response.json(); } catch (e) {}
              var detail = problemBody.detail || problemBody.title || response.statusText;
              if (response.status === 401) detail = text.unauthorized;
              if (response.status === 403) detail = text.forbidden;
              whatifSay('cm-error', response.status + ': ' + detail);
              return;
            }
            showWhatif(await response.json());
          }
          function showWhatif(answer) {
            var diff = answer.diff || {};
            whatifBox.textContent = '';
            var table = document.createElement('table');
            whatifRow(table, text.whatif_unmet,
              t(diff.unmet_before_t) + ' → ' + t(diff.unmet_after_t));
            whatifRow(table, text.whatif_supplied,
              t(diff.supplied_before_t) + ' → ' + t(diff.supplied_after_t));
            whatifRow(table, text.whatif_short,
              String(diff.villages_short_before) + ' → ' + String(diff.villages_short_after));
            // The unsaved zone's flows: those of no saved zone (zone_id null).
            var after = answer.scenario || answer.after || {};
            var flows = rows(after.flows).filter(function(f) {
              return f.zone_id === null || f.zone_id === undefined;
            });
            var carried = flows.reduce(function(sum, f) {
              return sum + (Number(f.tonnes) || 0); }, 0);
            whatifRow(table, text.whatif_new_zone, t(carried));
            whatifBox.appendChild(table);
            var villages = {};
            rows(after.villages).forEach(function(v) { villages[v.code] = v; });
            var covered = (diff.newly_covered || []).map(function(code) {
              var v = villages[code];
              return v && v.name ? v.name + ' (' + code + ')' : String(code);
            });
            var p = document.createElement('p');
            p.className = 'cm-covered';
            p.textContent = text.whatif_covered + ': '
              + (covered.length ? covered.join(', ') : text.whatif_none);
            whatifBox.appendChild(p);
            var note = document.createElement('p'); note.className = 'cm-ok';
            note.textContent = text.whatif_unsaved;
            whatifBox.appendChild(note);
            // Drawn for now, from the zone being drawn to each village it would supply.
            var from = drawn.getBounds().getCenter();
            var largest = flows.reduce(function(m, f) {
              return Math.max(m, Number(f.tonnes) || 0); }, 0);
            flows.forEach(function(f) {
              var v = villages[f.village_code];
              if (!v || v.lat === undefined) return;
              var share = largest > 0 ? Math.sqrt((Number(f.tonnes) || 0) / largest) : 0;
              L.polyline([from, [v.lat, v.lon]], {color: {{ this.flow_colour_json }},
                dashArray: '6 4', weight: Math.max(1.5, 8 * share), opacity: 0.9,
                className: 'cm-whatif-flow'})
                .bindTooltip(esc(text.whatif_flows + ': ' + (v.name || f.village_code)
                  + ', ' + t(f.tonnes)))
                .addTo(whatifFlows);
            });
            // The zone and the villages it would supply in view, beside the form; the
            // answer in view in the form.
            var seen = drawn.getBounds();
            whatifFlows.eachLayer(function(l) { seen.extend(l.getBounds()); });
            var panel = form.getBoundingClientRect(), size = map.getSize();
            var beside = panel.width < size.x * 0.6;
            map.fitBounds(seen, {maxZoom: 13, paddingTopLeft: [60, 30], paddingBottomRight:
              beside ? [panel.width + 30, 30] : [30, panel.height + 30]});
            whatifBox.scrollIntoView({block: 'nearest'});
          }
          if (whatifButton) whatifButton.addEventListener('click', runWhatif);
          // A duplicate code names the feature that holds it, with a link to its page.
          async function codeTaken(items, code) {
            var found = await fetch(items + '?code=' + encodeURIComponent(code),
              {headers: {'Accept': 'application/geo+json'}});
            if (!found.ok) return false;
            var holder = ((await found.json()).features || [])[0];
            if (!holder) return false;
            if (usedCodes.indexOf(code) < 0) usedCodes.push(code);
            codeInput.setAttribute('aria-invalid', 'true');
            var free = nextCode();
            show('cm-error', text.code_used.replace('{code}', code),
              items + '/' + encodeURIComponent(holder.id) + '?f=html',
              holder.properties.name || String(holder.id),
              free ? text.code_free.replace('{code}', free) : '.');
            return true;
          }
        })();
        {% endmacro %}
        """
    )

    def __init__(
        self,
        role: str,
        lang: str,
        api_root: str,
        groups: tuple[str, str],
        editable: list[dict[str, Any]],
        *,
        communes: list[tuple[str, str]] | None = None,
        codes: list[str] | None = None,
    ) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self._name = "EditorPanel"
        self.collection_attr = html_text(PRESETS[role]["collection"])
        self.title_html = html_text(TEXT[f"title_{role}"](lang))
        self.key_label_html = html_text(TEXT["key"](lang))
        self.save_label_html = html_text(TEXT["save"](lang))
        self.fields = _form(role, lang, communes)
        self.whatif_html = _whatif(lang) if role == "planner" else ""
        self.builder_attr = ' data-builder="route"' if role == "tourism" else ""
        # The root comes from the request's Host when no public URL is set: data, not code.
        self.api_root_json = script_json(api_root)
        self.lang_json = script_json(lang)
        used = "code_used" if role == "planner" else "code_used_route"
        words = (
            "draw_first",
            "saved",
            "unauthorized",
            "forbidden",
            "code_free",
            "not_a_number",
            "whatif_running",
            "capacity_first",
            "whatif_unmet",
            "whatif_supplied",
            "whatif_short",
            "whatif_new_zone",
            "whatif_covered",
            "whatif_none",
            "whatif_unsaved",
            "whatif_flows",
        )
        self.text_json = script_json(
            {**{k: TEXT[k](lang) for k in words}, "code_used": TEXT[used](lang)}
        )
        self.flow_colour_json = script_json(styles.FLOW_COLOUR)
        self.editable_group, self.village_group = groups
        # Feature names and codes are anyone's text: JSON with no way out of the script element.
        self.editable_json = script_json(editable)
        self.codes_json = script_json(codes or [])
        self.esc_js = ESC_JS


def build_editor(data: OverviewData, settings: build.MapSettings, role: str) -> folium.Map:
    """The editing map for a role preset: planners see zones and villages, tourism staff
    routes and the tourism-linked villages."""
    preset = PRESETS[role]
    lang = settings.lang
    m = build._base_map(settings, build._bounds([data.villages]))
    build._root(m).title = html_text(TEXT["page_title"](lang))
    if preset["zones"] and data.zones is not None:
        layers.thematic_layer(data.zones, styles.MATERIALS, lang=lang).add_to(m)
    if preset["routes"]:
        layers.thematic_layer(data.routes, styles.ROUTES, lang=lang).add_to(m)
    villages = data.villages
    if role == "tourism":
        villages = villages[villages["tourism_linked"].fillna(False).astype(bool)]
    # The village pins are drawn by the editor's script, so that the pin a key may move is
    # the one shown (a second, default marker under it would look like two villages).
    village_group = folium.FeatureGroup(name=styles.CRAFT_GROUPS.name(lang)).add_to(m)
    build.Legend(build._legend_html([styles.CRAFT_GROUPS, styles.MATERIALS], lang, False)).add_to(m)
    ControlWords(lang).add_to(m)
    plugins.Fullscreen(  # type: ignore[no-untyped-call]
        position="topleft",
        title=TEXT["fullscreen"](lang),
        title_cancel=TEXT["fullscreen_off"](lang),
    ).add_to(m)
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
    editable = [
        {"collection": "villages", "colour": "#444444", "features": _village_features(villages)}
    ]
    codes: list[str] = []
    if preset["zones"] and data.zones is not None:
        editable.append(
            {"collection": "material-zones", "colour": "#1b7837", "features": _features(data.zones)}
        )
        codes = [str(c) for c in data.zones["code"].dropna()]
    if preset["routes"]:
        editable.append(
            {"collection": "routes", "colour": "#d7301f", "features": _features(data.routes)}
        )
        codes = [str(c) for c in data.routes["code"].dropna()]
    communes = [
        (str(row.code), str(row.name))
        for row in data.admin.itertuples()
        if row.level == vocab.AdminLevel.COMMUNE
    ]
    EditorPanel(
        role,
        lang,
        settings.api_root,
        (editable_group.get_name(), village_group.get_name()),
        editable,
        communes=communes,
        codes=codes,
    ).add_to(m)
    if role == "tourism":
        route_builder.RouteBuilder(
            lang,
            settings.api_root,
            editable_group.get_name(),
            village_group.get_name(),
            {k: TEXT[k](lang) for k in ("unauthorized", "forbidden")},
        ).add_to(m)
    folium.LayerControl(collapsed=True, position="bottomleft").add_to(m)
    build.serve_assets_locally(m)
    return m


def _features(frame: gpd.GeoDataFrame) -> dict[str, Any]:
    """A FeatureCollection with the ids and names the editor needs.

    Leaflet.draw 1.0 cannot edit a multi-polygon (its vertex handles expect one ring per
    handler and fail on nested parts): a zone of one part goes as that polygon, the API
    storing it as a multi-polygon again; a zone of several parts is left out of editing
    rather than saved with parts lost.
    """
    collection: dict[str, Any] = json.loads(frame[["id", "name", "geometry"]].to_json())
    kept = []
    for feature in collection["features"]:
        feature["id"] = int(feature["properties"]["id"])
        geometry = feature["geometry"]
        if geometry is not None and geometry["type"] == "MultiPolygon":
            if len(geometry["coordinates"]) != 1:
                continue
            feature["geometry"] = {"type": "Polygon", "coordinates": geometry["coordinates"][0]}
        kept.append(feature)
    collection["features"] = kept
    return collection


def _village_features(frame: gpd.GeoDataFrame) -> dict[str, Any]:
    """The villages with the colour and icon of their craft group (the overview's pins)."""
    placed = frame[frame.geometry.notna() & ~frame.geometry.is_empty]
    collection = _features(placed)
    theme = styles.CRAFT_GROUPS
    for feature, code in zip(collection["features"], placed[theme.column], strict=True):
        feature["properties"]["colour"] = theme.colour(code)
        feature["properties"]["icon"] = theme.icon(code)
    return collection
