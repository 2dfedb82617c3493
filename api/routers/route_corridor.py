"""Villages on the way: ``GET /routes/{routeId}/corridor`` and ``POST …/stops/insert``.

The work is ``geo.workflows.route_corridor``; this module parses, negotiates and presents.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse, Response

from api.auth import require_writer
from api.deps import SessionDep
from api.i18n import request_language
from api.negotiation import GEOJSON, reject_unknown_params, wants_html
from api.openapi import bilingual
from api.routers.ogc import render
from geo.kernel import collections as ids
from geo.kernel import vocab
from geo.kernel.errors import InvalidInput, NotFound
from geo.kernel.text import Text, in_, number
from geo.store import catalog
from geo.store.keys import KeyInfo
from geo.workflows import route_corridor

router = APIRouter(tags=["Routes"])

PAGE = {
    "title": Text("Làng nghề dọc tuyến", "Villages on the way"),
    "intro": Text(
        "Các làng nghề trong hành lang quanh tuyến, xếp theo thời gian đi thêm nếu ghé vào "
        "tuyến ở vị trí tốt nhất (chỉ tính thời gian lái xe; thời gian tham quan ghi riêng).",
        "The craft villages in a corridor around the route, by the extra driving each would "
        "add at its best place in the route (driving only; the visit's dwell time is shown "
        "apart).",
    ),
    "route": Text("Tuyến", "Route"),
    "km": Text("Hành lang (km)", "Corridor (km)"),
    "craft_group": Text("Nhóm ngành nghề", "Craft group"),
    "all": Text("Tất cả", "All"),
    "tourism": Text("Gắn với du lịch", "Linked with tourism"),
    "yes": Text("Có", "Yes"),
    "no": Text("Không", "No"),
    "ocop_min_stars": Text("OCOP từ (sao)", "OCOP from (stars)"),
    "mode": Text("Phương tiện", "Travel mode"),
    "run": Text("Tìm", "Search"),
    "village": Text("Làng nghề", "Village"),
    "distance": Text("Cách tuyến (km)", "From the line (km)"),
    "detour": Text("Đi thêm (phút)", "Extra driving (min)"),
    "dwell": Text("Tham quan (phút)", "Visit (min)"),
    "position": Text("Vị trí tốt nhất", "Best place"),
    "after": Text("sau điểm dừng {seq}", "after stop {seq}"),
    "at_end": Text("sau điểm dừng {seq} (cuối tuyến)", "after stop {seq} (at the end)"),
    "stops": Text("Số điểm dừng", "Stops"),
    "measured": Text("Đo theo", "Measured"),
    "road": Text("đường bộ", "by road"),
    "geodesic": Text("đường chim bay (không nối được bằng đường bộ)", "straight line (no road)"),
    "add": Text("Thêm vào tuyến", "Add to route"),
    "key": Text("Khóa API (du lịch hoặc quản trị)", "API key (tourism or admin)"),
    "added": Text("Đã thêm vào tuyến ở vị trí {seq}.", "Added to the route as stop {seq}."),
    "failed": Text("Không thêm được", "Could not add"),
    "none": Text(
        "Không có làng nghề nào trong hành lang đã chọn.",
        "No village lies in the chosen corridor.",
    ),
    "network": Text("Mạng đường", "Road network"),
    "no_network": Text("chưa có (đo theo đường chim bay)", "none (straight-line distances)"),
    "download": Text("Tải về", "Download"),
}

_PARAMS = ("km", "craft_group", "tourism", "ocop_min_stars", "mode")


def _d(vi: str, en: str) -> str:
    return bilingual(Text(vi, en))


RouteId = Annotated[
    str, Path(alias="routeId", description=_d("mã số (id) của tuyến", "the route's id"))
]
KmParam = Annotated[
    float,
    Query(
        description=_d(
            "độ rộng hành lang quanh tuyến, km (trên 0, tối đa 50)",
            "the corridor's width either side of the route, km (above 0, at most 50)",
        )
    ),
]
CraftGroupParam = Annotated[
    str | None,
    Query(
        max_length=8,
        description=_d(
            "nhóm ngành nghề theo Nghị định 52/2018 (G1–G7)",
            "craft group of Decree 52/2018 (G1–G7)",
        ),
    ),
]
TourismParam = Annotated[
    bool | None,
    Query(
        description=_d(
            "chỉ các làng gắn (true) hoặc chưa gắn (false) với du lịch",
            "only villages linked (true) or not linked (false) with tourism",
        )
    ),
]
OcopParam = Annotated[
    int | None,
    Query(
        description=_d(
            "chỉ các làng có sản phẩm OCOP từ số sao này (3–5)",
            "only villages with OCOP products of at least these stars (3–5)",
        )
    ),
]
ModeParam = Annotated[
    str | None,
    Query(
        max_length=16,
        description=_d(
            "phương tiện để tính thời gian đi thêm (car, motorbike, bicycle, walking; "
            "mặc định: của tuyến)",
            "travel mode of the detour (car, motorbike, bicycle, walking; default: the route's)",
        ),
    ),
]


def route_number(route_id: str) -> int:
    """A route id from the path: text that is not a whole number names no route (404)."""
    if not route_id.isdigit() or len(route_id) > 9:
        raise NotFound(f"route {route_id[:20]!r} does not exist")
    return int(route_id)


@router.get(
    "/routes/{routeId}/corridor",
    response_model=None,
    summary="Villages on the way: the villages near a route and the detour each would add",
    description=(
        "The craft villages within `km` of the route's line (geodesic), not already its "
        "stops, filtered by `craft_group`, `tourism` and `ocop_min_stars`, each with its "
        "distance to the line, the extra driving in minutes it would add at its best place "
        "(`detour_min`, measured on the road network where it can and labelled geodesic "
        "where not), that place (`best_after_seq`: between that stop and the next) and the "
        "dwell time apart (`dwell_min`, not in `detour_min`). Sorted by `detour_min`. "
        "`f=json` (default), `f=geojson` (points), `f=html`. Bad parameters, or a route "
        "without a line or stops: 400 problem+json."
    ),
    responses={
        200: {
            "description": "the candidates by detour (JSON), as points (GeoJSON), a page (HTML)",
            "content": {
                "application/json": {"schema": {"type": "object"}},
                "application/geo+json": {"schema": {"type": "object"}},
                "text/html": {"schema": {"type": "string"}},
            },
        },
        400: {
            "description": "km outside (0, 50], an unknown craft group or mode, "
            "ocop_min_stars outside 3–5, a route with no line or no stops"
        },
        404: {"description": "no such route"},
    },
)
def corridor(
    request: Request,
    session: SessionDep,
    route_id: RouteId,
    km: KmParam = 5.0,
    craft_group: CraftGroupParam = None,
    tourism: TourismParam = None,
    ocop_min_stars: OcopParam = None,
    mode: ModeParam = None,
) -> Response:
    """Villages on the way (see the description)."""
    reject_unknown_params(request, _PARAMS)
    asked = route_corridor.CorridorRequest(
        route_id=route_number(route_id),
        km=km,
        craft_group=craft_group or None,
        tourism=tourism,
        ocop_min_stars=ocop_min_stars,
        mode=mode or None,
    )
    result = route_corridor.corridor(session.connection(), asked)
    if wants_html(request):
        return _page(request, asked, result)
    if request.query_params.get("f") == "geojson":
        return Response(json.dumps(result.to_geojson(), ensure_ascii=False), media_type=GEOJSON)
    return JSONResponse(result.to_dict())


def _page(
    request: Request, asked: route_corridor.CorridorRequest, result: route_corridor.Corridor
) -> Response:
    lang = request_language(request)
    t = in_(PAGE, lang)
    rows = [
        {
            "id": c.village_id,
            "code": c.code,
            "name": c.name,
            "group": vocab.label("craft_group", c.craft_group, lang),
            "distance": number(c.distance_km, lang, 2),
            "detour": number(c.detour_min, lang, 1),
            "dwell": number(c.dwell_min, lang),
            "after": PAGE["at_end" if c.at_end else "after"].format(seq=c.best_after_seq)(lang),
            "kind": c.kind,
            "measured": t["road"] if c.kind == "road" else t["geodesic"],
            "note": c.note,
        }
        for c in result.candidates
    ]
    base = request.url.remove_query_params(["f", "lang"])
    return render(
        request,
        "route_corridor.html",
        p=t,
        added_words=PAGE["added"](lang),
        result=result,
        asked=asked,
        rows=rows,
        km=number(asked.km, lang, 1).removesuffix(",0").removesuffix(".0"),
        groups={g.value: vocab.label("craft_group", g.value, lang) for g in vocab.CraftGroup},
        modes={
            m.value: vocab.label("travel_mode", m.value, lang)
            for m in vocab.TravelMode
            if m is not vocab.TravelMode.BOAT
        },
        route_href=f"/collections/{ids.ROUTES}/items/{result.route_id}?f=html&lang={lang}",
        village_path=f"/collections/{ids.VILLAGES}/items/",
        insert_path=f"/routes/{result.route_id}/stops/insert",
        json_url=str(base.include_query_params(f="json")),
        geojson_url=str(base.include_query_params(f="geojson")),
    )


# -- insertion -------------------------------------------------------------------------------
def _insert_key(request: Request, session: SessionDep) -> KeyInfo:
    """A tourism (or admin) key, checked before the body is read (401/403)."""
    reject_unknown_params(request, ())
    stops = catalog.get_collection(session, ids.ROUTE_STOPS)
    return require_writer(request, session.connection(), stops)


async def _insert_body(request: Request, key: Annotated[KeyInfo, Depends(_insert_key)]) -> bytes:
    return await request.body()


_INSERT_FIELDS = {"village_id", "dwell_min", "position", "mode"}


def _whole(body: dict[str, Any], name: str) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(f"{name} must be a whole number")
    return value


def insert_request(raw: bytes) -> dict[str, Any]:
    """The insertion body, checked: village_id (id or code), dwell_min, position, mode."""
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise InvalidInput(f"the body is not valid JSON: {str(exc)[:200]}") from exc
    if not isinstance(body, dict):
        raise InvalidInput("the body must be a JSON object")
    unknown = sorted(set(body) - _INSERT_FIELDS)
    if unknown:
        raise InvalidInput(f"unknown field {', '.join(unknown)[:200]}")
    village = body.get("village_id")
    if isinstance(village, bool) or not isinstance(village, int | str):
        raise InvalidInput("village_id is required: a village's id or code")
    mode = body.get("mode")
    if mode is not None and not isinstance(mode, str):
        raise InvalidInput("mode must be text")
    return {
        "village": village,
        "dwell_min": _whole(body, "dwell_min"),
        "position": _whole(body, "position"),
        "mode": mode,
    }


@router.post(
    "/routes/{routeId}/stops/insert",
    status_code=201,
    response_model=None,
    summary="Insert a village as a stop at its best place in the route",
    description=(
        "JSON body: `village_id` (a village's id or code), optional `dwell_min` (default "
        "60), `position` (the new stop's number, 1 … stops+1; without it the stop goes "
        "where it adds the least driving) and `mode` (of that measure; default the "
        "route's). The stops after it move up by one; all through the normal write path "
        "(history with the key's actor). A route whose line follows the roads gets its "
        "legs and timetable recomputed in the stops' order (no reordering). Answers the "
        "new stop and the route's timetable. Needs a tourism or admin API key."
    ),
    responses={
        201: {
            "description": "the stop was inserted; Location names it",
            "content": {"application/json": {"schema": {"type": "object"}}},
        },
        400: {"description": "a bad body, or a position outside 1 … stops+1"},
        401: {"description": "no valid API key"},
        403: {"description": "the key's role may not write route stops"},
        404: {"description": "no such route or village"},
        409: {"description": "the village is a stop of the route already"},
        429: {"description": "too many writes or failed authentications"},
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "required": ["village_id"],
                        "properties": {
                            "village_id": {"type": ["integer", "string"]},
                            "dwell_min": {"type": "integer", "minimum": 0},
                            "position": {"type": "integer", "minimum": 1},
                            "mode": {"type": "string"},
                        },
                    }
                }
            },
        }
    },
)
def insert(
    request: Request,
    session: SessionDep,
    route_id: RouteId,
    key: Annotated[KeyInfo, Depends(_insert_key)],
    raw: Annotated[bytes, Depends(_insert_body)],
) -> Response:
    """Insert a village as a stop (see the description)."""
    body = insert_request(raw)
    inserted = route_corridor.insert_stop(
        session.connection(), route_number(route_id), actor=key.actor, **body
    )
    session.commit()
    href = f"/collections/{ids.ROUTE_STOPS}/items/{inserted.stop_id}"
    return JSONResponse(inserted.to_dict(), status_code=201, headers={"Location": href})
