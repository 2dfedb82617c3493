"""Low zooms from the generalised copy (``tile_generalised``, migration 0012b).

Shapes are built in Web Mercator metres, where the copy's tolerance (half a pixel of a
zoom-9 tile, ~9.55 m) and the low-zoom size rule (a 256-pixel tile's pixel: 611 m at
zoom 8) are exact, so the expected vertex counts and drops can be worked out by hand.
"""

from __future__ import annotations

import math
import uuid
from typing import Any

import mapbox_vector_tile
import morecantile
import pyproj
import pytest
import shapely
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from geo.query import tiles
from geo.store import catalog, migrate
from geo.store.db import make_engine
from geo.store.keys import create_key
from tests.factories import ZONE_AT, make_zone, zone_feature

TMS = morecantile.tms.get("WebMercatorQuad")
_TO_LONLAT = pyproj.Transformer.from_crs(3857, 4326, always_xy=True)
_TO_MERCATOR = pyproj.Transformer.from_crs(4326, 3857, always_xy=True)
TOLERANCE = tiles.GENERALISED_TOLERANCE
CENTRE = _TO_MERCATOR.transform(*ZONE_AT)


def _polygon(ring_m: list[tuple[float, float]]) -> dict[str, Any]:
    # A GeoJSON polygon (lon/lat) from a closed ring in Web Mercator metres.
    ring = [list(_TO_LONLAT.transform(x, y)) for x, y in ring_m]
    return {"type": "Polygon", "coordinates": [ring]}


def _circle(radius: float, vertices: int = 60, dx: float = 0.0) -> dict[str, Any]:
    cx, cy = CENTRE[0] + dx, CENTRE[1]
    angles = [2 * math.pi * i / vertices for i in range(vertices)]
    ring = [(cx + radius * math.cos(a), cy + radius * math.sin(a)) for a in angles]
    return _polygon([*ring, ring[0]])


def _square(side: float, dx: float = 0.0) -> dict[str, Any]:
    x, y = CENTRE[0] + dx, CENTRE[1]
    return _polygon([(x, y), (x + side, y), (x + side, y + side), (x, y + side), (x, y)])


def _copy(conn: sa.Connection, zone_id: int) -> tuple[int, float] | None:
    row = conn.execute(
        sa.text(
            "SELECT ST_NPoints(geom), size_m FROM tile_generalised "
            "WHERE collection = 'material_zone' AND feature_id = :id"
        ),
        {"id": zone_id},
    ).one_or_none()
    return None if row is None else (int(row[0]), float(row[1]))


@pytest.fixture
def planner(session: Session) -> dict[str, str]:
    token = create_key(session.connection(), name="test planner", role="planner")[0]
    return {"Authorization": f"Bearer {token}"}


def _post(client: TestClient, headers: dict[str, str], geometry: dict[str, Any]) -> int:
    response = client.post(
        "/collections/material-zones/items", json=zone_feature(geometry=geometry), headers=headers
    )
    assert response.status_code == 201, response.text
    return int(response.headers["Location"].rsplit("/", 1)[-1])


def _decode(data: bytes) -> dict[str, dict[int, Any]]:
    decoded = mapbox_vector_tile.decode(data, default_options={"y_coord_down": True})
    return {name: {f["id"]: f for f in layer["features"]} for name, layer in decoded.items()}


def _tile_ids(client: TestClient, tile: morecantile.Tile) -> set[int]:
    url = f"/collections/material-zones/tiles/WebMercatorQuad/{tile.z}/{tile.y}/{tile.x}"
    response = client.get(url)
    if response.status_code == 204:
        return set()
    return set(_decode(response.content).get("material-zones", {}))


def test_written_parcels_are_copied_simplified(
    client: TestClient, session: Session, planner: dict[str, str]
) -> None:
    conn = session.connection()
    # A 60-gon of radius 200 m: Douglas-Peucker at 9.55 m keeps arcs whose sagitta
    # R(1 - cos θ) stays under the tolerance, θ ≤ 0.31 rad, so at least 2π / 0.62 ≈ 10
    # segments and (its splits are not optimal) well under the 60 it had.
    circle = _post(client, planner, _circle(200))
    # A square keeps its 5 points whatever the tolerance below its side.
    square = _post(client, planner, _square(300, dx=1_000))
    # 5 m across: every corner is within the tolerance of another, it collapses.
    speck = _post(client, planner, _square(5, dx=2_000))
    # 100 m: kept in the copy, but under a zoom-8 pixel (611 m) and over a zoom-12 one.
    small = _post(client, planner, _square(100, dx=3_000))
    kept = _copy(conn, circle)
    assert kept is not None and 11 <= kept[0] <= 25, kept
    assert kept[1] == pytest.approx(400, abs=1)
    assert _copy(conn, square) == (5, pytest.approx(300, abs=0.01))
    assert _copy(conn, speck) is None
    assert _copy(conn, small) == (5, pytest.approx(100, abs=0.01))
    at = _TO_LONLAT.transform(CENTRE[0] + 3_050, CENTRE[1] + 50)
    assert small not in _tile_ids(client, TMS.tile(*at, 8))
    assert small in _tile_ids(client, TMS.tile(*at, 12))
    # At zoom 9 a pixel is 306 m: the 400 m circle shows, the 300 m square does not.
    assert circle in _tile_ids(client, TMS.tile(*ZONE_AT, 9))
    at = _TO_LONLAT.transform(CENTRE[0] + 1_150, CENTRE[1] + 150)
    assert square not in _tile_ids(client, TMS.tile(*at, 9))
    assert square in _tile_ids(client, TMS.tile(*at, 10))


