"""``run_coverage`` against PostGIS: hand-computed allocations, figures, what-if writes nothing.

The test features sit in a corner of the country with no demo data (Cà Mau's coast, far
from the demo's roads in Thanh Hóa) and use the material ``other``, which no demo row
grows, so each answer depends only on the rows the test writes on its rolled-back
connection. Distances along a meridian or a parallel are written down by hand: a degree of
latitude near 9° N is 110.6 km, a degree of longitude there 110.0 km (WGS 84).
"""

from __future__ import annotations

from typing import Any

import pytest
import shapely
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from geo.io import network
from geo.kernel.errors import InvalidInput, LimitExceeded, NotFound
from geo.kernel.vocab import RoadClass
from geo.store.db import set_actor
from geo.workflows.coverage import (
    CoverageRequest,
    ExtraZone,
    Scenario,
    run_coverage,
    what_if,
)
from tests.factories import make_village, make_zone, square

MATERIAL = "other"
LON = 105.0
LAT = 9.0
SIZE = 0.001  # a zone is a 0.001° square (about 110 m) with its south-west corner given
KM_PER_DEG_LAT = 110.6
KM_PER_DEG_LON = 110.0


def village(conn: Connection, code: str, dlon: float, dlat: float, demand: Any = None) -> int:
    props: dict[str, Any] = {"code": code}
    if demand is not None:
        props["material_demand_t"] = {MATERIAL: demand}
    return make_village(conn, at=(LON + dlon, LAT + dlat), **props)


def zone(
    conn: Connection,
    code: str,
    dlon: float,
    dlat: float,
    capacity: float | None,
    status: str = "existing",
) -> int:
    return make_zone(
        conn,
        geometry=square(LON + dlon, LAT + dlat, SIZE),
        code=code,
        material=MATERIAL,
        status=status,
        annual_capacity_t=capacity,
    )


def by_code(frame: Any, column: str) -> dict[str, Any]:
    return dict(zip(frame["code"], frame[column], strict=True))


def flows_of(result: Any) -> dict[tuple[str, str], float]:
    return {
        (z, v): round(float(t), 6)
        for z, v, t in zip(
            result.flows["zone_code"],
            result.flows["village_code"],
            result.flows["tonnes"],
            strict=True,
        )
    }


def geodesic(**kwargs: Any) -> CoverageRequest:
    return CoverageRequest(material=MATERIAL, mode="geodesic", **kwargs)


# -- (a) the optimum against nearest-first, on real geometry -----------------------------------
def two_zones_two_villages(conn: Connection) -> None:
    # V1 at the origin, V2 0.10° north. Zone A's square spans 0.030–0.031° north: 3.3 km
    # from V1 (its south edge), 7.6 km from V2 (its north edge). Zone B spans −0.050 to
    # −0.049°: 5.5 km from V1, 16.6 km from V2 (beyond a 10 km haul).
    village(conn, "T-CV-V1", 0, 0, 10)
    village(conn, "T-CV-V2", 0, 0.10, 10)
    zone(conn, "T-CV-ZA", 0, 0.03, 10)
    zone(conn, "T-CV-ZB", 0, -0.05, 10)


def test_the_optimum_delivers_what_nearest_first_cannot(connection: Connection) -> None:
    two_zones_two_villages(connection)
    result = run_coverage(connection, geodesic(haul_km=10))
    # Nearest first would send A's 10 t to V1 (3.3 km: 33 t·km) and strand V2: 10 t in all.
    # The optimum sends A to V2 and B to V1: all 20 t, at 10 × 7.63 + 10 × 5.42 = 130.5 t·km.
    assert flows_of(result) == {("T-CV-ZA", "T-CV-V2"): 10.0, ("T-CV-ZB", "T-CV-V1"): 10.0}
    assert result.totals.supplied_t == pytest.approx(20.0)
    assert result.totals.unmet_t == pytest.approx(0.0)
    assert result.totals.tonne_km == pytest.approx(130.5, rel=2e-3)
    assert by_code(result.flows.rename(columns={"zone_code": "code"}), "km") == pytest.approx(
        {"T-CV-ZA": 0.069 * KM_PER_DEG_LAT, "T-CV-ZB": 0.049 * KM_PER_DEG_LAT}, rel=2e-3
    )
    assert by_code(result.zones, "serves") == {"T-CV-ZA": ["T-CV-V2"], "T-CV-ZB": ["T-CV-V1"]}
    assert result.totals.villages_covered == 2 and result.totals.villages_short == 0
    # The flow line runs from the zone's point nearest to the village to the village.
    line = result.flows.set_index("village_code").geometry["T-CV-V1"]
    assert shapely.get_coordinates(line).ravel().tolist() == pytest.approx(
        [LON, LAT - 0.049, LON, LAT]
    )


