"""The planner's analysis maps (issue 14): supply coverage and suggested zone sites.

Pure builders, like ``maps.build``: they receive the workflow's frames as a ``CoverageView``
or a ``SitesView`` (the router fills them) and return a folium map with a side panel of
totals, a legend for every thematic layer and a print layout (A4 landscape).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import folium
import geopandas as gpd
import pandas as pd
from branca.element import Element, MacroElement
from folium import plugins
from folium.template import Template

from geo.kernel import vocab
from geo.kernel.text import Text, number
from geo.workflows import coverage as coverage_workflow
from geo.workflows import siting as siting_workflow
from maps import build, layers, styles
from maps.escape import html_text, script_json

TEXT: dict[str, Text] = {
    "coverage_title": Text("Bản đồ cung ứng nguyên liệu", "Raw-material supply map"),
    "sites_title": Text("Gợi ý vị trí vùng nguyên liệu mới", "Suggested sites for new zones"),
    "overview": Text("← Bản đồ tổng quan", "← Overview map"),
    "analysis": Text("Phân tích", "Analysis"),
    "panel": Text("Kết quả", "Results"),
    "totals": Text("Tổng hợp", "Totals"),
    "parameters": Text("Tham số", "Parameters"),
    "downloads": Text("Cùng phân tích dạng", "The same analysis as"),
    "missing": Text("Thiếu số liệu (không tính)", "Missing figures (left out)"),
    "no_missing": Text("Không có", "None"),
    "more_missing": Text(
        "… và {count} mục khác (xem bản JSON, CSV)", "… and {count} more (see the JSON, CSV)"
    ),
    "demand": Text("Nhu cầu", "Demand"),
    "supplied": Text("Được cung ứng", "Supplied"),
    "unmet": Text("Thiếu hụt", "Unmet demand"),
    "covered_share": Text("Tỷ lệ đáp ứng", "Share of demand supplied"),
    "tonne_km": Text("Khối lượng vận chuyển", "Transport work"),
    "villages_short": Text("Làng còn thiếu", "Villages short"),
    "zones": Text("Vùng nguyên liệu", "Zones"),
    "distance": Text("Khoảng cách", "Distance"),
    "road": Text("theo đường bộ (mạng {network})", "along roads (network {network})"),
    "geodesic": Text("đường chim bay trên elipxoit", "straight line on the ellipsoid"),
    "origins": Text("Nguồn số liệu", "Figures"),
    "estimates": Text(
        "{estimates}/{figures} số liệu là ước tính",
        "{estimates} of {figures} figures are estimates",
    ),
    "of": Text("{part} trên {whole}", "{part} of {whole}"),
    "material": Text("Nguyên liệu", "Material"),
    "haul_km": Text("Cự ly vận chuyển tối đa", "Longest haul"),
    "mode": Text("Cách tính khoảng cách", "Distance mode"),
    "year": Text("Năm số liệu", "Figures of year"),
    "include": Text("Tính cả vùng", "Zones included"),
    "latest": Text("mới nhất", "latest"),
    "produced": Text("Ngày lập", "Produced on"),
    "code": Text("Mã", "Code"),
    "capacity": Text("Sản lượng/năm", "Yearly capacity"),
    "used": Text("Đã phân bổ", "Allocated"),
    "use_share": Text("Tỷ lệ sử dụng", "Share used"),
    "serves": Text("Cung ứng cho", "Supplies"),
    "supplied_by": Text("Nhận từ", "Supplied by"),
    "flow": Text("Luồng cung ứng", "Supply flow"),
    "tonnes": Text("Khối lượng", "Tonnes"),
    "km": Text("Quãng đường", "Distance"),
    "flows_layer": Text("Luồng cung ứng (vùng → làng)", "Supply flows (zone → village)"),
    "flows_scale": Text(
        "Độ rộng đường theo căn bậc hai khối lượng (tấn/năm)",
        "Line width follows the square root of tonnes a year",
    ),
    "unmet_layer": Text("Nhu cầu chưa được đáp ứng", "Unmet demand"),
    "unmet_scale": Text(
        "Diện tích vòng tròn tỷ lệ với số tấn thiếu/năm",
        "Circle area proportional to tonnes short a year",
    ),
    "zones_layer": Text("Vùng nguyên liệu", "Raw-material zones"),
    "zones_note": Text(
        "Nhấn vào vùng để xem tỷ lệ sử dụng", "Click a zone for the share of it used"
    ),
    "print": Text("In bản đồ", "Print"),
    "fold": Text("Thu gọn / mở bảng kết quả", "Fold / unfold the results"),
    "sites_layer": Text("Vị trí đề xuất (xếp hạng)", "Suggested sites (ranked)"),
    "excluded_layer": Text("Ô bị loại gần đó", "Cells left out nearby"),
    "exclusions_layer": Text("Vùng cấm, hạn chế", "Exclusion areas"),
    "short_layer": Text("Làng còn thiếu (tấn/năm)", "Villages short (tonnes a year)"),
    "rank": Text("Hạng", "Rank"),
    "site": Text("Vị trí {rank}", "Site {rank}"),
    "score": Text("Nhu cầu phục vụ được", "Demand it would serve"),
    "villages_served": Text("Làng được phục vụ", "Villages served"),
    "excluded_nearby": Text("Ô gần đó bị loại vì", "Cells nearby left out because"),
    "ranking": Text("Xếp hạng", "Ranking"),
    "cell": Text("Ô lưới", "Grid cell"),
    "k": Text("Số vùng mới", "New zones"),
    "resolution": Text("Độ phân giải lưới H3", "H3 grid resolution"),
    "served_total": Text("Tổng nhu cầu phục vụ được", "Demand served in all"),
    "unmet_before": Text("Thiếu hụt hiện nay", "Unmet demand today"),
    "save_site": Text(
        "Lưu một vị trí thành vùng đề xuất: POST /analysis/sites/save (khóa quy hoạch)",
        "Save a site as a proposed zone: POST /analysis/sites/save (planner key)",
    ),
    "api_doc": Text("Tài liệu API", "API document"),
    "no_sites": Text("Không có vị trí nào phù hợp", "No site qualifies"),
    "village": Text("Làng", "Village"),
    "zone": Text("Vùng", "Zone"),
}


@dataclass(frozen=True)
class Missing:
    """A village or zone left out of the analysis for want of a figure."""

    kind: str  # "village" or "zone"
    code: str
    name: str
    reason: str


@dataclass(frozen=True)
class CoverageTotals:
    """The coverage analysis in figures (tonnes a year)."""

    demand_t: float
    supplied_t: float
    unmet_t: float
    covered_share: float | None
    tonne_km: float
    villages_short: int
    villages: int
    zones: int
    estimates: int = 0
    figures: int = 0


@dataclass(frozen=True)
class CoverageView:
    """What the coverage map draws; frames in EPSG:4326.

    ``villages``: code, name, demand_t, supplied_t, covered_share, unmet_t (points);
    ``zones``: code, name, material, capacity_t, used_t, use_share (polygons);
    ``flows``: zone_code, village_code, tonnes, km (lines).
    """

    villages: gpd.GeoDataFrame
    zones: gpd.GeoDataFrame
    flows: gpd.GeoDataFrame
    totals: CoverageTotals
    distance_mode: str
    network: str | None = None
    missing: Sequence[Missing] = ()
    note: str | None = None


@dataclass(frozen=True)
class Parameters:
    """An analysis's parameters as the panel lists them, and links to its other faces."""

    rows: Sequence[tuple[Text, str]]
    downloads: Sequence[tuple[str, str]] = ()
    extra_links: Sequence[tuple[str, str]] = field(default_factory=tuple)


