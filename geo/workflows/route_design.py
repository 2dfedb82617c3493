"""The route designer: road legs between a route's stops, the best order, the timetable.

Legs
----
A leg joins two consecutive stops. Each stop snaps to the nearest vertex of the road
network (``road_vertex``, spheroidal distance); from the stop to that vertex the leg runs
straight at the mode's *access speed* (:data:`ACCESS_KMH`: a lane or a yard, slower than
the road). Between the two vertices it follows the shortest path by time on
``cost_<mode>``/``reverse_cost_<mode>`` (seconds; -1 where the mode may not go; one-ways
bind every mode but walking), found by pgRouting's Dijkstra. Its length is the sum of
the path's edge lengths plus the two access legs.

A leg is never silently straight: it is ``"road"``, or ``"boat"`` (a boat leg, by design
straight at :data:`FALLBACK_KMH` ``["boat"]``), or ``"geodesic"`` with a note saying why —
no road network loaded, a stop farther than ``max_snap_m`` (default
:data:`MAX_SNAP_M`) from the nearest road, or the two stops not connected for the mode.
A geodesic leg is the spheroidal straight line, timed at :data:`FALLBACK_KMH` of its mode.

Designs
-------
:func:`design_route` reads a saved route, orders its stops (when asked) with
:func:`geo.analysis.route_order.best_order` on the travel matrix of
:func:`travel_matrix`, computes the legs and the timetable, and saves them on the route
and its stops (one transaction; the history trigger records every changed row under the
actor; versions, hence ETags, change). :func:`preview_design` does the same for stops that
are not saved, and writes nothing.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pyproj
import shapely
import shapely.geometry
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from geo.analysis import route_order
from geo.kernel.errors import InvalidInput, NotFound
from geo.kernel.vocab import STRAIGHT_LINE_KMH, LegKind, LineSource, TravelMode
from geo.store import models
from geo.store.db import set_actor, translate_errors
from geo.store.hooks import register_route_designer
from geo.workflows.coverage import latest_network

# Straight-line (geodesic) fallback speeds: the same table the route map's estimate uses.
FALLBACK_KMH: dict[str, float] = STRAIGHT_LINE_KMH
# Speed on the straight access leg between a stop and its road vertex (a lane, a yard).
ACCESS_KMH: dict[str, float] = {"car": 20.0, "motorbike": 20.0, "bicycle": 12.0, "walking": 4.5}
# A stop farther than this from every road vertex does not snap: its legs are geodesic.
MAX_SNAP_M = 2000.0
# At most this many stops in one design (a day's route has a dozen).
MAX_STOPS = 60

Objective = Literal["time", "distance"]
End = Literal["open", "fixed", "return"]
_GEOD = pyproj.Geod(ellps="WGS84")
_ROUTE = models.table_of(models.TourismRoute)
_STOP = models.table_of(models.RouteStop)
_VILLAGE = models.table_of(models.Village)
_NETWORK = models.table_of(models.RoadNetwork)
_ROAD_MODES = ("car", "motorbike", "bicycle", "walking")


# -- results ------------------------------------------------------------------------------------
@dataclass
class TravelMatrix:
    """Travel between every two points: seconds, metres, how each was measured, and why."""

    seconds: np.ndarray
    metres: np.ndarray
    kind: np.ndarray  # n×n of "road" | "geodesic" | "boat"
    notes: np.ndarray  # n×n of str | None: why a pair is not a road pair
    network: str | None = None
    network_id: int | None = None


@dataclass
class Leg:
    """One leg, from a stop to the next: how it was drawn, its length, time and line.

    ``line`` runs from the first stop to the second (lon/lat); None only when the two
    stops stand on the same spot.
    """

    kind: str
    note: str | None
    km: float
    minutes: float
    line: shapely.LineString | None
    network: str | None = None
    mode: str = "car"


@dataclass
class DesignStop:
    """A stop as the designer sees it (``index``: its place in the order given)."""

    index: int
    lon: float
    lat: float
    name: str | None = None
    village_id: int | None = None
    id: int | None = None
    dwell_min: float = 60.0
    opens: dt.time | None = None
    closes: dt.time | None = None
    overnight: bool = False
    leg_mode: str | None = None


@dataclass
class Unreachable:
    """A stop whose opening hours the timetable cannot keep, and why."""

    index: int
    id: int | None
    name: str | None
    problem: str


@dataclass
class Fallback:
    """A leg that is not along the roads, and why (the leg reaching stop ``to_index``)."""

    leg: int
    from_index: int
    to_index: int
    kind: str
    note: str


@dataclass
class RouteDesign:
    """A designed route: the stops in their order, the legs, the timetable, the saving.

    ``stops`` are in the designed order (``DesignStop.index`` is each one's place in the
    order given); ``legs[k]`` joins ``stops[k]`` to ``stops[k + 1]`` (a round trip has one
    more leg, back to the first stop); ``timetable[k]`` is ``stops[k]``'s visit (a round
    trip adds the return to the first stop). ``saving`` is in ``saving_unit`` (minutes
    for a "time" objective, km for "distance"), against the order given.
    """

    mode: str
    start_time: dt.time
    stops: list[DesignStop]
    legs: list[Leg]
    timetable: list[route_order.Visit]
    order_before: list[int]
    order_after: list[int]
    method: str
    optimal: bool
    objective: str
    end: str
    saving: float
    saving_unit: str
    unreachable: list[Unreachable]
    fallbacks: list[Fallback]
    drive_min: float
    duration_min: float
    days: int
    km: float
    network: str | None = None
    network_id: int | None = None
    route_id: int | None = None
    route_code: str | None = None
    route_name: str | None = None
    saved: bool = False
    line: shapely.LineString | None = None


# -- geometry helpers -----------------------------------------------------------------------------
def geodesic_m(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Spheroidal (WGS 84) distance in metres between two lon/lat points."""
    return float(_GEOD.inv(a[0], a[1], b[0], b[1])[2])


def _minutes(metres: float, kmh: float) -> float:
    return metres / 1000.0 / kmh * 60.0


def _line(coords: Sequence[Sequence[float]]) -> shapely.LineString | None:
    kept: list[tuple[float, float]] = []
    for x, y in coords:
        point = (float(x), float(y))
        if not kept or kept[-1] != point:
            kept.append(point)
    return shapely.LineString(kept) if len(kept) >= 2 else None


def _check_mode(mode: str) -> str:
    if mode not in FALLBACK_KMH:
        raise InvalidInput(f"mode must be one of {', '.join(FALLBACK_KMH)}; got {mode!r}")
    return mode


