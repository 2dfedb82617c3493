"""Issue 9, point 7: keys and roles.

Rate limits shared by worker processes, failed authentications in the log, no secret in
the access log, last use of keys, actor names only for key holders. The rate-limit tests
run a real ``craftmap serve --workers 2`` on a database of their own, and send from
addresses of their own (any 127.x.y.z reaches a server on 127.0.0.1), so that counts of
other tests never mix in.
"""

from __future__ import annotations

import http.client
import json
import random
import subprocess
import time
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from geo.store.db import make_engine
from geo.store.keys import revoke_key
from ops.settings import DatabaseSettings
from tests.api.conftest import bearer
from tests.api.test_write import ZONE
from tests.conftest import (
    database_with_roles,
    libpq_conninfo,
)
from tests.factories import make_key, make_village, village_feature
from tests.live import CRAFTMAP, LiveServer, live_server

LIMIT = 3
WINDOW_S = 86_400
LOW_LIMITS = {
    "CRAFTMAP_RATE_LIMIT_WRITES": str(LIMIT),
    "CRAFTMAP_RATE_LIMIT_FAILED_AUTH": str(LIMIT),
    # A day-long window (the most the settings allow): a test straddles a window's end, and
    # _not_near_window_end sleeps up to a minute, once in 1,440 runs, not once in 60.
    "CRAFTMAP_RATE_LIMIT_WINDOW_S": str(WINDOW_S),
}


def village(code: str) -> dict[str, Any]:
    """A valid new village."""
    return village_feature(code=code, name="Làng thử giới hạn")


def _address() -> str:
    """A loopback address of this test's own."""
    return f"127.{random.randint(1, 254)}.{random.randint(0, 255)}.{random.randint(1, 254)}"


def _fake_token(prefix: str | None = None) -> str:
    return f"cm_{prefix or uuid.uuid4().hex[:8]}_{uuid.uuid4().hex}{uuid.uuid4().hex}"


def send(
    server: LiveServer,
    path: str,
    *,
    source: str,
    method: str = "GET",
    body: Any = None,
    token: str | None = None,
) -> tuple[int, dict[str, str], bytes]:
    """One request from the loopback address ``source`` (a new connection each time)."""
    host, port = server.url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=30, source_address=(source, 0))
    headers = {"Content-Type": "application/geo+json"} if body is not None else {}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    try:
        conn.request(method, path, body=None if body is None else json.dumps(body), headers=headers)
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        conn.close()


def _not_near_window_end() -> None:
    left = WINDOW_S - time.time() % WINDOW_S
    if left < 60:
        time.sleep(left + 1)


@pytest.fixture(scope="module")
def own_database(pg_server_url: str, role_passwords: dict[str, str]) -> Iterator[dict[str, str]]:
    """A database of this module's own, set up like the private cluster's."""
    with database_with_roles(pg_server_url, role_passwords, "craftmap_keys") as urls:
        yield urls


