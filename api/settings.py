"""HTTP-side settings (the database settings live in ``geo.db``)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Annotated, Any

from pydantic import field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

_ORIGIN = re.compile(r"^https?://[^/\s?#]+$")


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
