"""A village's yearly facts over HTTP and in the workflow: history, roles, all or nothing."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from geo.io import village_stats as files
from geo.store.keys import create_key
from geo.workflows import village_stats as workflow

VILLAGE = "TH-V-005"


@pytest.fixture
def keys(session: Session) -> dict[str, str]:
    """A token per role, in the test's rolled-back transaction."""
    conn = session.connection()
    return {
        role: create_key(conn, name=f"stats {role}", role=role)[0]
        for role in ("viewer", "planner", "tourism", "admin")
    }


@pytest.fixture(autouse=True)
def no_recorded_years(session: Session) -> None:
    """The villages used here start with no yearly rows (undone with the test's transaction),
    whatever the shared database holds."""
    session.execute(
        sa.text(
            "DELETE FROM village_stat WHERE village_id IN (SELECT id FROM craft_village"
            " WHERE code IN ('TH-V-003', 'TH-V-005', 'TH-V-006'))"
        )
    )


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _village_id(session: Session, code: str = VILLAGE) -> int:
    return int(
        session.execute(
            sa.text("SELECT id FROM craft_village WHERE code = :c"), {"c": code}
        ).scalar_one()
    )


def _csv(text: str) -> dict[str, tuple[str, bytes, str]]:
    return {"file": ("s.csv", text.encode(), "text/csv")}


def _history(session: Session) -> list[Any]:
    return session.execute(
        sa.text(
            "SELECT action, actor, before, after FROM feature_history"
            " WHERE table_name = 'village_stat' ORDER BY id"
        )
    ).all()


def _stat_count(session: Session) -> int:
    return int(session.execute(sa.text("SELECT count(*) FROM village_stat")).scalar_one())


def test_put_records_history_and_an_unchanged_put_writes_nothing(
    client: TestClient, session: Session, keys: dict[str, str]
) -> None:
    vid = _village_id(session)
    url = f"/collections/villages/items/{vid}/stats/2025"
    before = len(_history(session))
    body = {
        "workers": 1200,
        "trained_workers": 700,
        "env_plan": False,
        "production_value_vnd": 12_345_678_901_234_567_890,
        "sources": ["Báo cáo 12/BC-UBND xã Nga Thanh"],
    }
    first = client.put(url, json=body, headers=_auth(keys["admin"]))
    assert first.status_code == 201, first.text
    assert first.headers["ETag"] == '"stat-1"'
    got = first.json()
    assert got["production_value_vnd"] == 12_345_678_901_234_567_890  # exact, not a float
    assert got["env_plan"] is False and got["ip_protected"] is None and "actor" not in got
    history = _history(session)
    assert len(history) == before + 1
    assert history[-1].action == "create" and "stats admin" in history[-1].actor
    # The same body again: 200, no new version, no history row.
    again = client.put(url, json=body, headers=_auth(keys["admin"]))
    assert again.status_code == 200 and again.json()["changed"] is False
    assert again.headers["ETag"] == '"stat-1"' and len(_history(session)) == before + 1
    # A change with a stale If-Match is refused; with the current one it is kept.
    changed = {**body, "env_plan": True}
    stale = client.put(url, json=changed, headers={**_auth(keys["admin"]), "If-Match": '"stat-9"'})
    assert stale.status_code == 412
    assert stale.headers["content-type"].startswith("application/problem+json")
    ok = client.put(url, json=changed, headers={**_auth(keys["admin"]), "If-Match": '"stat-1"'})
    assert ok.status_code == 200 and ok.headers["ETag"] == '"stat-2"'
    update = _history(session)[-1]
    assert update.action == "update"
    assert update.before["env_plan"] is False and update.after["env_plan"] is True
    # Delete with a stale tag: 412; with the right one: 204 and a delete in the history.
    gone = client.delete(url, headers={**_auth(keys["admin"]), "If-Match": '"stat-1"'})
    assert gone.status_code == 412
    gone = client.delete(url, headers={**_auth(keys["admin"]), "If-Match": '"stat-2"'})
    assert gone.status_code == 204
    assert _history(session)[-1].action == "delete"
    assert client.delete(url, headers=_auth(keys["admin"])).status_code == 404


def test_roles_and_missing_things(
    client: TestClient, session: Session, keys: dict[str, str]
) -> None:
    vid = _village_id(session)
    url = f"/collections/villages/items/{vid}/stats/2025"
    count = _stat_count(session)
    assert client.put(url, json={"workers": 1}).status_code == 401
    for role in ("viewer", "planner", "tourism"):
        answer = client.put(url, json={"workers": 1}, headers=_auth(keys[role]))
        assert answer.status_code == 403, (role, answer.text)
        assert client.delete(url, headers=_auth(keys[role])).status_code == 403
    assert client.delete(url).status_code == 401
    upload = {"file": ("s.csv", b"village_code,year\nTH-V-005,2025\n", "text/csv")}
    assert client.post("/collections/villages/stats:import", files=upload).status_code == 401
    assert (
        client.post(
            "/collections/villages/stats:import", files=upload, headers=_auth(keys["planner"])
        ).status_code
        == 403
    )
    assert _stat_count(session) == count
    admin = _auth(keys["admin"])
    for path in (
        "/collections/villages/items/999999999/stats/2025",
        "/collections/villages/items/abc/stats/2025",
    ):
        assert client.put(path, json={"workers": 1}, headers=admin).status_code == 404
    assert client.get("/collections/villages/items/999999999/stats").status_code == 404
    bad_year = client.put(
        f"/collections/villages/items/{vid}/stats/1800", json={"workers": 1}, headers=admin
    )
    assert bad_year.status_code == 400


