"""Test set-up: a throwaway PostGIS cluster (or TEST_DATABASE_URL), migrated by Alembic.

Each test runs inside a transaction that is rolled back, except where a test needs its
own database (migrations, readiness) and asks for ``fresh_database_url``.

Speed (``make test`` runs ``pytest -n 2 --dist loadfile``, see the Makefile):

- demo databases are copies of a template migrated and loaded once per session
  (``CREATE DATABASE … TEMPLATE``), not migrated and loaded again for each module;
- one Chromium per session (``browser`` gives each test that browser and closes the
  test's contexts after it);
- under pytest-xdist each worker has its own cluster (its own basetemp and port), and
  the call of a test marked ``serial`` (timing, memory, outages) runs while the other
  workers wait between the phases of their tests; its set-up and teardown do not wait, so
  a serial test starts its servers in fixtures, not in its body;
- the slowest files are handed out first (``SLOWEST_FILES``), those with serial tests
  last (``SERIAL_FILES``); tests/test_suite_turns.py checks the turns and that order.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import uuid
from collections.abc import Callable, Generator, Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import Browser
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
from tests import DEMO_DIR, PROGRAMMES_DIR
from tests.browser import SharedChromium
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


# -- pytest-xdist ---------------------------------------------------------------------------
# Under xdist (PYTEST_XDIST_WORKER is set) the call of a test marked ``serial`` runs alone:
# it waits for the other workers' running phase (a set-up, call or teardown) to end, and
# they start no new phase until it is done. Its own set-up and teardown (starting servers,
# making databases) run beside the other workers' tests: they measure nothing, and with
# them inside the turn the other worker sat idle for them (up to 25 s per test in a run).
# Plain ``pytest`` runs one test at a time anyway.


@contextmanager
def _taking_turns(config: pytest.Config, serial: bool) -> Iterator[None]:
    """Shared turn for a phase, or the only one for a serial call (file locks of the run).

    The turnstile gives a waiting serial call precedence: the others pass it one at a time
    on their way to a shared turn, and a serial call holds it until it is done.
    """
    # Each worker's basetemp is <the run's basetemp>/<worker id>: the locks are the run's.
    run_dir = Path(config.option.basetemp).parent
    with (
        (run_dir / "serial-turnstile.lock").open("a") as turnstile,
        (run_dir / "serial-turn.lock").open("a") as turn,
    ):
        fcntl.flock(turnstile, fcntl.LOCK_EX)
        fcntl.flock(turn, fcntl.LOCK_EX if serial else fcntl.LOCK_SH)
        if not serial:
            fcntl.flock(turnstile, fcntl.LOCK_UN)
        yield  # closing the files releases the locks


def _turn(item: pytest.Item, serial: bool) -> contextlib.AbstractContextManager[None]:
    if "PYTEST_XDIST_WORKER" not in os.environ or not item.config.option.basetemp:
        return contextlib.nullcontext()
    return _taking_turns(item.config, serial)


def _is_serial(item: pytest.Item) -> bool:
    return item.get_closest_marker("serial") is not None


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> Generator[None, None, None]:
    """Set-ups take a shared turn (a serial test's too)."""
    with _turn(item, serial=False):
        return (yield)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, None, None]:
    """Under xdist, the call of a ``serial`` test runs alone.

    The wait (for the other worker's running phase: 4 min at most, schemathesis on a busy
    machine) counts in the test's timeout, a 600 s net for hangs.
    """
    with _turn(item, serial=_is_serial(item)):
        return (yield)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_teardown(item: pytest.Item) -> Generator[None, None, None]:
    """Teardowns take a shared turn (a serial test's too)."""
    with _turn(item, serial=False):
        return (yield)


# xdist hands whole files to the workers in collection order, where the slowest files came
# last (tests/test_cli.py alone ran 7 min): these go first so that no long file starts
# when the other worker is almost done, slowest first (durations of a run on 2026-12-01).
SLOWEST_FILES = (
    "tests/api/test_schemathesis.py",
    "tests/api/test_tiles.py",
    "tests/api/test_roles.py",
    "tests/api/test_http_semantics.py",
    "tests/bench/test_bench.py",
    "tests/maps/test_hostile_names.py",
    "tests/maps/test_overview_ux.py",
    "tests/test_cli.py",
    "tests/maps/test_search.py",
    "tests/test_make_run.py",
    "tests/api/test_cors.py",
    "tests/test_backup.py",
    "tests/maps/test_browser.py",
    "tests/test_architecture.py",
    "tests/maps/test_analysis_whatif.py",
    "tests/maps/test_route_page.py",
    "tests/maps/test_editor.py",
    "tests/maps/test_build.py",
    "tests/geo/test_cql2_fuzz.py",
    "tests/analysis/test_coverage_cli.py",
    "tests/api/test_export_formats.py",
    "tests/io/test_export.py",
    "tests/geo/test_package.py",
    "tests/maps/test_context.py",
    "tests/analysis/test_coverage_api.py",
)
# The files with ``serial`` tests go last, longest first. A serial call waits for the other
# worker's running phase: at the end that is a short test, not a schemathesis run (a run
# with them first lost 49 and 110 s behind long tests, one with them at the start 140 s
# behind schemathesis).
SERIAL_FILES = (
    "tests/test_replica.py",
    "tests/api/test_keys_hardening.py",
    "tests/api/test_hostile_inputs.py",
    "tests/api/test_limits.py",
    "tests/test_fault.py",
    "tests/bench/test_load.py",
)


