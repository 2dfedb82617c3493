"""The programme's indicators at national scale: a tiny timing check, run once.

``python -m bench.indicators [--villages 10000] [--url SERVER_URL] [--keep]``

A fresh database on the server (the private cluster's superuser, or ``--url``), migrated,
with the programme files and synthetic records inserted set-based: 34 provinces, 3 321
current communes, 700 old districts, ``--villages`` villages spread over them (all three
kinds, some revoked, restored or unrecognised) and ``village_stat`` rows for 2020, 2024
and 2025 with about a fifth of each fact unknown. Then, timed: ``indicator_report`` for the
national programme (every village, every commune and district) and for Thanh Hóa's plan
(one province), for 2025 and for the current year (the record fallback), three times each
(the first call pays for the process's warm-up). Prints seconds per report, each report
being the province, every unit and the series over every year with data; the database is
dropped afterwards unless ``--keep``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import time
import uuid
from pathlib import Path

import psycopg
import sqlalchemy as sa

from geo.io import programmes
from geo.store import migrate
from geo.store.db import make_engine
from geo.workflows.indicators import indicator_report
from ops.settings import DatabaseSettings

FOLDER = Path(__file__).resolve().parents[1] / "data" / "programmes"
PROGRAMMES = (FOLDER / "801-QD-TTg.csv", FOLDER / "4182-QD-UBND.csv")

# Set-based synthetic data: provinces 01..34 (Thanh Hóa is 38), communes and old districts
# spread over them, villages over the communes, yearly rows for three years.
SEED_SQL = """
INSERT INTO admin_unit (code, scheme, name, level, parent_code, valid_from, label_point)
SELECT CASE WHEN p = 34 THEN '38' ELSE lpad(p::text, 2, '0') END, 'NQ1686/2025',
       'Tỉnh ' || p, 'province', NULL, DATE '2025-07-01',
       ST_SetSRID(ST_MakePoint(105 + p * 0.05, 16 + p * 0.1), 4326)
FROM generate_series(1, 34) AS p;
INSERT INTO admin_unit (code, scheme, name, level, parent_code, valid_from, label_point)
SELECT 'c' || c, 'NQ1686/2025', 'Xã Số ' || c, 'commune',
       CASE WHEN c % 34 = 0 THEN '38' ELSE lpad((c % 34)::text, 2, '0') END,
       DATE '2025-07-01', ST_SetSRID(ST_MakePoint(104 + (c % 60) * 0.05, 12 + c * 0.002), 4326)
FROM generate_series(1, 3321) AS c;
INSERT INTO admin_unit (code, scheme, name, level, parent_code, valid_to)
SELECT 'd' || d, 'legacy', 'Huyện Số ' || d, 'district',
       CASE WHEN d % 34 = 0 THEN '38' ELSE lpad((d % 34)::text, 2, '0') END, DATE '2025-06-30'
FROM generate_series(1, 700) AS d;
INSERT INTO craft_village (code, name, kind, craft_group, commune_code, legacy_district,
    recognition_year, restored_year, status, operating_effectively, tourism_linked,
    ip_protected, env_plan, workers, trained_workers, geom_precision, geom)
SELECT 'B-' || v, 'Làng ' || v,
       (ARRAY['craft_village', 'traditional_craft_village', 'traditional_craft'])[1 + v % 3],
       'G4', 'c' || (1 + v % 3321), 'huyện  số ' || (1 + v % 700),
       CASE WHEN v % 7 = 0 THEN NULL ELSE 2000 + v % 27 END,
       CASE WHEN v % 11 = 0 THEN 2021 + v % 5 END,
       (ARRAY['active', 'active', 'active', 'restored', 'at_risk', 'revoked'])[1 + v % 6],
       CASE WHEN v % 5 = 0 THEN NULL ELSE v % 4 > 0 END, v % 3 = 0, v % 4 = 0, v % 2 = 0,
       50 + v % 200, 20 + v % 30, 'commune_centroid',
       ST_SetSRID(ST_MakePoint(104 + (v % 60) * 0.05, 12 + (v % 3321) * 0.002), 4326)
