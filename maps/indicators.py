"""The choropleth of one programme indicator by unit (issue 16 point 4).

A pure builder, like ``maps.analysis``: the router gives it ``unit_frame``'s rows and the
classes from ``maps.charts.classify``; units are drawn with ``maps.layers.thematic_layer``
(a unit without a boundary as a round pin at its label point), with a legend of the class
ranges in the page's number format, "no data", and a side panel linking back to the
dashboard.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import folium
import geopandas as gpd
from branca.element import Element
from folium import plugins

from geo.kernel import vocab
from geo.kernel.text import Text
from maps import analysis, build, charts, layers, styles
from maps.escape import html_text

TEXT: dict[str, Text] = {
    "title": Text("{indicator} theo {level}, năm {year}", "{indicator} by {level}, {year}"),
    "commune": Text("xã, phường", "commune"),
    "district": Text("huyện cũ", "old district"),
    "commune_layer": Text("Xã, phường (sau 1/7/2025)", "Communes and wards (since 1/7/2025)"),
    "district_layer": Text(
        "Huyện cũ (đơn vị lịch sử, không còn từ 1/7/2025)",
        "Old districts (historical, abolished on 1/7/2025)",
    ),
    "province": Text("Toàn tỉnh", "The whole province"),
    "value": Text("Giá trị", "Value"),
    "villages": Text("Số làng nghề", "Villages"),
    "missing": Text("Số làng thiếu số liệu", "Villages lacking data"),
    "status": Text("Tình trạng", "Status"),
    "no_villages": Text("Không có làng nghề", "No villages"),
    "year": Text("Năm", "Year"),
    "programme": Text("Chương trình", "Programme"),
    "level": Text("Cấp đơn vị", "Unit level"),
    "dashboard": Text("← Bảng chỉ tiêu", "← Indicator dashboard"),
    "other_level": Text("Xem bản đồ theo {level}", "See the map by {level}"),
    "classes": Text(
        "Phân lớp {scheme} ({k} lớp, mapclassify)", "{scheme} classes ({k}, mapclassify)"
    ),
    "no_polygon_note": Text(
        "Đơn vị chưa có ranh giới được vẽ bằng hình tròn tại điểm nhãn của nó.",
        "Units without a boundary are drawn as a circle at their label point.",
    ),
    "unmapped": Text(
        "Đơn vị chưa có cả ranh giới lẫn điểm nhãn (không vẽ được)",
        "Units with neither a boundary nor a label point (not drawn)",
    ),
    "targets": Text("Mục tiêu", "Targets"),
    "see_also": Text("Xem thêm", "See also"),
}
NO_DATA = "none"


@dataclass(frozen=True)
class IndicatorMapView:
    """What the choropleth draws besides the units: the indicator and where it stands.

    ``frame``: ``unit_frame`` rows (code, name, villages, value, missing, status,
    geometry) in EPSG:4326.
    """

    frame: gpd.GeoDataFrame
    indicator: str
    unit: str
    year: int
    level: str
    programme_code: str
    programme_title: str
    province_value: float | None
    province_missing: int
    targets: Sequence[charts.TargetLike]
    dashboard_url: str
    other_level_url: str
    downloads: Sequence[tuple[str, str]] = ()


def class_codes(classes: charts.Classes) -> list[str]:
    """Each unit's class as a theme code: "c0", "c1", … or "none" for no data."""
    return [NO_DATA if k is None else f"c{k}" for k in classes.classes]


def _theme(classes: charts.Classes, name: Text) -> styles.Theme:
    colours = {f"c{i}": colour for i, colour in enumerate(classes.colours())}
    colours[NO_DATA] = charts.NO_DATA_COLOUR
    # Choropleth fills are the message: nearly opaque, so that classes read true.
    return styles.Theme(name, "klass", "", colours, default=charts.NO_DATA_COLOUR, fill_opacity=0.8)


def _legend(view: IndicatorMapView, classes: charts.Classes, lang: str) -> str:
    rows = [
        f'<div data-class="c{i}"><span class="cm-swatch" style="background:{colour}"></span>'
        f"{html_text(text)}</div>"
        for i, (colour, text) in enumerate(
            zip(classes.colours(), classes.ranges(view.unit, lang), strict=True)
        )
    ]
    rows.append(
        f'<div data-class="{NO_DATA}"><span class="cm-swatch cm-no-data" '
        f'style="background:{charts.NO_DATA_COLOUR}"></span>'
        f"{html_text(charts.TEXT['no_data'](lang))}</div>"
    )
    points = view.frame.geometry.apply(
        lambda g: g is not None and not g.is_empty and g.geom_type == "Point"
    )
    note = ""
    if bool(points.any()):
        rows.append(
            '<div data-class="point"><span class="cm-swatch cm-round"></span>'
            f"{html_text(TEXT['no_polygon_note'](lang))}</div>"
        )
    if classes.k:
        note = TEXT["classes"].format(scheme=classes.scheme, k=classes.k)(lang)
    title = vocab.label("indicator", view.indicator, lang)
    unit = vocab.label("target_unit", view.unit, lang)
    return analysis._legend_block(f"{title} ({unit})", rows, note)


