"""A province's or commune's package: one GeoPackage styled for QGIS, or a KMZ for Google Earth.

Every collection's features in the chosen area (villages, material zones, routes, route
stops, the admin units, each reference layer) go into one file, one layer each. The
GeoPackage carries a QGIS style per layer in its ``layer_styles`` table (the QGIS
GeoPackage styling extension), drawn with the web maps' palette, which the caller passes
in (``maps.styles`` lives above ``geo``); the KMZ carries the same colours as KML styles.

Where the area's unit has a boundary loaded, "in the area" is spatial (``ST_Intersects``).
Where it has none (the demo loads only the units' centres), a feature is in the area when
its commune code says so; a province's package adds the features without a known code
whose nearest province centre is its own: an approximation the README row states.
"""

from __future__ import annotations

import datetime as dt
import html
import math
import sqlite3
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import sqlalchemy as sa
from shapely.geometry.base import BaseGeometry

from geo.kernel import vocab
from geo.kernel.crs import SERVED_CRS, SRID_STORAGE, VIETNAM_BBOX
from geo.kernel.errors import InvalidInput, LimitExceeded, NotFound
from geo.kernel.text import DEFAULT_LANG, LANGS, Text
from geo.store.db import Connection, Engine

if TYPE_CHECKING:
    from lxml import etree  # type: ignore[import-untyped]

if TYPE_CHECKING:
    import geopandas as gpd
    import pandas as pd

# Most features a package may hold; a larger area is refused before anything is read.
MAX_FEATURES = 100_000
SOURCE = "craftmap"
LICENCE = Text(
    "Dữ liệu craftmap; xem nguồn của từng đối tượng (cột sources) và data/demo/SOURCES.md",
    "craftmap data; see each feature's sources (column sources) and data/demo/SOURCES.md",
)


class Themed(Protocol):
    """What a package needs of a web map theme (``maps.styles.Theme``)."""

    @property
    def name(self) -> Text: ...
    @property
    def column(self) -> str: ...
    @property
    def vocabulary(self) -> str: ...
    @property
    def colours(self) -> dict[str, str]: ...
    @property
    def default(self) -> str: ...
    @property
    def fill_opacity(self) -> float: ...


@dataclass(frozen=True)
class Palette:
    """The web maps' themes and outline colours, given by the caller (``maps.styles``)."""

    villages: Themed
    zones: Themed
    certified_outline: str
    routes: Themed
    admin_outline: str


@dataclass(frozen=True)
class Area:
    """A package's area: an admin unit (by code, in the current scheme unless named) or a bbox.

    >>> Area(code="38").label
    '38'
    >>> Area(bbox=(105.0, 19.5, 106.0, 20.5)).label
    'bbox 105.0,19.5,106.0,20.5'
    """

    code: str | None = None
    scheme: str | None = None
    bbox: tuple[float, float, float, float] | None = None
    # The level the code must have (``--commune``), if any.
    level: str | None = None

    def __post_init__(self) -> None:
        if (self.code is None) == (self.bbox is None):
            raise InvalidInput("name an area: an admin unit code or a bbox, not both")
        if self.bbox is not None:
            xmin, ymin, xmax, ymax = self.bbox
            if not all(math.isfinite(v) for v in self.bbox) or xmin >= xmax or ymin >= ymax:
                raise InvalidInput(f"bbox {self.bbox} is not minlon,minlat,maxlon,maxlat")
            vx0, vy0, vx1, vy1 = VIETNAM_BBOX
            if xmax < vx0 or xmin > vx1 or ymax < vy0 or ymin > vy1:
                raise InvalidInput(f"bbox {self.bbox} lies outside Vietnam")

    @property
    def label(self) -> str:
        """How the area is named in file names and the README."""
        if self.bbox is not None:
            return "bbox " + ",".join(str(v) for v in self.bbox)
        return str(self.code)


@dataclass(frozen=True)
class LayerSpec:
    """One layer of the package: its SQL, geometry type, titles and style."""

    name: str
    title: Text
    description: Text
    sql: str
    geometry_type: str
    theme: str | None = None  # villages | zones | routes (a Palette field)


@dataclass
class PackageLayer:
    """One layer as read: its spec and features (in the package's CRS)."""

    spec: LayerSpec
    frame: gpd.GeoDataFrame


