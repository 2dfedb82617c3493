"""``run_coverage`` against PostGIS: hand-computed allocations, figures, what-if writes nothing.

The test features sit in a corner of the country with no demo data (Cà Mau's coast) and use
the material ``other``, which no demo row grows, so each answer depends only on the rows
the test writes (on its rolled-back connection).
"""

from __future__ import annotations

import pytest
from pyproj import Geod
from sqlalchemy.engine import Connection

from geo.workflows.coverage import CoverageRequest, ExtraZone, Scenario, run_coverage, what_if
from tests.factories import make_village, make_zone, square

MATERIAL = "other"
LON = 105.0
LAT = 9.0
SIZE = 0.001  # a zone is a 0.001° square (about 110 m) south-west-cornered at its point
GEOD = Geod(ellps="WGS84")


def km_between(lat_a: float, lat_b: float) -> float:
    """Geodesic km along the meridian LON (the zone's corner is its nearest point)."""
    return float(GEOD.inv(LON, lat_a, LON, lat_b)[2]) / 1000.0


def village(conn: Connection, code: str, dlat: float, demand: float | None, **extra: object) -> int:
    props: dict[str, object] = {"code": code, **extra}
    if demand is not None:
        props["material_demand_t"] = {MATERIAL: demand}
    return make_village(conn, at=(LON, LAT + dlat), **props)


def zone(
    conn: Connection, code: str, dlat: float, capacity: float | None, status: str = "existing"
) -> int:
    # The zone spans [LAT+dlat, LAT+dlat+SIZE]; villages lie south of it, so its nearest
    # point to each is its south-west corner on the meridian LON.
    return make_zone(
        conn,
        geometry=square(LON, LAT + dlat, SIZE),
        code=code,
        material=MATERIAL,
        status=status,
        annual_capacity_t=capacity,
    )


def rows_by_code(frame, column):  # type: ignore[no-untyped-def]
    return dict(zip(frame["code"], frame[column], strict=True))


def test_coverage_smoke(connection: Connection) -> None:
    village(connection, "T-COV-V1", 0.0, 10.0)
    zone(connection, "T-COV-ZA", 0.05, 10.0)
    result = run_coverage(connection, CoverageRequest(MATERIAL, 50.0, mode="geodesic"))
    assert result.distance_mode == "geodesic"
    assert rows_by_code(result.villages, "supplied_t")["T-COV-V1"] == pytest.approx(10.0)
    assert result.flows.iloc[0]["km"] == pytest.approx(km_between(LAT, LAT + 0.05), rel=1e-6)


def test_what_if_with_an_unsaved_zone_smoke(connection: Connection) -> None:
    village(connection, "T-COV-V1", 0.0, 10.0)
    request = CoverageRequest(
        MATERIAL,
        50.0,
        mode="geodesic",
        scenario=Scenario(
            extra_zones=[ExtraZone(geometry=square(LON, LAT + 0.02, SIZE), capacity_t=4.0)]
        ),
    )
    _, after, diff = what_if(connection, request)
    assert rows_by_code(after.villages, "supplied_t")["T-COV-V1"] == pytest.approx(4.0)
    assert diff.unmet_before_t == pytest.approx(10.0)
    assert diff.unmet_after_t == pytest.approx(6.0)
    assert list(after.zones["status"]) == ["unsaved"]
