"""Siting suggestions: where k new raw-material zones would serve the most unmet demand.

Steps (`suggest_sites`):

1. **Unmet demand** per village for the material, from the supply coverage
   (`geo.workflows.coverage.run_coverage`, same haul, mode and year); a caller may hand
   in its own frame (id, code, name, unmet_t) instead (tests, the benchmark).
2. **Candidate cells**: the H3 cells (``h3`` package; resolution 7 by default, about
   5.2 km² and 1.4 km edge per cell) within the haul of a village that goes short:
   every cell of a grid disk around each such village wide enough to hold the haul,
   kept only when its centre is within the haul of some short village (step 4).
3. **Exclusions**, judged in PostGIS in one set-based query over the GiST indexes, each
   with its reason:
   - ``exclusion``: the cell overlaps a feature of a reference layer of kind
     ``exclusion`` (the reason names the feature, or the layer's title, and the layer);
   - ``zone``: the cell overlaps an existing material zone of any material or status
     (the reason lists the zone codes); with ``min_zone_distance_km``, also a cell
     closer than that to a zone (``zone_distance``);
   - ``land_use``: **rule** — once a reference layer of kind ``land_use`` is loaded, a
     cell is allowed only where its centre lies in a land-use feature of an allowed
     class. The class is the feature's ``class`` property (else ``land_use``, else
     ``landuse``). The request's ``land_use_classes`` names the allowed classes; without
     it, every land-use feature counts as allowed land, so a planner either loads a layer
     of the land a zone may go on, or loads a full land-use map and names the classes;
   - ``outside``: the cell is not wholly inside the outline of Vietnam (and of the loaded
     province boundaries), the rule every saved zone must keep.
4. **Reach**: the villages within the haul of each cell's centre, geodesic on the
   spheroid (``ST_DWithin`` on geography, after a bounding-box test on the villages'
   GiST index). Road distances are not used for the reach yet (the coverage in step 1
   uses the requested mode); ``distance_mode`` says so.
5. **Choice**: `geo.analysis.siting.solve` (maximal covering, or capacitated when a
   typical capacity is given), exact on HiGHS; the greedy figure alongside.

`save_site` stores a suggested cell as a ``proposed`` material zone through the normal
write path (the zone rules and the history apply).
"""

from __future__ import annotations

import json
import math
import re
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import numpy.typing as npt
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from geo.analysis import siting as model
from geo.kernel import collections as ids
from geo.kernel.crs import CRS84, VIETNAM_BBOX
from geo.kernel.errors import InvalidInput, LimitExceeded
from geo.kernel.text import Text
from geo.kernel.vocab import Material, ReferenceKind, ZoneStatus
from geo.store import catalog, writes
from geo.workflows.coverage import CoverageRequest, run_coverage

if TYPE_CHECKING:
    import pandas as pd

Mode = Literal["auto", "road", "geodesic"]
ReasonKind = Literal["exclusion", "zone", "zone_distance", "land_use", "outside"]

K_MAX = 50
HAUL_MAX_KM = 500.0
RESOLUTIONS = range(5, 10)
DEFAULT_RESOLUTION = 7
# More candidate cells than this is a request for a finer grid than the question needs
# (all of Vietnam at resolution 7 is about 65 000 cells).
MAX_CANDIDATES = 400_000
# Excluded cells reported around each chosen site: this many H3 rings.
NEARBY_RINGS = 3


