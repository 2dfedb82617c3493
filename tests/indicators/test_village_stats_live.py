"""Hostile yearly facts sent to a real ``craftmap serve``: each a 4xx problem, none written."""

from __future__ import annotations

import io
import json
import select
import socket
import time
import urllib.parse
import zipfile
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from geo.io import village_stats as files
from geo.store import keys
from geo.store.db import make_engine
from tests.live import LiveServer

MB = 1_000_000
IMPORT = "/collections/villages/stats:import"


@pytest.fixture(scope="module")
def admin_token(database_url: str) -> Iterator[str]:
    """An admin key committed to the shared test database, revoked afterwards."""
    engine = make_engine(database_url)
    with engine.begin() as conn:
        token, info = keys.create_key(conn, name="hostile stats", role="admin")
    yield token
    with engine.begin() as conn:
        keys.revoke_key(conn, info.prefix)
    engine.dispose()


@pytest.fixture(scope="module")
def village_id(database_url: str) -> Iterator[int]:
    """The demo village TH-V-006."""
    engine = make_engine(database_url)
    with engine.connect() as conn:
        found = conn.execute(
            sa.text("SELECT id FROM craft_village WHERE code = 'TH-V-006'")
        ).scalar_one()
    engine.dispose()
    yield int(found)


def _multipart(
    name: str, data: bytes, *, field: str = "file", extra: bytes = b""
) -> tuple[bytes, str]:
    boundary = "craftmapstatsboundary"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; '
            f'filename="{name}"\r\nContent-Type: application/octet-stream\r\n\r\n'
        ).encode()
        + data
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return extra + body, f"multipart/form-data; boundary={boundary}"


def _zip_bomb() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/worksheets/sheet1.xml", b"\0" * (files.MAX_XLSX_UNPACKED + 10))
    return out.getvalue()


CSV_HEAD = "village_code,year,workers,env_plan,sources\n"
HOSTILE_FILES: list[tuple[str, bytes]] = [
    ("s.csv", (CSV_HEAD + "TH-V-006,2031,NaN,có,\n").encode()),
    ("s.csv", (CSV_HEAD + "TH-V-006,2031,-1,có,\n").encode()),
    ("s.csv", (CSV_HEAD + "TH-V-006,2031,1e999,có,\n").encode()),
    ("s.csv", (CSV_HEAD + "TH-V-006,2031,99999999999999,có,\n").encode()),
    ("s.csv", (CSV_HEAD + "TH-V-006,2031,5,perhaps,\n").encode()),
    ("s.csv", (CSV_HEAD + "TH-V-006,2031,5,có,\n" + "TH-V-006,2032,x,có,\n").encode()),
    ("s.csv", (CSV_HEAD + "'; DROP TABLE village_stat;--,2031,5,có,\n").encode()),
    ("s.csv", (CSV_HEAD + "TH-V-006,2031,5,có,a\x00b\n").encode()),
    ("s.csv", "village_code,year\nTH-V-006,2031,Làng\n".encode("cp1258")),
    ("s.csv", b"\xff\xfe\x00garbage"),
    ("s.csv", b'"unterminated,' + b"x" * 1000),
    ("s.csv", b"village_code,year\n" + b"TH-V-006,2031\n" * 2),
    ("s.csv", b"=cmd|' /C calc'!A0,year\n"),
    ("s.xlsx", b"PK\x03\x04garbage"),
    ("s.xlsx", _zip_bomb()),
    ("s.xls", b"anything"),
    ("../../etc/passwd", b"village_code,year\n"),
    ("s.csv", b""),
]


