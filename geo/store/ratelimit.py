"""Fixed-window rate-limit counters kept in PostgreSQL.

The service runs several worker processes (and possibly several hosts): a counter in one
process would let a client have N times the limit, so the count lives in the ``rate_limit``
table (UNLOGGED: losing a minute of counts in a crash is harmless). Each counted request
costs one upsert; checking without counting costs one indexed read.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection

# Rows of earlier windows are removed now and then, so the table holds only the clients
# of the current one.
_PRUNE_ONE_IN = 500

_WINDOW = "to_timestamp(floor(extract(epoch FROM now()) / :window) * :window)"

_COUNT = sa.text(
    f"""
    INSERT INTO rate_limit AS r (bucket, window_start, hits)
    SELECT b, {_WINDOW}, 1 FROM unnest(CAST(:buckets AS text[])) AS b ORDER BY b
    ON CONFLICT (bucket) DO UPDATE SET
        hits = CASE WHEN r.window_start = EXCLUDED.window_start THEN r.hits + 1 ELSE 1 END,
        window_start = EXCLUDED.window_start
    RETURNING r.bucket, r.hits,
        ceil(extract(epoch FROM r.window_start + make_interval(secs => :window) - now()))::int
            AS retry_after
    """
)

_CURRENT = sa.text(
    f"""
    SELECT bucket, hits,
        ceil(extract(epoch FROM window_start + make_interval(secs => :window) - now()))::int
            AS retry_after
    FROM rate_limit
    WHERE bucket = ANY(CAST(:buckets AS text[])) AND window_start = {_WINDOW}
    """
)

# By window, not by age: a fixed "older than an hour" erased the live counts of any window
# longer than an hour once it was an hour old, and let the limited clients start again.
_PRUNE = sa.text(f"DELETE FROM rate_limit WHERE window_start < {_WINDOW}")


@dataclass(frozen=True)
class Count:
    """How often a bucket was hit in the current window, and when that window ends."""

    bucket: str
    hits: int
    retry_after_s: int


def count(conn: Connection, buckets: Iterable[str], *, window_s: int) -> list[Count]:
    """Add one hit to each bucket (one statement) and return the new counts."""
    # Sorted and unique: one row is updated once per statement, and two requests lock
    # their rows in the same order (no deadlock).
    names = sorted(set(buckets))
    if not names:
        return []
    rows = conn.execute(_COUNT, {"buckets": names, "window": window_s}).all()
    if random.randrange(_PRUNE_ONE_IN) == 0:
        prune(conn, window_s=window_s)
    return [Count(r.bucket, r.hits, max(1, r.retry_after)) for r in rows]


def current(conn: Connection, buckets: Iterable[str], *, window_s: int) -> list[Count]:
    """The counts of the current window, without counting (buckets never hit are absent)."""
    names = sorted(set(buckets))
    if not names:
        return []
    rows = conn.execute(_CURRENT, {"buckets": names, "window": window_s}).all()
    return [Count(r.bucket, r.hits, max(1, r.retry_after)) for r in rows]


def prune(conn: Connection, *, window_s: int) -> int:
    """Remove the rows of windows that have ended; how many were removed."""
    return conn.execute(_PRUNE, {"window": window_s}).rowcount
