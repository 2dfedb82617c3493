"""Engine and transaction helpers shared by the app, CLI and migrations."""

from __future__ import annotations

import contextlib
import contextvars
import select
import threading
import time
import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import sqlalchemy as sa
from sqlalchemy import exc as sa_exc

# Re-exported: the handles api/ is given and passes back to geo, named in its annotations
# and dependencies without importing SQLAlchemy itself.
from sqlalchemy.engine import Connection as Connection
from sqlalchemy.engine import Engine as Engine
from sqlalchemy.orm import Session as Session

from geo.kernel.errors import Conflict, DatabaseUnavailable, GeoError, InvalidInput
from geo.store import constraint_messages

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"


def normalise_url(url: str) -> str:
    """Make any PostgreSQL URL use the psycopg 3 driver.

    Examples
    --------
    >>> normalise_url("postgresql://u:p@h/db")
    'postgresql+psycopg://u:p@h/db'
    >>> normalise_url("postgres://u@h/db")
    'postgresql+psycopg://u@h/db'
    """
    for prefix in ("postgresql+psycopg2://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def make_engine(
    url: str,
    *,
    pool_size: int = 5,
    for_reads: bool = False,
    statement_timeout_ms: int | None = None,
    lock_timeout_ms: int | None = None,
    application_name: str = "craftmap",
) -> Engine:
    """An engine for ``url``.

    The default engine checks each connection before use. A read engine (``for_reads``)
    skips that round trip and runs in autocommit, which saves the BEGIN and ROLLBACK
    round trips of every request: on a single-feature read these took longer than the
    query. Instead it looks, without a round trip, whether the server closed the socket
    of a pooled connection (a restart does), and then takes a new one.

    ``statement_timeout_ms`` makes PostgreSQL cancel any statement running longer (a
    session default; ``longer_statements`` raises it for one block). Every engine joins
    the request's ``StatementCanceller``, if any, so a gone client's query can be stopped.
    ``lock_timeout_ms`` makes a statement give up waiting for a lock sooner than that.
    ``application_name`` names its connections in ``pg_stat_activity``.
    """
    options: dict[str, Any] = {"pool_pre_ping": True}
    if for_reads:
        options = {"pool_pre_ping": False, "isolation_level": "AUTOCOMMIT"}
    connect_args: dict[str, Any] = {"application_name": application_name, "connect_timeout": 5}
    session_options = [
        f"-c {name}={int(ms)}"
        for name, ms in (
            ("statement_timeout", statement_timeout_ms),
            ("lock_timeout", lock_timeout_ms),
        )
        if ms is not None
    ]
    if session_options:
        connect_args["options"] = " ".join(session_options)
    engine = sa.create_engine(
        normalise_url(url),
        pool_size=pool_size,
        max_overflow=pool_size,
        connect_args=connect_args,
        **options,
    )
    if for_reads:
        sa.event.listen(engine, "checkout", _drop_closed_connection)
    _track_for_cancelling(engine)
    return engine


def _drop_closed_connection(dbapi_connection: Any, record: Any, proxy: Any) -> None:
    # An idle connection has nothing to read: readable means the server sent its goodbye
    # (or closed the socket). DisconnectionError makes the pool try a fresh connection.
    try:
        poller = select.poll()
        poller.register(dbapi_connection.fileno(), select.POLLIN | select.POLLPRI)
        readable = bool(poller.poll(0))
    except Exception as exc:  # psycopg's own error, or OSError, on a closed connection
        raise sa_exc.DisconnectionError("the pooled connection is closed") from exc
    if readable:
        raise sa_exc.DisconnectionError("the server closed the pooled connection")


# -- cancelling the statements of a request whose client left ---------------------------------
class StatementCancelled(GeoError):
    """The request was given up (its client left); no further statement may run for it."""


