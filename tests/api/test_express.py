"""(light, issue 17) The express lane answers exactly as the full stack does (api/express.py).

Each request goes to a real ``craftmap serve`` twice: as a plain client sends it (the lane
answers) and with one more header the lane does not know (the full stack answers). The
two answers must agree in status, every header but Date and X-Request-Id, and every byte
of the body (decompressed; a page's timeStamp is the second it was written). The access
log shows which path answered, so the comparison cannot be between two full-stack answers.
"""

from __future__ import annotations

import gzip
import json
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from geo.store import catalog
from geo.store.db import make_engine
from tests.conftest import ROOMY_RATE_LIMIT_ENV, demo_database
from tests.live import Answer, LiveServer, live_server

# A header the lane does not honour: with it, the same request goes down the full stack.
FULL_STACK = {"X-Compare": "full stack"}
PLAIN_ACCEPTS = ({}, {"Accept": "*/*"}, {"Accept": "application/geo+json, application/json"})
GZIP = {"Accept-Encoding": "gzip, deflate"}
_STAMP = re.compile(rb'"timeStamp":"[^"]+"')


@pytest.fixture(scope="module")
def database_url(pg_server_url: str) -> Iterator[str]:
    """A demo database of this module's own: no other test's writes empty the tile cache
    between a fill and the lane's hit."""
    with demo_database(pg_server_url, "craftmap_express") as url:
        yield url