def test_an_update_through_the_api_changes_the_copy(
    client: TestClient, session: Session, planner: dict[str, str]
) -> None:
    conn = session.connection()
    zone = _post(client, planner, _square(300))
    before = conn.execute(
        sa.text(
            "SELECT xmin::text FROM tile_generalised WHERE feature_id = :id "
            "AND collection = 'material_zone'"
        ),
        {"id": zone},
    ).scalar_one()
    url = f"/collections/material-zones/items/{zone}"
    renamed = client.patch(
        url,
        json={"properties": {"name": "Vùng cói đổi tên"}},
        headers={**planner, "Content-Type": "application/merge-patch+json"},
    )
    assert renamed.status_code == 200, renamed.text
    # Only a changed geometry rewrites the copy.
    assert (
        conn.execute(
            sa.text(
                "SELECT xmin::text FROM tile_generalised WHERE feature_id = :id "
                "AND collection = 'material_zone'"
            ),
            {"id": zone},
        ).scalar_one()
        == before
    )
    moved = client.patch(
        url,
        json={"geometry": _circle(200)},
        headers={**planner, "Content-Type": "application/merge-patch+json"},
    )
    assert moved.status_code == 200, moved.text
    copied = _copy(conn, zone)
    assert copied is not None and 11 <= copied[0] <= 25 and copied[1] == pytest.approx(400, abs=1)


def test_plain_sql_as_the_owner_updates_and_deletes_the_copy(role_urls: dict[str, str]) -> None:
    engine = make_engine(role_urls["owner"])
    try:
        with engine.connect() as conn, conn.begin() as transaction:
            zone = make_zone(conn, geometry=_square(300))
            assert _copy(conn, zone) == (5, pytest.approx(300, abs=0.01))
            conn.execute(
                sa.text(
                    "UPDATE material_zone SET geom = ST_Multi(ST_Transform("
                    "ST_Buffer(ST_Transform(geom, 3857), 100), 4326)) WHERE id = :id"
                ),
                {"id": zone},
            )
            grown = _copy(conn, zone)
            assert grown is not None and grown[1] == pytest.approx(500, abs=1)
            conn.execute(sa.text("DELETE FROM material_zone WHERE id = :id"), {"id": zone})
            assert _copy(conn, zone) is None
            transaction.rollback()
    finally:
        engine.dispose()


def _demo_tile(z: int) -> tiles.Tile:
    t = TMS.tile(*ZONE_AT, z)
    return tiles.Tile(t.z, t.x, t.y)


@pytest.mark.parametrize("z", [6, 7, 8])
def test_a_low_zoom_tile_from_the_copy_matches_the_stored_geometries(
    session: Session, z: int
) -> None:
    conn = session.connection()
    zones = catalog.MATERIAL_ZONES
    address = _demo_tile(z)
    names = [p.name for p in zones.props if p.enum is not None]
    copied = _decode(tiles.tile(conn, [zones], address).data)["material-zones"]
    built = _decode(tiles.tile(conn, [zones], address, properties=names, generalised=False).data)[
        "material-zones"
    ]
    assert len(built) >= 3
    # The documented drop: what is under a pixel of a 256-pixel tile, from the stored
    # geometries (no demo zone is within two tolerances of the cut).
    pixel = 40_075_016.685578488 / 2**z / 256
    sizes = dict(
        conn.execute(
            sa.text(
                "SELECT id, greatest(ST_XMax(g) - ST_XMin(g), ST_YMax(g) - ST_YMin(g)) "
                "FROM (SELECT id, ST_Transform(geom, 3857) g FROM material_zone) s "
                "WHERE id = ANY(:ids)"
            ),
            {"ids": list(built)},
        ).all()
    )
    assert all(abs(size - pixel) > 2 * TOLERANCE for size in sizes.values())
    assert set(copied) == {i for i in built if sizes[i] >= pixel}
    if z < 8:
        assert set(built) - set(copied), "the demo has zones under a pixel at zooms 6 and 7"
    for fid, feature in copied.items():
        assert feature["properties"] == built[fid]["properties"]  # code lists only
        assert set(feature["properties"]) <= set(names)
        ours = shapely.geometry.shape(feature["geometry"])
        theirs = shapely.geometry.shape(built[fid]["geometry"])
        # Within a pixel of the screen (16 of the tile's 4,096 units); in fact within two.
        assert ours.hausdorff_distance(theirs) <= 2, fid


