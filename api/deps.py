"""FastAPI dependencies: the database session and settings."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from api.settings import ApiSettings
from geo.errors import DatabaseUnavailable


def get_engine(request: Request) -> Engine:
    """The app's engine (created in the lifespan)."""
    engine: Engine | None = request.app.state.engine
    if engine is None:
        raise DatabaseUnavailable(request.app.state.engine_error or "no database configured")
    return engine


def get_session(
    request: Request, engine: Annotated[Engine, Depends(get_engine)]
) -> Iterator[Session]:
    """A session per request; routes that write call ``commit`` themselves.

    Reads go to the replica when one is configured; anything else goes to the primary.
    """
    replica: Engine | None = request.app.state.read_engine
    chosen = replica if replica is not None and request.method in {"GET", "HEAD"} else engine
    with Session(chosen) as session:
        yield session


def get_settings(request: Request) -> ApiSettings:
    """The settings the app was built with."""
    settings: ApiSettings = request.app.state.settings
    return settings


EngineDep = Annotated[Engine, Depends(get_engine)]
SessionDep = Annotated[Session, Depends(get_session)]
SettingsDep = Annotated[ApiSettings, Depends(get_settings)]
