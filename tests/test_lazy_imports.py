"""Worker memory (issue 17): the heavy libraries must not load with the app.

Each of these costs 10–200 MB of RSS per worker (README, "Worker memory"); the light
paths (the benchmark's items pages, single items, tiles, whole collections) never use
them, so a worker that only serves those must never load them.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOMY_RATE_LIMIT_ENV
from tests.live import LiveServer, live_server

HEAVY = (
    "geopandas",
    "pandas",
    "scipy",
    "ortools",
    "openpyxl",
    "weasyprint",
    "folium",
    "pyogrio",
    "mapclassify",
    "matplotlib",
    "h3",
    "segno",
    "branca",
    # Lighter, but as useless to the light paths: Arrow is for file exports, Alembic for
    # migrations (/ready reads the head revision without it), lxml for hand-outs and
    # QGIS packages.
    "pyarrow",
    "alembic",
    "lxml",
)

# Thanh Hóa (the demo data): the tiles hold Làng Nhồi (105.749969, 19.794250).
_BBOX = "105.40000,19.50000,106.10000,20.10000"
TILES = ("8/113/203", "10/454/812", "12/1818/3251", "14/7272/13004")


# The benchmark's scenarios (bench/run.py::scenarios) and what a client asks first.
LIGHT_PATHS = (
    "/",
    "/conformance",
    "/collections",
    "/collections/villages",
    f"/collections/material-zones/items?limit=100&bbox={_BBOX}",
    "/collections/villages/items?limit=100&offset=5",
    *(f"/collections/villages/tiles/WebMercatorQuad/{t}" for t in TILES),
    "/collections/villages/items?limit=10000",
    "/collections/villages/items?limit=10000&f=json",
    "/health",
    "/ready",
)

_IN_PROCESS = """
import json, sys
from fastapi.testclient import TestClient
from api.main import create_app
from api.settings import ApiSettings
from ops.settings import DatabaseSettings

url, paths, heavy = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3])
app = create_app(ApiSettings(), DatabaseSettings(database_url=url))
statuses = {}
with TestClient(app) as client:
    page = client.get("/collections/villages/items?limit=3").json()
    ids = [f["id"] for f in page["features"]]
    for path in [*paths, *(f"/collections/villages/items/{i}" for i in ids)]:
        statuses[path] = client.get(path).status_code
print(json.dumps({"statuses": statuses, "loaded": [m for m in heavy if m in sys.modules]}))
"""


def test_importing_the_app_loads_no_heavy_library() -> None:
    code = f"import sys, api.main\nprint(' '.join(m for m in {HEAVY!r} if m in sys.modules))\n"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    assert out == []


def test_serving_the_light_requests_loads_no_heavy_library(database_url: str) -> None:
    # A fresh interpreter: this one has loaded everything the other tests needed.
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            _IN_PROCESS,
            database_url,
            json.dumps(LIGHT_PATHS),
            json.dumps(HEAVY),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    answer = json.loads(done.stdout.strip().splitlines()[-1])
    assert len(answer["statuses"]) == len(LIGHT_PATHS) + 3
    assert {p: s for p, s in answer["statuses"].items() if s != 200} == {}
    assert answer["loaded"] == []


def _workers(server: LiveServer) -> list[int]:
    pid = server.process.pid
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    # uvicorn's supervisor also runs multiprocessing's resource tracker: not a worker.
    return [
        int(p)
        for p in children
        if b"resource_tracker" not in Path(f"/proc/{p}/cmdline").read_bytes()
    ]


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no VmRSS for {pid}")


def test_every_worker_stays_under_250_mb_after_the_light_requests(
    database_url: str, tmp_path: Path
) -> None:
    with live_server(database_url, tmp_path, workers=2, env=ROOMY_RATE_LIMIT_ENV) as server:
        first = json.loads(server.request("/collections/villages/items?limit=20").body)
        singles = [f"/collections/villages/items/{f['id']}" for f in first["features"]]
        # A few hundred requests, spread over both workers by the kernel's accept queue.
        for _ in range(12):
            for path in (*LIGHT_PATHS, *singles):
                assert server.request(path).status == 200, path
        workers = _workers(server)
        assert len(workers) == 2
        rss = {pid: _rss_mb(pid) for pid in workers}
    assert all(mb < 250 for mb in rss.values()), rss


_TRIM = """
import json, sys, time
from fastapi.testclient import TestClient
from api.main import create_app
from api.settings import ApiSettings
from ops.settings import DatabaseSettings

