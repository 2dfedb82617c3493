"""The map routes over HTTP: HTML pages, and 4xx problems for bad input."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests.factories import MISSING_ID, TWO_STOPS, make_route


def test_overview_page_is_html_with_every_theme(client: TestClient) -> None:
    response = client.get("/maps?lang=en")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    page = response.text
    for theme in ("Craft villages", "Raw-material zones", "Tourism routes", "Administrative units"):
        assert theme in page
    assert "Trà Đông" in page
    assert "cdn.jsdelivr" not in page and "cdnjs" not in page and "unpkg" not in page


@pytest.mark.parametrize(
    ("url", "status"),
    [
        ("/maps?zoom=3", 400),
        # (ogc, issue 10) a route id that is not one names no route page: 404.
        ("/maps/routes/abc", 404),
        ("/maps/routes/0", 404),
        (f"/maps/routes/{MISSING_ID}", 404),
        ("/maps/edit?role=mayor", 400),
        ("/maps/edit?role=planner&x=1", 400),
    ],
)
def test_bad_map_requests_are_problems(client: TestClient, url: str, status: int) -> None:
    response = client.get(url, headers={"Accept": "application/json"})
    assert response.status_code == status
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["status"] == status


def test_route_map_and_editor_answer(client: TestClient, session: Session) -> None:
    route = client.get(f"/maps/routes/{make_route(session, stops=TWO_STOPS)}")
    assert route.status_code == 200 and "cm-route-panel" in route.text
    editor = client.get("/maps/edit?role=tourism")
    assert editor.status_code == 200 and 'data-collection="routes"' in editor.text
