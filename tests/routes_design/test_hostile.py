"""Hostile bodies against a real ``craftmap serve``: refused with 4xx, the server keeps serving."""

from __future__ import annotations

import json
from typing import Any

from tests.api.test_limits import _send_until_answered
from tests.live import LiveServer

PREVIEW = "/routes/design/preview"
JSON = {"Content-Type": "application/json"}


def test_hostile_preview_bodies_are_refused_and_the_server_keeps_serving(
    live: LiveServer,
) -> None:
    many = {"stops": [{"lon": 105.8 + i * 1e-5, "lat": 20.0} for i in range(10_000)]}
    bodies: list[bytes] = [
        json.dumps(many).encode(),
        json.dumps({"stops": [{"lon": 105.8, "lat": 20.0}] * 61}).encode(),
        b'{"stops": [{"lon": NaN, "lat": 20}, {"lon": 105, "lat": Infinity}]}',
        b'{"stops": [{"lon": 1e400, "lat": 20}]}',
        json.dumps({"stops": [{"lon": 105.8, "lat": 20, "name": "ư" * 1_000_000}]}).encode(),
        json.dumps({"stops": [{"village_id": 2**70}]}).encode(),
        json.dumps({"stops": [{"village_id": -1}, {"lon": 105, "lat": 20}]}).encode(),
        json.dumps({"stops": [{"lon": 105, "lat": 20, "opens": "99:99"}]}).encode(),
        json.dumps({"stops": [{"lon": 105, "lat": 20}], "mode": "x" * 100_000}).encode(),
        b"[" * 100_000,
        b"\xff\xfe\x00garbage",
        b"",
    ]
    for body in bodies:
        answer = post(live, PREVIEW, body)
        assert 400 <= answer["status"] < 500, (answer["status"], body[:60])
        assert answer["headers"]["content-type"].startswith("application/problem+json")
    # A route design without a key is refused before its body is read.
    refused = post(live, "/routes/1/design", json.dumps({"optimise": "x" * 50_000}).encode())
    assert refused["status"] == 401
    assert live.alive()
    ok = live.request(
        PREVIEW,
        method="POST",
        body=json.dumps(
            {"stops": [{"lon": 105.77, "lat": 19.8}, {"lon": 105.8, "lat": 19.81}]}
        ).encode(),
        headers=JSON,
    )
    assert ok.status == 200, ok.body[:300]
    assert json.loads(ok.body)["legs"][0]["kind"] in ("road", "geodesic")


def post(live: LiveServer, path: str, body: bytes) -> dict[str, Any]:
    """POST ``body`` as a real client does: it stops sending once the answer arrives."""
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode()
    chunks = iter([body[i : i + 65536] for i in range(0, len(body), 65536)])
    return _send_until_answered(live, head, chunks)
