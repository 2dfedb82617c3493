"""``GET /analysis/zone-checks`` (issue 14 point 4): JSON, HTML, CSV, GeoJSON, bad parameters,
hostile parameters against a real server, and the zone page's "Needs attention" box."""

from __future__ import annotations

import csv
import io
import urllib.parse
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests.factories import make_zone
from tests.live import LiveServer

URL = "/analysis/zone-checks"
AS_OF = "2026-06-15"
# Mekong delta: far from the demo's zones and villages.
AT = (105.40, 9.60)
SIZE = 0.01
HOSTILE_NAME = '<script>alert("x")</script> Vùng & "cói"'


def _pair(session: Session) -> tuple[int, int]:
    """Two zones overlapping by half; the first has a hostile name and an expired certificate."""
    lon, lat = AT
    a = make_zone(
        session,
        at=(lon, lat),
        name=HOSTILE_NAME,
        certification_scheme="VietGAP",
        certificate_no="VG-1",
        certificate_expiry="2026-01-01",
    )
    b = make_zone(session, at=(lon + SIZE / 2, lat), name="Vùng cói B", status="proposed")
    return a, b


def _mine(findings: list[dict[str, Any]], ids: set[int]) -> list[dict[str, Any]]:
    return [f for f in findings if f["zone_id"] in ids]


def test_json_lists_findings_with_reasons_figures_and_links(
    client: TestClient, session: Session
) -> None:
    a, b = _pair(session)
    answer = client.get(URL, params={"as_of": AS_OF})
    assert answer.status_code == 200 and answer.headers["content-type"] == "application/json"
    body = answer.json()
    assert body["parameters"] == {
        "as_of": AS_OF,
        "expiring_days": 90,
        "area_tolerance_pct": 10.0,
        "area_floor_ha": 0.5,
        "overlap_min_m2": 100.0,
        "haul_km": 50.0,
        "distance": "geodesic",
        "material": None,
        "status": None,
        "checks": [
            "overlap",
            "exclusion",
            "certificate",
            "area_mismatch",
            "no_village",
            "capacity_unknown",
        ],
    }
    mine = _mine(body["findings"], {a, b})
    checks = sorted((f["zone_id"], f["check"], f["severity"]) for f in mine)
    assert (a, "overlap", "error") in checks and (b, "overlap", "error") in checks
    assert (a, "certificate", "error") in checks
    # The proposed zone B is checked too; errors come before warnings and infos.
    severities = [f["severity"] for f in body["findings"]]
    assert severities == sorted(severities, key=["error", "warning", "info"].index)
    expired = next(f for f in mine if f["check"] == "certificate")
    assert expired["reason"] == {
        "vi": "Chứng chỉ đã hết hạn ngày 01/01/2026 (165 ngày trước)",
        "en": "Certificate expired on 2026-01-01 (165 days ago)",
    }
    assert expired["figures"]["days_left"] == -165 and expired["kind"] == "expired"
    assert expired["links"][1]["href"].endswith(f"/collections/material-zones/items/{a}?f=html")
    assert body["counts"]["overlap"] >= 2 and body["severity_counts"]["error"] >= 3
    only = client.get(URL, params={"as_of": AS_OF, "checks": "certificate", "status": "existing"})
    assert {f["check"] for f in only.json()["findings"]} <= {"certificate"}
    assert not _mine(only.json()["findings"], {b})


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_html_page_groups_by_check_in_the_page_language(
    client: TestClient, session: Session, lang: str
) -> None:
    a, _ = _pair(session)
    answer = client.get(URL, params={"as_of": AS_OF, "f": "html", "lang": lang})
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/html")
    page = answer.text
    # The hostile name is escaped, never markup.
    assert "<script>alert" not in page
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; Vùng &amp; &#34;cói&#34;" in page
    assert f'href="/collections/material-zones/items/{a}?f=html&amp;lang={lang}"' in page
    for check in ("overlap", "certificate", "capacity_unknown"):
        assert f'id="check-{check}"' in page and f'data-check="{check}"' in page
    if lang == "vi":
        assert "Vùng nguyên liệu cần kiểm tra" in page and "Tính đến ngày" in page
        assert "15/06/2026" in page and "Chứng chỉ đã hết hạn ngày 01/01/2026" in page
        assert "Certificate expired" not in page
        assert "100 m²" in page and "0,5 ha" in page and "50 km" in page
    else:
        assert "Material zones that need attention" in page and "2026-06-15" in page
        assert "Certificate expired on 2026-01-01" in page and "Chứng chỉ đã hết" not in page
    # Accept: text/html alone asks for the page too.
    assert client.get(URL, headers={"Accept": "text/html"}).text.startswith("<!doctype html>")


