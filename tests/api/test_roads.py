"""The road network served: the ``roads`` collection, its pages and its tile layer."""

from __future__ import annotations

import mapbox_vector_tile
import morecantile
from fastapi.testclient import TestClient

from tests.api.conftest import bearer

# Thanh Hóa city centre, on QL1 and QL47 of the demo network.
CITY = (105.7835, 19.8047)


def test_roads_are_a_collection_in_both_languages(client: TestClient) -> None:
    listed = client.get("/collections").json()["collections"]
    roads = next(c for c in listed if c["id"] == "roads")
    assert roads["title"] == "Mạng lưới đường bộ"
    english = client.get("/collections/roads?lang=en").json()
    assert english["title"] == "Road network"
    queryables = client.get("/collections/roads/queryables").json()["properties"]
    assert {"road_class", "ref", "oneway", "length_m", "speed_car", "geometry"} <= set(queryables)
    assert not {"cost_car", "reverse_cost_walking", "source", "target"} & set(queryables)
    assert queryables["road_class"]["enum"][:3] == ["motorway", "trunk", "primary"]


def test_road_items_filter_by_bbox_and_cql2(client: TestClient) -> None:
    west, south = CITY[0] - 0.05, CITY[1] - 0.05
    box = f"{west},{south},{CITY[0] + 0.05},{CITY[1] + 0.05}"
    near_city = client.get(f"/collections/roads/items?bbox={box}&limit=100").json()
    refs = {f["properties"]["ref"] for f in near_city["features"]}
    assert {"QL1", "QL47", "QL45"} <= refs
    assert all(f["geometry"]["type"] == "LineString" for f in near_city["features"])
    trunk = client.get(
        "/collections/roads/items",
        params={"filter": "road_class = 'trunk' AND length_m > 1000", "limit": 100},
    ).json()
    assert trunk["numberMatched"] > 0
    assert {f["properties"]["ref"] for f in trunk["features"]} == {"QL1", "HCM"}
    assert all(f["properties"]["approximate"] is True for f in trunk["features"])


def test_a_road_has_a_page_in_both_languages(client: TestClient) -> None:
    feature = client.get(
        "/collections/roads/items", params={"filter": "ref = 'QL1'", "limit": 1}
    ).json()["features"][0]
    url = f"/collections/roads/items/{feature['id']}"
    vi = client.get(f"{url}?f=html").text
    assert "Cấp đường" in vi and "Quốc lộ chính" in vi and "Tốc độ ô tô" in vi
    assert "gần đúng" in vi
    en = client.get(f"{url}?f=html&lang=en").text
    assert "Road class" in en and "Trunk road" in en and "Car speed" in en
    listing = client.get("/collections/roads/items?f=html&limit=5").text
    assert "Mạng lưới đường bộ" in listing


def test_the_tiles_carry_a_roads_layer_with_the_class(client: TestClient) -> None:
    tile = morecantile.tms.get("WebMercatorQuad").tile(*CITY, 9)
    answer = client.get(f"/tiles/WebMercatorQuad/{tile.z}/{tile.y}/{tile.x}")
    assert answer.status_code == 200
    layers = mapbox_vector_tile.decode(answer.content)
    assert "roads" in layers
    classes = {f["properties"]["road_class"] for f in layers["roads"]["features"]}
    assert {"trunk", "primary"} <= classes
    own = client.get(f"/collections/roads/tiles/WebMercatorQuad/{tile.z}/{tile.y}/{tile.x}")
    assert set(mapbox_vector_tile.decode(own.content)) == {"roads"}


def test_roads_are_read_only_even_for_an_admin(client: TestClient, keys: dict[str, str]) -> None:
    body = {
        "type": "Feature",
        "properties": {
            "network_id": 1,
            "road_class": "primary",
            "speed_car": 50,
            "speed_motorbike": 40,
            "speed_bicycle": 15,
            "speed_walking": 5,
        },
        "geometry": {"type": "LineString", "coordinates": [[105.7, 19.8], [105.71, 19.8]]},
    }
    answer = client.post("/collections/roads/items", json=body, headers=bearer(keys["admin"]))
    assert answer.status_code == 403
    assert "read-only" in answer.json()["detail"]
