"""A bounded mixed read/write load against a live ``craftmap serve`` (issue 9).

About 85 % reads (items pages, bbox pages, single items, vector tiles, now and then the
overview map) and 15 % writes (create a material zone, PATCH it with If-Match, delete it)
from a few client threads, for a fixed time and at most a fixed number of requests, only to
127.0.0.1. Each thread writes only the zones it created, so a 412 or 404 on a write is a
server fault, not a race between clients. At the end every acknowledged write is read back:
created and patched zones must show their last acknowledged name, deleted ones must be gone.

It reports, per operation: count, errors by status, p50/p99 latency and throughput, and the
server's resident memory (summed over its processes, from /proc) at start, peak and end.

``python -m bench.load --seconds 30`` starts ``craftmap serve --workers 2`` on a new database
with the demo data (dropped afterwards); ``--url http://127.0.0.1:PORT --key KEY`` runs
against a server already running (an admin key is needed to write; ``--database-url`` lets
the script create one).
"""

from __future__ import annotations

import argparse
import math
import os
import random
import signal
import subprocess
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx2 as httpx  # the dev group's httpx (FastAPI's TestClient uses it too)

LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1", "[::1]"}
# The checkout's demo dataset, loaded into the throwaway database.
DEMO_DIR = Path(__file__).resolve().parents[1] / "data" / "demo"
# Share of each operation in the mix (reads 85 %, writes 15 %).
MIX: dict[str, float] = {
    "items page": 0.28,
    "bbox page": 0.20,
    "single item": 0.20,
    "tile": 0.15,
    "map page": 0.02,
    "create": 0.07,
    "patch": 0.05,
    "delete": 0.03,
}
WRITES = {"create", "patch", "delete"}
OK = {200, 201, 204, 304}


@dataclass
class Stats:
    """Latencies and statuses of one operation."""

    latencies_ms: list[float] = field(default_factory=list)
    statuses: Counter[str] = field(default_factory=Counter)

    @property
    def errors(self) -> Counter[str]:
        """Statuses other than success, and transport failures ("conn")."""
        return Counter(
            {k: v for k, v in self.statuses.items() if not k.isdigit() or int(k) not in OK}
        )

    def percentile(self, q: float) -> float:
        """Latency percentile in ms (nearest rank)."""
        if not self.latencies_ms:
            return float("nan")
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


@dataclass
class Owned:
    """A zone a client created, with what the server last acknowledged about it."""

    url: str
    etag: str
    name: str


@dataclass
class Report:
    """The outcome of one run."""

    seconds: float
    clients: int
    stats: dict[str, Stats]
    rss_mb: dict[str, float]
    verified: int
    lost: list[str]

    @property
    def server_errors(self) -> int:
        """5xx answers and transport failures (the server hung up or never answered)."""
        return sum(
            n
            for s in self.stats.values()
            for k, n in s.statuses.items()
            if k == "conn" or (k.isdigit() and int(k) >= 500)
        )

    @property
    def requests(self) -> int:
        """Requests sent during the load (not counting the final check)."""
        return sum(len(s.latencies_ms) for s in self.stats.values())


# -- the server's memory ------------------------------------------------------------------------
def _children(pid: int) -> list[int]:
    found = [pid]
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        parents.setdefault(ppid, []).append(int(entry.name))
    queue = [pid]
    while queue:
        for child in parents.get(queue.pop(), []):
            found.append(child)
            queue.append(child)
    return found


def listening_pids(port: int) -> list[int]:
    """Processes holding the listening socket of 127.0.0.1:``port`` (uvicorn and its workers)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as fh:
            next(fh)
            for line in fh:
                parts = line.split()
                if parts[3] == "0A" and int(parts[1].rsplit(":", 1)[1], 16) == port:
                    inodes.add(f"socket:[{parts[9]}]")
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if any(os.readlink(fd) in inodes for fd in (entry / "fd").iterdir()):
                pids.append(int(entry.name))
        except OSError:
            continue
    return pids


def rss_mb(pids: list[int]) -> float:
    """Resident memory of these processes together (VmRSS), in MB."""
    total_kb = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total_kb += int(line.split()[1])
        except OSError:
            continue
    return total_kb / 1024


class MemoryWatch:
    """Samples the server's RSS every ``every`` seconds: start, peak, end."""

    def __init__(self, pids: Callable[[], list[int]], every: float = 0.25) -> None:
        self.pids = pids
        self.every = every
        self.start = rss_mb(pids())
        self.peak = self.start
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            self.peak = max(self.peak, rss_mb(self.pids()))

    def __enter__(self) -> MemoryWatch:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def figures(self) -> dict[str, float]:
        """RSS at start, peak (sampled) and now."""
        end = rss_mb(self.pids())
        return {"start": self.start, "peak": max(self.peak, end), "end": end}


