"""HEAD, OPTIONS, 405 and conditional requests, generated from the app's route table.

Every route the app registers is called with ids of features the test makes, so a route
added later is checked the day it is added: HEAD answers as GET without a body, OPTIONS
and 405 name the methods of the path, and every answer with an ETag revalidates
(RFC 9110 §13).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from api import etags
from tests.api.conftest import bearer
from tests.api.test_write import ZONE
from tests.factories import committed_village
from tests.live import LiveServer
from tests.routes import concrete, route_table

ALL_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
ITEM = "/collections/villages/items/{featureId}"
TILE = "/tiles/WebMercatorQuad/8/113/203"
# Headers of an answer that describe it (a HEAD sends the GET's); Date, request ids and
# CSP nonces are per response.
DESCRIBING = (
    "content-type",
    "etag",
    "vary",
    "content-encoding",
    "content-crs",
    "content-disposition",
    "cache-control",
    "allow",
    "location",
)


def _get_paths(client: TestClient, sample: dict[str, str]) -> list[str]:
    table = route_table(client.app)
    paths = [concrete(p, sample) for p, methods in table.items() if "GET" in methods]
    assert len(paths) > 20 and concrete(ITEM, sample) in paths and TILE in paths
    return paths


def _methods(value: str) -> set[str]:
    return {m.strip() for m in value.split(",") if m.strip()}


def _vary(response: object) -> set[str]:
    return {v.strip().lower() for v in response.headers.get("vary", "").split(",") if v.strip()}  # type: ignore[attr-defined]


# Each answer of a GET route in the forms a client may ask for.
VARIANTS: dict[str, dict[str, str]] = {
    "json": {"Accept": "application/json", "Accept-Encoding": "identity"},
    "json-gzip": {"Accept": "application/json", "Accept-Encoding": "gzip"},
    "html": {"Accept": "text/html", "Accept-Encoding": "identity"},
    "html-en": {"Accept": "text/html", "Accept-Language": "en", "Accept-Encoding": "gzip"},
}


# Answers that take seconds to make (the report rendered to PDF, the siting analysis): one
# variant, the one that differs most from the default (gzip, English), not four. All four
# took 52 s of HEAD-equals-GET's 80, two still 26 s of 44, and each of them is made again
# for every revalidation.
HEAVY = {"/indicators/report.pdf", "/maps/analysis/sites"}
HEAVY_VARIANTS = {"html-en"}


# -- HEAD, OPTIONS, 405 --------------------------------------------------------------------------
def test_head_is_get_without_its_body_on_every_get_route(
    client: TestClient, sample: dict[str, str]
) -> None:
    checked = 0
    paths = _get_paths(client, sample) + [
        "/collections/villages/items?limit=5000",  # streamed page
        "/collections/villages/export?crs=http://www.opengis.net/def/crs/EPSG/0/3405",
        "/collections/villages/export?bbox=1,2",  # 400, as the GET
        "/collections/nowhere/export",  # 404, as the GET
    ]
    assert HEAVY <= set(paths)
    for path in paths:
        for name, headers in VARIANTS.items():
            if path in HEAVY and name not in HEAVY_VARIANTS:
                continue
            got = client.get(path, headers=headers)
            head = client.head(path, headers=headers)
            assert head.status_code == got.status_code, (path, name)
            assert head.content == b"", (path, name)
            for header in DESCRIBING:
                assert head.headers.get(header) == got.headers.get(header), (path, name, header)
            same_bytes = "etag" in got.headers or "text/html" not in got.headers["content-type"]
            if same_bytes:  # (map pages carry fresh ids and nonces: their lengths may differ)
                assert head.headers.get("content-length") == got.headers.get("content-length")
            checked += 1
    assert checked >= 4 * 24


def test_head_of_an_export_runs_no_query_over_the_features(
    client: TestClient, session: Session
) -> None:
    statements: list[str] = []

    def record(conn: object, cursor: object, statement: str, *args: object) -> None:
        statements.append(statement)

    engine = session.connection().engine
    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        for path in ("/collections/villages/export", "/collections/villages/items?limit=5000"):
            statements.clear()
            head = client.head(path)
            assert head.status_code == 200 and head.content == b""
            at_head = [s for s in statements if "ST_AsGeoJSON" in s or "json_build" in s]
            statements.clear()
            got = client.get(path)
            assert got.status_code == 200 and got.json()["features"]
            at_get = [s for s in statements if "ST_AsGeoJSON" in s or "json_build" in s]
            assert at_get and not at_head, (path, at_get, at_head)
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)


def test_options_and_405_name_the_methods_of_every_route(
    client: TestClient, sample: dict[str, str]
) -> None:
    for path_format, declared in route_table(client.app).items():
        path = concrete(path_format, sample)
        expected = declared | {"OPTIONS"} | ({"HEAD"} if "GET" in declared else set())
        answer = client.options(path)
        assert answer.status_code in {200, 204}, (path, answer.text)
        assert _methods(answer.headers["allow"]) == expected, path
        for method in set(ALL_METHODS) - expected:
            refused = client.request(method, path)
            assert refused.status_code == 405, (method, path)
            assert _methods(refused.headers["allow"]) == expected, (method, path)
            assert refused.headers["content-type"] == "application/problem+json"


# -- conditional GETs ----------------------------------------------------------------------------
def _answers_with_etags(
    client: TestClient, sample: dict[str, str]
) -> Iterator[tuple[str, dict[str, str], object]]:
    for path in _get_paths(client, sample):
        for name, headers in VARIANTS.items():
            if path in HEAVY and name not in HEAVY_VARIANTS:
                continue
            got = client.get(path, headers=headers)
            if "etag" in got.headers:
                yield path, headers, got


def test_every_etag_revalidates(client: TestClient, sample: dict[str, str]) -> None:
    seen = set()
    for path, headers, got in _answers_with_etags(client, sample):
        etag = got.headers["etag"]  # type: ignore[attr-defined]
        seen.add((path, etag))
        assert not etag.startswith("W/"), (path, etag)
        for condition in (etag, f"W/{etag}", "*", f'"nothing", {etag}'):
            for method in ("GET", "HEAD"):
                again = client.request(
                    method, path, headers={**headers, "If-None-Match": condition}
                )
                assert again.status_code == 304, (path, headers, condition, method)
                assert again.content == b""
                assert again.headers["etag"] == etag, (path, headers, condition)
                assert _vary(again) >= _vary(got), (path, headers)
                assert (
                    "content-length" not in again.headers or again.headers["content-length"] == "0"
                )
        for other in ('"nothing"', 'W/"nothing"', f'"{etag.strip(chr(34))}x"'):
            fresh = client.get(path, headers={**headers, "If-None-Match": other})
            assert fresh.status_code == 200 and fresh.content == got.content, (path, other)  # type: ignore[attr-defined]
    paths = {p for p, _ in seen}
    assert concrete(ITEM, sample) in paths and TILE in paths, paths


def test_each_representation_of_an_item_has_its_own_etag(
    client: TestClient, sample: dict[str, str]
) -> None:
    item = concrete(ITEM, sample)
    plain = {"Accept-Encoding": "identity"}
    forms = {
        "geojson": {**plain, "Accept": "application/geo+json"},
        "html-vi": {**plain, "Accept": "text/html", "Accept-Language": "vi"},
        "html-en": {**plain, "Accept": "text/html", "Accept-Language": "en"},
    }
    tags = {name: client.get(item, headers=h).headers["etag"] for name, h in forms.items()}
    crs = "?crs=http://www.opengis.net/def/crs/EPSG/0/3405"
    tags["geojson-3405"] = client.get(item + crs, headers=plain).headers["etag"]
    assert len(set(tags.values())) == len(tags), tags
    version = re.fullmatch(r'"v(\d+)"', tags["geojson"])
    assert version is not None, tags
    # (issue 12) the page's tag also digests the related features it lists
    assert re.fullmatch(rf'"v{version[1]}-html-en-[0-9a-f]+"', tags["html-en"]), tags
    assert tags["geojson-3405"] == f'"v{version[1]}-3405"'
    # A client holding the GeoJSON gets the HTML in full, and the other way round.
    html = client.get(item, headers={**forms["html-vi"], "If-None-Match": tags["geojson"]})
    assert html.status_code == 200 and "text/html" in html.headers["content-type"]
    assert html.headers["etag"] == tags["html-vi"]
    as_json = client.get(item, headers={**plain, "If-None-Match": tags["html-vi"]})
    assert as_json.status_code == 200 and as_json.json()["id"] == int(sample["featureId"])
    english = client.get(item, headers={**forms["html-en"], "If-None-Match": tags["html-vi"]})
    assert english.status_code == 200 and english.headers["etag"] == tags["html-en"]


def test_a_gzip_tile_has_its_own_etag_and_both_revalidate(client: TestClient) -> None:
    plain = client.get(TILE, headers={"Accept-Encoding": "identity"})
    packed = client.get(TILE, headers={"Accept-Encoding": "gzip"})
    assert plain.status_code == packed.status_code == 200
    assert len(plain.content) >= 1024, "the tile must be big enough to be compressed"
    assert "content-encoding" not in plain.headers
    assert packed.headers["content-encoding"] == "gzip"
    assert packed.content == plain.content  # (decoded by the client)
    plain_tag, packed_tag = plain.headers["etag"], packed.headers["etag"]
    assert packed_tag == plain_tag[:-1] + '-gzip"' and plain_tag != packed_tag
    for encoding, held in (("identity", plain_tag), ("gzip", packed_tag)):
        for condition in (held, f"W/{held}", plain_tag, packed_tag):
            again = client.get(
                TILE, headers={"Accept-Encoding": encoding, "If-None-Match": condition}
            )
            assert again.status_code == 304, (encoding, condition)
            # The 304 names the form the client holds.
            assert again.headers["etag"] == condition.removeprefix("W/")
            assert "accept-encoding" in _vary(again)
    assert "accept-encoding" in _vary(plain) and "accept-encoding" in _vary(packed)


def test_negotiated_answers_name_what_they_depend_on(
    client: TestClient, sample: dict[str, str]
) -> None:
    negotiated = 0
    for path in _get_paths(client, sample):
        as_json = client.get(path, headers={"Accept": "application/json"})
        as_html = client.get(path, headers={"Accept": "text/html"})
        english = client.get(path, headers={"Accept": "text/html", "Accept-Language": "en"})
        for answer in (as_json, as_html, english):
            assert "accept-encoding" in _vary(answer), path
        if as_json.headers.get("content-type") != as_html.headers.get("content-type"):
            negotiated += 1
            for answer in (as_json, as_html, english):
                assert {"accept", "accept-language"} <= _vary(answer), (path, answer.headers)
        if as_html.status_code == 200 and "text/html" in as_html.headers.get("content-type", ""):
            # Every HTML page speaks the asked language.
            assert english.text != as_html.text, path
            assert "accept-language" in _vary(as_html), path
    assert negotiated >= 8


# -- If-Match on writes --------------------------------------------------------------------------
def test_if_match_uses_strong_comparison(client: TestClient, keys: dict[str, str]) -> None:
    created = client.post(
        "/collections/material-zones/items", json=ZONE, headers=bearer(keys["planner"])
    )
    assert created.status_code == 201, created.text
    url = created.headers["location"][created.headers["location"].index("/collections") :]
    writer = bearer(keys["planner"])

    def patch(if_match: str, name: str) -> object:
        return client.patch(
            url, json={"properties": {"name": name}}, headers={**writer, "If-Match": if_match}
        )

    etag = client.get(url).headers["etag"]
    for weak in (f"W/{etag}", "W/" + etag[:-1] + '-html-vi"'):
        refused = patch(weak, "yếu")
        assert refused.status_code == 412, (weak, refused.text)  # type: ignore[attr-defined]
        assert refused.headers["content-type"] == "application/problem+json"  # type: ignore[attr-defined]
    assert client.get(url).json()["properties"]["name"] == ZONE["properties"]["name"]

    html_tag = client.get(url, headers={"Accept": "text/html"}).headers["etag"]
    assert html_tag != etag
    assert patch(html_tag, "Vùng cói 1").status_code == 200  # type: ignore[attr-defined]
    current = client.get(url).headers["etag"]
    assert patch(f"W/{current}, {current}", "Vùng cói 2").status_code == 200  # type: ignore[attr-defined]
    assert patch("*", "Vùng cói 3").status_code == 200  # type: ignore[attr-defined]
    plain = client.get(url, headers={"Accept-Encoding": "identity"}).headers["etag"]
    gzip_tag = etags.encoded(plain, "gzip")
    assert patch(gzip_tag, "Vùng cói nén").status_code == 200  # type: ignore[attr-defined]
    assert patch(gzip_tag, "Vùng cói cũ").status_code == 412  # type: ignore[attr-defined]
    assert client.get(url).json()["properties"]["name"] == "Vùng cói nén"


def test_if_none_match_on_writes_refuses_a_matching_feature(
    client: TestClient, keys: dict[str, str]
) -> None:
    # RFC 9110 §13.1.2: on a method other than GET/HEAD, a matching If-None-Match (weak
    # comparison) or "*" on an existing resource is 412, and nothing is written.
    created = client.post(
        "/collections/material-zones/items", json=ZONE, headers=bearer(keys["planner"])
    )
    assert created.status_code == 201, created.text
    url = created.headers["location"][created.headers["location"].index("/collections") :]
    writer = bearer(keys["planner"])
    etag = client.get(url).headers["etag"]
    for refusing in ("*", etag, f"W/{etag}", f'"v999", {etag}'):
        refused = client.patch(
            url,
            json={"properties": {"name": "không"}},
            headers={**writer, "If-None-Match": refusing},
        )
        assert refused.status_code == 412, (refusing, refused.text)
        assert refused.headers["content-type"] == "application/problem+json"
    gone = client.delete(url, headers={**writer, "If-None-Match": etag})
    assert gone.status_code == 412
    assert client.get(url).json()["properties"]["name"] == ZONE["properties"]["name"]
    # Another version's tag does not match: the write goes through.
    done = client.put(
        url,
        json={**ZONE, "properties": {**ZONE["properties"], "name": "có"}},
        headers={**writer, "If-None-Match": '"v999"'},
    )
    assert done.status_code == 200, done.text
    assert client.get(url).json()["properties"]["name"] == "có"


def test_entity_tag_helpers() -> None:
    assert etags.parse_entity_tags('W/"a", "b" ,"c,d", bad, "e"') == [
        etags.EntityTag("a", weak=True),
        etags.EntityTag("b"),
        etags.EntityTag("c,d"),
        etags.EntityTag("e"),
    ]
    assert etags.parse_entity_tags(" * ") == "*"
    assert etags.parse_entity_tags(None) == [] == etags.parse_entity_tags("")
    assert etags.none_match('W/"v3"', '"v3"') and etags.none_match('"v3"', 'W/"v3"')
    assert etags.none_match("*", '"v3"') and etags.none_match('"v3-gzip"', '"v3"')
    assert not etags.none_match('"v4"', '"v3"') and not etags.none_match(None, '"v3"')
    assert etags.match('"v3"', '"v3"') and etags.match("*", '"v3"')
    assert not etags.match('W/"v3"', '"v3"') and not etags.match('"v3"', 'W/"v3"')
    assert (
        etags.encoded('"v3"', "gzip") == '"v3-gzip"' and etags.encoded('W/"a"', "gzip") == 'W/"a"'
    )
    assert etags.encoded('"v3"', "") == '"v3"'


@pytest.mark.parametrize("path", ["/", "/ready", ITEM, TILE, "/collections/villages/items"])
def test_head_is_no_longer_405(client: TestClient, sample: dict[str, str], path: str) -> None:
    assert client.head(concrete(path, sample)).status_code == 200


# -- over real HTTP (craftmap serve) -------------------------------------------------------------
def _lower(headers: object) -> dict[str, str]:
    return {k.lower(): v for k, v in dict(headers).items()}  # type: ignore[call-overload]


def test_head_and_revalidation_over_real_http(live: LiveServer, database_url: str) -> None:
    with committed_village(database_url) as village_id:
        _head_and_revalidation(live, concrete(ITEM, {"featureId": str(village_id)}))


def _head_and_revalidation(live: LiveServer, item: str) -> None:
    gzip = {"Accept-Encoding": "gzip"}
    for path in (item, TILE, "/collections/villages/export", "/", "/maps"):
        got = live.request(path, headers=gzip)
        head = live.request(path, method="HEAD", headers=gzip)
        assert head.status == got.status == 200 and head.body == b"", path
        sent, described = _lower(got.headers), _lower(head.headers)
        assert "content-type" in sent and "accept-encoding" in sent["vary"].lower(), path
        for header in ("content-type", "etag", "content-encoding", "vary", "content-disposition"):
            assert described.get(header) == sent.get(header), (path, header)
    for headers in ({}, gzip, {"Accept": "text/html", "Accept-Language": "en"}):
        for path in (item, TILE):
            etag = _lower(live.request(path, headers=headers).headers)["etag"]
            for condition in (etag, f"W/{etag}", "*"):
                again = live.request(path, headers={**headers, "If-None-Match": condition})
                assert again.status == 304 and again.body == b"", (path, headers, condition)
                assert _lower(again.headers)["etag"] == etag
    plain = _lower(live.request(TILE).headers)["etag"]
    assert _lower(live.request(TILE, headers=gzip).headers)["etag"] == plain[:-1] + '-gzip"'
