"""The route designer: design a saved route along the roads, read its design, preview one."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import JSONResponse, Response

from api.auth import require_tourism
from api.deps import SessionDep
from api.errors import BodyTooLarge
from api.etags import expected_version
from api.i18n import ROUTE_DESIGN_PAGE, request_language
from api.negotiation import reject_unknown_params, vary, wants_html
from api.openapi import bilingual
from api.routers.ogc import render
from geo.kernel import text as texts
from geo.kernel.errors import InvalidInput
from geo.kernel.route_notes import note_text
from geo.kernel.text import Text, number
from geo.kernel.vocab import label
from geo.store.keys import KeyInfo
from geo.workflows import route_design as workflow

router = APIRouter(tags=["Route designer"])

# A preview body of 60 stops is a few kilobytes; anything far larger is refused unread.
MAX_BODY_BYTES = 64 * 1024

RoutePath = Annotated[
    str,
    PathParam(
        alias="routeId",
        description=bilingual(Text("số hiệu hoặc mã của tuyến", "the route's id or code")),
        max_length=64,
    ),
]
FormatQuery = Annotated[
    str | None,
    Query(alias="f", description=bilingual(Text("định dạng: json hoặc html", "json or html"))),
]
LangQuery = Annotated[
    str | None,
    Query(description=bilingual(Text("ngôn ngữ trang: vi hoặc en", "page language: vi or en"))),
]
# The designer's notes are English words in the JSON (they are stored so); the editor asks
# for them in its page's language.
NotesLangQuery = Annotated[
    texts.Lang | None,
    Query(
        alias="lang",
        description=bilingual(
            Text(
                "nói các ghi chú chặng và giờ lỡ bằng: vi hoặc en (mặc định: tiếng Anh như lưu)",
                "say the leg notes and missed windows in: vi or en (default: English, as stored)",
            )
        ),
    ),
]
IfMatch = Annotated[
    str | None,
    Header(
        alias="If-Match",
        description=bilingual(
            Text(
                "ETag của tuyến mà thiết kế dựa vào; ETag đã cũ được trả lời 412",
                "the route's ETag the design is based on; a stale one is answered with 412",
            )
        ),
    ),
]
_DESIGN_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "optimise": {"type": "boolean", "default": False},
        "objective": {"type": "string", "enum": ["time", "distance"], "default": "time"},
        "end": {"type": "string", "enum": ["open", "fixed", "return"], "default": "open"},
        "network": {"type": "string", "description": "a road network's name (default: latest)"},
    },
}
_STOP_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "village_id": {"type": "integer"},
        "lon": {"type": "number", "minimum": -180, "maximum": 180},
        "lat": {"type": "number", "minimum": -90, "maximum": 90},
        "name": {"type": "string", "maxLength": 500},
        "dwell_min": {"type": "number", "minimum": 0, "maximum": 1440},
        "opens": {"type": "string", "pattern": "^\\d{2}:\\d{2}(:\\d{2})?$"},
        "closes": {"type": "string", "pattern": "^\\d{2}:\\d{2}(:\\d{2})?$"},
        "overnight": {"type": "boolean"},
        "leg_mode": {"type": "string", "enum": list(workflow.FALLBACK_KMH)},
    },
}
_PREVIEW_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["stops"],
    "additionalProperties": False,
    "properties": {
        "stops": {
            "type": "array",
            "minItems": 1,
            "maxItems": workflow.MAX_STOPS,
            "items": _STOP_SCHEMA,
        },
        "mode": {"type": "string", "enum": list(workflow.FALLBACK_KMH), "default": "car"},
        "start_time": {"type": "string", "default": "08:00"},
        **_DESIGN_SCHEMA["properties"],
    },
}


def _body_doc(schema: dict[str, Any]) -> dict[str, Any]:
    return {"requestBody": {"content": {"application/json": {"schema": schema}}}}


def tourism_key(request: Request, session: SessionDep) -> KeyInfo:
    """Check the key (401/403) before anything reads the body."""
    reject_unknown_params(request, ())
    return require_tourism(request, session.connection())


def _too_large() -> BodyTooLarge:
    return BodyTooLarge(
        f"a route design's body holds at most {MAX_BODY_BYTES} bytes",
        limit="route_design_body_bytes",
        value=MAX_BODY_BYTES,
    )


async def _raw(request: Request) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise _too_large()
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise _too_large()
        chunks.append(chunk)
    return b"".join(chunks)


async def accepted_body(request: Request, key: Annotated[KeyInfo, Depends(tourism_key)]) -> bytes:
    """The raw body, read only once the key was accepted."""
    return await _raw(request)


async def preview_body(request: Request) -> bytes:
    """The raw body of a preview (no key: it writes nothing)."""
    reject_unknown_params(request, ())
    return await _raw(request)


TourismKey = Annotated[KeyInfo, Depends(tourism_key)]
AcceptedBody = Annotated[bytes, Depends(accepted_body)]
PreviewBody = Annotated[bytes, Depends(preview_body)]


def _json(raw: bytes, *, empty: Any) -> Any:
    if not raw.strip():
        return empty
    try:
        return json.loads(raw, parse_constant=_no_constant)
    except (ValueError, RecursionError) as exc:
        raise InvalidInput(f"the body is not valid JSON: {str(exc)[:200]}") from exc


def _no_constant(name: str) -> Any:
    raise InvalidInput(f"the body holds {name}, which is not a JSON number")


def _design_options(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise InvalidInput("the body must be a JSON object")
    unknown = sorted(set(body) - {"optimise", "objective", "end", "network"})
    if unknown:
        raise InvalidInput(f"unknown members {', '.join(u[:40] for u in unknown[:5])}")
    return workflow.design_options(body)


@router.post(
    "/routes/{routeId}/design",
    response_model=None,
    summary="Design a route along the roads",
    openapi_extra=_body_doc(_DESIGN_SCHEMA),
)
def design_route(
    key: TourismKey,
    body: AcceptedBody,
    session: SessionDep,
    route_id: RoutePath,
    if_match: IfMatch = None,
) -> Response:
    """Compute the route's legs along the roads (and its best order when asked), its
    timetable, and save them on the route and its stops (tourism or admin key)."""
    options = _design_options(_json(body, empty={}))
    design = workflow.design_route(
        session.connection(),
        route_id,
        actor=key.actor,
        expected_version=expected_version(if_match),
        **options,
    )
    session.commit()
    return JSONResponse(workflow.design_document(design))


@router.post(
    "/routes/design/preview",
    response_model=None,
    summary="Preview the design of unsaved stops",
    openapi_extra=_body_doc(_PREVIEW_SCHEMA),
)
def preview_route(
    body: PreviewBody, session: SessionDep, notes_lang: NotesLangQuery = None
) -> Response:
    """The design of stops not saved yet (the editor's live view): writes nothing."""
    request = workflow.parse_preview(_json(body, empty=None))
    # Nothing is committed: the session ends with the request and the preview wrote nothing.
    design = workflow.preview_design(session.connection(), request)
    document = {**workflow.design_document(design), "geojson": workflow.design_geojson(design)}
    return JSONResponse(_notes_said(document, notes_lang) if notes_lang else document)


def _notes_said(value: Any, lang: str) -> Any:
    """``value`` with every leg note and window problem said in ``lang``."""
    if isinstance(value, dict):
        return {
            k: note_text(v, lang)
            if k in ("note", "problem") and isinstance(v, str)
            else _notes_said(v, lang)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_notes_said(v, lang) for v in value]
    return value


@router.get("/routes/{routeId}/design", response_model=None, summary="A route's saved design")
def get_design(
    request: Request,
    session: SessionDep,
    route_id: RoutePath,
    f: FormatQuery = None,
    lang: LangQuery = None,
) -> Response:
    """The design saved on the route and its stops: legs and timetable (JSON or HTML)."""
    reject_unknown_params(request, ("f", "lang"))
    if f not in (None, "json", "html"):
        raise InvalidInput(f"f must be json or html, not {f!r}")
    design = workflow.saved_design(session.connection(), route_id)
    document = workflow.design_document(design)
    vary(request, "Accept", "Accept-Language")
    if f == "html" or (f is None and wants_html(request)):
        chosen = request_language(request)
        return render(
            request,
            "route_design.html",
            d=_page(document, chosen),
            rd=texts.in_(ROUTE_DESIGN_PAGE, chosen),
        )
    return JSONResponse(document)


def _minutes_text(value: float, lang: str) -> str:
    whole = int(round(value))
    if whole >= 60:
        return ROUTE_DESIGN_PAGE["hours_minutes"].format(h=whole // 60, m=whole % 60)(lang)
    return ROUTE_DESIGN_PAGE["minutes"].format(m=whole)(lang)


def _page(document: dict[str, Any], lang: str) -> dict[str, Any]:
    """The design's figures as the page shows them (numbers in the page's language)."""
    legs = document["legs"]
    rows = []
    for k, row in enumerate(document["timetable"]):
        leg = legs[k - 1] if 0 < k <= len(legs) else None
        rows.append(
            {
                **row,
                "leg_km_text": "" if leg is None else f"{number(leg['km'], lang, 1)} km",
                "drive_text": "" if leg is None else _minutes_text(leg["minutes"], lang),
                "wait_text": "" if not row["wait_min"] else _minutes_text(row["wait_min"], lang),
                "dwell_text": _minutes_text(row["dwell_min"], lang),
                "leg_kind_text": ""
                if leg is None
                else ROUTE_DESIGN_PAGE[f"kind_{leg['kind']}"](lang),
                "leg_note": None if leg is None else note_text(leg["note"], lang),
                "problem": note_text(row["problem"], lang),
                "fallback": leg is not None and leg["kind"] != "road",
            }
        )
    return {
        **document,
        "unreachable": [
            {**u, "problem": note_text(u["problem"], lang)} for u in document["unreachable"]
        ],
        "fallbacks": [{**f, "note": note_text(f["note"], lang)} for f in document["fallbacks"]],
        "rows": rows,
        "mode_text": label("travel_mode", document["mode"], lang),
        "km_text": f"{number(document['km'], lang, 1)} km",
        "drive_text": _minutes_text(document["drive_min"], lang),
        "duration_text": _minutes_text(document["duration_min"], lang),
    }
