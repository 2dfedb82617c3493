"""The route designer's time: route and order a 12-stop route, on the demo and a big network.

``python -m bench.route_design [--edges 100000] [--stops 12] [--url URL] [--skip-demo]``

Two cases, each in a database of its own on the private cluster (or ``--url``: an empty
migrated database, or one an earlier run built):

(a) **demo**: the Thanh Hóa demo (``craftmap demo load``: villages and the road network
    ``thanh-hoa-demo`` from data/demo/roads.geojson); 12 demo villages, spread over the
    province, become the stops of a new route in a shuffled order.
(b) **synthetic**: a perturbed grid of about ``--edges`` edges over part of Thanh Hóa
    (105.3–106.0° E, 19.5–20.2° N), with road classes (a primary every 20th line, a
    secondary every 5th, tertiary and residential between) and 2 % one-way residential
    streets, stored through ``geo.io.network.build_network`` (the importer's own path:
    COPY into road_edge, then pgr_extractVertices and the components); 12 villages placed
    across it, the stops of a new route in a shuffled order.

Each phase is timed on its own: the travel matrix (12 × 12 by pgRouting), the best order
(exact: Held–Karp on 11 free stops; and OR-Tools routing on the same matrix), the leg
paths along the roads (``leg_paths``), saving the design on the route and its stops
(``save_design``, on the rows as they were), and the whole ``design_route`` call as the
API makes it (matrix, order, legs, timetable and save together). Reported with the process's peak
memory (VmHWM); the figures go to ``bench/results/route_design.json``.
"""

from __future__ import annotations

import argparse
import json
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import psycopg
import shapely
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from geo.analysis import route_order
from geo.io import ingest, network
from geo.kernel.crs import CRS84
from geo.kernel.vocab import RoadClass
from geo.store import catalog, migrate, writes
from geo.store.db import make_engine, set_actor
from geo.workflows import route_design
from ops.settings import DatabaseSettings

ACTOR = "bench-route-design"
DEMO_DIR = Path(__file__).resolve().parent.parent / "data" / "demo"
WEST, EAST, SOUTH, NORTH = 105.3, 106.0, 19.5, 20.2
SYNTHETIC = "bench-grid"
T = TypeVar("T")


