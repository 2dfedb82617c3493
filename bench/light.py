"""(light, issue 17) The light requests, before and after, in one run.

``python -m bench.light --url DB --before DIR`` serves the code checked out in ``DIR``
(e.g. ``git archive <commit> | tar -x -C DIR``) and this checkout side by side on the
same database, each with 2 workers, and measures the light scenarios (small bbox page,
single item, z14 tile) through wrk, alternating the two servers ``--rounds`` times, then
the pgbench floor of each scenario once. The ratios of one run hold on a noisy machine
better than two runs would. Each server's worker memory is read after its last scenario.
"""

from __future__ import annotations

import argparse
import os
import signal
import tempfile
from pathlib import Path

from bench import run
from geo.store.db import make_engine
from ops.cluster import free_port

LIGHT = ("items, small bbox (zones)", "single item (villages)", "MVT z14 cold (zones)")


def main() -> None:
    """Print a markdown table: before and after per scenario, with the floor and ratios."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", required=True, help="a loaded database (your own copy)")
    parser.add_argument("--before", type=Path, required=True, help="the old code's folder")
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--scenario",
        action="append",
        help="a bench.run scenario name (repeatable); default: the three light ones",
    )
    args = parser.parse_args()
    chosen = tuple(args.scenario or LIGHT)
    engine = make_engine(args.url, pool_size=run.CONNECTIONS)
    sides = {"before": args.before.resolve(), "after": None}
    ports = {name: free_port() for name in sides}
    servers = {
        name: run._serve(args.url, ports[name], 2, source=src)  # noqa: SLF001
        for name, src in sides.items()
    }
    bases = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
    measured: dict[tuple[str, str], list[run.Measure]] = {}
    floors: dict[str, run.Measure] = {}
    memory: dict[str, run.WorkerMemory] = {}
    try:
        workload = [s for s in run.scenarios(engine, "") if s.name in chosen]
        for _ in range(args.rounds):
            for scenario in workload:
                for name, base in bases.items():
                    with tempfile.TemporaryDirectory() as folder:
                        urls = [base + url for url in scenario.urls]
                        got = run._http(base, urls, args.seconds, Path(folder))  # noqa: SLF001
                    measured.setdefault((scenario.name, name), []).append(got)
        for name, server in servers.items():
            memory[name] = run.worker_memory(server.pid)
        for scenario in workload:
            with tempfile.TemporaryDirectory() as folder:
                floors[scenario.name] = run._direct(  # noqa: SLF001
                    engine, scenario.statements, args.seconds, Path(folder)
                )
    finally:
        for server in servers.values():
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)
        engine.dispose()
    print(  # noqa: T201
        "| scenario | side | req/s (best of rounds) | req/s (median) | p50 ms | p99 ms "
        "| p99/p50 | SQL/s floor | ratio (median) |\n|---|---|---:|---:|---:|---:|---:|---:|---:|"
    )
    for scenario in workload:
        floor = floors[scenario.name].rate
        for name in sides:
            runs = sorted(measured[(scenario.name, name)], key=lambda m: m.rate)
            middle = runs[len(runs) // 2]
            # The tile cache is on in the new code (tiles repeat, so they come from it after
            # their first request) and does not exist in the old: say so beside the figure.
            side = f"{name} (tile cache)" if name == "after" and "MVT" in scenario.name else name
            print(  # noqa: T201
                f"| {scenario.name} | {side} | {runs[-1].rate:.0f} | {middle.rate:.0f} "
                f"| {middle.p50_ms:.1f} | {middle.p99_ms:.1f} | {run.tail_ratio(middle):.1f}× "
                f"| {floor:.0f} | {middle.rate / floor:.2f} |"
            )
    for name, mem in memory.items():
        print(f"{name}: {mem.line()}", end="")  # noqa: T201


if __name__ == "__main__":
    main()
