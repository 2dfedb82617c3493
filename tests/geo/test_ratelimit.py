"""Rate-limit counters: pruning removes ended windows and never a live count."""

from __future__ import annotations

import time

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from geo.store import ratelimit

DAY = 86_400


def _window_older_than_an_hour() -> int:
    """A window length (over an hour) whose current window began over an hour ago.

    The old pruning removed every row older than an hour, so only such a window shows it;
    a day-long window did, except in the first hour of a UTC day.
    """
    now = time.time()
    return next(w for w in range(DAY, 3_600, -1) if now % w > 3_600 + 600)


def test_pruning_keeps_a_long_windows_live_counts_and_drops_ended_ones(
    connection: Connection,
) -> None:
    window = _window_older_than_an_hour()
    for _ in range(4):
        ratelimit.count(connection, ["live:a"], window_s=window)
    # A client last seen in the window before this one.
    connection.execute(
        sa.text(
            "INSERT INTO rate_limit (bucket, window_start, hits) VALUES ('ended:b',"
            " to_timestamp(floor(extract(epoch FROM now()) / :w) * :w - :w), 7)"
        ),
        {"w": window},
    )

    removed = ratelimit.prune(connection, window_s=window)

    assert removed == 1
    left = connection.execute(
        sa.text("SELECT bucket, hits FROM rate_limit WHERE bucket IN ('live:a', 'ended:b')")
    ).all()
    assert [tuple(r) for r in left] == [("live:a", 4)]
    # The limit still holds: the fifth hit of the window is counted as the fifth.
    assert [c.hits for c in ratelimit.count(connection, ["live:a"], window_s=window)] == [5]
