"""A committed database of each tile-cache test module's own: the cache's triggers run at commit.

Imported by the modules (``from tests.tiles.cache_fixtures import *``) rather than a
conftest, so other tests in tests/tiles get none of it (the autouse one least of all).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from api.main import create_app
from api.settings import ApiSettings
from geo.store.db import Engine, make_engine
from geo.store.keys import create_key
from ops.settings import DatabaseSettings
from tests.conftest import ROOMY_RATE_LIMITS, database_with_roles

__all__ = [
    "admin_engine",
    "admin_token",
    "app_engine",
    "cache_urls",
    "cached_client",
    "empty_cache",
    "owner_engine",
]


@pytest.fixture(scope="module")
def cache_urls(pg_server_url: str, role_passwords: dict[str, str]) -> Iterator[dict[str, str]]:
    """URLs per role of a migrated demo database of the module's own."""
    with database_with_roles(pg_server_url, role_passwords, "craftmap_tilecache") as urls:
        yield urls


@pytest.fixture(scope="module")
def owner_engine(cache_urls: dict[str, str]) -> Iterator[Engine]:
    """The schema owner's engine (plain SQL, as psql would)."""
    engine = make_engine(cache_urls["owner"])
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def admin_engine(cache_urls: dict[str, str]) -> Iterator[Engine]:
    """The superuser's engine: sees every backend in pg_stat_activity."""
    engine = make_engine(cache_urls["admin"])
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def app_engine(cache_urls: dict[str, str]) -> Iterator[Engine]:
    """The app role's autocommit engine, as the app's tile engine is."""
    engine = make_engine(cache_urls["app"], for_reads=True)
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def cached_client(cache_urls: dict[str, str]) -> Iterator[TestClient]:
    """The app with its real engines (the cache on) on the module's database."""
    app = create_app(
        ApiSettings(**ROOMY_RATE_LIMITS), DatabaseSettings(database_url=cache_urls["app"])
    )
    with TestClient(app) as client:
        yield client


@pytest.fixture(scope="module")
def admin_token(owner_engine: Engine) -> str:
    """An admin key, committed."""
    with owner_engine.begin() as conn:
        return create_key(conn, name="tile cache tests", role="admin")[0]


@pytest.fixture(autouse=True)
def empty_cache(owner_engine: Engine) -> None:
    """Each test starts with an empty cache."""
    with owner_engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM tile_cache"))