def peak_memory_mb() -> float:
    """The process's peak resident memory (VmHWM), MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def timed(phases: dict[str, float], name: str, action: Callable[[], T]) -> T:
    started = time.perf_counter()
    result = action()
    phases[name] = round(time.perf_counter() - started, 3)
    return result


# -- databases --------------------------------------------------------------------------------
def new_database(admin_url: str) -> str:
    """A fresh migrated database on the server of ``admin_url``; its URL."""
    name = f"craftmap_bench_route_{uuid.uuid4().hex[:8]}"
    conninfo = sa.engine.make_url(admin_url).set(drivername="postgresql")
    with psycopg.connect(conninfo.render_as_string(hide_password=False), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = sa.engine.make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    migrate.upgrade(url)
    return url


# -- the synthetic network -------------------------------------------------------------------
def grid_edges(edges: int, *, seed: int = 15) -> list[network.Edge]:
    """About ``edges`` edges: a perturbed square grid of k × k vertices (2k(k-1) edges)."""
    k = max(3, round((1 + (1 + 2 * edges) ** 0.5) / 2))
    rng = np.random.default_rng(seed)
    dx, dy = (EAST - WEST) / (k - 1), (NORTH - SOUTH) / (k - 1)
    xs = WEST + dx * np.arange(k)[None, :] + rng.uniform(-0.3, 0.3, (k, k)) * dx
    ys = SOUTH + dy * np.arange(k)[:, None] + rng.uniform(-0.3, 0.3, (k, k)) * dy

    def road_class(line: int) -> RoadClass:
        if line % 20 == 0:
            return RoadClass.PRIMARY
        if line % 5 == 0:
            return RoadClass.SECONDARY
        return RoadClass.TERTIARY if line % 2 == 0 else RoadClass.RESIDENTIAL

    out: list[network.Edge] = []
    oneway = rng.random(2 * k * k) < 0.02
    for r in range(k):
        for c in range(k):
            for r2, c2, line in ((r, c + 1, r), (r + 1, c, c)):
                if r2 >= k or c2 >= k:
                    continue
                cls = road_class(line)
                out.append(
                    network.Edge(
                        geom=shapely.LineString([(xs[r, c], ys[r, c]), (xs[r2, c2], ys[r2, c2])]),
                        road_class=cls,
                        oneway=bool(cls is RoadClass.RESIDENTIAL and oneway[len(out)]),
                        source_id=f"g{len(out)}",
                    )
                )
    return out


def build_synthetic(engine: Engine, edges: int) -> dict[str, Any]:
    """Build the grid as network SYNTHETIC (replacing one of that name); its report."""
    made = grid_edges(edges)
    started = time.perf_counter()
    with engine.begin() as conn:
        set_actor(conn, ACTOR)
        report = network.build_network(
            conn,
            made,
            name=SYNTHETIC,
            source="bench.route_design grid",
            source_hash=None,
            approximate=True,
            actor=ACTOR,
            replace=True,
        )
    with engine.begin() as conn:
        conn.exec_driver_sql("ANALYZE road_edge; ANALYZE road_vertex")
    return {
        "edges": report.edges,
        "vertices": report.vertices,
        "components": report.components,
        "length_km": round(report.length_km or 0.0, 1),
        "build_s": round(time.perf_counter() - started, 1),
    }


# -- the route --------------------------------------------------------------------------------
def _create(conn: Connection, collection: catalog.Collection, feature: dict[str, Any]) -> int:
    return writes.create(
        conn, collection, feature, writes.WriteOptions(actor=ACTOR, content_crs=CRS84)
    ).id


def make_route(conn: Connection, villages: list[tuple[int, str, float, float]], net: str) -> int:
    """A route whose stops are ``villages`` (id, name, lon, lat) in that order, on ``net``."""
    route_id = _create(
        conn,
        catalog.ROUTES,
        {
            "type": "Feature",
            "geometry": None,
            "properties": {
                "code": f"BENCH-{uuid.uuid4().hex[:8]}",
                "name": "Tuyến đo thời gian",
                "theme": "craft_village",
                "mode": "car",
            },
        },
    )
    for seq, (village_id, name, lon, lat) in enumerate(villages, start=1):
        _create(
            conn,
            catalog.ROUTE_STOPS,
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [lon, lat]},
                "properties": {
                    "route_id": route_id,
                    "seq": seq,
                    "village_id": village_id,
                    "name": name,
                    "dwell_min": 45,
                },
            },
        )
    conn.execute(
        sa.text(
            "UPDATE tourism_route SET network_id = (SELECT id FROM road_network WHERE name = :n) "
            "WHERE id = :r"
        ),
        {"n": net, "r": route_id},
    )
    return route_id


def demo_villages(conn: Connection, stops: int) -> list[tuple[int, str, float, float]]:
    """``stops`` demo villages spread over the province: one per band of longitude."""
    rows = conn.execute(
        sa.text(
            "SELECT DISTINCT ON (ST_X(geom)::numeric(7, 3), ST_Y(geom)::numeric(7, 3)) "
            "id, name, ST_X(geom) AS lon, ST_Y(geom) AS lat FROM craft_village "
            "WHERE code LIKE 'TH-V-%' ORDER BY ST_X(geom)::numeric(7, 3), "
            "ST_Y(geom)::numeric(7, 3), id"
        )
    ).all()
    if len(rows) < stops:
        raise SystemExit(f"the demo has {len(rows)} villages at distinct places, not {stops}")
    picks = np.linspace(0, len(rows) - 1, stops).round().astype(int)
    return [(r.id, r.name, float(r.lon), float(r.lat)) for r in (rows[i] for i in picks)]


def synthetic_villages(conn: Connection, stops: int, *, seed: int = 15) -> list[Any]:
    """``stops`` new villages on a loose grid across the synthetic network, each at a road
    vertex (so a coarse grid, as in the test's few hundred edges, still reaches them)."""
    rng = np.random.default_rng(seed)
    nearest = sa.text(
        "SELECT ST_X(v.geom), ST_Y(v.geom) FROM road_vertex v JOIN road_network n "
        "ON n.id = v.network_id WHERE n.name = :net "
        "ORDER BY v.geom <-> ST_SetSRID(ST_MakePoint(:lon, :lat), 4326) LIMIT 1"
    )
    side = int(np.ceil(stops**0.5))
    made = []
    for i in range(stops):
        row, col = divmod(i, side)
        lon = WEST + (EAST - WEST) * (col + 0.5 + rng.uniform(-0.2, 0.2)) / side
        lat = SOUTH + (NORTH - SOUTH) * (row + 0.5 + rng.uniform(-0.2, 0.2)) / side
        lon, lat = conn.execute(nearest, {"net": SYNTHETIC, "lon": lon, "lat": lat}).one()
        name = f"Làng đo {i + 1}"
        village_id = _create(
            conn,
            catalog.VILLAGES,
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [lon, lat]},
                "properties": {
                    "code": f"BENCH-V-{uuid.uuid4().hex[:8]}",
                    "name": name,
                    "kind": "craft_village",
                    "craft_group": "G4",
                    "geom_precision": "hamlet",
                },
            },
        )
        made.append((village_id, name, lon, lat))
    return made


