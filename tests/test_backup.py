"""``craftmap backup`` / ``craftmap restore``, run as a user runs them, on real databases."""

from __future__ import annotations

import contextlib
import os
import pty
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import make_url

from api.main import create_app
from api.settings import ApiSettings
from geo.io import ingest
from geo.store import keys, migrate
from geo.store.db import make_engine, set_actor
from ops.cluster import LocalCluster
from ops.settings import DatabaseSettings
from tests import DEMO_DIR
from tests.conftest import REPO_ROOT, create_database, drop_database, libpq_conninfo
from tests.factories import village_feature
from tests.test_cli import CRAFTMAP, invoke_cli, run_cli

VILLAGE = village_feature(code="T-V-BACKUP", name="Làng sao lưu", at=(105.71, 19.91))


def snapshot(url: str) -> dict[str, Any]:
    """Every row of every logged table in public (geometry as its hex EWKB), and every
    sequence. The UNLOGGED tables (tile cache, rate-limit counts) are not backed up."""
    with psycopg.connect(libpq_conninfo(url)) as conn:
        tables = [
            r[0]
            for r in conn.execute(
                "SELECT relname FROM pg_class WHERE relnamespace = 'public'::regnamespace"
                " AND relkind = 'r' AND relpersistence = 'p' ORDER BY 1"
            )
        ]
        # A row cast to text spells out every column; geometry's text form is hex EWKB.
        rows = {
            t: sorted(r[0] for r in conn.execute(f'SELECT t::text FROM public."{t}" t'))
            for t in tables
        }
        sequences = {
            name: conn.execute(f'SELECT last_value, is_called FROM public."{name}"').fetchone()
            for (name,) in conn.execute(
                "SELECT sequencename FROM pg_sequences WHERE schemaname = 'public' ORDER BY 1"
            ).fetchall()
        }
    return {"tables": rows, "sequences": sequences}


def _url_env(url: str) -> dict[str, str]:
    return {"DATABASE_URL": url}


