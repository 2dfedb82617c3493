"""The cached reference layers follow writes by other workers, and forget rolled-back ones."""

from __future__ import annotations

from sqlalchemy.engine import Connection

from geo.store import catalog, migrate
from geo.store.db import make_engine
from tests.api.test_catalog_cache import add_layer


def _reference_layers(conn: Connection) -> set[str]:
    return {c.id for c in catalog.list_collections(conn) if c.is_reference_layer}


def test_other_workers_and_rollbacks_never_leave_the_cache_stale(
    fresh_database_url: str,
) -> None:
    migrate.upgrade(fresh_database_url)
    # Two engines are two workers: each has a cache of its own.
    worker, other = make_engine(fresh_database_url), make_engine(fresh_database_url)
    try:
        with worker.connect() as conn:
            assert _reference_layers(conn) == set()
        with other.begin() as conn:
            add_layer(conn, "roads", {"name": "Quốc lộ 45"})
        with worker.connect() as conn:
            assert _reference_layers(conn) == {"roads"}
        # A layer seen inside a transaction that is then rolled back…
        with worker.connect() as conn:
            transaction = conn.begin()
            add_layer(conn, "ghost", {"name": "Không có"})
            assert _reference_layers(conn) == {"roads", "ghost"}
            transaction.rollback()
        # …is not served again, even once another write has been committed since.
        with other.begin() as conn:
            add_layer(conn, "rivers", {"name": "Sông Mã"})
        with worker.connect() as conn:
            assert _reference_layers(conn) == {"roads", "rivers"}
            assert catalog.get_collection(conn, "rivers").prop("name") is not None
    finally:
        worker.dispose()
        other.dispose()
