"""Hand-made analysis results for the analysis map tests (no database needed)."""

from __future__ import annotations

import geopandas as gpd
from shapely.geometry import LineString, Point, Polygon

from maps import analysis
from maps.analysis import CoverageTotals, CoverageView, Missing, Parameters, SitesTotals, SitesView

HOSTILE = "Làng <script>window.__pwn='name'</script> \"Đông\" 'Sơn' {{ 7*7 }}"

# Five villages around two zones; each class of covered share once (V5 has no figure).
VILLAGES = [
    # code, name, lon, lat, demand, supplied, share, unmet
    ("V1", "Làng mây tre Phú Vinh", 105.50, 19.95, 400.0, 400.0, 1.0, 0.0),
    ("V2", HOSTILE, 105.62, 19.88, 300.0, 180.0, 0.6, 120.0),
    ("V3", "Làng cói Nga Sơn", 105.70, 20.05, 400.0, 100.0, 0.25, 300.0),
    ("V4", "Làng đan lát Hoằng Hóa", 105.85, 19.80, 1200.0, 0.0, 0.0, 1200.0),
    ("V5", "Làng nón Trường Xuân", 105.40, 20.10, None, None, None, None),
]
CLASSES = {"V1": "full", "V2": "most", "V3": "low", "V4": "none", "V5": "unknown"}
ZONES = [
    # code, name, material, ring centre, capacity, used
    ("Z1", "Vùng luồng Quan Hóa", "luong", (105.45, 19.90), 600.0, 600.0),
    ("Z2", "Vùng luồng <b>Bá Thước</b>", "luong", (105.66, 19.98), 80.0, 80.0),
]
# zone, village, tonnes, km: widths must follow these tonnes.
FLOWS = [
    ("Z1", "V1", 400.0, 7.2),
    ("Z1", "V2", 180.0, 19.4),
    ("Z1", "V3", 20.0, 29.9),
    ("Z2", "V3", 80.0, 8.1),
]


def _square(lon: float, lat: float, half: float = 0.03) -> Polygon:
    return Polygon(
        [
            (lon - half, lat - half),
            (lon + half, lat - half),
            (lon + half, lat + half),
            (lon - half, lat + half),
        ]
    )


def coverage_view(*, distance_mode: str = "geodesic") -> CoverageView:
    """The hand-made coverage result: demand 2 300 t, supplied 680 t, unmet 1 620 t."""
    villages = gpd.GeoDataFrame(
        [
            {
                "id": i + 1,
                "code": c,
                "name": n,
                "demand_t": d,
                "supplied_t": s,
                "covered_share": sh,
                "unmet_t": u,
                "geometry": Point(x, y),
            }
            for i, (c, n, x, y, d, s, sh, u) in enumerate(VILLAGES)
        ],
        geometry="geometry",
        crs=4326,
    )
    zones = gpd.GeoDataFrame(
        [
            {
                "id": i + 1,
                "code": c,
                "name": n,
                "material": mat,
                "capacity_t": cap,
                "used_t": used,
                "use_share": used / cap,
                "geometry": _square(*centre),
            }
            for i, (c, n, mat, centre, cap, used) in enumerate(ZONES)
        ],
        geometry="geometry",
        crs=4326,
    )
    at = {c: (x, y) for c, _n, x, y, *_ in VILLAGES}
    centre = {c: ctr for c, _n, _m, ctr, *_ in ZONES}
    flows = gpd.GeoDataFrame(
        [
            {
                "zone_code": z,
                "village_code": v,
                "tonnes": t,
                "km": km,
                "geometry": LineString([centre[z], at[v]]),
            }
            for z, v, t, km in FLOWS
        ],
        geometry="geometry",
        crs=4326,
    )
    totals = CoverageTotals(
        demand_t=2300.0,
        supplied_t=680.0,
        unmet_t=1620.0,
        covered_share=680.0 / 2300.0,
        tonne_km=400 * 7.2 + 180 * 19.4 + 20 * 29.9 + 80 * 8.1,
        villages_short=3,
        villages=4,
        zones=2,
        estimates=5,
        figures=6,
    )
    return CoverageView(
        villages=villages,
        zones=zones,
        flows=flows,
        totals=totals,
        distance_mode=distance_mode,
        network="demo roads" if distance_mode == "road" else None,
        missing=[Missing("village", "V5", HOSTILE, "no demand figure for luong")],
    )


def coverage_parameters(lang: str = "vi") -> Parameters:
    return Parameters(
        rows=[
            (analysis.TEXT["material"], "Luồng"),
            (analysis.TEXT["haul_km"], "50 km"),
        ],
        downloads=[("JSON", "/analysis/coverage?material=luong&f=json")],
    )


SITES = [
    # rank, cell, centre, score, villages
    (1, "8765a1b2fffffff", (105.80, 19.85), 1200.0, ["Làng đan lát Hoằng Hóa"]),
    (2, "8765a1b3fffffff", (105.68, 20.08), 300.0, ["Làng cói Nga Sơn", HOSTILE]),
]


def sites_view() -> SitesView:
    sites = gpd.GeoDataFrame(
        [
            {"rank": r, "cell": c, "score_t": s, "villages": v, "geometry": _square(*ctr, 0.02)}
            for r, c, ctr, s, v in SITES
        ],
        geometry="geometry",
        crs=4326,
    )
    excluded = gpd.GeoDataFrame(
        [
            {
                "cell": "8765a1b4fffffff",
                "reason": "inside exclusion area Pù Luông <core>",
                "geometry": _square(105.84, 19.85, 0.02),
            }
        ],
        geometry="geometry",
        crs=4326,
    )
    coverage = coverage_view()
    short = coverage.villages[coverage.villages["unmet_t"].fillna(0) > 0][
        ["id", "code", "name", "unmet_t", "geometry"]
    ]
    exclusions = gpd.GeoDataFrame(
        [{"name": "Khu bảo tồn Pù Luông", "geometry": _square(105.90, 19.85, 0.05)}],
        geometry="geometry",
        crs=4326,
    )
    return SitesView(
        sites=sites,
        excluded=excluded,
        short=short,
        zones=coverage.zones,
        exclusions=exclusions,
        totals=SitesTotals(unmet_t=1620.0, served_t=1500.0, sites=2),
    )
