"""The annual programme report: PDF (WeasyPrint) and XLSX, over HTTP and from the CLI
(issue 16 points 4 and 5).

The figures are those of ``tests/indicators/test_indicators.py``'s dataset (a test province
of its own, every indicator computed by hand there), reported for 2025. Beside it this
module adds a commune with no villages whose name is hostile (a formula and a script tag)
and a zone of the same name whose certificate expires: both must stay inert text.
"""

from __future__ import annotations

import datetime as dt
import io
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from fastapi.testclient import TestClient

from api.routers.report import TEMPLATES_DIR
from geo.io import report_xlsx
from geo.workflows import annual_report
from maps import report
from tests.factories import make_admin_unit, make_zone, square, unique_code
from tests.indicators.test_indicators import TODAY, Data, data  # noqa: F401 - the fixture
from tests.test_cli import invoke_cli

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "issue16" / "report"
HOSTILE = '=HYPERLINK("http://evil.example","x")<script>alert(1)</script>'
YEAR = 2025
MADE = dt.datetime(2026, 3, 1, 9, 30)


@pytest.fixture(scope="module")
def hostile(data: Data) -> Iterator[str]:  # noqa: F811 - the imported fixture
    """A commune with no villages and an expiring zone, both named ``HOSTILE``; the code."""
    code = unique_code("H", 16)
    make_admin_unit(
        data.conn, code=code, name=HOSTILE, parent_code=data.province,
        geometry=square(105.80, 19.80, 0.05),
    )  # fmt: skip
    make_zone(
        data.conn, name=HOSTILE, certification_scheme="VietGAP", certificate_no="=1+1",
        certificate_expiry="2026-04-01",
    )  # fmt: skip
    yield code


def _data(data: Data, year: int = YEAR, *, with_maps: bool = True) -> Any:  # noqa: F811
    return annual_report.annual_report(
        data.conn, programme=data.programme, year=year, today=TODAY, generated_at=MADE,
        with_maps=with_maps,
    )  # fmt: skip


def _pdf_text(path: Path, *options: str) -> str:
    return subprocess.run(
        ["pdftotext", *options, str(path), "-"], capture_output=True, text=True, check=True
    ).stdout


def _pages_to_png(pdf: Path, stem: str) -> None:
    if shutil.which("pdftoppm"):
        subprocess.run(
            ["pdftoppm", "-r", "70", "-png", str(pdf), str(ARTIFACTS / stem)], check=True
        )


# Hand-computed in test_indicators.py (2025): share, then its fraction where printed.
HAND_VI = {
    "Tỷ lệ làng nghề hoạt động hiệu quả": "75,0 % (3/4)",
    "Tỷ lệ lao động được đào tạo": "65,0 % (104/160)",
    "Tỷ lệ cơ sở ngành nghề nông thôn có sản phẩm OCOP": "45,0 % (9/20)",
    "Tỷ lệ làng nghề có phương án bảo vệ môi trường": "50,0 % (1/2)",
    "Thu nhập bình quân so với năm 2020": "1,60 lần",
    "Tăng trưởng giá trị sản xuất bình quân": "13,8 %/năm",
}
HAND_EN = {
    "Share of workers trained": "65.0 % (104/160)",
    "Average income against 2020": "1.60×",
}


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_pdf(data: Data, hostile: str, lang: str) -> None:  # noqa: F811
    got = _data(data)
    body = report.render_pdf(
        got, lang=lang, template_dir=TEMPLATES_DIR,
        item_url=lambda c, i: f"https://craftmap.example/collections/{c}/items/{i}",
    )  # fmt: skip
    assert body.startswith(b"%PDF")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    pdf = ARTIFACTS / f"report-{lang}.pdf"
    pdf.write_bytes(body)
    _pages_to_png(pdf, f"report-{lang}")
    text = _pdf_text(pdf, "-layout")
    flowing = " ".join(_pdf_text(pdf).split())
    fonts = subprocess.run(["pdffonts", str(pdf)], capture_output=True, text=True).stdout
    assert "DejaVu-Sans" in fonts
    # Every font embedded (the "emb" column), so every Vietnamese glyph prints anywhere.
    assert all(" yes " in line for line in fonts.splitlines()[2:] if line.strip())
    pages = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True).stdout
    count = int(next(x for x in pages.splitlines() if x.startswith("Pages:")).split()[-1])
    # The hostile names are text, never markup: printed whole, not run or dropped.
    assert "<script>alert(1)</script>" in "".join(flowing.split())
    assert "=HYPERLINK(" in text
    if lang == "vi":
        assert "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM" in text
        assert "Độc lập - Tự do - Hạnh phúc" in text
        # A province the report does not know by name: the place is a line to fill in.
        assert "……………, ngày …… tháng 12 năm 2025" in text
        assert f"Trang 1/{count}" in text and f"Trang {count}/{count}" in text
        for name, value in HAND_VI.items():
            assert name in flowing
            assert f"{name[:1].lower()}{name[1:]} đạt {value}" in flowing, name
        # Summary: the villages lacking data of "share operating effectively" (3 of 7).
        assert "3/7 làng" in text
        # Charts and maps are drawn: their SVG texts (targets, legend) are in the PDF.
        assert "Mục tiêu 2030: trên 90,0 %" in flowing
        assert "Chưa có số liệu" in text and "Bắc" in text
        assert "Huyện Thử Hai" in text and "Huyện cũ" in text
        # The commune with no villages: its values are "—", never 0.
        empty = next(u for u in got.report.units["commune"] if u.code == data.communes["C3"])
        row = next(line for line in text.splitlines() if empty.name in line)
        assert "—" in row and "0,0" not in row
    else:
        assert "SOCIALIST REPUBLIC OF VIET NAM" in text
        for name, value in HAND_EN.items():
            assert name in flowing and value in flowing
        assert f"Page 1/{count}" in text


