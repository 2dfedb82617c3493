"""POST /imports against a real ``craftmap serve``: roles, hostile files, a job polled to done."""

from __future__ import annotations

import http.client
import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from geo.store.db import make_engine
from geo.store.keys import create_key
from tests.conftest import ROOMY_RATE_LIMIT_ENV, database_with_roles
from tests.io.test_import_formats import NAMES, villages, write_geojson
from tests.live import Answer, LiveServer, live_server

UPLOAD_CAP = 2_000_000


@pytest.fixture(scope="module")
def urls(pg_server_url: str, role_passwords: dict[str, str]) -> Iterator[dict[str, str]]:
    """A database of this module's own (imports commit)."""
    with database_with_roles(pg_server_url, role_passwords, prefix="craftmap_upload") as found:
        yield found


@pytest.fixture(scope="module")
def server(urls: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """``craftmap serve`` on it, with a small upload cap."""
    env = {**ROOMY_RATE_LIMIT_ENV, "CRAFTMAP_IMPORT_MAX_BYTES": str(UPLOAD_CAP)}
    with live_server(urls["app"], tmp_path_factory.mktemp("upload"), env=env) as found:
        yield found


@pytest.fixture(scope="module")
def tokens(urls: dict[str, str]) -> dict[str, str]:
    """A key per role, committed."""
    engine = make_engine(urls["app"])
    with engine.begin() as conn:
        found = {
            role: create_key(conn, name=f"upload {role}", role=role)[0]
            for role in ("viewer", "planner", "tourism", "admin")
        }
    engine.dispose()
    return found


def _multipart(fields: dict[str, str], file_name: str, content: bytes) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    parts = []
    for name, value in fields.items():
        head = f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
        parts.append(f"{head}{value}\r\n".encode())
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
        f'filename="{file_name}"\r\nContent-Type: application/octet-stream\r\n\r\n'.encode()
        + content
        + b"\r\n"
    )
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def _upload(
    server: LiveServer, token: str, fields: dict[str, str], file_name: str, content: bytes
) -> Answer:
    body, content_type = _multipart(fields, file_name, content)
    return server.request(
        "/imports",
        method="POST",
        body=body,
        headers={"Authorization": f"Bearer {token}", "Content-Type": content_type},
        timeout=60,
    )


def _declared_huge(server: LiveServer, token: str) -> int:
    host, port = server.url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=60)
    try:
        conn.putrequest("POST", "/imports")
        conn.putheader("Authorization", f"Bearer {token}")
        conn.putheader("Content-Type", "multipart/form-data; boundary=x")
        conn.putheader("Content-Length", str(UPLOAD_CAP + 10))
        conn.endheaders()
        return conn.getresponse().status
    finally:
        conn.close()


def _header(answer: Answer, name: str) -> str:
    return next((v for k, v in answer.headers.items() if k.lower() == name), "")


def _problem(answer: Answer) -> dict[str, object]:
    assert _header(answer, "content-type").startswith("application/problem+json"), (
        answer.status,
        answer.body[:300],
    )
    return dict(json.loads(answer.body))


def test_upload_roles_hostile_files_and_a_good_job(
    server: LiveServer, tokens: dict[str, str], urls: dict[str, str], tmp_path: Path
) -> None:
    prefix = f"UP{uuid.uuid4().hex[:6]}"
    good = write_geojson(villages(prefix), tmp_path).read_bytes()

    # Villages are the admin's: a planner key is refused before anything runs.
    refused = _upload(server, tokens["planner"], {"into": "villages"}, "lang.geojson", good)
    assert refused.status == 403
    assert "may not write villages" in str(_problem(refused)["detail"])
    # No key at all: refused before the form is read (an anonymous client costs no disk).
    body, content_type = _multipart({"into": "villages"}, "lang.geojson", good)
    no_key = server.request(
        "/imports", method="POST", body=body, headers={"Content-Type": content_type}
    )
    assert no_key.status == 401, no_key.body[:200]
    assert _header(no_key, "www-authenticate").startswith("Bearer")

    # Hostile uploads: not a zip, garbage, too large, a bad CRS; each a 4xx.
    fake_zip = _upload(server, tokens["admin"], {"into": "villages"}, "lang.zip", b"not a zip")
    assert fake_zip.status == 400 and "zip" in str(_problem(fake_zip)["detail"])
    garbage = _upload(
        server, tokens["admin"], {"into": "villages"}, "lang.gpkg", bytes(range(256)) * 40
    )
    assert garbage.status == 400 and "GDAL cannot read it" in str(_problem(garbage)["detail"])
    # Refused on its Content-Length alone, before a byte of it is read (sending the body
    # too races the server closing the connection).
    assert _declared_huge(server, tokens["admin"]) == 413
    wrong_kind = _upload(server, tokens["admin"], {"into": "villages"}, "lang.exe", good)
    assert wrong_kind.status == 400
    bad_crs = _upload(
        server, tokens["admin"], {"into": "villages", "crs": "EPSG:99999999"}, "l.geojson", good
    )
    assert bad_crs.status == 400
    bad_into = _upload(server, tokens["admin"], {"into": "bananas"}, "l.geojson", good)
    assert bad_into.status == 400
    assert server.alive()

    # A good one: 202, Location, polled until done, rows there.
    accepted = _upload(
        server, tokens["admin"], {"into": "villages", "apply": "true"}, "Làng nghề.geojson", good
    )
    assert accepted.status == 202, accepted.body[:500]
    location = _header(accepted, "location")
    assert location.startswith(server.url + "/imports/")
    path = location[len(server.url) :]
    auth = {"Authorization": f"Bearer {tokens['admin']}"}
    deadline = time.monotonic() + 120
    while True:
        job = json.loads(server.request(path, headers=auth).body)
        if job["status"] in ("done", "failed") or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert job["status"] == "done", job
    assert job["file"] == "Làng nghề.geojson"
    assert job["report"]["applied"] is True and job["report"]["counts"]["inserted"] == 3
    assert job["progress"] == {"rows_done": 3, "rows_total": 3}
    engine = make_engine(urls["app"])
    with engine.connect() as conn:
        names = (
            conn.execute(
                sa.text("SELECT name FROM craft_village WHERE code LIKE :p ORDER BY code"),
                {"p": f"{prefix}-%"},
            )
            .scalars()
            .all()
        )
        run = conn.execute(
            sa.text("SELECT actor, file_name FROM import_run ORDER BY id DESC LIMIT 1")
        ).one()
    engine.dispose()
    assert names == NAMES
    assert run.actor.startswith("key:") and run.file_name == "Làng nghề.geojson"

    for fmt, media in (("json", "application/json"), ("html", "text/html"), ("csv", "text/csv")):
        answer = server.request(f"{path}/report?f={fmt}", headers=auth)
        assert answer.status == 200 and _header(answer, "content-type").startswith(media)
    page = server.request(f"{path}?f=html&lang=en", headers=auth)
    assert b"Import report" in page.body
    # Another role cannot read the job of a collection it may not write.
    assert (
        server.request(path, headers={"Authorization": f"Bearer {tokens['tourism']}"}).status == 403
    )
    assert server.request("/imports/999999", headers=auth).status == 404
    assert server.alive()


def test_imports_are_in_the_openapi_document(server: LiveServer) -> None:
    document = json.loads(server.request("/api?f=json").body)
    post = document["paths"]["/imports"]["post"]
    assert "multipart/form-data" in post["requestBody"]["content"]
    assert "/imports/{jobId}" in document["paths"]
    assert "/imports/{jobId}/report" in document["paths"]