class StatementCanceller:
    """The database connections one request holds, so another thread can cancel their work.

    The web layer makes one per request and activates it with ``cancellable``; engines from
    ``make_engine`` register each connection checked out while it is active. ``cancel`` asks
    PostgreSQL to stop the running statements and refuses any new one.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._connections: weakref.WeakSet[Any] = weakref.WeakSet()
        self._released = threading.Event()
        self.cancelled = False

    def attach(self, dbapi_connection: Any) -> None:
        """Remember a connection checked out for this request."""
        with self._lock:
            self._connections.add(dbapi_connection)

    def detach(self, dbapi_connection: Any) -> None:
        """Forget a connection given back to the pool."""
        with self._lock:
            self._connections.discard(dbapi_connection)

    def cancel(self) -> int:
        """Cancel what the request's connections run now; return how many were asked.

        Blocking (one short connection to the server per statement): call it from a
        thread of its own, not from an event loop.
        """
        # Under the lock: a connection given back meanwhile must not have another
        # request's statement cancelled.
        with self._lock:
            self.cancelled = True
            connections = list(self._connections)
            for connection in connections:
                with contextlib.suppress(Exception):
                    connection.cancel_safe(timeout=5)
        return len(connections)

    def cancel_until_released(self, *, every_s: float = 0.2, at_most_s: float = 600) -> None:
        """Cancel again and again until the request gave its connections back.

        A cancel reaches only the statement running at that moment; one that starts a
        moment later (a cursor's FETCH, issued by psycopg itself) would run on. New
        statements through SQLAlchemy are refused once ``cancelled`` is set.
        """
        deadline = time.monotonic() + at_most_s
        while self.cancel() and not self._released.wait(every_s):
            if time.monotonic() > deadline:
                return

    def release(self) -> None:
        """The request is over: stop cancelling."""
        self._released.set()


_CANCELLER: contextvars.ContextVar[StatementCanceller | None] = contextvars.ContextVar(
    "craftmap_statement_canceller", default=None
)


@contextlib.contextmanager
def cancellable(canceller: StatementCanceller) -> Iterator[StatementCanceller]:
    """Connections checked out in this context (and threads started from it) join ``canceller``."""
    token = _CANCELLER.set(canceller)
    try:
        yield canceller
    finally:
        _CANCELLER.reset(token)


def request_given_up() -> bool:
    """True when the current request's canceller was fired (its client left)."""
    canceller = _CANCELLER.get()
    return canceller is not None and canceller.cancelled


def _track_for_cancelling(engine: Engine) -> None:
    def checkout(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        canceller = _CANCELLER.get()
        if canceller is not None:
            canceller.attach(dbapi_connection)
            record.info["canceller"] = canceller

    def checkin(dbapi_connection: Any, record: Any) -> None:
        canceller = record.info.pop("canceller", None)
        if canceller is not None and dbapi_connection is not None:
            canceller.detach(dbapi_connection)

    def before_execute(conn: Any, *args: Any) -> None:
        canceller = _CANCELLER.get()
        if canceller is not None and canceller.cancelled:
            raise StatementCancelled("the client left; the request was given up")

    sa.event.listen(engine, "checkout", checkout)
    sa.event.listen(engine, "checkin", checkin)
    # Before the statement is compiled and a cursor made: a refused statement leaves no
    # cursor for SQLAlchemy to close (a server-side one costs a query, which the canceller
    # may cancel in turn, and a traceback in the log).
    sa.event.listen(engine, "before_execute", before_execute)


@contextlib.contextmanager
def longer_statements(conn: Connection, timeout_ms: int | None) -> Iterator[Connection]:
    """Let the statements of this block run up to ``timeout_ms`` (exports, analysis).

    The pooled connection keeps its session default afterwards (RESET goes back to the
    value the connection started with).
    """
    if timeout_ms is None:
        yield conn
        return
    conn.execute(
        sa.text("SELECT set_config('statement_timeout', :ms, false)"), {"ms": str(int(timeout_ms))}
    )
    try:
        yield conn
    finally:
        try:
            conn.execute(sa.text("RESET statement_timeout"))
        except (sa_exc.DBAPIError, StatementCancelled):
            # (A client that left refuses new statements.) The pooled connection must
            # not keep the longer limit: it is dropped instead.
            conn.invalidate()


def set_actor(session: Session | Connection, actor: str) -> None:
    """Name who makes the writes of the current transaction (read by the history trigger)."""
    session.execute(sa.text("SELECT set_config('craftmap.actor', :actor, true)"), {"actor": actor})


@contextlib.contextmanager
def translate_errors() -> Iterator[None]:
    """Turn database errors into domain errors at the connection boundary."""
    try:
        yield
    except sa_exc.IntegrityError as exc:
        # The message names the field and the rule in words, never a constraint's name.
        sqlstate = getattr(exc.orig, "sqlstate", None)
        diag = getattr(exc.orig, "diag", None)
        worded = constraint_messages.describe(
            sqlstate,
            getattr(diag, "constraint_name", None),
            getattr(diag, "message_detail", None),
            getattr(diag, "column_name", None),
        )
        if sqlstate == "23505":
            raise Conflict(worded) from exc
        raise InvalidInput(worded) from exc
    except sa_exc.DataError as exc:
        # Wrong SRID or geometry type, out-of-range numbers, malformed values.
        message = getattr(getattr(exc.orig, "diag", None), "message_primary", None)
        raise InvalidInput(f"invalid value: {message or exc.orig}") from exc
    except sa_exc.OperationalError as exc:
        if getattr(exc.orig, "sqlstate", None) == "55P03":  # lock_not_available
            raise DatabaseUnavailable(
                "the database is busy (a lock was not granted in time); retry later"
            ) from exc
        raise DatabaseUnavailable("the database cannot be reached") from exc


def schema_revision(engine: Engine) -> str | None:
    """The Alembic revision the database is at, or None when it was never migrated.

    Raises
    ------
    DatabaseUnavailable
        When the server cannot be reached.
    """
    try:
        with engine.connect() as conn:
            exists = conn.execute(sa.text("SELECT to_regclass('alembic_version')")).scalar()
            if exists is None:
                return None
            return conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
    except sa_exc.OperationalError as exc:
        raise DatabaseUnavailable("the database cannot be reached") from exc
    except sa_exc.DBAPIError as exc:
        raise DatabaseUnavailable(f"the database answered with an error: {exc.orig}") from exc


# -- what the HTTP layer holds without importing SQLAlchemy (api/ imports none of it) -----------
# The database is unreachable, restarting, or cancelled a statement (pool exhaustion too):
# the client may retry later. api/errors.py answers these 503 with Retry-After.
DATABASE_DOWN: tuple[type[Exception], ...] = (
    sa_exc.OperationalError,
    sa_exc.InterfaceError,
    sa_exc.DisconnectionError,
    sa_exc.TimeoutError,
    psycopg.OperationalError,
    psycopg.InterfaceError,
)
# A value PostgreSQL refused (out of range, malformed geometry in a filter): the client's.
DatabaseValueError = sa_exc.DataError


def open_session(engine: Engine) -> Session:
    """A session on ``engine``; use it as a context manager."""
    return Session(engine)