FROM generate_series(1, :villages) AS v;
INSERT INTO village_stat (village_id, year, production_value_vnd, avg_income_vnd_month,
    workers, trained_workers, operating_effectively, tourism_linked, establishments,
    ocop_establishments, ocop_products, ip_protected, env_plan, exports_usd)
SELECT id, y,
       CASE WHEN random() < 0.8 THEN (1 + random()) * 1e9 * (1 + (y - 2020) * 0.1) END,
       CASE WHEN random() < 0.8 THEN 4e6 + random() * 4e6 END,
       w, CASE WHEN random() < 0.8 THEN floor(w * random()) END,
       CASE WHEN random() < 0.8 THEN random() < 0.7 END,
       CASE WHEN random() < 0.8 THEN random() < 0.3 END,
       e, CASE WHEN random() < 0.8 THEN floor(e * random()) END,
       CASE WHEN random() < 0.8 THEN floor(random() * 3) END,
       CASE WHEN random() < 0.8 THEN random() < 0.4 END,
       CASE WHEN random() < 0.8 THEN random() < 0.6 END,
       CASE WHEN random() < 0.5 THEN floor(random() * 1e6) END
FROM craft_village, (VALUES (2020), (2024), (2025)) AS years(y),
     LATERAL (SELECT 30 + floor(random() * 300)::int AS w,
                     1 + floor(random() * 40)::int AS e) AS sizes
"""


def main() -> None:
    """Create, seed, time each report once, drop."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--villages", type=int, default=10_000)
    parser.add_argument("--url", help="a server URL with the right to create databases")
    parser.add_argument("--keep", action="store_true", help="keep the database")
    args = parser.parse_args()
    server = args.url
    if server is None:
        settings = DatabaseSettings()
        if settings.uses_private_cluster:
            settings.cluster().start()
        server = settings.admin_url()
    name = f"craftmap_bench_ind_{uuid.uuid4().hex[:8]}"
    base = sa.engine.make_url(server)
    admin = base.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = base.set(database=name).render_as_string(hide_password=False)
    try:
        migrate.upgrade(url)
        engine = make_engine(url)
        started = time.perf_counter()
        with engine.begin() as conn:
            conn.exec_driver_sql("SELECT setseed(0.16)")
            for statement in SEED_SQL.split(";\n"):
                conn.execute(sa.text(statement), {"villages": args.villages})
            for path in PROGRAMMES:
                programmes.load_programme(conn, path, actor="bench")
        with engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE")
            counts = conn.execute(
                sa.text(
                    "SELECT (SELECT count(*) FROM craft_village), (SELECT count(*) FROM "
                    "village_stat), (SELECT count(*) FROM admin_unit WHERE level = 'commune')"
                )
            ).one()
        print(
            f"seeded {counts[0]} villages, {counts[1]} yearly rows, {counts[2]} communes "
            f"in {time.perf_counter() - started:.1f} s",
            flush=True,
        )
        today = dt.date.today()
        with engine.connect() as conn:
            for programme in ("801/QĐ-TTg", "4182/QĐ-UBND"):
                for year in (2025, today.year):
                    times = []
                    for _ in range(3):
                        started = time.perf_counter()
                        report = indicator_report(conn, programme=programme, year=year, today=today)
                        times.append(time.perf_counter() - started)
                    print(
                        f"{programme:14} {year}: first {times[0]:.3f} s, then "
                        f"{' '.join(f'{t:.3f}' for t in times[1:])} s "
                        f"({len(report.units['commune'])} communes, "
                        f"{len(report.units['district'])} districts, "
                        f"{len(report.years_with_data)} years in the series, "
                        f"{len(report.province)} indicators)",
                        flush=True,
                    )
        engine.dispose()
    finally:
        if not args.keep:
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
