"""CORS from settings, and OPTIONS/HEAD/Allow that tell the truth, checked from the routes."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import Browser
from pydantic import ValidationError
from sqlalchemy.orm import Session

from api.deps import get_session
from api.main import create_app
from api.settings import ApiSettings
from ops.cluster import free_port
from ops.settings import DatabaseSettings
from tests.browser import needs_chromium
from tests.factories import committed_village
from tests.live import live_server
from tests.routes import concrete, route_table

PORTAL = "https://portal.example.vn"
ITEMS = "/collections/villages/items"
ALL_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")

Client = Callable[..., TestClient]


@pytest.fixture
def make_client(database_url: str, session: Session) -> Iterator[Client]:
    """Build the app with the given CORS origins, on the test's rolled-back session."""
    opened: list[TestClient] = []

    def build(origins: list[str] | None = None) -> TestClient:
        app = create_app(
            ApiSettings(cors_origins=origins or []), DatabaseSettings(database_url=database_url)
        )
        app.dependency_overrides[get_session] = lambda: session
        app.state.read_connection_override = session.connection
        client = TestClient(app)
        client.__enter__()
        opened.append(client)
        return client

    yield build
    for client in opened:
        client.__exit__(None, None, None)


def _cors_headers(headers: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in headers.items() if k.lower().startswith("access-control-")}


def _methods(value: str) -> set[str]:
    return {m.strip() for m in value.split(",") if m.strip()}


def _preflight(client: TestClient, path: str, method: str, origin: str = PORTAL) -> object:
    return client.options(
        path,
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": method,
            "Access-Control-Request-Headers": "authorization, content-type, if-match",
        },
    )


@pytest.fixture
def item(sample: dict[str, str]) -> str:
    """The path of a village made for the test."""
    return f"{ITEMS}/{sample['featureId']}"


def test_options_and_allow_are_true_for_every_route(
    make_client: Client, sample: dict[str, str]
) -> None:
    client = make_client()
    table = route_table(client.app)
    assert len(table) > 20 and ITEMS.replace("villages", "{collectionId}") in table
    for path_format, declared in table.items():
        path = concrete(path_format, sample)
        expected = declared | {"OPTIONS"} | ({"HEAD"} if "GET" in declared else set())
        answer = client.options(path)
        assert answer.status_code == 204, (path, answer.text)
        allow = _methods(answer.headers["allow"])
        assert allow == expected, path
        answers = {}
        for method in ALL_METHODS:
            # Keyless and bodiless: a write is refused (401/400), never performed.
            response = answers[method] = client.request(method, path)
            if method in allow:
                assert response.status_code != 405, (method, path)
            else:
                assert response.status_code == 405, (method, path, response.status_code)
                assert _methods(response.headers["allow"]) == expected, (method, path)
        if "GET" in declared:
            # The GET and HEAD of the loop (asking again built every page a second time).
            got, head = answers["GET"], answers["HEAD"]
            assert head.status_code == got.status_code and head.content == b"", path
            assert head.headers.get("content-type") == got.headers.get("content-type"), path
            assert head.headers.get("etag") == got.headers.get("etag"), path
            if "etag" in got.headers:  # same version, same bytes (map pages get fresh ids)
                assert head.headers.get("content-length") == got.headers.get("content-length")


def test_the_resources_of_the_brief(make_client: Client, item: str) -> None:
    client = make_client()
    expected = {
        ITEMS: {"GET", "HEAD", "POST", "OPTIONS"},
        item: {"GET", "HEAD", "PUT", "PATCH", "DELETE", "OPTIONS"},
        "/collections": {"GET", "HEAD", "OPTIONS"},
        "/collections/villages/tiles/WebMercatorQuad/8/113/203": {"GET", "HEAD", "OPTIONS"},
        "/maps": {"GET", "HEAD", "OPTIONS"},
    }
    for path, methods in expected.items():
        assert _methods(client.options(path).headers["allow"]) == methods, path
    assert client.options("/no/such/resource").status_code == 404


def test_cors_is_off_by_default(make_client: Client, item: str) -> None:
    client = make_client()
    answers = [
        _preflight(client, ITEMS, "POST"),
        _preflight(client, "/collections", "GET"),
        client.get("/collections", headers={"Origin": PORTAL}),
        client.head(item, headers={"Origin": PORTAL}),
        client.post(ITEMS, headers={"Origin": PORTAL}, json={}),
        client.options(item, headers={"Origin": PORTAL}),
        client.get("/no/such/resource", headers={"Origin": PORTAL}),
    ]
    for answer in answers:
        assert _cors_headers(dict(answer.headers)) == {}, answer.request.url  # type: ignore[attr-defined]
    assert answers[0].status_code == 403  # type: ignore[attr-defined]
    assert "Origin" not in answers[2].headers.get("vary", "")  # type: ignore[attr-defined]


def test_preflight_lists_exactly_what_each_resource_allows(make_client: Client, item: str) -> None:
    client = make_client([PORTAL])
    cases = {
        (ITEMS, "POST"): {"GET", "HEAD", "POST", "OPTIONS"},
        (item, "PATCH"): {"GET", "HEAD", "PUT", "PATCH", "DELETE", "OPTIONS"},
        ("/collections", "GET"): {"GET", "HEAD", "OPTIONS"},
        # A method the resource does not allow is not listed, so the browser refuses it.
        ("/collections", "DELETE"): {"GET", "HEAD", "OPTIONS"},
        (ITEMS, "PUT"): {"GET", "HEAD", "POST", "OPTIONS"},
    }
    for (path, method), methods in cases.items():
        answer = _preflight(client, path, method)
        assert answer.status_code == 204, (path, method)  # type: ignore[attr-defined]
        headers = answer.headers  # type: ignore[attr-defined]
        assert headers["access-control-allow-origin"] == PORTAL
        assert _methods(headers["access-control-allow-methods"]) == methods, (path, method)
        assert _methods(headers["access-control-allow-headers"]) == {
            "Authorization",
            "X-API-Key",
            "Content-Type",
            "Content-Crs",
            "If-Match",
            "If-None-Match",
            "Accept-Language",
            "Craftmap-LSN",
        }
        assert int(headers["access-control-max-age"]) > 0
        assert "access-control-allow-credentials" not in headers
        assert "Origin" in headers["vary"]