# -- the workload -----------------------------------------------------------------------------
def _tile(lon: float, lat: float, z: int) -> tuple[int, int, int]:
    n = 2**z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return z, y, x


def _zone(code: str, lon: float, lat: float) -> dict[str, Any]:
    d = 0.004
    ring = [[lon, lat], [lon + d, lat], [lon + d, lat + d], [lon, lat + d], [lon, lat]]
    return {
        "type": "Feature",
        "geometry": {"type": "Polygon", "coordinates": [ring]},
        "properties": {
            "code": code,
            "name": f"Vùng thử tải {code}",
            "material": "bamboo",
            "status": "planned",
        },
    }


class Client:
    """One client thread: its own connection, its own zones, its own random stream."""

    def __init__(
        self,
        base: str,
        key: str,
        villages: list[tuple[int, float, float]],
        seed: int,
        run_id: str,
        record: Callable[[str, float, str], None],
    ) -> None:
        self.http = httpx.Client(base_url=base, timeout=60, trust_env=False)
        self.auth = {"Authorization": f"Bearer {key}"}
        self.villages = villages
        self.rng = random.Random(seed)
        self.prefix = f"LOAD-{run_id}-{seed}"
        self.record = record
        self.owned: list[Owned] = []
        self.deleted: list[str] = []
        self.created = 0

    def _send(self, op: str, method: str, url: str, **kwargs: Any) -> httpx.Response | None:
        started = time.perf_counter()
        try:
            response = self.http.request(method, url, **kwargs)
            status = str(response.status_code)
        except httpx.HTTPError:
            response, status = None, "conn"
        self.record(op, (time.perf_counter() - started) * 1000, status)
        return response

    def step(self) -> None:
        """Send one request, chosen by the mix (a write with nothing to write reads instead)."""
        op = self.rng.choices(list(MIX), weights=list(MIX.values()))[0]
        if op in {"patch", "delete"} and not self.owned:
            op = "create"
        _, lon, lat = self.rng.choice(self.villages)
        if op == "items page":
            collection = self.rng.choice(["villages", "material-zones", "route-stops"])
            offset = self.rng.randrange(0, 40)
            self._send(op, "GET", f"/collections/{collection}/items?limit=20&offset={offset}")
        elif op == "bbox page":
            box = f"{lon - 0.1:.4f},{lat - 0.1:.4f},{lon + 0.1:.4f},{lat + 0.1:.4f}"
            self._send(op, "GET", f"/collections/material-zones/items?limit=50&bbox={box}")
        elif op == "single item":
            fid = self.rng.choice(self.villages)[0]
            self._send(op, "GET", f"/collections/villages/items/{fid}")
        elif op == "tile":
            z, y, x = _tile(lon, lat, self.rng.choice([8, 10, 12]))
            self._send(op, "GET", f"/collections/material-zones/tiles/WebMercatorQuad/{z}/{y}/{x}")
        elif op == "map page":
            self._send(op, "GET", "/maps")
        elif op == "create":
            self.created += 1
            code = f"{self.prefix}-{self.created}"
            body = _zone(
                code, lon + self.rng.uniform(0.01, 0.05), lat + self.rng.uniform(0.01, 0.05)
            )
            response = self._send(
                op, "POST", "/collections/material-zones/items", json=body, headers=self.auth
            )
            if response is not None and response.status_code == 201:
                location = response.headers["location"]
                path = location[location.index("/collections") :]
                self.owned.append(Owned(path, response.headers["etag"], body["properties"]["name"]))
        elif op == "patch":
            zone = self.rng.choice(self.owned)
            name = f"{zone.name.split(' · ')[0]} · {self.rng.randrange(10**6)}"
            response = self._send(
                op,
                "PATCH",
                zone.url,
                json={"properties": {"name": name}},
                headers={
                    **self.auth,
                    "If-Match": zone.etag,
                    "Content-Type": "application/merge-patch+json",
                },
            )
            if response is not None and response.status_code == 200:
                zone.etag, zone.name = response.headers["etag"], name
        elif op == "delete":
            zone = self.owned.pop(self.rng.randrange(len(self.owned)))
            response = self._send(
                op, "DELETE", zone.url, headers={**self.auth, "If-Match": zone.etag}
            )
            if response is not None and response.status_code in (200, 204):
                self.deleted.append(zone.url)
            else:
                self.owned.append(zone)  # not acknowledged: it must still be there

    def verify(self) -> tuple[int, list[str]]:
        """Read back every acknowledged write; the ones that did not hold."""
        lost = []
        for zone in self.owned:
            got = self.http.get(zone.url)
            if got.status_code != 200 or got.json()["properties"]["name"] != zone.name:
                lost.append(f"{zone.url}: {got.status_code}, expected name {zone.name!r}")
        for url in self.deleted:
            got = self.http.get(url)
            if got.status_code != 404:
                lost.append(f"{url}: deleted but answers {got.status_code}")
        return len(self.owned) + len(self.deleted), lost


