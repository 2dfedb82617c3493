"""A village's yearly programme facts: read (JSON, HTML), record, delete, import a file."""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import JSONResponse, Response
from starlette.datastructures import UploadFile

from api.auth import optional_reader, require_admin
from api.deps import RootUrl, SessionDep, SettingsDep
from api.errors import BodyTooLarge
from api.etags import expected_version
from api.i18n import request_language
from api.negotiation import reject_unknown_params, vary, wants_html
from api.openapi import bilingual
from api.params import parse_feature_id
from api.routers.ogc import render
from geo.io import village_stats as files
from geo.kernel import text as texts
from geo.kernel.errors import GeoError, InvalidInput
from geo.kernel.text import Text
from geo.store import catalog
from geo.store.keys import KeyInfo
from geo.workflows import village_stats as workflow

router = APIRouter(tags=["Village yearly figures"])

# What each fact is, in words, and its unit (None: a yes/no fact).
FACT_LABELS: dict[str, Text] = {
    "production_value_vnd": Text("Giá trị sản xuất", "Production value"),
    "avg_income_vnd_month": Text("Thu nhập bình quân của lao động", "Average income of a worker"),
    "workers": Text("Số lao động", "Workers"),
    "trained_workers": Text("Lao động đã qua đào tạo", "Trained workers"),
    "operating_effectively": Text("Hoạt động hiệu quả", "Operating effectively"),
    "tourism_linked": Text("Gắn với du lịch", "Linked with tourism"),
    "establishments": Text("Số cơ sở ngành nghề", "Craft establishments"),
    "ocop_establishments": Text("Cơ sở có sản phẩm OCOP", "Establishments with OCOP products"),
    "ocop_products": Text("Số sản phẩm OCOP", "OCOP products"),
    "ip_protected": Text(
        "Có sản phẩm, nhãn hiệu được bảo hộ sở hữu trí tuệ",
        "Products or brands with IP protection",
    ),
    "env_plan": Text("Có phương án bảo vệ môi trường", "Has an environmental protection plan"),
    "exports_usd": Text("Kim ngạch xuất khẩu", "Exports"),
}
FACT_UNITS: dict[str, Text] = {
    "production_value_vnd": Text("đồng/năm", "VND a year"),
    "avg_income_vnd_month": Text("đồng/tháng", "VND a month"),
    "workers": Text("người", "people"),
    "trained_workers": Text("người", "people"),
    "establishments": Text("cơ sở", "establishments"),
    "ocop_establishments": Text("cơ sở", "establishments"),
    "ocop_products": Text("sản phẩm", "products"),
    "exports_usd": Text("USD/năm", "USD a year"),
}
PAGE: dict[str, Text] = {
    "title": Text("Số liệu chương trình theo năm", "Yearly programme figures"),
    "intro": Text(
        "Số liệu hằng năm của làng nghề mà các chỉ tiêu của chương trình được tính từ đó. "
        "“Chưa có số liệu” là chưa biết, không phải “không” hay 0: chỉ tiêu tính làng nghề đó "
        "vào số thiếu số liệu.",
        "The village's yearly figures the programme's indicators are computed from. "
        "“No data” is unknown, never “no” or 0: the indicators count the village as lacking "
        "data.",
    ),
    "fact": Text("Chỉ tiêu", "Figure"),
    "unit": Text("Đơn vị", "Unit"),
    "yes": Text("Có", "Yes"),
    "no": Text("Không", "No"),
    "no_data": Text("chưa có số liệu", "no data"),
    "none": Text(
        "Chưa có số liệu năm nào cho làng nghề này.", "No yearly figures for this village yet."
    ),
    "sources": Text("Nguồn", "Sources"),
    "village_page": Text("Trang làng nghề", "The village's page"),
    "csv": Text("Tải CSV", "Download CSV"),
    "xlsx": Text(
        "Tải XLSX (để sửa trong Excel rồi nhập lại)", "Download XLSX (to edit in Excel and import)"
    ),
    "history": Text("Lịch sử thay đổi", "Change history"),
    "no_history": Text("Chưa có thay đổi nào được ghi.", "No change recorded yet."),
    "create": Text("thêm năm", "added year"),
    "update": Text("sửa năm", "changed year"),
    "delete": Text("xóa năm", "deleted year"),
    "restore": Text("khôi phục năm", "restored year"),
    "by": Text("bởi", "by"),
    "command line": Text("dòng lệnh", "command line"),
}

