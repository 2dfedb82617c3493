"""The programme's indicators on a small dataset, every figure computed by hand.

The dataset (one per module, in a transaction rolled back at its end) is a test province
``P`` of its own with three communes (C1 Xã Một, C2 Xã Hai with villages, C3 Xã Ấp Ba with
none), three old districts (D1, D2 with villages, D3 with none) and a test programme whose
targets cover every indicator, so the demo's Thanh Hóa rows never enter the figures. Today
is 2026-03-01: 2026 is the current year, whose facts fall back to the village record.

Records (kind: cv craft village, tcv traditional craft village, tc traditional craft):

| rec | kind | commune | legacy district     | recognised     | status   | restored |
|-----|------|---------|---------------------|----------------|----------|----------|
| V1  | cv   | C1      | "Huyện Thử Một"     | 2015           | active   |          |
| V2  | tcv  | C1      | "huyện  thử   một"  | 2022           | active   |          |
| V3  | tc   | C2      | "Thử Hai"           | 2023           | active   |          |
| V4  | tc   | C2      | "Huyện Thử Hai"     | 2010           | restored | 2024     |
| V5  | cv   | C2      | "Huyện Thử Hai"     | 2005           | restored | (none)   |
| V6  | tcv  | C1      | "Huyện Thử Một"     | 2021           | revoked  |          |
| V7  | cv   | C2      | "Huyện Thử Hai"     | 2026           | active   |          |
| V8  | cv   | C1      | (none)              | (unknown)      | active   |          |
| V9  | tc   | C1      | (none)              | date 2021-05-10| active   |          |

In scope in 2025 (not revoked, recognised by 2025 or unknown): V1 V2 V3 V4 V5 V8 V9 = 7;
villages V1 V2 V5 V8 = 4; crafts V3 V4 V9 = 3; traditional villages V2 = 1. V6 (revoked)
and V7 (recognised in 2026) carry 2025 figures that must not count.

village_stat 2025 (blank = NULL = unknown; V5, V9 have no 2025 row; est/oest =
establishments / with OCOP products, oprod = OCOP products, wrk/trn = workers / trained,
prod = production value, inc = monthly income in millions, exp = exports):

| rec | eff | tour | est | oest | oprod | ip | env | wrk  | trn  | prod    | inc | exp   |
|-----|-----|------|-----|------|-------|----|-----|------|------|---------|-----|-------|
| V1  | T   | T    | 10  | 4    | 2     | T  | T   | 100  | 60   | 161 051 | 6   | 500   |
| V2  | F   | T    | 5   | 1    | 0     | F  | F   | 10   | 9    | 9 000   | 9   |       |
| V3  | T   |      |     |      |       |    |     | 50   |      | 32 000  |     | 200   |
| V4  |     | F    | 4   | 4    |       |    |     | 20   | 20   |         | 5   |       |
| V8  | T   | T    | 1   | 0    |       | T  |     | 30   | 15   | 50 000  |     |       |
| V6  | T   | T    | 10  | 10   | 3     | T  | T   | 1000 | 1000 | 9 999   | 9   | 9 999 |
| V7  | T   | T    |     |      |       | T  | T   |      |      |         |     |       |

village_stat 2020: V1 prod 100 000, income 4 M, workers 100; V2 income 3 M, workers 10;
V3 prod 1 000; V5 prod 40 000; V8 income 2 M, workers 30; V6 prod 5 000, income 1 M,
workers 1000. village_stat 2024: V1 eff T, V2 eff T. village_stat 2026: V1 eff F.
No row for 2023 or 2021-2022: a year with no data.

Village records (their own fields, read only for the current year 2026): V1 eff T, tour T,
ip T, env T, ocop_products 2, workers 100, trained 60; V2 tour T; V7 eff T, tour T.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from geo.analysis import indicators as ind
from geo.io import programmes
from geo.kernel.errors import InvalidInput, NotFound
from geo.store import models
from geo.store.db import set_actor
from geo.workflows.indicators import (
    IndicatorReport,
    IndicatorValue,
    indicator_report,
    report_document,
    unit_frame,
)
from tests.factories import ACTOR, make_admin_unit, make_village, square, unique_code
from tests.test_cli import invoke_cli

TODAY = dt.date(2026, 3, 1)
M = 1_000_000

# The test programme: every indicator, with notes that choose the kinds counted (4182's
# wording: "crafts ..." counts crafts and villages, "villages ..." villages only).
PROGRAMME_ROWS = """\
indicator,year,comparison,value,unit,note,sources
crafts_restored_or_recognised,2025,at_least,1,count,crafts restored or newly recognised,T
villages_restored_or_recognised,2025,at_least,2,count,villages restored or newly recognised,T
villages_tourism_linked,2025,at_least,2,count,crafts or villages developed together with tourism,T
share_effective,2025,more_than,50,percent,crafts and villages operating effectively,T
share_workers_trained,2025,at_least,80,percent,workers trained,T
share_ocop,2025,at_least,50,percent,rural craft establishments with OCOP-ranked products,T
share_ip_protected,2025,at_least,30,percent,villages with IP-protected products,T
production_value_growth,2025,about,10,percent_per_year,average growth of production value,T
income_vs_2020,2025,at_least,2,ratio,average income of workers against the 2020 level,T
share_env_plan,2025,at_least,100,percent,"villages with an environmental plan (from S13)",T
crafts_restored_or_recognised,2030,at_least,10,count,crafts restored or newly recognised,T
villages_restored_or_recognised,2030,at_least,5,count,villages restored or newly recognised,T
villages_tourism_linked,2030,about,10,count,crafts or villages developed together with tourism,T
share_effective,2030,more_than,90,percent,crafts and villages operating effectively,T
share_workers_trained,2030,at_least,100,percent,workers trained,T
share_ocop,2030,at_least,70,percent,rural craft establishments with OCOP-ranked products,T
share_ip_protected,2030,at_least,50,percent,villages with IP-protected products,T
production_value_growth,2030,about,10,percent_per_year,average growth of production value,T
share_villages_ocop,2030,at_least,50,percent,traditional villages with OCOP-ranked products,T
exports_usd,2030,about,1000,usd,craft exports,T
crafts_restored,2030,at_least,2,count,crafts restored,T
villages_restored,2030,at_least,2,count,villages restored,T
crafts_recognised,2030,at_least,2,count,crafts newly recognised,T
villages_recognised,2030,at_least,2,count,villages newly recognised,T
"""


@dataclass(frozen=True)
class Data:
    conn: Connection
    programme: str
    province: str
    communes: dict[str, str]  # C1.. -> code
    districts: dict[str, str]  # D1.. -> code
    ids: dict[str, int]  # V1.. -> id
    reports: dict[int, IndicatorReport]


def _stat(conn: Connection, village_id: int, year: int, **facts: Any) -> None:
    conn.execute(
        sa.insert(models.table_of(models.VillageStat)).values(
            village_id=village_id, year=year, actor=ACTOR, **facts
        )
    )


@pytest.fixture(scope="module")
def data(engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Data]:
    conn = engine.connect()
    transaction = conn.begin()
    try:
        yield _build(conn, tmp_path_factory.mktemp("indicators"))
    finally:
        transaction.rollback()
        conn.close()


def _build(conn: Connection, folder: Path) -> Data:
    set_actor(conn, ACTOR)
    province = unique_code("P", 16)
    code = f"T-{uuid.uuid4().hex[:8]}/QĐ-UBND"
    path = folder / "programme.csv"
    path.write_text(
        f"# code: {code}\n# title: Kế hoạch thử nghiệm\n# level: province\n"
        f"# province_code: {province}\n" + PROGRAMME_ROWS,
        encoding="utf-8",
    )
    programmes.load_programme(conn, path, actor=ACTOR)
    # A province unit of the test's own (no boundary: the province rules stay off).
    make_admin_unit(conn, code=province, name="Tỉnh Thử", level="province")
    communes = {}
    for n, (name, lon) in enumerate(
        (("Xã Một", 105.50), ("Xã Hai", 105.60), ("Xã Ấp Ba", 105.70)), start=1
    ):
        communes[f"C{n}"] = code_ = unique_code("C", 16)
        make_admin_unit(
            conn, code=code_, name=name, parent_code=province, geometry=square(lon, 19.80, 0.05)
        )
    districts = {}
    for n, name in enumerate(("Huyện Thử Một", "Huyện Thử Hai", "Huyện Thử Ba"), start=1):
        districts[f"D{n}"] = code_ = unique_code("D", 16)
        make_admin_unit(
            conn,
            code=code_,
            name=name,
            scheme="legacy",
            level="district",
            parent_code=province,
            valid_to="2025-06-30",
        )
    at = {"C1": (105.52, 19.82), "C2": (105.62, 19.82)}

    def village(key: str, kind: str, commune: str, **properties: Any) -> None:
        ids[key] = make_village(
            conn,
            at=at[commune],
            name=f"Làng thử {key}",
            kind=kind,
            commune_code=communes[commune],
            **properties,
        )

    ids: dict[str, int] = {}
    village(
        "V1",
        "craft_village",
        "C1",
        legacy_district="Huyện Thử Một",
        recognition_year=2015,
        operating_effectively=True,
        tourism_linked=True,
        ip_protected=True,
        env_plan=True,
        ocop_products=2,
        workers=100,
        trained_workers=60,
    )
    village(
        "V2",
        "traditional_craft_village",
        "C1",
        legacy_district="huyện  thử   một",
        recognition_year=2022,
        tourism_linked=True,
    )
    village("V3", "traditional_craft", "C2", legacy_district="Thử Hai", recognition_year=2023)
    village(
        "V4",
        "traditional_craft",
        "C2",
        legacy_district="Huyện Thử Hai",
        recognition_year=2010,
        status="restored",
        restored_year=2024,
    )
    village(
        "V5",
        "craft_village",
        "C2",
        legacy_district="Huyện Thử Hai",
        recognition_year=2005,
        status="restored",
    )
    village(
        "V6",
        "traditional_craft_village",
        "C1",
        legacy_district="Huyện Thử Một",
        recognition_year=2021,
        status="revoked",
    )
    village(
        "V7",
        "craft_village",
        "C2",
        legacy_district="Huyện Thử Hai",
        recognition_year=2026,
        operating_effectively=True,
        tourism_linked=True,
    )
    village("V8", "craft_village", "C1")
    village("V9", "traditional_craft", "C1", recognition_date="2021-05-10")

    v = ids
    _stat(conn, v["V1"], 2025, operating_effectively=True, tourism_linked=True, establishments=10,
          ocop_establishments=4, ocop_products=2, ip_protected=True, env_plan=True, workers=100,
          trained_workers=60, production_value_vnd=161_051, avg_income_vnd_month=6 * M,
          exports_usd=500)  # fmt: skip
    _stat(conn, v["V2"], 2025, operating_effectively=False, tourism_linked=True, establishments=5,
          ocop_establishments=1, ocop_products=0, ip_protected=False, env_plan=False, workers=10,
          trained_workers=9, production_value_vnd=9_000, avg_income_vnd_month=9 * M)  # fmt: skip
    _stat(conn, v["V3"], 2025, operating_effectively=True, workers=50,
          production_value_vnd=32_000, exports_usd=200)  # fmt: skip
    _stat(conn, v["V4"], 2025, tourism_linked=False, establishments=4, ocop_establishments=4,
          workers=20, trained_workers=20, avg_income_vnd_month=5 * M)  # fmt: skip
    _stat(conn, v["V8"], 2025, operating_effectively=True, tourism_linked=True, establishments=1,
          ocop_establishments=0, ip_protected=True, workers=30, trained_workers=15,
          production_value_vnd=50_000)  # fmt: skip
    _stat(conn, v["V6"], 2025, operating_effectively=True, tourism_linked=True, establishments=10,
          ocop_establishments=10, ocop_products=3, ip_protected=True, env_plan=True, workers=1000,
          trained_workers=1000, production_value_vnd=9_999, avg_income_vnd_month=9 * M,
          exports_usd=9_999)  # fmt: skip
    _stat(conn, v["V7"], 2025, operating_effectively=True, tourism_linked=True, ip_protected=True,
          env_plan=True)  # fmt: skip
    _stat(conn, v["V1"], 2020, production_value_vnd=100_000, avg_income_vnd_month=4 * M,
          workers=100)  # fmt: skip
    _stat(conn, v["V2"], 2020, avg_income_vnd_month=3 * M, workers=10)
    _stat(conn, v["V3"], 2020, production_value_vnd=1_000)
    _stat(conn, v["V5"], 2020, production_value_vnd=40_000)
    _stat(conn, v["V8"], 2020, avg_income_vnd_month=2 * M, workers=30)
    _stat(conn, v["V6"], 2020, production_value_vnd=5_000, avg_income_vnd_month=1 * M,
          workers=1000)  # fmt: skip
    _stat(conn, v["V1"], 2024, operating_effectively=True)
    _stat(conn, v["V2"], 2024, operating_effectively=True)
    _stat(conn, v["V1"], 2026, operating_effectively=False)

    reports = {
        year: indicator_report(conn, programme=code, year=year, today=TODAY)
        for year in (2023, 2025, 2026)
    }
    return Data(conn, code, province, communes, districts, ids, reports)


def _is(
    got: IndicatorValue,
    value: float | None,
    numerator: float | None,
    denominator: float | None,
    in_scope: int,
    with_data: int,
    from_record: int = 0,
) -> None:
    assert (got.in_scope, got.with_data, got.missing, got.from_record) == (
        in_scope,
        with_data,
        in_scope - with_data,
        from_record,
    ), got
    for name, want in (("value", value), ("numerator", numerator), ("denominator", denominator)):
        have = getattr(got, name)
        assert (have is None) == (want is None), (name, got)
        if want is not None:
            assert have == pytest.approx(want), (name, got)


def _statuses(got: IndicatorValue) -> list[tuple[int, str, float | None]]:
    return [(check.year, check.status, check.expected) for check in got.targets]


# -- the province in 2025 ------------------------------------------------------------------
def test_province_2025_every_indicator_by_hand(data: Data) -> None:
    p = data.reports[2025].province
    assert list(p) == [
        "crafts_restored_or_recognised",
        "villages_restored_or_recognised",
        "villages_tourism_linked",
        "share_effective",
        "share_workers_trained",
        "share_ocop",
        "share_ip_protected",
        "production_value_growth",
        "income_vs_2020",
        "share_env_plan",
        "share_villages_ocop",
        "exports_usd",
        "crafts_restored",
        "villages_restored",
        "crafts_recognised",
        "villages_recognised",
    ]
    # Crafts V3 V4 V9: V3 recognised 2023, V4 restored 2024, V9 recognised by date in 2021:
    # 3 of 3. 2025 target ≥ 1: met. 2030 target ≥ 10: expected 10 × 5/10 = 5 > 3: behind.
    _is(p["crafts_restored_or_recognised"], 3, 3, None, 3, 3)
    assert _statuses(p["crafts_restored_or_recognised"]) == [
        (2025, "met", None),
        (2030, "behind", 5.0),
    ]
    # Villages V1 V2 V5 V8: V2 recognised 2022 counts; V1 (2015, not restored) is known not
    # to; V5 is restored with no year and V8's recognition year is unknown: missing 2.
    # 1 < 2: missed; 2030 ≥ 5: expected 2.5 > 1: behind.
    _is(p["villages_restored_or_recognised"], 1, 1, None, 4, 2)
    assert _statuses(p["villages_restored_or_recognised"]) == [
        (2025, "missed", None),
        (2030, "behind", 2.5),
    ]
    # "crafts or villages": all 7. tourism T: V1 V2 V8; F: V4; unknown: V3 V5 V9 (missing
    # 3, not "no"). V7's T is from before its recognition, V6 is revoked. 3 ≥ 2: met;
    # 2030 about 10: expected 5 > 3: behind.
    _is(p["villages_tourism_linked"], 3, 3, None, 7, 4)
    assert _statuses(p["villages_tourism_linked"]) == [(2025, "met", None), (2030, "behind", 5.0)]
    # "crafts and villages": all 7. eff known V1 T, V2 F, V3 T, V8 T: 3/4 = 75 %, missing V4
    # V5 V9. (Counting the missing as "no" would give 3/7 = 42.9 %, missed.) 75 > 50: met;
    # 2030 more than 90: behind.
    _is(p["share_effective"], 75.0, 3, 4, 7, 4)
    assert _statuses(p["share_effective"]) == [(2025, "met", None), (2030, "behind", None)]
    # Both workers and trained: V1 100/60, V2 10/9, V4 20/20, V8 30/15; V3 has workers only.
    # Σ trained 104 / Σ workers 160 = 65 %. 65 < 80: missed; < 100: behind.
    _is(p["share_workers_trained"], 65.0, 104, 160, 7, 4)
    assert _statuses(p["share_workers_trained"]) == [(2025, "missed", None), (2030, "behind", None)]
    # Both counts: V1 4/10, V2 1/5, V4 4/4, V8 0/1: Σ 9 / Σ 20 = 45 %. (The mean of the
    # per-village shares, (40 + 20 + 100 + 0) / 4 = 40 %, weighs a 1-establishment village
    # like a 10-establishment one.) 45 < 50: missed; < 70: behind.
    _is(p["share_ocop"], 45.0, 9, 20, 7, 4)
    assert _statuses(p["share_ocop"]) == [(2025, "missed", None), (2030, "behind", None)]
    # "villages with ...": V1 V2 V5 V8. ip V1 T, V2 F, V8 T, V5 unknown: 2/3 = 66.67 %.
    # ≥ 30: met; ≥ 50 already: on track.
    _is(p["share_ip_protected"], 200 / 3, 2, 3, 4, 3)
    assert _statuses(p["share_ip_protected"]) == [(2025, "met", None), (2030, "on_track", None)]
    # Panel with a value in 2020 and 2025: V1 100 000 → 161 051, V3 1 000 → 32 000 (V2 and V8
    # have no 2020 value, V5 no 2025 one): (193 051 / 101 000)^(1/5) − 1 = 13.84 %/yr.
    # Naive: mean of per-village rates (10 % and 100 %) = 55 %/yr; sums over different sets
    # (252 051 over every 2025 value / 141 000 over every 2020 value)^(1/5) − 1 = 12.32 %.
    # about 10 (≥ 9): met; on track for 2030.
    _is(p["production_value_growth"], 13.833512372533585, 193_051, 101_000, 7, 2)
    assert _statuses(p["production_value_growth"]) == [
        (2025, "met", None),
        (2030, "on_track", None),
    ]
    # Panel with income and workers both years: V1 (6 M × 100; 4 M × 100), V2 (9 M × 10;
    # 3 M × 10). Worker-weighted means 690 M / 110 = 6 272 727 and 430 M / 110 = 3 909 091:
    # ratio 1.6047. Unweighted: 7.5 M / 3.5 M = 2.1429 would say met; ≥ 2: missed.
    _is(p["income_vs_2020"], 690 / 430, 690 * M / 110, 430 * M / 110, 7, 2)
    assert _statuses(p["income_vs_2020"]) == [(2025, "missed", None)]
    # Villages: env V1 T, V2 F; V5 V8 unknown: 1/2 = 50 % < 100: missed.
    _is(p["share_env_plan"], 50.0, 1, 2, 4, 2)
    assert _statuses(p["share_env_plan"]) == [(2025, "missed", None)]
    # Traditional villages: V2 only (V6 revoked), 0 OCOP products: a real 0 %, not missing.
    _is(p["share_villages_ocop"], 0.0, 0, 1, 1, 1)
    assert _statuses(p["share_villages_ocop"]) == [(2030, "behind", None)]
    # "craft exports": all 7; known V1 500, V3 200: 700 (a lower bound, 5 missing). A
    # yearly flow, not a count: compared with the target, about 1000 (≥ 900): behind.
    _is(p["exports_usd"], 700, 700, None, 7, 2)
    assert _statuses(p["exports_usd"]) == [(2030, "behind", None)]
    # crafts_restored: V4 (2024); V3 V9 not restored: 1 of 3 known; 2030 ≥ 2: expected 1.
    _is(p["crafts_restored"], 1, 1, None, 3, 3)
    assert _statuses(p["crafts_restored"]) == [(2030, "on_track", 1.0)]
    # villages_restored: none; V5 restored without a year: missing 1. 0 < 1: behind.
    _is(p["villages_restored"], 0, 0, None, 4, 3)
    assert _statuses(p["villages_restored"]) == [(2030, "behind", 1.0)]
    # crafts_recognised: V3 (2023), V9 (2021 by date); V4 (2010) not: 2 of 3.
    _is(p["crafts_recognised"], 2, 2, None, 3, 3)
    assert _statuses(p["crafts_recognised"]) == [(2030, "on_track", 1.0)]
    # villages_recognised: V2 (2022); V1 V5 known not; V8 unknown: 1, missing 1.
    _is(p["villages_recognised"], 1, 1, None, 4, 3)
    assert _statuses(p["villages_recognised"]) == [(2030, "on_track", 1.0)]


def test_naive_methods_give_other_numbers(data: Data) -> None:
    """The hand test's naive figures, computed here from the same rows, differ."""
    p = data.reports[2025].province
    naive_rates = ((161_051 / 100_000) ** 0.2 - 1 + (32_000 / 1_000) ** 0.2 - 1) / 2 * 100
    naive_sets = ((252_051 / 141_000) ** 0.2 - 1) * 100
    assert naive_rates == pytest.approx(55.0)
    assert naive_sets == pytest.approx(12.31916403146145)
    assert p["production_value_growth"].value == pytest.approx(13.833512372533585)
    unweighted = ((6 + 9) / 2) / ((4 + 3) / 2)
    assert unweighted == pytest.approx(2.142857142857143)
    assert p["income_vs_2020"].value == pytest.approx(1.6046511627906976)
    assert p["income_vs_2020"].targets[0].status == "missed"  # the naive 2.14 would be met