# -- selection ---------------------------------------------------------------------------------
# {village}, {zone}, {stop}, {route}, {unit}, {ref} are predicates on aliases v, z, s, r, a, f;
# they are fixed SQL fragments chosen below, never user text (values are bound).
_VILLAGES = """
SELECT v.id, v.code, v.name, array_to_string(v.alt_names, '; ') AS alt_names, v.kind,
       array_to_string(v.crafts, '; ') AS crafts, v.craft_group,
       array_to_string(v.hamlets, '; ') AS hamlets, v.commune_code, v.commune_name,
       v.legacy_commune, v.legacy_district, v.recognition_decision, v.recognition_year,
       v.status, v.operating_effectively, v.tourism_linked, v.ocop_products, v.ocop_stars,
       v.households, v.craft_households, v.workers, v.trained_workers, v.geom_precision,
       v.precision_m, v.geom_source, array_to_string(v.sources, '; ') AS sources, v.notes,
       ST_Transform(v.geom, :srid) AS geom
FROM craft_village v WHERE {village} ORDER BY v.code
"""
_ZONES = """
SELECT z.id, z.code, z.name, z.material, z.species, z.species_latin, z.status, z.land_type,
       z.owner_type, z.owner, z.certification_scheme, z.certificate_no, z.certificate_expiry,
       z.annual_capacity_t, z.harvest_season, z.declared_area_ha,
       round(z.area_ha::numeric, 2)::float AS area_ha,
       array_to_string(z.commune_codes, '; ') AS commune_codes, z.legacy_district, z.plan_ref,
       z.geom_source, array_to_string(z.sources, '; ') AS sources, z.notes,
       ST_Transform(ST_Multi(z.geom), :srid) AS geom
FROM material_zone z WHERE {zone} ORDER BY z.code
"""
_ROUTES = """
SELECT r.id, r.code, r.name, r.theme, r.mode, r.status, r.description,
       array_to_string(r.road_refs, '; ') AS road_refs,
       round(r.length_km::numeric, 1)::float AS length_km,
       array_to_string(r.sources, '; ') AS sources, ST_Transform(r.geom, :srid) AS geom
FROM tourism_route r WHERE {route} ORDER BY r.code
"""
_STOPS = """
SELECT s.id, s.route_id, rt.code AS route_code, s.seq, COALESCE(s.name, v.name) AS name,
       v.code AS village_code, s.dwell_min, s.note, ST_Transform(s.geom, :srid) AS geom
FROM route_stop s JOIN tourism_route rt ON rt.id = s.route_id
LEFT JOIN craft_village v ON v.id = s.village_id
WHERE {stop} ORDER BY rt.code, s.seq
"""
_UNITS = """
SELECT a.id, a.code, a.scheme, a.name, a.level, a.parent_code, a.valid_from, a.valid_to,
       a.source, round(a.area_ha::numeric, 1)::float AS area_ha,
       ST_Transform(a.geom, :srid) AS geom
FROM admin_unit a WHERE {unit} ORDER BY a.level DESC, a.code
"""
_CENTRES = """
SELECT a.code, a.name, a.level, ST_Transform(a.label_point, :srid) AS geom
FROM admin_unit a WHERE a.label_point IS NOT NULL AND ({unit}) ORDER BY a.level DESC, a.code
"""
_REFERENCE = """
SELECT f.id, f.properties::text AS properties, ST_Transform(f.geom, :srid) AS geom
FROM reference_feature f WHERE f.layer_id = :layer_id AND ({ref}) ORDER BY f.id
"""

_CURRENT = "(a.valid_to IS NULL OR a.valid_to >= current_date)"
# The unit and every unit under it, in its scheme.
_AREA_UNITS = """
WITH RECURSIVE tree AS (
  SELECT code FROM admin_unit WHERE id = :unit_id
  UNION SELECT c.code FROM admin_unit c JOIN tree t ON c.parent_code = t.code
  WHERE c.scheme = :scheme
)
SELECT array_agg(code) FROM tree
"""
# Nearest centre of a current unit of the area's level: is it the area's unit?
_NEAREST = (
    "(SELECT c.id FROM admin_unit c WHERE c.scheme = :scheme AND c.level = :level "
    "AND c.label_point IS NOT NULL AND (c.valid_to IS NULL OR c.valid_to >= current_date) "
    "ORDER BY c.label_point <-> ST_PointOnSurface({geom}) LIMIT 1) = :unit_id"
)


def _coded_predicates(level: str) -> dict[str, str]:
    # The nearest-centre rule only for a province: provinces' centres are all loaded and
    # far apart, while a scheme's commune centres may be a sample (the demo loads 32).
    nearest = _NEAREST if level == vocab.AdminLevel.PROVINCE else "false"
    village = (
        "(v.commune_code = ANY(:codes) OR ((v.commune_code IS NULL OR NOT "
        f"v.commune_code = ANY(:scheme_codes)) AND {nearest.format(geom='v.geom')}))"
    )
    stop = (
        "(EXISTS (SELECT 1 FROM craft_village v WHERE v.id = s.village_id AND "
        f"{village}) OR (s.village_id IS NULL AND {nearest.format(geom='s.geom')}))"
    )
    return {
        "village": village,
        "zone": (
            "(z.commune_codes && CAST(:codes AS text[]) OR (NOT z.commune_codes && "
            f"CAST(:scheme_codes AS text[]) AND {nearest.format(geom='z.geom')}))"
        ),
        "stop": stop,
        "route": f"EXISTS (SELECT 1 FROM route_stop s WHERE s.route_id = r.id AND {stop})",
        "unit": "a.scheme = :scheme AND a.code = ANY(:codes)",
        "ref": nearest.format(geom="f.geom"),
    }


