"""Supply coverage and what-if scenarios (issue 14 points 1 and 2), HTTP only.

``GET /analysis/coverage`` answers JSON (default), HTML (``f=html``), GeoJSON
(``f=geojson``: villages, zones and flows in one FeatureCollection, told apart by the
``kind`` property) and CSV (``f=csv``: the per-village table). ``POST
/analysis/coverage/what-if`` takes a scenario as JSON and answers the current state, the
scenario's result and their difference; it writes nothing, so it needs no key.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from api.deps import RootUrl, read_connection
from api.i18n import request_language
from api.negotiation import GEOJSON, HTML, JSON, reject_unknown_params, vary
from api.openapi import bilingual
from api.routers.ogc import render
from geo.kernel.errors import InvalidInput, LimitExceeded
from geo.kernel.text import Text, in_, number
from geo.kernel.vocab import Material, ZoneStatus, label
from geo.workflows import coverage
from geo.workflows.coverage import CoverageRequest, ExtraZone, Scenario

router = APIRouter(tags=["analysis"])

CSV = "text/csv"
FORMATS = ("json", "html", "geojson", "csv")
PARAMS = ("material", "haul_km", "mode", "year", "include", "capacity", "exclude", "network")
DEFAULT_HAUL_KM = 50.0
# A what-if body: the scenario's keys, and how many capacity changes or exclusions it holds.
BODY_KEYS = frozenset({"material", "haul_km", "mode", "year", "network", "scenario"})
SCENARIO_KEYS = frozenset({"include", "capacity", "exclude", "zones"})
ZONE_KEYS = frozenset({"geometry", "capacity_t", "code", "name", "material"})
MAX_LISTED = 1000

TEXTS: dict[str, Text] = {
    "title": Text("Độ phủ nguồn nguyên liệu", "Raw-material supply coverage"),
    "intro": Text(
        "Phân bổ sản lượng của các vùng nguyên liệu cho nhu cầu của các làng nghề với tổng "
        "tấn × km nhỏ nhất, trong cự ly vận chuyển tối đa (bài toán vận tải, giải chính xác).",
        "Zone capacity allocated to village demand at the least total tonne × km, within "
        "the longest haul (the transportation problem, solved exactly).",
    ),
    "analyses": Text("Phân tích", "Analyses"),
    "material": Text("Nguyên liệu", "Material"),
    "haul_km": Text("Cự ly vận chuyển tối đa (km)", "Longest haul (km)"),
    "mode": Text("Cách đo khoảng cách", "Distance mode"),
    "mode_auto": Text("tự động (đường bộ nếu có)", "auto (roads when loaded)"),
    "mode_road": Text("theo đường bộ", "along the roads"),
    "mode_geodesic": Text("đường chim bay", "straight line"),
    "unreached": Text("không có vùng nào trong cự ly", "no zone within the haul"),
    "year": Text("Năm số liệu", "Figures' year"),
    "year_latest": Text("mới nhất", "latest"),
    "include": Text("Tính thêm vùng", "Also count zones"),
    "capacity": Text(
        "Đổi sản lượng vùng (MÃ:tấn, cách nhau bằng dấu phẩy)",
        "Change a zone's capacity (CODE:t, comma-separated)",
    ),
    "run": Text("Tính", "Run"),
    "distance_used": Text("Khoảng cách đã dùng", "Distances used"),
    "road_network": Text("mạng đường", "road network"),
    "totals": Text("Tổng hợp", "Totals"),
    "demand_t": Text("Nhu cầu (tấn/năm)", "Demand (t/yr)"),
    "supplied_t": Text("Được cung cấp (tấn/năm)", "Supplied (t/yr)"),
    "unmet_t": Text("Thiếu hụt (tấn/năm)", "Unmet (t/yr)"),
    "capacity_t": Text("Sản lượng (tấn/năm)", "Capacity (t/yr)"),
    "used_t": Text("Đã phân bổ (tấn/năm)", "Used (t/yr)"),
    "tonne_km": Text("Tấn × km", "Tonne × km"),
    "covered_share": Text("Tỷ lệ đáp ứng", "Covered"),
    "use_share": Text("Tỷ lệ sử dụng", "Share used"),
    "villages_covered": Text("Làng được đáp ứng đủ", "Villages fully covered"),
    "villages_short": Text("Làng còn thiếu", "Villages short"),
    "villages_unreached": Text(
        "Làng không có vùng nào trong cự ly", "Villages with no zone within the haul"
    ),
    "zones_used": Text("Vùng được sử dụng", "Zones used"),
    "villages": Text("Làng nghề", "Villages"),
    "zones": Text("Vùng nguyên liệu", "Zones"),
    "flows": Text("Luồng vận chuyển", "Flows"),
    "missing": Text("Thiếu số liệu hoặc không tới được", "Missing figures or out of reach"),
    "code": Text("Mã", "Code"),
    "name": Text("Tên", "Name"),
    "status": Text("Trạng thái", "Status"),
    "serves": Text("Cung cấp cho", "Serves"),
    "figure": Text("Nguồn số liệu", "Figure from"),
    "figure_feature": Text("thuộc tính của đối tượng", "the feature's field"),
    "figure_scenario": Text("kịch bản", "the scenario"),
    "figure_year": Text("số liệu năm {year}", "figure of {year}"),
    "estimate": Text("ước tính", "estimate"),
    "from_zone": Text("Từ vùng", "From zone"),
    "to_village": Text("Đến làng", "To village"),
    "tonnes": Text("Tấn/năm", "t/yr"),
    "km": Text("Quãng đường (km)", "Distance (km)"),
    "kind": Text("Loại", "Kind"),
    "reason": Text("Lý do", "Reason"),
    "kind_village": Text("làng", "village"),
    "kind_zone": Text("vùng", "zone"),
    "unsaved": Text("chưa lưu", "unsaved"),
    "none": Text("Không có.", "None."),
    "downloads": Text("Tải về", "Download"),
    "what_if": Text("Kịch bản giả định (what-if)", "What-if scenarios"),
    "what_if_note": Text(
        "Gửi kịch bản dạng JSON tới POST /analysis/coverage/what-if: kết quả so với hiện "
        "trạng, không ghi gì vào cơ sở dữ liệu.",
        "POST a scenario as JSON to /analysis/coverage/what-if: its result against the "
        "current state; nothing is written.",
    ),
    "more_flows": Text(
        "Chỉ hiện {shown} trong {total} dòng; tải CSV hoặc GeoJSON để xem đủ.",
        "Showing {shown} of {total} rows; download the CSV or GeoJSON for all.",
    ),
}

REASONS: dict[str, Text] = {
    "no demand figure for the material": Text(
        "chưa có số liệu nhu cầu về nguyên liệu này", "no demand figure for the material"
    ),
    "no yearly capacity figure": Text("chưa có số liệu sản lượng năm", "no yearly capacity figure"),
    "a zone lies within the haul in a straight line, but none along the roads": Text(
        "có vùng trong cự ly theo đường chim bay nhưng không có vùng nào theo đường bộ",
        "a zone lies within the haul in a straight line, but none along the roads",
    ),
}

NOTES: dict[str, Text] = {
    "no road network is loaded: distances are geodesic": Text(
        "chưa nạp mạng đường: khoảng cách tính theo đường chim bay",
        "no road network is loaded: distances are geodesic",
    ),
}

_MATERIAL_TEXT = Text(
    "Nguyên liệu: " + ", ".join(m.value for m in Material),
    "The material: " + ", ".join(m.value for m in Material),
)
_HAUL_TEXT = Text(
    "Cự ly vận chuyển tối đa, km (lớn hơn 0, tối đa 500; mặc định 50)",
    "The longest haul in km (more than 0, at most 500; default 50)",
)
_MODE_TEXT = Text(
    "auto (đường bộ khi đã nạp mạng đường, nếu không thì đường chim bay), road hoặc geodesic",
    "auto (roads when a network is loaded, else geodesic), road or geodesic",
)
_YEAR_TEXT = Text(
    "Năm số liệu: số liệu của năm lớn nhất không quá năm này; mặc định là mới nhất",
    "The figures' year: each figure of the greatest year up to it; default the latest",
)
_INCLUDE_TEXT = Text(
    "Trạng thái vùng tính thêm ngoài existing, cách nhau bằng dấu phẩy: planned, proposed",
    "Zone statuses counted besides existing, comma-separated: planned, proposed",
)
_CAPACITY_TEXT = Text(
    "Sản lượng thay thế của vùng, MÃ:tấn cách nhau bằng dấu phẩy (ví dụ TH-Z-001:5000)",
    "Zone capacities to use instead, CODE:t comma-separated (e.g. TH-Z-001:5000)",
)
_EXCLUDE_TEXT = Text(
    "Mã các vùng bỏ ra khỏi phân tích, cách nhau bằng dấu phẩy",
    "Codes of zones left out, comma-separated",
)
_NETWORK_TEXT = Text(
    "Tên mạng đường; mặc định là mạng được dựng gần nhất",
    "The road network's name; default the one most recently built",
)
_FORMAT_TEXT = Text(
    "json (mặc định), html, geojson (làng, vùng và luồng trong một FeatureCollection, "
    "thuộc tính kind) hoặc csv (bảng theo làng)",
    "json (default), html, geojson (villages, zones and flows in one FeatureCollection, "
    "told apart by kind) or csv (the per-village table)",
)
_LANG_TEXT = Text("Ngôn ngữ của trang HTML: vi hoặc en", "The HTML page's language: vi or en")


def _split(value: str | None) -> list[str]:
    return [part.strip() for part in (value or "").split(",") if part.strip()]


def parse_capacity(value: str | None) -> dict[int | str, float]:
    """``CODE:t,CODE:t`` → {code: tonnes}; 400 on anything else.

    Examples
    --------
    >>> parse_capacity("TH-Z-001:5000, TH-Z-002:12.5")
    {'TH-Z-001': 5000.0, 'TH-Z-002': 12.5}
    """
    found: dict[int | str, float] = {}
    for part in _split(value):
        code, sep, tonnes = part.rpartition(":")
        try:
            amount = float(tonnes)
        except ValueError:
            amount = math.nan
        if not sep or not code.strip() or not math.isfinite(amount) or amount < 0:
            raise InvalidInput(
                f"capacity must be CODE:tonnes pairs separated by commas, got {part[:60]!r}"
            )
        found[code.strip()] = amount
    if len(found) > MAX_LISTED:
        raise LimitExceeded(
            f"at most {MAX_LISTED} capacity changes", limit="capacity", value=MAX_LISTED
        )
    return found


def _format(request: Request) -> str:
    vary(request, "Accept")
    asked = request.query_params.get("f")
    if asked is None:
        accept = request.headers.get("accept", "")
        if "text/html" in accept and JSON not in accept:
            return "html"
        return "json"
    if asked not in FORMATS:
        raise InvalidInput(f"f must be one of {', '.join(FORMATS)}, got {asked[:20]!r}")
    return asked


@router.get(
    "/analysis/coverage",
    response_model=None,
    summary="Supply coverage of a material",
    responses={
        200: {
            "description": (
                "The allocation: totals, per-village and per-zone tables, flows and what is "
                "missing (JSON); the same as a page (HTML); villages, zones and flows in one "
                "FeatureCollection with a kind property (GeoJSON); the per-village table (CSV)"
            ),
            "content": {
                JSON: {"schema": {"type": "object"}},
                HTML: {"schema": {"type": "string"}},
                GEOJSON: {"schema": {"type": "object"}},
                CSV: {"schema": {"type": "string"}},
            },
        },
        400: {
            "description": "unknown material or status, a bad haul, capacity or format, "
            "or mode=road with no road network loaded"
        },
        404: {"description": "a zone code or network name that does not exist"},
    },
)
def coverage_page(
    request: Request,
    root: RootUrl,
    material: Annotated[str | None, Query(description=bilingual(_MATERIAL_TEXT))] = None,
    haul_km: Annotated[float, Query(description=bilingual(_HAUL_TEXT))] = DEFAULT_HAUL_KM,
    mode: Annotated[str, Query(description=bilingual(_MODE_TEXT))] = "auto",
    year: Annotated[int | None, Query(description=bilingual(_YEAR_TEXT))] = None,
    include: Annotated[str | None, Query(description=bilingual(_INCLUDE_TEXT))] = None,
    capacity: Annotated[str | None, Query(description=bilingual(_CAPACITY_TEXT))] = None,
    exclude: Annotated[str | None, Query(description=bilingual(_EXCLUDE_TEXT))] = None,
    network: Annotated[str | None, Query(description=bilingual(_NETWORK_TEXT))] = None,
    f: Annotated[str | None, Query(description=bilingual(_FORMAT_TEXT))] = None,
    lang: Annotated[str | None, Query(description=bilingual(_LANG_TEXT))] = None,
) -> Response:
    """Which villages each zone supplies, who goes short, at the least tonne-km."""
    reject_unknown_params(request, PARAMS)
    fmt = _format(request)
    if material is None:
        if fmt == "html":
            return _html(request, root, None)
        raise InvalidInput("material is required: " + ", ".join(m.value for m in Material))
    analysis = CoverageRequest(
        material=material,
        haul_km=haul_km,
        mode=mode,
        year=year,
        network=network,
        scenario=Scenario(
            include_statuses=_split(include),
            capacity_overrides=parse_capacity(capacity),
            exclude_zones=_split(exclude),
        ),
    )
    with read_connection(request) as conn:
        result = coverage.run_coverage(conn, analysis)
    if fmt == "html":
        return _html(request, root, result)
    if fmt == "geojson":
        return Response(
            json.dumps(coverage.result_geojson(result), ensure_ascii=False),
            media_type=GEOJSON,
        )
    if fmt == "csv":
        return Response(
            coverage.villages_csv(result),
            media_type=f"{CSV}; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="coverage-{material}.csv"'},
        )
    return JSONResponse(coverage.result_document(result))


# -- what-if ------------------------------------------------------------------------------------
def _refuse_constant(name: str) -> Any:
    raise InvalidInput(f"the body has {name}, which is not a JSON number")


def _object(value: Any, where: str, keys: frozenset[str]) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise InvalidInput(f"{where} must be a JSON object")
    unknown = sorted(set(value) - keys)
    if unknown:
        shown = ", ".join(str(k)[:40] for k in unknown[:5])
        raise InvalidInput(
            f"{where} has unknown members {shown}; allowed: {', '.join(sorted(keys))}"
        )
    return value


def _strings(value: Any, where: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidInput(f"{where} must be a list of strings")
    if len(value) > MAX_LISTED:
        raise LimitExceeded(f"{where} may list at most {MAX_LISTED}", limit=where, value=MAX_LISTED)
    return value


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidInput(f"{where} must be a number")
    return float(value)


def parse_what_if(body: Any) -> CoverageRequest:
    """A what-if body → a request; InvalidInput naming the first thing wrong."""
    top = _object(body, "the body", BODY_KEYS)
    if not isinstance(top.get("material"), str):
        raise InvalidInput("material must be a string: " + ", ".join(m.value for m in Material))
    year = top.get("year")
    if year is not None and (isinstance(year, bool) or not isinstance(year, int)):
        raise InvalidInput("year must be a whole number")
    for key in ("mode", "network"):
        if top.get(key) is not None and not isinstance(top[key], str):
            raise InvalidInput(f"{key} must be a string")
    scenario = _object(top.get("scenario", {}), "scenario", SCENARIO_KEYS)
    capacity = scenario.get("capacity", {})
    if not isinstance(capacity, dict):
        raise InvalidInput("scenario.capacity must be an object of zone code → tonnes")
    if len(capacity) > MAX_LISTED:
        raise LimitExceeded(
            f"scenario.capacity may hold at most {MAX_LISTED}", limit="capacity", value=MAX_LISTED
        )
    zones = scenario.get("zones", [])
    if not isinstance(zones, list):
        raise InvalidInput("scenario.zones must be a list of unsaved zones")
    if len(zones) > coverage.MAX_EXTRA_ZONES:
        raise LimitExceeded(
            f"at most {coverage.MAX_EXTRA_ZONES} unsaved zones in one scenario",
            limit="extra_zones",
            value=coverage.MAX_EXTRA_ZONES,
        )
    extra = []
    for number_, zone in enumerate(zones, start=1):
        where = f"scenario.zones[{number_}]"
        item = _object(zone, where, ZONE_KEYS)
        for key in ("code", "name", "material"):
            if item.get(key) is not None and not isinstance(item[key], str):
                raise InvalidInput(f"{where}.{key} must be a string")
        extra.append(
            ExtraZone(
                geometry=item.get("geometry"),  # type: ignore[arg-type]
                capacity_t=_number(item.get("capacity_t"), f"{where}.capacity_t"),
                code=(item.get("code") or None) and str(item["code"])[:32],
                name=item.get("name"),
                material=item.get("material"),
            )
        )
    return CoverageRequest(
        material=top["material"],
        haul_km=_number(top.get("haul_km", DEFAULT_HAUL_KM), "haul_km"),
        mode=top.get("mode") or "auto",
        year=year,
        network=top.get("network"),
        scenario=Scenario(
            include_statuses=_strings(scenario.get("include"), "scenario.include"),
            capacity_overrides={
                str(k): _number(v, f"scenario.capacity[{str(k)[:40]}]") for k, v in capacity.items()
            },
            exclude_zones=_strings(scenario.get("exclude"), "scenario.exclude"),
            extra_zones=extra,
        ),
    )


_WHAT_IF_EXAMPLE = {
    "material": "luong",
    "haul_km": 50,
    "mode": "auto",
    "scenario": {
        "include": ["planned"],
        "capacity": {"TH-Z-001": 5000},
        "exclude": [],
        "zones": [
            {
                "code": "new-1",
                "capacity_t": 1200,
                "geometry": {
                    "type": "Polygon",
                    "coordinates": [
                        [
                            [105.1, 20.1],
                            [105.12, 20.1],
                            [105.12, 20.12],
                            [105.1, 20.12],
                            [105.1, 20.1],
                        ]
                    ],
                },
            }
        ],
    },
}


@router.post(
    "/analysis/coverage/what-if",
    response_model=None,
    summary="What-if: coverage with planned, proposed, changed or unsaved zones",
    openapi_extra={
        "requestBody": {
            "required": True,
            "description": (
                "The analysis (material, haul_km, mode, year, network) and the scenario: "
                "include (statuses besides existing), capacity (zone code → t), exclude "
                "(zone codes) and zones (unsaved zones: a GeoJSON Polygon or MultiPolygon "
                "in WGS 84, capacity_t, optional code and name; at most 50)"
            ),
            "content": {JSON: {"schema": {"type": "object"}, "example": _WHAT_IF_EXAMPLE}},
        }
    },
    responses={
        200: {
            "description": (
                "current (the state today), scenario (the scenario's result) and diff "
                "(unmet before and after, villages newly covered or short, every village "
                "whose supply changed); nothing is written"
            ),
            "content": {JSON: {"schema": {"type": "object"}}},
        },
        400: {"description": "a body that is not the scenario JSON, or bad values in it"},
        404: {"description": "a zone code or network name that does not exist"},
        413: {"description": "a body over the size limit"},
    },
)
async def what_if(request: Request) -> Response:
    """The scenario against the current state, nothing written (no key needed)."""
    reject_unknown_params(request, ())
    raw = await request.body()
    try:
        body = json.loads(raw, parse_constant=_refuse_constant)
    except (ValueError, RecursionError) as exc:
        if isinstance(exc, InvalidInput):
            raise
        raise InvalidInput("the body must be a JSON object (the scenario)") from exc
    analysis = parse_what_if(body)
    return await _run_in_thread(request, analysis)


async def _run_in_thread(request: Request, analysis: CoverageRequest) -> Response:
    from starlette.concurrency import run_in_threadpool

    def run() -> dict[str, Any]:
        with read_connection(request) as conn:
            current, scenario, diff = coverage.what_if(conn, analysis)
        return {
            "current": coverage.result_document(current),
            "scenario": coverage.result_document(scenario),
            "diff": coverage.diff_document(diff),
        }

    return JSONResponse(await run_in_threadpool(run))


# -- HTML -----------------------------------------------------------------------------------------
def _share(value: Any, lang: str) -> str:
    # A no-break space keeps the sign with its number.
    return "—" if value is None else f"{number(100 * float(value), lang, 0)}\u00a0%"


def _tonnes(value: Any, lang: str) -> str:
    return "—" if value is None else number(float(value), lang, 1)


def _figure_text(row: Mapping[str, Any], texts: Mapping[str, str], lang: str) -> str:
    source = row.get("figure_source")
    if source == "feature":
        return texts["figure_feature"]
    if source == "scenario":
        return texts["figure_scenario"]
    said = TEXTS["figure_year"](lang).format(year=row.get("figure_year"))
    if row.get("figure_estimate"):
        said += f" ({texts['estimate']}: {row.get('figure_basis') or '—'})"
    return said


def _html(request: Request, root: str, result: coverage.CoverageResult | None) -> HTMLResponse:
    lang = request_language(request)
    texts = in_(TEXTS, lang)
    materials = [(m.value, label("material", m.value, lang)) for m in Material]
    statuses = [
        (s.value, label("zone_status", s.value, lang))
        for s in ZoneStatus
        if s is not ZoneStatus.EXISTING
    ]
    params = request.query_params
    form = {
        "material": params.get("material", ""),
        "haul_km": params.get("haul_km", f"{DEFAULT_HAUL_KM:g}"),
        "mode": params.get("mode", "auto"),
        "year": params.get("year", ""),
        "include": set(_split(params.get("include"))),
        "capacity": params.get("capacity", ""),
    }
    context: dict[str, Any] = {
        "x": texts,
        "materials": materials,
        "statuses": statuses,
        "form": form,
        "result": None,
    }
    if result is not None:
        doc = coverage.result_document(result)
        totals = doc["totals"]
        zone_names = {z["code"]: z["name"] for z in doc["zones"]}
        village_names = {v["code"]: v["name"] for v in doc["villages"]}
        query = request.url.remove_query_params(["f", "lang"]).query
        context["result"] = {
            "material": label("material", result.request.material, lang),
            "haul": number(result.request.haul_km, lang, 1),
            "mode": texts[f"mode_{result.distance_mode}"],
            "network": result.network,
            "note": NOTES[result.note](lang) if result.note in NOTES else result.note,
            "totals": [
                (texts["demand_t"], _tonnes(totals["demand_t"], lang)),
                (texts["supplied_t"], _tonnes(totals["supplied_t"], lang)),
                (texts["unmet_t"], _tonnes(totals["unmet_t"], lang)),
                (texts["capacity_t"], _tonnes(totals["capacity_t"], lang)),
                (texts["used_t"], _tonnes(totals["used_t"], lang)),
                (texts["tonne_km"], number(float(totals["tonne_km"]), lang, 0)),
                (texts["villages_covered"], number(int(totals["villages_covered"]), lang)),
                (texts["villages_short"], number(int(totals["villages_short"]), lang)),
                (texts["villages_unreached"], number(int(totals["villages_unreached"]), lang)),
                (
                    texts["zones_used"],
                    f"{number(int(totals['zones_used']), lang)} / "
                    f"{number(int(totals['zones']), lang)}",
                ),
            ],
            "villages": [
                {
                    "id": v["id"],
                    "code": v["code"],
                    "name": v["name"],
                    "demand": _tonnes(v["demand_t"], lang),
                    "supplied": _tonnes(v["supplied_t"], lang),
                    "share": _share(v["covered_share"], lang),
                    "share_value": float(v["covered_share"] or 0),
                    "unmet": _tonnes(v["unmet_t"], lang),
                    "short": float(v["unmet_t"] or 0) > 1e-6 * max(1.0, float(v["demand_t"])),
                    "reachable": bool(v["reachable"]),
                    "figure": _figure_text(v, texts, lang),
                }
                for v in sorted(doc["villages"], key=lambda v: (-float(v["unmet_t"]), v["code"]))
            ],
            "zones": [
                {
                    "id": z["id"],
                    "code": z["code"],
                    "name": z["name"] or "",
                    "status": texts["unsaved"]
                    if z["status"] == "unsaved"
                    else label("zone_status", z["status"], lang),
                    "capacity": _tonnes(z["capacity_t"], lang),
                    "used": _tonnes(z["used_t"], lang),
                    "share": _share(z["use_share"], lang),
                    "serves": ", ".join(z["serves"]),
                    "figure": _figure_text(z, texts, lang),
                }
                for z in doc["zones"]
            ],
            "flows": [
                {
                    "zone": fl["zone_code"],
                    "zone_name": zone_names.get(fl["zone_code"]) or "",
                    "zone_id": fl["zone_id"],
                    "village": fl["village_code"],
                    "village_name": village_names.get(fl["village_code"]) or "",
                    "village_id": fl["village_id"],
                    "tonnes": _tonnes(fl["tonnes"], lang),
                    "km": number(float(fl["km"]), lang, 1),
                }
                for fl in doc["flows"][:MAX_LISTED]
            ],
            "flows_total": len(doc["flows"]),
            "more_flows": TEXTS["more_flows"](lang).format(
                shown=number(min(MAX_LISTED, len(doc["flows"])), lang),
                total=number(len(doc["flows"]), lang),
            ),
            "missing": [
                {
                    "kind": texts[f"kind_{m['kind']}"],
                    "collection": "villages" if m["kind"] == "village" else "material-zones",
                    "id": m["id"],
                    "code": m["code"],
                    "name": m["name"],
                    "reason": REASONS[m["reason"]](lang) if m["reason"] in REASONS else m["reason"],
                }
                for m in doc["missing"]
            ],
            "json_url": f"{root}/analysis/coverage?{query}&f=json",
            "geojson_url": f"{root}/analysis/coverage?{query}&f=geojson",
            "csv_url": f"{root}/analysis/coverage?{query}&f=csv",
        }
    return render(request, "analysis_coverage.html", **context)
