"""The benchmark: craftmap over HTTP against the same SQL run directly in PostGIS.

For each scenario it measures requests/s, p50 and p99 latency and bytes per response at
16 concurrent connections against ``craftmap serve --workers 2``, then runs the statements
craftmap runs for those requests straight through psycopg with 16 connections (the floor
any server on this database can reach) and reports the ratio of the two throughputs. Both
are measured in one run on one machine, so the ratio holds even when the machine is noisy.

``python -m bench.run`` (or ``make bench``) generates the national dataset if needed, loads
it into its own database, runs every scenario and writes a markdown table.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import random
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx2
import morecantile
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bench import generate
from geo import catalog, features, migrate, tiles
from geo.cluster import free_port
from geo.crs import CRS84
from geo.db import make_engine

CONNECTIONS = 16
TMS = morecantile.tms.get("WebMercatorQuad")
CRAFTMAP = str(Path(sys.executable).parent / "craftmap")


@dataclass
class Scenario:
    """A set of requests and, for each, the statements craftmap runs to answer it."""

    name: str
    urls: list[str]
    statements: list[list[sa.Executable]]


@dataclass
class Measure:
    """Throughput and latency of one side of one scenario."""

    requests: int = 0
    seconds: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)
    bytes: int = 0
    errors: int = 0

    @property
    def rate(self) -> float:
        """Requests per second."""
        return self.requests / self.seconds if self.seconds else 0.0

    def percentile(self, q: float) -> float:
        """Latency percentile in milliseconds."""
        if not self.latencies_ms:
            return float("nan")
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _sample_points(engine: Engine, n: int, seed: int) -> list[tuple[int, float, float]]:
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text("SELECT id, ST_X(geom), ST_Y(geom) FROM craft_village ORDER BY id")
        ).all()
    rng = random.Random(seed)
    return [(int(r[0]), float(r[1]), float(r[2])) for r in rng.sample(rows, min(n, len(rows)))]


def scenarios(
    engine: Engine, base: str, *, seed: int = 7, per_scenario: int = 60
) -> list[Scenario]:
    """The workload: each scenario's URLs and the SQL the app runs for each."""
    villages, zones = catalog.VILLAGES, catalog.MATERIAL_ZONES
    points = _sample_points(engine, per_scenario, seed)
    with engine.connect() as conn:
        village_count = int(
            conn.execute(sa.text("SELECT count(*) FROM craft_village")).scalar_one()
        )
    rng = random.Random(seed)
    found: list[Scenario] = []

    def page(collection: catalog.Collection, query: features.ItemsQuery) -> list[sa.Executable]:
        # The two statements the items route runs: the capped count, then the page.
        return [
            features.count_statement(collection, query),
            features.items_statement(collection, query),
        ]

    bbox_urls, bbox_sql = [], []
    for _, x, y in points:
        box = (x - 0.03, y - 0.03, x + 0.03, y + 0.03)
        query = features.ItemsQuery(limit=100, bbox=box, bbox_crs=CRS84, crs=CRS84)
        bbox_urls.append(
            f"{base}/collections/material-zones/items?limit=100&bbox={','.join(f'{v:.5f}' for v in box)}"
        )
        bbox_sql.append(page(zones, query))
    found.append(Scenario("items, small bbox (zones)", bbox_urls, bbox_sql))

    deep_urls, deep_sql = [], []
    for _ in range(per_scenario):
        offset = rng.randrange(0, max(1, village_count - 100))
        query = features.ItemsQuery(limit=100, offset=offset, crs=CRS84)
        deep_urls.append(f"{base}/collections/villages/items?limit=100&offset={offset}")
        deep_sql.append(page(villages, query))
    found.append(Scenario("deep paging (villages)", deep_urls, deep_sql))

    found.append(
        Scenario(
            "single item (villages)",
            [f"{base}/collections/villages/items/{fid}" for fid, _, _ in points],
            [[features.item_statement(villages, fid, CRS84)] for fid, _, _ in points],
        )
    )
    for zoom in (8, 10, 12, 14):
        addresses = [TMS.tile(x, y, zoom) for _, x, y in points]
        found.append(
            Scenario(
                f"MVT z{zoom} (zones)",
                [
                    f"{base}/collections/material-zones/tiles/WebMercatorQuad/{t.z}/{t.y}/{t.x}"
                    for t in addresses
                ],
                [[_tile_statement(zones, tiles.Tile(t.z, t.x, t.y))] for t in addresses],
            )
        )
    whole = features.ItemsQuery(limit=features.MAX_LIMIT, crs=CRS84)
    found.append(
        Scenario(
            "whole collection (villages)",
            [f"{base}/collections/villages/items?limit={features.MAX_LIMIT}"],
            [page(villages, whole)],
        )
    )
    return found


