"""The annual programme report as a printable document: HTML from a Jinja template, then
PDF through WeasyPrint (A4 portrait, DejaVu Sans, "Trang x/y" in the footer).

The report follows a provincial department's form: the issuing body as a fill-in line, the
national motto, place and date, then 1. the summary of every indicator, 2. each indicator
in words with its progress bar and series (``maps.charts`` SVG, inline), 3. maps by commune
for the shares, 4. tables per unit, 5. records needing action, 6. data notes. Vietnamese is
the default, English with ``lang="en"``.

Every text from the records reaches the page through Jinja's autoescape (or, in the SVG,
through ``maps.charts``' own escaping); the only markup passed as safe is those drawings.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from geo.io import report_xlsx
from geo.kernel import vocab
from geo.kernel.text import Text, date_format, in_, language, number
from maps import charts

MEDIA_TYPE = "application/pdf"
TEMPLATE = "report.html"

# Where a province's report is dated ("Thanh Hóa, ngày … tháng 12 năm 2026").
PROVINCES: dict[str, str] = {"38": "Thanh Hóa"}
PLACE_BLANK = "……………"  # another province: the place is written in by hand

TEXT: dict[str, Text] = {
    "doc_title": Text(
        "Báo cáo tình hình thực hiện Chương trình bảo tồn và phát triển làng nghề năm {year}",
        "Report on the craft-village conservation and development programme, {year}",
    ),
    "report": Text("BÁO CÁO", "REPORT"),
    "subject": Text(
        "Tình hình thực hiện Chương trình bảo tồn và phát triển làng nghề năm {year}",
        "Progress of the craft-village conservation and development programme in {year}",
    ),
    "under": Text("thực hiện {code}: {title}", "under {code}: {title}"),
    "motto_country": Text("CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", "SOCIALIST REPUBLIC OF VIET NAM"),
    "motto": Text("Độc lập - Tự do - Hạnh phúc", "Independence - Freedom - Happiness"),
    "issuer": Text("(Tên cơ quan báo cáo)", "(Reporting body)"),
    "number": Text("Số: ……/BC-……", "No.: ……/BC-……"),
    "place_date": Text("{place}, ngày …… tháng 12 năm {year}", "{place}, …… December {year}"),
    "s1": Text("1. Tổng hợp các chỉ tiêu", "1. Summary of the indicators"),
    "s2": Text("2. Kết quả từng chỉ tiêu", "2. Each indicator"),
    "s3": Text("3. Bản đồ theo xã, phường", "3. Maps by commune"),
    "s4": Text("4. Số liệu theo đơn vị hành chính", "4. Figures per administrative unit"),
    "s5": Text("5. Hồ sơ cần xử lý", "5. Records needing action"),
    "s6": Text("6. Ghi chú về số liệu", "6. Notes on the data"),
    "no": Text("Số TT", "No."),
    "indicator": Text("Chỉ tiêu", "Indicator"),
    "value": Text("Năm {year}", "{year}"),
    "target": Text("Mục tiêu {year}", "Target {year}"),
    "status": Text("Đánh giá", "Status"),
    "missing": Text("Làng thiếu số liệu", "Villages lacking data"),
    "of": Text("{missing}/{in_scope} làng", "{missing} of {in_scope}"),
    "no_targets": Text("Chương trình không đặt mục tiêu", "No target in the programme"),
    "summary_note": Text(
        "Đánh giá theo mục tiêu gần nhất chưa qua (năm {year} so với lộ trình tới mục tiêu). "
        "Số liệu thiếu không được tính là 0.",
        "Status against the nearest target not yet past (the year {year} against the path "
        "to the target). Missing data is never counted as zero.",
    ),
    "value_is": Text("Năm {year}, {name} đạt {value}", "In {year}, {name} stood at {value}"),
    "value_none": Text(
        "Năm {year}, chưa tính được {name}: không làng nào trong phạm vi ({in_scope} làng) "
        "có số liệu cần thiết",
        "In {year}, {name} cannot be computed: no village in scope ({in_scope}) has the "
        "data it needs",
    ),
    "coverage": Text(
        "tính trên {with_data}/{in_scope} làng có số liệu",
        "computed over the {with_data} of {in_scope} villages with data",
    ),
    "lacking": Text(
        "{missing} làng thiếu số liệu (không tính là 0)",
        "{missing} villages lack the data (not counted as zero)",
    ),
    "from_record": Text(
        "{n} giá trị lấy từ hồ sơ làng nghề", "{n} values taken from the village record"
    ),
    "target_sentence": Text(
        "Mục tiêu năm {year}: {comparison} {target} — {status}",
        "Target for {year}: {comparison} {target} — {status}",
    ),
    "expected_sentence": Text(
        " (theo lộ trình, năm {year} cần đạt {expected})",
        " (on the way, {year} should have reached {expected})",
    ),
    "no_maps": Text("Không có chỉ tiêu tỷ lệ nào để vẽ bản đồ.", "No share indicator to map."),
    "map_title": Text("{name}, năm {year}", "{name}, {year}"),
    "communes": Text(
        "4.1. Xã, phường (đơn vị hành chính sau sắp xếp năm 2025)",
        "4.1. Communes and wards (units after the 2025 merger)",
    ),
    "districts": Text(
        "4.2. Huyện cũ (trước ngày 1/7/2025, chỉ để đối chiếu lịch sử)",
        "4.2. Old districts (before 1 July 2025, historical grouping)",
    ),
    "unit_name": Text("Đơn vị", "Unit"),
    "villages": Text("Số làng", "Villages"),
    "no_units": Text("Không có đơn vị nào.", "No units."),
    "columns_key": Text(
        "Các cột (1), (2)… là các chỉ tiêu theo số thứ tự ở mục 1. "
        "«—»: không có số liệu; «*»: có làng thiếu số liệu.",
        "Columns (1), (2)… are the indicators numbered as in section 1. "
        "“—”: no data; “*”: some villages lack data.",
    ),
    "historical": Text("lịch sử", "historical"),
    "code": Text("Mã", "Code"),
    "name": Text("Tên", "Name"),
    "detail": Text("Nội dung", "Detail"),
    "due": Text("Hạn", "Due"),
    "none": Text("Không có.", "None."),
    "count": Text("{n} hồ sơ", "{n} records"),
    "years": Text("Các năm có số liệu: {years}.", "Years with data: {years}."),
    "years_none": Text("Chưa có năm nào có số liệu.", "No year has data yet."),
    "missing_rule": Text(
        "Số liệu thiếu được để trống và báo số làng thiếu, không bao giờ được tính là 0: "
        "mỗi tỷ lệ chỉ tính trên các làng có số liệu cần thiết.",
        "Missing data is left empty and the villages lacking it are counted; it is never "
        "taken as zero: each share is computed over the villages that have the data.",
    ),
    "record_rule": Text(
        "Với năm hiện tại, một số giá trị được lấy từ hồ sơ làng nghề khi chưa có số liệu năm.",
        "For the current year, some values come from the village record when no yearly "
        "figure exists.",
    ),
    "target_source": Text("Mục tiêu lấy theo {code}: {title}.", "Targets from {code}: {title}."),
    "units_rule": Text(
        "Đơn vị hành chính: xã, phường sau sắp xếp năm 2025; huyện cũ được giữ để đối chiếu "
        "lịch sử.",
        "Administrative units: the communes and wards after the 2025 merger; the old "
        "districts are kept as a historical grouping.",
    ),
    "generated": Text(
        "Báo cáo được lập tự động từ cơ sở dữ liệu craftmap vào {when}.",
        "Generated from the craftmap database on {when}.",
    ),
    "recipients": Text("Nơi nhận:", "Distribution:"),
    "recipients_list": Text("- Như trên;\n- Lưu: VT.", "- As above;\n- Archive."),
    "signer": Text("THỦ TRƯỞNG CƠ QUAN", "HEAD OF THE REPORTING BODY"),
    "sign_note": Text("(Ký, ghi rõ họ tên, đóng dấu)", "(Signature, full name, seal)"),
    "page": Text("Trang", "Page"),
    "progress": Text("Tiến độ so với mục tiêu", "Progress against the targets"),
    "series": Text("Diễn biến theo năm", "Year by year"),
}


@dataclass(frozen=True)
class _Row:
    number: int
    code: str
    name: str
    value: str
    targets: list[str]
    status: str
    status_key: str
    missing: str


def _name(code: str, lang: str) -> str:
    return vocab.label("indicator", code, lang)


def _target_text(target: Any, lang: str) -> str:
    comparison = vocab.label("comparison", target.comparison, lang).lower()
    return f"{comparison} {charts.quantity(target.target, target.unit, lang)}"


def _years_of(report: Any) -> list[int]:
    years = {t.year for v in report.province.values() for t in v.targets}
    return sorted(years) or [2025, 2030]


def summary_rows(report: Any, lang: str) -> list[_Row]:
    """The summary table's rows: value, each target, status in words, villages lacking data."""
    years = _years_of(report)
    rows = []
    for number_, (code, value) in enumerate(report.province.items(), start=1):
        by_year = {t.year: t for t in value.targets}
        targets = [_target_text(by_year[y], lang) if y in by_year else "—" for y in years]
        status = (
            charts.headline_status(list(value.targets), report.year)
            if value.value is not None
            else "no_data"
        )
        rows.append(
            _Row(
                number=number_,
                code=code,
                name=_name(code, lang),
                value=charts.quantity(value.value, value.unit, lang),
                targets=targets,
                status=charts.status_words(status, lang) if value.targets else "—",
                status_key=status,
                missing=TEXT["of"].format(missing=value.missing, in_scope=value.in_scope)(lang),
            )
        )
    return rows