FeatureIdPath = Annotated[
    str,
    PathParam(
        alias="featureId", description=bilingual(Text("số của làng nghề", "the village's id"))
    ),
]
YearPath = Annotated[
    int,
    PathParam(
        ge=files.YEAR_MIN,
        le=files.YEAR_MAX,
        description=bilingual(Text("năm của số liệu (1990–2100)", "the figures' year (1990–2100)")),
    ),
]
FormatQuery = Annotated[
    str | None,
    Query(
        alias="f",
        description=bilingual(
            Text("định dạng: json, html, csv hoặc xlsx", "format: json, html, csv or xlsx")
        ),
    ),
]
LangQuery = Annotated[
    str | None,
    Query(description=bilingual(Text("ngôn ngữ trang: vi hoặc en", "page language: vi or en"))),
]
IfMatch = Annotated[
    str | None,
    Header(
        alias="If-Match",
        description=bilingual(
            Text(
                "ETag của số liệu năm mà thay đổi dựa vào; ETag đã cũ được trả lời 412",
                "the year's ETag the change is based on; a stale one is answered with 412",
            )
        ),
    ),
]
_TAG = re.compile(r"^stat-(\d+)$")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

# The bodies are read after the key check, so FastAPI does not see them: /api documents them.
_FACTS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "description": "every fact optional: absent or null is unknown (never no or 0)",
    "properties": {
        **{
            name: (
                {"type": "boolean", "nullable": True}
                if kind == "bool"
                else {"type": "integer", "minimum": 0, "maximum": limit, "nullable": True}
            )
            for name, (kind, limit) in files.FACTS.items()
        },
        "sources": {"type": "array", "items": {"type": "string"}},
    },
}
_PUT_DOC = {
    "requestBody": {"required": True, "content": {"application/json": {"schema": _FACTS_SCHEMA}}}
}
_IMPORT_DOC = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {"type": "string", "format": "binary"},
                        "dry_run": {"type": "boolean", "default": False},
                    },
                }
            }
        },
    }
}


def admin_key(request: Request, session: SessionDep) -> KeyInfo:
    """Check the admin key (401/403) before anything reads the body."""
    reject_unknown_params(request, ())
    return require_admin(request, session.connection())


AdminKey = Annotated[KeyInfo, Depends(admin_key)]


async def accepted_body(request: Request, key: AdminKey) -> bytes:
    """The raw body, read only once the key was accepted."""
    return await request.body()


async def accepted_upload(
    request: Request, key: AdminKey, settings: SettingsDep
) -> tuple[bytes, str, bool]:
    """The uploaded file (bytes, name) and dry_run, read only once the key was accepted."""
    limit = settings.stats_import_max_bytes
    if "multipart/form-data" not in request.headers.get("content-type", ""):
        raise InvalidInput("send the file as multipart/form-data with the field 'file'")
    try:
        form = await request.form(max_files=1, max_fields=5, max_part_size=64 * 1024)
    except GeoError:
        raise  # a body over the cap (BodyTooLarge from api.limits) stays a 413
    except Exception as exc:  # a broken multipart body is the client's, never a 500
        raise InvalidInput(f"the multipart body cannot be read: {str(exc)[:200]}") from exc
    try:
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise InvalidInput("the form needs a file in the field 'file'")
        data = await upload.read(limit + 1)
        if len(data) > limit:
            raise BodyTooLarge(
                f"the file is larger than {limit} bytes, the most accepted",
                limit="stats_import_max_bytes",
                value=limit,
            )
        if not data:
            raise InvalidInput("the file is empty")
        dry = str(form.get("dry_run") or "false").strip().lower()
        if dry not in ("true", "false", "1", "0"):
            raise InvalidInput("dry_run must be true or false")
        return data, upload.filename or "upload", dry in ("true", "1")
    finally:
        await form.close()


