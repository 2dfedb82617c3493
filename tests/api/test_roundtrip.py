"""Issue 10: every geometry and every value round-trips, written and read every way.

What the server promises, checked here against PostGIS over HTTP:

- A line's vertices come back in the order they were written, on every read path (items,
  item, items?filter=, export, HTML/SVG, history, map data, tiles) and in every served CRS.
- A polygon comes back in RFC 7946 orientation: exterior rings counter-clockwise, holes
  clockwise. A ring written the other way round is served reversed from the same first
  vertex; a ring written the right way round is served exactly as written. A Polygon
  written to a MultiPolygon collection comes back as a one-part MultiPolygon.
- Positions written with 7 decimals in CRS84 come back as written; in another CRS they
  match pyproj's transformation to 1e-7° (geographic, latitude first for EPSG:4326 and
  EPSG:4756) or 1 cm (projected).
- Text (Vietnamese with diacritics, emoji, quotes) and numbers come back unchanged, and a
  GET followed by a PUT of what it returned leaves the stored geometry as it was.
"""

from __future__ import annotations

import json
import re
import unicodedata
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import mapbox_vector_tile
import morecantile
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from pyproj import Transformer
from sqlalchemy.orm import Session

from geo.kernel.crs import SERVED_CRS, ServedCrs
from geo.query import mapdata
from tests.api.conftest import bearer
from tests.factories import route_feature, village_feature, zone_feature

TMS = morecantile.tms.get("WebMercatorQuad")

# A zigzag (no three vertices in a line, so tile simplification keeps them all), written
# west to east: served backwards, its first vertex would be the easternmost.
LINE = [
    [105.7712345, 19.8012345],
    [105.7748765, 19.8067654],
    [105.7794321, 19.8023456],
    [105.7834567, 19.8071111],
]
LINE_2 = [[105.7011111, 19.9011111], [105.7122222, 19.9133333], [105.7233333, 19.9011111]]
# Rings written as [exterior, hole]; "ccw" is RFC 7946's orientation, "cw" its reverse.
EXTERIOR_CCW = [
    [105.9512345, 20.0212345],
    [105.9687654, 20.0212345],
    [105.9687654, 20.0387654],
    [105.9512345, 20.0387654],
    [105.9512345, 20.0212345],
]
HOLE_CW = [
    [105.9555555, 20.0255555],
    [105.9555555, 20.0311111],
    [105.9611111, 20.0311111],
    [105.9611111, 20.0255555],
    [105.9555555, 20.0255555],
]
SECOND_PART_CW = [
    [105.9812345, 20.0212345],
    [105.9812345, 20.0287654],
    [105.9887654, 20.0287654],
    [105.9812345, 20.0212345],
]
POINT = [105.6812345, 19.8512345]


def _reversed(ring: list[list[float]]) -> list[list[float]]:
    return ring[::-1]


def _signed_area(ring: list[list[float]]) -> float:
    return sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in zip(ring, ring[1:], strict=False)) / 2


def _rfc7946(rings: list[list[list[float]]]) -> list[list[list[float]]]:
    """The rings as the server must serve them: exterior CCW, holes CW, same first vertex."""
    out = []
    for i, ring in enumerate(rings):
        ccw = _signed_area(ring) > 0
        wanted_ccw = i == 0
        out.append(ring if ccw == wanted_ccw else _reversed(ring))
    return out


@dataclass(frozen=True)
class Case:
    """A geometry written to a collection, what must come back, and a first geometry to replace."""

    name: str
    collection: str  # "reference" for the test's own reference layer
    written: dict[str, Any]
    served: dict[str, Any]
    before: dict[str, Any]


def _polygon(*rings: list[list[float]]) -> dict[str, Any]:
    return {"type": "Polygon", "coordinates": list(rings)}


