"""Pages people can read (issue 12 points 10 and 11): labels, units, links, Vietnamese."""

from __future__ import annotations

import html
import re
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests import factories


def _page(client: TestClient, path: str, lang: str = "vi", **params: Any) -> str:
    response = client.get(path, params={"f": "html", "lang": lang, **params})
    assert response.status_code == 200, response.text
    return response.text


def _rows(page: str, table: str = "properties") -> dict[str, str]:
    """The property table of a page: label → value (tags stripped)."""
    body = page.split(f'id="{table}"', 1)[1].split("</table>", 1)[0]
    found = re.findall(r"<th scope=\"row\">(.*?)</th><td>(.*?)</td>", body, re.S)
    return {html.unescape(k): html.unescape(re.sub(r"<[^>]+>", "", v)) for k, v in found}


def _title(page: str) -> str:
    return html.unescape(page.split("<title>", 1)[1].split("</title>", 1)[0])


@pytest.fixture
def village(session: Session) -> int:
    """A village with a route through it and a zone 2 km away."""
    village_id = factories.make_village(
        session,
        at=(105.70, 19.85),
        name="Làng <thử> Trà Đông",
        kind="craft_village",
        craft_group="G2",
        crafts=["đúc đồng"],
        households=1500,
        precision_m=1800,
        geom_precision="commune_centroid",
        tourism_linked=True,
        material_demand_t={"luong": 1500.25},
    )
    route_id = factories.make_route(session, name="Tuyến thử <b>1</b>", theme="heritage_craft")
    factories.make_stop(session, route_id, 1, at=(105.70, 19.85), village_id=village_id, name=None)
    factories.make_stop(session, route_id, 2, at=(105.75, 19.80), name="Điểm cuối")
    factories.make_zone(session, at=(105.72, 19.85), name="Vùng luồng thử", material="luong")
    return village_id


def test_a_village_page_shows_labels_units_and_no_empty_rows(
    client: TestClient, village: int
) -> None:
    page = _page(client, f"/collections/villages/items/{village}")
    rows = _rows(page)
    assert rows["Loại danh hiệu"] == "Làng nghề"
    assert rows["Nhóm ngành nghề"] == "Sản xuất hàng thủ công mỹ nghệ"
    assert rows["Gắn với du lịch"] == "Có"
    assert rows["Số hộ"] == "1.500"
    assert rows["Nhu cầu nguyên liệu"] == "Luồng: 1.500,2 tấn/năm"
    assert "" not in rows.values()
    for code in ("craft_village", ">G2<", "commune_centroid", "True", "None"):
        assert code not in page.split("<body>", 1)[1].split("svg", 1)[0] + page.split("</svg>")[-1]
    provenance = _rows(page, "provenance")
    assert provenance["Độ chính xác vị trí"] == "Vị trí gần đúng: tâm xã, ±1,8 km"
    assert _title(page).startswith("Làng <thử> Trà Đông — Làng nghề")
    assert "Làng &lt;thử&gt; Trà Đông" in page  # escaped where it lands


def test_a_village_page_in_english(client: TestClient, village: int) -> None:
    page = _page(client, f"/collections/villages/items/{village}", lang="en")
    rows = _rows(page)
    assert rows["Title"] == "Craft village"
    assert rows["Households"] == "1,500"
    assert rows["Raw-material demand"] == "Luồng bamboo: 1,500.2 t/yr"
    assert _rows(page, "provenance")["Position accuracy"] == (
        "Approximate position: commune centre, ±1.8 km"
    )


def test_a_village_page_links_its_routes_and_the_zones_within_reach(
    client: TestClient, village: int
) -> None:
    page = _page(client, f"/collections/villages/items/{village}")
    routes = page.split('id="routes"', 1)[1].split("</ul>", 1)[0]
    assert "Tuyến thử &lt;b&gt;1&lt;/b&gt;" in routes
    assert re.search(r'href="/collections/routes/items/\d+\?f=html&amp;lang=vi"', routes)
    assert re.search(r'href="/maps/routes/\d+\?lang=vi"', routes)
    zones = page.split('id="zones"', 1)[1].split("</ul>", 1)[0]
    assert "Vùng luồng thử" in zones
    assert "cách 2,1 km" in zones


