"""The landing page: the collections and their feature counts, as HTML or JSON."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from api.deps import SessionDep
from api.i18n import STRINGS, request_language
from geo import catalog, queries

router = APIRouter(tags=["pages"])


def wants_html(request: Request) -> bool:
    """``f=html``/``f=json`` decide; otherwise the ``Accept`` header does (HTML for browsers)."""
    asked = request.query_params.get("f")
    if asked in {"html", "json"}:
        return asked == "html"
    accept = request.headers.get("accept", "")
    return "text/html" in accept


@router.get("/", response_model=None)
def landing(request: Request, session: SessionDep) -> Response:
    """Landing page: what craftmap serves, with feature counts per collection."""
    lang = request_language(request)
    counts = queries.collection_counts(session)
    collections: list[dict[str, Any]] = []
    for cid, count in counts.items():
        info = catalog.BY_ID.get(cid)
        collections.append(
            {
                "id": cid,
                "title": info.title(lang) if info else cid,
                "description": info.description(lang) if info else "",
                "feature_count": count,
            }
        )
    if wants_html(request):
        html = request.app.state.templates.get_template("landing.html").render(
            lang=lang, t=STRINGS[lang], collections=collections, title=request.app.title
        )
        return HTMLResponse(html)
    return JSONResponse(
        {
            "title": request.app.title,
            "description": STRINGS[lang]["tagline"],
            "collections": collections,
            "links": [
                {"rel": "self", "type": "application/json", "href": str(request.url)},
                {"rel": "service-status", "href": str(request.url_for("ready"))},
            ],
        }
    )
