"""The yearly supply figures planners record: list them (JSON, HTML, CSV), record, delete."""

from __future__ import annotations

import json
import re
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import JSONResponse, Response

from api import present
from api.auth import require_planner
from api.deps import SessionDep
from api.etags import expected_version
from api.i18n import FIGURES_PAGE, request_language
from api.negotiation import reject_unknown_params, vary, wants_html
from api.openapi import bilingual
from api.routers.ogc import render
from geo.io import figures as files
from geo.kernel import text as texts
from geo.kernel import vocab
from geo.kernel.errors import InvalidInput
from geo.kernel.text import Text
from geo.kernel.vocab import label
from geo.store.keys import KeyInfo
from geo.workflows import figures as workflow

router = APIRouter(tags=["Supply figures"])

_MATERIALS = [m.value for m in vocab.Material]
MaterialQuery = Annotated[
    str | None,
    Query(
        description=bilingual(
            Text("mã nguyên liệu (vd. sedge = cói)", "material code (e.g. sedge)")
        ),
        json_schema_extra={"enum": _MATERIALS},
    ),
]
YearQuery = Annotated[
    int | None,
    Query(description=bilingual(Text("chỉ số liệu của năm này", "only this year's figures"))),
]
VillageQuery = Annotated[
    str | None,
    Query(description=bilingual(Text("mã làng nghề (vd. TH-V-005)", "village code (TH-V-005)"))),
]
ZoneQuery = Annotated[
    str | None,
    Query(description=bilingual(Text("mã vùng nguyên liệu (vd. TH-Z-009)", "zone code"))),
]
FormatQuery = Annotated[
    str | None,
    Query(
        alias="f",
        description=bilingual(Text("định dạng: json, html hoặc csv", "format: json, html or csv")),
    ),
]
LangQuery = Annotated[
    str | None,
    Query(description=bilingual(Text("ngôn ngữ trang: vi hoặc en", "page language: vi or en"))),
]
CodePath = Annotated[
    str,
    PathParam(description=bilingual(Text("mã làng nghề hoặc vùng", "village or zone code"))),
]
MaterialPath = Annotated[
    str, PathParam(description=bilingual(Text("mã nguyên liệu", "material code")))
]
YearPath = Annotated[
    int, PathParam(description=bilingual(Text("năm của số liệu", "the figure's year")))
]
IfMatch = Annotated[
    str | None,
    Header(
        alias="If-Match",
        description=bilingual(
            Text(
                "ETag của số liệu mà thay đổi dựa vào; ETag đã cũ được trả lời 412",
                "the figure's ETag the change is based on; a stale one is answered with 412",
            )
        ),
    ),
]
# The body is read after the key check, so FastAPI does not see it: /api documents it.
_FIGURE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["tonnes"],
    "additionalProperties": False,
    "properties": {
        "tonnes": {"type": "number", "minimum": 0, "description": "tonnes a year"},
        "estimate": {"type": "boolean", "default": False},
        "basis": {"type": "string", "description": "how it was estimated (required if estimate)"},
        "sources": {"type": "array", "items": {"type": "string"}},
    },
}
_ZONE_SCHEMA: dict[str, Any] = {
    **_FIGURE_SCHEMA,
    "properties": {
        **_FIGURE_SCHEMA["properties"],
        "material": {"type": "string", "enum": [m.value for m in vocab.Material]},
    },
}


def _body_doc(schema: dict[str, Any]) -> dict[str, Any]:
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": schema}},
        }
    }


_WRITTEN: dict[int | str, dict[str, Any]] = {
    200: {"description": "the year's figure was replaced"},
    201: {"description": "the year's figure was recorded"},
}
_TAG = re.compile(r"^figure-(\d+)$")


def planner_key(request: Request, session: SessionDep) -> KeyInfo:
    """Check the key (401/403) before anything reads the body."""
    reject_unknown_params(request, ())
    return require_planner(request, session.connection())


async def accepted_body(request: Request, key: Annotated[KeyInfo, Depends(planner_key)]) -> bytes:
    """The raw body, read only once the key was accepted."""
    return await request.body()


PlannerKey = Annotated[KeyInfo, Depends(planner_key)]
AcceptedBody = Annotated[bytes, Depends(accepted_body)]


def _etag(version: int) -> str:
    return f'"figure-{version}"'


def _expected(if_match: str | None) -> int | None:
    return expected_version(if_match, _TAG)


def _input(raw: bytes, *, zone: bool) -> tuple[workflow.FigureInput, str | None]:
    if not raw.strip():
        raise InvalidInput('the request needs a JSON body: {"tonnes": …, "estimate": …}')
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise InvalidInput(f"the body is not valid JSON: {str(exc)[:200]}") from exc
    if not isinstance(body, dict):
        raise InvalidInput("the body must be a JSON object")
    allowed = {"tonnes", "estimate", "basis", "sources"} | ({"material"} if zone else set())
    unknown = set(body) - allowed
    if unknown:
        raise InvalidInput(f"unknown members {sorted(unknown)}; allowed: {sorted(allowed)}")
    if "tonnes" not in body:
        raise InvalidInput("tonnes is required")
    material = body.get("material")
    if material is not None and not isinstance(material, str):
        raise InvalidInput("material must be a material code")
    data = workflow.FigureInput.checked(
        body["tonnes"], body.get("estimate", False), body.get("basis"), body.get("sources")
    )
    return data, material


