"""OGC API – Tiles documents to the letter: links that resolve, required members, limits
covering the data, TileJSON field types as tiles carry them, and ``properties=`` checked.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import mapbox_vector_tile
import morecantile
import pytest
import shapely
from fastapi.testclient import TestClient

TMS = morecantile.tms.get("WebMercatorQuad")
TILING_SCHEME = "http://www.opengis.net/def/rel/ogc/1.0/tiling-scheme"
MVT_TYPES = {"Number": (int, float), "String": (str,), "Boolean": (bool,)}


def _path(href: str) -> str:
    parts = urlsplit(href)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def _collections(client: TestClient) -> list[str]:
    return [c["id"] for c in client.get("/collections").json()["collections"]]


def _tileset_path(collection: str | None) -> str:
    prefix = f"/collections/{collection}" if collection else ""
    return f"{prefix}/tiles/WebMercatorQuad"


def _some_feature_point(client: TestClient, collection: str) -> shapely.Point | None:
    features = client.get(f"/collections/{collection}/items?limit=1").json()["features"]
    if not features or features[0]["geometry"] is None:
        return None
    return shapely.geometry.shape(features[0]["geometry"]).representative_point()


def test_every_link_of_the_tiles_documents_resolves(client: TestClient) -> None:
    start = ["/tiles"] + [f"/collections/{c}/tiles" for c in _collections(client)]
    seen: set[str] = set()
    queue = list(start)
    checked = 0
    while queue:
        path = queue.pop()
        if path in seen:
            continue
        seen.add(path)
        response = client.get(path)
        assert response.status_code == 200, f"{path}: {response.status_code}"
        checked += 1
        if not response.headers["content-type"].startswith("application/json"):
            continue
        document = response.json()
        links: list[dict[str, Any]] = list(document.get("links", []))
        for tileset in document.get("tilesets", []):
            links += tileset["links"]
        for entry in links:
            templated = "{" in entry["href"]
            # /req/tileset/description: a URI template is marked as one, and only then.
            assert entry.get("templated", False) is templated, entry
            if not templated:
                queue.append(_path(entry["href"]))
        for template in document.get("tiles", []):  # TileJSON
            assert "{z}" in template and "{x}" in template and "{y}" in template
    # /tiles, the combined tileset, its TileJSON, the tiling scheme and, per collection,
    # its list, tileset and TileJSON.
    assert "/tiles/WebMercatorQuad" in seen and "/tileMatrixSets/WebMercatorQuad" in seen
    assert checked >= 4 + 3 * len(_collections(client))


@pytest.mark.parametrize("collection", [None, "villages", "material-zones", "routes"])
def test_tileset_document_has_the_required_members(
    client: TestClient, collection: str | None
) -> None:
    document = client.get(_tileset_path(collection)).json()
    assert document["dataType"] == "vector"
    assert document["crs"] == "http://www.opengis.net/def/crs/EPSG/0/3857"
    assert document["tileMatrixSetURI"].endswith("/tilematrixset/OGC/1.0/WebMercatorQuad")
    rels = {entry["rel"]: entry for entry in document["links"]}
    assert _path(rels["self"]["href"]) == _tileset_path(collection)
    assert TILING_SCHEME in rels
    item = rels["item"]
    assert item["templated"] is True and item["type"] == "application/vnd.mapbox-vector-tile"
    assert item["href"].endswith("/WebMercatorQuad/{tileMatrix}/{tileRow}/{tileCol}")
    expected = set(_collections(client)) if collection is None else {collection}
    assert {layer["id"] for layer in document["layers"]} == expected
    for layer in document["layers"]:
        assert layer["dataType"] == "vector"
        schema = layer["propertiesSchema"]["properties"]
        assert schema and all(
            p["type"] in {"string", "number", "integer", "boolean"} for p in schema.values()
        )
    assert "lowest ids" in document["description"]


@pytest.mark.parametrize("collection", [None, "villages", "material-zones"])
def test_tile_matrix_set_limits_cover_the_data(client: TestClient, collection: str | None) -> None:
    document = client.get(_tileset_path(collection)).json()
    limits = {entry["tileMatrix"]: entry for entry in document["tileMatrixSetLimits"]}
    assert list(limits) == [str(z) for z in range(23)]
    assert limits["0"] == {
        "tileMatrix": "0",
        "minTileRow": 0,
        "maxTileRow": 0,
        "minTileCol": 0,
        "maxTileCol": 0,
    }
    names = [collection] if collection else _collections(client)
    reached: dict[int, list[int]] = {}
    for name in names:
        every = client.get(f"/collections/{name}/items?limit=10000").json()["features"]
        for feature in every:
            if feature["geometry"] is None:
                continue
            west, south, east, north = shapely.geometry.shape(feature["geometry"]).bounds
            for z in (3, 8, 12, 22):
                low, high = TMS.tile(west, north, z), TMS.tile(east, south, z)
                entry = limits[str(z)]
                assert entry["minTileCol"] <= low.x and high.x <= entry["maxTileCol"]
                assert entry["minTileRow"] <= low.y and high.y <= entry["maxTileRow"]
                seen = reached.setdefault(z, [low.x, high.x, low.y, high.y])
                reached[z] = [
                    min(seen[0], low.x),
                    max(seen[1], high.x),
                    min(seen[2], low.y),
                    max(seen[3], high.y),
                ]
    # Tight, not the world: each limit is the tile of some feature's edge.
    for z, (min_col, max_col, min_row, max_row) in reached.items():
        assert limits[str(z)] == {
            "tileMatrix": str(z),
            "minTileRow": min_row,
            "maxTileRow": max_row,
            "minTileCol": min_col,
            "maxTileCol": max_col,
        }


@pytest.mark.parametrize("collection", ["villages", "material-zones", "routes", "route-stops"])
def test_tilejson_fields_are_the_types_the_tiles_carry(client: TestClient, collection: str) -> None:
    tilejson = client.get(f"{_tileset_path(collection)}/tilejson.json").json()
    (layer,) = tilejson["vector_layers"]
    fields = layer["fields"]
    assert fields and set(fields.values()) <= set(MVT_TYPES), fields
    assert "lowest ids" in tilejson["description"]
    point = _some_feature_point(client, collection)
    assert point is not None
    tile = TMS.tile(point.x, point.y, 14)
    response = client.get(f"{_tileset_path(collection)}/{tile.z}/{tile.y}/{tile.x}")
    assert response.status_code == 200
    decoded = mapbox_vector_tile.decode(response.content)[collection]
    carried = 0
    for feature in decoded["features"]:
        for name, value in feature["properties"].items():
            declared = fields[name]
            ok = isinstance(value, MVT_TYPES[declared])
            if declared == "Number":
                ok = ok and not isinstance(value, bool)
            assert ok, f"{name}: {value!r} is not a {declared}"
            carried += 1
    assert carried


def test_the_combined_tilejson_has_the_bounds_of_the_data(client: TestClient) -> None:
    west, south, east, north = client.get("/tiles/WebMercatorQuad/tilejson.json").json()["bounds"]
    assert 100 < west < east < 120 and 5 < south < north < 25


@pytest.mark.parametrize("collection", ["villages", None])
def test_unknown_tile_properties_are_400_naming_them(
    client: TestClient, collection: str | None
) -> None:
    point = _some_feature_point(client, "villages")
    assert point is not None
    tile = TMS.tile(point.x, point.y, 9)
    url = f"{_tileset_path(collection)}/{tile.z}/{tile.y}/{tile.x}?properties=name,nope"
    response = client.get(url)
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    detail = response.json()["detail"]
    assert "'nope'" in detail and "known:" in detail and "name" in detail
    # The same words as items.
    items = client.get("/collections/villages/items?properties=name,nope").json()["detail"]
    assert items.split(";")[0] == detail.split(";")[0]
    # Known names still work, and an empty value carries none.
    good = client.get(url.replace(",nope", ""))
    assert good.status_code == 200
    bare = client.get(url.split("?")[0] + "?properties=")
    layer = mapbox_vector_tile.decode(bare.content)["villages"]
    assert all(f["properties"] == {} for f in layer["features"])
