"""Every link the API writes starts at the configured public URL (api/deps.py::root_url)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from api.deps import get_session
from api.main import create_app
from api.settings import ApiSettings
from ops.settings import DatabaseSettings
from tests.api.conftest import bearer
from tests.api.test_write import ZONE
from tests.conftest import ROOMY_RATE_LIMITS

PUBLIC = "https://maps.example.org/craftmap"


@pytest.fixture
def proxied(database_url: str, session: Session) -> Iterator[TestClient]:
    """The app behind a proxy: clients reach it at PUBLIC (given with a trailing slash)."""
    settings = ApiSettings(public_url=f"{PUBLIC}/", **ROOMY_RATE_LIMITS)
    app = create_app(settings, DatabaseSettings(database_url=database_url))
    app.dependency_overrides[get_session] = lambda: session
    app.state.read_connection_override = session.connection
    with TestClient(app) as test_client:
        yield test_client


def _hrefs(document: Any) -> list[str]:
    """Every ``href`` and URL template in a JSON document."""
    found: list[str] = []
    if isinstance(document, dict):
        for key, value in document.items():
            if key == "href" or (key == "tiles" and isinstance(value, list)):
                found += value if isinstance(value, list) else [value]
            else:
                found += _hrefs(value)
    elif isinstance(document, list):
        for value in document:
            found += _hrefs(value)
    return found


# Links built from the root URL; self/alternate links of these echo the request's own URL.
ROOTED = [
    "/",
    "/collections",
    "/collections/villages",
    "/collections/villages/items?limit=2",
    "/collections/villages/tiles",
    "/collections/villages/tiles/WebMercatorQuad",
    "/collections/villages/tiles/WebMercatorQuad/tilejson.json",
    "/tiles",
    "/tiles/WebMercatorQuad",
    "/tiles/WebMercatorQuad/tilejson.json",
    "/tileMatrixSets",
]


@pytest.mark.parametrize("path", ROOTED)
def test_links_start_at_the_public_url(proxied: TestClient, path: str) -> None:
    response = proxied.get(path)
    assert response.status_code == 200, response.text
    rooted = [h for h in _hrefs(response.json()) if not h.startswith("http://testserver")]
    assert rooted, "the document has links built from the root URL"
    assert all(h.startswith(f"{PUBLIC}/") for h in rooted), rooted


def test_a_feature_and_its_schema_link_to_the_public_url(proxied: TestClient) -> None:
    first = proxied.get("/collections/villages/items?limit=1").json()["features"][0]
    feature = proxied.get(f"/collections/villages/items/{first['id']}").json()
    assert {link["rel"] for link in feature["links"]} >= {"self", "collection"}
    assert all(link["href"].startswith(f"{PUBLIC}/") for link in feature["links"])
    schema = proxied.get("/collections/villages/schema").json()
    assert schema["$id"].startswith(f"{PUBLIC}/")


def test_a_created_feature_is_located_at_the_public_url(
    proxied: TestClient, keys: dict[str, str]
) -> None:
    response = proxied.post(
        "/collections/material-zones/items", json=ZONE, headers=bearer(keys["planner"])
    )
    assert response.status_code == 201, response.text
    assert response.headers["location"].startswith(f"{PUBLIC}/collections/material-zones/items/")
    assert all(link["href"].startswith(f"{PUBLIC}/") for link in response.json()["links"])


def test_the_map_pages_call_the_public_url(proxied: TestClient) -> None:
    page = proxied.get("/maps").text
    assert f"{PUBLIC}/tiles/WebMercatorQuad" in page or f"{PUBLIC}/collections" in page


def test_without_a_public_url_links_follow_the_request(client: TestClient) -> None:
    body = client.get("/").json()
    assert all(h.startswith("http://testserver/") for h in _hrefs(body))
