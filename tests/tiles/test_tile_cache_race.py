"""No stale fill: a tile built from data a commit made old never stays in the cache.

A fill builds a tile from its statement's snapshot, then inserts it; a writer committing
in between deletes nothing (the row is not there yet) and the fill then stores the old
tile. These tests open that window wide (a trigger makes the fill's insert, or the
writer's commit, sleep) and check the cache against a fresh build after both ended.
``test_the_window_is_real_without_the_locks`` runs the same race with the fill's locks
taken away and sees the stale tile: the race tests are not passing by luck.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from geo.query import tile_cache, tiles
from geo.store import catalog
from geo.store.db import Engine
from tests.factories import make_village
from tests.tiles.cache_fixtures import *  # noqa: F403 - the module's database and engines

SLEEP_S = 3.0


@pytest.fixture
def slow_fill(owner_engine: Engine) -> Iterator[None]:
    """Every insert into the cache sleeps first (after the fill's snapshot was taken)."""
    with owner_engine.begin() as conn:
        conn.execute(
            sa.text(
                "CREATE FUNCTION test_slow_fill() RETURNS trigger LANGUAGE plpgsql AS $$ "
                f"BEGIN PERFORM pg_sleep({SLEEP_S}); RETURN NEW; END $$"
            )
        )
        conn.execute(
            sa.text(
                "CREATE TRIGGER test_slow_fill BEFORE INSERT ON tile_cache "
                "FOR EACH ROW EXECUTE FUNCTION test_slow_fill()"
            )
        )
    yield
    with owner_engine.begin() as conn:
        conn.execute(sa.text("DROP TRIGGER test_slow_fill ON tile_cache"))
        conn.execute(sa.text("DROP FUNCTION test_slow_fill()"))


@pytest.fixture
def slow_commit(owner_engine: Engine) -> Iterator[None]:
    """A village write's commit sleeps after its cache invalidation ran (names sort after)."""
    with owner_engine.begin() as conn:
        conn.execute(
            sa.text(
                "CREATE FUNCTION test_slow_commit() RETURNS trigger LANGUAGE plpgsql AS $$ "
                f"BEGIN PERFORM pg_sleep({SLEEP_S}); RETURN NULL; END $$"
            )
        )
        conn.execute(
            sa.text(
                "CREATE CONSTRAINT TRIGGER zz_test_slow_commit AFTER UPDATE ON craft_village "
                "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION test_slow_commit()"
            )
        )
    yield
    with owner_engine.begin() as conn:
        conn.execute(sa.text("DROP TRIGGER zz_test_slow_commit ON craft_village"))
        conn.execute(sa.text("DROP FUNCTION test_slow_commit()"))


def _village_tile(url: str, lon: float, lat: float) -> tuple[int, tiles.Tile]:
    village = make_village(url, at=(lon, lat), name="Làng trước")
    return village, tile_cache.tiles_over((lon, lat, lon, lat), [10])[0]


def _cached(engine: Engine, address: tiles.Tile) -> bytes | None:
    key = tile_cache.variant([catalog.VILLAGES], None, tiles.MAX_FEATURES_PER_LAYER).key
    with engine.connect() as conn:
        found = conn.execute(
            sa.text(
                "SELECT data FROM tile_cache WHERE variant = :v AND z = :z AND x = :x AND y = :y"
            ),
            {"v": key, "z": address.z, "x": address.x, "y": address.y},
        ).scalar()
    return None if found is None else bytes(found)


def _fresh(engine: Engine, address: tiles.Tile) -> bytes:
    with engine.connect() as conn:
        return tiles.tile(conn, [catalog.VILLAGES], address).data


def _wait_for(engine: Engine, condition: str) -> None:
    """Until some backend is in the state ``condition`` (a pg_stat_activity predicate)."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        with engine.connect() as conn:
            if conn.execute(
                sa.text(
                    "SELECT count(*) FROM pg_stat_activity "
                    f"WHERE datname = current_database() AND {condition}"
                )
            ).scalar():
                return
        time.sleep(0.02)
    raise AssertionError(f"no backend reached {condition}")


def _fill_in_thread(engine: Engine, address: tiles.Tile, results: list[object]) -> threading.Thread:
    def run() -> None:
        with engine.connect() as conn:
            results.append(tile_cache.fill(conn, [catalog.VILLAGES], address))

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def _commit_during_fill(
    owner_engine: Engine, app_engine: Engine, admin_engine: Engine, cache_urls: dict[str, str]
) -> tuple[bytes | None, bytes, list[object]]:
    village, address = _village_tile(cache_urls["app"], 104.71, 21.41)
    old = _fresh(owner_engine, address)
    writer = owner_engine.connect()
    transaction = writer.begin()
    writer.execute(
        sa.text("UPDATE craft_village SET name = 'Làng sau' WHERE id = :id"), {"id": village}
    )
    results: list[object] = []
    # The fill's snapshot misses the write (not committed yet); its insert then sleeps.
    thread = _fill_in_thread(app_engine, address, results)
    _wait_for(admin_engine, "wait_event = 'PgSleep' AND query LIKE 'WITH built%'")
    transaction.commit()
    writer.close()
    thread.join(timeout=30)
    new = _fresh(owner_engine, address)
    assert new != old
    return _cached(owner_engine, address), new, results


@pytest.mark.usefixtures("slow_fill")
def test_a_commit_during_a_fill_leaves_no_stale_tile(
    owner_engine: Engine, app_engine: Engine, admin_engine: Engine, cache_urls: dict[str, str]
) -> None:
    cached, new, results = _commit_during_fill(owner_engine, app_engine, admin_engine, cache_urls)
    assert len(results) == 1
    assert cached is None or cached == new


@pytest.mark.usefixtures("slow_commit")
def test_a_fill_during_a_commit_leaves_no_stale_tile(
    owner_engine: Engine, app_engine: Engine, admin_engine: Engine, cache_urls: dict[str, str]
) -> None:
    village, address = _village_tile(cache_urls["app"], 104.93, 21.63)
    writer = owner_engine.connect()
    transaction = writer.begin()
    writer.execute(
        sa.text("UPDATE craft_village SET name = 'Làng sau' WHERE id = :id"), {"id": village}
    )
    committing = threading.Thread(target=transaction.commit)
    committing.start()
    # The writer ran its invalidation and sleeps in its commit, holding its lock: the
    # fill must not store what it builds (its snapshot misses the write).
    _wait_for(admin_engine, "wait_event = 'PgSleep' AND state = 'active'")
    started = time.monotonic()
    results: list[object] = []
    _fill_in_thread(app_engine, address, results).join(timeout=30)
    assert time.monotonic() - started < SLEEP_S, "the fill waited for the writer"
    committing.join(timeout=30)
    writer.close()
    built, kept = results[0]  # type: ignore[misc]
    assert kept is False
    cached = _cached(owner_engine, address)
    assert cached is None or cached == _fresh(owner_engine, address)


@pytest.mark.usefixtures("slow_fill")
def test_the_window_is_real_without_the_locks(
    owner_engine: Engine,
    app_engine: Engine,
    admin_engine: Engine,
    cache_urls: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The fill as it would be without its locks: every lock "taken", none held.
    monkeypatch.setattr(
        tile_cache, "_TRY_LOCKS", sa.text("SELECT c, true FROM unnest(CAST(:names AS text[])) AS c")
    )
    monkeypatch.setattr(tile_cache, "_UNLOCK", sa.text("SELECT CAST(:names AS text[])"))
    cached, new, _ = _commit_during_fill(owner_engine, app_engine, admin_engine, cache_urls)
    assert cached is not None and cached != new