@dataclass(frozen=True)
class SitingRequest:
    """What to site: material, how many zones (k), the haul and the grid.

    ``resolution``: H3 resolution 5–9 (7: cells of about 5.2 km²). ``mode``: the distance
    mode of the coverage that finds the unmet demand (auto, road, geodesic). ``year``: the
    figures' year (None: the latest). ``capacity_t``: a typical new zone's yearly
    capacity; given, the capacitated model runs. ``min_zone_distance_km``: keep cells at
    least this far from existing zones. ``land_use_classes``: the allowed land-use classes
    (see the module docstring).
    """

    material: str
    k: int = 3
    haul_km: float = 50.0
    resolution: int = DEFAULT_RESOLUTION
    mode: Mode = "auto"
    year: int | None = None
    capacity_t: float | None = None
    min_zone_distance_km: float | None = None
    land_use_classes: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        materials = [m.value for m in Material]
        if self.material not in materials:
            raise InvalidInput(f"unknown material {self.material!r}; one of {', '.join(materials)}")
        if not 1 <= self.k <= K_MAX:
            raise InvalidInput(f"k must be between 1 and {K_MAX}, got {self.k}")
        if not (math.isfinite(self.haul_km) and 0 < self.haul_km <= HAUL_MAX_KM):
            # The coverage's words: one translation for both (api.i18n.PROBLEM_DETAILS).
            raise InvalidInput(f"haul_km must be more than 0 and at most {HAUL_MAX_KM:g} km")
        if self.resolution not in RESOLUTIONS:
            raise InvalidInput(
                f"resolution must be an H3 resolution from {RESOLUTIONS.start} to "
                f"{RESOLUTIONS.stop - 1}, got {self.resolution}"
            )
        if self.mode not in ("auto", "road", "geodesic"):
            raise InvalidInput(f"mode must be auto, road or geodesic, got {self.mode!r}")
        if self.year is not None and not 1990 <= self.year <= 2100:
            raise InvalidInput(f"year must be between 1990 and 2100, got {self.year}")
        if self.capacity_t is not None and not (
            math.isfinite(self.capacity_t) and self.capacity_t > 0
        ):
            raise InvalidInput(f"capacity_t must be above 0, got {self.capacity_t}")
        if self.min_zone_distance_km is not None and not (
            math.isfinite(self.min_zone_distance_km)
            and 0 <= self.min_zone_distance_km <= HAUL_MAX_KM
        ):
            raise InvalidInput(
                f"min_zone_distance_km must be between 0 and {HAUL_MAX_KM:g}, "
                f"got {self.min_zone_distance_km}"
            )

    def parameters(self) -> dict[str, Any]:
        """The request as plain values (for the result, a saved zone's note, the API)."""
        import h3  # type: ignore[import-untyped]

        values = asdict(self)
        values["grid"] = "h3"
        values["cell_area_km2"] = round(h3.average_hexagon_area(self.resolution, "km^2"), 3)
        if self.land_use_classes is not None:
            values["land_use_classes"] = list(self.land_use_classes)
        return values


@dataclass(frozen=True)
class Reason:
    """Why a cell was excluded: ``kind`` (exclusion, zone, zone_distance, land_use,
    outside), ``subject`` (what it names: the areas with their layer, the zone codes, the
    land-use classes; empty when nothing) and ``detail`` (an English sentence)."""

    kind: ReasonKind
    detail: str
    subject: str = ""


# A reason's kind in words, for the pages and the map (its ``subject`` follows them).
REASON_WORDS: dict[str, Text] = {
    "exclusion": Text("vùng cấm", "exclusion area"),
    "zone": Text("chồng lấn vùng nguyên liệu", "overlaps zone"),
    "zone_distance": Text("quá gần vùng nguyên liệu", "too close to zone"),
    "land_use": Text("đất không được phép", "land use not allowed"),
    "outside": Text("ngoài lãnh thổ hoặc ranh giới tỉnh", "outside Vietnam or the provinces"),
}


@dataclass(frozen=True)
class ExcludedCell:
    """A candidate cell that was left out, with every reason that applies."""

    cell: str
    centre: tuple[float, float]
    geometry: dict[str, Any]
    reasons: list[Reason]


@dataclass(frozen=True)
class ServedVillage:
    """A village a site would serve: its unmet tonnes, the tonnes credited to this site
    (the same unless a capacity splits it) and the geodesic distance from the cell centre."""

    id: int
    code: str
    name: str
    unmet_t: float
    served_t: float
    km: float