def _check_points(points: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
    checked: list[tuple[float, float]] = []
    for lon, lat in points:
        lon, lat = float(lon), float(lat)
        if not (
            math.isfinite(lon) and math.isfinite(lat) and -180 <= lon <= 180 and -90 <= lat <= 90
        ):
            raise InvalidInput(f"a stop's position ({lon}, {lat}) is not a longitude/latitude")
        checked.append((lon, lat))
    return checked


# -- the network --------------------------------------------------------------------------------
@dataclass
class _Snap:
    vertex: int
    metres: float
    lon: float
    lat: float


_SNAP = sa.text(
    """
    SELECT p.n, s.id AS vertex, s.m, ST_X(s.geom) AS lon, ST_Y(s.geom) AS lat
    FROM unnest(CAST(:lons AS float8[]), CAST(:lats AS float8[])) WITH ORDINALITY AS p(lon, lat, n)
    CROSS JOIN LATERAL (
        SELECT c.id, c.geom,
               ST_Distance(ST_SetSRID(ST_MakePoint(p.lon, p.lat), 4326)::geography,
                           c.geom::geography) AS m
        FROM (SELECT id, geom FROM road_vertex WHERE network_id = :network_id
              ORDER BY geom <-> ST_SetSRID(ST_MakePoint(p.lon, p.lat), 4326) LIMIT 8) AS c
        ORDER BY m, c.id LIMIT 1
    ) AS s
    """
)


def _network(conn: Connection, network: str | None) -> tuple[str | None, int | None]:
    name = latest_network(conn, network)
    if name is None:
        return None, None
    found = conn.execute(sa.select(_NETWORK.c.id).where(_NETWORK.c.name == name)).scalar_one()
    return name, int(found)


def _snaps(
    conn: Connection, network_id: int, points: Sequence[tuple[float, float]]
) -> dict[int, _Snap]:
    rows = conn.execute(
        _SNAP,
        {
            "lons": [p[0] for p in points],
            "lats": [p[1] for p in points],
            "network_id": network_id,
        },
    ).all()
    return {
        int(r.n) - 1: _Snap(int(r.vertex), float(r.m), float(r.lon), float(r.lat)) for r in rows
    }


def _edges_sql(network_id: int, mode: str) -> str:
    # The whole network: a shortest path may leave any box drawn around the stops.
    return (
        f"SELECT id, source, target, cost_{mode} AS cost, reverse_cost_{mode} AS reverse_cost "
        f"FROM road_edge WHERE network_id = {int(network_id):d}"
    )


_PATH_TOTALS = sa.text(
    """
    SELECT p.start_vid, p.end_vid, sum(p.cost) AS seconds, sum(e.length_m) AS metres
    FROM pgr_dijkstra(CAST(:edges AS text), CAST(:sources AS bigint[]),
                      CAST(:targets AS bigint[]), directed => true) p
    JOIN road_edge e ON e.id = p.edge
    GROUP BY p.start_vid, p.end_vid
    """
)
# Each path's edges in order, each edge's line turned the way it is travelled: pgRouting's
# ``node`` is where the edge is entered, so an edge entered at its target runs reversed.
_PATH_EDGES = sa.text(
    """
    SELECT p.start_vid, p.end_vid, p.path_seq, p.cost, e.length_m,
           ST_AsBinary(CASE WHEN p.node = e.source THEN e.geom ELSE ST_Reverse(e.geom) END) AS wkb
    FROM pgr_dijkstra(CAST(:edges AS text), CAST(:combinations AS text), directed => true) p
    JOIN road_edge e ON e.id = p.edge
    ORDER BY p.start_vid, p.end_vid, p.path_seq
    """
)


def _snap_note(index: int, snap: _Snap | None, network: str, max_snap_m: float) -> str | None:
    if snap is None:
        return f"stop {index + 1}: network {network} has no road vertex"
    if snap.metres > max_snap_m:
        return (
            f"stop {index + 1} is {snap.metres / 1000.0:.1f} km from the nearest road of "
            f"network {network} (more than {max_snap_m / 1000.0:.1f} km)"
        )
    return None


# -- the travel matrix ---------------------------------------------------------------------------
def travel_matrix(
    conn: Connection,
    points: Sequence[tuple[float, float]],
    *,
    mode: str,
    network: str | None = None,
    max_snap_m: float = MAX_SNAP_M,
) -> TravelMatrix:
    """Seconds and metres from every point (lon, lat) to every other, by ``mode``.

    Road pairs follow the network (see the module's docstring); the others are geodesic
    (or boat) with a note. ``network``: a network's name; None takes the latest built.
    """
    mode = _check_mode(mode)
    pts = _check_points(points)
    n = len(pts)
    metres = np.zeros((n, n))
    for i, j in itertools.permutations(range(n), 2):
        metres[i, j] = geodesic_m(pts[i], pts[j])
    kind = np.full((n, n), LegKind.GEODESIC.value, dtype=object)
    notes = np.full((n, n), None, dtype=object)
    speed = FALLBACK_KMH[mode]
    seconds = metres / 1000.0 / speed * 3600.0
    np.fill_diagonal(kind, LegKind.ROAD.value if mode != "boat" else LegKind.BOAT.value)
    if mode == TravelMode.BOAT:
        kind[:] = LegKind.BOAT.value
        notes[:] = "a boat leg, drawn straight"
        np.fill_diagonal(notes, None)
        return TravelMatrix(seconds, metres, kind, notes)
    name, network_id = _network(conn, network)
    if name is None or network_id is None:
        notes[:] = "no road network is loaded"
        np.fill_diagonal(notes, None)
        return TravelMatrix(seconds, metres, kind, notes)
    snaps = _snaps(conn, network_id, pts) if n else {}
    snap_notes = [_snap_note(i, snaps.get(i), name, max_snap_m) for i in range(n)]
    snapped = [i for i in range(n) if snap_notes[i] is None]
    vertices = sorted({snaps[i].vertex for i in snapped})
    totals: dict[tuple[int, int], tuple[float, float]] = {}
    if len(vertices) >= 2:
        rows = conn.execute(
            _PATH_TOTALS,
            {"edges": _edges_sql(network_id, mode), "sources": vertices, "targets": vertices},
        ).all()
        totals = {
            (int(r.start_vid), int(r.end_vid)): (float(r.seconds), float(r.metres)) for r in rows
        }
    access = ACCESS_KMH[mode] / 3.6
    for i, j in itertools.permutations(range(n), 2):
        why = snap_notes[i] or snap_notes[j]
        if why is None:
            a, b = snaps[i], snaps[j]
            road = (0.0, 0.0) if a.vertex == b.vertex else totals.get((a.vertex, b.vertex))
            if road is not None:
                seconds[i, j] = road[0] + (a.metres + b.metres) / access
                metres[i, j] = road[1] + a.metres + b.metres
                kind[i, j] = LegKind.ROAD.value
                continue
            why = (
                f"stops {i + 1} and {j + 1} are not connected by roads a {mode} may use "
                f"on network {name}"
            )
        notes[i, j] = f"{why}: straight line at {speed:g} km/h"
    return TravelMatrix(seconds, metres, kind, notes, name, network_id)


# -- legs ----------------------------------------------------------------------------------------
def _leg_modes(n: int, mode: str, leg_modes: Sequence[str | None] | None) -> list[str]:
    """The mode of each of the n-1 legs: ``leg_modes`` per leg (n-1) or per stop reached (n)."""
    if leg_modes is None:
        return [mode] * max(n - 1, 0)
    given = list(leg_modes)
    if len(given) == n:
        given = given[1:]
    if len(given) != max(n - 1, 0):
        raise InvalidInput(f"leg_modes must name {n - 1} legs (or {n} stops), not {len(given)}")
    return [_check_mode(m) if m is not None else mode for m in given]


def _straight(
    a: tuple[float, float],
    b: tuple[float, float],
    mode: str,
    kind: str,
    note: str,
    network: str | None,
) -> Leg:
    m = geodesic_m(a, b)
    return Leg(
        kind, note, m / 1000.0, _minutes(m, FALLBACK_KMH[mode]), _line([a, b]), network, mode
    )


def leg_paths(
    conn: Connection,
    points: Sequence[tuple[float, float]],
    *,
    mode: str,
    network: str | None = None,
    leg_modes: Sequence[str | None] | None = None,
    max_snap_m: float = MAX_SNAP_M,
    only: Sequence[int] | None = None,
) -> list[Leg]:
    """The legs joining consecutive ``points`` (lon, lat): road, boat, or geodesic with a note.

    ``leg_modes``: each leg's mode (None: ``mode``), given per leg (n-1 values) or per
    stop reached (n values, the first ignored, like ``route_stop.leg_mode``). ``only``:
    compute just these legs (indices 0…n-2); the list then holds only them, in that order.
    """
    mode = _check_mode(mode)
    pts = _check_points(points)
    n = len(pts)
    modes = _leg_modes(n, mode, leg_modes)
    wanted = list(range(n - 1)) if only is None else sorted(set(only))
    if any(not 0 <= k < n - 1 for k in wanted):
        raise InvalidInput(f"a leg index must lie between 0 and {n - 2}")
    legs: dict[int, Leg] = {}
    road_legs = [k for k in wanted if modes[k] != TravelMode.BOAT]
    for k in wanted:
        if modes[k] == TravelMode.BOAT:
            legs[k] = _straight(
                pts[k], pts[k + 1], "boat", LegKind.BOAT.value, "a boat leg, drawn straight", None
            )
    name, network_id = _network(conn, network) if road_legs else (None, None)
    if name is None or network_id is None:
        for k in road_legs:
            note = f"no road network is loaded: straight line at {FALLBACK_KMH[modes[k]]:g} km/h"
            legs[k] = _straight(pts[k], pts[k + 1], modes[k], LegKind.GEODESIC.value, note, None)
        return [legs[k] for k in wanted]
    used = sorted({i for k in road_legs for i in (k, k + 1)})
    found = _snaps(conn, network_id, [pts[i] for i in used]) if used else {}
    snaps = {used[i]: s for i, s in found.items()}
    by_mode: dict[str, list[int]] = {}
    for k in road_legs:
        why = _snap_note(k, snaps.get(k), name, max_snap_m) or _snap_note(
            k + 1, snaps.get(k + 1), name, max_snap_m
        )
        if why is not None:
            note = f"{why}: straight line at {FALLBACK_KMH[modes[k]]:g} km/h"
            legs[k] = _straight(pts[k], pts[k + 1], modes[k], LegKind.GEODESIC.value, note, name)
        else:
            by_mode.setdefault(modes[k], []).append(k)
    for leg_mode, ks in by_mode.items():
        paths = _paths(
            conn, network_id, leg_mode, {(snaps[k].vertex, snaps[k + 1].vertex) for k in ks}
        )
        access = ACCESS_KMH[leg_mode] / 3.6
        for k in ks:
            a, b = snaps[k], snaps[k + 1]
            path = ([], 0.0, 0.0) if a.vertex == b.vertex else paths.get((a.vertex, b.vertex))
            if path is None:
                why = (
                    f"stops {k + 1} and {k + 2} are not connected by roads a {leg_mode} may use "
                    f"on network {name}: straight line at {FALLBACK_KMH[leg_mode]:g} km/h"
                )
                legs[k] = _straight(pts[k], pts[k + 1], leg_mode, LegKind.GEODESIC.value, why, name)
                continue
            coords, road_s, road_m = path
            line = _line([pts[k], (a.lon, a.lat), *coords, (b.lon, b.lat), pts[k + 1]])
            metres = road_m + a.metres + b.metres
            minutes = (road_s + (a.metres + b.metres) / access) / 60.0
            legs[k] = Leg(LegKind.ROAD.value, None, metres / 1000.0, minutes, line, name, leg_mode)
    return [legs[k] for k in wanted]


def _paths(
    conn: Connection, network_id: int, mode: str, pairs: set[tuple[int, int]]
) -> dict[tuple[int, int], tuple[list[tuple[float, float]], float, float]]:
    """Each vertex pair's path: its coordinates in the direction of travel, seconds, metres."""
    pairs = {(a, b) for a, b in pairs if a != b}
    if not pairs:
        return {}
    combinations = "SELECT * FROM (VALUES {}) AS c(source, target)".format(
        ", ".join(f"({a:d}, {b:d})" for a, b in sorted(pairs))
    )
    found: dict[tuple[int, int], tuple[list[tuple[float, float]], float, float]] = {}
    rows = conn.execute(
        _PATH_EDGES, {"edges": _edges_sql(network_id, mode), "combinations": combinations}
    ).all()
    for key, group in itertools.groupby(rows, key=lambda r: (int(r.start_vid), int(r.end_vid))):
        coords: list[tuple[float, float]] = []
        seconds = metres = 0.0
        for row in group:
            coords.extend(map(tuple, shapely.get_coordinates(shapely.from_wkb(row.wkb)).tolist()))
            seconds += float(row.cost)
            metres += float(row.length_m)
        found[key] = (coords, seconds, metres)
    return found


# -- designs -------------------------------------------------------------------------------------
def _clock_min(value: dt.time | None) -> float | None:
    return None if value is None else value.hour * 60.0 + value.minute + value.second / 60.0


def _time_of(minutes: float) -> dt.time:
    whole = int(round(minutes)) % 1440
    return dt.time(whole // 60, whole % 60)


def _specs(stops: Sequence[DesignStop]) -> list[route_order.StopSpec]:
    return [
        route_order.StopSpec(
            dwell_min=float(s.dwell_min),
            opens_min=_clock_min(s.opens),
            closes_min=_clock_min(s.closes),
            overnight=s.overnight,
        )
        for s in stops
    ]


def _compute(
    conn: Connection,
    stops: list[DesignStop],
    *,
    mode: str,
    start_time: dt.time,
    optimise: bool,
    objective: Objective,
    end: End,
    network: str | None,
    max_snap_m: float,
) -> RouteDesign:
    mode = _check_mode(mode)
    if objective not in ("time", "distance"):
        raise InvalidInput(f"objective must be time or distance; got {objective!r}")
    if end not in ("open", "fixed", "return"):
        raise InvalidInput(f"end must be open, fixed or return; got {end!r}")
    if len(stops) > MAX_STOPS:
        raise InvalidInput(f"a route designs at most {MAX_STOPS} stops; got {len(stops)}")
    n = len(stops)
    points = [(s.lon, s.lat) for s in stops]
    specs = _specs(stops)
    start_min = _clock_min(start_time) or 0.0
    given = list(range(n))
    end_index = {"open": None, "fixed": n - 1, "return": 0}[end] if n else None
    if end == "return" and n >= 2:
        given = [*given, 0]
    method, optimal = "given", True
    saving = 0.0
    order = given
    if optimise and n >= 3:
        matrix = travel_matrix(conn, points, mode=mode, network=network, max_snap_m=max_snap_m)
        cost = matrix.seconds if objective == "time" else matrix.metres
        result = route_order.best_order(
            cost,
            start=0,
            end=end_index,
            drive_min=matrix.seconds / 60.0,
            stops=specs,
            start_min=start_min,
        )
        order = list(result.order)
        method, optimal = result.method, result.optimal
        saving = result.saving / 60.0 if objective == "time" else result.saving / 1000.0
    visit_order = order[:-1] if end == "return" and n >= 2 else order
    ordered = [stops[i] for i in visit_order]
    # Each stop keeps its own leg mode: the leg that reaches it is of its kind in any order.
    leg_points = [points[i] for i in order]
    leg_modes = [stops[i].leg_mode for i in order]
    if end == "return" and n >= 2:
        leg_modes[-1] = None
    legs = (
        leg_paths(
            conn, leg_points, mode=mode, network=network, leg_modes=leg_modes, max_snap_m=max_snap_m
        )
        if len(order) >= 2
        else []
    )
    drive = np.full((n, n), np.inf)
    for k, leg in enumerate(legs):
        drive[order[k], order[k + 1]] = leg.minutes
    visits = route_order.timetable(order, drive, specs, start_min=start_min) if n else []
    names = {i: stops[i] for i in range(n)}
    unreachable = [
        Unreachable(v.stop, names[v.stop].id, names[v.stop].name, v.problem)
        for v in visits
        if v.problem is not None
    ]
    fallbacks = [
        Fallback(k, order[k], order[k + 1], leg.kind, leg.note or "")
        for k, leg in enumerate(legs)
        if leg.kind != LegKind.ROAD
    ]
    drive_min = float(sum(leg.minutes for leg in legs))
    duration = (visits[-1].depart_min - start_min) if visits else 0.0
    days = visits[-1].day if visits else 1
    if visits and days > 1:
        duration = visits[-1].depart_min + (days - 1) * 1440.0 - start_min
    lines = [leg.line for leg in legs if leg.line is not None]
    joined: list[tuple[float, float]] = []
    for line in lines:
        joined.extend(map(tuple, shapely.get_coordinates(line).tolist()))
    network_name = next((leg.network for leg in legs if leg.network), None)
    network_id = _network_id_of(conn, network_name)
    return RouteDesign(
        mode=mode,
        start_time=start_time,
        stops=ordered,
        legs=legs,
        timetable=visits,
        order_before=given[:n],
        order_after=visit_order,
        method=method,
        optimal=optimal,
        objective=objective,
        end=end,
        saving=saving,
        saving_unit="min" if objective == "time" else "km",
        unreachable=unreachable,
        fallbacks=fallbacks,
        drive_min=drive_min,
        duration_min=duration,
        days=int(days),
        km=float(sum(leg.km for leg in legs)),
        network=network_name,
        network_id=network_id,
        line=_line(joined),
    )


def _network_id_of(conn: Connection, name: str | None) -> int | None:
    if name is None:
        return None
    found = conn.execute(sa.select(_NETWORK.c.id).where(_NETWORK.c.name == name)).scalar()
    return None if found is None else int(found)


def _route_row(conn: Connection, route: int | str) -> sa.Row[Any]:
    key = (
        _ROUTE.c.code == str(route)
        if isinstance(route, str) and not route.isdigit()
        else (_ROUTE.c.id == int(route))
    )
    row = conn.execute(sa.select(_ROUTE).where(key).with_for_update()).first()
    if row is None:
        raise NotFound(f"no tourism route {str(route)[:64]!r}")
    return row


def _saved_stops(conn: Connection, route_id: int) -> list[DesignStop]:
    rows = conn.execute(
        sa.select(
            _STOP.c.id,
            _STOP.c.seq,
            _STOP.c.name,
            _STOP.c.village_id,
            _STOP.c.dwell_min,
            _STOP.c.opens,
            _STOP.c.closes,
            _STOP.c.overnight,
            _STOP.c.leg_mode,
            sa.func.ST_X(_STOP.c.geom).label("lon"),
            sa.func.ST_Y(_STOP.c.geom).label("lat"),
            sa.func.coalesce(_STOP.c.name, _VILLAGE.c.name).label("label"),
        )
        .select_from(_STOP.outerjoin(_VILLAGE, _VILLAGE.c.id == _STOP.c.village_id))
        .where(_STOP.c.route_id == route_id)
        .order_by(_STOP.c.seq)
    ).all()
    return [
        DesignStop(
            index=k,
            lon=float(r.lon),
            lat=float(r.lat),
            name=r.label,
            village_id=r.village_id,
            id=int(r.id),
            dwell_min=float(r.dwell_min),
            opens=r.opens,
            closes=r.closes,
            overnight=bool(r.overnight),
            leg_mode=None if r.leg_mode is None else str(r.leg_mode),
        )
        for k, r in enumerate(rows)
    ]


def design_route(
    conn: Connection,
    route_id: int | str,
    *,
    optimise: bool = False,
    objective: Objective = "time",
    end: End = "open",
    actor: str,
    network: str | None = None,
    max_snap_m: float = MAX_SNAP_M,
    expected_version: int | None = None,
) -> RouteDesign:
    """Design a saved route (its id, or its code) and save the design on it and its stops.

    Raises NotFound for an unknown route; PreconditionFailed when ``expected_version``
    is given and the route is at another version.
    """
    from geo.store.writes import PreconditionFailed

    with translate_errors():
        set_actor(conn, actor)
        route = _route_row(conn, route_id)
        if expected_version is not None and route.version != expected_version:
            raise PreconditionFailed(
                f"the route is at version {route.version}, the request expected "
                f"{expected_version}: read it again"
            )
        stops = _saved_stops(conn, route.id)
        network = network or _route_network(conn, route)
        design = _compute(
            conn,
            stops,
            mode=str(route.mode),
            start_time=route.start_time,
            optimise=optimise,
            objective=objective,
            end=end,
            network=network,
            max_snap_m=max_snap_m,
        )
        design.route_id, design.route_code, design.route_name = route.id, route.code, route.name
        save_design(conn, route.id, design)
    return design


def _route_network(conn: Connection, route: sa.Row[Any]) -> str | None:
    """The network a route was designed on, while it exists (else the latest: None)."""
    if route.network_id is None:
        return None
    found = conn.execute(sa.select(_NETWORK.c.name).where(_NETWORK.c.id == route.network_id))
    name = found.scalar()
    return None if name is None else str(name)


def save_design(conn: Connection, route_id: int, design: RouteDesign) -> None:
    """Write ``design`` on the route and its stops (the caller has set the actor).

    Only rows whose values change are written, so the history and versions show what the
    design changed. Stops whose place changes move to free seq numbers first: the
    (route_id, seq) pair is unique at every row.
    """
    by_id = {s.id: k + 1 for k, s in enumerate(design.stops) if s.id is not None}
    current = dict(
        conn.execute(sa.select(_STOP.c.id, _STOP.c.seq).where(_STOP.c.route_id == route_id)).all()
    )
    moved = [i for i, seq in by_id.items() if current.get(i) != seq]
    if moved:
        top = conn.execute(
            sa.select(sa.func.coalesce(sa.func.max(_STOP.c.seq), 0)).where(
                _STOP.c.route_id == route_id
            )
        ).scalar_one()
        for k, stop_id in enumerate(moved):
            conn.execute(sa.update(_STOP).where(_STOP.c.id == stop_id).values(seq=int(top) + 1 + k))
    visits = {v.stop: v for v in design.timetable[: len(design.stops)]}
    for k, stop in enumerate(design.stops):
        if stop.id is None:
            continue
        leg = design.legs[k - 1] if k > 0 else None
        visit = visits.get(stop.index)
        values = _stop_values(by_id[stop.id], leg, visit)
        _update_changed(conn, _STOP, stop.id, values)
    wkb = None if design.line is None else shapely.to_wkb(design.line, hex=True)
    geom: Any = None if wkb is None else sa.func.ST_GeomFromWKB(sa.func.decode(wkb, "hex"), 4326)
    _update_changed(
        conn,
        _ROUTE,
        route_id,
        {
            "geom": geom,
            "line_source": LineSource.ROADS.value,
            "network_id": design.network_id,
            "drive_min": round(design.drive_min, 3),
            "duration_min": round(design.duration_min, 3),
            "days": design.days,
        },
    )
    design.saved = True


def _stop_values(seq: int, leg: Leg | None, visit: route_order.Visit | None) -> dict[str, Any]:
    line = None if leg is None or leg.line is None else shapely.to_wkb(leg.line, hex=True)
    return {
        "seq": seq,
        "leg_kind": None if leg is None else leg.kind,
        "leg_note": None if leg is None else leg.note,
        "leg_km": None if leg is None else round(leg.km, 4),
        "leg_min": None if leg is None else round(leg.minutes, 3),
        "leg_geom": None
        if line is None
        else sa.func.ST_GeomFromWKB(sa.func.decode(line, "hex"), 4326),
        "day": None if visit is None else visit.day,
        "arrive_at": None if visit is None else _time_of(visit.arrive_min),
        "depart_at": None if visit is None else _time_of(visit.depart_min),
        "wait_min": None if visit is None else round(visit.wait_min, 3),
        "window_problem": None if visit is None else visit.problem,
    }


def _update_changed(
    conn: Connection, table: sa.Table, row_id: int, values: Mapping[str, Any]
) -> None:
    """UPDATE the row only where a value differs (a trigger bumps its version and history)."""
    differs = sa.or_(*(table.c[name].is_distinct_from(value) for name, value in values.items()))
    conn.execute(sa.update(table).where(table.c.id == row_id, differs).values(**values))


# -- unsaved stops: the editor's preview ----------------------------------------------------------
@dataclass
class PreviewRequest:
    """Unsaved stops and the route's settings, as the editor sends them."""

    stops: list[dict[str, Any]]
    mode: str = "car"
    start_time: dt.time = dt.time(8, 0)
    optimise: bool = False
    objective: Objective = "time"
    end: End = "open"
    network: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


_TIME = re.compile(r"^([01]\d|2[0-3]):[0-5]\d(:[0-5]\d)?$")
_STOP_KEYS = {
    "village_id",
    "lon",
    "lat",
    "name",
    "dwell_min",
    "opens",
    "closes",
    "overnight",
    "leg_mode",
    "id",
}
_MAX_NAME = 500


def _time_value(value: Any, where: str) -> dt.time | None:
    if value is None:
        return None
    if not isinstance(value, str) or _TIME.fullmatch(value) is None:
        raise InvalidInput(f"{where} must be a clock time as HH:MM")
    return dt.time.fromisoformat(value)


def _number(value: Any, where: str, *, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidInput(f"{where} must be a finite number")
    if not low <= value <= high:
        raise InvalidInput(f"{where} must lie between {low:g} and {high:g}")
    return float(value)


def parse_preview(body: Any) -> PreviewRequest:
    """A checked `PreviewRequest` from a JSON body; InvalidInput says what is wrong."""
    if not isinstance(body, dict):
        raise InvalidInput("the body must be a JSON object")
    unknown = sorted(
        set(body) - {"stops", "mode", "start_time", "optimise", "objective", "end", "network"}
    )
    if unknown:
        raise InvalidInput(f"unknown members {', '.join(u[:40] for u in unknown[:5])}")
    stops = body.get("stops")
    if not isinstance(stops, list) or not stops:
        raise InvalidInput("stops must be a non-empty list")
    if len(stops) > MAX_STOPS:
        raise InvalidInput(f"at most {MAX_STOPS} stops; got {len(stops)}")
    checked: list[dict[str, Any]] = []
    for k, stop in enumerate(stops, start=1):
        where = f"stop {k}"
        if not isinstance(stop, dict):
            raise InvalidInput(f"{where} must be an object")
        extra = sorted(set(stop) - _STOP_KEYS)
        if extra:
            raise InvalidInput(f"{where}: unknown members {', '.join(e[:40] for e in extra[:5])}")
        village = stop.get("village_id")
        if village is not None and (isinstance(village, bool) or not isinstance(village, int)):
            raise InvalidInput(f"{where}: village_id must be a whole number")
        has_point = stop.get("lon") is not None or stop.get("lat") is not None
        if has_point:
            lon = _number(stop.get("lon"), f"{where}: lon", low=-180, high=180)
            lat = _number(stop.get("lat"), f"{where}: lat", low=-90, high=90)
        elif village is None:
            raise InvalidInput(f"{where} needs a village_id or lon and lat")
        else:
            lon = lat = math.nan
        name = stop.get("name")
        if name is not None and (not isinstance(name, str) or len(name) > _MAX_NAME):
            raise InvalidInput(f"{where}: name must be a text of at most {_MAX_NAME} characters")
        dwell = stop.get("dwell_min", 60)
        dwell = _number(dwell, f"{where}: dwell_min", low=0, high=24 * 60)
        opens = _time_value(stop.get("opens"), f"{where}: opens")
        closes = _time_value(stop.get("closes"), f"{where}: closes")
        if opens is not None and closes is not None and opens >= closes:
            raise InvalidInput(f"{where}: opens must be before closes")
        overnight = stop.get("overnight", False)
        if not isinstance(overnight, bool):
            raise InvalidInput(f"{where}: overnight must be true or false")
        leg_mode = stop.get("leg_mode")
        if leg_mode is not None and leg_mode not in FALLBACK_KMH:
            raise InvalidInput(f"{where}: leg_mode must be one of {', '.join(FALLBACK_KMH)}")
        checked.append(
            {
                "village_id": village,
                "lon": lon,
                "lat": lat,
                "name": name,
                "dwell_min": dwell,
                "opens": opens,
                "closes": closes,
                "overnight": overnight,
                "leg_mode": leg_mode,
            }
        )
    mode = body.get("mode", "car")
    if mode not in FALLBACK_KMH:
        raise InvalidInput(f"mode must be one of {', '.join(FALLBACK_KMH)}")
    start = _time_value(body.get("start_time", "08:00"), "start_time") or dt.time(8, 0)
    options = design_options(body)
    return PreviewRequest(
        checked,
        mode,
        start,
        options["optimise"],
        options["objective"],
        options["end"],
        options["network"],
    )


def design_options(body: Mapping[str, Any]) -> dict[str, Any]:
    """The design options of a request body (optimise, objective, end, network), checked."""
    optimise = body.get("optimise", False)
    if not isinstance(optimise, bool):
        raise InvalidInput("optimise must be true or false")
    objective = body.get("objective", "time")
    if objective not in ("time", "distance"):
        raise InvalidInput("objective must be time or distance")
    end = body.get("end", "open")
    if end not in ("open", "fixed", "return"):
        raise InvalidInput("end must be open, fixed or return")
    network = body.get("network")
    if network is not None and (not isinstance(network, str) or len(network) > 63):
        raise InvalidInput("network must be a road network's name")
    return {"optimise": optimise, "objective": objective, "end": end, "network": network}


def preview_design(conn: Connection, request: PreviewRequest | Mapping[str, Any]) -> RouteDesign:
    """Design unsaved stops (see `PreviewRequest`); nothing is written."""
    if not isinstance(request, PreviewRequest):
        request = parse_preview(dict(request))
    wanted = sorted({s["village_id"] for s in request.stops if s["village_id"] is not None})
    villages: dict[int, Any] = {}
    if wanted:
        villages = {
            int(r.id): r
            for r in conn.execute(
                sa.select(
                    _VILLAGE.c.id,
                    _VILLAGE.c.name,
                    sa.func.ST_X(_VILLAGE.c.geom).label("lon"),
                    sa.func.ST_Y(_VILLAGE.c.geom).label("lat"),
                ).where(_VILLAGE.c.id.in_(wanted))
            )
        }
    missing = [v for v in wanted if v not in villages]
    if missing:
        raise InvalidInput(f"unknown village_id {', '.join(map(str, missing[:10]))}")
    stops: list[DesignStop] = []
    for k, s in enumerate(request.stops):
        village = villages.get(s["village_id"]) if s["village_id"] is not None else None
        lon, lat = s["lon"], s["lat"]
        if math.isnan(lon) and village is not None:
            lon, lat = float(village.lon), float(village.lat)
        stops.append(
            DesignStop(
                index=k,
                lon=lon,
                lat=lat,
                name=s["name"] or (village.name if village is not None else None),
                village_id=s["village_id"],
                dwell_min=s["dwell_min"],
                opens=s["opens"],
                closes=s["closes"],
                overnight=s["overnight"],
                leg_mode=s["leg_mode"],
            )
        )
    return _compute(
        conn,
        stops,
        mode=request.mode,
        start_time=request.start_time,
        optimise=request.optimise,
        objective=request.objective,
        end=request.end,
        network=request.network,
        max_snap_m=MAX_SNAP_M,
    )


# -- documents ----------------------------------------------------------------------------------
def _hhmm(minutes: float) -> str:
    return _time_of(minutes).strftime("%H:%M")


def design_document(design: RouteDesign) -> dict[str, Any]:
    """The design as JSON: stops in order, legs, the timetable, the saving, the fallbacks."""
    order = design.order_after
    legs = [
        {
            "from": k + 1,
            "to": (k + 2) if k + 1 < len(design.stops) else 1,
            "kind": leg.kind,
            "mode": leg.mode,
            "note": leg.note,
            "km": round(leg.km, 3),
            "minutes": round(leg.minutes, 1),
        }
        for k, leg in enumerate(design.legs)
    ]
    rows = []
    for k, visit in enumerate(design.timetable):
        stop = design.stops[k] if k < len(design.stops) else design.stops[0]
        rows.append(
            {
                "seq": k + 1 if k < len(design.stops) else 1,
                "stop_id": stop.id,
                "name": stop.name,
                "village_id": stop.village_id,
                "day": visit.day,
                "arrive": _hhmm(visit.arrive_min),
                "depart": _hhmm(visit.depart_min),
                "wait_min": round(visit.wait_min, 1),
                "drive_min": round(visit.drive_min, 1),
                "dwell_min": stop.dwell_min,
                "opens": None if stop.opens is None else stop.opens.strftime("%H:%M"),
                "closes": None if stop.closes is None else stop.closes.strftime("%H:%M"),
                "overnight": stop.overnight,
                "problem": visit.problem,
                "leg_kind": legs[k - 1]["kind"] if 0 < k <= len(legs) else None,
            }
        )
    return {
        "route_id": design.route_id,
        "code": design.route_code,
        "name": design.route_name,
        "mode": design.mode,
        "start_time": design.start_time.strftime("%H:%M"),
        "network": design.network,
        "objective": design.objective,
        "end": design.end,
        "method": design.method,
        "optimal": design.optimal,
        "order_before": [i + 1 for i in design.order_before],
        "order_after": [i + 1 for i in order],
        "saving": round(design.saving, 2),
        "saving_unit": design.saving_unit,
        "km": round(design.km, 3),
        "drive_min": round(design.drive_min, 1),
        "duration_min": round(design.duration_min, 1),
        "days": design.days,
        "legs": legs,
        "timetable": rows,
        "unreachable": [
            {"seq": order.index(u.index) + 1, "stop_id": u.id, "name": u.name, "problem": u.problem}
            for u in design.unreachable
            if u.index in order
        ],
        "fallbacks": [{"leg": f.leg + 1, "kind": f.kind, "note": f.note} for f in design.fallbacks],
        "saved": design.saved,
    }


def design_geojson(design: RouteDesign) -> dict[str, Any]:
    """The legs (LineStrings) and the stops (Points) as a GeoJSON FeatureCollection."""
    document = design_document(design)
    features: list[dict[str, Any]] = []
    for leg, props in zip(design.legs, document["legs"], strict=True):
        features.append(
            {
                "type": "Feature",
                "geometry": None if leg.line is None else shapely.geometry.mapping(leg.line),
                "properties": {"feature": "leg", **props},
            }
        )
    for k, stop in enumerate(design.stops):
        row = document["timetable"][k] if k < len(document["timetable"]) else {}
        features.append(
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [stop.lon, stop.lat]},
                "properties": {"feature": "stop", **row, "seq": k + 1, "index": stop.index + 1},
            }
        )
    return {"type": "FeatureCollection", "features": features}


# -- reading a saved design back ---------------------------------------------------------------
def _minutes_of(value: dt.time | None, day: int | None) -> float:
    return (_clock_min(value) or 0.0) if value is not None else 0.0


def saved_design(conn: Connection, route: int | str) -> RouteDesign:
    """The design saved on a route and its stops, read back from their columns.

    A route never designed reads back with its stops, no legs and ``method="none"``.
    """
    row = conn.execute(
        sa.select(_ROUTE).where(
            _ROUTE.c.code == str(route)
            if isinstance(route, str) and not route.isdigit()
            else _ROUTE.c.id == int(route)
        )
    ).first()
    if row is None:
        raise NotFound(f"no tourism route {str(route)[:64]!r}")
    stops = _saved_stops(conn, row.id)
    extra = conn.execute(
        sa.select(
            _STOP.c.leg_kind,
            _STOP.c.leg_note,
            _STOP.c.leg_km,
            _STOP.c.leg_min,
            sa.func.ST_AsBinary(_STOP.c.leg_geom).label("wkb"),
            _STOP.c.day,
            _STOP.c.arrive_at,
            _STOP.c.depart_at,
            _STOP.c.wait_min,
            _STOP.c.window_problem,
        )
        .where(_STOP.c.route_id == row.id)
        .order_by(_STOP.c.seq)
    ).all()
    designed = str(row.line_source) == LineSource.ROADS.value
    network = None
    if row.network_id is not None:
        network = conn.execute(
            sa.select(_NETWORK.c.name).where(_NETWORK.c.id == row.network_id)
        ).scalar()
    legs: list[Leg] = []
    visits: list[route_order.Visit] = []
    for k, (stop, x) in enumerate(zip(stops, extra, strict=True)):
        if k > 0 and designed:
            line = None if x.wkb is None else shapely.from_wkb(bytes(x.wkb))
            legs.append(
                Leg(
                    str(x.leg_kind or LegKind.GEODESIC.value),
                    x.leg_note,
                    float(x.leg_km or 0.0),
                    float(x.leg_min or 0.0),
                    line if isinstance(line, shapely.LineString) else None,
                    network,
                    stop.leg_mode or str(row.mode),
                )
            )
        if designed and x.arrive_at is not None:
            arrive = _minutes_of(x.arrive_at, x.day)
            depart = _minutes_of(x.depart_at, x.day)
            if depart < arrive:
                depart += 1440.0  # the visit runs past midnight
            visits.append(
                route_order.Visit(
                    stop=k,
                    day=int(x.day or 1),
                    arrive_min=arrive,
                    depart_min=depart,
                    wait_min=float(x.wait_min or 0.0),
                    drive_min=float(x.leg_min or 0.0) if k > 0 else 0.0,
                    problem=x.window_problem,
                )
            )
    n = len(stops)
    return RouteDesign(
        mode=str(row.mode),
        start_time=row.start_time,
        stops=stops,
        legs=legs,
        timetable=visits,
        order_before=list(range(n)),
        order_after=list(range(n)),
        method="saved" if designed else "none",
        optimal=False,
        objective="time",
        end="open",
        saving=0.0,
        saving_unit="min",
        unreachable=[
            Unreachable(v.stop, stops[v.stop].id, stops[v.stop].name, v.problem)
            for v in visits
            if v.problem is not None
        ],
        fallbacks=[
            Fallback(k, k, k + 1, leg.kind, leg.note or "")
            for k, leg in enumerate(legs)
            if leg.kind != LegKind.ROAD
        ],
        drive_min=float(row.drive_min or 0.0),
        duration_min=float(row.duration_min or 0.0),
        days=int(row.days or 1),
        km=float(sum(leg.km for leg in legs)),
        network=network,
        network_id=row.network_id,
        route_id=row.id,
        route_code=row.code,
        route_name=row.name,
        saved=designed,
        line=None,
    )


def design_table(design: RouteDesign) -> str:
    """The timetable and the saving as plain text (the CLI's table)."""
    document = design_document(design)
    lines = [
        f"route {document['code'] or '(preview)'}: {document['name'] or ''}".rstrip(),
        f"mode {document['mode']}, start {document['start_time']}, network "
        f"{document['network'] or 'none'}, method {document['method']}",
        f"{'#':>3}  {'day':>3}  {'arrive':>6}  {'leave':>6}  {'drive':>7}  {'wait':>5}  "
        f"{'km':>7}  {'leg':<8}  stop",
    ]
    for k, row in enumerate(document["timetable"]):
        leg = document["legs"][k - 1] if 0 < k <= len(document["legs"]) else None
        lines.append(
            f"{row['seq']:>3}  {row['day']:>3}  {row['arrive']:>6}  {row['depart']:>6}  "
            f"{(leg['minutes'] if leg else 0):>7.1f}  {row['wait_min']:>5.0f}  "
            f"{(leg['km'] if leg else 0):>7.2f}  {(leg['kind'] if leg else ''):<8}  "
            f"{row['name'] or ''}" + (f"  !! {row['problem']}" if row["problem"] else "")
        )
    for fallback in document["fallbacks"]:
        lines.append(f"leg {fallback['leg']}: {fallback['kind']}: {fallback['note']}")
    lines.append(
        f"total {document['km']:.2f} km, driving {document['drive_min']:.0f} min, "
        f"{document['duration_min']:.0f} min over {document['days']} day(s); saving "
        f"{document['saving']:g} {document['saving_unit']} against the order given"
    )
    return "\n".join(lines)


# -- keeping designs current (geo.store.hooks calls these on writes) ----------------------------
def refresh_legs(
    conn: Connection, route_id: int, stop_ids: set[int], *, max_snap_m: float = MAX_SNAP_M
) -> None:
    """Recompute the legs reaching ``stop_ids`` of a 'roads' route, then its timetable,
    totals and line from every stop's stored leg (the other legs are not touched)."""
    route = conn.execute(sa.select(_ROUTE).where(_ROUTE.c.id == route_id)).first()
    if route is None:
        return
    stops = _saved_stops(conn, route_id)
    if not stops:
        _update_changed(
            conn,
            _ROUTE,
            route_id,
            {"geom": None, "drive_min": None, "duration_min": None, "days": None},
        )
        return
    place = {s.id: k for k, s in enumerate(stops)}
    wanted = sorted(place[i] - 1 for i in stop_ids if i in place and place[i] > 0)
    network = _route_network(conn, route)
    points = [(s.lon, s.lat) for s in stops]
    if wanted:
        legs = leg_paths(
            conn,
            points,
            mode=str(route.mode),
            network=network,
            leg_modes=[s.leg_mode for s in stops],
            max_snap_m=max_snap_m,
            only=wanted,
        )
        for k, leg in zip(wanted, legs, strict=True):
            values = _stop_values(k + 2, leg, None)
            for name in ("seq", "day", "arrive_at", "depart_at", "wait_min", "window_problem"):
                values.pop(name)
            _update_changed(conn, _STOP, int(stops[k + 1].id or 0), values)
    # The first stop is reached by no leg.
    first = _stop_values(1, None, None)
    for name in ("seq", "day", "arrive_at", "depart_at", "wait_min", "window_problem"):
        first.pop(name)
    _update_changed(conn, _STOP, int(stops[0].id or 0), first)
    _retime(conn, route, stops)


def _retime(conn: Connection, route: sa.Row[Any], stops: list[DesignStop]) -> None:
    """The timetable, totals and line of a route from its stops' stored legs."""
    rows = conn.execute(
        sa.select(
            _STOP.c.id,
            _STOP.c.leg_min,
            _STOP.c.leg_km,
            _STOP.c.leg_kind,
            sa.func.ST_AsBinary(_STOP.c.leg_geom).label("wkb"),
        )
        .where(_STOP.c.route_id == route.id)
        .order_by(_STOP.c.seq)
    ).all()
    n = len(stops)
    drive = np.full((n, n), np.inf)
    coords: list[tuple[float, float]] = []
    network_used = False
    for k in range(1, n):
        row = rows[k]
        if row.leg_min is not None:
            drive[k - 1, k] = float(row.leg_min)
        if row.wkb is not None:
            coords.extend(
                map(tuple, shapely.get_coordinates(shapely.from_wkb(bytes(row.wkb))).tolist())
            )
        network_used = network_used or str(row.leg_kind) == LegKind.ROAD
    start_min = _clock_min(route.start_time) or 0.0
    visits = route_order.timetable(list(range(n)), drive, _specs(stops), start_min=start_min)
    for k, (stop, visit) in enumerate(zip(stops, visits, strict=True)):
        values = _stop_values(k + 1, None, visit)
        values = {
            key: values[key]
            for key in ("day", "arrive_at", "depart_at", "wait_min", "window_problem")
        }
        _update_changed(conn, _STOP, int(stop.id or 0), values)
    last = visits[-1]
    duration = last.depart_min + (last.day - 1) * 1440.0 - start_min
    line = _line(coords)
    wkb = None if line is None else shapely.to_wkb(line, hex=True)
    _update_changed(
        conn,
        _ROUTE,
        route.id,
        {
            "geom": None
            if wkb is None
            else sa.func.ST_GeomFromWKB(sa.func.decode(wkb, "hex"), 4326),
            "drive_min": round(float(sum(float(r.leg_min or 0.0) for r in rows[1:])), 3),
            "duration_min": round(duration, 3),
            "days": int(last.day),
        },
    )


def redesign_network_routes(conn: Connection, network: str, *, actor: str) -> list[int]:
    """Redesign every 'roads' route on ``network`` (or on no network any more: its network
    was rebuilt, or it was designed before any was loaded), in its stops' order.

    Returns the ids of the routes redesigned.
    """
    network_id = conn.execute(sa.select(_NETWORK.c.id).where(_NETWORK.c.name == network)).scalar()
    if network_id is None:
        raise NotFound(f"no road network {network[:63]!r}")
    set_actor(conn, actor)
    ids = (
        conn.execute(
            sa.select(_ROUTE.c.id)
            .where(
                _ROUTE.c.line_source == LineSource.ROADS.value,
                sa.or_(_ROUTE.c.network_id.is_(None), _ROUTE.c.network_id == network_id),
            )
            .order_by(_ROUTE.c.id)
        )
        .scalars()
        .all()
    )
    for route_id in ids:
        design_route(conn, int(route_id), actor=actor, network=network)
    return [int(i) for i in ids]


class _Designer:
    """The steps geo.store.hooks runs on writes to a route that follows the roads."""

    def design(self, conn: Connection, route_id: int) -> None:
        route = conn.execute(sa.select(_ROUTE).where(_ROUTE.c.id == route_id)).one()
        design = _compute(
            conn,
            _saved_stops(conn, route_id),
            mode=str(route.mode),
            start_time=route.start_time,
            optimise=False,
            objective="time",
            end="open",
            network=_route_network(conn, route),
            max_snap_m=MAX_SNAP_M,
        )
        save_design(conn, route_id, design)

    def refresh(self, conn: Connection, route_id: int, stop_ids: set[int]) -> None:
        refresh_legs(conn, route_id, stop_ids)


register_route_designer(_Designer())
