"""Villages on the way: the villages near a route, the detour each would add, and insertion.

Steps (`corridor`):

1. **Corridor**: the villages within ``km`` of the route's line, geodesic on the spheroid
   (``ST_DWithin`` on geography after a bounding-box test on the villages' GiST index,
   the box widened by ``km`` in degrees at the route's farthest latitude), that are not
   already stops of the route, filtered by craft group, tourism link, OCOP stars or
   products and status.
2. **Detour**: one travel matrix over the stops and all candidates (road seconds along
   the network, geodesic where a pair cannot be routed, each pair labelled). A
   candidate v placed after stop i adds ``t(i, v) + t(v, i+1) - t(i, i+1)`` of driving
   (after the last stop: ``t(n, v)``); its best position is the least of these. The
   dwell time it would add is reported beside the drive, not in it, so a planner sees
   both; results are sorted by the drive detour.

`insert_stop` puts one village in at its best position (or a given one) as a new stop,
through the generic write path (history, actor), renumbering the stops after it, then
redraws the legs in the stops' order (no reordering), so only the two legs around the
new stop change.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from geo.kernel.crs import CRS84
from geo.kernel.errors import Conflict, InvalidInput, NotFound
from geo.kernel.vocab import CraftGroup, TravelMode, VillageStatus
from geo.store import catalog, writes
from geo.workflows.route_design import TravelMatrix, travel_matrix

KM_MAX = 50.0
# A new stop's dwell when none is given: route_stop.dwell_min's server default.
DEFAULT_DWELL_MIN = 60


@dataclass(frozen=True)
class CorridorRequest:
    """Which villages to look for around a route, and how to travel to them."""

    route_id: int
    km: float = 5.0
    craft_group: str | None = None
    tourism: bool | None = None
    ocop_min_stars: int | None = None
    ocop_products: bool | None = None
    status: str | None = None
    mode: str | None = None
    dwell_min: int = DEFAULT_DWELL_MIN


@dataclass(frozen=True)
class Candidate:
    """A village near the route, with the detour it would add at its best position."""

    village_id: int
    code: str
    name: str
    craft_group: str
    tourism_linked: bool | None
    ocop_stars: int | None
    ocop_products: int | None
    status: str
    lon: float
    lat: float
    distance_km: float
    best_after_seq: int
    detour_min: float  # extra driving at the best position
    dwell_min: int  # the time spent there, not in detour_min
    kind: str  # "road": the three legs all follow roads; else "geodesic"
    note: str | None  # why a leg is not a road leg
    at_end: bool = False  # the best place is after the last stop

    @property
    def total_min(self) -> float:
        """Driving detour plus the dwell: how much longer the day becomes."""
        return self.detour_min + self.dwell_min

    def to_dict(self) -> dict[str, Any]:
        return {
            "village_id": self.village_id,
            "code": self.code,
            "name": self.name,
            "craft_group": self.craft_group,
            "tourism_linked": self.tourism_linked,
            "ocop_stars": self.ocop_stars,
            "ocop_products": self.ocop_products,
            "status": self.status,
            "distance_km": round(self.distance_km, 3),
            "best_after_seq": self.best_after_seq,
            "at_end": self.at_end,
            "detour_min": round(self.detour_min, 1),
            "dwell_min": self.dwell_min,
            "total_min": round(self.total_min, 1),
            "detour_kind": self.kind,
            "detour_note": self.note,
        }


@dataclass(frozen=True)
class Corridor:
    """The candidates by drive detour, and what they were measured on."""

    route_id: int
    route_code: str
    route_name: str
    km: float
    mode: str
    network: str | None
    stops: int
    candidates: list[Candidate] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "route_id": self.route_id,
            "route_code": self.route_code,
            "route_name": self.route_name,
            "km": self.km,
            "mode": self.mode,
            "network": self.network,
            "stops": self.stops,
            "dwell_counted": False,
            "candidates": [c.to_dict() for c in self.candidates],
        }

    def to_geojson(self) -> dict[str, Any]:
        return {
            "type": "FeatureCollection",
            "features": [
                {
                    "type": "Feature",
                    "id": c.village_id,
                    "geometry": {"type": "Point", "coordinates": [c.lon, c.lat]},
                    "properties": c.to_dict(),
                }
                for c in self.candidates
            ],
        }


# -- reading --------------------------------------------------------------------------------
_ROUTE = sa.text(
    """
    SELECT id, code, name, mode, network_id, line_source, geom IS NOT NULL AS has_line
    FROM tourism_route WHERE id = :route_id
    """
)
_STOPS = sa.text(
    """
    SELECT id, seq, village_id, ST_X(geom) AS lon, ST_Y(geom) AS lat
    FROM route_stop WHERE route_id = :route_id ORDER BY seq
    """
)
# The bounding-box test (&&) lets the villages' GiST index pick the few near the line;
# ST_DWithin on geography then measures on the spheroid. The box is widened by the
# corridor in degrees of longitude at the line's farthest latitude (the widest a degree
# gets narrow) and in degrees of latitude at their shortest (110 574 m).
_CORRIDOR = sa.text(
    """
    WITH r AS (
        SELECT geom,
               :m / (111320.0 * cos(radians(greatest(abs(ST_YMin(geom)), abs(ST_YMax(geom))))))
                   AS dx,
               :m / 110574.0 AS dy
        FROM tourism_route WHERE id = :route_id
    )
    SELECT v.id, v.code, v.name, v.craft_group, v.tourism_linked, v.ocop_stars,
           v.ocop_products, v.status, ST_X(v.geom) AS lon, ST_Y(v.geom) AS lat,
           ST_Distance(v.geom::geography, r.geom::geography) AS m
    FROM craft_village v JOIN r ON v.geom && ST_Expand(r.geom, r.dx, r.dy)
    WHERE ST_DWithin(v.geom::geography, r.geom::geography, :m)
      AND NOT EXISTS (
          SELECT 1 FROM route_stop s WHERE s.route_id = :route_id AND s.village_id = v.id)
      AND (CAST(:craft_group AS text) IS NULL OR v.craft_group = :craft_group)
      AND (CAST(:tourism AS boolean) IS NULL
           OR coalesce(v.tourism_linked, false) = CAST(:tourism AS boolean))
      AND (CAST(:ocop_min_stars AS integer) IS NULL
           OR v.ocop_stars >= CAST(:ocop_min_stars AS integer))
      AND (CAST(:ocop_products AS boolean) IS NULL
           OR (coalesce(v.ocop_products, 0) > 0 OR v.ocop_stars IS NOT NULL)
              = CAST(:ocop_products AS boolean))
      AND (CAST(:status AS text) IS NULL OR v.status = :status)
    ORDER BY v.id
    """
)


def corridor_sql() -> sa.TextClause:
    """The corridor statement (its plan is checked in the tests: the GiST index is used)."""
    return _CORRIDOR


@dataclass(frozen=True)
class _Route:
    id: int
    code: str
    name: str
    mode: str
    network_id: int | None
    line_source: str
    has_line: bool


def route_id_of(conn: Connection, key: str) -> int:
    """A route's id from its id or its code (as the command line names it); NotFound if none."""
    found = conn.execute(
        sa.text(
            "SELECT id FROM tourism_route WHERE code = :key "
            "OR (:key ~ '^[0-9]{1,9}$' AND id = CAST(:key AS integer)) ORDER BY code = :key DESC"
        ),
        {"key": key},
    ).scalar()
    if found is None:
        raise NotFound(f"route {key[:32]!r} does not exist")
    return int(found)


