"""OGC API – Features items, write side (Part 4): create, replace, update, delete, restore."""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import Response

from api import etags, params
from api.auth import require_admin, require_writer
from api.deps import RootUrl, SessionDep, SettingsDep
from api.negotiation import CollectionId, FeatureId, HistoryId, reject_unknown_params
from api.routers.items_read import feature_response
from api.settings import ApiSettings
from geo.kernel.crs import served_crs
from geo.kernel.errors import InvalidInput
from geo.store import catalog
from geo.store import writes as repository
from geo.store.db import Session
from geo.store.keys import KeyInfo

router = APIRouter(tags=["OGC API – Features"])


def _options(
    key_actor: str,
    content_crs: str | None,
    if_match: str | None,
    allow_overlap: bool = False,
    settings: ApiSettings | None = None,
    if_none_match: str | None = None,
) -> repository.WriteOptions:
    limits = repository.WriteLimits()
    if settings is not None:
        limits = repository.WriteLimits(
            max_string_chars=settings.max_string_chars,
            max_vertices=settings.max_vertices,
            max_features=settings.max_features,
        )
    return repository.WriteOptions(
        actor=key_actor,
        content_crs=served_crs(content_crs),
        expected_version=etags.expected_version(if_match),
        refused_versions=etags.refused_versions(if_none_match),
        allow_exclusion_overlap=allow_overlap,
        limits=limits,
    )


ContentCrs = Annotated[str | None, Header(alias="Content-Crs")]
IfMatch = Annotated[str | None, Header(alias="If-Match")]
IfNoneMatch = Annotated[str | None, Header(alias="If-None-Match")]
AllowOverlap = Annotated[
    bool,
    Query(alias="allow-exclusion-overlap", description="save a zone that overlaps exclusion areas"),
]


@dataclasses.dataclass(frozen=True)
class WriteTarget:
    """The collection a write goes to and the key that may write it."""

    collection: catalog.Collection
    key: KeyInfo


def write_target(collection_id: CollectionId, request: Request, session: SessionDep) -> WriteTarget:
    """Check the key (401/403) before anything reads the body."""
    reject_unknown_params(request, ("allow-exclusion-overlap",))
    found = catalog.get_collection(session, collection_id)
    return WriteTarget(found, require_writer(request, session.connection(), found))


WriteTargetDep = Annotated[WriteTarget, Depends(write_target)]


async def accepted_body(request: Request, target: WriteTargetDep) -> bytes:
    """The raw body, read only once the key was accepted (BodyLimitMiddleware caps its size).

    Depending on ``write_target`` orders the two: FastAPI solves it first.
    """
    return await request.body()


AcceptedBody = Annotated[bytes, Depends(accepted_body)]
# Any JSON surrogate escape; only lone ones are refused, after parsing.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


def _json_body(raw: bytes, options: repository.WriteOptions) -> Any:
    """Parse a write's body: a clear 400 for anything that is not JSON."""
    if not raw.strip():
        raise InvalidInput("the request needs a JSON body (a GeoJSON Feature)")
    repository.check_raw_body(raw, options.limits)
    try:
        body = json.loads(raw)
        if _SURROGATE_ESCAPE.search(raw):
            json.dumps(body, ensure_ascii=False).encode()  # refuses a lone surrogate
    except (ValueError, RecursionError) as exc:
        raise InvalidInput(f"the body is not valid JSON: {str(exc)[:200]}") from exc
    return body


def _body_doc(title: str, description: str) -> dict[str, Any]:
    # The body is read by the route (after the key check), so FastAPI does not see it:
    # /api still documents it. Limits: settings max_body_bytes, max_string_chars,
    # max_vertices and max_features.
    schema = {
        "type": "object",
        "additionalProperties": True,
        "description": description,
        "title": title,
    }
    return {
        "requestBody": {
            "required": True,
            "description": (
                f"{description}. Limits (413 or 400 naming the limit): body size, "
                "characters per string property, vertices per geometry, features per "
                "request (one Feature per write)."
            ),
            "content": {
                "application/json": {"schema": schema},
                "application/geo+json": {"schema": schema},
            },
        }
    }