@pytest.fixture(scope="module")
def source(
    pg_server_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    """A database with the demo, a key, a feature written with it and its history; a backup."""
    url = create_database(pg_server_url, "craftmap_backup_src")
    migrate.upgrade(url)
    engine = make_engine(url)
    ingest.load_demo(engine, demo_dir=DEMO_DIR, actor="test-setup")
    with engine.begin() as conn:
        set_actor(conn, "test-setup")
        token, _ = keys.create_key(conn, name="backup test", role="admin")
    engine.dispose()
    app = create_app(ApiSettings(), DatabaseSettings(database_url=url))
    auth = {"Authorization": f"Bearer {token}"}
    with TestClient(app) as client:
        created = client.post("/collections/villages/items", json=VILLAGE, headers=auth)
        assert created.status_code == 201, created.text
        location = created.headers["location"]
        feature = location[location.index("/collections") :]
        patched = client.patch(
            feature,
            json={"properties": {"name": "Làng sao lưu đã sửa"}},
            headers={**auth, "If-Match": created.headers["etag"]},
        )
        assert patched.status_code == 200, patched.text
        # A tile served fills the (unlogged) tile cache, which the backup leaves out.
        tile = client.get("/collections/villages/tiles/WebMercatorQuad/8/113/203")
        assert tile.status_code in (200, 204), tile.text
    with psycopg.connect(libpq_conninfo(url)) as conn:
        assert conn.execute("SELECT count(*) FROM tile_cache").fetchone()[0] > 0
    folder = tmp_path_factory.mktemp("backup")
    archive = folder / "craftmap.dump"
    # A real `craftmap backup` process; the other commands of this file run in this process
    # (tests.test_cli.invoke_cli), but for the terminal prompt (_in_terminal).
    result = run_cli("backup", str(archive), env=_url_env(url))
    assert "Backed up" in result.stdout and archive.stat().st_size > 10_000
    yield {"url": url, "archive": archive, "token": token, "feature": feature, "folder": folder}
    drop_database(url)


@pytest.fixture(scope="module")
def private_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """CRAFTMAP_HOME of a private cluster created for this module."""
    home = tmp_path_factory.mktemp("private") / "home"
    yield home
    LocalCluster(home).destroy()


def test_round_trip_keeps_every_row_and_sequence(
    source: dict[str, Any], pg_server_url: str, private_home: Path
) -> None:
    before = snapshot(source["url"])
    tables = before["tables"]
    assert len(tables["feature_history"]) > 0 and len(tables["api_key"]) == 1
    assert len(tables["alembic_version"]) == 1 and any(
        "Làng sao lưu đã sửa" in r for r in tables["craft_village"]
    )

    # Into a fresh database given by URL …
    target = create_database(pg_server_url, "craftmap_backup_dst")
    try:
        out = invoke_cli("restore", str(source["archive"]), env=_url_env(target))
        assert "Restored" in out.stdout and "migrate" not in out.stderr
        assert snapshot(target) == before
        with psycopg.connect(libpq_conninfo(target)) as conn:
            # The table is there (the schema is whole), its rows are not.
            assert conn.execute("SELECT count(*) FROM tile_cache").fetchone()[0] == 0

        # … which works: the key authenticates, history grows, new ids do not collide.
        app = create_app(ApiSettings(), DatabaseSettings(database_url=target))
        auth = {"Authorization": f"Bearer {source['token']}"}
        with TestClient(app) as client:
            again = {**VILLAGE, "properties": {**VILLAGE["properties"], "code": "T-V-AFTER"}}
            created = client.post("/collections/villages/items", json=again, headers=auth)
            assert created.status_code == 201, created.text
            assert client.get(source["feature"]).json()["properties"]["name"] == (
                "Làng sao lưu đã sửa"
            )
        after = snapshot(target)["tables"]
        assert len(after["feature_history"]) == len(tables["feature_history"]) + 1
    finally:
        drop_database(target)

    # … and into a new private cluster (no DATABASE_URL), which the command creates.
    env = {"CRAFTMAP_HOME": str(private_home)}
    # A real process: the private cluster it starts outlives the command.
    out = run_cli("restore", str(source["archive"]), env=env)
    assert "Restored" in out.stdout
    cluster = LocalCluster(private_home)
    assert snapshot(cluster.url()) == before
    # The restore ran as the schema owner; the app role the server uses was granted its
    # rights again (a backup carries no grants): it reads and writes, but cannot drop.
    with psycopg.connect(libpq_conninfo(cluster.app_url()), autocommit=True) as conn:
        assert conn.execute("SELECT count(*) FROM craft_village").fetchone()[0] > 0
        conn.execute("UPDATE craft_village SET notes = notes WHERE id = 1")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("DROP TABLE craft_village")
        # The history stays read-only to it (default privileges alone would grant DELETE).
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("DELETE FROM feature_history")


def test_new_private_cluster_has_data_checksums(private_home: Path) -> None:
    cluster = LocalCluster(private_home)
    cluster.start()
    with psycopg.connect(libpq_conninfo(cluster.url())) as conn:
        assert conn.execute("SHOW data_checksums").fetchone() == ("on",)


def test_restore_by_a_role_that_may_not_create_postgis(
    source: dict[str, Any], pg_server_url: str
) -> None:
    # DATABASE_URL of a hosted server: the database's owner is no superuser, and an
    # administrator created PostGIS and pgRouting for it (neither is a trusted extension).
    # Restore and replace must both work.
    role = f"restorer_{uuid.uuid4().hex[:8]}"
    url = create_database(pg_server_url, "craftmap_backup_role")
    with psycopg.connect(libpq_conninfo(pg_server_url), autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {role} LOGIN PASSWORD '{role}'")
        conn.execute(f'ALTER DATABASE "{make_url(url).database}" OWNER TO {role}')
    with psycopg.connect(libpq_conninfo(url), autocommit=True) as conn:
        conn.execute("CREATE EXTENSION postgis")
        conn.execute("CREATE EXTENSION pgrouting")
    as_owner = make_url(url).set(username=role, password=role).render_as_string(False)
    try:
        assert (
            "Restored"
            in invoke_cli("restore", str(source["archive"]), env=_url_env(as_owner)).stdout
        )
        with psycopg.connect(libpq_conninfo(as_owner), autocommit=True) as conn:
            conn.execute("DELETE FROM route_stop")
        invoke_cli("restore", "--force", str(source["archive"]), env=_url_env(as_owner))
        assert snapshot(as_owner) == snapshot(source["url"])
    finally:
        drop_database(url)
        with psycopg.connect(libpq_conninfo(pg_server_url), autocommit=True) as conn:
            conn.execute(f"DROP ROLE {role}")


def _tables(url: str) -> list[tuple[str, str]]:
    with psycopg.connect(libpq_conninfo(url)) as conn:
        return conn.execute(
            "SELECT schemaname, tablename FROM pg_tables "
            "WHERE schemaname NOT IN ('pg_catalog', 'information_schema')"
        ).fetchall()


def test_restore_refuses_garbage_and_writes_nothing(
    source: dict[str, Any], fresh_database_url: str
) -> None:
    folder: Path = source["folder"]
    garbage = folder / "garbage.dump"
    garbage.write_bytes(os.urandom(4096))
    not_ours = folder / "other.dump"
    with psycopg.connect(libpq_conninfo(fresh_database_url), autocommit=True) as conn:
        conn.execute("CREATE TABLE t (x int)")
    subprocess.run(
        ["pg_dump", "--format=custom", f"--file={not_ours}", libpq_conninfo(fresh_database_url)],
        check=True,
        env={**os.environ, "PATH": f"/usr/lib/postgresql/15/bin:{os.environ['PATH']}"},
    )
    with psycopg.connect(libpq_conninfo(fresh_database_url), autocommit=True) as conn:
        conn.execute("DROP TABLE t")
    truncated = folder / "truncated.dump"
    whole = source["archive"].read_bytes()
    truncated.write_bytes(whole[: len(whole) * 9 // 10])
    cases = {
        garbage: "is not a craftmap backup",
        not_ours: "not of a craftmap database",
        truncated: "is damaged",
        folder / "missing.dump": "no such backup file",
    }
    for path, message in cases.items():
        result = invoke_cli("restore", str(path), env=_url_env(fresh_database_url), check=False)
        assert result.returncode == 1, (path, result.stdout, result.stderr)
        assert message in result.stderr and "nothing was restored" in result.stderr
        assert "Traceback" not in result.stderr + result.stdout
        assert _tables(fresh_database_url) == [], f"{path.name} left tables behind"


def test_restore_over_data_needs_confirmation(
    source: dict[str, Any], fresh_database_url: str
) -> None:
    url = fresh_database_url
    invoke_cli("restore", str(source["archive"]), env=_url_env(url))
    with psycopg.connect(libpq_conninfo(url), autocommit=True) as conn:
        conn.execute("DELETE FROM route_stop")

    def stops() -> int:
        with psycopg.connect(libpq_conninfo(url)) as conn:
            return int(conn.execute("SELECT count(*) FROM route_stop").fetchone()[0])  # type: ignore[index]

    # No terminal: refused, with the way forward in the message.
    refused = invoke_cli("restore", str(source["archive"]), env=_url_env(url), check=False)
    assert refused.returncode == 1
    assert "not empty" in refused.stderr and "--force" in refused.stderr
    assert "craftmap backup" in refused.stderr
    assert stops() == 0

    # In a terminal: asked; anything but the word changes nothing, the word replaces.
    assert "Nothing was changed" in _in_terminal(source["archive"], url, "yes\n")
    assert stops() == 0
    assert "Restored" in _in_terminal(source["archive"], url, "replace\n")
    assert snapshot(url) == snapshot(source["url"])

    # --force replaces without asking, and a backup is never overwritten by accident.
    with psycopg.connect(libpq_conninfo(url), autocommit=True) as conn:
        conn.execute("DELETE FROM route_stop")
    invoke_cli("restore", "--force", str(source["archive"]), env=_url_env(url))
    assert snapshot(url) == snapshot(source["url"])
    again = invoke_cli("backup", str(source["archive"]), env=_url_env(url), check=False)
    assert again.returncode == 1 and "--force" in again.stderr


def _in_terminal(archive: Path, url: str, typed: str) -> str:
    """Run ``craftmap restore`` with a terminal as stdin, type ``typed``; its output."""
    primary, secondary = pty.openpty()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CRAFTMAP_")}
    process = subprocess.Popen(
        [CRAFTMAP, "restore", str(archive)],
        stdin=secondary,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env={**env, "DATABASE_URL": url},
        text=True,
    )
    os.close(secondary)
    os.write(primary, typed.encode())
    output, _ = process.communicate(timeout=120)
    os.close(primary)
    return output


def _make_clean(repo: Path, *, typed: str | None = None, confirm: bool = False) -> tuple[int, str]:
    """``make clean`` in ``repo``: no stdin at all, or a terminal where ``typed`` is typed."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CRAFTMAP_")}
    env.pop("DATABASE_URL", None)
    args = ["make", "--no-print-directory", "clean", f"CRAFTMAP={CRAFTMAP}"]
    if confirm:
        args.append("CONFIRM=yes")
    if typed is None:
        done = subprocess.run(
            args, cwd=repo, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True
        )
        return done.returncode, done.stdout + done.stderr
    primary, secondary = pty.openpty()
    process = subprocess.Popen(
        args, cwd=repo, env=env, stdin=secondary, stdout=secondary, stderr=secondary
    )
    os.close(secondary)
    os.write(primary, typed.encode())
    process.wait(timeout=120)
    output = b""
    with contextlib.suppress(OSError):  # EIO once the terminal's last writer has gone
        while chunk := os.read(primary, 65536):
            output += chunk
    os.close(primary)
    return process.returncode, output.decode(errors="replace")


def test_make_clean_asks_before_deleting_the_database(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    shutil.copy(REPO_ROOT / "Makefile", repo / "Makefile")
    home = repo / ".craftmap"
    cluster = LocalCluster(home)
    state = cluster.start()
    data = Path(state.cluster_dir) / "data"
    try:
        code, said = _make_clean(repo)
        assert code != 0 and "craftmap backup" in said and "CONFIRM=yes" in said
        assert (data / "PG_VERSION").exists() and cluster.status().running

        code, said = _make_clean(repo, typed="yes\n")
        assert code != 0 and "Nothing deleted" in said
        assert (data / "PG_VERSION").exists() and cluster.status().running

        code, said = _make_clean(repo, typed="delete\n")
        assert code == 0, said
        assert not home.exists() and not data.exists()
    finally:
        cluster.destroy()

    # A data folder without a cluster (map assets only) is removed without asking, and
    # CONFIRM=yes deletes without a terminal.
    (home / "vendor").mkdir(parents=True)
    assert _make_clean(repo)[0] == 0 and not home.exists()
    (home / "postgres").mkdir(parents=True)
    assert _make_clean(repo)[0] != 0 and home.exists()
    assert _make_clean(repo, confirm=True)[0] == 0 and not home.exists()
