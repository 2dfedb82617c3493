"""The test factories write through the app's write path, rolled back or committed."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session

from tests import factories


def _history(conn: Connection, table: str, feature_id: int) -> list[str]:
    return list(
        conn.execute(
            sa.text("SELECT actor FROM feature_history WHERE table_name = :t AND feature_id = :id"),
            {"t": table, "id": str(feature_id)},
        ).scalars()
    )


def test_each_factory_writes_a_feature_with_its_history(connection: Connection) -> None:
    made = {
        "craft_village": factories.make_village(connection, name="Làng gốm thử"),
        "material_zone": factories.make_zone(connection, material="bamboo"),
        "admin_unit": factories.make_admin_unit(connection),
    }
    for table, feature_id in made.items():
        assert _history(connection, table, feature_id) == [factories.ACTOR], table
    name = connection.execute(
        sa.text("SELECT name FROM craft_village WHERE id = :id"), {"id": made["craft_village"]}
    ).scalar_one()
    assert name == "Làng gốm thử"
    # A derived column the write path fills in.
    area = connection.execute(
        sa.text("SELECT area_ha FROM material_zone WHERE id = :id"), {"id": made["material_zone"]}
    ).scalar_one()
    assert area > 0


def test_a_route_gets_its_stops_and_a_line_drawn_through_them(session: Session) -> None:
    route_id = factories.make_route(session, stops=factories.TWO_STOPS)
    row = session.execute(
        sa.text(
            "SELECT count(s.id), ST_NPoints(r.geom), r.length_km FROM tourism_route r "
            "JOIN route_stop s ON s.route_id = r.id WHERE r.id = :id GROUP BY r.id"
        ),
        {"id": route_id},
    ).one()
    assert row[0] == 2 and row[1] == 2 and row[2] > 1


def test_codes_are_unique_and_path_ids_name_what_was_made(session: Session) -> None:
    first, second = factories.zone_feature(), factories.zone_feature()
    assert first["properties"]["code"] != second["properties"]["code"]
    ids = factories.path_ids(session)
    village = session.execute(
        sa.text("SELECT feature_id FROM feature_history WHERE id = :id"),
        {"id": int(ids["historyId"])},
    ).scalar_one()
    assert village == ids["featureId"]


def test_a_committed_village_is_seen_by_others_and_gone_after(engine: Engine) -> None:
    def exists(village_id: int) -> bool:
        with engine.connect() as other:
            return bool(
                other.execute(
                    sa.text("SELECT count(*) FROM craft_village WHERE id = :id"),
                    {"id": village_id},
                ).scalar_one()
            )

    with factories.committed_village(engine) as village_id:
        assert exists(village_id)
    assert not exists(village_id)