@router.post(
    "/collections/{collectionId}/items",
    response_model=None,
    status_code=201,
    summary="Create a feature",
    openapi_extra=_body_doc("Feature", "a GeoJSON Feature"),
)
def create_item(
    target: WriteTargetDep,
    body: AcceptedBody,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    root: RootUrl,
    content_crs: ContentCrs = None,
    allow_exclusion_overlap: AllowOverlap = False,
) -> Response:
    """Create a feature (API key with a role that may write the collection)."""
    found, key = target.collection, target.key
    options = _options(key.actor, content_crs, None, allow_exclusion_overlap, settings)
    written = repository.create(session.connection(), found, _json_body(body, options), options)
    session.commit()
    response = feature_response(
        request, session.connection(), found, written.id, served_crs(None), root, status=201
    )
    response.headers["Location"] = f"{root}/collections/{found.id}/items/{written.id}"
    return response


@router.put(
    "/collections/{collectionId}/items/{featureId}",
    response_model=None,
    summary="Replace a feature",
    openapi_extra=_body_doc("Feature", "a GeoJSON Feature"),
)
def replace_item(
    target: WriteTargetDep,
    feature_id: FeatureId,
    body: AcceptedBody,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    root: RootUrl,
    content_crs: ContentCrs = None,
    if_match: IfMatch = None,
    if_none_match: IfNoneMatch = None,
    allow_exclusion_overlap: AllowOverlap = False,
) -> Response:
    """Replace a feature; with If-Match, a stale ETag gets 412."""
    return _change(
        repository.replace,
        request,
        session,
        root,
        (target, feature_id, body),
        _options(
            target.key.actor,
            content_crs,
            if_match,
            allow_exclusion_overlap,
            settings,
            if_none_match,
        ),
    )


@router.patch(
    "/collections/{collectionId}/items/{featureId}",
    response_model=None,
    summary="Update a feature",
    openapi_extra=_body_doc("Merge Patch", "RFC 7396 merge patch of the Feature"),
)
def patch_item(
    target: WriteTargetDep,
    feature_id: FeatureId,
    body: AcceptedBody,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    root: RootUrl,
    content_crs: ContentCrs = None,
    if_match: IfMatch = None,
    if_none_match: IfNoneMatch = None,
    allow_exclusion_overlap: AllowOverlap = False,
) -> Response:
    """Change part of a feature with a JSON merge patch; with If-Match, a stale ETag gets 412."""
    return _change(
        repository.patch,
        request,
        session,
        root,
        (target, feature_id, body),
        _options(
            target.key.actor,
            content_crs,
            if_match,
            allow_exclusion_overlap,
            settings,
            if_none_match,
        ),
    )


def _change(
    write: Callable[..., repository.Written],
    request: Request,
    session: Session,
    root: str,
    change: tuple[WriteTarget, str, bytes],
    options: repository.WriteOptions,
) -> Response:
    """PUT and PATCH (key already checked): write, commit, answer with the new feature."""
    target, feature_id, raw = change
    fid = params.parse_feature_id(feature_id)
    write(session.connection(), target.collection, fid, _json_body(raw, options), options)
    session.commit()
    return feature_response(
        request, session.connection(), target.collection, fid, served_crs(None), root
    )


@router.delete(
    "/collections/{collectionId}/items/{featureId}",
    response_model=None,
    status_code=204,
    summary="Delete a feature",
)
def delete_item(
    collection_id: CollectionId,
    feature_id: FeatureId,
    request: Request,
    session: SessionDep,
    if_match: IfMatch = None,
    if_none_match: IfNoneMatch = None,
) -> Response:
    """Delete a feature (kept in its history; an admin can restore it)."""
    reject_unknown_params(request, ())
    conn = session.connection()
    found = catalog.get_collection(session, collection_id)
    key = require_writer(request, conn, found)
    fid = params.parse_feature_id(feature_id)
    repository.delete(
        conn, found, fid, _options(key.actor, None, if_match, if_none_match=if_none_match)
    )
    session.commit()
    return Response(status_code=204)


@router.post(
    "/collections/{collectionId}/items/{featureId}/history/{historyId}/restore",
    response_model=None,
    summary="Restore a feature to a recorded version (admin)",
)
def restore_item(
    collection_id: CollectionId,
    feature_id: FeatureId,
    history_id: HistoryId,
    request: Request,
    session: SessionDep,
    root: RootUrl,
) -> Response:
    """Bring back a deleted or overwritten feature as a history entry recorded it."""
    reject_unknown_params(request, ())
    conn = session.connection()
    key = require_admin(request, conn)
    found = catalog.get_collection(session, collection_id)
    fid = params.parse_feature_id(feature_id)
    repository.restore(conn, found, fid, params.parse_history_id(history_id), actor=key.actor)
    session.commit()
    return feature_response(request, session.connection(), found, fid, served_crs(None), root)
