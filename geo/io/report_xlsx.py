"""The annual programme report's tables as an XLSX workbook (openpyxl).

One sheet per table: the summary of every indicator, one per unit level (the post-2025
communes and wards; the old districts, historical), the records needing action and the
province's series per year. Every sheet opens with a header block (the programme, the year,
when the file was made) and a frozen header row; numbers are numeric cells with a number
format (percentages are fractions with a ``%`` format, as a spreadsheet computes with
them), unknown values are empty cells, never 0.

Texts from the records (names, codes, details) are written as string cells: a name such as
``=HYPERLINK(…)`` stays text (type ``s``, quote prefix), never a formula, and characters
XLSX cannot hold are dropped.

The report and the action lists are the contract's types
(``geo.analysis.indicators.IndicatorReport``, ``geo.workflows.programme_actions.ActionLists``);
this room may import neither, so they are read by their fields.
"""

from __future__ import annotations

import datetime as dt
import functools
import io
import zipfile
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from geo.kernel import vocab
from geo.kernel.text import Text, date_format

if TYPE_CHECKING:
    from openpyxl.styles import Font, PatternFill  # type: ignore[import-untyped]
    from openpyxl.worksheet.worksheet import Worksheet  # type: ignore[import-untyped]

MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

LEVELS: dict[str, Text] = {
    "commune": Text("Xã, phường", "Communes and wards"),
    "district": Text("Huyện cũ (lịch sử)", "Old districts (historical)"),
}

WORDS: dict[str, Text] = {
    "title": Text(
        "Báo cáo tình hình thực hiện Chương trình bảo tồn và phát triển làng nghề năm {year}",
        "Report on the craft-village conservation and development programme, {year}",
    ),
    "programme": Text("Chương trình, kế hoạch", "Programme"),
    "year": Text("Năm báo cáo", "Report year"),
    "generated": Text("Thời điểm lập", "Generated"),
    "summary_sheet": Text("Tổng hợp", "Summary"),
    "actions_sheet": Text("Việc cần xử lý", "Actions"),
    "series_sheet": Text("Số liệu theo năm", "Series per year"),
    "no": Text("Số TT", "No."),
    "code": Text("Mã", "Code"),
    "indicator": Text("Chỉ tiêu", "Indicator"),
    "unit": Text("Đơn vị", "Unit"),
    "value": Text("Giá trị", "Value"),
    "numerator": Text("Tử số", "Numerator"),
    "denominator": Text("Mẫu số", "Denominator"),
    "in_scope": Text("Số làng thuộc phạm vi", "Villages in scope"),
    "with_data": Text("Có số liệu", "With data"),
    "missing": Text("Thiếu số liệu", "Lacking data"),
    "from_record": Text("Lấy từ hồ sơ làng", "From the village record"),
    "target": Text("Mục tiêu {year}", "Target {year}"),
    "expected": Text("Lộ trình cần đạt năm nay ({year})", "Expected on the way ({year})"),
    "status": Text("Đánh giá {year}", "Status {year}"),
    "name": Text("Tên", "Name"),
    "villages": Text("Số làng nghề", "Villages"),
    "scheme": Text("Hệ thống đơn vị", "Unit scheme"),
    "missing_of": Text("{indicator}: thiếu số liệu", "{indicator}: lacking data"),
    "kind": Text("Loại việc", "Kind"),
    "collection": Text("Lớp dữ liệu", "Collection"),
    "id": Text("Số hiệu", "Id"),
    "detail": Text("Nội dung", "Detail"),
    "due": Text("Hạn", "Due"),
    "year_col": Text("Năm", "Year"),
    "comparison": Text("So sánh", "Comparison"),
}

# Number formats by target unit: percentages as fractions (62.5 % is 0.625).
_FORMATS = {
    vocab.TargetUnit.PERCENT.value: "0.0%",
    vocab.TargetUnit.PERCENT_PER_YEAR.value: "0.0%",
    vocab.TargetUnit.RATIO.value: "0.00",
    vocab.TargetUnit.COUNT.value: "#,##0",
    vocab.TargetUnit.USD.value: "#,##0",
}
_PERCENT_UNITS = {vocab.TargetUnit.PERCENT.value, vocab.TargetUnit.PERCENT_PER_YEAR.value}
_SHEET_NAME_MAX = 31
_SHEET_FORBIDDEN = str.maketrans(dict.fromkeys("[]:*?/\\", "-"))
_HEADER_ROWS = 4  # title, programme, year, generated; then a blank row, then the columns