# -- units -----------------------------------------------------------------------------------
def test_communes_2025_by_hand(data: Data) -> None:
    units = {u.code: u for u in data.reports[2025].units["commune"]}
    # Only the test province's communes, every one of them, sorted by name in dictionary
    # order ("Ấp" reads as "Ap"; byte order would put it after "Một").
    assert set(units) == set(data.communes.values())
    names = [u.name for u in data.reports[2025].units["commune"]]
    assert names == ["Xã Ấp Ba", "Xã Hai", "Xã Một"]
    c1, c2, c3 = (units[data.communes[k]] for k in ("C1", "C2", "C3"))
    # C1: V1 V2 V8 V9 (V6 revoked). C2: V3 V4 V5 (V7 recognised 2026). C3: none.
    assert (c1.villages, c2.villages, c3.villages) == (4, 3, 0)
    assert (c1.scheme, c1.level) == ("test-factory", "commune")
    # C1 eff: V1 T, V2 F, V8 T, V9 unknown: 2/3; more than 50: met, 2030: behind.
    _is(c1.values["share_effective"], 200 / 3, 2, 3, 4, 3)
    assert _statuses(c1.values["share_effective"]) == [(2025, "met", None), (2030, "behind", None)]
    # C2 eff: V3 T; V4 V5 unknown: 1/1 = 100 %.
    _is(c2.values["share_effective"], 100.0, 1, 1, 3, 1)
    # Trained: C1 V1 60/100, V2 9/10, V8 15/30 = 84/140 = 60 %; C2 V4 20/20 = 100 %.
    _is(c1.values["share_workers_trained"], 60.0, 84, 140, 4, 3)
    _is(c2.values["share_workers_trained"], 100.0, 20, 20, 3, 1)
    # Counts per unit carry no targets (the province's): C1 tourism V1 V2 V8 = 3; C2 V4 F
    # known, V3 V5 unknown: 0 with 2 missing.
    _is(c1.values["villages_tourism_linked"], 3, 3, None, 4, 3)
    _is(c2.values["villages_tourism_linked"], 0, 0, None, 3, 1)
    assert c1.values["villages_tourism_linked"].targets == ()
    # Exports are a national figure: no per-unit target either (the province checks it).
    assert c1.values["exports_usd"].targets == ()
    assert c1.values["exports_usd"].value == 500  # V1's; V2 V8 V9 unknown
    # Growth: C1 V1 alone 10 %/yr; C2 V3 alone 100 %/yr.
    _is(c1.values["production_value_growth"], 10.0, 161_051, 100_000, 4, 1)
    _is(c2.values["production_value_growth"], 100.0, 32_000, 1_000, 3, 1)
    # C3 has no villages: every value None, nothing missing, shares' targets no_data.
    for value in c3.values.values():
        _is(value, None, None, None, 0, 0)
        assert all(check.status == "no_data" for check in value.targets)
    assert _statuses(c3.values["share_effective"]) == [
        (2025, "no_data", None),
        (2030, "no_data", None),
    ]