@dataclass(frozen=True)
class Site:
    """One suggested site: ``rank`` (1 = best), the H3 ``cell``, its ``centre`` (lon, lat)
    and ``geometry`` (GeoJSON Polygon, EPSG:4326), ``score_t`` (tonnes of unmet demand it
    serves in the optimal choice, not counted again for another site), ``villages`` it
    serves, and ``excluded_nearby``: the excluded cells within a few rings of it."""

    rank: int
    cell: str
    centre: tuple[float, float]
    geometry: dict[str, Any]
    score_t: float
    villages: list[ServedVillage]
    excluded_nearby: list[ExcludedCell] = field(default_factory=list)


@dataclass(frozen=True)
class SitingTotals:
    """``unmet_before_t``: unmet demand of the material before any new zone;
    ``served_t``: what the chosen sites serve together; ``share``: served / before (None
    when nothing goes short); ``greedy_t``: what the greedy reference serves with k sites;
    the counts of villages short and served, candidate cells, excluded cells (and by
    reason), sites asked (k) and found."""

    unmet_before_t: float
    served_t: float
    share: float | None
    greedy_t: float
    villages_short: int
    villages_served: int
    candidates: int
    excluded: int
    excluded_by_reason: dict[str, int]
    sites_asked: int
    sites_found: int


@dataclass(frozen=True)
class SitingResult:
    """The answer: ranked ``sites``, ``excluded`` cells near them with reasons, ``totals``,
    the request's ``parameters``, the ``model`` ("mclp" or "capacitated") and its size
    (``milp``: variables, constraints, nonzeros, solve_s, status), ``distance_mode`` of the
    reach ("geodesic"), ``coverage_mode`` (the coverage's mode, None when unmet demand was
    handed in), ``notes`` (e.g. fewer sites than asked) and ``timings`` (seconds per step)."""

    sites: list[Site]
    excluded: list[ExcludedCell]
    totals: SitingTotals
    parameters: dict[str, Any]
    model: str
    milp: dict[str, Any]
    distance_mode: str
    coverage_mode: str | None
    notes: list[str]
    timings: dict[str, float]

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able values."""
        return asdict(self)

    def to_geojson(self) -> dict[str, Any]:
        """Sites (cell polygons and centre points) and the excluded cells near them, one
        FeatureCollection; each feature's ``kind`` is ``site``, ``site_centre`` or
        ``excluded``."""
        features: list[dict[str, Any]] = []
        for site in self.sites:
            props = {
                "rank": site.rank,
                "cell": site.cell,
                "score_t": round(site.score_t, 3),
                "villages": [v.code for v in site.villages],
                "villages_served": len(site.villages),
            }
            features.append(_feature(site.geometry, {"kind": "site", **props}))
            point = {"type": "Point", "coordinates": list(site.centre)}
            features.append(_feature(point, {"kind": "site_centre", **props}))
        for cell in self.excluded:
            features.append(
                _feature(
                    cell.geometry,
                    {
                        "kind": "excluded",
                        "cell": cell.cell,
                        "reasons": [asdict(r) for r in cell.reasons],
                        "reason": "; ".join(r.detail for r in cell.reasons),
                    },
                )
            )
        return {"type": "FeatureCollection", "features": features}


def _feature(geometry: dict[str, Any], properties: dict[str, Any]) -> dict[str, Any]:
    return {"type": "Feature", "geometry": geometry, "properties": properties}


# -- cells -------------------------------------------------------------------------------------
def cell_polygon(cell: str) -> dict[str, Any]:
    """An H3 cell as a GeoJSON Polygon (lon, lat; closed ring)."""
    import h3

    ring = [[round(lng, 7), round(lat, 7)] for lat, lng in h3.cell_to_boundary(cell)]
    return {"type": "Polygon", "coordinates": [[*ring, ring[0]]]}


def cell_centre(cell: str) -> tuple[float, float]:
    """An H3 cell's centre as (lon, lat)."""
    import h3

    lat, lng = h3.cell_to_latlng(cell)
    return (round(float(lng), 7), round(float(lat), 7))