# -- one case -----------------------------------------------------------------------------------
def measure(
    engine: Engine,
    pick: Callable[[Connection], list[tuple[int, str, float, float]]],
    net: str,
    *,
    seed: int = 15,
    time_limit_s: float = 5.0,
) -> dict[str, Any]:
    """Time each phase for one 12-stop route on ``net``; the route is rolled back after."""
    phases: dict[str, float] = {}
    with engine.connect() as conn, conn.begin() as transaction:
        set_actor(conn, ACTOR)
        villages = pick(conn)
        order = np.random.default_rng(seed).permutation(len(villages))
        shuffled = [villages[i] for i in order]
        route_id = make_route(conn, shuffled, net)
        points = [(lon, lat) for _id, _name, lon, lat in shuffled]
        matrix = timed(
            phases,
            "matrix_s",
            lambda: route_design.travel_matrix(conn, points, mode="car", network=net),
        )
        road_pairs = int((matrix.kind == "road").sum()) - len(points)
        exact = timed(
            phases, "order_exact_s", lambda: route_order.best_order(matrix.seconds, start=0)
        )
        heuristic = timed(
            phases,
            "order_or_tools_s",
            lambda: route_order.best_order(
                matrix.seconds, start=0, exact_up_to=0, time_limit_s=time_limit_s
            ),
        )
        ordered = [points[i] for i in exact.order]
        legs = timed(
            phases,
            "legs_s",
            lambda: route_design.leg_paths(conn, ordered, mode="car", network=net),
        )
        # The whole call as the API makes it (matrix, order, legs, timetable, save), in a
        # savepoint; then the save alone, of that design, on the rows as they were.
        savepoint = conn.begin_nested()
        design = timed(
            phases,
            "design_route_total_s",
            lambda: route_design.design_route(conn, route_id, optimise=True, actor=ACTOR),
        )
        savepoint.rollback()
        timed(phases, "save_s", lambda: route_design.save_design(conn, route_id, design))
        road_legs = sum(leg.kind == "road" for leg in legs)
        extra = {
            "road_legs": f"{road_legs} of {len(legs)}",
            "designed_method": design.method,
            "designed_drive_min": round(design.drive_min, 1),
            "designed_km": round(design.km, 1),
        }
        transaction.rollback()
    return {
        "network": net,
        "stops": len(points),
        "road_pairs": f"{road_pairs} of {len(points) * (len(points) - 1)}",
        "given_min": round(exact.given_cost / 60, 1),
        "exact_min": round(exact.cost / 60, 1),
        "exact_method": exact.method,
        "or_tools_min": round(heuristic.cost / 60, 1),
        "or_tools_method": heuristic.method,
        "timings_s": phases,
        **extra,
    }


def table(results: dict[str, dict[str, Any]]) -> str:
    """The phases of each case as a small text table."""
    names = sorted({k for r in results.values() for k in r["timings_s"]})
    lines = [f"{'phase':<22}" + "".join(f"{case:>14}" for case in results)]
    for name in names:
        cells = "".join(
            f"{r['timings_s'].get(name, float('nan')):>14.3f}" for r in results.values()
        )
        lines.append(f"{name:<22}{cells}")
    for key in ("given_min", "exact_min", "or_tools_min", "road_pairs", "road_legs"):
        lines.append(f"{key:<22}" + "".join(f"{r[key]:>14}" for r in results.values()))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Build, measure both cases, print the table and write the JSON."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--edges", type=int, default=100_000, help="synthetic network's size")
    parser.add_argument("--stops", type=int, default=12)
    parser.add_argument("--url", help="an empty migrated database (or one an earlier run built)")
    parser.add_argument("--skip-demo", action="store_true", help="only the synthetic case")
    parser.add_argument("--time-limit", type=float, default=5.0, help="OR-Tools', seconds")
    parser.add_argument("--out", type=Path, default=Path("bench/results/route_design.json"))
    args = parser.parse_args(argv)
    url = args.url
    if url is None:
        settings = DatabaseSettings()
        if settings.uses_private_cluster:
            settings.cluster().start()
        url = new_database(settings.admin_url())
    engine = make_engine(url)
    results: dict[str, dict[str, Any]] = {}
    try:
        if not args.skip_demo:
            started = time.perf_counter()
            ingest.load_demo(engine, demo_dir=DEMO_DIR, actor=ACTOR)
            print(f"demo loaded in {time.perf_counter() - started:.1f} s", flush=True)
            results["demo"] = measure(
                engine,
                lambda conn: demo_villages(conn, args.stops),
                "thanh-hoa-demo",
                time_limit_s=args.time_limit,
            )
        built = build_synthetic(engine, args.edges)
        print(f"synthetic network {built}", flush=True)
        results["synthetic"] = measure(
            engine,
            lambda conn: synthetic_villages(conn, args.stops),
            SYNTHETIC,
            time_limit_s=args.time_limit,
        )
        results["synthetic"]["built"] = built
    finally:
        engine.dispose()
    shown = sa.engine.make_url(url).render_as_string(hide_password=True)
    report = {"url": shown, "cases": results, "peak_memory_mb": round(peak_memory_mb(), 0)}
    print(table(results))
    print(f"peak memory {report['peak_memory_mb']:.0f} MB")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return report


if __name__ == "__main__":
    main()
