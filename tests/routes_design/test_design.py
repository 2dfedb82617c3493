"""Designing a saved route: legs, order and timetable saved on the route and its stops."""

from __future__ import annotations

from typing import Any

import shapely
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests.api.conftest import bearer
from tests.factories import make_route
from tests.routes_design import network_cases as net
from tests.routes_design.network_cases import at, path_m, path_min

ROUTE_STOPS = "/collections/route-stops/items"


def built(session: Session) -> None:
    net.build(session.connection())


def stops_of(client: TestClient, route_id: int) -> list[dict[str, Any]]:
    found = client.get(ROUTE_STOPS, params={"route_id": route_id, "sortby": "seq"}).json()
    features = sorted(found["features"], key=lambda f: f["properties"]["seq"])
    return features


def history_count(session: Session, table: str) -> int:
    return int(
        session.connection()
        .execute(
            sa.text("SELECT count(*) FROM feature_history WHERE table_name = :t"), {"t": table}
        )
        .scalar_one()
    )


def test_design_is_saved_and_read_back_through_the_features_api(
    client: TestClient, session: Session, keys: dict[str, str]
) -> None:
    built(session)
    route_id = make_route(session.connection(), stops=[at("S0"), at("N0"), at("N2")], mode="car")
    before = client.get(f"/collections/routes/items/{route_id}")
    history_routes, history_stops = (
        history_count(session, "tourism_route"),
        history_count(session, "route_stop"),
    )
    answer = client.post(
        f"/routes/{route_id}/design",
        json={"network": net.NAME},
        headers={**bearer(keys["tourism"]), "If-Match": before.headers["ETag"]},
    )
    assert answer.status_code == 200, answer.text
    design = answer.json()
    assert [leg["kind"] for leg in design["legs"]] == ["road", "road"]
    first = path_m("S0", "S1", "S2", "N2", "N1", "N0") / 1000
    second = path_m("N0", "N1", "N2") / 1000
    assert design["legs"][0]["km"] == round(first, 3)
    assert design["legs"][1]["km"] == round(second, 3)
    assert design["method"] == "given" and design["saved"] is True
    # 08:00 start, 60 min dwell at each stop: leave 09:00, drive, arrive, dwell …
    drive1 = path_min("S0", "S1", "S2", "N2", "N1", "N0")
    assert design["timetable"][0]["arrive"] == "08:00"
    assert design["timetable"][0]["depart"] == "09:00"
    arrive2 = 9 * 60 + drive1
    assert (
        design["timetable"][1]["arrive"]
        == f"{int(round(arrive2)) // 60:02d}:{int(round(arrive2)) % 60:02d}"
    )

    route = client.get(f"/collections/routes/items/{route_id}")
    assert route.headers["ETag"] != before.headers["ETag"]
    props = route.json()["properties"]
    assert props["line_source"] == "roads"
    assert props["drive_min"] == round(drive1 + path_min("N0", "N1", "N2"), 3)
    assert props["days"] == 1
    line = route.json()["geometry"]["coordinates"]
    assert [tuple(c) for c in line] == [
        at(n) for n in ("S0", "S1", "S2", "N2", "N1", "N0", "N1", "N2")
    ]
    stops = stops_of(client, route_id)
    assert [s["properties"]["leg_kind"] for s in stops] == [None, "road", "road"]
    assert stops[1]["properties"]["leg_km"] == round(first, 4)
    assert stops[1]["properties"]["arrive_at"].startswith(design["timetable"][1]["arrive"])
    assert "leg_geom" not in stops[1]["properties"]
    # History: the route and every designed stop got a row under the key's actor.
    assert history_count(session, "tourism_route") == history_routes + 1
    assert history_count(session, "route_stop") == history_stops + 3
    # Read back as the saved design.
    saved = client.get(f"/routes/{route_id}/design").json()
    assert [leg["km"] for leg in saved["legs"]] == [round(first, 3), round(second, 3)]
    assert saved["timetable"][1]["arrive"] == design["timetable"][1]["arrive"]


