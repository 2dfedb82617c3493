"""Imports over HTTP (issue 13 point 1): upload a file, poll the job, read its report.

``POST /imports`` takes a multipart upload and the options of ``craftmap import``; the
key must have a role that may write the target collection. The file is checked (GDAL can
open it, the options make sense) before the job is created, so a bad upload is a 4xx at
once; the import itself runs in a background thread and is polled at ``/imports/{id}``.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import tempfile
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse, JSONResponse, Response

from api.auth import require_writer
from api.deps import RootUrl, SessionDep, SettingsDep, get_engine
from api.openapi import bilingual
from geo.io.imports import ImportRequest, jobs, parse_inline, reading
from geo.io.imports import report as reports
from geo.io.imports.pipeline import check_target, target_collection
from geo.kernel.crs import import_crs
from geo.kernel.errors import InvalidInput, LimitExceeded, NotFound
from geo.kernel.text import Text, language

router = APIRouter(tags=["Imports"])

_SAFE_NAME = re.compile(r"[^\w.\-]+")
_SUFFIXES = {
    ".geojson",
    ".json",
    ".gpkg",
    ".zip",
    ".tab",
    ".mif",
    ".kml",
    ".kmz",
    ".gpx",
    ".csv",
    ".xlsx",
    ".fgb",
}
PAGE = {
    "job": Text("Nhập dữ liệu", "Import"),
    "queued": Text("Đang chờ", "Queued"),
    "running": Text("Đang chạy", "Running"),
    "done": Text("Đã xong", "Done"),
    "failed": Text("Không thành công", "Failed"),
    "rows": Text("dòng", "rows"),
    "report": Text("Báo cáo", "Report"),
}
JobId = Annotated[
    int,
    PathParam(
        alias="jobId",
        ge=1,
        le=2_147_483_647,
        description=bilingual(
            Text("số của lượt nhập (trong Location)", "the import's number (from Location)")
        ),
    ),
]


def _saved_upload(upload: UploadFile, limit: int) -> tuple[Path, str, str]:
    """The upload copied to a folder of its own: its path, original name and SHA-256."""
    original = Path(upload.filename or "upload").name
    suffix = Path(original).suffix.lower()
    if suffix not in _SUFFIXES:
        raise InvalidInput(
            f"{original!r}: send a .geojson, .gpkg, .zip (Shapefile or MapInfo), .tab, .mif, "
            ".kml, .kmz, .gpx, .csv, .xlsx or .fgb file"
        )
    folder = Path(tempfile.mkdtemp(prefix="craftmap-import-"))
    # The name on disk keeps the suffix GDAL needs; the rest is the user's, made harmless.
    target = folder / (_SAFE_NAME.sub("_", Path(original).stem)[:80] + suffix)
    digest = hashlib.sha256()
    size = 0
    try:
        with target.open("wb") as out:
            while block := upload.file.read(1 << 20):
                size += len(block)
                if size > limit:
                    raise LimitExceeded(
                        f"the file is larger than {limit} bytes, the most accepted",
                        limit="import_max_bytes",
                        value=limit,
                    )
                digest.update(block)
                out.write(block)
        if size == 0:
            raise InvalidInput(f"{original!r} is empty")
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return target, original, digest.hexdigest()


@router.post(
    "/imports",
    status_code=202,
    summary="Upload a file to import into a collection",
    description=(
        "Multipart upload: `file` and the options of `craftmap import`. The API key needs a "
        "role that may write the target collection. A dry run unless `apply` is true. "
        "Answers 202 with `Location: /imports/{jobId}`; poll it until `status` is `done` "
        "or `failed`. Unreadable files and bad options are a 400 at once; a file over "
        "`import_max_bytes` is a 413."
    ),
    response_model=None,
)
def upload(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    root: RootUrl,
    file: Annotated[
        UploadFile, File(description=bilingual(Text("tệp cần nhập", "the file to import")))
    ],
    into: Annotated[
        str,
        Form(
            description=bilingual(
                Text(
                    "villages, material-zones, admin-units, routes, route-stops hoặc layers/<tên>",
                    "villages, material-zones, admin-units, routes, route-stops or layers/<name>",
                )
            )
        ),
    ],
    layer: Annotated[
        str | None,
        Form(
            description=bilingual(Text("lớp hoặc trang tính của tệp", "the file's layer or sheet"))
        ),
    ] = None,
    crs: Annotated[
        str | None,
        Form(
            description=bilingual(
                Text(
                    "EPSG:<mã> hoặc vn2000-tm3:<kinh tuyến trục>",
                    "EPSG:<code> or vn2000-tm3:<central meridian>",
                )
            )
        ),
    ] = None,
    encoding: Annotated[
        str,
        Form(
            description=bilingual(Text("auto, utf-8, tcvn3 hoặc vni", "auto, utf-8, tcvn3 or vni"))
        ),
    ] = "auto",
    mapping: Annotated[
        str | None,
        Form(
            description=bilingual(Text("tên một bảng ánh xạ cột đã lưu", "a saved mapping's name"))
        ),
    ] = None,
    map_: Annotated[
        list[str] | None,
        Form(
            alias="map",
            description=bilingual(
                Text("cột nguồn=trường (lặp lại được)", "source=field (repeatable)")
            ),
        ),
    ] = None,
    values: Annotated[
        list[str] | None,
        Form(
            description=bilingual(
                Text(
                    "trường:giá trị nguồn=mã (lặp lại được)", "field:source value=code (repeatable)"
                )
            )
        ),
    ] = None,
    save_mapping: Annotated[
        str | None,
        Form(
            alias="save-mapping",
            description=bilingual(
                Text("lưu bảng ánh xạ với tên này", "save the mapping under this name")
            ),
        ),
    ] = None,
    title: Annotated[
        str | None,
        Form(
            description=bilingual(
                Text("tiêu đề của lớp tham chiếu mới", "a new reference layer's title")
            )
        ),
    ] = None,
    kind: Annotated[
        str,
        Form(
            description=bilingual(
                Text("loại của lớp tham chiếu mới", "a new reference layer's kind")
            )
        ),
    ] = "other",
    apply: Annotated[
        bool,
        Form(
            description=bilingual(
                Text(
                    "ghi (tất cả hoặc không gì cả); false: chạy thử",
                    "write (all or nothing); false: a dry run",
                )
            )
        ),
    ] = False,
) -> Response:
    """Check the key, the file and the options; create the job and start it."""
    conn = session.connection()
    check_target(into)
    key = require_writer(request, conn, target_collection(conn, into))
    if encoding not in reading.ENCODINGS:
        raise InvalidInput(f"encoding must be one of {', '.join(reading.ENCODINGS)}")
    if crs:
        import_crs(crs)
    inline = parse_inline(map_ or [], values or [])
    path, original, digest = _saved_upload(file, settings.import_max_bytes)
    try:
        reading.list_layers(path)  # GDAL must open it: garbage is a 400 now, not a failed job
        import_request = ImportRequest(
            into=into,
            actor=f"key:{key.prefix}:{key.name}",
            layer=layer,
            crs=crs,
            encoding=encoding,
            mapping=inline,
            mapping_name=mapping,
            save_mapping=save_mapping,
            apply=apply,
            file_name=original,
            layer_title=title,
            layer_kind=kind,
        )
        job_id = jobs.create_job(conn, import_request, file_name=original, sha256=digest)
        session.commit()
    except BaseException:
        shutil.rmtree(path.parent, ignore_errors=True)
        raise
    jobs.start_job(get_engine(request), job_id, path, import_request)
    location = f"{root}/imports/{job_id}"
    return JSONResponse(
        {"id": job_id, "status": "queued", "links": [{"rel": "self", "href": location}]},
        status_code=202,
        headers={"Location": location},
    )


def _job(request: Request, session: SessionDep, job_id: int) -> dict[str, Any]:
    conn = session.connection()
    job = jobs.get_job(conn, job_id)
    require_writer(request, conn, target_collection(conn, job["into"]))
    return job


def _wants_html(request: Request, f: str | None) -> bool:
    if f is not None:
        if f not in ("json", "html"):
            raise InvalidInput("f must be json or html")
        return f == "html"
    accept = request.headers.get("accept", "")
    return "text/html" in accept and "application/json" not in accept


@router.get(
    "/imports/{jobId}",
    summary="An import job: status, progress and report",
    response_model=None,
    responses={200: {"content": {"application/json": {}, "text/html": {}}}},
)
def job_status(
    request: Request,
    session: SessionDep,
    root: RootUrl,
    job_id: JobId,
    f: Annotated[
        str | None, Query(description=bilingual(Text("json hoặc html", "json or html")))
    ] = None,
    lang: Annotated[
        str | None, Query(description=bilingual(Text("vi hoặc en (html)", "vi or en (html)")))
    ] = None,
) -> Response:
    """The job as JSON, or as a page that refreshes until it is done."""
    job = _job(request, session, job_id)
    job["links"] = [
        {"rel": "self", "href": f"{root}/imports/{job_id}"},
        {"rel": "report", "href": f"{root}/imports/{job_id}/report?f=json"},
    ]
    if not _wants_html(request, f):
        return JSONResponse(job)
    chosen = language(lang)
    if job["status"] == "done" and job["report"] is not None:
        return HTMLResponse(reports.as_html(job["report"], chosen))
    return HTMLResponse(_progress_page(job, chosen), headers={"Refresh": "2"})


def _progress_page(job: dict[str, Any], lang: str) -> str:
    import html

    done = job["progress"]["rows_done"]
    total = job["progress"]["rows_total"]
    count = f"{done}/{total} {PAGE['rows'](lang)}" if total else ""
    error = f"<p>{html.escape(job['error'])}</p>" if job["error"] else ""
    return (
        f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(PAGE['job'](lang))}: {html.escape(job['file'])}</title></head>"
        f"<body><h1>{html.escape(PAGE['job'](lang))}: {html.escape(job['file'])}</h1>"
        f"<p>{html.escape(PAGE[job['status']](lang))} {html.escape(count)}</p>{error}</body></html>"
    )


@router.get(
    "/imports/{jobId}/report",
    summary="An import job's report as JSON, HTML or CSV",
    response_model=None,
    responses={200: {"content": {"application/json": {}, "text/html": {}, "text/csv": {}}}},
)
def job_report(
    request: Request,
    session: SessionDep,
    job_id: JobId,
    f: Annotated[
        str, Query(description=bilingual(Text("json, html hoặc csv", "json, html or csv")))
    ] = "json",
    lang: Annotated[
        str | None, Query(description=bilingual(Text("vi hoặc en (html)", "vi or en (html)")))
    ] = None,
) -> Response:
    """The report of a finished job (404 while it runs or when it failed)."""
    job = _job(request, session, job_id)
    report = job["report"]
    if report is None:
        why = job["error"] or f"the job is {job['status']}"
        raise NotFound(f"import job {job_id} has no report ({why})")
    if f == "json":
        return Response(json.dumps(report, ensure_ascii=False), media_type="application/json")
    if f == "html":
        return HTMLResponse(reports.as_html(report, language(lang)))
    if f == "csv":
        return Response(
            "\ufeff" + reports.as_csv(report),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="import-{job_id}.csv"'},
        )
    raise InvalidInput("f must be json, html or csv")