AcceptedBody = Annotated[bytes, Depends(accepted_body)]
AcceptedUpload = Annotated[tuple[bytes, str, bool], Depends(accepted_upload)]


def _etag(version: int) -> str:
    return f'"stat-{version}"'


def _value_words(name: str, value: Any, lang: str) -> tuple[str, bool]:
    """A fact's value as the page writes it, and whether it is known."""
    words = texts.in_(PAGE, lang)
    if value is None or value == []:
        return words["no_data"], False
    if name == "sources":
        return "; ".join(str(v) for v in value), True
    if isinstance(value, bool):
        return (words["yes"] if value else words["no"]), True
    return texts.number(int(value), lang), True


def _facts_in_words(stats: list[dict[str, Any]], lang: str) -> list[dict[str, Any]]:
    """One line per fact: its label, its unit, and each year's value in words."""
    lines = []
    for name in workflow.FACTS:
        cells = []
        for stat in stats:
            said, known = _value_words(name, stat[name], lang)
            cells.append({"text": said, "known": known})
        unit = FACT_UNITS.get(name)
        lines.append(
            {
                "name": name,
                "label": FACT_LABELS[name](lang),
                "unit": unit(lang) if unit else "",
                "cells": cells,
            }
        )
    return lines


def _history_in_words(entries: list[dict[str, Any]], lang: str) -> list[dict[str, Any]]:
    """Each change: when, what, by whom, and each changed fact from → to in words."""
    words = texts.in_(PAGE, lang)
    shown = []
    for entry in entries:
        at = dt.datetime.fromisoformat(entry["at"])
        actor = entry["actor"]
        changes = []
        for name, (before, after) in entry["changes"].items():
            label = FACT_LABELS[name](lang) if name in FACT_LABELS else words["sources"]
            old, _ = _value_words(name, before, lang)
            new, _ = _value_words(name, after, lang)
            changes.append({"label": label, "before": old, "after": new, "action": entry["action"]})
        shown.append(
            {
                "when": at.strftime(texts.date_format(lang, with_time=True)),
                "what": f"{words.get(entry['action'], entry['action'])} {entry['year']}",
                "actor": words["command line"] if actor == "command line" else actor,
                "action": entry["action"],
                "year": entry["year"],
                "changes": changes,
            }
        )
    return shown


@router.get(
    "/collections/villages/items/{featureId}/stats",
    response_model=None,
    summary="A village's yearly programme figures",
)
def get_stats(
    request: Request,
    session: SessionDep,
    root: RootUrl,
    feature_id: FeatureIdPath,
    f: FormatQuery = None,
    lang: LangQuery = None,
) -> Response:
    """The village's yearly facts, oldest year first, and their changes (JSON, HTML, CSV)."""
    reject_unknown_params(request, ("f", "lang"))
    if f not in (None, "json", "html", "csv", "xlsx"):
        raise InvalidInput(f"f must be json, html, csv or xlsx, not {f!r}")
    conn = session.connection()
    found = workflow.village(conn, parse_feature_id(feature_id))
    # Who wrote is named in full only to key holders (as on items_read.item_history).
    reader = optional_reader(request, conn)
    stats = [
        {k: v for k, v in s.items() if k != "actor"} for s in workflow.years_of(conn, found["id"])
    ]
    history = workflow.history_of(conn, found["id"], reveal_actors=reader is not None)
    vary(request, "Accept", "Accept-Language")
    here = f"{root}/collections/villages/items/{found['id']}"
    if f in ("csv", "xlsx"):
        named = f'attachment; filename="village_stats_{found["id"]}.{f}"'
        if f == "xlsx":
            return Response(
                files.to_xlsx(stats), media_type=XLSX, headers={"Content-Disposition": named}
            )
        # The BOM makes Excel read the file as UTF-8 (without it, diacritics are garbled).
        return Response(
            "\ufeff" + files.to_csv(stats),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": named},
        )
    if f == "html" or (f is None and wants_html(request)):
        chosen = request_language(request)
        return render(
            request,
            "village_stats.html",
            village=found,
            stats=stats,
            lines=_facts_in_words(stats, chosen),
            history=_history_in_words(history, chosen),
            st=texts.in_(PAGE, chosen),
            village_url=f"/collections/villages/items/{found['id']}",
            collection_title=catalog.VILLAGES.title(chosen),
        )
    return JSONResponse(
        {
            "village": found,
            "facts": list(workflow.FACTS),
            "stats": stats,
            "history": history,
            "links": [
                {"rel": "self", "type": "application/json", "href": f"{here}/stats?f=json"},
                {"rel": "alternate", "type": "text/html", "href": f"{here}/stats?f=html"},
                {"rel": "alternate", "type": "text/csv", "href": f"{here}/stats?f=csv"},
                {"rel": "alternate", "type": XLSX, "href": f"{here}/stats?f=xlsx"},
                {"rel": "up", "type": "application/geo+json", "href": here},
            ],
        }
    )


