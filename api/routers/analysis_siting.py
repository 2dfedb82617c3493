"""Siting suggestions: ``GET /analysis/sites`` (JSON, HTML, GeoJSON) and saving a site.

The work is ``geo.workflows.siting``; this module parses, negotiates and presents.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response

from api.auth import require_writer
from api.deps import RootUrl, SessionDep, SettingsDep
from api.i18n import request_language
from api.negotiation import GEOJSON, reject_unknown_params, wants_html
from api.openapi import bilingual
from api.routers.ogc import render
from geo.kernel import collections as ids
from geo.kernel.errors import InvalidInput
from geo.kernel.text import Text, in_, number
from geo.kernel.vocab import Material, label
from geo.store import catalog
from geo.store.keys import KeyInfo
from geo.workflows import siting

router = APIRouter(tags=["Analysis"])

PAGE = {
    "title": Text("Gợi ý vị trí vùng nguyên liệu mới", "Suggested sites for new material zones"),
    "analysis": Text("Phân tích", "Analysis"),
    "intro": Text(
        "Chọn k ô lưới (H3) phục vụ được nhiều nhất nhu cầu nguyên liệu còn thiếu của các "
        "làng nghề trong cự ly vận chuyển, ngoài vùng cấm, trên đất được phép và không chồng "
        "lấn vùng nguyên liệu hiện có. Mỗi làng chỉ được tính cho một vị trí.",
        "The k grid cells (H3) that together serve the most unmet raw-material demand of "
        "craft villages within the haul, outside exclusion areas, on allowed land and clear "
        "of existing zones. Each village counts for one site only.",
    ),
    "material": Text("Nguyên liệu", "Material"),
    "k": Text("Số vị trí (k)", "Number of sites (k)"),
    "haul_km": Text("Cự ly vận chuyển tối đa (km)", "Maximum haul (km)"),
    "resolution": Text("Độ phân giải H3", "H3 resolution"),
    "capacity_t": Text("Công suất điển hình (tấn/năm)", "Typical capacity (t/yr)"),
    "year": Text("Năm số liệu", "Figures' year"),
    "run": Text("Phân tích", "Run"),
    "choose": Text("Chọn nguyên liệu rồi bấm Phân tích.", "Choose a material, then Run."),
    "totals": Text("Tổng hợp", "Totals"),
    "unmet_before": Text("Nhu cầu còn thiếu hiện nay", "Unmet demand today"),
    "served": Text("Các vị trí gợi ý đáp ứng", "Served by the suggested sites"),
    "share": Text("Tỷ lệ đáp ứng", "Share served"),
    "greedy": Text("Cách chọn tham lam (để so sánh)", "Greedy choice (for comparison)"),
    "villages_short": Text("Làng nghề thiếu nguyên liệu", "Villages short of material"),
    "candidates": Text("Ô ứng viên / bị loại", "Candidate / excluded cells"),
    "distance": Text("Khoảng cách từ ô tới làng", "Distance from a cell to a village"),
    "geodesic": Text("theo đường chim bay trên elipxoit", "geodesic on the spheroid"),
    "coverage_mode": Text("Nhu cầu thiếu tính theo", "Unmet demand computed by"),
    "road": Text("đường bộ", "road"),
    "model_mclp": Text("Bài toán bao phủ cực đại (MCLP)", "Maximal covering (MCLP)"),
    "model_capacitated": Text("Bài toán có giới hạn công suất", "Capacitated model"),
    "sites": Text("Các vị trí theo thứ hạng", "Sites by rank"),
    "rank": Text("Hạng", "Rank"),
    "cell": Text("Ô lưới", "Cell"),
    "score": Text("Đáp ứng (tấn/năm)", "Serves (t/yr)"),
    "villages": Text("Làng nghề được phục vụ", "Villages served"),
    "excluded_nearby": Text("Ô lân cận bị loại vì", "Cells nearby excluded for"),
    "none": Text("không có", "none"),
    "no_sites": Text("Không có vị trí nào đáp ứng thêm nhu cầu.", "No site adds any unmet demand."),
    "fewer": Text(
        "Chỉ {found} trong {asked} vị trí yêu cầu đáp ứng thêm nhu cầu: không còn ô ứng viên "
        "nào phục vụ thêm được.",
        "Only {found} of the {asked} sites asked add unmet demand: no other candidate cell "
        "would serve more.",
    ),
    "nobody_short": Text(
        "Không làng nghề nào thiếu nguyên liệu này trong cự ly đã chọn.",
        "No village is short of this material within the chosen haul.",
    ),
    "tonnes": Text("tấn", "t"),
    "save_hint": Text(
        "Lưu một vị trí thành vùng đề xuất: POST /analysis/sites/save (khoá API quy hoạch).",
        "Save a site as a proposed zone: POST /analysis/sites/save (planner API key).",
    ),
    "cell_size": Text("mỗi ô khoảng {area} km²", "each cell about {area} km²"),
    "map": Text("Bản đồ", "Map"),
}

_PARAMS = (
    "material",
    "k",
    "haul_km",
    "resolution",
    "mode",
    "year",
    "capacity_t",
    "min_zone_km",
    "land_use",
)


def _d(vi: str, en: str) -> str:
    return bilingual(Text(vi, en))


MaterialParam = Annotated[
    str | None,
    Query(
        description=_d(
            "mã nguyên liệu (luong, bamboo, nua, vau, rattan, sedge, medicinal, ramie, other)",
            "material code (luong, bamboo, nua, vau, rattan, sedge, medicinal, ramie, other)",
        )
    ),
]
KParam = Annotated[
    int,
    Query(
        ge=1,
        le=siting.K_MAX,
        description=_d("số vùng mới cần đặt (1–50)", "how many new zones to site (1–50)"),
    ),
]
HaulParam = Annotated[
    float,
    Query(
        gt=0,
        le=siting.HAUL_MAX_KM,
        description=_d(
            "cự ly vận chuyển tối đa, km (trên 0, tối đa 500)",
            "maximum haul, km (above 0, at most 500)",
        ),
    ),
]
ResolutionParam = Annotated[
    int,
    Query(
        ge=5,
        le=9,
        description=_d(
            "độ phân giải lưới H3 5–9 (7: ô khoảng 5,2 km²)",
            "H3 grid resolution 5–9 (7: cells of about 5.2 km²)",
        ),
    ),
]
ModeParam = Annotated[
    str,
    Query(
        pattern="^(auto|road|geodesic)$",
        description=_d(
            "cách tính khoảng cách của phân tích cung ứng: auto, road, geodesic",
            "distance mode of the supply coverage: auto, road, geodesic",
        ),
    ),
]
YearParam = Annotated[
    int | None,
    Query(
        ge=1990,
        le=2100,
        description=_d(
            "năm của số liệu (mặc định: mới nhất)", "the figures' year (default: latest)"
        ),
    ),
]
CapacityParam = Annotated[
    float | None,
    Query(
        gt=0,
        description=_d(
            "công suất điển hình của một vùng mới, tấn/năm "
            "(có: dùng bài toán có giới hạn công suất)",
            "typical capacity of a new zone, t/yr (given: the capacitated model runs)",
        ),
    ),
]
MinZoneParam = Annotated[
    float | None,
    Query(
        ge=0,
        le=siting.HAUL_MAX_KM,
        description=_d(
            "khoảng cách tối thiểu tới vùng nguyên liệu hiện có, km",
            "minimum distance from existing zones, km",
        ),
    ),
]
LandUseParam = Annotated[
    str | None,
    Query(
        max_length=500,
        description=_d(
            "các loại đất được phép (thuộc tính class của lớp land_use), cách nhau bởi dấu phẩy",
            "allowed land-use classes (the land_use layer's class property), comma-separated",
        ),
    ),
]


def _request(
    material: str,
    k: int,
    haul_km: float,
    resolution: int,
    mode: str,
    year: int | None,
    capacity_t: float | None,
    min_zone_km: float | None,
    land_use: str | None,
) -> siting.SitingRequest:
    classes = None
    if land_use is not None:
        classes = tuple(c.strip() for c in land_use.split(",") if c.strip()) or None
    return siting.SitingRequest(
        material=material,
        k=k,
        haul_km=haul_km,
        resolution=resolution,
        mode=mode,  # type: ignore[arg-type]  # checked by the query pattern and the request
        year=year,
        capacity_t=capacity_t,
        min_zone_distance_km=min_zone_km,
        land_use_classes=classes,
    )


@router.get(
    "/analysis/sites",
    response_model=None,
    summary="Suggested sites for new material zones",
    description=(
        "The k H3 cells that together serve the most unmet demand of a material (maximal "
        "covering on HiGHS; capacitated when `capacity_t` is given), outside exclusion areas, "
        "on allowed land use and clear of existing zones, each with its score, the villages "
        "it serves and why cells nearby were excluded. `f=json` (default), `f=html`, "
        "`f=geojson` (sites as polygons and centre points, excluded cells with reasons). "
        "Bad parameters: 400 problem+json."
    ),
    responses={
        200: {
            "description": (
                "the ranked sites, the excluded cells near them with reasons, the totals and "
                "the parameters (JSON); the same as a page (HTML); sites as polygons and "
                "centre points and excluded cells with their reason, each with a kind "
                "property (GeoJSON)"
            ),
            "content": {
                "application/json": {"schema": {"type": "object"}},
                "text/html": {"schema": {"type": "string"}},
                "application/geo+json": {"schema": {"type": "object"}},
            },
        },
        400: {
            "description": "bad parameters: k outside 1–50, an unknown material, resolution "
            "outside 5–9, haul_km not in (0, 500], too many candidate cells, or mode=road "
            "with no road network loaded"
        },
    },
)
def sites(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    material: MaterialParam = None,
    k: KParam = 3,
    haul_km: HaulParam = 50.0,
    resolution: ResolutionParam = siting.DEFAULT_RESOLUTION,
    mode: ModeParam = "auto",
    year: YearParam = None,
    capacity_t: CapacityParam = None,
    min_zone_km: MinZoneParam = None,
    land_use: LandUseParam = None,
) -> Response:
    """Suggested sites (see the description)."""
    reject_unknown_params(request, _PARAMS)
    as_html = wants_html(request)
    if material is None:
        if as_html:
            return _page(request, None, None)
        raise InvalidInput("material is required (a material code, e.g. luong)")
    asked = _request(
        material, k, haul_km, resolution, mode, year, capacity_t, min_zone_km, land_use
    )
    result = siting.suggest_sites(session.connection(), asked, max_cells=settings.siting_max_cells)
    if as_html:
        return _page(request, asked, result)
    if request.query_params.get("f") == "geojson":
        return Response(json.dumps(result.to_geojson(), ensure_ascii=False), media_type=GEOJSON)
    return JSONResponse(result.to_dict())


def _page(
    request: Request, asked: siting.SitingRequest | None, result: siting.SitingResult | None
) -> Response:
    lang = request_language(request)
    t = in_(PAGE, lang)
    reasons = in_(siting.REASON_WORDS, lang)
    rows: list[dict[str, Any]] = []
    totals: list[tuple[str, str]] = []
    notes: list[str] = []
    if asked is not None and result is not None:
        tot = result.totals

        def tonnes(value: float) -> str:
            return f"{number(value, lang, 1)} {t['tonnes']}"

        area = number(result.parameters["cell_area_km2"], lang, 1)
        cell_size = PAGE["cell_size"].format(area=area)(lang)
        totals = [
            (t["unmet_before"], tonnes(tot.unmet_before_t)),
            (t["served"], tonnes(tot.served_t)),
            (t["share"], "—" if tot.share is None else f"{number(100 * tot.share, lang, 1)} %"),
            (t["greedy"], tonnes(tot.greedy_t)),
            (t["villages_short"], number(tot.villages_short, lang)),
            (t["candidates"], f"{number(tot.candidates, lang)} / {number(tot.excluded, lang)}"),
            (t["distance"], t["geodesic"]),
            *(
                [(t["coverage_mode"], t.get(result.coverage_mode, result.coverage_mode))]
                if result.coverage_mode
                else []
            ),
            (
                t["resolution"],
                f"{asked.resolution} ({cell_size})",
            ),
        ]
        if tot.villages_short == 0:
            notes.append(t["nobody_short"])
        elif tot.sites_found < tot.sites_asked:
            notes.append(PAGE["fewer"].format(found=tot.sites_found, asked=tot.sites_asked)(lang))
        for site in result.sites:
            grouped: dict[str, list[str]] = {}
            for cell in site.excluded_nearby:
                for reason in cell.reasons:
                    grouped.setdefault(reason.kind, [])
                    if reason.subject and reason.subject not in grouped[reason.kind]:
                        grouped[reason.kind].append(reason.subject)
            rows.append(
                {
                    "rank": site.rank,
                    "cell": site.cell,
                    # Latitude; longitude in the page's number format (a Vietnamese
                    # decimal comma cannot also separate them).
                    "centre": (
                        f"{number(site.centre[1], lang, 4)}; {number(site.centre[0], lang, 4)}"
                    ),
                    "score": number(site.score_t, lang, 1),
                    "villages": [
                        f"{v.name} ({v.code}): {number(v.served_t, lang, 1)} {t['tonnes']}, "
                        f"{number(v.km, lang, 1)} km"
                        for v in site.villages
                    ],
                    "excluded": [
                        (reasons[kind], "; ".join(subjects)) for kind, subjects in grouped.items()
                    ],
                }
            )
    materials = [(m.value, label("material", m.value, lang)) for m in Material]
    query = {k: v for k, v in request.query_params.items() if k not in ("f", "lang")}
    return render(
        request,
        "analysis_sites.html",
        p=t,
        asked=asked,
        result=result,
        rows=rows,
        totals=totals,
        notes=notes,
        materials=materials,
        material_label=label("material", asked.material, lang) if asked else "",
        model_label=(
            t["model_" + result.model] if result and result.model in ("mclp", "capacitated") else ""
        ),
        json_url=str(request.url.include_query_params(f="json").remove_query_params("lang")),
        geojson_url=str(request.url.include_query_params(f="geojson").remove_query_params("lang")),
        query=query,
    )


# -- saving a site -----------------------------------------------------------------------------
def _save_key(request: Request, session: SessionDep) -> KeyInfo:
    """The planner's (or admin's) key, checked before the body is read (401/403)."""
    reject_unknown_params(request, ())
    zones = catalog.get_collection(session, ids.MATERIAL_ZONES)
    return require_writer(request, session.connection(), zones)


async def _save_body(request: Request, key: Annotated[KeyInfo, Depends(_save_key)]) -> bytes:
    return await request.body()


_SAVE_FIELDS = {"cell", "geometry", "name", "material", "capacity_t", "code", "parameters"}


def _save_request(raw: bytes) -> siting.SaveSite:
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise InvalidInput(f"the body is not valid JSON: {str(exc)[:200]}") from exc
    if not isinstance(body, dict):
        raise InvalidInput("the body must be a JSON object")
    unknown = sorted(set(body) - _SAVE_FIELDS)
    if unknown:
        raise InvalidInput(f"unknown field {', '.join(unknown)[:200]}")
    for name in ("cell", "name", "material", "code"):
        if body.get(name) is not None and not isinstance(body[name], str):
            raise InvalidInput(f"{name} must be text")
    capacity = body.get("capacity_t")
    if capacity is not None and (
        isinstance(capacity, bool) or not isinstance(capacity, int | float)
    ):
        raise InvalidInput("capacity_t must be a number of tonnes a year")
    parameters = body.get("parameters")
    if parameters is not None and not isinstance(parameters, dict):
        raise InvalidInput("parameters must be a JSON object")
    if not isinstance(body.get("material"), str):
        raise InvalidInput("material is required")
    return siting.SaveSite(
        name=body.get("name") or "",
        material=body["material"],
        cell=body.get("cell"),
        geometry=body.get("geometry"),
        capacity_t=float(capacity) if capacity is not None else None,
        code=body.get("code"),
        parameters=parameters,
    )


@router.post(
    "/analysis/sites/save",
    status_code=201,
    response_model=None,
    summary="Save a suggested site as a proposed material zone",
    description=(
        "JSON body: `cell` (an H3 cell id from `/analysis/sites`) or `geometry` (GeoJSON "
        "Polygon/MultiPolygon), `name`, `material`, optional `capacity_t`, `code` (default "
        "`DX-<cell>`) and `parameters` (the analysis' parameters, kept in the zone's note). "
        "Creates a `material-zones` feature with status `proposed` through the normal write "
        "path: the zone rules apply (an exclusion overlap is refused) and the history records "
        "the key's actor. Needs a planner or admin API key (401 without, 403 for another role)."
    ),
    responses={
        201: {
            "description": "the zone was created; Location names it",
            "content": {"application/json": {"schema": {"type": "object"}}},
        },
        400: {"description": "a bad body, or the zone breaks a rule (e.g. an exclusion area)"},
        401: {"description": "no valid API key"},
        403: {"description": "the key's role may not write material zones"},
        409: {"description": "a zone with this code exists already (the site was saved)"},
        413: {"description": "a body over the size limit"},
        429: {"description": "too many writes or failed authentications"},
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "required": ["name", "material"],
                        "properties": {
                            "cell": {"type": "string"},
                            "geometry": {"type": "object"},
                            "name": {"type": "string"},
                            "material": {"type": "string"},
                            "capacity_t": {"type": "number", "minimum": 0},
                            "code": {"type": "string"},
                            "parameters": {"type": "object"},
                        },
                    }
                }
            },
        }
    },
)
def save(
    request: Request,
    session: SessionDep,
    root: RootUrl,
    key: Annotated[KeyInfo, Depends(_save_key)],
    raw: Annotated[bytes, Depends(_save_body)],
) -> Response:
    """Save a site as a proposed zone (see the description)."""
    written = siting.save_site(session.connection(), _save_request(raw), actor=key.actor)
    session.commit()
    href = f"{root}/collections/{ids.MATERIAL_ZONES}/items/{written.id}"
    return JSONResponse(
        {"id": written.id, "version": written.version, "href": href},
        status_code=201,
        headers={"Location": href},
    )