def coverage_view_of(
    result: coverage_workflow.CoverageResult, places: gpd.GeoDataFrame | None = None
) -> CoverageView:
    """The coverage map's view of a workflow result.

    ``places`` (id, code, name, point) locates the villages the result lists as missing a
    demand figure, so that the map shows them in the "no demand figure" class.
    """
    villages = result.villages.copy()
    if places is not None and len(places):
        known = set(villages["id"])
        extra = places[~places["id"].isin(known)].copy()
        for column in ("demand_t", "supplied_t", "covered_share", "unmet_t"):
            extra[column] = float("nan")
        villages = gpd.GeoDataFrame(
            pd.concat([villages, extra], ignore_index=True), geometry="geometry", crs=4326
        )
    zones = result.zones.copy()
    zones["material"] = result.request.material
    estimates = sum(
        int(frame["figure_estimate"].fillna(False).astype(bool).sum())
        for frame in (result.villages, result.zones)
        if "figure_estimate" in frame
    )
    t = result.totals
    totals = CoverageTotals(
        demand_t=t.demand_t,
        supplied_t=t.supplied_t,
        unmet_t=t.unmet_t,
        covered_share=t.supplied_t / t.demand_t if t.demand_t > 0 else None,
        tonne_km=t.tonne_km,
        villages_short=t.villages_short,
        villages=t.villages,
        zones=t.zones,
        estimates=estimates,
        figures=len(result.villages) + len(result.zones),
    )
    missing = [Missing(m.kind, m.code or "", m.name or "", m.reason) for m in result.missing]
    return CoverageView(
        villages=villages,
        zones=zones,
        flows=result.flows,
        totals=totals,
        distance_mode=result.distance_mode,
        network=result.network,
        missing=missing,
        note=result.note,
    )


def coverage_class(demand: Any, share: Any, unmet: Any) -> str:
    """A village's class on the coverage map (``styles.COVERAGE_CLASSES``' codes).

    >>> [coverage_class(*v) for v in [(None, None, None), (10, 0, 10), (10, .3, 7),
    ...  (10, .5, 5), (10, .99, .1), (10, 1, 0), (0, None, 0)]]
    ['unknown', 'none', 'low', 'most', 'most', 'full', 'full']
    """
    if not layers.given(demand):
        return "unknown"
    if float(demand) <= 0 or (layers.given(unmet) and float(unmet) <= 1e-6):
        return "full"
    share = float(share) if layers.given(share) else 0.0
    if share <= 0:
        return "none"
    return "low" if share < 0.5 else "most"


def _tonnes(value: Any, lang: str) -> str:
    return f"{number(float(value), lang, 1)} t" if layers.given(value) else "—"


def _share(value: Any, lang: str) -> str:
    return f"{number(float(value) * 100, lang, 1)} %" if layers.given(value) else "—"


def _km(value: Any, lang: str) -> str:
    return f"{number(float(value), lang, 1)} km" if layers.given(value) else "—"


def _names(frame: gpd.GeoDataFrame) -> dict[str, str]:
    if frame.empty:
        return {}
    return {str(c): str(n) for c, n in zip(frame["code"], frame["name"], strict=True)}


def _card(title: str, rows: Sequence[tuple[str, str]], links: Sequence[tuple[str, str]]) -> str:
    """A popup card of pre-formatted rows; every text escaped for a template literal."""
    body = "".join(
        f"<tr><th>{html_text(label)}</th><td>{html_text(value)}</td></tr>" for label, value in rows
    )
    anchors = " · ".join(
        f'<a href="{html_text(href)}" target="_blank" rel="noopener">{html_text(text)}</a>'
        for text, href in links
    )
    return (
        f'<div class="cm-card"><h4>{html_text(title)}</h4><table>{body}</table>'
        f'<p class="cm-links">{anchors}</p></div>'
    )


def _item_links(settings: build.MapSettings, collection: str, row: Any) -> list[tuple[str, str]]:
    if not layers.given(row.get("id")):
        return []
    return build._links(settings, collection, row["id"])


