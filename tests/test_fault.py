"""Issue 9, point 5: the database dies mid-run and comes back.

A cluster of this test's own (stopping the shared one would break other tests), a real
``craftmap serve`` with two workers, a writer that keeps creating features with a key.
PostgreSQL is killed the hard way (immediate shutdown: SIGQUIT to the postmaster, as
``pg_ctl stop -m immediate`` does), then started again. While it is down every answer
must be 503 with Retry-After; afterwards the service must recover by itself, and every
write it acknowledged (201) must be in the database.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from ops.cluster import LocalCluster
from tests.conftest import ROOMY_RATE_LIMIT_ENV, libpq_conninfo, migrate_with_demo
from tests.factories import TWO_STOPS, make_key, make_route, make_zone, zone_feature
from tests.live import Answer, LiveServer, live_server

ITEMS = "/collections/material-zones/items"
# Tile 8/113/203 of WebMercatorQuad covers most of Thanh Hóa.
TILE = "WebMercatorQuad/8/113/203"


def _zone(code: str) -> bytes:
    return json.dumps(zone_feature(code=code, name="Vùng cói thử sự cố")).encode()


@dataclass
class Write:
    code: str
    status: int  # 0: no answer at all
    retry_after: str | None
    started: float


class Writer(threading.Thread):
    """Creates zones one after another until stopped; remembers every answer."""

    def __init__(self, server: LiveServer, token: str) -> None:
        super().__init__(daemon=True)
        self.server = server
        self.token = token
        self.stop = threading.Event()
        self.writes: list[Write] = []

    def run(self) -> None:
        n = 0
        while not self.stop.is_set():
            n += 1
            code = f"T-FAULT-{n}"
            started = time.monotonic()
            try:
                answer = self.server.request(
                    ITEMS,
                    method="POST",
                    body=_zone(code),
                    headers={
                        "Authorization": f"Bearer {self.token}",
                        "Content-Type": "application/geo+json",
                    },
                    timeout=15,
                )
                status, retry = answer.status, _header(answer, "retry-after")
            except OSError:
                status, retry = 0, None
            self.writes.append(Write(code, status, retry, started))
            time.sleep(0.02)


def _header(answer: Answer, name: str) -> str | None:
    return next((v for k, v in answer.headers.items() if k.lower() == name), None)


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[LocalCluster]:
    """A durable cluster (default fsync and synchronous_commit): what production runs."""
    own = LocalCluster(tmp_path / "fault")
    own.start()
    url = own.url()
    migrate_with_demo(url)
    yield own
    own.destroy()


@pytest.fixture
def served(cluster: LocalCluster, tmp_path: Path) -> Iterator[LiveServer]:
    """``craftmap serve --workers 2`` on that cluster, started in the set-up, outside the
    test's serial turn (starting it measures nothing)."""
    # Hundreds of writes from one key: the rate limits are not what is tested here.
    env = {"CRAFTMAP_BASEMAP_URL": "none", **ROOMY_RATE_LIMIT_ENV}
    with live_server(cluster.url(), tmp_path, workers=2, env=env) as server:
        yield server


def _kill_immediately(cluster: LocalCluster) -> None:
    data_dir = cluster.status().data_dir
    assert data_dir is not None
    pid = int(Path(data_dir, "postmaster.pid").read_text().splitlines()[0])
    os.kill(pid, signal.SIGQUIT)  # immediate shutdown: no checkpoint, backends killed
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    raise AssertionError("PostgreSQL did not stop")


def _endpoints(zone_id: int, route_id: int) -> list[tuple[str, bool]]:
    """(path, is an HTML page) for every kind of endpoint."""
    return [
        (f"{ITEMS}?limit=5", False),
        (f"{ITEMS}?limit=2000", False),  # the streamed path
        (f"{ITEMS}/{zone_id}", False),
        (f"{ITEMS}/{zone_id}?f=html", True),
        (f"{ITEMS}?f=html&limit=5", True),
        ("/collections", False),
        ("/collections/material-zones", False),
        ("/collections?f=html", True),
        ("/", False),
        (f"/collections/material-zones/tiles/{TILE}", False),
        (f"/tiles/{TILE}", False),
        ("/maps?lang=en", True),
        ("/maps/edit", True),
        (f"/maps/routes/{route_id}", True),
        (f"{ITEMS}/{zone_id}/history", False),
        ("/ready", False),
    ]


