"""Test set-up: a throwaway PostGIS cluster (or TEST_DATABASE_URL), migrated by Alembic.

Each test runs inside a transaction that is rolled back, except where a test needs its
own database (migrations, readiness) and asks for ``fresh_database_url``.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.orm import Session

from api.deps import get_session
from api.main import create_app
from api.settings import ApiSettings
from geo.io import ingest
from geo.store import migrate, roles
from geo.store.db import make_engine, normalise_url
from ops.cluster import LocalCluster
from ops.settings import DatabaseSettings
from tests import DEMO_DIR
from tests.live import LiveServer, live_server

# Throwaway clusters trade durability for speed.
FAST_SERVER = {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}

REPO_ROOT = Path(__file__).resolve().parent.parent

# Rate-limit counters live in the shared test database and every in-process client is
# 'testclient': suite-wide counts would trip the limits. The shared fixtures get room;
# tests/api/test_keys_hardening.py tests the limits on servers of its own.
ROOMY_RATE_LIMITS = {"rate_limit_writes": 1_000_000, "rate_limit_failed_auth": 1_000_000}
# The same for a `craftmap serve` process of a test.
ROOMY_RATE_LIMIT_ENV = {f"CRAFTMAP_{k.upper()}": str(v) for k, v in ROOMY_RATE_LIMITS.items()}


def libpq_conninfo(url: str) -> str:
    """A psycopg connection string for a SQLAlchemy URL."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def create_database(server_url: str, prefix: str = "craftmap_test") -> str:
    """Create an empty database on the server of ``server_url``; return its URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(libpq_conninfo(server_url), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


def drop_database(url: str) -> None:
    """Drop the database of ``url`` (closing other sessions on it)."""
    parsed = make_url(url)
    server = parsed.set(database="postgres").render_as_string(hide_password=False)
    with psycopg.connect(libpq_conninfo(server), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)')


def migrate_with_demo(url: str) -> None:
    """Migrate the database of ``url`` and load the demo into it, as a new deployment does."""
    migrate.upgrade(url)
    engine = make_engine(url)
    ingest.load_demo(engine, demo_dir=DEMO_DIR, actor="test-setup")
    engine.dispose()


@contextmanager
def demo_database(server_url: str, prefix: str) -> Iterator[str]:
    """A migrated database with the demo, of a test module's own: its URL (dropped after)."""
    url = create_database(server_url, prefix)
    try:
        migrate_with_demo(url)
        yield url
    finally:
        drop_database(url)


@pytest.fixture(scope="session")
def pg_server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """URL of a server the tests may create databases on."""
    given = os.environ.get("TEST_DATABASE_URL")
    if given:
        yield normalise_url(given)
        return
    cluster = LocalCluster(tmp_path_factory.mktemp("pg"), server_options=FAST_SERVER)
    cluster.start()
    yield cluster.url()
    cluster.destroy()


def with_role(url: str, role: str, password: str) -> str:
    """``url`` logging in as another role."""
    return make_url(url).set(username=role, password=password).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def role_passwords(pg_server_url: str) -> dict[str, str]:
    """The owner and app roles on the test server, as the private cluster makes them."""
    passwords = {roles.OWNER_ROLE: uuid.uuid4().hex, roles.APP_ROLE: uuid.uuid4().hex}
    with psycopg.connect(libpq_conninfo(pg_server_url), autocommit=True) as conn:
        roles.ensure_roles(
            conn,
            owner_password=passwords[roles.OWNER_ROLE],
            app_password=passwords[roles.APP_ROLE],
        )
    return passwords


@contextmanager
def database_with_roles(
    pg_server_url: str, passwords: dict[str, str], prefix: str = "craftmap_test"
) -> Iterator[dict[str, str]]:
    """A new database set up as the private cluster sets it up: its URLs per role.

    Created by the superuser ("admin"), migrated as the owner ("owner"), loaded with the
    demo and served as the app role ("app"), so tests run under least privilege.
    """
    admin = create_database(pg_server_url, prefix)
    try:
        with psycopg.connect(libpq_conninfo(admin), autocommit=True) as conn:
            roles.prepare_database(conn)
        urls = {
            "admin": admin,
            "owner": with_role(admin, roles.OWNER_ROLE, passwords[roles.OWNER_ROLE]),
            "app": with_role(admin, roles.APP_ROLE, passwords[roles.APP_ROLE]),
        }
        migrate.upgrade(urls["owner"], app_role=roles.APP_ROLE)
        engine = make_engine(urls["app"])
        ingest.load_demo(engine, demo_dir=DEMO_DIR, actor="test-setup")
        engine.dispose()
        yield urls
    finally:
        drop_database(admin)


@pytest.fixture(scope="session")
def role_urls(pg_server_url: str, role_passwords: dict[str, str]) -> Iterator[dict[str, str]]:
    """The shared test database, as the private cluster sets it up: its URLs per role."""
    with database_with_roles(pg_server_url, role_passwords) as urls:
        yield urls


@pytest.fixture(scope="session")
def database_url(role_urls: dict[str, str]) -> str:
    """The shared test database (as the app role), migrated, with the demo data loaded."""
    return role_urls["app"]


@pytest.fixture
def fresh_database_url(pg_server_url: str) -> Iterator[str]:
    """An empty, unmigrated database of this test's own."""
    url = create_database(pg_server_url, "craftmap_fresh")
    yield url
    drop_database(url)


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[Engine]:
    """Engine on the shared test database."""
    eng = make_engine(database_url)
    yield eng
    eng.dispose()


@pytest.fixture
def connection(engine: Engine) -> Iterator[Connection]:
    """A connection inside a transaction that is rolled back after the test."""
    conn = engine.connect()
    transaction = conn.begin()
    yield conn
    transaction.rollback()
    conn.close()


@pytest.fixture
def session(connection: Connection) -> Iterator[Session]:
    """An ORM session joined to the rolled-back test transaction (commits are savepoints)."""
    with Session(bind=connection, join_transaction_mode="create_savepoint") as sess:
        yield sess


@pytest.fixture
def client(database_url: str, session: Session) -> Iterator[TestClient]:
    """The app, with requests using the test's rolled-back session."""
    app = create_app(ApiSettings(**ROOMY_RATE_LIMITS), DatabaseSettings(database_url=database_url))
    app.dependency_overrides[get_session] = lambda: session
    app.state.read_connection_override = session.connection
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def live(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A real ``craftmap serve`` process on the shared test database (one per module)."""
    with live_server(
        database_url, tmp_path_factory.mktemp("live"), env=ROOMY_RATE_LIMIT_ENV
    ) as server:
        yield server