def _count(value: float | None, lang: str) -> str:
    if value is None:
        return "—"
    return number(value, lang, 0 if float(value).is_integer() else 1)


def paragraph(value: Any, year: int, lang: str) -> str:
    """The indicator in words, from its numbers: value, coverage, each target's status."""
    name = _name(value.indicator, lang)
    lowered = name[:1].lower() + name[1:]
    if value.value is None:
        parts = [TEXT["value_none"].format(year=year, name=lowered, in_scope=value.in_scope)(lang)]
    else:
        head = TEXT["value_is"].format(
            year=year, name=lowered, value=charts.quantity(value.value, value.unit, lang)
        )(lang)
        if (
            value.unit == vocab.TargetUnit.PERCENT.value
            and value.numerator is not None
            and value.denominator is not None
        ):
            head += f" ({_count(value.numerator, lang)}/{_count(value.denominator, lang)})"
        clauses = [
            TEXT["coverage"].format(with_data=value.with_data, in_scope=value.in_scope)(lang)
        ]
        if value.missing:
            clauses.append(TEXT["lacking"].format(missing=value.missing)(lang))
        if value.from_record:
            clauses.append(TEXT["from_record"].format(n=value.from_record)(lang))
        parts = [f"{head}, {'; '.join(clauses)}"]
    for target in sorted(value.targets, key=lambda t: t.year):
        sentence = TEXT["target_sentence"].format(
            year=target.year,
            comparison=vocab.label("comparison", target.comparison, lang).lower(),
            target=charts.quantity(target.target, target.unit, lang),
            status=vocab.label("target_status", target.status, lang).lower(),
        )(lang)
        if target.expected is not None and target.year > year:
            sentence += TEXT["expected_sentence"].format(
                year=year, expected=charts.quantity(target.expected, target.unit, lang)
            )(lang)
        parts.append(sentence)
    return ". ".join(parts) + "."


