"""Yearly-facts files without a database: reading, refusing, writing back the same values."""

from __future__ import annotations

import io
import zipfile

import openpyxl
import pytest

from geo.io import village_stats as files
from geo.kernel.errors import InvalidInput, LimitExceeded

BIG = 98_765_432_109_876_543_210 // 10  # 19 digits: past a double's exact range

RECORDS = [
    {
        "village_code": "TH-V-005",
        "year": 2025,
        "production_value_vnd": BIG,
        "avg_income_vnd_month": 4_500_000,
        "workers": 1200,
        "trained_workers": 800,
        "operating_effectively": True,
        "tourism_linked": False,
        "establishments": 310,
        "ocop_establishments": 12,
        "ocop_products": 3,
        "ip_protected": None,
        "env_plan": None,
        "exports_usd": 2_500_000,
        "sources": ["Báo cáo số 12/BC-UBND xã Nga Thanh", "Phiếu điều tra “chiếu cói”"],
    },
    {
        "village_code": "TH-V-006",
        "year": 2024,
        **dict.fromkeys(files.FACTS),
        "workers": 0,
        "env_plan": False,
        "sources": ['=HYPERLINK("http://evil")', "+cmd|' /C calc'!A0", "Sở Công Thương"],
    },
]


def _as_records(rows: list[files.StatRow]) -> list[dict[str, object]]:
    return [
        {
            "village_code": r.village_code,
            "year": r.year,
            **r.facts,
            "sources": list(r.sources or ()),
        }
        for r in rows
    ]


def test_csv_round_trip_keeps_unknowns_big_numbers_and_diacritics() -> None:
    text = files.to_csv(RECORDS)
    # Formula-like texts are written inert for a spreadsheet…
    assert "'=HYPERLINK" in text
    back = files.read_csv_text(text)
    # …and read back as the texts they were; unknown stays unknown, 0 and false stay.
    assert _as_records(back) == RECORDS
    assert back[0].facts["production_value_vnd"] == BIG
    assert back[1].facts["workers"] == 0 and back[1].facts["env_plan"] is False
    assert back[1].facts["ip_protected"] is None
    # With a BOM (Excel's "CSV UTF-8") it reads the same.
    assert files.read_csv_bytes(("\ufeff" + text).encode()) == back


def test_xlsx_round_trip_keeps_unknowns_big_numbers_and_texts() -> None:
    data = files.to_xlsx(RECORDS)
    sheet = openpyxl.load_workbook(io.BytesIO(data)).active
    assert sheet is not None
    # The formula-like source is a text cell, never a formula.
    assert all(cell.data_type != "f" for row in sheet.iter_rows() for cell in row)
    back = files.read_xlsx_bytes(data)
    assert _as_records(back) == RECORDS
    assert back[0].facts["production_value_vnd"] == BIG


def test_spellings_of_yes_no_and_numbers() -> None:
    text = (
        "village_code;year;workers;production_value_vnd;env_plan;ip_protected;"
        "tourism_linked;operating_effectively;sources\n"
        "TH-V-001;2025;1.500;12.500.000.000;Có;KHÔNG;khong;YES;Nguồn A; Nguồn B\n"
        "TH-V-002;2025;1500,0;12 500 000;co;no;0;1;\n"
        "TH-V-003;2025;;;;;;;\n"
    )
    # Written by a Vietnamese Excel: ';' between cells; the last sources run into extra
    # cells unless quoted, so quote them as a spreadsheet would.
    text = text.replace(";Nguồn A; Nguồn B\n", ';"Nguồn A; Nguồn B"\n')
    rows = files.read_csv_text(text)
    assert rows[0].facts == {
        "workers": 1500,
        "production_value_vnd": 12_500_000_000,
        "env_plan": True,
        "ip_protected": False,
        "tourism_linked": False,
        "operating_effectively": True,
    }
    assert rows[0].sources == ("Nguồn A", "Nguồn B")
    assert rows[1].facts["workers"] == 1500 and rows[1].facts["env_plan"] is True
    assert rows[1].facts["production_value_vnd"] == 12_500_000
    # Empty cells are unknown, never false or 0.
    assert set(rows[2].facts.values()) == {None}
    # A column the file left out is not in the row at all (the record keeps its value).
    assert "exports_usd" not in rows[0].facts


@pytest.mark.parametrize(
    ("cell", "words"),
    [
        ("NaN", "finite"),
        ("inf", "finite"),
        ("-5", "≥ 0"),
        ("1,500", "ambiguous"),
        ("1.5", "whole number"),
        ("12,5", "whole number"),
        ("1e6", "whole number"),
        ("99999999999", "too large"),
        ("=1+1", "whole number"),
        ("năm trăm", "whole number"),
    ],
)
def test_bad_numbers_are_named_with_line_and_column(cell: str, words: str) -> None:
    header = "village_code,year,workers\n"
    with pytest.raises(InvalidInput) as caught:
        files.read_csv_text(header + "TH-V-001,2025,10\n" + f'TH-V-002,2025,"{cell}"\n')
    message = str(caught.value)
    assert "line 3" in message and "workers" in message and words in message, message
    assert "line 2" not in message