def flow_width(tonnes: float, largest: float) -> float:
    """A flow's line width in pixels: square root of its tonnes, thin flows still seen.

    >>> flow_width(400, 400), flow_width(100, 400), flow_width(0.01, 400)
    (12.0, 6.0, 1.5)
    """
    return round(
        layers.sqrt_scale(tonnes, largest, styles.FLOW_MAX_WIDTH, least=styles.FLOW_MIN_WIDTH),
        2,
    )


def _swatch_line(width: float) -> str:
    return (
        f'<svg width="36" height="{max(14, int(width) + 4)}" aria-hidden="true">'
        f'<line x1="2" x2="34" y1="50%" y2="50%" stroke="{styles.FLOW_COLOUR}" '
        f'stroke-width="{width}" stroke-linecap="round"/></svg>'
    )


def _circles_legend(values: list[float], largest: float, lang: str) -> str:
    """Nested reference circles, sized as the map's (area proportional to tonnes)."""
    if not values:
        return ""
    biggest = layers.sqrt_scale(values[0], largest, styles.CIRCLE_MAX_RADIUS)
    size = int(2 * biggest + 4)
    shapes, labels = [], []
    for value in values:
        r = layers.sqrt_scale(value, largest, styles.CIRCLE_MAX_RADIUS)
        cy = size - 2 - r
        shapes.append(
            f'<circle cx="{biggest + 2:.1f}" cy="{cy:.1f}" r="{r:.1f}" '
            f'fill="{styles.UNMET_COLOUR}" fill-opacity="0.2" stroke="{styles.UNMET_COLOUR}"/>'
        )
        labels.append(html_text(_tonnes(value, lang)))
    return (
        f'<div class="cm-circles"><svg width="{size}" height="{size}" aria-hidden="true">'
        f"{''.join(shapes)}</svg><span>{'<br>'.join(labels)}</span></div>"
    )


def _legend_block(title: str, rows: list[str], note: str = "") -> str:
    # A layer with nothing drawn (no flows, nobody short, no zones) gets no block.
    if not any(rows):
        return ""
    noted = f'<p class="cm-note">{html_text(note)}</p>' if note else ""
    # One block, kept whole when the printed legend runs in two columns.
    body = "".join(rows)
    return f'<section class="cm-legend-block"><h5>{html_text(title)}</h5>{body}{noted}</section>'


def _class_rows(lang: str) -> list[str]:
    theme = styles.COVERAGE_CLASSES
    return [
        f'<div data-class="{code}"><span class="cm-swatch" style="background:{colour}">'
        f'<i class="fa-solid fa-{theme.icon(code)}" style="color:#fff;font-size:9px"></i>'
        f"</span>{html_text(styles.COVERAGE_CLASS_LABELS[code](lang))}</div>"
        for code, colour in theme.colours.items()
    ]


def _material_rows(frame: gpd.GeoDataFrame, lang: str) -> list[str]:
    present = {str(m) for m in frame.get("material", []) if layers.given(m)}
    return [
        f'<div><span class="cm-swatch" style="background:{colour};opacity:.7"></span>'
        f"{html_text(vocab.label('material', code, lang))}</div>"
        for code, colour in styles.MATERIALS.colours.items()
        if code in present
    ]


def _fit_bounds(frames: list[gpd.GeoDataFrame]) -> list[list[float]] | None:
    return build._bounds([f for f in frames if f is not None and len(f)])


def _panel(
    panel_id: str,
    title: str,
    sections: Sequence[tuple[str, str]],
    settings: build.MapSettings,
) -> str:
    """The side panel, the route map's look: a card beside the map, folded on phones."""
    lang, root = settings.lang, settings.api_root
    overview = html_text(f"{root}/maps?lang={lang}")
    analysis = html_text(f"{root}/analysis?lang={lang}")
    # The links to the other faces matter on screen only (hidden on paper).
    downloads = TEXT["downloads"](lang)
    marked = ' class="cm-downloads"'
    body = "".join(
        f"<section{marked if heading == downloads else ''}>"
        f"<h2>{html_text(heading)}</h2>{content}</section>"
        for heading, content in sections
    )
    return f"""
<aside id="{panel_id}" class="cm-panel" aria-labelledby="{panel_id}-title">
<nav class="cm-nav"><a href="{overview}">{html_text(TEXT["overview"](lang))}</a>
<a href="{analysis}">{html_text(TEXT["analysis"](lang))}</a></nav>
<div class="cm-panel-head"><h1 id="{panel_id}-title">{html_text(title)}</h1>
<button type="button" class="cm-fold" aria-expanded="true" aria-controls="{panel_id}-body"
 title="{html_text(TEXT["fold"](lang))}" aria-label="{html_text(TEXT["fold"](lang))}"></button>
</div>
<div class="cm-panel-body" id="{panel_id}-body">{body}
<button type="button" class="cm-print-button">{html_text(TEXT["print"](lang))}</button></div>
</aside>"""