def test_optimise_reorders_the_stops_and_reports_the_saving(
    client: TestClient, session: Session, keys: dict[str, str]
) -> None:
    built(session)
    # Given S0, N2, S2, N0: the best open path from S0 is S0 S2 N2 N0 by car.
    route_id = make_route(
        session.connection(), stops=[at("S0"), at("N2"), at("S2"), at("N0")], mode="car"
    )
    names = [s["properties"]["name"] for s in stops_of(client, route_id)]
    answer = client.post(
        f"/routes/{route_id}/design",
        json={"optimise": True, "network": net.NAME},
        headers=bearer(keys["admin"]),
    )
    assert answer.status_code == 200, answer.text
    design = answer.json()
    assert design["order_after"] == [1, 3, 2, 4]
    assert design["method"] == "exact"
    given = (
        path_min("S0", "S1", "S2", "N2") + path_min("N2", "S2") + path_min("S2", "N2", "N1", "N0")
    )
    best = path_min("S0", "S1", "S2") + path_min("S2", "N2") + path_min("N2", "N1", "N0")
    assert abs(design["saving"] - (given - best)) < 0.01
    stops = stops_of(client, route_id)
    assert [s["properties"]["name"] for s in stops] == [names[0], names[2], names[1], names[3]]
    assert [s["properties"]["seq"] for s in stops] == [1, 2, 3, 4]
    line = shapely.LineString(
        client.get(f"/collections/routes/items/{route_id}").json()["geometry"]["coordinates"]
    )
    assert line.coords[0] == at("S0") and line.coords[-1] == at("N0")


def test_a_window_that_cannot_be_met_is_reported(
    client: TestClient, session: Session, keys: dict[str, str]
) -> None:
    built(session)
    conn = session.connection()
    route_id = make_route(conn, stops=[at("S0"), at("N0")], mode="car")
    conn.execute(
        sa.text("UPDATE route_stop SET closes = '08:30' WHERE route_id = :r AND seq = 2"),
        {"r": route_id},
    )
    design = client.post(
        f"/routes/{route_id}/design", json={"network": net.NAME}, headers=bearer(keys["tourism"])
    ).json()
    assert design["unreachable"][0]["seq"] == 2
    assert "after closing at 08:30" in design["unreachable"][0]["problem"]
    stops = stops_of(client, route_id)
    assert "after closing" in stops[1]["properties"]["window_problem"]
    page = client.get(f"/routes/{route_id}/design", params={"f": "html", "lang": "en"})
    assert 'class="problem"' in page.text and "after closing at 08:30" in page.text


def test_design_api_refusals(client: TestClient, session: Session, keys: dict[str, str]) -> None:
    built(session)
    route_id = make_route(session.connection(), stops=[at("S0"), at("N0")], mode="car")
    url = f"/routes/{route_id}/design"
    assert client.post(url, json={}).status_code == 401
    assert client.post(url, json={}, headers=bearer("nope")).status_code == 401
    for role in ("viewer", "planner"):
        refused = client.post(url, json={}, headers=bearer(keys[role]))
        assert refused.status_code == 403
        assert refused.headers["content-type"].startswith("application/problem+json")
    ok = bearer(keys["tourism"])
    assert client.post("/routes/999999/design", json={}, headers=ok).status_code == 404
    assert client.get("/routes/999999/design").status_code == 404
    stale = client.post(url, json={}, headers={**ok, "If-Match": '"v999"'})
    assert stale.status_code == 412
    for body in ({"optimise": "yes"}, {"objective": "beauty"}, {"end": 3}, {"extra": 1}, [1]):
        bad = client.post(url, json=body, headers=ok)
        assert bad.status_code == 400, (body, bad.text)
        assert bad.headers["content-type"].startswith("application/problem+json")
    nan = client.post(
        url, content=b'{"optimise": NaN}', headers={**ok, "Content-Type": "application/json"}
    )
    assert nan.status_code == 400