def test_requests_from_the_origin_and_from_others(make_client: Client, item: str) -> None:
    client = make_client([PORTAL, "http://127.0.0.1:8080"])
    read = client.get("/collections", headers={"Origin": PORTAL})
    assert read.status_code == 200
    assert read.headers["access-control-allow-origin"] == PORTAL
    assert _methods(read.headers["access-control-expose-headers"]) == {
        "ETag",
        "Location",
        "Content-Crs",
        "Retry-After",
        "Link",
        "Craftmap-LSN",
    }
    assert "Origin" in read.headers["vary"]
    # An error answer is readable too, so the page can show the problem.
    refused = client.post(ITEMS, headers={"Origin": PORTAL}, json={})
    assert refused.status_code == 401 and refused.headers["access-control-allow-origin"] == PORTAL

    for other in ("https://evil.example", "https://portal.example.vn.evil.example", "null"):
        answer = client.get("/collections", headers={"Origin": other})
        assert answer.status_code == 200 and _cors_headers(dict(answer.headers)) == {}
        preflight = _preflight(client, item, "DELETE", origin=other)
        assert preflight.status_code == 403  # type: ignore[attr-defined]
        assert _cors_headers(dict(preflight.headers)) == {}  # type: ignore[attr-defined]
        assert preflight.headers["content-type"] == "application/problem+json"  # type: ignore[attr-defined]
    no_origin = client.get("/collections")
    assert _cors_headers(dict(no_origin.headers)) == {} and "Origin" in no_origin.headers["vary"]


def test_any_origin_may_read_but_not_write(make_client: Client, item: str) -> None:
    client = make_client(["*"])
    read = client.get("/collections", headers={"Origin": "https://anyone.example"})
    assert read.headers["access-control-allow-origin"] == "*"
    preflight = _preflight(client, item, "PATCH", origin="https://anyone.example")
    assert _methods(preflight.headers["access-control-allow-methods"]) == {  # type: ignore[attr-defined]
        "GET",
        "HEAD",
        "OPTIONS",
    }
    write = client.post(ITEMS, headers={"Origin": "https://anyone.example"}, json={})
    assert "access-control-allow-origin" not in write.headers


def test_origins_setting_is_checked() -> None:
    parsed = ApiSettings(cors_origins="https://A.example.vn/, http://127.0.0.1:9000")  # type: ignore[arg-type]
    assert parsed.cors_origins == ["https://a.example.vn", "http://127.0.0.1:9000"]
    assert ApiSettings().cors_origins == []
    for bad in ("null", "portal.example.vn", "https://portal.example.vn/path", "file://x"):
        with pytest.raises(ValidationError):
            ApiSettings(cors_origins=bad)  # type: ignore[arg-type]


# -- a real browser enforces what the headers say ---------------------------------------------
PROBE = """async ([base, item]) => {
  const out = {};
  const attempt = async (name, path, init) => {
    try {
      const r = await fetch(base + path, init);
      out[name] = {status: r.status, etag: r.headers.get("ETag"), body: await r.text()};
    } catch (e) { out[name] = {error: e.name}; }
  };
  await attempt("read", item, {headers: {"Accept": "application/geo+json"}});
  await attempt("write", item, {method: "PATCH", body: "{}", headers: {
    "Authorization": "Bearer cm_not_a_key", "Content-Type": "application/merge-patch+json",
    "If-Match": '"x"'}});
  await attempt("put_on_collections", "/collections", {method: "PUT",
    headers: {"Content-Type": "application/json"}, body: "{}"});
  return out;
}"""


@pytest.fixture
def page_origin(tmp_path: Path) -> Iterator[int]:
    """A static page on its own port: http://127.0.0.1:PORT is another origin than the API."""
    (tmp_path / "index.html").write_text("<!doctype html><title>portal</title>", encoding="utf-8")
    handler = partial(SimpleHTTPRequestHandler, directory=str(tmp_path))
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()


@needs_chromium
def test_chromium_obeys_the_answers(
    database_url: str, tmp_path: Path, page_origin: int, browser: Browser
) -> None:
    allowed = f"http://127.0.0.1:{page_origin}"
    env = {"CRAFTMAP_CORS_ORIGINS": allowed}
    with (
        committed_village(database_url) as village_id,
        live_server(database_url, tmp_path, env=env) as api,
    ):
        item = f"{ITEMS}/{village_id}"
        page = browser.new_page()
        page.goto(f"{allowed}/index.html")
        seen = page.evaluate(PROBE, [api.url, item])
        assert seen["read"]["status"] == 200 and seen["read"]["etag"], seen
        assert seen["write"]["status"] == 401 and '"status":401' in seen["write"]["body"]
        assert seen["put_on_collections"] == {"error": "TypeError"}, seen
        # The same page from another origin (localhost is not 127.0.0.1) reads nothing.
        page.goto(f"http://localhost:{page_origin}/index.html")
        other = page.evaluate(PROBE, [api.url, item])
        assert all(v == {"error": "TypeError"} for v in other.values()), other