def test_a_route_page_lists_its_stops_and_links_its_map(
    client: TestClient, session: Session, village: int
) -> None:
    route_id = int(
        session.execute(
            sa.text("SELECT route_id FROM route_stop WHERE village_id = :v"),
            {"v": village},
        ).scalar_one()
    )
    page = _page(client, f"/collections/routes/items/{route_id}")
    assert _title(page).startswith("Tuyến thử <b>1</b> — Tuyến du lịch")
    stops = page.split('id="stops"', 1)[1].split("</ol>", 1)[0]
    assert stops.index("Làng &lt;thử&gt; Trà Đông") < stops.index("Điểm cuối")
    assert f'href="/collections/villages/items/{village}?f=html&amp;lang=vi"' in stops
    assert f'id="route-map" href="/maps/routes/{route_id}?lang=vi"' in page
    rows = _rows(page)
    assert rows["Chủ đề"] == "Di sản nghề"
    assert rows["Phương tiện"] == "Ô tô"
    assert re.fullmatch(r"\d+,\d km", rows["Chiều dài"])


def test_a_404_problem_speaks_vietnamese_when_asked(client: TestClient) -> None:
    asked = client.get("/collections/villages/items/999999", headers={"Accept-Language": "vi"})
    assert asked.status_code == 404
    assert asked.headers["content-type"].startswith("application/problem+json")
    assert asked.headers["content-language"] == "vi"
    body = asked.json()
    assert set(body) >= {"type", "title", "status", "detail"}
    assert body["title"] == "Không tìm thấy"
    assert body["detail"] == "không có đối tượng 999999 trong bộ dữ liệu villages"
    by_param = client.get("/collections/nowhere?lang=vi").json()
    assert by_param["detail"] == "không có bộ dữ liệu 'nowhere'"
    # Clients that ask for nothing keep the English words they match on.
    plain = client.get("/collections/villages/items/999999")
    assert plain.headers["content-language"] == "en"
    assert plain.json()["title"] == "Not Found"
    assert plain.json()["detail"] == "no feature 999999 in villages"


def test_a_400_problem_names_the_constraint_rule_in_vietnamese(client: TestClient) -> None:
    from api.errors import translated_detail

    assert translated_detail("households must be ≥ 0", "vi") == "households phải ≥ 0"
    assert (
        translated_detail("code 'TH-V-001' is already used by another village", "vi")
        == "code 'TH-V-001' đã được dùng cho một làng nghề khác"
    )
    answer = client.get("/collections/villages/items?limit=x", headers={"Accept-Language": "vi"})
    assert answer.status_code == 400
    assert answer.json()["title"] == "Yêu cầu không hợp lệ"
    assert answer.json()["detail"].startswith("limit phải là số nguyên")


def test_the_api_page_describes_every_parameter_in_the_page_language(
    client: TestClient,
) -> None:
    vi = _page(client, "/api")
    assert "số đối tượng bỏ qua (phân trang)" in vi
    assert "bộ lọc CQL2, viết theo filter-lang" in vi
    assert "các đối tượng có households bằng giá trị này" in vi
    assert "features to skip (paging)" not in vi
    assert "Trang chủ" in vi and "Các đối tượng của villages" in vi
    assert "built-in method" not in vi
    # Every parameter row has a description, and on the vi page none is left in English.
    described = re.findall(
        r"<tr><td><code>([^<]*)</code>.*?</td><td>(.*?)</td>", vi.split('id="operations"')[1]
    )
    assert len(described) > 100
    english = {name: words for name, words in described if not words or _english(words)}
    assert english == {}
    en = _page(client, "/api", lang="en")
    assert "features to skip (paging)" in en
    # The JSON document keeps its English descriptions.
    document = client.get("/api?f=json").json()
    limit = next(
        p
        for p in document["paths"]["/collections/villages/items"]["get"]["parameters"]
        if p["name"] == "offset"
    )
    assert limit["description"] == "features to skip (paging)"


