"""Hand-outs as files: GPX 1.1 and KML/KMZ of a designed and an undesigned route
(issue 15 points 5 and 7): schema, round trips through pyogrio, escaping, endpoints, CLI."""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from pathlib import Path

import pyogrio  # type: ignore[import-untyped]
import pytest
from fastapi.testclient import TestClient
from lxml import etree  # type: ignore[import-untyped]
from sqlalchemy.engine import Connection
from typer.testing import CliRunner

from api.cli import app as cli_app
from api.openapi import parameter_text
from geo.io import route_handouts
from geo.io.route_handouts import EXTENSIONS_NS, GPX_NS, KML_NS, PlanStop, RoutePlan
from tests.routes_design.handouts_data import HOSTILE, STOPS, designed_route, plain_route

SCHEMA = etree.XMLSchema(etree.parse(str(Path(__file__).parents[1] / "data" / "gpx-1.1.xsd")))
NS = {"g": GPX_NS, "cm": EXTENSIONS_NS, "k": KML_NS}
PAGE = "http://craftmap.test/maps/routes/1?lang=vi"


def _gpx(conn: Connection, route: int | str, lang: str = "vi") -> bytes:
    return route_handouts.gpx(route_handouts.load_plan(conn, route), page_url=PAGE, lang=lang)


def _read(data: bytes, suffix: str, layer: str, tmp_path: Path) -> object:
    path = tmp_path / f"handout{suffix}"
    path.write_bytes(data)
    return pyogrio.read_dataframe(path, layer=layer)


def test_gpx_validates_against_the_gpx_1_1_schema(connection: Connection) -> None:
    designed = designed_route(connection)
    for route in (designed.id, plain_route(connection)):
        for lang in ("vi", "en"):
            document = etree.fromstring(_gpx(connection, route, lang))
            SCHEMA.assertValid(document)
            assert document.get("version") == "1.1" and document.get("creator") == "craftmap"


def test_gpx_waypoints_and_track_round_trip_through_pyogrio(
    connection: Connection, tmp_path: Path
) -> None:
    designed = designed_route(connection)
    data = _gpx(connection, designed.code)  # by code, as the CLI takes it
    waypoints = _read(data, ".gpx", "waypoints", tmp_path)
    assert list(waypoints["name"]) == designed.names  # order and diacritics
    coordinates = [(g.x, g.y) for g in waypoints.geometry]
    for (lon, lat), (_, (want_lon, want_lat)) in zip(coordinates, STOPS, strict=True):
        assert abs(lon - want_lon) <= 1e-7 and abs(lat - want_lat) <= 1e-7
    tracks = _read(data, ".gpx", "tracks", tmp_path)
    assert len(tracks) == 1
    (segment,) = tracks.geometry.iloc[0].geoms
    vertices = list(segment.coords)
    assert len(vertices) == len(designed.line)
    for got, want in zip(vertices, designed.line, strict=True):
        assert abs(got[0] - want[0]) <= 1e-7 and abs(got[1] - want[1]) <= 1e-7
    # Direction of travel: the track starts at the first stop and ends at the last.
    assert vertices[0] == pytest.approx(STOPS[0][1], abs=1e-7)
    assert vertices[-1] == pytest.approx(STOPS[-1][1], abs=1e-7)


def test_gpx_says_times_dwell_and_legs(connection: Connection) -> None:
    designed = designed_route(connection)
    document = etree.fromstring(_gpx(connection, designed.id))
    waypoints = document.findall("g:wpt", NS)
    assert [w.findtext("g:type", namespaces=NS) for w in waypoints][:2] == ["village", "stop"]
    third = waypoints[2]
    desc = third.findtext("g:desc", namespaces=NS)
    assert "Ngày 1: Đến 10:45, đi 16:45" in desc and "dừng 60 phút" in desc
    assert "đường thẳng — không có đường bộ (không nối được với mạng đường)" in desc
    assert "nghỉ đêm tại đây" in desc and "Không kịp giờ mở cửa" in desc
    ext = third.find("g:extensions", NS)
    assert ext.findtext("cm:dwell_min", namespaces=NS) == "60"
    assert ext.findtext("cm:leg_kind", namespaces=NS) == "geodesic"
    assert ext.findtext("cm:arrive", namespaces=NS) == "10:45"
    assert ext.findtext("cm:day", namespaces=NS) == "1"
    fourth = waypoints[3].find("g:extensions", NS)
    assert fourth.findtext("cm:leg_kind", namespaces=NS) == "boat"
    assert fourth.findtext("cm:day", namespaces=NS) == "2"
    assert fourth.findtext("cm:wait_min", namespaces=NS) == "15"
    assert len(document.findall("g:rte/g:rtept", NS)) == 5
    assert document.find("g:metadata/g:link", NS).get("href") == PAGE
    # 7 decimals: what a GPS keeps to the centimetre.
    assert waypoints[0].get("lon") == "105.9712345" and waypoints[0].get("lat") == "20.0034567"


