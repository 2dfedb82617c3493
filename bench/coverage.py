"""Supply coverage at national scale (issue 14 point 7): time, memory, pairs, LP size.

On the national benchmark dataset (bench/generate.py FULL: 5 400 villages, 200 000
parcels) loaded into a database of its own, every village gets a seeded synthetic demand
for one material (and one in ten a yearly figure too, so the year rule is exercised); the
parcels keep their generated ``annual_capacity_t``. Then one coverage run, geodesic, 50 km
haul, reporting the time of the whole run and of its parts, the process's peak memory
(VmHWM, and tracemalloc's peak of Python allocations during the run), the candidate pairs,
the LP's size and HiGHS's solve time, and whether the pairs query uses the villages' GiST
index.

``python -m bench.coverage [--tiny] [--url URL] [--material luong] [--haul-km 50]``
"""

from __future__ import annotations

import argparse
import datetime as dt
import time
import tracemalloc
from pathlib import Path

import numpy as np
import sqlalchemy as sa

from bench import generate
from bench.run import prepare
from geo.store.db import make_engine, set_actor
from geo.workflows import coverage
from ops.settings import DatabaseSettings


def vm_hwm_mb() -> float:
    """This process's peak resident memory (VmHWM) in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def seed_figures(url: str, material: str, *, seed: int = 14) -> int:
    """Give every village a synthetic demand for ``material``; one in ten a 2024 figure."""
    rng = np.random.default_rng(seed)
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            set_actor(conn, "benchmark-loader")
            ids = [
                int(i)
                for i in conn.execute(sa.text("SELECT id FROM craft_village ORDER BY id")).scalars()
            ]
            demand = rng.uniform(100, 2_000, len(ids)).round(1)
            conn.execute(
                sa.text(
                    "UPDATE craft_village v SET material_demand_t = "
                    "jsonb_build_object(CAST(:m AS text), d.t) "
                    "FROM unnest(CAST(:ids AS integer[]), CAST(:t AS float8[])) AS d(id, t) "
                    "WHERE v.id = d.id"
                ),
                {"m": material, "ids": ids, "t": demand.tolist()},
            )
            some = ids[::10]
            conn.execute(
                sa.text(
                    "INSERT INTO supply_figure (village_id, material, year, tonnes, estimate, "
                    "basis, actor) SELECT id, :m, 2024, t, true, 'synthetic benchmark figure', "
                    "'benchmark-loader' FROM unnest(CAST(:ids AS integer[]), "
                    "CAST(:t AS float8[])) AS d(id, t) "
                    "ON CONFLICT DO NOTHING"
                ),
                {"m": material, "ids": some, "t": (demand[::10] * 1.1).round(1).tolist()},
            )
        with engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE craft_village; ANALYZE supply_figure")
        return len(ids)
    finally:
        engine.dispose()


def pairs_plan(url: str, material: str, haul_km: float) -> str:
    """EXPLAIN of the candidate-pairs query on the real zone and village ids."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            zone_ids = list(
                conn.execute(
                    sa.text(
                        "SELECT id FROM material_zone WHERE material = :m AND status = 'existing'"
                    ),
                    {"m": material},
                ).scalars()
            )
            village_ids = list(conn.execute(sa.text("SELECT id FROM craft_village")).scalars())
            rows = conn.execute(
                sa.text("EXPLAIN " + str(coverage._PAIRS.text)),
                {
                    "zone_ids": zone_ids,
                    "extra": [],
                    "village_ids": village_ids,
                    "haul_m": haul_km * 1000,
                    "srid": 4326,
                },
            )
            return "\n".join(r[0] for r in rows)
    finally:
        engine.dispose()


def measure(url: str, material: str, haul_km: float) -> str:
    """One geodesic coverage run, measured; a Markdown report."""
    plan = pairs_plan(url, material, haul_km)
    engine = make_engine(url)
    try:
        tracemalloc.start()
        started = time.perf_counter()
        with engine.connect() as conn:
            result = coverage.run_coverage(
                conn, coverage.CoverageRequest(material, haul_km, mode="geodesic")
            )
        seconds = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    finally:
        engine.dispose()
    t = result.totals
    uses_index = "ix_craft_village_geom" in plan
    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"## Coverage, {material}, {haul_km:g} km haul, geodesic ({stamp})",
        "",
        f"- villages with a demand: {t.villages:,}; zones with a capacity: {t.zones:,}",
        f"- candidate pairs within the haul: {t.pairs:,} "
        f"(of {t.villages * t.zones:,} zone × village combinations: "
        f"{100 * t.pairs / max(1, t.villages * t.zones):.2f} %)",
        f"- LP: {t.pairs:,} columns, {t.lp_rows:,} rows, {t.lp_nonzeros:,} nonzeros (sparse)",
        f"- whole run {seconds:.1f} s: pairs in PostGIS {t.pairs_s:.1f} s, HiGHS {t.solve_s:.1f} s"
        " (one LP: most tonnes, then least tonne-km)",
        f"- peak memory: VmHWM {vm_hwm_mb():,.0f} MB for the process; "
        f"tracemalloc peak {peak / 1e6:,.1f} MB of Python allocations during the run",
        f"- demand {t.demand_t:,.0f} t, supplied {t.supplied_t:,.0f} t, unmet {t.unmet_t:,.0f} t, "
        f"{t.tonne_km:,.0f} t·km; villages short {t.villages_short:,}, out of reach "
        f"{t.villages_unreached:,}; missing {t.missing:,}",
        f"- pairs query uses the villages' GiST index: {'yes' if uses_index else 'NO'}",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    """Prepare (or reuse with --url) the database, seed the figures, measure, report."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tiny", action="store_true", help="a few hundred features (smoke run)")
    parser.add_argument("--url", help="a database already loaded (and seeded) by an earlier run")
    parser.add_argument("--data", type=Path, default=Path(".craftmap/bench-data"))
    parser.add_argument("--material", default="luong")
    parser.add_argument("--haul-km", type=float, default=50.0)
    parser.add_argument("--out", type=Path, default=Path("bench/results/coverage.md"))
    args = parser.parse_args()
    url = args.url
    if url is None:
        settings = DatabaseSettings()
        if settings.uses_private_cluster:
            settings.cluster().start()
        scale = generate.TINY if args.tiny else generate.FULL
        folder = args.data / ("tiny" if args.tiny else "full")
        started = time.perf_counter()
        url = prepare(settings.admin_url(), folder, scale)
        print(f"loaded in {time.perf_counter() - started:.0f} s: {url}", flush=True)
        seed_figures(url, args.material)
    text = measure(url, args.material, args.haul_km)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