@pytest.mark.parametrize(
    "body",
    [
        {"workers": -1},
        {"workers": 1.5},
        {"workers": "12"},
        {"workers": True},
        {"env_plan": "yes"},
        {"env_plan": 2},
        {"workers": 10, "trained_workers": 11},
        {"establishments": 3, "ocop_establishments": 4},
        {"ocop_products": 40_000},
        {"production_value_vnd": 10**20},
        {"worker": 5},
        {"sources": "one"},
        {"sources": ["a;b"]},
        [1, 2],
    ],
)
def test_bad_bodies_are_400_problems_and_write_nothing(
    client: TestClient, session: Session, keys: dict[str, str], body: Any
) -> None:
    vid = _village_id(session)
    count, history = _stat_count(session), len(_history(session))
    answer = client.put(
        f"/collections/villages/items/{vid}/stats/2025", json=body, headers=_auth(keys["admin"])
    )
    assert answer.status_code == 400, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert (_stat_count(session), len(_history(session))) == (count, history)


def test_import_is_all_or_nothing_and_names_unknown_villages(
    client: TestClient, session: Session, keys: dict[str, str]
) -> None:
    admin = _auth(keys["admin"])
    url = "/collections/villages/stats:import"
    count, history = _stat_count(session), len(_history(session))
    good = "village_code,year,workers,env_plan,sources\nTH-V-005,2024,100,có,Sở Công Thương\n"
    bad_row = good + "TH-V-006,2024,abc,không,\n"
    answer = client.post(url, files=_csv(bad_row), headers=admin)
    assert answer.status_code == 400 and "line 3: workers" in answer.json()["detail"]
    unknown = good + "TH-V-999,2024,5,,\nNO-SUCH,2023,,,\n"
    answer = client.post(url, files=_csv(unknown), headers=admin)
    assert answer.status_code == 400
    detail = answer.json()["detail"]
    assert "'TH-V-999'" in detail and "'NO-SUCH'" in detail and "line 4" in detail
    # A row the database refuses (trained > the recorded workers) undoes the rows before it.
    vid = _village_id(session, "TH-V-006")
    client.put(f"/collections/villages/items/{vid}/stats/2024", json={"workers": 10}, headers=admin)
    count, history = _stat_count(session), len(_history(session))
    clash = "village_code,year,trained_workers\nTH-V-005,2024,5\nTH-V-006,2024,50\n"
    answer = client.post(url, files={"file": ("s.csv", clash.encode(), "text/csv")}, headers=admin)
    assert answer.status_code == 400, answer.text
    assert "line 3" in answer.json()["detail"] and "trained_workers" in answer.json()["detail"]
    assert (_stat_count(session), len(_history(session))) == (count, history)
    # The good file: inserted, then unchanged on a second load (no history rows).
    done = client.post(url, files={"file": ("s.csv", good.encode(), "text/csv")}, headers=admin)
    assert done.status_code == 200, done.text
    assert done.json()["inserted"] == 1
    after = len(_history(session))
    again = client.post(url, files={"file": ("s.csv", good.encode(), "text/csv")}, headers=admin)
    assert again.json() | {"years": None} == {
        "rows": 1,
        "inserted": 0,
        "updated": 0,
        "unchanged": 1,
        "villages": 1,
        "years": None,
        "dry_run": False,
    }
    assert len(_history(session)) == after


def test_workflow_import_keeps_facts_of_left_out_columns(session: Session) -> None:
    conn = session.connection()
    rows = files.read_csv_text("village_code,year,workers,env_plan\nTH-V-005,2023,40,false\n")
    workflow.import_rows(conn, rows, actor="test:facts")
    partial = files.read_csv_text("village_code,year,tourism_linked\nTH-V-005,2023,yes\n")
    summary = workflow.import_rows(conn, partial, actor="test:facts")
    assert (summary.inserted, summary.updated) == (0, 1)
    year = [s for s in workflow.years_of(conn, _village_id(session)) if s["year"] == 2023][0]
    assert (year["workers"], year["env_plan"], year["tourism_linked"]) == (40, False, True)
    assert year["actor"] == "test:facts"
    dry = workflow.import_rows(
        conn,
        files.read_csv_text("village_code,year,workers\nTH-V-005,2023,41\n"),
        actor="x",
        dry_run=True,
    )
    assert dry.updated == 1
    year = [s for s in workflow.years_of(conn, _village_id(session)) if s["year"] == 2023][0]
    assert year["workers"] == 40