def test_an_undesigned_route_gives_files_that_say_the_times_are_not_computed(
    connection: Connection, tmp_path: Path
) -> None:
    route = plain_route(connection)
    plan = route_handouts.load_plan(connection, route)
    assert not plan.timed and plan.line_source == "stops"
    document = etree.fromstring(route_handouts.gpx(plan, page_url=PAGE))
    assert "Chưa tính giờ" in document.findtext("g:metadata/g:desc", namespaces=NS)
    for wpt in document.findall("g:wpt", NS):
        assert "Đến" not in wpt.findtext("g:desc", namespaces=NS)
        assert wpt.find("g:extensions/cm:arrive", NS) is None
    english = route_handouts.kml(plan, page_url=PAGE, lang="en")
    assert b"Times not computed" in english
    tracks = _read(route_handouts.gpx(plan, page_url=PAGE), ".gpx", "tracks", tmp_path)
    assert len(list(tracks.geometry.iloc[0].geoms[0].coords)) == 3  # the stops joined


def test_the_track_is_turned_to_the_direction_of_travel() -> None:
    stops = (PlanStop(1, "A", 105.0, 20.0), PlanStop(2, "B", 105.5, 19.5))
    stored_backwards = ((105.5, 19.5), (105.3, 19.8), (105.0, 20.0))
    plan = RoutePlan(1, "T-1", "T", "car", line=stored_backwards, stops=stops)
    document = etree.fromstring(route_handouts.gpx(plan, page_url=PAGE))
    points = [
        (float(p.get("lon")), float(p.get("lat"))) for p in document.iterfind(".//g:trkpt", NS)
    ]
    assert points == list(reversed(stored_backwards))


def test_hostile_names_come_back_as_text(connection: Connection, tmp_path: Path) -> None:
    designed = designed_route(connection, first_name=HOSTILE)
    plan = route_handouts.load_plan(connection, designed.id)
    gpx = route_handouts.gpx(plan, page_url=PAGE)
    assert b"<script>" not in gpx
    document = etree.fromstring(gpx)
    assert document.find("g:wpt", NS).findtext("g:name", namespaces=NS) == HOSTILE
    assert _read(gpx, ".gpx", "waypoints", tmp_path)["name"].iloc[0] == HOSTILE
    kml = route_handouts.kml(plan, page_url=PAGE)
    assert b"<script>" not in kml
    placemark = etree.fromstring(kml).find(".//k:Placemark", NS)
    assert placemark.findtext("k:name", namespaces=NS) == f"1. {HOSTILE}"
    # The balloon is HTML: its text is escaped once more, so it shows, never runs.
    assert "<script>" not in placemark.findtext("k:description", namespaces=NS)