def _spatial_predicates(area_sql: str, *, units_by_code: bool) -> dict[str, str]:
    inside = "ST_Intersects({geom}, " + area_sql + ")"
    stop = inside.format(geom="s.geom")
    return {
        "village": inside.format(geom="v.geom"),
        "zone": inside.format(geom="z.geom"),
        "stop": stop,
        # A route whose line is not drawn yet is in the area when one of its stops is.
        "route": f"({inside.format(geom='r.geom')} OR (r.geom IS NULL AND EXISTS "
        f"(SELECT 1 FROM route_stop s WHERE s.route_id = r.id AND {stop})))",
        "unit": (
            "a.scheme = :scheme AND a.code = ANY(:codes)"
            if units_by_code
            else f"{_CURRENT} AND {inside.format(geom='COALESCE(a.geom, a.label_point)')}"
        ),
        "ref": inside.format(geom="f.geom"),
    }


@dataclass(frozen=True)
class ResolvedArea:
    """An area as the SQL needs it: its predicates and bound values."""

    area: Area
    title: str
    predicates: dict[str, str]
    params: dict[str, Any]
    spatial: bool


def resolve_area(conn: Connection, area: Area) -> ResolvedArea:
    """The predicates selecting ``area``'s features.

    Raises
    ------
    NotFound
        When no current unit (or none of the named scheme) has the code.
    """
    if area.bbox is not None:
        xmin, ymin, xmax, ymax = area.bbox
        envelope = "ST_MakeEnvelope(:xmin, :ymin, :xmax, :ymax, 4326)"
        return ResolvedArea(
            area,
            area.label,
            _spatial_predicates(envelope, units_by_code=False),
            {"xmin": xmin, "ymin": ymin, "xmax": xmax, "ymax": ymax},
            True,
        )
    scheme_filter = "a.scheme = :scheme" if area.scheme else _CURRENT
    unit = conn.execute(
        sa.text(
            "SELECT a.id, a.scheme, a.name, a.level, a.geom IS NOT NULL AS bounded "
            f"FROM admin_unit a WHERE a.code = :code AND {scheme_filter} "
            "ORDER BY a.valid_from DESC NULLS LAST, a.id LIMIT 1"
        ),
        {"code": area.code, "scheme": area.scheme},
    ).one_or_none()
    if unit is None:
        which = f" in scheme {area.scheme!r}" if area.scheme else " among the current units"
        raise NotFound(f"no administrative unit with code {area.code!r}{which}")
    if area.level is not None and unit.level != area.level:
        raise InvalidInput(f"unit {area.code} ({unit.name}) is a {unit.level}, not a {area.level}")
    codes = conn.execute(
        sa.text(_AREA_UNITS), {"unit_id": unit.id, "scheme": unit.scheme}
    ).scalar_one()
    scheme_codes = conn.execute(
        sa.text("SELECT array_agg(code) FROM admin_unit WHERE scheme = :scheme"),
        {"scheme": unit.scheme},
    ).scalar_one()
    params = {
        "unit_id": unit.id,
        "scheme": unit.scheme,
        "level": unit.level,
        "codes": list(codes),
        "scheme_codes": list(scheme_codes),
    }
    if unit.bounded:
        boundary = "(SELECT b.geom FROM admin_unit b WHERE b.id = :unit_id)"
        predicates = _spatial_predicates(boundary, units_by_code=True)
    else:
        predicates = _coded_predicates(unit.level)
    return ResolvedArea(area, f"{unit.name} ({area.code})", predicates, params, unit.bounded)


# -- layers ------------------------------------------------------------------------------------
_FIXED_LAYERS = (
    LayerSpec(
        "villages",
        Text("Làng nghề", "Craft villages"),
        Text(
            "Làng nghề, làng nghề truyền thống và nghề truyền thống (Nghị định 52/2018)",
            "Craft villages, traditional craft villages and crafts (Decree 52/2018)",
        ),
        _VILLAGES,
        "Point",
        "villages",
    ),
    LayerSpec(
        "material_zones",
        Text("Vùng nguyên liệu", "Raw-material zones"),
        Text(
            "Vùng nguyên liệu tập trung (tre, luồng, mây, cói, dược liệu…); "
            "viền vàng: có chứng chỉ",
            "Concentrated raw-material zones (bamboo, luồng, rattan, sedge, medicinal plants…); "
            "gold outline: certified",
        ),
        _ZONES,
        "MultiPolygon",
        "zones",
    ),
    LayerSpec(
        "routes",
        Text("Tuyến du lịch", "Tourism routes"),
        Text("Tuyến du lịch qua các làng nghề", "Tourism routes through the craft villages"),
        _ROUTES,
        "LineString",
        "routes",
    ),
    LayerSpec(
        "route_stops",
        Text("Điểm dừng", "Route stops"),
        Text("Điểm dừng của các tuyến, theo thứ tự", "The routes' stops, in order"),
        _STOPS,
        "Point",
    ),
    LayerSpec(
        "admin_units",
        Text("Đơn vị hành chính", "Administrative units"),
        Text(
            "Đơn vị hành chính của vùng và các đơn vị trực thuộc (ranh giới nếu đã nạp)",
            "The area's administrative unit and the units under it (boundaries where loaded)",
        ),
        _UNITS,
        "MultiPolygon",
    ),
    LayerSpec(
        "admin_centres",
        Text("Trung tâm hành chính", "Administrative centres"),
        Text(
            "Vị trí nhãn (trung tâm) của các đơn vị hành chính",
            "Label points (centres) of the administrative units",
        ),
        _CENTRES,
        "Point",
    ),
)


