"""(light, issue 17) The per-request cost: how workers are started and what they carry.

A live ``craftmap serve`` with two workers: each says at start-up (one log line) which
event loop it runs, how many start-up objects it froze out of the collector's sight and
the malloc arena cap, and the spawned workers' environment carries the cap.
"""

from __future__ import annotations

import gc
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from api.main import freeze_startup_heap
from tests.live import LiveServer, live_server


@pytest.fixture(scope="module")
def two_workers(
    database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    with live_server(database_url, tmp_path_factory.mktemp("light"), workers=2) as server:
        yield server


def _ready_lines(server: LiveServer) -> list[dict[str, object]]:
    lines = [json.loads(x) for x in server.log().splitlines() if x.startswith("{")]
    return [x for x in lines if x.get("message") == "worker ready"]


def _workers(server: LiveServer) -> list[int]:
    out = subprocess.run(
        ["ps", "-o", "pid=", "--ppid", str(server.process.pid)],
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    pids = [int(p) for p in out.split()]
    # uvicorn's supervisor also starts multiprocessing's resource tracker: keep the workers.
    return [p for p in pids if "spawn_main" in Path(f"/proc/{p}/cmdline").read_text()]


def test_each_worker_runs_uvloop_with_a_frozen_heap(two_workers: LiveServer) -> None:
    assert two_workers.request("/health").status == 200
    ready = _ready_lines(two_workers)
    assert len({line["pid"] for line in ready}) == 2, two_workers.log()[-2000:]
    for line in ready:
        assert line["loop"] == "uvloop"
        # Hundreds of thousands of start-up objects (imports, the app) are frozen.
        assert isinstance(line["gc_frozen"], int) and line["gc_frozen"] > 100_000
        assert line["malloc_arena_max"] == "2"


def test_spawned_workers_start_with_the_malloc_arena_cap(two_workers: LiveServer) -> None:
    workers = _workers(two_workers)
    assert len(workers) == 2
    for pid in workers:
        environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        assert b"MALLOC_ARENA_MAX=2" in environ


def test_the_single_worker_server_reports_it_too(live: LiveServer) -> None:
    # One worker runs inside the serving process: the cap is applied there by mallopt.
    ready = _ready_lines(live)
    assert ready and ready[-1]["malloc_arena_max"] == "2" and ready[-1]["loop"] == "uvloop"


def test_freezing_moves_the_live_heap_out_of_the_collector() -> None:
    threshold = gc.get_threshold()
    try:
        frozen = freeze_startup_heap(7_000)
        assert frozen == gc.get_freeze_count() > 0
        assert gc.get_threshold()[0] == 7_000
    finally:
        gc.unfreeze()
        gc.set_threshold(*threshold)