def test_old_districts_match_by_name(data: Data) -> None:
    units = {u.code: u for u in data.reports[2025].units["district"]}
    assert set(units) == set(data.districts.values())
    names = [u.name for u in data.reports[2025].units["district"]]
    assert names == ["Huyện Thử Ba", "Huyện Thử Hai", "Huyện Thử Một"]
    d1, d2, d3 = (units[data.districts[k]] for k in ("D1", "D2", "D3"))
    # D1 "Huyện Thử Một": V1 and V2 (written "huyện  thử   một"); V6 revoked.
    # D2 "Huyện Thử Hai": V3 ("Thử Hai"), V4, V5; V7 not yet recognised. D3: none.
    assert (d1.villages, d2.villages, d3.villages) == (2, 3, 0)
    assert d1.scheme == "legacy" and d1.level == "district"
    # D1 eff: V1 T, V2 F = 50 %: not more than 50, missed.
    _is(d1.values["share_effective"], 50.0, 1, 2, 2, 2)
    assert _statuses(d1.values["share_effective"])[0] == (2025, "missed", None)
    _is(d2.values["share_effective"], 100.0, 1, 1, 3, 1)
    assert all(value.value is None for value in d3.values.values())


def test_unit_frame(data: Data) -> None:
    report = data.reports[2025]
    frame = unit_frame(data.conn, report, level="commune", indicator="share_effective")
    assert frame.crs is not None and frame.crs.to_epsg() == 4326
    rows = frame.set_index("code")
    c1, c3 = data.communes["C1"], data.communes["C3"]
    assert rows.loc[c1, "value"] == pytest.approx(200 / 3)
    # The nearest target in 2025 is 2025's: met; C3 no data.
    assert rows.loc[c1, "status"] == "met"
    assert (rows.loc[c3, "villages"], rows.loc[c3, "status"]) == (0, "no_data")
    assert pd.isna(rows.loc[c3, "value"])
    assert rows.loc[c1, "geometry"].geom_type == "MultiPolygon"
    # Districts have no boundary here: no geometry rather than an error.
    districts = unit_frame(data.conn, report, level="district", indicator="share_effective")
    assert len(districts) == 3 and districts.geometry.isna().all()
    with pytest.raises(InvalidInput):
        unit_frame(data.conn, report, level="province", indicator="share_effective")
    with pytest.raises(InvalidInput):
        unit_frame(data.conn, report, level="commune", indicator="no_such")