def test_candidate_pairs_use_the_villages_spatial_index(connection: Connection) -> None:
    from geo.workflows import coverage

    connection.execute(sa.text("SET LOCAL enable_seqscan = off"))
    plan = "\n".join(
        row[0]
        for row in connection.execute(
            sa.text("EXPLAIN " + str(coverage._PAIRS.text)),
            {
                "zone_ids": [1, 2, 3],
                "extra": [],
                "village_ids": list(range(1, 6000)),
                "haul_m": 5e4,
                "srid": 4326,
            },
        )
    )
    assert "ix_craft_village_geom" in plan or "craft_village_geom" in plan, plan


# -- (b) roads change the answer: a river with one bridge ---------------------------------------
def river_with_one_bridge(conn: Connection) -> str:
    """Roads on both banks of a river (between 0.04° and 0.06° north), one bridge 0.2° east.

    North bank road: (0, .06) → W (.1, .06) → (.2, .06); the bridge (.2, .06) → (.2, .04);
    south bank road (.2, .04) → B (.08, .04) → V (0, .04). Zones A (0, .06) north and
    B (.08, .04) south sit on vertices, and so do villages V (0, .04) and W (.1, .06).
    """

    def line(*points: tuple[float, float]) -> network.Edge:
        return network.Edge(
            geom=shapely.LineString([(LON + x, LAT + y) for x, y in points]),
            road_class=RoadClass.TERTIARY,
        )

    edges = [
        line((0, 0.06), (0.1, 0.06)),
        line((0.1, 0.06), (0.2, 0.06)),
        line((0.2, 0.06), (0.2, 0.04)),
        line((0.2, 0.04), (0.08, 0.04)),
        line((0.08, 0.04), (0, 0.04)),
    ]
    set_actor(conn, "test")
    network.build_network(
        conn,
        edges,
        name="test-river",
        source="test",
        source_hash=None,
        approximate=False,
        actor="test",
    )
    village(conn, "T-CV-V", 0, 0.04, 10)
    village(conn, "T-CV-W", 0.1, 0.06, 10)
    zone(conn, "T-CV-A", 0, 0.06, 10)
    zone(conn, "T-CV-B", 0.08, 0.04, 10)
    return "test-river"


def test_roads_across_a_river_change_the_allocation(connection: Connection) -> None:
    name = river_with_one_bridge(connection)
    # In a straight line A is 2.2 km from V across the river and B 3.1 km from W:
    # A → V and B → W (5.3 km of hauls against 19.8 the other way round).
    straight = run_coverage(connection, geodesic(haul_km=60))
    assert straight.distance_mode == "geodesic"
    assert flows_of(straight) == {("T-CV-A", "T-CV-V"): 10.0, ("T-CV-B", "T-CV-W"): 10.0}
    # By road A → V is 0.2° east, the bridge, 0.2° back: 46.2 km, and B → W 26.4 km;
    # A → W is 0.1° along the north bank (11.0 km), B → V 0.08° (8.8 km). So A → W, B → V:
    # 10 × 11.0 + 10 × 8.8 = 198 t·km.
    roads = run_coverage(connection, CoverageRequest(MATERIAL, 60, mode="road", network=name))
    assert roads.distance_mode == "road" and roads.network == name
    assert flows_of(roads) == {("T-CV-A", "T-CV-W"): 10.0, ("T-CV-B", "T-CV-V"): 10.0}
    km = {
        (z, v): k
        for z, v, k in zip(
            roads.flows["zone_code"], roads.flows["village_code"], roads.flows["km"], strict=True
        )
    }
    assert km[("T-CV-A", "T-CV-W")] == pytest.approx(0.1 * KM_PER_DEG_LON, rel=2e-3)
    assert km[("T-CV-B", "T-CV-V")] == pytest.approx(0.08 * KM_PER_DEG_LON, rel=2e-3)
    assert roads.totals.tonne_km == pytest.approx(198.0, rel=3e-3)
    # With a 30 km haul, A reaches only W by road and B only V: the same answer, and no
    # pair crosses the river.
    short = run_coverage(connection, CoverageRequest(MATERIAL, 30, mode="road", network=name))
    assert flows_of(short) == flows_of(roads)


