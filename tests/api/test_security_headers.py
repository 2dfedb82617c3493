"""Security headers: every route answers with them, every HTML page with a nonce CSP."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from api.deps import get_session
from api.main import create_app
from api.security import content_security_policy, origin
from api.settings import ApiSettings
from ops.settings import DatabaseSettings
from tests.factories import TWO_STOPS, make_route, path_ids
from tests.routes import concrete, route_table

# A value for each path parameter the routes use but the ids, which the test makes.
PATH_VALUES = {
    "collectionId": "villages",
    "tileMatrixSetId": "WebMercatorQuad",
    "tileMatrix": "10",
    "tileRow": "450",
    "tileCol": "811",
    "jobId": "1",  # no such import: its routes answer 401/404, headers included
    "code": "TH-V-005",  # figures: a demo village (a zone code answers 404 on village routes)
    "material": "sedge",
    "year": "2025",
    "indicator": "share_env_plan",  # (dash, issue 16) an indicator of the demo's plan
}
# Pages that must be HTML when asked for HTML.
HTML_PAGES = {
    "/",
    "/conformance",
    "/collections",
    "/collections/{collectionId}",
    "/collections/{collectionId}/items",
    "/collections/{collectionId}/items/{featureId}",
    "/collections/{collectionId}/items/{featureId}/history",
    "/collections/{collectionId}/queryables",
    "/collections/{collectionId}/schema",
    "/api",
    "/maps",
    "/maps/edit",
    "/maps/routes/{routeId}",
    "/analysis/zone-checks",
    "/indicators",
    "/indicators/actions",
    "/maps/indicators/{indicator}",
}
_NONCE = re.compile(r"script-src 'self' 'nonce-([A-Za-z0-9_-]{16,})'")


def _get_paths(client: TestClient) -> list[str]:
    return sorted(p for p, methods in route_table(client.app).items() if "GET" in methods)


def _common(headers: Any, where: str) -> None:
    assert headers["x-content-type-options"] == "nosniff", where
    assert headers["referrer-policy"] == "same-origin", where
    assert headers["x-frame-options"] == "DENY", where
    assert "frame-ancestors 'none'" in headers["content-security-policy"], where


def _html_policy(headers: Any, where: str) -> str:
    policy = headers["content-security-policy"]
    found = _NONCE.search(policy)
    assert found, (where, policy)
    for directive in ("object-src 'none'", "base-uri 'none'", "frame-ancestors 'none'"):
        assert directive in policy, (where, policy)
    assert "'unsafe-inline'" not in policy.split("script-src", 1)[1].split(";", 1)[0]
    return found.group(1)


def test_every_get_route_sends_the_headers_and_html_a_fresh_nonce(
    client: TestClient, session: Session
) -> None:
    values = {**PATH_VALUES, **path_ids(session)}
    paths = _get_paths(client)
    assert HTML_PAGES <= set(paths), HTML_PAGES - set(paths)
    html_seen = set()
    for path in paths:
        url = concrete(path, values)
        answer = client.get(url, params={"f": "html"}, headers={"Accept": "text/html"})
        if answer.status_code == 400:  # a route with no HTML form refuses f=html
            answer = client.get(url, headers={"Accept": "text/html"})
        _common(answer.headers, url)
        if not answer.headers.get("content-type", "").startswith("text/html"):
            assert "default-src 'none'" in answer.headers["content-security-policy"], url
            continue
        if path not in HTML_PAGES and 400 <= answer.status_code < 500:
            # A route with no page of its own refused the bare request (/package without an
            # area, an import job that does not exist): the readable problem page.
            assert answer.status_code in {400, 401, 404}, (url, answer.status_code)
            _html_policy(answer.headers, url)
            assert "<script" not in answer.text.lower(), url
            continue
        assert answer.status_code == 200, (url, answer.status_code, answer.text[:300])
        html_seen.add(path)
        first = _html_policy(answer.headers, url)
        again = client.get(url, params={"f": "html"}, headers={"Accept": "text/html"})
        assert _html_policy(again.headers, url) != first, url
        # Every inline script carries this response's nonce, and nothing else does.
        tags = re.findall(r"<script\b[^>]*>", answer.text, flags=re.IGNORECASE)
        assert all(f'nonce="{first}"' in tag for tag in tags), (url, tags[:3])
        # No inline event handler in the markup: CSP would block it.
        markup = re.sub(r"<script\b.*?</script>", "", answer.text, flags=re.DOTALL | re.I)
        assert re.findall(r"<[a-z]+\s[^>]*\bon[a-z]+\s*=", markup, flags=re.I) == [], url
    assert HTML_PAGES <= html_seen, HTML_PAGES - html_seen


def test_only_the_overview_allows_eval(client: TestClient, session: Session) -> None:
    # leaflet-measure builds its templates with new Function(); only /maps has it.
    overview = client.get("/maps").headers["content-security-policy"]
    assert "'unsafe-eval'" in overview
    route = f"/maps/routes/{make_route(session, stops=TWO_STOPS)}"
    for url in ("/maps/edit", route, "/?f=html", "/collections/villages/items?f=html"):
        assert "'unsafe-eval'" not in client.get(url).headers["content-security-policy"], url


def test_html_error_page_has_the_policy_and_escapes_the_path(client: TestClient) -> None:
    answer = client.get("/collections/<img src=x onerror=alert(1)>/items?f=html")
    assert answer.status_code == 404
    assert answer.headers["content-type"].startswith("text/html")
    _common(answer.headers, "404")
    _html_policy(answer.headers, "404")
    assert "<img" not in answer.text and "&lt;img src=x onerror=alert(1)&gt;" in answer.text


def test_problem_json_and_static_files_get_the_headers(client: TestClient) -> None:
    problem = client.get("/collections/nope")
    assert problem.status_code == 404
    _common(problem.headers, "problem")
    assert problem.headers["content-security-policy"].startswith("default-src 'none'")


@pytest.fixture
def tiles_client(database_url: str, session: Session) -> Iterator[TestClient]:
    settings = ApiSettings(basemap_url="https://{s}.tile.example.org/{z}/{x}/{y}.png")
    app = create_app(settings, DatabaseSettings(database_url=database_url))
    app.dependency_overrides[get_session] = lambda: session
    app.state.read_connection_override = session.connection
    with TestClient(app) as test_client:
        yield test_client


def test_the_basemap_host_may_serve_images(tiles_client: TestClient, session: Session) -> None:
    route = f"/maps/routes/{make_route(session, stops=TWO_STOPS)}"
    policy = tiles_client.get(route).headers["content-security-policy"]
    assert "img-src 'self' data: https://*.tile.example.org;" in policy


def test_policy_sources() -> None:
    assert origin("none") is None
    assert origin("https://tile.openstreetmap.org/{z}/{x}/{y}.png") == (
        "https://tile.openstreetmap.org"
    )
    assert origin("javascript:alert(1)//{z}") is None
    assert origin("http://u:p@tiles.local:8080/{z}/{x}/{y}.png") == "http://tiles.local:8080"
    assert "img-src 'self' data:;" in content_security_policy("A" * 24)