_PANEL_CSS = """
<style>
.cm-panel{position:absolute;top:10px;left:56px;z-index:1000;width:340px;
  max-height:calc(100% - 60px);box-sizing:border-box;overflow:auto;
  background:rgba(255,255,255,.96);padding:10px 14px;border-radius:8px;
  font:13px/1.4 sans-serif;color:#222;box-shadow:0 1px 6px rgba(0,0,0,.35);
  overflow-wrap:anywhere}
.cm-panel h1{font-size:17px;margin:6px 0 4px}
.cm-panel h2{font-size:13px;margin:10px 0 4px;color:#555}
.cm-panel .cm-nav{display:flex;justify-content:space-between;gap:8px;font-size:12px}
.cm-panel a{color:#0b5394}
.cm-panel-head{display:flex;align-items:flex-start;justify-content:space-between;gap:6px}
.cm-panel .cm-fold{flex:none;margin-top:6px;width:28px;height:26px;border:1px solid #bbb;
  border-radius:4px;background:#fff;cursor:pointer;font-size:14px}
.cm-panel .cm-fold::after{content:"▴"}.cm-panel.cm-folded .cm-fold::after{content:"▾"}
.cm-panel.cm-folded .cm-panel-body{display:none}
.cm-panel table{border-collapse:collapse;width:100%}
.cm-panel th{text-align:left;font-weight:normal;color:#444;padding:1px 8px 1px 0;
  vertical-align:top}
.cm-panel td{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.cm-panel td.cm-wrap{white-space:normal;text-align:left}
.cm-panel ul,.cm-panel ol{margin:0;padding-left:18px}
.cm-panel ol.cm-ranking{list-style:none;padding-left:0}
.cm-panel ol.cm-ranking li{display:flex;gap:8px;align-items:flex-start;margin:0 0 6px}
.cm-panel .cm-no{flex:none;width:20px;height:20px;border-radius:50%;
  border:2px solid #7a0177;font:bold 11px/20px sans-serif;text-align:center;background:#fff}
.cm-panel small{color:#555}
.cm-panel .cm-print-button{margin-top:8px;padding:4px 10px;font-size:13px}
.cm-legend .cm-note{margin:2px 0 4px;max-width:220px;color:#555;font-size:11px}
.cm-legend .cm-circles{display:flex;align-items:flex-end;gap:8px}
.cm-legend .cm-circles span{line-height:1.5}
.cm-rank{border-color:#7a0177}
/* On a phone the panel is a folded bar along the top, left of the map's buttons. */
@media (max-width: 600px) {
  .cm-panel{top:8px;left:8px;right:60px;width:auto;max-height:62%;padding:6px 10px}
  .cm-panel h1{font-size:15px;margin:2px 0}
}
html.cm-print .folium-map{position:relative !important;width:190mm !important;
  height:185mm !important}
@media print {
  @page {size: A4 landscape; margin: 10mm}
  html,body{height:auto !important}
  .cm-panel{position:static;float:left;width:80mm;max-height:none;box-shadow:none;
    padding:0;background:none;font-size:9pt}
  .cm-panel.cm-folded .cm-panel-body{display:block}
  .cm-panel a{color:inherit;text-decoration:none}
  .cm-panel button,.cm-panel .cm-nav,.leaflet-control-zoom,.leaflet-control-layers,
  .leaflet-control-fullscreen{display:none}
  .cm-legend.cm-collapsed .cm-legend-body{display:block}
  .cm-legend-toggle{display:none}
  .cm-panel{font-size:8pt}
  .cm-panel h1{font-size:12pt}
  .cm-panel h2{margin:6px 0 2px}
  .cm-panel section.cm-downloads{display:none}
  .cm-panel .cm-legend{box-shadow:none;padding:0;margin-top:4px;max-height:none;
    background:none;font-size:7pt}
  .cm-panel .cm-legend-body{columns:2;column-gap:4mm}
  .cm-panel .cm-legend-block{break-inside:avoid}
  .cm-panel .cm-legend h5{margin:3px 0 1px;font-size:7pt;break-after:avoid}
  .cm-panel .cm-legend .cm-note{font-size:6.5pt}
  .folium-map{position:relative !important;width:190mm !important;height:185mm !important;
    margin-left:87mm;page-break-inside:avoid;print-color-adjust:exact;
    -webkit-print-color-adjust:exact}
}
</style>
"""


class _PanelBehaviour(MacroElement):
    """Folds the panel on small screens, fits the data beside it, and prints on paper size.

    The data goes into the part of the map the panel leaves free (right of it on a desktop,
    above it on a phone); for print the map takes its paper size before it is fitted.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function(map) {
          var panel = document.getElementById({{ this.panel_json }});
          var fold = panel.querySelector('.cm-fold');
          var bounds = {{ this.bounds_json }};
          var html = document.documentElement, printing = window.matchMedia('print');
          function folded(yes) {
            panel.classList.toggle('cm-folded', yes);
            fold.setAttribute('aria-expanded', yes ? 'false' : 'true');
          }
          folded(window.matchMedia({{ this.small_json }}).matches);
          // Room for the data: right of the panel on a desktop, below it on a phone, left
          // of the layer list and the legend (on paper too, where the legend stays).
          function padding(printed) {
            var c = map.getContainer(), m = c.getBoundingClientRect();
            // The largest circle's radius plus some air: no symbol is cut by the edge.
            var tl = [36, 36], br = [36, 36];
            c.querySelectorAll('.leaflet-control-layers, .cm-legend').forEach(function(el) {
              var r = el.getBoundingClientRect();
              if (r.width) br[0] = Math.max(br[0], m.right - r.left + 36);
            });
            var p = panel.getBoundingClientRect();
            if (!printed && p.width && p.right > m.left && p.left < m.right) {
              if (p.width < m.width * 0.6) { tl[0] = Math.max(tl[0], p.right - m.left + 24); }
              else { tl[1] = Math.max(tl[1], p.bottom - m.top + 24); }
            }
            return {paddingTopLeft: tl, paddingBottomRight: br, animate: false, maxZoom: 14};
          }
          function fit(printed) {
            map.invalidateSize({pan: false});
            if (bounds) map.fitBounds(bounds, padding(printed));
          }
          L.DomEvent.on(fold, 'click', function() {
            folded(!panel.classList.contains('cm-folded'));
          });
          // The legend folds and unfolds too: the data makes room for it.
          map.getContainer().addEventListener('click', function(e) {
            if (e.target.closest && e.target.closest('.cm-legend-toggle')) fit(false);
          });
          L.DomEvent.disableClickPropagation(panel);
          L.DomEvent.disableScrollPropagation(panel);
          // On paper the legend goes into the panel's column, off the map: it would cover
          // data in the corner it holds on screen.
          var legendHome = null;
          function legendToPanel(yes) {
            var legend = document.querySelector('.cm-legend');
            if (!legend) return;
            if (yes && !legendHome) {
              legendHome = legend.parentNode; panel.appendChild(legend);
            } else if (!yes && legendHome) {
              legendHome.appendChild(legend); legendHome = null;
            }
          }
          function toPrint() { html.classList.add('cm-print'); legendToPanel(true); fit(true); }
          function toScreen() {
            html.classList.remove('cm-print'); legendToPanel(false); fit(false);
          }
          window.addEventListener('beforeprint', toPrint);
          window.addEventListener('afterprint', toScreen);
          printing.addEventListener('change', function(e) {
            if (e.matches) { toPrint(); } else { toScreen(); }
          });
          panel.querySelector('.cm-print-button').addEventListener('click', function() {
            toPrint();
            setTimeout(function() { window.print(); }, 300);
          });
          map.whenReady(function() { if (printing.matches) { toPrint(); } else { fit(false); } });
        })({{ this._parent.get_name() }});
        {% endmacro %}
        """
    )

    def __init__(self, panel_id: str, bounds: list[list[float]] | None) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self._name = "PanelBehaviour"
        self.panel_json = script_json(panel_id)
        self.bounds_json = script_json(bounds)
        self.small_json = script_json(build.SMALL_SCREEN)