def rss_mb():
    status = open("/proc/self/status").read()
    return int(status.split("VmRSS:")[1].split()[0]) / 1024

url, seconds = sys.argv[1], float(sys.argv[2])
app = create_app(ApiSettings(heap_trim_seconds=seconds), DatabaseSettings(database_url=url))
with TestClient(app):
    # ~120 MB in malloc's heap (2 kB objects: above Python's own allocator, below mmap's
    # threshold), then all but one in 64 freed: free, yet held by the pages they share.
    junk = [bytes(2048) for _ in range(60_000)]
    kept = junk[::64]
    del junk
    freed = rss_mb()
    time.sleep(1.5)
    print(json.dumps({"freed": freed, "later": rss_mb(), "trims": app.state.heap_trims}))
"""


def _after_freeing(database_url: str, trim_seconds: float) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, "-c", _TRIM, database_url, str(trim_seconds)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def test_a_worker_hands_freed_heap_back_to_the_system(database_url: str) -> None:
    trimmed = _after_freeing(database_url, 0.2)
    assert trimmed["trims"] >= 1
    assert trimmed["later"] < trimmed["freed"] - 60, trimmed
    # Without the trims the memory stays: the drop above is theirs.
    kept = _after_freeing(database_url, 0)
    assert kept["trims"] == 0
    assert kept["later"] > kept["freed"] - 20, kept


# Every module the app imports has bytecode beside it: `make venv` writes it, as Python
# itself does not where PYTHONDONTWRITEBYTECODE is set (CI). Without it, each worker and
# each CLI call compiled its imports again: 4.7 s to import the app, not 2.3 s. The
# project's own modules need only have it (an edit since `make venv` makes it stale, and
# Python then compiles that module in memory); the libraries' must be up to date.
_STALE_BYTECODE = """
import importlib.util, os, struct, sys
import api.main, api.cli
project = os.getcwd() + os.sep
stale = []
for module in list(sys.modules.values()):
    source = getattr(module, "__file__", None)
    if not source or not source.endswith(".py"):
        continue
    cached = importlib.util.cache_from_source(source)
    try:
        with open(cached, "rb") as pyc:
            header = pyc.read(16)
    except OSError:
        stale.append(source)
        continue
    if source.startswith(project) and ".venv" not in source:
        continue
    flags, mtime, size = struct.unpack("<III", header[4:16])
    info = os.stat(source)
    fresh = header[:4] == importlib.util.MAGIC_NUMBER and (
        flags != 0 or (mtime, size) == (int(info.st_mtime) & 0xFFFFFFFF, info.st_size & 0xFFFFFFFF)
    )
    if not fresh:
        stale.append(source)
print(len(sys.modules))
print("\\n".join(stale))
"""


def test_the_app_and_its_libraries_load_from_fresh_bytecode() -> None:
    answer = subprocess.run(
        [sys.executable, "-c", _STALE_BYTECODE],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).parents[1],
        env={"PATH": "/usr/bin:/bin", "PYTHONDONTWRITEBYTECODE": "1"},
    )
    loaded, *stale = [line for line in answer.stdout.splitlines() if line]
    assert int(loaded) > 500
    assert stale == [], (
        f"{len(stale)} modules without fresh bytecode (run `make venv`): {stale[:10]}"
    )