def _reference_specs(conn: Connection) -> list[tuple[LayerSpec, int]]:
    rows = conn.execute(
        sa.text(
            "SELECT id, name, title, description, "
            "(SELECT GeometryType(geom) FROM reference_feature WHERE layer_id = l.id LIMIT 1) "
            "AS gtype FROM reference_layer l ORDER BY name"
        )
    ).all()
    specs = []
    for row in rows:
        kind = (row.gtype or "GEOMETRY").upper()
        base = kind.removeprefix("MULTI")
        gtype = {"POINT": "Point", "LINESTRING": "MultiLineString", "POLYGON": "MultiPolygon"}
        title = Text(f"Lớp tham chiếu: {row.title}", f"Reference layer: {row.title}")
        specs.append(
            (
                LayerSpec(
                    "ref_" + row.name.replace("-", "_"),
                    title,
                    Text(row.description or row.title, row.description or row.title),
                    _REFERENCE,
                    gtype.get(base, "Unknown"),
                ),
                int(row.id),
            )
        )
    return specs


def _read(conn: Connection, sql: str, params: dict[str, Any]) -> gpd.GeoDataFrame:
    import geopandas as gpd

    frame = gpd.read_postgis(sa.text(sql), conn, geom_col="geom", params=params)
    return frame.rename_geometry("geometry")


def _count(conn: Connection, sql: str, params: dict[str, Any]) -> int:
    return int(conn.execute(sa.text(f"SELECT count(*) FROM ({sql}) q"), params).scalar_one())


def read_layers(
    conn: Connection, area: Area, *, srid: int = SRID_STORAGE, max_features: int = MAX_FEATURES
) -> tuple[ResolvedArea, list[PackageLayer]]:
    """Every layer of ``area``'s package, read in ``srid``.

    Raises
    ------
    LimitExceeded
        When the area holds more than ``max_features`` features (counted before reading).
    """
    resolved = resolve_area(conn, area)
    params = {**resolved.params, "srid": srid}
    queries: list[tuple[LayerSpec, str, dict[str, Any]]] = [
        (spec, spec.sql.format(**resolved.predicates), params) for spec in _FIXED_LAYERS
    ]
    for spec, layer_id in _reference_specs(conn):
        queries.append(
            (spec, spec.sql.format(**resolved.predicates), {**params, "layer_id": layer_id})
        )
    total = sum(_count(conn, sql, p) for _, sql, p in queries)
    if total > max_features:
        raise LimitExceeded(
            f"the area {area.label} holds {total} features, more than the {max_features} "
            "a package may hold: choose a smaller area (a commune or a bbox)",
            limit="package_max_features",
            value=max_features,
        )
    layers = []
    for spec, sql, p in queries:
        frame = _read(conn, sql, p)
        if "properties" in frame.columns:
            frame = _expand_properties(frame)
        frame = frame.set_crs(srid, allow_override=True)
        layers.append(PackageLayer(spec, frame))
    return resolved, layers


