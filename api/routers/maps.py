"""Map pages: the overview (``/maps``) and one map per tourism route, drawn with folium."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse, JSONResponse

from api.auth import may_write, optional_reader
from api.deps import RootUrl, read_connection
from api.i18n import request_language
from api.negotiation import reject_unknown_params
from api.params import parse_feature_id
from api.settings import ApiSettings
from geo.io import route_handouts
from geo.kernel.errors import InvalidInput, NotFound
from geo.query import mapdata
from geo.store import catalog
from maps.escape import with_nonce

if TYPE_CHECKING:
    import folium

    from maps import build

router = APIRouter(tags=["maps"])


def map_settings(request: Request, root: str) -> build.MapSettings:
    """Language from the request, links to this service, the configured basemap."""
    # maps.* pull folium, branca and geopandas (~130 MB a worker): only map pages load them.
    from maps import build

    settings: ApiSettings = request.app.state.settings
    return build.MapSettings(
        api_root=root,
        lang=request_language(request),
        basemap_url=settings.basemap_url,
        basemap_attribution=settings.basemap_attribution,
    )


def _page(request: Request, m: folium.Map, *, allow_eval: bool = False) -> HTMLResponse:
    """The rendered map, its inline scripts tagged with this response's CSP nonce."""
    page = m.get_root().render()
    nonce = getattr(request.state, "csp_nonce", None)
    if nonce:
        page = with_nonce(page, nonce)
    if allow_eval:
        request.state.csp_allow_eval = True
    return HTMLResponse(page)


@router.get("/maps", response_class=HTMLResponse, summary="Overview map")
def overview_map(request: Request, root: RootUrl) -> HTMLResponse:
    """Villages, material zones, routes and administrative units on one layered map."""
    reject_unknown_params(request, ("lang",))
    from maps import build

    settings: ApiSettings = request.app.state.settings
    with read_connection(request) as conn:
        data = mapdata.overview(conn, embed_limit=settings.map_embed_limit)
    # The measuring tool (leaflet-measure) needs eval; only this page has it.
    return _page(request, build.build_overview(data, map_settings(request, root)), allow_eval=True)


@router.get("/maps/routes/{routeId}", response_class=HTMLResponse, summary="A route's map")
def route_map(
    request: Request, route_id: Annotated[str, Path(alias="routeId")], root: RootUrl
) -> HTMLResponse:
    """One tourism route with its numbered stops, village cards and a print layout."""
    from maps import build

    reject_unknown_params(request, ("lang",))
    with read_connection(request) as conn:
        routes, stops = mapdata.route(conn, parse_feature_id(route_id))
        if routes.empty:
            raise NotFound(f"no route {route_id} (or it has no line yet)")
        plan = route_handouts.load_plan(conn, int(routes.iloc[0]["id"]))
    settings = map_settings(request, root)
    return _page(request, build.build_route_map(routes.iloc[0], stops, settings, plan))


@router.get("/maps/edit", response_class=HTMLResponse, summary="Draw and save features")
def editor_map(request: Request, root: RootUrl) -> HTMLResponse:
    """Draw a material zone (planner preset) or a route (``role=tourism``) and save it."""
    from maps import edit

    reject_unknown_params(request, ("lang", "role"))
    role = request.query_params.get("role", "planner")
    if role not in edit.PRESETS:
        raise InvalidInput(f"role must be one of {', '.join(edit.PRESETS)}, got {role!r}")
    with read_connection(request) as conn:
        data = mapdata.overview(conn)
    return _page(request, edit.build_editor(data, map_settings(request, root), role))


@router.get(
    "/maps/edit/access",
    summary="What the editor's key may write",
    responses={401: {"description": "the key sent is not valid"}},
)
def editor_access(request: Request) -> JSONResponse:
    """The role of the key sent (``Authorization: Bearer …``) and the map layers it may
    write, so that the editor offers edit handles only on those (none without a key)."""
    reject_unknown_params(request, ())
    with read_connection(request) as conn:
        key = optional_reader(request, conn)
    writable = [] if key is None else [c.id for c in catalog.CORE if may_write(key, c)]
    body = {"role": None if key is None else key.role.value, "writable": writable}
    # The answer depends on the key: no cache may keep it for another one.
    return JSONResponse(body, headers={"Cache-Control": "no-store", "Vary": "Authorization"})
