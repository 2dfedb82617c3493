"""The programme's indicators (issue 16 point 4): ``/indicators`` as JSON or the dashboard,
the choropleth of one indicator, ``/maps/indicators/{indicator}``.

HTTP only: the computation is geo.workflows.indicators, the drawings maps.charts and
maps.indicators.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse, JSONResponse, Response
from markupsafe import Markup

from api.deps import RootUrl, read_connection
from api.documents import link
from api.i18n import OPERATION_SUMMARIES, request_language
from api.negotiation import HTML, JSON, reject_unknown_params, vary, wants_html
from api.openapi import bilingual
from api.routers.maps import _page, map_settings
from api.routers.ogc import render
from geo.analysis.indicators import IndicatorReport, IndicatorValue, TargetCheck
from geo.io import programmes
from geo.kernel import text as texts
from geo.kernel import vocab
from geo.kernel.errors import InvalidInput, NotFound
from geo.kernel.text import Lang, Text, date_format, number
from geo.workflows import indicators as workflow
from geo.workflows import programme_actions
from maps import charts

router = APIRouter(tags=["indicators"])

LEVELS = ("commune", "district")

SUMMARIES = {
    "dashboard": Text(
        "Chỉ tiêu của chương trình làng nghề: giá trị, mục tiêu 2025 và 2030, theo tỉnh và "
        "từng đơn vị",
        "The craft-village programme's indicators: values, 2025 and 2030 targets, for the "
        "province and each unit",
    ),
    "map": Text("Bản đồ một chỉ tiêu theo đơn vị", "Map of one indicator by unit"),
    "actions": Text(
        "Hồ sơ cần xử lý: tên đơn vị đã bãi bỏ, chưa có phương án môi trường, có nguy cơ mai "
        "một, chứng chỉ sắp hết hạn",
        "Records that need action: abolished unit names, no environmental plan, at risk, "
        "expiring certificates",
    ),
}
# Registered as analysis_checks does, so the shared table in api/i18n.py needs no edit.
for _summary in SUMMARIES.values():
    OPERATION_SUMMARIES.setdefault(_summary.en, _summary)

YearQuery = Annotated[
    int | None,
    Query(
        description=bilingual(
            Text(
                "năm báo cáo, 2000–2100 (mặc định: năm gần nhất có số liệu)",
                "the report year, 2000–2100 (default: the latest year with data)",
            )
        )
    ),
]
ProgrammeQuery = Annotated[
    str | None,
    Query(
        description=bilingual(
            Text(
                "mã chương trình, vd. 4182/QĐ-UBND hoặc 801/QĐ-TTg (mặc định: kế hoạch của "
                "tỉnh có dữ liệu)",
                "programme code, e.g. 4182/QĐ-UBND or 801/QĐ-TTg (default: the plan of the "
                "province the data is about)",
            )
        )
    ),
]
FormatQuery = Annotated[
    str | None,
    Query(
        alias="f",
        description=bilingual(Text("định dạng: json hoặc html", "format: json or html")),
    ),
]
LangQuery = Annotated[
    str | None,
    Query(description=bilingual(Text("ngôn ngữ trang: vi hoặc en", "page language: vi or en"))),
]
LevelQuery = Annotated[
    str,
    Query(
        description=bilingual(
            Text(
                "cấp đơn vị: commune (xã, phường sau 1/7/2025) hoặc district (huyện cũ, lịch sử)",
                "unit level: commune (since 1/7/2025) or district (old districts, historical)",
            )
        )
    ),
]
DaysQuery = Annotated[
    int,
    Query(
        description=bilingual(
            Text(
                "báo chứng chỉ vùng nguyên liệu hết hạn trong số ngày này, 0–3650 (mặc định 180)",
                "report zone certificates expiring within this many days, 0–3650 (default 180)",
            )
        )
    ),
]
IndicatorPath = Annotated[
    str,
    PathParam(
        description=bilingual(
            Text(
                "mã chỉ tiêu, vd. share_env_plan: " + ", ".join(vocab.Indicator),
                "indicator code, e.g. share_env_plan: " + ", ".join(vocab.Indicator),
            )
        )
    ),
]

# The dashboard's words.
PAGE: dict[str, Text] = {
    "title": Text("Chỉ tiêu chương trình làng nghề", "Craft-village programme indicators"),
    "intro": Text(
        "Các chỉ tiêu tính từ hồ sơ làng nghề và số liệu hằng năm, so với mục tiêu năm 2025 "
        "và 2030 của chương trình. Làng thiếu số liệu được nêu rõ, không tính là 0.",
        "The indicators computed from the village records and their yearly figures, against "
        "the programme's 2025 and 2030 targets. Villages lacking data are named, never "
        "counted as zero.",
    ),
    "year": Text("Năm báo cáo", "Report year"),
    "programme": Text("Chương trình", "Programme"),
    "show": Text("Hiển thị", "Show"),
    "value": Text("Giá trị", "Value"),
    "status": Text("Tình trạng", "Status"),
    "lacks": Text("{n} làng thiếu số liệu", "{n} villages lack data"),
    "lacks_one": Text("1 làng thiếu số liệu", "1 village lacks data"),
    "scope": Text(
        "{with_data}/{in_scope} làng có số liệu", "{with_data} of {in_scope} villages with data"
    ),
    "from_record": Text(
        "{n} giá trị lấy từ hồ sơ làng nghề (năm hiện tại)",
        "{n} values taken from the village records (current year)",
    ),
    "map_commune": Text("Bản đồ theo xã, phường", "Map by commune"),
    "map_district": Text("Bản đồ theo huyện cũ", "Map by old district"),
    "no_targets": Text("Chương trình không đặt mục tiêu cho chỉ tiêu này.", "No target set."),
    "communes": Text("Theo xã, phường (từ 1/7/2025)", "By commune and ward (since 1/7/2025)"),
    "districts": Text("Theo huyện cũ", "By old district"),
    "districts_note": Text(
        "Huyện là đơn vị lịch sử: cấp huyện không còn từ ngày 1/7/2025; số liệu được nhóm theo "
        "huyện cũ ghi trong hồ sơ làng nghề để so sánh với các báo cáo trước.",
        "Districts are historical: the district level was abolished on 1/7/2025; figures are "
        "grouped by the old district in the village records, to compare with earlier reports.",
    ),
    "unit": Text("Đơn vị", "Unit"),
    "villages": Text("Số làng", "Villages"),
    "missing_short": Text("thiếu {n}", "{n} lacking"),
    "no_villages": Text("không có làng nghề", "no villages"),
    "no_units": Text("Chưa có đơn vị nào.", "No units."),
    "actions": Text("Hồ sơ cần xử lý", "Records that need action"),
    "report_pdf": Text("Báo cáo năm (PDF)", "Annual report (PDF)"),
    "report_xlsx": Text("Bảng số liệu (XLSX)", "Tables (XLSX)"),
    "json": Text("Dạng JSON", "As JSON"),
    "computed": Text("Tính ngày", "Computed on"),
    "series": Text("Diễn biến theo năm", "Year by year"),
    "summary": Text("Tóm tắt", "Summary"),
    "indicator": Text("Chỉ tiêu", "Indicator"),
    # The actions page.
    "actions_intro": Text(
        "Các hồ sơ cần cán bộ xử lý (nhiệm vụ 3.2 của kế hoạch): đổi tên trong hồ sơ công nhận "
        "theo đơn vị hành chính mới, lập phương án bảo vệ môi trường, bảo tồn làng nghề có nguy "
        "cơ mai một, gia hạn chứng chỉ vùng nguyên liệu.",
        "The records an officer should act on (the plan's task 3.2): rename recognition files "
        "after the new administrative units, draw up environmental plans, save villages at "
        "risk, renew zone certificates.",
    ),
    "as_of": Text("Tính đến ngày", "As of"),
    "within": Text(
        "Chứng chỉ hết hạn trong {days} ngày tới hoặc đã hết hạn",
        "Certificates expiring within {days} days or already expired",
    ),
    "count": Text("{n} hồ sơ", "{n} records"),
    "count_one": Text("1 hồ sơ", "1 record"),
    "name": Text("Tên", "Name"),
    "code": Text("Mã", "Code"),
    "why": Text("Lý do", "Why"),
    "due": Text("Hạn", "Due"),
    "open": Text("Mở", "Open"),
    "record_page": Text("Trang hồ sơ", "Record page"),
    "on_map": Text("Bản đồ", "Map"),
    "none_listed": Text("Không có hồ sơ nào.", "No records."),
    "unknown": Text("chưa ghi nhận", "not recorded"),
    "dashboard": Text("← Bảng chỉ tiêu", "← Indicator dashboard"),
}


def _today() -> dt.date:
    return dt.date.today()


def _latest_year(report: IndicatorReport) -> int:
    """The latest year in which some indicator has a value (else the report's year)."""
    with_values = {
        year for series in report.series.values() for year, value in series if value is not None
    }
    return max(with_values) if with_values else report.year


def _report(conn: Any, programme: str | None, year: int | None) -> IndicatorReport:
    today = _today()
    if year is not None:
        return workflow.indicator_report(conn, programme=programme, year=year, today=today)
    # The default year: the latest with data. The current year's report lists every year.
    report = workflow.indicator_report(conn, programme=programme, year=today.year, today=today)
    latest = _latest_year(report)
    if latest == report.year:
        return report
    return workflow.indicator_report(conn, programme=programme, year=latest, today=today)


def _query(report: IndicatorReport, **extra: str) -> str:
    return urlencode({"year": report.year, "programme": report.programme_code, **extra})


def _check(check: TargetCheck) -> dict[str, Any]:
    return {
        "year": check.year,
        "comparison": check.comparison,
        "target": check.target,
        "unit": check.unit,
        "status": check.status,
        "expected": check.expected,
    }


def _value(value: IndicatorValue) -> dict[str, Any]:
    return {
        "indicator": value.indicator,
        "unit": value.unit,
        "value": value.value,
        "numerator": value.numerator,
        "denominator": value.denominator,
        "in_scope": value.in_scope,
        "with_data": value.with_data,
        "missing": value.missing,
        "from_record": value.from_record,
        "targets": [_check(c) for c in value.targets],
    }


def _label(code: str) -> dict[str, str]:
    return {lang: vocab.label("indicator", code, lang) for lang in texts.LANGS}


def _map_url(root: str, report: IndicatorReport, code: str, level: str, lang: str = "") -> str:
    extra = {"level": level, **({"lang": lang} if lang else {})}
    return f"{root}/maps/indicators/{code}?{_query(report, **extra)}"


def report_document(report: IndicatorReport, root: str) -> dict[str, Any]:
    """The report as a JSON document: province values, units, series and links."""
    query = _query(report)
    indicators = []
    for code, value in report.province.items():
        indicators.append(
            {
                **_value(value),
                "label": _label(code),
                "status": charts.headline_status(value.targets, report.year)
                if value.value is not None
                else vocab.TargetStatus.NO_DATA.value,
                "links": [
                    link(_map_url(root, report, code, level), "related", HTML, f"Map by {level}")
                    for level in LEVELS
                ],
            }
        )
    units = {
        level: [
            {
                "level": unit.level,
                "scheme": unit.scheme,
                "code": unit.code,
                "name": unit.name,
                "villages": unit.villages,
                "values": {code: _value(v) for code, v in unit.values.items()},
            }
            for unit in report.units.get(level, [])
        ]
        for level in LEVELS
    }
    return {
        "programme": {"code": report.programme_code, "title": report.programme_title},
        "year": report.year,
        "province_code": report.province_code,
        "computed_on": report.today or None,
        "years_with_data": list(report.years_with_data),
        "indicators": indicators,
        "units": units,
        "series": {
            code: [{"year": year, "value": value} for year, value in pairs]
            for code, pairs in report.series.items()
        },
        "links": [
            link(f"{root}/indicators?{query}&f=json", "self", JSON, "This document"),
            link(f"{root}/indicators?{query}&f=html", "alternate", HTML, "Dashboard"),
            link(f"{root}/indicators/actions?f=json", "related", JSON, "Records that need action"),
            link(
                f"{root}/indicators/report.pdf?{query}",
                "related",
                "application/pdf",
                "Annual report (PDF)",
            ),
            link(
                f"{root}/indicators/report.xlsx?{query}",
                "related",
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                "Annual report tables (XLSX)",
            ),
        ],
    }


def _lacks(missing: int, lang: Lang) -> str:
    if missing <= 0:
        return ""
    if missing == 1:
        return PAGE["lacks_one"](lang)
    return PAGE["lacks"].format(n=number(missing, lang))(lang)


def _card(report: IndicatorReport, code: str, value: IndicatorValue, root: str, lang: Lang) -> Any:
    status = (
        charts.headline_status(value.targets, report.year)
        if value.value is not None
        else vocab.TargetStatus.NO_DATA.value
    )
    series = {code: report.series.get(code, [])}
    return {
        "code": code,
        "label": vocab.label("indicator", code, lang),
        "value_text": charts.quantity(value.value, value.unit, lang),
        "status": status,
        "status_text": charts.status_words(status, lang),
        "targets": [
            f"{charts.target_words(t, lang)} — {charts.status_words(t.status, lang)}"
            for t in sorted(value.targets, key=lambda t: t.year)
        ],
        "progress": Markup(  # noqa: S704 - charts escape every text they draw
            charts.progress_bar(value.value, value.targets, value.unit, lang, year=report.year)
        ),
        "series": Markup(  # noqa: S704 - charts escape every text they draw
            charts.time_series(series, value.targets, value.unit, lang)
        ),
        "lacks": _lacks(value.missing, lang),
        "scope": PAGE["scope"].format(
            with_data=number(value.with_data, lang), in_scope=number(value.in_scope, lang)
        )(lang),
        "from_record": PAGE["from_record"].format(n=value.from_record)(lang)
        if value.from_record
        else "",
        "maps": [
            (PAGE[f"map_{level}"](lang), _map_url(root, report, code, level, lang))
            for level in LEVELS
        ],
    }


def _tables(report: IndicatorReport, lang: Lang) -> list[dict[str, Any]]:
    codes = list(report.province)
    tables = []
    for level, heading in (("commune", "communes"), ("district", "districts")):
        rows = []
        for unit in report.units.get(level, []):
            cells = []
            for code in codes:
                value = unit.values.get(code)
                if value is None or not unit.villages:
                    cells.append({"text": "—", "missing": ""})
                    continue
                missing = (
                    PAGE["missing_short"].format(n=number(value.missing, lang))(lang)
                    if value.missing
                    else ""
                )
                cells.append(
                    {"text": charts.quantity(value.value, value.unit, lang), "missing": missing}
                )
            rows.append(
                {
                    "code": unit.code,
                    "name": unit.name,
                    "villages": number(unit.villages, lang),
                    "none": not unit.villages,
                    "cells": cells,
                }
            )
        tables.append(
            {
                "level": level,
                "heading": PAGE[heading](lang),
                "note": PAGE["districts_note"](lang) if level == "district" else "",
                "columns": [vocab.label("indicator", code, lang) for code in codes],
                "rows": rows,
            }
        )
    return tables


def _format(request: Request, f: str | None) -> str:
    if f not in (None, "json", "html"):
        raise InvalidInput(f"f must be json or html, not {f!r}")
    vary(request, "Accept")
    return f or ("html" if wants_html(request) else "json")


@router.get(
    "/indicators",
    response_model=None,
    summary=SUMMARIES["dashboard"].en,
    responses={
        200: {
            "description": "the indicators as JSON, or the dashboard (f=html)",
            "content": {JSON: {"schema": {"type": "object"}}, HTML: {"schema": {"type": "string"}}},
        },
        400: {"description": "a bad year or format"},
        404: {"description": "no such programme"},
    },
)
def indicators(
    request: Request,
    root: RootUrl,
    year: YearQuery = None,
    programme: ProgrammeQuery = None,
    f: FormatQuery = None,
    lang: LangQuery = None,
) -> Response:
    """Each indicator's value for the year, its 2025 and 2030 targets and status, the
    villages lacking data, per commune and old district, and the series over the years."""
    reject_unknown_params(request, ("year", "programme", "f", "lang"))
    chosen = _format(request, f)
    with read_connection(request) as conn:
        report = _report(conn, programme, year)
        listed = programmes.list_programmes(conn) if chosen == "html" else []
    if chosen == "json":
        return JSONResponse(report_document(report, root))
    page_lang = request_language(request)
    query = _query(report)
    return render(
        request,
        "indicators.html",
        p=texts.in_(PAGE, page_lang),
        report=report,
        cards=[
            _card(report, code, value, root, page_lang) for code, value in report.province.items()
        ],
        tables=_tables(report, page_lang),
        years=sorted(report.years_with_data, reverse=True),
        computed=dt.date.fromisoformat(report.today).strftime(date_format(page_lang))
        if report.today
        else "",
        programmes=[(row["code"], row["title"]) for row in listed],
        links={
            "json": f"{root}/indicators?{query}&f=json",
            "actions": f"{root}/indicators/actions?f=html&lang={page_lang}",
            "pdf": f"{root}/indicators/report.pdf?{query}&lang={page_lang}",
            "xlsx": f"{root}/indicators/report.xlsx?{query}&lang={page_lang}",
            # The other language keeps the year and the programme.
            "switch": f"?{query}&f=html&lang={texts.other(page_lang)}",
        },
    )


@router.get(
    "/maps/indicators/{indicator}",
    response_class=HTMLResponse,
    summary=SUMMARIES["map"].en,
    tags=["maps"],
    responses={400: {"description": "a bad level or year"}, 404: {"description": "no such"}},
)
def indicator_map(
    request: Request,
    indicator: IndicatorPath,
    root: RootUrl,
    year: YearQuery = None,
    level: LevelQuery = "commune",
    programme: ProgrammeQuery = None,
) -> HTMLResponse:
    """A choropleth of one indicator by commune or old district (classes by mapclassify)."""
    from maps import indicators as indicator_maps  # folium, geopandas: only map pages

    reject_unknown_params(request, ("year", "level", "programme", "lang"))
    if indicator not in {code.value for code in vocab.Indicator}:
        raise NotFound(f"no indicator {indicator!r}; indicators: {', '.join(vocab.Indicator)}")
    if level not in LEVELS:
        raise InvalidInput(f"level must be commune or district, not {level!r}")
    with read_connection(request) as conn:
        report = _report(conn, programme, year)
        if indicator not in report.province:
            raise NotFound(
                f"programme {report.programme_code} sets no target for {indicator!r}; its "
                f"indicators: {', '.join(report.province)}"
            )
        frame = workflow.unit_frame(conn, report, level=level, indicator=indicator)
    settings = map_settings(request, root)
    lang = settings.lang
    value = report.province[indicator]
    classes = charts.classify(list(frame["value"]))
    other = "district" if level == "commune" else "commune"
    query = _query(report)
    view = indicator_maps.IndicatorMapView(
        frame=frame,
        indicator=indicator,
        unit=value.unit,
        year=report.year,
        level=level,
        programme_code=report.programme_code,
        programme_title=report.programme_title,
        province_value=value.value,
        province_missing=value.missing,
        targets=value.targets,
        dashboard_url=f"{root}/indicators?{query}&f=html&lang={lang}",
        other_level_url=_map_url(root, report, indicator, other, lang),
        downloads=[("JSON", f"{root}/indicators?{query}&f=json")],
    )
    return _page(request, indicator_maps.build_indicator_map(view, classes, settings))


def _item_links(root: str, item: programme_actions.ActionItem) -> dict[str, str]:
    page = f"{root}/collections/{item.collection}/items/{item.feature_id}"
    return {"html": f"{page}?f=html", "json": f"{page}?f=json", "map": f"{root}/maps"}


def actions_page_document(actions: programme_actions.ActionLists, root: str) -> dict[str, Any]:
    """The action lists as JSON: each item with links to its page and the map, counts."""
    body = programme_actions.actions_document(actions)
    flat = {
        (item.kind, item.feature_id): _item_links(root, item)
        for items in actions.lists.values()
        for item in items
    }
    for kind, items in body["lists"].items():
        for item in items:
            links = flat[(kind, item["feature_id"])]
            item["links"] = [
                link(links["html"], "item", HTML, "Record page"),
                link(links["json"], "item", "application/geo+json", "Record"),
                link(links["map"], "related", HTML, "Map"),
            ]
    body["counts"] = {kind: len(items) for kind, items in actions.lists.items()}
    body["labels"] = {
        kind: {lang: vocab.label("action_kind", kind, lang) for lang in texts.LANGS}
        for kind in actions.lists
    }
    body["links"] = [
        link(f"{root}/indicators/actions?f=json", "self", JSON, "This document"),
        link(f"{root}/indicators/actions?f=html", "alternate", HTML, "This page"),
        link(f"{root}/indicators?f=json", "up", JSON, "Indicators"),
    ]
    return body


def _count(n: int, lang: Lang) -> str:
    return PAGE["count_one"](lang) if n == 1 else PAGE["count"].format(n=number(n, lang))(lang)


@router.get(
    "/indicators/actions",
    response_model=None,
    summary=SUMMARIES["actions"].en,
    responses={
        200: {
            "description": "the four lists as JSON, or their page (f=html)",
            "content": {JSON: {"schema": {"type": "object"}}, HTML: {"schema": {"type": "string"}}},
        },
        400: {"description": "a bad number of days or format"},
    },
)
def actions(
    request: Request,
    root: RootUrl,
    days: DaysQuery = 180,
    f: FormatQuery = None,
    lang: LangQuery = None,
) -> Response:
    """Villages whose recognition names an abolished unit, villages with no environmental
    plan, villages at risk, zones whose certificate expires soon or has expired."""
    reject_unknown_params(request, ("days", "f", "lang"))
    chosen = _format(request, f)
    with read_connection(request) as conn:
        found = programme_actions.records_needing_action(
            conn, today=_today(), expiring_within_days=days
        )
    if chosen == "json":
        return JSONResponse(actions_page_document(found, root))
    page_lang = request_language(request)
    pattern = date_format(page_lang)
    sections = []
    for kind, items in found.lists.items():
        sections.append(
            {
                "kind": kind,
                "title": vocab.label("action_kind", kind, page_lang),
                "count": _count(len(items), page_lang),
                "n": len(items),
                "note": PAGE["within"].format(days=days)(page_lang)
                if kind == vocab.ActionKind.EXPIRING_CERTIFICATE
                else "",
                "with_due": any(item.due for item in items),
                "rows": [
                    {
                        "id": item.feature_id,
                        "code": item.code,
                        "name": item.name,
                        # The detail in the page's language: Vietnamese unless English.
                        "detail": Text(item.detail_vi, item.detail)(page_lang),
                        "unknown": item.unknown,
                        "due": item.due.strftime(pattern) if item.due else "",
                        "links": _item_links(root, item),
                    }
                    for item in items
                ],
            }
        )
    return render(
        request,
        "indicators_actions.html",
        p=texts.in_(PAGE, page_lang),
        sections=sections,
        as_of=found.today.strftime(pattern),
        links={
            "json": f"{root}/indicators/actions?days={days}&f=json",
            "dashboard": f"{root}/indicators?f=html&lang={page_lang}",
            "switch": f"?days={days}&f=html&lang={texts.other(page_lang)}",
        },
    )
