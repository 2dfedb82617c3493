"""tipg (developmentseed's FastAPI + asyncpg OGC API server) on the benchmark's database.

The benchmark runs the same requests against tipg when asked (``--tipg``): tipg is installed
into a virtual environment of its own (its dependencies are not craftmap's), pinned, and
served with the same number of workers. Its tile settings are set to craftmap's (4096
extent, 64 px buffer, 20 000 features per tile) so both encode the same tiles.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import urllib.request
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit

import sqlalchemy as sa

TIPG_VERSION = "1.6.1"
# craftmap collection ids and the tables tipg names them by.
_COLLECTIONS = {"villages": "public.craft_village", "material-zones": "public.material_zone"}


def ensure_installed(folder: Path) -> Path:
    """The Python of a virtual environment holding the pinned tipg (made when missing)."""
    python = folder / "bin" / "python"
    marker = folder / f"tipg-{TIPG_VERSION}"
    if marker.exists():
        return python
    uv = shutil.which("uv") or str(Path.home() / ".local" / "bin" / "uv")
    if not Path(uv).exists():
        raise RuntimeError("uv is missing: run `make run` once, or pip install uv")
    subprocess.run([uv, "venv", "-q", "--python", "3.11", str(folder)], check=True)
    subprocess.run(
        [uv, "pip", "install", "-q", "--python", str(python), f"tipg=={TIPG_VERSION}", "uvicorn"],
        check=True,
    )
    marker.touch()
    return python


def serve(database_url: str, port: int, workers: int = 2) -> subprocess.Popen[bytes]:
    """Start tipg on ``database_url`` and wait until it answers."""
    python = ensure_installed(Path(".craftmap/tipg-venv"))
    url = sa.engine.make_url(database_url).set(drivername="postgresql")
    env = {
        **os.environ,
        "DATABASE_URL": url.render_as_string(hide_password=False),
        "TIPG_DB_SCHEMAS": '["public"]',
        "TIPG_DB_TABLES": '["public.craft_village", "public.material_zone"]',
        "TIPG_MAX_FEATURES_PER_QUERY": "10000",
        "TIPG_TILE_BUFFER": "64",
        "TIPG_MAX_FEATURES_PER_TILE": "20000",
    }
    server = subprocess.Popen(
        [
            str(python),
            "-m",
            "uvicorn",
            "tipg.main:app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--no-access-log",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/collections", timeout=2):
                return server
        except OSError:
            time.sleep(0.5)
    server.kill()
    raise RuntimeError("tipg did not answer within 90 s")


def translate(path: str) -> str | None:
    """tipg's path for a craftmap request path, or None when tipg has no equivalent."""
    parts = urlsplit(path)
    segments = parts.path.strip("/").split("/")
    if len(segments) < 3 or segments[0] != "collections" or segments[1] not in _COLLECTIONS:
        return None
    table = _COLLECTIONS[segments[1]]
    rest = segments[2:]
    query = dict(parse_qsl(parts.query))
    if rest == ["items"]:
        query["f"] = "geojson"
        return f"/collections/{table}/items?{urlencode(query, safe=',')}"
    if len(rest) == 2 and rest[0] == "items":
        return f"/collections/{table}/items/{rest[1]}?f=geojson"
    if len(rest) == 5 and rest[:2] == ["tiles", "WebMercatorQuad"]:
        # OGC addresses are tileMatrix/tileRow/tileCol (z/y/x); tipg's path is z/x/y.
        z, row, col = rest[2:]
        return f"/collections/{table}/tiles/WebMercatorQuad/{z}/{col}/{row}"
    return None
