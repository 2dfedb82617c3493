"""(light, issue 17) A statement compiled once per shape gives what the built one gives."""

from __future__ import annotations

import pytest

from geo.kernel.crs import CRS84
from geo.query import features, prepared
from geo.store import catalog
from geo.store.db import Connection

BOXES = [(105.0, 19.0, 106.5, 20.5), (105.6, 19.7, 105.9, 20.0), (100.0, 10.0, 100.1, 10.1)]


def _rows(connection: Connection, text: str, values: dict[str, object]) -> list[tuple[object, ...]]:
    raw = connection.connection.dbapi_connection
    assert raw is not None
    with raw.cursor() as cursor:
        cursor.execute(text, values)
        return [tuple(row) for row in cursor.fetchall()]


@pytest.mark.parametrize("box", [None, *BOXES])
@pytest.mark.parametrize(("limit", "offset"), [(1, 0), (3, 2), (100, 0)])
def test_a_compiled_page_binds_each_request_value_where_it_belongs(
    connection: Connection,
    box: tuple[float, float, float, float] | None,
    limit: int,
    offset: int,
) -> None:
    zones = catalog.MATERIAL_ZONES
    query = features.ItemsQuery(limit=limit, offset=offset, bbox=box, bbox_crs=CRS84, crs=CRS84)
    built = features.items_statement(zones, query, counted=True)
    expected = [tuple(row) for row in connection.execute(built).all()]
    shape = prepared.compile_statement(prepared.sentinel_page(zones, query))
    x0, y0, x1, y1 = box or (0.0, 0.0, 0.0, 0.0)
    values = {"x0": x0, "y0": y0, "x1": x1, "y1": y1, "limit+1": limit + 1, "offset": offset}
    assert _rows(connection, shape.text, shape.values(values)) == expected
    # The shape binds every request value it carries, and nothing else varies.
    roles = {role for _, role in shape.roles}
    assert roles == {"limit+1"} | ({"offset"} if offset else set()) | (
        {"x0", "y0", "x1", "y1"} if box else set()
    )


def test_a_compiled_feature_binds_its_id(connection: Connection) -> None:
    villages = catalog.VILLAGES
    shape = prepared.compile_statement(prepared.sentinel_item(villages))
    ids = [row[0] for row in connection.execute(villages.table.select().limit(3)).all()]
    assert ids
    for fid in ids:
        expected = tuple(connection.execute(features.item_statement(villages, fid, CRS84)).one())
        assert _rows(connection, shape.text, shape.values({"id": fid})) == [expected]
    assert _rows(connection, shape.text, shape.values({"id": 2_000_000_000})) == []
