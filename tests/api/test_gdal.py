"""GDAL's own OGC API – Features client reads every collection from a running server."""

from __future__ import annotations

import json
import time
import urllib.request
from pathlib import Path

import pyogrio
import pytest
import shapely
import sqlalchemy as sa

from geo.store.db import make_engine
from tests.live import LiveServer

SERVER_LOGS: dict[str, Path] = {}


@pytest.fixture(scope="module")
def served(live: LiveServer) -> str:
    """The app in its own process on a real socket: the session's ``craftmap serve``.

    GDAL speaks HTTP through curl and holds the GIL while it waits, so the server cannot be
    a thread of the test process. GDAL only reads: the shared server does (a server of the
    module's own cost a start-up, 10-20 s on a busy machine).
    """
    SERVER_LOGS[live.url] = live.log_path
    return live.url


def _number_matched(base: str, collection: str) -> int:
    with urllib.request.urlopen(f"{base}/collections/{collection}/items?limit=1") as response:
        return int(json.load(response)["numberMatched"])


@pytest.mark.parametrize(
    "collection", ["villages", "material-zones", "routes", "route-stops", "admin-units"]
)
def test_gdal_reads_every_feature(served: str, collection: str) -> None:
    layers = {name for name, _ in pyogrio.list_layers(f"OAPIF:{served}")}
    assert collection in layers
    frame = pyogrio.read_dataframe(f"OAPIF:{served}", layer=collection)
    assert len(frame) == _number_matched(served, collection) > 0
    if collection == "villages":
        assert "Trà Đông" in set(frame["name"])
        assert frame.crs is not None and frame.crs.to_string() == "OGC:CRS84"


def test_gdal_sends_filters_to_the_server(served: str) -> None:
    # Only this test's requests: the shared server's log has the other tests' too.
    logged = len(SERVER_LOGS[served].read_text())
    frame = pyogrio.read_dataframe(
        f"OAPIF:{served}", layer="material-zones", where="material = 'sedge'"
    )
    assert len(frame) > 0 and set(frame["material"]) == {"sedge"}
    # The filter went to the server (a queryable as a query parameter), not only to GDAL.
    # The access line is written once the response is sent: give it a moment.
    deadline = time.monotonic() + 5
    sent = False
    while not sent and time.monotonic() < deadline:
        requests = [
            json.loads(line)
            for line in SERVER_LOGS[served].read_text()[logged:].splitlines()
            if line.startswith("{") and '"craftmap.access"' in line
        ]
        sent = any("material=sedge" in r["query"] for r in requests if r["path"].endswith("/items"))
        time.sleep(0.1)
    assert sent


def test_gdal_reads_route_vertices_in_the_stored_order(served: str, database_url: str) -> None:
    # Issue 10: lines were served reversed; GDAL must see each route as it is stored, from
    # its first stop to its last.
    frame = pyogrio.read_dataframe(f"OAPIF:{served}", layer="routes")
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            stored = dict(
                conn.execute(
                    sa.text(
                        "SELECT code, ST_AsText(geom) FROM tourism_route WHERE geom IS NOT NULL"
                    )
                ).all()
            )
    finally:
        engine.dispose()
    assert len(stored) > 0 and set(frame["code"]) >= set(stored)
    for code, geometry in zip(frame["code"], frame.geometry, strict=True):
        if code not in stored:
            assert geometry is None, code
            continue
        expected = shapely.from_wkt(stored[code]).coords
        got = geometry.coords
        assert len(got) == len(expected), code
        for (x, y), (ex, ey) in zip(got, expected, strict=True):
            assert abs(x - ex) < 1e-7 and abs(y - ey) < 1e-7, (code, x, y, ex, ey)