def cell_number(value: float | None, unit: str) -> float | None:
    """The number a cell holds for ``value`` in ``unit``: percent as a fraction.

    >>> cell_number(62.5, "percent"), cell_number(3, "count"), cell_number(None, "percent")
    (0.625, 3, None)
    """
    if value is None:
        return None
    return value / 100 if unit in _PERCENT_UNITS else value


def inert(value: Any) -> str:
    """Record text as it may stand in a cell: characters XLSX cannot hold dropped.

    >>> inert("Làng\\x07 gốm")
    'Làng gốm'
    """
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE  # type: ignore[import-untyped]

    return str(ILLEGAL_CHARACTERS_RE.sub("", str(value)))


_STRFTIME_TO_EXCEL = {"%d": "dd", "%m": "mm", "%Y": "yyyy", "%H": "hh", "%M": "mm"}


def excel_date_format(lang: str, *, with_time: bool = False) -> str:
    """The language's date pattern (``geo.kernel.text.date_format``) as an Excel format.

    >>> excel_date_format("vi"), excel_date_format("en", with_time=True)
    ('dd/mm/yyyy', 'yyyy-mm-dd hh:mm')
    """
    pattern = date_format(lang, with_time=with_time)
    for directive, code in _STRFTIME_TO_EXCEL.items():
        pattern = pattern.replace(directive, code)
    return pattern


@functools.cache
def _styles() -> tuple[Font, PatternFill]:
    """The bold font and the header fill, built once on the first workbook (openpyxl
    loads only when a report is written, not in every worker)."""
    from openpyxl.styles import Font, PatternFill

    return Font(bold=True), PatternFill("solid", fgColor="DDE4EE")


def _text(sheet: Worksheet, row: int, column: int, value: Any, *, bold: bool = False) -> None:
    cell = sheet.cell(row=row, column=column)
    cell.value = inert(value)
    # openpyxl takes a string starting with "=" for a formula: say it is a string, and the
    # quote prefix keeps a spreadsheet from reading it as one when the cell is edited.
    cell.data_type = "s"
    cell.quotePrefix = True
    if bold:
        cell.font = _styles()[0]


def _number(sheet: Worksheet, row: int, column: int, value: float | None, fmt: str) -> None:
    if value is None:
        return  # unknown: an empty cell, never 0
    cell = sheet.cell(row=row, column=column, value=value)
    cell.number_format = fmt


def _sheet_name(text: str, taken: set[str]) -> str:
    name = text.translate(_SHEET_FORBIDDEN)[:_SHEET_NAME_MAX]
    base, n = name, 2
    while name.lower() in taken:
        suffix = f" ({n})"
        name, n = base[: _SHEET_NAME_MAX - len(suffix)] + suffix, n + 1
    taken.add(name.lower())
    return name


def _header_block(
    sheet: Worksheet, report: Any, lang: str, generated_at: dt.date | dt.datetime
) -> None:
    from openpyxl.styles import Alignment, Font

    _text(sheet, 1, 1, WORDS["title"].format(year=report.year)(lang), bold=True)
    sheet.cell(row=1, column=1).font = Font(bold=True, size=13)
    _text(sheet, 2, 1, WORDS["programme"](lang), bold=True)
    _text(sheet, 2, 2, f"{report.programme_code} — {report.programme_title}")
    _text(sheet, 3, 1, WORDS["year"](lang), bold=True)
    sheet.cell(row=3, column=2, value=report.year).number_format = "0"
    _text(sheet, 4, 1, WORDS["generated"](lang), bold=True)
    # Excel has no time zones: the local time as it reads on the clock.
    timed = isinstance(generated_at, dt.datetime)
    stamp = (
        generated_at.replace(tzinfo=None) if isinstance(generated_at, dt.datetime) else generated_at
    )
    cell = sheet.cell(row=4, column=2, value=stamp)
    cell.number_format = excel_date_format(lang, with_time=timed)
    cell.alignment = Alignment(horizontal="left")


def _columns(sheet: Worksheet, headers: Sequence[str], widths: Sequence[float]) -> int:
    """The header row under the block, frozen with the columns left of ``freeze_col``."""
    from openpyxl.styles import Alignment
    from openpyxl.utils import get_column_letter  # type: ignore[import-untyped]

    row = _HEADER_ROWS + 2
    for column, (header, width) in enumerate(zip(headers, widths, strict=True), start=1):
        _text(sheet, row, column, header, bold=True)
        cell = sheet.cell(row=row, column=column)
        cell.fill = _styles()[1]
        cell.alignment = Alignment(wrap_text=True, vertical="top")
        sheet.column_dimensions[get_column_letter(column)].width = width
    return row


