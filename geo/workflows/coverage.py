"""Supply coverage of one material: which villages each zone supplies, and who goes short.

``run_coverage`` reads the villages that need the material and the zones that grow it
(with the scenario's changes: more statuses, capacities overridden, zones left out,
unsaved zones added), their figures by the year rule, the candidate pairs within the haul
from PostGIS, and hands them to :func:`geo.analysis.coverage.allocate`. It writes nothing.

Figures, the year rule: for ``year=Y`` a village's demand is its ``supply_figure`` row for
the material with the greatest year ≤ Y, else the feature's ``material_demand_t[material]``;
a zone's capacity is its ``supply_figure`` row with the greatest year ≤ Y, else
``annual_capacity_t``. With no year, the latest row of any year, else the feature field.
Every village and zone says where its figure came from; one with no figure is listed in
``missing``, never dropped silently and never counted as zero.

Distances: measured from the zone's nearest point, in both modes. Geodesic: the
spheroidal distance from the zone (its nearest point; 0 inside it) to the village. Road:
the zone's access point is the road vertex nearest to the zone (nearest to any of its
points); the distance is the straight leg zone → access vertex, plus the shortest road
path (length in metres, on the edges a car may use, one-ways respected) to the vertex
nearest to the village, plus the straight leg from that vertex to the village. A pair is
a candidate only within the haul; since a road distance is never shorter than the
geodesic one, road distances are computed only for the pairs the geodesic test keeps.
"""

from __future__ import annotations

import csv
import io
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import shapely
import shapely.geometry
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from geo.analysis.coverage import Allocation, allocate
from geo.kernel.crs import CRS84, SRID_STORAGE
from geo.kernel.errors import InvalidInput, LimitExceeded, NotFound
from geo.kernel.vocab import Material, ZoneStatus
from geo.store import catalog, writes

if TYPE_CHECKING:
    import geopandas as gpd
    import pandas as pd

DistanceMode = Literal["road", "geodesic"]
MODES = ("auto", "road", "geodesic")
MAX_HAUL_KM = 500.0
MAX_EXTRA_ZONES = 50
MAX_EXTRA_POSITIONS = 20_000
# A village is covered when what it lacks is below this share of its demand (solver noise).
COVERED_TOLERANCE = 1e-6
FEATURE = "feature"
SCENARIO = "scenario"


# -- the request ------------------------------------------------------------------------------
@dataclass(frozen=True)
class ExtraZone:
    """An unsaved zone of the scenario (the editor's zone being drawn).

    ``geometry`` is a GeoJSON Polygon or MultiPolygon in longitude/latitude; ``capacity_t``
    its yearly tonnes; ``material``, when given, must be the request's material.
    """

    geometry: Mapping[str, Any]
    capacity_t: float
    code: str | None = None
    name: str | None = None
    material: str | None = None


@dataclass(frozen=True)
class Scenario:
    """Changes to the current state, none of them written.

    ``include_statuses``: zone statuses taken besides ``existing`` (``planned``,
    ``proposed``). ``capacity_overrides``: zone id or code → tonnes a year, replacing the
    figure. ``extra_zones``: unsaved zones. ``exclude_zones``: zone ids or codes left out.
    """

    include_statuses: Sequence[str] = ()
    capacity_overrides: Mapping[int | str, float] = field(default_factory=dict)
    extra_zones: Sequence[ExtraZone] = ()
    exclude_zones: Sequence[int | str] = ()

    @property
    def is_current(self) -> bool:
        """True when the scenario changes nothing."""
        return not (
            set(self.include_statuses) - {ZoneStatus.EXISTING.value}
            or self.capacity_overrides
            or self.extra_zones
            or self.exclude_zones
        )


@dataclass(frozen=True)
class CoverageRequest:
    """What to analyse: a material, the longest haul in km, a distance mode, a year.

    ``mode``: ``auto`` (road when a network is loaded, else geodesic), ``road`` or
    ``geodesic``. ``network``: the road network's name (default: the one most recently
    built). ``year``: the figures' year (see the module docstring), None for the latest.
    """

    material: str
    haul_km: float
    mode: str = "auto"
    year: int | None = None
    scenario: Scenario = field(default_factory=Scenario)
    network: str | None = None


# -- the result -------------------------------------------------------------------------------
@dataclass(frozen=True)
class MissingFigure:
    """A village or zone left out of the allocation, and why (``reason``, in English)."""

    kind: Literal["village", "zone"]
    id: int | None
    code: str | None
    name: str | None
    reason: str


@dataclass(frozen=True)
class CoverageTotals:
    """Sums over the analysed villages and zones (tonnes a year; tonne-km)."""

    demand_t: float
    supplied_t: float
    unmet_t: float
    capacity_t: float
    used_t: float
    tonne_km: float
    villages: int
    villages_covered: int
    villages_short: int
    villages_unreached: int
    zones: int
    zones_used: int
    missing: int
    pairs: int
    lp_rows: int
    lp_nonzeros: int
    solve_s: float
    # Seconds spent finding the candidate pairs (and road distances) in PostGIS.
    pairs_s: float = 0.0


@dataclass(frozen=True)
class CoverageResult:
    """A coverage analysis's answer.

    Attributes
    ----------
    request
        The request answered.
    distance_mode
        ``road`` or ``geodesic``: the distances the allocation used.
    network
        The road network's name in road mode, else None.
    note
        Why the mode is what it is when ``auto`` chose (e.g. no road network loaded), else
        None.
    villages
        GeoDataFrame (EPSG:4326), one row per village with a demand figure: ``id``,
        ``code``, ``name``, ``demand_t``, ``supplied_t``, ``covered_share`` (0–1),
        ``unmet_t``, ``reachable`` (some zone within the haul), the figure's origin
        ``figure_source`` (``figure`` or ``feature``), ``figure_year``, ``figure_estimate``,
        ``figure_basis``, and Point geometry.
    zones
        GeoDataFrame (EPSG:4326), one row per zone with a capacity: ``id`` (None for an
        unsaved zone), ``code``, ``name``, ``status`` (``unsaved`` for an unsaved zone),
        ``capacity_t``, ``used_t``, ``use_share`` (0–1), ``serves`` (village codes, nearest
        first), ``figure_source`` (``figure``, ``feature`` or ``scenario``),
        ``figure_year``, ``figure_estimate``, ``figure_basis`` and the zone's geometry.
    flows
        GeoDataFrame (EPSG:4326), one row per pair carrying tonnes: ``zone_id`` (None for an
        unsaved zone), ``zone_code``, ``village_id``, ``village_code``, ``tonnes``, ``km``
        and a LineString from the zone's access point to the village: geodesic, straight
        from the zone's point nearest to the village; road, from the zone's access vertex
        along the road path to the village's vertex, then straight to the village (straight
        from the access vertex when the path's edges do not merge into one line).
    missing
        Villages that need the material with no usable demand figure, zones without a
        capacity, villages or zones a road network cannot reach: each with its reason.
    totals
        :class:`CoverageTotals`.
    """

    request: CoverageRequest
    distance_mode: DistanceMode
    network: str | None
    note: str | None
    villages: gpd.GeoDataFrame
    zones: gpd.GeoDataFrame
    flows: gpd.GeoDataFrame
    missing: list[MissingFigure]
    totals: CoverageTotals


