"""Siting against PostGIS: exclusion areas, land use, existing zones, too large a k."""

from __future__ import annotations

import json
from typing import Any

import pandas as pd
import pytest
import shapely.geometry
import shapely.wkt
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from geo.workflows.siting import SitingRequest, SitingResult, suggest_sites
from tests.factories import make_village, make_zone, square, unique_code

# Đắk Lắk, far from the demo's Thanh Hóa data: kilometres in degrees at this latitude.
LON0, LAT0 = 108.05, 12.68
KM_LON, KM_LAT = 1 / 108.63, 1 / 110.58


def at(x_km: float, y_km: float) -> tuple[float, float]:
    return (LON0 + x_km * KM_LON, LAT0 + y_km * KM_LAT)


def box(x0: float, y0: float, x1: float, y1: float) -> str:
    (a, b), (c, d) = at(x0, y0), at(x1, y1)
    return f"POLYGON(({a} {b},{c} {b},{c} {d},{a} {d},{a} {b}))"


def villages(conn: Connection, short: dict[str, tuple[tuple[float, float], float]]) -> pd.DataFrame:
    """Villages made at (x km, y km) with their unmet tonnes, as the coverage reports them."""
    rows = []
    for name, ((x, y), tonnes) in short.items():
        code = unique_code(f"T-{name}")
        village_id = make_village(conn, at=at(x, y), code=code, name=f"Làng {name}")
        rows.append({"id": village_id, "code": code, "name": f"Làng {name}", "unmet_t": tonnes})
    return pd.DataFrame(rows)


def layer(conn: Connection, kind: str, features: list[tuple[dict[str, Any], str]]) -> str:
    name = unique_code("t-" + kind.replace("_", "-"), 40).lower()
    layer_id = conn.execute(
        sa.text("INSERT INTO reference_layer (name, title, kind) VALUES (:n, :t, :k) RETURNING id"),
        {"n": name, "t": f"Lớp {kind}", "k": kind},
    ).scalar()
    for properties, wkt in features:
        conn.execute(
            sa.text(
                "INSERT INTO reference_feature (layer_id, properties, geom) "
                "VALUES (:l, CAST(:p AS jsonb), ST_GeomFromText(:g, 4326))"
            ),
            {"l": layer_id, "p": json.dumps(properties), "g": wkt},
        )
    return name


def site_shape(result: SitingResult, rank: int = 1) -> shapely.geometry.base.BaseGeometry:
    return shapely.geometry.shape(result.sites[rank - 1].geometry)


def request(**values: Any) -> SitingRequest:
    return SitingRequest(**{"material": "other", "k": 1, "haul_km": 4.0, **values})


def test_siting_avoids_an_exclusion_area_and_says_why(connection: Connection) -> None:
    # A (100 t) and B (50 t) are 3 km apart; with a 4 km haul only cells between them
    # reach both (150 t). An exclusion area covers all of those: the answer is a cell
    # reaching A alone (100 t), outside the area, and the cells it left out say why.
    unmet = villages(connection, {"A": ((0, 0), 100.0), "B": ((3, 0), 50.0)})
    free = suggest_sites(connection, request(), unmet=unmet)
    assert free.totals.served_t == pytest.approx(150.0)
    best_cell = free.sites[0].cell

    area = box(-1.5, -4.2, 4.5, 4.2)
    name = layer(connection, "exclusion", [({"name": "Vườn quốc gia thử"}, area)])
    result = suggest_sites(connection, request(), unmet=unmet)

    assert result.totals.served_t == pytest.approx(100.0)
    assert [v.code for v in result.sites[0].villages] == [unmet.at[0, "code"]]
    assert not site_shape(result).intersection(shapely.wkt.loads(area)).area > 0
    excluded = {cell.cell: cell for cell in result.excluded}
    assert best_cell in excluded
    assert [r.kind for r in excluded[best_cell].reasons] == ["exclusion"]
    assert "Vườn quốc gia thử" in excluded[best_cell].reasons[0].detail
    assert name in excluded[best_cell].reasons[0].detail
    assert result.totals.excluded_by_reason["exclusion"] >= 1
    assert result.sites[0].excluded_nearby


