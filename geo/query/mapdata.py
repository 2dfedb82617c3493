"""What the map pages draw, read from PostGIS as GeoDataFrames (``maps`` never queries)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.engine import Connection

if TYPE_CHECKING:
    import geopandas as gpd

# Small layers travel as GeoJSON inside the page; above this many features a layer is
# drawn from the vector tiles instead, so the page stays light at national scale.
EMBED_LIMIT = 5_000

_VILLAGES = """
SELECT id, code, name, kind, craft_group, array_to_string(crafts, ', ') AS crafts,
       commune_name, status, tourism_linked, ocop_stars, workers,
       craftmap_fold(name) AS folded_name,
       array_to_string(alt_names, '; ') AS alt_names, array_to_string(hamlets, '; ') AS hamlets,
       legacy_commune, legacy_district, geom
FROM craft_village ORDER BY name
"""
# Polygons go into the page's GeoJSON with RFC 7946 rings (exterior counter-clockwise), as
# the API serves them; ST_ForcePolygonCCW is never applied to lines, which it reverses on
# PostGIS 3.3 (routes and stops are read as stored, stops in their order).
_ZONES = """
SELECT id, code, name, material, species, status, certification_scheme,
       certificate_no, round(area_ha::numeric, 1)::float AS area_ha, annual_capacity_t,
       ST_ForcePolygonCCW(ST_Multi(geom)) AS geom
FROM material_zone ORDER BY id
"""
_ROUTES = """
SELECT r.id, r.code, r.name, r.theme, r.mode, r.status, r.description,
       round(r.length_km::numeric, 1)::float AS length_km,
       COALESCE(sum(s.dwell_min), 0)::int AS dwell_min, count(s.id)::int AS stops,
       r.line_source, r.duration_min, r.geom
FROM tourism_route r LEFT JOIN route_stop s ON s.route_id = r.id
WHERE r.geom IS NOT NULL {where}
GROUP BY r.id ORDER BY r.id
"""
_STOPS = """
SELECT s.id, s.route_id, s.seq, COALESCE(s.name, v.name) AS name, s.dwell_min, s.village_id,
       v.code AS village_code, v.crafts IS NOT NULL AS is_village,
       array_to_string(v.crafts, ', ') AS crafts, v.commune_name, s.geom
FROM route_stop s LEFT JOIN craft_village v ON v.id = s.village_id
{where} ORDER BY s.route_id, s.seq
"""
# A unit's boundary when loaded, else its centre; its label at its label point, or inside
# its boundary when it has none.
_ADMIN = """
SELECT code, name, level, COALESCE(ST_ForcePolygonCCW(geom), label_point) AS geom,
       ST_X(COALESCE(label_point, ST_PointOnSurface(geom))) AS label_lon,
       ST_Y(COALESCE(label_point, ST_PointOnSurface(geom))) AS label_lat
FROM admin_unit
WHERE (valid_to IS NULL OR valid_to >= current_date) AND COALESCE(geom, label_point) IS NOT NULL
ORDER BY level, name
"""


@dataclass
class OverviewData:
    """Every theme of the overview map; ``zone_count`` says whether zones are embedded."""

    villages: gpd.GeoDataFrame
    zones: gpd.GeoDataFrame | None
    zone_count: int
    routes: gpd.GeoDataFrame
    stops: gpd.GeoDataFrame
    admin: gpd.GeoDataFrame


def _frame(conn: Connection, sql: str, **params: object) -> gpd.GeoDataFrame:
    import geopandas as gpd

    frame = gpd.read_postgis(sa.text(sql), conn, geom_col="geom", params=params)
    return frame.rename_geometry("geometry")


def overview(conn: Connection, *, embed_limit: int = EMBED_LIMIT) -> OverviewData:
    """The overview map's layers; zones are left to the tiles above ``embed_limit``."""
    zone_count = int(conn.execute(sa.text("SELECT count(*) FROM material_zone")).scalar_one())
    return OverviewData(
        villages=_frame(conn, _VILLAGES),
        zones=_frame(conn, _ZONES) if zone_count <= embed_limit else None,
        zone_count=zone_count,
        routes=_frame(conn, _ROUTES.format(where="")),
        stops=_frame(conn, _STOPS.format(where="")),
        admin=_frame(conn, _ADMIN),
    )


def route(conn: Connection, route_id: int) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """One route (a row, or none) and its stops in order."""
    routes = _frame(conn, _ROUTES.format(where="AND r.id = :rid"), rid=route_id)
    stops = _frame(conn, _STOPS.format(where="WHERE s.route_id = :rid"), rid=route_id)
    return routes, stops


_VILLAGE_PLACES = """
SELECT id, code, name, geom FROM craft_village WHERE id = ANY(:ids) ORDER BY id
"""


def village_places(conn: Connection, ids: list[int]) -> gpd.GeoDataFrame:
    """Where villages are (id, code, name, point): the analysis maps draw the villages an
    analysis left out for want of a figure, which its result lists without a place."""
    return _frame(conn, _VILLAGE_PLACES, ids=list(ids))


# Zones of every material and exclusion areas around an analysis, at most :limit of each
# (nearest the box's centre first): a national answer draws only what is near its sites.
_ZONES_NEAR = """
SELECT id, code, name, material, status, ST_ForcePolygonCCW(ST_Multi(geom)) AS geom
FROM material_zone
WHERE geom && ST_MakeEnvelope(:minx, :miny, :maxx, :maxy, 4326)
ORDER BY geom <-> ST_SetSRID(ST_MakePoint((:minx + :maxx) / 2, (:miny + :maxy) / 2), 4326)
LIMIT :limit
"""
_EXCLUSIONS_NEAR = """
SELECT f.id, coalesce(NULLIF(f.properties->>'name', ''), l.title) AS name, l.name AS layer,
       ST_ForcePolygonCCW(f.geom) AS geom
FROM reference_feature f JOIN reference_layer l ON l.id = f.layer_id
WHERE l.kind = 'exclusion' AND f.geom && ST_MakeEnvelope(:minx, :miny, :maxx, :maxy, 4326)
ORDER BY f.geom <-> ST_SetSRID(ST_MakePoint((:minx + :maxx) / 2, (:miny + :maxy) / 2), 4326)
LIMIT :limit
"""


def around(
    conn: Connection, bounds: tuple[float, float, float, float], *, limit: int = EMBED_LIMIT
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """The zones (any material) and the exclusion areas within ``bounds`` (minx, miny,
    maxx, maxy in degrees), at most ``limit`` of each: what the sites map shows around
    the suggested sites."""
    minx, miny, maxx, maxy = bounds
    box = {"minx": minx, "miny": miny, "maxx": maxx, "maxy": maxy, "limit": limit}
    return _frame(conn, _ZONES_NEAR, **box), _frame(conn, _EXCLUSIONS_NEAR, **box)
