"""The reference layers are built once per catalog version, not on every request."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import morecantile
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session

# A tile over the Thanh Hóa demo, where the test layers' features lie.
TILE = morecantile.tms.get("WebMercatorQuad").tile(105.8, 19.9, 8)
TILE_URL = f"/tiles/WebMercatorQuad/{TILE.z}/{TILE.y}/{TILE.x}"
# What building the reference layers runs: the layer list and, per layer, its keys and types.
CATALOG_READS = ("FROM reference_layer", "jsonb_object_keys", "jsonb_typeof")


def add_layer(conn: Connection, name: str, properties: dict[str, Any]) -> int:
    """A reference layer with one point feature carrying ``properties``."""
    layer_id: int = conn.execute(
        sa.text(
            "INSERT INTO reference_layer (name, title, kind) "
            "VALUES (:name, :title, 'exclusion') RETURNING id"
        ),
        {"name": name, "title": name},
    ).scalar_one()
    add_feature(conn, layer_id, properties)
    return layer_id


def add_feature(conn: Connection, layer_id: int, properties: dict[str, Any]) -> None:
    """One more point feature of the layer ``layer_id``."""
    conn.execute(
        sa.text(
            "INSERT INTO reference_feature (layer_id, properties, geom) "
            "VALUES (:layer, CAST(:properties AS jsonb), "
            "ST_SetSRID(ST_MakePoint(105.8, 19.9), 4326))"
        ),
        {"layer": layer_id, "properties": json.dumps(properties)},
    )


@contextmanager
def statements(engine: Engine) -> Iterator[list[str]]:
    """The SQL statements ``engine`` runs inside the block."""
    seen: list[str] = []

    def record(*args: Any) -> None:
        seen.append(args[2])  # (conn, cursor, statement, parameters, context, executemany)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def catalog_reads(seen: list[str]) -> list[str]:
    return [s for s in seen if any(read in s for read in CATALOG_READS)]


def test_a_tile_request_builds_the_reference_layers_once(
    client: TestClient, session: Session
) -> None:
    conn = session.connection()
    for name in ("cache-roads", "cache-land-use"):
        add_layer(conn, name, {"name": "Đường tỉnh", "lanes": 2, "paved": True})
    with statements(conn.engine) as first:
        assert client.get(TILE_URL).status_code == 200
    with statements(conn.engine) as second:
        assert client.get(TILE_URL).status_code == 200
    # Built once: the list, then per layer its 3 keys and the type of each.
    assert len(catalog_reads(first)) == 1 + 2 * (1 + 3)
    # Then served from the cache after one look at the catalog version.
    assert catalog_reads(second) == []
    assert len(second) == len(first) - len(catalog_reads(first))
    assert sum("catalog_version" in s for s in second) == 1


def test_collections_are_listed_from_the_cache(client: TestClient, session: Session) -> None:
    conn = session.connection()
    add_layer(conn, "cache-roads", {"name": "Quốc lộ 1A"})
    client.get("/collections?f=json")
    with statements(conn.engine) as seen:
        body = client.get("/collections?f=json").json()
    assert "cache-roads" in {c["id"] for c in body["collections"]}
    assert catalog_reads(seen) == []


def test_reference_layers_are_never_stale(client: TestClient, session: Session) -> None:
    conn = session.connection()

    def listed() -> set[str]:
        return {c["id"] for c in client.get("/collections?f=json").json()["collections"]}

    kept = add_layer(conn, "cache-kept", {"name": "Rừng phòng hộ"})
    gone = add_layer(conn, "cache-gone", {"name": "Khu bảo tồn"})
    assert {"cache-kept", "cache-gone"} <= listed()
    # A new layer is served at once…
    add_layer(conn, "cache-new", {"name": "Đất lúa"})
    assert "cache-new" in listed()
    assert client.get(TILE_URL).status_code == 200
    # …a new property of a feature is a queryable at once…
    add_feature(conn, kept, {"name": "Rừng đặc dụng", "area_ha": 12.5})
    queryables = client.get("/collections/cache-kept/queryables?f=json").json()["properties"]
    assert queryables["area_ha"]["type"] == "number"
    # …and a deleted layer is gone at once.
    conn.execute(sa.text("DELETE FROM reference_layer WHERE id = :id"), {"id": gone})
    assert "cache-gone" not in listed()
    assert client.get("/collections/cache-gone?f=json").status_code == 404
