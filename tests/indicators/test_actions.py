"""Records that need action: every list on a dataset of the test's own, listed by hand.

The shared database holds the demo too, so each list is read for the test's own records
(by id); the demo's rows may be in the lists beside them. Today is 2026-03-01.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from geo.kernel.errors import InvalidInput
from geo.store import models
from geo.store.db import set_actor
from geo.workflows.programme_actions import (
    ActionItem,
    ActionLists,
    actions_document,
    records_needing_action,
)
from tests.factories import ACTOR, make_admin_unit, make_village, make_zone, unique_code

TODAY = dt.date(2026, 3, 1)


@dataclass(frozen=True)
class Data:
    conn: Connection
    ids: dict[str, int]
    names: dict[tuple[str, int], str]  # (collection, id) -> key
    lists: ActionLists


def _stat(conn: Connection, village_id: int, year: int, **facts: Any) -> None:
    conn.execute(
        sa.insert(models.table_of(models.VillageStat)).values(
            village_id=village_id, year=year, actor=ACTOR, **facts
        )
    )


@pytest.fixture(scope="module")
def data(engine: Engine) -> Iterator[Data]:
    conn = engine.connect()
    transaction = conn.begin()
    try:
        yield _build(conn)
    finally:
        transaction.rollback()
        conn.close()


def _build(conn: Connection) -> Data:
    set_actor(conn, ACTOR)
    province, other = unique_code("P", 16), unique_code("Q", 16)
    new_one, kept = unique_code("C", 16), unique_code("C", 16)
    make_admin_unit(conn, code=new_one, name="Xã Mới Một", parent_code=province)
    make_admin_unit(conn, code=kept, name="Xã Giữ Tên", parent_code=province)
    # A commune of that name exists, but in another province: no help to province P's files.
    make_admin_unit(conn, code=unique_code("C", 16), name="Xã Cũ Khác", parent_code=other)
    ids: dict[str, int] = {}

    def village(key: str, **properties: Any) -> None:
        properties.setdefault("kind", "craft_village")
        ids[key] = make_village(conn, name=f"Làng hành động {key}", **properties)

    # -- abolished names
    village("A1", legacy_commune="Xã Cũ Một", legacy_district="Huyện Cũ",
            commune_code=new_one, commune_name="Xã Mới Một",
            recognition_date="2019-03-01", env_plan=True)  # fmt: skip
    village("A2", legacy_commune="xã  giữ   tên", commune_code=kept, commune_name="Xã Giữ Tên",
            recognition_year=2020, env_plan=True)  # fmt: skip
    village("A3", legacy_commune="Xã Cũ Khác", commune_code=new_one, commune_name="Xã Mới Một",
            recognition_year=2018, env_plan=True)  # fmt: skip
    village("A4", legacy_district="Huyện Cũ", recognition_date="2025-08-01", env_plan=True)
    village("A5", legacy_district="Huyện Cũ", env_plan=True)
    village("A6", legacy_district="Huyện Cũ", recognition_year=2010, status="revoked")
    village("A7", legacy_district="Huyện Cũ", recognition_year=2025, env_plan=True)
    # -- environmental plans
    village("E1", env_plan=True)
    _stat(conn, ids["E1"], 2024, env_plan=True)
    _stat(conn, ids["E1"], 2025, env_plan=False)
    village("E2", env_plan=False)
    _stat(conn, ids["E2"], 2024, env_plan=False)
    _stat(conn, ids["E2"], 2025, env_plan=True)
    village("E3", kind="traditional_craft_village", env_plan=False)
    village("E4")
    village("E5", kind="traditional_craft")
    village("E6", status="lost")
    village("E7", env_plan=True)
    _stat(conn, ids["E7"], 2024, env_plan=False)
    _stat(conn, ids["E7"], 2025, workers=10)
    # -- at risk
    village("R1", kind="traditional_craft", status="at_risk")
    village("R2", status="at_risk", env_plan=True)
    # -- certificates
    for key, expiry in (("Z1", "2026-02-01"), ("Z2", "2026-08-28"), ("Z3", "2026-08-29")):
        ids[key] = make_zone(
            conn,
            name=f"Vùng {key}",
            certification_scheme="VietGAP",
            certificate_no=f"VG-{key}",
            certificate_expiry=expiry,
        )
    ids["Z4"] = make_zone(conn, name="Vùng Z4")
    ids["Z5"] = make_zone(conn, name="Vùng Z5", certificate_expiry="2026-03-01")
    names = {("material-zones" if k[0] == "Z" else "villages", v): k for k, v in ids.items()}
    return Data(conn, ids, names, records_needing_action(conn, today=TODAY))


def _mine(data: Data, kind: str, prefix: str) -> list[ActionItem]:
    """The items of ``kind`` about the test's own records whose key starts with ``prefix``."""
    return [
        item
        for item in data.lists.lists[kind]
        if (item.collection, item.feature_id) in data.names and _key(data, item).startswith(prefix)
    ]


def _key(data: Data, item: ActionItem) -> str:
    return data.names[(item.collection, item.feature_id)]


