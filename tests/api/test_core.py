"""OGC API – Features Part 1 (core, GeoJSON, HTML, OpenAPI 3.0) against the demo data."""

from __future__ import annotations

import gzip
from typing import Any

import pytest
import shapely
from fastapi.testclient import TestClient
from openapi_spec_validator import validate
from openapi_spec_validator.validation import OpenAPIV30SpecValidator

QGIS_CLASSES = {
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/features-filter",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-text",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-cql2",
}


def _json(client: TestClient, url: str, **kwargs: Any) -> Any:
    response = client.get(url, **kwargs)
    assert response.status_code == 200, response.text
    return response.json()


def test_landing_links_to_api_conformance_and_data(client: TestClient) -> None:
    body = _json(client, "/", headers={"Accept": "application/json"})
    rels = {link["rel"]: link for link in body["links"]}
    assert rels["service-desc"]["type"] == "application/vnd.oai.openapi+json;version=3.0"
    assert rels["conformance"]["href"].endswith("/conformance")
    assert rels["data"]["href"].endswith("/collections")


def test_conformance_declares_what_qgis_needs(client: TestClient) -> None:
    classes = set(_json(client, "/conformance")["conformsTo"])
    assert QGIS_CLASSES <= classes
    assert "http://www.opengis.net/spec/cql2/1.0/conf/cql2-json" in classes
    assert "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs" in classes
    assert "http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/create-replace-delete" in classes


def test_api_is_a_valid_openapi_30_document(client: TestClient) -> None:
    response = client.get("/api")
    assert response.headers["content-type"] == "application/vnd.oai.openapi+json;version=3.0"
    document = response.json()
    assert document["openapi"].startswith("3.0")
    validate(document, cls=OpenAPIV30SpecValidator)
    assert "/collections/{collectionId}/items" in document["paths"]
    html = client.get("/api", headers={"Accept": "text/html"})
    assert html.headers["content-type"].startswith("text/html")
    assert "/collections/{collectionId}/items" in html.text


def test_collections_list_every_collection_with_crs(client: TestClient) -> None:
    body = _json(client, "/collections")
    ids = {c["id"] for c in body["collections"]}
    assert {"villages", "material-zones", "routes", "route-stops", "admin-units"} <= ids
    villages = next(c for c in body["collections"] if c["id"] == "villages")
    minx, miny, maxx, maxy = villages["extent"]["spatial"]["bbox"][0]
    assert 104 < minx < maxx < 107 and 19 < miny < maxy < 21
    assert villages["storageCrs"] == "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
    assert "http://www.opengis.net/def/crs/EPSG/0/5897" in villages["crs"]
    assert {link["rel"] for link in villages["links"]} >= {"self", "items", "alternate"}


def test_unknown_collection_is_404(client: TestClient) -> None:
    response = client.get("/collections/no-such")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"


def test_items_page_counts_and_links(client: TestClient) -> None:
    response = client.get("/collections/villages/items")
    assert response.headers["content-type"] == "application/geo+json"
    body = response.json()
    assert body["type"] == "FeatureCollection"
    assert body["numberReturned"] == 10 == len(body["features"])
    assert body["numberMatched"] >= 30
    assert "timeStamp" in body
    rels = {link["rel"] for link in body["links"]}
    assert {"self", "alternate", "next"} <= rels and "prev" not in rels
    feature = body["features"][0]
    assert feature["type"] == "Feature" and isinstance(feature["id"], int)
    assert feature["geometry"]["type"] == "Point"
    assert "Trà Đông" in {f["properties"]["name"] for f in body["features"]}