@dataclass(frozen=True)
class VillageChange:
    """One village whose supply differs between two results."""

    id: int
    code: str
    name: str
    supplied_before_t: float
    supplied_after_t: float
    unmet_before_t: float
    unmet_after_t: float


@dataclass(frozen=True)
class CoverageDiff:
    """What a scenario changes against the current state.

    ``newly_covered``: codes of villages short before and fully covered after;
    ``newly_short`` the reverse; ``changed``: every village whose supplied tonnes moved
    (by more than the solver's noise), biggest gain first.
    """

    unmet_before_t: float
    unmet_after_t: float
    supplied_before_t: float
    supplied_after_t: float
    tonne_km_before: float
    tonne_km_after: float
    villages_short_before: int
    villages_short_after: int
    newly_covered: list[str]
    newly_short: list[str]
    changed: list[VillageChange]


# -- validation -------------------------------------------------------------------------------
def _check_request(request: CoverageRequest) -> None:
    materials = {m.value for m in Material}
    if request.material not in materials:
        known = ", ".join(sorted(materials))
        raise InvalidInput(f"unknown material {str(request.material)[:40]!r}; one of {known}")
    haul = request.haul_km
    if isinstance(haul, bool) or not isinstance(haul, int | float) or not math.isfinite(haul):
        raise InvalidInput("haul_km must be a number of kilometres")
    if not 0 < haul <= MAX_HAUL_KM:
        raise InvalidInput(f"haul_km must be more than 0 and at most {MAX_HAUL_KM:g} km")
    if request.mode not in MODES:
        raise InvalidInput(f"mode must be one of {', '.join(MODES)}")
    if request.year is not None and not 1990 <= request.year <= 2100:
        raise InvalidInput("year must be between 1990 and 2100")
    scenario = request.scenario
    statuses = {s.value for s in ZoneStatus}
    for status in scenario.include_statuses:
        if status not in statuses:
            raise InvalidInput(
                f"unknown zone status {str(status)[:40]!r}; one of {', '.join(sorted(statuses))}"
            )
    for key, tonnes in scenario.capacity_overrides.items():
        if not _is_tonnes(tonnes):
            raise InvalidInput(f"the capacity of zone {str(key)[:40]} must be a number ≥ 0")
    if len(scenario.extra_zones) > MAX_EXTRA_ZONES:
        raise LimitExceeded(
            f"at most {MAX_EXTRA_ZONES} unsaved zones in one scenario",
            limit="extra_zones",
            value=MAX_EXTRA_ZONES,
        )


def _is_tonnes(value: Any) -> bool:
    return (
        not isinstance(value, bool)
        and isinstance(value, int | float)
        and math.isfinite(value)
        and value >= 0
    )


def _extra_shapes(request: CoverageRequest) -> list[shapely.Geometry]:
    collection = catalog.MATERIAL_ZONES
    shapes: list[shapely.Geometry] = []
    positions = 0
    for number, extra in enumerate(request.scenario.extra_zones, start=1):
        if extra.material is not None and extra.material != request.material:
            raise InvalidInput(
                f"unsaved zone {number} is of material {str(extra.material)[:40]!r}, "
                f"not {request.material}"
            )
        if not _is_tonnes(extra.capacity_t):
            raise InvalidInput(f"unsaved zone {number}: capacity_t must be a number ≥ 0")
        geojson = writes.validate_geometry(collection, extra.geometry, CRS84)
        shape = shapely.from_geojson(geojson or "")
        positions += int(shapely.get_num_coordinates(shape))
        if positions > MAX_EXTRA_POSITIONS:
            raise LimitExceeded(
                f"the unsaved zones may have at most {MAX_EXTRA_POSITIONS} positions in all",
                limit="extra_positions",
                value=MAX_EXTRA_POSITIONS,
            )
        shapes.append(shape)
    return shapes


# -- reading ----------------------------------------------------------------------------------
_VILLAGES = sa.text(
    """
    WITH fig AS (
        SELECT DISTINCT ON (village_id) village_id, year, tonnes, estimate, basis
        FROM supply_figure
        WHERE village_id IS NOT NULL AND material = :material
          AND (CAST(:year AS integer) IS NULL OR year <= CAST(:year AS integer))
        ORDER BY village_id, year DESC
    )
    SELECT v.id, v.code, v.name, ST_X(v.geom) AS lon, ST_Y(v.geom) AS lat,
           jsonb_typeof(v.material_demand_t -> :material) AS feature_type,
           v.material_demand_t ->> :material AS feature_value,
           fig.year, fig.tonnes, fig.estimate, fig.basis
    FROM craft_village v LEFT JOIN fig ON fig.village_id = v.id
    WHERE fig.village_id IS NOT NULL OR (v.material_demand_t -> :material) IS NOT NULL
    ORDER BY v.code
    """
)

_ZONES = sa.text(
    """
    WITH fig AS (
        SELECT DISTINCT ON (zone_id) zone_id, year, tonnes, estimate, basis
        FROM supply_figure
        WHERE zone_id IS NOT NULL AND material = :material
          AND (CAST(:year AS integer) IS NULL OR year <= CAST(:year AS integer))
        ORDER BY zone_id, year DESC
    )
    SELECT z.id, z.code, z.name, z.status, z.annual_capacity_t,
           fig.year, fig.tonnes, fig.estimate, fig.basis, ST_AsBinary(z.geom) AS wkb
    FROM material_zone z LEFT JOIN fig ON fig.zone_id = z.id
    WHERE z.material = :material AND z.status = ANY(CAST(:statuses AS text[]))
    ORDER BY z.code
    """
)

