"""Imports uploaded over HTTP: a job row per upload, run in a background thread.

The API creates the job (``queued``) and starts `run_job` in a thread of the worker that
took the upload; the job row carries the progress (rows done of total) and, once done,
the report, so any worker can answer a poll. A job whose worker stopped mid-way stays
``running``; importing the file again is safe (imports are idempotent).
"""

from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from geo.io.imports.pipeline import ImportRequest, run_import
from geo.kernel.errors import GeoError, NotFound
from geo.store import models

_JOB = models.table_of(models.ImportJob)
# At most one progress write per this many seconds (and one at the end).
_PROGRESS_EVERY_S = 0.5


def create_job(conn: Connection, request: ImportRequest, *, file_name: str, sha256: str) -> int:
    """A queued job for ``request``; its id."""
    options = {
        "layer": request.layer,
        "crs": request.crs,
        "encoding": request.encoding,
        "mapping": request.mapping.as_json(),
        "mapping_name": request.mapping_name,
        "save_mapping": request.save_mapping,
        "apply": request.apply,
    }
    return int(
        conn.execute(
            sa.insert(_JOB)
            .values(
                actor=request.actor,
                file_name=file_name,
                sha256=sha256,
                into=request.into,
                options=options,
            )
            .returning(_JOB.c.id)
        ).scalar_one()
    )


def get_job(conn: Connection, job_id: int) -> dict[str, Any]:
    """A job as JSON: status, progress, and the report once done (or the error)."""
    row = conn.execute(sa.select(_JOB).where(_JOB.c.id == job_id)).first()
    if row is None:
        raise NotFound(f"no import job {job_id}")
    return {
        "id": row.id,
        "status": row.status,
        "into": row.into,
        "file": row.file_name,
        "sha256": row.sha256,
        "actor": row.actor,
        "progress": {"rows_done": row.rows_done, "rows_total": row.rows_total},
        "options": row.options,
        "error": row.error,
        "report": row.report,
        "created_at": row.created_at.isoformat(),
        "finished_at": row.finished_at.isoformat() if row.finished_at else None,
    }


def _set(engine: Engine, job_id: int, **values: Any) -> None:
    with engine.begin() as conn:
        conn.execute(sa.update(_JOB).where(_JOB.c.id == job_id).values(**values))


def run_job(engine: Engine, job_id: int, path: Path, request: ImportRequest) -> None:
    """Run job ``job_id``: progress and outcome in its row; ``path``'s folder removed after."""
    last = [0.0]

    def progress(done: int, total: int) -> None:
        now = time.monotonic()
        if now - last[0] >= _PROGRESS_EVERY_S or done == total:
            last[0] = now
            _set(engine, job_id, rows_done=done, rows_total=total)

    try:
        _set(engine, job_id, status="running")
        outcome = run_import(engine, path, request, progress=progress)
        _set(
            engine,
            job_id,
            status="done",
            report=outcome.as_json(),
            finished_at=sa.func.now(),
        )
    except GeoError as exc:
        _set(engine, job_id, status="failed", error=str(exc), finished_at=sa.func.now())
    except Exception as exc:  # a bug must still end the job, never leave it running
        _set(
            engine,
            job_id,
            status="failed",
            error=f"the import failed unexpectedly ({type(exc).__name__}); see the server log",
            finished_at=sa.func.now(),
        )
        raise
    finally:
        shutil.rmtree(path.parent, ignore_errors=True)


def start_job(engine: Engine, job_id: int, path: Path, request: ImportRequest) -> threading.Thread:
    """Run the job in a background thread of this process."""
    thread = threading.Thread(
        target=run_job, args=(engine, job_id, path, request), name=f"import-{job_id}", daemon=True
    )
    thread.start()
    return thread