def test_html_page_lists_a_bounded_number_of_zones_per_check(
    client: TestClient, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    from api.routers import analysis_checks

    monkeypatch.setattr(analysis_checks, "ROWS_PER_CHECK", 3)
    _pair(session)
    # The demo records every zone's capacity; these three more make five without one.
    lon, lat = AT
    for step in (1, 2, 3):
        make_zone(session, at=(lon + step * SIZE * 2, lat + SIZE * 3), name=f"Vùng {step}")
    params = {"as_of": AS_OF, "checks": "capacity_unknown", "lang": "en"}
    total = client.get(URL, params=params).json()["counts"]["capacity_unknown"]
    page = client.get(URL, params={**params, "f": "html"}).text
    assert total > 3 and page.count("<tr data-zone=") == 3
    assert f"… and {total - 3} more zones: download the CSV or JSON" in page


def test_csv_has_a_bom_and_opens_with_the_csv_module(client: TestClient, session: Session) -> None:
    a, b = _pair(session)
    answer = client.get(URL, params={"as_of": AS_OF, "f": "csv"})
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/csv")
    assert answer.content.startswith(b"\xef\xbb\xbf")
    assert "zone-checks-2026-06-15.csv" in answer.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(answer.content.decode("utf-8-sig"))))
    assert list(rows[0]) == [
        "severity",
        "check",
        "kind",
        "zone_id",
        "code",
        "name",
        "material",
        "status",
        "reason_vi",
        "reason_en",
        "figures",
        "url",
    ]
    mine = [r for r in rows if r["zone_id"] in {str(a), str(b)}]
    hostile = next(r for r in mine if r["check"] == "certificate")
    assert hostile["name"] == HOSTILE_NAME and hostile["severity"] == "error"
    assert hostile["reason_vi"].startswith("Chứng chỉ đã hết hạn")
    assert "days_left=-165" in hostile["figures"]
    assert hostile["url"].endswith(f"/collections/material-zones/items/{a}")


def test_geojson_has_zones_with_reasons_and_overlap_polygons(
    client: TestClient, session: Session
) -> None:
    a, b = _pair(session)
    answer = client.get(URL, params={"as_of": AS_OF, "f": "geojson"})
    assert answer.status_code == 200 and answer.headers["content-type"] == "application/geo+json"
    collection = answer.json()
    assert collection["type"] == "FeatureCollection"
    zones = {
        f["properties"]["zone_id"]: f
        for f in collection["features"]
        if f["properties"]["kind"] == "zone"
    }
    assert zones[a]["geometry"]["type"] == "MultiPolygon"
    assert zones[a]["properties"]["severity"] == "error"
    assert {r["check"] for r in zones[a]["properties"]["reasons"]} >= {"overlap", "certificate"}
    overlaps = [
        f
        for f in collection["features"]
        if f["properties"]["kind"] == "overlap" and set(f["properties"]["zone_ids"]) == {a, b}
    ]
    assert len(overlaps) == 1
    geometry = overlaps[0]["geometry"]
    assert geometry["type"] in {"Polygon", "MultiPolygon"}
    lons = [p[0] for p in _positions(geometry["coordinates"])]
    # The overlap is the east half of A: from A's middle to its east edge.
    assert min(lons) == pytest.approx(AT[0] + SIZE / 2)
    assert max(lons) == pytest.approx(AT[0] + SIZE)
    assert overlaps[0]["properties"]["share_of_smaller_pct"] == pytest.approx(50, abs=0.5)


