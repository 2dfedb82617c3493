"""Whatever geometry a client writes, the answer is 201 or a 4xx problem, never a 500.

Hypothesis builds GeoJSON geometries, valid and not (self-intersecting, empty, rings of one
point, huge coordinates, NaN, text for numbers, wrong nesting, unknown types, extra
members), in every CRS craftmap accepts, and posts them as villages and material zones.
"""

from __future__ import annotations

import itertools
import json
from typing import Any

from fastapi.testclient import TestClient
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from tests.api.conftest import bearer
from tests.factories import village_feature, zone_feature

EPSG = "http://www.opengis.net/def/crs/EPSG/0/{}"
_CODES = itertools.count()

_NUMBERS = st.one_of(
    st.floats(102, 110),
    st.floats(8, 24),
    st.floats(),  # NaN, infinities, 1e308
    st.integers(-(10**400), 10**400),
    st.sampled_from([0, 180, 180.0000001, -90.5, 1e12, 571_000.0, 2_195_000.0, 1e300]),
)
# Right positions in Vietnam (twice as likely), any two numbers, and sometimes text, null,
# a list too many or a boolean.
_IN_VIETNAM = st.tuples(st.floats(104, 108), st.floats(10, 22)).map(list)
_POSITIONS = st.one_of(
    _IN_VIETNAM,
    _IN_VIETNAM,
    st.lists(_NUMBERS, min_size=2, max_size=2),
    st.lists(_NUMBERS, min_size=0, max_size=5),
    st.lists(st.one_of(_NUMBERS, st.text(max_size=3), st.none(), st.booleans()), max_size=3),
)


@st.composite
def _ring(draw: st.DrawFn) -> list[Any]:
    """A square ring in Vietnam, perhaps bent, left open, cut short or scaled up."""
    lon, lat = draw(st.floats(102, 109)), draw(st.floats(9, 23))
    size = draw(st.sampled_from([1e-9, 0.001, 0.05, 1.0, 1e6]))
    ring = [[lon, lat], [lon + size, lat], [lon + size, lat + size], [lon, lat + size]]
    if draw(st.integers(0, 3)) == 0:
        ring[1], ring[2] = ring[2], ring[1]  # a bow tie
    if draw(st.integers(0, 3)) == 0:
        ring = ring[: draw(st.integers(0, 3))]
    if ring and draw(st.integers(0, 3)) > 0:
        ring.append(ring[0])  # closed, as it should be
    return ring


def _nested(leaf: st.SearchStrategy[Any], depth: int) -> st.SearchStrategy[Any]:
    for _ in range(depth):
        leaf = st.lists(leaf, max_size=3)
    return leaf


_COORDINATES: dict[str, st.SearchStrategy[Any]] = {
    "Point": _POSITIONS,
    "MultiPoint": _nested(_POSITIONS, 1),
    "LineString": st.lists(_POSITIONS, max_size=4),
    "MultiLineString": _nested(_POSITIONS, 2),
    "Polygon": st.lists(_ring(), min_size=1, max_size=1) | _nested(_POSITIONS, 2),
    "MultiPolygon": st.lists(st.lists(_ring(), min_size=1, max_size=1), min_size=1, max_size=2)
    | _nested(_POSITIONS, 3),
}


@st.composite
def geometries(draw: st.DrawFn, kind: str | None = None) -> Any:
    """A GeoJSON geometry, right or wrong in any of the ways a client gets it wrong."""
    if kind is None:
        kind = draw(st.sampled_from([*_COORDINATES, "GeometryCollection", "Feature", "", None, 5]))
    if kind in _COORDINATES:
        wrong_depth = draw(st.integers(0, 9)) == 0
        coordinates = draw(
            _COORDINATES[draw(st.sampled_from(list(_COORDINATES)))]
            if wrong_depth
            else _COORDINATES[kind]
        )
        geometry: Any = {"type": kind, "coordinates": coordinates}
    elif kind == "GeometryCollection":
        geometry = {"type": kind, "geometries": [{"type": "Point", "coordinates": [105, 20]}]}
    else:
        geometry = {"type": kind, "coordinates": draw(_POSITIONS)}
    if draw(st.integers(0, 9)) == 0:
        geometry["crs"] = {"type": "name", "properties": {"name": "EPSG:99999"}}
    if draw(st.integers(0, 19)) == 0:
        geometry = draw(st.sampled_from(["POINT(105 20)", [105, 20], None, {}, 0]))
    return geometry


CONTENT_CRS = st.sampled_from(
    [None, None, None, EPSG.format(4326), EPSG.format(5897), EPSG.format(32648)]
)


def _feature(collection: str, geometry: Any) -> dict[str, Any]:
    code = f"T-FUZZ-{next(_CODES)}"
    if collection == "villages":
        valid = village_feature(code=code, name="Làng thử")
    else:
        valid = zone_feature(code=code, name="Vùng thử")
    return {**valid, "geometry": geometry}


@settings(
    max_examples=300,
    deadline=None,
    derandomize=True,
    # Each example's writes are undone before the next (session.rollback below).
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    collection_and_geometry=st.one_of(
        st.tuples(st.just("villages"), geometries("Point")),
        st.tuples(st.just("material-zones"), geometries("Polygon")),
        st.tuples(st.just("material-zones"), geometries("MultiPolygon")),
        st.tuples(st.sampled_from(["villages", "material-zones"]), geometries()),
    ),
    crs=CONTENT_CRS,
)
def test_any_geometry_is_written_or_refused_with_a_problem(
    client: TestClient,
    session: Session,
    keys: dict[str, str],
    collection_and_geometry: tuple[str, Any],
    crs: str | None,
) -> None:
    collection, geometry = collection_and_geometry
    headers = {**bearer(keys["admin"]), "Content-Type": "application/json"}
    if crs is not None:
        headers["Content-Crs"] = f"<{crs}>"
    # NaN and infinities go out as the JSON extensions Python reads back.
    body = json.dumps(_feature(collection, geometry), allow_nan=True)
    session.commit()  # keeps the keys: only this example's writes are rolled back
    try:
        response = client.post(f"/collections/{collection}/items", content=body, headers=headers)
    finally:
        # A request gets a session of its own in the server: nothing carries over.
        session.rollback()
    event(f"status {response.status_code}")  # --hypothesis-show-statistics shows the mix
    assert response.status_code != 401, "the key must work, or nothing is tested"
    assert response.status_code == 201 or 400 <= response.status_code < 500, response.text
    if response.status_code != 201:
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.json()["detail"]


def test_a_right_geometry_in_each_crs_is_written(
    client: TestClient, session: Session, keys: dict[str, str]
) -> None:
    # The fuzzing above only means something if right geometries do get through.
    positions = {
        None: [105.68, 19.85],
        EPSG.format(4326): [19.85, 105.68],
        EPSG.format(5897): [571_000.0, 2_195_000.0],
        EPSG.format(32648): [571_000.0, 2_195_000.0],
    }
    for crs, position in positions.items():
        headers = {**bearer(keys["admin"]), **({"Content-Crs": f"<{crs}>"} if crs else {})}
        feature = _feature("villages", {"type": "Point", "coordinates": position})
        response = client.post("/collections/villages/items", json=feature, headers=headers)
        assert response.status_code == 201, (crs, response.text)