def _wkt(polygon: dict[str, Any]) -> str:
    ring = ", ".join(f"{x} {y}" for x, y in polygon["coordinates"][0])
    return f"POLYGON(({ring}))"


def _rings(resolution: int, haul_km: float) -> int:
    """Grid-disk radius (in cells) that holds every cell whose centre is within the haul.

    Neighbouring H3 centres lie about edge × √3 apart; cells vary in size over the globe,
    so the smallest spacing is taken as 80 % of the average.
    """
    import h3

    spacing = float(h3.average_hexagon_edge_length(resolution, "km")) * math.sqrt(3) * 0.8
    return math.ceil(haul_km / spacing) + 1


def candidate_cells(
    points: Iterable[tuple[float, float]],
    resolution: int,
    haul_km: float,
    max_cells: int = MAX_CANDIDATES,
) -> list[str]:
    """The H3 cells within ``haul_km`` (by grid disk) of any of ``points`` (lon, lat), sorted.

    Refused (`LimitExceeded`) when there would be more than ``max_cells``.
    """
    import h3

    rings = _rings(resolution, haul_km)
    per_point = 3 * rings * (rings + 1) + 1
    if per_point > max_cells:
        raise LimitExceeded(
            f"a {haul_km:g} km haul holds about {per_point} cells of resolution {resolution} "
            f"per village, more than {max_cells}: choose a coarser resolution or a "
            "shorter haul",
            limit="siting_max_cells",
            value=max_cells,
        )
    origins = {h3.latlng_to_cell(lat, lon, resolution) for lon, lat in points}
    cells: set[str] = set()
    for origin in sorted(origins):
        cells.update(h3.grid_disk(origin, rings))
        if len(cells) > max_cells:
            raise LimitExceeded(
                f"more than {max_cells} candidate cells: choose a coarser resolution "
                "or a shorter haul",
                limit="siting_max_cells",
                value=max_cells,
            )
    return sorted(cells)


# -- the PostGIS steps -------------------------------------------------------------------------
_CELLS = """
WITH cell AS (
    SELECT c.i - 1 AS i, ST_GeomFromText(c.wkt, 4326) AS geom,
           ST_SetSRID(ST_MakePoint(c.lon, c.lat), 4326) AS centre
    FROM unnest(CAST(:wkts AS text[]), CAST(:lons AS float8[]), CAST(:lats AS float8[]))
         WITH ORDINALITY AS c(wkt, lon, lat, i)
), has AS (
    SELECT EXISTS (SELECT 1 FROM reference_feature f JOIN reference_layer l ON l.id = f.layer_id
                   WHERE l.kind = :land_use) AS land_use,
           EXISTS (SELECT 1 FROM admin_unit a WHERE a.level = 'province' AND a.geom IS NOT NULL
                   AND (a.valid_to IS NULL OR a.valid_to >= current_date)) AS provinces
), judged AS (
    SELECT cell.i,
        (SELECT string_agg(DISTINCT coalesce(NULLIF(f.properties->>'name', ''), l.title)
                || ' (' || l.name || ')', '; ')
           FROM reference_feature f JOIN reference_layer l ON l.id = f.layer_id
          WHERE l.kind = :exclusion AND f.geom && cell.geom
            AND ST_Intersects(f.geom, cell.geom) AND NOT ST_Touches(f.geom, cell.geom)
        ) AS exclusion,
        (SELECT string_agg(z.code, ', ' ORDER BY z.code) FROM material_zone z
          WHERE z.geom && cell.geom AND ST_Intersects(z.geom, cell.geom)
            AND NOT ST_Touches(z.geom, cell.geom)
        ) AS zones,
        CASE WHEN :min_zone_m > 0 THEN
        (SELECT string_agg(z.code, ', ' ORDER BY z.code) FROM material_zone z
          WHERE z.geom && ST_Expand(cell.geom, :min_zone_deg)
            AND ST_DWithin(z.geom::geography, cell.geom::geography, :min_zone_m)
        ) END AS near_zones,
        CASE WHEN has.land_use AND NOT EXISTS (
            SELECT 1 FROM reference_feature f JOIN reference_layer l ON l.id = f.layer_id
             WHERE l.kind = :land_use AND f.geom && cell.centre
               AND ST_Intersects(f.geom, cell.centre)
               AND (CAST(:classes AS text[]) IS NULL OR coalesce(f.properties->>'class',
                    f.properties->>'land_use', f.properties->>'landuse')
                    = ANY(CAST(:classes AS text[])))
        ) THEN coalesce((
            SELECT string_agg(DISTINCT coalesce(f.properties->>'class',
                   f.properties->>'land_use', f.properties->>'landuse', l.title), ', ')
              FROM reference_feature f JOIN reference_layer l ON l.id = f.layer_id
             WHERE l.kind = :land_use AND f.geom && cell.centre
               AND ST_Intersects(f.geom, cell.centre)), '') END AS land_use,
        CASE
          WHEN NOT ST_CoveredBy(cell.geom, ST_MakeEnvelope(:minx, :miny, :maxx, :maxy, 4326))
            THEN 'box'
          WHEN has.provinces AND NOT EXISTS (
              SELECT 1 FROM admin_unit a WHERE a.level = 'province' AND a.geom && cell.geom
                 AND (a.valid_to IS NULL OR a.valid_to >= current_date)
                 AND ST_CoveredBy(cell.geom, a.geom))
           AND NOT coalesce(ST_CoveredBy(cell.geom, (
              SELECT ST_Union(a.geom) FROM admin_unit a WHERE a.level = 'province'
                 AND a.geom && cell.geom AND (a.valid_to IS NULL OR a.valid_to >= current_date)
                 AND ST_Intersects(a.geom, cell.geom))), false)
            THEN 'provinces'
        END AS outside
    FROM cell, has
)
SELECT * FROM judged
WHERE exclusion IS NOT NULL OR zones IS NOT NULL OR near_zones IS NOT NULL
   OR land_use IS NOT NULL OR outside IS NOT NULL
ORDER BY i
"""

