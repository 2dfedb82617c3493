"""HTTP-side settings (the database settings live in ``geo.db``)."""

from __future__ import annotations

from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict

from geo.cql2 import MAX_FILTER_LENGTH


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

    # cql2 parser guards (issue 9): the longest filter accepted, in characters; the other
    # limits are constants in geo/cql2.py, set from the parser's measured crash thresholds.
    filter_max_length: int = MAX_FILTER_LENGTH
