"""Siting at national scale: k new zones of one material over the benchmark dataset.

``python -m bench.siting [--fraction F] [--url URL] [--k 10] [--haul-km 50] [--resolution 7]``

The dataset is bench/generate.py's (FULL: 5 400 villages, 200 000 parcels), loaded into a
private database of its own (or ``--url``: one an earlier run loaded). Then, seeded and
synthetic, for one material (luong): 70 % of the villages get a yearly demand of
100–3 000 t, and that material's parcels a capacity of 5–60 t (household parcels), so most
villages go short and the siting has the whole country to cover. The coverage runs first
(geodesic, 50 km), then the siting. Reported: short villages, candidate and excluded cells,
the MILP's size, the solve time, each step's time, the total, and the process's peak
memory (VmHWM). The model is built with sparse matrices only; a dense one at this size
would not fit in memory.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
import sqlalchemy as sa

from bench import generate
from geo.store.db import make_engine
from geo.workflows.siting import SitingRequest, suggest_sites
from ops.settings import DatabaseSettings

MATERIAL = "luong"


def peak_memory_mb() -> float:
    """The process's peak resident memory (VmHWM), MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def seed_figures(url: str, *, seed: int = 14) -> dict[str, float]:
    """Synthetic demand for 70 % of the villages and small capacities for MATERIAL's parcels."""
    rng = np.random.default_rng(seed)
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            ids = [r[0] for r in conn.execute(sa.text("SELECT id FROM craft_village ORDER BY id"))]
            chosen = [i for i in ids if rng.random() < 0.7]
            demand = rng.uniform(100, 3_000, len(chosen)).round(1)
            conn.execute(
                sa.text(
                    "UPDATE craft_village v SET material_demand_t = "
                    "jsonb_build_object(CAST(:m AS text), d.t) FROM unnest(CAST(:ids AS int[]), "
                    "CAST(:t AS float8[])) AS d(id, t) WHERE v.id = d.id"
                ),
                {"m": MATERIAL, "ids": chosen, "t": demand.tolist()},
            )
            zones = [
                r[0]
                for r in conn.execute(
                    sa.text("SELECT id FROM material_zone WHERE material = :m ORDER BY id"),
                    {"m": MATERIAL},
                )
            ]
            capacity = rng.uniform(5, 60, len(zones)).round(1)
            conn.execute(
                sa.text(
                    "UPDATE material_zone z SET annual_capacity_t = d.t FROM "
                    "unnest(CAST(:ids AS int[]), CAST(:t AS float8[])) AS d(id, t) "
                    "WHERE z.id = d.id"
                ),
                {"ids": zones, "t": capacity.tolist()},
            )
        with engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE craft_village; ANALYZE material_zone")
    finally:
        engine.dispose()
    return {
        "villages_with_demand": len(chosen),
        "demand_t": float(demand.sum()),
        "zones": len(zones),
        "capacity_t": float(capacity.sum()),
    }


def _demand_as_unmet(conn: sa.Connection) -> pd.DataFrame:
    """Every village's seeded demand of MATERIAL, as if no zone supplied any of it."""
    rows = conn.execute(
        sa.text(
            "SELECT id, code, name, CAST(material_demand_t ->> :m AS float8) AS unmet_t "
            "FROM craft_village WHERE material_demand_t ? :m ORDER BY id"
        ),
        {"m": MATERIAL},
    ).all()
    return pd.DataFrame(rows, columns=["id", "code", "name", "unmet_t"])


def main() -> None:
    """Load (or reuse), seed, run the siting once, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--fraction", type=float, default=1.0, help="share of FULL to load")
    parser.add_argument("--url", help="a database an earlier run loaded and seeded")
    parser.add_argument("--data", type=Path, default=Path(".craftmap/bench-data"))
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--haul-km", type=float, default=50.0)
    parser.add_argument("--resolution", type=int, default=7)
    parser.add_argument("--time-limit", type=float, default=1_200.0, help="HiGHS's, seconds")
    parser.add_argument("--out", type=Path, default=Path("bench/results/siting.json"))
    parser.add_argument(
        "--demand-as-unmet",
        action="store_true",
        help="skip the coverage: every village's seeded demand counts as unmet (measures "
        "the siting alone)",
    )
    args = parser.parse_args()
    url = args.url
    if url is None:
        from bench.run import prepare

        full = generate.FULL
        scale = generate.Scale(
            villages=round(full.villages * args.fraction),
            parcels=round(full.parcels * args.fraction),
            routes=max(5, round(full.routes * args.fraction)),
        )
        settings = DatabaseSettings()
        if settings.uses_private_cluster:
            settings.cluster().start()
        folder = args.data / f"siting-{scale.villages}-{scale.parcels}"
        started = time.perf_counter()
        url = prepare(settings.admin_url(), folder, scale)
        print(f"loaded {scale} in {time.perf_counter() - started:.0f} s: {url}", flush=True)
    # Seeded the same way every time: a rerun on --url gets the same figures.
    seeded = seed_figures(url)
    print(f"seeded {seeded}", flush=True)
    engine = make_engine(url)
    request = SitingRequest(
        material=MATERIAL,
        k=args.k,
        haul_km=args.haul_km,
        resolution=args.resolution,
        mode="geodesic",
    )
    try:
        with engine.connect() as conn:
            started = time.perf_counter()
            unmet = _demand_as_unmet(conn) if args.demand_as_unmet else None
            result = suggest_sites(conn, request, unmet=unmet, time_limit_s=args.time_limit)
            total = time.perf_counter() - started
    finally:
        engine.dispose()
    report = {
        "url": url,
        "seeded": seeded,
        "unmet_from": "seeded demand (coverage skipped)" if args.demand_as_unmet else "coverage",
        "parameters": result.parameters,
        "villages_short": result.totals.villages_short,
        "unmet_before_t": round(result.totals.unmet_before_t, 1),
        "served_t": round(result.totals.served_t, 1),
        "greedy_t": round(result.totals.greedy_t, 1),
        "candidates": result.totals.candidates,
        "excluded": result.totals.excluded,
        "excluded_by_reason": result.totals.excluded_by_reason,
        "sites_found": result.totals.sites_found,
        "milp": result.milp,
        "timings_s": result.timings,
        "total_s": round(total, 1),
        "peak_memory_mb": round(peak_memory_mb(), 0),
    }
    text = json.dumps(report, ensure_ascii=False, indent=2)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text + "\n", encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