# -- other years ---------------------------------------------------------------------------
def test_a_year_with_no_data(data: Data) -> None:
    """2023 has no village_stat row and is not the current year: the facts are None."""
    p = data.reports[2023].province
    # In scope 2023: V1 V2 V3 V4 V5 V8 V9 (V3 recognised 2023). No facts: all missing.
    for code in ("share_effective", "share_workers_trained", "share_ocop",
                 "production_value_growth", "income_vs_2020", "exports_usd",
                 "villages_tourism_linked"):  # fmt: skip
        _is(p[code], None, None, None, 7, 0)
        assert {check.status for check in p[code].targets} == {"no_data"}, code
    # The record-based counts still hold: crafts V3 (2023) V9 (2021); V4 restored 2024 is
    # later (known, not counted): 2 of 3. 2025 target still ahead: expected 1 × 3/5 = 0.6,
    # on track; 2030: 10 × 3/10 = 3 > 2, behind.
    _is(p["crafts_restored_or_recognised"], 2, 2, None, 3, 3)
    assert _statuses(p["crafts_restored_or_recognised"]) == [
        (2025, "on_track", 0.6),
        (2030, "behind", 3.0),
    ]


def test_current_year_falls_back_to_the_record(data: Data) -> None:
    """2026 is today's year: a fact missing from village_stat comes from the record."""
    p = data.reports[2026].province
    # In scope 2026: 2025's seven and V7 (recognised 2026) = 8.
    # eff: V1's 2026 row says F (it wins over the record's T); V7 has no row, its record T
    # (from the record); V8's 2025 T is not carried forward: 1/2 = 50 %, 1 from the record.
    _is(p["share_effective"], 50.0, 1, 2, 8, 2, from_record=1)
    # tourism: V1 (row without it: record T), V2 (record T), V7 (record T): 3, all from
    # the records; the others unknown.
    _is(p["villages_tourism_linked"], 3, 3, None, 8, 3, from_record=3)
    # Trained: V1's record 60/100 = 60 %.
    _is(p["share_workers_trained"], 60.0, 60, 100, 8, 1, from_record=1)
    # Villages restored or recognised: V2 (2022), V7 (2026); V1 known; V5 V8 missing.
    _is(p["villages_restored_or_recognised"], 2, 2, None, 5, 3)
    # No production value in 2026 (no record field): no growth.
    _is(p["production_value_growth"], None, None, None, 8, 0)
    # After 2025 the 2025 target is decided: 50 % is not more than 50.
    assert _statuses(p["share_effective"])[0] == (2025, "missed", None)


