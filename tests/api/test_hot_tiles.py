"""(hottile, issue 17) Tiles answered by api.hot.HotReads: exactly as FastAPI's routes.

The two tile routes skip FastAPI's router (api/routers/tiles.py HOT_ROUTES); every answer
(200, 204, 304, 400, 404, HEAD, ``properties=``, gzip, CORS) must be byte for byte the one
the routed app gives, through the tile cache and without it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.deps import get_session
from api.hot import HotReads
from api.main import create_app
from api.settings import ApiSettings
from geo.store.db import Session
from ops.settings import DatabaseSettings
from tests.api.test_light import _comparable
from tests.conftest import ROOMY_RATE_LIMITS
from tests.factories import make_village

ORIGIN = "https://a.example"
# Bát Tràng (Gia Lâm, Hà Nội) at z12 and z14; z8 holds the whole Red River delta.
Z12 = "12/1803/3253"
Z14 = "14/7215/13012"
Z8 = "8/112/203"


@contextlib.contextmanager
def _apps(database_url: str, session: Session | None) -> Iterator[tuple[TestClient, TestClient]]:
    """Hot reads on and off; on the test's session (no cache) or on the database (cache)."""
    clients = []
    with contextlib.ExitStack() as stack:
        for hot in (True, False):
            app = create_app(
                ApiSettings(
                    **ROOMY_RATE_LIMITS,
                    hot_reads=hot,
                    express_reads=False,  # api/express.py has tests/api/test_express.py
                    cors_origins=[ORIGIN],
                ),
                DatabaseSettings(database_url=database_url),
            )
            if session is not None:
                app.dependency_overrides[get_session] = lambda: session
                app.state.read_connection_override = session.connection
            clients.append(stack.enter_context(TestClient(app)))
        yield clients[0], clients[1]


def _cases(tag: str) -> list[tuple[str, str, dict[str, str]]]:
    one = f"/collections/villages/tiles/WebMercatorQuad/{Z12}"
    return [
        ("GET", one, {}),
        ("GET", one, {"Origin": ORIGIN, "Accept-Encoding": "gzip"}),
        ("GET", one, {"If-None-Match": tag}),  # 304
        ("GET", one, {"If-None-Match": "*"}),
        ("HEAD", one, {}),
        ("HEAD", one, {"If-None-Match": tag}),
        ("GET", f"{one}?properties=name", {}),
        ("GET", f"{one}?properties=name&properties=id", {}),  # the last one, as FastAPI
        ("GET", f"{one}?properties=no_such_field", {}),  # 400
        ("GET", f"{one}?colour=red", {}),  # unknown parameter: 400
        ("GET", f"/collections/villages/tiles/WebMercatorQuad/{Z14}", {}),
        ("GET", f"/collections/villages/tiles/WebMercatorQuad/{Z8}", {"Accept-Encoding": "gzip"}),
        ("GET", "/collections/villages/tiles/WebMercatorQuad/12/0/0", {}),  # 204: empty
        ("GET", "/collections/villages/tiles/WebMercatorQuad/31/0/0", {}),  # 404: no matrix
        ("GET", "/collections/villages/tiles/WebMercatorQuad/3/9/0", {}),  # 404: off the matrix
        ("GET", "/collections/villages/tiles/WebMercatorQuad/x/0/0", {}),
        ("GET", "/collections/villages/tiles/WebMercatorQuad/-1/0/0", {}),
        ("GET", "/collections/no-such/tiles/WebMercatorQuad/3/3/6", {}),  # 404: no collection
        ("GET", f"/tiles/WebMercatorQuad/{Z12}", {}),
        ("GET", f"/tiles/WebMercatorQuad/{Z12}", {"Origin": ORIGIN, "Accept-Encoding": "gzip"}),
        ("GET", f"/tiles/WebMercatorQuad/{Z12}?properties=name", {}),
        ("GET", "/tiles/WebMercatorQuad/12/0/0", {}),
        ("GET", "/tiles/WebMercatorQuad/99/0/0", {}),
        ("HEAD", f"/tiles/WebMercatorQuad/{Z8}", {}),
        ("OPTIONS", one, {"Origin": ORIGIN, "Access-Control-Request-Method": "GET"}),
    ]


def _compare(hot: TestClient, routed: TestClient, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    tag = routed.get(f"/collections/villages/tiles/WebMercatorQuad/{Z12}").headers.get("etag", "")
    taken: list[str] = []
    real = HotReads._answer

    async def counting(self: HotReads, *args: Any) -> None:
        taken.append(args[2]["path"])
        await real(self, *args)

    monkeypatch.setattr(HotReads, "_answer", counting)
    cases = _cases(tag)
    statuses = []
    for method, path, headers in cases:
        before = len(taken)
        expected = _comparable(routed.request(method, path, headers=headers))
        assert len(taken) == before, "the routed app took the hot path"
        got = _comparable(hot.request(method, path, headers=headers))
        assert got == expected, (method, path, headers)
        statuses.append(got[0])
    # Every GET and HEAD of a tile went the hot way (HEAD runs as GET).
    assert len(taken) == len([c for c in cases if c[0] != "OPTIONS"])
    return statuses


def test_hot_tiles_answer_exactly_as_the_fastapi_routes(
    database_url: str, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_village(session, name="Làng gốm Bát Tràng", at=(105.9127, 20.9767))
    session.flush()
    with _apps(database_url, session) as (hot, routed):
        statuses = _compare(hot, routed, monkeypatch)
    assert {200, 204, 304, 400, 404} <= set(statuses)


def test_hot_tiles_through_the_cache_answer_as_the_fastapi_routes(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No session override: both apps read (and fill) the tile cache of the test database.
    with _apps(database_url, None) as (hot, routed):
        statuses = _compare(hot, routed, monkeypatch)
    assert {204, 400, 404} <= set(statuses)
