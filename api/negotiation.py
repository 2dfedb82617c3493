"""Content negotiation and query-parameter checks shared by the OGC routers."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated

from fastapi import Path, Request

from geo.kernel.errors import InvalidInput

GEOJSON = "application/geo+json"
JSON = "application/json"
HTML = "text/html"
SCHEMA_JSON = "application/schema+json"
OPENAPI_30 = "application/vnd.oai.openapi+json;version=3.0"
MVT = "application/vnd.mapbox-vector-tile"

# Parameters every resource understands.
COMMON_PARAMS = frozenset({"f", "lang"})
# Scope slots shared with the middleware (api/etags.py, api/cors.py): the request headers a
# body depended on (for Vary), and that a GET is run only to answer a HEAD.
VARY_SCOPE_KEY = "craftmap.vary"
HEAD_SCOPE_KEY = "craftmap.head"


def vary(request: Request, *names: str) -> None:
    """Record that the answer depends on these request headers (sent back as ``Vary``)."""
    slot = request.scope.get(VARY_SCOPE_KEY)
    if slot is not None:
        slot.update(names)


def is_head(request: Request) -> bool:
    """The GET being run answers a HEAD: its body will be dropped."""
    return bool(request.scope.get(HEAD_SCOPE_KEY))


def wants_html(request: Request) -> bool:
    """``f=html``/``f=json`` decide; otherwise ``Accept``: HTML only when preferred to JSON.

    The HTML form is in the request's language, so the answer varies with both headers.
    """
    vary(request, "Accept", "Accept-Language")
    asked = request.query_params.get("f")
    if asked is not None:
        if asked not in {"html", "json", "geojson"}:
            raise InvalidInput(f"f must be html or json, got {asked!r}")
        return asked == "html"
    accept = request.headers.get("accept", "")
    if not accept:
        return False
    best_html = _quality(accept, HTML)
    best_json = max(_quality(accept, t) for t in (JSON, GEOJSON, SCHEMA_JSON))
    return best_html > best_json


def _quality(accept: str, media_type: str) -> float:
    main = media_type.split("/")[0]
    best = 0.0
    for part in accept.split(","):
        fields = [f.strip() for f in part.split(";")]
        kind = fields[0].lower()
        quality = 1.0
        for param in fields[1:]:
            if param.startswith("q="):
                try:
                    quality = float(param[2:])
                except ValueError:
                    quality = 0.0
        if kind == media_type:
            best = max(best, quality)
        elif kind in {f"{main}/*", "*/*"}:
            # Wildcards rank below an exact match of the same quality.
            best = max(best, quality - 0.001)
    return best


def reject_unknown_params(request: Request, allowed: Iterable[str]) -> None:
    """A query parameter the resource does not define is a 400, as OGC API asks."""
    known = COMMON_PARAMS | set(allowed)
    unknown = sorted(set(request.query_params.keys()) - known)
    if unknown:
        raise InvalidInput(
            f"unknown query parameter {', '.join(unknown)}; allowed: {', '.join(sorted(known))}"
        )


# Path parameters carry the names OGC API uses (GDAL looks for them in /api).
CollectionId = Annotated[str, Path(alias="collectionId", description="a collection id")]
FeatureId = Annotated[str, Path(alias="featureId", description="a feature id")]
# Text, not int: an id that is not a whole number names no resource, a 404 (OGC API –
# Features Part 1, Table 3), where FastAPI's own int check would answer 400.
HistoryId = Annotated[str, Path(alias="historyId", description="a history entry id")]