def test_series_and_years(data: Data) -> None:
    report = data.reports[2025]
    # Years with rows (2020, 2024, 2025, 2026) and the current year.
    assert report.years_with_data == (2020, 2024, 2025, 2026)
    # eff per year: 2020 no figure; 2024 V1 T, V2 T = 100 %; 2025 75 %; 2026 50 %.
    assert report.series["share_effective"] == [
        (2020, None),
        (2024, 100.0),
        (2025, 75.0),
        (2026, 50.0),
    ]
    # Growth needs a year after 2020.
    assert report.series["production_value_growth"][0] == (2020, None)
    assert report.series["production_value_growth"][2][1] == pytest.approx(13.833512372533585)
    document = report_document(report)
    assert json.loads(json.dumps(document))["province"]["share_effective"]["value"] == 75.0
    assert document["series"]["share_effective"][1] == [2024, 100.0]


def test_programme_and_year_errors(data: Data) -> None:
    with pytest.raises(NotFound):
        indicator_report(data.conn, programme="no-such/QĐ", year=2025, today=TODAY)
    for year in (1999, 2101):
        with pytest.raises(InvalidInput):
            indicator_report(data.conn, programme=data.programme, year=year, today=TODAY)


def test_national_programme_covers_every_village(data: Data) -> None:
    """801/QĐ-TTg counts every village of the database, the test's ones with the demo's."""
    report = indicator_report(data.conn, programme="801/QĐ-TTg", year=2025, today=TODAY)
    mine = indicator_report(data.conn, programme=data.programme, year=2025, today=TODAY)
    # Its share_villages_ocop over traditional villages includes V2 (0 OCOP products).
    assert report.province["share_villages_ocop"].in_scope >= 1
    assert (
        report.province["villages_recognised"].in_scope
        > mine.province["villages_recognised"].in_scope
    )
    assert report.province_code is None