def _status_text(status: Any, lang: str) -> str:
    return charts.status_words(str(status), lang) if layers.given(status) else "—"


def build_indicator_map(
    view: IndicatorMapView, classes: charts.Classes, settings: build.MapSettings
) -> folium.Map:
    """The indicator's units coloured by class, with popups, a legend and a side panel."""
    lang = settings.lang
    frame = view.frame.copy()
    frame["klass"] = class_codes(classes)
    indicator_name = vocab.label("indicator", view.indicator, lang)
    title = TEXT["title"].format(
        indicator=indicator_name, level=TEXT[view.level](lang), year=view.year
    )(lang)
    m = build._base_map(settings, None)
    build._root(m).title = html_text(f"{title} — craftmap")
    layer_name = TEXT[f"{view.level}_layer"]

    def card(row: Any) -> str:
        value = row.get("value")
        villages = int(row.get("villages") or 0)
        shown = (
            charts.quantity(float(value), view.unit, lang)
            if layers.given(value)
            else (TEXT["no_villages"](lang) if villages == 0 else charts.TEXT["no_data"](lang))
        )
        rows = [
            (TEXT["value"](lang), shown),
            (TEXT["villages"](lang), str(villages)),
            (TEXT["missing"](lang), str(int(row.get("missing") or 0))),
            (TEXT["status"](lang), _status_text(row.get("status"), lang)),
        ]
        anchor = f"{view.dashboard_url}#unit-{view.level}-{row['code']}"
        return analysis._card(
            str(row["name"]), rows, [(TEXT["dashboard"](lang).lstrip("← "), anchor)]
        )

    theme = _theme(classes, layer_name)
    # A unit with no data gets a grey edge: its pale fill alone would vanish on the basemap.
    layers.thematic_layer(
        frame,
        theme,
        lang=lang,
        popup=card,
        outline=lambda row: charts.NO_DATA_EDGE if row["klass"] == NO_DATA else None,
    ).add_to(m)

    targets = "".join(f"<li>{html_text(charts.target_words(t, lang))}</li>" for t in view.targets)
    province = charts.quantity(view.province_value, view.unit, lang)
    facts = [
        (TEXT["province"](lang), province),
        (TEXT["missing"](lang), str(view.province_missing)),
        (TEXT["year"](lang), str(view.year)),
        (TEXT["level"](lang), layer_name(lang)),
        (TEXT["programme"](lang), view.programme_code),
    ]
    other = "district" if view.level == "commune" else "commune"
    links = [
        (TEXT["dashboard"](lang), view.dashboard_url),
        (TEXT["other_level"].format(level=TEXT[other](lang))(lang), view.other_level_url),
    ]
    unmapped = frame[frame.geometry.isna() | frame.geometry.is_empty]
    sections = [
        (indicator_name, analysis._table(facts, css=' class="cm-wrap"')),
        (TEXT["targets"](lang), f'<ul id="cm-targets">{targets}</ul>' if targets else "—"),
        (TEXT["see_also"](lang), f'<p class="cm-nav-links">{analysis._links_html(links)}</p>'),
    ]
    if len(unmapped):
        names = ", ".join(html_text(n) for n in unmapped["name"])
        sections.append((TEXT["unmapped"](lang), f"<p>{names}</p>"))
    if view.downloads:
        sections.append(
            (analysis.TEXT["downloads"](lang), f"<p>{analysis._links_html(view.downloads)}</p>")
        )
    plugins.Fullscreen(position="topright").add_to(m)  # type: ignore[no-untyped-call]
    build.Legend(_legend(view, classes, lang), title=build.TEXT["legend"](lang)).add_to(m)
    build._PopupHidesTooltips().add_to(m)
    analysis._folded_layers(lang).add_to(m)
    panel_id = "cm-indicator-panel"
    root = build._root(m)
    root.header.add_child(Element(analysis._PANEL_CSS), name="craftmap_analysis_css")
    root.header.add_child(Element(_CSS), name="craftmap_indicator_css")
    root.html.add_child(Element(analysis._panel(panel_id, title, sections, settings)))
    analysis._PanelBehaviour(panel_id, analysis._fit_bounds([frame])).add_to(m)
    build.serve_assets_locally(m)
    return m


# Pale classes need an edge to be seen: pins and swatches get a dark outline; a unit with
# no data has the dashed one of its legend swatch (thematic_layer writes the fill inline).
_CSS = """
<style>
.cm-pin{border-color:#333}
.cm-pin[style*="NODATA"]{border-style:dashed;border-color:#8c8c8c}
.cm-legend .cm-swatch{border:1px solid #57606a}
.cm-legend .cm-swatch.cm-no-data{border-style:dashed}
.cm-legend .cm-swatch.cm-round{border-radius:50%;background:#fff;border:2px solid #333}
#cm-targets{padding-left:16px}
</style>
""".replace("NODATA", charts.NO_DATA_COLOUR)
