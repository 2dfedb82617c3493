"""Hostile input sent to a real ``craftmap serve`` process (issue 9, points 1 and 6).

Every answer must be a 4xx problem (RFC 9457), never a 500 and never silence, and the
server must keep answering. A native parser that overflows its stack kills the worker that
runs it, which only a separate process can show; so does a value that PostgreSQL refuses
to encode after the checks let it through.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import pytest

from geo.store import keys
from geo.store.db import make_engine
from tests.conftest import ROOMY_RATE_LIMIT_ENV
from tests.geo.cql2_thresholds import SHAPES
from tests.live import Answer, LiveServer, live_server

ITEMS = "/collections/villages/items"
EPSG = "http://www.opengis.net/def/crs/EPSG/0/{}"
VN2000_TM3 = EPSG.format(5897)
ZONE_TILES = "/collections/material-zones/tiles/WebMercatorQuad"


@pytest.fixture(scope="module")
def live(own_live: LiveServer) -> LiveServer:
    """A server of this module's own: its tests try to crash and poison it."""
    return own_live


@pytest.fixture(scope="module")
def admin_token(database_url: str) -> Iterator[str]:
    """An admin key committed to the shared test database, revoked afterwards."""
    engine = make_engine(database_url)
    with engine.begin() as conn:
        token, info = keys.create_key(conn, name="hostile-input tests", role="admin")
    yield token
    with engine.begin() as conn:
        keys.revoke_key(conn, info.prefix)
    engine.dispose()


def _headers(answer: Answer) -> dict[str, str]:
    return {name.lower(): value for name, value in answer.headers.items()}


def assert_problem(answer: Answer, allowed: set[int]) -> dict[str, Any]:
    """The answer is a problem+json document with one of the allowed statuses."""
    assert answer.status in allowed, f"{answer.status}: {answer.body[:300]!r}"
    assert _headers(answer)["content-type"].startswith("application/problem+json")
    problem = json.loads(answer.body)
    assert problem["status"] == answer.status and problem["detail"]
    return problem


# -- point 6: client input that gave 500 ------------------------------------------------------
@dataclass(frozen=True)
class Case:
    """One hostile request: a query string for GET, or a raw JSON body for a write."""

    path: str = ITEMS
    query: dict[str, str] = field(default_factory=dict)
    method: str = "GET"
    body: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    keyed: bool = True
    statuses: frozenset[int] = frozenset({400})
    # A fragment of the problem's detail, where the test knows what it must say.
    says: str = ""


# Large bodies: a body-size limit may answer 413 before the body is read.
TOO_LARGE = frozenset({400, 413})


def _feature(geometry: str, properties: str = '"name": "Làng thử"') -> bytes:
    """A village Feature as raw JSON text (so that NaN and lone surrogates stay as sent)."""
    props = (
        '"code": "T-HOSTILE", "kind": "craft_village", "craft_group": "G4", '
        f'"geom_precision": "hamlet", {properties}'
    )
    return f'{{"type": "Feature", "geometry": {geometry}, "properties": {{{props}}}}}'.encode()


POINT = '{"type": "Point", "coordinates": [105.68, 19.85]}'
ZONE_PROPS = '"code": "T-HOSTILE-Z", "name": "Vùng thử", "material": "sedge", "status": "planned"'


def _zone(geometry: str) -> bytes:
    return f'{{"type": "Feature", "geometry": {geometry}, "properties": {{{ZONE_PROPS}}}}}'.encode()


def _post(body: bytes, **options: Any) -> Case:
    return Case(method="POST", body=body, **options)


