"""The editor's live preview: the same design for unsaved stops, writing nothing."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests.factories import make_village
from tests.routes_design import network_cases as net
from tests.routes_design.network_cases import at, path_m

PREVIEW = "/routes/design/preview"


def row_counts(session: Session) -> dict[str, int]:
    conn = session.connection()
    tables = conn.execute(
        sa.text("SELECT quote_ident(tablename) FROM pg_tables WHERE schemaname = 'public'")
    ).scalars()
    return {t: conn.execute(sa.text(f"SELECT count(*) FROM {t}")).scalar_one() for t in tables}


def stop(name: str, **kw: Any) -> dict[str, Any]:
    lon, lat = at(name)
    return {"lon": lon, "lat": lat, "name": name, **kw}


def test_preview_designs_unsaved_stops_and_writes_nothing(
    client: TestClient, session: Session
) -> None:
    net.build(session.connection())
    village_id = make_village(session.connection(), at=at("N2"), name="Làng Đông Hồ thử")
    counts = row_counts(session)
    answer = client.post(
        PREVIEW,
        json={
            "stops": [
                stop("S0"),
                stop("N0", dwell_min=30, opens="10:00", closes="16:00"),
                {"village_id": village_id, "dwell_min": 45},
            ],
            "mode": "car",
            "start_time": "07:30",
            "optimise": True,
            "network": net.NAME,
        },
    )
    assert answer.status_code == 200, answer.text
    design = answer.json()
    assert row_counts(session) == counts
    assert design["saved"] is False
    assert [leg["kind"] for leg in design["legs"]] == ["road", "road"]
    # The village stop took the village's position and name.
    points = [f for f in design["geojson"]["features"] if f["properties"]["feature"] == "stop"]
    assert points[-1]["geometry"]["coordinates"] == list(at("N2")) or points[1]["geometry"][
        "coordinates"
    ] == list(at("N2"))
    assert any(p["properties"]["name"] == "Làng Đông Hồ thử" for p in points)
    legs = [f for f in design["geojson"]["features"] if f["properties"]["feature"] == "leg"]
    assert legs[0]["geometry"]["type"] == "LineString"
    assert legs[0]["geometry"]["coordinates"][0] == list(at("S0"))
    assert design["start_time"] == "07:30"


def test_preview_without_a_network_says_so_per_leg(client: TestClient, session: Session) -> None:
    session.connection().execute(sa.text("DELETE FROM road_network"))
    design = client.post(PREVIEW, json={"stops": [stop("S0"), stop("N0")]}).json()
    assert design["legs"][0]["kind"] == "geodesic"
    assert "no road network is loaded" in design["legs"][0]["note"]
    assert design["fallbacks"][0]["leg"] == 1
    assert abs(design["legs"][0]["km"] - path_m("S0", "N0") / 1000) < 0.001
    # The editor asks for the notes in its page's language: every copy of the note is said.
    said = client.post(PREVIEW + "?lang=vi", json={"stops": [stop("S0"), stop("N0")]}).json()
    assert "chưa nạp mạng lưới đường bộ" in said["legs"][0]["note"]
    assert "chưa nạp mạng lưới đường bộ" in said["fallbacks"][0]["note"]
    leg_feature = next(
        f for f in said["geojson"]["features"] if f["properties"]["feature"] == "leg"
    )
    assert "no road network" not in leg_feature["properties"]["note"]
    assert client.post(PREVIEW + "?lang=fr", json={"stops": [stop("S0")]}).status_code in (400, 422)


def test_preview_refuses_bad_bodies_with_problem_details(client: TestClient) -> None:
    two = [stop("S0"), stop("N0")]
    cases: list[Any] = [
        {},
        {"stops": []},
        {"stops": "S0"},
        {"stops": [stop("S0")] * 61},
        {"stops": [{"village_id": 987654321}]},
        {"stops": [{"name": "no place"}]},
        {"stops": [stop("S0", opens="25:00")]},
        {"stops": [stop("S0", opens="17:00", closes="09:00")]},
        {"stops": [stop("S0", dwell_min=-5)]},
        {"stops": [stop("S0", leg_mode="plane")]},
        {"stops": [{"lon": 500, "lat": 9}]},
        {"stops": two, "mode": "rocket"},
        {"stops": two, "start_time": "8am"},
        {"stops": two, "surprise": True},
        [1, 2],
    ]
    for body in cases:
        answer = client.post(PREVIEW, json=body)
        assert answer.status_code == 400, (body, answer.text)
        assert answer.headers["content-type"].startswith("application/problem+json")
    for raw in (b'{"stops": [{"lon": NaN, "lat": 9}]}', b"{not json", b'{"stops": [' * 5000):
        answer = client.post(PREVIEW, content=raw, headers={"Content-Type": "application/json"})
        assert answer.status_code == 400, raw[:40]
    huge = client.post(
        PREVIEW,
        content=b'{"stops": [{"name": "' + b"x" * 200_000 + b'"}]}',
        headers={"Content-Type": "application/json"},
    )
    assert huge.status_code in (400, 413)
    unknown = client.post(PREVIEW, json={"stops": [{"village_id": 987654321}]})
    assert "987654321" in unknown.json()["detail"]


def test_preview_round_trip_and_distance_objective(client: TestClient, session: Session) -> None:
    net.build(session.connection())
    design = client.post(
        PREVIEW,
        json={
            "stops": [stop("S0"), stop("N2"), stop("S2")],
            "optimise": True,
            "objective": "distance",
            "end": "return",
            "network": net.NAME,
        },
    ).json()
    # A round trip from S0: three legs, the last one back to S0.
    assert len(design["legs"]) == 3 and design["saving_unit"] == "km"
    assert design["end"] == "return" and design["order_after"][0] == 1
    last = [f for f in design["geojson"]["features"] if f["properties"]["feature"] == "leg"][-1]
    assert last["geometry"]["coordinates"][-1] == list(at("S0"))
    total = sum(leg["km"] for leg in design["legs"])
    assert abs(design["km"] - total) < 0.01
