"""``/analysis/coverage`` and ``/analysis/coverage/what-if``: the faces of the analysis.

In-process (``client``, on the test's rolled-back session) for the four formats and the
bad parameters; against a live ``craftmap serve`` (``own_live``) for hostile what-if bodies.
Test rows sit on Cà Mau's coast with the material ``other`` (see test_coverage_workflow).
"""

from __future__ import annotations

import csv
import io
import json
import math
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests.analysis.test_coverage_workflow import LAT, LON, MATERIAL, SIZE
from tests.factories import make_village, make_zone, square
from tests.live import LiveServer

URL = "/analysis/coverage"


def setup_case(session: Session) -> None:
    # V1 (10 t) at the origin, V2 (10 t) 0.10° north, V3 (5 t) far east (out of reach);
    # zone A (8 t) at 0.03° north: 3.3 km from V1, 7.6 from V2. Haul 10 km: A serves V1.
    for code, dlon, dlat, demand in (
        ("T-CA-V1", 0, 0, 10),
        ("T-CA-V2", 0, 0.10, 10),
        ("T-CA-V3", 0.5, 0, 5),
    ):
        make_village(
            session,
            at=(LON + dlon, LAT + dlat),
            code=code,
            name=f"Làng <b>{code}</b>",
            material_demand_t={MATERIAL: demand},
        )
    make_zone(
        session,
        geometry=square(LON, LAT + 0.03, SIZE),
        code="T-CA-ZA",
        material=MATERIAL,
        status="existing",
        annual_capacity_t=8,
    )
    make_zone(
        session,
        geometry=square(LON, LAT + 0.12, SIZE),
        code="T-CA-ZP",
        material=MATERIAL,
        status="planned",
        annual_capacity_t=20,
    )
    make_zone(
        session,
        geometry=square(LON, LAT - 0.03, SIZE),
        code="T-CA-ZN",
        material=MATERIAL,
        status="existing",
    )


def ask(client: TestClient, **params: Any) -> Any:
    query = {"material": MATERIAL, "haul_km": 10, "mode": "geodesic", **params}
    return client.get(URL, params=query)


def test_json_answers_the_hand_computed_allocation(client: TestClient, session: Session) -> None:
    setup_case(session)
    answer = ask(client)
    assert answer.status_code == 200, answer.text
    doc = answer.json()
    assert doc["distance_mode"] == "geodesic"
    villages = {v["code"]: v for v in doc["villages"]}
    # A's 8 t go to V1, the nearer: V1 short 2 t, V2 short 10, V3 out of reach short 5.
    assert villages["T-CA-V1"]["supplied_t"] == pytest.approx(8.0)
    assert villages["T-CA-V1"]["covered_share"] == pytest.approx(0.8)
    assert villages["T-CA-V2"]["unmet_t"] == pytest.approx(10.0)
    assert villages["T-CA-V3"]["reachable"] is False
    assert doc["totals"]["unmet_t"] == pytest.approx(17.0)
    assert doc["totals"]["villages_short"] == 3
    assert [(f["zone_code"], f["village_code"]) for f in doc["flows"]] == [("T-CA-ZA", "T-CA-V1")]
    assert doc["flows"][0]["km"] == pytest.approx(0.03 * 110.6, rel=2e-3)
    assert {(m["kind"], m["code"], m["reason"]) for m in doc["missing"]} == {
        ("zone", "T-CA-ZN", "no yearly capacity figure")
    }
    # With the planned zone and A at 12 t: P (20 t, 2.2 km from V2) covers V2; A covers V1.
    more = ask(client, include="planned", capacity="T-CA-ZA:12").json()
    assert more["totals"]["unmet_t"] == pytest.approx(5.0)
    assert {v["code"]: v["supplied_t"] for v in more["villages"]} == pytest.approx(
        {"T-CA-V1": 10.0, "T-CA-V2": 10.0, "T-CA-V3": 0.0}
    )


def test_geojson_holds_villages_zones_and_flows(client: TestClient, session: Session) -> None:
    setup_case(session)
    answer = ask(client, f="geojson")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("application/geo+json")
    doc = answer.json()
    assert doc["type"] == "FeatureCollection" and doc["distance_mode"] == "geodesic"
    kinds = [feature["properties"]["kind"] for feature in doc["features"]]
    assert kinds == ["zone", "flow", "village", "village", "village"]
    types = {f["properties"]["kind"]: f["geometry"]["type"] for f in doc["features"]}
    assert types == {"zone": "MultiPolygon", "flow": "LineString", "village": "Point"}


