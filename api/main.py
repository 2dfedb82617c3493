"""The FastAPI application factory."""

from __future__ import annotations

import logging
import math
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from api.cors import CorsMiddleware
from api.errors import STATUS_CODES, add_exception_handlers
from api.etags import ConditionalMiddleware
from api.limits import BodyLimitMiddleware, CancelOnDisconnect
from api.logs import RequestLogMiddleware
from api.routers import (
    analysis,
    analysis_checks,
    analysis_coverage,
    analysis_siting,
    apidoc,
    figures,
    imports,
    indicators,
    items_read,
    items_write,
    maps,
    maps_analysis,
    ogc,
    package,
    report,
    route_corridor,
    route_design,
    route_handouts,
    system,
    tiles,
    village_stats,
)
from api.security import SecurityHeadersMiddleware
from api.settings import ApiSettings
from geo.kernel.errors import GeoError
from geo.store.db import make_engine
from maps import assets as map_assets
from ops.settings import DatabaseSettings

log = logging.getLogger("craftmap.app")

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"


def create_app(
    settings: ApiSettings | None = None, db_settings: DatabaseSettings | None = None
) -> FastAPI:
    """Build the app; settings default to the environment (``CRAFTMAP_*``, ``DATABASE_URL``)."""
    settings = settings or ApiSettings()
    db_settings = db_settings or DatabaseSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # The engine connects lazily: the app starts (and /health answers) even while the
        # database is down, and /ready reports it.
        try:
            app.state.engine = make_engine(
                db_settings.resolved_url(),
                pool_size=settings.db_pool_size,
                statement_timeout_ms=_milliseconds(settings.statement_timeout_seconds),
            )
        except GeoError as exc:
            app.state.engine_error = str(exc)
            log.error("no database: %s", exc)
        # (keys) Rate-limit and last-use bookkeeping commits on a pool of its own, so a
        # write holding a connection never waits on the pool it holds. Its statements give
        # up on a lock quickly: the request's own transaction holds a lock on api_key
        # while this one waits, and a waiting ALTER (a migration, an ownership hand-over)
        # between the two is a deadlock PostgreSQL cannot see, since one side waits in
        # Python. Without a timeout it never ended.
        if app.state.engine is not None:
            app.state.auth_engine = make_engine(
                db_settings.resolved_url(),
                pool_size=settings.auth_pool_size,
                statement_timeout_ms=_milliseconds(settings.statement_timeout_seconds),
                lock_timeout_ms=_milliseconds(settings.bookkeeping_lock_timeout_seconds),
            )
        # Reads go to the replica when one is configured, else to the primary through a
        # pool of their own (autocommit, no ping before use).
        read_url = db_settings.read_database_url or (
            None if app.state.engine is None else db_settings.resolved_url()
        )
        if read_url is not None:
            app.state.read_engine = make_engine(
                read_url,
                pool_size=settings.db_read_pool_size,
                for_reads=True,
                statement_timeout_ms=_milliseconds(settings.statement_timeout_seconds),
            )
        # (cache) Tile-cache lookups and fills go to the primary: the cache is an unlogged
        # table (a hot standby cannot read it) and a fill writes. Without a replica this is
        # the read pool itself.
        app.state.tile_engine = app.state.read_engine
        if db_settings.read_database_url and app.state.engine is not None:
            app.state.tile_engine = make_engine(
                db_settings.resolved_url(),
                pool_size=settings.db_read_pool_size,
                for_reads=True,
                statement_timeout_ms=_milliseconds(settings.statement_timeout_seconds),
            )
        yield
        engines = (
            app.state.engine,
            app.state.read_engine,
            app.state.auth_engine,
            app.state.tile_engine,
        )
        for engine in {id(e): e for e in engines if e is not None}.values():
            engine.dispose()

    app = FastAPI(
        title=settings.title,
        version="0.1.0",
        description="Craft villages, raw-material zones and tourism routes of Vietnam.",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        # /api serves the OpenAPI 3.0 document the OGC standard asks for.
        openapi_url=None,
    )
    app.state.settings = settings
    app.state.engine = None
    app.state.read_engine = None
    app.state.auth_engine = None
    app.state.tile_engine = None
    app.state.read_connection_override = None
    app.state.engine_error = None
    templates = Jinja2Templates(directory=str(TEMPLATES_DIR))
    templates.env.globals["cos_lat"] = lambda lat: math.cos(math.radians(lat))
    app.state.templates = templates
    add_exception_handlers(app, STATUS_CODES)
    # Middleware added last runs first: the log sees the compressed response's status.
    # (limits) Queries of a client that left are cancelled; bodies over the cap get 413.
    app.add_middleware(CancelOnDisconnect)
    app.add_middleware(
        BodyLimitMiddleware,
        max_bytes=settings.max_body_bytes,
        path_limits={"/imports": settings.import_max_bytes},
    )
    app.add_middleware(GZipMiddleware, minimum_size=1024)
    # (http) Outside GZip: a compressed body gets its own ETag, a matching If-None-Match a
    # 304, and Vary its names (api/etags.py). Inside CORS, which runs HEAD as GET.
    app.add_middleware(ConditionalMiddleware)
    # CORS outside the body cap, so its 413s (and every error) carry the CORS headers.
    app.add_middleware(CorsMiddleware, origins=settings.cors_origins)
    app.add_middleware(SecurityHeadersMiddleware, basemap_url=settings.basemap_url)
    app.add_middleware(RequestLogMiddleware)
    app.include_router(ogc.router)
    app.include_router(items_read.router)
    app.include_router(items_write.router)
    app.include_router(tiles.router)
    app.include_router(apidoc.router)
    app.include_router(system.router)
    app.include_router(maps.router)
    app.include_router(maps_analysis.router)
    app.include_router(package.router)
    app.include_router(route_handouts.router)
    app.include_router(imports.router)
    app.include_router(analysis_checks.router)
    app.include_router(figures.router)
    app.include_router(village_stats.router)
    app.include_router(analysis.router)
    app.include_router(analysis_coverage.router)
    app.include_router(analysis_siting.router)
    app.include_router(route_corridor.router)
    app.include_router(route_design.router)
    app.include_router(indicators.router)
    app.include_router(report.router)
    # Leaflet and its plugins, fetched from npm by `craftmap map assets` (maps/assets.py).
    assets_dir = settings.map_assets_dir
    assets_dir.mkdir(parents=True, exist_ok=True)
    app.mount(map_assets.URL_PREFIX, StaticFiles(directory=assets_dir), name="vendor")
    return app


def _milliseconds(seconds: float) -> int | None:
    """A timeout setting in PostgreSQL's unit; 0 or less means none."""
    return round(seconds * 1000) if seconds > 0 else None