def _expand_properties(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    # A reference feature's free-form properties become columns of their own.
    import json

    import geopandas as gpd
    import pandas as pd

    props = pd.DataFrame([json.loads(p or "{}") for p in frame["properties"]], index=frame.index)
    props = props.drop(columns=[c for c in props.columns if c in {"id", "geometry"}])
    return gpd.GeoDataFrame(
        pd.concat([frame[["id"]], props, frame[["geometry"]]], axis=1), geometry="geometry"
    )


# -- QGIS styles (QML) -------------------------------------------------------------------------
def _rgba(colour: str, alpha: float = 1.0) -> str:
    """A ``#rrggbb`` colour as QGIS writes it.

    >>> _rgba("#E69F00")
    '230,159,0,255'
    >>> _rgba("#1b7837", 0.45)
    '27,120,55,115'
    """
    value = colour.lstrip("#")
    r, g, b = (int(value[i : i + 2], 16) for i in (0, 2, 4))
    return f"{r},{g},{b},{round(alpha * 255)}"


def _options(parent: etree._Element, values: dict[str, str]) -> None:
    from lxml import etree

    mapping = etree.SubElement(parent, "Option", type="Map")
    for key, value in values.items():
        etree.SubElement(mapping, "Option", name=key, type="QString", value=value)


def _data_defined(parent: etree._Element, expressions: dict[str, str]) -> None:
    from lxml import etree

    box = etree.SubElement(parent, "data_defined_properties")
    root = etree.SubElement(box, "Option", type="Map")
    etree.SubElement(root, "Option", name="name", type="QString", value="")
    props = etree.SubElement(root, "Option", name="properties", type="Map")
    for key, expression in expressions.items():
        prop = etree.SubElement(props, "Option", name=key, type="Map")
        etree.SubElement(prop, "Option", name="active", type="bool", value="true")
        etree.SubElement(prop, "Option", name="expression", type="QString", value=expression)
        etree.SubElement(prop, "Option", name="type", type="int", value="3")
    etree.SubElement(root, "Option", name="type", type="QString", value="collection")


def _symbol(
    parent: etree._Element,
    name: str,
    geometry: str,
    colour: str,
    *,
    palette: Palette | None = None,
    fill_opacity: float = 0.45,
    outline_only: bool = False,
) -> None:
    from lxml import etree

    kind = {"Point": "marker", "MultiPolygon": "fill"}.get(geometry, "line")
    symbol = etree.SubElement(
        parent, "symbol", type=kind, name=name, alpha="1", clip_to_extent="1", force_rhr="0"
    )
    if kind == "marker":
        layer = etree.SubElement(symbol, "layer", {"class": "SimpleMarker", "enabled": "1"})
        _options(
            layer,
            {
                "name": "circle",
                "color": _rgba(colour),
                "size": "3.6",
                "size_unit": "MM",
                "outline_color": "255,255,255,255",
                "outline_width": "0.4",
                "outline_style": "solid",
            },
        )
    elif kind == "fill":
        layer = etree.SubElement(symbol, "layer", {"class": "SimpleFill", "enabled": "1"})
        _options(
            layer,
            {
                "color": _rgba(colour, 0 if outline_only else fill_opacity),
                "style": "no" if outline_only else "solid",
                "outline_color": _rgba(colour, 0.9),
                "outline_width": "0.5" if outline_only else "0.3",
                "outline_width_unit": "MM",
                "outline_style": "dash" if outline_only else "solid",
            },
        )
        if palette is not None:
            # The web map's certified outline: gold and thicker where a scheme is set.
            gold = _rgba(palette.certified_outline)
            _data_defined(
                layer,
                {
                    "outlineColor": f"if(\"certification_scheme\" IS NOT NULL, '{gold}', "
                    f"'{_rgba(colour, 0.9)}')",
                    "outlineWidth": 'if("certification_scheme" IS NOT NULL, 0.8, 0.3)',
                },
            )
    else:
        layer = etree.SubElement(symbol, "layer", {"class": "SimpleLine", "enabled": "1"})
        _options(
            layer,
            {
                "line_color": _rgba(colour, 0.9),
                "line_width": "1.2",
                "line_width_unit": "MM",
                "line_style": "solid",
                "capstyle": "round",
                "joinstyle": "round",
            },
        )


def _labels(
    root: etree._Element, field_name: str, *, size: str = "9", over_point: bool = False
) -> None:
    from lxml import etree

    labeling = etree.SubElement(root, "labeling", type="simple")
    settings = etree.SubElement(labeling, "settings", calloutType="simple")
    etree.SubElement(
        settings,
        "text-style",
        fieldName=field_name,
        fontSize=size,
        fontFamily="Noto Sans",
        namedStyle="Bold" if over_point else "Regular",
        fontWeight="75" if over_point else "50",
        textColor="37,37,37,255",
        isExpression="0",
    )
    etree.SubElement(
        settings,
        "text-buffer",
        bufferDraw="0" if over_point else "1",
        bufferSize="0.8",
        bufferColor="255,255,255,255",
    )
    # Names around their point (QGIS's "around point", 0) or on a polygon's edge; a stop's
    # number over its circle (1), always drawn, as the web map's numbered stops are.
    etree.SubElement(
        settings, "placement", placement="1" if over_point else "0", dist="1", offsetType="0"
    )
    etree.SubElement(
        settings,
        "rendering",
        obstacle="0" if over_point else "1",
        displayAll="1" if over_point else "0",
        scaleVisibility="0",
    )


def theme_default(palette: Palette) -> str:
    """The web maps' colour for what no theme colours (reference layers)."""
    return palette.villages.default


_GEOMETRY_CODE = {"Point": "0", "LineString": "1", "MultiLineString": "1", "MultiPolygon": "2"}


def qml(spec: LayerSpec, palette: Palette, lang: str = DEFAULT_LANG) -> str:
    """The QGIS style (QML) of one layer: categorized by the theme's code, labelled by name."""
    from lxml import etree

    root = etree.Element("qgis", version="3.22.16", styleCategories="Symbology|Labeling")
    theme: Themed | None = getattr(palette, spec.theme) if spec.theme else None
    if theme is not None:
        renderer = etree.SubElement(
            root,
            "renderer-v2",
            type="categorizedSymbol",
            attr=theme.column,
            symbollevels="0",
            enableorderby="0",
            forceraster="0",
        )
        categories = etree.SubElement(renderer, "categories")
        symbols = etree.SubElement(renderer, "symbols")
        for i, (code, colour) in enumerate(theme.colours.items()):
            etree.SubElement(
                categories,
                "category",
                render="true",
                symbol=str(i),
                value=code,
                label=vocab.label(theme.vocabulary, code, lang),
            )
            _symbol(
                symbols,
                str(i),
                spec.geometry_type,
                colour,
                palette=palette if spec.theme == "zones" else None,
                fill_opacity=theme.fill_opacity,
            )
        source = etree.SubElement(renderer, "source-symbol")
        _symbol(source, "0", spec.geometry_type, theme.default, fill_opacity=theme.fill_opacity)
    else:
        renderer = etree.SubElement(
            root, "renderer-v2", type="singleSymbol", symbollevels="0", forceraster="0"
        )
        symbols = etree.SubElement(renderer, "symbols")
        outline = spec.name == "admin_units"
        colour = palette.admin_outline if spec.name.startswith("admin") else theme_default(palette)
        if spec.name == "route_stops":
            colour = "#ffffff"
        _symbol(symbols, "0", spec.geometry_type, colour, outline_only=outline)
        marker = symbols.find("symbol/layer/Option")
        if marker is not None and spec.name in {"route_stops", "admin_centres"}:
            # The web map's numbered stops: white circles edged in the craft-village route
            # colour; unit centres small, under the villages.
            edge = next(iter(palette.routes.colours.values()))
            changes = (
                {"outline_color": _rgba(edge), "outline_width": "0.7", "size": "4.8"}
                if spec.name == "route_stops"
                else {"size": "1.8"}
            )
            for option in marker:
                if option.get("name") in changes:
                    option.set("value", changes[str(option.get("name"))])
    if spec.name == "route_stops":
        _labels(root, "seq", size="8", over_point=True)
    elif not spec.name.startswith("ref_"):
        _labels(root, "name", size="8" if spec.name == "admin_centres" else "9")
    etree.SubElement(root, "layerGeometryType").text = _GEOMETRY_CODE.get(spec.geometry_type, "0")
    return str(etree.tostring(root, encoding="unicode"))


# -- GeoPackage --------------------------------------------------------------------------------
# The table QGIS creates when it saves a style into a GeoPackage (its styling extension).
_LAYER_STYLES_DDL = """
CREATE TABLE layer_styles (
  id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
  f_table_catalog TEXT(256),
  f_table_schema TEXT(256),
  f_table_name TEXT(256),
  f_geometry_column TEXT(256),
  styleName TEXT(30),
  styleQML TEXT,
  styleSLD TEXT,
  useAsDefault BOOLEAN,
  description TEXT,
  owner TEXT(30),
  ui TEXT(30),
  update_time DATETIME DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))
)
"""


def _readme(resolved: ResolvedArea, srid: int, layers: Sequence[PackageLayer]) -> pd.DataFrame:
    import pandas as pd

    today = dt.date.today().isoformat()
    how = (
        Text("theo ranh giới (ST_Intersects)", "by boundary (ST_Intersects)")
        if resolved.spatial
        else Text(
            "theo mã xã (chưa nạp ranh giới); gói tỉnh thêm đối tượng không có mã xã "
            "có trung tâm tỉnh gần nhất là tỉnh này (gần đúng)",
            "by commune code (no boundaries loaded); a province's package adds the features "
            "without a commune code whose nearest province centre is its own (approximate)",
        )
    )
    rows = [
        ("area", resolved.title, resolved.title),
        ("selection", how.vi, how.en),
        ("date", today, today),
        ("crs", f"EPSG:{srid}", f"EPSG:{srid}"),
        ("source", SOURCE, SOURCE),
        ("licence", LICENCE.vi, LICENCE.en),
    ]
    rows += [
        (
            f"layer:{layer.spec.name}",
            f"{layer.spec.title.vi}: {len(layer.frame)}",
            f"{layer.spec.title.en}: {len(layer.frame)}",
        )
        for layer in layers
    ]
    return pd.DataFrame(rows, columns=["key", *LANGS])


def _description(spec: LayerSpec) -> str:
    return f"{spec.title.vi} — {spec.description.vi} / {spec.title.en} — {spec.description.en}"


def write_gpkg(
    resolved: ResolvedArea,
    layers: Sequence[PackageLayer],
    out_path: Path,
    palette: Palette,
    srid: int,
) -> None:
    """One GeoPackage: a layer per collection, the README table, QGIS styles."""
    import pyogrio  # type: ignore[import-untyped]

    out_path.unlink(missing_ok=True)
    readme = _readme(resolved, srid, layers)
    for i, layer in enumerate(layers):
        frame = layer.frame
        first = i == 0
        pyogrio.write_dataframe(
            frame,
            out_path,
            layer=layer.spec.name,
            driver="GPKG",
            geometry_type=layer.spec.geometry_type,
            promote_to_multi=layer.spec.geometry_type.startswith("Multi"),
            layer_options={"DESCRIPTION": _description(layer.spec), "IDENTIFIER": layer.spec.name},
            # GeoPackage 1.2: what QGIS 3.22's GDAL reads without a warning.
            dataset_options={"VERSION": "1.2"} if first else None,
            # Provenance in gpkg_metadata (GDAL writes it with its reference row).
            dataset_metadata={k: f"{vi} / {en}" for k, vi, en in readme.itertuples(index=False)}
            if first
            else None,
            append=not first,
        )
    pyogrio.write_dataframe(
        readme,
        out_path,
        layer="readme",
        driver="GPKG",
        append=True,
        layer_options={"DESCRIPTION": "Giới thiệu gói dữ liệu / About this package"},
    )
    with sqlite3.connect(out_path) as db:
        db.execute(_LAYER_STYLES_DDL)
        db.execute(
            "INSERT INTO gpkg_contents (table_name, data_type, identifier, description, "
            "last_change) VALUES ('layer_styles', 'attributes', 'layer_styles', "
            "'Kiểu hiển thị QGIS / QGIS styles', strftime('%Y-%m-%dT%H:%M:%fZ','now'))"
        )
        # The Vietnamese style is the default; the English one is a second style of the
        # same layer (QGIS: Layer Properties → Style → Load from database).
        db.executemany(
            "INSERT INTO layer_styles (f_table_catalog, f_table_schema, f_table_name, "
            "f_geometry_column, styleName, styleQML, styleSLD, useAsDefault, description, "
            "owner, ui) VALUES ('', '', ?, 'geom', ?, ?, '', ?, ?, '', NULL)",
            [
                (
                    layer.spec.name,
                    layer.spec.name if lang == DEFAULT_LANG else f"{layer.spec.name} ({lang})",
                    qml(layer.spec, palette, lang),
                    lang == DEFAULT_LANG,
                    f"craftmap: {layer.spec.title(lang)}",
                )
                for lang in LANGS
                for layer in layers
            ],
        )


# -- KML / KMZ ---------------------------------------------------------------------------------
_KML = "http://www.opengis.net/kml/2.2"


def _kml_colour(colour: str, alpha: float = 1.0) -> str:
    """A ``#rrggbb`` colour in KML's aabbggrr order.

    >>> _kml_colour("#E69F00")
    'ff009fe6'
    """
    value = colour.lstrip("#").lower()
    return f"{round(alpha * 255):02x}{value[4:6]}{value[2:4]}{value[0:2]}"


def _k(parent: etree._Element, tag: str, text: str | None = None, **attrs: str) -> etree._Element:
    from lxml import etree

    element = etree.SubElement(parent, f"{{{_KML}}}{tag}", attrs)
    if text is not None:
        element.text = text
    return element


def _coords(coords: Iterable[Sequence[float]]) -> str:
    return " ".join(f"{c[0]:.7f},{c[1]:.7f}" for c in coords)


def _kml_geometry(parent: etree._Element, geometry: BaseGeometry) -> None:
    kind = geometry.geom_type
    if kind == "Point":
        _k(_k(parent, "Point"), "coordinates", _coords([geometry.coords[0]]))
    elif kind == "LineString":
        _k(_k(parent, "LineString"), "coordinates", _coords(geometry.coords))
    elif kind == "Polygon":
        polygon = _k(parent, "Polygon")
        ring = _k(_k(polygon, "outerBoundaryIs"), "LinearRing")
        _k(ring, "coordinates", _coords(geometry.exterior.coords))  # type: ignore[attr-defined]
        for hole in geometry.interiors:  # type: ignore[attr-defined]
            _k(
                _k(_k(polygon, "innerBoundaryIs"), "LinearRing"),
                "coordinates",
                _coords(hole.coords),
            )
    else:
        multi = _k(parent, "MultiGeometry")
        for part in geometry.geoms:  # type: ignore[attr-defined]
            _kml_geometry(multi, part)


def _style(
    document: etree._Element,
    style_id: str,
    geometry: str,
    colour: str,
    *,
    fill_opacity: float,
    edge: str | None = None,
    outline_only: bool = False,
) -> None:
    style = _k(document, "Style", id=style_id)
    if geometry == "Point":
        icon_style = _k(style, "IconStyle")
        _k(icon_style, "color", _kml_colour(colour))
        _k(icon_style, "scale", "0.9")
        _k(
            _k(icon_style, "Icon"),
            "href",
            "http://maps.google.com/mapfiles/kml/shapes/placemark_circle.png",
        )
    else:
        line = _k(style, "LineStyle")
        _k(line, "color", _kml_colour(edge or colour, 0.9))
        _k(line, "width", "3" if edge or geometry != "MultiPolygon" else "1.5")
        if geometry == "MultiPolygon":
            poly = _k(style, "PolyStyle")
            _k(poly, "color", _kml_colour(colour, 0 if outline_only else fill_opacity))
            _k(poly, "fill", "0" if outline_only else "1")


def _plain(value: Any) -> str | None:
    import pandas as pd

    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if hasattr(value, "item"):
        value = value.item()
    if value is pd.NaT:
        return None
    return str(value)


def _balloon(row: Any, columns: Sequence[str]) -> str:
    """A placemark's description: an HTML table, which Google Earth shows in the balloon.

    Values are HTML-escaped here (they are anyone's text); lxml then escapes the HTML
    itself as XML text, and Google Earth unescapes once before rendering.
    """
    cells = [
        f"<tr><th>{html.escape(str(c))}</th><td>{html.escape(value)}</td></tr>"
        for c in columns
        if (value := _plain(row[c]))
    ]
    return f"<table>{''.join(cells)}</table>"


def kml_document(title: str, layers: Sequence[PackageLayer], palette: Palette) -> bytes:
    """doc.kml: a Folder per layer, a Style per category in the web maps' colours."""
    from lxml import etree

    root = etree.Element(f"{{{_KML}}}kml", nsmap={None: _KML})
    document = _k(root, "Document")
    _k(document, "name", title)
    _k(document, "description", f"craftmap — {dt.date.today().isoformat()} — {LICENCE.vi}")
    for layer in layers:
        spec = layer.spec
        theme: Themed | None = getattr(palette, spec.theme) if spec.theme else None
        prefix = spec.name
        if theme is not None:
            for code, colour in [*theme.colours.items(), ("default", theme.default)]:
                _style(
                    document,
                    f"{prefix}-{code}",
                    spec.geometry_type,
                    colour,
                    fill_opacity=theme.fill_opacity,
                )
                if spec.theme == "zones":
                    _style(
                        document,
                        f"{prefix}-{code}-certified",
                        spec.geometry_type,
                        colour,
                        fill_opacity=theme.fill_opacity,
                        edge=palette.certified_outline,
                    )
        else:
            colour = (
                palette.admin_outline if spec.name.startswith("admin") else theme_default(palette)
            )
            _style(
                document,
                f"{prefix}-default",
                spec.geometry_type,
                colour,
                fill_opacity=0.3,
                outline_only=spec.name == "admin_units",
            )
    for layer in layers:
        spec = layer.spec
        theme = getattr(palette, spec.theme) if spec.theme else None
        folder = _k(document, "Folder", id=spec.name)
        _k(folder, "name", f"{spec.title.vi} ({spec.title.en})")
        _k(folder, "description", _description(spec))
        frame = layer.frame
        columns = [c for c in frame.columns if c != "geometry"]
        for _, row in frame.iterrows():
            geometry = row.geometry
            if geometry is None or geometry.is_empty:
                continue
            placemark = _k(folder, "Placemark")
            name = _plain(row.get("name")) or _plain(row.get("code")) or str(row.get("id", ""))
            if spec.name == "route_stops":
                name = f"{row['seq']}. {name}"
            _k(placemark, "name", name)
            _k(placemark, "description", _balloon(row, columns))
            style = "default"
            if theme is not None:
                code = _plain(row.get(theme.column)) or ""
                style = code if code in theme.colours else "default"
                if spec.theme == "zones" and _plain(row.get("certification_scheme")):
                    style += "-certified"
            _k(placemark, "styleUrl", f"#{spec.name}-{style}")
            extended = _k(placemark, "ExtendedData")
            for c in columns:
                value = _plain(row[c])
                if value:
                    _k(_k(extended, "Data", name=str(c)), "value", value)
            _kml_geometry(placemark, geometry)
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True))


