"""API keys: random tokens shown once; only a SHA-256 hash and a lookup prefix are stored.

The tokens carry 256 bits of randomness, so a plain SHA-256 (not a slow password hash)
is enough to make a leaked table useless, and keeps checking a key cheap.
"""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from geo.kernel.errors import InvalidInput, NotFound
from geo.kernel.vocab import Role
from geo.store import models

TOKEN_PREFIX = "cm"
_KEYS = models.table_of(models.ApiKey)
# A key's lookup prefix: 8 hex digits (secrets.token_hex(4)).
_PREFIX = re.compile(r"[0-9a-f]{8}")
# token_urlsafe(32) gives 43 characters; anything far longer is not a craftmap secret.
_SECRET = re.compile(r"[A-Za-z0-9_-]{1,128}")
# Stamping last use at most once a minute keeps it to one cheap no-op UPDATE per request.
_LAST_USED_EVERY = dt.timedelta(minutes=1)


@dataclass(frozen=True)
class KeyInfo:
    """What is known of a key without its secret."""

    prefix: str
    name: str
    role: Role
    revoked: bool
    last_used_at: dt.datetime | None = None

    @property
    def actor(self) -> str:
        """How writes made with this key are named in the history."""
        return f"key:{self.prefix}:{self.name}"


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_key(conn: Connection, *, name: str, role: str) -> tuple[str, KeyInfo]:
    """Create a key; return the token (shown once, never stored) and its info."""
    try:
        chosen = Role(role)
    except ValueError as exc:
        raise InvalidInput(f"role must be one of {', '.join(r.value for r in Role)}") from exc
    if not name.strip():
        raise InvalidInput("a key needs a name (who or what uses it)")
    prefix = secrets.token_hex(4)
    token = f"{TOKEN_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"
    conn.execute(
        sa.insert(_KEYS).values(
            prefix=prefix, key_hash=_hash(token), name=name.strip(), role=chosen
        )
    )
    return token, KeyInfo(prefix, name.strip(), chosen, False)


class AuthFailure(enum.StrEnum):
    """Why a request was not authenticated (logged; the client only sees 401 or 403)."""

    NO_KEY = "no key"
    MALFORMED = "malformed"
    UNKNOWN_PREFIX = "unknown prefix"
    WRONG_SECRET = "wrong secret"
    REVOKED = "revoked"
    ROLE_NOT_ALLOWED = "role not allowed"


@dataclass(frozen=True)
class AuthResult:
    """The outcome of checking a token: the key, or why not, and the prefix it named."""

    key: KeyInfo | None
    failure: AuthFailure | None
    prefix: str | None


def token_prefix(token: str) -> str | None:
    """The lookup prefix of a well-formed craftmap token, else None."""
    parts = token.strip().split("_", 2)
    if len(parts) != 3 or parts[0] != TOKEN_PREFIX:
        return None
    if not _PREFIX.fullmatch(parts[1]) or not _SECRET.fullmatch(parts[2]):
        return None
    return parts[1]


def check_token(conn: Connection, token: str | None) -> AuthResult:
    """Check a presented token; say which key it is, or why it is refused."""
    if not token:
        return AuthResult(None, AuthFailure.NO_KEY, None)
    prefix = token_prefix(token)
    if prefix is None:
        return AuthResult(None, AuthFailure.MALFORMED, None)
    row = conn.execute(sa.select(_KEYS).where(_KEYS.c.prefix == prefix)).first()
    if row is None:
        return AuthResult(None, AuthFailure.UNKNOWN_PREFIX, prefix)
    if not hmac.compare_digest(row.key_hash, _hash(token.strip())):
        return AuthResult(None, AuthFailure.WRONG_SECRET, prefix)
    if row.revoked_at is not None:
        return AuthResult(None, AuthFailure.REVOKED, prefix)
    return AuthResult(KeyInfo(row.prefix, row.name, Role(row.role), False), None, prefix)


def touch_last_used(conn: Connection, prefix: str) -> None:
    """Stamp a key's last use, unless it was stamped less than a minute ago."""
    conn.execute(
        sa.update(_KEYS)
        .where(
            _KEYS.c.prefix == prefix,
            sa.or_(
                _KEYS.c.last_used_at.is_(None),
                _KEYS.c.last_used_at < sa.func.now() - _LAST_USED_EVERY,
            ),
        )
        .values(last_used_at=sa.func.now())
    )


def list_keys(conn: Connection) -> list[KeyInfo]:
    """Every key, newest first."""
    rows = conn.execute(sa.select(_KEYS).order_by(_KEYS.c.id.desc())).all()
    return [
        KeyInfo(r.prefix, r.name, Role(r.role), r.revoked_at is not None, r.last_used_at)
        for r in rows
    ]


def revoke_key(conn: Connection, prefix: str) -> None:
    """Revoke a key by its prefix; it stops working at once."""
    done = conn.execute(
        sa.update(_KEYS)
        .where(_KEYS.c.prefix == prefix, _KEYS.c.revoked_at.is_(None))
        .values(revoked_at=sa.func.now())
    )
    if done.rowcount == 0:
        raise NotFound(f"no active key with prefix {prefix!r}")
