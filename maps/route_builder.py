"""The route builder of the editor (``/maps/edit?role=tourism``): a route is built by picking
villages, not by drawing a bare line.

A click on a village adds it as the next stop; the list is reordered by dragging or by its
up/down buttons, each stop has a dwell time, opening hours, an overnight flag and a boat-leg
flag. Every change asks the designer for a preview (``POST /routes/design/preview``, which
writes nothing) and draws its legs and timetable; "Optimise" asks for the best order. Save
creates the route, then its stops, then stores the design (``POST /routes/{id}/design``),
all through the API with the typed key, so checks, history and ETags are the API's own.
Every name is anyone's text: set with ``textContent`` or escaped with ``esc``.
"""

from __future__ import annotations

from branca.element import MacroElement
from folium.template import Template

from geo.kernel.text import Text
from maps.escape import ESC_JS, html_text, script_json

TEXT: dict[str, Text] = {
    "start_time": Text("Giờ xuất phát", "Start time"),
    "section_route": Text("Tuyến", "The route"),
    "section_stops": Text("Điểm dừng", "Stops"),
    "stops_hint": Text(
        "Nhấn vào một làng trên bản đồ để thêm điểm dừng tiếp theo. Điểm tự do: dùng công cụ "
        "„Đặt điểm” rồi đặt tên.",
        "Click a village on the map to add it as the next stop. A free point: use “Place a "
        "marker”, then name it.",
    ),
    "no_stops": Text("Chưa có điểm dừng nào.", "No stops yet."),
    "free_point": Text("Điểm tự do (đặt tên)", "Free point (give it a name)"),
    "dwell": Text("Dừng (phút)", "Stay (min)"),
    "opens": Text("Mở cửa", "Opens"),
    "closes": Text("Đóng cửa", "Closes"),
    "overnight": Text("Nghỉ đêm", "Overnight"),
    "boat": Text("Đi thuyền đến đây", "Boat leg to here"),
    "more": Text("Giờ mở cửa, nghỉ đêm, đi thuyền", "Opening hours, overnight, boat"),
    "up": Text("Lên trên", "Move up"),
    "down": Text("Xuống dưới", "Move down"),
    "remove": Text("Bỏ điểm dừng", "Remove the stop"),
    "drag": Text("Kéo để đổi thứ tự", "Drag to reorder"),
    "section_order": Text("Thứ tự tốt nhất", "Best order"),
    "objective": Text("Tiêu chí", "Objective"),
    "objective_time": Text("Ít thời gian nhất", "Least time"),
    "objective_distance": Text("Ngắn nhất", "Shortest distance"),
    "end": Text("Điểm cuối", "End"),
    "end_open": Text("Tùy ý", "Open"),
    "end_fixed": Text("Giữ điểm cuối", "Keep the last stop"),
    "end_return": Text("Quay về điểm đầu", "Back to the start"),
    "optimise": Text("Tối ưu thứ tự", "Optimise"),
    "section_timetable": Text("Lịch trình", "Timetable"),
    "need_two": Text(
        "Cần ít nhất hai điểm dừng để tính lộ trình.",
        "At least two stops are needed to work out the legs.",
    ),
    "name_free": Text("Đặt tên cho điểm tự do số {n}.", "Name free point {n}."),
    "working": Text("Đang tính…", "Working…"),
    "col_no": Text("Số", "No."),
    "col_stop": Text("Điểm dừng", "Stop"),
    "col_day": Text("Ngày", "Day"),
    "col_arrive": Text("Đến", "Arrive"),
    "col_depart": Text("Đi", "Leave"),
    "col_drive": Text("Lái (phút)", "Drive (min)"),
    "col_wait": Text("Chờ (phút)", "Wait (min)"),
    "totals": Text(
        "Tổng: {km} km, lái xe {drive} phút, {days} ngày.",
        "In all: {km} km, {drive} min driving, {days} day(s).",
    ),
    "saving_time": Text(
        "Tiết kiệm {n} phút so với thứ tự đã nhập.",
        "Saves {n} min against the order given.",
    ),
    "saving_distance": Text(
        "Tiết kiệm {n} km so với thứ tự đã nhập.", "Saves {n} km against the order given."
    ),
    "saving_none": Text("Thứ tự đã nhập đã là tốt nhất.", "The order given is already the best."),
    "min_unit": Text("phút", "min"),
    "kind_road": Text("theo đường bộ", "along the roads"),
    "kind_geodesic": Text("đường thẳng — không có đường bộ", "straight line — no road"),
    "kind_boat": Text("đi thuyền (đường thẳng)", "by boat (straight)"),
    "unreachable": Text("Không đến được", "Cannot be reached"),
    "bad_time": Text(
        "Giờ xuất phát viết dạng giờ:phút, ví dụ 08:00.",
        "Write the start time as hours:minutes, e.g. 08:00.",
    ),
    "name_first": Text("Nhập tên tuyến.", "Enter the route's name."),
    "code_first": Text("Nhập mã tuyến.", "Enter the route's code."),
    "saving_route": Text("Đang lưu tuyến…", "Saving the route…"),
    "saving_stop": Text("Đang lưu điểm dừng {i}/{n}…", "Saving stop {i} of {n}…"),
    "saving_design": Text("Đang lưu lộ trình theo đường…", "Saving the road line…"),
    "saved_all": Text(
        "Đã lưu tuyến {code} với {n} điểm dừng và lịch trình.",
        "Saved route {code} with {n} stops and its timetable.",
    ),
    "partly_saved": Text(
        "Chưa lưu xong: tuyến {code} (số {id}) đã lưu với {done}/{n} điểm dừng; "
        "bước bị lỗi: {step}.",
        "Not all saved: route {code} (no. {id}) is saved with {done} of {n} stops; "
        "the step that failed: {step}.",
    ),
    "step_stop": Text("điểm dừng {i}", "stop {i}"),
    "step_design": Text("lưu lộ trình theo đường", "saving the road line"),
    "nothing_saved": Text("Chưa lưu gì.", "Nothing was saved."),
    "retry": Text("Thử lại", "Retry"),
    "delete_saved": Text("Xóa phần đã lưu", "Delete what was saved"),
    "deleted": Text("Đã xóa tuyến chưa lưu xong.", "The half-saved route was deleted."),
    "link_map": Text("Bản đồ tuyến", "The route's map"),
    "link_item": Text("Trang tuyến", "The route's page"),
    "link_gpx": Text("GPX cho hướng dẫn viên", "GPX for the guide"),
    "link_kml": Text("Tệp KML (Google Earth)", "KML file (Google Earth)"),
    "edit_again": Text("Xây tuyến khác", "Build another route"),
}