def _probe(server: LiveServer, endpoints: list[tuple[str, bool]]) -> list[tuple[str, Answer]]:
    answers = []
    for path, html in endpoints:
        headers = {"Accept": "text/html"} if html else {"Accept": "application/json"}
        try:
            answers.append((path, server.request(path, headers=headers, timeout=15)))
        except OSError as exc:
            answers.append((path, Answer(0, {}, str(exc).encode())))
    return answers


@pytest.mark.serial
def test_database_outage_is_503_then_recovers_and_loses_no_acknowledged_write(
    cluster: LocalCluster, served: LiveServer
) -> None:
    url = cluster.url()
    token = make_key(url, "planner", "fault test")
    endpoints = _endpoints(make_zone(url), make_route(url, stops=TWO_STOPS))
    server = served
    before = _probe(server, endpoints)
    assert [(p, a.status) for p, a in before if a.status not in {200, 204}] == []
    writer = Writer(server, token)
    writer.start()
    time.sleep(1.5)

    _kill_immediately(cluster)
    down_at = time.monotonic()
    down_answers: list[tuple[str, Answer]] = []
    while time.monotonic() - down_at < 3:
        down_answers += _probe(server, endpoints)

    cluster.start()
    up_at = time.monotonic()
    # No waiting: the pooled connections of both workers died with the server, and
    # not even the first request after its return may fail for it.
    after = _probe(server, endpoints) + _probe(server, endpoints)
    recovered_after = time.monotonic() - up_at
    time.sleep(1.0)
    writer.stop.set()
    writer.join(timeout=30)

    # A restart nobody noticed: no request while it was down, so the pools of both
    # workers still hold the dead connections. Not one request may fail for them.
    warm = _probe(server, endpoints) + _probe(server, endpoints)
    _kill_immediately(cluster)
    cluster.start()
    unnoticed = _probe(server, endpoints) + _probe(server, endpoints)
    assert server.alive()
    log = server.log()

    print(
        f"down {len(down_answers)} probes; two rounds of probes {recovered_after:.2f} s; "
        f"writes: {len(writer.writes)}, statuses "
        f"{sorted({w.status for w in writer.writes})}"
    )
    # While down: 503, Retry-After, a problem (HTML pages get it as HTML), never a 500.
    wrong = [
        (path, answer.status, answer.body[:200])
        for path, answer in down_answers
        if answer.status != 503 or _header(answer, "retry-after") is None
    ]
    assert wrong == []
    for path, answer in down_answers:
        kind = _header(answer, "content-type") or ""
        if "f=html" in path or path.startswith("/maps"):
            assert kind.startswith("text/html"), (path, kind)
        else:
            assert kind == "application/problem+json", (path, kind)
            assert json.loads(answer.body)["status"] == 503
    # Back by itself, without a restart, from the first request on.
    assert [(p, a.status) for p, a in after if a.status not in {200, 204}] == []
    assert recovered_after < 5, recovered_after

    assert [(p, a.status) for p, a in warm + unnoticed if a.status not in {200, 204}] == []

    statuses = {w.status for w in writer.writes}
    assert 500 not in statuses and statuses <= {201, 503}, statuses
    assert all(w.retry_after for w in writer.writes if w.status == 503)
    acknowledged = [w.code for w in writer.writes if w.status == 201]
    refused = [w for w in writer.writes if w.status == 503]
    assert acknowledged and refused, "the writer must have seen both the outage and success"
    later = [w.status for w in writer.writes if w.started > up_at]
    assert later and set(later) == {201}, f"writes after the database returned: {later}"
    with psycopg.connect(libpq_conninfo(url)) as conn:
        stored = {
            row[0]
            for row in conn.execute(
                "SELECT code FROM material_zone WHERE code = ANY(%s)", (acknowledged,)
            )
        }
        logged = conn.execute(
            "SELECT count(*) FROM feature_history WHERE table_name = 'material_zone' "
            "AND action = 'create' AND after->>'code' = ANY(%s)",
            (acknowledged,),
        ).fetchone()[0]  # type: ignore[index]
    assert set(acknowledged) - stored == set(), "acknowledged writes were lost"
    assert logged == len(acknowledged), "acknowledged writes are missing from the history"
    assert '"status": 500' not in log
