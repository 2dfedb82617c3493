"""GET /package over HTTP (issue 13, point 4): a styled GeoPackage or a KMZ of an area."""

from __future__ import annotations

import json
import sqlite3
import zipfile
from io import BytesIO
from pathlib import Path

import pyogrio
from fastapi.testclient import TestClient

from tests.live import LiveServer


def test_package_is_served_by_a_live_server(live: LiveServer, tmp_path: Path) -> None:
    answer = live.request("/package?area=38&f=gpkg", timeout=120)
    assert answer.status == 200, answer.body[:500]
    assert answer.headers["content-type"] == "application/geopackage+sqlite3"
    assert 'filename="craftmap-38.gpkg"' in answer.headers["content-disposition"]
    out = tmp_path / "38.gpkg"
    out.write_bytes(answer.body)
    layers = {name for name, _ in pyogrio.list_layers(out)}
    assert {"villages", "material_zones", "routes", "route_stops", "admin_units"} <= layers
    with sqlite3.connect(out) as db:
        styled = {row[0] for row in db.execute("SELECT f_table_name FROM layer_styles")}
    assert "villages" in styled

    kmz = live.request("/package?commune=14956&f=kmz", timeout=120)
    assert kmz.status == 200
    assert kmz.headers["content-type"] == "application/vnd.google-earth.kmz"
    assert 'filename="craftmap-14956.kmz"' in kmz.headers["content-disposition"]
    with zipfile.ZipFile(BytesIO(kmz.body)) as archive:
        assert archive.namelist() == ["doc.kml"]
        assert "Lặn Ngoài".encode() in archive.read("doc.kml")


def test_bad_areas_are_problems_and_the_server_keeps_serving(live: LiveServer) -> None:
    for path, status, words in [
        ("/package?area=99999", 404, "99999"),
        ("/package?commune=38", 400, "not a commune"),
        ("/package?bbox=1,2,3", 400, "bbox"),
        ("/package?area=38&bbox=105,19,106,20", 400, "one area"),
        ("/package?area=38&f=shp", 400, ""),
        ("/package?area=38&crs=EPSG:2154", 400, "CRS"),
        ("/package?area=%3Cscript%3E", 400, "code"),
        ("/package", 400, "one area"),
    ]:
        answer = live.request(path)
        assert answer.status == status, (path, answer.body)
        assert answer.headers["content-type"].startswith("application/problem+json"), path
        assert words in json.loads(answer.body)["detail"], path
    assert live.request("/package?area=38&f=kmz", timeout=120).status == 200


def test_too_large_an_area_names_the_limit(client: TestClient) -> None:
    client.app.state.settings.package_max_features = 10  # type: ignore[attr-defined]
    answer = client.get("/package?area=38")
    assert answer.status_code == 400
    problem = answer.json()
    assert "more than the 10" in problem["detail"]


def test_package_is_in_the_openapi(client: TestClient) -> None:
    document = client.get(
        "/api", headers={"Accept": "application/vnd.oai.openapi+json;version=3.0"}
    ).json()
    operation = document["paths"]["/package"]["get"]
    names = {p["name"] for p in operation["parameters"]}
    assert {"area", "commune", "bbox", "f", "crs"} <= names
    content = operation["responses"]["200"]["content"]
    assert {"application/geopackage+sqlite3", "application/vnd.google-earth.kmz"} <= set(content)


def test_cli_writes_packages_and_refuses_bad_areas_readably(
    database_url: str, tmp_path: Path
) -> None:
    from tests.test_cli import invoke_cli, run_cli

    env = {"DATABASE_URL": database_url}
    out = tmp_path / "thanh-hoa.gpkg"
    # The one real `craftmap` process of this file (the entry point); the rest run in this
    # process (tests.test_cli.invoke_cli).
    done = run_cli("package", "--area", "38", "--out", str(out), "--crs", "EPSG:5897", env=env)
    assert f"Wrote {out}" in done.stdout and "villages" in done.stdout
    assert pyogrio.read_info(out, layer="villages")["crs"] == "EPSG:5897"
    kmz = tmp_path / "pu-luong.kmz"
    invoke_cli("package", "--commune", "14956", "--out", str(kmz), env=env)
    assert zipfile.is_zipfile(kmz)
    bad = invoke_cli(
        "package", "--area", "99999", "--out", str(tmp_path / "x.gpkg"), env=env, check=False
    )
    assert bad.returncode == 1 and "Traceback" not in bad.stderr
    assert "no administrative unit with code '99999'" in bad.stderr
    assert not (tmp_path / "x.gpkg").exists()
    wrong = invoke_cli(
        "package", "--area", "38", "--out", str(tmp_path / "x.shp"), env=env, check=False
    )
    assert wrong.returncode == 1 and "unknown package format 'shp'" in wrong.stderr