def test_kml_and_kmz_round_trip_through_pyogrio(connection: Connection, tmp_path: Path) -> None:
    designed = designed_route(connection)
    plan = route_handouts.load_plan(connection, designed.id)
    kml = route_handouts.kml(plan, page_url=PAGE)
    kmz = route_handouts.kmz(plan, page_url=PAGE)
    with zipfile.ZipFile(io.BytesIO(kmz)) as archive:
        assert archive.namelist() == ["doc.kml"] and archive.read("doc.kml") == kml
    document = etree.fromstring(kml)
    assert document.tag == f"{{{KML_NS}}}kml"
    straight = document.findall(".//k:Folder", NS)[1].findall("k:Placemark", NS)
    assert [p.findtext("k:styleUrl", namespaces=NS) for p in straight] == ["#straight"] * 2
    for data, suffix in ((kml, ".kml"), (kmz, ".kmz")):
        path = tmp_path / f"route{suffix}"
        path.write_bytes(data)
        layers = [str(name) for name, _ in pyogrio.list_layers(path)]
        # LIBKML: a layer per folder, the document's own placemarks in one named after it.
        assert layers == [plan.name, "Điểm dừng", "Chặng đường thẳng"]
        stops = pyogrio.read_dataframe(path, layer="Điểm dừng")
        assert list(stops["Name"]) == [f"{i}. {n}" for i, n in enumerate(designed.names, 1)]
        assert list(stops["dwell_min"].astype(int)) == [60] * 5
        for geometry, (_, (lon, lat)) in zip(stops.geometry, STOPS, strict=True):
            assert abs(geometry.x - lon) <= 1e-7 and abs(geometry.y - lat) <= 1e-7
        (line,) = pyogrio.read_dataframe(path, layer=plan.name).geometry
        legs = pyogrio.read_dataframe(path, layer="Chặng đường thẳng")
        assert [n.split(" → ")[1] for n in legs["Name"]] == [
            f"3. {designed.names[2]}",
            f"4. {designed.names[3]}",
        ]
        vertices = [c[:2] for c in line.coords]
        assert len(vertices) == len(designed.line)
        for got, want in zip(vertices, designed.line, strict=True):
            assert got == pytest.approx(want, abs=1e-7)


@pytest.mark.parametrize(
    ("fmt", "media_type"),
    [
        ("gpx", "application/gpx+xml"),
        ("kml", "application/vnd.google-earth.kml+xml"),
        ("kmz", "application/vnd.google-earth.kmz"),
    ],
)
def test_the_endpoints_answer_each_format(
    client: TestClient, connection: Connection, fmt: str, media_type: str
) -> None:
    designed = designed_route(connection, code="TH-R-HO 1 Đ")
    answer = client.get(f"/routes/{designed.id}/{fmt}", params={"lang": "en"})
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].split(";")[0] == media_type
    # From the route's code, reduced to characters every file system and header takes.
    assert answer.headers["content-disposition"] == f'attachment; filename="TH-R-HO-1.{fmt}"'
    body = answer.content
    if fmt == "kmz":
        body = zipfile.ZipFile(io.BytesIO(body)).read("doc.kml")
    assert "Làng đá Nhồi".encode() in body and b"Day 1" in body
    assert f"/maps/routes/{designed.id}?lang=en".encode() in body
    by_code = client.get(f"/routes/{designed.code}/{fmt}")
    assert by_code.status_code == 200 and "Ngày 1".encode() in (
        by_code.content
        if fmt != "kmz"
        else zipfile.ZipFile(io.BytesIO(by_code.content)).read("doc.kml")
    )


def test_an_unknown_route_is_a_404_problem(client: TestClient) -> None:
    for fmt in route_handouts.FORMATS:
        answer = client.get(f"/routes/987654321/{fmt}")
        assert answer.status_code == 404
        assert answer.headers["content-type"].startswith("application/problem+json")
        assert answer.json()["status"] == 404


def test_openapi_documents_the_hand_outs(client: TestClient) -> None:
    paths = client.get("/api", params={"f": "json"}).json()["paths"]
    for fmt, media in route_handouts.MEDIA_TYPES.items():
        get = paths[f"/routes/{{routeId}}/{fmt}"]["get"]
        assert media in get["responses"]["200"]["content"]
        lang = next(p for p in get["parameters"] if p["name"] == "lang")
        said = parameter_text(lang["description"])
        assert said is not None and said.vi.startswith("Ngôn ngữ") and said.en.startswith("Lang")


