"""The ``craftmap`` command line: as a user runs it (a separate process) where the process
itself is the point (the private cluster, serve), else in this process (``invoke_cli``)."""

from __future__ import annotations

import os
import pwd
import subprocess
import sys
import traceback
from pathlib import Path

import psycopg
import pytest

from geo.store import migrate
from tests.conftest import libpq_conninfo

CRAFTMAP = str(Path(sys.executable).parent / "craftmap")


def run_cli(
    *args: str, env: dict[str, str], check: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run ``craftmap ARGS`` with ``env`` added to a clean copy of the environment."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("CRAFTMAP_")}
    base.pop("DATABASE_URL", None)
    result = subprocess.run(
        [CRAFTMAP, *args], env={**base, **env}, capture_output=True, text=True, timeout=180
    )
    if check and result.returncode != 0:
        raise AssertionError(f"craftmap {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result


def invoke_cli(
    *args: str, env: dict[str, str], check: bool = True
) -> subprocess.CompletedProcess[str]:
    """``run_cli`` in this process: the same commands, answers and exit codes, without the
    5-10 s a new interpreter spends importing pyogrio, folium, ortools and the rest.

    For tests about what a command says or does; what only a real process shows (the entry
    point, start-up, signals, the private cluster) keeps ``run_cli``. The environment is
    ``env`` over a copy without CRAFTMAP_* and DATABASE_URL, as for ``run_cli``. An
    exception the command lets through is what a real process would print as a traceback:
    it is written to stderr the same way, with exit code 1.
    """
    from typer.testing import CliRunner

    from api.cli import app

    cleared: dict[str, str | None] = {
        k: None for k in os.environ if k.startswith("CRAFTMAP_") or k == "DATABASE_URL"
    }
    result = CliRunner().invoke(app, list(args), env={**cleared, **env}, prog_name="craftmap")
    stderr = result.stderr
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        assert result.exc_info is not None
        stderr += "".join(traceback.format_exception(*result.exc_info))
    completed = subprocess.CompletedProcess(
        ["craftmap", *args], result.exit_code, result.stdout, stderr
    )
    if check and completed.returncode != 0:
        raise AssertionError(f"craftmap {' '.join(args)} failed:\n{result.stdout}\n{stderr}")
    return completed


def test_private_cluster_lifecycle(tmp_path: Path) -> None:
    env = {"CRAFTMAP_HOME": str(tmp_path / "home")}
    try:
        status = invoke_cli("db", "status", env=env, check=False)
        assert status.returncode == 3 and "No cluster" in status.stdout

        assert "PostGIS cluster running on 127.0.0.1:" in run_cli("db", "start", env=env).stdout
        assert "running on 127.0.0.1:" in invoke_cli("db", "status", env=env).stdout
        state_file = tmp_path / "home" / "cluster.json"
        assert state_file.stat().st_mode & 0o077 == 0, "the password file must be private"
        if os.geteuid() == 0:
            data_dir = invoke_cli("db", "status", env=env).stdout.split("data in ")[1].strip()
            assert Path(data_dir).stat().st_uid == pwd.getpwnam("postgres").pw_uid

        url = invoke_cli("db", "url", env=env).stdout.strip()
        # The app's URL: the least-privilege role (tests/api/test_keys_hardening.py).
        assert url.startswith("postgresql+psycopg://craftmap_app:") and "@127.0.0.1:" in url

        # Starting and stopping the cluster run as real processes (the server outlives the
        # command); reading its state and the data commands run in this process.
        assert migrate.head_revision() in invoke_cli("migrate", env=env).stdout
        with psycopg.connect(libpq_conninfo(url)) as conn:
            postgis = conn.execute("SELECT postgis_lib_version()").fetchone()
        assert postgis is not None and postgis[0].startswith("3.")

        first = invoke_cli("demo", "load", env=env).stdout
        assert "craft_village" in first and " 0 new" not in first.split("craft_village")[1][:12]
        second = invoke_cli("demo", "load", env=env).stdout
        for line in second.strip().splitlines():
            assert "    0 new      0 changed" in line, line

        assert "downgraded to base" in invoke_cli("migrate", "--down-to", "base", env=env).stdout
        assert migrate.head_revision() in invoke_cli("migrate", env=env).stdout

        assert run_cli("db", "stop", env=env).stdout.strip() == "Stopped."
        stopped = invoke_cli("db", "status", env=env, check=False)
        assert stopped.returncode == 3 and "stopped" in stopped.stdout
        # Commands that need the database start the cluster again by themselves.
        assert "Dry run" in run_cli("demo", "load", "--dry-run", env=env).stdout
    finally:
        run_cli("db", "stop", env=env, check=False)


def test_missing_postgresql_names_the_package(tmp_path: Path) -> None:
    empty = tmp_path / "no-binaries"
    empty.mkdir()
    env = {"CRAFTMAP_HOME": str(tmp_path / "home"), "CRAFTMAP_PG_BINDIR": str(empty)}
    result = invoke_cli("db", "start", env=env, check=False)
    assert result.returncode == 1
    assert "apt-get install postgresql" in result.stderr
    assert "Traceback" not in result.stderr


def test_database_url_wins_over_the_private_cluster(
    fresh_database_url: str, tmp_path: Path
) -> None:
    env = {"DATABASE_URL": fresh_database_url, "CRAFTMAP_HOME": str(tmp_path / "unused")}
    assert "DATABASE_URL is set" in invoke_cli("db", "start", env=env).stdout
    assert invoke_cli("db", "url", env=env).stdout.strip() == fresh_database_url
    assert migrate.head_revision() in invoke_cli("migrate", env=env).stdout
    assert "Dry run" in invoke_cli("demo", "load", "--dry-run", env=env).stdout
    assert not (tmp_path / "unused").exists(), "no private cluster may be created"


@pytest.mark.parametrize("args", [["migrate", "--to", "no-such-revision"]])
def test_bad_arguments_get_a_readable_message(
    fresh_database_url: str, args: list[str], tmp_path: Path
) -> None:
    env = {"DATABASE_URL": fresh_database_url}
    result = invoke_cli(*args, env=env, check=False)
    assert result.returncode != 0
    assert "no-such-revision" in result.stderr
    assert "Traceback" not in result.stderr


def test_serve_with_several_workers(database_url: str, tmp_path: Path) -> None:
    import signal
    import time
    import urllib.request

    from ops.cluster import free_port

    port = free_port()
    base = {k: v for k, v in os.environ.items() if not k.startswith("CRAFTMAP_")}
    log_path = tmp_path / "serve.log"
    with log_path.open("w") as log:
        server = subprocess.Popen(
            [CRAFTMAP, "serve", "--port", str(port), "--workers", "2"],
            env={**base, "DATABASE_URL": database_url},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            answers = []
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and len(answers) < 4:
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/ready", timeout=5) as r:
                        answers.append(r.status)
                except OSError:
                    time.sleep(0.5)
            assert answers == [200, 200, 200, 200]
            # The first worker can answer before the second has logged its start.
            while time.monotonic() < deadline and (
                log_path.read_text().count("Started server process") < 2
            ):
                time.sleep(0.2)
            started = log_path.read_text().count("Started server process")
            assert started == 2, log_path.read_text()[-2000:]
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)


def test_keys_are_created_listed_and_revoked(fresh_database_url: str) -> None:
    env = {"DATABASE_URL": fresh_database_url}
    invoke_cli("migrate", env=env)
    created = invoke_cli("keys", "create", "--name", "Sở Nông nghiệp", "--role", "planner", env=env)
    token = created.stdout.strip()
    assert token.startswith("cm_") and "store it now" in created.stderr
    prefix = token.split("_")[1]
    listed = invoke_cli("keys", "list", env=env).stdout
    assert prefix in listed and "planner" in listed and "Sở Nông nghiệp" in listed
    assert token.split("_", 2)[2] not in listed, "the secret is never shown again"
    with psycopg.connect(libpq_conninfo(fresh_database_url)) as conn:
        stored = conn.execute("SELECT key_hash FROM api_key").fetchone()
    assert stored is not None and token not in stored[0] and len(stored[0]) == 64
    assert f"Revoked {prefix}" in invoke_cli("keys", "revoke", prefix, env=env).stdout
    assert "revoked" in invoke_cli("keys", "list", env=env).stdout
    bad_role = invoke_cli(
        "keys", "create", "--name", "x", "--role", "superuser", env=env, check=False
    )
    assert bad_role.returncode == 1 and "role must be one of" in bad_role.stderr


def test_reference_layer_import_is_served_and_used(fresh_database_url: str, tmp_path: Path) -> None:
    import json

    from fastapi.testclient import TestClient

    from api.main import create_app
    from api.settings import ApiSettings
    from ops.settings import DatabaseSettings

    env = {"DATABASE_URL": fresh_database_url}
    invoke_cli("migrate", env=env)
    layer = tmp_path / "rung-phong-ho.geojson"
    layer.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    {
                        "type": "Feature",
                        "properties": {"ten": "Rừng phòng hộ Sông Mã", "dien_tich_ha": 120.5},
                        "geometry": {
                            "type": "Polygon",
                            "coordinates": [
                                [[105.1, 20.3], [105.2, 20.3], [105.2, 20.4], [105.1, 20.3]]
                            ],
                        },
                    }
                ],
            },
            ensure_ascii=False,
        ),
        encoding="utf-8",
    )
    args = ["layers", "import", str(layer), "--name", "protection-forest"]
    args += ["--title", "Rừng phòng hộ", "--kind", "exclusion"]
    assert "1 features imported" in invoke_cli(*args, env=env).stdout
    again = invoke_cli(*args, env=env, check=False)
    assert again.returncode == 1 and "--replace" in again.stderr
    broken = tmp_path / "broken.geojson"
    broken.write_text("{not json", encoding="utf-8")
    bad = invoke_cli(
        "layers", "import", str(broken), "--name", "x", "--title", "x", env=env, check=False
    )
    assert bad.returncode == 1 and "Traceback" not in bad.stderr

    app = create_app(ApiSettings(), DatabaseSettings(database_url=fresh_database_url))
    with TestClient(app) as client:
        ids = {c["id"] for c in client.get("/collections").json()["collections"]}
        assert "protection-forest" in ids
        body = client.get("/collections/protection-forest/items").json()
        assert body["numberMatched"] == 1
        assert body["features"][0]["properties"]["ten"] == "Rừng phòng hộ Sông Mã"
        queryables = client.get("/collections/protection-forest/queryables").json()["properties"]
        assert queryables["dien_tich_ha"]["type"] == "number"
        filtered = client.get(
            "/collections/protection-forest/items", params={"filter": "dien_tich_ha > 100"}
        ).json()
        assert filtered["numberMatched"] == 1
