"""/health, /ready, the landing page, problem responses and request logs."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from api.main import create_app
from api.settings import ApiSettings
from geo.store import migrate
from ops.cluster import LocalCluster
from ops.settings import DatabaseSettings
from tests.conftest import FAST_SERVER


def _app_client(url: str) -> TestClient:
    return TestClient(create_app(ApiSettings(), DatabaseSettings(database_url=url)))


def test_health(client: TestClient) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_ready_on_a_migrated_database(database_url: str) -> None:
    with _app_client(database_url) as client:
        response = client.get("/ready")
    assert response.status_code == 200
    assert response.json()["schema_revision"] == migrate.head_revision()


def test_ready_is_503_until_migrated(fresh_database_url: str) -> None:
    with _app_client(fresh_database_url) as client:
        response = client.get("/ready")
        assert response.status_code == 503
        assert response.headers["content-type"] == "application/problem+json"
        assert "craftmap migrate" in response.json()["detail"]
        assert client.get("/health").status_code == 200
        migrate.upgrade(fresh_database_url)
        assert client.get("/ready").status_code == 200


@pytest.fixture
def own_cluster(tmp_path: Path) -> Iterator[LocalCluster]:
    cluster = LocalCluster(tmp_path / "own", server_options=FAST_SERVER)
    cluster.start()
    migrate.upgrade(cluster.url())
    yield cluster
    cluster.destroy()


def test_ready_is_503_while_the_database_is_stopped(own_cluster: LocalCluster) -> None:
    with _app_client(own_cluster.url()) as client:
        assert client.get("/ready").status_code == 200
        own_cluster.stop()
        response = client.get("/ready")
        assert response.status_code == 503
        assert response.json()["detail"] == "the database cannot be reached"
        assert client.get("/health").status_code == 200
        own_cluster.start()
        assert client.get("/ready").status_code == 200


def test_landing_lists_collections_with_counts(client: TestClient, session: Session) -> None:
    villages = session.execute(sa.text("SELECT count(*) FROM craft_village")).scalar()
    zones = session.execute(sa.text("SELECT count(*) FROM material_zone")).scalar()
    body = client.get("/", headers={"Accept": "application/json"}).json()
    counts = {c["id"]: c["feature_count"] for c in body["collections"]}
    assert counts["villages"] == villages >= 30
    assert counts["material-zones"] == zones >= 10
    assert set(counts) >= {"villages", "material-zones", "routes", "route-stops", "admin-units"}


def test_landing_html_speaks_vietnamese_then_english(client: TestClient) -> None:
    vi = client.get("/", headers={"Accept": "text/html"})
    assert vi.headers["content-type"].startswith("text/html")
    assert 'lang="vi"' in vi.text and "Làng nghề" in vi.text and "Vùng nguyên liệu" in vi.text
    en = client.get("/?f=html&lang=en")
    assert 'lang="en"' in en.text and "Craft villages" in en.text
    by_header = client.get("/?f=html", headers={"Accept-Language": "en-GB,en;q=0.9"})
    assert "Raw-material zones" in by_header.text


def test_unknown_path_is_a_problem(client: TestClient) -> None:
    response = client.get("/no/such/thing")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["status"] == 404


def test_each_request_is_logged_as_structured_fields(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="craftmap.access"):
        response = client.get("/health?probe=1", headers={"X-Request-ID": "abc123"})
    assert response.headers["x-request-id"] == "abc123"
    records = [r for r in caplog.records if r.name == "craftmap.access"]
    assert records, "no access log record"
    record = records[-1]
    assert (record.method, record.path, record.status, record.query) == (
        "GET",
        "/health",
        200,
        "probe=1",
    )
    assert record.request_id == "abc123" and record.duration_ms >= 0
    from api.logs import JsonFormatter

    line = json.loads(JsonFormatter().format(record))
    assert line["path"] == "/health" and line["status"] == 200 and line["message"] == "request"