@router.put(
    "/collections/villages/items/{featureId}/stats/{year}",
    response_model=None,
    summary="Record a village's figures of a year (admin)",
    responses={
        200: {"description": "the year's figures were replaced (or were already so)"},
        201: {"description": "the year's figures were recorded"},
    },
    openapi_extra=_PUT_DOC,
)
def put_stats(
    key: AdminKey,
    body: AcceptedBody,
    session: SessionDep,
    feature_id: FeatureIdPath,
    year: YearPath,
    if_match: IfMatch = None,
) -> Response:
    """Record (insert or replace) a year's facts; a fact left out is unknown (admin key)."""
    if not body.strip():
        raise InvalidInput('the request needs a JSON body: {"workers": …, "env_plan": …}')
    try:
        parsed = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise InvalidInput(f"the body is not valid JSON: {str(exc)[:200]}") from exc
    facts, sources = workflow.checked_body(parsed)
    done = workflow.record(
        session.connection(),
        parse_feature_id(feature_id),
        year,
        facts,
        sources,
        actor=key.actor,
        expected_version=expected_version(if_match, _TAG),
    )
    session.commit()
    return JSONResponse(
        {**{k: v for k, v in done.stat.items() if k != "actor"}, "changed": done.changed},
        status_code=201 if done.created else 200,
        headers={"ETag": _etag(done.stat["version"])},
    )


@router.delete(
    "/collections/villages/items/{featureId}/stats/{year}",
    response_model=None,
    status_code=204,
    summary="Delete a village's figures of a year (admin)",
)
def delete_stats(
    key: AdminKey,
    session: SessionDep,
    feature_id: FeatureIdPath,
    year: YearPath,
    if_match: IfMatch = None,
) -> Response:
    """Delete a year's facts (admin key); the history keeps them."""
    workflow.delete(
        session.connection(),
        parse_feature_id(feature_id),
        year,
        actor=key.actor,
        expected_version=expected_version(if_match, _TAG),
    )
    session.commit()
    return Response(status_code=204)


@router.post(
    "/collections/villages/stats:import",
    response_model=None,
    summary="Import yearly figures from a CSV or XLSX file (admin)",
    description=(
        "Multipart upload: `file` (.csv in UTF-8 or .xlsx; one row per village_code and "
        "year) and `dry_run`. Every row or none: a bad file is a 400 naming every bad line; "
        "a file over `stats_import_max_bytes` is a 413."
    ),
    openapi_extra=_IMPORT_DOC,
)
def import_stats(key: AdminKey, upload: AcceptedUpload, session: SessionDep) -> Response:
    """Upsert the file's rows by (village, year): all or nothing (admin key)."""
    data, name, dry_run = upload
    rows = files.read_bytes(data, name)
    summary = workflow.import_rows(
        session.connection(), rows, actor=key.actor, name=name, dry_run=dry_run
    )
    session.commit()
    return JSONResponse(
        {
            "rows": summary.rows,
            "inserted": summary.inserted,
            "updated": summary.updated,
            "unchanged": summary.unchanged,
            "villages": summary.villages,
            "years": summary.years,
            "dry_run": summary.dry_run,
        }
    )
