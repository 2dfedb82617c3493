"""Query strings become typed values in api/params.py; property equalities become CQL2."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session
from starlette.datastructures import QueryParams

from api.params import property_equalities
from geo.store import catalog


def test_property_equalities_are_cql2_json(session: Session) -> None:
    villages = catalog.get_collection(session, "villages")
    query = QueryParams("limit=5&households=120&name=L%C3%A0ng%20G%E1%BB%91m&f=json")
    assert property_equalities(query, villages) == {
        "op": "and",
        "args": [
            {"op": "=", "args": [{"property": "households"}, 120]},
            {"op": "=", "args": [{"property": "name"}, "Làng Gốm"]},
        ],
    }
    zones = catalog.get_collection(session, "material-zones")
    assert property_equalities(QueryParams("material=sedge"), zones) == {
        "op": "=",
        "args": [{"property": "material"}, "sedge"],
    }
    assert property_equalities(QueryParams("limit=5&bbox=1,2,3,4"), villages) is None


def test_a_filter_and_property_equalities_must_all_hold(client: TestClient) -> None:
    base = "/collections/material-zones/items?limit=100"
    sedge = client.get(f"{base}&material=sedge").json()["numberMatched"]
    assert sedge > 0
    both = client.get(f"{base}&material=sedge&filter=material='sedge'").json()
    assert both["numberMatched"] == sedge
    never = client.get(f"{base}&material=sedge&filter=material<>'sedge'").json()
    assert never["numberMatched"] == 0 and never["features"] == []
