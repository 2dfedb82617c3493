"""API keys on write requests: ``Authorization: Bearer …`` or ``X-API-Key``."""

from __future__ import annotations

from fastapi import HTTPException, Request
from sqlalchemy.engine import Connection

from geo.catalog import Collection
from geo.keys import KeyInfo, authenticate
from geo.vocab import Role


def presented_token(request: Request) -> str | None:
    """The token a request carries, if any."""
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip() or None
    return request.headers.get("x-api-key") or None


def require_writer(request: Request, conn: Connection, collection: Collection) -> KeyInfo:
    """The key of the request, checked for a role that may write ``collection``.

    401 without a valid key, 403 when its role may not write this collection.
    """
    key = _known_key(request, conn, "writing needs a valid API key")
    if key.role != Role.ADMIN and key.role not in collection.write_roles:
        allowed = ", ".join(sorted(r.value for r in collection.write_roles))
        raise HTTPException(
            403, f"the role {key.role.value} may not write {collection.id} (needs {allowed})"
        )
    return key


def require_admin(request: Request, conn: Connection) -> KeyInfo:
    """The key of the request, which must have the admin role."""
    token = presented_token(request)
    key = authenticate(conn, token) if token else None
    if key is None:
        raise HTTPException(
            401,
            "this needs an admin API key",
            headers={"WWW-Authenticate": 'Bearer realm="craftmap"'},
        )
    if key.role != Role.ADMIN:
        raise HTTPException(403, f"the role {key.role.value} may not do this (needs admin)")
    return key


def _known_key(request: Request, conn: Connection, why: str) -> KeyInfo:
    token = presented_token(request)
    key = authenticate(conn, token) if token else None
    if key is None:
        raise HTTPException(
            401,
            f"{why} (Authorization: Bearer <key> or X-API-Key)",
            headers={"WWW-Authenticate": 'Bearer realm="craftmap"'},
        )
    return key