def _indicator_name(code: str, lang: str) -> str:
    return vocab.label("indicator", code, lang)


def _unit_name(unit: str, lang: str) -> str:
    return vocab.label("target_unit", unit, lang)


def _target_for(value: Any, year: int) -> Any | None:
    return next((t for t in value.targets if t.year == year), None)


def _target_years(report: Any) -> list[int]:
    years = {t.year for v in report.province.values() for t in v.targets}
    return sorted(years) or [2025, 2030]


def _summary(sheet: Worksheet, report: Any, lang: str) -> None:
    years = _target_years(report)
    headers = [
        WORDS["no"](lang),
        WORDS["code"](lang),
        WORDS["indicator"](lang),
        WORDS["unit"](lang),
        WORDS["value"](lang),
        WORDS["numerator"](lang),
        WORDS["denominator"](lang),
        WORDS["in_scope"](lang),
        WORDS["with_data"](lang),
        WORDS["missing"](lang),
        WORDS["from_record"](lang),
    ]
    widths: list[float] = [6, 30, 48, 16, 12, 12, 12, 12, 11, 11, 12]
    for year in years:
        headers += [
            WORDS["comparison"](lang) + f" {year}",
            WORDS["target"].format(year=year)(lang),
            WORDS["expected"].format(year=report.year)(lang) + f" → {year}",
            WORDS["status"].format(year=year)(lang),
        ]
        widths += [11, 12, 14, 16]
    row = _columns(sheet, headers, widths)
    sheet.freeze_panes = sheet.cell(row=row + 1, column=4)
    for number, (code, value) in enumerate(report.province.items(), start=1):
        row += 1
        fmt = _FORMATS.get(value.unit, "General")
        sheet.cell(row=row, column=1, value=number)
        _text(sheet, row, 2, code)
        _text(sheet, row, 3, _indicator_name(code, lang))
        _text(sheet, row, 4, _unit_name(value.unit, lang))
        _number(sheet, row, 5, cell_number(value.value, value.unit), fmt)
        _number(sheet, row, 6, value.numerator, "#,##0.##")
        _number(sheet, row, 7, value.denominator, "#,##0.##")
        for column, count in enumerate(
            (value.in_scope, value.with_data, value.missing, value.from_record), start=8
        ):
            _number(sheet, row, column, count, "0")
        column = 12
        for year in years:
            target = _target_for(value, year)
            if target is not None:
                target_fmt = _FORMATS.get(target.unit, "General")
                _text(sheet, row, column, vocab.label("comparison", target.comparison, lang))
                _number(sheet, row, column + 1, cell_number(target.target, target.unit), target_fmt)
                _number(
                    sheet, row, column + 2, cell_number(target.expected, target.unit), target_fmt
                )
                _text(
                    sheet,
                    row,
                    column + 3,
                    vocab.label("target_status", target.status, lang),
                )
            column += 4


def _units(sheet: Worksheet, report: Any, level: str, lang: str) -> None:
    codes = list(report.province)
    headers = [
        WORDS["code"](lang),
        WORDS["name"](lang),
        WORDS["scheme"](lang),
        WORDS["villages"](lang),
    ]
    widths: list[float] = [12, 30, 14, 10]
    for code in codes:
        name = _indicator_name(code, lang)
        headers += [name, WORDS["missing_of"].format(indicator=name)(lang)]
        widths += [16, 14]
    row = _columns(sheet, headers, widths)
    sheet.freeze_panes = sheet.cell(row=row + 1, column=3)
    for unit in report.units.get(level, []):
        row += 1
        _text(sheet, row, 1, unit.code)
        _text(sheet, row, 2, unit.name)
        _text(sheet, row, 3, unit.scheme)
        _number(sheet, row, 4, unit.villages, "0")
        for offset, code in enumerate(codes):
            value = unit.values.get(code)
            if value is None:
                continue
            column = 5 + 2 * offset
            fmt = _FORMATS.get(value.unit, "General")
            _number(sheet, row, column, cell_number(value.value, value.unit), fmt)
            _number(sheet, row, column + 1, value.missing, "0")