def test_pages_show_facts_in_words_and_the_village_links_them(
    client: TestClient, session: Session, keys: dict[str, str]
) -> None:
    vid = _village_id(session)
    client.put(
        f"/collections/villages/items/{vid}/stats/2024",
        json={
            "workers": 1500,
            "production_value_vnd": 12_500_000_000,
            "env_plan": False,
            "sources": ["<script>alert(1)</script>", "Sở Công Thương"],
        },
        headers=_auth(keys["admin"]),
    )
    item = client.get(f"/collections/villages/items/{vid}?f=html&lang=vi")
    assert f'href="/collections/villages/items/{vid}/stats?f=html&amp;lang=vi"' in item.text
    vi = client.get(f"/collections/villages/items/{vid}/stats?f=html&lang=vi")
    assert vi.status_code == 200 and vi.headers["content-type"].startswith("text/html")
    assert "12.500.000.000" in vi.text and "1.500" in vi.text
    assert "chưa có số liệu" in vi.text and ">Không<" in vi.text
    assert "Có phương án bảo vệ môi trường" in vi.text
    assert "<script>alert" not in vi.text and "&lt;script&gt;alert(1)&lt;/script&gt;" in vi.text
    en = client.get(f"/collections/villages/items/{vid}/stats?f=html&lang=en")
    assert "12,500,000,000" in en.text and "no data" in en.text and ">No<" in en.text
    data = client.get(f"/collections/villages/items/{vid}/stats").json()
    assert data["stats"][-1]["ip_protected"] is None and "actor" not in data["stats"][-1]
    csv_answer = client.get(f"/collections/villages/items/{vid}/stats?f=csv")
    assert csv_answer.content.startswith("\ufeff".encode())  # Excel reads it as UTF-8
    back = files.read_csv_bytes(csv_answer.content)[-1]
    assert back.facts["production_value_vnd"] == 12_500_000_000
    assert back.sources == ("<script>alert(1)</script>", "Sở Công Thương")
    xlsx = client.get(f"/collections/villages/items/{vid}/stats?f=xlsx")
    assert xlsx.headers["content-type"].startswith("application/vnd.openxmlformats")
    assert files.read_xlsx_bytes(xlsx.content)[-1] == files.StatRow(
        back.village_code, back.year, back.facts, back.sources, back.line
    )
    assert client.get(f"/collections/villages/items/{vid}/stats?f=xml").status_code == 400
    assert client.get(f"/collections/villages/items/{vid}/stats?evil=1").status_code == 400


def test_the_api_documents_the_routes_in_both_languages(client: TestClient) -> None:
    document = client.get("/api?f=json").json()
    paths = document["paths"]
    assert {"get"} <= set(paths["/collections/villages/items/{featureId}/stats"])
    assert {"put", "delete"} <= set(paths["/collections/villages/items/{featureId}/stats/{year}"])
    body = paths["/collections/villages/stats:import"]["post"]["requestBody"]
    assert "multipart/form-data" in body["content"]
    vi = client.get("/api?f=html&lang=vi").text
    assert "Nhập số liệu hằng năm từ tệp CSV hoặc XLSX (quản trị)" in vi
    assert "Số liệu chương trình theo năm của một làng nghề" in vi
    assert "năm của số liệu (1990–2100)" in vi


def test_the_page_shows_each_change_and_names_the_writer_only_to_key_holders(
    client: TestClient, session: Session, keys: dict[str, str]
) -> None:
    vid = _village_id(session, "TH-V-003")
    url = f"/collections/villages/items/{vid}/stats"
    admin = _auth(keys["admin"])
    client.put(f"{url}/2022", json={"env_plan": False, "workers": 90}, headers=admin)
    client.put(f"{url}/2022", json={"env_plan": True, "workers": 90}, headers=admin)
    client.put(f"{url}/2021", json={"workers": 80}, headers=admin)
    client.delete(f"{url}/2021", headers=admin)
    anonymous = client.get(url).json()["history"]
    assert [(h["action"], h["year"]) for h in anonymous] == [
        ("delete", 2021),
        ("create", 2021),
        ("update", 2022),
        ("create", 2022),
    ]
    assert anonymous[2]["changes"] == {"env_plan": [False, True]}
    assert {h["actor"] for h in anonymous} == {"API key (admin)"}
    named = client.get(url, headers=_auth(keys["viewer"])).json()["history"]
    assert all("stats admin" in h["actor"] for h in named)
    assert client.get(url, headers=_auth("cm_bad_token")).status_code == 401
    vi = client.get(f"{url}?f=html&lang=vi").text
    assert "sửa năm 2022" in vi and "Có phương án bảo vệ môi trường: Không → Có" in vi
    assert "xóa năm 2021" in vi and "stats admin" not in vi
    en = client.get(f"{url}?f=html&lang=en").text
    assert "changed year 2022" in en and "Has an environmental protection plan: No → Yes" in en