def _put_hostile(village: int) -> list[tuple[str, bytes]]:
    base = f"/collections/villages/items/{village}/stats"
    return [
        (f"{base}/2031", b'{"workers": NaN}'),
        (f"{base}/2031", b'{"workers": Infinity}'),
        (f"{base}/2031", b'{"production_value_vnd": 1e999}'),
        (f"{base}/2031", b'{"workers": -1}'),
        (f"{base}/2031", b'{"workers": 1.5}'),
        (f"{base}/2031", b'{"workers": "12; DROP TABLE village_stat"}'),
        (f"{base}/2031", b'{"production_value_vnd": 100000000000000000000}'),
        (f"{base}/2031", b'{"env_plan": "yes"}'),
        (f"{base}/2031", b'{"workers": 5, "trained_workers": 6}'),
        (f"{base}/2031", b'{"sources": ["a\\u0000b"]}'),
        (f"{base}/2031", b'{"sources": ["\\ud800"]}'),
        (f"{base}/2031", b'{"sources": ["' + b"x" * 2000 + b'"]}'),
        (f"{base}/2031", b"[" * 100_000 + b"]" * 100_000),
        (f"{base}/2031", b"\xff\xfe\x00garbage"),
        (f"{base}/2031", b""),
        (f"{base}/2031", b"null"),
        (f"{base}/99999999999999999999", b'{"workers": 1}'),
        (f"{base}/-5", b'{"workers": 1}'),
        (f"{base}/1800", b'{"workers": 1}'),
        ("/collections/villages/items/abc/stats/2031", b'{"workers": 1}'),
        ("/collections/villages/items/%00/stats/2031", b'{"workers": 1}'),
        ("/collections/villages/items/999999999/stats/2031", b'{"workers": 1}'),
        (f"{base}/2031?evil=1", b'{"workers": 1}'),
    ]


def _count(database_url: str) -> tuple[int, int]:
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            return (
                conn.execute(sa.text("SELECT count(*) FROM village_stat")).scalar_one(),
                conn.execute(
                    sa.text(
                        "SELECT count(*) FROM feature_history WHERE table_name = 'village_stat'"
                    )
                ).scalar_one(),
            )
    finally:
        engine.dispose()


def _problem(answer_status: int, headers: dict[str, str], body: bytes, what: object) -> None:
    assert 400 <= answer_status < 500, (what, answer_status, body[:300])
    assert headers.get("content-type", "").startswith("application/problem+json"), what
    assert json.loads(body)["status"] == answer_status


def test_hostile_puts_and_files_are_refused_and_the_server_keeps_serving(
    own_live: LiveServer, admin_token: str, database_url: str, village_id: int
) -> None:
    before = _count(database_url)
    auth = {"Authorization": f"Bearer {admin_token}"}
    for path, body in _put_hostile(village_id):
        answer = own_live.request(
            path, method="PUT", body=body, headers={**auth, "Content-Type": "application/json"}
        )
        _problem(answer.status, dict(answer.headers), answer.body, (path, body[:60]))
    for name, data in HOSTILE_FILES:
        body, kind = _multipart(name, data)
        answer = own_live.request(
            IMPORT, method="POST", body=body, headers={**auth, "Content-Type": kind}
        )
        _problem(answer.status, dict(answer.headers), answer.body, (name, data[:60]))
    # Not multipart, no file field, a broken multipart body, too many parts.
    odd: list[tuple[bytes, str]] = [
        (b"village_code,year\n", "text/csv"),
        (_multipart("s.csv", b"x", field="other")[0], _multipart("s.csv", b"x")[1]),
        (b"--craftmapstatsboundary\r\nbroken", _multipart("s.csv", b"x")[1]),
        (
            _multipart("s.csv", b"x", extra=_multipart("t.csv", b"y")[0])[0],
            _multipart("s.csv", b"x")[1],
        ),
    ]
    for body, kind in odd:
        answer = own_live.request(
            IMPORT, method="POST", body=body, headers={**auth, "Content-Type": kind}
        )
        _problem(answer.status, dict(answer.headers), answer.body, (kind, body[:60]))
    for query in ("?f=xml", "?evil=1", "?lang=%00"):
        status = own_live.request(f"/collections/villages/items/{village_id}/stats{query}").status
        assert 400 <= status < 500 or (query == "?lang=%00" and status == 200), (query, status)
    assert own_live.alive()
    page = own_live.request(f"/collections/villages/items/{village_id}/stats?f=json")
    assert page.status == 200 and json.loads(page.body)["village"]["code"] == "TH-V-006"
    assert _count(database_url) == before


