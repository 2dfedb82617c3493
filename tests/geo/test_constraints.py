"""The database itself rejects bad rows: geometry validity, SRID, type, code lists, ranges."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from geo.kernel.errors import Conflict, InvalidInput
from geo.store.db import translate_errors

VILLAGE_SQL = (
    "INSERT INTO craft_village (code, name, kind, craft_group, geom_precision, geom, "
    "households, craft_households) VALUES (:code, 'Làng thử', :kind, :group, 'hamlet', "
    "ST_GeomFromEWKT(:geom), :households, :craft_households)"
)
GOOD_VILLAGE = {
    "code": "T-OK",
    "kind": "craft_village",
    "group": "G4",
    "geom": "SRID=4326;POINT(105.68 19.85)",
    "households": 100,
    "craft_households": 40,
}
ZONE_SQL = (
    "INSERT INTO material_zone (code, name, material, status, geom) "
    "VALUES (:code, 'Vùng thử', :material, :status, ST_GeomFromEWKT(:geom))"
)
GOOD_ZONE = {
    "code": "T-Z-OK",
    "material": "luong",
    "status": "existing",
    "geom": "SRID=4326;MULTIPOLYGON(((105.1 20.3,105.2 20.3,105.2 20.4,105.1 20.4,105.1 20.3)))",
}


def _insert(connection: Connection, sql: str, params: dict[str, object]) -> None:
    savepoint = connection.begin_nested()
    try:
        with translate_errors():
            connection.execute(sa.text(sql), params)
    except Exception:
        savepoint.rollback()
        raise
    savepoint.commit()


def test_good_rows_are_accepted(connection: Connection) -> None:
    _insert(connection, VILLAGE_SQL, GOOD_VILLAGE)
    _insert(connection, ZONE_SQL, GOOD_ZONE)
    count = connection.execute(
        sa.text("SELECT count(*) FROM craft_village WHERE code = 'T-OK'")
    ).scalar()
    assert count == 1


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"kind": "bogus_kind"}, "kind must be one of: craft_village, "),
        ({"group": "G9"}, "craft_group must be one of: G1, "),
        ({"geom": "SRID=3857;POINT(11760000 2250000)"}, "SRID (3857) does not match"),
        ({"geom": "SRID=4326;LINESTRING(105 20, 106 20)"}, "type (LineString) does not match"),
        ({"geom": "SRID=4326;POINT(205 19)"}, "geom must be a valid, non-empty geometry"),
        ({"geom": "SRID=4326;POINT EMPTY"}, "geom must be a valid, non-empty geometry"),
        ({"craft_households": 120}, "craft_households must be ≥ 0 and not more than households"),
        ({"households": -1, "craft_households": None}, "households must be ≥ 0"),
    ],
)
def test_bad_village_rows_are_rejected(
    connection: Connection, change: dict[str, object], message: str
) -> None:
    with pytest.raises(InvalidInput, match=message.replace("(", r"\(").replace(")", r"\)")):
        _insert(connection, VILLAGE_SQL, {**GOOD_VILLAGE, **change})
    assert (
        connection.execute(
            sa.text("SELECT count(*) FROM craft_village WHERE code = 'T-OK'")
        ).scalar()
        == 0
    )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"material": "plastic"}, "material must be one of: "),
        ({"status": "gone"}, "status must be one of: existing, "),
        (
            # A bow-tie: the ring crosses itself.
            {"geom": "SRID=4326;MULTIPOLYGON(((105 20,106 21,106 20,105 21,105 20)))"},
            "geom must be a valid, non-empty geometry",
        ),
        ({"geom": "SRID=4326;POINT(105 20)"}, "type (Point) does not match"),
    ],
)
def test_bad_zone_rows_are_rejected(
    connection: Connection, change: dict[str, object], message: str
) -> None:
    with pytest.raises(InvalidInput, match=message.replace("(", r"\(").replace(")", r"\)")):
        _insert(connection, ZONE_SQL, {**GOOD_ZONE, **change})


def test_duplicate_code_is_a_conflict(connection: Connection) -> None:
    _insert(connection, VILLAGE_SQL, GOOD_VILLAGE)
    with pytest.raises(Conflict, match="code 'T-OK' is already used by another village"):
        _insert(connection, VILLAGE_SQL, GOOD_VILLAGE)


def test_route_stop_needs_village_or_name(connection: Connection) -> None:
    route_id = connection.execute(
        sa.text(
            "INSERT INTO tourism_route (code, name, theme, mode) "
            "VALUES ('T-R', 'Tuyến thử', 'craft_village', 'car') RETURNING id"
        )
    ).scalar()
    with pytest.raises(InvalidInput, match="a route stop needs a village_id or a name"):
        _insert(
            connection,
            "INSERT INTO route_stop (route_id, seq, geom) "
            "VALUES (:r, 1, ST_GeomFromEWKT('SRID=4326;POINT(105.7 19.8)'))",
            {"r": route_id},
        )


def test_admin_unit_validity_dates_are_ordered(connection: Connection) -> None:
    with pytest.raises(InvalidInput, match="valid_to must not be before valid_from"):
        _insert(
            connection,
            "INSERT INTO admin_unit (code, scheme, name, level, valid_from, valid_to) "
            "VALUES ('99999', 'test', 'Xã thử', 'commune', '2025-07-01', '2020-01-01')",
            {},
        )


def test_every_write_is_recorded_in_history(connection: Connection) -> None:
    connection.execute(sa.text("SELECT set_config('craftmap.actor', 'tester', true)"))
    _insert(connection, VILLAGE_SQL, GOOD_VILLAGE)
    connection.execute(sa.text("UPDATE craft_village SET name = 'Làng mới' WHERE code = 'T-OK'"))
    version = connection.execute(
        sa.text("SELECT version FROM craft_village WHERE code = 'T-OK'")
    ).scalar()
    connection.execute(sa.text("DELETE FROM craft_village WHERE code = 'T-OK'"))
    rows = connection.execute(
        sa.text(
            "SELECT action, actor, before->>'name' AS before, after->>'name' AS after "
            "FROM feature_history WHERE table_name = 'craft_village' "
            "AND coalesce(after->>'code', before->>'code') = 'T-OK' ORDER BY id"
        )
    ).all()
    assert version == 2
    assert [(r.action, r.actor, r.before, r.after) for r in rows] == [
        ("create", "tester", None, "Làng thử"),
        ("update", "tester", "Làng thử", "Làng mới"),
        ("delete", "tester", "Làng mới", None),
    ]
