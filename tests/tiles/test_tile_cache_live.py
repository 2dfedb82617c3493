"""A write through one worker of `craftmap serve --workers 2` drops what the others cached."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from geo.query import tile_cache, tiles
from geo.store import catalog
from geo.store.db import Engine
from tests.conftest import ROOMY_RATE_LIMIT_ENV
from tests.factories import make_village
from tests.live import LiveServer, live_server
from tests.tiles.cache_fixtures import *  # noqa: F403 - the module's database and engines


@pytest.fixture(scope="module")
def two_workers(
    cache_urls: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    """`craftmap serve --workers 2` on the module's database."""
    with live_server(
        cache_urls["app"],
        Path(tmp_path_factory.mktemp("live")),
        workers=2,
        env=ROOMY_RATE_LIMIT_ENV,
    ) as server:
        yield server


def test_a_write_through_another_worker_is_seen_in_the_next_tile(
    two_workers: LiveServer, owner_engine: Engine, cache_urls: dict[str, str], admin_token: str
) -> None:
    village = make_village(cache_urls["app"], at=(105.05, 22.05), name="Làng trên núi")
    address = tile_cache.tiles_over((105.05, 22.05, 105.05, 22.05), [9])[0]
    url = f"/collections/villages/tiles/WebMercatorQuad/{address.z}/{address.y}/{address.x}"
    # Several requests: both workers answer some, the first one fills the cache.
    firsts = {two_workers.request(url).body for _ in range(6)}
    assert len(firsts) == 1
    key = tile_cache.variant([catalog.VILLAGES], None, tiles.MAX_FEATURES_PER_LAYER).key
    with owner_engine.connect() as conn:
        assert (
            conn.execute(
                sa.text("SELECT count(*) FROM tile_cache WHERE variant = :v"), {"v": key}
            ).scalar()
            == 1
        )
    for step, name in enumerate(("Làng đổi tên", "Làng đổi tên lần hai")):
        answer = two_workers.request(
            f"/collections/villages/items/{village}",
            method="PATCH",
            body=json.dumps({"properties": {"name": name}}).encode(),
            headers={
                "Authorization": f"Bearer {admin_token}",
                "Content-Type": "application/merge-patch+json",
            },
        )
        assert answer.status == 200, answer.body
        with owner_engine.connect() as conn:
            expected = tiles.tile(conn, [catalog.VILLAGES], address).data
        seen = {two_workers.request(url).body for _ in range(6)}
        assert seen == {expected}, f"step {step}: a worker served a stale tile"
        assert expected not in firsts
        firsts |= seen
