"""bench.load at a tiny scale: a few seconds of mixed load, no server error, no lost write."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bench import load


@pytest.fixture
def demo_server(pg_server_url: str) -> Iterator[tuple[str, str, int]]:
    """bench.load's demo database and server (two workers), made in the set-up: outside the
    test's serial turn, which only the load itself needs."""
    with load.demo_server(pg_server_url, workers=2) as found:
        yield found


@pytest.mark.slow
@pytest.mark.serial
def test_tiny_mixed_load_loses_nothing(demo_server: tuple[str, str, int]) -> None:
    base, key, pid = demo_server
    report = load.run(
        base,
        key,
        seconds=20,
        clients=4,
        max_requests=250,
        server_pids=lambda: load._children(pid),  # noqa: SLF001
    )
    # Bounded by count (or by time on a very slow machine).
    assert report.requests == 250 or report.seconds >= 20
    assert report.server_errors == 0, load.markdown(report, "tiny")
    assert report.lost == []
    for op in ("items page", "bbox page", "single item", "tile", "create"):
        assert report.stats[op].latencies_ms, op
    assert sum(len(report.stats[op].latencies_ms) for op in load.WRITES) > 0
    assert report.verified > 0
    # Only 5xx are faults; every status the mix sees should be a success here.
    assert all(not s.errors for s in report.stats.values()), load.markdown(report, "tiny")
    assert 0 < report.rss_mb["start"] <= report.rss_mb["peak"]
    table = load.markdown(report, "tiny")
    assert table.count("\n| ") == len(load.MIX) + 2  # header, one row per operation, total


def test_refuses_servers_elsewhere() -> None:
    with pytest.raises(SystemExit, match="only loads a server on this machine"):
        load.run("http://example.org", "key", seconds=1, server_pids=list)