_REACH = """
WITH cell AS (
    SELECT c.i - 1 AS i, c.lat, ST_SetSRID(ST_MakePoint(c.lon, c.lat), 4326) AS centre
    FROM unnest(CAST(:lons AS float8[]), CAST(:lats AS float8[])) WITH ORDINALITY AS c(lon, lat, i)
)
SELECT cell.i AS site, v.id AS village,
       ST_Distance(cell.centre::geography, v.geom::geography) / 1000.0 AS km
FROM cell
JOIN craft_village v
  ON v.geom && ST_Expand(cell.centre,
        :dlat / greatest(cos(radians(least(abs(cell.lat) + :dlat, 89.0))), 0.01), :dlat)
 AND v.id = ANY(CAST(:village_ids AS int[]))
 AND ST_DWithin(cell.centre::geography, v.geom::geography, :haul_m)
"""

_VILLAGE_POINTS = """
SELECT id, ST_X(geom) AS lon, ST_Y(geom) AS lat FROM craft_village
WHERE id = ANY(CAST(:ids AS int[]))
"""


def _reasons(row: Any, min_zone_km: float | None) -> list[Reason]:
    found: list[Reason] = []
    if row.exclusion is not None:
        found.append(Reason("exclusion", f"exclusion area {row.exclusion}", row.exclusion))
    if row.zones is not None:
        found.append(Reason("zone", f"overlaps zone {row.zones}", row.zones))
    if row.near_zones is not None:
        detail = f"within {min_zone_km:g} km of zone {row.near_zones}"
        found.append(Reason("zone_distance", detail, row.near_zones))
    if row.land_use is not None:
        detail = f"land use not allowed ({row.land_use})" if row.land_use else "no allowed land use"
        found.append(Reason("land_use", detail, row.land_use))
    if row.outside == "box":
        found.append(Reason("outside", "outside Vietnam"))
    elif row.outside == "provinces":
        found.append(Reason("outside", "outside the loaded province boundaries"))
    return found


# Cells per reach query: a national run has millions of pairs, read batch by batch into
# arrays rather than as one list of rows.
REACH_BATCH = 5_000