def write_kmz(
    resolved: ResolvedArea, layers: Sequence[PackageLayer], out_path: Path, palette: Palette
) -> None:
    """A KMZ: doc.kml first in the archive (Google Earth reads the first .kml), deflated."""
    document = kml_document(f"craftmap — {resolved.title}", layers, palette)
    with zipfile.ZipFile(out_path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("doc.kml", document)


FORMATS = ("gpkg", "kmz")


def write_package(
    engine: Engine | Connection,
    area: Area,
    out_path: Path | str,
    crs: int = SRID_STORAGE,
    *,
    palette: Palette,
    fmt: str | None = None,
    max_features: int = MAX_FEATURES,
) -> dict[str, int]:
    """Write ``area``'s package to ``out_path`` (GeoPackage, or KMZ by suffix or ``fmt``).

    KML is always WGS 84 longitude/latitude, so ``crs`` applies to the GeoPackage only.
    ``engine`` may be a connection (a request's, or a test's transaction). Returns the
    feature count per layer.
    """
    if crs not in {c.srid for c in SERVED_CRS}:
        raise InvalidInput(f"EPSG:{crs} is not a CRS craftmap serves")
    out = Path(out_path)
    kind = fmt or out.suffix.lstrip(".").lower()
    if kind not in FORMATS:
        raise InvalidInput(f"unknown package format {kind!r}; use one of {', '.join(FORMATS)}")
    srid = SRID_STORAGE if kind == "kmz" else crs
    if isinstance(engine, Connection):
        resolved, layers = read_layers(engine, area, srid=srid, max_features=max_features)
    else:
        with engine.connect() as conn:
            resolved, layers = read_layers(conn, area, srid=srid, max_features=max_features)
    # Written beside the target and moved over it when whole: a failed write leaves no
    # half package, and an older package stays until the new one is complete.
    partial = out.with_name(f".{out.stem}.partial{out.suffix or '.' + kind}")
    try:
        if kind == "kmz":
            write_kmz(resolved, layers, partial, palette)
        else:
            write_gpkg(resolved, layers, partial, palette, srid)
        partial.replace(out)
    finally:
        partial.unlink(missing_ok=True)
    return {layer.spec.name: len(layer.frame) for layer in layers}


def parse_area(
    *,
    area: str | None = None,
    commune: str | None = None,
    bbox: str | None = None,
    scheme: str | None = None,
) -> Area:
    """The area named by the CLI's and the API's options (exactly one of them).

    >>> parse_area(bbox="105,19.5,106,20.5").bbox
    (105.0, 19.5, 106.0, 20.5)
    >>> parse_area(commune="14797").code
    '14797'
    """
    given = [v for v in (area, commune, bbox) if v not in (None, "")]
    if len(given) != 1:
        raise InvalidInput("name one area: a province code, a commune code or a bbox")
    if bbox:
        try:
            parts = tuple(float(v) for v in bbox.split(","))
        except ValueError:
            parts = ()
        if len(parts) != 4:
            raise InvalidInput(f"bbox {bbox!r} is not minlon,minlat,maxlon,maxlat")
        return Area(bbox=(parts[0], parts[1], parts[2], parts[3]))
    code = (area or commune or "").strip()
    if not code.isalnum() or len(code) > 16:
        raise InvalidInput(f"{code!r} is not an administrative unit code")
    return Area(code=code, scheme=scheme or None, level="commune" if commune else None)