def _villages(base: str) -> list[tuple[int, float, float]]:
    with httpx.Client(base_url=base, timeout=60, trust_env=False) as http:
        page = http.get("/collections/villages/items?limit=1000").raise_for_status().json()
    return [
        (int(f["id"]), *f["geometry"]["coordinates"][:2]) for f in page["features"] if f["geometry"]
    ]


def run(
    base: str,
    key: str,
    *,
    seconds: float = 30.0,
    clients: int = 6,
    max_requests: int = 100_000,
    server_pids: Callable[[], list[int]],
    seed: int = 9,
) -> Report:
    """Run the mix against ``base`` (127.0.0.1 only) and check every acknowledged write."""
    host = urlsplit(base).hostname or ""
    if host not in LOCAL_HOSTS:
        raise SystemExit(f"bench.load only loads a server on this machine, not {host}")
    villages = _villages(base)
    if not villages:
        raise SystemExit("the server has no villages: load the demo first (craftmap demo load)")
    stats: dict[str, Stats] = {op: Stats() for op in MIX}
    lock = threading.Lock()
    budget = [max_requests]

    def record(op: str, ms: float, status: str) -> None:
        with lock:
            stats[op].latencies_ms.append(ms)
            stats[op].statuses[status] += 1

    def take() -> bool:
        with lock:
            budget[0] -= 1
            return budget[0] >= 0

    run_id = uuid.uuid4().hex[:6]
    workers = [Client(base, key, villages, seed + n, run_id, record) for n in range(clients)]
    deadline = time.monotonic() + seconds

    def loop(client: Client) -> None:
        while time.monotonic() < deadline and take():
            client.step()

    with MemoryWatch(server_pids) as memory:
        started = time.perf_counter()
        threads = [threading.Thread(target=loop, args=(c,)) for c in workers]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - started
    verified, lost = 0, []
    for client in workers:
        count, missing = client.verify()
        verified += count
        lost += missing
        client.http.close()
    return Report(elapsed, clients, stats, memory.figures(), verified, lost)


def markdown(report: Report, title: str) -> str:
    """The report as a markdown table and a memory line."""
    lines = [
        f"### {title}",
        "",
        "| operation | count | errors (status: n) | p50 ms | p99 ms | req/s |",
        "|---|---:|---|---:|---:|---:|",
    ]
    total = Stats()
    for op, s in report.stats.items():
        total.latencies_ms += s.latencies_ms
        total.statuses.update(s.statuses)
        lines.append(_row(op, s, report.seconds))
    lines.append(_row("**all**", total, report.seconds))
    rss = report.rss_mb
    lines += [
        "",
        f"{report.requests:,} requests from {report.clients} clients in {report.seconds:.1f} s; "
        f"server errors (5xx or no answer): {report.server_errors}; acknowledged writes read "
        f"back: {report.verified - len(report.lost)}/{report.verified}. Server RSS (all "
        f"processes): {rss['start']:.0f} MB at start, {rss['peak']:.0f} MB peak, "
        f"{rss['end']:.0f} MB at the end.",
    ]
    return "\n".join(lines) + "\n"