CASES = [
    Case(
        "point-village",
        "villages",
        {"type": "Point", "coordinates": POINT},
        {"type": "Point", "coordinates": POINT},
        {"type": "Point", "coordinates": [105.6823456, 19.8523456]},
    ),
    Case(
        "point-stop",
        "route-stops",
        {"type": "Point", "coordinates": POINT},
        {"type": "Point", "coordinates": POINT},
        {"type": "Point", "coordinates": [105.6823456, 19.8523456]},
    ),
    Case(
        "linestring-route",
        "routes",
        {"type": "LineString", "coordinates": LINE},
        {"type": "LineString", "coordinates": LINE},
        {"type": "LineString", "coordinates": LINE_2},
    ),
    Case(
        "polygon-hole-ccw-zone",
        "material-zones",
        _polygon(EXTERIOR_CCW, HOLE_CW),
        {"type": "MultiPolygon", "coordinates": [[EXTERIOR_CCW, HOLE_CW]]},
        _polygon(SECOND_PART_CW),
    ),
    Case(
        "polygon-hole-cw-zone",
        "material-zones",
        _polygon(_reversed(EXTERIOR_CCW), _reversed(HOLE_CW)),
        {"type": "MultiPolygon", "coordinates": [[EXTERIOR_CCW, HOLE_CW]]},
        _polygon(SECOND_PART_CW),
    ),
    Case(
        "multipolygon-zone",
        "material-zones",
        {
            "type": "MultiPolygon",
            "coordinates": [[_reversed(EXTERIOR_CCW), HOLE_CW], [SECOND_PART_CW]],
        },
        {
            "type": "MultiPolygon",
            "coordinates": [[EXTERIOR_CCW, HOLE_CW], _rfc7946([SECOND_PART_CW])],
        },
        _polygon(SECOND_PART_CW),
    ),
    Case(
        "multipoint-reference",
        "reference",
        {"type": "MultiPoint", "coordinates": [POINT, LINE[0], LINE[1]]},
        {"type": "MultiPoint", "coordinates": [POINT, LINE[0], LINE[1]]},
        {"type": "Point", "coordinates": POINT},
    ),
    Case(
        "multilinestring-reference",
        "reference",
        {"type": "MultiLineString", "coordinates": [LINE, LINE_2]},
        {"type": "MultiLineString", "coordinates": [LINE, LINE_2]},
        {"type": "LineString", "coordinates": LINE_2},
    ),
    Case(
        "linestring-reference",
        "reference",
        {"type": "LineString", "coordinates": LINE},
        {"type": "LineString", "coordinates": LINE},
        {"type": "Point", "coordinates": POINT},
    ),
    Case(
        "polygon-hole-cw-reference",
        "reference",
        _polygon(_reversed(EXTERIOR_CCW), _reversed(HOLE_CW)),
        _polygon(EXTERIOR_CCW, HOLE_CW),
        {"type": "LineString", "coordinates": LINE_2},
    ),
]


# -- writing ------------------------------------------------------------------------------------
@pytest.fixture
def reference_layer(session: Session) -> str:
    """A reference layer of this test (rolled back with it): it takes any geometry type."""
    name = f"rt-{uuid.uuid4().hex[:8]}"
    session.connection().execute(
        sa.text("INSERT INTO reference_layer (name, title, kind) VALUES (:n, :t, 'other')"),
        {"n": name, "t": name},
    )
    return name


@pytest.fixture
def empty_route(client: TestClient, keys: dict[str, str]) -> int:
    """A route without stops or line, for the stops of a test."""
    response = client.post(
        "/collections/routes/items",
        json={"type": "Feature", "geometry": None, "properties": _route_props("stops")},
        headers=bearer(keys["admin"]),
    )
    assert response.status_code == 201, response.text
    return int(response.headers["location"].rsplit("/", 1)[1])


def _route_props(tag: str) -> dict[str, Any]:
    return route_feature(code=f"RT-{tag}-{uuid.uuid4().hex[:6]}")["properties"]


def _properties(collection: str, tag: str, route_id: int | None) -> dict[str, Any]:
    code = f"RT-{tag}"
    if collection == "villages":
        return village_feature(code=code, name="Làng thử")["properties"]
    if collection == "route-stops":
        return {"route_id": route_id, "seq": 1, "name": code}
    if collection == "routes":
        return {**_route_props(tag), "code": code}
    if collection == "material-zones":
        return zone_feature(code=code, name="Vùng thử")["properties"]
    return {"label": code}


def _filter(collection: str, props: dict[str, Any]) -> str:
    if collection == "route-stops":
        return f"route_id={props['route_id']} AND seq={props['seq']}"
    if collection in {"villages", "routes", "material-zones"}:
        return f"code='{props['code']}'"
    return f"label='{props['label']}'"


def _feature(geometry: dict[str, Any], props: dict[str, Any]) -> dict[str, Any]:
    return {"type": "Feature", "geometry": geometry, "properties": props}


