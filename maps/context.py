"""The offline context under every map: land, coastline, national borders and admin units.

Without a basemap (offline, or ``CRAFTMAP_BASEMAP_URL=none``) a map would be a grey canvas
with floating shapes. Natural Earth's 1:10m countries (public domain, npm ``world-atlas``,
pinned in ``maps.assets``) are cut to the region once, when the assets are fetched, into a
script served with the other assets (and inlined in standalone files). The land, coast and
borders sit in a pane below the basemap's tiles: online, OpenStreetMap covers them; where a
tile fails, or with no basemap, they are what shows.

Administrative units come from the database: a unit with a boundary is drawn as its
polygon, a unit with only a centre as a labelled place, never as a dot posing as a boundary.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import folium
import geopandas as gpd
import shapely
from folium.elements import JSCSSMixin
from folium.template import Template
from shapely.geometry.base import BaseGeometry

from geo.kernel.text import Text
from maps import assets, styles
from maps.escape import ESC_JS, script_json

# Vietnam with its islands and its neighbours' border regions (lon/lat: west, south, east,
# north): wide enough that a map never shows the context's edge at provincial zooms.
REGION = (97.0, 5.0, 118.0, 26.0)
# ~200 m: finer than 1:10m data holds, and a fifth of the size unsimplified.
SIMPLIFY_DEGREES = 0.002
SOURCE = "countries-10m.json"

# Stacking, as Leaflet's panes: tiles 200, overlays 400, markers 600.
CONTEXT_PANE_Z = 150
ADMIN_PANE_Z = 390
PLACES_PANE_Z = 450
# Commune names from this zoom on; at the province's scale they would cover each other.
COMMUNE_LABEL_ZOOM = 10

TEXT: dict[str, Text] = {
    # Short: on a phone the attribution line would otherwise cover the scale.
    "attribution": Text("Nền: Natural Earth", "Context: Natural Earth"),
    "offline": Text(
        "Không tải được bản đồ nền: đang hiện nền ngoại tuyến.",
        "The basemap cannot be reached: showing the offline context.",
    ),
}


# -- TopoJSON → GeoJSON, at fetch time -----------------------------------------------------


def decode_arcs(topology: dict[str, Any]) -> list[list[tuple[float, float]]]:
    """The topology's arcs as lon/lat lists (undoing quantisation and delta encoding).

    Examples
    --------
    >>> topo = {"transform": {"scale": [0.5, 0.5], "translate": [100, 10]},
    ...         "arcs": [[[0, 0], [2, 0], [0, 2]]]}
    >>> decode_arcs(topo)
    [[(100.0, 10.0), (101.0, 10.0), (101.0, 11.0)]]
    """
    transform = topology.get("transform")
    (sx, sy), (tx, ty) = (
        (transform["scale"], transform["translate"]) if transform else ((1, 1), (0, 0))
    )
    decoded = []
    for arc in topology["arcs"]:
        x = y = 0.0
        points = []
        for dx, dy in arc:
            # Quantised arcs store each position as the offset from the one before.
            x, y = (x + dx, y + dy) if transform else (dx, dy)
            points.append((x * sx + tx, y * sy + ty))
        decoded.append(points)
    return decoded


def _ring(arcs: list[list[tuple[float, float]]], indexes: Sequence[int]) -> list[Any]:
    # A negative index is the arc reversed (~i); arcs share their joining point.
    points: list[tuple[float, float]] = []
    for index in indexes:
        arc = arcs[index] if index >= 0 else arcs[~index][::-1]
        points.extend(arc if not points else arc[1:])
    return points


def polygons(topology: dict[str, Any], name: str) -> list[shapely.Polygon]:
    """Every polygon of the object ``name`` (rings quantised to nothing are left out)."""
    arcs = decode_arcs(topology)
    found = []
    for geometry in topology["objects"][name]["geometries"]:
        if geometry["type"] not in {"Polygon", "MultiPolygon"}:
            continue
        parts = [geometry["arcs"]] if geometry["type"] == "Polygon" else geometry["arcs"]
        for part in parts:
            rings = [_ring(arcs, r) for r in part]
            if len(rings[0]) >= 4:
                found.append(shapely.Polygon(rings[0], [r for r in rings[1:] if len(r) >= 4]))
    return found


def borders(topology: dict[str, Any], name: str) -> shapely.MultiLineString:
    """The arcs two different geometries of ``name`` share: the borders between countries.

    Coastlines belong to one country only, so they are not borders.

    Examples
    --------
    >>> topo = {"arcs": [[[0, 0], [0, 1]], [[0, 1], [-1, 1], [0, 0]],
    ...                  [[0, 1], [1, 1], [0, 0]]],
    ...         "objects": {"c": {"geometries": [
    ...             {"type": "Polygon", "arcs": [[0, 1]]},
    ...             {"type": "Polygon", "arcs": [[2, -1]]}]}}}
    >>> borders(topo, "c").wkt
    'MULTILINESTRING ((0 0, 0 1))'
    """
    arcs = decode_arcs(topology)
    users: dict[int, set[int]] = {}

    def walk(value: Any, owner: int) -> None:
        if isinstance(value, int):
            users.setdefault(value if value >= 0 else ~value, set()).add(owner)
        else:
            for item in value:
                walk(item, owner)

    for owner, geometry in enumerate(topology["objects"][name]["geometries"]):
        walk(geometry.get("arcs", []), owner)
    return shapely.MultiLineString(
        [arcs[i] for i, owners in sorted(users.items()) if len(owners) > 1]
    )


def _rounded(coordinates: Any) -> Any:
    if coordinates and isinstance(coordinates[0], (int, float)):
        return [round(coordinates[0], 3), round(coordinates[1], 3)]
    return [_rounded(c) for c in coordinates]


def _geojson(geometry: BaseGeometry) -> dict[str, Any]:
    mapping = shapely.geometry.mapping(geometry)
    return {"type": mapping["type"], "coordinates": _rounded(mapping["coordinates"])}


def _clipped(parts: Iterable[BaseGeometry], kind: str) -> list[Any]:
    box = shapely.box(*REGION)
    kept = []
    for part in parts:
        if not part.intersects(box):
            continue
        clipped = shapely.clip_by_rect(shapely.make_valid(part), *REGION)
        for piece in getattr(clipped, "geoms", [clipped]):
            if piece.geom_type == kind and not piece.is_empty:
                kept.append(piece.simplify(SIMPLIFY_DEGREES))
    return [p for p in kept if not p.is_empty]


def context_geojson(topology: dict[str, Any]) -> dict[str, Any]:
    """Land and national borders of ``topology`` (world-atlas countries) cut to ``REGION``."""
    land = _clipped(polygons(topology, "land"), "Polygon")
    lines = _clipped(borders(topology, "countries").geoms, "LineString")
    return {
        "land": _geojson(shapely.MultiPolygon(land)),
        "borders": _geojson(shapely.MultiLineString(lines)),
    }


def write_context_script(package_dir: Path) -> Path:
    """Write the context script (``window.cmContext = …``) next to world-atlas's data."""
    topology = json.loads((package_dir / SOURCE).read_text(encoding="utf-8"))
    data = json.dumps(context_geojson(topology), separators=(",", ":"))
    out = package_dir / assets.CONTEXT_SCRIPT
    out.write_text(
        "// Natural Earth 1:10m land and borders (public domain), via world-atlas; "
        f"cut to {REGION} by craftmap.\nwindow.cmContext = {data};\n",
        encoding="utf-8",
    )
    return out


