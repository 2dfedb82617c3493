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
import datetime as dt
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import morecantile
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bench import generate
from geo.kernel.crs import CRS84
from geo.query import features, tiles
from geo.store import catalog, migrate
from geo.store.db import make_engine
from ops.cluster import find_pg_binaries, free_port
from ops.settings import DatabaseSettings

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
    p50_ms: float = float("nan")
    p99_ms: float = float("nan")
    bytes: int = 0
    errors: int = 0

    @property
    def rate(self) -> float:
        """Requests per second."""
        return self.requests / self.seconds if self.seconds else 0.0


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
        # The one statement the items route runs: the page with its capped count.
        return [features.items_statement(collection, query, counted=True)]

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
                # Cold: the server measured runs without its tile cache (see run()).
                f"MVT z{zoom} cold (zones)",
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


# wrk calls request() for every request and done() once per run; each of its threads has
# its own Lua state, so each starts at a random place in the list.
_WRK_SCRIPT = """
local paths = {%s}
local i = 0
init = function(args) i = math.random(#paths) end
request = function()
  i = i %% #paths + 1
  return wrk.format("GET", paths[i])
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "RESULT %%d %%d %%d %%d %%d %%d\\n", summary.requests, summary.duration, summary.bytes,
    e.status + e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
"""


def _http(base: str, urls: Sequence[str], seconds: float, folder: Path) -> Measure:
    """The URLs through wrk (a C load generator, so the client takes little of the CPU)."""
    paths = ",".join(f'"{url.removeprefix(base)}"' for url in urls)
    script = folder / "paths.lua"
    script.write_text(_WRK_SCRIPT % paths, encoding="utf-8")
    out = subprocess.run(
        [
            _tool("wrk"),
            "-t2",
            f"-c{CONNECTIONS}",
            f"-d{max(1, round(seconds))}s",
            "--timeout",
            "300s",
            "-s",
            str(script),
            base,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    fields = next(line for line in out.splitlines() if line.startswith("RESULT")).split()[1:]
    requests, duration_us, size, errors, p50_us, p99_us = (int(v) for v in fields)
    return Measure(requests, duration_us / 1e6, p50_us / 1000, p99_us / 1000, size, errors)


# Seconds of each scenario's requests sent and not counted before its measured run.
WARM_UP_SECONDS = 2.0


def _warm_up(base: str, urls: Sequence[str], seconds: float, folder: Path) -> None:
    """(issue 17) Send the scenario's requests for a while and forget the figures.

    The server side ran first on a server just started (connections not yet open,
    statements not yet planned, PostgreSQL's buffers cold), the pgbench floor after it on
    warm buffers: each side now starts warm. tipg gets the same.
    """
    if seconds < WARM_UP_SECONDS:
        return  # a run this short measures nothing worth warming for (the test's tiny runs)
    _http(base, urls, WARM_UP_SECONDS, folder)


def _literal_sql(engine: Engine, statement: Any) -> str:
    """The statement with its values inlined, as psycopg would send them."""
    import psycopg

    compiled = statement.compile(dialect=engine.dialect)
    params = compiled.construct_params()
    processors = compiled._bind_processors  # noqa: SLF001 - the values psycopg receives
    values = {k: processors[k](v) if k in processors else v for k, v in params.items()}
    with engine.connect() as conn:
        raw = conn.connection.dbapi_connection
        assert isinstance(raw, psycopg.Connection)
        return psycopg.ClientCursor(raw).mogrify(compiled.string, values)


def _direct(
    engine: Engine, batches: Sequence[Sequence[sa.Executable]], seconds: float, folder: Path
) -> Measure:
    """The same statements through pgbench: 16 clients of C code, prepared statements."""
    scripts = []
    for n, batch in enumerate(batches):
        script = folder / f"request{n}.sql"
        script.write_text(
            "".join(_literal_sql(engine, st).replace("\n", " ") + ";\n" for st in batch),
            encoding="utf-8",
        )
        scripts += ["-f", str(script)]
    url = engine.url
    env = {
        **os.environ,
        "PGHOST": url.host or "127.0.0.1",
        "PGPORT": str(url.port or 5432),
        "PGUSER": url.username or "",
        "PGPASSWORD": url.password or "",
        "PGDATABASE": url.database or "",
    }
    out = subprocess.run(
        [
            _tool("pgbench"),
            "-n",
            "-M",
            "prepared",
            "-c",
            str(CONNECTIONS),
            "-j",
            "2",
            "-T",
            str(max(1, round(seconds))),
            "-l",
            "--log-prefix",
            str(folder / "log"),
            *scripts,
        ],
        capture_output=True,
        text=True,
        check=True,
        env=env,
        cwd=folder,
    ).stdout
    latencies = sorted(
        int(line.split()[2]) / 1000
        for log in folder.glob("log.*")
        for line in log.read_text().splitlines()
    )
    tps = float(next(x for x in out.splitlines() if x.startswith("tps")).split()[2])
    failed = next((x for x in out.splitlines() if "failed transactions" in x), "0")
    measure = Measure(len(latencies), len(latencies) / tps if tps else 0.0)
    if latencies:
        measure.p50_ms = latencies[len(latencies) // 2]
        measure.p99_ms = latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))]
    measure.errors = int(failed.split(":")[-1].split()[0]) if ":" in failed else 0
    return measure


