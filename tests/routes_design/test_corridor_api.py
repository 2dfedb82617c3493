"""``GET /routes/{routeId}/corridor`` and ``POST /routes/{routeId}/stops/insert``."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from geo.store.keys import create_key
from tests.factories import make_village
from tests.routes_design.corridor_cases import Case, build


@pytest.fixture
def case(session: Session) -> Case:
    return build(session.connection())


def key(session: Session, role: str) -> dict[str, str]:
    token = create_key(session.connection(), name=f"test {role}", role=role)[0]
    return {"Authorization": f"Bearer {token}"}


def test_json_ranks_by_detour(client: TestClient, case: Case) -> None:
    answer = client.get(f"/routes/{case.route_id}/corridor", params={"km": 5, "craft_group": "G4"})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["dwell_counted"] is False and body["network"] == "test-corridor"
    mine = [c for c in body["candidates"] if c["village_id"] in (case.m, case.n)]
    assert [c["village_id"] for c in mine] == [case.m, case.n]
    assert mine[0]["best_after_seq"] == 2 and mine[0]["detour_min"] == pytest.approx(3.7, abs=0.1)
    assert mine[1]["best_after_seq"] == 3 and mine[1]["detour_kind"] == "road"


def test_geojson_points(client: TestClient, case: Case) -> None:
    answer = client.get(f"/routes/{case.route_id}/corridor", params={"f": "geojson", "km": 5})
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("application/geo+json")
    features = {f["id"]: f for f in answer.json()["features"]}
    m = features[case.m]
    assert m["geometry"]["type"] == "Point"
    assert m["geometry"]["coordinates"] == pytest.approx([105.345, 19.711])
    assert {"detour_min", "best_after_seq", "distance_km"} <= set(m["properties"])


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_html_table_escaped(client: TestClient, session: Session, case: Case, lang: str) -> None:
    nasty = make_village(
        session.connection(), at=(105.35, 19.705), name="<script>alert(1)</script> Làng"
    )
    session.connection().exec_driver_sql(
        "UPDATE tourism_route SET name = '<b onclick=x>Tuyến</b> \"Nón\"' "
        f"WHERE id = {case.route_id}"
    )
    answer = client.get(
        f"/routes/{case.route_id}/corridor", params={"f": "html", "lang": lang, "km": 5}
    )
    assert answer.status_code == 200
    html = answer.text
    assert "<b onclick" not in html and "&lt;b onclick=x&gt;Tuyến&lt;/b&gt; &#34;Nón&#34;" in html
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; Làng" in html
    assert f'data-village="{nasty}"' in html
    if lang == "vi":
        assert "Làng nghề dọc tuyến" in html and "Thêm vào tuyến" in html
        assert "sau điểm dừng 2" in html and "3,7" in html  # M: 3,65 min, Vietnamese comma
    else:
        assert "Villages on the way" in html and "Add to route" in html
        assert "after stop 2" in html and "3.7" in html


@pytest.mark.parametrize(
    ("params", "words"),
    [
        ({"km": 0}, "km must be above 0"),
        ({"km": 60}, "at most 50"),
        ({"km": -1}, "km must be above 0"),
        ({"craft_group": "G9"}, "unknown craft group"),
        ({"mode": "rocket"}, "unknown mode"),
        ({"ocop_min_stars": 9}, "ocop_min_stars"),
        ({"colour": "red"}, "unknown query parameter"),
    ],
)
def test_bad_parameters_are_400_problems(
    client: TestClient, case: Case, params: dict[str, object], words: str
) -> None:
    answer = client.get(f"/routes/{case.route_id}/corridor", params=params)
    assert answer.status_code == 400
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert words in answer.json()["detail"]


def test_a_route_without_a_line_is_400_and_a_missing_route_404(
    client: TestClient, session: Session
) -> None:
    from tests.factories import make_route

    bare = make_route(session.connection())
    answer = client.get(f"/routes/{bare}/corridor")
    assert answer.status_code == 400 and "no line" in answer.json()["detail"]
    assert client.get("/routes/999999999/corridor").status_code == 404
    assert client.get("/routes/abc/corridor").status_code == 404


def test_insert_needs_a_tourism_or_admin_key(
    client: TestClient, session: Session, case: Case
) -> None:
    url = f"/routes/{case.route_id}/stops/insert"
    body = {"village_id": case.m}
    assert client.post(url, json=body).status_code == 401
    assert client.post(url, json=body, headers=key(session, "planner")).status_code == 403
    assert client.post(url, json=body, headers=key(session, "viewer")).status_code == 403
    answer = client.post(url, json={**body, "dwell_min": 30}, headers=key(session, "tourism"))
    assert answer.status_code == 201, answer.text
    done = answer.json()
    assert done["seq"] == 3 and done["detour_min"] == pytest.approx(3.7, abs=0.1)
    assert answer.headers["location"] == f"/collections/route-stops/items/{done['stop_id']}"
    assert [(r["seq"], r["village_id"]) for r in done["timetable"]] == [
        (1, case.stops[0]),
        (2, case.stops[1]),
        (3, case.m),
        (4, case.stops[2]),
    ]
    assert done["timetable"][2]["dwell_min"] == 30
    # Once in, it is a stop: a second insert is a conflict, and it leaves the corridor.
    again = client.post(url, json=body, headers=key(session, "admin"))
    assert again.status_code == 409
    assert again.headers["content-type"].startswith("application/problem+json")
    corridor = client.get(f"/routes/{case.route_id}/corridor").json()["candidates"]
    assert case.m not in {c["village_id"] for c in corridor}


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({}, 400),
        ({"village_id": True}, 400),
        ({"village_id": 1, "colour": "red"}, 400),
        ({"village_id": 1, "dwell_min": "long"}, 400),
        ({"village_id": "NO-SUCH-CODE"}, 404),
    ],
)
def test_insert_bad_bodies(
    client: TestClient, session: Session, case: Case, body: dict[str, object], status: int
) -> None:
    answer = client.post(
        f"/routes/{case.route_id}/stops/insert", json=body, headers=key(session, "tourism")
    )
    assert answer.status_code == status, answer.text


def test_insert_by_code_at_a_position(client: TestClient, session: Session, case: Case) -> None:
    code = (
        session.connection()
        .exec_driver_sql(f"SELECT code FROM craft_village WHERE id = {case.n}")
        .scalar_one()
    )
    answer = client.post(
        f"/routes/{case.route_id}/stops/insert",
        json={"village_id": code, "position": 1},
        headers=key(session, "admin"),
    )
    assert answer.status_code == 201
    assert answer.json()["seq"] == 1 and answer.json()["timetable"][0]["village_id"] == case.n
    bad = client.post(
        f"/routes/{case.route_id}/stops/insert",
        json={"village_id": case.m, "position": 9},
        headers=key(session, "admin"),
    )
    assert bad.status_code == 400
