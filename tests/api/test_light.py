"""(light, issue 17) The per-request cost: how workers are started and what they carry.

A live ``craftmap serve`` with two workers: each says at start-up (one log line) which
event loop it runs, how many start-up objects it froze out of the collector's sight and
the malloc arena cap, and the spawned workers' environment carries the cap.
"""

from __future__ import annotations

import contextlib
import gc
import json
import re
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api import logs
from api.deps import get_session
from api.hot import HotReads
from api.main import create_app, freeze_startup_heap
from api.routers import items_read
from api.settings import ApiSettings
from bench import run
from geo.store import db
from geo.store.db import Session
from ops.settings import DatabaseSettings
from tests.conftest import ROOMY_RATE_LIMITS
from tests.factories import make_village, make_zone
from tests.live import LiveServer, live_server


@pytest.fixture(scope="module")
def two_workers(
    database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    with live_server(database_url, tmp_path_factory.mktemp("light"), workers=2) as server:
        yield server


def _ready_lines(server: LiveServer, workers: int = 1) -> list[dict[str, object]]:
    """The ``worker ready`` lines, once ``workers`` processes wrote one (or after 120 s).

    The server answers as soon as its first worker is up; the second may still import.
    """
    deadline = time.monotonic() + 120
    while True:
        lines = [json.loads(x) for x in server.log().splitlines() if x.startswith("{")]
        ready = [x for x in lines if x.get("message") == "worker ready"]
        if len({x["pid"] for x in ready}) >= workers or time.monotonic() > deadline:
            return ready
        time.sleep(0.5)


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
    ready = _ready_lines(two_workers, workers=2)
    assert len({line["pid"] for line in ready}) == 2, two_workers.log()[-2000:]
    for line in ready:
        assert line["loop"] == "uvloop"
        # Hundreds of thousands of start-up objects (imports, the app) are frozen.
        assert isinstance(line["gc_frozen"], int) and line["gc_frozen"] > 100_000
        assert line["malloc_arena_max"] == "2"


def test_spawned_workers_start_with_the_malloc_arena_cap(two_workers: LiveServer) -> None:
    _ready_lines(two_workers, workers=2)
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


# -- the hot reads (api/hot.py): the same answers as FastAPI's routes ---------------------
@pytest.fixture
def both(database_url: str, session: Session) -> Iterator[tuple[TestClient, TestClient]]:
    """Two apps on the test's session: hot reads on, and off (FastAPI's router)."""
    clients = []
    with contextlib.ExitStack() as stack:
        for hot in (True, False):
            app = create_app(
                ApiSettings(
                    **ROOMY_RATE_LIMITS,
                    hot_reads=hot,
                    express_reads=False,  # api/express.py has tests/api/test_express.py
                    cors_origins=["https://a.example"],
                ),
                DatabaseSettings(database_url=database_url),
            )
            app.dependency_overrides[get_session] = lambda: session
            app.state.read_connection_override = session.connection
            clients.append(stack.enter_context(TestClient(app)))
        yield clients[0], clients[1]


def _comparable(answer: Any) -> tuple[int, list[tuple[str, str]], bytes]:
    headers = [(k, v) for k, v in answer.headers.multi_items() if k != "x-request-id"]
    nonce = re.search(r"'nonce-([^']+)'", answer.headers.get("content-security-policy", ""))
    body = answer.content
    if nonce:  # a fresh nonce per request, in the policy and in the page's scripts
        headers = [(k, v.replace(nonce.group(1), "N")) for k, v in headers]
        body = body.replace(nonce.group(1).encode(), b"N")
    return answer.status_code, headers, body


def test_hot_reads_answer_exactly_as_the_fastapi_routes(
    both: tuple[TestClient, TestClient], session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    hot, routed = both
    village = make_village(session, name="Làng gốm Bát Tràng")
    make_zone(session, name="Vùng cói <Nga Sơn>")
    session.flush()
    item = f"/collections/villages/items/{village}"
    tag = routed.get(item).headers["etag"]
    cases: list[tuple[str, str, dict[str, str]]] = [
        ("GET", item, {}),
        ("GET", item, {"Origin": "https://a.example", "Accept-Encoding": "gzip"}),
        ("GET", f"{item}?crs=http://www.opengis.net/def/crs/EPSG/0/4326", {}),
        ("GET", f"{item}?crs=EPSG:9999", {}),  # 400 problem+json
        ("GET", f"{item}?colour=red", {}),  # unknown parameter: 400
        ("GET", item, {"If-None-Match": tag}),  # 304
        ("GET", item, {"If-None-Match": "*"}),
        ("HEAD", item, {}),
        ("HEAD", item, {"If-None-Match": tag}),
        ("GET", item, {"Accept": "text/html", "Accept-Language": "vi"}),
        ("GET", f"{item}?f=html&lang=en", {}),
        ("GET", "/collections/villages/items/999999999", {}),  # 404
        ("GET", "/collections/villages/items/abc", {}),  # 404: not an id
        ("GET", "/collections/no-such/items/1", {}),  # 404: no collection
        ("GET", "/collections/villages/items", {}),
        ("GET", "/collections/villages/items?limit=1&offset=0", {"Accept-Encoding": "gzip"}),
        ("GET", "/collections/material-zones/items?limit=5&bbox=105,19,107,21", {}),
        ("GET", "/collections/material-zones/items?bbox=1,2,3", {}),  # 400
        ("GET", "/collections/villages/items?limit=2000", {}),  # streamed
        ("HEAD", "/collections/villages/items?limit=2000", {}),
        ("GET", "/collections/villages/items?f=html", {"Accept-Language": "en"}),
        ("OPTIONS", item, {"Origin": "https://a.example", "Access-Control-Request-Method": "GET"}),
    ]
    taken = []
    real = HotReads._answer

    async def counting(self: HotReads, *args: Any) -> None:
        taken.append(args[2]["path"])
        await real(self, *args)

    monkeypatch.setattr(HotReads, "_answer", counting)
    for method, path, headers in cases:
        before = len(taken)
        expected = _comparable(routed.request(method, path, headers=headers))
        assert len(taken) == before, "the routed app took the hot path"
        got = _comparable(hot.request(method, path, headers=headers))
        assert got == expected, (method, path, headers)
    # Every GET and HEAD of an item or an items page went the hot way (HEAD runs as GET).
    hot_cases = [c for c in cases if c[0] != "OPTIONS"]
    assert len(taken) == len(hot_cases)


# -- the benchmark's new columns (bench/run.py) -------------------------------------------
def test_the_bench_reads_each_workers_memory(two_workers: LiveServer) -> None:
    _ready_lines(two_workers, workers=2)
    memory = run.worker_memory(two_workers.process.pid)
    assert len(memory.rss_mb) == 2  # the workers, not the supervisor or resource tracker
    assert all(0 < rss <= hwm for rss, hwm in zip(memory.rss_mb, memory.hwm_mb, strict=True))
    assert "VmRSS sum" in memory.line() and "VmHWM max" in memory.line()


def test_the_bench_table_has_a_tail_column() -> None:
    result = run.Result("single item (villages)", run.Measure(100, 1.0, 4.0, 30.0), run.Measure())
    table = run.markdown([result], "t")
    assert "| p99/p50 |" in table and "| 7.5× |" in table


# -- the access log: plain queries are not re-read ----------------------------------------
def test_a_query_without_credentials_is_logged_as_it_came() -> None:
    plain = "limit=100&bbox=106.79062,13.12626,106.85062,13.18626&crs=EPSG:4326"
    assert logs.redact_query(plain) is plain  # no split, no decoding, no join
    # Whatever could hold a credential still gets the full reading.
    for query, logged in [
        ("f=json&API_KEY=s3cr3t", "f=json&API_KEY=[redacted]"),
        ("a=1& token =abc", "a=1& token =[redacted]"),
        ("q=cm_ab12cd34_s3cr3t&x=1", "q=cm_ab12cd34_[redacted]&x=1"),
        ("ke%79=hidden", "ke%79=[redacted]"),
        ("to+ken=1&password=p", "to+ken=1&password=[redacted]"),
        ("keys=1&monkey=2", "keys=1&monkey=2"),
    ]:
        assert logs.redact_query(query) == logged, query


def test_hot_reads_run_on_their_own_threads_with_the_requests_context(
    client: TestClient, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    village = make_village(session)
    session.flush()
    seen: list[tuple[str, bool]] = []
    real = items_read.get_item

    def spying(*args: Any) -> Any:
        # The request's statement canceller (a context variable) came along.
        seen.append((threading.current_thread().name, db._CANCELLER.get() is not None))
        return real(*args)

    monkeypatch.setattr(items_read, "get_item", spying)
    assert client.get(f"/collections/villages/items/{village}").status_code == 200
    assert len(seen) == 1 and seen[0][0].startswith("hot-read") and seen[0][1]
