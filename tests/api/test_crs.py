"""OGC API – Features Part 2: coordinates in VN-2000 and UTM, checked against pyproj."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import shapely
from fastapi.testclient import TestClient
from pyproj import Transformer

EPSG = "http://www.opengis.net/def/crs/EPSG/0/{}"


def _all(client: TestClient, collection: str, **params: str) -> dict[str, Any]:
    query = "&".join(f"{k}={v}" for k, v in {"limit": "1000", **params}.items())
    response = client.get(f"/collections/{collection}/items?{query}")
    assert response.status_code == 200, response.text
    return {"body": response.json(), "headers": response.headers}


def _points(body: dict[str, Any]) -> dict[int, tuple[float, float]]:
    return {f["id"]: tuple(f["geometry"]["coordinates"]) for f in body["features"]}  # type: ignore[misc]


@pytest.mark.parametrize("srid", [5897, 3405, 3406, 32648, 32649])
def test_projected_output_matches_pyproj_to_a_centimetre(client: TestClient, srid: int) -> None:
    lonlat = _points(_all(client, "villages")["body"])
    result = _all(client, "villages", crs=EPSG.format(srid))
    assert result["headers"]["content-crs"] == f"<{EPSG.format(srid)}>"
    projected = _points(result["body"])
    to_crs = Transformer.from_crs(4326, srid, always_xy=True)
    assert lonlat.keys() == projected.keys()
    for fid, (lon, lat) in lonlat.items():
        east, north = to_crs.transform(lon, lat)
        x, y = projected[fid]
        assert abs(x - east) < 0.01 and abs(y - north) < 0.01, (fid, x - east, y - north)


def test_thieu_trung_lands_where_domain_notes_say(client: TestClient) -> None:
    body = _all(client, "villages", crs=EPSG.format(5897), filter="name='Trà Đông'")["body"]
    east, north = body["features"][0]["geometry"]["coordinates"]
    # shared/DOMAIN.md §7: Thiệu Trung (105.6794, 19.8502) → EPSG:5897 E 570962, N 2195815;
    # the demo keeps the centroid's full precision, a few metres from the rounded one.
    assert abs(east - 570962) < 5 and abs(north - 2195815) < 5


@pytest.mark.parametrize("srid", [4326, 4756])
def test_geographic_crs_are_latitude_first(client: TestClient, srid: int) -> None:
    lonlat = _points(_all(client, "villages")["body"])
    swapped = _points(_all(client, "villages", crs=EPSG.format(srid))["body"])
    to_crs = Transformer.from_crs(4326, srid, always_xy=True)
    for fid, (lon, lat) in lonlat.items():
        x_lon, y_lat = to_crs.transform(lon, lat)
        first, second = swapped[fid]
        assert abs(first - y_lat) < 1e-7 and abs(second - x_lon) < 1e-7


def test_vn2000_differs_from_wgs84_by_the_datum_shift(client: TestClient) -> None:
    wgs = _points(_all(client, "villages", crs=EPSG.format(32648))["body"])
    vn = _points(_all(client, "villages", crs=EPSG.format(3405))["body"])
    shifts = [((wgs[i][0] - vn[i][0]) ** 2 + (wgs[i][1] - vn[i][1]) ** 2) ** 0.5 for i in wgs]
    # Same UTM zone, different datum: about 200 m apart in Thanh Hóa (DOMAIN §7).
    assert all(150 < s < 300 for s in shifts), shifts[:3]


def test_polygons_transform_too(client: TestClient) -> None:
    lonlat = _all(client, "material-zones")["body"]["features"]
    projected = {
        f["id"]: f
        for f in _all(client, "material-zones", crs=EPSG.format(5897))["body"]["features"]
    }
    to_crs = Transformer.from_crs(4326, 5897, always_xy=True)
    for feature in lonlat:
        expected = shapely.transform(
            shapely.geometry.shape(feature["geometry"]),
            lambda xy: np.column_stack(to_crs.transform(xy[:, 0], xy[:, 1])),
        )
        got = shapely.geometry.shape(projected[feature["id"]]["geometry"])
        assert got.equals_exact(expected, tolerance=0.01)


def test_bbox_crs_in_vn2000_selects_the_same_features(client: TestClient) -> None:
    to_crs = Transformer.from_crs(4326, 5897, always_xy=True)
    minx, miny = to_crs.transform(105.6, 19.7)
    maxx, maxy = to_crs.transform(105.9, 19.9)
    in_lonlat = _all(client, "villages", bbox="105.6,19.7,105.9,19.9")["body"]
    in_vn2000 = _all(
        client, "villages", bbox=f"{minx},{miny},{maxx},{maxy}", **{"bbox-crs": EPSG.format(5897)}
    )["body"]
    assert in_lonlat["numberMatched"] > 0
    assert {f["id"] for f in in_lonlat["features"]} == {f["id"] for f in in_vn2000["features"]}
    lat_first = _all(
        client, "villages", bbox="19.7,105.6,19.9,105.9", **{"bbox-crs": EPSG.format(4326)}
    )
    assert {f["id"] for f in lat_first["body"]["features"]} == {
        f["id"] for f in in_lonlat["features"]
    }


def test_unsupported_crs_is_400(client: TestClient) -> None:
    response = client.get(
        "/collections/villages/items?crs=http://www.opengis.net/def/crs/EPSG/0/2154"
    )
    assert response.status_code == 400
    assert "supported" in response.json()["detail"]


def test_filter_crs_reads_literals_in_vn2000(client: TestClient) -> None:
    to_crs = Transformer.from_crs(4326, 5897, always_xy=True)
    (x1, x2), (y1, y2) = to_crs.transform([105.6, 105.9], [19.7, 19.9])
    plain = _all(client, "villages", bbox="105.6,19.7,105.9,19.9")["body"]
    in_vn2000 = _all(
        client,
        "villages",
        filter=f"S_INTERSECTS(geometry,BBOX({x1},{y1},{x2},{y2}))",
        **{"filter-crs": EPSG.format(5897)},
    )["body"]
    assert plain["numberMatched"] > 0
    assert {f["id"] for f in in_vn2000["features"]} == {f["id"] for f in plain["features"]}
