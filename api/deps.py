"""FastAPI dependencies: the database session, settings and the service's root URL."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Annotated

from fastapi import Depends, Request

from api.replicas import client_lsn
from api.settings import ApiSettings
from geo.kernel.errors import DatabaseUnavailable
from geo.store.db import Connection, Engine, Session, open_session
from geo.store.replicas import ReadRouter


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

    Reads go to a replica when replicas are configured (see `read_connection`); anything
    else goes to the primary.
    """
    reading = request.method in {"GET", "HEAD"}
    router: ReadRouter | None = request.app.state.read_router
    if reading and router is not None:
        with router.connect(client_lsn(request)) as conn, Session(bind=conn) as session:
            yield session
        return
    reader: Engine | None = request.app.state.read_engine
    chosen = reader if reader is not None and reading else engine
    with open_session(chosen) as session:
        yield session


def read_connection(request: Request) -> contextlib.AbstractContextManager[Connection]:
    """A connection for the hot read paths (items, features, tiles), opened by the route.

    Not a dependency: FastAPI runs a dependency with ``yield`` through its thread pool on
    the way in and again on the way out, which cost more than a small query. Reads go to
    the replicas when configured: round-robin over those up, the primary when none is, or
    when the client's last write (its ``craftmap-lsn``) is not replayed there yet. Tests
    hand in their own connection through ``app.state.read_connection_override``.
    """
    override: Callable[[], Connection] | None = request.app.state.read_connection_override
    if override is not None:
        return contextlib.nullcontext(override())
    router: ReadRouter | None = request.app.state.read_router
    if router is not None:
        return router.connect(client_lsn(request))
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
