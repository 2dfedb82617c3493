"""Designs kept current: stop edits recompute only their legs, networks rebuilt, villages."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from geo.workflows import route_design
from tests.api.conftest import bearer
from tests.factories import make_route, make_village, point
from tests.routes_design import network_cases as net
from tests.routes_design.network_cases import at, path_m

STOPS = "/collections/route-stops/items"


def designed_route(client: TestClient, session: Session, keys: dict[str, str], *names: str) -> int:
    net.build(session.connection())
    route_id = make_route(session.connection(), stops=[at(n) for n in names], mode="car")
    answer = client.post(
        f"/routes/{route_id}/design", json={"network": net.NAME}, headers=bearer(keys["tourism"])
    )
    assert answer.status_code == 200, answer.text
    return route_id


def stop_rows(session: Session, route_id: int) -> list[Any]:
    return list(
        session.connection()
        .execute(
            sa.text(
                "SELECT id, seq, version, leg_kind, leg_km, ST_AsText(leg_geom) AS leg, "
                "ST_X(geom) AS lon, ST_Y(geom) AS lat FROM route_stop WHERE route_id = :r "
                "ORDER BY seq"
            ),
            {"r": route_id},
        )
        .all()
    )


def test_moving_a_stop_recomputes_only_its_two_legs(
    client: TestClient, session: Session, keys: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    route_id = designed_route(client, session, keys, "S0", "S1", "S2", "N2", "N1")
    before = stop_rows(session, route_id)
    computed: list[Any] = []
    real = route_design.leg_paths

    def spy(*args: Any, **kwargs: Any) -> Any:
        computed.append(kwargs.get("only"))
        return real(*args, **kwargs)

    monkeypatch.setattr(route_design, "leg_paths", spy)
    moved = before[2]  # S2 → N0: its leg in (from S1) and out (to N2) change
    answer = client.patch(
        f"{STOPS}/{moved.id}",
        json={"geometry": point(*at("N0"))},
        headers={**bearer(keys["tourism"]), "Content-Type": "application/merge-patch+json"},
    )
    assert answer.status_code == 200, answer.text
    after = stop_rows(session, route_id)
    changed = [a.seq for a, b in zip(after, before, strict=True) if a.leg != b.leg]
    assert changed == [3, 4]
    # Only the legs into stop 3 and out of it (indices 1 and 2) were computed; the stops
    # before it were not even rewritten (the later ones get new arrival times).
    assert computed == [[1, 2]]
    assert [a.version for a in after][:2] == [b.version for b in before][:2]
    assert abs(after[2].leg_km - path_m("S1", "S2", "N2", "N1", "N0") / 1000) < 1e-3
    assert abs(after[3].leg_km - path_m("N0", "N1", "N2") / 1000) < 1e-3
    route = client.get(f"/collections/routes/items/{route_id}").json()
    assert route["properties"]["line_source"] == "roads"
    coords = route["geometry"]["coordinates"]
    assert tuple(coords[0]) == at("S0") and tuple(coords[-1]) == at("N1")


def test_deleting_and_inserting_stops_recompute_the_legs_around_them(
    client: TestClient, session: Session, keys: dict[str, str]
) -> None:
    route_id = designed_route(client, session, keys, "S0", "S1", "S2", "N2")
    before = stop_rows(session, route_id)
    headers = bearer(keys["tourism"])
    assert client.delete(f"{STOPS}/{before[1].id}", headers=headers).status_code == 204
    after = stop_rows(session, route_id)
    assert [r.id for r in after] == [before[0].id, before[2].id, before[3].id]
    # S0 → S2 is now one leg (on the stop S2); S2 → N2 was not touched.
    assert abs(after[1].leg_km - path_m("S0", "S1", "S2") / 1000) < 1e-3
    assert after[2].leg == before[3].leg
    added = client.post(
        STOPS,
        json={
            "type": "Feature",
            "geometry": point(*at("N1")),
            "properties": {"route_id": route_id, "seq": 9, "name": "Bến cuối"},
        },
        headers=headers,
    )
    assert added.status_code == 201, added.text
    last = stop_rows(session, route_id)[-1]
    assert last.leg_kind == "road" and abs(last.leg_km - path_m("N2", "N1") / 1000) < 1e-3


def test_a_route_patched_to_roads_is_designed_and_a_drawn_line_makes_it_drawn(
    client: TestClient, session: Session, keys: dict[str, str]
) -> None:
    net.build(session.connection())
    route_id = make_route(session.connection(), stops=[at("S0"), at("N0")], mode="car")
    headers = {**bearer(keys["tourism"]), "Content-Type": "application/merge-patch+json"}
    url = f"/collections/routes/items/{route_id}"
    assert (
        client.patch(
            url, json={"properties": {"line_source": "roads"}}, headers=headers
        ).status_code
        == 200
    )
    route = client.get(url).json()
    assert route["properties"]["line_source"] == "roads"
    assert len(route["geometry"]["coordinates"]) == 6  # S0 S1 S2 N2 N1 N0
    # Sent back unchanged (PUT of what GET gave): still 'roads'.
    put = client.put(url, json=route, headers=bearer(keys["tourism"]))
    assert put.status_code == 200, put.text
    assert client.get(url).json()["properties"]["line_source"] == "roads"
    drawn = {"type": "LineString", "coordinates": [list(at("S0")), list(at("N0"))]}
    assert client.patch(url, json={"geometry": drawn}, headers=headers).status_code == 200
    assert client.get(url).json()["properties"]["line_source"] == "drawn"


def test_rebuilding_the_network_redesigns_its_routes(
    client: TestClient, session: Session, keys: dict[str, str]
) -> None:
    route_id = designed_route(client, session, keys, "S0", "N0")
    conn = session.connection()
    km_before = conn.execute(
        sa.text("SELECT leg_km FROM route_stop WHERE route_id = :r AND seq = 2"), {"r": route_id}
    ).scalar_one()
    # The rebuilt network has a road bridge beside the footbridge: the car now crosses there.
    from geo.io import network
    from tests.routes_design.network_cases import _edge

    edges = [
        _edge("N0", "N1"),
        _edge("S0", "S1"),
        _edge("S1", "N1"),
    ]
    network.build_network(
        conn,
        edges,
        name=net.NAME,
        source="t",
        source_hash=None,
        approximate=False,
        actor="test",
        replace=True,
    )
    history = conn.execute(sa.text("SELECT count(*) FROM feature_history")).scalar_one()
    assert route_design.redesign_network_routes(conn, net.NAME, actor="test") == [route_id]
    km_after = conn.execute(
        sa.text("SELECT leg_km FROM route_stop WHERE route_id = :r AND seq = 2"), {"r": route_id}
    ).scalar_one()
    assert abs(km_after - path_m("S0", "S1", "N1", "N0") / 1000) < 1e-3 < km_before - km_after
    assert conn.execute(sa.text("SELECT count(*) FROM feature_history")).scalar_one() > history
    network_id = conn.execute(
        sa.text("SELECT network_id FROM tourism_route WHERE id = :r"), {"r": route_id}
    ).scalar_one()
    assert network_id is not None


def test_a_village_stop_without_geometry_stands_at_its_village(
    client: TestClient, session: Session, keys: dict[str, str]
) -> None:
    conn = session.connection()
    village_id = make_village(conn, at=(105.3, 9.2))
    route_id = make_route(conn, stops=[(105.2, 9.1)], mode="car")
    headers = bearer(keys["tourism"])
    answer = client.post(
        STOPS,
        json={
            "type": "Feature",
            "geometry": None,
            "properties": {"route_id": route_id, "seq": 2, "village_id": village_id},
        },
        headers=headers,
    )
    assert answer.status_code == 201, answer.text
    stop = client.get(answer.headers["Location"]).json()
    assert stop["geometry"]["coordinates"] == [105.3, 9.2]
    route = client.get(f"/collections/routes/items/{route_id}").json()
    assert route["geometry"]["coordinates"][-1] == [105.3, 9.2]
    nowhere = client.post(
        STOPS,
        json={"type": "Feature", "geometry": None, "properties": {"route_id": route_id, "seq": 3}},
        headers=headers,
    )
    assert nowhere.status_code == 400
    assert "village_id" in nowhere.json()["detail"]