def _send_until_answered(
    server: LiveServer, head: bytes, total: int, *, chunked: bool = False
) -> tuple[int, bytes]:
    """Send ``head`` and up to ``total`` body bytes until the server answers; (status, body).

    ``chunked`` frames the body in 64 KiB chunks (no declared length): the server has to
    count what it reads.
    """
    parsed = urllib.parse.urlsplit(server.url)
    with socket.create_connection((parsed.hostname, parsed.port), timeout=30) as sock:
        sock.sendall(head)
        sent, answer = 0, b""
        chunk = b"10000\r\n" + b"a" * 65536 + b"\r\n" if chunked else b"a" * 65536
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            readable, writable, _ = select.select([sock], [sock] if sent < total else [], [], 5)
            if readable:
                block = sock.recv(1 << 16)
                if not block:
                    break
                answer += block
                if b"\r\n\r\n" in answer and answer.split(b"\r\n\r\n", 1)[1].strip():
                    break
            elif writable:
                try:
                    if chunked:
                        sock.sendall(chunk)
                        sent += 65536
                    else:
                        sent += sock.send(chunk[: total - sent])
                except (BrokenPipeError, ConnectionResetError):
                    sent = total
    status = int(answer.split(b" ", 2)[1])
    return status, answer.split(b"\r\n\r\n", 1)[1]


def test_files_over_the_limits_are_413_and_nothing_is_written(
    own_live: LiveServer, admin_token: str, database_url: str
) -> None:
    before = _count(database_url)
    auth = {"Authorization": f"Bearer {admin_token}"}
    # Over the import's own limit (5 MB), under the body cap: read, then refused.
    rows = "".join(f"TH-V-006,{1990 + i % 100},{i}\n" for i in range(300_000))
    big, kind = _multipart("big.csv", ("village_code,year,workers\n" + rows).encode())
    assert 5 * MB < len(big) < 10 * MB
    answer = own_live.request(
        IMPORT, method="POST", body=big, headers={**auth, "Content-Type": kind}
    )
    assert answer.status == 413, answer.body[:300]
    problem = json.loads(answer.body)
    assert problem["limit"] == "stats_import_max_bytes" and problem["value"] == 5 * MB
    # A declared length over the body cap (10 MB): refused before the body is read.
    for headers in (auth, {}):
        head = (
            f"POST {IMPORT} HTTP/1.1\r\nHost: localhost\r\nContent-Type: {kind}\r\n"
            f"Content-Length: {50 * MB}\r\nConnection: close\r\n"
            + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
            + "\r\n"
        ).encode()
        status, body = _send_until_answered(own_live, head, 50 * MB)
        assert status == 413, body[:300]
        assert json.loads(body)["limit"] == "max_body_bytes"
    # A chunked body declares no length: counted as it is read, refused past the cap.
    opening, kind = _multipart("big.csv", b"village_code,year\n")
    opening = opening[: opening.index(b"village_code")]
    head = (
        (
            f"POST {IMPORT} HTTP/1.1\r\nHost: localhost\r\nContent-Type: {kind}\r\n"
            f"Transfer-Encoding: chunked\r\nConnection: close\r\n"
            f"Authorization: Bearer {admin_token}\r\n\r\n"
        ).encode()
        + f"{len(opening):x}\r\n".encode()
        + opening
        + b"\r\n"
    )
    status, body = _send_until_answered(own_live, head, 30 * MB, chunked=True)
    assert status == 413, body[:300]
    assert json.loads(body)["limit"] == "max_body_bytes"
    assert own_live.alive()
    assert _count(database_url) == before
