"""Read throughput with no, one and two streaming replicas (issue 17, point 4).

``python -m bench.replica --dump FILE`` (a ``pg_dump -Fc`` of a loaded benchmark database,
e.g. the national one) or ``python -m bench.replica --tiny`` (a generated few hundred
features) starts a private cluster of its own in a temporary folder, loads the data, starts
two hot standbys of it (`ops.replica.start_replica`), then serves ``craftmap serve
--workers 2`` with ``READ_DATABASE_URL`` naming none, one and then both replicas, and drives
the light read scenarios of `bench.run` (a small bbox page, a single item) with wrk. The
primary and the replicas run on the same machine as the server and wrk, so this measures
the routing's cost and correctness under load, not what more machines would add.
Everything it started is stopped and removed at the end.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import signal
import statistics
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import psycopg
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bench import generate
from bench.run import CONNECTIONS, Measure, _http, _serve, prepare, scenarios
from geo.store import migrate
from geo.store.db import make_engine
from ops.cluster import LocalCluster, find_pg_binaries, free_port
from ops.replica import StreamingReplica, start_replica

LIGHT = ("items, small bbox (zones)", "single item (villages)")
DATABASE = "craftmap_bench_replica"


@dataclass
class Row:
    """One scenario with a number of read databases."""

    replicas: int
    scenario: str
    http: Measure


def _restore(cluster: LocalCluster, dump: Path) -> str:
    """A database on ``cluster`` restored from ``dump``; its (superuser) URL."""
    admin = sa.engine.make_url(cluster.url("postgres")).set(drivername="postgresql")
    with psycopg.connect(admin.render_as_string(hide_password=False), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{DATABASE}"')
    url = cluster.url(DATABASE)
    libpq = sa.engine.make_url(url).set(drivername="postgresql")
    subprocess.run(
        [
            str(find_pg_binaries().bindir / "pg_restore"),
            "--no-owner",
            "--no-privileges",
            "--jobs=2",
            "-d",
            libpq.render_as_string(hide_password=False),
            str(dump),
        ],
        check=True,
    )
    migrate.upgrade(url)  # a no-op when the dump is at this code's head
    with psycopg.connect(libpq.render_as_string(hide_password=False), autocommit=True) as conn:
        conn.execute("ANALYZE")
    return url


def measure(url: str, replicas: list[StreamingReplica], seconds: float, rounds: int) -> list[Row]:
    """The light scenarios against ``craftmap serve --workers 2`` with 0..n replicas.

    The set-ups take turns, ``rounds`` times, so that a noisy neighbour on the machine
    falls on all of them rather than on one.
    """
    engine = make_engine(url, pool_size=2)
    rows: list[Row] = []
    try:
        for turn in range(rounds):
            for count in range(len(replicas) + 1):
                rows += _one_setup(engine, url, replicas[:count], seconds, turn)
    finally:
        engine.dispose()
    return rows


def _one_setup(
    engine: Engine, url: str, replicas: list[StreamingReplica], seconds: float, turn: int
) -> list[Row]:
    port = free_port()
    reads = ",".join(replica.url(url) for replica in replicas)
    server = _serve(url, port, 2, {"READ_DATABASE_URL": reads} if reads else None)
    base = f"http://127.0.0.1:{port}"
    rows = []
    try:
        chosen = [s for s in scenarios(engine, base) if s.name in LIGHT]
        for n, scenario in enumerate(chosen):
            with tempfile.TemporaryDirectory(prefix=f"replica{len(replicas)}-{n}-") as folder:
                _http(base, scenario.urls, 1, Path(folder))  # warm pools and caches
                found = _http(base, scenario.urls, seconds, Path(folder))
            rows.append(Row(len(replicas), scenario.name, found))
            print(  # noqa: T201
                f"round {turn + 1}, {len(replicas)} replicas, {scenario.name}: "
                f"{found.rate:.1f} req/s",
                flush=True,
            )
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
    return rows


def markdown(rows: list[Row], title: str) -> str:
    """Per scenario and number of read databases: the median round, and the range."""
    lines = [
        f"### {title}",
        "",
        "| read databases | scenario | req/s (median) | range over rounds | p50 ms | p99 ms "
        "| errors | vs primary only |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    groups: dict[tuple[int, str], list[Measure]] = {}
    for row in rows:
        groups.setdefault((row.replicas, row.scenario), []).append(row.http)
    alone = {
        name: statistics.median(m.rate for m in found)
        for (count, name), found in groups.items()
        if count == 0
    }
    for (count, name), found in sorted(groups.items()):
        ordered = sorted(found, key=lambda m: m.rate)
        middle = ordered[len(ordered) // 2]
        rate = statistics.median(m.rate for m in found)
        where = "primary only" if count == 0 else f"{count} replica{'s' if count > 1 else ''}"
        lines.append(
            f"| {where} | {name} | {rate:.1f} | {ordered[0].rate:.0f}–{ordered[-1].rate:.0f} "
            f"| {middle.p50_ms:.1f} | {middle.p99_ms:.1f} | {sum(m.errors for m in found)} "
            f"| {rate / alone.get(name, float('nan')):.2f}× |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    """``python -m bench.replica (--dump FILE | --tiny) [--seconds N] [--out FILE]``."""
    parser = argparse.ArgumentParser(description=__doc__)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--dump", type=Path, help="pg_dump -Fc of a loaded benchmark database")
    source.add_argument("--tiny", action="store_true", help="a generated few hundred features")
    parser.add_argument("--replicas", type=int, default=2, help="most read databases to try")
    parser.add_argument("--seconds", type=float, default=5.0, help="per scenario and set-up")
    parser.add_argument("--rounds", type=int, default=3, help="turns of all the set-ups")
    parser.add_argument("--data", type=Path, default=Path(".craftmap/bench-data"))
    parser.add_argument("--out", type=Path, default=Path("bench/results/replica.md"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="craftmap-bench-replica-") as home:
        cluster = LocalCluster(Path(home), server_options={"fsync": "off"})
        cluster.start()
        replicas: list[StreamingReplica] = []
        try:
            if args.dump is not None:
                url = _restore(cluster, args.dump)
            else:
                url = prepare(cluster.url(), args.data / "tiny", generate.TINY)
            for _ in range(args.replicas):
                replicas.append(start_replica(cluster.url()))
            for replica in replicas:
                replica.wait_for_catch_up()
            rows = measure(url, replicas, args.seconds, args.rounds)
        finally:
            for replica in replicas:
                replica.destroy()
            cluster.destroy()
    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    data = args.dump.name if args.dump is not None else "tiny generated data"
    text = markdown(
        rows,
        f"{stamp}: {data}; {CONNECTIONS} connections, 2 workers, {args.seconds:g} s per "
        f"scenario, {args.rounds} rounds; primary and replicas on this {os.cpu_count()}-core "
        "machine",
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    print(text)  # noqa: T201


if __name__ == "__main__":
    main()