def _row(op: str, s: Stats, seconds: float) -> str:
    errors = ", ".join(f"{k}: {v}" for k, v in sorted(s.errors.items())) or "0"
    rate = len(s.latencies_ms) / seconds if seconds else 0.0
    return (
        f"| {op} | {len(s.latencies_ms):,} | {errors} | {s.percentile(0.5):.1f} "
        f"| {s.percentile(0.99):.1f} | {rate:.1f} |"
    )


# -- a server of its own ------------------------------------------------------------------------
@contextmanager
def demo_server(server_url: str, *, workers: int = 2) -> Iterator[tuple[str, str, int]]:
    """A new database with the demo and an admin key, served by ``craftmap serve``.

    Yields the base URL, the key and the server's pid; drops the database afterwards.
    """
    import psycopg
    import sqlalchemy as sa

    from bench.run import _serve
    from geo.io import ingest
    from geo.store import keys, migrate
    from geo.store.db import make_engine, set_actor
    from ops.cluster import free_port

    name = f"craftmap_load_{uuid.uuid4().hex[:8]}"
    admin = sa.engine.make_url(server_url).set(drivername="postgresql", database="postgres")
    conninfo = admin.render_as_string(hide_password=False)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = sa.engine.make_url(server_url).set(database=name).render_as_string(hide_password=False)
    server = None
    try:
        migrate.upgrade(url)
        engine = make_engine(url, pool_size=1)
        try:
            ingest.load_demo(engine, demo_dir=DEMO_DIR, actor="bench.load")
            with engine.begin() as conn:
                set_actor(conn, "bench.load")
                token, _ = keys.create_key(conn, name="bench.load", role="admin")
        finally:
            engine.dispose()
        port = free_port()
        # Every client writes from 127.0.0.1: the write limit (120 a minute per address)
        # would turn the load into a test of the limiter, which has tests of its own.
        server = _serve(url, port, workers, {"CRAFTMAP_RATE_LIMIT_WRITES": "0"})
        yield f"http://127.0.0.1:{port}", token, server.pid
    finally:
        if server is not None:
            os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main() -> None:
    """``python -m bench.load [--seconds N] [--clients N] [--url URL --key KEY]``."""
    from ops.settings import DatabaseSettings

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=30.0, help="how long to load")
    parser.add_argument("--clients", type=int, default=6, help="concurrent client threads")
    parser.add_argument("--max-requests", type=int, default=100_000, help="stop after this many")
    parser.add_argument("--url", help="a running craftmap on 127.0.0.1 (default: start one)")
    parser.add_argument("--key", help="an admin key of that server (for the writes)")
    parser.add_argument("--database-url", help="that server's database, to create a key")
    parser.add_argument("--workers", type=int, default=2, help="workers of the server started")
    parser.add_argument("--out", type=Path, help="also write the markdown table here")
    args = parser.parse_args()
    title = (
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}: {args.clients} clients, "
        f"{args.seconds:g} s, demo data"
    )
    if args.url:
        port = urlsplit(args.url).port or 80
        key = args.key or _make_key(args.database_url)
        report = run(
            args.url.rstrip("/"),
            key,
            seconds=args.seconds,
            clients=args.clients,
            max_requests=args.max_requests,
            server_pids=lambda: listening_pids(port),
        )
    else:
        settings = DatabaseSettings()
        if settings.uses_private_cluster:
            settings.cluster().start()
        # Creating the load database needs the private cluster's superuser, not the app role.
        with demo_server(settings.admin_url(), workers=args.workers) as (base, key, pid):
            title += f", craftmap serve --workers {args.workers}"
            report = run(
                base,
                key,
                seconds=args.seconds,
                clients=args.clients,
                max_requests=args.max_requests,
                server_pids=lambda: _children(pid),
            )
    text = markdown(report, title)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text, encoding="utf-8")
    if report.server_errors or report.lost:
        for line in report.lost:
            print("LOST:", line)
        raise SystemExit(1)


def _make_key(database_url: str | None) -> str:
    if not database_url:
        raise SystemExit("--url needs --key (an admin key) or --database-url to create one")
    from geo.store import keys
    from geo.store.db import make_engine, set_actor

    engine = make_engine(database_url, pool_size=1)
    try:
        with engine.begin() as conn:
            set_actor(conn, "bench.load")
            return keys.create_key(conn, name="bench.load", role="admin")[0]
    finally:
        engine.dispose()


if __name__ == "__main__":
    main()