def _folded_layers(lang: str) -> folium.LayerControl:
    """The layer list behind its button: open, it would cover the data beside the panel."""
    control = build._SmallScreenLayers(lang)
    control.options["collapsed"] = True
    return control


def _table(rows: Sequence[tuple[str, str]], *, css: str = "") -> str:
    cells = "".join(
        f"<tr><th>{html_text(label)}</th><td{css}>{html_text(value)}</td></tr>"
        for label, value in rows
    )
    return f"<table>{cells}</table>"


def _links_html(links: Sequence[tuple[str, str]]) -> str:
    return " · ".join(f'<a href="{html_text(href)}">{html_text(text)}</a>' for text, href in links)


def _distance_words(view: CoverageView, lang: str) -> str:
    if view.distance_mode == "road":
        return TEXT["road"].format(network=view.network or "—")(lang)
    return TEXT["geodesic"](lang)


def coverage_totals_rows(view: CoverageView, lang: str) -> list[tuple[str, str]]:
    """The panel's totals, formatted for ``lang`` (the tests compare them with the workflow)."""
    t = view.totals
    rows = [
        (TEXT["demand"](lang), _tonnes(t.demand_t, lang)),
        (TEXT["supplied"](lang), _tonnes(t.supplied_t, lang)),
        (TEXT["unmet"](lang), _tonnes(t.unmet_t, lang)),
        (TEXT["covered_share"](lang), _share(t.covered_share, lang)),
        (TEXT["tonne_km"](lang), f"{number(float(t.tonne_km), lang, 1)} t·km"),
        (
            TEXT["villages_short"](lang),
            TEXT["of"].format(part=t.villages_short, whole=t.villages)(lang),
        ),
        (TEXT["zones"](lang), str(t.zones)),
        (TEXT["distance"](lang), _distance_words(view, lang)),
    ]
    if t.figures:
        rows.append(
            (
                TEXT["origins"](lang),
                TEXT["estimates"].format(estimates=t.estimates, figures=t.figures)(lang),
            )
        )
    return rows


# The panel lists this many missing figures; the JSON and CSV list them all.
MISSING_SHOWN = 20


def _missing_html(missing: Sequence[Missing], lang: str) -> str:
    if not missing:
        return f"<p>{html_text(TEXT['no_missing'](lang))}</p>"
    more = len(missing) - MISSING_SHOWN
    missing = missing[:MISSING_SHOWN]
    rest = (
        f"<li>{html_text(TEXT['more_missing'].format(count=number(more, lang))(lang))}</li>"
        if more > 0
        else ""
    )
    items = "".join(
        f"<li><strong>{html_text(TEXT[m.kind](lang) if m.kind in TEXT else m.kind)} "
        f"{html_text(m.code)}</strong> {html_text(m.name)}<br><small>{html_text(m.reason)}"
        "</small></li>"
        for m in missing
    )
    return f'<ul class="cm-missing">{items}{rest}</ul>'