def _cell(value: Any, lang: str) -> str:
    if value is None or value.value is None:
        return "—"
    shown = charts.quantity(value.value, value.unit, lang)
    return f"{shown}*" if value.missing else shown


# Indicator columns per unit table: more would not fit an A4 portrait page's width, so a
# programme with many indicators gets several tables, each with the units' names.
UNIT_COLUMNS = 6


def _unit_tables(units: Sequence[Any], codes: Sequence[str], lang: str) -> list[dict[str, Any]]:
    """The unit tables of one level: the indicators in groups of ``UNIT_COLUMNS``."""
    tables = []
    for start in range(0, len(codes), UNIT_COLUMNS):
        group = codes[start : start + UNIT_COLUMNS]
        tables.append(
            {
                "numbers": list(range(start + 1, start + len(group) + 1)),
                "rows": [
                    {
                        "name": unit.name,
                        "villages": unit.villages,
                        "cells": [_cell(unit.values.get(code), lang) for code in group],
                    }
                    for unit in units
                ],
            }
        )
    return tables


def _map_svg(frame: Any, code: str, unit: str, year: int, lang: str) -> Markup:
    classes = charts.classify(list(frame["value"]) if len(frame) else [])
    title = TEXT["map_title"].format(name=_name(code, lang), year=year)(lang)
    # maps.charts escapes every text it draws (unit names included).
    return Markup(charts.svg_choropleth(frame, classes, lang, title, unit=unit))  # noqa: S704


def _date(day: dt.date | None, lang: str) -> str:
    return "" if day is None else day.strftime(date_format(lang))


