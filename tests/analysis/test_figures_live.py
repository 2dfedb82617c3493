"""Hostile figures sent to a real ``craftmap serve``: every one a 4xx problem, none written."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from geo.store import keys
from geo.store.db import make_engine
from tests.live import LiveServer

VILLAGE_PATH = "/figures/villages/TH-V-006/sedge/2031"
ZONE_PATH = "/figures/zones/TH-Z-009/2031"


@pytest.fixture(scope="module")
def planner_token(database_url: str) -> Iterator[str]:
    """A planner key committed to the shared test database, revoked afterwards."""
    engine = make_engine(database_url)
    with engine.begin() as conn:
        token, info = keys.create_key(conn, name="hostile figures", role="planner")
    yield token
    with engine.begin() as conn:
        keys.revoke_key(conn, info.prefix)
    engine.dispose()


HOSTILE: list[tuple[str, bytes]] = [
    (VILLAGE_PATH, b'{"tonnes": NaN}'),
    (VILLAGE_PATH, b'{"tonnes": Infinity}'),
    (VILLAGE_PATH, b'{"tonnes": -Infinity}'),
    (VILLAGE_PATH, b'{"tonnes": 1e999}'),
    (VILLAGE_PATH, b'{"tonnes": -0.5}'),
    (VILLAGE_PATH, b'{"tonnes": true}'),
    (VILLAGE_PATH, b'{"tonnes": [1]}'),
    (VILLAGE_PATH, b'{"tonnes": {"$gt": 0}}'),
    (VILLAGE_PATH, b'{"tonnes": "12; DROP TABLE supply_figure"}'),
    (VILLAGE_PATH, b'{"tonnes": 1, "basis": "a\\u0000b", "estimate": true}'),
    (VILLAGE_PATH, b'{"tonnes": 1, "basis": "\\ud800", "estimate": true}'),
    (VILLAGE_PATH, b'{"tonnes": 1, "sources": "not a list"}'),
    (VILLAGE_PATH, b'{"tonnes": 1, "sources": [1, 2]}'),
    (VILLAGE_PATH, b'{"tonnes": 1, "estimate": true, "basis": "' + b"x" * 5000 + b'"}'),
    (VILLAGE_PATH, b"[" * 100_000 + b"]" * 100_000),
    (VILLAGE_PATH, b"\xff\xfe\x00garbage"),
    (VILLAGE_PATH, b""),
    (VILLAGE_PATH, b"null"),
    (ZONE_PATH, b'{"tonnes": 1, "material": "luong"}'),
    (ZONE_PATH, b'{"tonnes": 1, "material": ["sedge"]}'),
    ("/figures/villages/TH-V-006/sedge/99999999999999999999", b'{"tonnes": 1}'),
    ("/figures/villages/TH-V-006/sedge/-5", b'{"tonnes": 1}'),
    ("/figures/villages/%27%3B%20DROP%20TABLE%20x%3B--/sedge/2031", b'{"tonnes": 1}'),
    ("/figures/villages/TH-V-006/%00/2031", b'{"tonnes": 1}'),
    ("/figures/zones/TH-Z-009/2031?evil=1", b'{"tonnes": 1}'),
]


def test_hostile_bodies_are_refused_and_the_server_keeps_serving(
    own_live: LiveServer, planner_token: str, database_url: str
) -> None:
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            before = conn.execute(sa.text("SELECT count(*) FROM supply_figure")).scalar_one()
        for path, body in HOSTILE:
            answer = own_live.request(
                path,
                method="PUT",
                body=body,
                headers={
                    "Authorization": f"Bearer {planner_token}",
                    "Content-Type": "application/json",
                },
            )
            assert 400 <= answer.status < 500, (path, body[:80], answer.status, answer.body[:300])
            assert answer.headers.get("content-type", "").startswith("application/problem+json")
            assert json.loads(answer.body)["status"] == answer.status
        for hostile_query in ("?year=99999", "?material=%00", "?f=xml", "?year=abc"):
            assert 400 <= own_live.request("/figures" + hostile_query).status < 500
        assert own_live.alive()
        listed = own_live.request("/figures?material=sedge")
        assert listed.status == 200 and json.loads(listed.body)["numberMatched"] >= 8
        with engine.connect() as conn:
            after = conn.execute(sa.text("SELECT count(*) FROM supply_figure")).scalar_one()
        assert after == before
    finally:
        engine.dispose()
