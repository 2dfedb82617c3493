"""FastAPI dependencies: the database session, settings and the service's root URL."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Annotated

from fastapi import Depends, Request

from api.settings import ApiSettings
from geo.kernel.errors import DatabaseUnavailable
from geo.store.db import Connection, Engine, Session, open_session


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
    reader: Engine | None = request.app.state.read_engine
    chosen = reader if reader is not None and request.method in {"GET", "HEAD"} else engine
    with open_session(chosen) as session:
        yield session


def read_connection(request: Request) -> contextlib.AbstractContextManager[Connection]:
    """A connection for the hot read paths (items, features, tiles), opened by the route.

    Not a dependency: FastAPI runs a dependency with ``yield`` through its thread pool on
    the way in and again on the way out, which cost more than a small query. Reads go to
    the replica when one is configured. Tests hand in their own connection through
    ``app.state.read_connection_override``.
    """
    override: Callable[[], Connection] | None = request.app.state.read_connection_override
    if override is not None:
        return contextlib.nullcontext(override())
    reader: Engine | None = request.app.state.read_engine
    return (reader or get_engine(request)).connect()


def get_settings(request: Request) -> ApiSettings:
    """The settings the app was built with."""
    settings: ApiSettings = request.app.state.settings
    return settings


SessionDep = Annotated[Session, Depends(get_session)]
SettingsDep = Annotated[ApiSettings, Depends(get_settings)]


async def root_url(request: Request) -> str:
    """The service's root URL as clients should see it (``public_url`` when set).

    ``async``: FastAPI runs it on the event loop, not through its thread pool, so the hot
    read routes pay no thread hop for it.
    """
    settings: ApiSettings = request.app.state.settings
    return (settings.public_url or str(request.base_url)).rstrip("/")


RootUrl = Annotated[str, Depends(root_url)]
