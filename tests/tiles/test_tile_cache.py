"""The tile cache: filled on first request, served from then on, dropped where a write meets it.

Every test runs on a committed database of the module's own (tests/tiles/conftest.py): the
invalidation triggers run at commit, which the rolled-back ``client`` never reaches.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from geo.query import tile_cache, tiles
from geo.store import catalog
from geo.store.catalog import Collection
from geo.store.db import Engine
from tests.api.conftest import bearer
from tests.factories import make_village, make_zone
from tests.tiles.cache_fixtures import *  # noqa: F403 - the module's database and engines

ZONE_TILE = "/collections/material-zones/tiles/WebMercatorQuad"
VILLAGE_TILE = "/collections/villages/tiles/WebMercatorQuad"
CAP = tiles.MAX_FEATURES_PER_LAYER
Key = tuple[str, int, int, int]


def cache_rows(engine: Engine) -> dict[Key, tuple[bytes, str]]:
    """Every cached tile: (variant, z, x, y) → (bytes, etag)."""
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT variant, z, x, y, data, etag FROM tile_cache"))
        return {(r[0], r[1], r[2], r[3]): (bytes(r[4]), r[5]) for r in rows}


def key_of(collections: list[Collection], address: tiles.Tile) -> Key:
    """The cache key of a tile of ``collections`` (all properties, the default cap)."""
    return (tile_cache.variant(collections, None, CAP).key, address.z, address.x, address.y)


def fresh(engine: Engine, collections: list[Collection], address: tiles.Tile) -> bytes:
    """The tile as built now, without the cache."""
    with engine.connect() as conn:
        return tiles.tile(conn, collections, address).data


def meets(engine: Engine, address: tiles.Tile, points: list[tuple[float, float]]) -> bool:
    """Whether the tile's candidate box meets any of ``points``."""
    with engine.connect() as conn:
        return bool(
            conn.execute(
                sa.text(
                    "SELECT bool_or(ST_Transform(ST_TileEnvelope(:z, :x, :y), 4326) "
                    "&& ST_SetSRID(ST_Point(p[1], p[2]), 4326)) "
                    "FROM unnest(CAST(:points AS float8[])) WITH ORDINALITY AS u(v, i), "
                    "LATERAL (SELECT ARRAY[(CAST(:points AS float8[]))[i], "
                    "(CAST(:points AS float8[]))[i + 1]] AS p) AS q WHERE i % 2 = 1"
                ),
                {
                    "z": address.z,
                    "x": address.x,
                    "y": address.y,
                    "points": [c for p in points for c in p],
                },
            ).scalar()
        )


def around(lon: float, lat: float, zooms: range) -> list[tiles.Tile]:
    """Tiles of ``zooms`` within about 0.15° of a point."""
    return tile_cache.tiles_over((lon - 0.15, lat - 0.12, lon + 0.15, lat + 0.12), zooms)


def url_of(prefix: str, address: tiles.Tile) -> str:
    """A tile's URL."""
    return f"{prefix}/{address.z}/{address.y}/{address.x}"


def test_first_request_fills_and_the_next_is_served_from_the_cache(
    cached_client: TestClient, owner_engine: Engine, cache_urls: dict[str, str]
) -> None:
    make_zone(cache_urls["app"], at=(106.95, 12.55))
    address = tile_cache.tiles_over((106.95, 12.55, 106.95, 12.55), [11])[0]
    url = url_of(ZONE_TILE, address)
    first = cached_client.get(url)
    assert first.status_code == 200
    rows = cache_rows(owner_engine)
    assert rows[key_of([catalog.MATERIAL_ZONES], address)] == (
        first.content,
        first.headers["etag"],
    )
    again = cached_client.get(url)
    assert (again.content, again.headers["etag"]) == (first.content, first.headers["etag"])
    revalidated = cached_client.get(url, headers={"If-None-Match": first.headers["etag"]})
    assert revalidated.status_code == 304
    assert revalidated.headers["etag"] == first.headers["etag"]
    # Served from the row, not rebuilt: a row changed behind the cache's back shows.
    with owner_engine.begin() as conn:
        conn.execute(
            sa.text("UPDATE tile_cache SET data = 'marked', etag = '\"m\"' WHERE z = :z"),
            {"z": address.z},
        )
    marked = cached_client.get(url)
    assert (marked.content, marked.headers["etag"]) == (b"marked", '"m"')


