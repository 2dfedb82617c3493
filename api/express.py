"""(light, issue 17) The express lane: the plainest hot GETs answered without the stack.

A single feature costs PostgreSQL about 0.1 ms; the full stack spent 1.7 ms of Python on
it (measured on the 2-core bench machine): seven middleware layers wrapping ``send``,
Starlette's ``Request``, a thread hop, and SQLAlchemy building and executing a statement
(0.33 ms against 0.06 ms for the same prepared statement through psycopg). This lane sits
outermost and answers, with psycopg connections of its own and statements prepared once
per shape, exactly the requests whose answer it can write byte for byte as
the full stack would:

- ``GET /collections/{core collection}/items/{id}`` with no query string;
- ``GET /collections/{core collection}/items`` with only ``limit`` (up to one fetch),
  ``offset`` and a CRS84 ``bbox``;
- ``GET /collections/{core collection}/tiles/WebMercatorQuad/{z}/{y}/{x}`` with no query
  string: a tile cache hit, or built where the cache does not keep the zoom (a miss is
  the full stack's, which fills the cache under its locks);

sent with no header but ``Host``, ``User-Agent``, ``Accept`` (absent, ``*/*`` or JSON),
``Accept-Encoding``, ``Connection`` and ``X-Request-Id``. Anything else (an ``Origin``, a
cookie, a key, ``If-None-Match``, ``Accept-Language``, another parameter, an error, a
missing feature, replicas configured, a database that does not answer) goes to the full
stack untouched, which answers it as before: nothing has been sent by then, and a GET can
be asked twice. ``tests/api/test_express.py`` compares every answer of the lane with the
full stack's, header by header and byte by byte.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
import zlib
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from api import documents, params
from api.deps import root_url
from api.logs import log_request, request_id_of
from api.negotiation import GEOJSON, MVT
from api.routers.tiles import CACHE_CONTROL
from api.security import ALWAYS_HEADERS, NOT_HTML_POLICY
from geo.kernel.crs import CRS84
from geo.query import features, prepared, tile_cache, tiles
from geo.store import catalog
from geo.store.db import Engine

log = logging.getLogger("craftmap.express")

# The headers a plain client sends; any other one may change the answer (CORS, a key, a
# cookie for read-your-writes, a conditional request, the language): the full stack's.
_PLAIN_HEADERS = frozenset(
    {b"host", b"user-agent", b"accept", b"accept-encoding", b"connection", b"x-request-id"}
)
_JSON_ACCEPT = frozenset({"*/*", "application/json", "application/geo+json"})
_PAGE_PARAMS = frozenset({"limit", "offset", "bbox"})
# What GZipMiddleware(minimum_size=1024) and its compresslevel 9 do (api/main.py).
_GZIP_MINIMUM = 1024
_GZIP_LEVEL = 9
# GZip names Accept-Encoding first on the bodies it could compress, the conditional layer
# last on the others (api/etags.py): the same names, in the order the full stack sends them.
_VARY_COMPRESSIBLE = b"Accept-Encoding, Accept, Accept-Language"
_VARY_SMALL = b"Accept, Accept-Language, Accept-Encoding"
_COMMON_HEADERS = (
    *ALWAYS_HEADERS,
    (b"content-security-policy", NOT_HTML_POLICY.encode()),
)
_CONTENT_CRS = (b"content-crs", f"<{CRS84.uri}>".encode())
_CACHE_CONTROL = (b"cache-control", CACHE_CONTROL.encode())
# After a failure to reach the database the lane stands aside this long: the full stack
# answers (503 during an outage) without each request first waiting on the lane's connect.
_BACK_OFF_SECONDS = 5.0
Answer = tuple[int, list[tuple[bytes, bytes]], bytes]


class _Declined(Exception):
    """The lane cannot answer this request as the full stack would: pass it on."""


class _Connections:
    """Database connections of the lane's own: async ones on the loop, and a few threads.

    A feature or a tile comes back in one socket read: async psycopg on the loop answers
    it without a thread hop (threads made the tail of these requests longer: p99 6-8× p50
    against 2-5×, measured). A page of 70 KB arrives in many reads, and each woke the loop
    (558 against 254 µs of CPU per page, measured alone): pages run on threads, where
    psycopg's C wait loop reads them all with the GIL released.
    """

    def __init__(self, conninfo: str, size: int, options: str) -> None:
        self.conninfo = conninfo
        self.options = options
        self.idle: list[Any] = []
        self.slots = asyncio.Semaphore(size)
        self.executor = ThreadPoolExecutor(size, thread_name_prefix="express")
        self.local = threading.local()

    async def fetch(
        self,
        sql: str,
        values: Sequence[Any] | Mapping[str, Any],
        *,
        binary: bool = False,
        large: bool = False,
    ) -> list[Any]:
        """The rows of ``sql`` with ``values``: on a thread when the answer is ``large``."""
        if large:
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self.executor, self._fetch, sql, values, binary)
        async with self.slots:
            conn = self.idle.pop() if self.idle else None
            if conn is None or conn.closed:
                conn = await self._connect_async()
            try:
                cursor = conn.cursor(binary=binary)
                await cursor.execute(sql, values)
                rows: list[Any] = await cursor.fetchall()
            except BaseException:
                # A connection that failed once is not trusted again: the next use opens one.
                with contextlib.suppress(Exception):
                    await conn.close()
                raise
            self.idle.append(conn)
            return rows

    def _fetch(self, sql: str, values: Any, binary: bool) -> list[Any]:
        conn = getattr(self.local, "conn", None)
        if conn is None or conn.closed:
            conn = self.local.conn = self._connect()
        try:
            with conn.cursor(binary=binary) as cursor:
                cursor.execute(sql, values)
                rows: list[Any] = cursor.fetchall()
                return rows
        except BaseException:
            self.local.conn = None
            with contextlib.suppress(Exception):
                conn.close()
            raise

    def _arguments(self) -> dict[str, Any]:
        return {
            "autocommit": True,
            "connect_timeout": 2,
            "application_name": "craftmap-express",
            "options": self.options,
            # Prepared at the first use: every statement here repeats.
            "prepare_threshold": 0,
        }

    def _connect(self) -> Any:
        import psycopg

        conn = psycopg.connect(self.conninfo, **self._arguments())
        conn.adapters.register_loader("text", features.Utf8Bytes)
        return conn

    async def _connect_async(self) -> Any:
        import psycopg

        conn = await psycopg.AsyncConnection.connect(self.conninfo, **self._arguments())
        conn.adapters.register_loader("text", features.Utf8Bytes)
        return conn


class ExpressLane:
    """Answer the plainest hot GETs without the stack; hand every other request to it."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        pool_size: int = 4,
        statement_timeout_ms: int | None = None,
        vary_origin: bool = False,
    ) -> None:
        self.app = app
        self.pool_size = pool_size
        # The read engine's session setting (geo.store.db.make_engine), on these connections.
        timeout = statement_timeout_ms
        self.options = f"-c statement_timeout={timeout}" if timeout else ""
        self.pools: dict[int, _Connections] = {}
        self.statements: dict[tuple[str, ...], prepared.Compiled] = {}
        self.standing_aside_until = 0.0
        self.vary_origin = vary_origin
        self.geojson_vary = (
            _with_origin(_VARY_COMPRESSIBLE, vary_origin),
            _with_origin(_VARY_SMALL, vary_origin),
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer ``scope`` here when it is plain enough; otherwise run the app."""
        if (
            scope["type"] != "http"
            or scope["method"] != "GET"
            or scope.get("root_path")
            or not scope["path"].startswith("/collections/")
            or time.monotonic() < self.standing_aside_until
        ):
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        try:
            answer = await self._answer(scope)
        except _Declined:
            answer = None
        except Exception as exc:  # the database: the full stack knows what to answer
            log.warning("express lane stands aside for %g s: %s", _BACK_OFF_SECONDS, exc)
            self.standing_aside_until = time.monotonic() + _BACK_OFF_SECONDS
            answer = None
        if answer is None:
            await self.app(scope, receive, send)
            return
        status, headers, body = answer
        request_id = request_id_of(scope)
        headers.append((b"x-request-id", request_id.encode()))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
        log_request(scope, request_id, status, started, lane="express")

    async def _answer(self, scope: Scope) -> Answer:
        state = scope["app"].state
        engine: Engine | None = state.read_engine
        if engine is None or state.read_router is not None or state.read_connection_override:
            raise _Declined  # replicas (read-your-writes) and tests' rolled-back connections
        gzipped = _plain_headers(scope)
        # "", "collections", id, "items"[, featureId] or …, "tiles", "WebMercatorQuad", z, y, x
        parts = scope["path"].split("/")
        collection = catalog.BY_ID.get(parts[2])
        if collection is None:
            raise _Declined
        if len(parts) == 8 and parts[3:5] == ["tiles", "WebMercatorQuad"]:
            return await self._tile(scope, collection, parts[5:], gzipped)
        if len(parts) not in (4, 5) or parts[3] != "items":
            raise _Declined
        if len(parts) == 5:
            return await self._item(scope, engine, collection, parts[4], gzipped)
        return await self._page(scope, engine, collection, gzipped)

    async def _tile(
        self, scope: Scope, collection: catalog.Collection, address: list[str], gzipped: bool
    ) -> Answer:
        """A tile from the tile cache (a miss goes to the full stack, which fills it), or
        built when the cache does not keep its zoom."""
        state = scope["app"].state
        settings = state.settings
        if scope.get("query_string"):
            raise _Declined
        try:
            tile = params.parse_tile(*address)
        except Exception as exc:  # the full stack's 404 problem
            raise _Declined from exc
        cap = settings.tile_max_features
        if settings.tile_cache_enabled and tile.z <= settings.tile_cache_max_zoom:
            engine: Engine | None = state.tile_engine
            if engine is None:
                raise _Declined
            key = tile_cache.variant([collection], None, cap)
            rows = await self._pool(engine).fetch(
                tile_cache.LOOKUP, (key.key, tile.z, tile.x, tile.y), binary=True
            )
            if not rows:
                raise _Declined
            row = rows[0]
            data, etag = bytes(row[0]), str(row[1])
        else:
            low_zoom = tile.z if tile.z <= tiles.GENERALISED_MAX_ZOOM else None
            statement = self._statement(
                ("tile", collection.id, str(low_zoom), str(cap)),
                lambda: tiles.tile_statement([collection], tile, None, cap),
                sentinels=False,
            )
            (row,) = await self._pool(state.read_engine).fetch(
                statement.text, statement.values(tiles.tile_values(tile)), binary=True
            )
            data = bytes(row[0] or b"")
            etag = f'"{row[1]}"' if data else ""
        vary = _with_origin(b"Accept-Encoding", self.vary_origin)
        if not data:
            return 204, [_CACHE_CONTROL, (b"vary", vary), *_COMMON_HEADERS], b""
        return _response(_CACHE_CONTROL, MVT, data, gzipped, etag, (vary, vary))

    async def _item(
        self,
        scope: Scope,
        engine: Engine,
        collection: catalog.Collection,
        raw_id: str,
        gzipped: bool,
    ) -> Answer:
        feature_id = params.whole_number(raw_id, 2**31 - 1)
        if scope.get("query_string") or not feature_id:
            raise _Declined
        statement = self._statement(
            ("item", collection.id),
            lambda: prepared.sentinel_item(collection),
        )
        rows = await self._pool(engine).fetch(statement.text, statement.values({"id": feature_id}))
        if not rows:
            raise _Declined  # the full stack's 404 problem
        text, version = rows[0]
        links = documents.feature_links(await root_url(Request(scope)), collection.id, feature_id)
        body = documents.feature_document(text.decode(), links).encode()
        return _response(_CONTENT_CRS, GEOJSON, body, gzipped, f'"v{version}"', self.geojson_vary)

    async def _page(
        self, scope: Scope, engine: Engine, collection: catalog.Collection, gzipped: bool
    ) -> Answer:
        # The query string as Starlette reads it, for the page's links as the stack writes them.
        given = parse_qsl(scope["query_string"].decode("latin-1"), keep_blank_values=True)
        asked = dict(given)
        if not asked.keys() <= _PAGE_PARAMS or len(asked) != len(given):
            raise _Declined
        try:
            # Only these three parameters: params.items_query would give the same query.
            query = features.ItemsQuery(
                limit=params.parse_limit(asked.get("limit")),
                offset=params.parse_offset(asked.get("offset")),
                bbox=params.parse_bbox(asked.get("bbox"), CRS84),
                bbox_crs=CRS84,
                crs=CRS84,
            )
        except Exception as exc:  # a 400: the full stack writes the problem
            raise _Declined from exc
        limit = query.limit
        if limit is None or limit > features.FETCH_AT_ONCE:
            raise _Declined  # streamed by the stack
        shape = ("page", collection.id, str(query.bbox is not None), str(query.offset > 0))
        statement = self._statement(shape, lambda: prepared.sentinel_page(collection, query))
        box = query.bbox or (0.0, 0.0, 0.0, 0.0)
        given_values = {
            "x0": box[0],
            "y0": box[1],
            "x1": box[2],
            "y1": box[3],
            "limit+1": limit + 1,
            "offset": query.offset,
        }
        rows = await self._pool(engine).fetch(
            statement.text, statement.values(given_values), large=True
        )
        if not rows and query.offset:
            raise _Declined  # an empty page past the end counts its matches: the full stack
        result = features.PageResult()
        batch = features.take_rows(rows, limit, result)
        request = Request(scope)
        collection_url = f"{await root_url(request)}/collections/{collection.id}"
        here = str(request.url).partition("?")[0]
        chunks = documents.feature_collection(
            iter([batch]),
            result,
            lambda result: documents.page_links(
                here, given, query, result.has_more, collection_url
            ),
            count_if_empty=lambda: 0,
        )
        return _response(_CONTENT_CRS, GEOJSON, b"".join(chunks), gzipped, None, self.geojson_vary)

    def _statement(
        self, shape: tuple[str, ...], build: Any, *, sentinels: bool = True
    ) -> prepared.Compiled:
        found = self.statements.get(shape)
        if found is None:
            found = self.statements[shape] = prepared.compile_statement(
                build(), sentinels=sentinels
            )
        return found

    def _pool(self, engine: Engine) -> _Connections:
        # By the engine itself: the app keeps its engines for its lifetime.
        pool = self.pools.get(id(engine))
        if pool is None:
            url = engine.url.set(drivername="postgresql")
            conninfo = url.render_as_string(hide_password=False)
            pool = self.pools[id(engine)] = _Connections(conninfo, self.pool_size, self.options)
        return pool


def _plain_headers(scope: Scope) -> bool:
    """Whether the client takes gzip; raises _Declined for a header the lane cannot honour."""
    gzipped = False
    for name, value in scope["headers"]:
        if name not in _PLAIN_HEADERS:
            raise _Declined
        if name == b"accept":
            kinds = {part.split(b";")[0].strip().decode("latin-1") for part in value.split(b",")}
            if not kinds <= _JSON_ACCEPT:
                raise _Declined
        elif name == b"accept-encoding":
            gzipped = b"gzip" in value
    return gzipped


def _gzip(body: bytes) -> bytes:
    # As GZipMiddleware compresses (zlib's gzip wrapper, no time stamp): the same bytes, so
    # the same Content-Length as a HEAD of the full stack gives.
    compressor = zlib.compressobj(_GZIP_LEVEL, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    return compressor.compress(body) + compressor.flush()


def _with_origin(vary: bytes, origin: bool) -> bytes:
    # CORS with listed origins names Origin on every answer (api/cors.py), asked or not.
    return vary + b", Origin" if origin else vary


def _response(
    lead: tuple[bytes, bytes],
    media_type: str,
    body: bytes,
    gzipped: bool,
    etag: str | None,
    vary: tuple[bytes, bytes],
) -> Answer:
    """A 200 with the headers, in their order, that the full stack's layers write.

    ``lead`` is the route's own first header; ``vary`` the Vary of a body GZip could
    compress and of a smaller one (the layers name the same headers in another order).
    """
    compressible = len(body) >= _GZIP_MINIMUM
    encoding = []
    if gzipped and compressible:
        body = _gzip(body)
        encoding = [(b"content-encoding", b"gzip")]
        if etag is not None:
            etag = etag[:-1] + '-gzip"'
    return (
        200,
        [
            lead,
            (b"content-length", str(len(body)).encode()),
            (b"content-type", media_type.encode()),
            *encoding,
            *([(b"etag", etag.encode())] if etag is not None else []),
            (b"vary", vary[0] if compressible else vary[1]),
            *_COMMON_HEADERS,
        ],
        body,
    )