def _route(conn: Connection, route_id: int) -> _Route:
    row = conn.execute(_ROUTE, {"route_id": route_id}).one_or_none()
    if row is None:
        raise NotFound(f"route {route_id} does not exist")
    return _Route(
        row.id,
        row.code,
        row.name,
        row.mode,
        row.network_id,
        str(row.line_source),
        bool(row.has_line),
    )


def _check_request(request: CorridorRequest) -> None:
    if not (0 < request.km <= KM_MAX) or math.isnan(request.km):
        raise InvalidInput(f"km must be above 0 and at most {KM_MAX:g}")
    if request.craft_group is not None and request.craft_group not in set(CraftGroup):
        raise InvalidInput(
            f"unknown craft group {request.craft_group[:20]!r} "
            f"(one of {', '.join(g.value for g in CraftGroup)})"
        )
    if request.status is not None and request.status not in set(VillageStatus):
        raise InvalidInput(
            f"unknown status {request.status[:20]!r} "
            f"(one of {', '.join(s.value for s in VillageStatus)})"
        )
    if request.mode is not None and request.mode not in set(TravelMode):
        raise InvalidInput(
            f"unknown mode {request.mode[:20]!r} (one of {', '.join(m.value for m in TravelMode)})"
        )
    if request.ocop_min_stars is not None and not 3 <= request.ocop_min_stars <= 5:
        raise InvalidInput("ocop_min_stars must be 3, 4 or 5")
    if request.dwell_min < 0:
        raise InvalidInput("dwell_min must be 0 or more")