# -- pure rules --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "target", "year", "status", "expected"),
    [
        (None, ind.Target("x", 2025, "at_least", 5, "count"), 2025, "no_data", None),
        (5.0, ind.Target("x", 2025, "at_least", 5, "count"), 2025, "met", None),
        (5.0, ind.Target("x", 2025, "more_than", 5, "count"), 2026, "missed", None),
        (9.0, ind.Target("x", 2025, "about", 10, "percent_per_year"), 2025, "met", None),
        (8.9, ind.Target("x", 2025, "about", 10, "percent_per_year"), 2025, "missed", None),
        # Pro-rata path of a count: 2024 toward 10 in 2030: 10 × 4/10 = 4.
        (4.0, ind.Target("x", 2030, "at_least", 10, "count"), 2024, "on_track", 4.0),
        (3.0, ind.Target("x", 2030, "at_least", 10, "count"), 2024, "behind", 4.0),
        # A share ahead of its year is compared with the target itself.
        (79.0, ind.Target("x", 2030, "at_least", 80, "percent"), 2024, "behind", None),
        (81.0, ind.Target("x", 2030, "more_than", 80, "percent"), 2024, "on_track", None),
    ],
)
def test_check_target(
    value: float | None, target: ind.Target, year: int, status: str, expected: float | None
) -> None:
    check = ind.check_target(value, target, year)
    assert (check.status, check.expected) == (status, expected)


