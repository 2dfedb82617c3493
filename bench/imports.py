"""Import throughput: a national parcels GeoPackage through `craftmap import`'s pipeline.

``python -m bench.imports [--parcels 200000]`` generates the benchmark's parcels file
(bench/generate.py), then in fresh databases of the private cluster measures, in one run:

- the user import (geo.io.imports.run_import): a dry run, then the real run;
- the demo loader's bulk upsert (geo.io.ingest.load_material_zones) on the same file, the
  floor the per-row import is compared with (it runs no domain rules, hooks or report).

Then a one-worker server exports the imported parcels as GeoPackage and GeoJSON and its
peak memory is read. Each import figure is rows per second and the process's peak memory; ratios are what to compare
(the machine is shared and noisy).
"""

from __future__ import annotations

import argparse
import datetime as dt
import resource
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pyogrio
import sqlalchemy as sa

from bench import generate
from bench.run import ExportMemory, export_memory
from geo.io import ingest
from geo.io.imports import ImportRequest, run_import
from geo.store import migrate
from geo.store.db import make_engine, set_actor, translate_errors
from ops.settings import DatabaseSettings


@dataclass(frozen=True)
class Figure:
    """One measured import."""

    label: str
    rows: int
    seconds: float

    @property
    def rate(self) -> float:
        """Rows per second."""
        return self.rows / self.seconds if self.seconds else 0.0


def _fresh_database(server_url: str) -> str:
    name = f"craftmap_bench_import_{uuid.uuid4().hex[:8]}"
    conninfo = sa.engine.make_url(server_url).set(drivername="postgresql")
    with psycopg.connect(conninfo.render_as_string(hide_password=False), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = sa.engine.make_url(server_url).set(database=name).render_as_string(hide_password=False)
    migrate.upgrade(url)
    return url


def _drop_database(server_url: str, url: str) -> None:
    name = sa.engine.make_url(url).database
    conninfo = sa.engine.make_url(server_url).set(drivername="postgresql")
    with psycopg.connect(conninfo.render_as_string(hide_password=False), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _timed(label: str, rows: int, action: Callable[[], object]) -> Figure:
    started = time.perf_counter()
    action()
    return Figure(label, rows, time.perf_counter() - started)


def parcels_file(folder: Path, parcels: int) -> Path:
    """The benchmark's parcels GeoPackage with ``parcels`` rows (generated once)."""
    path = folder / "parcels.gpkg"
    if not path.exists() or pyogrio.read_info(path)["features"] != parcels:
        scale = generate.Scale(villages=max(60, parcels // 37), parcels=parcels, routes=5)
        generate.generate(folder, scale)
    return path


def measure(server_url: str, path: Path) -> tuple[list[Figure], list[ExportMemory]]:
    """Dry run, real run and the bulk floor, each in a fresh database; then the imported
    parcels exported back as GeoPackage and GeoJSON by a server (its peak memory)."""
    rows = pyogrio.read_info(path)["features"]
    figures = []
    url = _fresh_database(server_url)
    engine = make_engine(url)
    try:
        outcomes: list[object] = []
        for apply in (False, True):
            request = ImportRequest(into="material-zones", actor="benchmark", apply=apply)
            figure = _timed(
                f"craftmap import ({'real run' if apply else 'dry run'})",
                rows,
                lambda request=request: outcomes.append(run_import(engine, path, request)),
            )
            figures.append(figure)
        with engine.connect() as conn:
            stored = conn.execute(sa.text("SELECT count(*) FROM material_zone")).scalar_one()
        if stored != rows:
            raise SystemExit(f"the real run stored {stored} of {rows} rows: {outcomes[-1]!r}")
        exports = [export_memory(url, fmt=fmt) for fmt in ("gpkg", "geojson")]
    finally:
        engine.dispose()
        _drop_database(server_url, url)

    url = _fresh_database(server_url)
    engine = make_engine(url)
    try:

        def bulk() -> None:
            with engine.connect() as conn, translate_errors(), conn.begin():
                set_actor(conn, "benchmark")
                ingest.load_material_zones(conn, path)

        figures.append(_timed("bulk upsert floor (demo loader)", rows, bulk))
    finally:
        engine.dispose()
        _drop_database(server_url, url)
    return figures, exports


def markdown(figures: list[Figure], rows: int, exports: list[ExportMemory]) -> str:
    """The figures as a table, with each import's rate as a share of the bulk floor."""
    floor = figures[-1].rate
    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    lines = [
        f"## Import of a {rows:,}-parcel GeoPackage into material-zones ({stamp})",
        "",
        "| run | seconds | rows/s | share of the bulk floor |",
        "|---|---:|---:|---:|",
    ]
    for figure in figures:
        share = figure.rate / floor if floor else 0.0
        lines.append(
            f"| {figure.label} | {figure.seconds:.1f} | {figure.rate:,.0f} | {share:.0%} |"
        )
    lines += ["", f"Peak memory of the importing process: {peak_mb:,.0f} MB.", ""]
    for fmt, export in zip(("GeoPackage", "GeoJSON"), exports, strict=True):
        lines.append(
            f"Export of the {export.features:,} imported parcels as {fmt} (one server worker): "
            f"{export.bytes / 1e6:,.0f} MB in {export.seconds:.1f} s, the server's peak memory "
            f"(VmHWM) {export.peak_rss_mb:,.0f} MB."
        )
    lines.append("")
    return "\n".join(lines)


def main() -> None:
    """``python -m bench.imports [--parcels N] [--data DIR] [--out FILE]``."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--parcels", type=int, default=generate.FULL.parcels)
    parser.add_argument("--data", type=Path, default=Path(".craftmap/bench-data/imports"))
    parser.add_argument("--out", type=Path, default=Path("bench/results/imports.md"))
    args = parser.parse_args()
    settings = DatabaseSettings()
    if settings.uses_private_cluster:
        settings.cluster().start()
    path = parcels_file(args.data / str(args.parcels), args.parcels)
    figures, exports = measure(settings.admin_url(), path)
    text = markdown(figures, figures[0].rows, exports)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