CASES: dict[str, Case] = {
    # bbox outside the domain of its CRS (PostGIS could not transform it: 500 before).
    "bbox 1e9 in VN-2000 TM-3": Case(
        query={"bbox": "-1e9,-1e9,1e9,1e9", "bbox-crs": VN2000_TM3}, says="bbox"
    ),
    "bbox 1e300 in VN-2000 TM-3": Case(
        query={"bbox": "1e300,1e300,1e301,1e301", "bbox-crs": VN2000_TM3}
    ),
    "bbox infinite in UTM 48N": Case(
        query={"bbox": "-inf,-inf,inf,inf", "bbox-crs": EPSG.format(32648)}
    ),
    "bbox NaN in VN-2000 UTM 48N": Case(
        query={"bbox": "nan,nan,nan,nan", "bbox-crs": EPSG.format(3405)}
    ),
    "bbox NaN in CRS84": Case(query={"bbox": "nan,nan,nan,nan"}),
    "bbox latitude 1000 in VN-2000 geographic": Case(
        query={"bbox": "-1000,-1000,1000,1000", "bbox-crs": EPSG.format(4756)}
    ),
    "bbox of zero width in VN-2000 TM-3": Case(
        query={"bbox": "550000,2100000,550000,2200000", "bbox-crs": VN2000_TM3},
        statuses=frozenset({200, 400}),
    ),
    "bbox x reversed in VN-2000 TM-3": Case(
        query={"bbox": "600000,2100000,500000,2200000", "bbox-crs": VN2000_TM3}
    ),
    "bbox of six numbers, out of domain": Case(
        query={"bbox": "-1e12,-1e12,0,1e12,1e12,10", "bbox-crs": VN2000_TM3}
    ),
    # paging
    "offset 10^20": Case(query={"offset": str(10**20)}, says="offset"),
    "offset past bigint": Case(query={"offset": str(2**63)}, says="offset"),
    "offset -1": Case(query={"offset": "-1"}),
    "offset 1e3": Case(query={"offset": "1e3"}),
    "limit -1": Case(query={"limit": "-1"}),
    "limit 0": Case(query={"limit": "0"}),
    "limit 1e3": Case(query={"limit": "1e3"}),
    "limit 10^400": Case(query={"limit": "9" * 400}, statuses=frozenset({200, 400})),
    "limit of 5000 digits": Case(query={"limit": "9" * 5000}),
    # datetime
    "datetime year 0": Case(query={"datetime": "0000-01-01"}),
    "datetime year 99999": Case(query={"datetime": "99999-01-01T00:00:00Z"}),
    "datetime offset +25:00": Case(query={"datetime": "2020-01-01T00:00:00+25:00"}),
    "datetime interval of junk": Case(query={"datetime": "x/y"}),
    # sortby, properties, crs
    "sortby empty": Case(query={"sortby": ""}),
    "sortby a lone minus": Case(query={"sortby": "-"}),
    "sortby the geometry": Case(query={"sortby": "geometry"}),
    "sortby thousands of repeats": Case(
        query={"sortby": ",".join(["name"] * 5000)}, statuses=frozenset({200})
    ),
    "properties thousands of unknown names": Case(
        query={"properties": ",".join(f"p{i}" for i in range(5000))}
    ),
    "properties thousands of repeats": Case(
        query={"properties": ",".join(["name"] * 5000)}, statuses=frozenset({200, 400})
    ),
    "crs junk": Case(query={"crs": "EPSG:99999"}),
    "crs long junk": Case(query={"crs": "x" * 10_000}),
    "filter-crs junk": Case(query={"filter": "workers = 1", "filter-crs": "<junk>"}),
    # property parameters and filters with values out of range
    # Compared as a double: no village has that many households.
    "households beyond bigint": Case(query={"households": "9" * 30}, statuses=frozenset({200})),
    "filter with a lone surrogate in cql2-json": Case(
        query={
            "filter-lang": "cql2-json",
            "filter": '{"op": "=", "args": [{"property": "name"}, "\\ud800"]}',
        }
    ),
    "filter S_DWITHIN 1e308 metres": Case(
        query={"filter": "S_DWITHIN(geometry, POINT(105 20), 1e308)"},
        statuses=frozenset({200, 400}),
    ),
    "filter BBOX beyond VN-2000": Case(
        query={
            "filter": "S_INTERSECTS(geometry, BBOX(-1e12, -1e12, 1e12, 1e12))",
            "filter-crs": VN2000_TM3,
        }
    ),
    "filter DATE year 0": Case(query={"filter": "recognition_date > DATE('0000-01-01')"}),
    # item ids
    # (ogc, issue 10) ids no feature can have name no resource: 404 (Part 1, Table 3).
    "item id 0": Case(path=f"{ITEMS}/0", statuses=frozenset({404})),
    "item id beyond integer": Case(path=f"{ITEMS}/99999999999", statuses=frozenset({404})),
    "item id 1e3": Case(path=f"{ITEMS}/1e3", statuses=frozenset({404})),
    "unknown collection": Case(path="/collections/nope/items", statuses=frozenset({404})),
    # (issue 17) int() refuses more than 4 300 digits: these were 500s.
    "item id of 5000 digits": Case(path=f"{ITEMS}/{'9' * 5000}", statuses=frozenset({404})),
    "item id of 5000 zeros, then 1": Case(
        path=f"{ITEMS}/{'0' * 5000}1", statuses=frozenset({200, 404}), keyed=False
    ),
    "tile row of 5000 digits": Case(
        path=f"{ZONE_TILES}/14/{'9' * 5000}/1", statuses=frozenset({404})
    ),
    "tile matrix of 5000 digits": Case(
        path=f"{ZONE_TILES}/{'1' * 5000}/0/0", statuses=frozenset({404})
    ),
    "combined tile column of 5000 digits": Case(
        path=f"/tiles/WebMercatorQuad/8/0/{'7' * 5000}", statuses=frozenset({404})
    ),
    "history restore of 5000 digits": Case(
        path=f"{ITEMS}/1/history/{'9' * 5000}/restore",
        method="POST",
        body=b"{}",
        statuses=frozenset({404}),
    ),
    # writes: coordinates PostGIS cannot transform
    "Content-Crs VN-2000 with 1e12 coordinates": _post(
        _feature('{"type": "Point", "coordinates": [1e12, 1e12]}'),
        headers={"Content-Crs": f"<{VN2000_TM3}>"},
        says="EPSG:5897",
    ),
    "Content-Crs VN-2000 with 1e300 coordinates": _post(
        _feature('{"type": "Point", "coordinates": [1e300, -1e300]}'),
        headers={"Content-Crs": f"<{VN2000_TM3}>"},
    ),
    "Content-Crs VN-2000 geographic, latitude 1000": _post(
        _feature('{"type": "Point", "coordinates": [1000, 105]}'),
        headers={"Content-Crs": f"<{EPSG.format(4756)}>"},
    ),
    "Content-Crs junk": _post(_feature(POINT), headers={"Content-Crs": "<EPSG:99999>"}),
    # writes: text PostgreSQL cannot encode
    "lone surrogate in a name": _post(_feature(POINT, '"name": "L\\ud800ng"'), says="surrogate"),
    "lone low surrogate in a name": _post(_feature(POINT, '"name": "\\udfff"')),
    "NUL in a name": _post(_feature(POINT, '"name": "L\\u0000ng"')),
    "lone surrogate in a property name": _post(_feature(POINT, '"n\\ud800me": "x"')),
    "lone surrogate in an array item": _post(
        _feature(POINT, '"name": "Làng", "crafts": ["m\\ud800y"]')
    ),
    # writes: geometries that are not what GeoJSON allows
    "NaN coordinates": _post(_feature('{"type": "Point", "coordinates": [NaN, 19.85]}')),
    "Infinity coordinates": _post(_feature('{"type": "Point", "coordinates": [Infinity, 1]}')),
    "coordinates as strings": _post(_feature('{"type": "Point", "coordinates": ["105", "19"]}')),
    "coordinates null": _post(_feature('{"type": "Point", "coordinates": null}')),
    "point nested one level too deep": _post(
        _feature('{"type": "Point", "coordinates": [[105.68, 19.85]]}')
    ),
    "GeometryCollection for a village": _post(
        _feature(f'{{"type": "GeometryCollection", "geometries": [{POINT}]}}')
    ),
    "geometry with a crs member": _post(
        _feature(
            '{"type": "Point", "coordinates": [105.68, 19.85], '
            '"crs": {"type": "name", "properties": {"name": "EPSG:99999"}}}'
        ),
        statuses=frozenset({201, 400}),
    ),
    # (issue 17) Found by schemathesis: a geometry whose type is an object, with a
    # Content-Crs to transform from, was a 500.
    "geometry type an object, VN-2000 Content-Crs": Case(
        path="/collections/material-zones/items",
        method="POST",
        body=_zone('{"type": {"0/0": {}}, "x": [[{"": 1}]]}'),
        headers={"Content-Crs": f"<{EPSG.format(4756)}>"},
    ),
    "geometry type an object": Case(
        path="/collections/material-zones/items",
        method="POST",
        body=_zone('{"type": {"0/0": {}}}'),
    ),
    "geometry type a number, VN-2000 Content-Crs": _post(
        _feature('{"type": 7, "coordinates": [1, 2]}'),
        headers={"Content-Crs": f"<{VN2000_TM3}>"},
    ),
    "polygon ring of one point": Case(
        path="/collections/material-zones/items",
        method="POST",
        body=_zone('{"type": "Polygon", "coordinates": [[[105.95, 20.02]]]}'),
    ),
    "polygon ring left open": Case(
        path="/collections/material-zones/items",
        method="POST",
        body=_zone(
            '{"type": "Polygon", "coordinates": '
            "[[[105.95, 20.02], [105.96, 20.02], [105.96, 20.03], [105.95, 20.03]]]}"
        ),
        statuses=frozenset({201, 400}),
    ),
    "polygon with string coordinates": Case(
        path="/collections/material-zones/items",
        method="POST",
        body=_zone(
            '{"type": "Polygon", "coordinates": '
            '[[["105.95", 20.02], [105.96, 20.02], [105.96, 20.03], [105.95, 20.02]]]}'
        ),
    ),
    # writes: properties out of range
    "date year 0": _post(_feature(POINT, '"name": "x", "recognition_date": "0000-01-01"')),
    "date year 99999": _post(_feature(POINT, '"name": "x", "recognition_date": "99999-01-01"')),
    "households beyond integer": _post(_feature(POINT, '"name": "x", "households": 1' + "0" * 30)),
    "households of 5000 digits": _post(_feature(POINT, '"name": "x", "households": ' + "9" * 5000)),
    "thousands of unknown properties": _post(
        _feature(POINT, ", ".join(f'"p{i}": {i}' for i in range(5000))), statuses=TOO_LARGE
    ),
    # writes: bodies that are not a Feature
    "body not JSON": _post(b"{not json"),
    "body a JSON array": _post(b"[1, 2]"),
    "body JSON null": _post(b"null"),
    "body nested 100 000 deep": _post(b"[" * 100_000 + b"]" * 100_000, statuses=TOO_LARGE),
    "patch with a lone surrogate": Case(
        path=f"{ITEMS}/1", method="PATCH", body=b'{"properties": {"name": "\\ud800"}}'
    ),
    "write without a key": _post(
        _feature(POINT, '"name": "\\ud800"'), keyed=False, statuses=frozenset({401})
    ),
}


