"""Recording yearly supply figures over HTTP: the feature follows the newest year only."""

from __future__ import annotations

import json
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from geo.store.keys import create_key

VILLAGE = "TH-V-005"  # Nga Thanh, demo sedge demand 85 t in 2025
ZONE = "TH-Z-009"  # Nga Sơn sedge zone, demo capacity 12,800 t in 2025


@pytest.fixture
def keys(session: Session) -> dict[str, str]:
    """A token per role, in the test's rolled-back transaction."""
    conn = session.connection()
    return {
        role: create_key(conn, name=f"figures {role}", role=role)[0]
        for role in ("viewer", "planner", "tourism", "admin")
    }


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _village(session: Session, code: str = VILLAGE) -> Any:
    return session.execute(
        sa.text("SELECT id, version, material_demand_t FROM craft_village WHERE code = :c"),
        {"c": code},
    ).one()


def _zone(session: Session, code: str = ZONE) -> Any:
    return session.execute(
        sa.text("SELECT id, version, annual_capacity_t FROM material_zone WHERE code = :c"),
        {"c": code},
    ).one()


def _counts(session: Session) -> tuple[int, int, int, int]:
    row = session.execute(
        sa.text(
            "SELECT (SELECT count(*) FROM supply_figure), (SELECT count(*) FROM feature_history),"
            " (SELECT sum(version) FROM craft_village), (SELECT sum(version) FROM material_zone)"
        )
    ).one()
    return (row[0], row[1], row[2], row[3])


def test_a_newer_year_updates_the_village_through_the_write_path(
    client: TestClient, session: Session, keys: dict[str, str]
) -> None:
    before = _village(session)
    assert before.material_demand_t["sedge"] == 85
    answer = client.put(
        f"/figures/villages/{VILLAGE}/sedge/2026",
        json={"tonnes": 92.5, "estimate": False, "sources": ["Phiếu điều tra xã Nga Thanh"]},
        headers=_auth(keys["planner"]),
    )
    assert answer.status_code == 201, answer.text
    assert answer.json()["feature_updated"] is True
    assert answer.headers["ETag"] == '"figure-1"'
    after = _village(session)
    assert after.version == before.version + 1
    assert after.material_demand_t["sedge"] == 92.5
    history = session.execute(
        sa.text(
            "SELECT table_name, actor FROM feature_history WHERE (table_name = 'craft_village'"
            " AND feature_id = :v) OR table_name = 'supply_figure' ORDER BY id DESC LIMIT 2"
        ),
        {"v": str(before.id)},
    ).all()
    assert {h.table_name for h in history} == {"craft_village", "supply_figure"}
    assert all(h.actor.startswith("key:") or "figures planner" in h.actor for h in history), history
    # The feature's ETag changed with its version.
    page = client.get(f"/collections/villages/items/{before.id}")
    assert page.headers["ETag"].startswith(f'"v{after.version}')


def test_an_older_year_leaves_the_feature_alone(
    client: TestClient, session: Session, keys: dict[str, str]
) -> None:
    before = _village(session)
    answer = client.put(
        f"/figures/villages/{VILLAGE}/sedge/2020",
        json={"tonnes": 40, "estimate": True, "basis": "Ước tính: 50 hộ × 0,8 t"},
        headers=_auth(keys["admin"]),
    )
    assert answer.status_code == 201, answer.text
    assert answer.json()["feature_updated"] is False
    after = _village(session)
    assert (after.version, after.material_demand_t) == (before.version, before.material_demand_t)
    # Replacing the same year again is 200, not a second row.
    again = client.put(
        f"/figures/villages/{VILLAGE}/sedge/2020",
        json={"tonnes": 41, "estimate": True, "basis": "Ước tính: 50 hộ × 0,82 t"},
        headers=_auth(keys["admin"]),
    )
    assert again.status_code == 200
    assert again.json()["version"] == 2


def test_zone_capacity_follows_and_deleting_the_newest_goes_back(
    client: TestClient, session: Session, keys: dict[str, str]
) -> None:
    before = _zone(session)
    assert before.annual_capacity_t == 12800
    put = client.put(
        f"/figures/zones/{ZONE}/2026",
        json={"tonnes": 11000, "estimate": False, "material": "sedge"},
        headers=_auth(keys["planner"]),
    )
    assert put.status_code == 201, put.text
    assert _zone(session).annual_capacity_t == 11000
    assert _zone(session).version == before.version + 1
    stale = client.delete(
        f"/figures/zones/{ZONE}/2026", headers={**_auth(keys["planner"]), "If-Match": '"figure-9"'}
    )
    assert stale.status_code == 412
    gone = client.delete(
        f"/figures/zones/{ZONE}/2026",
        headers={**_auth(keys["planner"]), "If-Match": put.headers["ETag"]},
    )
    assert gone.status_code == 204
    assert _zone(session).annual_capacity_t == 12800


