"""OGC API to the letter (issue 10, ogc): extents, 404 for paths that name nothing, the HTML
pages' links, and the domain rules and geometry rules of writes."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from html.parser import HTMLParser
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from api.openapi import example_feature
from geo.store import catalog
from tests.api.conftest import bearer
from tests.factories import TWO_STOPS, make_admin_unit, make_route, make_village

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
GREGORIAN = "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian"
PROBLEM = "application/problem+json"


# -- 6. extents ----------------------------------------------------------------------------------
def _positions(coordinates: Any) -> Iterator[tuple[float, float]]:
    if coordinates and isinstance(coordinates[0], int | float):
        yield coordinates[0], coordinates[1]
        return
    for part in coordinates:
        yield from _positions(part)


def _instant(value: str) -> dt.datetime:
    # Dates are days starting at midnight UTC, as the extent writes them.
    parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def _iso(value: dt.datetime | None) -> str | None:
    return None if value is None else value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def _hand_extent(client: TestClient, collection: catalog.Collection) -> dict[str, Any]:
    """The extent worked out in Python from the served features, not from SQL aggregates."""
    features = client.get(f"/collections/{collection.id}/items?limit=10000").json()["features"]
    positions = [
        p for f in features if f["geometry"] for p in _positions(f["geometry"]["coordinates"])
    ]
    expected: dict[str, Any] = {}
    if positions:
        xs, ys = [p[0] for p in positions], [p[1] for p in positions]
        expected["spatial"] = [min(xs), min(ys), max(xs), max(ys)]
    assert collection.temporal is not None
    start, end = collection.temporal
    starts = [f["properties"][start] for f in features]
    if end is None:
        known = [_instant(v) for v in starts if v is not None]
        expected["temporal"] = [_iso(min(known)), _iso(max(known))] if known else None
    else:
        ends = [f["properties"][end] for f in features]
        # A unit valid since before the records (no start) or still valid (no end) leaves
        # the interval open at that end.
        expected["temporal"] = [
            None if None in starts else _iso(min(map(_instant, starts))),
            None if None in ends else _iso(max(map(_instant, ends))),
        ]
    return expected


@pytest.mark.parametrize("collection", catalog.CORE, ids=lambda c: c.id)
def test_extent_matches_a_hand_computation(
    client: TestClient, collection: catalog.Collection
) -> None:
    document = client.get(f"/collections/{collection.id}").json()
    extent = document["extent"]
    expected = _hand_extent(client, collection)
    if "spatial" in expected:
        assert extent["spatial"]["crs"] == CRS84
        assert extent["spatial"]["bbox"][0] == pytest.approx(expected["spatial"], abs=2e-6)
    else:
        assert "spatial" not in extent
    assert extent["temporal"]["trs"] == GREGORIAN
    assert extent["temporal"]["interval"] == [expected["temporal"]]
    low, high = extent["temporal"]["interval"][0]
    assert low is None or high is None or low <= high, "an interval never runs backwards"
    assert document["crs"][0] == CRS84 and document["storageCrs"] == CRS84


def test_admin_units_interval_is_open_where_validity_is(
    client: TestClient, session: Session
) -> None:
    def interval() -> list[str | None]:
        return client.get("/collections/admin-units").json()["extent"]["temporal"]["interval"][0]

    # The demo has the legacy units (no start, ended 2025-06-30) and the 2025 ones (from
    # 2025-07-01, still valid): open at both ends, never [2025-07-01, 2025-06-30].
    assert interval() == [None, None]
    conn = session.connection()
    conn.execute(
        sa.text("UPDATE admin_unit SET valid_from = '2019-01-01' WHERE valid_from IS NULL")
    )
    assert interval() == ["2019-01-01T00:00:00Z", None]
    conn.execute(sa.text("UPDATE admin_unit SET valid_to = '2030-12-31' WHERE valid_to IS NULL"))
    assert interval() == ["2019-01-01T00:00:00Z", "2030-12-31T00:00:00Z"]


# -- 7. paths that name nothing: 404 ---------------------------------------------------------
def _assert_problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, (response.request.url, response.text)
    assert response.headers["content-type"].startswith(PROBLEM), response.headers
    body = response.json()
    assert body["status"] == status
    return body


@pytest.mark.parametrize("fid", ["abc", "1.5", "-1", "0", "99999999999999999999", "١", "+1"])
def test_feature_id_that_is_not_a_whole_number_is_404(client: TestClient, fid: str) -> None:
    for path in (
        f"/collections/villages/items/{fid}",
        f"/collections/villages/items/{fid}/history",
        f"/maps/routes/{fid}",
    ):
        _assert_problem(client.get(path), 404)


def test_writes_to_a_feature_id_that_names_nothing_are_404(
    client: TestClient, keys: dict[str, str], session: Session
) -> None:
    village = client.get(f"/collections/villages/items/{make_village(session)}").json()
    headers = bearer(keys["admin"])
    body = {"type": "Feature", "geometry": village["geometry"], "properties": {}}
    _assert_problem(client.put("/collections/villages/items/abc", json=body, headers=headers), 404)
    _assert_problem(client.patch("/collections/villages/items/1.5", json={}, headers=headers), 404)
    _assert_problem(client.delete("/collections/villages/items/-1", headers=headers), 404)
    base = f"/collections/villages/items/{village['id']}/history"
    for hid in ("abc", "1.5", "-1", "99999999999999999999999"):
        _assert_problem(client.post(f"{base}/{hid}/restore", headers=headers), 404)


@pytest.mark.parametrize(
    "path",
    [
        "/collections/no-such-collection",
        "/collections/no-such-collection/items",
        "/collections/no-such-collection/items/1",
        "/collections/no-such-collection/schema",
        "/no/such/path",
        "/collections/villages/items/1/no-such-part",
    ],
)
def test_unknown_collections_and_paths_are_404_problems(client: TestClient, path: str) -> None:
    _assert_problem(client.get(path), 404)


@pytest.mark.parametrize(
    "address", ["x/0/0", "3/8/0", "3/0/8", "30/0/0", "-1/0/0", "0/-1/0", "0/0/1.5", "2/٣/0"]
)
def test_tile_address_out_of_the_matrix_set_is_404(client: TestClient, address: str) -> None:
    # OGC API – Tiles /req/core/tc-error: a tile matrix, row or column outside the set.
    _assert_problem(client.get(f"/collections/villages/tiles/WebMercatorQuad/{address}"), 404)
    _assert_problem(client.get(f"/tiles/WebMercatorQuad/{address}"), 404)


@pytest.mark.parametrize(
    "path",
    [
        "/collections/villages/items?limit=abc",
        "/collections/villages/items?bbox=1,2",
        "/collections/villages/items?no-such-parameter=1",
        "/collections/villages/tiles/WebMercatorQuad/0/0/0?no-such-parameter=1",
    ],
)
def test_malformed_query_parameters_stay_400(client: TestClient, path: str) -> None:
    _assert_problem(client.get(path), 400)


# -- 9. the HTML pages carry every link of the JSON ones ------------------------------------------
class _Anchors(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self.hrefs.update(v for k, v in attrs if k == "href" and v)


def _html_hrefs(client: TestClient, path: str, lang: str) -> set[str]:
    response = client.get(path, params={"f": "html", "lang": lang})
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    parser = _Anchors()
    parser.feed(response.text)
    return parser.hrefs


def _json_links(client: TestClient, path: str, lang: str) -> list[dict[str, Any]]:
    return client.get(path, params={"f": "json", "lang": lang}).json()["links"]


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_html_landing_page_links_everything_the_json_one_does(
    client: TestClient, lang: str
) -> None:
    links = _json_links(client, "/", lang)
    rels = {link["rel"] for link in links}
    assert rels >= {
        "service-desc",
        "service-doc",
        "conformance",
        "data",
        "http://www.opengis.net/def/rel/ogc/1.0/tilesets-vector",
        "http://www.opengis.net/def/rel/ogc/1.0/tiling-schemes",
    }
    hrefs = {link["href"] for link in links}
    assert any(h.endswith("/maps") for h in hrefs) and any(h.endswith("/maps/edit") for h in hrefs)
    missing = hrefs - _html_hrefs(client, "/", lang)
    assert not missing, f"links of the JSON landing page missing from its HTML form: {missing}"


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_html_collection_pages_link_everything_the_json_ones_do(
    client: TestClient, lang: str
) -> None:
    document = client.get("/collections", params={"f": "json", "lang": lang}).json()
    wanted = {link["href"] for link in document["links"]}
    for collection in document["collections"]:
        wanted |= {link["href"] for link in collection["links"]}
    missing = wanted - _html_hrefs(client, "/collections", lang)
    assert not missing, f"missing from the HTML collections page: {missing}"
    for collection in document["collections"]:
        path = f"/collections/{collection['id']}"
        wanted = {link["href"] for link in _json_links(client, path, lang)}
        missing = wanted - _html_hrefs(client, path, lang)
        assert not missing, f"missing from the HTML page of {path}: {missing}"


# -- 10. domain rules and geometry at write -------------------------------------------------------
def _square(lon: float, lat: float, size: float = 0.02) -> dict[str, Any]:
    return {
        "type": "Polygon",
        "coordinates": [
            [[lon, lat], [lon + size, lat], [lon + size, lat + size], [lon, lat + size], [lon, lat]]
        ],
    }


def _zone(geometry: dict[str, Any], **properties: Any) -> dict[str, Any]:
    body = example_feature(catalog.MATERIAL_ZONES)
    body["properties"].update({"code": "T-Z-LETTER", **properties})
    return {**body, "geometry": geometry}


def _counts(session: Session) -> tuple[int, ...]:
    conn = session.connection()
    return tuple(
        conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one()
        for table in (
            "material_zone",
            "tourism_route",
            "route_stop",
            "admin_unit",
            "feature_history",
        )
    )


@pytest.fixture
def nothing_written(session: Session) -> Callable[[], None]:
    before = _counts(session)

    def check() -> None:
        assert _counts(session) == before, "a refused write must write nothing"

    return check


def _load_provinces(session: Session) -> None:
    """Boundaries as squares: Thanh Hóa (38) and, south of it, Nghệ An (40)."""
    for code, name, wkt in (
        (
            "38",
            "Tỉnh Thanh Hóa",
            "MULTIPOLYGON(((104.3 19.2,106.2 19.2,106.2 20.7,104.3 20.7,104.3 19.2)))",
        ),
        (
            "40",
            "Tỉnh Nghệ An",
            "MULTIPOLYGON(((103.8 18.5,106.2 18.5,106.2 19.2,103.8 19.2,103.8 18.5)))",
        ),
    ):
        session.connection().execute(
            sa.text(
                "INSERT INTO admin_unit (code, scheme, name, level, valid_from, geom) "
                "VALUES (:code, 'test-boundaries', :name, 'province', '2025-07-01', "
                "ST_GeomFromText(:wkt, 4326))"
            ),
            {"code": code, "name": name, "wkt": wkt},
        )


def _post(client: TestClient, collection: str, body: Any, token: str) -> Any:
    return client.post(f"/collections/{collection}/items", json=body, headers=bearer(token))


def _refused(response: Any, rule: str) -> None:
    body = _assert_problem(response, 400)
    assert body["detail"].startswith(f"{rule}:"), body["detail"]


def test_zone_in_thailand_is_refused(
    client: TestClient, keys: dict[str, str], nothing_written: Callable[[], None]
) -> None:
    near_bangkok = _zone(_square(100.5, 13.7))
    _refused(_post(client, "material-zones", near_bangkok, keys["planner"]), "zone-in-vietnam")
    nothing_written()


def test_zone_straddling_the_outline_is_refused(
    client: TestClient, keys: dict[str, str], session: Session, nothing_written: Callable[[], None]
) -> None:
    # Across the coarse outline's western edge (102° E), into Laos and Thailand.
    across_box = _zone(_square(101.95, 18.0, 0.1))
    _refused(_post(client, "material-zones", across_box, keys["planner"]), "zone-in-vietnam")
    _load_provinces(session)
    before = _counts(session)
    # Across Thanh Hóa's western boundary into Laos; and wholly in Thailand (Khon Kaen),
    # inside the coarse box but outside every loaded province.
    for geometry in (_square(104.25, 20.0, 0.1), _square(102.8, 16.4)):
        response = _post(client, "material-zones", _zone(geometry), keys["planner"])
        _refused(response, "zone-in-vietnam")
        assert "province boundary" in response.json()["detail"]
    assert _counts(session) == before
    inside = _post(client, "material-zones", _zone(_square(105.9, 20.0)), keys["planner"])
    assert inside.status_code == 201, inside.text


def test_zone_lies_in_the_province_of_its_communes(
    client: TestClient, keys: dict[str, str], session: Session
) -> None:
    _load_provinces(session)
    # 14758 (Phường Hàm Rồng) is a 2025 commune of Thanh Hóa (38) in the demo units.
    in_nghe_an = _zone(_square(105.5, 18.8), commune_codes=["14758"])
    response = _post(client, "material-zones", in_nghe_an, keys["planner"])
    _refused(response, "zone-in-province")
    assert "Thanh Hóa" in response.json()["detail"]
    unnamed = _zone(_square(105.5, 18.8))
    created = _post(client, "material-zones", unnamed, keys["planner"])
    assert created.status_code == 201, created.text
    url = f"/collections/material-zones/items/{created.json()['id']}"
    # Naming a Thanh Hóa commune afterwards, geometry unchanged, breaks the rule too.
    patched = client.patch(
        url, json={"properties": {"commune_codes": ["14758"]}}, headers=bearer(keys["planner"])
    )
    _refused(patched, "zone-in-province")
    in_thanh_hoa = _zone(_square(105.7, 19.8), commune_codes=["14758"], code="T-Z-LETTER-2")
    assert _post(client, "material-zones", in_thanh_hoa, keys["planner"]).status_code == 201


def test_routes_and_stops_outside_vietnam_are_refused(
    client: TestClient, keys: dict[str, str], session: Session, nothing_written: Callable[[], None]
) -> None:
    route = example_feature(catalog.ROUTES)
    into_laos = {"type": "LineString", "coordinates": [[105.0, 20.0], [101.5, 19.9]]}
    _refused(
        _post(client, "routes", {**route, "geometry": into_laos}, keys["tourism"]),
        "route-in-vietnam",
    )
    stop = example_feature(catalog.ROUTE_STOPS)
    in_bangkok = {"type": "Point", "coordinates": [100.5, 13.75]}
    _refused(
        _post(client, "route-stops", {**stop, "geometry": in_bangkok}, keys["tourism"]),
        "stop-in-vietnam",
    )
    nothing_written()
    existing = client.get(f"/collections/routes/items/{make_route(session, stops=TWO_STOPS)}")
    _load_provinces(session)
    in_laos = {"type": "Point", "coordinates": [103.5, 20.0]}
    _refused(
        _post(client, "route-stops", {**stop, "geometry": in_laos}, keys["tourism"]),
        "stop-in-vietnam",
    )
    replaced = client.put(
        existing.url.path,
        json={
            "type": "Feature",
            "geometry": into_laos,
            "properties": existing.json()["properties"],
        },
        headers=bearer(keys["tourism"]),
    )
    _refused(replaced, "route-in-vietnam")


def test_admin_unit_without_a_boundary_is_written_and_read_alike(
    client: TestClient, keys: dict[str, str], session: Session
) -> None:
    # Served: a unit without a boundary has geometry null...
    served = client.get(f"/collections/admin-units/items/{make_admin_unit(session)}").json()
    assert served["geometry"] is None
    # ...and the same representation is accepted back.
    unit = example_feature(catalog.ADMIN_UNITS)
    unit["properties"].update(code="99999", scheme="test", level="district")
    created = _post(client, "admin-units", {**unit, "geometry": None}, keys["admin"])
    assert created.status_code == 201, created.text
    assert created.json()["geometry"] is None
    url = f"/collections/admin-units/items/{created.json()['id']}"
    boundary = {"type": "MultiPolygon", "coordinates": [_square(105.7, 19.8)["coordinates"]]}
    headers = bearer(keys["admin"])
    with_boundary = client.put(url, json={**unit, "geometry": boundary}, headers=headers)
    assert with_boundary.status_code == 200, with_boundary.text
    assert with_boundary.json()["geometry"]["type"] == "MultiPolygon"
    cleared = client.patch(url, json={"geometry": None}, headers=headers)
    assert cleared.status_code == 200 and cleared.json()["geometry"] is None
    assert client.get(url).json()["geometry"] is None
    versions = client.get(f"{url}/history", headers=headers).json()["versions"]
    assert len(versions) == 3, "every write is kept in history"
    # Collections that need a geometry still refuse null, naming the collection.
    village = example_feature(catalog.VILLAGES)
    body = _assert_problem(
        _post(client, "villages", {**village, "geometry": None}, keys["admin"]), 400
    )
    assert "geometry is required for villages" in body["detail"]


def test_schemas_say_which_geometry_a_write_accepts(client: TestClient) -> None:
    document = client.get("/api").json()
    schemas = document["components"]["schemas"]
    for collection in catalog.CORE:
        served = client.get(f"/collections/{collection.id}/schema").json()
        geometry = served["properties"]["geometry"]
        assert geometry["x-ogc-role"] == "primary-geometry"
        name = "".join(part.capitalize() for part in collection.id.split("-"))
        documented = schemas[f"{name}FeatureInput"]["properties"]["geometry"]
        patch = schemas[f"{name}FeaturePatch"]["properties"]["geometry"]
        # A stop may omit its geometry when it names a village (issue 15).
        optional = collection.id in {"admin-units", "routes", "route-stops"}
        assert ("geometry" in served["required"]) is not optional, collection.id
        assert geometry["type"] == (["object", "null"] if optional else "object")
        assert bool(documented.get("nullable")) is optional, collection.id
        assert bool(patch.get("nullable")) is optional, collection.id
    assert (
        client.get("/collections/admin-units/schema").json()["properties"]["geometry"]["format"]
        == "geometry-polygon-or-multipolygon"
    )
