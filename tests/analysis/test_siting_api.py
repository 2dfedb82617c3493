"""``/analysis/sites`` and ``/analysis/sites/save``: faces, keys, bad and hostile input."""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from geo.store import keys as api_keys
from geo.store.db import make_engine
from tests.analysis.test_siting_workflow import at, box, layer
from tests.api.conftest import bearer
from tests.factories import make_village, unique_code
from tests.live import LiveServer

SITES = "/analysis/sites"
SAVE = "/analysis/sites/save"
QUERY = {"material": "other", "k": "1", "haul_km": "6", "mode": "geodesic"}


def short_village(
    session: Session, x: float = 0, y: float = 0, tonnes: float = 1500.0, **props: Any
) -> str:
    code = unique_code("T-S")
    make_village(
        session.connection(),
        at=at(x, y),
        code=code,
        material_demand_t={"other": tonnes},
        **props,
    )
    return code


def assert_problem(response: Any, status: int = 400) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["status"] == status and body["detail"]
    return body


def test_json_answer(client: TestClient, session: Session) -> None:
    code = short_village(session)
    answer = client.get(SITES, params=QUERY)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["totals"]["unmet_before_t"] == pytest.approx(1500.0)
    assert body["totals"]["served_t"] == pytest.approx(1500.0)
    site = body["sites"][0]
    assert site["rank"] == 1 and site["score_t"] == pytest.approx(1500.0)
    assert [v["code"] for v in site["villages"]] == [code]
    assert site["geometry"]["type"] == "Polygon" and len(site["centre"]) == 2
    assert body["parameters"]["resolution"] == 7 and body["model"] == "mclp"


def test_geojson_answer(client: TestClient, session: Session) -> None:
    short_village(session)
    layer(session.connection(), "exclusion", [({"name": "Rừng đặc dụng"}, box(-1, -1, 1, 1))])
    answer = client.get(SITES, params={**QUERY, "f": "geojson"})
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("application/geo+json")
    kinds = [f["properties"]["kind"] for f in answer.json()["features"]]
    assert kinds.count("site") == 1 and kinds.count("site_centre") == 1
    excluded = [f for f in answer.json()["features"] if f["properties"]["kind"] == "excluded"]
    assert excluded and all("Rừng đặc dụng" in f["properties"]["reason"] for f in excluded)


@pytest.mark.parametrize(
    ("lang", "served", "words"),
    [
        ("vi", "1.500,0", "Các vị trí theo thứ hạng"),
        ("en", "1,500.0", "Sites by rank"),
    ],
)
def test_html_page_in_both_languages_escapes_names(
    client: TestClient, session: Session, lang: str, served: str, words: str
) -> None:
    short_village(session, name='Làng <script>alert("x")</script>')
    answer = client.get(SITES, params={**QUERY, "f": "html", "lang": lang})
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/html")
    page = answer.text
    assert words in page and served in page
    assert "<script>alert" not in page and "&lt;script&gt;alert" in page


def test_html_without_a_material_shows_the_form(client: TestClient) -> None:
    answer = client.get(SITES, params={"f": "html", "lang": "vi"})
    assert answer.status_code == 200 and 'name="material"' in answer.text
    assert_problem(client.get(SITES))


def test_a_k_larger_than_the_candidates_is_said_not_an_error(
    client: TestClient, session: Session
) -> None:
    short_village(session)
    query = {**QUERY, "k": "50", "haul_km": "1"}
    assert client.get(SITES, params=query).json()["totals"]["sites_found"] == 1
    page = client.get(SITES, params={**query, "f": "html", "lang": "vi"})
    assert page.status_code == 200 and "Chỉ 1 trong 50 vị trí" in page.text


