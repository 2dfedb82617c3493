"""A small road network whose paths, lengths and driving times are known by hand.

In a corner of the country with no demo data (Cà Mau, around 105° E 9° N), offsets in
degrees from (105.0, 9.0)::

      N0 (0,.06) ──── N1 (.1,.06) ──── N2 (.2,.06)       north bank (tertiary)
                        ┆ footbridge      │ bridge        (path: walking and bicycles only)
      ~~~~~~~~~~~~~~~~~~┆~~~ river ~~~~~~~│~~~~~~~~~
      S0 (0,.04) ───▶── S1 (.1,.04) ──── S2 (.2,.04)       south bank; S0 → S1 is one-way
      │                 │
      D0 (0,0) ──────── D1 (.1,0)                          the detour back from S1 to S0

    I0 (.5,0) ── I1 (.52,0)                                an island: roads of its own

Every road is tertiary (car 40, motorbike 35, bicycle 15, walking 5 km/h; see
geo/io/network.py SPEEDS), the footbridge a path (car and motorbike 0, bicycle 10,
walking 4 km/h). By car S0 → N0 crosses the bridge: S0 S1 S2 N2 N1 N0; N0 → S0 crosses it
back, then the one-way forces the detour S1 D1 D0 S0. On foot S0 → N0 takes the
footbridge: S0 S1 N1 N0. A stop on the island is not connected to the others.

Lengths are those of straight edges on the WGS 84 spheroid (``edge_m``), a degree of
longitude here being about 110.0 km and of latitude about 110.6 km.
"""

from __future__ import annotations

import itertools

import shapely
from sqlalchemy.engine import Connection

from geo.io import network
from geo.kernel.vocab import RoadClass
from geo.store.db import set_actor
from geo.workflows.route_design import geodesic_m

LON = 105.0
LAT = 9.0
NAME = "test-legs"
OFFSETS: dict[str, tuple[float, float]] = {
    "N0": (0.0, 0.06),
    "N1": (0.1, 0.06),
    "N2": (0.2, 0.06),
    "S0": (0.0, 0.04),
    "S1": (0.1, 0.04),
    "S2": (0.2, 0.04),
    "D0": (0.0, 0.0),
    "D1": (0.1, 0.0),
    "I0": (0.5, 0.0),
    "I1": (0.52, 0.0),
}
# km/h by mode on the two classes used here (geo/io/network.py SPEEDS).
TERTIARY = {"car": 40.0, "motorbike": 35.0, "bicycle": 15.0, "walking": 5.0}
PATH = {"car": 0.0, "motorbike": 0.0, "bicycle": 10.0, "walking": 4.0}
FOOTBRIDGE = ("S1", "N1")


def at(name: str, dlon: float = 0.0, dlat: float = 0.0) -> tuple[float, float]:
    """The lon/lat of a named vertex (moved by ``dlon``/``dlat`` degrees)."""
    x, y = OFFSETS[name]
    return (LON + x + dlon, LAT + y + dlat)


def edge_m(a: str, b: str) -> float:
    """The length in metres of the straight edge between two named vertices."""
    return geodesic_m(at(a), at(b))


def path_m(*names: str) -> float:
    """The length of a path through named vertices."""
    return sum(edge_m(a, b) for a, b in itertools.pairwise(names))


def path_min(*names: str, mode: str = "car") -> float:
    """The driving minutes along a path of named vertices by ``mode``."""
    total = 0.0
    for a, b in itertools.pairwise(names):
        kmh = PATH[mode] if {a, b} == set(FOOTBRIDGE) else TERTIARY[mode]
        total += edge_m(a, b) / 1000.0 / kmh * 60.0
    return total


def _edge(a: str, b: str, road_class: RoadClass = RoadClass.TERTIARY, **kw: object) -> network.Edge:
    return network.Edge(geom=shapely.LineString([at(a), at(b)]), road_class=road_class, **kw)  # type: ignore[arg-type]


def build(conn: Connection, name: str = NAME) -> str:
    """Build the network on ``conn`` (the caller's transaction); its name."""
    edges = [
        _edge("N0", "N1"),
        _edge("N1", "N2"),
        # Drawn N2 → S2 and S1 → S2 … in mixed directions, so paths traverse some edges
        # against their drawing (the leg's line must still run the way it is travelled).
        _edge("S2", "N2"),
        _edge("S0", "S1", oneway=True),
        _edge("S2", "S1"),
        _edge("S1", "D1"),
        _edge("D0", "D1"),
        _edge("D0", "S0"),
        _edge("S1", "N1", RoadClass.PATH),
        _edge("I0", "I1"),
    ]
    set_actor(conn, "test")
    network.build_network(
        conn,
        edges,
        name=name,
        source="test",
        source_hash=None,
        approximate=False,
        actor="test",
        replace=True,
    )
    return name
