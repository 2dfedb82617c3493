"""schemathesis over craftmap's own OpenAPI document (``/api``), reads and writes.

The document is the contract: every answer must be one it lists, with the media type,
headers and body schema it gives, and no request it describes may get a 5xx. Writes carry
an admin key and per-collection bodies built from the collection schema, so generated
features reach the write path (validation, rules, the database, history) and commit: the
test runs on a database of its own, against a real ``craftmap serve`` process, so that a
crash in a native parser is a failure here rather than the death of pytest.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import hypothesis
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from openapi_spec_validator import validate
from openapi_spec_validator.validation import OpenAPIV30SpecValidator
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.generation import GenerationMode

from geo.io import ingest
from geo.store import catalog
from geo.store.db import make_engine
from tests.conftest import (
    ROOMY_RATE_LIMIT_ENV,
    create_database,
    drop_database,
    migrate_with_demo,
)
from tests.factories import make_key
from tests.live import LiveServer, live_server

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]
# Examples per operation and generation mode: ~65 operations × 2 modes. 20 took four
# minutes of the suite on a shared 2-core machine, its longest test, and 10 still two
# (75 of its 121 s were schemathesis' own generating and checking, 46 s the server's);
# the draws are derandomised, so the same 7 run every time.
MAX_EXAMPLES = 7
# Rendering the report takes seconds a call: its 20 draws took 33 s of the run's 120, and 6
# still 16 s. Its parameters are three (year, programme, language).
SLOW_OPERATIONS = {"GET /indicators/report.pdf": 2}
# The documented examples are few: a handful of draws covers them.
EXAMPLE_DRAWS = 4
# Writes without the key: all are refused the same way.
ANONYMOUS_DRAWS = 3
SETTINGS = hypothesis.settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    # Shrinking would repeat committed writes; a failure is reported as generated.
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
    verbosity=hypothesis.Verbosity.quiet,
    report_multiple_bugs=False,
)


LANDMARKS = {
    "type": "FeatureCollection",
    "features": [
        {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [105.8148, 19.8306]},
            "properties": {
                "name": "Núi Hàm Rồng",
                "height_m": 120.5,
                "visited": True,
                "tags": ["di tích", "núi"],
            },
        },
        {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [105.6033, 20.0773]},
            "properties": {"name": "Thành nhà Hồ", "height_m": 0, "visited": False},
        },
    ],
}


@dataclass
class Outcome:
    """What the run saw."""

    calls: int = 0
    statuses: dict[str, set[int]] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)


@pytest.fixture(scope="module")
def served(
    pg_server_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[LiveServer, str]]:
    """``craftmap serve`` on a demo database of this module's own, and an admin key."""
    url = create_database(pg_server_url, "craftmap_schemathesis")
    migrate_with_demo(url)
    # A reference layer too: its collection's schema is read from the data.
    landmarks = tmp_path_factory.mktemp("layer") / "landmarks.geojson"
    landmarks.write_text(json.dumps(LANDMARKS), encoding="utf-8")
    engine = make_engine(url)
    ingest.import_reference_layer(
        engine, landmarks, name="landmarks", title="Danh thắng", kind="other", actor="test-setup"
    )
    engine.dispose()
    token = make_key(url, "admin", "schemathesis")
    try:
        # Thousands of generated writes and keyless calls from one address: the rate limits
        # are tested elsewhere (tests/api/test_keys_hardening.py).
        with live_server(
            url, tmp_path_factory.mktemp("schemathesis"), env=ROOMY_RATE_LIMIT_ENV
        ) as server:
            yield server, token
    finally:
        drop_database(url)


def _new_log(server: LiveServer, offset: int) -> str:
    with server.log_path.open("rb") as log:
        log.seek(offset)
        return log.read().decode(errors="replace")


