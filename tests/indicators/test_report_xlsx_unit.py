"""The annual report's XLSX writer on a hand-built report (no database): typed cells,
percent as fractions, inert record texts (issue 16 point 4)."""

from __future__ import annotations

import datetime as dt
import io
import time
from types import SimpleNamespace as N

import openpyxl
import pytest

from geo.io import report_xlsx

HOSTILE = '=HYPERLINK("http://evil.example","<script>alert(1)</script>")'


def _value(code: str, unit: str, value: float | None, missing: int = 0) -> N:
    return N(
        indicator=code,
        unit=unit,
        value=value,
        numerator=None,
        denominator=None,
        in_scope=4,
        with_data=4 - missing,
        missing=missing,
        from_record=0,
        targets=(
            N(
                year=2025,
                comparison="at_least",
                target=80.0,
                unit=unit,
                status="missed",
                expected=None,
            ),
            N(
                year=2030,
                comparison="at_least",
                target=100.0,
                unit=unit,
                status="behind",
                expected=84.0,
            ),
        ),
    )


def _report() -> N:
    province = {
        "share_workers_trained": _value("share_workers_trained", "percent", 62.5, missing=2),
        "villages_tourism_linked": _value("villages_tourism_linked", "count", 3),
        "share_ocop": _value("share_ocop", "percent", None, missing=4),
    }
    commune = N(
        level="commune",
        scheme="NQ1686/2025",
        code="38001",
        name=HOSTILE,
        villages=0,
        values={k: _value(k, v.unit, None, 0) for k, v in province.items()},
    )
    return N(
        programme_code="4182/QĐ-UBND",
        programme_title="Kế hoạch Thanh Hóa",
        year=2026,
        province_code="38",
        province=province,
        units={"commune": [commune], "district": []},
        years_with_data=(2025, 2026),
        series={"share_workers_trained": [(2025, 50.0), (2026, 62.5)]},
    )


def _actions() -> N:
    item = N(
        kind="at_risk",
        collection="villages",
        feature_id=7,
        code="+SUM(A1)",
        name="<script>alert(1)</script>",
        detail="at risk",
        detail_vi="có nguy cơ",
        due=dt.date(2027, 3, 1),
    )
    return N(today=dt.date(2026, 11, 30), lists={"at_risk": [item], "no_env_plan": []})


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_cells_are_typed_and_record_texts_inert(lang: str) -> None:
    body = report_xlsx.workbook(
        _report(), _actions(), lang=lang, generated_at=dt.datetime(2026, 11, 30, 9, 0)
    )
    book = openpyxl.load_workbook(io.BytesIO(body))
    assert len(book.sheetnames) == 5
    summary = book.worksheets[0]
    assert summary.freeze_panes == "D7"
    rows = {row[1].value: row for row in summary.iter_rows(min_row=7)}
    trained = rows["share_workers_trained"]
    assert trained[4].value == pytest.approx(0.625) and trained[4].data_type == "n"
    assert trained[4].number_format == "0.0%"
    assert trained[9].value == 2  # villages lacking data
    assert rows["villages_tourism_linked"][4].value == 3
    assert rows["share_ocop"][4].value is None  # unknown is empty, never 0
    communes = book.worksheets[1]
    name = communes.cell(row=7, column=2)
    assert name.value == HOSTILE and name.data_type == "s" and name.quotePrefix
    actions = book.worksheets[3]
    assert actions.cell(row=7, column=4).value == "+SUM(A1)"
    assert actions.cell(row=7, column=4).data_type == "s"
    assert actions.cell(row=7, column=7).value == dt.datetime(2027, 3, 1)
    series = book.worksheets[4]
    assert [c.value for c in series[8]][:2] == [2026, pytest.approx(0.625)]


def test_the_same_report_gives_the_same_file() -> None:
    # Stamped with the report's time, not the clock: HEAD and GET give one length.
    made = dt.datetime(2026, 11, 30, 9, 0)
    first = report_xlsx.workbook(_report(), _actions(), lang="vi", generated_at=made)
    time.sleep(1.1)
    again = report_xlsx.workbook(_report(), _actions(), lang="vi", generated_at=made)
    assert len(first) == len(again)
    properties = openpyxl.load_workbook(io.BytesIO(again)).properties
    assert properties.modified == made and properties.creator == "craftmap"