def test_an_empty_tile_is_cached_and_answered_204(
    cached_client: TestClient, owner_engine: Engine
) -> None:
    url = f"{ZONE_TILE}/9/240/10"  # mid-Pacific: no data
    assert cached_client.get(url).status_code == 204
    assert list(cache_rows(owner_engine).values()) == [(b"", "")]
    assert cached_client.get(url).status_code == 204


def _seed_and_check(
    client: TestClient,
    engine: Engine,
    addresses: list[tiles.Tile],
    write: object,
    footprints: list[tuple[float, float]],
) -> None:
    """Fill ``addresses`` (villages), run ``write``, then check what the cache kept."""
    for address in addresses:
        assert client.get(url_of(VILLAGE_TILE, address)).status_code in {200, 204}
    before = cache_rows(engine)
    keys = {a: key_of([catalog.VILLAGES], a) for a in addresses}
    assert set(keys.values()) <= set(before)
    write()  # type: ignore[operator]
    after = cache_rows(engine)
    changed = dropped = kept = 0
    for address, key in keys.items():
        now = fresh(engine, [catalog.VILLAGES], address)
        if now != before[key][0]:
            changed += 1
            # (a) every tile whose content changed is gone
            assert key not in after, f"stale tile {address}"
        elif not meets(engine, address, footprints):
            # (b) a tile the write's footprints do not meet is kept
            assert key in after, f"tile {address} dropped for nothing"
            kept += 1
        if key not in after:
            dropped += 1
    # (c) whatever is left equals a fresh build
    for (_, z, x, y), (data, _) in after.items():
        assert data == fresh(engine, [catalog.VILLAGES], tiles.Tile(z, x, y))
    assert changed and kept and dropped >= changed


def test_a_write_through_the_api_drops_exactly_the_tiles_it_changes(
    cached_client: TestClient, owner_engine: Engine, cache_urls: dict[str, str], admin_token: str
) -> None:
    moved = make_village(cache_urls["app"], at=(107.10, 12.10), name="Làng dời đi")
    make_village(cache_urls["app"], at=(107.22, 12.18), name="Làng đứng yên")
    addresses = around(107.15, 12.14, range(6, 13))

    def write() -> None:
        answer = cached_client.patch(
            f"/collections/villages/items/{moved}",
            json={"geometry": {"type": "Point", "coordinates": [107.19, 12.03]}},
            headers=bearer(admin_token),
        )
        assert answer.status_code == 200, answer.text

    _seed_and_check(
        cached_client, owner_engine, addresses, write, [(107.10, 12.10), (107.19, 12.03)]
    )


def test_plain_sql_updates_and_deletes_drop_the_tiles_they_change(
    cached_client: TestClient, owner_engine: Engine, cache_urls: dict[str, str]
) -> None:
    moved = make_village(cache_urls["app"], at=(107.60, 11.60), name="Làng sửa bằng psql")
    gone = make_village(cache_urls["app"], at=(107.66, 11.70), name="Làng xoá bằng psql")
    make_village(cache_urls["app"], at=(107.50, 11.66), name="Làng giữ nguyên")
    addresses = around(107.6, 11.65, range(7, 13))

    def write() -> None:
        # As psql would: the schema owner, plain SQL, no craftmap code.
        with owner_engine.begin() as conn:
            conn.execute(
                sa.text(
                    "UPDATE craft_village SET geom = ST_SetSRID(ST_Point(107.63, 11.55), 4326) "
                    "WHERE id = :id"
                ),
                {"id": moved},
            )
            conn.execute(sa.text("DELETE FROM craft_village WHERE id = :id"), {"id": gone})

    _seed_and_check(
        cached_client,
        owner_engine,
        addresses,
        write,
        [(107.60, 11.60), (107.63, 11.55), (107.66, 11.70)],
    )