def test_road_flows_follow_the_road_over_the_bridge(connection: Connection) -> None:
    name = river_with_one_bridge(connection)
    # Only A (north bank) left, for V (south bank): the flow goes 0.2° east, over the
    # bridge and back: 22.0 + 2.2 + 22.0 = 46.2 km, and its line passes both bridge ends.
    # (W, which A would rather serve at 11 km, is removed.)
    connection.execute(sa.text("DELETE FROM craft_village WHERE code = 'T-CV-W'"))
    result = run_coverage(
        connection,
        CoverageRequest(
            MATERIAL, 60, mode="road", network=name, scenario=Scenario(exclude_zones=["T-CV-B"])
        ),
    )
    flow = result.flows.set_index("village_code").loc["T-CV-V"]
    assert flow["zone_code"] == "T-CV-A" and flow["tonnes"] == pytest.approx(10.0)
    assert flow["km"] == pytest.approx(0.4 * KM_PER_DEG_LON + 0.02 * KM_PER_DEG_LAT, rel=3e-3)
    coords = [tuple(round(c, 6) for c in xy) for xy in shapely.get_coordinates(flow.geometry)]
    assert coords[0] == (LON, LAT + 0.06)  # A's access vertex
    assert coords[-1] == (LON, LAT + 0.04)  # the village
    assert (LON + 0.2, LAT + 0.06) in coords and (LON + 0.2, LAT + 0.04) in coords


def test_road_mode_lists_what_the_roads_do_not_reach(connection: Connection) -> None:
    name = river_with_one_bridge(connection)
    # A village 0.3° (33 km) west of every road: beyond the 5 km haul from any vertex.
    village(connection, "T-CV-FAR", -0.3, 0.05, 5)
    result = run_coverage(connection, CoverageRequest(MATERIAL, 5, mode="road", network=name))
    reasons = {(m.kind, m.code): m.reason for m in result.missing}
    assert reasons[("village", "T-CV-FAR")] == (
        "no road of network test-river within the haul of the village"
    )
    # Within 5 km: A → V is 2.2 km and B → W 3.1 km in a straight line, but 46 and 26 km by
    # road (B → V 8.8 and A → W 11 km are beyond the haul): both go without, and say why.
    for code in ("T-CV-V", "T-CV-W"):
        assert reasons[("village", code)] == (
            "a zone lies within the haul in a straight line, but none along the roads"
        )
    assert by_code(result.villages, "supplied_t") == {"T-CV-FAR": 0, "T-CV-V": 0, "T-CV-W": 0}
    assert result.totals.unmet_t == pytest.approx(25.0)
    assert len(result.flows) == 0


def test_auto_falls_back_to_geodesic_without_a_network(connection: Connection) -> None:
    village(connection, "T-CV-V1", 0, 0, 10)
    zone(connection, "T-CV-ZA", 0, 0.03, 10)
    connection.execute(sa.text("DELETE FROM road_network"))
    result = run_coverage(connection, CoverageRequest(MATERIAL, 10))
    assert result.distance_mode == "geodesic" and result.network is None
    assert result.note is not None and "no road network" in result.note
    with pytest.raises(InvalidInput, match="needs a road network"):
        run_coverage(connection, CoverageRequest(MATERIAL, 10, mode="road"))


# -- (d) a what-if writes nothing, and its diff ------------------------------------------------
def row_counts(conn: Connection) -> dict[str, int]:
    tables = conn.execute(
        sa.text(
            "SELECT quote_ident(schemaname) || '.' || quote_ident(tablename) FROM pg_tables "
            "WHERE schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1"
        )
    ).scalars()
    return {t: conn.execute(sa.text(f"SELECT count(*) FROM {t}")).scalar_one() for t in tables}


