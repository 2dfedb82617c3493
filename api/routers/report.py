"""The annual programme report as files: PDF (``maps.report``) and XLSX
(``geo.io.report_xlsx``), both drawn from ``geo.workflows.annual_report``."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query, Request, Response

from api.deps import RootUrl, read_connection
from api.i18n import request_language
from api.negotiation import reject_unknown_params
from api.openapi import bilingual
from geo.io import report_xlsx
from geo.kernel.text import Text
from geo.workflows import annual_report
from maps import report

router = APIRouter(tags=["Indicators"])

TEMPLATES_DIR = Path(__file__).resolve().parents[1] / "templates"
# The reports are dated in the province's time, whatever the server's clock zone.
REPORT_ZONE = ZoneInfo("Asia/Ho_Chi_Minh")

YearQuery = Annotated[
    int | None,
    Query(
        description=bilingual(
            Text(
                "năm báo cáo (2000–2100; mặc định: năm hiện tại)",
                "the report's year (2000–2100; default: this year)",
            )
        )
    ),
]
ProgrammeQuery = Annotated[
    str | None,
    Query(
        description=bilingual(
            Text(
                "mã chương trình, kế hoạch (vd. 4182/QĐ-UBND; mặc định: kế hoạch của tỉnh)",
                "the programme's code (e.g. 4182/QĐ-UBND; default: the province's plan)",
            )
        )
    ),
]
LangQuery = Annotated[
    str | None,
    Query(
        description=bilingual(
            Text("ngôn ngữ của báo cáo: vi (mặc định) hoặc en", "the report's language: vi or en")
        )
    ),
]

_PARAMS = ("year", "programme", "lang")


def now() -> dt.datetime:
    """The time a report is made, in Viet Nam."""
    return dt.datetime.now(REPORT_ZONE)


def _responses(media_type: str, words: Text) -> dict[int | str, dict[str, Any]]:
    return {
        200: {
            "description": bilingual(words),
            "content": {media_type: {"schema": {"type": "string", "format": "binary"}}},
        },
        400: {"description": "a year outside 2000–2100 or an unknown query parameter"},
        404: {"description": "no programme has this code"},
    }


def _gather(
    request: Request, year: int | None, programme: str | None, *, with_maps: bool
) -> annual_report.AnnualReport:
    reject_unknown_params(request, _PARAMS)
    made = now()
    with read_connection(request) as conn:
        return annual_report.annual_report(
            conn,
            programme=programme or None,
            year=made.year if year is None else year,
            today=made.date(),
            # Dated by the day, not the minute: the same request gives the same bytes all
            # day (HEAD and GET agree; caches may keep it), while the data's year is fixed.
            generated_at=made.date(),
            with_maps=with_maps,
        )


def _download(body: bytes, media_type: str, name: str) -> Response:
    return Response(
        body,
        media_type=media_type,
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.get(
    "/indicators/report.pdf",
    response_class=Response,
    summary="The annual programme report as PDF (Vietnamese by default)",
    responses=_responses(
        report.MEDIA_TYPE,
        Text(
            "Báo cáo tình hình thực hiện Chương trình năm: bảng tổng hợp, biểu đồ, bản đồ, "
            "bảng theo đơn vị, hồ sơ cần xử lý",
            "The year's programme report: summary, charts, maps, tables per unit, records "
            "needing action",
        ),
    ),
)
def report_pdf(
    request: Request,
    root: RootUrl,
    year: YearQuery = None,
    programme: ProgrammeQuery = None,
    lang: LangQuery = None,
) -> Response:
    """A4 pages for the department's yearly report: every indicator against its 2025 and
    2030 targets, computed from the records, with the villages lacking data counted."""
    language = request_language(request)
    data = _gather(request, year, programme, with_maps=True)

    def item_url(collection: str, feature_id: int) -> str:
        return f"{root}/collections/{collection}/items/{feature_id}?lang={language}"

    body = report.render_pdf(data, lang=language, template_dir=TEMPLATES_DIR, item_url=item_url)
    return _download(body, report.MEDIA_TYPE, report.filename(data.report.year, "pdf"))


@router.get(
    "/indicators/report.xlsx",
    response_class=Response,
    summary="The annual programme report's tables as XLSX",
    responses=_responses(
        report_xlsx.MEDIA_TYPE,
        Text(
            "Các bảng của báo cáo năm: tổng hợp, theo xã, phường, theo huyện cũ, hồ sơ cần "
            "xử lý, số liệu theo năm",
            "The year's report tables: summary, per commune, per old district, records "
            "needing action, series per year",
        ),
    ),
)
def report_xlsx_file(
    request: Request,
    year: YearQuery = None,
    programme: ProgrammeQuery = None,
    lang: LangQuery = None,
) -> Response:
    """The report's tables with numbers as numbers (percent cells formatted as %)."""
    language = request_language(request)
    data = _gather(request, year, programme, with_maps=False)
    body = report_xlsx.workbook(
        data.report, data.actions, lang=language, generated_at=data.generated_at
    )
    return _download(body, report_xlsx.MEDIA_TYPE, report_xlsx.filename(data.report.year, "xlsx"))
