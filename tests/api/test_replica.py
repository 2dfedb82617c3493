"""With a read replica configured, reads go to it and writes to the primary."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from api.main import create_app
from api.settings import ApiSettings
from geo.store import migrate
from geo.store.db import make_engine
from geo.store.keys import create_key
from ops.settings import DatabaseSettings
from tests.api.conftest import bearer
from tests.api.test_write import ZONE
from tests.conftest import create_database, drop_database


@pytest.fixture
def replica_url(pg_server_url: str) -> Iterator[str]:
    url = create_database(pg_server_url, "craftmap_replica")
    migrate.upgrade(url)
    yield url
    drop_database(url)


def test_reads_use_the_replica_and_writes_the_primary(
    fresh_database_url: str, replica_url: str
) -> None:
    primary = fresh_database_url
    migrate.upgrade(primary)
    engine = make_engine(primary)
    with engine.begin() as conn:
        token, _ = create_key(conn, name="replica test", role="planner")
    settings = DatabaseSettings(database_url=primary, read_database_url=replica_url)
    with TestClient(create_app(ApiSettings(), settings)) as client:
        created = client.post("/collections/material-zones/items", json=ZONE, headers=bearer(token))
        assert created.status_code == 201, created.text
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT count(*) FROM material_zone")).scalar() == 1
        # The writer's own next read is fresh: its craftmap-lsn cookie sends it to the
        # primary, since this "replica" has not replayed the write (tests/test_replica.py
        # shows it with a real streaming replica).
        assert "craftmap-lsn" in created.headers["set-cookie"]
        mine = client.get("/collections/material-zones/items").json()
        assert mine["numberMatched"] == 1
        # The "replica" here is a separate empty database, so a read without the cookie
        # shows where it went (a real streaming replica would show the zone once it has
        # replayed the write).
        client.cookies.clear()
        listed = client.get("/collections/material-zones/items").json()
        assert listed["numberMatched"] == 0
    engine.dispose()
