"""A tourism route's hand-outs for guides: GPX 1.1, KML and KMZ (``geo.io.route_handouts``)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response

from api.deps import RootUrl, read_connection
from api.i18n import request_language
from api.negotiation import reject_unknown_params
from api.openapi import bilingual
from geo.io import route_handouts
from geo.kernel import vocab
from geo.kernel.text import Text

router = APIRouter(tags=["routes"])

RouteRef = Annotated[
    str,
    Path(
        alias="routeId",
        description=bilingual(Text("Số hiệu (id) hoặc mã của tuyến", "The route's id or its code")),
    ),
]
Lang = Annotated[
    str | None,
    Query(
        description=bilingual(
            Text(
                "Ngôn ngữ của mô tả trong tệp: vi (mặc định) hoặc en",
                "Language of the descriptions in the file: vi (default) or en",
            )
        )
    ),
]

_FORMAT_TEXT = {
    "gpx": Text(
        "GPX 1.1: đường đi theo đường bộ, điểm dừng có tên, giờ đến/đi và thời gian dừng",
        "GPX 1.1: the track along the roads, waypoints with names, times and dwell",
    ),
    "kml": Text(
        "KML 2.2 (Google Earth): điểm dừng đánh số, lộ trình, chặng đường thẳng được đánh dấu",
        "KML 2.2 (Google Earth): numbered stops, the route line, straight legs marked",
    ),
    "kmz": Text(
        "KMZ (KML nén, doc.kml) cho Google Earth", "KMZ (zipped KML, doc.kml) for Google Earth"
    ),
}


def _responses(fmt: str) -> dict[int | str, dict[str, Any]]:
    return {
        200: {
            "description": bilingual(_FORMAT_TEXT[fmt]),
            "content": {
                route_handouts.MEDIA_TYPES[fmt]: {"schema": {"type": "string", "format": "binary"}}
            },
        },
        404: {"description": "no route has this id or code"},
    }


def _handout(request: Request, route: str, root: str, fmt: str) -> Response:
    reject_unknown_params(request, ("lang",))
    lang = request_language(request)
    with read_connection(request) as conn:
        plan = route_handouts.load_plan(conn, route)
    body = route_handouts.build(
        plan,
        fmt,
        page_url=f"{root}/maps/routes/{plan.id}?lang={lang}",
        lang=lang,
        # The speeds the route's map draws with (maps.build.SPEED_KMH is this table); read
        # here so that a hand-out does not load folium.
        speed_kmh=vocab.STRAIGHT_LINE_KMH.get(plan.mode, vocab.STRAIGHT_LINE_KMH["car"]),
    )
    name = route_handouts.filename(plan, fmt)
    return Response(
        body,
        media_type=route_handouts.MEDIA_TYPES[fmt],
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.get(
    "/routes/{routeId}/gpx",
    response_class=Response,
    summary="A route as GPX 1.1 (for GPS and phone apps)",
    responses=_responses("gpx"),
)
def route_gpx(request: Request, route: RouteRef, root: RootUrl, lang: Lang = None) -> Response:
    """Waypoints per stop in order (name, times, dwell), the route, and the track along
    the stored line from the first stop to the last; dwell and legs also as extensions
    (namespace ``urn:craftmap:gpx:route:1``)."""
    return _handout(request, route, root, "gpx")


@router.get(
    "/routes/{routeId}/kml",
    response_class=Response,
    summary="A route as KML 2.2 (Google Earth)",
    responses=_responses("kml"),
)
def route_kml(request: Request, route: RouteRef, root: RootUrl, lang: Lang = None) -> Response:
    """A numbered placemark per stop with its times, the route line, and the straight
    (no road, or boat) legs in their own colour."""
    return _handout(request, route, root, "kml")


@router.get(
    "/routes/{routeId}/kmz",
    response_class=Response,
    summary="A route as KMZ (zipped KML)",
    responses=_responses("kmz"),
)
def route_kmz(request: Request, route: RouteRef, root: RootUrl, lang: Lang = None) -> Response:
    """The KML hand-out zipped as ``doc.kml``."""
    return _handout(request, route, root, "kmz")