def _send(live: LiveServer, case: Case, token: str) -> Answer:
    headers = dict(case.headers)
    if case.body is not None:
        headers.setdefault("Content-Type", "application/json")
    if case.keyed:
        headers["Authorization"] = f"Bearer {token}"
    path = case.path + (f"?{urlencode(case.query)}" if case.query else "")
    return live.request(path, method=case.method, body=case.body, headers=headers)


def _undo(live: LiveServer, answer: Answer, token: str) -> None:
    """Delete a feature a hostile write created after all (the history keeps it)."""
    location = _headers(answer).get("location", "")
    path = location[location.index("/collections/") :]
    live.request(path, method="DELETE", headers={"Authorization": f"Bearer {token}"})


@pytest.mark.parametrize("name", list(CASES))
def test_hostile_input_is_a_problem_and_the_server_carries_on(
    live: LiveServer, admin_token: str, name: str
) -> None:
    case = CASES[name]
    logged = len(live.log())
    answer = _send(live, case, admin_token)
    if answer.status == 201:
        _undo(live, answer, admin_token)
        assert 201 in case.statuses, f"the hostile write was accepted: {answer.body[:300]!r}"
    elif answer.status == 200:
        assert 200 in case.statuses, f"200 for a hostile request: {answer.body[:300]!r}"
    else:
        problem = assert_problem(answer, set(case.statuses))
        assert case.says in problem["detail"]
    assert live.alive()
    assert "unhandled error" not in live.log()[logged:]