@pytest.mark.parametrize(
    "bad",
    [
        {"k": "0"},
        {"k": "51"},
        {"k": "abc"},
        {"material": "unobtainium"},
        {"resolution": "4"},
        {"resolution": "10"},
        {"haul_km": "0"},
        {"haul_km": "-3"},
        {"haul_km": "501"},
        {"haul_km": "nan"},
        {"capacity_t": "0"},
        {"capacity_t": "inf"},
        {"mode": "teleport"},
        {"year": "1800"},
        {"colour": "red"},
    ],
)
def test_bad_parameters_are_400_problems(client: TestClient, bad: dict[str, str]) -> None:
    assert_problem(client.get(SITES, params={**QUERY, **bad}))


@pytest.fixture
def keys(session: Session) -> dict[str, str]:
    """A token per role, made in the test's rolled-back transaction."""
    return {
        role: api_keys.create_key(session.connection(), name=f"test {role}", role=role)[0]
        for role in ("viewer", "planner", "tourism", "admin")
    }


# -- saving ------------------------------------------------------------------------------------
def test_saving_a_site_makes_a_proposed_zone_with_history(
    client: TestClient, session: Session, keys: dict[str, str]
) -> None:
    short_village(session)
    site = client.get(SITES, params=QUERY).json()["sites"][0]
    body = {
        "cell": site["cell"],
        "name": "Vùng đề xuất <b>1</b>",
        "material": "other",
        "capacity_t": 1500,
        "parameters": QUERY,
    }
    assert_problem(client.post(SAVE, json=body), 401)
    for role in ("viewer", "tourism"):
        assert_problem(client.post(SAVE, json=body, headers=bearer(keys[role])), 403)
    saved = client.post(SAVE, json=body, headers=bearer(keys["planner"]))
    assert saved.status_code == 201, saved.text
    zone = client.get(saved.headers["Location"]).json()
    props = zone["properties"]
    assert props["status"] == "proposed" and props["material"] == "other"
    assert props["code"] == f"DX-{site['cell']}" and props["annual_capacity_t"] == 1500
    assert zone["geometry"]["type"] == "MultiPolygon"
    assert "siting analysis" in props["notes"] and '"haul_km": "6"' in props["notes"]
    history = session.execute(
        sa.text(
            "SELECT action, actor FROM feature_history "
            "WHERE table_name = 'material_zone' AND feature_id = :id"
        ),
        {"id": str(saved.json()["id"])},
    ).all()
    assert [
        (h.action, h.actor.split(":")[0], h.actor.endswith("test planner")) for h in history
    ] == [("create", "key", True)]
    # Saved once: the same cell again is a conflict, not a second zone.
    assert_problem(client.post(SAVE, json=body, headers=bearer(keys["planner"])), 409)


def test_saving_over_an_exclusion_area_is_refused(
    client: TestClient, session: Session, keys: dict[str, str]
) -> None:
    layer(session.connection(), "exclusion", [({"name": "Vùng lõi"}, box(-3, -3, 3, 3))])
    import h3

    cell = h3.latlng_to_cell(at(0, 0)[1], at(0, 0)[0], 7)
    body = {"cell": cell, "name": "Vùng thử", "material": "other"}
    refused = assert_problem(client.post(SAVE, json=body, headers=bearer(keys["admin"])))
    assert refused["detail"].startswith("zone-clear-of-exclusions")


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"[]",
        b"{not json",
        json.dumps({"cell": "zz", "name": "x", "material": "other"}).encode(),
        json.dumps({"cell": "872830828ffffff", "name": "", "material": "other"}).encode(),
        json.dumps({"name": "x", "material": "other"}).encode(),
        json.dumps({"cell": 5, "name": "x", "material": "other"}).encode(),
        json.dumps({"cell": "872830828ffffff", "name": "x", "material": "gold"}).encode(),
        json.dumps(
            {"cell": "872830828ffffff", "name": "x", "material": "other", "capacity_t": "lots"}
        ).encode(),
        json.dumps(
            {"cell": "872830828ffffff", "name": "x", "material": "other", "drop": "table"}
        ).encode(),
    ],
)
def test_bad_save_bodies_are_400(client: TestClient, keys: dict[str, str], body: bytes) -> None:
    headers = {**bearer(keys["planner"]), "Content-Type": "application/json"}
    assert_problem(client.post(SAVE, content=body, headers=headers))