# -- the map elements ----------------------------------------------------------------------


class ContextLayer(JSCSSMixin):
    """Land, coastline and national borders in a pane under the tiles, on every map page.

    Also marks the map ``cm-basemap-offline`` (and says so) when a basemap tile fails.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function(map) {
          var text = {{ this.text_json }};
          var pane = map.createPane('cmContext');
          pane.style.zIndex = {{ this.pane_z }};
          pane.style.pointerEvents = 'none';
          var data = window.cmContext;
          if (data) {
            L.geoJSON(data.land, {pane: 'cmContext', interactive: false, className: 'cm-land',
              style: {{ this.land_style }}}).addTo(map);
            L.geoJSON(data.borders, {pane: 'cmContext', interactive: false,
              className: 'cm-border', style: {{ this.border_style }}}).addTo(map);
            map.attributionControl.addAttribution(text.attribution);
          }
          var told = false;
          function offline() {
            map.getContainer().classList.add('cm-basemap-offline');
            if (told) return;
            told = true;
            var note = L.control({position: 'bottomleft'});
            note.onAdd = function() {
              var div = L.DomUtil.create('div', 'cm-offline-note');
              div.textContent = text.offline;
              return div;
            };
            note.addTo(map);
          }
          function watch(layer) {
            if (layer instanceof L.TileLayer) layer.on('tileerror', offline);
          }
          map.eachLayer(watch);
          map.on('layeradd', function(e) { watch(e.layer); });
        })({{ this._parent.get_name() }});
        {% endmacro %}
        """
    )

    default_js = [("craftmap_context", assets.SCRIPTS["craftmap_context"])]

    def __init__(self, lang: str) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self._name = "ContextLayer"
        self.pane_z = CONTEXT_PANE_Z
        self.text_json = script_json({k: v(lang) for k, v in TEXT.items()})
        self.land_style = script_json(
            {"color": styles.COAST, "weight": 1, "fillColor": styles.LAND, "fillOpacity": 1}
        )
        self.border_style = script_json(
            {"color": styles.BORDER, "weight": 1.6, "dashArray": "7 3 2 3", "opacity": 0.9}
        )