# -- point 1: filters that crashed the parser -----------------------------------------------
# The first size at which each shape crashed the bare parser (tests/geo/cql2_thresholds.py,
# 8 MiB thread stacks); the hostile filters are twice as large where the URL allows.
CRASH_SIZES = {
    "arithmetic": 9_032,
    "comparison chain =": 3_881,
    "comparison chain <": 3_881,
    "LIKE chain": 3_881,
    "AND chain": 16_406,
    "OR chain": 16_406,
    "function calls added": 9_032,
    "NOT chain": 3_441,
    "minus chain": 3_441,
    "nested parentheses": 1_550,
    "nested functions": 3_100,
    "nested lists": 3_100,
    "nested GEOMETRYCOLLECTION": 23_827,
}
# uvicorn (httptools) answers a request target over 65 535 bytes with a plain-text 400
# before the app sees it; the hostile filters stay below that to reach craftmap's checks.
URL_BUDGET = 60_000


def _query(params: dict[str, str]) -> str:
    # Spaces as %20: the query string is long enough as it is.
    return "&".join(f"{k}={quote(v, safe='')}" for k, v in params.items())


def _hostile_filters() -> list[tuple[str, dict[str, str], bool]]:
    """(name, parameters, reaches crash size) of the worst filters that fit in a URL."""
    found = []
    for shape, (lang, build) in SHAPES.items():
        crash = CRASH_SIZES.get(shape.split(" ")[0] if "arithmetic" in shape else shape)
        size = 2 * crash if crash else 20_000
        while len(_query({"filter-lang": lang, "filter": build(size)})) > URL_BUDGET:
            size = int(size * 0.8)
        params = {"filter-lang": lang, "filter": build(size)}
        found.append((f"{shape} ({size})", params, crash is not None and size >= crash))
    # Flat chains without spaces, like the 24 KB request that killed the server.
    for op in ("*", "/", "+", "-", "%", "^", "=", "<", "<>", "<="):
        size = 12_000 if len(op) == 1 else 6_000  # past 9 032 and 3 881
        chain = {"filter": "households=" + op.join("1" * size)}
        found.append((f"{op} chain without spaces ({size})", chain, True))
    found += [
        ("AND chain of a boolean", {"filter": " AND ".join(["tourism_linked"] * 2_000)}, False),
        ("unclosed parentheses", {"filter": "(" * 40 + "workers = 1"}, False),
        ("unclosed groups over a long chain", {"filter": "(" * 10 + "workers=1 AND " * 200}, False),
        ("string literal of 40 000 characters", {"filter": f"name = '{'a' * 40_000}'"}, False),
        ("number literal of 40 000 digits", {"filter": "workers = " + "9" * 40_000}, False),
        ("IN list of 12 000 values", {"filter": "workers IN (" + "1," * 12_000 + "1)"}, False),
        (
            "JSON number of 40 000 digits",
            _json_filter('{"op": "=", "args": [{"property": "workers"}, ' + "9" * 40_000 + "]}"),
            False,
        ),
        (
            "JSON string of 40 000 characters",
            _json_filter('{"op": "=", "args": [{"property": "name"}, "' + "a" * 40_000 + '"]}'),
            False,
        ),
        ("JSON brackets 10 000 deep", _json_filter("[" * 10_000 + "]" * 10_000), False),
    ]
    return found


