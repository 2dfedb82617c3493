"""Layer builders: any GeoDataFrame plus a theme gives a folium layer (no I/O here)."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import folium
import geopandas as gpd
from branca.element import Element, Figure, MacroElement
from folium import plugins
from folium.template import Template

from geo.kernel.text import DEFAULT_LANG, Text, number
from maps.escape import ESC_JS, html_text, script_json
from maps.styles import Theme

# Popup rows: (column, label).
Fields = Sequence[tuple[str, Text]]


class _Verbatim(Element):
    """Text that goes into the page as it is."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self._text = text

    def render(self, **kwargs: Any) -> str:
        return self._text


class VerbatimRender(MacroElement):
    """A MacroElement whose rendered header, html and script go into the page as they are.

    branca wraps each rendered part in an ``Element``, which compiles it as a Jinja
    template once more: for a layer carrying 5 400 villages as JSON that was a megabyte
    compiled again per page. The parts are final text here, never templates.
    """

    def render(self, **kwargs: Any) -> str:
        figure = self.get_root()
        assert isinstance(figure, Figure), "render it inside a Figure (a folium.Map)"
        parts = self._template.module.__dict__
        for part, into in (
            ("header", figure.header),
            ("html", figure.html),
            ("script", figure.script),
        ):
            macro = parts.get(part)
            if macro is not None:
                into.add_child(_Verbatim(macro(self, kwargs)), name=self.get_name())
        for element in self._children.values():
            element.render(**kwargs)
        return ""  # as branca's: the parts are in the figure now


class Record(dict[str, Any]):
    """One row of a frame as a plain dict, its shape as ``.geometry`` (see `records`)."""

    def __init__(self, values: dict[str, Any], geometry: Any) -> None:
        super().__init__(values)
        self.geometry = geometry


def records(frame: gpd.GeoDataFrame) -> Iterator[Record]:
    """The frame's rows, for ``row["id"]``, ``row.get(column)`` and ``row.geometry``.

    ``iterrows`` builds a pandas Series per row: on the national 5 400 villages the
    overview spent seconds there. Missing values stay None or NaN, as in a Series.
    """
    shapes = frame.geometry.tolist()
    for values, shape in zip(frame.to_dict("records"), shapes, strict=True):
        yield Record(values, shape)


def given(value: Any) -> bool:
    """Whether a value read from a frame is there: None, NaN and "" are not.

    pandas reads a NULL text as NaN when other rows have a value, and NaN is truthy.

    >>> given(float("nan")), given(None), given(""), given("FSC-FM"), given(0)
    (False, False, False, True, True)
    """
    if value is None or value == "":
        return False
    return not (isinstance(value, float) and math.isnan(value))


def shown(value: Any, lang: str) -> Any:
    """A cell as a popup shows it: numbers in the page's format, anything else as it is."""
    if hasattr(value, "item"):  # numpy scalars
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, int | float):
        return value
    return number(value, lang)


def popup_html(
    row: Any, title: str, fields: Fields, lang: str, links: Sequence[tuple[str, str]] = ()
) -> str:
    """A feature's card: its name, key facts and links to its API item and HTML page.

    Every text goes through ``html_text``: folium puts popups in a template literal.
    """
    rows = []
    for column, label in fields:
        value = row.get(column)
        if not given(value):
            continue
        rows.append(
            f"<tr><th>{html_text(label(lang))}</th><td>{html_text(shown(value, lang))}</td></tr>"
        )
    anchors = " · ".join(
        f'<a href="{html_text(href)}" target="_blank" rel="noopener">{html_text(text)}</a>'
        for text, href in links
    )
    return (
        f'<div class="cm-card"><h4>{html_text(title)}</h4>'
        f'<table>{"".join(rows)}</table><p class="cm-links">{anchors}</p></div>'
    )