def _write(
    client: TestClient,
    token: str,
    collection: str,
    method: str,
    geometry: dict[str, Any],
    before: dict[str, Any],
    props: dict[str, Any],
) -> int:
    """Write ``geometry`` by POST, or POST ``before`` and then PUT/PATCH ``geometry``."""
    headers = bearer(token)
    items = f"/collections/{collection}/items"
    first = geometry if method == "POST" else before
    created = client.post(items, json=_feature(first, props), headers=headers)
    assert created.status_code == 201, created.text
    fid = int(created.headers["location"].rsplit("/", 1)[1])
    if method == "PUT":
        done = client.put(f"{items}/{fid}", json=_feature(geometry, props), headers=headers)
        assert done.status_code in {200, 204}, done.text
    elif method == "PATCH":
        done = client.patch(f"{items}/{fid}", json={"geometry": geometry}, headers=headers)
        assert done.status_code in {200, 204}, done.text
    return fid


# -- reading ------------------------------------------------------------------------------------
def _positions(geometry: dict[str, Any]) -> list[list[float]]:
    """Every position in order, with the nesting checked separately by _shape."""
    coords = geometry["coordinates"]
    depth = {"Point": 0, "MultiPoint": 1, "LineString": 1}.get(geometry["type"])
    if depth is None:
        depth = {"MultiLineString": 2, "Polygon": 2, "MultiPolygon": 3}[geometry["type"]]
    flat = [coords]
    for _ in range(depth):
        flat = [p for part in flat for p in part]
    return flat


def _shape(coords: Any) -> Any:
    """The nesting of a coordinates array with positions replaced by '.' (part sizes kept)."""
    if coords and isinstance(coords[0], int | float):
        return "."
    return [_shape(c) for c in coords]


def _expected_in(crs: ServedCrs, positions: list[list[float]]) -> list[tuple[float, float]]:
    to_crs = Transformer.from_crs(4326, crs.srid, always_xy=True)
    out = []
    for lon, lat in positions:
        x, y = to_crs.transform(lon, lat)
        out.append((y, x) if crs.swap_axes else (x, y))
    return out


def _assert_served(served: dict[str, Any], expected: dict[str, Any], crs: ServedCrs, where: str):
    assert served["type"] == expected["type"], where
    assert _shape(served["coordinates"]) == _shape(expected["coordinates"]), where
    got = _positions(served)
    if crs.uri.endswith("CRS84"):
        # What went in with 7 decimals comes out exactly, in the same order.
        assert got == _positions(expected), where
        return
    tolerance = 1e-7 if crs.srid in {4326, 4756} else 0.01
    for i, ((x, y), (ex, ey)) in enumerate(
        zip(got, _expected_in(crs, _positions(expected)), strict=True)
    ):
        assert abs(x - ex) <= tolerance and abs(y - ey) <= tolerance, (where, i, x - ex, y - ey)


def _find(features: list[dict[str, Any]], fid: int) -> dict[str, Any]:
    found = [f for f in features if f["id"] == fid]
    assert len(found) == 1, f"feature {fid} not in the response"
    return found[0]


def _read_paths(
    client: TestClient, collection: str, fid: int, props: dict[str, Any]
) -> dict[str, Callable[[ServedCrs], dict[str, Any]]]:
    base = f"/collections/{collection}"

    def get(url: str, **params: str) -> Any:
        response = client.get(url, params=params)
        assert response.status_code == 200, (url, params, response.text)
        return response.json()

    return {
        "item": lambda crs: get(f"{base}/items/{fid}", crs=crs.uri)["geometry"],
        "items": lambda crs: _find(
            get(f"{base}/items", limit="10000", crs=crs.uri)["features"], fid
        )["geometry"],
        "filter": lambda crs: _find(
            get(f"{base}/items", filter=_filter(collection, props), crs=crs.uri)["features"], fid
        )["geometry"],
        "export": lambda crs: _find(get(f"{base}/export", crs=crs.uri)["features"], fid)[
            "geometry"
        ],
    }


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH"])
@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_geometry_round_trips_every_read_path_and_crs(
    client: TestClient,
    keys: dict[str, str],
    reference_layer: str,
    empty_route: int,
    case: Case,
    method: str,
) -> None:
    collection = reference_layer if case.collection == "reference" else case.collection
    props = _properties(case.collection, uuid.uuid4().hex[:8], empty_route)
    fid = _write(client, keys["admin"], collection, method, case.written, case.before, props)
    for path, read in _read_paths(client, collection, fid, props).items():
        for crs in SERVED_CRS:
            _assert_served(read(crs), case.served, crs, f"{method} {path} {crs.uri}")


