"""Zone checks (issue 14 point 4): ``GET /analysis/zone-checks`` as JSON, HTML, CSV or GeoJSON.

HTTP only: the checks are geo.workflows.zone_checks.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from api.deps import RootUrl, read_connection
from api.documents import link
from api.i18n import OPERATION_SUMMARIES, request_language
from api.negotiation import GEOJSON, HTML, JSON, reject_unknown_params, wants_html
from api.openapi import bilingual
from api.routers.ogc import render
from geo.kernel import collections as ids
from geo.kernel import text as texts
from geo.kernel import vocab
from geo.kernel.errors import InvalidInput
from geo.kernel.text import Text
from geo.workflows import zone_checks
from geo.workflows.zone_checks import CHECK_TITLES, SEVERITY_TITLES, ZoneCheckOptions

router = APIRouter(tags=["analysis"])

# The operation's summary on the /api page in both languages (registered as bilingual()
# registers parameter texts, so the shared table in api/i18n.py needs no edit to merge).
SUMMARY = Text(
    "Các vùng nguyên liệu cần kiểm tra, kèm lý do của từng vùng",
    "Material zones that need attention, with the reason for each",
)
OPERATION_SUMMARIES.setdefault(SUMMARY.en, SUMMARY)

CSV = "text/csv; charset=utf-8"
# The page lists this many zones per check (a national dataset has thousands without a
# recorded output); the JSON, CSV and GeoJSON hold them all.
ROWS_PER_CHECK = 500
FORMATS = ("json", "html", "csv", "geojson")

# The words of the zone-checks page.
PAGE: dict[str, Text] = {
    "title": Text("Vùng nguyên liệu cần kiểm tra", "Material zones that need attention"),
    "intro": Text(
        "Danh sách các vùng nguyên liệu cần cán bộ quy hoạch xem lại, kèm lý do của từng vùng.",
        "The material zones a planner should look at again, with the reason for each.",
    ),
    "as_of": Text("Tính đến ngày", "As of"),
    "rules": Text("Quy tắc và ngưỡng", "Rules and tolerances"),
    "rule_overlap": Text(
        "Chồng lấn giữa hai vùng được báo khi phần chung lớn hơn {m2} m² (diện tích trên "
        "mặt cầu); mỗi cặp hiện ở cả hai vùng.",
        "Two zones overlapping are reported when they share more than {m2} m² (geodesic "
        "area); each pair shows under both zones.",
    ),
    "rule_exclusion": Text(
        "Vùng cấm: các lớp tham chiếu loại vùng cấm; chồng lấn là lỗi, chỉ chạm ranh giới "
        "là cảnh báo.",
        "Exclusion areas: reference layers of kind exclusion; an overlap is an error, a "
        "shared edge only a warning.",
    ),
    "rule_certificate": Text(
        "Chứng chỉ: đã hết hạn là lỗi; hết hạn trong {days} ngày tới, hoặc có số chứng chỉ "
        "mà chưa ghi ngày hết hạn, là cảnh báo.",
        "Certificates: expired is an error; expiring within {days} days, or a certificate "
        "number without an expiry date, a warning.",
    ),
    "rule_area": Text(
        "Diện tích công bố chênh với diện tích ranh giới quá {pct}% và quá {floor} ha.",
        "Declared area off the boundary's area by more than {pct}% and more than {floor} ha.",
    ),
    "rule_reach": Text(
        "Không có làng nghề cần nguyên liệu của vùng trong {km} km đường chim bay (khi chưa "
        "làng nào ghi nhu cầu nguyên liệu đó: không có làng nghề nào); không tính làng đã "
        "mai một hoặc bị thu hồi danh hiệu.",
        "No village needing the zone's material within {km} km in a straight line (while "
        "no village records a demand for it: no village at all); lost and revoked villages "
        "do not count.",
    ),
    "rule_statuses": Text(
        "Mọi tình trạng vùng được kiểm tra, kể cả vùng đề xuất, trừ khi lọc theo tình trạng.",
        "Zones of every status are checked, proposed ones too, unless a status is chosen.",
    ),
    "check": Text("Nội dung kiểm tra", "Check"),
    "count": Text("Số lượng", "Count"),
    "zones_checked": Text("Số vùng đã kiểm tra", "Zones checked"),
    "severity": Text("Mức độ", "Severity"),
    "zone": Text("Vùng", "Zone"),
    "material": Text("Nguyên liệu", "Material"),
    "status": Text("Tình trạng", "Status"),
    "reason": Text("Lý do", "Reason"),
    "none": Text("Không có vùng nào.", "No zones."),
    "download": Text("Tải về", "Download"),
    "all_statuses": Text("Mọi tình trạng", "Every status"),
    "all_materials": Text("Mọi nguyên liệu", "Every material"),
    "expiring_days": Text("Số ngày sắp hết hạn", "Days before expiry"),
    "area_tolerance_pct": Text("Chênh diện tích (%)", "Area tolerance (%)"),
    "haul_km": Text("Cự ly vận chuyển (km)", "Haul distance (km)"),
    "overlap_min_m2": Text("Chồng lấn tối thiểu (m²)", "Smallest overlap (m²)"),
    "run": Text("Kiểm tra lại", "Check again"),
    "needs_attention": Text("Cần kiểm tra", "Needs attention"),
    "more": Text(
        "… và {n} vùng nữa: tải tệp CSV hoặc JSON để xem đủ danh sách.",
        "… and {n} more zones: download the CSV or JSON for the whole list.",
    ),
    "all_checks": Text("Xem mọi vùng cần kiểm tra", "See every zone that needs attention"),
}

_DESCRIPTIONS = {
    "as_of": Text(
        "ngày tính hạn chứng chỉ (YYYY-MM-DD); mặc định hôm nay",
        "date certificates are checked against (YYYY-MM-DD); default today",
    ),
    "expiring_days": Text(
        "báo chứng chỉ hết hạn trong số ngày này (mặc định 90)",
        "report certificates expiring within this many days (default 90)",
    ),
    "area_tolerance_pct": Text(
        "chênh lệch cho phép giữa diện tích công bố và diện tích ranh giới, % (mặc định 10; "
        "luôn cho phép 0,5 ha)",
        "allowed difference between declared and boundary area, % (default 10; 0.5 ha is "
        "always allowed)",
    ),
    "overlap_min_m2": Text(
        "phần chồng lấn nhỏ hơn mức này (m²) không được báo (mặc định 100)",
        "overlaps smaller than this (m²) are not reported (default 100)",
    ),
    "haul_km": Text(
        "cự ly vận chuyển tối đa tới làng nghề, km đường chim bay (mặc định 50)",
        "longest haul to a village, km in a straight line (default 50)",
    ),
    "material": Text(
        "chỉ các vùng của nguyên liệu này: " + ", ".join(vocab.Material),
        "only zones of this material: " + ", ".join(vocab.Material),
    ),
    "status": Text(
        "chỉ các vùng có tình trạng này, cách nhau bởi dấu phẩy (mặc định: mọi tình trạng)",
        "only zones of these statuses, comma-separated (default: every status)",
    ),
    "checks": Text(
        "chỉ các nội dung kiểm tra này, cách nhau bởi dấu phẩy: " + ", ".join(zone_checks.CHECKS),
        "only these checks, comma-separated: " + ", ".join(zone_checks.CHECKS),
    ),
    "f": Text("json (mặc định), html, csv hoặc geojson", "json (default), html, csv or geojson"),
    "lang": Text(
        "ngôn ngữ của trang (vi hoặc en)",
        "language of the page (vi or en)",
    ),
}


def _said(name: str) -> str:
    return bilingual(_DESCRIPTIONS[name])


_FINDING_SCHEMA = {
    "type": "object",
    "properties": {
        "zone_id": {"type": "integer"},
        "code": {"type": "string"},
        "name": {"type": "string"},
        "material": {"type": "string"},
        "status": {"type": "string"},
        "check": {"type": "string", "enum": list(zone_checks.CHECKS)},
        "kind": {"type": "string"},
        "severity": {"type": "string", "enum": list(zone_checks.SEVERITIES)},
        "reason": {
            "type": "object",
            "properties": {lang: {"type": "string"} for lang in texts.LANGS},
        },
        "figures": {"type": "object"},
        "links": {"type": "array", "items": {"type": "object"}},
    },
}


@router.get(
    "/analysis/zone-checks",
    response_model=None,
    summary=SUMMARY.en,
    responses={
        200: {
            "description": "The findings, sorted by severity then zone code",
            "content": {
                JSON: {
                    "schema": {
                        "type": "object",
                        "properties": {
                            "parameters": {"type": "object"},
                            "zones_checked": {"type": "integer"},
                            "counts": {"type": "object"},
                            "severity_counts": {"type": "object"},
                            "findings": {"type": "array", "items": _FINDING_SCHEMA},
                        },
                    }
                },
                HTML: {"schema": {"type": "string"}},
                "text/csv": {"schema": {"type": "string"}},
                GEOJSON: {"schema": {"type": "object"}},
            },
        },
        400: {"description": "a bad parameter (problem details)"},
    },
)
def zone_checks_route(
    request: Request,
    root: RootUrl,
    as_of: Annotated[dt.date | None, Query(description=_said("as_of"))] = None,
    expiring_days: Annotated[
        int,
        Query(ge=0, le=zone_checks.MAX_EXPIRING_DAYS, description=_said("expiring_days")),
    ] = zone_checks.DEFAULT_EXPIRING_DAYS,
    area_tolerance_pct: Annotated[
        float,
        Query(ge=0, le=1000, allow_inf_nan=False, description=_said("area_tolerance_pct")),
    ] = zone_checks.DEFAULT_AREA_TOLERANCE_PCT,
    overlap_min_m2: Annotated[
        float,
        Query(ge=0, le=1e12, allow_inf_nan=False, description=_said("overlap_min_m2")),
    ] = zone_checks.DEFAULT_OVERLAP_MIN_M2,
    haul_km: Annotated[
        float,
        Query(ge=0, le=zone_checks.MAX_HAUL_KM, allow_inf_nan=False, description=_said("haul_km")),
    ] = zone_checks.DEFAULT_HAUL_KM,
    material: Annotated[
        str | None,
        Query(description=_said("material")),
    ] = None,
    status: Annotated[str | None, Query(description=_said("status"))] = None,
    checks: Annotated[str | None, Query(description=_said("checks"))] = None,
    f: Annotated[str | None, Query(description=_said("f"))] = None,
    lang: Annotated[str | None, Query(description=_said("lang"))] = None,
) -> Response:
    """Zones that overlap each other, touch or overlap exclusion areas, have a certificate
    expired, expiring or without expiry, a declared area off the boundary's, no village
    within haul distance, or no recorded output; each with its reason in Vietnamese and
    English and the figures behind it. JSON by default; ``f=html`` a page, ``f=csv`` a
    spreadsheet (UTF-8 with BOM), ``f=geojson`` the zones and overlap polygons for a map.
    """
    reject_unknown_params(request, _DESCRIPTIONS)
    if f is not None and f not in FORMATS:
        raise InvalidInput(f"f must be one of: {', '.join(FORMATS)}")
    options = ZoneCheckOptions(
        as_of=as_of or dt.date.today(),
        expiring_days=expiring_days,
        area_tolerance_pct=area_tolerance_pct,
        overlap_min_m2=overlap_min_m2,
        haul_km=haul_km,
        material=material or None,
        statuses=zone_checks.parse_list("status", status, vocab.ZoneStatus),
        checks=zone_checks.parse_list("checks", checks, zone_checks.CHECKS) or zone_checks.CHECKS,
    )

    def zone_url(zone_id: int) -> str:
        return f"{root}/collections/{ids.MATERIAL_ZONES}/items/{zone_id}"

    if f == "geojson":
        with read_connection(request) as conn:
            _, collection = zone_checks.run_geojson(conn, options)
        for feature in collection["features"]:
            props = feature["properties"]
            if props["kind"] == "zone":
                props["url"] = zone_url(props["zone_id"])
        collection["parameters"] = options.stated()
        return Response(json.dumps(collection, ensure_ascii=False), media_type=GEOJSON)
    with read_connection(request) as conn:
        report = zone_checks.run(conn, options)
    if f == "csv":
        return Response(
            zone_checks.csv_text(report, zone_url),
            media_type=CSV,
            headers={
                "Content-Disposition": (
                    f'attachment; filename="zone-checks-{options.as_of.isoformat()}.csv"'
                )
            },
        )
    if f != "json" and wants_html(request):
        return _page(request, report)
    here = str(request.url.remove_query_params("f"))
    body = report.as_json()
    for finding in body["findings"]:
        url = zone_url(finding["zone_id"])
        finding["links"] = [
            link(url, "item", GEOJSON, finding["code"]),
            link(f"{url}?f=html", "alternate", HTML, finding["code"]),
        ]
    body["links"] = [
        link(_with(here, f="json"), "self", JSON, "JSON"),
        link(_with(here, f="html"), "alternate", HTML, "HTML"),
        link(_with(here, f="csv"), "alternate", "text/csv", "CSV"),
        link(_with(here, f="geojson"), "alternate", GEOJSON, "GeoJSON"),
    ]
    return Response(json.dumps(body, ensure_ascii=False), media_type=JSON)


def _with(url: str, **params: str) -> str:
    joiner = "&" if "?" in url else "?"
    return url + joiner + "&".join(f"{k}={v}" for k, v in params.items())


def _page(request: Request, report: zone_checks.ZoneChecks) -> Response:
    lang = request_language(request)
    options = report.options

    def num(value: float, digits: int | None = None) -> str:
        # Tolerances typed as whole numbers read as such (10%, not 10,0%).
        if digits is None and float(value).is_integer():
            digits = 0
        return texts.number(value, lang, digits)

    page = texts.in_(PAGE, lang)
    rules = [
        page["rule_overlap"].replace("{m2}", num(options.overlap_min_m2, 0)),
        page["rule_exclusion"],
        page["rule_certificate"].replace("{days}", num(options.expiring_days)),
        page["rule_area"]
        .replace("{pct}", num(options.area_tolerance_pct))
        .replace("{floor}", num(zone_checks.AREA_FLOOR_HA)),
        page["rule_reach"].replace("{km}", num(options.haul_km, 0)),
        page["rule_statuses"],
    ]
    by_check: dict[str, list[zone_checks.Finding]] = {c: [] for c in options.checks}
    for finding in report.findings:
        by_check[finding.check].append(finding)
    here = request.url.remove_query_params(["f", "lang"])
    downloads = [
        (label, str(here.include_query_params(f=fmt)))
        for label, fmt in (("JSON", "json"), ("CSV", "csv"), ("GeoJSON", "geojson"))
    ]
    return render(
        request,
        "analysis_checks.html",
        p=page,
        rules=rules,
        as_of=options.as_of.strftime(texts.date_format(lang)),
        as_of_iso=options.as_of.isoformat(),
        options=options,
        report=report,
        by_check=by_check,
        check_titles=texts.in_(CHECK_TITLES, lang),
        severity_titles=texts.in_(SEVERITY_TITLES, lang),
        materials={code: vocab.label("material", code, lang) for code in vocab.Material},
        statuses={code: vocab.label("zone_status", code, lang) for code in vocab.ZoneStatus},
        num=num,
        downloads=downloads,
        zone_path=f"/collections/{ids.MATERIAL_ZONES}/items/",
        rows_per_check=ROWS_PER_CHECK,
    )


def attention_context(findings: list[zone_checks.Finding], lang: str) -> dict[str, Any]:
    """What the zone item page's "Needs attention" box shows (api/templates/item.html)."""
    return {
        "items": [
            {
                "severity": f.severity,
                "severity_title": SEVERITY_TITLES[f.severity](lang),
                "check": f.check,
                "reason": f.reason(lang),
            }
            for f in findings
        ],
        "title": PAGE["needs_attention"](lang),
        "all_checks": PAGE["all_checks"](lang),
    }