def _exercise(
    operation: Any,
    mode: str,
    strategy: Any,
    server: LiveServer,
    auth: dict[str, str],
    outcome: Outcome,
) -> None:
    label = operation.label
    draws = {"examples": EXAMPLE_DRAWS, "anonymous": ANONYMOUS_DRAWS}.get(mode, MAX_EXAMPLES)
    if label in SLOW_OPERATIONS:
        draws = min(draws, SLOW_OPERATIONS[label])

    @hypothesis.settings(SETTINGS, max_examples=draws)
    @given(case=strategy)
    def run(case: Any) -> None:
        offset = server.log_path.stat().st_size
        response = case.call(headers=auth, timeout=60)
        outcome.calls += 1
        key = f"{label} ({mode})" if mode == "anonymous" else label
        outcome.statuses.setdefault(key, set()).add(response.status_code)
        try:
            case.validate_response(response, checks=CHECKS)
        except Exception as exc:
            # The server's side of a failure (a 500's traceback) is in its log.
            raise AssertionError(f"{exc}\nserver log:\n{_new_log(server, offset)[-3000:]}") from exc

    try:
        run()
    except Unsatisfiable:
        # Nothing to make invalid (no parameters, or only free-form strings): the positive
        # run covered the operation.
        if mode != "negative":
            raise
    except Exception as exc:  # noqa: BLE001 - every operation's failure is collected
        outcome.failures.append(f"{label} ({mode}): {exc}")


# -- the document itself ---------------------------------------------------------------------
def _document(server: LiveServer) -> dict[str, Any]:
    answer = server.request("/api")
    assert answer.status == 200
    assert answer.headers["content-type"] == "application/vnd.oai.openapi+json;version=3.0"
    document: dict[str, Any] = json.loads(answer.body)
    return document