def _tool(name: str) -> str:
    """wrk from PATH; pgbench beside the PostgreSQL binaries craftmap uses."""
    if name == "pgbench":
        return find_pg_binaries().program("pgbench")
    found = shutil.which(name)
    if found is None:
        raise RuntimeError(f"{name} is missing: apt-get install {name}")
    return found


def _serve(
    database_url: str,
    port: int,
    workers: int,
    settings: dict[str, str] | None = None,
    *,
    source: Path | None = None,
) -> subprocess.Popen[bytes]:
    """``craftmap serve`` on ``port``, ready; ``source``: another code tree to serve."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CRAFTMAP_")}
    env["DATABASE_URL"] = database_url
    env.update(settings or {})
    command = [CRAFTMAP]
    if source is not None:
        # The source tree first on the path, for the server and the workers it spawns.
        env["PYTHONPATH"] = str(source)
        command = [sys.executable, "-c", "from api.cli import app; app()"]
    server = subprocess.Popen(
        [*command, "serve", "--port", str(port), "--workers", str(workers)],
        env=env,
        cwd=source,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/ready", timeout=2):
                return server
        except OSError:
            time.sleep(0.3)
    os.killpg(server.pid, signal.SIGTERM)
    raise RuntimeError("craftmap did not become ready")


@dataclass
class WorkerMemory:
    """(light, issue 17) The serving workers' memory: now (VmRSS) and at peak (VmHWM), MB."""

    rss_mb: list[float]
    hwm_mb: list[float]

    def line(self) -> str:
        """One sentence for the report."""
        if not self.rss_mb:
            return "Worker memory: no worker found.\n"
        return (
            f"Worker memory after the run ({len(self.rss_mb)} workers): VmRSS sum "
            f"{sum(self.rss_mb):.0f} MB, max {max(self.rss_mb):.0f} MB; VmHWM max "
            f"{max(self.hwm_mb):.0f} MB.\n"
        )