# Clock times typed as 24-hour HH:MM text: a time input shows AM/PM on an English-speaking
# browser, whatever the page's language.
CLOCK = 'inputmode="numeric" maxlength="5" placeholder="08:00" autocomplete="off"'


def route_form(lang: str, options: str) -> str:
    """The route's fields (``options`` the code/name/theme/mode/status fields the editor
    builds), its start time, the stops list, the best-order options and the timetable."""

    def words(key: str) -> str:
        return html_text(TEXT[key](lang))

    def choice(value: str, key: str) -> str:
        return f'<option value="{value}">{words(key)}</option>'

    return (
        f"<fieldset><legend>{words('section_route')}</legend>{options}"
        f'<label>{words("start_time")}<input name="start_time" value="08:00" {CLOCK} '
        f'required data-label="{words("start_time")}"></label></fieldset>'
        f'<fieldset class="cm-stops-box"><legend>{words("section_stops")}</legend>'
        f'<p class="cm-hint">{words("stops_hint")}</p>'
        f'<ol id="cm-stops" aria-label="{words("section_stops")}"></ol>'
        f'<p class="cm-hint" id="cm-no-stops">{words("no_stops")}</p></fieldset>'
        f'<fieldset class="cm-order"><legend>{words("section_order")}</legend>'
        f'<label>{words("objective")}<select id="cm-objective">'
        f"{choice('time', 'objective_time')}{choice('distance', 'objective_distance')}"
        f"</select></label>"
        f'<label>{words("end")}<select id="cm-end">{choice("open", "end_open")}'
        f"{choice('fixed', 'end_fixed')}{choice('return', 'end_return')}</select></label>"
        f'<button type="button" id="cm-optimise">{words("optimise")}</button></fieldset>'
        f'<fieldset class="cm-timetable-box"><legend>{words("section_timetable")}</legend>'
        f'<div id="cm-route-summary" role="status" aria-live="polite"></div>'
        f'<div class="cm-table-scroll"><table id="cm-timetable"></table></div></fieldset>'
    )