def _reach(
    conn: Connection,
    request: SitingRequest,
    kept: list[int],
    centres: list[tuple[float, float]],
    village_index: dict[int, int],
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """(index into ``kept``, village index, km) of every cell centre–village pair in reach."""
    cells: list[npt.NDArray[np.int64]] = []
    villages: list[npt.NDArray[np.int64]] = []
    kms: list[npt.NDArray[np.float64]] = []
    ids = list(village_index)
    for first in range(0, len(kept), REACH_BATCH):
        batch = kept[first : first + REACH_BATCH]
        rows = conn.execute(
            sa.text(_REACH),
            {
                "lons": [centres[i][0] for i in batch],
                "lats": [centres[i][1] for i in batch],
                "village_ids": ids,
                "dlat": request.haul_km / 110.5 * 1.01,
                "haul_m": request.haul_km * 1000.0,
            },
        ).all()
        if rows:
            site, village, km = zip(*rows, strict=True)
            cells.append(np.asarray(site, dtype=np.int64) + first)
            villages.append(np.fromiter((village_index[v] for v in village), dtype=np.int64))
            kms.append(np.asarray(km, dtype=np.float64))
    if not cells:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float64)
    return np.concatenate(cells), np.concatenate(villages), np.concatenate(kms)


# -- the workflow ------------------------------------------------------------------------------
def unmet_demand(conn: Connection, request: SitingRequest) -> tuple[pd.DataFrame, str]:
    """The villages' unmet demand (id, code, name, unmet_t) from the coverage, and its mode."""
    import pandas as pd

    result = run_coverage(
        conn,
        CoverageRequest(
            material=request.material,
            haul_km=request.haul_km,
            mode=request.mode,
            year=request.year,
        ),
    )
    frame = pd.DataFrame(result.villages[["id", "code", "name", "unmet_t"]])
    return frame, str(result.distance_mode)