def _status_mb(pid: int, field: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def worker_memory(server_pid: int) -> WorkerMemory:
    """VmRSS and VmHWM of the server's workers (its children; itself when it has none)."""
    children = Path(f"/proc/{server_pid}/task/{server_pid}/children").read_text().split()
    # uvicorn's supervisor also runs multiprocessing's resource tracker: not a worker.
    pids = [
        int(p)
        for p in children
        if b"resource_tracker" not in Path(f"/proc/{p}/cmdline").read_bytes()
    ] or [server_pid]
    return WorkerMemory(
        [_status_mb(p, "VmRSS") for p in pids], [_status_mb(p, "VmHWM") for p in pids]
    )


def run(
    database_url: str,
    *,
    seconds: float = 10.0,
    workers: int = 2,
    report: Callable[[str], None] = print,  # noqa: T201
    compare_tipg: bool = False,
    only: Sequence[str] = (),
    memory: list[WorkerMemory] | None = None,
) -> list[Result]:
    """Run every scenario against a loaded database (and tipg's server, if asked).

    ``only``: the scenarios whose names contain one of these words ("warm" for the cache's).
    ``memory``, when given, receives the workers' memory after the last scenario.
    """
    engine = make_engine(database_url, pool_size=CONNECTIONS)
    port = free_port()
    # (cache) The scenarios here run without the tile cache: tiles are built on every
    # request ("cold"); warm_tiles() measures the cache on a server of its own.
    server = _serve(database_url, port, workers, {"CRAFTMAP_TILE_CACHE_ENABLED": "false"})
    results = []
    base = f"http://127.0.0.1:{port}"
    try:
        workload = [
            s for s in scenarios(engine, base) if not only or any(o in s.name for o in only)
        ]
        for n, scenario in enumerate(workload):
            with tempfile.TemporaryDirectory(prefix=f"bench{n}-") as folder:
                _warm_up(base, scenario.urls, seconds, Path(folder))
                http = _http(base, scenario.urls, seconds, Path(folder))
                sql = _direct(engine, scenario.statements, seconds, Path(folder))
            results.append(Result(scenario.name, http, sql))
            report(f"{scenario.name}: {http.rate:.1f} req/s vs {sql.rate:.1f} SQL/s")
        if memory is not None:
            memory.append(worker_memory(server.pid))
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
        engine.dispose()
    if compare_tipg:
        _measure_tipg(database_url, workload, results, base, seconds, workers, report)
    if not only or any("warm" in o for o in only):
        results += warm_tiles(database_url, seconds=seconds, workers=workers, report=report)
    return results


# -- (cache, issue 17) warm tiles: the tile cache seeded, the same tiles as the cold ones ------
WARM_ZOOMS = (8, 10, 12)


def warm_tiles(
    database_url: str,
    *,
    seconds: float = 10.0,
    workers: int = 2,
    report: Callable[[str], None] = print,  # noqa: T201
) -> list[Result]:
    """ "MVT z8/z10/z12 warm (zones)": tiles served from the seeded tile cache.

    The floor is still BUILDING the same tiles in PostGIS (as for the cold scenarios), so
    the ratio says how many times faster than the database itself a cached tile is.
    """
    engine = make_engine(database_url, pool_size=CONNECTIONS)
    port = free_port()
    server = _serve(database_url, port, workers)
    base = f"http://127.0.0.1:{port}"
    results = []
    try:
        cold = {s.name: s for s in scenarios(engine, base)}
        for zoom in WARM_ZOOMS:
            scenario = cold[f"MVT z{zoom} cold (zones)"]
            for url in dict.fromkeys(scenario.urls):  # the first request of each fills
                with urllib.request.urlopen(url, timeout=300) as answer:
                    answer.read()
            with tempfile.TemporaryDirectory(prefix=f"bench-warm{zoom}-") as folder:
                http = _http(base, scenario.urls, seconds, Path(folder))
                sql = _direct(engine, scenario.statements, seconds, Path(folder))
            name = f"MVT z{zoom} warm (zones)"
            results.append(Result(name, http, sql))
            report(f"{name}: {http.rate:.1f} req/s vs {sql.rate:.1f} SQL/s (building)")
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
        engine.dispose()
    return results


@dataclass
class Result:
    """One scenario: craftmap over HTTP, the direct-SQL floor, and tipg when compared."""

    name: str
    http: Measure
    sql: Measure
    tipg: Measure | None = None


def _measure_tipg(
    database_url: str,
    workload: Sequence[Scenario],
    results: Sequence[Result],
    craftmap_base: str,
    seconds: float,
    workers: int,
    report: Callable[[str], None],
) -> None:
    """The same requests against tipg on the same database, same workers and connections."""
    from bench import tipg

    tipg.ensure_installed(Path(".craftmap/tipg-venv"))
    port = free_port()
    server = tipg.serve(database_url, port, workers)
    base = f"http://127.0.0.1:{port}"
    try:
        for n, (scenario, result) in enumerate(zip(workload, results, strict=True)):
            paths = [tipg.translate(url.removeprefix(craftmap_base)) for url in scenario.urls]
            if any(path is None for path in paths):
                continue
            with tempfile.TemporaryDirectory(prefix=f"tipg{n}-") as folder:
                urls = [f"{base}{path}" for path in paths]
                _warm_up(base, urls, seconds, Path(folder))
                result.tipg = _http(base, urls, seconds, Path(folder))
            report(f"{scenario.name}: tipg {result.tipg.rate:.1f} req/s")
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


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


def export_memory(
    database_url: str, collection: str = "material-zones", fmt: str = "geojson"
) -> ExportMemory:
    """Export every feature of a collection and read the server's peak RSS (one process).

    ``fmt`` is the export's ``f``: GeoJSON is streamed as PostGIS writes it, the file
    formats (``gpkg``…) are spooled to a temporary file by the server first.
    """
    import pyogrio

    port = free_port()
    server = _serve(database_url, port, workers=1)
    try:
        started = time.perf_counter()
        size = 0
        url = f"http://127.0.0.1:{port}/collections/{collection}/export?f={fmt}"
        with tempfile.TemporaryDirectory(prefix="bench-export-") as folder:
            path = Path(folder) / f"export.{fmt}"
            with urllib.request.urlopen(url, timeout=1800) as response, path.open("wb") as out:
                while chunk := response.read(1 << 20):
                    size += len(chunk)
                    out.write(chunk)
            seconds = time.perf_counter() - started
            if fmt == "geojson":
                tail = path.read_bytes()[-200:]
                returned = int(tail.split(b'"numberReturned":')[1].split(b",")[0])
            else:
                returned = int(pyogrio.read_info(path)["features"])
        return ExportMemory(returned, size, seconds, _peak_rss_mb(server.pid))
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


@dataclass
class EtagCheck:
    """The same tile asked for again and again: how many ETags, and what revalidation gave."""

    path: str
    features: int
    etags: list[str]
    revalidated: list[int]

    @property
    def ok(self) -> bool:
        """One ETag, every revalidation a 304."""
        return len(set(self.etags)) == 1 and set(self.revalidated) == {304}

    def line(self) -> str:
        """One sentence for the report."""
        verdict = "ok" if self.ok else "FAILED"
        return (
            f"Tile ETags ({verdict}): {len(self.etags)} GETs of {self.path} ({self.features:,} "
            f"features) from 2 workers gave {len(set(self.etags))} ETag(s); If-None-Match "
            f"with it gave {', '.join(str(s) for s in sorted(set(self.revalidated)))} "
            f"in {len(self.revalidated)} GETs.\n"
        )


def check_tile_etags(database_url: str, *, zoom: int = 8, gets: int = 8) -> EtagCheck:
    """The fullest zone tile at ``zoom`` (around a sampled village), ``gets`` times.

    A tile's ETag is the MD5 of its bytes; the bytes must not depend on which worker or
    which plan (parallel, generic) built them.
    """
    engine = make_engine(database_url)
    try:
        points = _sample_points(engine, 20, seed=7)
        zones = catalog.MATERIAL_ZONES
        with engine.connect() as conn:

            def count(t: morecantile.Tile) -> int:
                box = TMS.bounds(t)
                return int(
                    conn.execute(
                        sa.select(sa.func.count()).where(
                            zones.table.c.geom.op("&&")(sa.func.ST_MakeEnvelope(*box, 4326))
                        )
                    ).scalar_one()
                )

            counted = {t: count(t) for t in {TMS.tile(x, y, zoom) for _, x, y in points}}
    finally:
        engine.dispose()
    tile = max(counted, key=lambda t: (counted[t], t.x, t.y))
    path = f"/collections/material-zones/tiles/WebMercatorQuad/{tile.z}/{tile.y}/{tile.x}"
    port = free_port()
    server = _serve(database_url, port, workers=2)
    url = f"http://127.0.0.1:{port}{path}"
    try:
        etags = []
        for _ in range(gets):
            with urllib.request.urlopen(url, timeout=60) as response:
                response.read()
                etags.append(response.headers.get("ETag", ""))
        revalidated = []
        for _ in range(gets):
            request = urllib.request.Request(url, headers={"If-None-Match": etags[0]})
            try:
                with urllib.request.urlopen(request, timeout=60) as response:
                    revalidated.append(response.status)
            except urllib.error.HTTPError as answer:  # urllib raises on a 304
                revalidated.append(answer.code)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
    return EtagCheck(path, counted[tile], etags, revalidated)


def tail_ratio(measure: Measure) -> float:
    """(light, issue 17) p99 over p50: how long the slow requests wait against the usual."""
    return measure.p99_ms / measure.p50_ms if measure.p50_ms else float("nan")


@dataclass
class LowZoomTiles:
    """The MVT z8 scenario's tiles from the generalised copy and built on the fly (issue 17)."""

    zoom: int
    tiles: int
    copy_bytes: float
    copy_ms: float
    fly_bytes: float
    fly_ms: float

    def line(self) -> str:
        """One sentence for the report."""
        return (
            f"Low-zoom tiles (z{self.zoom}, the {self.tiles} distinct tiles of its scenario): "
            f"from the generalised copy {self.copy_bytes / 1e3:,.0f} KB and "
            f"{self.copy_ms:,.0f} ms of PostGIS each on average; built on the fly from the "
            f"stored parcels {self.fly_bytes / 1e3:,.0f} KB and {self.fly_ms:,.0f} ms "
            f"({self.fly_ms / self.copy_ms if self.copy_ms else float('inf'):.1f}× the time, "
            f"{self.fly_bytes / self.copy_bytes if self.copy_bytes else float('inf'):.1f}× the "
            "bytes).\n"
        )


def low_zoom_tiles(
    database_url: str, *, zoom: int = 8, seed: int = 7, per_scenario: int = 60
) -> LowZoomTiles:
    """Mean bytes and PostGIS time of the scenario's tiles at ``zoom``, both ways.

    The time is EXPLAIN ANALYZE's execution time (without per-node timing), after one
    build of each tile to warm the cache, so both sides read from memory.
    """
    engine = make_engine(database_url)
    zones = catalog.MATERIAL_ZONES
    try:
        addresses = sorted(
            {TMS.tile(x, y, zoom) for _, x, y in _sample_points(engine, per_scenario, seed)},
            key=lambda t: (t.x, t.y),
        )
        sides: dict[bool, tuple[list[int], list[float]]] = {True: ([], []), False: ([], [])}
        for t in addresses:
            address = tiles.Tile(t.z, t.x, t.y)
            for generalised, (sizes, times) in sides.items():
                with engine.connect() as conn:
                    built = tiles.tile(conn, [zones], address, generalised=generalised)
                    sizes.append(len(built.data))
                statement = tiles.tile_statement([zones], address, generalised=generalised)
                sql = _literal_sql(engine, statement)
                with engine.connect() as conn:
                    plan = conn.execute(
                        sa.text(f"EXPLAIN (ANALYZE, TIMING OFF, FORMAT JSON) {sql}")
                    ).scalar_one()
                times.append(float(plan[0]["Execution Time"]))
    finally:
        engine.dispose()

    def mean(values: Sequence[float]) -> float:
        return sum(values) / len(values) if values else 0.0

    return LowZoomTiles(
        zoom,
        len(addresses),
        mean(sides[True][0]),
        mean(sides[True][1]),
        mean(sides[False][0]),
        mean(sides[False][1]),
    )


def markdown(results: Sequence[Result], title: str) -> str:
    """The results as a markdown table (with tipg's columns when it was compared)."""
    with_tipg = any(r.tipg is not None for r in results)
    header = (
        "| scenario | craftmap req/s | p50 ms | p99 ms | p99/p50 | bytes/response "
        "| direct SQL req/s | ratio | errors |"
    )
    rule = "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
    if with_tipg:
        header += " tipg req/s | tipg p50 ms | craftmap ÷ tipg |"
        rule += "---:|---:|---:|"
    lines = [f"### {title}", "", header, rule]
    for r in results:
        http, sql = r.http, r.sql
        ratio = http.rate / sql.rate if sql.rate else float("nan")
        per = http.bytes // max(1, http.requests)
        line = (
            f"| {r.name} | {http.rate:.1f} | {http.p50_ms:.1f} | {http.p99_ms:.1f} "
            f"| {tail_ratio(http):.1f}× | {per:,} | {sql.rate:.1f} | {ratio:.0%} | {http.errors} |"
        )
        if with_tipg:
            if r.tipg is None:
                line += " – | – | – |"
            else:
                versus = http.rate / r.tipg.rate if r.tipg.rate else float("inf")
                line += f" {r.tipg.rate:.1f} | {r.tipg.p50_ms:.1f} | {versus:.1f}× |"
        lines.append(line)
    return "\n".join(lines) + "\n"


LIGHT_SCENARIOS = ("items, small bbox (zones)", "single item (villages)", "MVT z14 cold (zones)")


def targets(
    results: Sequence[Result], memory: Sequence[WorkerMemory], *, rss_limit_mb: float = 250
) -> str:
    """Issue 17's targets against this run's figures: one markdown line each, met or not.

    Every figure is a ratio of two measures of this run (or the workers' memory after it).
    The single-item target ("2× the rate before issue 17") needs the old code served beside
    the new one: ``python -m bench.light --before DIR`` measures that.
    """
    by_name = {r.name: r for r in results}

    def ratio(name: str) -> float | None:
        found = by_name.get(name)
        if found is None or not found.sql.rate:
            return None
        return found.http.rate / found.sql.rate

    lines = ["| target | measured | met |", "|---|---:|---|"]

    def check(label: str, value: float | None, ok: bool | None, shown: str) -> None:
        verdict = "–" if ok is None else ("yes" if ok else "**no**")
        lines.append(f"| {label} | {shown if value is not None else 'not measured'} | {verdict} |")

    for zoom in WARM_ZOOMS:
        value = ratio(f"MVT z{zoom} warm (zones)")
        check(
            f"warm z{zoom} tile ≥ 5× the floor of building it",
            value,
            None if value is None else value >= 5,
            f"{value or 0:.1f}×",
        )
    cold8 = by_name.get("MVT z8 cold (zones)")
    if cold8 is not None and cold8.tipg is not None and cold8.tipg.rate:
        value = cold8.http.rate / cold8.tipg.rate
        check("cold z8 tile ≥ tipg's rate", value, value >= 1, f"{value:.2f}× tipg")
    for name, floor in (("items, small bbox (zones)", 0.6), ("MVT z14 cold (zones)", 0.4)):
        value = ratio(name)
        check(
            f"{name} ≥ {floor:g} of the floor",
            value,
            None if value is None else value >= floor,
            f"{value or 0:.2f}",
        )
    for name in LIGHT_SCENARIOS:
        found = by_name.get(name)
        value = None if found is None else tail_ratio(found.http)
        check(
            f"{name}: p99 ≤ 5× p50",
            value,
            None if value is None else value <= 5,
            f"{value or 0:.1f}×",
        )
    behind = [
        r.name for r in results if r.tipg is not None and r.tipg.rate and r.http.rate < r.tipg.rate
    ]
    compared = [r for r in results if r.tipg is not None]
    if compared:
        check(
            "every scenario ahead of tipg",
            float(len(behind)),
            not behind,
            "all ahead" if not behind else "behind: " + ", ".join(behind),
        )
    worst = max((max(m.rss_mb) for m in memory if m.rss_mb), default=None)
    if worst is not None:
        check(
            f"worker RSS < {rss_limit_mb:g} MB after the benchmark",
            worst,
            worst < rss_limit_mb,
            f"{worst:.0f} MB (largest worker)",
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

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tiny", action="store_true", help="a few hundred features (smoke run)")
    parser.add_argument("--seconds", type=float, default=10.0, help="per scenario and side")
    parser.add_argument("--data", type=Path, default=Path(".craftmap/bench-data"))
    parser.add_argument("--out", type=Path, default=Path("bench/results/latest.md"))
    parser.add_argument("--tipg", action="store_true", help="also measure tipg on the same data")
    parser.add_argument("--url", help="a database already loaded by an earlier run")
    args = parser.parse_args()
    settings = DatabaseSettings()
    if settings.uses_private_cluster:
        settings.cluster().start()
    scale = generate.TINY if args.tiny else generate.FULL
    folder = args.data / ("tiny" if args.tiny else "full")
    # Creating the bench database needs the private cluster's superuser, not the app role.
    url = args.url or prepare(settings.admin_url(), folder, scale)
    workers_memory: list[WorkerMemory] = []
    results = run(url, seconds=args.seconds, compare_tipg=args.tipg, memory=workers_memory)
    memory = export_memory(url)
    gpkg = export_memory(url, fmt="gpkg")
    etags = check_tile_etags(url)
    print(etags.line(), end="")
    low_zoom = low_zoom_tiles(url)
    print(low_zoom.line(), end="")
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
        f"\nWhole-collection GeoPackage export of material-zones (issue 13): "
        f"{gpkg.features:,} features, {gpkg.bytes / 1e6:,.0f} MB in {gpkg.seconds:.1f} s; the "
        f"server's peak memory (VmHWM) was {gpkg.peak_rss_mb:.0f} MB.\n"
    )
    text += etags.line()
    text += "".join(m.line() for m in workers_memory)

    text += low_zoom.line()
    text += "\nIssue 17's targets in this run:\n\n" + targets(results, workers_memory)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    print(text)
    if not etags.ok:
        sys.exit("the same tile got different ETags or no 304: see above")


if __name__ == "__main__":
    main()