def thematic_layer(
    frame: gpd.GeoDataFrame,
    theme: Theme,
    *,
    lang: str = DEFAULT_LANG,
    popup: Callable[[Any], str] | None = None,
    tooltip: str = "name",
    outline: Callable[[Any], str | None] | None = None,
    cluster: bool = False,
    show: bool = True,
    weight: Callable[[Any], float] | None = None,
) -> folium.FeatureGroup:
    """One layer of ``frame`` drawn in ``theme``'s colours (and icons, for points).

    Parameters
    ----------
    frame
        Features in EPSG:4326, with ``theme.column`` among the columns.
    popup
        Builds a feature's popup HTML from its row.
    outline
        Colour of a polygon's outline, or None for the fill colour (e.g. certified zones).
    cluster
        Points go into a marker cluster.
    weight
        A line's width in pixels from its row (e.g. a flow's tonnes on a stated scale).

    Returns
    -------
    folium.FeatureGroup
        Named after the theme, ready for the layer control.
    """
    group = folium.FeatureGroup(name=theme.name(lang), show=show)
    target: Any = group
    if cluster:
        target = plugins.MarkerCluster(control=False).add_to(group)  # type: ignore[no-untyped-call]
    for row in records(frame):
        geometry = row.geometry
        if geometry is None or geometry.is_empty:
            continue
        code = row.get(theme.column)
        colour = theme.colour(code)
        popup_el = folium.Popup(popup(row), max_width=360) if popup else None
        # folium writes tooltips unescaped into a template literal shown as HTML.
        hint = html_text(row.get(tooltip) or "")
        if geometry.geom_type == "Point":
            icon = folium.DivIcon(
                html=(
                    f'<div class="cm-pin" style="background:{colour}">'
                    f'<i class="fa-solid fa-{theme.icon(code)}"></i></div>'
                ),
                icon_size=(26, 26),
                icon_anchor=(13, 13),
                class_name="cm-pin-wrap",
            )
            folium.Marker([geometry.y, geometry.x], icon=icon, popup=popup_el, tooltip=hint).add_to(
                target
            )
            continue
        edge = (outline(row) if outline else None) or colour
        polygonal = geometry.geom_type in {"Polygon", "MultiPolygon"}
        width = 3 if edge != colour else (1.5 if polygonal else 5)
        if weight is not None and not polygonal:
            width = weight(row)
        style = {
            "color": edge,
            "weight": width,
            "fillColor": colour,
            "fillOpacity": theme.fill_opacity if polygonal else 0,
            "opacity": 0.9,
        }
        shape = folium.GeoJson(
            geometry.__geo_interface__,
            style_function=lambda _feature, style=style: style,
            tooltip=hint or None,
        ).add_to(target)
        if popup_el is not None:
            popup_el.add_to(shape)
    return group


def tile_layer(
    tile_url: str,
    theme: Theme,
    *,
    lang: str,
    layer: str,
    outline: tuple[str, str] | None = None,
) -> Any:
    """A layer drawn from craftmap's vector tiles, for layers too large to embed.

    ``outline`` is (property, colour): features whose property is set get that outline,
    as ``thematic_layer``'s ``outline`` does for embedded ones (e.g. certified zones).
    """
    colours = json.dumps(theme.colours)
    # Leaflet.VectorGrid styles each feature with a function of its properties; options
    # go as a string so that the function stays a function. MVT leaves out null values.
    edge, weight = "c", "0.6"
    if outline is not None:
        marked = f"p[{json.dumps(outline[0])}]"
        edge, weight = f"({marked} ? {json.dumps(outline[1])} : c)", f"({marked} ? 3 : 0.6)"
    style = (
        f"function(p) {{ var c = {colours}[p[{json.dumps(theme.column)}]] || "
        f'"{theme.default}"; return {{fill: true, weight: {weight}, color: {edge}, '
        f"fillColor: c, fillOpacity: {theme.fill_opacity}}}; }}"
    )
    options = (
        f"{{vectorTileLayerStyles: {{{json.dumps(layer)}: {style}}}, "
        "maxNativeZoom: 16, interactive: true}"
    )
    return plugins.VectorGridProtobuf(tile_url, theme.name(lang), options)