def test_xlsx_matches_the_report(data: Data, hostile: str) -> None:  # noqa: F811
    got = _data(data, with_maps=False)
    body = report_xlsx.workbook(got.report, got.actions, lang="vi", generated_at=MADE)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "report-vi.xlsx").write_bytes(body)
    book = openpyxl.load_workbook(io.BytesIO(body))
    assert book.sheetnames[:3] == ["Tổng hợp", "Xã, phường", "Huyện cũ (lịch sử)"]
    summary = book["Tổng hợp"]
    assert summary["B3"].value == YEAR
    assert summary["B4"].value == MADE and summary["B4"].number_format == "dd/mm/yyyy hh:mm"
    rows = {r[1].value: r for r in summary.iter_rows(min_row=7) if r[1].value}
    assert list(rows) == list(got.report.province)
    # The same numbers as the JSON report (the indicator_report values) ...
    for indicator, value in got.report.province.items():
        cell = rows[indicator][4]
        expected = report_xlsx.cell_number(value.value, value.unit)
        if expected is None:
            assert cell.value is None
        else:
            assert cell.data_type == "n" and cell.value == pytest.approx(expected)
        assert rows[indicator][9].value == value.missing
    # ... which are the hand-computed ones, percent as fractions with a % format.
    trained = rows["share_workers_trained"]
    assert trained[4].value == pytest.approx(0.65) and trained[4].number_format == "0.0%"
    assert (trained[5].value, trained[6].value) == (104, 160)
    assert rows["income_vs_2020"][4].value == pytest.approx(690 / 430)
    assert rows["share_effective"][9].value == 3
    communes = book["Xã, phường"]
    assert communes.freeze_panes == "C7"
    by_code = {r[0].value: r for r in communes.iter_rows(min_row=7)}
    bad = by_code[hostile]
    assert bad[1].value == HOSTILE and bad[1].data_type == "s"
    # No villages: every value is an empty cell (never 0), and none lacks data.
    assert bad[3].value == 0 and all(c.value is None for c in bad[4::2])
    actions = book.worksheets[3]
    zone = next(r for r in actions.iter_rows(min_row=7) if r[4].value == HOSTILE)
    assert zone[4].data_type == "s" and zone[6].value == dt.datetime(2026, 4, 1)


def test_a_year_with_no_data(data: Data) -> None:  # noqa: F811
    got = _data(data, 2023, with_maps=False)
    body = report_xlsx.workbook(got.report, got.actions, lang="en", generated_at=MADE.date())
    book = openpyxl.load_workbook(io.BytesIO(body))
    summary = book["Summary"]
    assert summary["B4"].number_format == "yyyy-mm-dd"
    values = [r[4].value for r in summary.iter_rows(min_row=7) if r[1].value]
    counts = {"crafts", "villages"}
    shares = [
        v for v, code in zip(values, got.report.province, strict=True)
        if code.split("_")[0] not in counts
    ]  # fmt: skip
    assert shares and all(v is None for v in shares)


def test_http(client: TestClient) -> None:
    xlsx = client.get("/indicators/report.xlsx?year=2024&lang=en")
    assert xlsx.status_code == 200, xlsx.text
    assert xlsx.headers["content-type"] == report_xlsx.MEDIA_TYPE
    assert 'filename="bao-cao-lang-nghe-2024.xlsx"' in xlsx.headers["content-disposition"]
    assert openpyxl.load_workbook(io.BytesIO(xlsx.content)).sheetnames[0] == "Summary"
    pdf = client.get("/indicators/report.pdf?year=2024&programme=801/QĐ-TTg")
    assert pdf.status_code == 200, pdf.text
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")
    assert 'filename="bao-cao-lang-nghe-2024.pdf"' in pdf.headers["content-disposition"]
    for url, status in (
        ("/indicators/report.pdf?year=1800", 400),
        ("/indicators/report.xlsx?year=abc", 400),
        ("/indicators/report.xlsx?programme=NO-SUCH", 404),
        ("/indicators/report.pdf?yaer=2024", 400),
    ):
        answer = client.get(url)
        assert answer.status_code == status, (url, answer.text)
        assert answer.headers["content-type"].startswith("application/problem+json")


def test_cli(database_url: str, tmp_path: Path) -> None:
    env = {"DATABASE_URL": database_url}
    pdf, xlsx = tmp_path / "bao-cao.pdf", tmp_path / "bao-cao.xlsx"
    done = invoke_cli("report", "--year", "2024", "--out", str(pdf), env=env)
    assert "4182/QĐ-UBND 2024" in done.stdout
    assert pdf.read_bytes().startswith(b"%PDF")
    # The demo's own report (Thanh Hóa, the province plan), kept to be looked at.
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shutil.copy(pdf, ARTIFACTS / "demo-2024-vi.pdf")
    _pages_to_png(ARTIFACTS / "demo-2024-vi.pdf", "demo-2024-vi")
    invoke_cli("report", "--year", "2024", "--out", str(xlsx), "--lang", "en", env=env)
    assert openpyxl.load_workbook(xlsx).sheetnames[0] == "Summary"
    for args, words in (
        (("--out", str(tmp_path / "bao-cao.docx")), "must end in .pdf or .xlsx"),
        (("--out", str(tmp_path / "no-such-folder" / "r.pdf")), "is not a writable folder"),
        (("--out", str(xlsx), "--programme", "NO-SUCH"), "no programme"),
        (("--out", str(xlsx), "--lang", "fr"), "--lang must be vi or en"),
    ):
        bad = invoke_cli("report", "--year", "2024", *args, env=env, check=False)
        assert bad.returncode == 1
        assert words in bad.stderr and "Traceback" not in bad.stderr
