"""The FastAPI application factory."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import gc
import logging
import math
import os
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
from api.express import ExpressLane
from api.hot import HotReads
from api.limits import BodyLimitMiddleware, CancelOnDisconnect
from api.logs import RequestLogMiddleware
from api.replicas import WritePositionMiddleware
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
from geo.store.replicas import ReadRouter
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
        # Reads go to the primary through a pool of their own (autocommit, no ping before
        # use); with replicas configured they go to those (api/deps.py, ReadRouter) and
        # this pool is the fallback and the place of reads fresher than the replicas.
        timeout_ms = _milliseconds(settings.statement_timeout_seconds)
        primary_reads = None
        if app.state.engine is not None:
            primary_reads = make_engine(
                db_settings.resolved_url(),
                pool_size=settings.db_read_pool_size,
                for_reads=True,
                statement_timeout_ms=timeout_ms,
            )
        replica_engines = [
            make_engine(
                url,
                pool_size=settings.db_read_pool_size,
                for_reads=True,
                statement_timeout_ms=timeout_ms,
                application_name="craftmap-read",
            )
            for url in db_settings.read_urls()
        ]
        # read_engine: a replica when there is one (the first), else the primary's reads.
        app.state.read_engine = replica_engines[0] if replica_engines else primary_reads
        # (cache) The tile cache is an unlogged table a standby cannot read, and a fill
        # writes: tiles use the primary's autocommit pool whatever the read routing.
        app.state.tile_engine = primary_reads
        if replica_engines and primary_reads is not None:
            app.state.read_router = ReadRouter(
                primary_reads, replica_engines, db_settings.read_database_retry_seconds
            )
        cap_malloc_arenas(os.environ.get("MALLOC_ARENA_MAX"))
        app.state.gc_frozen = freeze_startup_heap(settings.gc_gen0_threshold)
        trimmer = (
            asyncio.create_task(trim_heap_every(settings.heap_trim_seconds, app))
            if settings.heap_trim_seconds > 0
            else None
        )
        # One line per worker with what it runs on, so an operator (and a test) can see
        # from the log that the fast loop, the frozen heap and the arena cap are in place.
        log.info(
            "worker ready",
            extra={
                "pid": os.getpid(),
                "loop": type(asyncio.get_running_loop()).__module__,
                "gc_frozen": app.state.gc_frozen,
                "malloc_arena_max": os.environ.get("MALLOC_ARENA_MAX"),
            },
        )
        yield
        if trimmer is not None:
            trimmer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await trimmer
        for engine in (app.state.engine, primary_reads, app.state.auth_engine, *replica_engines):
            if engine is not None:
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
    app.state.tile_engine = None
    app.state.read_router = None
    app.state.auth_engine = None
    app.state.read_connection_override = None
    app.state.engine_error = None
    app.state.gc_frozen = 0
    app.state.heap_trims = 0
    templates = Jinja2Templates(directory=str(TEMPLATES_DIR))
    templates.env.globals["cos_lat"] = lambda lat: math.cos(math.radians(lat))
    app.state.templates = templates
    add_exception_handlers(app, STATUS_CODES)
    # (light, issue 17) Innermost: the hottest GETs skip only FastAPI's router (api/hot.py).
    app.add_middleware(
        HotReads,
        routes=(*items_read.HOT_ROUTES, *tiles.HOT_ROUTES) if settings.hot_reads else (),
        threads=settings.hot_read_threads,
    )
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
    # (light, issue 17) Outermost of ours: the plainest hot GETs never enter the stack.
    if settings.express_reads:
        app.add_middleware(
            ExpressLane,
            pool_size=settings.express_connections,
            statement_timeout_ms=_milliseconds(settings.statement_timeout_seconds),
            vary_origin=any(o != "*" for o in settings.cors_origins),
        )
    # (replica) With read replicas, writes answer with the primary's WAL position, for
    # read-your-writes (api/replicas.py); without them it costs nothing.
    if db_settings.read_urls():
        app.add_middleware(WritePositionMiddleware)
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


def cap_malloc_arenas(value: str | None) -> None:
    """Apply ``MALLOC_ARENA_MAX`` now, for the thread pool this process starts next.

    glibc reads the variable when a process starts: ``craftmap serve`` sets it for the
    workers it spawns, but a single worker runs in the serving process itself.
    """
    if not value or not value.isdigit():
        return
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:  # not glibc: nothing to cap
        return
    m_arena_max = -8  # from glibc's malloc.h
    libc.mallopt(m_arena_max, int(value))


async def trim_heap_every(seconds: float, app: FastAPI) -> None:
    """Hand the heap's free pages back to the system every ``seconds`` (glibc only).

    A big response (a whole collection is 5 MB of JSON, built and copied by every request
    in flight) leaves its memory free but inside malloc's arenas, so the worker's RSS stays
    at its peak; ``malloc_trim`` releases it. In a thread: it locks each arena while it
    walks it (a few milliseconds), which the event loop need not wait for.
    """
    try:
        trim = ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):  # not glibc: nothing to trim
        return
    trim.argtypes = [ctypes.c_size_t]
    while True:
        await asyncio.sleep(seconds)
        await asyncio.to_thread(trim, 0)
        app.state.heap_trims += 1


def freeze_startup_heap(gen0_threshold: int) -> int:
    """Move every object alive after start-up out of the collector's sight; their count.

    A worker imports ~160,000 objects (FastAPI, SQLAlchemy, Shapely…; ~260,000 while
    pandas, GDAL and folium loaded with the app) that live as long as it does. Each full
    collection walked all of them: a request that triggered one waited 100–300 ms, the
    p99 of the light requests. Frozen objects are never scanned again.
    A higher first-generation threshold (requests allocate a few hundred short-lived
    objects each) makes the young collections rarer too.
    """
    gc.collect()
    gc.freeze()
    if gen0_threshold > 0:
        _, second, third = gc.get_threshold()
        gc.set_threshold(gen0_threshold, second, third)
    return gc.get_freeze_count()


def _milliseconds(seconds: float) -> int | None:
    """A timeout setting in PostgreSQL's unit; 0 or less means none."""
    return round(seconds * 1000) if seconds > 0 else None
