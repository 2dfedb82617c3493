"""API keys: random tokens shown once; only a SHA-256 hash and a lookup prefix are stored.

The tokens carry 256 bits of randomness, so a plain SHA-256 (not a slow password hash)
is enough to make a leaked table useless, and keeps checking a key cheap.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from geo import models
from geo.errors import InvalidInput, NotFound
from geo.vocab import Role

TOKEN_PREFIX = "cm"
_KEYS = models.table_of(models.ApiKey)


@dataclass(frozen=True)
class KeyInfo:
    """What is known of a key without its secret."""

    prefix: str
    name: str
    role: Role
    revoked: bool

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


def authenticate(conn: Connection, token: str) -> KeyInfo | None:
    """The key a token belongs to, or None for an unknown, malformed or revoked token."""
    parts = token.strip().split("_", 2)
    if len(parts) != 3 or parts[0] != TOKEN_PREFIX:
        return None
    row = conn.execute(sa.select(_KEYS).where(_KEYS.c.prefix == parts[1])).first()
    if row is None or row.revoked_at is not None:
        return None
    if not hmac.compare_digest(row.key_hash, _hash(token.strip())):
        return None
    return KeyInfo(row.prefix, row.name, Role(row.role), False)


def list_keys(conn: Connection) -> list[KeyInfo]:
    """Every key, newest first."""
    rows = conn.execute(sa.select(_KEYS).order_by(_KEYS.c.id.desc())).all()
    return [KeyInfo(r.prefix, r.name, Role(r.role), r.revoked_at is not None) for r in rows]


def revoke_key(conn: Connection, prefix: str) -> None:
    """Revoke a key by its prefix; it stops working at once."""
    done = conn.execute(
        sa.update(_KEYS)
        .where(_KEYS.c.prefix == prefix, _KEYS.c.revoked_at.is_(None))
        .values(revoked_at=sa.func.now())
    )
    if done.rowcount == 0:
        raise NotFound(f"no active key with prefix {prefix!r}")