def test_every_kind_present(data: Data) -> None:
    assert list(data.lists.lists) == [
        "abolished_name",
        "no_env_plan",
        "at_risk",
        "expiring_certificate",
    ]
    assert data.lists.today == TODAY


def test_abolished_names(data: Data) -> None:
    items = _mine(data, "abolished_name", "A")
    by_key = {_key(data, item): item for item in items}
    # A1: old commune (no "Xã Cũ Một" today) and old district; A3: its commune's name
    # lives on only in another province; A5: no date; A7: 2025 without a date.
    # Not: A2 (its commune kept its name, written with other spacing and case), A4
    # (recognised after 1/7/2025), A6 (revoked).
    assert sorted(by_key) == ["A1", "A3", "A5", "A7"]
    a1 = by_key["A1"]
    assert (a1.collection, a1.code.startswith("T-V"), a1.due) == ("villages", True, None)
    assert a1.detail == (
        "recognition names Xã Cũ Một and Huyện Cũ, abolished 1/7/2025; now Xã Mới Một"
    )
    assert a1.detail_vi == (
        "hồ sơ công nhận ghi Xã Cũ Một và Huyện Cũ, đã bãi bỏ từ 1/7/2025; nay thuộc Xã Mới Một"
    )
    assert by_key["A3"].detail == "recognition names Xã Cũ Khác, abolished 1/7/2025; now Xã Mới Một"
    assert by_key["A5"].detail == (
        "recognition names Huyện Cũ, abolished 1/7/2025; present commune not recorded"
    )
    assert by_key["A5"].detail_vi.endswith("chưa ghi xã, phường hiện nay")
    # Sorted by name.
    assert [_key(data, item) for item in items] == ["A1", "A3", "A5", "A7"]


def test_no_env_plan(data: Data) -> None:
    items = {_key(data, i): i for i in _mine(data, "no_env_plan", "")}
    # E1: latest figure (2025) false; E3: no figures, record false; E4: nothing recorded;
    # E7: its latest figure holding a value (2024) is false, 2025's row has none.
    # Not: E2 (2025 true), E5 (a craft), E6 (lost); the A* and R2 villages' records say
    # true; R1 is a craft.
    assert sorted(items) == ["E1", "E3", "E4", "E7"]
    assert items["E1"].detail == "no environmental protection plan (2025 figures)"
    assert items["E1"].detail_vi == "chưa có phương án bảo vệ môi trường (số liệu năm 2025)"
    assert items["E7"].detail == "no environmental protection plan (2024 figures)"
    assert items["E3"].detail == "no environmental protection plan (village record)"
    # The unknown one is marked apart.
    assert [key for key, item in items.items() if item.unknown] == ["E4"]
    assert items["E4"].detail == "no environmental protection plan recorded (figures or record)"
    assert items["E4"].detail_vi.startswith("chưa ghi nhận phương án bảo vệ môi trường")


def test_at_risk(data: Data) -> None:
    items = {_key(data, i): i for i in _mine(data, "at_risk", "R")}
    assert sorted(items) == ["R1", "R2"]
    assert items["R1"].detail == "Traditional craft at risk of being lost"
    assert items["R1"].detail_vi == "Nghề truyền thống có nguy cơ mai một"
    assert items["R2"].detail == "Craft village at risk of being lost"


def test_expiring_certificates(data: Data) -> None:
    items = _mine(data, "expiring_certificate", "Z")
    # Z1 expired 28 days ago; Z5 expires today (no number); Z2 on the 180th day (included).
    # Not: Z3 (181 days), Z4 (no certificate). Sorted by expiry.
    assert [_key(data, item) for item in items] == ["Z1", "Z5", "Z2"]
    z1, z5, z2 = items
    assert z1.collection == "material-zones"
    assert (z1.due, z2.due) == (dt.date(2026, 2, 1), dt.date(2026, 8, 28))
    assert z1.detail == "certificate VG-Z1 expired on 2026-02-01, 28 days ago"
    assert z1.detail_vi == "chứng chỉ VG-Z1 đã hết hạn ngày 01/02/2026, cách đây 28 ngày"
    assert z2.detail == "certificate VG-Z2 expires on 2026-08-28, in 180 days"
    assert z2.detail_vi == "chứng chỉ VG-Z2 hết hạn ngày 28/08/2026, còn 180 ngày"
    assert z5.detail == "certificate expires on 2026-03-01, in 0 days"
    document = actions_document(data.lists)
    assert document["today"] == "2026-03-01"
    found = [
        entry
        for entry in document["lists"]["expiring_certificate"]
        if (entry["collection"], entry["feature_id"]) in data.names
    ]
    assert [entry["due"] for entry in found] == ["2026-02-01", "2026-03-01", "2026-08-28"]


def test_expiring_window_and_errors(data: Data) -> None:
    narrow = records_needing_action(data.conn, today=TODAY, expiring_within_days=0)
    keys = [
        data.names[(item.collection, item.feature_id)]
        for item in narrow.lists["expiring_certificate"]
        if (item.collection, item.feature_id) in data.names
    ]
    assert keys == ["Z1", "Z5"]
    with pytest.raises(InvalidInput):
        records_needing_action(data.conn, today=TODAY, expiring_within_days=-1)
