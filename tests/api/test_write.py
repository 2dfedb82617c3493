"""OGC API – Features Part 4 with keys, roles, ETags, domain rules and history."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from pyproj import Transformer
from sqlalchemy.orm import Session

from tests.api.conftest import bearer
from tests.factories import TWO_STOPS, make_route, make_village, village_feature, zone_feature

ZONE = zone_feature(code="T-Z-NEW")
VILLAGE = village_feature(code="T-V-NEW")


def _counts(session: Session) -> tuple[int, int, int]:
    conn = session.connection()
    return tuple(  # type: ignore[return-value]
        conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar()
        for table in ("material_zone", "craft_village", "feature_history")
    )


@pytest.fixture
def nothing_written(session: Session) -> Callable[[], None]:
    """Call at the end of a test: fails when a table or the history changed."""
    before = _counts(session)
    return lambda: _assert_same(before, _counts(session))


def _assert_same(before: tuple[int, ...], after: tuple[int, ...]) -> None:
    assert before == after, "a refused request must write nothing"


def _post(
    client: TestClient,
    collection: str,
    body: Any,
    token: str | None,
    extra_headers: dict[str, str] | None = None,
    **kwargs: Any,
) -> Any:
    headers = {**(bearer(token) if token else {}), **(extra_headers or {})}
    return client.post(f"/collections/{collection}/items", json=body, headers=headers, **kwargs)


def test_without_a_key_is_401(client: TestClient, nothing_written: Callable[[], None]) -> None:
    response = _post(client, "material-zones", ZONE, None)
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert _post(client, "material-zones", ZONE, "cm_nothing_wrong").status_code == 401
    nothing_written()


@pytest.mark.parametrize(
    ("role", "collection", "body"),
    [
        ("viewer", "material-zones", ZONE),
        ("tourism", "material-zones", ZONE),
        ("planner", "villages", VILLAGE),
    ],
)
def test_wrong_role_is_403(
    client: TestClient,
    keys: dict[str, str],
    nothing_written: Callable[[], None],
    role: str,
    collection: str,
    body: Any,
) -> None:
    response = _post(client, collection, body, keys[role])
    assert response.status_code == 403
    assert role in response.json()["detail"]
    nothing_written()


def test_x_api_key_header_works_too(client: TestClient, keys: dict[str, str]) -> None:
    response = client.post(
        "/collections/material-zones/items", json=ZONE, headers={"X-API-Key": keys["planner"]}
    )
    assert response.status_code == 201


def test_create_read_replace_patch_delete_restore(client: TestClient, keys: dict[str, str]) -> None:
    created = _post(client, "material-zones", ZONE, keys["planner"])
    assert created.status_code == 201, created.text
    location = created.headers["location"]
    url = location[location.index("/collections") :]
    etag_1 = created.headers["etag"]
    zone = client.get(url).json()
    assert zone["properties"]["name"] == "Vùng cói thử nghiệm"
    assert zone["properties"]["area_ha"] == pytest.approx(115, rel=0.05)  # ~1.04 km × 1.11 km

    replaced_body = {**ZONE, "properties": {**ZONE["properties"], "name": "Vùng cói mới"}}
    stale = client.put(
        url, json=replaced_body, headers={**bearer(keys["planner"]), "If-Match": '"v99"'}
    )
    assert stale.status_code == 412
    assert client.get(url).json()["properties"]["name"] == "Vùng cói thử nghiệm"
    replaced = client.put(
        url, json=replaced_body, headers={**bearer(keys["planner"]), "If-Match": etag_1}
    )
    assert replaced.status_code == 200, replaced.text
    etag_2 = replaced.headers["etag"]
    assert etag_2 != etag_1

    # A second writer who still holds the first ETag loses, instead of overwriting.
    lost = client.patch(
        url,
        json={"properties": {"owner": "HTX Nga Sơn"}},
        headers={
            **bearer(keys["planner"]),
            "If-Match": etag_1,
            "Content-Type": "application/merge-patch+json",
        },
    )
    assert lost.status_code == 412
    patched = client.patch(
        url,
        json={"properties": {"owner": "HTX Nga Sơn", "status": None}},
        headers={
            **bearer(keys["planner"]),
            "If-Match": etag_2,
            "Content-Type": "application/merge-patch+json",
        },
    )
    assert patched.status_code == 200, patched.text
    after = patched.json()["properties"]
    assert after["owner"] == "HTX Nga Sơn" and after["name"] == "Vùng cói mới"
    assert after["status"] == "existing"  # removed by the patch: back to its default
    etag_3 = patched.headers["etag"]

    deleted = client.delete(url, headers={**bearer(keys["planner"]), "If-Match": etag_3})
    assert deleted.status_code == 204
    assert client.get(url).status_code == 404

    # Key names are shown to readers with a key (tests/api/test_keys_hardening.py).
    history = client.get(f"{url}/history", headers=bearer(keys["viewer"])).json()["versions"]
    assert [v["action"] for v in history] == ["create", "update", "update", "delete"]
    assert all(v["actor"].startswith("key:") and "test planner" in v["actor"] for v in history)
    assert history[1]["state"]["properties"]["name"] == "Vùng cói mới"

    overwritten = history[1]["history_id"]
    assert (
        client.post(
            f"{url}/history/{overwritten}/restore", headers=bearer(keys["planner"])
        ).status_code
        == 403
    )
    restored = client.post(f"{url}/history/{overwritten}/restore", headers=bearer(keys["admin"]))
    assert restored.status_code == 200, restored.text
    back = client.get(url).json()
    assert back["properties"]["name"] == "Vùng cói mới" and back["properties"]["owner"] is None
    assert client.get(f"{url}/history").json()["versions"][-1]["action"] == "restore"


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        (
            {**ZONE, "geometry": {"type": "Point", "coordinates": [105.9, 20.0]}},
            "MultiPolygon or Polygon",
        ),
        (
            {
                **ZONE,
                "geometry": {
                    "type": "Polygon",
                    "coordinates": [[[105, 20], [106, 21], [106, 20], [105, 21], [105, 20]]],
                },
            },
            "invalid",
        ),
        ({**ZONE, "geometry": {"type": "Polygon", "coordinates": "nonsense"}}, "GeoJSON"),
        (
            {**ZONE, "properties": {**ZONE["properties"], "material": "plastic"}},
            "material must be one of",
        ),
        (
            {**ZONE, "properties": {**ZONE["properties"], "colour": "red"}},
            "unknown properties colour",
        ),
        ({**ZONE, "properties": {"name": "no code", "material": "sedge"}}, "code is required"),
        ({**ZONE, "properties": {**ZONE["properties"], "annual_capacity_t": -5}}, "at least 0"),
        (
            {**ZONE, "properties": {**ZONE["properties"], "annual_capacity_t": "lots"}},
            "must be a number",
        ),
        ({"type": "FeatureCollection", "features": []}, "GeoJSON Feature"),
        ([1, 2, 3], "GeoJSON Feature"),
    ],
)
def test_invalid_features_are_400_and_write_nothing(
    client: TestClient,
    keys: dict[str, str],
    nothing_written: Callable[[], None],
    body: Any,
    detail: str,
) -> None:
    response = _post(client, "material-zones", body, keys["planner"])
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert detail in response.json()["detail"]
    nothing_written()


def test_malformed_json_body_is_400(client: TestClient, keys: dict[str, str]) -> None:
    response = client.post(
        "/collections/material-zones/items",
        content=b'{"type": "Feature", ',
        headers={**bearer(keys["planner"]), "Content-Type": "application/geo+json"},
    )
    assert response.status_code == 400


def test_duplicate_code_is_409(client: TestClient, keys: dict[str, str]) -> None:
    assert _post(client, "material-zones", ZONE, keys["planner"]).status_code == 201
    again = _post(client, "material-zones", ZONE, keys["planner"])
    assert again.status_code == 409


def test_body_in_vn2000_is_stored_in_wgs84(client: TestClient, keys: dict[str, str]) -> None:
    to_vn = Transformer.from_crs(4326, 5897, always_xy=True)
    east, north = to_vn.transform(105.68, 19.85)
    body = {**VILLAGE, "geometry": {"type": "Point", "coordinates": [east, north]}}
    created = _post(
        client,
        "villages",
        body,
        keys["admin"],
        {"Content-Crs": "<http://www.opengis.net/def/crs/EPSG/0/5897>"},
    )
    assert created.status_code == 201, created.text
    lon, lat = created.json()["geometry"]["coordinates"]
    assert lon == pytest.approx(105.68, abs=1e-7) and lat == pytest.approx(19.85, abs=1e-7)


def test_village_must_lie_in_vietnam(
    client: TestClient, keys: dict[str, str], nothing_written: Callable[[], None]
) -> None:
    bangkok = {**VILLAGE, "geometry": {"type": "Point", "coordinates": [100.5, 13.75]}}
    response = _post(client, "villages", bangkok, keys["admin"])
    assert response.status_code == 400
    assert response.json()["detail"].startswith("village-in-vietnam")
    nothing_written()


def test_village_must_lie_in_loaded_boundaries(
    client: TestClient, keys: dict[str, str], session: Session
) -> None:
    conn = session.connection()
    # A loaded province and commune boundary (a square around Thiệu Trung).
    for code, level, wkt in (
        (
            "38",
            "province",
            "MULTIPOLYGON(((104.3 19.2,106.2 19.2,106.2 20.7,104.3 20.7,104.3 19.2)))",
        ),
        (
            "15835",
            "commune",
            "MULTIPOLYGON(((105.66 19.83,105.70 19.83,105.70 19.87,105.66 19.87,105.66 19.83)))",
        ),
    ):
        conn.execute(
            sa.text(
                "INSERT INTO admin_unit (code, scheme, name, level, valid_from, geom) "
                "VALUES (:code, 'test-boundaries', :name, :level, '2025-07-01', "
                "ST_GeomFromText(:wkt, 4326))"
            ),
            {"code": code, "name": f"test {level}", "level": level, "wkt": wkt},
        )
    in_laos = {**VILLAGE, "geometry": {"type": "Point", "coordinates": [104.0, 20.0]}}
    response = _post(client, "villages", in_laos, keys["admin"])
    assert response.status_code == 400 and "province boundary" in response.json()["detail"]
    wrong_commune = {
        **VILLAGE,
        "geometry": {"type": "Point", "coordinates": [105.80, 19.80]},
        "properties": {**VILLAGE["properties"], "commune_code": "15835"},
    }
    response = _post(client, "villages", wrong_commune, keys["admin"])
    assert response.status_code == 400 and response.json()["detail"].startswith(
        "village-in-commune"
    )
    right = {**VILLAGE, "properties": {**VILLAGE["properties"], "commune_code": "15835"}}
    assert _post(client, "villages", right, keys["admin"]).status_code == 201


def test_zone_overlapping_an_exclusion_area_needs_consent(
    client: TestClient, keys: dict[str, str], session: Session
) -> None:
    conn = session.connection()
    layer_id = conn.execute(
        sa.text(
            "INSERT INTO reference_layer (name, title, kind) "
            "VALUES ('protected-forest', 'Rừng phòng hộ', 'exclusion') RETURNING id"
        )
    ).scalar()
    conn.execute(
        sa.text(
            "INSERT INTO reference_feature (layer_id, properties, geom) VALUES "
            '(:layer, \'{"name": "Khu bảo vệ"}\', '
            "ST_GeomFromText('POLYGON((105.955 20.025,105.97 20.025,105.97 20.04,"
            "105.955 20.04,105.955 20.025))', 4326))"
        ),
        {"layer": layer_id},
    )
    refused = _post(client, "material-zones", ZONE, keys["planner"])
    assert refused.status_code == 400
    assert (
        refused.json()["detail"].startswith("zone-clear-of-exclusions")
        and "protected-forest" in refused.json()["detail"]
    )
    accepted = _post(
        client, "material-zones", ZONE, keys["planner"], params={"allow-exclusion-overlap": "true"}
    )
    assert accepted.status_code == 201, accepted.text
    # The reference layer is a collection of its own.
    layer = client.get("/collections/protected-forest/items").json()
    assert (
        layer["numberMatched"] == 1 and layer["features"][0]["properties"]["name"] == "Khu bảo vệ"
    )


def test_route_line_must_pass_its_stops(
    client: TestClient, keys: dict[str, str], session: Session
) -> None:
    url = f"/collections/routes/items/{make_route(session, stops=TWO_STOPS)}"
    route = client.get(url).json()
    far_line = {"type": "LineString", "coordinates": [[104.5, 20.5], [104.6, 20.6]]}
    response = client.put(
        url, json={**route, "geometry": far_line}, headers=bearer(keys["tourism"])
    )
    assert response.status_code == 400
    assert response.json()["detail"].startswith("route-passes-stops")
    # Without a line of its own, the route is drawn through its stops.
    redrawn = client.put(url, json={**route, "geometry": None}, headers=bearer(keys["tourism"]))
    assert redrawn.status_code == 200, redrawn.text
    assert redrawn.json()["geometry"]["coordinates"] == route["geometry"]["coordinates"]


def test_moving_a_stop_redraws_a_drawn_route(
    client: TestClient, keys: dict[str, str], session: Session
) -> None:
    route_id = make_route(session, stops=TWO_STOPS)
    stops = client.get(
        "/collections/route-stops/items", params={"filter": f"route_id={route_id}", "sortby": "seq"}
    )
    stop = stops.json()["features"][0]
    moved = {**stop, "geometry": {"type": "Point", "coordinates": [105.70, 19.90]}}
    response = client.put(
        f"/collections/route-stops/items/{stop['id']}", json=moved, headers=bearer(keys["tourism"])
    )
    assert response.status_code == 200, response.text
    route = client.get(f"/collections/routes/items/{stop['properties']['route_id']}").json()
    assert [105.70, 19.90] in route["geometry"]["coordinates"]


def test_patching_a_village_without_material_demand_keeps_it_null(
    client: TestClient, keys: dict[str, str], session: Session
) -> None:
    # A village whose JSON column is empty: a merge patch used to write JSON null there,
    # which the column's "object or SQL NULL" check refused (found by the map editor).
    village_id = make_village(session)
    url = f"/collections/villages/items/{village_id}"
    moved = {"type": "Point", "coordinates": [105.8, 19.8]}
    response = client.patch(url, json={"geometry": moved}, headers=bearer(keys["admin"]))
    assert response.status_code == 200, response.text
    assert response.json()["geometry"]["coordinates"] == [105.8, 19.8]
    stored = session.execute(
        sa.text("SELECT material_demand_t IS NULL FROM craft_village WHERE id = :id"),
        {"id": village_id},
    ).scalar_one()
    assert stored is True
