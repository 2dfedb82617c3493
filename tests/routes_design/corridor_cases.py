"""A small road network where the village nearest the line is not the cheapest to visit.

Offsets in degrees from (105.30, 19.70), in Thanh Hóa away from the demo villages::

            M (.045, .011)                     spur G–M north of the main road
            |
    A ----- B ------ G ----- C                 main road at y = 0, stops S1 = A (0),
    S1      S2      (.045)   S3 (.06)          S2 = B (.03), S3 = C (.06)
                             |
    ~~~~~~~~ river ~~~~~~~~  |                 no bridge west of C
        N (.015, -.005)      |
        |                    |
        F (.015, -.01) ----- E (.06, -.01)     the south-bank road, reached only from C

Every road is tertiary: 40 km/h by car (11.11 m/s). At 19.7° N one degree of latitude
is 110.70 km and one of longitude 104.84 km, so:

- N is 0.005° = 0.554 km from the line, M 0.011° = 1.218 km: by distance N comes first.
- M by road: the spur G–M is 1 218 m = 109.6 s. After S2 (between S2 and S3) it adds
  2 × 109.6 s = 3.65 min; after S3, C→G 0.015° = 1 573 m (141.5 s) + 109.6 s = 4.19 min;
  after S1, 2 × 141.5 + 2 × 109.6 = 8.37 min. Best: after stop 2, 3.65 min.
- N by road: C→E 1 107 m + E→F 0.045° = 4 718 m + F→N 554 m = 6 379 m = 574 s: after S3
  (at the end) it adds 9.57 min, between S2 and S3 twice that. Best: after stop 3.
- P (group G1, tourism-linked, OCOP 4 stars) at (.035, .008), 0.886 km from the line.
- Q (group G3) at (.03, -.03) is 3.3 km from the line and over 2 km from every road
  vertex: its detour is geodesic, and labelled so.
- Z at (.03, .06) is 6.6 km from the line: outside a 5 km corridor.
"""

from __future__ import annotations

from dataclasses import dataclass

import shapely
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from geo.io import network
from geo.kernel.vocab import RoadClass
from geo.store.db import set_actor
from tests.factories import make_route, make_stop, make_village, unique_code

LON, LAT = 105.30, 19.70
NETWORK = "test-corridor"
SPUR_S = 1217.7 / (40 / 3.6)  # G → M
CG_S = 1572.7 / (40 / 3.6)  # C → G
CN_S = (1107.0 + 4717.8 + 553.5) / (40 / 3.6)  # C → E → F → N


@dataclass(frozen=True)
class Case:
    route_id: int
    stops: tuple[int, int, int]  # S1, S2, S3 village ids
    stop_ids: tuple[int, int, int]
    m: int
    n: int
    p: int
    q: int
    z: int
    network_id: int


def at(x: float, y: float) -> tuple[float, float]:
    return (LON + x, LAT + y)


def build(conn: Connection, *, mode: str = "car") -> Case:
    """The network, the villages and a route S1 → S2 → S3 on ``conn`` (the test's)."""

    def line(*points: tuple[float, float]) -> network.Edge:
        return network.Edge(
            geom=shapely.LineString([at(x, y) for x, y in points]), road_class=RoadClass.TERTIARY
        )

    set_actor(conn, "test")
    network.build_network(
        conn,
        [
            line((0, 0), (0.03, 0)),
            line((0.03, 0), (0.045, 0)),
            line((0.045, 0), (0.06, 0)),
            line((0.045, 0), (0.045, 0.011)),
            line((0.06, 0), (0.06, -0.01)),
            line((0.06, -0.01), (0.015, -0.01)),
            line((0.015, -0.01), (0.015, -0.005)),
        ],
        name=NETWORK,
        source="test",
        source_hash=None,
        approximate=False,
        actor="test",
        replace=True,
    )
    network_id = conn.execute(
        sa.text("SELECT id FROM road_network WHERE name = :n"), {"n": NETWORK}
    ).scalar_one()

    def village(x: float, y: float, name: str, **properties: object) -> int:
        return make_village(conn, at=at(x, y), name=name, code=unique_code("T-CR"), **properties)

    s = (village(0, 0, "Làng S1"), village(0.03, 0, "Làng S2"), village(0.06, 0, "Làng S3"))
    m = village(0.045, 0.011, "Làng M")
    n = village(0.015, -0.005, "Làng N bên sông")
    p = village(0.035, 0.008, "Làng P", craft_group="G1", tourism_linked=True, ocop_stars=4)
    q = village(0.03, -0.03, "Làng Q", craft_group="G3")
    z = village(0.03, 0.06, "Làng Z")
    route_id = make_route(conn, mode=mode)
    stop_ids = tuple(
        make_stop(conn, route_id, seq, at=at(x, 0), village_id=v)
        for seq, (x, v) in enumerate(zip((0, 0.03, 0.06), s, strict=True), start=1)
    )
    # The network is the designer's to set (read-only over the API).
    conn.execute(
        sa.text("UPDATE tourism_route SET network_id = :n WHERE id = :r"),
        {"n": network_id, "r": route_id},
    )
    return Case(route_id, s, stop_ids, m, n, p, q, z, network_id)  # type: ignore[arg-type]