def _written(recorded: workflow.Recorded) -> Response:
    figure = recorded.figure
    status = 201 if recorded.created else 200
    return JSONResponse(
        {**figure, "feature_updated": recorded.feature_updated},
        status_code=status,
        headers={"ETag": _etag(figure["version"])},
    )


@router.get("/figures", response_model=None, summary="Yearly supply figures")
def list_figures(
    request: Request,
    session: SessionDep,
    material: MaterialQuery = None,
    year: YearQuery = None,
    village: VillageQuery = None,
    zone: ZoneQuery = None,
    f: FormatQuery = None,
    lang: LangQuery = None,
) -> Response:
    """Recorded figures: villages' demand and zones' capacity per year (JSON, HTML, CSV)."""
    reject_unknown_params(request, ("material", "year", "village", "zone", "f", "lang"))
    if f not in (None, "json", "html", "csv"):
        raise InvalidInput(f"f must be json, html or csv, not {f!r}")
    found = workflow.list_figures(
        session.connection(), material=material, year=year, village=village, zone=zone
    )
    vary(request, "Accept", "Accept-Language")
    if f == "csv":
        return Response(
            files.to_csv(found),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="supply_figures.csv"'},
        )
    if f == "html" or (f is None and wants_html(request)):
        chosen = request_language(request)
        return render(
            request,
            "figures.html",
            figures=present.figure_rows(found, chosen),
            fig=texts.in_(FIGURES_PAGE, chosen),
            materials={m: label("material", m, chosen) for m in _MATERIALS},
            asked={
                "material": material or "",
                "year": year or "",
                "village": village or "",
                "zone": zone or "",
            },
        )
    return JSONResponse({"figures": found, "numberMatched": len(found)})


@router.put(
    "/figures/villages/{code}/{material}/{year}",
    response_model=None,
    summary="Record a village's yearly demand",
    responses=_WRITTEN,
    openapi_extra=_body_doc(_FIGURE_SCHEMA),
)
def put_village_figure(
    key: PlannerKey,
    body: AcceptedBody,
    session: SessionDep,
    code: CodePath,
    material: MaterialPath,
    year: YearPath,
    if_match: IfMatch = None,
) -> Response:
    """Record (insert or replace) a village's demand for a material in a year (planner key)."""
    data, _ = _input(body, zone=False)
    recorded = workflow.record_village(
        session.connection(),
        code,
        material,
        year,
        data,
        actor=key.actor,
        expected_version=_expected(if_match),
    )
    session.commit()
    return _written(recorded)


@router.put(
    "/figures/zones/{code}/{year}",
    response_model=None,
    summary="Record a zone's yearly capacity",
    responses=_WRITTEN,
    openapi_extra=_body_doc(_ZONE_SCHEMA),
)
def put_zone_figure(
    key: PlannerKey,
    body: AcceptedBody,
    session: SessionDep,
    code: CodePath,
    year: YearPath,
    if_match: IfMatch = None,
) -> Response:
    """Record (insert or replace) a zone's capacity in a year (planner key)."""
    data, material = _input(body, zone=True)
    recorded = workflow.record_zone(
        session.connection(),
        code,
        year,
        data,
        actor=key.actor,
        material=material,
        expected_version=_expected(if_match),
    )
    session.commit()
    return _written(recorded)


@router.delete(
    "/figures/villages/{code}/{material}/{year}",
    response_model=None,
    status_code=204,
    summary="Delete a village's yearly demand",
)
def delete_village_figure(
    key: PlannerKey,
    session: SessionDep,
    code: CodePath,
    material: MaterialPath,
    year: YearPath,
    if_match: IfMatch = None,
) -> Response:
    """Delete a village's figure of a year; the village keeps the newest one left."""
    workflow.delete_village(
        session.connection(),
        code,
        material,
        year,
        actor=key.actor,
        expected_version=_expected(if_match),
    )
    session.commit()
    return Response(status_code=204)


@router.delete(
    "/figures/zones/{code}/{year}",
    response_model=None,
    status_code=204,
    summary="Delete a zone's yearly capacity",
)
def delete_zone_figure(
    key: PlannerKey,
    session: SessionDep,
    code: CodePath,
    year: YearPath,
    if_match: IfMatch = None,
) -> Response:
    """Delete a zone's figure of a year; the zone keeps the newest one left."""
    workflow.delete_zone(
        session.connection(), code, year, actor=key.actor, expected_version=_expected(if_match)
    )
    session.commit()
    return Response(status_code=204)
