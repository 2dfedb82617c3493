"""Reference layers, catalog changes, TRUNCATE and repeatable-read writers in the tile cache."""

from __future__ import annotations

import sqlalchemy as sa
from fastapi.testclient import TestClient

from geo.query import tile_cache
from geo.store.db import Engine
from tests.factories import make_village
from tests.tiles.cache_fixtures import *  # noqa: F403 - the module's database and engines

LAYER = "test-cache-layer"
AT = (103.55, 22.35)


def _count(engine: Engine, collection: str) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(
                sa.text("SELECT count(*) FROM tile_cache WHERE :c = ANY(collections)"),
                {"c": collection},
            ).scalar_one()
        )


def test_reference_layers_follow_their_features_and_their_definition(
    cached_client: TestClient, owner_engine: Engine
) -> None:
    with owner_engine.begin() as conn:
        layer = conn.execute(
            sa.text(
                "INSERT INTO reference_layer (name, title, kind) "
                "VALUES (:name, 'Vùng cấm thử', 'exclusion') RETURNING id"
            ),
            {"name": LAYER},
        ).scalar_one()
        feature = conn.execute(
            sa.text(
                "INSERT INTO reference_feature (layer_id, properties, geom) VALUES "
                '(:layer, \'{"ghi_chu": "trước"}\', ST_SetSRID(ST_Point(:x, :y), 4326)) '
                "RETURNING id"
            ),
            {"layer": layer, "x": AT[0], "y": AT[1]},
        ).scalar_one()
    address = tile_cache.tiles_over((*AT, *AT), [10])[0]
    url = f"/collections/{LAYER}/tiles/WebMercatorQuad/{address.z}/{address.y}/{address.x}"
    try:
        first = cached_client.get(url)
        assert first.status_code == 200
        assert "trước".encode() in first.content
        assert _count(owner_engine, LAYER) == 1
        # A feature's property changed with plain SQL: its tile goes.
        with owner_engine.begin() as conn:
            conn.execute(
                sa.text(
                    'UPDATE reference_feature SET properties = \'{"ghi_chu": "sau"}\' '
                    "WHERE id = :id"
                ),
                {"id": feature},
            )
        assert _count(owner_engine, LAYER) == 0
        second = cached_client.get(url)
        assert b"sau" in second.content and second.content != first.content
        assert _count(owner_engine, LAYER) == 1
        # The layer's definition changed: its layer sets go whole.
        with owner_engine.begin() as conn:
            conn.execute(
                sa.text("UPDATE reference_layer SET title = 'Vùng cấm' WHERE id = :id"),
                {"id": layer},
            )
        assert _count(owner_engine, LAYER) == 0
        assert cached_client.get(url).content == second.content
        assert _count(owner_engine, LAYER) == 1
        # TRUNCATE (rolled back here: the module's other tests keep their data).
        with owner_engine.connect() as conn, conn.begin() as transaction:
            conn.execute(sa.text("TRUNCATE reference_feature"))
            left = conn.execute(
                sa.text("SELECT count(*) FROM tile_cache WHERE :c = ANY(collections)"),
                {"c": LAYER},
            ).scalar_one()
            assert left == 0
            transaction.rollback()
    finally:
        with owner_engine.begin() as conn:
            conn.execute(sa.text("DELETE FROM reference_layer WHERE id = :id"), {"id": layer})
    assert _count(owner_engine, LAYER) == 0


def test_a_repeatable_read_writer_empties_the_cache(
    cached_client: TestClient, owner_engine: Engine, cache_urls: dict[str, str]
) -> None:
    village = make_village(cache_urls["app"], at=(103.9, 22.1))
    assert cached_client.get("/collections/villages/tiles/WebMercatorQuad/6/27/50").status_code
    assert cached_client.get("/collections/material-zones/tiles/WebMercatorQuad/6/27/50")
    assert _count(owner_engine, "material-zones") == 1
    with owner_engine.connect() as conn:
        conn = conn.execution_options(isolation_level="REPEATABLE READ")
        with conn.begin():
            conn.execute(
                sa.text("UPDATE craft_village SET name = 'Làng RR' WHERE id = :id"), {"id": village}
            )
    # Its delete could not see tiles filled after its snapshot: everything goes.
    assert _count(owner_engine, "villages") == 0
    assert _count(owner_engine, "material-zones") == 0
