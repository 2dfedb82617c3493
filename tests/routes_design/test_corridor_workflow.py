"""Villages on the way, against PostGIS and pgRouting (tests/routes_design/corridor_cases)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from geo.kernel.errors import Conflict, InvalidInput, NotFound
from geo.store import catalog, writes
from geo.workflows import route_corridor
from geo.workflows.route_corridor import CorridorRequest, corridor, insert_stop
from tests.routes_design.corridor_cases import CG_S, CN_S, SPUR_S, build


def mine(result: route_corridor.Corridor, *ids: int) -> list[int]:
    """The candidates among ``ids``, in the order given (the demo data lies far away)."""
    return [c.village_id for c in result.candidates if c.village_id in ids]


def by_id(result: route_corridor.Corridor) -> dict[int, route_corridor.Candidate]:
    return {c.village_id: c for c in result.candidates}


def test_the_detour_not_the_distance_ranks_the_villages(connection: Connection) -> None:
    case = build(connection)
    result = corridor(connection, CorridorRequest(case.route_id, km=5, craft_group="G4"))
    found = by_id(result)
    near, far = found[case.n], found[case.m]
    # Naive: nearest the line first, N (0.554 km) before M (1.218 km) ...
    assert near.distance_km == pytest.approx(0.554, abs=0.005)
    assert far.distance_km == pytest.approx(1.218, abs=0.005)
    by_distance = sorted(result.candidates, key=lambda c: c.distance_km)
    assert mine_ids(by_distance, case.m, case.n) == [case.n, case.m]
    # ... but N is across the river: by the detour M (3.65 min) comes first, N 9.57 min.
    assert mine(result, case.m, case.n) == [case.m, case.n]
    assert far.detour_min == pytest.approx(2 * SPUR_S / 60, rel=0.01)
    assert far.detour_min == pytest.approx(3.65, abs=0.03)
    assert near.detour_min == pytest.approx(CN_S / 60, rel=0.01)
    assert near.detour_min == pytest.approx(9.57, abs=0.05)
    # M's best place is between stops 2 and 3 (after S3 would add 4.19 min); N's at the end.
    assert far.best_after_seq == 2
    assert (CG_S + SPUR_S) / 60 == pytest.approx(4.19, abs=0.01)
    assert near.best_after_seq == 3
    assert far.kind == near.kind == "road" and far.note is None
    # The dwell is reported beside the drive, not in it.
    assert far.dwell_min == 60 and far.total_min == pytest.approx(far.detour_min + 60)
    assert result.to_dict()["dwell_counted"] is False
    # The stops themselves are not candidates; Z lies beyond 5 km.
    assert not set(found) & {*case.stops, case.z}


def mine_ids(candidates: list[route_corridor.Candidate], *ids: int) -> list[int]:
    return [c.village_id for c in candidates if c.village_id in ids]


def test_a_village_off_the_roads_gets_a_labelled_geodesic_detour(connection: Connection) -> None:
    case = build(connection)
    result = corridor(connection, CorridorRequest(case.route_id, km=5, craft_group="G3"))
    q = by_id(result)[case.q]
    assert q.kind == "geodesic"
    # Only the legs to and from Q fall back; they say why, naming the village as such.
    assert q.at_end and q.note == (
        "stop 3 → the village: the village is 2.7 km from the nearest road of network "
        "test-corridor (more than 2.0 km): straight line at 40 km/h"
    )


def test_filters(connection: Connection) -> None:
    case = build(connection)

    def ids(**filters: object) -> set[int]:
        request = CorridorRequest(case.route_id, **{"km": 5, **filters})  # type: ignore[arg-type]
        return set(mine(corridor(connection, request), case.m, case.n, case.p, case.q, case.z))

    assert ids() == {case.m, case.n, case.p, case.q}
    assert ids(craft_group="G1") == {case.p}
    assert ids(tourism=True) == {case.p}
    assert ids(tourism=False) == {case.m, case.n, case.q}
    assert ids(ocop_min_stars=4) == {case.p}
    assert ids(ocop_min_stars=5) == set()
    assert ids(ocop_products=True) == {case.p}
    assert ids(status="lost") == set()
    # The corridor's width: N (0.55 km) but not M (1.22 km) within 1 km; Z only within 7.
    assert ids(km=1) == {case.n, case.p}
    assert case.z in ids(km=7)


def test_the_corridor_uses_the_villages_spatial_index(connection: Connection) -> None:
    case = build(connection)
    connection.execute(sa.text("SET LOCAL enable_seqscan = off"))
    plan = "\n".join(
        row[0]
        for row in connection.execute(
            sa.text("EXPLAIN " + str(route_corridor.corridor_sql())),
            {
                "route_id": case.route_id,
                "m": 5000.0,
                "craft_group": None,
                "tourism": None,
                "ocop_min_stars": None,
                "ocop_products": None,
                "status": None,
            },
        )
    )
    assert "craft_village_geom" in plan or "idx_craft_village_geom" in plan, plan


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"km": 0}, "km must be above 0"),
        ({"km": 51}, "at most 50"),
        ({"craft_group": "G9"}, "unknown craft group"),
        ({"mode": "plane"}, "unknown mode"),
        ({"ocop_min_stars": 2}, "ocop_min_stars"),
    ],
)
def test_bad_requests(connection: Connection, changes: dict[str, object], words: str) -> None:
    case = build(connection)
    with pytest.raises(InvalidInput, match=words):
        corridor(connection, CorridorRequest(case.route_id, **changes))  # type: ignore[arg-type]


def test_a_route_without_a_line_or_missing(connection: Connection) -> None:
    from tests.factories import make_route

    bare = make_route(connection)
    with pytest.raises(InvalidInput, match="no line"):
        corridor(connection, CorridorRequest(bare))
    with pytest.raises(NotFound):
        corridor(connection, CorridorRequest(2_000_000_000))


def stops_of(conn: Connection, route_id: int) -> list[tuple[int, int, int | None]]:
    return [
        (r.id, r.seq, r.village_id)
        for r in conn.execute(
            sa.text("SELECT id, seq, village_id FROM route_stop WHERE route_id = :r ORDER BY seq"),
            {"r": route_id},
        )
    ]


def test_insert_puts_the_village_at_its_best_place(connection: Connection) -> None:
    case = build(connection)
    s1, s2, s3 = case.stop_ids
    inserted = insert_stop(connection, case.route_id, case.m, actor="tester", dwell_min=45)
    # Between stops 2 and 3: the new stop is 3, S3 moves to 4.
    assert inserted.seq == 3
    assert inserted.detour_min == pytest.approx(2 * SPUR_S / 60, rel=0.01)
    assert stops_of(connection, case.route_id) == [
        (s1, 1, case.stops[0]),
        (s2, 2, case.stops[1]),
        (inserted.stop_id, 3, case.m),
        (s3, 4, case.stops[2]),
    ]
    assert [row["seq"] for row in inserted.timetable] == [1, 2, 3, 4]
    assert inserted.timetable[2]["dwell_min"] == 45
    assert inserted.timetable[2]["name"] == "Làng M"
    # The history has the new stop and S3's move, by the actor.
    new = writes.history(connection, catalog.ROUTE_STOPS, inserted.stop_id, reveal_actors=True)
    assert [h["action"] for h in new] == ["create"] and new[0]["actor"] == "tester"
    moved = writes.history(connection, catalog.ROUTE_STOPS, s3, reveal_actors=True)
    assert moved[-1]["actor"] == "tester"
    assert moved[-1]["action"] == "update"
    assert moved[-1]["state"]["properties"]["seq"] == 4
    # The line (drawn from the stops) now passes M.
    passes = connection.execute(
        sa.text(
            "SELECT ST_DWithin(r.geom::geography, v.geom::geography, 1) FROM tourism_route r, "
            "craft_village v WHERE r.id = :r AND v.id = :v"
        ),
        {"r": case.route_id, "v": case.m},
    ).scalar()
    assert passes


def test_insert_at_a_given_position_and_at_the_end(connection: Connection) -> None:
    case = build(connection)
    first = insert_stop(connection, case.route_id, case.p, actor="tester", position=1)
    assert first.seq == 1 and first.detour_min is None
    assert [seq for _id, seq, _v in stops_of(connection, case.route_id)] == [1, 2, 3, 4]
    assert stops_of(connection, case.route_id)[0][2] == case.p
    # N's best place is at the end (after the last stop).
    last = insert_stop(connection, case.route_id, case.n, actor="tester")
    assert last.seq == 5
    with pytest.raises(InvalidInput, match="position must be between 1 and 6"):
        insert_stop(connection, case.route_id, case.q, actor="tester", position=7)


def test_insert_refuses_a_village_that_is_a_stop_already(connection: Connection) -> None:
    case = build(connection)
    with pytest.raises(Conflict, match="already"):
        insert_stop(connection, case.route_id, case.stops[1], actor="tester")
    with pytest.raises(NotFound):
        insert_stop(connection, case.route_id, "NO-SUCH-VILLAGE", actor="tester")


def test_insert_into_a_designed_route_redraws_only_the_legs_around_it(
    connection: Connection,
) -> None:
    from geo.workflows.route_design import design_route

    case = build(connection)
    design_route(connection, case.route_id, actor="tester")

    def rows() -> dict[int, sa.Row[tuple[object, ...]]]:
        return {
            r.id: r
            for r in connection.execute(
                sa.text(
                    "SELECT id, seq, version, leg_kind, leg_min, ST_AsText(leg_geom) AS leg, "
                    "arrive_at FROM route_stop WHERE route_id = :r"
                ),
                {"r": case.route_id},
            )
        }

    before = rows()
    s1, s2, s3 = case.stop_ids
    inserted = insert_stop(connection, case.route_id, case.m, actor="tester")
    after = rows()
    assert inserted.seq == 3 and after[s3].seq == 4
    # S1 and S2 (and the S1 → S2 leg) are not rewritten: same version, same line.
    for stop in (s1, s2):
        assert after[stop].version == before[stop].version
        assert after[stop].leg == before[stop].leg
    # The two legs around M follow the roads: S2 → M up the spur (1.5 + 1.2 km by
    # road, 141.5 + 109.6 s), M → S3 back down it and on to C.
    new = after[inserted.stop_id]
    assert new.leg_kind == "road" and after[s3].leg_kind == "road"
    assert new.leg_min == pytest.approx((CG_S + SPUR_S) / 60, rel=0.01)
    assert after[s3].leg_min == pytest.approx((SPUR_S + CG_S) / 60, rel=0.01)
    assert after[s3].leg != before[s3].leg
    # The timetable is recomputed and returned: stop 3 reached after its leg.
    assert [r["seq"] for r in inserted.timetable] == [1, 2, 3, 4]
    assert all(r["arrive_at"] is not None for r in inserted.timetable)
    assert inserted.timetable[2]["leg_kind"] == "road"
    line_source = connection.execute(
        sa.text("SELECT line_source FROM tourism_route WHERE id = :r"), {"r": case.route_id}
    ).scalar_one()
    assert line_source == "roads"
    # Now the road line (up and down the spur) is not the stops joined straight: a second
    # village off that line still goes in, and the design follows it.
    second = insert_stop(connection, case.route_id, case.p, actor="tester")
    assert [r["village_id"] for r in second.timetable].count(case.p) == 1
    assert all(r["leg_kind"] in ("road", None) for r in second.timetable)
    passes = connection.execute(
        sa.text(
            "SELECT ST_DWithin(r.geom::geography, v.geom::geography, 50) FROM tourism_route r, "
            "craft_village v WHERE r.id = :r AND v.id = :v"
        ),
        {"r": case.route_id, "v": case.p},
    ).scalar()
    assert passes
