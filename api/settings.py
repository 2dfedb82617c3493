"""HTTP-side settings (the database settings live in ``geo.db``)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ApiSettings(BaseSettings):
    """Settings of the web app, read from ``CRAFTMAP_*`` environment variables."""

    model_config = SettingsConfigDict(env_prefix="CRAFTMAP_", env_file=".env", extra="ignore")

    title: str = "craftmap"
    public_url: str | None = None
    # Basemap for the map pages; "none" works offline.
    basemap_url: str = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
    basemap_attribution: str = "© OpenStreetMap contributors"
    log_json: bool = True
    db_pool_size: int = 5
    # Where `craftmap map assets` unpacked Leaflet and its plugins (default .craftmap/vendor).
    map_assets_dir: Path | None = None
    # Above this many material zones the maps draw them from the vector tiles.
    map_embed_limit: int = 5_000
    # Per worker; FastAPI runs up to 40 requests at once in its thread pool.
    db_read_pool_size: int = 20

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