def test_a_property_only_update_drops_the_tiles_of_the_footprint(
    cached_client: TestClient, owner_engine: Engine, cache_urls: dict[str, str], admin_token: str
) -> None:
    renamed = make_village(cache_urls["app"], at=(108.10, 13.10), name="Tên cũ")
    addresses = around(108.10, 13.10, range(8, 12))

    def write() -> None:
        answer = cached_client.patch(
            f"/collections/villages/items/{renamed}",
            json={"properties": {"name": "Tên mới"}},
            headers=bearer(admin_token),
        )
        assert answer.status_code == 200, answer.text

    _seed_and_check(cached_client, owner_engine, addresses, write, [(108.10, 13.10)])


def test_the_combined_tileset_is_dropped_by_a_write_to_any_of_its_layers(
    cached_client: TestClient, owner_engine: Engine, cache_urls: dict[str, str], admin_token: str
) -> None:
    zone = make_zone(cache_urls["app"], at=(108.50, 14.50))
    address = tile_cache.tiles_over((108.5, 14.5, 108.5, 14.5), [10])[0]
    url = f"/tiles/WebMercatorQuad/{address.z}/{address.y}/{address.x}"
    first = cached_client.get(url)
    assert first.status_code == 200
    with owner_engine.connect() as conn:
        layers = catalog.list_collections(conn)
    key = key_of(layers, address)
    assert key in cache_rows(owner_engine)
    answer = cached_client.patch(
        f"/collections/material-zones/items/{zone}",
        json={"properties": {"name": "Vùng tre đổi tên"}},
        headers=bearer(admin_token),
    )
    assert answer.status_code == 200, answer.text
    assert key not in cache_rows(owner_engine)
    second = cached_client.get(url)
    assert second.content == fresh(owner_engine, layers, address) != first.content


def test_hostile_tile_addresses_are_refused_and_leave_the_cache_alone(
    cached_client: TestClient, owner_engine: Engine
) -> None:
    for path in (
        "-1/0/0",
        "30/0/0",
        "23/0/0",
        "5/40/3",
        "5/3/-2",
        "x/0/0",
        "5/1e3/0",
        "5/0/99999999999999999999",
    ):
        for prefix in (ZONE_TILE, "/tiles/WebMercatorQuad"):
            answer = cached_client.get(f"{prefix}/{path}")
            assert 400 <= answer.status_code < 500, (prefix, path, answer.status_code)
    assert cache_rows(owner_engine) == {}


def test_tiles_deeper_than_the_cache_zoom_are_built_each_time(
    cached_client: TestClient, owner_engine: Engine, cache_urls: dict[str, str]
) -> None:
    make_zone(cache_urls["app"], at=(106.40, 12.40))
    address = tile_cache.tiles_over((106.4, 12.4, 106.4, 12.4), [15])[0]
    assert cached_client.get(url_of(ZONE_TILE, address)).status_code == 200
    assert cache_rows(owner_engine) == {}


def test_the_key_changes_with_everything_the_bytes_depend_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    zones, villages = catalog.MATERIAL_ZONES, catalog.VILLAGES
    base = tile_cache.variant([zones], None, CAP)
    assert tile_cache.variant([zones], None, CAP) == base
    assert base.collections == ("material-zones",)
    others = {
        tile_cache.variant([zones], ["name"], CAP).key,
        tile_cache.variant([zones], ["name", "code"], CAP).key,
        tile_cache.variant([zones], ["code", "name"], CAP).key,
        tile_cache.variant([zones], None, 10).key,
        tile_cache.variant([zones, villages], None, CAP).key,
        tile_cache.variant([villages, zones], None, CAP).key,
    }
    assert len(others | {base.key}) == 7
    # A new tile format (generalised low zooms, say) never meets the old bytes.
    tile_cache._variant.cache_clear()
    monkeypatch.setattr(tiles, "TILE_FORMAT", tiles.TILE_FORMAT + 1)
    assert tile_cache.variant([zones], None, CAP).key != base.key
    tile_cache._variant.cache_clear()