class PointCluster(plugins.MarkerCluster, VerbatimRender):
    """Many points as one compact table, turned into themed pins by the browser.

    Folium writes several lines of script per marker; 5,400 villages made a 13 MB page that
    took 10 s to build. Here each point is one short row, and its popup is built when it
    opens. The markers are also published as ``window.cmMarkers`` (by id) and the cluster
    as ``window.cmCluster`` for the search box, which opens a marker's popup with
    ``window.cmShowMarker``.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = L.markerClusterGroup({{ this.options|tojavascript }});
        (function() {
          var theme = {{ this.theme_json }}, fields = {{ this.fields_json }};
          var links = {{ this.links_json }}, rows = {{ this.rows_json }};
          {{ this.esc_js }}
          function card(r) {
            var html = '<div class="cm-card"><h4>' + esc(r[4]) + '</h4><table>';
            r[5].forEach(function(v, i) {
              if (v !== null && v !== '') {
                html += '<tr><th>' + esc(fields[i]) + '</th><td>' + esc(v) + '</td></tr>';
              }
            });
            var anchors = links.map(function(l) {
              return '<a href="' + esc(l[1].replace('{id}', r[0]))
                + '" target="_blank" rel="noopener">'
                + esc(l[0]) + '</a>';
            });
            return html + '</table><p class="cm-links">' + anchors.join(' · ') + '</p></div>';
          }
          window.cmMarkers = window.cmMarkers || {};
          rows.forEach(function(r) {
            var colour = theme.colours[r[3]] || theme.default;
            var icon = theme.icons[r[3]] || theme.default_icon;
            var pin = L.divIcon({
              html: '<div class="cm-pin" style="background:' + esc(colour) + '">'
                + '<i class="fa-solid fa-' + esc(icon) + '"></i></div>',
              className: 'cm-pin-wrap', iconSize: [26, 26], iconAnchor: [13, 13]});
            var marker = L.marker([r[1], r[2]], {icon: pin});
            marker.bindTooltip(esc(r[4]));
            marker.bindPopup(function() { return card(r); }, {maxWidth: 360});
            {{ this.get_name() }}.addLayer(marker);
            window.cmMarkers[r[0]] = marker;
          });
          window.cmCluster = {{ this.get_name() }};
          window.cmPoints = rows;
          // Leaflet ignores a zoom asked while another zoom animates, and markercluster's
          // zoomToShowLayer then waits for a move that never comes: ask once the map is still.
          window.cmShowMarker = function(marker) {
            var cluster = {{ this.get_name() }}, map = cluster._map;
            if (map._animatingZoom || cluster._inZoomAnimation) {
              setTimeout(function() { window.cmShowMarker(marker); }, 50);
              return;
            }
            cluster.zoomToShowLayer(marker, function() { marker.openPopup(); });
          };
        })();
        {% endmacro %}
        """
    )

    def __init__(
        self,
        frame: gpd.GeoDataFrame,
        theme: Theme,
        *,
        lang: str,
        fields: Fields,
        links: Sequence[tuple[str, str]],
        show: bool = True,
    ) -> None:
        super().__init__(name=theme.name(lang), show=show)  # type: ignore[no-untyped-call]
        self._name = "PointCluster"
        self.theme = {
            "colours": theme.colours,
            "icons": theme.icons,
            "default": theme.default,
            "default_icon": theme.default_icon,
        }
        self.fields = [label(lang) for _, label in fields]
        # Links are templates: {id} becomes the feature's id.
        self.links = [list(pair) for pair in links]
        columns = [column for column, _ in fields]
        self.rows = [
            [
                int(row["id"]),
                round(row.geometry.y, 6),
                round(row.geometry.x, 6),
                row.get(theme.column),
                str(row.get("name") or ""),
                # Numbers go formatted for the page's language (1.500 on Vietnamese pages).
                [shown(_plain(row.get(column)), lang) for column in columns],
            ]
            for row in records(frame)
            if row.geometry is not None and not row.geometry.is_empty
        ]
        # Names and fields are anyone's text: JSON with no way out of the script element.
        self.theme_json = script_json(self.theme)
        self.fields_json = script_json(self.fields)
        self.links_json = script_json(self.links)
        self.rows_json = script_json(self.rows)
        self.esc_js = ESC_JS


def _plain(value: Any) -> Any:
    # JSON-friendly: NaN and missing become null, numpy numbers plain numbers.
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if hasattr(value, "item"):
        return value.item()
    return value


class NumberedStops(folium.map.Layer):
    """Route stops as numbered circles, one short row each (see ``PointCluster``)."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = L.layerGroup();
        (function() {
          {{ this.esc_js }}
          {{ this.rows_json }}.forEach(function(r) {
            // cm-stop-wrap: hiding the number alone leaves its box catching clicks.
            var icon = L.divIcon({html: '<div class="cm-stop">' + esc(r[2]) + '</div>',
              className: 'cm-pin-wrap cm-stop-wrap', iconSize: [24, 24], iconAnchor: [12, 12]});
            // Leaflet shows a tooltip string as HTML.
            L.marker([r[0], r[1]], {icon: icon}).bindTooltip(esc(r[2] + '. ' + r[3]))
              .addTo({{ this.get_name() }});
          });
        })();
        {% endmacro %}
        """
    )

    def __init__(self, stops: gpd.GeoDataFrame, *, name: str, show: bool = True) -> None:
        super().__init__(name=name, overlay=True, control=False, show=show)
        self._name = "NumberedStops"
        self.rows = [
            [round(r.geometry.y, 6), round(r.geometry.x, 6), int(r.seq), str(r.name or "")]
            for r in stops.itertuples()
        ]
        self.rows_json = script_json(self.rows)
        self.esc_js = ESC_JS


