"""Liveness and readiness."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from api.errors import problem
from geo.kernel.errors import DatabaseUnavailable
from geo.store.db import schema_revision
from geo.store.migrate import head_revision

router = APIRouter(tags=["system"])


@router.get("/health")
def health() -> dict[str, str]:
    """The process is up (says nothing about the database)."""
    return {"status": "ok"}


@router.get("/ready", responses={503: {"description": "database down or not migrated"}})
def ready(request: Request) -> JSONResponse:
    """The database is reachable and migrated to the code's schema revision."""
    engine = request.app.state.engine
    if engine is None:
        return _not_ready(request, request.app.state.engine_error or "no database configured")
    try:
        current = schema_revision(engine)
    except DatabaseUnavailable as exc:
        return _not_ready(request, str(exc))
    expected = head_revision()
    if current != expected:
        return _not_ready(
            request,
            f"the database schema is at {current or 'nothing'}, the code needs {expected}: "
            "run 'craftmap migrate'",
        )
    answer: dict[str, object] = {"status": "ready", "schema_revision": current}
    router = request.app.state.read_router
    if router is not None:
        # Ready whatever the replicas' state: the primary answers the reads they cannot.
        try:
            answer["read_replicas"] = router.status()
        except DatabaseUnavailable as exc:
            return _not_ready(request, str(exc))
    return JSONResponse(answer)


def _not_ready(request: Request, detail: str) -> JSONResponse:
    # (limits) Load balancers and clients may come back: say when.
    response = problem(503, detail, instance="/ready")
    response.headers["Retry-After"] = str(request.app.state.settings.retry_after_seconds)
    return response
