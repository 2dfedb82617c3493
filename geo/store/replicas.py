"""Reads spread over streaming replicas, fresh enough for the client who just wrote.

`ReadRouter` hands out read connections: round-robin over the replicas that are up, else
the primary. A replica that cannot be connected to is skipped for ``retry_seconds`` (its
pool is dropped), and the request is served by the primary instead: a client sees no
error when a replica goes away. Read-your-writes: a write answers with the primary's WAL
position after its commit (`primary_lsn`); a read that presents it is served by a replica
only once that replica has replayed up to it (one cheap query), else by the primary.
"""

from __future__ import annotations

import itertools
import logging
import re
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc

from geo.kernel.errors import DatabaseUnavailable
from geo.store.db import Connection, Engine

log = logging.getLogger("craftmap.replicas")

# pg_lsn's text form: two hex numbers of up to 32 bits each.
_LSN = re.compile(r"[0-9A-Fa-f]{1,8}/[0-9A-Fa-f]{1,8}")

_PRIMARY_LSN = sa.text("SELECT pg_current_wal_insert_lsn()::text")
_REPLAYED = sa.text("SELECT pg_last_wal_replay_lsn() >= CAST(:lsn AS pg_lsn)")
_REPLAY_POSITION = sa.text("SELECT pg_last_wal_replay_lsn()::text")


def lsn_bytes(lsn: str) -> int:
    """A WAL position as a byte offset, to subtract one from another.

    Examples
    --------
    >>> lsn_bytes("1/0") - lsn_bytes("0/FFFFFF00")
    256
    """
    high, low = lsn.split("/")
    return (int(high, 16) << 32) + int(low, 16)


def parse_lsn(value: str | None) -> str | None:
    """A client's LSN token when it is one (``'0/3000148'``), else None: never SQL.

    Examples
    --------
    >>> parse_lsn(" 0/3000148 ")
    '0/3000148'
    >>> parse_lsn("16/b374d848")
    '16/B374D848'
    >>> parse_lsn("0/0'; SELECT 1 --") is None
    True
    """
    if value is None:
        return None
    value = value.strip()
    return value.upper() if _LSN.fullmatch(value) else None


@dataclass
class _Replica:
    engine: Engine
    down_until: float = 0.0


@dataclass
class ReadRouter:
    """Where a read goes: replicas (round-robin, skipping those down), else the primary.

    ``primary`` is an autocommit engine on the primary (the fallback and the place of
    reads that must see a write the replicas have not replayed yet).
    """

    primary: Engine
    replicas: Sequence[Engine]
    retry_seconds: float = 5.0
    _states: list[_Replica] = field(init=False)
    _turn: itertools.count[int] = field(init=False, default_factory=itertools.count)
    _lock: threading.Lock = field(init=False, default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self._states = [_Replica(engine) for engine in self.replicas]

    def _candidates(self) -> list[_Replica]:
        """The replicas that are up, in this request's round-robin order."""
        now = time.monotonic()
        up = [state for state in self._states if state.down_until <= now]
        if not up:
            return []
        with self._lock:
            start = next(self._turn) % len(up)
        return up[start:] + up[:start]

    def _mark_down(self, state: _Replica, exc: BaseException) -> None:
        state.down_until = time.monotonic() + self.retry_seconds
        # Its pooled connections died with it; new ones are made when it is back.
        state.engine.dispose()
        log.warning(
            "read replica %s unreachable, reads go elsewhere for %.0f s: %s",
            state.engine.url.render_as_string(hide_password=True),
            self.retry_seconds,
            exc,
        )

    def connect(self, min_lsn: str | None = None) -> Connection:
        """A read connection: a replica that is up (and has replayed ``min_lsn``), else the primary.

        ``min_lsn`` must come from `parse_lsn`.
        """
        for state in self._candidates():
            try:
                conn = state.engine.connect()
            except (sa_exc.OperationalError, sa_exc.InterfaceError) as exc:
                self._mark_down(state, exc)
                continue
            if min_lsn is None:
                return conn
            try:
                fresh = conn.execute(_REPLAYED, {"lsn": min_lsn}).scalar()
            except sa_exc.DBAPIError as exc:
                conn.close()
                if exc.connection_invalidated or isinstance(exc, sa_exc.OperationalError):
                    self._mark_down(state, exc)
                continue
            if fresh:
                return conn
            conn.close()  # behind this client's own write: another replica, or the primary
        return self.primary.connect()

    def status(self) -> list[dict[str, object]]:
        """Each replica, numbered from 1 in the configured order: up, and how many WAL
        bytes it has still to replay behind the primary, or down (and skipped).

        For /ready: an operator sees a replica that died or lags before users notice the
        primary carrying every read. Addresses are left out: /ready is public.
        """
        try:
            primary = lsn_bytes(self.primary_lsn())
        except sa_exc.OperationalError as exc:
            raise DatabaseUnavailable("the database cannot be reached") from exc
        found: list[dict[str, object]] = []
        now = time.monotonic()
        for number, state in enumerate(self._states, start=1):
            if state.down_until > now:  # skipped by the reads until then: not tried here
                found.append({"replica": number, "state": "down"})
                continue
            try:
                with state.engine.connect() as conn:
                    replayed = conn.execute(_REPLAY_POSITION).scalar()
            except (sa_exc.OperationalError, sa_exc.InterfaceError) as exc:
                self._mark_down(state, exc)
                found.append({"replica": number, "state": "down"})
                continue
            lag = None if replayed is None else max(0, primary - lsn_bytes(str(replayed)))
            found.append({"replica": number, "state": "up", "lag_bytes": lag})
        return found

    def primary_lsn(self) -> str:
        """The primary's WAL insert position now: after a commit, at or past its record."""
        with self.primary.connect() as conn:
            return str(conn.execute(_PRIMARY_LSN).scalar_one())

    def dispose(self) -> None:
        for state in self._states:
            state.engine.dispose()