def sqrt_scale(value: float, largest: float, biggest: float, *, least: float = 0.0) -> float:
    """``value`` on a square-root scale: ``largest`` maps to ``biggest`` (pixels), 0 to 0.

    A circle whose radius follows the square root has an area proportional to the value;
    ``least`` keeps small values visible.

    >>> sqrt_scale(100, 400, 20), sqrt_scale(400, 400, 20), sqrt_scale(1, 400, 20, least=2)
    (10.0, 20.0, 2.0)
    """
    if largest <= 0 or value <= 0:
        return float(least)
    return max(float(least), biggest * math.sqrt(value / largest))


def reference_values(largest: float, count: int = 3) -> list[float]:
    """Round values (1, 2, 5 × 10ⁿ) at or below ``largest`` for a legend, largest first.

    >>> reference_values(1740), reference_values(90, 2), reference_values(0)
    ([1000.0, 500.0, 200.0], [50.0, 20.0], [])
    """
    if largest <= 0:
        return []
    steps: list[float] = []
    exponent = math.floor(math.log10(largest))
    while len(steps) < 12:
        for mantissa in (5, 2, 1):
            value = mantissa * 10.0**exponent
            if value <= largest:
                steps.append(value)
        exponent -= 1
    picked = [steps[0]]
    # Spread out: each next reference at most half the one before (a visible difference).
    for value in steps[1:]:
        if len(picked) == count:
            break
        if value <= picked[-1] / 2 + 1e-9:
            picked.append(value)
    return picked


def graduated_circles(
    frame: gpd.GeoDataFrame,
    column: str,
    *,
    name: str,
    colour: str,
    largest: float,
    radius: float,
    popup: Callable[[Any], str] | None = None,
    tooltip: Callable[[Any], str] | None = None,
    show: bool = True,
) -> folium.FeatureGroup:
    """Points as circles whose area is proportional to ``column`` (``sqrt_scale``).

    Circles have a fixed size on screen (pixels), so the legend's reference circles stay
    true at every zoom; bigger circles go first, so that small ones stay clickable on top.

    Parameters
    ----------
    largest, radius
        The value drawn with a circle of ``radius`` pixels (usually the largest value).
    """
    group = folium.FeatureGroup(name=name, show=show)
    rows = frame[frame[column].fillna(0) > 0].sort_values(column, ascending=False)
    for row in records(rows):
        geometry = row.geometry
        if geometry is None or geometry.is_empty:
            continue
        point = geometry if geometry.geom_type == "Point" else geometry.representative_point()
        folium.CircleMarker(
            [point.y, point.x],
            radius=sqrt_scale(float(row[column]), largest, radius),
            color=colour,
            weight=1.5,
            fill=True,
            fill_color=colour,
            fill_opacity=0.35,
            popup=folium.Popup(popup(row), max_width=360) if popup else None,
            # folium writes tooltips unescaped into a template literal shown as HTML.
            tooltip=html_text(tooltip(row)) if tooltip else None,
        ).add_to(group)
    return group


class RankLabels(folium.map.Layer):
    """Ranked places as numbered badges (1, 2, 3 …), like a route's numbered stops."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = L.layerGroup();
        (function() {
          {{ this.esc_js }}
          {{ this.rows_json }}.forEach(function(r) {
            var icon = L.divIcon({html: '<div class="cm-stop cm-rank">' + esc(r[2]) + '</div>',
              className: 'cm-pin-wrap', iconSize: [24, 24], iconAnchor: [12, 12]});
            L.marker([r[0], r[1]], {icon: icon, keyboard: false})
              .bindTooltip(esc(r[3])).addTo({{ this.get_name() }});
          });
        })();
        {% endmacro %}
        """
    )

    def __init__(self, rows: list[tuple[float, float, int, str]], *, name: str) -> None:
        super().__init__(name=name, overlay=True, control=False, show=True)
        self._name = "RankLabels"
        self.rows_json = script_json([list(r) for r in rows])
        self.esc_js = ESC_JS