def build_coverage_map(
    view: CoverageView, parameters: Parameters, settings: build.MapSettings
) -> folium.Map:
    """Who supplies whom: zones, flows (width by tonnes), villages by share supplied and
    unmet demand as graduated circles, with the totals, parameters and missing figures."""
    lang = settings.lang
    villages = view.villages.copy()
    zones = view.zones.copy()
    flows = view.flows.copy()
    village_names, zone_names = _names(villages), _names(zones)
    villages["coverage_class"] = [
        coverage_class(d, s, u)
        for d, s, u in zip(
            villages["demand_t"], villages["covered_share"], villages["unmet_t"], strict=True
        )
    ]
    m = build._base_map(settings, None)
    m.options["zoomSnap"] = 0.25
    title = TEXT["coverage_title"](lang)
    build._root(m).title = html_text(f"{title} — craftmap")

    def supplied_by(code: str) -> str:
        rows = flows[flows["village_code"].astype(str) == code]
        return "; ".join(
            f"{zone_names.get(str(r.zone_code), str(r.zone_code))}: "
            f"{_tonnes(r.tonnes, lang)}, {_km(r.km, lang)}"
            for r in rows.itertuples()
        )

    def serves(code: str) -> str:
        rows = flows[flows["zone_code"].astype(str) == code]
        return "; ".join(
            f"{village_names.get(str(r.village_code), str(r.village_code))}: "
            f"{_tonnes(r.tonnes, lang)}"
            for r in rows.itertuples()
        )

    def zone_card(row: Any) -> str:
        return _card(
            str(row["name"]),
            [
                (TEXT["code"](lang), str(row["code"])),
                (TEXT["material"](lang), vocab.label("material", str(row.get("material")), lang)),
                (TEXT["capacity"](lang), _tonnes(row.get("capacity_t"), lang)),
                (TEXT["used"](lang), _tonnes(row.get("used_t"), lang)),
                (TEXT["use_share"](lang), _share(row.get("use_share"), lang)),
                (TEXT["serves"](lang), serves(str(row["code"])) or "—"),
            ],
            _item_links(settings, "material-zones", row),
        )

    def village_card(row: Any) -> str:
        return _card(
            str(row["name"]),
            [
                (TEXT["code"](lang), str(row["code"])),
                (TEXT["demand"](lang), _tonnes(row.get("demand_t"), lang)),
                (TEXT["supplied"](lang), _tonnes(row.get("supplied_t"), lang)),
                (TEXT["covered_share"](lang), _share(row.get("covered_share"), lang)),
                (TEXT["unmet"](lang), _tonnes(row.get("unmet_t"), lang)),
                (TEXT["supplied_by"](lang), supplied_by(str(row["code"])) or "—"),
            ],
            _item_links(settings, "villages", row),
        )

    # Drawn bottom-up: zones, flows, unmet circles, villages on top.
    zone_theme = styles.Theme(TEXT["zones_layer"], "material", "material", styles.MATERIALS.colours)
    layers.thematic_layer(zones, zone_theme, lang=lang, popup=zone_card).add_to(m)

    largest_flow = float(flows["tonnes"].max()) if len(flows) else 0.0
    flow_theme = styles.Theme(TEXT["flows_layer"], "kind", "", {}, default=styles.FLOW_COLOUR)
    flows["name"] = [
        f"{zone_names.get(str(z), str(z))} → {village_names.get(str(v), str(v))}"
        for z, v in zip(flows["zone_code"], flows["village_code"], strict=True)
    ]
    layers.thematic_layer(
        flows,
        flow_theme,
        lang=lang,
        weight=lambda row: flow_width(float(row["tonnes"]), largest_flow),
        popup=lambda row: _card(
            str(row["name"]),
            [
                (TEXT["tonnes"](lang), _tonnes(row["tonnes"], lang)),
                (TEXT["km"](lang), _km(row.get("km"), lang)),
            ],
            [],
        ),
    ).add_to(m)

    short = villages[villages["unmet_t"].fillna(0) > 0]
    largest_unmet = float(short["unmet_t"].max()) if len(short) else 0.0
    layers.graduated_circles(
        short,
        "unmet_t",
        name=TEXT["unmet_layer"](lang),
        colour=styles.UNMET_COLOUR,
        largest=largest_unmet,
        radius=styles.CIRCLE_MAX_RADIUS,
        popup=village_card,
        tooltip=lambda row: f"{row['name']}: {_tonnes(row['unmet_t'], lang)}",
    ).add_to(m)
    layers.thematic_layer(villages, styles.COVERAGE_CLASSES, lang=lang, popup=village_card).add_to(
        m
    )

    legend = [
        _legend_block(
            TEXT["flows_layer"](lang),
            [
                f"<div>{_swatch_line(flow_width(v, largest_flow))}"
                f"{html_text(_tonnes(v, lang))}</div>"
                for v in layers.reference_values(largest_flow)
            ],
            TEXT["flows_scale"](lang),
        ),
        _legend_block(styles.COVERAGE_CLASSES.name(lang), _class_rows(lang)),
        _legend_block(
            TEXT["unmet_layer"](lang),
            [_circles_legend(layers.reference_values(largest_unmet), largest_unmet, lang)],
            TEXT["unmet_scale"](lang),
        ),
        _legend_block(
            TEXT["zones_layer"](lang), _material_rows(zones, lang), TEXT["zones_note"](lang)
        ),
    ]
    plugins.Fullscreen(position="topright").add_to(m)  # type: ignore[no-untyped-call]
    build.Legend("".join(legend), title=build.TEXT["legend"](lang)).add_to(m)
    build._PopupHidesTooltips().add_to(m)
    _folded_layers(lang).add_to(m)

    sections = [
        (
            TEXT["totals"](lang),
            _table(coverage_totals_rows(view, lang))
            + (f"<p><small>{html_text(view.note)}</small></p>" if view.note else ""),
        ),
        (TEXT["parameters"](lang), _table(_param_rows(parameters, lang), css=' class="cm-wrap"')),
        (TEXT["missing"](lang), _missing_html(view.missing, lang)),
    ]
    if parameters.downloads:
        sections.append((TEXT["downloads"](lang), f"<p>{_links_html(parameters.downloads)}</p>"))
    panel_id = "cm-coverage-panel"
    root = build._root(m)
    root.header.add_child(Element(_PANEL_CSS), name="craftmap_analysis_css")
    # Smaller pins than the overview's, centred in their box: a village's unmet-demand
    # circle shows around its pin from a radius of 12 px.
    root.header.add_child(
        Element(
            "<style>.cm-pin{width:20px;height:20px;margin:1.5px;font-size:10px;"
            "border-width:1.5px}</style>"
        ),
        name="craftmap_coverage_pins",
    )
    root.html.add_child(Element(_panel(panel_id, title, sections, settings)))
    _PanelBehaviour(panel_id, _fit_bounds([villages, zones])).add_to(m)
    build.serve_assets_locally(m)
    return m


def _param_rows(parameters: Parameters, lang: str) -> list[tuple[str, str]]:
    return [(label(lang), value) for label, value in parameters.rows]


@dataclass(frozen=True)
class SitesTotals:
    """The siting analysis in figures (tonnes a year)."""

    unmet_t: float
    served_t: float
    sites: int


@dataclass(frozen=True)
class SitesView:
    """What the sites map draws; frames in EPSG:4326.

    ``sites``: rank, cell, score_t, villages (names served), geometry (the cell);
    ``excluded``: cell, reason, geometry; ``short``: code, name, unmet_t (points);
    ``zones``: existing zones (code, name, material); ``exclusions``: name, geometry.
    """

    sites: gpd.GeoDataFrame
    excluded: gpd.GeoDataFrame
    short: gpd.GeoDataFrame
    zones: gpd.GeoDataFrame
    exclusions: gpd.GeoDataFrame
    totals: SitesTotals