def test_deeper_tiles_are_unchanged(session: Session) -> None:
    conn = session.connection()
    zones = [catalog.MATERIAL_ZONES, catalog.ROUTES, catalog.ADMIN_UNITS]
    for z in (10, 12):
        address = _demo_tile(z)
        assert tiles.tile(conn, zones, address) == tiles.tile(
            conn, zones, address, generalised=False
        )
        assert tiles.tile(conn, zones, address).data


def test_the_rule_is_in_the_tilejson(client: TestClient) -> None:
    tilejson = client.get("/collections/material-zones/tiles/WebMercatorQuad/tilejson.json")
    assert "smaller than one pixel" in tilejson.json()["description"]
    tileset = client.get("/collections/material-zones/tiles/WebMercatorQuad")
    assert "smaller than one pixel" in tileset.json()["description"]


def test_the_migration_fills_the_copy_and_its_downgrade_drops_it(fresh_database_url: str) -> None:
    url = fresh_database_url
    migrate.upgrade(url, "0011_programme_facts")
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            ids = [make_zone(conn, geometry=_square(300, dx=1_000 * i)) for i in range(3)]
            ids.append(make_zone(conn, geometry=_square(5, dx=5_000)))  # collapses
        migrate.upgrade(url, "0012b_generalised_geometry")
        with engine.connect() as conn:
            assert [_copy(conn, i) for i in ids[:3]] == [(5, pytest.approx(300, abs=0.01))] * 3
            assert _copy(conn, ids[3]) is None
        migrate.downgrade(url, "0011_programme_facts")
        with engine.begin() as conn:
            assert sa.inspect(conn).has_table("tile_generalised") is False
            # The feature tables take writes without the copy's triggers.
            make_zone(conn, geometry=_square(300, dx=9_000))
            triggers = conn.execute(
                sa.text("SELECT count(*) FROM pg_trigger WHERE tgname LIKE '%generalised%'")
            ).scalar_one()
            assert triggers == 0
    finally:
        engine.dispose()


def test_a_reference_layer_keeps_its_points_at_low_zoom(
    client: TestClient, session: Session, planner: dict[str, str]
) -> None:
    name = f"gen-{uuid.uuid4().hex[:8]}"
    session.connection().execute(
        sa.text("INSERT INTO reference_layer (name, title, kind) VALUES (:n, :t, 'other')"),
        {"n": name, "t": name},
    )
    written = {}
    for label, geometry in (
        ("point", {"type": "Point", "coordinates": list(ZONE_AT)}),
        ("speck", _square(100, dx=1_000)),
        ("field", _square(1_000, dx=2_000)),
    ):
        response = client.post(
            f"/collections/{name}/items",
            json={"type": "Feature", "geometry": geometry, "properties": {"label": label}},
            headers=planner,
        )
        assert response.status_code == 201, response.text
        written[label] = int(response.headers["Location"].rsplit("/", 1)[-1])

    def shown(z: int) -> dict[int, Any]:
        t = TMS.tile(*ZONE_AT, z)
        url = f"/collections/{name}/tiles/WebMercatorQuad/{t.z}/{t.y}/{t.x}"
        return _decode(client.get(url).content)[name]

    assert set(shown(12)) == set(written.values())
    low = shown(8)
    # A point has no size: it always shows; the 100 m square is under a 611 m pixel.
    assert set(low) == {written["point"], written["field"]}
    # No code lists in a reference layer: only the geometry and id at low zoom.
    assert all(f["properties"] == {} for f in low.values())


@pytest.mark.parametrize("z", [5, 8, 9])
def test_a_low_zoom_tile_finds_its_candidates_by_index(session: Session, z: int) -> None:
    conn = session.connection()
    # The demo is small enough for a sequential scan or a walk of the primary key in id
    # order: ask whether a bitmap scan of the copy's GiST indexes can serve. (Which of the
    # per-zoom partial indexes is a matter of cost: on the national data each zoom's own,
    # as README shows; on a handful of rows all cost the same.)
    conn.execute(sa.text("SET LOCAL enable_seqscan = off"))
    conn.execute(sa.text("SET LOCAL enable_indexscan = off"))
    statement = tiles.tile_statement([catalog.MATERIAL_ZONES], _demo_tile(z))
    compiled = statement.compile(conn, compile_kwargs={"literal_binds": True})
    plan = "\n".join(conn.execute(sa.text(f"EXPLAIN {compiled}")).scalars())
    assert "Bitmap Index Scan on ix_tile_generalised_geom" in plan, plan