# Zones (saved by id, unsaved as GeoJSON) × villages within the haul. The bbox test on the
# villages' indexed column comes first (the zone's box grown by the haul in degrees: a
# degree of latitude is at least 110 574 m, one of longitude 111 320 m × cos(latitude),
# taken at the zone's latitude farthest from the equator plus the haul); the spheroidal
# ST_DWithin then keeps the pairs truly within the haul.
_PAIRS = sa.text(
    """
    WITH z AS (
        SELECT id AS key, geom FROM material_zone WHERE id = ANY(CAST(:zone_ids AS integer[]))
        UNION ALL
        SELECT -CAST(e.n AS integer),
               ST_SetSRID(ST_GeomFromGeoJSON(e.g), :srid)
        FROM unnest(CAST(:extra AS text[])) WITH ORDINALITY AS e(g, n)
    ), zz AS (
        SELECT key, geom,
               CAST(:haul_m AS float8) / 110574.0 AS dlat,
               CAST(:haul_m AS float8) / (111320.0 * cos(radians(least(89.0,
                   greatest(abs(ST_YMin(geom)), abs(ST_YMax(geom)))
                   + CAST(:haul_m AS float8) / 110574.0)))) AS dlon
        FROM z
    )
    SELECT zz.key AS zone, v.id AS village,
           ST_Distance(zz.geom::geography, v.geom::geography) AS m
    FROM zz CROSS JOIN LATERAL (
        -- OFFSET 0 keeps the box test the scan of the index, per zone: else the planner
        -- may fetch the villages by id and test every zone against each.
        SELECT id, geom FROM craft_village
        WHERE geom && ST_Expand(zz.geom, zz.dlon, zz.dlat) OFFSET 0
    ) AS v
    WHERE v.id = ANY(CAST(:village_ids AS integer[]))
      AND ST_DWithin(zz.geom::geography, v.geom::geography, CAST(:haul_m AS float8))
    """
)

# The geodesic access point of each flow: the zone's point nearest to the village.
_ACCESS = sa.text(
    """
    WITH z AS (
        SELECT id AS key, geom FROM material_zone WHERE id = ANY(CAST(:zone_ids AS integer[]))
        UNION ALL
        SELECT -CAST(e.n AS integer), ST_SetSRID(ST_GeomFromGeoJSON(e.g), :srid)
        FROM unnest(CAST(:extra AS text[])) WITH ORDINALITY AS e(g, n)
    ), f AS (
        SELECT * FROM unnest(CAST(:zones AS integer[]), CAST(:villages AS integer[]))
            AS f(zone, village)
    )
    SELECT f.zone, f.village, ST_X(p) AS lon, ST_Y(p) AS lat
    FROM f JOIN z ON z.key = f.zone JOIN craft_village v ON v.id = f.village,
         LATERAL ST_ClosestPoint(z.geom, v.geom) AS p
    """
)


def _figure(tonnes: Any, year: Any, estimate: Any, basis: Any) -> dict[str, Any]:
    return {
        "figure_source": "figure",
        "figure_year": int(year),
        "figure_estimate": bool(estimate),
        "figure_basis": basis,
        "tonnes": float(tonnes),
    }


def _feature(tonnes: float) -> dict[str, Any]:
    return {
        "figure_source": FEATURE,
        "figure_year": None,
        "figure_estimate": None,
        "figure_basis": None,
        "tonnes": tonnes,
    }


def _read_villages(
    conn: Connection, request: CoverageRequest, missing: list[MissingFigure]
) -> pd.DataFrame:
    import pandas as pd

    rows = conn.execute(_VILLAGES, {"material": request.material, "year": request.year})
    kept = []
    for row in rows:
        if row.tonnes is not None:
            figure = _figure(row.tonnes, row.year, row.estimate, row.basis)
        elif row.feature_type == "number" and float(row.feature_value) >= 0:
            figure = _feature(float(row.feature_value))
        else:
            reason = (
                "no demand figure for the material"
                if row.feature_type in (None, "null")
                else f"demand for the material is not a number ≥ 0: {str(row.feature_value)[:40]}"
            )
            missing.append(MissingFigure("village", row.id, row.code, row.name, reason))
            continue
        kept.append(
            {"id": row.id, "code": row.code, "name": row.name, "lon": row.lon, "lat": row.lat}
            | figure
        )
    columns = ["id", "code", "name", "lon", "lat", "figure_source", "figure_year"]
    columns += ["figure_estimate", "figure_basis", "tonnes"]
    return pd.DataFrame(kept, columns=columns)


def _zone_key_lookup(conn: Connection, keys: Sequence[int | str]) -> dict[int | str, Any]:
    ids = [k for k in keys if isinstance(k, int) and not isinstance(k, bool)]
    codes = [k for k in keys if isinstance(k, str)]
    found: dict[int | str, Any] = {}
    if ids or codes:
        rows = conn.execute(
            sa.text(
                "SELECT id, code, material, status FROM material_zone "
                "WHERE id = ANY(CAST(:ids AS integer[])) OR code = ANY(CAST(:codes AS text[]))"
            ),
            {"ids": ids, "codes": codes},
        )
        for row in rows:
            found[row.id] = row
            found[row.code] = row
    for key in keys:
        if key not in found:
            raise NotFound(f"no material zone {str(key)[:40]!r}")
    return found