# -- writing in other CRSs ----------------------------------------------------------------------
@pytest.mark.parametrize("crs", SERVED_CRS[1:], ids=lambda c: str(c.srid))
def test_a_line_written_in_any_crs_keeps_its_order(
    client: TestClient, keys: dict[str, str], crs: ServedCrs
) -> None:
    sent = [list(p) for p in _expected_in(crs, LINE)]
    props = _route_props("crs")
    created = client.post(
        "/collections/routes/items",
        json=_feature({"type": "LineString", "coordinates": sent}, props),
        headers={**bearer(keys["tourism"]), "Content-Crs": f"<{crs.uri}>"},
    )
    assert created.status_code == 201, created.text
    fid = int(created.headers["location"].rsplit("/", 1)[1])
    served = client.get(f"/collections/routes/items/{fid}").json()["geometry"]["coordinates"]
    for (x, y), (ex, ey) in zip(served, LINE, strict=True):
        assert abs(x - ex) <= 1e-7 and abs(y - ey) <= 1e-7
    again = client.get(f"/collections/routes/items/{fid}", params={"crs": crs.uri}).json()
    tolerance = 1e-7 if crs.srid in {4326, 4756} else 0.01
    for (x, y), (ex, ey) in zip(again["geometry"]["coordinates"], sent, strict=True):
        assert abs(x - ex) <= tolerance and abs(y - ey) <= tolerance


# -- other outputs: history, HTML/SVG, map data, tiles ------------------------------------------
def _new_route(client: TestClient, keys: dict[str, str], line: list[list[float]]) -> int:
    created = client.post(
        "/collections/routes/items",
        json=_feature({"type": "LineString", "coordinates": line}, _route_props("out")),
        headers=bearer(keys["tourism"]),
    )
    assert created.status_code == 201, created.text
    return int(created.headers["location"].rsplit("/", 1)[1])


def test_history_html_and_map_data_keep_the_line_order(
    client: TestClient, keys: dict[str, str], session: Session
) -> None:
    fid = _new_route(client, keys, LINE)
    history = client.get(f"/collections/routes/items/{fid}/history").json()
    versions = history["versions"]
    assert versions[-1]["state"]["geometry"]["coordinates"] == LINE
    # The HTML page draws the line with ST_AsSVG: absolute moves, y negated, 5 decimals.
    html = client.get(f"/collections/routes/items/{fid}", params={"f": "html"}).text
    path = re.search(r'<path class="shape line" d="([^"]+)"', html)
    assert path is not None
    numbers = [float(n) for n in re.findall(r"-?\d+(?:\.\d+)?", path.group(1))]
    drawn = list(zip(numbers[0::2], numbers[1::2], strict=True))
    assert [(round(x, 5), round(-y, 5)) for x, y in drawn] == [
        (round(x, 5), round(y, 5)) for x, y in LINE
    ]
    routes, _ = mapdata.route(session.connection(), fid)
    assert [list(c) for c in routes.geometry.iloc[0].coords] == LINE
    # Replaced, then restored to the first version: the line comes back as first written.
    url = f"/collections/routes/items/{fid}"
    replaced = client.patch(
        url,
        json={"geometry": {"type": "LineString", "coordinates": LINE_2}},
        headers=bearer(keys["admin"]),
    )
    assert replaced.status_code in {200, 204}, replaced.text
    restored = client.post(
        f"{url}/history/{versions[0]['history_id']}/restore", headers=bearer(keys["admin"])
    )
    assert restored.status_code in {200, 201}, restored.text
    assert client.get(url).json()["geometry"]["coordinates"] == LINE


def test_tiles_keep_the_line_order(client: TestClient, keys: dict[str, str]) -> None:
    fid = _new_route(client, keys, LINE)
    # The deepest zoom up to 15 whose one tile holds the whole line; its half-pixel
    # simplification tolerance (~0.3 m at 15) is far below the zigzag's ~500 m turns.
    zoom = max(z for z in range(10, 16) if len({TMS.tile(lon, lat, z) for lon, lat in LINE}) == 1)
    tile = TMS.tile(*LINE[0], zoom)
    response = client.get(f"/collections/routes/tiles/WebMercatorQuad/{zoom}/{tile.y}/{tile.x}")
    assert response.status_code == 200
    layer = mapbox_vector_tile.decode(response.content, default_options={"y_coord_down": True})
    mine = _find(layer["routes"]["features"], fid)
    assert mine["geometry"]["type"] == "LineString"
    left, bottom, right, top = TMS.xy_bounds(tile)
    expected = []
    for lon, lat in LINE:
        x, y = TMS.xy(lon, lat)
        expected.append(((x - left) / (right - left) * 4096, (top - y) / (top - bottom) * 4096))
    got = mine["geometry"]["coordinates"]
    assert len(got) == len(expected)
    for (x, y), (ex, ey) in zip(got, expected, strict=True):
        assert abs(x - ex) <= 1 and abs(y - ey) <= 1, (x - ex, y - ey)