def reason_text(reason: siting_workflow.Reason, lang: str) -> str:
    """A reason in the page's language: its kind's words, then what it names."""
    words = siting_workflow.REASON_WORDS.get(reason.kind)
    if words is None:
        return reason.detail
    subject = getattr(reason, "subject", "")
    return f"{words(lang)}: {subject}" if subject else words(lang)


def sites_view_of(
    result: siting_workflow.SitingResult,
    villages: gpd.GeoDataFrame,
    zones: gpd.GeoDataFrame,
    exclusions: gpd.GeoDataFrame,
    lang: str,
) -> SitesView:
    """The sites map's view of a siting result.

    ``villages``: the coverage's villages (id, code, name, unmet_t, point), of which those
    short are drawn; ``zones`` and ``exclusions``: what lies around (``mapdata.around``).
    """
    sites = gpd.GeoDataFrame.from_features(
        [
            {
                "type": "Feature",
                "geometry": site.geometry,
                "properties": {
                    "rank": site.rank,
                    "cell": site.cell,
                    "score_t": site.score_t,
                    "villages": [v.name for v in site.villages],
                    "reasons": _reasons_of(site.excluded_nearby, lang),
                },
            }
            for site in result.sites
        ],
        columns=["rank", "cell", "score_t", "villages", "reasons", "geometry"],
        crs=4326,
    )
    excluded = gpd.GeoDataFrame.from_features(
        [
            {
                "type": "Feature",
                "geometry": cell.geometry,
                "properties": {
                    "cell": cell.cell,
                    "reason": "; ".join(reason_text(r, lang) for r in cell.reasons),
                },
            }
            for cell in result.excluded
        ],
        columns=["cell", "reason", "geometry"],
        crs=4326,
    )
    short = villages[villages["unmet_t"].fillna(0) > 0][
        ["id", "code", "name", "unmet_t", "geometry"]
    ]
    t = result.totals
    return SitesView(
        sites=sites,
        excluded=excluded,
        short=short,
        zones=zones,
        exclusions=exclusions,
        totals=SitesTotals(unmet_t=t.unmet_before_t, served_t=t.served_t, sites=t.sites_found),
    )


def _reasons_of(cells: Sequence[siting_workflow.ExcludedCell], lang: str) -> list[str]:
    reasons: list[str] = []
    for cell in cells:
        for reason in cell.reasons:
            words = reason_text(reason, lang)
            if words not in reasons:
                reasons.append(words)
    return reasons


def sites_extent(
    result: siting_workflow.SitingResult, villages: gpd.GeoDataFrame, margin: float = 0.1
) -> tuple[float, float, float, float]:
    """The box (minx, miny, maxx, maxy) around the sites and the villages short, with a
    margin in degrees: what ``mapdata.around`` reads the zones and exclusion areas of."""
    xs: list[float] = []
    ys: list[float] = []
    for site in result.sites:
        xs.append(site.centre[0])
        ys.append(site.centre[1])
    short = villages[villages["unmet_t"].fillna(0) > 0]
    if len(short):
        minx, miny, maxx, maxy = short.total_bounds
        xs += [float(minx), float(maxx)]
        ys += [float(miny), float(maxy)]
    if not xs:
        return (0.0, 0.0, 0.0, 0.0)
    return (min(xs) - margin, min(ys) - margin, max(xs) + margin, max(ys) + margin)


def _listed(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value] if value else []
    if value is None or (isinstance(value, float) and value != value):
        return []
    return [str(v) for v in value]


def nearby_reasons(cell: Any, excluded: gpd.GeoDataFrame) -> list[str]:
    """Why the cells touching ``cell`` were left out, each reason once."""
    if excluded.empty:
        return []
    # H3 neighbours share an edge: touching is intersecting.
    near = excluded[excluded.geometry.intersects(cell.buffer(1e-7))]
    reasons: list[str] = []
    for reason in near["reason"]:
        if layers.given(reason) and str(reason) not in reasons:
            reasons.append(str(reason))
    return reasons