CSS = f"""
<style>
.folium-map.leaflet-container{{background:{styles.SEA}}}
.cm-offline-note{{background:rgba(255,255,255,.9);padding:3px 8px;border-radius:4px;
  font:12px sans-serif;color:#444}}
.cm-place{{background:none;border:none;pointer-events:none}}
.cm-place span{{position:absolute;left:50%;transform:translate(-50%,-50%);white-space:nowrap;
  font:12px/1.2 sans-serif;color:#333;text-shadow:0 0 2px #fff,0 0 3px #fff,0 0 4px #fff}}
.cm-place-province span{{font-size:14px;font-weight:bold;letter-spacing:.04em;color:#444}}
.cm-place-dot span{{transform:translate(-50%,4px)}}
.cm-place-dot::before{{content:"";position:absolute;left:50%;top:50%;width:5px;height:5px;
  margin:-3.5px 0 0 -3.5px;border-radius:50%;background:#fff;border:1px solid #555}}
.leaflet-container .cm-place-commune{{display:none}}
.leaflet-container.cm-near .cm-place-commune{{display:block}}
</style>
"""


class AdminUnits(folium.map.Layer):
    """Administrative units: boundaries where loaded, and each unit's name at its centre.

    Provinces are named at every zoom, communes from ``COMMUNE_LABEL_ZOOM``; a unit with a
    boundary gets its name only, a unit without one a small place dot with its name.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = L.featureGroup();
        (function(map, group) {
          {{ this.esc_js }}
          [['cmAdmin', {{ this.admin_z }}], ['cmPlaces', {{ this.places_z }}]]
            .forEach(function(p) {
              if (!map.getPane(p[0])) {
                map.createPane(p[0]).style.zIndex = p[1];
                map.getPane(p[0]).style.pointerEvents = 'none';
              }
            });
          var styles = {{ this.styles_json }};
          L.geoJSON({{ this.boundaries_json }}, {pane: 'cmAdmin', interactive: false,
            className: 'cm-admin-boundary',
            style: function(f) { return styles[f.properties.level] || styles.commune; }
          }).addTo(group);
          {{ this.places_json }}.forEach(function(r) {
            // r: [lat, lon, name, level, has boundary]
            var icon = L.divIcon({
              className: 'cm-place cm-place-' + esc(r[3]) + (r[4] ? '' : ' cm-place-dot'),
              html: '<span>' + esc(r[2]) + '</span>', iconSize: [0, 0]});
            L.marker([r[0], r[1]], {icon: icon, pane: 'cmPlaces', interactive: false,
              keyboard: false}).addTo(group);
          });
          function mark() {
            map.getContainer().classList.toggle('cm-near',
              map.getZoom() >= {{ this.commune_zoom }});
          }
          map.on('zoomend', mark); map.whenReady(mark);
        })({{ this._parent.get_name() }}, {{ this.get_name() }});
        {% endmacro %}
        """
    )

    def __init__(self, admin: gpd.GeoDataFrame, lang: str) -> None:
        super().__init__(name=styles.ADMIN_NAME(lang), overlay=True, control=True, show=True)
        self._name = "AdminUnits"
        features = []
        places = []
        for row in admin.itertuples():
            geometry = row.geometry
            if geometry is None or geometry.is_empty:
                continue
            level = str(row.level)
            bounded = geometry.geom_type in {"Polygon", "MultiPolygon"}
            if bounded:
                features.append(
                    {
                        "type": "Feature",
                        "properties": {"level": level},
                        "geometry": _geojson(geometry),
                    }
                )
            label = _label_point(row, geometry)
            if label is not None:
                places.append([label[1], label[0], str(row.name), level, bounded])
        self.boundaries_json = script_json({"type": "FeatureCollection", "features": features})
        self.places_json = script_json(places)
        self.styles_json = script_json(
            {
                "province": {"color": styles.ADMIN_OUTLINE, "weight": 2.2, "fill": False},
                "district": {
                    "color": styles.ADMIN_OUTLINE,
                    "weight": 1.4,
                    "fill": False,
                    "dashArray": "6 4",
                },
                "commune": {
                    "color": styles.ADMIN_OUTLINE,
                    "weight": 1,
                    "fill": False,
                    "dashArray": "4 3",
                    "opacity": 0.8,
                },
            }
        )
        self.esc_js = ESC_JS
        self.admin_z = ADMIN_PANE_Z
        self.places_z = PLACES_PANE_Z
        self.commune_zoom = COMMUNE_LABEL_ZOOM


def _label_point(row: Any, geometry: BaseGeometry) -> tuple[float, float] | None:
    # The unit's own label point (a polygon's is read with it), else a point inside it.
    lon, lat = getattr(row, "label_lon", None), getattr(row, "label_lat", None)
    if isinstance(lon, float) and isinstance(lat, float) and not math.isnan(lon + lat):
        return lon, lat
    point = geometry if geometry.geom_type == "Point" else geometry.representative_point()
    if point.is_empty:
        return None
    x, y = shapely.get_x(point), shapely.get_y(point)
    return float(x), float(y)