def _actions(sheet: Worksheet, actions: Any, lang: str) -> None:
    from openpyxl.styles import Alignment

    headers = [
        WORDS["kind"](lang),
        WORDS["collection"](lang),
        WORDS["id"](lang),
        WORDS["code"](lang),
        WORDS["name"](lang),
        WORDS["detail"](lang),
        WORDS["due"](lang),
    ]
    row = _columns(sheet, headers, [40, 14, 9, 14, 30, 70, 12])
    sheet.freeze_panes = sheet.cell(row=row + 1, column=1)
    date_fmt = excel_date_format(lang)
    for kind, items in actions.lists.items():
        title = vocab.label("action_kind", kind, lang)
        for item in items:
            row += 1
            _text(sheet, row, 1, title)
            _text(sheet, row, 2, item.collection)
            sheet.cell(row=row, column=3, value=item.feature_id).number_format = "0"
            _text(sheet, row, 4, item.code)
            _text(sheet, row, 5, item.name)
            _text(sheet, row, 6, Text(item.detail_vi, item.detail)(lang))
            sheet.cell(row=row, column=6).alignment = Alignment(wrap_text=True, vertical="top")
            if item.due is not None:
                sheet.cell(row=row, column=7, value=item.due).number_format = date_fmt


def _series(sheet: Worksheet, report: Any, lang: str) -> None:
    codes = list(report.province)
    headers = [WORDS["year_col"](lang)] + [_indicator_name(code, lang) for code in codes]
    row = _columns(sheet, headers, [8] + [16] * len(codes))
    sheet.freeze_panes = sheet.cell(row=row + 1, column=2)
    by_year: dict[int, dict[str, float | None]] = {year: {} for year in report.years_with_data}
    for code in codes:
        for year, value in report.series.get(code, []):
            by_year.setdefault(year, {})[code] = value
    for year in sorted(by_year):
        row += 1
        sheet.cell(row=row, column=1, value=year).number_format = "0"
        for column, code in enumerate(codes, start=2):
            unit = report.province[code].unit
            _number(
                sheet,
                row,
                column,
                cell_number(by_year[year].get(code), unit),
                _FORMATS.get(unit, "General"),
            )


def workbook(report: Any, actions: Any, *, lang: str, generated_at: dt.date | dt.datetime) -> bytes:
    """The report's tables as an XLSX file's bytes (``report``: an ``IndicatorReport``;
    ``actions``: an ``ActionLists``); ``generated_at`` a day, or a time to the minute."""
    from openpyxl import Workbook  # type: ignore[import-untyped]
    from openpyxl.writer.excel import ExcelWriter  # type: ignore[import-untyped]

    book = Workbook()
    taken: set[str] = set()
    summary = book.active
    assert summary is not None  # a new workbook has its one sheet
    summary.title = _sheet_name(WORDS["summary_sheet"](lang), taken)
    _header_block(summary, report, lang, generated_at)
    _summary(summary, report, lang)
    for level in ("commune", "district"):
        sheet = book.create_sheet(_sheet_name(LEVELS[level](lang), taken))
        _header_block(sheet, report, lang, generated_at)
        _units(sheet, report, level, lang)
    sheet = book.create_sheet(_sheet_name(WORDS["actions_sheet"](lang), taken))
    _header_block(sheet, report, lang, generated_at)
    _actions(sheet, actions, lang)
    sheet = book.create_sheet(_sheet_name(WORDS["series_sheet"](lang), taken))
    _header_block(sheet, report, lang, generated_at)
    _series(sheet, report, lang)
    # Workbook.save stamps the file with the clock: stamped with the report's own time
    # instead, one request gives the same file length every time (HEAD agrees with GET).
    if not isinstance(generated_at, dt.datetime):
        stamp = dt.datetime.combine(generated_at, dt.time())
    elif generated_at.tzinfo is not None:  # the file's properties are in UTC
        stamp = generated_at.astimezone(dt.UTC).replace(tzinfo=None)
    else:
        stamp = generated_at
    book.properties.creator = "craftmap"
    book.properties.created = book.properties.modified = stamp
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, allowZip64=True) as archive:
        ExcelWriter(book, archive).save()
    return buffer.getvalue()


def filename(year: int, extension: str) -> str:
    """The download's file name: ``bao-cao-lang-nghe-2026.xlsx``."""
    return f"bao-cao-lang-nghe-{year}.{extension}"