def build_sites_map(
    view: SitesView, parameters: Parameters, settings: build.MapSettings
) -> folium.Map:
    """Where new zones should go: ranked cells with their scores and villages served, the
    villages short as graduated circles, existing zones and the exclusion areas."""
    lang = settings.lang
    sites = view.sites.sort_values("rank").copy()
    m = build._base_map(settings, None)
    m.options["zoomSnap"] = 0.25
    title = TEXT["sites_title"](lang)
    build._root(m).title = html_text(f"{title} — craftmap")

    exclusion_group = folium.FeatureGroup(name=TEXT["exclusions_layer"](lang))
    for row in view.exclusions.itertuples():
        if row.geometry is None or row.geometry.is_empty:
            continue
        folium.GeoJson(
            row.geometry.__geo_interface__,
            style_function=lambda _f: {
                "color": styles.EXCLUSION_COLOUR,
                "weight": 2,
                "dashArray": "6 4",
                "fillColor": styles.EXCLUSION_COLOUR,
                "fillOpacity": 0.12,
            },
            tooltip=html_text(getattr(row, "name", "") or "") or None,
        ).add_to(exclusion_group)
    exclusion_group.add_to(m)
    zone_theme = styles.Theme(TEXT["zones"], "material", "material", styles.MATERIALS.colours)
    layers.thematic_layer(
        view.zones,
        zone_theme,
        lang=lang,
        popup=lambda row: _card(
            str(row["name"]),
            [
                (TEXT["code"](lang), str(row["code"])),
                (TEXT["material"](lang), vocab.label("material", str(row.get("material")), lang)),
            ],
            _item_links(settings, "material-zones", row),
        ),
    ).add_to(m)
    excluded_group = folium.FeatureGroup(name=TEXT["excluded_layer"](lang), show=True)
    for row in view.excluded.itertuples():
        folium.GeoJson(
            row.geometry.__geo_interface__,
            style_function=lambda _f: {
                "color": styles.EXCLUDED_CELL_COLOUR,
                "weight": 1,
                "dashArray": "2 3",
                "fillOpacity": 0,
            },
            tooltip=html_text(str(row.reason)),
        ).add_to(excluded_group)
    excluded_group.add_to(m)

    def site_card(row: Any) -> str:
        reasons = _listed(row.get("reasons")) or nearby_reasons(row.geometry, view.excluded)
        return _card(
            TEXT["site"].format(rank=int(row["rank"]))(lang),
            [
                (TEXT["score"](lang), _tonnes(row["score_t"], lang)),
                (TEXT["villages_served"](lang), ", ".join(_listed(row.get("villages"))) or "—"),
                (TEXT["excluded_nearby"](lang), "; ".join(reasons) or "—"),
                (TEXT["cell"](lang), str(row.get("cell") or "")),
            ],
            [],
        )

    sites["name"] = [TEXT["site"].format(rank=int(r))(lang) for r in sites["rank"]]
    site_theme = styles.Theme(
        TEXT["sites_layer"], "kind", "", {}, default=styles.SITE_COLOUR, fill_opacity=0.35
    )
    site_group = layers.thematic_layer(
        sites,
        site_theme,
        lang=lang,
        popup=site_card,
        outline=lambda _row: "#7a0177",
    )
    labels = []
    for row in sites.itertuples():
        centre = row.geometry.representative_point()
        labels.append((round(centre.y, 6), round(centre.x, 6), int(row.rank), str(row.name)))
    layers.RankLabels(labels, name=TEXT["sites_layer"](lang)).add_to(site_group)
    site_group.add_to(m)

    short = view.short
    largest = float(short["unmet_t"].max()) if len(short) else 0.0
    layers.graduated_circles(
        short,
        "unmet_t",
        name=TEXT["short_layer"](lang),
        colour=styles.UNMET_COLOUR,
        largest=largest,
        radius=styles.CIRCLE_MAX_RADIUS,
        popup=lambda row: _card(
            str(row["name"]),
            [
                (TEXT["code"](lang), str(row["code"])),
                (TEXT["unmet"](lang), _tonnes(row["unmet_t"], lang)),
            ],
            _item_links(settings, "villages", row),
        ),
        tooltip=lambda row: f"{row['name']}: {_tonnes(row['unmet_t'], lang)}",
    ).add_to(m)

    legend = [
        _legend_block(
            TEXT["sites_layer"](lang),
            [
                '<div><span class="cm-swatch" style="background:'
                f'{styles.SITE_COLOUR};border:2px solid #7a0177"></span>'
                f"{html_text(TEXT['cell'](lang))}</div>",
                f'<div><span class="cm-stop cm-rank" style="width:16px;height:16px;'
                f'font-size:10px;line-height:16px;border-width:2px">1</span>'
                f"{html_text(TEXT['rank'](lang))}</div>",
            ],
        ),
        _legend_block(
            TEXT["excluded_layer"](lang),
            [
                f'<div><span class="cm-swatch" style="border:1px dashed '
                f'{styles.EXCLUDED_CELL_COLOUR}"></span>{html_text(TEXT["cell"](lang))}</div>'
            ],
        ),
        _legend_block(
            TEXT["exclusions_layer"](lang),
            [
                f'<div><span class="cm-swatch" style="border:2px dashed {styles.EXCLUSION_COLOUR};'
                f'background:rgba(178,24,43,.12)"></span>'
                f"{html_text(TEXT['exclusions_layer'](lang))}</div>"
            ],
        ),
        _legend_block(
            TEXT["short_layer"](lang),
            [_circles_legend(layers.reference_values(largest), largest, lang)],
            TEXT["unmet_scale"](lang),
        ),
        _legend_block(TEXT["zones"](lang), _material_rows(view.zones, lang)),
    ]
    plugins.Fullscreen(position="topright").add_to(m)  # type: ignore[no-untyped-call]
    build.Legend("".join(legend), title=build.TEXT["legend"](lang)).add_to(m)
    build._PopupHidesTooltips().add_to(m)
    _folded_layers(lang).add_to(m)

    if len(sites):
        items = "".join(
            f'<li><span class="cm-no">{int(r.rank)}</span><div><strong>'
            f"{html_text(_tonnes(r.score_t, lang))}</strong><br><small>"
            f"{html_text(', '.join(_listed(getattr(r, 'villages', None))) or '—')}</small>"
            "</div></li>"
            for r in sites.itertuples()
        )
        ranking = f'<ol class="cm-ranking">{items}</ol>'
    else:
        ranking = f"<p>{html_text(TEXT['no_sites'](lang))}</p>"
    totals = [
        (TEXT["unmet_before"](lang), _tonnes(view.totals.unmet_t, lang)),
        (TEXT["served_total"](lang), _tonnes(view.totals.served_t, lang)),
        (TEXT["k"](lang), str(view.totals.sites)),
    ]
    save = (
        f"<p><small>{html_text(TEXT['save_site'](lang))} — "
        f'<a href="{html_text(settings.api_root)}/api?lang={lang}">'
        f"{html_text(TEXT['api_doc'](lang))}</a></small></p>"
    )
    sections = [
        (TEXT["ranking"](lang), ranking + save),
        (TEXT["totals"](lang), _table(totals)),
        (TEXT["parameters"](lang), _table(_param_rows(parameters, lang), css=' class="cm-wrap"')),
    ]
    if parameters.downloads:
        sections.append((TEXT["downloads"](lang), f"<p>{_links_html(parameters.downloads)}</p>"))
    panel_id = "cm-sites-panel"
    root = build._root(m)
    root.header.add_child(Element(_PANEL_CSS), name="craftmap_analysis_css")
    root.html.add_child(Element(_panel(panel_id, title, sections, settings)))
    _PanelBehaviour(panel_id, _fit_bounds([sites, view.short, view.zones])).add_to(m)
    build.serve_assets_locally(m)
    return m