def _read_zones(
    conn: Connection, request: CoverageRequest, missing: list[MissingFigure]
) -> pd.DataFrame:
    import pandas as pd

    scenario = request.scenario
    statuses = sorted({ZoneStatus.EXISTING.value, *scenario.include_statuses})
    named = _zone_key_lookup(conn, [*scenario.capacity_overrides, *scenario.exclude_zones])
    excluded = {named[key].id for key in scenario.exclude_zones}
    overrides: dict[int, float] = {}
    for key, tonnes in scenario.capacity_overrides.items():
        row = named[key]
        if row.material != request.material:
            raise InvalidInput(
                f"zone {row.code} is of material {row.material}, not {request.material}"
            )
        if row.status not in statuses:
            raise InvalidInput(
                f"zone {row.code} is {row.status}: include that status to change its capacity"
            )
        overrides[row.id] = float(tonnes)
    rows = conn.execute(
        _ZONES, {"material": request.material, "year": request.year, "statuses": statuses}
    )
    kept = []
    for row in rows:
        if row.id in excluded:
            continue
        if row.id in overrides:
            figure = _feature(overrides[row.id]) | {"figure_source": SCENARIO}
        elif row.tonnes is not None:
            figure = _figure(row.tonnes, row.year, row.estimate, row.basis)
        elif row.annual_capacity_t is not None:
            figure = _feature(float(row.annual_capacity_t))
        else:
            missing.append(
                MissingFigure("zone", row.id, row.code, row.name, "no yearly capacity figure")
            )
            continue
        kept.append(
            {
                "key": row.id,
                "id": row.id,
                "code": row.code,
                "name": row.name,
                "status": row.status,
                "geometry": shapely.from_wkb(row.wkb),
            }
            | figure
        )
    return pd.DataFrame(
        kept,
        columns=[
            "key",
            "id",
            "code",
            "name",
            "status",
            "geometry",
            "figure_source",
            "figure_year",
            "figure_estimate",
            "figure_basis",
            "tonnes",
        ],
    )


def _extra_zone_rows(request: CoverageRequest, shapes: list[shapely.Geometry]) -> pd.DataFrame:
    import pandas as pd

    rows = []
    for number, (extra, shape) in enumerate(
        zip(request.scenario.extra_zones, shapes, strict=True), start=1
    ):
        rows.append(
            {
                "key": -number,
                "id": None,
                "code": extra.code or f"new-{number}",
                "name": extra.name,
                "status": "unsaved",
                "geometry": shape,
            }
            | _feature(float(extra.capacity_t))
            | {"figure_source": SCENARIO}
        )
    return pd.DataFrame(rows)


# -- distances --------------------------------------------------------------------------------
def latest_network(conn: Connection, name: str | None = None) -> str | None:
    """The named road network (NotFound if absent), or the most recently built; None if none."""
    if name is not None:
        found = conn.execute(
            sa.text("SELECT name FROM road_network WHERE name = :name"), {"name": name}
        ).scalar()
        if found is None:
            raise NotFound(f"no road network {name[:63]!r}")
        return str(found)
    latest = conn.execute(
        sa.text("SELECT name FROM road_network WHERE edges > 0 ORDER BY built_at DESC, id DESC")
    ).scalar()
    return None if latest is None else str(latest)


def _geodesic_pairs(
    conn: Connection,
    zone_ids: list[int],
    extra: list[str],
    village_ids: list[int],
    haul_m: float,
) -> pd.DataFrame:
    import pandas as pd

    rows = conn.execute(
        _PAIRS,
        {
            "zone_ids": zone_ids,
            "extra": extra,
            "village_ids": village_ids,
            "haul_m": haul_m,
            "srid": SRID_STORAGE,
        },
    ).all()
    frame = pd.DataFrame(rows, columns=["zone", "village", "m"])
    return pd.DataFrame(
        {
            "zone": frame["zone"].astype("int64"),
            "village": frame["village"].astype("int64"),
            "km": frame["m"].astype(float) / 1000.0,
        }
    )


# -- the workflow -----------------------------------------------------------------------------
def run_coverage(conn: Connection, request: CoverageRequest) -> CoverageResult:
    """Allocate the material's zones to its villages (see the module docstring).

    Raises
    ------
    InvalidInput
        On an unknown material or status, a haul outside (0, 500] km, a bad capacity, an
        unsaved zone's bad geometry, or mode ``road`` with no road network loaded.
    NotFound
        On a zone id or code (in the overrides or exclusions) or a network that does not
        exist.
    LimitExceeded
        On more unsaved zones, or positions in them, than a scenario may carry.
    """
    import geopandas as gpd
    import pandas as pd

    _check_request(request)
    shapes = _extra_shapes(request)
    distance_mode: DistanceMode = "geodesic"
    network = None
    note = None
    if request.mode != "geodesic":
        network = latest_network(conn, request.network)
        if network is not None:
            distance_mode = "road"
        elif request.mode == "road":
            raise InvalidInput("mode=road needs a road network, and none is loaded")
        else:
            note = "no road network is loaded: distances are geodesic"
    missing: list[MissingFigure] = []
    villages = _read_villages(conn, request, missing)
    zones = _read_zones(conn, request, missing)
    if shapes:
        zones = pd.concat([zones, _extra_zone_rows(request, shapes)], ignore_index=True)
    haul_m = request.haul_km * 1000.0
    zone_ids = [int(k) for k in zones["key"] if k > 0]
    extra = [shapely.to_geojson(s) for s in shapes]
    village_ids = [int(i) for i in villages["id"]]
    started = time.perf_counter()
    pairs = _geodesic_pairs(conn, zone_ids, extra, village_ids, haul_m)
    access: pd.DataFrame | None = None
    if distance_mode == "road":
        assert network is not None
        pairs, access = _road_pairs(conn, network, pairs, zones, villages, haul_m, extra, missing)
    pairs_s = time.perf_counter() - started
    allocation = allocate(
        pd.Series(zones["tonnes"].to_numpy(float), index=zones["key"].to_numpy()),
        pd.Series(villages["tonnes"].to_numpy(float), index=villages["id"].to_numpy()),
        pairs,
    )
    paths: dict[tuple[int, int], shapely.Geometry] = {}
    if access is None:
        access = _geodesic_access(conn, allocation, zone_ids, extra)
    else:
        points = {
            int(i): (float(x), float(y))
            for i, x, y in zip(villages["id"], villages["lon"], villages["lat"], strict=True)
        }
        paths = _road_paths(conn, allocation, access, haul_m, points)
    result = _result(
        request, distance_mode, network, note, villages, zones, pairs, allocation, access, missing
    )
    if paths:
        # The flows' rows follow the allocation's: keyed by its zone keys (unsaved < 0).
        ends = zip(allocation.flows["zone"], allocation.flows["village"], strict=True)
        lines = result.flows.geometry.values
        geometry = [
            paths.get((int(z), int(v)), line) for (z, v), line in zip(ends, lines, strict=True)
        ]
        result.flows.set_geometry(
            gpd.GeoSeries(geometry, index=result.flows.index, crs="EPSG:4326"), inplace=True
        )
    return replace(result, totals=replace(result.totals, pairs_s=pairs_s))