# -- the demo route ------------------------------------------------------------------------------
def test_demo_route_runs_from_its_first_stop_to_its_last(client: TestClient) -> None:
    routes = client.get("/collections/routes/items", params={"filter": "code='TH-R-001'"}).json()
    route = routes["features"][0]
    stops = client.get(
        "/collections/route-stops/items",
        params={"filter": f"route_id={route['id']}", "sortby": "seq", "limit": "100"},
    ).json()["features"]
    assert [s["properties"]["seq"] for s in stops] == [1, 2, 3, 4, 5]
    line = route["geometry"]["coordinates"]
    # Drawn through its stops in order: vertex i is stop i + 1.
    assert line == [s["geometry"]["coordinates"] for s in stops]


# -- GET then PUT changes nothing -----------------------------------------------------------------
def _stored(session: Session, table: str, fid: int) -> str:
    return str(
        session.connection()
        .execute(sa.text(f"SELECT ST_AsText(geom) FROM {table} WHERE id = :id"), {"id": fid})
        .scalar_one()
    )


def _get_then_put(client: TestClient, token: str, collection: str, fid: int) -> None:
    url = f"/collections/{collection}/items/{fid}"
    read = client.get(url)
    assert read.status_code == 200
    body = read.json()
    put = client.put(url, json=body, headers={**bearer(token), "If-Match": read.headers["etag"]})
    assert put.status_code in {200, 204}, put.text


@pytest.mark.parametrize("written", ["demo", "new"])
def test_get_then_put_leaves_a_route_unchanged(
    client: TestClient, keys: dict[str, str], session: Session, written: str
) -> None:
    if written == "demo":
        found = client.get("/collections/routes/items", params={"filter": "code='TH-R-001'"})
        fid = found.json()["features"][0]["id"]
    else:
        fid = _new_route(client, keys, LINE)
    first = _stored(session, "tourism_route", fid)
    for _ in range(3):
        _get_then_put(client, keys["admin"], "routes", fid)
        assert _stored(session, "tourism_route", fid) == first


def test_get_then_put_leaves_a_zone_unchanged(
    client: TestClient, keys: dict[str, str], session: Session
) -> None:
    # Written clockwise, stored as written; served (and so sent back) counter-clockwise:
    # the first PUT stores the RFC 7946 orientation, the same shape, and then nothing moves.
    props = _properties("material-zones", uuid.uuid4().hex[:8], None)
    geometry = _polygon(_reversed(EXTERIOR_CCW), _reversed(HOLE_CW))
    fid = _write(client, keys["planner"], "material-zones", "POST", geometry, geometry, props)
    written = _stored(session, "material_zone", fid)
    _get_then_put(client, keys["planner"], "material-zones", fid)
    first = _stored(session, "material_zone", fid)
    same = session.connection().execute(
        sa.text("SELECT ST_Equals(ST_GeomFromText(:a), ST_GeomFromText(:b))"),
        {"a": written, "b": first},
    )
    assert same.scalar_one()
    for _ in range(3):
        _get_then_put(client, keys["planner"], "material-zones", fid)
        assert _stored(session, "material_zone", fid) == first


# -- text and numbers -----------------------------------------------------------------------------
NAME = "Làng nghề “Đông Sơn” — chạm khắc đá 'Nhồi' \"thử\" 🎋🇻🇳 Ỹ ữ ặ"
NOTE = "Ghi chú: \\ backslash, tab\t, newline\n, <b>&amp;</b>, ‘ngoặc’ 「」 ﷺ 𝄞"