def test_paging_by_next_links_visits_every_feature_once(client: TestClient) -> None:
    url: str | None = "/collections/villages/items?limit=7"
    seen: list[int] = []
    matched = None
    pages = 0
    while url is not None:
        body = _json(client, url)
        matched = body["numberMatched"]
        seen += [f["id"] for f in body["features"]]
        nexts = [link["href"] for link in body["links"] if link["rel"] == "next"]
        if pages > 0:
            assert any(link["rel"] == "prev" for link in body["links"])
        url = nexts[0] if nexts else None
        pages += 1
    assert len(seen) == len(set(seen)) == matched
    assert pages == -(-matched // 7)


@pytest.mark.parametrize(
    ("query", "detail"),
    [
        ("limit=0", "limit"),
        ("limit=abc", "limit"),
        ("offset=-1", "offset"),
        ("bbox=1,2,3", "bbox"),
        ("bbox=105,21,106,20", "bbox"),
        ("datetime=yesterday", "datetime"),
        ("sortby=nonsense", "sortby"),
        ("properties=nonsense", "properties"),
        ("crs=EPSG:9999", "CRS"),
        ("colour=red", "unknown query parameter colour"),
        ("f=xml", "f must be"),
    ],
)
def test_bad_parameters_are_400_problems(client: TestClient, query: str, detail: str) -> None:
    response = client.get(f"/collections/villages/items?{query}")
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    assert detail in response.json()["detail"]


def test_limit_above_maximum_is_clamped(client: TestClient) -> None:
    body = _json(client, "/collections/villages/items?limit=50000")
    assert body["numberReturned"] == body["numberMatched"]


def test_single_item_and_its_errors(client: TestClient) -> None:
    first = _json(client, "/collections/villages/items?limit=1")["features"][0]
    response = client.get(f"/collections/villages/items/{first['id']}")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/geo+json"
    assert response.headers["etag"].startswith('"v')
    item = response.json()
    assert item["id"] == first["id"] and item["properties"] == first["properties"]
    assert {link["rel"] for link in item["links"]} >= {"self", "collection"}
    assert client.get("/collections/villages/items/99999999").status_code == 404
    # (ogc, issue 10) an id that is not a whole number names no feature: 404, not 400.
    assert client.get("/collections/villages/items/abc").status_code == 404


def test_if_none_match_gives_304(client: TestClient) -> None:
    first = _json(client, "/collections/material-zones/items?limit=1")["features"][0]
    url = f"/collections/material-zones/items/{first['id']}"
    etag = client.get(url).headers["etag"]
    again = client.get(url, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""


def _exterior_is_ccw(geometry: dict[str, Any]) -> bool:
    shape = shapely.geometry.shape(geometry)
    polygons = shape.geoms if shape.geom_type == "MultiPolygon" else [shape]
    return all(p.exterior.is_ccw for p in polygons)


def test_polygons_follow_the_right_hand_rule(client: TestClient, keys: dict[str, str]) -> None:
    # Stored clockwise on purpose: the output must still be counter-clockwise.
    clockwise = {
        "type": "Polygon",
        "coordinates": [
            [[105.9, 20.0], [105.9, 20.01], [105.91, 20.01], [105.91, 20.0], [105.9, 20.0]]
        ],
    }
    assert not shapely.geometry.shape(clockwise).exterior.is_ccw
    created = client.post(
        "/collections/material-zones/items",
        json={
            "type": "Feature",
            "geometry": clockwise,
            "properties": {
                "code": "T-CW",
                "name": "Vùng thuận chiều kim đồng hồ",
                "material": "sedge",
            },
        },
        headers={"Authorization": f"Bearer {keys['planner']}"},
    )
    assert created.status_code == 201, created.text
    body = _json(client, "/collections/material-zones/items?limit=100")
    assert body["features"] and all(_exterior_is_ccw(f["geometry"]) for f in body["features"])


def test_html_pages_for_every_resource(client: TestClient) -> None:
    for url in (
        "/",
        "/conformance",
        "/collections",
        "/collections/villages",
        "/collections/villages/queryables",
        "/collections/villages/schema",
        "/collections/villages/items",
    ):
        response = client.get(url, headers={"Accept": "text/html"})
        assert response.status_code == 200, url
        assert response.headers["content-type"].startswith("text/html"), url
        assert 'lang="vi"' in response.text, url
    items = client.get("/collections/villages/items?f=html&lang=en&limit=5").text
    assert 'lang="en"' in items and "<svg" in items and 'id="features"' in items
    assert 'rel="next"' in items
    first = _json(client, "/collections/villages/items?limit=1")["features"][0]
    item = client.get(f"/collections/villages/items/{first['id']}?f=html").text
    # (issue 12) a point's page links the map rather than drawing a lone dot
    assert first["properties"]["name"] in item and 'id="on-the-map"' in item


def test_properties_selects_what_comes_back(client: TestClient) -> None:
    body = _json(client, "/collections/villages/items?properties=name,crafts&limit=3")
    assert all(set(f["properties"]) == {"name", "crafts"} for f in body["features"])


def test_sortby_orders_by_properties(client: TestClient) -> None:
    body = _json(client, "/collections/villages/items?sortby=-workers,name&limit=100")
    workers = [f["properties"]["workers"] for f in body["features"]]
    known = [w for w in workers if w is not None]
    assert known == sorted(known, reverse=True) and known
    assert workers[: len(known)] == known  # no-value features come last
    names = [
        f["properties"]["name"] for f in body["features"] if f["properties"]["workers"] is None
    ]
    assert names == sorted(names)


def test_datetime_filters_on_record_dates(client: TestClient) -> None:
    dated = _json(client, "/collections/villages/items?datetime=../9999-12-31&limit=100")
    dates = [f["properties"]["recognition_date"] for f in dated["features"]]
    assert dates and all(d is not None for d in dates)
    day = dates[0]
    exact = _json(client, f"/collections/villages/items?datetime={day}&limit=100")
    assert {f["properties"]["recognition_date"] for f in exact["features"]} == {day}
    later = _json(client, "/collections/villages/items?datetime=2100-01-01/..")
    assert later["numberMatched"] == 0
    # Validity periods: legacy units ended on 2025-06-30, the 2025 ones started on 2025-07-01.
    units_2024 = _json(client, "/collections/admin-units/items?datetime=2024-06-01&limit=1000")
    units_2026 = _json(client, "/collections/admin-units/items?datetime=2026-01-01&limit=1000")
    assert units_2024["numberMatched"] > 0 and units_2026["numberMatched"] > 0
    ids_2024 = {f["id"] for f in units_2024["features"]}
    ids_2026 = {f["id"] for f in units_2026["features"]}
    assert not ids_2024 & ids_2026


def test_bbox_matches_shapely(client: TestClient) -> None:
    every = _json(client, "/collections/villages/items?limit=1000")["features"]
    box = shapely.box(105.6, 19.7, 105.9, 19.9)
    expected = {f["id"] for f in every if shapely.geometry.shape(f["geometry"]).intersects(box)}
    got = _json(client, "/collections/villages/items?bbox=105.6,19.7,105.9,19.9&limit=1000")
    assert expected and {f["id"] for f in got["features"]} == expected
    assert got["numberMatched"] == len(expected)


def test_gzip_when_asked(client: TestClient) -> None:
    response = client.get(
        "/collections/material-zones/items?limit=100", headers={"Accept-Encoding": "gzip"}
    )
    assert response.headers["content-encoding"] == "gzip"
    raw = client.get(
        "/collections/material-zones/items?limit=100", headers={"Accept-Encoding": "identity"}
    )
    assert "content-encoding" not in raw.headers
    assert len(gzip.compress(raw.content)) < len(raw.content)


def test_queryables_work_as_query_parameters(client: TestClient) -> None:
    sedge = _json(client, "/collections/material-zones/items?material=sedge&limit=100")
    assert sedge["numberMatched"] > 0
    assert {f["properties"]["material"] for f in sedge["features"]} == {"sedge"}
    every = _json(client, "/collections/material-zones/items?limit=100")["features"]
    assert sedge["numberMatched"] == sum(f["properties"]["material"] == "sedge" for f in every)
    bad = client.get("/collections/villages/items?households=many")
    assert bad.status_code == 400


def test_browsers_get_errors_as_pages(client: TestClient) -> None:
    page = client.get("/collections/no-such/items", headers={"Accept": "text/html"})
    assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
    assert "no-such" in page.text
    items = client.get("/collections/material-zones/items?f=html&limit=3&lang=en")
    assert "<h1>Features: Raw-material zones</h1>" in items.text


def test_export_streams_every_matching_feature(client: TestClient) -> None:
    response = client.get("/collections/villages/export")
    assert response.status_code == 200
    assert response.headers["content-disposition"] == 'attachment; filename="villages.geojson"'
    body = response.json()
    count = _json(client, "/collections/villages/items?limit=1")["numberMatched"]
    assert body["numberReturned"] == len(body["features"]) == count
    sedge = client.get("/collections/material-zones/export?filter=material='sedge'").json()
    assert sedge["features"] and {f["properties"]["material"] for f in sedge["features"]} == {
        "sedge"
    }
    assert client.get("/collections/villages/export?limit=5").status_code == 400


@pytest.mark.parametrize(
    "url",
    [
        "/collections/villages/items/99999999999999999",
        "/collections/villages/items/0",
        "/collections/villages/items/99999999999999999/history",
    ],
)
def test_out_of_range_ids_are_404_not_500(client: TestClient, url: str) -> None:
    # (ogc, issue 10) an id no feature can have names no resource: 404 (Part 1, Table 3).
    response = client.get(url)
    assert response.status_code == 404, response.text
    assert response.headers["content-type"] == "application/problem+json"