def _geodesic_access(
    conn: Connection, allocation: Allocation, zone_ids: list[int], extra: list[str]
) -> pd.DataFrame:
    import pandas as pd

    flows = allocation.flows
    rows = conn.execute(
        _ACCESS,
        {
            "zone_ids": zone_ids,
            "extra": extra,
            "zones": [int(z) for z in flows["zone"]],
            "villages": [int(v) for v in flows["village"]],
            "srid": SRID_STORAGE,
        },
    ).all()
    return pd.DataFrame(rows, columns=["zone", "village", "lon", "lat"])


# Each zone's and village's nearest road vertex: the few nearest by the index (KNN on
# degrees), then the least spheroidal distance among them.
_SNAP_ZONES = sa.text(
    """
    WITH z AS (
        SELECT id AS key, geom FROM material_zone WHERE id = ANY(CAST(:zone_ids AS integer[]))
        UNION ALL
        SELECT -CAST(e.n AS integer), ST_SetSRID(ST_GeomFromGeoJSON(e.g), :srid)
        FROM unnest(CAST(:extra AS text[])) WITH ORDINALITY AS e(g, n)
    )
    SELECT z.key, s.id AS vertex, s.m, ST_X(s.geom) AS lon, ST_Y(s.geom) AS lat
    FROM z CROSS JOIN LATERAL (
        SELECT c.id, c.geom, ST_Distance(z.geom::geography, c.geom::geography) AS m
        FROM (SELECT id, geom FROM road_vertex WHERE network_id = :network_id
              ORDER BY geom <-> z.geom LIMIT 8) AS c
        ORDER BY m, c.id LIMIT 1
    ) AS s
    """
)
_SNAP_VILLAGES = sa.text(
    """
    SELECT v.id AS key, s.id AS vertex, s.m, ST_X(s.geom) AS lon, ST_Y(s.geom) AS lat
    FROM craft_village v CROSS JOIN LATERAL (
        SELECT c.id, c.geom, ST_Distance(v.geom::geography, c.geom::geography) AS m
        FROM (SELECT id, geom FROM road_vertex WHERE network_id = :network_id
              ORDER BY geom <-> v.geom LIMIT 8) AS c
        ORDER BY m, c.id LIMIT 1
    ) AS s
    WHERE v.id = ANY(CAST(:village_ids AS integer[]))
    """
)
# Shortest road lengths in metres (not the time costs): the edge's spheroidal length, on
# the edges and in the directions a car (a truck's stand-in) may use.
_ROAD_EDGES = (
    "SELECT id, source, target, "
    "CASE WHEN cost_car >= 0 THEN length_m ELSE -1 END AS cost, "
    "CASE WHEN reverse_cost_car >= 0 THEN length_m ELSE -1 END AS reverse_cost "
    "FROM road_edge WHERE network_id = {network_id:d} "
    "AND geom && ST_MakeEnvelope({west!r}, {south!r}, {east!r}, {north!r}, {srid:d})"
)
_ROAD_COSTS = sa.text(
    """
    SELECT start_vid, end_vid, agg_cost FROM pgr_dijkstraCost(
        CAST(:edges AS text), CAST(:sources AS bigint[]), CAST(:targets AS bigint[]),
        directed => true)
    """
)


def _snaps(conn: Connection, statement: sa.TextClause, params: dict[str, Any]) -> pd.DataFrame:
    import pandas as pd

    rows = conn.execute(statement, params).all()
    frame = pd.DataFrame(rows, columns=["key", "vertex", "m", "lon", "lat"])
    types = {"key": "int64", "vertex": "int64", "m": "float64", "lon": "float64", "lat": "float64"}
    return frame.astype(types).set_index("key")