# -- the detour -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Detour:
    """The best place for one point among the stops: after ``after_seq``, adding ``minutes``."""

    after_seq: int
    minutes: float
    kind: str
    note: str | None


def best_detour(
    seconds: np.ndarray,
    kinds: Sequence[Sequence[str]],
    stops: int,
    v: int,
    notes: Any = None,
) -> Detour:
    """Where point ``v`` of the matrix adds the least driving among the first ``stops`` points.

    Points 0…stops-1 are the stops in order; ``notes`` (n×n, optional) say why a pair is
    not a road pair. After stop i (1-based) the detour is
    t(i, v) + t(v, i+1) - t(i, i+1); after the last stop it is t(n, v). Ties go to
    the earlier position.

    >>> t = np.array([[0, 10, 20, 6], [10, 0, 10, 6], [20, 10, 0, 30], [6, 6, 30, 0]]) * 60.0
    >>> k = [["road"] * 4] * 4
    >>> best_detour(t, k, 3, 3)
    Detour(after_seq=1, minutes=2.0, kind='road', note=None)
    """
    best: tuple[float, int, list[tuple[int, int]]] | None = None
    for i in range(stops):
        if i + 1 < stops:
            extra = seconds[i, v] + seconds[v, i + 1] - seconds[i, i + 1]
            pairs = [(i, v), (v, i + 1)]
        else:
            extra = seconds[i, v]
            pairs = [(i, v)]
        if best is None or extra < best[0] - 1e-9:
            best = (float(extra), i + 1, pairs)
    if best is None:
        raise InvalidInput("the route has no stops: add a stop before looking for detours")
    extra, after, pairs = best
    fallback = [p for p in pairs if kinds[p[0]][p[1]] != "road"]
    if after < stops and kinds[after - 1][after] != "road":
        fallback.append((after - 1, after))
    note = None
    if fallback:
        # Each fallback pair in words: the matrix's note (why it is not a road) if any.
        note = "; ".join(
            f"{_leg_name(a, b, stops)}: "
            + _renamed((None if notes is None else notes[a][b]) or kinds[a][b], stops)
            for a, b in fallback
        )
    return Detour(after, extra / 60.0, "geodesic" if fallback else "road", note)


def _renamed(note: str, stops: int) -> str:
    """A matrix note with its point numbers as the corridor names them (the candidate
    points come after the stops, so "stop 5" of three stops is "the village")."""

    def name(number: str) -> str:
        return f"stop {number}" if int(number) <= stops else "the village"

    note = re.sub(r"\bstops (\d+) and (\d+)", lambda m: f"{name(m[1])} and {name(m[2])}", note)
    return re.sub(r"\bstop (\d+)", lambda m: name(m[1]), note)


def _leg_name(a: int, b: int, stops: int) -> str:
    def name(i: int) -> str:
        return f"stop {i + 1}" if i < stops else "the village"

    return f"{name(a)} → {name(b)}"


# -- the corridor ----------------------------------------------------------------------------