@pytest.fixture(scope="module")
def live(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A server on that database, with the tile cache."""
    with live_server(
        database_url, tmp_path_factory.mktemp("express"), env=ROOMY_RATE_LIMIT_ENV
    ) as server:
        yield server


@pytest.fixture(scope="module")
def ids(database_url: str) -> Iterator[dict[str, list[int]]]:
    """Up to three feature ids of each core collection (the demo has all but some)."""
    engine = make_engine(database_url)
    found = {}
    with engine.connect() as conn:
        for collection in catalog.CORE:
            table = collection.table
            rows = conn.execute(
                sa.select(table.c.id).where(*collection.base_filter()).order_by(table.c.id).limit(3)
            ).all()
            found[collection.id] = [row[0] for row in rows]
    engine.dispose()
    yield found


def _logged(live: LiveServer, requests: int) -> int:
    """How many requests the lane answered, once ``requests`` requests are in the log.

    A line is written after its answer is sent: the client can be quicker than the log.
    """
    deadline = time.monotonic() + 10
    while True:
        lines = [
            json.loads(line)
            for line in live.log().splitlines()
            if line.startswith("{") and '"message": "request"' in line
        ]
        if len(lines) >= requests or time.monotonic() > deadline:
            return sum(1 for line in lines if line.get("lane") == "express")
        time.sleep(0.02)


def _requests(live: LiveServer) -> int:
    return live.log().count('"message": "request"')


def _decoded(answer: Answer) -> bytes:
    if answer.headers.get("content-encoding") == "gzip":
        return gzip.decompress(answer.body)
    return answer.body


def _comparable(answer: Answer) -> tuple[int, dict[str, str], bytes]:
    headers = {k.lower(): v for k, v in answer.headers.items()}
    body = answer.body
    if headers.get("content-encoding") == "gzip":
        body = gzip.decompress(body)
    for name in ("date", "x-request-id"):
        headers.pop(name, None)
    if "content-length" in headers:  # its place is compared; its value below
        headers["content-length"] = "-"
    return answer.status, headers, _STAMP.sub(b'"timeStamp":"-"', body)


def _assert_same(live: LiveServer, path: str, headers: dict[str, str]) -> Answer:
    """``path`` through the lane and through the full stack: the same answer. The lane's."""
    requests = _requests(live)
    before = _logged(live, requests)
    fast = live.request(path, headers=headers)
    assert _logged(live, requests + 1) == before + 1, f"the lane did not answer {path} {headers}"
    slow = live.request(path, headers={**headers, **FULL_STACK})
    assert _logged(live, requests + 2) == before + 1, "the full stack's answer came from the lane"
    (status, headers, body), (status2, headers2, body2) = _comparable(fast), _comparable(slow)
    assert status == status2
    differing = {k: (headers.get(k), headers2.get(k)) for k in {*headers, *headers2}}
    assert {k: v for k, v in differing.items() if v[0] != v[1]} == {}
    assert list(headers) == list(headers2), "the headers come in another order"
    assert body == body2
    # Compressed as GZipMiddleware compresses: the same bytes, so the same Content-Length
    # (a HEAD, which the full stack answers, must give the GET's). A page's timeStamp can
    # tick over between the two requests.
    if _decoded(fast) == _decoded(slow):
        assert fast.headers.get("content-length") == slow.headers.get("content-length")
        assert fast.body == slow.body
    if fast.status != 204:
        assert int(fast.headers["content-length"]) == len(fast.body)
    assert ("content-length" in fast.headers) == ("content-length" in slow.headers)
    return fast


@pytest.mark.parametrize("accept", PLAIN_ACCEPTS)
@pytest.mark.parametrize("encoding", [{}, GZIP])
def test_every_core_collection_feature_is_answered_as_the_full_stack_would(
    live: LiveServer, ids: dict[str, list[int]], accept: dict[str, str], encoding: dict[str, str]
) -> None:
    served = 0
    for collection_id, found in ids.items():
        for fid in found:
            answer = _assert_same(
                live, f"/collections/{collection_id}/items/{fid}", {**accept, **encoding}
            )
            feature = json.loads(_comparable(answer)[2])
            assert feature["id"] == fid
            assert feature["links"][0]["href"].endswith(f"/collections/{collection_id}/items/{fid}")
            served += 1
    assert served >= 6  # villages, zones, routes, stops… the demo has them


PAGES = [
    "/collections/villages/items?limit=5",
    "/collections/villages/items?limit=5&offset=5",
    "/collections/villages/items?limit=1000",
    "/collections/material-zones/items?limit=100&bbox=105.0,19.0,106.5,20.5",
    "/collections/material-zones/items?bbox=105.0,19.0,106.5,20.5&limit=3&offset=2",
    "/collections/villages/items?bbox=105.6,19.7,105.9,20.0",
    "/collections/routes/items",
    # A page with no features, at the start: numberMatched 0, no count query.
    "/collections/villages/items?limit=10&bbox=100.0,10.0,100.1,10.1",
    # Values written as clients write them: the links repeat them as given.
    "/collections/villages/items?limit=007&bbox=105.6%2C19.7%2C105.9%2C20.0",
    # Six numbers (a 3D box), and a box across the antimeridian: the same statement shape.
    "/collections/villages/items?bbox=105.0,19.0,-10,106.5,20.5,10",
    "/collections/villages/items?bbox=179.5,10,-179.5,20",
]


@pytest.mark.parametrize("path", PAGES)
@pytest.mark.parametrize("encoding", [{}, GZIP])
def test_small_pages_are_answered_as_the_full_stack_would(
    live: LiveServer, path: str, encoding: dict[str, str]
) -> None:
    answer = _assert_same(live, path, encoding)
    page = json.loads(_comparable(answer)[2])
    assert page["type"] == "FeatureCollection"
    assert page["numberReturned"] == len(page["features"])


def test_a_long_page_says_next_and_the_next_page_follows(live: LiveServer) -> None:
    first = json.loads(_assert_same(live, "/collections/villages/items?limit=2", {}).body)
    following = next(link["href"] for link in first["links"] if link["rel"] == "next")
    path = following[following.index("/collections/") :]
    second = json.loads(_assert_same(live, path, {}).body)
    assert [f["id"] for f in first["features"]] != [f["id"] for f in second["features"]]
    assert second["numberMatched"] == first["numberMatched"]


@pytest.mark.parametrize(
    ("path", "headers", "status"),
    [
        ("/collections/villages/items/99999999", {}, 404),  # the problem is the stack's
        ("/collections/villages/items/abc", {}, 404),
        ("/collections/villages/items/1?crs=junk", {}, 400),
        ("/collections/villages/items?limit=0", {}, 400),
        ("/collections/villages/items?limit=5&filter=workers>1", {}, 200),
        ("/collections/villages/items?limit=5&limit=6", {}, 200),
        ("/collections/villages/items?limit=5&offset=100000", {}, 200),  # empty, past the end
        ("/collections/villages/items?limit=5", {"Origin": "https://portal.example"}, 200),
        ("/collections/villages/items?limit=5", {"Accept": "text/html"}, 200),
        ("/collections/villages/items?limit=5", {"Accept-Language": "vi"}, 200),
        ("/collections/villages/items?limit=5000", {}, 200),  # streamed
        ("/collections/nope/items/1", {}, 404),
        # Hostile values: the lane's parsing refuses them, the full stack writes the problem.
        ("/collections/villages/items?bbox=nan,nan,nan,nan", {}, 400),
        ("/collections/villages/items?bbox=1e300,1e300,1e301,1e301", {}, 400),
        ("/collections/villages/items?limit=" + "9" * 5000, {}, 400),
        ("/collections/villages/items/" + "9" * 5000, {}, 404),
        ("/collections/material-zones/tiles/WebMercatorQuad/14/" + "9" * 5000 + "/1", {}, 404),
        ("/collections/material-zones/tiles/WebMercatorQuad/31/0/0", {}, 404),
        ("/collections/material-zones/tiles/WebMercatorQuad/14/0/0?properties=name", {}, 204),
    ],
)
def test_what_the_lane_cannot_answer_goes_to_the_full_stack(
    live: LiveServer, path: str, headers: dict[str, str], status: int
) -> None:
    requests = _requests(live)
    before = _logged(live, requests)
    answer = live.request(path, headers=headers)
    assert answer.status == status, answer.body[:300]
    assert _logged(live, requests + 1) == before
    if status >= 400:
        assert answer.headers["content-type"].startswith("application/problem+json")


def test_a_revalidation_is_the_full_stacks_304(live: LiveServer, ids: dict[str, list[int]]) -> None:
    path = f"/collections/villages/items/{ids['villages'][0]}"
    requests = _requests(live)
    tag = live.request(path).headers["etag"]
    before = _logged(live, requests + 1)
    assert live.request(path, headers={"If-None-Match": tag}).status == 304
    assert _logged(live, requests + 2) == before


def test_the_lane_survives_its_connections_being_cut(
    ids: dict[str, list[int]], pg_server_url: str, tmp_path: Path
) -> None:
    """A killed connection: the request is answered by the full stack, then the lane's again.

    On a server and database of its own: the lane stands aside for a while after the
    failure, and the cut reaches only the lane connections to that database.
    """
    with (
        demo_database(pg_server_url, "craftmap_express_cut") as url,
        live_server(url, tmp_path, env=ROOMY_RATE_LIMIT_ENV) as live,
    ):
        _survives_a_cut(live, ids, url)


def _survives_a_cut(live: LiveServer, ids: dict[str, list[int]], database_url: str) -> None:
    path = f"/collections/villages/items/{ids['villages'][0]}"
    expected = _comparable(live.request(path))
    engine = make_engine(database_url)
    with engine.connect() as conn:
        cut = conn.execute(
            sa.text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE application_name = 'craftmap-express' AND datname = current_database()"
            )
        ).scalar_one()
    engine.dispose()
    assert cut >= 1
    answers = [live.request(path) for _ in range(3)]
    assert [_comparable(a) for a in answers] == [expected] * 3
    assert "express lane stands aside" in live.log()
    assert live.alive()