def _positions(coordinates: Any) -> list[list[float]]:
    if isinstance(coordinates[0], float | int):
        return [coordinates]
    return [p for part in coordinates for p in _positions(part)]


@pytest.mark.parametrize(
    "params",
    [
        {"expiring_days": "-1"},
        {"expiring_days": "soon"},
        {"haul_km": "nan"},
        {"haul_km": "1e400"},
        {"area_tolerance_pct": "-5"},
        {"overlap_min_m2": "inf"},
        {"as_of": "2026-13-45"},
        {"as_of": "1066-10-14"},
        {"material": "gold"},
        {"status": "existing,gone"},
        {"checks": "overlap,everything"},
        {"f": "xml"},
        {"colour": "red"},
    ],
)
def test_bad_parameters_are_400_problems(client: TestClient, params: dict[str, str]) -> None:
    answer = client.get(URL, params=params)
    assert answer.status_code == 400, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["status"] == 400


def test_bad_parameter_in_vietnamese(client: TestClient) -> None:
    answer = client.get(URL, params={"material": "gold", "lang": "vi"})
    assert answer.status_code == 400
    assert answer.json()["detail"].startswith("material phải là một trong các giá trị: luong")


HOSTILE: list[dict[str, str]] = [
    {"as_of": "' OR 1=1 --"},
    {"as_of": "2026-06-15\x00"},
    {"material": "sedge'; DROP TABLE material_zone;--"},
    {"status": "\x00"},
    {"checks": "overlap," * 2000},
    {"haul_km": "9" * 5000},
    {"expiring_days": "99999999999999999999999"},
    {"f": "html", "lang": "<svg onload=alert(1)>"},
    {"f": "<svg onload=alert(1)>"},
    {"material": "cói"},
    {"status": "\u202eexisting"},
    {"as_of": "2026-06-15", "as_of ": "x"},
]


def test_hostile_parameters_on_a_live_server(live: LiveServer) -> None:
    for params in HOSTILE:
        query = urllib.parse.urlencode(params)
        answer = live.request(f"{URL}?{query}")
        assert answer.status < 500, (query, answer.status, answer.body[:300])
        if answer.status >= 400:
            kind = {k.lower(): v for k, v in answer.headers.items()}["content-type"]
            assert kind.startswith("application/problem+json"), (query, kind)
        assert b"<svg onload" not in answer.body
    assert live.alive()
    # Duplicate checks are one check; "-0" is zero: both are plain answers.
    assert live.request(f"{URL}?checks=overlap,overlap&overlap_min_m2=-0").status == 200
    assert live.request(f"{URL}?f=html&lang=en").status == 200


def test_zone_page_box_lists_its_reasons(client: TestClient, session: Session) -> None:
    a, _ = _pair(session)
    # A zone near the demo's villages, with its output recorded and nothing else to say.
    quiet = make_zone(session, at=(105.60, 19.75), annual_capacity_t=100)
    page = client.get(f"/collections/material-zones/items/{a}", params={"f": "html"}).text
    assert 'id="attention"' in page and "Cần kiểm tra" in page
    assert 'data-check="certificate"' in page and "Chứng chỉ đã hết hạn" in page
    assert 'data-check="overlap"' in page and "Vùng cói B" in page
    english = client.get(
        f"/collections/material-zones/items/{a}", params={"f": "html", "lang": "en"}
    ).text
    assert "Needs attention" in english and "Certificate expired on" in english
    calm = client.get(f"/collections/material-zones/items/{quiet}", params={"f": "html"}).text
    assert 'id="attention"' not in calm
    # JSON stays as it was.
    assert "attention" not in client.get(f"/collections/material-zones/items/{a}").text
