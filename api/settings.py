"""HTTP-side settings (the database settings live in ``ops.settings``)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from geo.cql2 import MAX_FILTER_LENGTH

_ORIGIN = re.compile(r"^https?://[^/\s?#]+$")
# The checkout the code runs from; an installed app (the image) sets its own folders.
_CHECKOUT = Path(__file__).resolve().parents[1]


class ApiSettings(BaseSettings):
    """Settings of the web app, read from ``CRAFTMAP_*`` environment variables."""

    model_config = SettingsConfigDict(env_prefix="CRAFTMAP_", env_file=".env", extra="ignore")

    title: str = "craftmap"
    public_url: str | None = None
    # Basemap for the map pages; "none" works offline.
    basemap_url: str = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
    basemap_attribution: str = "© OpenStreetMap contributors"
    db_pool_size: int = 5
    # Where `craftmap map assets` unpacks Leaflet and its plugins, and the app serves them.
    map_assets_dir: Path = _CHECKOUT / ".craftmap" / "vendor"
    # Above this many material zones the maps draw them from the vector tiles.
    map_embed_limit: int = 5_000
    # Per worker; FastAPI runs up to 40 requests at once in its thread pool.
    db_read_pool_size: int = 20
    # (light, issue 17) Allocations between young collections once start-up is frozen
    # (Python's default is 700); 0 keeps Python's.
    gc_gen0_threshold: int = 7_000
    # (memory, issue 17) Every so many seconds a worker hands the free memory of its heap
    # back to the system (glibc's malloc_trim): a whole-collection page left 50-90 MB per
    # worker behind, free but kept. 0 never does.
    heap_trim_seconds: float = 10.0
    # The items pages and single features skip FastAPI's router (api/hot.py); false routes
    # them through it like every other request (to compare, or to rule it out).
    hot_reads: bool = True
    # Threads of their own for those reads, per worker; 0 runs them in the shared pool.
    hot_read_threads: int = 8
    # (light, issue 17) The plainest of those GETs are answered end to end by api/express.py
    # on connections of its own (this many per worker); false sends them down the stack.
    express_reads: bool = True
    express_connections: int = 4

    # -- keys (issue 9, point 7): rate limits, counted in PostgreSQL across workers --------
    # Per window and per key / per client address; 0 turns a limit off.
    rate_limit_writes: int = 120
    # Failed authentications per window, per client address and per key prefix.
    rate_limit_failed_auth: int = 10
    rate_limit_window_s: int = Field(default=60, ge=1, le=86_400)
    # Proxies whose X-Forwarded-For is believed (JSON list of addresses); none by default.
    rate_limit_trusted_proxies: list[str] = []
    # Connections per worker for the rate-limit and last-use bookkeeping (short transactions).
    auth_pool_size: int = 2
    # The bookkeeping waits at most this long for a lock, then the request is a 503.
    bookkeeping_lock_timeout_seconds: float = 2
    # -- (limits) request sizes, statement timeouts, database outages (issue 9) --------------
    # Largest request body; a larger Content-Length is refused at once, a chunked body as
    # soon as it passes the cap (413).
    max_body_bytes: int = 10_000_000
    # Longest string in a written property, unless its schema sets a lower maxLength.
    max_string_chars: int = 10_000
    # Most vertices (positions, all parts and rings) in one written geometry.
    max_vertices: int = 100_000
    # Most features in one request body that carries a collection (writes take one today).
    max_features: int = 1_000
    # Largest file uploaded to POST /imports (issue 13); it is spooled to disk, not memory.
    import_max_bytes: int = Field(default=200_000_000, ge=1)
    # Largest CSV/XLSX of yearly village figures (POST /collections/villages/stats:import),
    # read into memory whole: the file is checked before anything is written.
    stats_import_max_bytes: int = Field(default=5_000_000, ge=1)
    # PostgreSQL cancels an API statement running longer than this (0: no limit).
    statement_timeout_seconds: float = 10
    # The same for exports, which stream a whole collection.
    export_statement_timeout_seconds: float = 120
    # Retry-After of a 503 (database unreachable, statement timed out).
    retry_after_seconds: int = 5
    # cql2 parser guards (issue 9): the longest filter accepted, in characters; the other
    # limits are constants in geo/cql2/guards.py, set from the parser's measured crash thresholds.
    filter_max_length: int = MAX_FILTER_LENGTH
    # -- CORS (issue 9, ops; api/cors.py) ----------------------------------------------------
    # Origins whose pages may call the API: "scheme://host[:port]", comma-separated or a JSON
    # list. "*" lets any origin read (GET/HEAD) but not write. Empty: no CORS headers at all.
    cors_origins: Annotated[list[str], NoDecode] = []

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _parse_origins(cls, value: Any) -> Any:
        if isinstance(value, str):
            text = value.strip()
            value = json.loads(text) if text.startswith("[") else text.split(",")
        if not isinstance(value, list):
            return value
        origins = [str(v).strip().rstrip("/").lower() for v in value if str(v).strip()]
        for origin in origins:
            if origin != "*" and not _ORIGIN.match(origin):
                raise ValueError(
                    f"CORS origin {origin!r} must be '*' or scheme://host[:port], "
                    "without a path (e.g. https://portal.example.vn)"
                )
        return origins

    # -- (tiles) vector tiles (issue 10) ------------------------------------------------------
    # Most features in one layer of one tile; a fuller tile keeps the lowest ids.
    tile_max_features: int = Field(default=20_000, ge=1, le=1_000_000)
    # (cache, issue 17) Tiles up to this zoom are kept in the tile cache (tile_cache table)
    # once built; deeper tiles are small and many, and are built on every request.
    tile_cache_enabled: bool = True
    tile_cache_max_zoom: int = Field(default=14, ge=0, le=22)
    # Most features in one province or commune package (GET /package, issue 13).
    package_max_features: int = Field(default=100_000, ge=1, le=10_000_000)
    # (siting, issue 14) Candidate H3 cells one /analysis/sites request may judge: all of
    # Vietnam at resolution 7 is about 65 000; more is a finer grid than the question needs.
    siting_max_cells: int = Field(default=150_000, ge=1, le=2_000_000)