@pytest.fixture(scope="module")
def uncached(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A server without the tile cache: every tile is built."""
    env = {**ROOMY_RATE_LIMIT_ENV, "CRAFTMAP_TILE_CACHE_ENABLED": "false"}
    with live_server(database_url, tmp_path_factory.mktemp("uncached"), env=env) as server:
        yield server


def _tile_paths(database_url: str) -> list[str]:
    """Tiles over each core collection's first feature, z6 to z16; some are empty."""
    import morecantile

    grid = morecantile.tms.get("WebMercatorQuad")
    engine = make_engine(database_url)
    paths = []
    with engine.connect() as conn:
        for collection in catalog.CORE:
            table = collection.table
            point = conn.execute(
                sa.select(
                    sa.func.ST_X(sa.func.ST_PointOnSurface(table.c.geom)),
                    sa.func.ST_Y(sa.func.ST_PointOnSurface(table.c.geom)),
                )
                .where(*collection.base_filter(), table.c.geom.is_not(None))
                .order_by(table.c.id)
                .limit(1)
            ).first()
            if point is None:
                continue
            for zoom in (6, 9, 12, 14, 16):
                t = grid.tile(point[0], point[1], zoom)
                paths.append(
                    f"/collections/{collection.id}/tiles/WebMercatorQuad/{t.z}/{t.y}/{t.x}"
                )
            paths.append(f"/collections/{collection.id}/tiles/WebMercatorQuad/14/0/0")  # empty
    engine.dispose()
    return paths


@pytest.mark.parametrize("encoding", [{}, GZIP])
def test_tiles_are_answered_as_the_full_stack_would(
    uncached: LiveServer, live: LiveServer, database_url: str, encoding: dict[str, str]
) -> None:
    """Built (no cache), and from the tile cache: the lane answers the cache's hits only."""
    statuses = set()
    for path in _tile_paths(database_url):
        statuses.add(_assert_same(uncached, path, encoding).status)
        # A first request fills the cache through the full stack; then the lane has it.
        requests = _requests(live)
        first = live.request(path, headers=encoding)
        _logged(live, requests + 1)
        again = _assert_same(live, path, encoding)
        assert _comparable(first) == _comparable(again)
    assert statuses == {200, 204}