@pytest.fixture(scope="module")
def limited(
    own_database: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    """``craftmap serve --workers 2`` as the app role, with low limits."""
    with live_server(
        own_database["app"], tmp_path_factory.mktemp("limited"), workers=2, env=LOW_LIMITS
    ) as server:
        yield server


def _count(url: str, sql: str, **params: Any) -> Any:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(sa.text(sql), params).scalar()
    finally:
        engine.dispose()


def _problem(body: bytes) -> dict[str, Any]:
    parsed: dict[str, Any] = json.loads(body)
    return parsed


# -- rate limits ---------------------------------------------------------------------------
def test_failed_authentications_per_address_are_limited_across_workers(
    limited: LiveServer, own_database: dict[str, str]
) -> None:
    _not_near_window_end()
    good = make_key(own_database["app"], "admin")
    attacker, elsewhere = _address(), _address()
    items = "/collections/villages/items"
    for _ in range(LIMIT):
        status, _, _ = send(
            limited, items, source=attacker, method="POST", body={}, token=_fake_token()
        )
        assert status == 401
    status, headers, body = send(
        limited, items, source=attacker, method="POST", body={}, token=_fake_token()
    )
    assert status == 429
    assert 0 < int(headers["retry-after"]) <= WINDOW_S
    assert headers["content-type"] == "application/problem+json"
    assert "failed authentications per address" in _problem(body)["detail"]
    # The counter is one for all workers: exactly LIMIT + 1 attempts were counted.
    counted = _count(
        own_database["app"],
        "SELECT hits FROM rate_limit WHERE bucket = :b",
        b=f"auth-fail:addr:{attacker}",
    )
    assert counted == LIMIT + 1

    # A blocked address gets nothing, not even with a good key (a right guess looks wrong)…
    code = f"T-RL-{uuid.uuid4().hex[:6]}"
    status, headers, _ = send(
        limited, items, source=attacker, method="POST", body=village(code), token=good
    )
    assert status == 429 and int(headers["retry-after"]) > 0
    # …while the same key from another address works.
    status, _, body = send(
        limited, items, source=elsewhere, method="POST", body=village(code), token=good
    )
    assert status == 201, body


def test_failed_authentications_per_key_prefix_are_limited(
    limited: LiveServer, own_database: dict[str, str]
) -> None:
    _not_near_window_end()
    good = make_key(own_database["app"], "admin")
    prefix = good.split("_")[1]
    items = "/collections/villages/items"
    # Wrong secrets for one key, each from another address (below every address limit).
    for _ in range(LIMIT):
        status, _, _ = send(
            limited, items, source=_address(), method="POST", body={}, token=_fake_token(prefix)
        )
        assert status == 401
    status, headers, body = send(
        limited, items, source=_address(), method="POST", body={}, token=_fake_token(prefix)
    )
    assert status == 429 and int(headers["retry-after"]) > 0
    assert "failed authentications per key prefix" in _problem(body)["detail"]
    # The key's holder, who has the secret, is not locked out by others' guesses.
    status, _, body = send(
        limited,
        items,
        source=_address(),
        method="POST",
        body=village(f"T-RP-{uuid.uuid4().hex[:6]}"),
        token=good,
    )
    assert status == 201, body


def test_writes_over_the_limit_are_429_and_not_written(
    limited: LiveServer, own_database: dict[str, str]
) -> None:
    _not_near_window_end()
    key, other_key = make_key(own_database["app"], "admin"), make_key(own_database["app"], "admin")
    writer = _address()
    items = "/collections/villages/items"
    for n in range(LIMIT):
        status, _, body = send(
            limited,
            items,
            source=writer,
            method="POST",
            body=village(f"T-W{n}-{uuid.uuid4().hex[:6]}"),
            token=key,
        )
        assert status == 201, body
    refused_code = f"T-WX-{uuid.uuid4().hex[:6]}"
    status, headers, body = send(
        limited, items, source=writer, method="POST", body=village(refused_code), token=key
    )
    assert status == 429, body
    assert 0 < int(headers["retry-after"]) <= WINDOW_S
    assert "rate limit 'writes per" in _problem(body)["detail"]
    assert (
        _count(
            own_database["app"],
            "SELECT count(*) FROM craft_village WHERE code = :c",
            c=refused_code,
        )
        == 0
    )
    # The address is over its limit too: another key from it is refused as well…
    status, _, body = send(
        limited, items, source=writer, method="POST", body=village(refused_code), token=other_key
    )
    assert status == 429 and "writes per address" in _problem(body)["detail"]
    # …and the key is over its own from anywhere.
    status, _, body = send(
        limited, items, source=_address(), method="POST", body=village(refused_code), token=key
    )
    assert status == 429 and "writes per key" in _problem(body)["detail"]
    # Reads are not writes.
    assert send(limited, "/collections/villages/items?limit=1", source=writer)[0] == 200


# -- failed authentications in the log ------------------------------------------------------
def _auth_lines(server: LiveServer) -> list[dict[str, Any]]:
    lines = []
    for line in server.log().splitlines():
        if line.startswith("{"):
            entry = json.loads(line)
            if entry.get("logger") == "craftmap.auth":
                lines.append(entry)
    return lines


def test_every_failed_authentication_is_logged_with_reason_and_prefix(
    limited: LiveServer, own_database: dict[str, str]
) -> None:
    _not_near_window_end()
    app_url = own_database["app"]
    viewer, revoked = make_key(app_url, "viewer"), make_key(app_url, "planner")
    engine = make_engine(app_url)
    with engine.begin() as conn:
        revoke_key(conn, revoked.split("_")[1])
    engine.dispose()
    wrong_secret = _fake_token(viewer.split("_")[1])
    unknown = _fake_token()
    items = "/collections/villages/items"
    cases = [
        (None, 401, "no key", None),
        ("not-a-craftmap-token-hunter2", 401, "malformed", None),
        (unknown, 401, "unknown prefix", unknown.split("_")[1]),
        (wrong_secret, 401, "wrong secret", viewer.split("_")[1]),
        (revoked, 401, "revoked", revoked.split("_")[1]),
        (viewer, 403, "role not allowed", viewer.split("_")[1]),
    ]
    source = _address()
    for n, (token, status, _, _) in enumerate(cases):
        if n == LIMIT:
            source = _address()  # stay below the failed-authentication limit
        assert send(limited, items, source=source, method="POST", body={}, token=token)[0] == status

    lines = _auth_lines(limited)
    for _, _, reason, prefix in cases:
        found = [e for e in lines if e["reason"] == reason and e["key_prefix"] == prefix]
        assert found, f"no log line for {reason}"
        assert found[-1]["path"] == items and found[-1]["client"].startswith("127.")
    log = limited.log()
    for token in (wrong_secret, unknown, revoked, viewer):
        assert token.split("_", 2)[2] not in log, "a secret reached the log"
    assert "hunter2" not in log


# -- the access log ------------------------------------------------------------------------
def test_keys_in_the_query_string_are_redacted_in_the_access_log(limited: LiveServer) -> None:
    secret = uuid.uuid4().hex
    token = f"cm_ab12cd34_{secret}"
    status, _, _ = send(
        limited,
        f"/collections?f=json&api_key={token}&token=hunter-{secret}&access_token=x{secret}"
        f"&key=k{secret}&q={token}",
        source=_address(),
        token=f"cm_cd34ab12_{secret}",
    )
    assert status in {200, 400}

    def redacted_entries(log: str) -> list[dict[str, Any]]:
        return [
            json.loads(line)
            for line in log.splitlines()
            if line.startswith("{") and "cm_ab12cd34_[redacted]" in line
        ]

    # The access line is written once the response has gone out: the client can be first.
    deadline = time.monotonic() + 5
    while not redacted_entries(limited.log()) and time.monotonic() < deadline:
        time.sleep(0.05)
    log = limited.log()
    access = [json.loads(line) for line in log.splitlines() if secret[:8] in line]
    assert not access, f"the secret reached the log: {access}"
    entries = redacted_entries(log)
    assert entries and entries[-1]["logger"] == "craftmap.access"
    assert "api_key=cm_ab12cd34_[redacted]" in entries[-1]["query"]
    assert "token=[redacted]" in entries[-1]["query"]


# -- last use of a key --------------------------------------------------------------------
def test_last_used_at_is_stamped_at_most_once_a_minute_and_listed(
    limited: LiveServer, own_database: dict[str, str]
) -> None:
    app_url = own_database["app"]
    key, unused = make_key(app_url, "planner"), make_key(app_url, "viewer")
    prefix = key.split("_")[1]
    last_used = "SELECT last_used_at FROM api_key WHERE prefix = :p"
    key_history = "SELECT count(*) FROM feature_history WHERE table_name = 'api_key'"
    assert _count(app_url, last_used, p=prefix) is None
    history_before = _count(app_url, key_history)

    history = f"/collections/villages/items/{make_village(app_url)}/history"
    assert send(limited, history, source=_address(), token=key)[0] == 200
    first = _count(app_url, last_used, p=prefix)
    assert first is not None
    assert send(limited, history, source=_address(), token=key)[0] == 200
    assert _count(app_url, last_used, p=prefix) == first, "stamped again within a minute"
    assert _count(app_url, key_history) == history_before, "a use is not a change of the key"

    listed = subprocess.run(
        [CRAFTMAP, "keys", "list"],
        env={**limited.env, "DATABASE_URL": app_url},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    line = next(row for row in listed.splitlines() if row.startswith(prefix))
    assert "never used" not in line
    assert first.astimezone().strftime("%Y-%m-%d %H:%M") in line
    unused_line = next(row for row in listed.splitlines() if row.startswith(unused.split("_")[1]))
    assert "never used" in unused_line


# -- who wrote, in the history ------------------------------------------------------------
def test_history_names_key_holders_only_to_readers_with_a_key(
    client: TestClient, keys: dict[str, str], session: Session
) -> None:
    # Planners write material zones.
    created = client.post(
        "/collections/material-zones/items",
        json=ZONE,
        headers={**bearer(keys["planner"]), "Content-Type": "application/geo+json"},
    )
    assert created.status_code == 201, created.text
    url = created.headers["location"].split("://", 1)[1].split("/", 1)[1]
    planner_prefix = keys["planner"].split("_")[1]

    anonymous = client.get(f"/{url}/history").json()["versions"]
    assert [v["actor"] for v in anonymous] == ["API key (planner)"]
    page = client.get(f"/{url}/history?f=html").text
    assert "API key (planner)" in page
    for shown in (json.dumps(anonymous, ensure_ascii=False), page):
        assert planner_prefix not in shown and "test planner" not in shown

    with_key = client.get(f"/{url}/history", headers=bearer(keys["viewer"])).json()["versions"]
    assert [v["actor"] for v in with_key] == [f"key:{planner_prefix}:test planner"]
    page = client.get(f"/{url}/history?f=html", headers=bearer(keys["viewer"])).text
    assert f"key:{planner_prefix}:test planner" in page

    refused = client.get(f"/{url}/history", headers=bearer(_fake_token()))
    assert refused.status_code == 401
    assert refused.headers["content-type"] == "application/problem+json"


# -- the client address ---------------------------------------------------------------------
def _app_client(database_url: str, **settings: Any) -> TestClient:
    from api.main import create_app
    from api.settings import ApiSettings

    limits = {"rate_limit_failed_auth": 2, "rate_limit_window_s": WINDOW_S, **settings}
    return TestClient(
        create_app(ApiSettings(**limits), DatabaseSettings(database_url=database_url))
    )


def _fail(client: TestClient, forwarded_for: str) -> int:
    return client.post(
        "/collections/villages/items",
        json={},
        headers={**bearer(_fake_token()), "X-Forwarded-For": forwarded_for},
    ).status_code


def test_x_forwarded_for_counts_only_behind_a_trusted_proxy(
    own_database: dict[str, str],
) -> None:
    _not_near_window_end()
    # In-process requests all come from the peer "testclient".
    engine = make_engine(own_database["app"])
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM rate_limit WHERE bucket LIKE '%testclient%'"))
    engine.dispose()
    with _app_client(own_database["app"]) as client:
        # Not trusted: a forged header does not make a new client.
        assert [_fail(client, _address()) for _ in range(3)] == [401, 401, 429]
    with _app_client(own_database["app"], rate_limit_trusted_proxies=["testclient"]) as client:
        one, other = _address(), _address()
        assert [_fail(client, f"{one}, testclient") for _ in range(3)] == [401, 401, 429]
        assert _fail(client, other) == 401


# -- bookkeeping under a lock ----------------------------------------------------------------
@pytest.mark.serial
def test_key_bookkeeping_waiting_on_a_lock_gives_up_with_503_and_writes_nothing(
    limited: LiveServer, own_database: dict[str, str]
) -> None:
    """A lock on api_key (a migration, an ownership hand-over) must not hang a keyed write.

    The request's transaction reads api_key and keeps that lock while the bookkeeping
    transaction updates the key's last use: with an ALTER queued between the two, each
    waited on the other and nothing ended it (seen in CI, the fault test hung 300 s). A
    SHARE lock makes the bookkeeping wait the same way, deterministically.
    """
    items = "/collections/villages/items"
    key = make_key(
        own_database["app"], "admin"
    )  # never used: its last use is stamped on this write
    code = f"T-LOCK-{uuid.uuid4().hex[:6]}"
    with psycopg.connect(libpq_conninfo(own_database["owner"])) as holder:
        holder.execute("LOCK TABLE api_key IN SHARE MODE")
        started = time.monotonic()
        status, headers, body = send(
            limited, items, source=_address(), method="POST", body=village(code), token=key
        )
        waited = time.monotonic() - started
        holder.rollback()
    assert status == 503, (status, body[:300])
    assert headers.get("retry-after")
    assert "lock" in _problem(body)["detail"]
    assert waited < 15, waited
    assert (
        _count(own_database["app"], "SELECT count(*) FROM craft_village WHERE code = :c", c=code)
        == 0
    )
    # The lock gone, the same write goes through.
    status, _, body = send(
        limited, items, source=_address(), method="POST", body=village(code), token=key
    )
    assert status == 201, body[:300]
