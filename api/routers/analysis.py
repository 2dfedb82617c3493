"""``/analysis``: the planner's analyses, listed (JSON and HTML, vi/en).

Each analysis adds its entry to ``ANALYSES``; the page needs nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from api.deps import RootUrl
from api.i18n import request_language
from api.negotiation import reject_unknown_params, wants_html
from api.routers.ogc import render
from geo.kernel.text import Text, in_

router = APIRouter(tags=["analysis"])


@dataclass(frozen=True)
class Analysis:
    """One entry of the list: where it is, how it is called, what it answers."""

    path: str
    method: str
    title: Text
    description: Text
    # The page a person opens (the HTML form of a GET, a map); None for POST-only ones.
    page: str | None


ANALYSES: list[Analysis] = [
    Analysis(
        "/analysis/coverage",
        "GET",
        Text("Độ phủ nguồn nguyên liệu", "Raw-material supply coverage"),
        Text(
            "Vùng nào cung cấp cho làng nào, làng nào còn thiếu, với tổng tấn × km nhỏ nhất",
            "Which villages each zone supplies and who goes short, at the least tonne × km",
        ),
        "/analysis/coverage?f=html",
    ),
    Analysis(
        "/analysis/coverage/what-if",
        "POST",
        Text("Kịch bản giả định (what-if)", "What-if scenarios"),
        Text(
            "Độ phủ khi tính thêm vùng quy hoạch, đề xuất, vùng đang vẽ hoặc đổi sản lượng, "
            "so với hiện trạng; không ghi gì",
            "Coverage with planned, proposed or drawn zones or changed capacities, against "
            "the current state; nothing is written",
        ),
        None,
    ),
    Analysis(
        "/analysis/sites",
        "GET",
        Text("Gợi ý vị trí vùng mới", "Where new zones should go"),
        Text(
            "Những vị trí phục vụ được nhiều nhu cầu còn thiếu nhất",
            "The sites that would serve the most unmet demand",
        ),
        "/analysis/sites?f=html",
    ),
    Analysis(
        "/analysis/sites/save",
        "POST",
        Text("Lưu vị trí thành vùng đề xuất", "Save a site as a proposed zone"),
        Text(
            "Lưu một vị trí gợi ý thành vùng nguyên liệu trạng thái đề xuất (khoá API quy hoạch)",
            "Store a suggested site as a material zone with status proposed (planner API key)",
        ),
        None,
    ),
    Analysis(
        "/analysis/zone-checks",
        "GET",
        Text("Kiểm tra vùng nguyên liệu", "Zone checks"),
        Text(
            "Vùng chồng lấn, chạm vùng cấm, chứng nhận hết hạn, diện tích lệch, không có làng "
            "trong cự ly",
            "Overlapping zones, exclusion areas, expiring certificates, area mismatches, no "
            "village within reach",
        ),
        "/analysis/zone-checks?f=html",
    ),
    Analysis(
        "/maps/analysis/coverage",
        "GET",
        Text("Bản đồ độ phủ", "Coverage map"),
        Text(
            "Luồng vận chuyển, làng tô màu theo tỷ lệ đáp ứng, nhu cầu còn thiếu",
            "Flows, villages coloured by covered share, unmet demand",
        ),
        "/maps/analysis/coverage",
    ),
    Analysis(
        "/maps/analysis/sites",
        "GET",
        Text("Bản đồ vị trí đề xuất", "Suggested sites map"),
        Text("Các vị trí đề xuất theo thứ hạng", "The suggested sites, ranked"),
        "/maps/analysis/sites",
    ),
]

PAGE_TEXTS: dict[str, Text] = {
    "title": Text("Phân tích cho quy hoạch", "Planner analysis"),
    "intro": Text(
        "Vùng nguyên liệu cung cấp cho làng nghề nào, làng nào còn thiếu, và nên đặt vùng "
        "mới ở đâu.",
        "Which villages each zone supplies, who goes short, and where new zones should go.",
    ),
}


@router.get("/analysis", response_model=None, summary="The planner's analyses")
def analyses(request: Request, root: RootUrl) -> Response:
    """The analyses and map pages for planners, with links."""
    reject_unknown_params(request, ())
    lang = request_language(request)
    entries = [
        {
            "path": a.path,
            "method": a.method,
            "title": a.title(lang),
            "description": a.description(lang),
            "href": None
            if a.page is None
            else f"{root}{a.page}" + ("&" if "?" in a.page else "?") + f"lang={lang}",
        }
        for a in ANALYSES
    ]
    if wants_html(request):
        for entry in entries:
            entry["href"] = entry["href"] or f"{root}/api?f=html&lang={lang}"
        return render(request, "analysis.html", x=in_(PAGE_TEXTS, lang), analyses=entries)
    return JSONResponse({"title": PAGE_TEXTS["title"](lang), "analyses": entries})