def test_what_if_writes_nothing_and_its_diff_is_hand_computed(connection: Connection) -> None:
    # V1 (10 t) and V2 (10 t); the existing zone A (8 t) 3.3 km from V1, 7.6 km from V2;
    # planned zone P (6 t) at −0.05° (5.4 km from V1). Haul 10 km.
    two_zones_two_villages_planned(connection)
    counts = row_counts(connection)
    history = connection.execute(sa.text("SELECT max(id) FROM feature_history")).scalar()
    request = geodesic(
        haul_km=10,
        scenario=Scenario(
            include_statuses=["planned"],
            capacity_overrides={"T-CV-P": 12.0},
            extra_zones=[ExtraZone(geometry=square(LON, LAT + 0.12, SIZE), capacity_t=4.0)],
        ),
    )
    current, after, diff = what_if(connection, request)
    # Now: A's 8 t go to V1 (nearer): V1 short 2, V2 short 10 → unmet 12.
    assert flows_of(current) == {("T-CV-ZA", "T-CV-V1"): 8.0}
    # The scenario: P (12 t, reaching V1 only) covers V1; A gives V2 8 t; the new zone (4 t,
    # 0.02° = 2.2 km north of V2, 13.3 km from V1): V2 can only get A's and the new zone's
    # tonnes, so the new zone gives it 4 and A 6 (V2 covered); A's last 2 t go to V1 at
    # 3.3 km rather than P's at 5.4 km, and P gives V1 the other 8. Unmet 0. (P alone for V1
    # would cost 2 × (5.4 − 3.3) = 4.2 t·km more.)
    assert flows_of(after) == {
        ("T-CV-P", "T-CV-V1"): 8.0,
        ("T-CV-ZA", "T-CV-V1"): 2.0,
        ("T-CV-ZA", "T-CV-V2"): 6.0,
        ("new-1", "T-CV-V2"): 4.0,
    }
    assert diff.unmet_before_t == pytest.approx(12.0)
    assert diff.unmet_after_t == pytest.approx(0.0)
    assert diff.newly_covered == ["T-CV-V1", "T-CV-V2"]
    assert [(c.code, c.supplied_before_t, c.supplied_after_t) for c in diff.changed] == [
        ("T-CV-V2", 0.0, pytest.approx(10.0)),
        ("T-CV-V1", pytest.approx(8.0), pytest.approx(10.0)),
    ]
    new = after.zones[after.zones["status"] == "unsaved"].iloc[0]
    assert new["id"] is None or new["id"] is type(new["id"])(None) or str(new["id"]) == "<NA>"
    assert row_counts(connection) == counts
    assert connection.execute(sa.text("SELECT max(id) FROM feature_history")).scalar() == history


def two_zones_two_villages_planned(conn: Connection) -> None:
    village(conn, "T-CV-V1", 0, 0, 10)
    village(conn, "T-CV-V2", 0, 0.10, 10)
    zone(conn, "T-CV-ZA", 0, 0.03, 8)
    zone(conn, "T-CV-P", 0, -0.05, 6, status="planned")


def test_scenario_refuses_unknown_zones_and_bad_geometry(connection: Connection) -> None:
    with pytest.raises(NotFound, match="T-CV-NOPE"):
        run_coverage(
            connection,
            geodesic(haul_km=10, scenario=Scenario(capacity_overrides={"T-CV-NOPE": 1.0})),
        )
    with pytest.raises(InvalidInput, match="geometry"):
        run_coverage(
            connection,
            geodesic(
                haul_km=10,
                scenario=Scenario(
                    extra_zones=[
                        ExtraZone(geometry={"type": "Point", "coordinates": [1, 2]}, capacity_t=1.0)
                    ]
                ),
            ),
        )
    with pytest.raises(LimitExceeded):
        run_coverage(
            connection,
            geodesic(
                haul_km=10,
                scenario=Scenario(
                    extra_zones=[ExtraZone(geometry=square(LON, LAT), capacity_t=1.0)] * 51
                ),
            ),
        )
    for haul in (0, -1, 501, float("nan")):
        with pytest.raises(InvalidInput, match="haul_km"):
            run_coverage(connection, geodesic(haul_km=haul))
    with pytest.raises(InvalidInput, match="unknown material"):
        run_coverage(connection, CoverageRequest("gold", 10))


# -- (e) missing figures are listed, never dropped nor zero -------------------------------------
def test_missing_figures_are_listed(connection: Connection) -> None:
    village(connection, "T-CV-OK", 0, 0, 10)
    village(connection, "T-CV-NULL", 0, 0.01, None)
    connection.execute(
        sa.text("UPDATE craft_village SET material_demand_t = CAST(:d AS jsonb) WHERE code = :c"),
        [
            {"c": "T-CV-NULL", "d": '{"other": null}'},
        ],
    )
    village(connection, "T-CV-TEXT", 0, 0.02, "nhiều")
    zone(connection, "T-CV-ZOK", 0, 0.03, 5)
    zone(connection, "T-CV-ZNONE", 0, 0.04, None)
    result = run_coverage(connection, geodesic(haul_km=10))
    missing = {(m.kind, m.code): m.reason for m in result.missing}
    assert missing == {
        ("village", "T-CV-NULL"): "no demand figure for the material",
        ("village", "T-CV-TEXT"): "demand for the material is not a number ≥ 0: nhiều",
        ("zone", "T-CV-ZNONE"): "no yearly capacity figure",
    }
    assert list(result.villages["code"]) == ["T-CV-OK"]
    assert list(result.zones["code"]) == ["T-CV-ZOK"]
    assert result.totals.missing == 3
    assert result.totals.demand_t == pytest.approx(10.0)


