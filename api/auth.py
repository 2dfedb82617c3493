"""API keys on requests: ``Authorization: Bearer …`` or ``X-API-Key``.

Every failed authentication is logged (``craftmap.auth``: reason, key prefix, never the
secret). Failed authentications and writes are rate-limited per client address and per
key, with counters in PostgreSQL (``geo.store.ratelimit``) so that all worker processes share
them. The bookkeeping runs in short transactions of its own on ``app.state.auth_engine``:
a refused request rolls its own transaction back, and its failure must still count.

Scopes, as designed:

- too many failed authentications from an **address** refuse every key from that address
  (429) until the window ends: a right guess then looks like a wrong one;
- too many failed authentications naming one **key prefix** refuse further wrong secrets
  for it (429 instead of 401), while the key's holder, who sends the right secret, keeps
  working: anyone who learns a prefix could otherwise lock its key out;
- writes are counted per key and per address; over either limit the write is refused
  (429) before anything is written.

A request with no key at all is logged but not counted as a failed authentication: it
guesses nothing, and it is refused before any work.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Callable

from fastapi import HTTPException, Request

from api.settings import ApiSettings
from geo.kernel.errors import DatabaseUnavailable
from geo.kernel.vocab import Role
from geo.store import ratelimit
from geo.store.catalog import Collection
from geo.store.db import Connection, Engine, translate_errors
from geo.store.keys import AuthFailure, KeyInfo, check_token, touch_last_used

auth_log = logging.getLogger("craftmap.auth")

_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="craftmap"'}


def presented_token(request: Request) -> str | None:
    """The token a request carries, if any."""
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip() or None
    return request.headers.get("x-api-key") or None


def client_address(request: Request, trusted_proxies: list[str]) -> str:
    """The client's address: the socket peer, or what a trusted proxy says it forwarded for.

    X-Forwarded-For is only believed when the peer is one of ``trusted_proxies``; then the
    right-most hop that is not itself a trusted proxy is the client.
    """
    peer = request.client.host if request.client else "unknown"
    if peer not in trusted_proxies:
        return peer
    hops = [h.strip() for h in request.headers.get("x-forwarded-for", "").split(",")]
    for hop in reversed(hops):
        if hop and hop not in trusted_proxies:
            try:
                return str(ipaddress.ip_address(hop))
            except ValueError:
                return peer
    return peer


def may_write(key: KeyInfo, collection: Collection) -> bool:
    """Whether ``key``'s role may write ``collection`` (admins write all but read-only ones)."""
    if collection.read_only:
        return False
    return key.role == Role.ADMIN or key.role in collection.write_roles


def require_writer(request: Request, conn: Connection, collection: Collection) -> KeyInfo:
    """The key of the request, checked for a role that may write ``collection``.

    401 without a valid key, 403 when its role may not write this collection, 429 over a
    rate limit.
    """
    allowed = ", ".join(sorted(r.value for r in collection.write_roles))
    return _authorised(
        request,
        conn,
        why="writing needs a valid API key",
        allowed=lambda key: may_write(key, collection),
        refusal=lambda key: (
            f"{collection.id} is read-only: it is built by its importer, not written item by item"
            if collection.read_only
            else f"the role {key.role.value} may not write {collection.id} (needs {allowed})"
        ),
        writes=True,
    )


def require_planner(request: Request, conn: Connection) -> KeyInfo:
    """The key of the request, which must be a planner's or an admin's (counted as a write)."""
    return _authorised(
        request,
        conn,
        why="recording figures needs a planner or admin API key",
        allowed=lambda key: key.role in {Role.PLANNER, Role.ADMIN},
        refusal=lambda key: f"the role {key.role.value} may not record figures (needs planner)",
        writes=True,
    )


def require_tourism(request: Request, conn: Connection) -> KeyInfo:
    """The key of the request, which must be tourism staff's or an admin's (a write)."""
    return _authorised(
        request,
        conn,
        why="designing a route needs a tourism or admin API key",
        allowed=lambda key: key.role in {Role.TOURISM, Role.ADMIN},
        refusal=lambda key: f"the role {key.role.value} may not design routes (needs tourism)",
        writes=True,
    )


def require_admin(request: Request, conn: Connection) -> KeyInfo:
    """The key of the request, which must have the admin role (counted as a write)."""
    return _authorised(
        request,
        conn,
        why="this needs an admin API key",
        allowed=lambda key: key.role == Role.ADMIN,
        refusal=lambda key: f"the role {key.role.value} may not do this (needs admin)",
        writes=True,
    )


