"""Road legs and the travel matrix on the hand-drawn network of ``network_cases``."""

from __future__ import annotations

import pytest
import shapely
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from geo.workflows.route_design import (
    ACCESS_KMH,
    FALLBACK_KMH,
    geodesic_m,
    leg_paths,
    travel_matrix,
)
from tests.routes_design import network_cases as net
from tests.routes_design.network_cases import at, path_m, path_min


def coords(line: shapely.LineString | None) -> list[tuple[float, float]]:
    assert line is not None
    return [tuple(round(v, 9) for v in c) for c in shapely.get_coordinates(line).tolist()]  # type: ignore[misc]


def rounded(*names: str) -> list[tuple[float, float]]:
    return [tuple(round(v, 9) for v in at(n)) for n in names]  # type: ignore[misc]


def test_car_crosses_the_bridge_and_the_one_way_forces_a_detour_back(
    connection: Connection,
) -> None:
    net.build(connection)
    there, back = leg_paths(
        connection, [at("S0"), at("N0"), at("S0")], mode="car", network=net.NAME
    )
    assert there.kind == "road" and there.note is None and there.network == net.NAME
    assert there.km == pytest.approx(path_m("S0", "S1", "S2", "N2", "N1", "N0") / 1000, rel=1e-6)
    assert there.minutes == pytest.approx(path_min("S0", "S1", "S2", "N2", "N1", "N0"), rel=1e-6)
    # The line runs from the stop before to the stop after, vertex by vertex.
    assert coords(there.line) == rounded("S0", "S1", "S2", "N2", "N1", "N0")
    detour = ("N0", "N1", "N2", "S2", "S1", "D1", "D0", "S0")
    assert coords(back.line) == rounded(*detour)
    assert back.km == pytest.approx(path_m(*detour) / 1000, rel=1e-6)
    assert back.minutes == pytest.approx(path_min(*detour), rel=1e-6)
    # By hand: 4 × 11.0 km + 2.2 km = 46.2 km there; back 3 × 11.0 + 2.2 to S1, then
    # round the detour 4.4 + 11.0 + 4.4: 55.0 km.
    assert there.km == pytest.approx(46.2, abs=0.15)
    assert back.km == pytest.approx(55.0, abs=0.15)
    assert there.minutes == pytest.approx(46.2 / 40 * 60, abs=0.3)


def test_walking_takes_the_footbridge_and_the_one_way_both_ways(connection: Connection) -> None:
    net.build(connection)
    there, back = leg_paths(
        connection, [at("S0"), at("N0"), at("S0")], mode="walking", network=net.NAME
    )
    assert coords(there.line) == rounded("S0", "S1", "N1", "N0")
    assert coords(back.line) == rounded("N0", "N1", "S1", "S0")
    assert there.minutes == pytest.approx(
        path_min("S0", "S1", "N1", "N0", mode="walking"), rel=1e-6
    )
    assert back.km == pytest.approx(path_m("N0", "N1", "S1", "S0") / 1000, rel=1e-6)


def test_access_legs_are_straight_at_the_access_speed(connection: Connection) -> None:
    net.build(connection)
    start, end = at("S1", dlat=-0.001), at("S2", dlat=0.001)  # about 110 m off the road
    (leg,) = leg_paths(connection, [start, end], mode="car", network=net.NAME)
    access = geodesic_m(start, at("S1")) + geodesic_m(at("S2"), end)
    assert leg.km == pytest.approx((path_m("S1", "S2") + access) / 1000, rel=1e-6)
    assert leg.minutes == pytest.approx(
        path_min("S1", "S2") + access / 1000 / ACCESS_KMH["car"] * 60, rel=1e-6
    )
    assert coords(leg.line)[0] == tuple(round(v, 9) for v in start)
    assert coords(leg.line)[-1] == tuple(round(v, 9) for v in end)
    assert coords(leg.line)[1:3] == rounded("S1", "S2")


def test_island_far_stop_and_boat_legs_are_straight_and_labelled(connection: Connection) -> None:
    net.build(connection)
    far = at("D1", dlon=0.05, dlat=-0.03)  # about 5.5 km south of D1 and 6 km from D0
    points = [at("S0"), at("S1"), at("I0"), at("S2"), far, at("N2")]
    legs = leg_paths(
        connection,
        points,
        mode="car",
        network=net.NAME,
        leg_modes=[None, None, None, None, None, "boat"],
    )
    kinds = [leg.kind for leg in legs]
    assert kinds == ["road", "geodesic", "geodesic", "geodesic", "boat"]
    assert "not connected by roads a car may use" in (legs[1].note or "")
    assert "straight line at 40 km/h" in (legs[1].note or "")
    assert "km from the nearest road" in (legs[3].note or "")
    assert legs[4].note == "a boat leg, drawn straight"
    straight = geodesic_m(points[1], points[2])
    assert legs[1].km == pytest.approx(straight / 1000)
    assert legs[1].minutes == pytest.approx(straight / 1000 / FALLBACK_KMH["car"] * 60)
    assert coords(legs[4].line) == [tuple(round(v, 9) for v in far), *rounded("N2")]
    assert legs[4].minutes == pytest.approx(
        geodesic_m(far, at("N2")) / 1000 / FALLBACK_KMH["boat"] * 60
    )


def test_without_a_network_every_leg_is_geodesic_with_its_note(connection: Connection) -> None:
    connection.execute(sa.text("DELETE FROM road_network"))
    legs = leg_paths(connection, [at("S0"), at("N0"), at("N2")], mode="motorbike")
    assert [leg.kind for leg in legs] == ["geodesic", "geodesic"]
    assert all("no road network is loaded" in (leg.note or "") for leg in legs)
    assert legs[0].minutes == pytest.approx(geodesic_m(at("S0"), at("N0")) / 1000 / 35 * 60)
    matrix = travel_matrix(connection, [at("S0"), at("N0")], mode="car")
    assert matrix.kind[0, 1] == "geodesic" and "no road network" in matrix.notes[0, 1]


def test_travel_matrix_is_asymmetric_along_the_one_way(connection: Connection) -> None:
    net.build(connection)
    points = [at("S0"), at("N0"), at("S1", dlat=-0.001), at("I0")]
    m = travel_matrix(connection, points, mode="car", network=net.NAME)
    assert m.kind[0, 1] == m.kind[1, 0] == "road"
    assert m.metres[0, 1] == pytest.approx(path_m("S0", "S1", "S2", "N2", "N1", "N0"), rel=1e-6)
    assert m.metres[1, 0] == pytest.approx(
        path_m("N0", "N1", "N2", "S2", "S1", "D1", "D0", "S0"), rel=1e-6
    )
    assert m.seconds[0, 1] == pytest.approx(
        path_min("S0", "S1", "S2", "N2", "N1", "N0") * 60, rel=1e-6
    )
    access = geodesic_m(points[2], at("S1"))
    assert m.metres[0, 2] == pytest.approx(path_m("S0", "S1") + access, rel=1e-6)
    assert m.seconds[0, 2] == pytest.approx(
        path_min("S0", "S1") * 60 + access / (ACCESS_KMH["car"] / 3.6), rel=1e-6
    )
    assert m.kind[0, 3] == m.kind[3, 0] == "geodesic"
    assert "stops 1 and 4 are not connected" in m.notes[0, 3]
    assert m.notes[0, 1] is None
    assert m.metres[0, 0] == 0
