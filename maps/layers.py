"""Layer builders: any GeoDataFrame plus a theme gives a folium layer (no I/O here)."""

from __future__ import annotations

import html
import json
import math
from collections.abc import Callable, Sequence
from typing import Any

import folium
import geopandas as gpd
from folium import plugins

from maps.styles import Theme

# Popup rows: (column, Vietnamese label, English label).
Fields = Sequence[tuple[str, str, str]]


def popup_html(
    row: Any, title: str, fields: Fields, lang: str, links: Sequence[tuple[str, str]] = ()
) -> str:
    """A feature's card: its name, key facts and links to its API item and HTML page."""
    rows = []
    for column, label_vi, label_en in fields:
        value = row.get(column)
        if value is None or (isinstance(value, float) and math.isnan(value)) or value == "":
            continue
        label = label_en if lang == "en" else label_vi
        rows.append(f"<tr><th>{html.escape(label)}</th><td>{html.escape(str(value))}</td></tr>")
    anchors = " · ".join(
        f'<a href="{html.escape(href)}" target="_blank">{html.escape(text)}</a>'
        for text, href in links
    )
    return (
        f'<div class="cm-card"><h4>{html.escape(str(title))}</h4>'
        f'<table>{"".join(rows)}</table><p class="cm-links">{anchors}</p></div>'
    )


def thematic_layer(
    frame: gpd.GeoDataFrame,
    theme: Theme,
    *,
    lang: str = "vi",
    popup: Callable[[Any], str] | None = None,
    tooltip: str = "name",
    outline: Callable[[Any], str | None] | None = None,
    cluster: bool = False,
    show: bool = True,
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

    Returns
    -------
    folium.FeatureGroup
        Named after the theme, ready for the layer control.
    """
    group = folium.FeatureGroup(name=theme.name(lang), show=show)
    target: Any = group
    if cluster:
        target = plugins.MarkerCluster(control=False).add_to(group)  # type: ignore[no-untyped-call]
    for _, row in frame.iterrows():
        geometry = row.geometry
        if geometry is None or geometry.is_empty:
            continue
        code = row.get(theme.column)
        colour = theme.colour(code)
        popup_el = folium.Popup(popup(row), max_width=360) if popup else None
        hint = str(row.get(tooltip) or "")
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
        style = {
            "color": edge,
            "weight": 3 if edge != colour else (1.5 if polygonal else 5),
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


def tile_layer(tile_url: str, theme: Theme, *, lang: str, layer: str) -> Any:
    """A layer drawn from craftmap's vector tiles, for layers too large to embed."""
    colours = json.dumps(theme.colours)
    # Leaflet.VectorGrid styles each feature with a function of its properties; options
    # go as a string so that the function stays a function.
    style = (
        f"function(p) {{ var c = {colours}[p[{json.dumps(theme.column)}]] || "
        f'"{theme.default}"; return {{fill: true, weight: 0.6, color: c, fillColor: c, '
        f"fillOpacity: {theme.fill_opacity}}}; }}"
    )
    options = (
        f"{{vectorTileLayerStyles: {{{json.dumps(layer)}: {style}}}, "
        "maxNativeZoom: 16, interactive: true}"
    )
    return plugins.VectorGridProtobuf(tile_url, theme.name(lang), options)