def test_every_bad_line_is_named_up_to_the_limit() -> None:
    lines = [f"TH-V-{i:03d},2025,abc,maybe\n" for i in range(1, 31)]
    with pytest.raises(InvalidInput) as caught:
        files.read_csv_text("village_code,year,workers,env_plan\n" + "".join(lines))
    message = str(caught.value)
    assert "30 bad rows, nothing was written" in message
    assert "line 2:" in message and "line 21:" in message and "line 22:" not in message
    assert "… and 10 more" in message
    assert "workers must be a whole number" in message and "env_plan must be" in message


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("village_code,year,worker\nTH-V-001,2025,1\n", "unknown 'worker'"),
        ("village,year\nTH-V-001,2025\n", "missing village_code"),
        ("village_code,year,workers,workers\n", "repeated workers"),
        ("village_code,year\nTH-V-001,1800\n", "year must be from 1990"),
        ("village_code,year\n,2025\n", "village_code is required"),
        ("village_code,year\nTH-V-001,2025\nTH-V-001,2025\n", "also on line 2"),
        ("village_code,year,workers,trained_workers\nTH-V-001,2025,5,6\n", "may not exceed"),
        ("village_code,year,sources\nTH-V-001,2025,a\x00b\n", "NUL"),
        ("village_code,year,sources\nTH-V-001,2025,a\x1b[2Jb\n", "control characters"),
        ("village_code,year\nTH-V\x07-001,2025\n", "control characters"),
        ("village_code,year\nTH-V-001,2025,extra\n", "cells, the header has 2"),
        ("", "is empty"),
    ],
)
def test_bad_files_are_refused_readably(text: str, words: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        files.read_csv_text(text)
    assert words in str(caught.value), str(caught.value)


def test_not_utf8_and_not_xlsx_and_zip_bombs_are_refused() -> None:
    with pytest.raises(InvalidInput, match="not UTF-8"):
        files.read_csv_bytes("village_code,year\nTH-V-001,2025,Làng\n".encode("cp1258"))
    with pytest.raises(InvalidInput, match="not an XLSX"):
        files.read_xlsx_bytes(b"PK\x03\x04 not really")
    with pytest.raises(InvalidInput, match=r"\.csv"):
        files.read_bytes(b"x", "stats.xls")
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/worksheets/sheet1.xml", b"\0" * (files.MAX_XLSX_UNPACKED + 1))
    with pytest.raises(LimitExceeded):
        files.read_xlsx_bytes(bomb.getvalue())


def test_xlsx_formulas_are_text_not_values() -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["village_code", "year", "workers", "sources"])
    sheet.append(["TH-V-001", 2025, "=2*600", '=HYPERLINK("x")'])
    out = io.BytesIO()
    book.save(out)
    with pytest.raises(InvalidInput, match="line 2: workers must be a whole number"):
        files.read_xlsx_bytes(out.getvalue())


def test_a_title_above_the_header_and_excel_booleans() -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["BÁO CÁO SỐ LIỆU LÀNG NGHỀ NĂM 2025"])
    sheet.append([])
    sheet.append(["village_code", "year", "env_plan", "tourism_linked", "ip_protected"])
    sheet.append(["TH-V-001", 2025.0, 1.0, "ĐÚNG", "Sai"])
    sheet.append(["TH-V-002", 2025, 0, None, "x"])
    out = io.BytesIO()
    book.save(out)
    with pytest.raises(InvalidInput) as caught:
        files.read_xlsx_bytes(out.getvalue())
    # Line numbers are the sheet's own rows; "x" is no yes/no (a blank is unknown, not no).
    assert "1 bad row" in str(caught.value) and "line 5: ip_protected" in str(caught.value)
    sheet.delete_rows(5)
    out = io.BytesIO()
    book.save(out)
    (row,) = files.read_xlsx_bytes(out.getvalue())
    assert (row.year, row.line) == (2025, 4)
    assert row.facts == {"env_plan": True, "tourism_linked": True, "ip_protected": False}
    text = "Báo cáo năm 2025;;\nvillage_code;year;workers\nTH-V-001;2025;1.200\n"
    (row,) = files.read_csv_text(text)
    assert (row.facts, row.line) == ({"workers": 1200}, 3)


def test_a_line_break_in_a_source_cell_is_a_space() -> None:
    text = 'village_code,year,sources\nTH-V-001,2025,"Báo cáo số 12\r\nngày 3/4/2025;\tSở NN"\n'
    (row,) = files.read_csv_text(text)
    assert row.sources == ("Báo cáo số 12 ngày 3/4/2025", "Sở NN")