# -- (f) the year rule -------------------------------------------------------------------------
def test_figures_follow_the_year_rule(connection: Connection) -> None:
    v = village(connection, "T-CV-Y", 0, 0, 5)
    z = zone(connection, "T-CV-ZY", 0, 0.01, 100)
    set_actor(connection, "test")
    connection.execute(
        sa.text(
            "INSERT INTO supply_figure (village_id, zone_id, material, year, tonnes, estimate, "
            "basis) VALUES (:v, :z, 'other', :y, :t, :e, :b)"
        ),
        [
            {"v": v, "z": None, "y": 2020, "t": 8.0, "e": True, "b": "households × use"},
            {"v": v, "z": None, "y": 2023, "t": 12.0, "e": False, "b": None},
            {"v": None, "z": z, "y": 2022, "t": 3.0, "e": True, "b": "area × yield"},
        ],
    )

    def figures(year: int | None) -> tuple[Any, ...]:
        result = run_coverage(connection, geodesic(haul_km=10, year=year))
        vrow = result.villages.set_index("code").loc["T-CV-Y"]
        zrow = result.zones.set_index("code").loc["T-CV-ZY"]
        return (
            vrow["demand_t"],
            vrow["figure_source"],
            _int(vrow["figure_year"]),
            zrow["capacity_t"],
            zrow["figure_source"],
            _int(zrow["figure_year"]),
        )

    assert figures(2019) == (5.0, "feature", None, 100.0, "feature", None)
    assert figures(2021) == (8.0, "figure", 2020, 100.0, "feature", None)
    assert figures(2022) == (8.0, "figure", 2020, 3.0, "figure", 2022)
    assert figures(2030) == (12.0, "figure", 2023, 3.0, "figure", 2022)
    assert figures(None) == (12.0, "figure", 2023, 3.0, "figure", 2022)
    estimate = run_coverage(connection, geodesic(haul_km=10, year=2021)).villages
    row = estimate.set_index("code").loc["T-CV-Y"]
    assert bool(row["figure_estimate"]) and row["figure_basis"] == "households × use"


def _int(value: Any) -> int | None:
    return None if value is None or str(value) == "<NA>" else int(value)


def test_road_mode_with_nothing_to_allocate(connection: Connection) -> None:
    # No village and no zone of the material near the network: an empty answer, not a crash.
    name = river_with_one_bridge(connection)
    connection.execute(sa.text("DELETE FROM craft_village WHERE code LIKE 'T-CV-%'"))
    connection.execute(sa.text("DELETE FROM material_zone WHERE code LIKE 'T-CV-%'"))
    result = run_coverage(connection, CoverageRequest(MATERIAL, 5, mode="road", network=name))
    assert len(result.villages) == 0 and len(result.flows) == 0
    assert result.totals.demand_t == 0.0


def test_a_scenario_that_changes_nothing_has_an_empty_diff(connection: Connection) -> None:
    # Found by the editor's what-if: a drawn zone that reaches no village by road changed no
    # village's supply, and the empty list of changes came back as one NaN row per village
    # (pandas gives an empty frame a Series' index on assign): a 500. Villages near the
    # demo roads in Thanh Hóa; the drawn square lies 25 km off the road they are on.
    make_village(connection, at=(105.5, 20.0), code="T-CV-R1", material_demand_t={MATERIAL: 100})
    make_village(connection, at=(104.95, 20.0), code="T-CV-R2", material_demand_t={MATERIAL: 30})
    request = CoverageRequest(
        material=MATERIAL,
        haul_km=50,
        mode="auto",
        scenario=Scenario(
            extra_zones=[ExtraZone(geometry=square(105.275, 19.975, 0.05), capacity_t=100.0)]
        ),
    )
    current, after, diff = what_if(connection, request)
    assert after.distance_mode == "road"
    assert current.totals.unmet_t == pytest.approx(130.0)
    assert after.totals.unmet_t == pytest.approx(130.0)
    assert diff.changed == [] and diff.newly_covered == []