def test_csv_is_the_per_village_table(client: TestClient, session: Session) -> None:
    setup_case(session)
    answer = ask(client, f="csv")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    assert [r["code"] for r in rows] == ["T-CA-V1", "T-CA-V2", "T-CA-V3"]
    assert float(rows[0]["supplied_t"]) == pytest.approx(8.0)
    assert rows[0]["name"] == "Làng <b>T-CA-V1</b>"


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_html_page_states_the_mode_and_escapes(
    client: TestClient, session: Session, lang: str
) -> None:
    setup_case(session)
    answer = ask(client, f="html", lang=lang, include="planned", capacity="T-CA-ZA:1500")
    assert answer.status_code == 200
    page = answer.text
    assert f'<html lang="{lang}">' in page
    assert 'id="distance-mode"' in page
    said = "Khoảng cách đã dùng: đường chim bay" if lang == "vi" else "Distances used: straight"
    assert said in page
    # The village name is text, never markup.
    assert "<b>T-CA-V1</b>" not in page and "&lt;b&gt;T-CA-V1&lt;/b&gt;" in page
    # Numbers in the page's language: 1.500,0 in Vietnamese, 1,500.0 in English.
    assert ("1.500,0" if lang == "vi" else "1,500.0") in page
    assert "T-CA-ZN" in page  # the zone without a figure is listed


def test_empty_form_and_landing_page(client: TestClient) -> None:
    form = client.get(URL, params={"f": "html", "lang": "vi"})
    assert form.status_code == 200 and "Độ phủ nguồn nguyên liệu" in form.text
    assert 'id="distance-mode"' not in form.text
    landing = client.get("/analysis", params={"f": "html", "lang": "en"})
    assert landing.status_code == 200
    for path in (
        "/analysis/coverage",
        "/analysis/sites",
        "/analysis/zone-checks",
        "/maps/analysis/coverage",
        "/maps/analysis/sites",
    ):
        assert f'data-path="{path}"' in landing.text
    listed = client.get("/analysis").json()
    assert listed["analyses"][0]["path"] == "/analysis/coverage"


@pytest.mark.parametrize(
    ("params", "says"),
    [
        ({"material": "gold"}, "unknown material"),
        ({"haul_km": 0}, "haul_km"),
        ({"haul_km": -5}, "haul_km"),
        ({"haul_km": 501}, "haul_km"),
        ({"haul_km": "nan"}, "haul_km"),
        ({"haul_km": "far"}, "haul_km"),
        ({"capacity": "T-CA-ZA"}, "capacity must be CODE:tonnes"),
        ({"capacity": "T-CA-ZA:-3"}, "capacity must be CODE:tonnes"),
        ({"capacity": "T-CA-ZA:lots"}, "capacity must be CODE:tonnes"),
        ({"include": "someday"}, "unknown zone status"),
        ({"mode": "teleport"}, "mode must be one of"),
        ({"f": "xlsx"}, "f must be one of"),
        ({"year": "last"}, "year"),
        ({"colour": "red"}, "unknown query parameter"),
    ],
)
def test_bad_parameters_are_400_problems(
    client: TestClient, params: dict[str, Any], says: str
) -> None:
    answer = ask(client, **params)
    assert answer.status_code == 400, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert says in answer.json()["detail"]


def test_unknown_zone_code_is_404_and_road_without_network_is_400(
    client: TestClient, session: Session
) -> None:
    answer = ask(client, capacity="T-CA-NOPE:5")
    assert answer.status_code == 404 and "T-CA-NOPE" in answer.json()["detail"]
    answer = ask(client, mode="road", network="no-such-network")
    assert answer.status_code == 404
    from sqlalchemy import text

    session.execute(text("DELETE FROM road_network"))
    answer = ask(client, mode="road")
    assert answer.status_code == 400
    assert "needs a road network" in answer.json()["detail"]


def test_what_if_in_process(client: TestClient, session: Session) -> None:
    setup_case(session)
    body = {
        "material": MATERIAL,
        "haul_km": 10,
        "mode": "geodesic",
        "scenario": {
            "zones": [
                {"code": "mới-1", "capacity_t": 10, "geometry": square(LON, LAT + 0.11, SIZE)}
            ]
        },
    }
    answer = client.post(URL + "/what-if", json=body)
    assert answer.status_code == 200, answer.text
    doc = answer.json()
    # The drawn zone (1.1 km from V2) covers V2: unmet 17 → 7.
    assert doc["diff"]["unmet_before_t"] == pytest.approx(17.0)
    assert doc["diff"]["unmet_after_t"] == pytest.approx(7.0)
    assert doc["diff"]["newly_covered"] == ["T-CA-V2"]
    assert doc["current"]["totals"]["unmet_t"] == pytest.approx(17.0)
    new = [z for z in doc["scenario"]["zones"] if z["code"] == "mới-1"][0]
    assert new["id"] is None and new["status"] == "unsaved" and new["serves"] == ["T-CA-V2"]


def _square_ring(n: int) -> list[list[float]]:
    """A valid ring of n points on a small circle."""
    ring = [
        [LON + 0.01 * math.cos(2 * math.pi * i / n), LAT + 0.01 * math.sin(2 * math.pi * i / n)]
        for i in range(n)
    ]
    return [*ring, ring[0]]


def _zone(**extra: Any) -> dict[str, Any]:
    return {"capacity_t": 5, "geometry": square(LON, LAT, SIZE), **extra}