def test_two_sites_do_not_serve_the_same_villages(connection: Connection) -> None:
    # Two clusters 30 km apart, haul 4 km: k = 2 takes one site per cluster, never two
    # sites in the bigger one, and no village is credited twice.
    unmet = villages(
        connection,
        {"A": ((0, 0), 100.0), "B": ((1, 0), 90.0), "C": ((30, 0), 20.0)},
    )
    result = suggest_sites(connection, request(k=2), unmet=unmet)
    assert result.totals.served_t == pytest.approx(210.0)
    served = [v.id for site in result.sites for v in site.villages]
    assert len(served) == len(set(served)) == 3
    assert [s.score_t for s in result.sites] == pytest.approx([190.0, 20.0])
    assert result.totals.greedy_t <= result.totals.served_t + 1e-6


def test_land_use_rule_keeps_the_centre_in_allowed_classes(connection: Connection) -> None:
    unmet = villages(connection, {"A": ((0, 0), 100.0)})
    forest = box(-1, 1.5, 1, 3.5)
    layer(
        connection,
        "land_use",
        [({"class": "rice"}, box(-6, -6, 6, 1.5)), ({"class": "production_forest"}, forest)],
    )
    result = suggest_sites(
        connection, request(land_use_classes=("production_forest",)), unmet=unmet
    )
    centre = shapely.geometry.Point(result.sites[0].centre)
    assert shapely.wkt.loads(forest).contains(centre)
    reasons = [r for cell in result.excluded for r in cell.reasons if r.kind == "land_use"]
    assert any("rice" in r.detail for r in reasons)
    # Without named classes every land-use feature is allowed land: the site may sit on A.
    anywhere = suggest_sites(connection, request(), unmet=unmet)
    assert anywhere.sites[0].villages[0].km < 1.5


def test_no_site_overlaps_an_existing_zone(connection: Connection) -> None:
    unmet = villages(connection, {"A": ((0, 0), 100.0)})
    (x0, y0), (x1, y1) = at(-2, -2), at(2, 2)
    zone_square = {
        "type": "Polygon",
        "coordinates": [[[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]],
    }
    code = unique_code("T-Z")
    make_zone(connection, geometry=zone_square, code=code, material="luong", status="existing")
    # Cells of resolution 7 are ~2.4 km apart: with a 6 km haul some clear the zone.
    result = suggest_sites(connection, request(haul_km=6.0), unmet=unmet)
    assert result.totals.served_t == pytest.approx(100.0)
    assert not site_shape(result).intersection(shapely.geometry.shape(zone_square)).area > 0
    reasons = [r.detail for cell in result.excluded for r in cell.reasons if r.kind == "zone"]
    assert reasons and all(code in detail for detail in reasons)
    far = suggest_sites(connection, request(haul_km=6.0, min_zone_distance_km=1.0), unmet=unmet)
    kinds = {r.kind for cell in far.excluded for r in cell.reasons}
    assert "zone_distance" in kinds


def test_more_sites_asked_than_worth_opening_is_said(connection: Connection) -> None:
    unmet = villages(connection, {"A": ((0, 0), 40.0)})
    result = suggest_sites(connection, request(k=50, haul_km=1.0), unmet=unmet)
    assert result.totals.sites_found == 1 and result.totals.sites_asked == 50
    assert result.notes and "1 of the 50" in result.notes[0]
    assert result.totals.served_t == pytest.approx(40.0)


def test_nobody_short_means_no_sites(connection: Connection) -> None:
    unmet = pd.DataFrame({"id": [], "code": [], "name": [], "unmet_t": []})
    result = suggest_sites(connection, request(k=3), unmet=unmet)
    assert result.sites == [] and result.totals.share is None
    assert "no village goes short" in result.notes[0]


def test_unmet_demand_comes_from_the_coverage(connection: Connection) -> None:
    # A needs 100 t; an existing zone 2 km away supplies 30 t of it: 70 t go short, and
    # the site serves those 70 t, not the 100 t of demand.
    code = unique_code("T-A")
    make_village(connection, at=at(0, 0), code=code, material_demand_t={"other": 100.0})
    make_zone(
        connection,
        geometry=square(*at(2, 0), 0.001),
        material="other",
        status="existing",
        annual_capacity_t=30.0,
    )
    result = suggest_sites(connection, request(haul_km=6.0, mode="geodesic"))
    assert result.coverage_mode == "geodesic"
    assert result.totals.unmet_before_t == pytest.approx(70.0)
    assert result.totals.served_t == pytest.approx(70.0)
    assert [(v.code, v.unmet_t) for v in result.sites[0].villages] == [(code, 70.0)]