def test_the_cli_writes_each_format(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A demo route (loaded in the shared database): the CLI reads what is committed.
    monkeypatch.setenv("CRAFTMAP_DATABASE_URL", database_url)
    runner = CliRunner()
    for fmt in route_handouts.FORMATS:
        out = tmp_path / f"route.{fmt}"
        result = runner.invoke(
            cli_app,
            [
                "route",
                "export",
                "TH-R-001",
                "--format",
                fmt,
                "--out",
                str(out),
                "--api-root",
                "https://craftmap.example.gov.vn",
            ],
        )
        assert result.exit_code == 0, result.output
        assert out.stat().st_size > 0 and "TH-R-001" in result.output
    SCHEMA.assertValid(etree.parse(str(tmp_path / "route.gpx")))
    assert zipfile.ZipFile(tmp_path / "route.kmz").namelist() == ["doc.kml"]
    missing = runner.invoke(
        cli_app, ["route", "export", "NO-SUCH", "--format", "gpx", "--out", str(tmp_path / "x")]
    )
    assert missing.exit_code == 1 and "no route NO-SUCH" in missing.output
    assert not (tmp_path / "x").exists()
    wrong = runner.invoke(
        cli_app, ["route", "export", "TH-R-001", "--format", "pdf", "--out", str(tmp_path / "y")]
    )
    assert wrong.exit_code == 2


def test_metadata_time_is_utc() -> None:
    plan = RoutePlan(1, "T-1", "T", "car", stops=(PlanStop(1, "A", 105.0, 20.0),))
    when = dt.datetime(2026, 11, 30, 15, 30, tzinfo=dt.timezone(dt.timedelta(hours=7)))
    document = etree.fromstring(route_handouts.gpx(plan, page_url=PAGE, now=when))
    assert document.findtext("g:metadata/g:time", namespaces=NS) == "2026-11-30T08:30:00Z"


def test_the_route_item_page_links_the_hand_outs(
    client: TestClient, connection: Connection
) -> None:
    designed = designed_route(connection)
    for lang, words in (("vi", "Tải về cho hướng dẫn viên"), ("en", "Downloads for the guide")):
        page = client.get(
            f"/collections/routes/items/{designed.id}", params={"f": "html", "lang": lang}
        )
        assert page.status_code == 200
        assert words in page.text
        for fmt in route_handouts.FORMATS:
            assert f'href="/routes/{designed.id}/{fmt}?lang={lang}" download' in page.text


def test_the_overview_card_gives_a_designed_route_its_stored_duration(
    client: TestClient, connection: Connection
) -> None:
    designed_route(connection)  # 1 843 min stored; 65 km at 40 km/h + 300 min would be 6 h 37
    page = client.get("/maps", params={"lang": "vi"}).text
    assert "30 giờ 43 phút" in page


def test_a_hostile_stop_name_is_text_in_the_timetable(
    client: TestClient, connection: Connection
) -> None:
    designed = designed_route(connection, first_name=HOSTILE)
    page = client.get(f"/maps/routes/{designed.id}", params={"lang": "vi"}).text
    assert "<script>alert(1)</script>" not in page
    row = page.split('data-seq="1"')[1].split("</tr>")[0]
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &#34;Trà Đông&#34;" in row or (
        "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;Trà Đông&quot;" in row
    )


def test_stored_notes_are_said_in_the_hand_outs_language() -> None:
    # The designer stores its notes in English; a Vietnamese hand-out says them in Vietnamese.
    stop = PlanStop(
        seq=2,
        name="Làng nón lá Trường Giang",
        lon=105.8,
        lat=19.8,
        leg_kind="geodesic",
        leg_note="no road network is loaded",
        window_problem="arrives 17:40, after closing at 17:00",
    )
    vi = route_handouts.stop_description(stop, "vi", timed=True)
    en = route_handouts.stop_description(stop, "en", timed=True)
    assert "chưa nạp mạng lưới đường bộ" in vi and "no road network" not in vi
    assert "đến lúc 17:40, sau giờ đóng cửa 17:00" in vi and "after closing" not in vi
    assert "no road network is loaded" in en and "after closing at 17:00" in en


def test_the_order_modules_problem_is_said_in_vietnamese() -> None:
    from geo.kernel.route_notes import note_text

    assert note_text("no known way from the previous stop", "vi") == (
        "không có đường đi từ điểm dừng trước"
    )


def test_the_route_item_page_links_its_timetable_and_villages_on_the_way(
    client: TestClient, connection: Connection
) -> None:
    designed = designed_route(connection)
    for lang, words in (
        ("vi", ("Lịch trình theo đường bộ", "Làng nghề dọc tuyến")),
        ("en", ("Timetable along the roads", "Villages on the way")),
    ):
        page = client.get(
            f"/collections/routes/items/{designed.id}", params={"f": "html", "lang": lang}
        )
        assert page.status_code == 200
        assert all(word in page.text for word in words)
        for path in ("design", "corridor"):
            href = f"/routes/{designed.id}/{path}?f=html&amp;lang={lang}"
            assert f'href="{href}"' in page.text
            linked = client.get(href.replace("&amp;", "&"))
            assert linked.status_code == 200, linked.text
            assert linked.headers["content-type"].startswith("text/html")
