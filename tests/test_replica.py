"""Read replicas for real: a streaming hot standby of the test cluster behind ``craftmap serve``.

Where a read went is shown from the servers' side: the replica's replay is paused, so a
row changed on the primary is old on the replica, and which value a client gets says
which server answered it. Then: read-your-writes with the replica provably behind, the
replica crashing and coming back, and reads spread over two replicas.
"""

from __future__ import annotations

import http.cookiejar
import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.engine import make_url

from geo.store.db import make_engine
from geo.store.keys import create_key
from ops.replica import StreamingReplica, start_replica
from ops.settings import DatabaseSettings
from tests.conftest import ROOMY_RATE_LIMIT_ENV, database_with_roles, libpq_conninfo
from tests.live import LiveServer, live_server

pytestmark = [pytest.mark.serial, pytest.mark.slow]

RETRY_SECONDS = 1.0


@pytest.fixture(scope="module")
def urls(pg_server_url: str, role_passwords: dict[str, str]) -> Iterator[dict[str, str]]:
    """A database of this module's own (its tests commit), on the session's cluster."""
    with database_with_roles(pg_server_url, role_passwords, prefix="craftmap_replica") as found:
        yield found


@pytest.fixture(scope="module")
def replicas(pg_server_url: str, urls: dict[str, str]) -> Iterator[list[StreamingReplica]]:
    """Two hot standbys of the session's cluster (made after the module's database)."""
    started: list[StreamingReplica] = []
    try:
        for _ in range(2):
            started.append(start_replica(pg_server_url))
        yield started
    finally:
        for replica in started:
            replica.destroy()


@pytest.fixture(scope="module")
def token(urls: dict[str, str]) -> str:
    """An admin's key (villages are written by admins), committed on the primary."""
    engine = make_engine(urls["app"])
    with engine.begin() as conn:
        found = create_key(conn, name="replica admin", role="admin")[0]
    engine.dispose()
    return found


def _serve(
    urls: dict[str, str], replicas: list[StreamingReplica], log_dir: Path
) -> Iterator[LiveServer]:
    env = {
        **ROOMY_RATE_LIMIT_ENV,
        "READ_DATABASE_URL": ",".join(r.url(urls["app"]) for r in replicas),
        "CRAFTMAP_READ_DATABASE_RETRY_SECONDS": str(RETRY_SECONDS),
    }
    with live_server(urls["app"], log_dir, env=env) as server:
        yield server