HOSTILE: dict[str, tuple[bytes, set[int], str]] = {
    "not json": (b"{material: luong", {400}, "JSON object"),
    "a list": (b"[]", {400}, "JSON object"),
    "NaN capacity": (
        b'{"material": "other", "haul_km": 10, "scenario": {"zones": [{"capacity_t": NaN, '
        b'"geometry": {"type": "Polygon", '
        b'"coordinates": [[[105,9],[105.1,9],[105,9.1],[105,9]]]}}]}}',
        {400},
        "NaN",
    ),
    "Infinity haul": (b'{"material": "other", "haul_km": Infinity}', {400}, "Infinity"),
    "haul as text": (b'{"material": "other", "haul_km": "50"}', {400}, "haul_km"),
    "material as number": (b'{"material": 3}', {400}, "material"),
    "scenario as list": (b'{"material": "other", "scenario": []}', {400}, "scenario"),
    "unknown member": (b'{"material": "other", "rm": "-rf"}', {400}, "unknown members"),
    "capacity as text": (
        json.dumps({"material": "other", "scenario": {"capacity": {"X": "many"}}}).encode(),
        {400},
        "must be a number",
    ),
    "point zone": (
        json.dumps(
            {
                "material": "other",
                "scenario": {
                    "zones": [
                        {"capacity_t": 1, "geometry": {"type": "Point", "coordinates": [105, 9]}}
                    ]
                },
            }
        ).encode(),
        {400},
        "geometry must be a",
    ),
    "NaN in coordinates": (
        b'{"material": "other", "scenario": {"zones": [{"capacity_t": 1, "geometry": '
        b'{"type": "Polygon", '
        b'"coordinates": [[[105, NaN], [105.1, 9], [105, 9.1], [105, NaN]]]}}]}}',
        {400},
        "NaN",
    ),
    "coordinates as text": (
        json.dumps(
            {
                "material": "other",
                "scenario": {
                    "zones": [
                        {
                            "capacity_t": 1,
                            "geometry": {"type": "Polygon", "coordinates": "[[[105,9]]]"},
                        }
                    ]
                },
            }
        ).encode(),
        {400},
        "geometry",
    ),
    "10 000 extra zones": (
        json.dumps({"material": "other", "scenario": {"zones": [_zone()] * 10_000}}).encode(),
        {400, 413},
        "at most 50",
    ),
    "huge geometry": (
        json.dumps(
            {
                "material": "other",
                "scenario": {
                    "zones": [
                        {
                            "capacity_t": 1,
                            "geometry": {"type": "Polygon", "coordinates": [_square_ring(100_000)]},
                        }
                    ]
                },
            }
        ).encode(),
        {400, 413},
        "positions",
    ),
    "deep nesting": (b'{"material": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", {400}, "JSON"),
}


@pytest.mark.parametrize("name", list(HOSTILE))
def test_hostile_what_if_bodies_are_4xx_and_the_server_carries_on(
    own_live: LiveServer, name: str
) -> None:
    body, statuses, says = HOSTILE[name]
    logged = len(own_live.log())
    answer = own_live.request(
        URL + "/what-if", method="POST", body=body, headers={"Content-Type": "application/json"}
    )
    assert answer.status in statuses, f"{answer.status}: {answer.body[:300]!r}"
    headers = {k.lower(): v for k, v in answer.headers.items()}
    assert headers["content-type"].startswith("application/problem+json")
    problem = json.loads(answer.body)
    assert says in problem["detail"], problem
    assert own_live.alive()
    assert "unhandled error" not in own_live.log()[logged:]


def test_live_what_if_over_the_demo_writes_nothing(own_live: LiveServer, database_url: str) -> None:
    import sqlalchemy as sa

    from geo.store.db import make_engine

    engine = make_engine(database_url)
    count = "SELECT (SELECT count(*) FROM material_zone), (SELECT count(*) FROM feature_history)"
    try:
        with engine.connect() as conn:
            before = conn.execute(sa.text(count)).one()
        body = {
            "material": "luong",
            "haul_km": 60,
            "scenario": {
                "include": ["planned", "proposed"],
                "zones": [_zone(geometry=square(105.3, 20.1, 0.02))],
            },
        }
        answer = own_live.request(
            URL + "/what-if",
            method="POST",
            body=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
            timeout=120,
        )
        assert answer.status == 200, answer.body[:300]
        doc = json.loads(answer.body)
        assert set(doc) == {"current", "scenario", "diff"}
        assert doc["scenario"]["distance_mode"] in {"road", "geodesic"}
        with engine.connect() as conn:
            assert conn.execute(sa.text(count)).one() == before
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    ("params", "vietnamese"),
    [
        ({"haul_km": 900}, "haul_km phải lớn hơn 0 và không quá 500 km"),
        ({"material": "vàng"}, "không có nguyên liệu 'vàng'; chọn một trong: bamboo"),
        ({"capacity": "X"}, "capacity phải là các cặp MÃ:tấn cách nhau bằng dấu phẩy"),
        ({"capacity": "T-CA-KHÔNG:5"}, "không có vùng nguyên liệu 'T-CA-KHÔNG'"),
    ],
)
def test_problems_speak_vietnamese_when_asked(
    client: TestClient, params: dict[str, Any], vietnamese: str
) -> None:
    answer = ask(client, lang="vi", **params)
    assert answer.status_code in {400, 404}
    assert vietnamese in answer.json()["detail"]