def _json_filter(text: str) -> dict[str, str]:
    return {"filter-lang": "cql2-json", "filter": text}


HOSTILE_FILTERS = _hostile_filters()
# And two that uvicorn refuses itself: the app never sees them, the worker must survive them.
OVERSIZED = [
    {"filter": SHAPES["AND chain"][1](2 * CRASH_SIZES["AND chain"])},
    _json_filter("[" * 500_000 + "]" * 500_000),
]


@pytest.fixture(scope="module")
def roomy(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """Two workers that accept filters of up to 4 MB, so the other limits are what is tested."""
    env = {"CRAFTMAP_FILTER_MAX_LENGTH": "4000000", **ROOMY_RATE_LIMIT_ENV}
    with live_server(database_url, tmp_path_factory.mktemp("roomy"), workers=2, env=env) as srv:
        # Both workers up: a worker still importing the app is not what is tested here.
        deadline = time.monotonic() + 120
        while srv.log().count("Application startup complete") < 2:
            assert time.monotonic() < deadline, srv.log()[-3000:]
            time.sleep(0.5)
        yield srv


def _lifecycle(log: str) -> list[str]:
    """Log lines of workers dying or starting."""
    events = ("Child process", "died", "Waiting for child", "Started server process")
    return [line for line in log.splitlines() if any(e in line for e in events)]


@pytest.mark.serial
def test_worst_filters_answer_400_while_cheap_requests_all_succeed(roomy: LiveServer) -> None:
    # AND/OR chains and nested GEOMETRYCOLLECTIONs only crash past what a URL holds.
    assert sum(reaches for _, _, reaches in HOSTILE_FILTERS) >= 18
    logged = len(roomy.log())
    stop = threading.Event()
    cheap: list[int | str] = []

    def cheap_traffic() -> None:
        # Bounded, so that a dead server ends the test instead of spinning.
        while not stop.is_set() and len(cheap) < 5_000:
            try:
                cheap.append(roomy.request(f"{ITEMS}?limit=2", timeout=30).status)
            except OSError as exc:
                cheap.append(f"no answer: {exc}")
                time.sleep(0.1)

    wrong: dict[str, str] = {}

    def send(item: tuple[str, dict[str, str], bool]) -> None:
        name, params, _ = item
        try:
            answer = roomy.request(f"{ITEMS}?{_query(params)}", timeout=60)
        except OSError as exc:
            wrong[name] = f"no answer: {exc}"
            return
        kind = _headers(answer).get("content-type", "")
        if name.startswith("oversized"):
            if answer.status not in {400, 414, 431}:
                wrong[name] = str(answer.status)
        elif answer.status != 400 or not kind.startswith("application/problem+json"):
            wrong[name] = f"{answer.status} {kind}"

    oversized = [(f"oversized {i}", params, False) for i, params in enumerate(OVERSIZED)]
    with ThreadPoolExecutor(max_workers=6) as pool:
        cheap_runs = [pool.submit(cheap_traffic) for _ in range(3)]
        try:
            list(pool.map(send, (HOSTILE_FILTERS + oversized) * 2))
            time.sleep(0.5)
        finally:
            stop.set()
        for run in cheap_runs:
            run.result()
    failed = [status for status in cheap if status != 200]
    lifecycle = _lifecycle(roomy.log()[logged:])
    assert (wrong, len(failed), lifecycle) == ({}, 0, []), (
        f"hostile filters not refused: {wrong}; {len(failed)} of {len(cheap)} cheap requests "
        f"failed ({failed[:3]}); workers died or restarted: {lifecycle}"
    )
    assert len(cheap) > 20 and roomy.alive()


def test_the_limits_are_named_in_the_problem(roomy: LiveServer) -> None:
    expectations = {
        "* chain without spaces": "at most 256 are accepted",
        "AND chain of a boolean": "AND/OR operators; at most 512",
        "NOT chain": "NOT or minus operators; at most 128",
        "nested parentheses": "at most 10 levels",
        "IN list of 12 000 values": "at most 1000 are accepted in one list",
        "string literal of 40 000 characters": "at most 1000 are accepted",
        "JSON brackets 10 000 deep": "recursion limit of 128",
        "unclosed groups over a long chain": "may nest at most",
    }
    for name, params, _ in HOSTILE_FILTERS:
        name = name.split(" (")[0]
        if name in expectations:
            answer = roomy.request(f"{ITEMS}?{urlencode(params)}")
            assert expectations[name] in assert_problem(answer, {400})["detail"], name


def test_the_filter_length_is_a_setting(database_url: str, tmp_path: Path) -> None:
    env = {"CRAFTMAP_FILTER_MAX_LENGTH": "100"}
    with live_server(database_url, tmp_path, env=env) as server:
        short = server.request(f"{ITEMS}?{urlencode({'filter': 'workers > 1'})}")
        assert short.status == 200
        long = server.request(f"{ITEMS}?{urlencode({'filter': 'workers > 1' + ' ' * 100})}")
        assert "at most 100 are accepted" in assert_problem(long, {400})["detail"]
