"""tipg (developmentseed's FastAPI + asyncpg OGC API server) on the benchmark's database.

The benchmark runs the same requests against tipg when asked (``--tipg``): tipg is installed
into a virtual environment of its own (its dependencies are not craftmap's), pinned, and
served by the same uvicorn (with uvloop and httptools, as craftmap's is) and the same number
of workers. Its tile settings are craftmap's (4096 extent, 64 px buffer, 20 000 features per
tile) so both encode the same tiles.

Verified by hand against craftmap on the loaded benchmark database (tipg 1.6.1, one request
per form, no Accept header as wrk sends none; tipg then answers GeoJSON, and ``f=geojson``
pins that):

- a 0.06° bbox page of material zones: the same 49 ids in the same order, same
  ``numberMatched``;
- ``limit=100&offset=1234`` on villages: the same 100 ids in order (both order by id);
- a single village: the same id and coordinates;
- ``limit=10000`` on villages: all 5 400, same ids;
- zone tiles at z8/10/12/14 around one village: the same feature ids in each (9 490, 653,
  69, 10) once tipg is given x before y; the address with row and column swapped is empty.

tipg's answers are larger: 9 coordinate decimals (craftmap writes 7), ``id`` repeated in
``properties``, two links per feature, and tiles of unsimplified polygons (craftmap drops
detail below half a pixel). It counts ``numberMatched`` exactly on every page.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
import urllib.request
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit

import sqlalchemy as sa

TIPG_VERSION = "1.6.1"
# craftmap's venv runs uvicorn 0.54 with uvloop and httptools; plain ``uvicorn`` would give
# tipg the pure-Python asyncio loop and h11 parser, a handicap that is not tipg's.
UVICORN_VERSION = "0.54.0"
# Anchored to the repository, not the working directory (.craftmap/ is git-ignored).
VENV = Path(__file__).resolve().parent.parent / ".craftmap" / "tipg-venv"
STARTUP_SECONDS = 90

# craftmap collection ids and the ids tipg gives the same tables (schema-qualified names).
_COLLECTIONS = {"villages": "public.craft_village", "material-zones": "public.material_zone"}
# The query parameters the benchmark sends that mean the same thing to both servers.
_SHARED_PARAMETERS = {"limit", "offset", "bbox"}


def ensure_installed(folder: Path) -> Path:
    """The Python of a virtual environment holding the pinned tipg (made when missing).

    Raises
    ------
    RuntimeError
        When uv is not installed or the installation fails.
    """
    python = folder / "bin" / "python"
    # A marker named after the pins: a venv from an older pin gets reinstalled, not reused.
    marker = folder / f"installed-tipg-{TIPG_VERSION}-uvicorn-{UVICORN_VERSION}"
    if marker.exists() and python.exists():
        return python
    uv = shutil.which("uv") or str(Path.home() / ".local" / "bin" / "uv")
    if not Path(uv).exists():
        raise RuntimeError(
            "uv is needed to install tipg into its own environment and was not found: "
            "install it (https://docs.astral.sh/uv/) or put it on PATH"
        )
    commands = [
        [uv, "pip", "install", "-q", "--python", str(python)]
        + [f"tipg=={TIPG_VERSION}", f"uvicorn[standard]=={UVICORN_VERSION}"]
    ]
    if not python.exists():
        commands.insert(0, [uv, "venv", "-q", "--python", "3.11", str(folder)])
    for command in commands:
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(
                f"installing tipg {TIPG_VERSION} into {folder} failed "
                f"({' '.join(command[:3])}):\n{done.stderr.strip()}"
            )
    marker.touch()
    return python


def serve(database_url: str, port: int, workers: int = 2) -> subprocess.Popen[bytes]:
    """Start tipg on ``database_url`` and wait until it lists both collections.

    The server runs in a session of its own: stop it (and its workers) with
    ``os.killpg(server.pid, signal.SIGTERM)``.

    Raises
    ------
    RuntimeError
        When tipg exits or does not answer within 90 s (it is killed then).
    """
    python = ensure_installed(VENV)
    # asyncpg takes plain postgresql:// URLs, not SQLAlchemy's postgresql+psycopg://.
    url = sa.engine.make_url(database_url).set(drivername="postgresql")
    # Inherited TIPG_* variables would change what is measured: only these apply.
    env = {k: v for k, v in os.environ.items() if not k.startswith("TIPG_")}
    env.update(
        {
            "DATABASE_URL": url.render_as_string(hide_password=False),
            "TIPG_DB_SCHEMAS": '["public"]',
            "TIPG_DB_TABLES": json.dumps(sorted(_COLLECTIONS.values())),
            # Else PostGIS's set-returning functions (ST_Subdivide...) become collections.
            "TIPG_DB_FUNCTIONS": "[]",
            # The default refreshes the catalog every 300 s, in the middle of a run.
            "TIPG_CATALOG_TTL": "0",
            # craftmap's largest page (geo.query.features.MAX_LIMIT); tipg's default is the same.
            "TIPG_MAX_FEATURES_PER_QUERY": "10000",
            # craftmap's tiles: geo.query.tiles.BUFFER and MAX_FEATURES_PER_LAYER (extent 4096 is
            # tipg's default too).
            "TIPG_TILE_BUFFER": "64",
            "TIPG_MAX_FEATURES_PER_TILE": "20000",
            # Per worker, like craftmap's read pool (db_read_pool_size); tipg's default is 10.
            "DB_MAX_CONN_SIZE": "20",
        }
    )
    server = subprocess.Popen(
        [str(python), "-m", "uvicorn", "tipg.main:app"]
        + ["--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]
        + ["--no-access-log"],
        env=env,
        # tipg reads a .env file from its working directory: not the repository's.
        cwd=VENV,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    # No proxy: an http_proxy in the environment must not intercept 127.0.0.1.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(
                f"tipg exited with code {server.returncode} before answering; run "
                f"`{python} -m uvicorn tipg.main:app` with DATABASE_URL set to see why"
            )
        try:
            with opener.open(f"http://127.0.0.1:{port}/collections?f=json", timeout=2) as r:
                listed = {c["id"] for c in json.load(r)["collections"]}
            # Waiting for the tables, not just a 200, catches a catalog that missed them.
            if set(_COLLECTIONS.values()) <= listed:
                return server
        except (OSError, ValueError, KeyError):
            pass
        time.sleep(0.5)
    os.killpg(server.pid, signal.SIGKILL)
    server.wait()
    raise RuntimeError(f"tipg did not list its collections within {STARTUP_SECONDS} s")


def translate(url_path: str) -> str | None:
    """tipg's path and query for a craftmap one, or None when tipg has no equivalent.

    ===========================================================  ===========================
    craftmap                                                     tipg
    ===========================================================  ===========================
    /collections/{c}/items?limit=&offset=&bbox=                  /collections/{t}/items?...
                                                                 &f=geojson
    /collections/{c}/items/{id}                                  /collections/{t}/items/{id}
                                                                 ?f=geojson
    /collections/{c}/tiles/WebMercatorQuad/{z}/{row}/{col}       /collections/{t}/tiles/
                                                                 WebMercatorQuad/{z}/{col}/{row}
    ===========================================================  ===========================

    where ``{t}`` is ``public.craft_village`` for ``villages`` and ``public.material_zone``
    for ``material-zones``. A query parameter other than limit, offset and bbox gives None.
    """
    parts = urlsplit(url_path)
    segments = parts.path.strip("/").split("/")
    if len(segments) < 3 or segments[0] != "collections" or segments[1] not in _COLLECTIONS:
        return None
    table = _COLLECTIONS[segments[1]]
    rest = segments[2:]
    query = parse_qsl(parts.query)
    if any(name not in _SHARED_PARAMETERS for name, _ in query):
        return None
    if rest == ["items"]:
        # tipg already answers GeoJSON without an Accept header; f= keeps it from depending
        # on tipg's content negotiation.
        encoded = urlencode([*query, ("f", "geojson")], safe=",")
        return f"/collections/{table}/items?{encoded}"
    if len(rest) == 2 and rest[0] == "items" and not query:
        return f"/collections/{table}/items/{rest[1]}?f=geojson"
    if len(rest) == 5 and rest[:2] == ["tiles", "WebMercatorQuad"] and not query:
        # OGC addresses are tileMatrix/tileRow/tileCol (z/y/x); tipg's path is z/x/y.
        z, row, col = rest[2:]
        return f"/collections/{table}/tiles/WebMercatorQuad/{z}/{col}/{row}"
    return None
