"""The planner's analysis maps: supply coverage and suggested zone sites (issue 14)."""

from __future__ import annotations

from datetime import date
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from api.deps import RootUrl, read_connection
from api.negotiation import reject_unknown_params
from api.openapi import bilingual
from api.routers.maps import _page, map_settings
from geo.kernel import vocab
from geo.kernel.errors import InvalidInput
from geo.kernel.text import Text, date_format, number
from geo.query import mapdata
from geo.workflows.coverage import CoverageRequest, Scenario, run_coverage
from geo.workflows.siting import DEFAULT_RESOLUTION, SitingRequest, suggest_sites

router = APIRouter(tags=["maps"])

MaterialParam = Annotated[
    str,
    Query(
        description=bilingual(
            Text("nguyên liệu (mã: luong, bamboo, rattan, sedge…)", "the material (code)")
        )
    ),
]
HaulParam = Annotated[
    float,
    Query(
        description=bilingual(
            Text("cự ly vận chuyển tối đa, km", "the longest haul from zone to village, km")
        )
    ),
]
ModeParam = Annotated[
    str,
    Query(
        description=bilingual(
            Text(
                "cách tính khoảng cách: auto, road (đường bộ) hoặc geodesic (đường chim bay)",
                "distance mode: auto, road or geodesic",
            )
        )
    ),
]
YearParam = Annotated[
    int | None,
    Query(
        description=bilingual(
            Text("năm số liệu (mặc định: mới nhất)", "the figures' year (default: latest)")
        )
    ),
]
IncludeParam = Annotated[
    str | None,
    Query(
        description=bilingual(
            Text(
                "tính cả vùng có trạng thái này, cách nhau dấu phẩy (planned, proposed)",
                "also zones of these statuses, comma-separated (planned, proposed)",
            )
        )
    ),
]

_MODE_WORDS = {
    "auto": Text("tự chọn (đường bộ nếu có mạng)", "automatic (roads when loaded)"),
    "road": Text("theo đường bộ", "along roads"),
    "geodesic": Text("đường chim bay", "straight line"),
}


def _statuses(include: str | None) -> list[str]:
    return [s.strip() for s in (include or "").split(",") if s.strip()]


@router.get("/maps/analysis/coverage", response_class=HTMLResponse, summary="Supply coverage map")
def coverage_map(
    request: Request,
    root: RootUrl,
    material: MaterialParam = "luong",
    haul_km: HaulParam = 50.0,
    mode: ModeParam = "auto",
    year: YearParam = None,
    include: IncludeParam = None,
) -> HTMLResponse:
    """Which villages each zone supplies, who goes short: flows, shares, unmet demand."""
    from maps import analysis  # folium, geopandas: only map pages load them

    reject_unknown_params(request, ("lang", "material", "haul_km", "mode", "year", "include"))
    statuses = _statuses(include)
    coverage_request = CoverageRequest(
        material=material,
        haul_km=haul_km,
        mode=mode,
        year=year,
        scenario=Scenario(include_statuses=statuses),
    )
    with read_connection(request) as conn:
        result = run_coverage(conn, coverage_request)
        ids = [m.id for m in result.missing if m.kind == "village" and m.id is not None]
        places = mapdata.village_places(conn, ids) if ids else None
    settings = map_settings(request, root)
    lang = settings.lang
    query = {"material": material, "haul_km": f"{haul_km:g}", "mode": mode}
    if year is not None:
        query["year"] = str(year)
    if statuses:
        query["include"] = ",".join(statuses)
    rows = [
        (analysis.TEXT["material"], vocab.label("material", material, lang)),
        (analysis.TEXT["haul_km"], f"{number(float(haul_km), lang, 1)} km"),
        (analysis.TEXT["mode"], _MODE_WORDS.get(mode, Text(mode, mode))(lang)),
        (analysis.TEXT["year"], str(year) if year is not None else analysis.TEXT["latest"](lang)),
        (
            analysis.TEXT["include"],
            ", ".join(
                vocab.label("zone_status", s, lang)
                for s in [vocab.ZoneStatus.EXISTING.value, *statuses]
            ),
        ),
        (analysis.TEXT["produced"], date.today().strftime(date_format(lang))),
    ]
    base = f"{root}/analysis/coverage?{urlencode(query)}"
    downloads = [
        ("HTML", f"{base}&f=html&lang={lang}"),
        ("JSON", f"{base}&f=json"),
        ("CSV", f"{base}&f=csv"),
    ]
    view = analysis.coverage_view_of(result, places)
    m = analysis.build_coverage_map(view, analysis.Parameters(rows, downloads), settings)
    return _page(request, m)


KParam = Annotated[
    int,
    Query(description=bilingual(Text("số vùng mới cần đề xuất", "how many new zones to suggest"))),
]
ResolutionParam = Annotated[
    int,
    Query(
        description=bilingual(
            Text(
                "độ phân giải lưới H3, 5–9 (7: ô khoảng 5,2 km²)",
                "the H3 grid resolution, 5–9 (7: cells of about 5.2 km²)",
            )
        )
    ),
]


@router.get(
    "/maps/analysis/sites", response_class=HTMLResponse, summary="Suggested sites for new zones"
)
def sites_map(
    request: Request,
    root: RootUrl,
    material: MaterialParam = "luong",
    k: KParam = 3,
    haul_km: HaulParam = 50.0,
    resolution: ResolutionParam = DEFAULT_RESOLUTION,
    mode: ModeParam = "auto",
) -> HTMLResponse:
    """Where k new zones of a material would serve the most unmet demand, ranked."""
    from maps import analysis  # folium, geopandas: only map pages load them

    reject_unknown_params(request, ("lang", "material", "k", "haul_km", "resolution", "mode"))
    if mode not in _MODE_WORDS:
        raise InvalidInput(f"mode must be one of {', '.join(_MODE_WORDS)}, got {mode[:40]!r}")
    siting_request = SitingRequest(
        material=material,
        k=k,
        haul_km=haul_km,
        resolution=resolution,
        mode=mode,  # type: ignore[arg-type]  # checked above
    )
    with read_connection(request) as conn:
        covered = run_coverage(conn, CoverageRequest(material=material, haul_km=haul_km, mode=mode))
        villages = covered.villages
        result = suggest_sites(
            conn, siting_request, unmet=villages[["id", "code", "name", "unmet_t"]]
        )
        zones, exclusions = mapdata.around(conn, analysis.sites_extent(result, villages))
    settings = map_settings(request, root)
    lang = settings.lang
    query = {"material": material, "k": str(k), "haul_km": f"{haul_km:g}"}
    query.update(resolution=str(resolution), mode=mode)
    rows = [
        (analysis.TEXT["material"], vocab.label("material", material, lang)),
        (analysis.TEXT["k"], str(k)),
        (analysis.TEXT["haul_km"], f"{number(float(haul_km), lang, 1)} km"),
        (analysis.TEXT["resolution"], str(resolution)),
        (analysis.TEXT["mode"], _MODE_WORDS[mode](lang)),
        (analysis.TEXT["produced"], date.today().strftime(date_format(lang))),
    ]
    base = f"{root}/analysis/sites?{urlencode(query)}"
    downloads = [("HTML", f"{base}&f=html&lang={lang}"), ("JSON", f"{base}&f=json")]
    view = analysis.sites_view_of(result, villages, zones, exclusions, lang)
    m = analysis.build_sites_map(view, analysis.Parameters(rows, downloads), settings)
    return _page(request, m)