def corridor(conn: Connection, request: CorridorRequest) -> Corridor:
    """The villages within ``request.km`` of the route's line, by the detour they would add."""
    _check_request(request)
    route = _route(conn, request.route_id)
    if not route.has_line:
        raise InvalidInput(f"route {route.code} has no line yet: add stops or draw its line")
    stops = conn.execute(_STOPS, {"route_id": route.id}).all()
    if not stops:
        raise InvalidInput(f"route {route.code} has no stops: a detour is measured between stops")
    rows = conn.execute(
        _CORRIDOR,
        {
            "route_id": route.id,
            "m": request.km * 1000.0,
            "craft_group": request.craft_group,
            "tourism": request.tourism,
            "ocop_min_stars": request.ocop_min_stars,
            "ocop_products": request.ocop_products,
            "status": request.status,
        },
    ).all()
    mode = request.mode or route.mode
    network = _network_name(conn, route)
    result = Corridor(route.id, route.code, route.name, request.km, mode, network, len(stops))
    if not rows:
        return result
    points = [(float(s.lon), float(s.lat)) for s in stops] + [
        (float(r.lon), float(r.lat)) for r in rows
    ]
    # One matrix over stops and candidates: every pair the detours need, in one call.
    matrix = travel_matrix(conn, points, mode=mode, network=network)
    kinds = _kinds(matrix, len(points))
    for n, row in enumerate(rows):
        detour = best_detour(matrix.seconds, kinds, len(stops), len(stops) + n, matrix.notes)
        result.candidates.append(
            Candidate(
                village_id=row.id,
                code=row.code,
                name=row.name,
                craft_group=str(row.craft_group),
                tourism_linked=row.tourism_linked,
                ocop_stars=row.ocop_stars,
                ocop_products=row.ocop_products,
                status=str(row.status),
                lon=float(row.lon),
                lat=float(row.lat),
                distance_km=float(row.m) / 1000.0,
                best_after_seq=int(stops[detour.after_seq - 1].seq),
                detour_min=detour.minutes,
                dwell_min=request.dwell_min,
                kind=detour.kind,
                note=detour.note,
                at_end=detour.after_seq == len(stops),
            )
        )
    result.candidates.sort(key=lambda c: (round(c.detour_min, 6), c.distance_km, c.village_id))
    return result


def _kinds(matrix: TravelMatrix, n: int) -> list[list[str]]:
    return [[str(matrix.kind[a][b]) for b in range(n)] for a in range(n)]


def _network_name(conn: Connection, route: _Route) -> str | None:
    """The route's network, else the latest built; None: geodesic only."""
    if route.network_id is not None:
        name = conn.execute(
            sa.text("SELECT name FROM road_network WHERE id = :id"), {"id": route.network_id}
        ).scalar()
        if name is not None:
            return str(name)
    latest = conn.execute(
        sa.text("SELECT name FROM road_network WHERE edges > 0 ORDER BY built_at DESC, id DESC")
    ).scalar()
    return None if latest is None else str(latest)


# -- insertion -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Inserted:
    """The new stop and the route's timetable after it."""

    stop_id: int
    seq: int
    village_id: int
    detour_min: float | None  # None when the position was given
    timetable: list[dict[str, Any]]

    def to_dict(self) -> dict[str, Any]:
        return {
            "stop_id": self.stop_id,
            "seq": self.seq,
            "village_id": self.village_id,
            "detour_min": None if self.detour_min is None else round(self.detour_min, 1),
            "timetable": self.timetable,
        }


_VILLAGE = sa.text(
    "SELECT id, code, name, ST_X(geom) AS lon, ST_Y(geom) AS lat FROM craft_village "
    "WHERE id = :id OR (CAST(:code AS text) IS NOT NULL AND code = :code)"
)
_TIMETABLE = sa.text(
    """
    SELECT s.id, s.seq, s.village_id, coalesce(s.name, v.name) AS name, s.dwell_min,
           s.leg_kind, s.leg_note, s.leg_km, s.leg_min, s.day, s.arrive_at, s.depart_at,
           s.wait_min, s.window_problem
    FROM route_stop s LEFT JOIN craft_village v ON v.id = s.village_id
    WHERE s.route_id = :route_id ORDER BY s.seq
    """
)