def test_scope_kinds_follow_the_note() -> None:
    tourism = "villages_tourism_linked"
    assert ind.scope_kinds(tourism, "villages developed together with tourism") == ind.VILLAGES
    assert ind.scope_kinds(tourism, "crafts or villages developed together") == ind.ALL_KINDS
    assert ind.scope_kinds("share_env_plan", "villages with a plan (from S13)") == ind.VILLAGES
    assert ind.scope_kinds("share_workers_trained", "workers trained") == ind.ALL_KINDS
    assert ind.scope_kinds("crafts_restored", None) == ind.CRAFTS
    assert ind.scope_kinds("share_villages_ocop", "anything") == ind.TRADITIONAL_VILLAGES


# -- CLI -----------------------------------------------------------------------------------------
def test_cli_indicators(database_url: str, engine: Engine) -> None:
    env = {"DATABASE_URL": database_url}
    table = invoke_cli("indicators", "--year", "2025", env=env)
    lines = table.stdout.splitlines()
    assert lines[0].startswith("4182/QĐ-UBND - 2025")
    assert any(line.startswith("share_effective") for line in lines)
    as_json = json.loads(invoke_cli("indicators", "--year", "2025", "--json", env=env).stdout)
    with engine.connect() as conn:
        report = indicator_report(conn, programme=None, year=2025, today=dt.date.today())
    assert as_json == json.loads(json.dumps(report_document(report)))
    national = invoke_cli("indicators", "--year", "2025", "--programme", "801/QĐ-TTg", env=env)
    assert national.stdout.startswith("801/QĐ-TTg - 2025")
    for args, message in (
        (("--year", "1999"), "year must be from 2000 to 2100"),
        (("--year", "2025", "--programme", "nope"), "no programme 'nope'"),
    ):
        result = invoke_cli("indicators", *args, env=env, check=False)
        assert result.returncode == 1 and message in result.stderr
        assert "Traceback" not in result.stderr