def _tile_statement(collection: catalog.Collection, address: tiles.Tile) -> sa.Executable:
    return tiles.tile_statement([collection], address)


async def _http(urls: Sequence[str], seconds: float) -> Measure:
    measure = Measure()
    limits = httpx2.Limits(max_connections=CONNECTIONS, max_keepalive_connections=CONNECTIONS)
    async with httpx2.AsyncClient(limits=limits, timeout=60) as client:
        deadline = time.perf_counter() + seconds
        started = time.perf_counter()

        async def worker(offset: int) -> None:
            i = offset
            while time.perf_counter() < deadline:
                url = urls[i % len(urls)]
                i += CONNECTIONS
                t0 = time.perf_counter()
                response = await client.get(url)
                body = response.content
                measure.latencies_ms.append((time.perf_counter() - t0) * 1000)
                measure.requests += 1
                measure.bytes += len(body)
                measure.errors += response.status_code >= 400

        await asyncio.gather(*(worker(i) for i in range(CONNECTIONS)))
        measure.seconds = time.perf_counter() - started
    return measure


def _direct(engine: Engine, batches: Sequence[Sequence[sa.Executable]], seconds: float) -> Measure:
    measure = Measure()
    lock = threading.Lock()
    deadline = time.perf_counter() + seconds

    def worker(offset: int) -> None:
        i = offset
        with engine.connect() as conn:
            while time.perf_counter() < deadline:
                batch = batches[i % len(batches)]
                i += CONNECTIONS
                t0 = time.perf_counter()
                size = 0
                for statement in batch:
                    for row in conn.execute(statement):
                        size += len(row[0]) if isinstance(row[0], str | bytes) else 8
                conn.rollback()
                elapsed = (time.perf_counter() - t0) * 1000
                with lock:
                    measure.latencies_ms.append(elapsed)
                    measure.requests += 1
                    measure.bytes += size

    started = time.perf_counter()
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(CONNECTIONS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    measure.seconds = time.perf_counter() - started
    return measure


def _serve(database_url: str, port: int, workers: int) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CRAFTMAP_")}
    env["DATABASE_URL"] = database_url
    server = subprocess.Popen(
        [CRAFTMAP, "serve", "--port", str(port), "--workers", str(workers)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/ready", timeout=2):
                return server
        except OSError:
            time.sleep(0.3)
    server.kill()
    raise RuntimeError("craftmap did not become ready")


def run(
    database_url: str,
    *,
    seconds: float = 10.0,
    workers: int = 2,
    report: Callable[[str], None] = print,  # noqa: T201
) -> list[tuple[str, Measure, Measure]]:
    """Run every scenario against a loaded database; return (name, http, sql) measures."""
    engine = make_engine(database_url, pool_size=CONNECTIONS)
    port = free_port()
    server = _serve(database_url, port, workers)
    results = []
    try:
        for scenario in scenarios(engine, f"http://127.0.0.1:{port}"):
            http = asyncio.run(_http(scenario.urls, seconds))
            sql = _direct(engine, scenario.statements, seconds)
            results.append((scenario.name, http, sql))
            report(f"{scenario.name}: {http.rate:.1f} req/s vs {sql.rate:.1f} SQL/s")
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
        engine.dispose()
    return results


@dataclass
class ExportMemory:
    """A whole-collection export: its size, time and the server's peak memory."""

    features: int
    bytes: int
    seconds: float
    peak_rss_mb: float


def _peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def export_memory(database_url: str, collection: str = "material-zones") -> ExportMemory:
    """Stream every feature of a collection and read the server's peak RSS (one process)."""
    port = free_port()
    server = _serve(database_url, port, workers=1)
    try:
        started = time.perf_counter()
        size = 0
        url = f"http://127.0.0.1:{port}/collections/{collection}/export"
        with urllib.request.urlopen(url, timeout=600) as response:
            tail = b""
            while chunk := response.read(1 << 20):
                size += len(chunk)
                tail = (tail + chunk)[-200:]
        seconds = time.perf_counter() - started
        returned = int(tail.split(b'"numberReturned":')[1].split(b",")[0])
        return ExportMemory(returned, size, seconds, _peak_rss_mb(server.pid))
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


def markdown(results: Sequence[tuple[str, Measure, Measure]], title: str) -> str:
    """The results as a markdown table."""
    lines = [
        f"### {title}",
        "",
        "| scenario | craftmap req/s | p50 ms | p99 ms | bytes/response | direct SQL req/s | ratio | errors |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, http, sql in results:
        ratio = http.rate / sql.rate if sql.rate else float("nan")
        per = http.bytes // max(1, http.requests)
        lines.append(
            f"| {name} | {http.rate:.1f} | {http.percentile(0.5):.1f} | {http.percentile(0.99):.1f} "
            f"| {per:,} | {sql.rate:.1f} | {ratio:.0%} | {http.errors} |"
        )
    return "\n".join(lines) + "\n"


def prepare(server_url: str, folder: Path, scale: generate.Scale) -> str:
    """A fresh database on ``server_url`` with the generated dataset loaded; its URL."""
    import uuid

    import psycopg

    name = f"craftmap_bench_{uuid.uuid4().hex[:8]}"
    conninfo = sa.engine.make_url(server_url).set(drivername="postgresql")
    with psycopg.connect(conninfo.render_as_string(hide_password=False), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = sa.engine.make_url(server_url).set(database=name).render_as_string(hide_password=False)
    migrate.upgrade(url)
    if not (folder / "parcels.gpkg").exists():
        generate.generate(folder, scale)
    engine = make_engine(url)
    try:
        generate.load(engine, folder)
    finally:
        engine.dispose()
    return url


def main() -> None:
    """``python -m bench.run [--tiny] [--seconds N] [--out FILE]``."""
    from geo.db import DatabaseSettings

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tiny", action="store_true", help="a few hundred features (smoke run)")
    parser.add_argument("--seconds", type=float, default=10.0, help="per scenario and side")
    parser.add_argument("--data", type=Path, default=Path(".craftmap/bench-data"))
    parser.add_argument("--out", type=Path, default=Path("bench/results/latest.md"))
    args = parser.parse_args()
    settings = DatabaseSettings()
    if settings.uses_private_cluster:
        settings.cluster().start()
    scale = generate.TINY if args.tiny else generate.FULL
    folder = args.data / ("tiny" if args.tiny else "full")
    url = prepare(settings.resolved_url(), folder, scale)
    results = run(url, seconds=args.seconds)
    memory = export_memory(url)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    text = markdown(
        results,
        f"{stamp}: {scale.villages:,} villages, {scale.parcels:,} parcels, {scale.routes} routes; "
        f"{CONNECTIONS} connections, 2 workers, {args.seconds:g} s per side",
    )
    text += (
        f"\nWhole-collection export of material-zones: {memory.features:,} features, "
        f"{memory.bytes / 1e6:,.0f} MB of GeoJSON in {memory.seconds:.1f} s; the server's peak "
        f"memory (VmHWM) was {memory.peak_rss_mb:.0f} MB.\n"
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