def find_village(conn: Connection, key: int | str) -> tuple[int, str, str, float, float]:
    """A village by id or code: (id, code, name, lon, lat); NotFound otherwise."""
    village_id = key if isinstance(key, int) else -1
    code = key if isinstance(key, str) else None
    row = conn.execute(_VILLAGE, {"id": village_id, "code": code}).first()
    if row is None:
        raise NotFound(f"village {str(key)[:32]!r} does not exist")
    return int(row.id), str(row.code), str(row.name), float(row.lon), float(row.lat)


def insert_stop(
    conn: Connection,
    route_id: int,
    village: int | str,
    *,
    actor: str,
    dwell_min: int | None = None,
    position: int | None = None,
    mode: str | None = None,
) -> Inserted:
    """Insert ``village`` (id or code) as a stop of ``route_id``, at its best position.

    ``position`` is the new stop's seq (1 … stops+1); without it the stop goes after the
    stop where it adds the least driving. The stops after it move up by one; everything
    is written through `geo.store.writes` (history with ``actor``). A designed route's
    legs and timetable are then recomputed in the stops' order.

    Raises
    ------
    NotFound
        No such route or village.
    Conflict
        The village is a stop of the route already.
    InvalidInput
        A position outside 1 … stops+1, a negative dwell, a bad mode.
    """
    route = _route(conn, route_id)
    village_id, _code, name, lon, lat = find_village(conn, village)
    stops = conn.execute(_STOPS, {"route_id": route.id}).all()
    if any(s.village_id == village_id for s in stops):
        raise Conflict(f"village {_code} is a stop of route {route.code} already")
    if dwell_min is not None and dwell_min < 0:
        raise InvalidInput("dwell_min must be 0 or more")
    if mode is not None and mode not in set(TravelMode):
        raise InvalidInput(f"unknown mode {mode[:20]!r}")
    detour: Detour | None = None
    if position is None:
        if stops:
            points = [(float(s.lon), float(s.lat)) for s in stops] + [(lon, lat)]
            matrix = travel_matrix(
                conn, points, mode=mode or route.mode, network=_network_name(conn, route)
            )
            detour = best_detour(
                matrix.seconds, _kinds(matrix, len(points)), len(stops), len(stops), matrix.notes
            )
            position = detour.after_seq + 1
        else:
            position = 1
    elif not 1 <= position <= len(stops) + 1:
        raise InvalidInput(f"position must be between 1 and {len(stops) + 1}")
    options = writes.WriteOptions(actor=actor, content_crs=CRS84)
    # Make room from the last stop down, so (route_id, seq) stays unique at every step.
    for stop in sorted(stops, key=lambda s: -int(s.seq)):
        if stop.seq >= position:
            writes.patch(
                conn,
                catalog.ROUTE_STOPS,
                int(stop.id),
                {"properties": {"seq": int(stop.seq) + 1}},
                options,
            )
    properties: dict[str, Any] = {
        "route_id": route.id,
        "seq": position,
        "village_id": village_id,
        "name": name,
    }
    if dwell_min is not None:
        properties["dwell_min"] = dwell_min
    written = writes.create(
        conn,
        catalog.ROUTE_STOPS,
        {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [lon, lat]},
            "properties": properties,
        },
        options,
    )
    # On a route that follows the roads, the stop hooks (geo.store.hooks, with the designer
    # registered by geo.workflows.route_design) recompute the legs into and out of each
    # stop written, then the timetable and the line: no reordering, other legs untouched.
    return Inserted(
        stop_id=written.id,
        seq=position,
        village_id=village_id,
        detour_min=None if detour is None else detour.minutes,
        timetable=timetable(conn, route.id),
    )


def timetable(conn: Connection, route_id: int) -> list[dict[str, Any]]:
    """The route's stops in order with their legs and times, as JSON-ready rows."""
    rows = conn.execute(_TIMETABLE, {"route_id": route_id}).mappings().all()
    return [{k: _json_value(v) for k, v in row.items()} for row in rows]


def _json_value(value: Any) -> Any:
    if isinstance(value, dt.time):
        return value.strftime("%H:%M:%S")
    if isinstance(value, float):
        return round(value, 3)
    return value