def _resolve(document: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        target: Any = document
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def test_document_types_the_items_parameters(served: tuple[LiveServer, str]) -> None:
    document = _document(served[0])
    validate(document, cls=OpenAPIV30SpecValidator)
    params = {
        p["name"]: p for p in document["paths"]["/collections/villages/items"]["get"]["parameters"]
    }
    assert params["limit"]["schema"] == {
        "type": "integer",
        "minimum": 1,
        "maximum": 10_000,
        "default": 10,
    }
    assert params["offset"]["schema"]["type"] == "integer"
    assert params["offset"]["schema"]["minimum"] == 0
    bbox = params["bbox"]
    assert (bbox["style"], bbox["explode"]) == ("form", False)
    assert bbox["schema"]["type"] == "array"
    assert bbox["schema"]["items"] == {"type": "number"}
    assert "http://www.opengis.net/def/crs/EPSG/0/5897" in params["crs"]["schema"]["enum"]
    assert params["bbox-crs"]["schema"]["enum"] == params["crs"]["schema"]["enum"]
    assert params["filter-lang"]["schema"]["enum"] == ["cql2-text", "cql2-json"]
    assert "-name" in params["sortby"]["schema"]["items"]["enum"]
    # A queryable is a parameter of its own (equality filter).
    assert params["kind"]["schema"]["enum"] == [
        "craft_village",
        "traditional_craft_village",
        "traditional_craft",
    ]


def test_document_lists_every_error_as_problem_json(served: tuple[LiveServer, str]) -> None:
    document = _document(served[0])
    create = document["paths"]["/collections/villages/items"]["post"]
    statuses = set(create["responses"])
    assert {"201", "400", "401", "403", "409", "413", "429", "503"} <= statuses
    assert "422" not in statuses
    replace = document["paths"]["/collections/villages/items/{featureId}"]["put"]
    assert {"404", "412"} <= set(replace["responses"])
    for status in ("400", "401", "403", "404", "409", "412", "413", "429", "503"):
        response = document["components"]["responses"][status]
        problem = response["content"]["application/problem+json"]["schema"]
        assert _resolve(document, problem)["required"] == ["type", "title", "status"]
    for path, path_item in document["paths"].items():
        for method, operation in path_item.items():
            # craftmap answers 400 problem details where FastAPI would say 422.
            assert "422" not in operation["responses"], (method, path)
            assert "429" in operation["responses"], (method, path)
    assert create["security"] == [{"bearerAuth": []}, {"apiKey": []}]
    schemes = document["components"]["securitySchemes"]
    assert schemes["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "description": schemes["bearerAuth"]["description"],
    }
    assert schemes["apiKey"] == {"type": "apiKey", "in": "header", "name": "X-API-Key"}
    items = document["paths"]["/collections/villages/items"]["get"]["responses"]["200"]
    assert "application/geo+json" in items["content"]
    queryables = document["paths"]["/collections/{collectionId}/queryables"]["get"]
    assert "application/schema+json" in queryables["responses"]["200"]["content"]
    api = document["paths"]["/api"]["get"]["responses"]["200"]["content"]
    assert "application/vnd.oai.openapi+json;version=3.0" in api


def test_reference_layer_bodies_take_any_properties(served: tuple[LiveServer, str]) -> None:
    document = _document(served[0])
    create = document["paths"]["/collections/landmarks/items"]["post"]
    body = _resolve(document, create["requestBody"]["content"]["application/json"]["schema"])
    properties = body["properties"]["properties"]
    assert "additionalProperties" not in properties
    assert properties["properties"]["height_m"]["type"] == "number"
    assert properties["properties"]["visited"]["type"] == "boolean"
    assert len(body["properties"]["geometry"]["oneOf"]) == 6
    read = document["paths"]["/collections/landmarks/items"]["get"]
    assert {"name", "height_m", "visited"} <= {p["name"] for p in read["parameters"]}


@pytest.mark.parametrize(
    "query",
    [
        "updated_at=1816-11-20T11%3A36%3A58%2B06%3A01",
        "version=1",
        "filter=version%3D1",
        "filter=updated_at%3ETIMESTAMP(%272020-01-01T00:00:00Z%27)",
    ],
)
def test_reference_layer_filters_on_its_server_kept_properties(
    served: tuple[LiveServer, str], query: str
) -> None:
    # Found by the schemathesis run: these are columns of their own, not keys of the
    # stored properties, and comparing the JSON text with a timestamp answered 500.
    answer = served[0].request(f"/collections/landmarks/items?{query}")
    assert answer.status == 200, answer.body
    body = json.loads(answer.body)
    assert body["numberMatched"] == (0 if query.startswith("updated_at") else 2)


@pytest.mark.parametrize(
    "path",
    ["/tiles/WebMercatorQuad/0/0/0", "/collections/landmarks/tiles/WebMercatorQuad/0/0/0"],
)
def test_tiles_carry_a_reference_layer_list(served: tuple[LiveServer, str], path: str) -> None:
    # Found by the schemathesis run: a list under a reference feature's key is JSON text,
    # not a PostgreSQL array, and array_to_string on it made every combined tile a 500.
    # At zoom 0 a layer carries only its code lists unless the request names its
    # properties (LOW_ZOOM_RULE, issue 17): name the list.
    answer = served[0].request(f"{path}?properties=tags")
    assert answer.status == 200, answer.body
    assert answer.headers["content-type"] == "application/vnd.mapbox-vector-tile"
    assert "di tích".encode() in answer.body


@pytest.mark.parametrize("collection", [c.id for c in catalog.CORE])
def test_write_bodies_come_from_the_collection_schema(
    served: tuple[LiveServer, str], collection: str
) -> None:
    server = served[0]
    document = _document(server)
    served_schema = json.loads(server.request(f"/collections/{collection}/schema").body)
    create = document["paths"][f"/collections/{collection}/items"]["post"]
    body = _resolve(document, create["requestBody"]["content"]["application/json"]["schema"])
    properties = body["properties"]["properties"]
    # (ogc, issue 10) the served schema lists the geometry too (Part 5): it agrees with the
    # body's geometry member, required and non-null exactly when /schema requires it.
    served_geometry = served_schema["properties"].pop("geometry")
    geometry_required = "geometry" in served_schema["required"]
    served_schema["required"] = [n for n in served_schema["required"] if n != "geometry"]
    assert served_geometry["x-ogc-role"] == "primary-geometry"
    assert (served_geometry["type"] == "object") is geometry_required
    assert bool(body["properties"]["geometry"].get("nullable")) is not geometry_required
    assert set(properties["properties"]) == set(served_schema["properties"])
    assert sorted(properties.get("required", [])) == sorted(served_schema["required"])
    for name, prop in served_schema["properties"].items():
        documented = properties["properties"][name]
        assert documented["type"] == prop["type"], name
        for keyword in ("maxLength", "minimum", "maximum", "format"):
            assert documented.get(keyword) == prop.get(keyword), (name, keyword)
    geometry = json.dumps(body["properties"]["geometry"])
    accepted = catalog.BY_ID[collection].accepted_geometries
    assert all(f"#/components/schemas/{kind}" in geometry for kind in accepted)
    put = document["paths"][f"/collections/{collection}/items/{{featureId}}"]["put"]
    content = put["requestBody"]["content"]["application/json"]
    assert content["schema"] == create["requestBody"]["content"]["application/json"]["schema"]


# -- schemathesis: last in the module, because its writes commit and change the data ----
def test_every_answer_matches_the_document_and_none_is_a_server_error(
    served: tuple[LiveServer, str],
) -> None:
    server, token = served
    schema = schemathesis.openapi.from_url(f"{server.url}/api")
    auth = {"Authorization": f"Bearer {token}"}
    outcome = Outcome()
    operations = [result.ok() for result in schema.get_all_operations()]
    # The documented examples first, before generated deletes remove the demo features
    # they refer to: the create examples are valid features.
    for operation in operations:
        examples = schema.get_strategies_from_examples(operation)
        if examples:
            _exercise(operation, "examples", st.one_of(examples), server, auth, outcome)
    writes = [op for op in operations if op.method.upper() != "GET"]
    for operation in writes:
        # No key (schemathesis may still send a made-up one): 401 with WWW-Authenticate.
        strategy = operation.as_strategy()
        _exercise(operation, "anonymous", strategy, server, {}, outcome)
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            strategy = operation.as_strategy(generation_mode=mode)
            _exercise(operation, mode.value, strategy, server, auth, outcome)
    print(f"{outcome.calls} calls; statuses {outcome.statuses}")
    assert server.alive(), f"craftmap serve died:\n{server.log()[-3000:]}"
    assert not outcome.failures, "\n\n".join(outcome.failures)
    # The writes got past authentication and validation: features were created and changed.
    written = {
        status
        for label, statuses in outcome.statuses.items()
        if label.split()[0] in {"POST", "PUT", "PATCH", "DELETE"}
        for status in statuses
    }
    assert {200, 201, 204} <= written, outcome.statuses
    # Every collection's documented example was created, the reference layer's too; a
    # read-only collection (the road network, built by its importer) refused every write.
    for collection in [*(c.id for c in catalog.CORE if not c.read_only), "landmarks"]:
        assert 201 in outcome.statuses[f"POST /collections/{collection}/items"], collection
    for collection in (c.id for c in catalog.CORE if c.read_only):
        for method in ("POST", "PUT", "PATCH", "DELETE"):
            path = "items" if method == "POST" else "items/{featureId}"
            assert outcome.statuses[f"{method} /collections/{collection}/{path}"] == {403}
    refused = {
        status
        for label, statuses in outcome.statuses.items()
        if label.endswith("(anonymous)")
        for status in statuses
    }
    assert 401 in refused, outcome.statuses
    assert outcome.calls >= len(operations) * 2