@pytest.mark.parametrize(
    ("path", "body", "status"),
    [
        ("/figures/villages/TH-V-999/sedge/2026", {"tonnes": 1}, 404),
        (f"/figures/villages/{VILLAGE}/gold/2026", {"tonnes": 1}, 400),
        (f"/figures/villages/{VILLAGE}/sedge/1800", {"tonnes": 1}, 400),
        (f"/figures/villages/{VILLAGE}/sedge/2026", {"tonnes": -1}, 400),
        (f"/figures/villages/{VILLAGE}/sedge/2026", b'{"tonnes": NaN}', 400),
        (f"/figures/villages/{VILLAGE}/sedge/2026", b'{"tonnes": 1e400}', 400),
        (f"/figures/villages/{VILLAGE}/sedge/2026", {"tonnes": "5"}, 400),
        (f"/figures/villages/{VILLAGE}/sedge/2026", {"tonnes": 5, "estimate": True}, 400),
        (f"/figures/villages/{VILLAGE}/sedge/2026", {"tonnes": 5, "estimate": "yes"}, 400),
        (f"/figures/villages/{VILLAGE}/sedge/2026", {"tonnes": 5, "extra": 1}, 400),
        (f"/figures/villages/{VILLAGE}/sedge/2026", b"not json", 400),
        (f"/figures/villages/{VILLAGE}/sedge/abc", {"tonnes": 1}, 400),
        (f"/figures/zones/{ZONE}/2026", {"tonnes": 1, "material": "luong"}, 400),
        ("/figures/zones/TH-Z-999/2026", {"tonnes": 1}, 404),
    ],
)
def test_bad_input_is_a_problem_and_writes_nothing(
    client: TestClient,
    session: Session,
    keys: dict[str, str],
    path: str,
    body: Any,
    status: int,
) -> None:
    before = _counts(session)
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    answer = client.put(
        path, content=raw, headers={**_auth(keys["planner"]), "Content-Type": "application/json"}
    )
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert _counts(session) == before


def test_keys_and_roles(client: TestClient, session: Session, keys: dict[str, str]) -> None:
    path = f"/figures/villages/{VILLAGE}/sedge/2026"
    before = _counts(session)
    assert client.put(path, json={"tonnes": 1}).status_code == 401
    assert client.delete(f"/figures/zones/{ZONE}/2025").status_code == 401
    for role in ("viewer", "tourism"):
        assert client.put(path, json={"tonnes": 1}, headers=_auth(keys[role])).status_code == 403
        assert (
            client.delete(f"/figures/zones/{ZONE}/2025", headers=_auth(keys[role])).status_code
            == 403
        )
    assert _counts(session) == before


def test_list_in_json_html_and_csv(client: TestClient, keys: dict[str, str]) -> None:
    client.put(
        f"/figures/villages/{VILLAGE}/sedge/2026",
        json={"tonnes": 90, "estimate": True, "basis": "<b>Ước tính</b> 100 hộ × 0,9 t"},
        headers=_auth(keys["planner"]),
    )
    listed = client.get("/figures", params={"material": "sedge", "village": VILLAGE})
    assert [f["year"] for f in listed.json()["figures"]] == [2025, 2026]
    page = client.get("/figures", params={"f": "html", "lang": "vi", "material": "sedge"})
    assert page.status_code == 200
    assert "&lt;b&gt;Ước tính&lt;/b&gt; 100 hộ × 0,9 t" in page.text
    assert "<b>Ước tính</b>" not in page.text
    assert "12.800" in page.text  # Vietnamese number format
    english = client.get("/figures", params={"f": "html", "lang": "en", "year": 2025})
    assert "12,800" in english.text and "Estimate" in english.text
    csv_text = client.get("/figures", params={"f": "csv", "zone": ZONE}).text
    assert csv_text.splitlines()[0].startswith("village_code,zone_code,material,year")
    assert f",{ZONE},sedge,2025,12800,true," in csv_text
    assert client.get("/figures", params={"material": "gold"}).status_code == 400


def test_item_pages_show_the_figures(client: TestClient, session: Session) -> None:
    village = _village(session)
    page = client.get(
        f"/collections/villages/items/{village.id}", params={"f": "html", "lang": "vi"}
    )
    assert 'id="figures"' in page.text
    assert "Ước tính" in page.text and "Cói" in page.text
    zone = _zone(session)
    english = client.get(
        f"/collections/material-zones/items/{zone.id}", params={"f": "html", "lang": "en"}
    )
    assert 'id="figures"' in english.text and "12,800" in english.text


def test_deleting_a_village_figure(
    client: TestClient, session: Session, keys: dict[str, str]
) -> None:
    planner = _auth(keys["planner"])
    client.put(f"/figures/villages/{VILLAGE}/sedge/2019", json={"tonnes": 60}, headers=planner)
    client.put(f"/figures/villages/{VILLAGE}/sedge/2027", json={"tonnes": 99}, headers=planner)
    assert _village(session).material_demand_t == {"sedge": 99}
    version = _village(session).version
    # An older year goes without touching the feature.
    assert (
        client.delete(f"/figures/villages/{VILLAGE}/sedge/2019", headers=planner).status_code == 204
    )
    assert _village(session).version == version
    # The newest goes: the feature carries the newest left (the demo's 2025 figure).
    assert (
        client.delete(f"/figures/villages/{VILLAGE}/sedge/2027", headers=planner).status_code == 204
    )
    assert _village(session).material_demand_t == {"sedge": 85}
    assert _village(session).version == version + 1
    assert (
        client.delete(f"/figures/villages/{VILLAGE}/sedge/2027", headers=planner).status_code == 404
    )
    # The last figure of a material goes: the material leaves the village's demand.
    assert (
        client.delete(f"/figures/villages/{VILLAGE}/sedge/2025", headers=planner).status_code == 204
    )
    assert _village(session).material_demand_t is None