def pytest_configure(config: pytest.Config) -> None:
    """Keep that order: xdist would otherwise hand out the files with most tests first."""
    if hasattr(config.option, "loadscopereorder"):
        config.option.loadscopereorder = False


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Under xdist, the slowest files first and those with serial tests last (the others
    keep their order, in between)."""
    if "PYTEST_XDIST_WORKER" not in os.environ:
        return
    rank = {path: i for i, path in enumerate(SLOWEST_FILES)}
    middle = len(rank)
    rank.update({path: middle + 1 + i for i, path in enumerate(SERIAL_FILES)})
    items.sort(key=lambda item: rank.get(item.nodeid.split("::")[0], middle))


def libpq_conninfo(url: str) -> str:
    """A psycopg connection string for a SQLAlchemy URL."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def create_database(
    server_url: str, prefix: str = "craftmap_test", *, template: str | None = None
) -> str:
    """Create a database on the server of ``server_url`` (empty, or a copy of ``template``)."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    copy = f' TEMPLATE "{template}"' if template else ""
    with psycopg.connect(libpq_conninfo(server_url), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"{copy}')
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


def drop_database(url: str) -> None:
    """Drop the database of ``url`` (closing other sessions on it)."""
    parsed = make_url(url)
    server = parsed.set(database="postgres").render_as_string(hide_password=False)
    with psycopg.connect(libpq_conninfo(server), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)')


def _migrate_and_load(url: str) -> None:
    migrate.upgrade(url)
    engine = make_engine(url)
    ingest.load_demo(engine, demo_dir=DEMO_DIR, actor="test-setup", programmes_dir=PROGRAMMES_DIR)
    engine.dispose()


# -- templates -----------------------------------------------------------------------------
# Migrating and loading the demo takes seconds; copying a database that has it takes well
# under one. Each kind of demo database is built once per session on the session's server
# (the first time a test asks for one) and copied from then on. The templates are ordinary
# databases nobody connects to, dropped with the server at the end of the session.
_SESSION_SERVER: list[str] = []  # the URL pg_server_url gave out (the superuser's)
_TEMPLATES: dict[str, str] = {}  # kind -> template database name on that server


def _is_session_server(url: str) -> bool:
    if not _SESSION_SERVER:
        return False
    ours, theirs = make_url(_SESSION_SERVER[0]), make_url(url)
    return (ours.host, ours.port, ours.username) == (theirs.host, theirs.port, theirs.username)


def _template(kind: str, build: Callable[[str], None]) -> str:
    """The template database of ``kind`` on the session's server, built by ``build(url)``."""
    if kind not in _TEMPLATES:
        url = create_database(_SESSION_SERVER[0], f"craftmap_template_{kind}")
        try:
            build(url)
        except BaseException:
            drop_database(url)
            raise
        _TEMPLATES[kind] = str(make_url(url).database)
    return _TEMPLATES[kind]


def _drop_templates() -> None:
    for name in _TEMPLATES.values():
        drop_database(make_url(_SESSION_SERVER[0]).set(database=name).render_as_string(False))
    _TEMPLATES.clear()


def _is_empty(url: str) -> bool:
    with psycopg.connect(libpq_conninfo(url)) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = 'public'"
        ).fetchone()
    return row is not None and row[0] == 0


def migrate_with_demo(url: str) -> None:
    """Migrate the database of ``url`` and load the demo into it, as a new deployment does.

    An empty database on the session's server becomes a copy of the demo template under the
    same name (the template was made by exactly these steps); elsewhere (a test's own
    cluster) the steps run.
    """
    if not (_is_session_server(url) and _is_empty(url)):
        _migrate_and_load(url)
        return
    template = _template("demo", _migrate_and_load)
    parsed = make_url(url)
    drop_database(url)
    with psycopg.connect(
        libpq_conninfo(parsed.set(database="postgres").render_as_string(False)), autocommit=True
    ) as conn:
        conn.execute(f'CREATE DATABASE "{parsed.database}" TEMPLATE "{template}"')


@contextmanager
def demo_database(server_url: str, prefix: str) -> Iterator[str]:
    """A migrated database with the demo, of a test module's own: its URL (dropped after)."""
    if _is_session_server(server_url):
        url = create_database(server_url, prefix, template=_template("demo", _migrate_and_load))
    else:
        url = create_database(server_url, prefix)
        _migrate_and_load(url)
    try:
        yield url
    finally:
        drop_database(url)