# -- a live server ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def planner_token(database_url: str) -> Iterator[str]:
    engine = make_engine(database_url)
    with engine.begin() as conn:
        token, info = api_keys.create_key(conn, name="siting hostile tests", role="planner")
    yield token
    with engine.begin() as conn:
        api_keys.revoke_key(conn, info.prefix)
    engine.dispose()


HOSTILE = [
    {"material": "<script>alert(1)</script>"},
    {"material": "luong", "k": "1e309"},
    {"material": "luong", "k": "99999999999999999999999"},
    {"material": "luong", "haul_km": "1e309"},
    {"material": "luong", "haul_km": "NaN"},
    {"material": "luong", "resolution": "-1"},
    {"material": "luong", "resolution": "9", "haul_km": "500"},
    {"material": "luong", "land_use": "x" * 5000},
    {"material": "luong", "year": "-2147483649"},
    {"material": "luong\x00"},
    {"material": "luong", "f": "xml"},
]


def test_hostile_parameters_against_a_live_server(own_live: LiveServer, planner_token: str) -> None:
    for query in HOSTILE:
        answer = own_live.request(f"{SITES}?{urllib.parse.urlencode(query)}")
        assert 400 <= answer.status < 500, (query, answer.status, answer.body[:300])
    headers = {"Authorization": f"Bearer {planner_token}", "Content-Type": "application/json"}
    for raw in (
        b'{"cell": "' + b"8" * 100_000 + b'", "name": "x", "material": "luong"}',
        b'{"geometry": {"type": "Polygon", "coordinates": [[[1e400, 2]]]}, "name": "x", '
        b'"material": "luong", "code": "T-HOSTILE"}',
        b"[" * 50_000,
        b'{"cell": null, "geometry": null, "name": "x", "material": "luong"}',
    ):
        answer = own_live.request(SAVE, method="POST", body=raw, headers=headers)
        assert 400 <= answer.status < 500, (answer.status, answer.body[:300])
    answer = own_live.request(SAVE, method="POST", body=b"{}", headers={})
    assert answer.status == 401
    still = own_live.request(f"{SITES}?material=luong&k=2&haul_km=30&mode=geodesic")
    assert still.status == 200, still.body[:300]
    assert "sites" in json.loads(still.body)


def test_a_typical_capacity_runs_the_capacitated_model(
    client: TestClient, session: Session
) -> None:
    # One village short of 1 500 t; a new zone of 400 t/yr serves 400 t of it, not 1 500.
    short_village(session)
    body = client.get(SITES, params={**QUERY, "capacity_t": "400"}).json()
    assert body["model"] == "capacitated"
    assert body["totals"]["served_t"] == pytest.approx(400.0)
    assert body["sites"][0]["villages"][0]["served_t"] == pytest.approx(400.0)
    assert body["sites"][0]["villages"][0]["unmet_t"] == pytest.approx(1500.0)


def test_too_fine_a_grid_for_the_haul_is_refused_naming_the_limit(
    client: TestClient, session: Session
) -> None:
    short_village(session)
    refused = assert_problem(
        client.get(SITES, params={**QUERY, "resolution": "9", "haul_km": "100"})
    )
    assert refused["limit"] == "siting_max_cells" and "coarser resolution" in refused["detail"]


@pytest.mark.parametrize(
    ("params", "vietnamese"),
    [
        ({"material": "vàng"}, "không có nguyên liệu 'vàng'; chọn một trong: luong"),
        ({"resolution": "9", "haul_km": "100"}, "chọn độ phân giải thô hơn hoặc cự ly ngắn hơn"),
    ],
)
def test_problems_speak_vietnamese_when_asked(
    client: TestClient, session: Session, params: dict[str, str], vietnamese: str
) -> None:
    short_village(session)
    answer = client.get(SITES, params={**QUERY, **params, "lang": "vi"})
    assert vietnamese in assert_problem(answer)["detail"]