def context(
    data: Any,
    *,
    lang: str,
    item_url: Callable[[str, int], str] | None = None,
) -> dict[str, Any]:
    """Everything the template shows, as text and drawings (``data``: an ``AnnualReport``)."""
    lang = language(lang)
    report = data.report
    codes = list(report.province)
    year = report.year
    indicators = []
    for code, value in report.province.items():
        targets = list(value.targets)
        indicators.append(
            {
                "number": codes.index(code) + 1,
                "name": _name(code, lang),
                "text": paragraph(value, year, lang),
                "bar": Markup(  # noqa: S704 - maps.charts escapes its texts
                    charts.progress_bar(value.value, targets, value.unit, lang, year=year)
                ),
                "series": Markup(  # noqa: S704 - maps.charts escapes its texts
                    charts.time_series(
                        {code: report.series.get(code, [])}, targets, value.unit, lang
                    )
                ),
            }
        )
    maps = [
        _map_svg(frame, code, report.province[code].unit, year, lang)
        for code, frame in data.maps.items()
        if code in report.province
    ]
    actions = []
    for kind, items in data.actions.lists.items():
        actions.append(
            {
                "title": vocab.label("action_kind", kind, lang),
                "count": TEXT["count"].format(n=len(items))(lang),
                "entries": [
                    {
                        "code": item.code,
                        "name": item.name,
                        "detail": Text(item.detail_vi, item.detail)(lang),
                        "due": _date(item.due, lang),
                        "url": item_url(item.collection, item.feature_id) if item_url else None,
                    }
                    for item in items
                ],
            }
        )
    province = PROVINCES.get(report.province_code or "", PLACE_BLANK)
    made = data.generated_at
    generated = made.strftime(date_format(lang, with_time=isinstance(made, dt.datetime)))
    t = in_(TEXT, lang)
    years = _years_of(report)
    return {
        "lang": lang,
        "t": t,
        "title": TEXT["doc_title"].format(year=year)(lang),
        "subject": TEXT["subject"].format(year=year)(lang),
        "under": TEXT["under"].format(code=report.programme_code, title=report.programme_title)(
            lang
        ),
        "place_date": TEXT["place_date"].format(place=province, year=year)(lang),
        "value_header": TEXT["value"].format(year=year)(lang),
        "target_headers": [TEXT["target"].format(year=y)(lang) for y in years],
        "summary_note": TEXT["summary_note"].format(year=year)(lang),
        "rows": summary_rows(report, lang),
        "indicators": indicators,
        "maps": maps,
        "codes": codes,
        "communes": _unit_tables(report.units.get("commune", []), codes, lang),
        "districts": _unit_tables(report.units.get("district", []), codes, lang),
        "actions": actions,
        "notes": [
            TEXT["years"].format(years=", ".join(str(y) for y in report.years_with_data))(lang)
            if report.years_with_data
            else TEXT["years_none"](lang),
            TEXT["missing_rule"](lang),
            TEXT["record_rule"](lang),
            TEXT["target_source"].format(code=report.programme_code, title=report.programme_title)(
                lang
            ),
            TEXT["units_rule"](lang),
            TEXT["generated"].format(when=generated)(lang),
        ],
        "recipients": t["recipients_list"].split("\n"),
    }


def _environment(template_dir: Path) -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(template_dir)),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )


def render_html(
    data: Any,
    *,
    lang: str,
    template_dir: Path,
    item_url: Callable[[str, int], str] | None = None,
) -> str:
    """The report as one HTML page (the template ``report.html`` in ``template_dir``)."""
    template = _environment(template_dir).get_template(TEMPLATE)
    return template.render(**context(data, lang=lang, item_url=item_url))


def render_pdf(
    data: Any,
    *,
    lang: str,
    template_dir: Path,
    item_url: Callable[[str, int], str] | None = None,
) -> bytes:
    """The report as PDF bytes (WeasyPrint; the page has no external resources)."""
    import weasyprint  # type: ignore[import-untyped]

    page = render_html(data, lang=lang, template_dir=template_dir, item_url=item_url)
    pdf = weasyprint.HTML(string=page, base_url=str(template_dir)).write_pdf()
    assert pdf is not None  # write_pdf without a target returns the bytes
    return bytes(pdf)


def filename(year: int, extension: str) -> str:
    """The download's file name: ``bao-cao-lang-nghe-2026.pdf``."""
    return report_xlsx.filename(year, extension)