@pytest.fixture(scope="session")
def pg_server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """URL of a server the tests may create databases on."""
    given = os.environ.get("TEST_DATABASE_URL")
    if given:
        _SESSION_SERVER.append(normalise_url(given))
        yield _SESSION_SERVER[0]
        _drop_templates()
        return
    # Under pytest-xdist the basetemp is the worker's own: so are the cluster and its port.
    cluster = LocalCluster(tmp_path_factory.mktemp("pg"), server_options=FAST_SERVER)
    cluster.start()
    _SESSION_SERVER.append(cluster.url())
    yield cluster.url()
    _TEMPLATES.clear()
    cluster.destroy()


def with_role(url: str, role: str, password: str) -> str:
    """``url`` logging in as another role."""
    return make_url(url).set(username=role, password=password).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def role_passwords(pg_server_url: str) -> dict[str, str]:
    """The owner and app roles on the test server, as the private cluster makes them."""
    # The xdist workers of one run share a TEST_DATABASE_URL server and so its roles: they
    # set the same passwords (from the run's id), one worker at a time.
    run = os.environ.get("PYTEST_XDIST_TESTRUNUID")
    passwords = {
        role: uuid.uuid5(uuid.NAMESPACE_URL, f"{run}/{role}").hex if run else uuid.uuid4().hex
        for role in (roles.OWNER_ROLE, roles.APP_ROLE)
    }
    with psycopg.connect(libpq_conninfo(pg_server_url), autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(742001)")
        try:
            roles.ensure_roles(
                conn,
                owner_password=passwords[roles.OWNER_ROLE],
                app_password=passwords[roles.APP_ROLE],
            )
        finally:
            conn.execute("SELECT pg_advisory_unlock(742001)")
    return passwords


@contextmanager
def database_with_roles(
    pg_server_url: str, passwords: dict[str, str], prefix: str = "craftmap_test"
) -> Iterator[dict[str, str]]:
    """A new database set up as the private cluster sets it up: its URLs per role.

    Created by the superuser ("admin"), migrated as the owner ("owner"), loaded with the
    demo and served as the app role ("app"), so tests run under least privilege. On the
    session's server it is a copy of a template made by those steps; the copy is handed to
    the owner and opened to the app role again (a database's owner and CONNECT grant are
    not copied, everything inside it is).
    """

    def urls_of(admin: str) -> dict[str, str]:
        return {
            "admin": admin,
            "owner": with_role(admin, roles.OWNER_ROLE, passwords[roles.OWNER_ROLE]),
            "app": with_role(admin, roles.APP_ROLE, passwords[roles.APP_ROLE]),
        }

    def build(admin: str) -> None:
        with psycopg.connect(libpq_conninfo(admin), autocommit=True) as conn:
            roles.prepare_database(conn)
        urls = urls_of(admin)
        migrate.upgrade(urls["owner"], app_role=roles.APP_ROLE)
        engine = make_engine(urls["app"])
        ingest.load_demo(
            engine, demo_dir=DEMO_DIR, actor="test-setup", programmes_dir=PROGRAMMES_DIR
        )
        engine.dispose()

    if _is_session_server(pg_server_url):
        admin = create_database(pg_server_url, prefix, template=_template("roles", build))
    else:
        admin = create_database(pg_server_url, prefix)
    try:
        if _is_session_server(pg_server_url):
            with psycopg.connect(libpq_conninfo(admin), autocommit=True) as conn:
                roles.prepare_database(conn)
        else:
            build(admin)
        yield urls_of(admin)
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


@pytest.fixture(scope="session")
def live(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A real ``craftmap serve`` process on the shared test database, for tests that read.

    One per session (per xdist worker): a test that tries to break, hog or measure the
    server uses ``own_live`` (or a ``live_server`` of its own) instead.
    """
    with live_server(
        database_url, tmp_path_factory.mktemp("live"), env=ROOMY_RATE_LIMIT_ENV
    ) as server:
        yield server


@pytest.fixture(scope="module")
def own_live(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A real ``craftmap serve`` process on the shared test database, the module's own."""
    with live_server(
        database_url, tmp_path_factory.mktemp("live"), env=ROOMY_RATE_LIMIT_ENV
    ) as server:
        yield server


@pytest.fixture(scope="session")
def shared_chromium() -> Iterator[SharedChromium]:
    """The session's Chromium (launched on first use): see ``browser``."""
    shared = SharedChromium()
    yield shared
    shared.close()


@pytest.fixture
def browser(shared_chromium: SharedChromium) -> Iterator[Browser]:
    """Debian's Chromium, headless: one per session, the contexts a test opens are its own.

    Launching Chromium takes seconds on a loaded machine; a context is what isolates tests
    (cookies, storage, cache), and every context the test opened is closed after it.
    """
    launched = shared_chromium.get()
    yield launched
    if launched.is_connected():
        for context in launched.contexts:
            context.close()