@pytest.fixture(scope="module")
def server(
    urls: dict[str, str],
    replicas: list[StreamingReplica],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[LiveServer]:
    """``craftmap serve``: DATABASE_URL the primary, READ_DATABASE_URL the first replica."""
    yield from _serve(urls, replicas[:1], tmp_path_factory.mktemp("replica"))


def _village(urls: dict[str, str]) -> str:
    with psycopg.connect(libpq_conninfo(urls["admin"])) as conn:
        row = conn.execute("SELECT id FROM craft_village ORDER BY id LIMIT 1").fetchone()
    assert row is not None
    return str(row[0])


def _name_on(url: str, village: str) -> str:
    """The village's name as that server has it (primary or replica)."""
    with psycopg.connect(libpq_conninfo(url), autocommit=True) as conn:
        row = conn.execute("SELECT name FROM craft_village WHERE id = %s", (village,)).fetchone()
    assert row is not None
    return str(row[0])


def _rename_on_primary(urls: dict[str, str], village: str, name: str) -> None:
    """A write made with psql-like access, not through the app."""
    with psycopg.connect(libpq_conninfo(urls["admin"]), autocommit=True) as conn:
        conn.execute("UPDATE craft_village SET name = %s WHERE id = %s", (name, village))


def _lower(items: object) -> dict[str, str]:
    return {k.lower(): v for k, v in items}  # type: ignore[attr-defined]


class Client:
    """One browser-like client: it keeps the cookies the server sets."""

    def __init__(self, server: LiveServer) -> None:
        self.server = server
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(
            urllib.request.ProxyHandler({}), urllib.request.HTTPCookieProcessor(self.jar)
        )

    def send(
        self, path: str, *, method: str = "GET", body: object = None, headers: dict[str, str]
    ) -> tuple[int, dict[str, str], bytes]:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(
            self.server.url + path, data=data, method=method, headers=headers
        )
        try:
            with self.opener.open(req, timeout=30) as answer:
                return answer.status, _lower(answer.headers.items()), answer.read()
        except urllib.error.HTTPError as err:
            return err.code, _lower(err.headers.items()), err.read()

    def name(self, village: str, headers: dict[str, str] | None = None) -> str:
        status, _, body = self.send(f"/collections/villages/items/{village}", headers=headers or {})
        assert status == 200, body[:500]
        return str(json.loads(body)["properties"]["name"])

    def text(self, path: str) -> str:
        """A JSON answer's content as text (non-ASCII unescaped)."""
        status, _, body = self.send(path, headers={})
        assert status == 200, body[:500]
        return json.dumps(json.loads(body), ensure_ascii=False)

    def rename(self, village: str, name: str, token: str) -> dict[str, str]:
        status, headers, body = self.send(
            f"/collections/villages/items/{village}",
            method="PATCH",
            body={"properties": {"name": name}},
            headers={
                "Authorization": f"Bearer {token}",
                "Content-Type": "application/merge-patch+json",
            },
        )
        assert status == 200, body[:500]
        return headers


def _eventually(check: object, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, "not within the time allowed"
        time.sleep(0.2)


def test_reads_go_to_the_replica_writes_to_the_primary_and_a_writer_reads_its_write(
    server: LiveServer,
    replicas: list[StreamingReplica],
    urls: dict[str, str],
    token: str,
) -> None:
    replica = replicas[0]
    village = _village(urls)
    replica.wait_for_catch_up()
    old = _name_on(urls["admin"], village)
    writer, other = Client(server), Client(server)
    assert other.name(village) == old

    replica.pause_replay()
    try:
        headers = writer.rename(village, "Làng đã đổi tên", token)
        # The write went to the primary (the standby is read-only and paused anyway).
        assert _name_on(urls["admin"], village) == "Làng đã đổi tên"
        assert _name_on(replica.url(urls["admin"]), village) == old
        lsn = headers["craftmap-lsn"]
        cookie = headers["set-cookie"]
        assert cookie.startswith(f"craftmap-lsn={lsn};")
        for part in ("HttpOnly", "SameSite=Lax", "Max-Age=30", "Path=/"):
            assert part in cookie

        # Another client (no token) reads from the replica: the old name proves it.
        assert other.name(village) == old
        # The writer's read right after its write is not stale: the cookie sends it to
        # the primary while the replica is behind; the header alone does the same.
        assert writer.name(village) == "Làng đã đổi tên"
        assert other.name(village, {"Craftmap-LSN": lsn}) == "Làng đã đổi tên"
        # The same through a route on a session (the feature's history).
        history = f"/collections/villages/items/{village}/history"
        assert "Làng đã đổi tên" in writer.text(history)
        assert "Làng đã đổi tên" not in other.text(history)
        # A token that is not an LSN is ignored (never SQL): a plain replica read.
        assert other.name(village, {"Craftmap-LSN": "0/0'; SELECT 1 --"}) == old
        # The replica's own view: the app's read connections are there.
        with psycopg.connect(libpq_conninfo(replica.url(urls["admin"]))) as conn:
            row = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'craftmap-read'"
            ).fetchone()
        assert row is not None and row[0] >= 1
    finally:
        replica.resume_replay()

    replica.wait_for_catch_up()
    assert other.name(village) == "Làng đã đổi tên"
    # Once the replica has replayed the writer's write, its reads go back there: with
    # replay paused again, a change made on the primary since is not seen through it.
    replica.pause_replay()
    try:
        _rename_on_primary(urls, village, "Làng sau đó")
        assert writer.name(village) == "Làng đã đổi tên"
    finally:
        replica.resume_replay()
    replica.wait_for_catch_up()


def test_reads_keep_being_answered_when_the_replica_stops(
    server: LiveServer,
    replicas: list[StreamingReplica],
    urls: dict[str, str],
    token: str,
) -> None:
    replica = replicas[0]
    village = _village(urls)
    client = Client(server)
    assert client.name(village)  # the pool holds replica connections now

    replica.stop("immediate")
    try:
        for _ in range(5):
            status, _, body = client.send("/collections/villages/items", headers={})
            assert status == 200, body[:300]
        client.rename(village, "Làng khi bản sao tắt", token)
        assert Client(server).name(village) == "Làng khi bản sao tắt"
        assert "read replica" in server.log() and "unreachable" in server.log()
    finally:
        replica.start()
    replica.wait_for_catch_up()

    # Back: once the retry time has passed, reads go to it again (shown by pausing it).
    replica.pause_replay()
    try:
        _rename_on_primary(urls, village, "Làng chỉ trên máy chính")
        _eventually(lambda: Client(server).name(village) == "Làng khi bản sao tắt")
    finally:
        replica.resume_replay()
    replica.wait_for_catch_up()


def _ready_replicas(server: LiveServer) -> list[dict[str, object]]:
    status, _, body = Client(server).send("/ready", headers={})
    assert status == 200, body[:300]
    found: list[dict[str, object]] = json.loads(body)["read_replicas"]
    return found


def test_ready_reports_each_replica_and_its_lag(
    server: LiveServer, replicas: list[StreamingReplica], urls: dict[str, str]
) -> None:
    replica = replicas[0]
    village = _village(urls)
    replica.wait_for_catch_up()
    (caught_up,) = _ready_replicas(server)
    # Background WAL (checkpoints) may sit between the primary's position and the replay.
    assert caught_up["state"] == "up" and 0 <= int(str(caught_up["lag_bytes"])) < 65536
    # A write it has not replayed: the primary is ahead by that many bytes of WAL.
    replica.pause_replay()
    try:
        _rename_on_primary(urls, village, "Làng chờ bản sao")
        (behind,) = _ready_replicas(server)
        assert behind["state"] == "up", behind
        assert int(str(behind["lag_bytes"])) > int(str(caught_up["lag_bytes"])), behind
    finally:
        replica.resume_replay()
    replica.wait_for_catch_up()
    # Stopped: /ready still answers 200 (the primary serves the reads) and says so.
    replica.stop("immediate")
    try:
        assert _ready_replicas(server) == [{"replica": 1, "state": "down"}]
    finally:
        replica.start()
    replica.wait_for_catch_up()
    _eventually(lambda: _ready_replicas(server)[0]["state"] == "up")


def test_reads_are_spread_over_two_replicas_and_a_down_one_is_skipped(
    replicas: list[StreamingReplica],
    urls: dict[str, str],
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    first, second = replicas
    village = _village(urls)
    for replica in replicas:
        replica.wait_for_catch_up()
    old = _name_on(urls["admin"], village)
    for server in _serve(urls, replicas, tmp_path_factory.mktemp("two")):
        # Only the second replica replays the change: which name a read gets says where
        # it went.
        first.pause_replay()
        try:
            _rename_on_primary(urls, village, "Làng trên bản sao hai")
            second.wait_for_catch_up()
            seen = [Client(server).name(village) for _ in range(8)]
            assert set(seen) == {old, "Làng trên bản sao hai"}, seen
            # The second one goes away: every read is answered, by the first (old name).
            second.stop("immediate")
            try:
                seen = [Client(server).name(village) for _ in range(6)]
                assert set(seen) == {old}, seen
            finally:
                second.start()
        finally:
            first.resume_replay()
        for replica in replicas:
            replica.wait_for_catch_up()


@pytest.mark.parametrize(
    "given",
    [
        "postgresql://a@h1/db,postgres://b@h2/db",
        '["postgresql://a@h1/db", "postgres://b@h2/db"]',
        " postgresql://a@h1/db , postgres://b@h2/db ,",
    ],
)
def test_several_read_urls_are_read_from_a_list_or_json(given: str) -> None:
    settings = DatabaseSettings(read_database_url=given)
    assert settings.read_urls() == [
        "postgresql+psycopg://a@h1/db",
        "postgresql+psycopg://b@h2/db",
    ]
    assert DatabaseSettings(read_database_url="").read_urls() == []
    assert make_url(DatabaseSettings(read_database_url="postgresql://x@h/d").read_urls()[0])