def suggest_sites(
    conn: Connection,
    request: SitingRequest,
    *,
    unmet: pd.DataFrame | None = None,
    time_limit_s: float | None = None,
    max_cells: int = MAX_CANDIDATES,
) -> SitingResult:
    """Propose up to k sites for new zones of the material (see the module docstring).

    ``unmet``: the villages' unmet demand (columns id, code, name, unmet_t); None runs the
    coverage for it. ``time_limit_s``: stop HiGHS after this long (the benchmark's guard;
    ``milp["gap"]`` then says how far from proven optimal). ``max_cells``: refuse
    (`LimitExceeded`) a request with more candidate cells than this.
    """
    import h3

    timings: dict[str, float] = {}
    started = time.perf_counter()
    coverage_mode: str | None = None
    if unmet is None:
        unmet, coverage_mode = unmet_demand(conn, request)
    timings["coverage_s"] = time.perf_counter() - started
    short = unmet[unmet["unmet_t"].fillna(0) > 1e-9].copy()
    short["id"] = short["id"].astype(int)
    short = short.sort_values("id").reset_index(drop=True)
    unmet_before = float(short["unmet_t"].sum())
    notes: list[str] = []

    step = time.perf_counter()
    points = conn.execute(sa.text(_VILLAGE_POINTS), {"ids": short["id"].tolist()}).all()
    where = {row.id: (float(row.lon), float(row.lat)) for row in points}
    cells = candidate_cells(
        (where[i] for i in short["id"] if i in where),
        request.resolution,
        request.haul_km,
        max_cells,
    )
    polygons = [cell_polygon(c) for c in cells]
    centres = [cell_centre(c) for c in cells]
    timings["cells_s"] = time.perf_counter() - step

    step = time.perf_counter()
    min_zone_m = (request.min_zone_distance_km or 0.0) * 1000.0
    minx, miny, maxx, maxy = VIETNAM_BBOX
    rows = conn.execute(
        sa.text(_CELLS),
        {
            "wkts": [_wkt(p) for p in polygons],
            "lons": [c[0] for c in centres],
            "lats": [c[1] for c in centres],
            "exclusion": ReferenceKind.EXCLUSION.value,
            "land_use": ReferenceKind.LAND_USE.value,
            "classes": list(request.land_use_classes) if request.land_use_classes else None,
            "min_zone_m": min_zone_m,
            "min_zone_deg": min_zone_m / 111_000.0 * 1.5,
            "minx": minx,
            "miny": miny,
            "maxx": maxx,
            "maxy": maxy,
        },
    ).all()
    excluded_reasons = {int(r.i): _reasons(r, request.min_zone_distance_km) for r in rows}
    kept = [i for i in range(len(cells)) if i not in excluded_reasons]
    timings["exclusions_s"] = time.perf_counter() - step

    step = time.perf_counter()
    village_index = {int(v): n for n, v in enumerate(short["id"])}
    pair_cell, pair_village, pair_km = _reach(conn, request, kept, centres, village_index)
    timings["reach_s"] = time.perf_counter() - step
    # Sites are the kept cells that reach somebody, numbered in cell order.
    reaching, pair_site = np.unique(pair_cell, return_inverse=True)
    problem = model.SitingProblem(
        n_sites=len(reaching),
        unmet_t=short["unmet_t"].to_numpy(dtype=np.float64),
        pair_site=pair_site.astype(np.int64),
        pair_village=pair_village,
        pair_km=pair_km,
        k=request.k,
        haul_km=request.haul_km,
        capacity_t=request.capacity_t,
        time_limit_s=time_limit_s,
    )
    step = time.perf_counter()
    solution = model.solve(problem)
    timings["solve_s"] = time.perf_counter() - step
    greedy = model.greedy_sites(problem)

    cell_of_site = [kept[int(k)] for k in reaching]
    short_ids = [int(i) for i in short["id"]]
    short_codes = [str(c) for c in short["code"]]
    short_names = [str(n) for n in short["name"]]
    chosen_cells = {cells[cell_of_site[s]] for s in solution.sites}
    sites: list[Site] = []
    nearby_all: dict[str, ExcludedCell] = {}
    excluded_by_cell = {cells[i]: (i, r) for i, r in excluded_reasons.items()}
    for rank, (s, score, served) in enumerate(
        zip(solution.sites, solution.score_t, solution.served, strict=True), start=1
    ):
        index = cell_of_site[s]
        nearby: list[ExcludedCell] = []
        for ring_cell in sorted(h3.grid_disk(cells[index], NEARBY_RINGS)):
            if ring_cell in excluded_by_cell and ring_cell not in chosen_cells:
                i, reasons = excluded_by_cell[ring_cell]
                found = ExcludedCell(ring_cell, centres[i], polygons[i], reasons)
                nearby.append(found)
                nearby_all[ring_cell] = found
        villages = [
            ServedVillage(
                id=short_ids[v],
                code=short_codes[v],
                name=short_names[v],
                unmet_t=float(problem.unmet_t[v]),
                served_t=tonnes,
                km=round(km, 3),
            )
            for v, tonnes, km in served
        ]
        villages.sort(key=lambda sv: (sv.km, sv.code))
        sites.append(
            Site(rank, cells[index], centres[index], polygons[index], score, villages, nearby)
        )
    if len(sites) < request.k:
        notes.append(
            f"{len(sites)} of the {request.k} sites asked add unmet demand: "
            + (
                "no village goes short"
                if not len(short)
                else "there are fewer useful candidate cells than k"
            )
        )
    served_ids = {v.id for site in sites for v in site.villages}
    by_reason = Counter(r.kind for reasons in excluded_reasons.values() for r in reasons)
    totals = SitingTotals(
        unmet_before_t=unmet_before,
        served_t=solution.total_t,
        share=(solution.total_t / unmet_before) if unmet_before > 0 else None,
        greedy_t=greedy.total_t,
        villages_short=len(short),
        villages_served=len(served_ids),
        candidates=len(cells),
        excluded=len(excluded_reasons),
        excluded_by_reason=dict(sorted(by_reason.items())),
        sites_asked=request.k,
        sites_found=len(sites),
    )
    timings["total_s"] = time.perf_counter() - started
    return SitingResult(
        sites=sites,
        excluded=[nearby_all[c] for c in sorted(nearby_all)],
        totals=totals,
        parameters=request.parameters(),
        model=solution.model,
        milp={
            "variables": solution.variables,
            "constraints": solution.constraints,
            "nonzeros": solution.nonzeros,
            "pairs": len(pair_km),
            "sites": problem.n_sites,
            "solve_s": round(timings["solve_s"], 3),
            "status": solution.status,
            "gap": solution.gap,
        },
        distance_mode="geodesic",
        coverage_mode=coverage_mode,
        notes=notes,
        timings={k: round(v, 3) for k, v in timings.items()},
    )