def _english(words: str) -> bool:
    marked = re.search(
        "[àáảãạăằắẳẵặâầấẩẫậèéẻẽẹêềếểễệìíỉĩịòóỏõọôồốổỗộơờớởỡợùúủũụưừứửữựỳýỷỹỵđ]",
        words,
        re.IGNORECASE,
    )
    return marked is None


DEVELOPER_WORDS = ("SCHEMATIC", "placeholder", "DOMAIN", "admin_units_legacy", "not stated")
ENGLISH_WORDS = re.compile(r"\b(the|and|of|from|not|with|named|about|approximated)\b")


@pytest.mark.parametrize("collection", ["villages", "material-zones", "routes", "route-stops"])
def test_no_public_page_of_the_demo_shows_developer_notes(
    client: TestClient, collection: str
) -> None:
    listed = client.get(f"/collections/{collection}/items?limit=200").json()["features"]
    demo = [f for f in listed if not str(f["properties"].get("code", "TH-")).startswith("T-")]
    assert demo
    pages = [_page(client, f"/collections/{collection}/items", limit=200)]
    pages += [_page(client, f"/collections/{collection}/items/{f['id']}") for f in demo]
    for page in pages:
        for words in DEVELOPER_WORDS:
            assert words not in page
    for feature in demo:
        for name in ("notes", "note", "description", "geom_source"):
            said = feature["properties"].get(name)
            if said:
                assert not ENGLISH_WORDS.search(said), (feature["properties"].get("code"), said)


def test_the_demo_routes_are_described_in_vietnamese(client: TestClient) -> None:
    routes = client.get("/collections/routes/items?limit=50").json()["features"]
    described = [r["properties"]["description"] for r in routes if r["properties"]["description"]]
    assert len(described) >= 6
    for words in described:
        assert not _english(words) and not ENGLISH_WORDS.search(words), words
    village = next(
        f for f in client.get("/collections/villages/items?code=TH-V-001").json()["features"]
    )
    page = _page(client, f"/collections/villages/items/{village['id']}")
    position = _rows(page, "provenance")["Độ chính xác vị trí"]
    assert position == "Vị trí gần đúng: tâm xã, ±1,8 km"
    zone = client.get("/collections/material-zones/items?code=TH-Z-001").json()["features"][0]
    source = _rows(_page(client, f"/collections/material-zones/items/{zone['id']}"), "provenance")
    assert source["Nguồn vị trí, ranh giới"].startswith("Ranh giới minh họa")


def test_a_zone_page_lists_the_villages_within_reach(client: TestClient) -> None:
    zone = client.get("/collections/material-zones/items?code=TH-Z-009").json()["features"][0]
    page = _page(client, f"/collections/material-zones/items/{zone['id']}")
    villages = page.split('id="villages"', 1)[1].split("</ul>", 1)[0]
    assert re.search(
        r"Nga Thanh \(vùng cói Nga Sơn\)</a> <span class=\"desc\">[^<]*nằm trong vùng", villages
    )
    assert "cách 0,0 km" not in villages
    assert 'id="on-the-map" href="/maps?lang=vi"' in page


def test_a_village_page_changes_its_etag_when_a_route_stops_there(
    client: TestClient, session: Session
) -> None:
    village = factories.make_village(session, at=(105.6, 19.9))
    path = f"/collections/villages/items/{village}?f=html"
    before = client.get(path).headers["etag"]
    assert client.get(path, headers={"If-None-Match": before}).status_code == 304
    route = factories.make_route(session, name="Tuyến mới qua làng")
    factories.make_stop(session, route, 1, at=(105.6, 19.9), village_id=village)
    after = client.get(path, headers={"If-None-Match": before})
    assert after.status_code == 200 and "Tuyến mới qua làng" in after.text
    assert after.headers["etag"] != before