def _road_pairs(
    conn: Connection,
    network: str,
    pairs: pd.DataFrame,
    zones: pd.DataFrame,
    villages: pd.DataFrame,
    haul_m: float,
    extra: list[str],
    missing: list[MissingFigure],
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The geodesic candidate pairs re-measured along the roads; those beyond the haul go."""
    import pandas as pd

    network_id = conn.execute(
        sa.text("SELECT id FROM road_network WHERE name = :name"), {"name": network}
    ).scalar_one()
    zone_snap = _snaps(
        conn,
        _SNAP_ZONES,
        {
            "zone_ids": [int(k) for k in zones["key"] if k > 0],
            "extra": extra,
            "srid": SRID_STORAGE,
            "network_id": network_id,
        },
    )
    village_snap = _snaps(
        conn,
        _SNAP_VILLAGES,
        {"village_ids": [int(i) for i in villages["id"]], "network_id": network_id},
    )
    # An access leg longer than the haul can never be part of a pair within it.
    kinds: tuple[tuple[Literal["zone", "village"], pd.DataFrame, pd.DataFrame, str], ...] = (
        ("zone", zones, zone_snap, "key"),
        ("village", villages, village_snap, "id"),
    )
    for kind, frame, snap, key_column in kinds:
        near = set(snap.index[snap["m"] <= haul_m])
        for row in frame.to_dict("records"):
            key = row[key_column]
            if key not in near:
                missing.append(
                    MissingFigure(
                        kind,
                        None if key < 0 else int(key),
                        row["code"],
                        row["name"],
                        f"no road of network {network} within the haul of the {kind}",
                    )
                )
    zone_snap = zone_snap[zone_snap["m"] <= haul_m]
    village_snap = village_snap[village_snap["m"] <= haul_m]
    candidates = pairs[
        pairs["zone"].isin(zone_snap.index) & pairs["village"].isin(village_snap.index)
    ]
    measured = candidates.assign(
        zone_vertex=zone_snap["vertex"].reindex(candidates["zone"]).to_numpy(),
        zone_m=zone_snap["m"].reindex(candidates["zone"]).to_numpy(),
        village_vertex=village_snap["vertex"].reindex(candidates["village"]).to_numpy(),
        village_m=village_snap["m"].reindex(candidates["village"]).to_numpy(),
    )
    costs = _road_costs(conn, network_id, measured, zone_snap, haul_m)
    measured = measured.merge(costs, on=["zone_vertex", "village_vertex"], how="left")
    measured.loc[measured["zone_vertex"] == measured["village_vertex"], "road_m"] = 0.0
    measured = measured.dropna(subset=["road_m"])
    total_m = measured["zone_m"] + measured["road_m"] + measured["village_m"]
    measured = measured.assign(km=total_m / 1000.0)[total_m <= haul_m]
    straight = set(candidates["village"])
    by_road = set(measured["village"])
    for row in villages.to_dict("records"):
        if row["id"] in straight and row["id"] not in by_road:
            missing.append(
                MissingFigure(
                    "village",
                    int(row["id"]),
                    row["code"],
                    row["name"],
                    "a zone lies within the haul in a straight line, but none along the roads",
                )
            )
    access = pd.DataFrame(
        {
            "zone": measured["zone"].to_numpy(),
            "village": measured["village"].to_numpy(),
            "lon": zone_snap["lon"].reindex(measured["zone"]).to_numpy(),
            "lat": zone_snap["lat"].reindex(measured["zone"]).to_numpy(),
            "zone_vertex": measured["zone_vertex"].to_numpy(),
            "village_vertex": measured["village_vertex"].to_numpy(),
            "network_id": network_id,
        }
    )
    return measured.loc[:, ["zone", "village", "km"]].reset_index(drop=True), access


def _edges_sql(network_id: int, lon: pd.Series, lat: pd.Series, haul_m: float) -> str:
    """The edges query of pgRouting: lengths, on the access vertices' box grown by the haul
    (a path within the haul never leaves it)."""
    dlat = haul_m / 110_574.0
    top = min(89.0, float(np.abs(lat).max()) + dlat)
    dlon = haul_m / (111_320.0 * math.cos(math.radians(top)))
    return _ROAD_EDGES.format(
        network_id=int(network_id),
        west=float(lon.min()) - dlon,
        south=float(lat.min()) - dlat,
        east=float(lon.max()) + dlon,
        north=float(lat.max()) + dlat,
        srid=SRID_STORAGE,
    )


# The road path of each flow: its edges in order, merged into one line.
_ROAD_PATHS = sa.text(
    """
    SELECT p.start_vid, p.end_vid,
           ST_AsBinary(ST_LineMerge(ST_Collect(e.geom ORDER BY p.path_seq))) AS wkb
    FROM pgr_dijkstra(CAST(:edges AS text), CAST(:combinations AS text), directed => true) p
    JOIN road_edge e ON e.id = p.edge
    GROUP BY p.start_vid, p.end_vid
    """
)


def _road_paths(
    conn: Connection,
    allocation: Allocation,
    access: pd.DataFrame,
    haul_m: float,
    village_points: Mapping[int, tuple[float, float]],
) -> dict[tuple[int, int], shapely.Geometry]:
    """Each flow's line along the roads: access vertex, the road path, the village's vertex.

    A path whose edges do not merge into one line keeps the straight line.
    """
    flows = allocation.flows
    if len(flows) == 0:
        return {}
    keyed = access.set_index(["zone", "village"])
    chosen = keyed.loc[list(zip(flows["zone"], flows["village"], strict=True))]
    pairs = sorted(
        {
            (int(a), int(b))
            for a, b in zip(chosen["zone_vertex"], chosen["village_vertex"], strict=True)
            if int(a) != int(b)
        }
    )
    lines: dict[tuple[int, int], shapely.Geometry] = {}
    if pairs:
        combinations = "SELECT * FROM (VALUES {}) AS c(source, target)".format(
            ", ".join(f"({a:d}, {b:d})" for a, b in pairs)
        )
        edges = _edges_sql(int(chosen["network_id"].iloc[0]), chosen["lon"], chosen["lat"], haul_m)
        for found in conn.execute(_ROAD_PATHS, {"edges": edges, "combinations": combinations}):
            merged = shapely.from_wkb(found.wkb)
            if isinstance(merged, shapely.LineString):
                lines[(int(found.start_vid), int(found.end_vid))] = merged
    paths: dict[tuple[int, int], shapely.Geometry] = {}
    records = chosen.reset_index().to_dict("records")
    for item in records:
        path = lines.get((int(item["zone_vertex"]), int(item["village_vertex"])))
        if path is None:
            continue
        coords = shapely.get_coordinates(path)
        start = np.array([item["lon"], item["lat"]])
        # Merged edges may run either way: the path starts at the zone's access vertex.
        if np.abs(coords[-1] - start).sum() < np.abs(coords[0] - start).sum():
            coords = coords[::-1]
        village = int(item["village"])
        paths[(int(item["zone"]), village)] = shapely.LineString(
            [*coords.tolist(), village_points[village]]
        )
    return paths


def _road_costs(
    conn: Connection,
    network_id: int,
    measured: pd.DataFrame,
    zone_snap: pd.DataFrame,
    haul_m: float,
) -> pd.DataFrame:
    """Road metres between the pairs' vertices (pairs with no path are absent)."""
    import pandas as pd

    columns = ["zone_vertex", "village_vertex", "road_m"]
    sources = sorted({int(v) for v in measured["zone_vertex"]})
    targets = sorted({int(v) for v in measured["village_vertex"]})
    if not sources or not targets:
        empty = pd.DataFrame(columns=columns)
        return empty.astype({"zone_vertex": "int64", "village_vertex": "int64", "road_m": float})
    used = zone_snap[zone_snap["vertex"].isin(sources)]
    edges = _edges_sql(network_id, used["lon"], used["lat"], haul_m)
    rows = conn.execute(_ROAD_COSTS, {"edges": edges, "sources": sources, "targets": targets}).all()
    frame = pd.DataFrame(rows, columns=columns)
    return frame.astype({"zone_vertex": "int64", "village_vertex": "int64", "road_m": float})


def _result(
    request: CoverageRequest,
    distance_mode: DistanceMode,
    network: str | None,
    note: str | None,
    villages: pd.DataFrame,
    zones: pd.DataFrame,
    pairs: pd.DataFrame,
    allocation: Allocation,
    access: pd.DataFrame,
    missing: list[MissingFigure],
) -> CoverageResult:
    import geopandas as gpd
    import pandas as pd

    by_village = allocation.by_village
    reachable = set(pairs["village"])
    village_ids = villages["id"].to_numpy()
    village_frame = gpd.GeoDataFrame(
        {
            "id": villages["id"].astype("int64"),
            "code": villages["code"],
            "name": villages["name"],
            "demand_t": villages["tonnes"].astype(float),
            "supplied_t": by_village["supplied_t"].reindex(village_ids).to_numpy(),
            "covered_share": by_village["covered_share"].reindex(village_ids).to_numpy(),
            "unmet_t": by_village["unmet_t"].reindex(village_ids).to_numpy(),
            "reachable": [i in reachable for i in village_ids],
            "figure_source": villages["figure_source"],
            "figure_year": villages["figure_year"].astype("Int64"),
            "figure_estimate": villages["figure_estimate"].astype("boolean"),
            "figure_basis": villages["figure_basis"],
        },
        geometry=gpd.points_from_xy(villages["lon"], villages["lat"]),
        crs="EPSG:4326",
    )
    flows = allocation.flows
    code_of_village = dict(zip(villages["id"], villages["code"], strict=True))
    code_of_zone = dict(zip(zones["key"], zones["code"], strict=True))
    point_of_village = dict(
        zip(villages["id"], zip(villages["lon"], villages["lat"], strict=True), strict=True)
    )
    access_of = {
        (int(z), int(v)): (float(x), float(y))
        for z, v, x, y in zip(
            access["zone"].tolist(),
            access["village"].tolist(),
            access["lon"].tolist(),
            access["lat"].tolist(),
            strict=True,
        )
    }
    serves: dict[Any, list[str]] = {key: [] for key in zones["key"]}
    for zone, village in zip(flows["zone"], flows["village"], strict=True):
        serves[zone].append(code_of_village[village])
    zone_keys = zones["key"].to_numpy()
    by_zone = allocation.by_zone
    zone_frame = gpd.GeoDataFrame(
        {
            "id": pd.array([k if k > 0 else None for k in zone_keys], dtype="Int64"),
            "code": zones["code"],
            "name": zones["name"],
            "status": zones["status"],
            "capacity_t": zones["tonnes"].astype(float),
            "used_t": by_zone["used_t"].reindex(zone_keys).to_numpy(),
            "use_share": by_zone["use_share"].reindex(zone_keys).to_numpy(),
            "serves": [serves[k] for k in zone_keys],
            "figure_source": zones["figure_source"],
            "figure_year": zones["figure_year"].astype("Int64"),
            "figure_estimate": zones["figure_estimate"].astype("boolean"),
            "figure_basis": zones["figure_basis"],
        },
        geometry=gpd.GeoSeries(list(zones["geometry"]), crs="EPSG:4326"),
        crs="EPSG:4326",
    )
    lines = [
        shapely.LineString(
            [access_of.get((int(z), int(v)), point_of_village[v]), point_of_village[v]]
        )
        for z, v in zip(flows["zone"], flows["village"], strict=True)
    ]
    flow_frame = gpd.GeoDataFrame(
        {
            "zone_id": pd.array([z if z > 0 else None for z in flows["zone"]], dtype="Int64"),
            "zone_code": [code_of_zone[z] for z in flows["zone"]],
            "village_id": flows["village"].astype("int64"),
            "village_code": [code_of_village[v] for v in flows["village"]],
            "tonnes": flows["tonnes"].astype(float),
            "km": flows["km"].astype(float),
        },
        geometry=gpd.GeoSeries(lines, crs="EPSG:4326"),
        crs="EPSG:4326",
    )
    demand = village_frame["demand_t"].to_numpy()
    unmet = village_frame["unmet_t"].to_numpy()
    short = unmet > COVERED_TOLERANCE * np.maximum(demand, 1.0)
    totals = CoverageTotals(
        demand_t=float(demand.sum()),
        supplied_t=float(village_frame["supplied_t"].sum()),
        unmet_t=float(unmet.sum()),
        capacity_t=float(zone_frame["capacity_t"].sum()),
        used_t=float(zone_frame["used_t"].sum()),
        tonne_km=allocation.tonne_km,
        villages=len(village_frame),
        villages_covered=int((~short).sum()),
        villages_short=int(short.sum()),
        villages_unreached=int((~village_frame["reachable"]).sum()),
        zones=len(zone_frame),
        zones_used=int((zone_frame["used_t"] > 0).sum()),
        missing=len(missing),
        pairs=allocation.pairs,
        lp_rows=allocation.rows,
        lp_nonzeros=allocation.nonzeros,
        solve_s=allocation.solve_s,
    )
    return CoverageResult(
        request=request,
        distance_mode=distance_mode,
        network=network,
        note=note,
        villages=village_frame,
        zones=zone_frame,
        flows=flow_frame,
        missing=missing,
        totals=totals,
    )


def compare(before: CoverageResult, after: CoverageResult) -> CoverageDiff:
    """What ``after`` (a scenario) changes against ``before`` (usually the current state)."""
    import pandas as pd

    columns = ["id", "code", "name", "demand_t", "supplied_t", "unmet_t"]
    merged = pd.merge(
        pd.DataFrame(before.villages[columns]),
        pd.DataFrame(after.villages[columns]),
        on=["id"],
        how="outer",
        suffixes=("_before", "_after"),
    )
    for side in ("before", "after"):
        for column in ("demand_t", "supplied_t", "unmet_t"):
            merged[f"{column}_{side}"] = merged[f"{column}_{side}"].astype(float).fillna(0.0)
    merged["code"] = merged["code_after"].fillna(merged["code_before"])
    merged["name"] = merged["name_after"].fillna(merged["name_before"])

    def short(side: str) -> pd.Series:
        demand = merged[f"demand_t_{side}"].clip(lower=1.0)
        return merged[f"unmet_t_{side}"] > COVERED_TOLERANCE * demand

    was_short, is_short = short("before"), short("after")
    present_before = merged["id"].isin(before.villages["id"])
    present_after = merged["id"].isin(after.villages["id"])
    delta = merged["supplied_t_after"] - merged["supplied_t_before"]
    noise = COVERED_TOLERANCE * merged[["demand_t_before", "demand_t_after"]].max(axis=1).clip(
        lower=1.0
    )
    # The delta is set before the filter: assigning a Series to an empty frame would take
    # the Series' index and bring back every row with NaN ids.
    moved = merged.assign(delta=delta)[delta.abs() > noise].sort_values(
        ["delta", "code"], ascending=[False, True]
    )
    return CoverageDiff(
        unmet_before_t=before.totals.unmet_t,
        unmet_after_t=after.totals.unmet_t,
        supplied_before_t=before.totals.supplied_t,
        supplied_after_t=after.totals.supplied_t,
        tonne_km_before=before.totals.tonne_km,
        tonne_km_after=after.totals.tonne_km,
        villages_short_before=before.totals.villages_short,
        villages_short_after=after.totals.villages_short,
        newly_covered=sorted(merged.loc[was_short & ~is_short & present_after, "code"]),
        newly_short=sorted(merged.loc[~was_short & is_short & present_before, "code"]),
        changed=[
            VillageChange(
                id=int(r["id"]),
                code=str(r["code"]),
                name=str(r["name"]),
                supplied_before_t=float(r["supplied_t_before"]),
                supplied_after_t=float(r["supplied_t_after"]),
                unmet_before_t=float(r["unmet_t_before"]),
                unmet_after_t=float(r["unmet_t_after"]),
            )
            for r in moved.to_dict("records")
        ],
    )


def what_if(
    conn: Connection, request: CoverageRequest
) -> tuple[CoverageResult, CoverageResult, CoverageDiff]:
    """The current state, the scenario's result and their difference (nothing written)."""
    # The scenario is checked before anything runs: a bad one costs no analysis.
    _check_request(request)
    _extra_shapes(request)
    current = run_coverage(
        conn,
        CoverageRequest(
            material=request.material,
            haul_km=request.haul_km,
            mode=request.mode,
            year=request.year,
            network=request.network,
        ),
    )
    scenario = run_coverage(conn, request)
    return current, scenario, compare(current, scenario)


def to_json_value(value: Any) -> Any:
    """A result's scalar as plain JSON (NaN/NA → None, numpy scalars → Python)."""
    import pandas as pd

    if value is None or value is pd.NA:
        return None
    if isinstance(value, float | np.floating):
        return None if not math.isfinite(float(value)) else float(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, list | tuple):
        return [to_json_value(v) for v in value]
    return value


# -- plain documents (JSON, GeoJSON, CSV) ------------------------------------------------------
VILLAGE_COLUMNS = (
    "id",
    "code",
    "name",
    "demand_t",
    "supplied_t",
    "covered_share",
    "unmet_t",
    "reachable",
    "figure_source",
    "figure_year",
    "figure_estimate",
    "figure_basis",
)
ZONE_COLUMNS = (
    "id",
    "code",
    "name",
    "status",
    "capacity_t",
    "used_t",
    "use_share",
    "serves",
    "figure_source",
    "figure_year",
    "figure_estimate",
    "figure_basis",
)
FLOW_COLUMNS = ("zone_id", "zone_code", "village_id", "village_code", "tonnes", "km")


def _records(frame: pd.DataFrame, columns: Sequence[str]) -> list[dict[str, Any]]:
    return (
        [
            {c: to_json_value(v) for c, v in zip(columns, values, strict=True)}
            for values in zip(*(frame[c].tolist() for c in columns), strict=True)
        ]
        if len(frame)
        else []
    )


def village_rows(result: CoverageResult) -> list[dict[str, Any]]:
    """The per-village table as plain values, with ``lon``/``lat``."""
    rows = _records(result.villages, VILLAGE_COLUMNS)
    xy = shapely.get_coordinates(np.asarray(result.villages.geometry.values))
    for row, (lon, lat) in zip(rows, xy.tolist(), strict=True):
        row["lon"], row["lat"] = lon, lat
    return rows


def zone_rows(result: CoverageResult) -> list[dict[str, Any]]:
    """The per-zone table as plain values (geometry left to the GeoJSON form)."""
    return _records(result.zones, ZONE_COLUMNS)


def flow_rows(result: CoverageResult) -> list[dict[str, Any]]:
    """The flows as plain values (lines left to the GeoJSON form)."""
    return _records(result.flows, FLOW_COLUMNS)


def request_document(request: CoverageRequest) -> dict[str, Any]:
    """The request as JSON (unsaved zones by code and capacity only)."""
    scenario = request.scenario
    return {
        "material": request.material,
        "haul_km": request.haul_km,
        "mode": request.mode,
        "year": request.year,
        "network": request.network,
        "scenario": {
            "include": list(scenario.include_statuses),
            "capacity": {str(k): v for k, v in scenario.capacity_overrides.items()},
            "exclude": [str(k) for k in scenario.exclude_zones],
            "zones": [
                {"code": z.code or f"new-{n}", "name": z.name, "capacity_t": z.capacity_t}
                for n, z in enumerate(scenario.extra_zones, start=1)
            ],
        },
    }


def result_document(result: CoverageResult) -> dict[str, Any]:
    """The whole result as JSON: request, mode, totals, villages, zones, flows, missing."""
    return {
        "request": request_document(result.request),
        "distance_mode": result.distance_mode,
        "network": result.network,
        "note": result.note,
        "totals": {k: to_json_value(v) for k, v in asdict(result.totals).items()},
        "villages": village_rows(result),
        "zones": zone_rows(result),
        "flows": flow_rows(result),
        "missing": [asdict(m) for m in result.missing],
    }


def diff_document(diff: CoverageDiff) -> dict[str, Any]:
    """A diff as JSON."""
    return {k: to_json_value(v) if k != "changed" else v for k, v in asdict(diff).items()}


def result_geojson(result: CoverageResult) -> dict[str, Any]:
    """One FeatureCollection: villages, zones and flows, told apart by ``kind``.

    Zones first, then flows, then villages, so a map drawing them in order puts the points
    on top. The collection's ``distance_mode``, ``network`` and ``totals`` say how it was
    computed.
    """
    features: list[dict[str, Any]] = []
    parts = (
        ("zone", result.zones, zone_rows(result)),
        ("flow", result.flows, flow_rows(result)),
        ("village", result.villages, _records(result.villages, VILLAGE_COLUMNS)),
    )
    for kind, frame, rows in parts:
        for geometry, row in zip(frame.geometry.values, rows, strict=True):
            features.append(
                {
                    "type": "Feature",
                    "geometry": shapely.geometry.mapping(geometry),
                    "properties": {"kind": kind, **row},
                }
            )
    return {
        "type": "FeatureCollection",
        "distance_mode": result.distance_mode,
        "network": result.network,
        "totals": {k: to_json_value(v) for k, v in asdict(result.totals).items()},
        "features": features,
    }


def villages_csv(result: CoverageResult) -> str:
    """The per-village table as CSV (UTF-8, comma-separated, header of column names)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    header = [*VILLAGE_COLUMNS, "lon", "lat"]
    writer.writerow(header)
    for row in village_rows(result):
        writer.writerow(["" if row[c] is None else _csv_cell(row[c]) for c in header])
    return buffer.getvalue()


def _csv_cell(value: Any) -> Any:
    # A cell starting like a formula would run in a spreadsheet: quote it as text.
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value