# -- saving a site -----------------------------------------------------------------------------
@dataclass(frozen=True)
class SaveSite:
    """A suggested site to store as a ``proposed`` zone: the H3 ``cell`` or a GeoJSON
    Polygon/MultiPolygon ``geometry`` (one of the two), its name, material, yearly
    capacity, optional code (default ``DX-<cell>``) and the analysis ``parameters`` to note."""

    name: str
    material: str
    cell: str | None = None
    geometry: dict[str, Any] | None = None
    capacity_t: float | None = None
    code: str | None = None
    parameters: dict[str, Any] | None = None


_H3_ID = re.compile(r"[0-9a-f]{15}")


def site_geometry(save: SaveSite) -> dict[str, Any]:
    """The zone's MultiPolygon from the cell (validated) or the given geometry."""
    import h3

    if (save.cell is None) == (save.geometry is None):
        raise InvalidInput("give either the cell id or a geometry of the site, not both")
    if save.cell is not None:
        # A well-formed id first: h3 overflows on a long string instead of saying no.
        well_formed = isinstance(save.cell, str) and _H3_ID.fullmatch(save.cell) is not None
        if not (well_formed and h3.is_valid_cell(save.cell)):
            raise InvalidInput(f"{str(save.cell)[:40]!r} is not an H3 cell id")
        polygon = cell_polygon(save.cell)
        return {"type": "MultiPolygon", "coordinates": [polygon["coordinates"]]}
    geometry = save.geometry
    if not isinstance(geometry, dict) or geometry.get("type") not in ("Polygon", "MultiPolygon"):
        raise InvalidInput("the site's geometry must be a GeoJSON Polygon or MultiPolygon")
    if geometry["type"] == "Polygon":
        return {"type": "MultiPolygon", "coordinates": [geometry.get("coordinates")]}
    return geometry


def save_site(conn: Connection, save: SaveSite, *, actor: str) -> writes.Written:
    """Store a suggested site as a ``proposed`` material zone (normal write path and rules).

    The zone's note says it came from the siting analysis, with its parameters.
    """
    geometry = site_geometry(save)
    if not isinstance(save.name, str) or not save.name.strip():
        raise InvalidInput("the zone needs a name")
    code = save.code or (f"DX-{save.cell}" if save.cell else None)
    if not code:
        raise InvalidInput("a site given as a geometry needs a code")
    where = f"H3 cell {save.cell}" if save.cell else "a drawn geometry"
    params = json.dumps(save.parameters or {}, ensure_ascii=False, sort_keys=True)
    properties: dict[str, Any] = {
        "code": code,
        "name": save.name.strip(),
        "material": save.material,
        "status": ZoneStatus.PROPOSED.value,
        "geom_source": f"craftmap siting analysis: {where}",
        "notes": f"Proposed by the craftmap siting analysis ({where}); parameters: {params}",
    }
    if save.capacity_t is not None:
        properties["annual_capacity_t"] = save.capacity_t
    collection = catalog.get_collection(conn, ids.MATERIAL_ZONES)
    feature = {"type": "Feature", "geometry": geometry, "properties": properties}
    return writes.create(
        conn, collection, feature, writes.WriteOptions(actor=actor, content_crs=CRS84)
    )
