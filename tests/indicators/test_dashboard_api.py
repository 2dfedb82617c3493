"""``/indicators`` as JSON and HTML, and the choropleth's answers (issue 16 point 4).

The numbers are those of tests/indicators/dashboard_data.py, worked out by hand there.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from api.routers import indicators as indicators_router
from tests.indicators import dashboard_data as data

PROGRAMME = {"programme": data.PROGRAMME}


@pytest.fixture
def t9(session: Session, tmp_path: Path) -> None:
    data.build(session.connection(), tmp_path)


def _indicator(body: dict, code: str) -> dict:
    return next(i for i in body["indicators"] if i["indicator"] == code)


def test_json_holds_the_hand_computed_values(client: TestClient, t9: None) -> None:
    answer = client.get("/indicators", params={**PROGRAMME, "year": 2025, "f": "json"})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["programme"]["code"] == data.PROGRAMME
    assert body["year"] == 2025
    env = _indicator(body, "share_env_plan")
    assert env["value"] == pytest.approx(200 / 3)
    assert (env["numerator"], env["denominator"]) == (2, 3)
    assert (env["in_scope"], env["with_data"], env["missing"]) == (4, 3, 1)
    assert env["label"]["vi"] == "Tỷ lệ làng nghề có phương án bảo vệ môi trường"
    assert env["unit"] == "percent"
    assert [(t["year"], t["target"], t["status"]) for t in env["targets"]] == [
        (2025, 50.0, "met"),
        (2030, 100.0, "behind"),
    ]
    trained = _indicator(body, "share_workers_trained")
    assert trained["value"] == pytest.approx(60.0)
    assert (trained["numerator"], trained["denominator"], trained["missing"]) == (90, 150, 2)
    tourism = _indicator(body, "villages_tourism_linked")
    assert (tourism["value"], tourism["missing"]) == (2, 1)
    assert tourism["targets"][1]["expected"] == pytest.approx(2.0)
    assert tourism["targets"][1]["status"] == "on_track"
    # Per unit: the commune with no villages has no value (not 0), the old district all.
    communes = {u["code"]: u for u in body["units"]["commune"]}
    assert communes["T9C1"]["values"]["share_env_plan"]["value"] == pytest.approx(100.0)
    assert communes["T9C1"]["values"]["share_env_plan"]["missing"] == 1
    assert communes["T9C2"]["values"]["share_env_plan"]["value"] == 0.0
    assert communes["T9C2"]["name"] == data.XSS
    assert communes["T9C3"]["villages"] == 0
    assert communes["T9C3"]["values"]["share_env_plan"]["value"] is None
    [district] = body["units"]["district"]
    assert district["values"]["share_env_plan"]["value"] == pytest.approx(200 / 3)
    # The series: 2023 has no data at all, the current year none from the records.
    series = {p["year"]: p["value"] for p in body["series"]["share_env_plan"]}
    assert series[2022] == 0.0 and series[2024] == pytest.approx(100 / 3)
    assert 2023 not in series
    assert 2022 in body["years_with_data"] and 2023 not in body["years_with_data"]
    rels = {(x["rel"], x["href"].split("?")[0].rsplit("/", 1)[-1]) for x in body["links"]}
    assert ("related", "report.pdf") in rels and ("related", "report.xlsx") in rels
    assert ("related", "actions") in rels
    assert any("/maps/indicators/share_env_plan" in x["href"] for x in env["links"])


def test_default_year_is_the_latest_with_data(client: TestClient, t9: None) -> None:
    body = client.get("/indicators", params={**PROGRAMME, "f": "json"}).json()
    # The current year has no facts (the records hold none): 2025 is the latest with data.
    assert body["year"] == 2025


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({"year": "1800"}, 400),
        ({"year": "soon"}, 400),
        ({"programme": "no-such/QĐ"}, 404),
        ({"f": "csv"}, 400),
        ({"colour": "red"}, 400),
    ],
)
def test_bad_parameters_are_problems(
    client: TestClient, t9: None, params: dict[str, str], status: int
) -> None:
    answer = client.get("/indicators", params={**PROGRAMME, "f": "json", **params})
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")


def test_a_bad_year_on_the_page_is_a_readable_page(client: TestClient, t9: None) -> None:
    answer = client.get("/indicators", params={"year": "1800", "f": "html", "lang": "vi"})
    assert answer.status_code == 400
    assert answer.headers["content-type"].startswith("text/html")
    assert "1800" in answer.text and "Traceback" not in answer.text


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_dashboard_html_escapes_names_and_uses_the_pages_numbers(
    client: TestClient, t9: None, lang: str
) -> None:
    answer = client.get(
        "/indicators", params={**PROGRAMME, "year": 2025, "f": "html", "lang": lang}
    )
    assert answer.status_code == 200, answer.text
    html = answer.text
    assert "<img src=x" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert ("66,7\u00a0%" if lang == "vi" else "66.7\u00a0%") in html
    assert ("1 làng thiếu số liệu" if lang == "vi" else "1 village lacks data") in html
    assert ("từ 1/7/2025" if lang == "vi" else "abolished on 1/7/2025") in html


@pytest.mark.parametrize(
    ("path", "params", "status"),
    [
        ("/maps/indicators/no_such_indicator", {}, 404),
        ("/maps/indicators/share_ocop", {}, 404),  # not one of the T9 plan's indicators
        ("/maps/indicators/share_env_plan", {"level": "hamlet"}, 400),
        ("/maps/indicators/share_env_plan", {"year": "1800"}, 400),
    ],
)
def test_choropleth_refuses_what_it_cannot_draw(
    client: TestClient, t9: None, path: str, params: dict[str, str], status: int
) -> None:
    answer = client.get(path, params={**PROGRAMME, **params})
    assert answer.status_code == status, answer.text


@pytest.mark.parametrize("level", ["commune", "district"])
def test_choropleth_page_escapes_names(client: TestClient, t9: None, level: str) -> None:
    answer = client.get(
        "/maps/indicators/share_env_plan",
        params={**PROGRAMME, "year": 2025, "level": level, "lang": "en"},
    )
    assert answer.status_code == 200, answer.text
    assert "<img src=x" not in answer.text
    assert "No data" in answer.text


def test_indicators_are_in_the_openapi_document_in_both_languages(client: TestClient) -> None:
    doc = client.get("/api", params={"f": "json"}).json()
    operation = doc["paths"]["/indicators"]["get"]
    names = {p["name"]: p for p in operation["parameters"]}
    assert {"year", "programme", "f", "lang"} <= set(names)
    assert "the report year" in names["year"]["description"]
    assert "/maps/indicators/{indicator}" in doc["paths"]
    page = client.get("/api", params={"f": "html", "lang": "vi"}).text
    assert "Chỉ tiêu của chương trình làng nghề" in page
    assert "năm báo cáo, 2000–2100" in page
    assert "cấp đơn vị: commune" in page


TODAY = dt.date(2026, 3, 1)


@pytest.fixture
def actions_data(session: Session, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict:
    data.build(session.connection(), tmp_path)
    monkeypatch.setattr(indicators_router, "_today", lambda: TODAY)
    return data.build_actions(session.connection(), TODAY)


def _mine(body: dict, kind: str) -> dict[str, dict]:
    return {i["code"]: i for i in body["lists"][kind] if i["code"].startswith("T9-")}


def test_actions_json_lists_counts_and_links(client: TestClient, actions_data: dict) -> None:
    answer = client.get("/indicators/actions", params={"f": "json"})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["today"] == "2026-03-01"
    assert set(body["counts"]) == {
        "abolished_name",
        "no_env_plan",
        "at_risk",
        "expiring_certificate",
    }
    assert body["counts"] == {kind: len(items) for kind, items in body["lists"].items()}
    # T9's villages were recognised under the old district: every one must be renamed.
    assert set(_mine(body, "abolished_name")) == {"T9-V1", "T9-V2", "T9-V3", "T9-V4"}
    # V2's latest figure says no plan; V4's latest (2024) says yes.
    assert set(_mine(body, "no_env_plan")) == {"T9-V2"}
    risky = _mine(body, "at_risk")["T9-R1"]
    hrefs = {x["href"] for x in risky["links"]}
    assert f"http://testserver/collections/villages/items/{actions_data['R']}?f=html" in hrefs
    zones = _mine(body, "expiring_certificate")
    assert zones["T9-Z1"]["due"] == "2026-03-31" and zones["T9-Z2"]["due"] == "2026-02-19"
    assert body["labels"]["at_risk"]["vi"] == "Có nguy cơ mai một"


@pytest.mark.parametrize(
    ("lang", "due", "count"),
    [("vi", "31/03/2026", "hồ sơ"), ("en", "2026-03-31", "records")],
)
def test_actions_page_dates_and_escaping(
    client: TestClient, actions_data: dict, lang: str, due: str, count: str
) -> None:
    answer = client.get("/indicators/actions", params={"f": "html", "lang": lang})
    assert answer.status_code == 200, answer.text
    html = answer.text
    assert "<img src=x" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert due in html
    assert count in html


def test_actions_refuse_bad_days(client: TestClient) -> None:
    answer = client.get("/indicators/actions", params={"days": "-1", "f": "json"})
    assert answer.status_code == 400
    assert answer.headers["content-type"].startswith("application/problem+json")