@pytest.mark.parametrize("where", ["material-zones", "reference"])
def test_text_and_numbers_survive_post_get_put_get(
    client: TestClient, keys: dict[str, str], reference_layer: str, where: str
) -> None:
    assert unicodedata.is_normalized("NFC", NAME)
    geometry = _polygon(EXTERIOR_CCW)
    if where == "material-zones":
        collection = where
        props: dict[str, Any] = {
            "code": f"RT-{uuid.uuid4().hex[:8]}",
            "name": NAME,
            "material": "sedge",
            "status": "planned",
            "declared_area_ha": 31.87130601310158,
            "annual_capacity_t": 0.1,
            "notes": NOTE,
            "commune_codes": ["Hạc Thành", "🎋"],
        }
    else:
        collection = reference_layer
        props = {
            "label": NAME,
            "note": NOTE,
            "share": 31.87130601310158,
            "tiny": 1e-300,
            "whole": 9007199254740993,
            "nested": {"tên": ["Hạc Thành", "Sầm Sơn"], "ok": True, "none": None},
        }
    url = f"/collections/{collection}/items"
    created = client.post(url, json=_feature(geometry, props), headers=bearer(keys["planner"]))
    assert created.status_code == 201, created.text
    item = created.headers["location"][created.headers["location"].index("/collections") :]
    first = client.get(item)
    assert first.status_code == 200
    served = first.json()["properties"]
    assert {k: served[k] for k in props} == props
    put = client.put(item, json=first.json(), headers=bearer(keys["planner"]))
    assert put.status_code in {200, 204}, put.text
    again = client.get(item).json()["properties"]
    assert {k: again[k] for k in props} == props
    # The name goes out as UTF-8 as it came in: not normalised, no \\u escapes.
    assert json.dumps(NAME, ensure_ascii=False).encode() in client.get(item).content


def test_map_data_serves_polygons_in_rfc7946_orientation(
    client: TestClient, keys: dict[str, str], session: Session
) -> None:
    props = _properties("material-zones", uuid.uuid4().hex[:8], None)
    geometry = _polygon(_reversed(EXTERIOR_CCW), _reversed(HOLE_CW))
    fid = _write(client, keys["planner"], "material-zones", "POST", geometry, geometry, props)
    data = mapdata.overview(session.connection())
    assert data.zones is not None
    zone = data.zones[data.zones["id"] == fid].geometry.iloc[0]
    (part,) = zone.geoms
    rings = [
        [list(c) for c in part.exterior.coords],
        *([list(c) for c in r.coords] for r in part.interiors),
    ]
    assert rings == [EXTERIOR_CCW, HOLE_CW]


def test_a_geometry_collection_keeps_its_lines_and_orients_its_polygons(
    client: TestClient, session: Session, reference_layer: str
) -> None:
    # Only imports (GDAL files) bring collections; the API takes none. ST_ForcePolygonCCW
    # on the whole collection reversed its line too.
    line = ",".join(f"{x} {y}" for x, y in LINE)
    ring = ",".join(f"{x} {y}" for x, y in _reversed(EXTERIOR_CCW))
    conn = session.connection()
    fid = conn.execute(
        sa.text(
            "INSERT INTO reference_feature (layer_id, properties, geom) "
            "SELECT id, '{}', ST_GeomFromText(:wkt, 4326) FROM reference_layer WHERE name = :n "
            "RETURNING id"
        ),
        {"wkt": f"GEOMETRYCOLLECTION(LINESTRING({line}),POLYGON(({ring})))", "n": reference_layer},
    ).scalar_one()
    for crs in SERVED_CRS:
        served = client.get(
            f"/collections/{reference_layer}/items/{fid}", params={"crs": crs.uri}
        ).json()["geometry"]
        assert served["type"] == "GeometryCollection"
        members = served["geometries"]
        _assert_served(members[0], {"type": "LineString", "coordinates": LINE}, crs, crs.uri)
        _assert_served(members[1], _polygon(EXTERIOR_CCW), crs, crs.uri)


def test_a_route_without_a_line_is_drawn_through_its_stops_in_order(
    client: TestClient, keys: dict[str, str], empty_route: int
) -> None:
    # Stops written out of order: the line still runs stop 1, 2, 3, 4.
    for seq in (3, 1, 4, 2):
        created = client.post(
            "/collections/route-stops/items",
            json=_feature(
                {"type": "Point", "coordinates": LINE[seq - 1]},
                {"route_id": empty_route, "seq": seq, "name": f"Điểm {seq}"},
            ),
            headers=bearer(keys["tourism"]),
        )
        assert created.status_code == 201, created.text
    for crs in SERVED_CRS:
        route = client.get(f"/collections/routes/items/{empty_route}", params={"crs": crs.uri})
        served = route.json()["geometry"]
        _assert_served(served, {"type": "LineString", "coordinates": LINE}, crs, crs.uri)