def optional_reader(request: Request, conn: Connection) -> KeyInfo | None:
    """The key of a read request that may carry one; None when it carries none.

    A key that is sent but not valid is refused (401), as on writes.
    """
    if presented_token(request) is None:
        return None
    return _authorised(
        request,
        conn,
        why="the API key is not valid",
        allowed=lambda key: True,
        refusal=lambda key: "",
        writes=False,
    )


def _authorised(
    request: Request,
    conn: Connection,
    *,
    why: str,
    allowed: Callable[[KeyInfo], bool],
    refusal: Callable[[KeyInfo], str],
    writes: bool,
) -> KeyInfo:
    settings: ApiSettings = request.app.state.settings
    address = client_address(request, settings.rate_limit_trusted_proxies)
    token = presented_token(request)
    result = check_token(conn, token)
    key = result.key
    if key is None:
        assert result.failure is not None
        _log_failure(request, address, result.failure, result.prefix)
        if result.failure != AuthFailure.NO_KEY:
            _count_failure(request, settings, address, result.prefix)
        raise HTTPException(
            401, f"{why} (Authorization: Bearer <key> or X-API-Key)", headers=_CHALLENGE
        )
    may = allowed(key)
    _count_success(request, settings, address, key, writes=writes and may)
    if not may:
        _log_failure(request, address, AuthFailure.ROLE_NOT_ALLOWED, key.prefix)
        raise HTTPException(403, refusal(key))
    return key


def _log_failure(
    request: Request, address: str, reason: AuthFailure | str, prefix: str | None
) -> None:
    auth_log.warning(
        "authentication failed",
        extra={
            "reason": str(reason),
            "key_prefix": prefix,
            "client": address,
            "method": request.method,
            "path": request.url.path,
        },
    )


def _bookkeeping_engine(request: Request) -> Engine:
    engine: Engine | None = getattr(request.app.state, "auth_engine", None) or getattr(
        request.app.state, "engine", None
    )
    if engine is None:
        raise DatabaseUnavailable("no database configured")
    return engine


def _too_many(limit_name: str, limit: int, window_s: int, retry_after_s: int) -> HTTPException:
    return HTTPException(
        429,
        f"rate limit '{limit_name}' exceeded: at most {limit} per {window_s} s; "
        f"retry after {retry_after_s} s",
        headers={"Retry-After": str(retry_after_s)},
    )


def _count_failure(
    request: Request, settings: ApiSettings, address: str, prefix: str | None
) -> None:
    """Count a failed authentication (committed at once); 429 when it is one too many."""
    limit = settings.rate_limit_failed_auth
    if limit <= 0:
        return
    buckets = {f"auth-fail:addr:{address}": "failed authentications per address"}
    if prefix is not None:
        buckets[f"auth-fail:key:{prefix}"] = "failed authentications per key prefix"
    window = settings.rate_limit_window_s
    with translate_errors(), _bookkeeping_engine(request).begin() as side:
        counts = ratelimit.count(side, buckets, window_s=window)
    over = [c for c in counts if c.hits > limit]
    if over:
        _log_failure(request, address, "rate limited", prefix)
        worst = max(over, key=lambda c: c.retry_after_s)
        raise _too_many(buckets[worst.bucket], limit, window, worst.retry_after_s)


def _count_success(
    request: Request, settings: ApiSettings, address: str, key: KeyInfo, *, writes: bool
) -> None:
    """Stamp the key's use; refuse a blocked address; count a write (one transaction)."""
    fail_limit = settings.rate_limit_failed_auth
    write_limit = settings.rate_limit_writes
    window = settings.rate_limit_window_s
    fail_bucket = f"auth-fail:addr:{address}"
    write_buckets = {
        f"write:key:{key.prefix}": "writes per key",
        f"write:addr:{address}": "writes per address",
    }
    with translate_errors(), _bookkeeping_engine(request).begin() as side:
        touch_last_used(side, key.prefix)
        seen = ratelimit.current(side, [fail_bucket], window_s=window) if fail_limit > 0 else []
        blocked = [c for c in seen if c.hits >= fail_limit]
        counts = (
            ratelimit.count(side, write_buckets, window_s=window)
            if writes and write_limit > 0 and not blocked
            else []
        )
    if blocked:
        _log_failure(request, address, "rate limited", key.prefix)
        raise _too_many(
            "failed authentications per address", fail_limit, window, blocked[0].retry_after_s
        )
    over = [c for c in counts if c.hits > write_limit]
    if over:
        worst = max(over, key=lambda c: c.retry_after_s)
        raise _too_many(write_buckets[worst.bucket], write_limit, window, worst.retry_after_s)
