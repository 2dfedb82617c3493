"""API keys for the write tests (created inside the rolled-back test transaction)."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from geo.store.keys import create_key
from tests.factories import path_ids
from tests.routes import PATH_VALUES


@pytest.fixture
def keys(session: Session) -> dict[str, str]:
    """A token per role: viewer, planner, tourism, admin."""
    conn = session.connection()
    return {
        role: create_key(conn, name=f"test {role}", role=role)[0]
        for role in ("viewer", "planner", "tourism", "admin")
    }


def bearer(token: str) -> dict[str, str]:
    """Authorization header for a token."""
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def sample(session: Session) -> dict[str, str]:
    """A value for every path parameter; the ids name features made for the test."""
    return {**PATH_VALUES, **path_ids(session)}