class RouteBuilder(MacroElement):
    """The route builder's script: stops picked on the map, the preview, the save."""

    _template = Template(
        """
        {% macro header(this, kwargs) %}
        <style>
        #cm-editor.cm-route{width:360px}
        #cm-editor fieldset{min-width:0}
        .leaflet-bottom.leaflet-right{right:380px}
        #cm-editor .cm-hint{margin:2px 0 4px;font-size:12px;color:#555}
        #cm-stops{list-style:none;margin:0;padding:0;max-height:38vh;overflow-y:auto}
        #cm-stops li{border:1px solid #ccc;border-radius:6px;margin:4px 0;padding:4px 6px;
          background:#fafafa}
        #cm-stops li.cm-drag-over{border-color:#d7301f;border-style:dashed}
        #cm-stops li.cm-dragging{opacity:.5}
        #cm-stops .cm-stop-head{display:flex;align-items:center;gap:4px}
        #cm-stops .cm-grip{cursor:grab;font-size:18px;color:#777;padding:0 2px}
        #cm-stops .cm-no{display:inline-block;min-width:24px;height:24px;line-height:24px;
          border-radius:12px;background:#d7301f;color:#fff;text-align:center;font-weight:bold}
        #cm-stops .cm-stop-name{flex:1;font-weight:bold;overflow-wrap:anywhere}
        #cm-stops .cm-stop-name input{font-weight:normal}
        #cm-editor #cm-stops button{margin:0;padding:0;min-width:44px;min-height:44px;
          font-size:16px}
        #cm-stops .cm-stop-row{display:flex;align-items:flex-end;gap:4px;margin-top:2px}
        #cm-editor #cm-stops .cm-stop-row label{flex:1;margin:0;font-size:12px}
        #cm-editor #cm-stops .cm-stop-row input{min-height:30px}
        #cm-stops details{font-size:12px;margin-top:2px}
        #cm-stops summary{cursor:pointer;color:#0b5394;min-height:24px;line-height:24px}
        #cm-stops .cm-stop-fields{display:flex;flex-wrap:wrap;gap:2px 8px}
        #cm-editor #cm-stops .cm-stop-fields label{flex:1 1 40%;margin:2px 0;font-size:12px}
        #cm-editor #cm-stops .cm-check{flex:1 1 45%;display:flex;align-items:center;gap:4px;
          min-height:32px}
        #cm-editor #cm-stops .cm-check input{width:auto}
        #cm-editor .cm-order label{display:inline-block;width:48%}
        #cm-editor #cm-optimise,#cm-editor button[type=submit],#cm-route-links button{
          min-height:44px}
        #cm-route-summary p{margin:3px 0}
        .cm-table-scroll{overflow-x:auto}
        #cm-timetable{border-collapse:collapse;width:100%;font-size:12px}
        #cm-timetable th,#cm-timetable td{padding:2px 3px;border-bottom:1px solid #eee;
          text-align:left;vertical-align:top}
        #cm-timetable td.cm-num{text-align:right;font-variant-numeric:tabular-nums}
        #cm-timetable tr.cm-problem td{background:#fdecea;color:#8a1c12}
        #cm-timetable .cm-leg-note{display:block;font-size:11px;color:#8a4b00}
        #cm-editor .cm-saving{color:#1b7837;font-weight:bold}
        #cm-route-links a{display:inline-block;margin:4px 10px 4px 0}
        #cm-route-links button{margin-right:8px}
        .cm-stop-pin{width:26px;height:26px;border-radius:13px;background:#d7301f;color:#fff;
          border:2px solid #fff;box-shadow:0 0 3px rgba(0,0,0,.6);text-align:center;
          line-height:26px;font:bold 13px/26px sans-serif}
        .cm-leg-label{font-size:11px;color:#8a1c12}
        @media (max-width:600px){
          #cm-editor.cm-route{width:auto}
          .leaflet-bottom.leaflet-right{right:0}
          #cm-stops{max-height:30vh}
          #cm-editor button[type=submit],#cm-optimise{width:100%}
        }
        </style>
        {% endmacro %}
        {% macro script(this, kwargs) %}
        (function() {
          var map = {{ this._parent.get_name() }};
          var villageLayer = {{ this.village_group }};
          var drawnGroup = {{ this.editable_group }};
          var text = {{ this.text_json }};
          var apiRoot = {{ this.api_root_json }};
          var lang = {{ this.lang_json }};
          {{ this.esc_js }}
          var form = document.getElementById('cm-editor');
          form.classList.add('cm-route');
          // The map's own dragging (which cancels every dragstart on the page while a mouse
          // button is down) must not start in the panel: the list is reordered by dragging.
          L.DomEvent.disableClickPropagation(form);
          L.DomEvent.disableScrollPropagation(form);
          var list = document.getElementById('cm-stops');
          var empty = document.getElementById('cm-no-stops');
          var summary = document.getElementById('cm-route-summary');
          var timetable = document.getElementById('cm-timetable');
          var message = form.querySelector('.cm-message');
          var keyInput = form.elements['api_key'];
          var stopPins = L.layerGroup().addTo(map);
          var legLines = L.layerGroup().addTo(map);
          var km = new Intl.NumberFormat(lang, {minimumFractionDigits: 1,
            maximumFractionDigits: 1});
          var whole = new Intl.NumberFormat(lang, {maximumFractionDigits: 0});
          // The stops in the order given: a village (its id, name and place) or a free point.
          var stops = [];
          var lastSaving = null;

          function el(tag, className, words) {
            var node = document.createElement(tag);
            if (className) node.className = className;
            if (words !== undefined) node.textContent = words;
            return node;
          }
          function button(words, glyph, act) {
            var b = el('button', '', glyph);
            b.type = 'button'; b.title = words; b.setAttribute('aria-label', words);
            b.addEventListener('click', act);
            return b;
          }
          function field(label, input) {
            var l = el('label', '', label); l.appendChild(input); return l;
          }
          function check(label, checked, act) {
            var box = document.createElement('input'); box.type = 'checkbox';
            box.checked = checked; box.addEventListener('change', function() {
              act(box.checked); changed(); });
            var l = el('label', 'cm-check'); l.appendChild(box);
            l.appendChild(document.createTextNode(label));
            return l;
          }
          // A clock time as HH:MM (a single-digit hour is taken: 8:30 is 08:30); null if blank.
          var hhmm = /^([01]?[0-9]|2[0-3])[:.h]([0-5][0-9])$/;
          function clockValue(input) {
            var raw = input.value.trim();
            if (raw === '') { input.removeAttribute('aria-invalid'); return null; }
            var m = hhmm.exec(raw);
            if (!m) { input.setAttribute('aria-invalid', 'true'); return undefined; }
            input.removeAttribute('aria-invalid');
            input.value = m[1].padStart(2, '0') + ':' + m[2];
            return input.value;
          }
          function clock(value, act) {
            var input = document.createElement('input');
            input.inputMode = 'numeric'; input.maxLength = 5; input.placeholder = 'hh:mm';
            input.value = value || '';
            input.addEventListener('change', function() {
              var v = clockValue(input);
              if (v !== undefined) { act(v); changed(); }
            });
            return input;
          }
          function move(from, to) {
            if (to < 0 || to >= stops.length || from === to) return;
            var s = stops.splice(from, 1)[0]; stops.splice(to, 0, s);
            lastSaving = null;
            render(); changed();
          }
          var dragFrom = null;
          function render() {
            list.textContent = '';
            empty.hidden = stops.length > 0;
            stops.forEach(function(s, i) {
              var li = el('li'); li.draggable = true; li.dataset.index = String(i);
              var head = el('div', 'cm-stop-head');
              var grip = el('span', 'cm-grip', '\u2630'); grip.title = text.drag;
              grip.setAttribute('aria-hidden', 'true');
              head.appendChild(grip);
              head.appendChild(el('span', 'cm-no', String(i + 1)));
              var name = el('span', 'cm-stop-name');
              if (s.village_id !== undefined) {
                name.textContent = s.name;
              } else {
                var input = document.createElement('input');
                input.value = s.name; input.placeholder = text.free_point;
                input.setAttribute('aria-label', text.free_point); input.required = true;
                input.addEventListener('change', function() {
                  s.name = input.value.trim(); drawPins(); changed(); });
                name.appendChild(input);
                s.input = input;
              }
              head.appendChild(name);
              li.appendChild(head);
              var row = el('div', 'cm-stop-row');
              var dwell = document.createElement('input');
              dwell.type = 'number'; dwell.min = '0'; dwell.step = '5'; dwell.inputMode = 'numeric';
              dwell.className = 'cm-dwell'; dwell.value = String(s.dwell_min);
              dwell.addEventListener('change', function() {
                var v = parseInt(dwell.value, 10);
                if (isNaN(v) || v < 0) { dwell.setAttribute('aria-invalid', 'true'); return; }
                dwell.removeAttribute('aria-invalid'); s.dwell_min = v; changed();
              });
              row.appendChild(field(text.dwell, dwell));
              row.appendChild(button(text.up, '\u2191', function() { move(i, i - 1); }));
              row.appendChild(button(text.down, '\u2193', function() { move(i, i + 1); }));
              row.appendChild(button(text.remove, '\u2715', function() {
                stops.splice(i, 1); lastSaving = null; render(); changed(); }));
              li.appendChild(row);
              // Opening hours and the day's end are not needed for most stops: folded away,
              // open when set.
              var more = el('details', 'cm-stop-more');
              more.open = Boolean(s.opens || s.closes || s.overnight || s.boat || s.more);
              more.addEventListener('toggle', function() { s.more = more.open; });
              more.appendChild(el('summary', '', text.more));
              var fields = el('div', 'cm-stop-fields');
              var opens = clock(s.opens, function(v) { s.opens = v; });
              opens.className = 'cm-opens';
              fields.appendChild(field(text.opens, opens));
              var closes = clock(s.closes, function(v) { s.closes = v; });
              closes.className = 'cm-closes';
              fields.appendChild(field(text.closes, closes));
              fields.appendChild(check(text.overnight, s.overnight, function(v) {
                s.overnight = v; }));
              if (i > 0) {
                fields.appendChild(check(text.boat, s.boat, function(v) { s.boat = v; }));
              }
              more.appendChild(fields);
              li.appendChild(more);
              // HTML5 drag and drop; the buttons do the same for keyboards and phones.
              li.addEventListener('dragstart', function(ev) {
                dragFrom = i; li.classList.add('cm-dragging');
                ev.dataTransfer.effectAllowed = 'move';
                ev.dataTransfer.setData('text/plain', String(i));
              });
              li.addEventListener('dragend', function() { li.classList.remove('cm-dragging'); });
              li.addEventListener('dragover', function(ev) {
                ev.preventDefault(); li.classList.add('cm-drag-over'); });
              li.addEventListener('dragleave', function() { li.classList.remove('cm-drag-over'); });
              li.addEventListener('drop', function(ev) {
                ev.preventDefault(); li.classList.remove('cm-drag-over');
                var from = dragFrom !== null ? dragFrom
                  : parseInt(ev.dataTransfer.getData('text/plain'), 10);
                dragFrom = null;
                if (!isNaN(from)) move(from, i);
              });
              list.appendChild(li);
            });
            drawPins();
          }
          function drawPins() {
            stopPins.clearLayers();
            stops.forEach(function(s, i) {
              var pin = el('div', 'cm-stop-pin', String(i + 1));
              L.marker([s.lat, s.lon], {icon: L.divIcon({html: pin, className: 'cm-stop-wrap',
                iconSize: [26, 26], iconAnchor: [13, 30]}), keyboard: false,
                zIndexOffset: 1000, interactive: true})
                .bindTooltip(esc((i + 1) + '. ' + (s.name || text.free_point)))
                .addTo(stopPins);
            });
          }
          // A village clicked on the map is the next stop.
          villageLayer.on('click', function(e) {
            var layer = e.propagatedFrom || e.layer;
            if (!layer || layer.cmId === undefined || !layer.getLatLng) return;
            var at = layer.getLatLng();
            var name = layer.feature && layer.feature.properties.name;
            stops.push({village_id: layer.cmId, name: name || String(layer.cmId),
              lat: at.lat, lon: at.lng, dwell_min: 60, opens: null, closes: null,
              overnight: false, boat: false});
            lastSaving = null; render(); changed();
          });
          // A marker drawn with the tool is a free point; the pin drawn is the numbered one.
          map.on('draw:created', function(e) {
            if (e.layerType !== 'marker') return;
            var at = e.layer.getLatLng();
            drawnGroup.removeLayer(e.layer); map.removeLayer(e.layer);
            stops.push({name: '', lat: at.lat, lon: at.lng, dwell_min: 30, opens: null,
              closes: null, overnight: false, boat: false});
            lastSaving = null; render();
            var last = stops[stops.length - 1];
            if (last.input) last.input.focus();
            changed();
          });

          function stopBody(s) {
            var body = s.village_id !== undefined ? {village_id: s.village_id}
              : {lon: s.lon, lat: s.lat, name: s.name};
            body.dwell_min = s.dwell_min;
            if (s.opens) body.opens = s.opens;
            if (s.closes) body.closes = s.closes;
            if (s.overnight) body.overnight = true;
            if (s.boat) body.leg_mode = 'boat';
            return body;
          }
          function request(optimise) {
            return {mode: form.elements['mode'].value,
              start_time: clockValue(form.elements['start_time']) || '08:00',
              optimise: optimise, objective: document.getElementById('cm-objective').value,
              end: document.getElementById('cm-end').value, stops: stops.map(stopBody)};
          }
          function say(kind, words) {
            summary.textContent = '';
            summary.appendChild(el('p', kind, words));
          }
          function unnamed() {
            for (var i = 0; i < stops.length; i++) {
              if (stops[i].village_id === undefined && !stops[i].name) return i + 1;
            }
            return 0;
          }
          async function problemText(response) {
            if (response.status === 401) return text.unauthorized;
            if (response.status === 403) return text.forbidden;
            var body = {};
            try { body = await response.json(); } catch (e) {}
            return response.status + ': ' + (body.detail || body.title || response.statusText);
          }
          // The preview on every change, a moment after the last one; an answer to an older
          // request than the last one sent is dropped.
          var timer = null, asked = 0;
          function changed() {
            if (timer) clearTimeout(timer);
            timer = setTimeout(function() { preview(false); }, 400);
          }
          async function preview(optimise) {
            if (timer) { clearTimeout(timer); timer = null; }
            legLines.clearLayers(); timetable.textContent = '';
            if (stops.length < 2) { say('cm-hint', text.need_two); return null; }
            var missing = unnamed();
            if (missing) { say('cm-error', text.name_free.replace('{n}', missing)); return null; }
            var mine = ++asked;
            say('cm-hint', text.working);
            form.dataset.preview = 'busy';
            var answer = null;
            try {
              var url = apiRoot + '/routes/design/preview?lang=' + lang;
              var response = await fetch(url, {method: 'POST',
                headers: {'Content-Type': 'application/json', 'Accept': 'application/json'},
                body: JSON.stringify(request(optimise))});
              if (mine !== asked) return null;
              if (!response.ok) { say('cm-error', await problemText(response)); return null; }
              answer = await response.json();
            } catch (err) {
              if (mine === asked) say('cm-error', String(err));
              return null;
            } finally {
              if (mine === asked) form.dataset.preview = 'done';
            }
            if (mine !== asked) return null;
            if (optimise && Array.isArray(answer.order_after)) {
              // The list takes the order found (1-based places in the list sent); the
              // answer's legs and timetable follow it.
              var given = stops.slice();
              stops = answer.order_after.map(function(k) { return given[k - 1]; })
                .filter(function(s, k, all) { return s !== undefined && all.indexOf(s) === k; });
              given.forEach(function(s) { if (stops.indexOf(s) < 0) stops.push(s); });
              lastSaving = {value: answer.saving, unit: answer.saving_unit};
              render();
            }
            show(answer);
            return answer;
          }
          function legKindWords(kind) {
            return text['kind_' + kind] || kind;
          }
          function minutes(v) {
            return v === null || v === undefined ? '' : whole.format(Number(v));
          }
          function savingWords(saving) {
            var value = Number(saving.value);
            if (isNaN(value)) return '';
            if (value <= 0.05) return text.saving_none;
            return saving.unit === 'km'
              ? text.saving_distance.replace('{n}', km.format(value))
              : text.saving_time.replace('{n}', whole.format(value));
          }
          function show(answer) {
            legLines.clearLayers(); timetable.textContent = ''; summary.textContent = '';
            var legs = answer.legs || [];
            var features = (answer.geojson && answer.geojson.features) || [];
            features.forEach(function(f) {
              if (!f.geometry || f.geometry.type !== 'LineString') return;  // stops: pinned above
              var p = f.properties || {};
              var style = {color: '#d7301f', weight: 5, opacity: 0.85,
                className: 'cm-leg cm-leg-road'};
              if (p.kind === 'geodesic') style = {color: '#6a3d9a', weight: 3, opacity: 0.9,
                dashArray: '10 8', className: 'cm-leg cm-leg-geodesic'};
              if (p.kind === 'boat') style = {color: '#1f78b4', weight: 4, opacity: 0.9,
                dashArray: '2 8', lineCap: 'round', className: 'cm-leg cm-leg-boat'};
              var line = L.geoJSON(f, {style: function() { return style; }});
              var figures = (p.km !== undefined && p.km !== null ? km.format(p.km) + ' km' : '')
                + (p.minutes !== undefined && p.minutes !== null
                  ? ', ' + minutes(p.minutes) + ' ' + text.min_unit : '');
              var short = legKindWords(p.kind) + (figures ? ' \u2014 ' + figures : '');
              // A fallback or boat leg is labelled on the map in a few words; hovering a road
              // leg or clicking any leg gives its figures and the designer's note.
              line.bindTooltip(esc(short), {sticky: p.kind === 'road',
                permanent: p.kind !== 'road', className: 'cm-leg-label', direction: 'center'});
              var popup = el('div', '', short);
              if (p.note) popup.appendChild(el('div', 'cm-leg-note', p.note));
              line.bindPopup(popup);
              line.addTo(legLines);
            });
            summary.appendChild(el('p', 'cm-totals', text.totals
              .replace('{km}', km.format(Number(answer.km) || 0))
              .replace('{drive}', whole.format(Number(answer.drive_min) || 0))
              .replace('{days}', String(answer.days || 1))));
            var rows = answer.timetable || [];
            if (lastSaving) {
              var saved = savingWords(lastSaving);
              if (saved) summary.appendChild(el('p', 'cm-saving', saved));
            }
            var unreachable = answer.unreachable || [];
            if (unreachable.length) {
              summary.appendChild(el('p', 'cm-error', text.unreachable + ': '
                + unreachable.map(function(u) {
                  return (u.name || String(u.seq)) + (u.problem ? ' (' + u.problem + ')' : '');
                }).join('; ')));
            }
            // The day and the wait only when there is one to show: the table fits the panel.
            var showDay = (answer.days || 1) > 1;
            var showWait = rows.some(function(r) { return Number(r.wait_min) > 0; });
            var head = el('tr');
            ['col_no', 'col_stop', showDay && 'col_day', 'col_arrive', 'col_depart', 'col_drive',
             showWait && 'col_wait'].forEach(function(k) {
              if (k) head.appendChild(el('th', '', text[k]));
            });
            timetable.appendChild(head);
            rows.forEach(function(r, i) {
              var tr = el('tr', r.problem ? 'cm-problem' : '');
              tr.appendChild(el('td', 'cm-num', String(r.seq || i + 1)));
              var name = el('td', 'cm-name', r.name || (stops[i] && stops[i].name) || '');
              var leg = i > 0 ? legs[i - 1] : null;
              if (leg && leg.kind && leg.kind !== 'road') {
                name.appendChild(el('span', 'cm-leg-note',
                  legKindWords(leg.kind) + (leg.note ? ': ' + leg.note : '')));
              }
              if (r.problem) name.appendChild(el('span', 'cm-leg-note cm-window', r.problem));
              tr.appendChild(name);
              if (showDay) tr.appendChild(el('td', 'cm-num cm-day', String(r.day || '')));
              tr.appendChild(el('td', 'cm-num cm-arrive', r.arrive || ''));
              tr.appendChild(el('td', 'cm-num cm-depart', r.depart || ''));
              tr.appendChild(el('td', 'cm-num cm-drive', leg ? minutes(leg.minutes) : ''));
              if (showWait) {
                tr.appendChild(el('td', 'cm-num cm-wait', r.wait_min ? minutes(r.wait_min) : ''));
              }
              timetable.appendChild(tr);
            });
          }
          var optimiseButton = document.getElementById('cm-optimise');
          optimiseButton.addEventListener('click', async function() {
            optimiseButton.disabled = true;
            try { await preview(true); } finally { optimiseButton.disabled = false; }
          });
          form.elements['mode'].addEventListener('change', changed);
          form.elements['start_time'].addEventListener('change', function() {
            if (clockValue(form.elements['start_time'])) changed();
          });
          document.getElementById('cm-objective').addEventListener('change', changed);
          document.getElementById('cm-end').addEventListener('change', changed);

          // Saving: the route, then its stops in order, then the design on the route. A step
          // that fails says what is saved already and offers to go on or to delete it.
          var links = el('div'); links.id = 'cm-route-links';
          message.insertAdjacentElement('afterend', links);
          var pending = null;
          function note(kind, words) {
            message.className = 'cm-message ' + kind; message.textContent = words;
            message.scrollIntoView({block: 'nearest'});
          }
          function headers(json) {
            var h = {'Accept': 'application/json'};
            if (json) h['Content-Type'] = json;
            if (keyInput.value) h['Authorization'] = 'Bearer ' + keyInput.value;
            return h;
          }
          function routeProperties() {
            var p = {};
            ['code', 'name', 'theme', 'mode', 'status', 'start_time'].forEach(function(k) {
              var v = form.elements[k] && form.elements[k].value.trim();
              if (v) p[k] = v;
            });
            return p;
          }
          async function saveAll() {
            links.textContent = '';
            sessionStorage.setItem('craftmap-key', keyInput.value);
            var plan = pending;
            if (!plan) {
              var p = routeProperties();
              if (clockValue(form.elements['start_time']) === undefined) {
                form.elements['start_time'].focus(); note('cm-error', text.bad_time); return;
              }
              var absent = !p.name ? 'name' : (!p.code ? 'code' : null);
              if (absent) {
                form.elements[absent].focus(); note('cm-error', text[absent + '_first']);
                return;
              }
              if (stops.length < 2) { note('cm-error', text.need_two); return; }
              var missing = unnamed();
              if (missing) { note('cm-error', text.name_free.replace('{n}', missing)); return; }
              plan = {properties: p, stops: stops.map(function(s) { return s; }), id: null,
                done: 0, designed: false};
            }
            var response;
            if (plan.id === null) {
              note('', text.saving_route);
              response = await fetch(apiRoot + '/collections/routes/items', {method: 'POST',
                headers: headers('application/geo+json'), body: JSON.stringify(
                  {type: 'Feature', geometry: null, properties: plan.properties})});
              if (response.status !== 201) {
                pending = null;
                note('cm-error', (await problemText(response)) + ' ' + text.nothing_saved);
                return;
              }
              plan.id = (await response.json()).id;
              pending = plan;
            }
            var items = apiRoot + '/collections/route-stops/items';
            while (plan.done < plan.stops.length) {
              var s = plan.stops[plan.done];
              note('', text.saving_stop.replace('{i}', plan.done + 1)
                .replace('{n}', plan.stops.length));
              var properties = Object.assign({route_id: plan.id, seq: plan.done + 1},
                stopBody(s));
              delete properties.lon; delete properties.lat;
              // A village stop stands where its village stands: the API places it.
              var point = s.village_id !== undefined ? null
                : {type: 'Point', coordinates: [s.lon, s.lat]};
              response = await fetch(items, {method: 'POST',
                headers: headers('application/geo+json'), body: JSON.stringify({type: 'Feature',
                  geometry: point, properties: properties})});
              if (response.status !== 201) {
                return failed(plan, text.step_stop.replace('{i}', plan.done + 1), response);
              }
              plan.done += 1;
            }
            note('', text.saving_design);
            response = await fetch(apiRoot + '/routes/' + encodeURIComponent(plan.id) + '/design',
              {method: 'POST', headers: headers('application/json'), body: JSON.stringify(
                {optimise: false, objective: document.getElementById('cm-objective').value,
                 end: document.getElementById('cm-end').value})});
            if (!response.ok) return failed(plan, text.step_design, response);
            pending = null;
            note('cm-ok', text.saved_all.replace('{code}', plan.properties.code)
              .replace('{n}', plan.stops.length));
            form.dataset.savedRoute = String(plan.id);
            var id = encodeURIComponent(plan.id);
            [[apiRoot + '/maps/routes/' + id + '?lang=' + lang, text.link_map],
             [apiRoot + '/collections/routes/items/' + id + '?f=html', text.link_item],
             [apiRoot + '/routes/' + id + '/gpx', text.link_gpx],
             [apiRoot + '/routes/' + id + '/kml', text.link_kml]].forEach(function(pair) {
              var a = el('a', '', pair[1]); a.href = pair[0]; links.appendChild(a);
            });
            links.scrollIntoView({block: 'nearest'});
          }
          async function failed(plan, step, response) {
            var detail = await problemText(response);
            note('cm-error', text.partly_saved.replace('{code}', plan.properties.code)
              .replace('{id}', plan.id).replace('{done}', plan.done)
              .replace('{n}', plan.stops.length).replace('{step}', step) + '\\n' + detail);
            links.textContent = '';
            links.appendChild(button(text.retry, text.retry, function() { saveAll(); }));
            links.appendChild(button(text.delete_saved, text.delete_saved, async function() {
              var answer = await fetch(apiRoot + '/collections/routes/items/'
                + encodeURIComponent(plan.id), {method: 'DELETE', headers: headers(null)});
              if (answer.ok) {
                pending = null; links.textContent = ''; note('cm-ok', text.deleted);
              } else {
                note('cm-error', await problemText(answer));
              }
            }));
            links.scrollIntoView({block: 'nearest'});
          }
          form.addEventListener('submit', function(ev) { ev.preventDefault(); saveAll(); });
          render();
          say('cm-hint', text.need_two);
        })();
        {% endmacro %}
        """
    )

    def __init__(
        self,
        lang: str,
        api_root: str,
        editable_group: str,
        village_group: str,
        words: dict[str, str],
    ) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self._name = "RouteBuilder"
        self.editable_group = editable_group
        self.village_group = village_group
        self.api_root_json = script_json(api_root)
        self.lang_json = script_json(lang)
        self.text_json = script_json({**{k: t(lang) for k, t in TEXT.items()}, **words})
        self.esc_js = ESC_JS
