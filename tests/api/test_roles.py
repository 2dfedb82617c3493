"""Least privilege: the app connects as a role that owns nothing; migrations as the owner."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from geo.store import migrate, roles
from geo.store.db import make_engine
from tests.api.conftest import bearer
from tests.api.test_write import ZONE
from tests.conftest import create_database, drop_database, libpq_conninfo, with_role
from tests.test_cli import invoke_cli, run_cli

REFUSED = "must be owner|permission denied"


def _as_app(role_urls: dict[str, str], statement: str) -> None:
    with psycopg.connect(libpq_conninfo(role_urls["app"])) as conn:
        conn.execute(statement)


def test_the_app_role_is_no_superuser_and_owns_nothing(role_urls: dict[str, str]) -> None:
    with psycopg.connect(libpq_conninfo(role_urls["app"])) as conn:
        row = conn.execute(
            "SELECT current_user, rolsuper, rolcreaterole, rolcreatedb FROM pg_roles "
            "WHERE rolname = current_user"
        ).fetchone()
        owned = conn.execute(
            "SELECT count(*) FROM pg_class WHERE relowner = "
            "(SELECT oid FROM pg_roles WHERE rolname = current_user)"
        ).fetchone()
    assert row == (roles.APP_ROLE, False, False, False)
    assert owned == (0,)


@pytest.mark.parametrize(
    "statement",
    [
        "DROP TABLE craft_village",
        "ALTER TABLE craft_village ADD COLUMN sneaky text",
        "TRUNCATE craft_village",
        "DELETE FROM feature_history",
        "UPDATE feature_history SET actor = 'someone else'",
        "INSERT INTO feature_history (table_name, feature_id, action, actor) "
        "VALUES ('craft_village', '1', 'create', 'forged')",
        "UPDATE alembic_version SET version_num = 'x'",
        "CREATE TABLE public.mine (id int)",
        "CREATE OR REPLACE FUNCTION craftmap_touch() RETURNS trigger LANGUAGE plpgsql "
        "AS $$ BEGIN RETURN NEW; END $$",
        "ALTER FUNCTION craftmap_record_history() SECURITY INVOKER",
    ],
)
def test_the_app_role_cannot_change_the_schema_or_the_history(
    role_urls: dict[str, str], statement: str
) -> None:
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match=REFUSED):
        _as_app(role_urls, statement)


def test_the_app_role_reads_what_it_needs(role_urls: dict[str, str]) -> None:
    # Key hashes are read to authenticate: the app must see them (a decision, not a leak:
    # a hash of a 256-bit token cannot be turned back into the token).
    with psycopg.connect(libpq_conninfo(role_urls["app"])) as conn:
        conn.execute("SELECT key_hash FROM api_key LIMIT 1")
        conn.execute("SELECT version_num FROM alembic_version")
        conn.execute("SELECT count(*) FROM feature_history")


def test_an_api_write_as_the_app_role_lands_in_history(
    client: TestClient, keys: dict[str, str], session: Session
) -> None:
    conn = session.connection()
    assert conn.execute(sa.text("SELECT current_user")).scalar() == roles.APP_ROLE
    created = client.post(
        "/collections/material-zones/items",
        json={**ZONE, "properties": {**ZONE["properties"], "code": "T-ROLE-1"}},  # type: ignore[dict-item]
        headers={**bearer(keys["planner"]), "Content-Type": "application/geo+json"},
    )
    assert created.status_code == 201, created.text
    recorded = conn.execute(
        sa.text(
            "SELECT action, actor FROM feature_history WHERE table_name = 'material_zone' "
            "AND after->>'code' = 'T-ROLE-1'"
        )
    ).all()
    assert [(r.action, r.actor.split(":")[0]) for r in recorded] == [("create", "key")]


@pytest.fixture
def bare_database(pg_server_url: str, role_passwords: dict[str, str]) -> Iterator[dict[str, str]]:
    """An empty database handed to the owner role, not yet migrated."""
    admin = create_database(pg_server_url, "craftmap_roles")
    with psycopg.connect(libpq_conninfo(admin), autocommit=True) as conn:
        roles.prepare_database(conn)
    yield {
        "admin": admin,
        "owner": with_role(admin, roles.OWNER_ROLE, role_passwords[roles.OWNER_ROLE]),
        "app": with_role(admin, roles.APP_ROLE, role_passwords[roles.APP_ROLE]),
    }
    drop_database(admin)


def test_craftmap_migrate_runs_as_the_owner_and_grants_the_app(
    bare_database: dict[str, str],
) -> None:
    env = {"DATABASE_URL": bare_database["app"], "MIGRATION_DATABASE_URL": bare_database["owner"]}
    assert migrate.head_revision() in invoke_cli("migrate", env=env).stdout
    with psycopg.connect(libpq_conninfo(bare_database["admin"])) as conn:
        owners = set(
            conn.execute(
                "SELECT DISTINCT pg_get_userbyid(relowner) FROM pg_class c "
                "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' "
                "AND c.relname IN ('craft_village', 'feature_history', 'api_key', "
                "'rate_limit', 'alembic_version')"
            ).fetchall()
        )
    assert owners == {(roles.OWNER_ROLE,)}
    # The app can now create a key (rows, sequence, history through the trigger)…
    created = invoke_cli("keys", "create", "--name", "roles", "--role", "viewer", env=env)
    assert created.stdout.startswith("cm_")
    engine = make_engine(bare_database["app"])
    with engine.begin() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM feature_history")).scalar() == 1
        # …and uses a table a later migration creates, through the default privileges.
        owner = make_engine(bare_database["owner"])
        with owner.begin() as owner_conn:
            owner_conn.execute(sa.text("CREATE TABLE later_table (id serial PRIMARY KEY)"))
        owner.dispose()
        conn.execute(sa.text("INSERT INTO later_table DEFAULT VALUES"))
    engine.dispose()
    assert "downgraded to base" in invoke_cli("migrate", "--down-to", "base", env=env).stdout


def test_one_url_still_works_for_an_external_server(fresh_database_url: str) -> None:
    env = {"DATABASE_URL": fresh_database_url}
    assert migrate.head_revision() in invoke_cli("migrate", env=env).stdout
    assert invoke_cli("keys", "create", "--name", "one", "--role", "viewer", env=env).stdout


def test_the_private_cluster_makes_owner_and_app_roles(tmp_path: Path) -> None:
    env = {"CRAFTMAP_HOME": str(tmp_path / "home")}
    try:
        run_cli("db", "start", env=env)
        # Starting the cluster as a real process (it outlives the command); reading its
        # state and the data commands in this process, on that cluster.
        app_url = invoke_cli("db", "url", env=env).stdout.strip()
        owner_url = invoke_cli("db", "url", "--role", "owner", env=env).stdout.strip()
        admin_url = invoke_cli("db", "url", "--role", "admin", env=env).stdout.strip()
        assert f"//{roles.APP_ROLE}:" in app_url and f"//{roles.OWNER_ROLE}:" in owner_url
        assert migrate.head_revision() in invoke_cli("migrate", env=env).stdout
        with psycopg.connect(libpq_conninfo(admin_url)) as conn:
            found = dict(
                conn.execute(
                    "SELECT rolname, rolsuper FROM pg_roles WHERE rolname LIKE 'craftmap%'"
                ).fetchall()
            )
            table_owner = conn.execute(
                "SELECT pg_get_userbyid(relowner) FROM pg_class WHERE relname = 'craft_village'"
            ).fetchone()
        assert found == {"craftmap": True, roles.OWNER_ROLE: False, roles.APP_ROLE: False}
        assert table_owner == (roles.OWNER_ROLE,)
        name = f"cluster {uuid.uuid4().hex[:4]}"
        assert invoke_cli("keys", "create", "--name", name, "--role", "viewer", env=env).stdout
        with (
            psycopg.connect(libpq_conninfo(app_url)) as conn,
            pytest.raises(psycopg.errors.InsufficientPrivilege),
        ):
            conn.execute("DROP TABLE craft_village")

        # A running cluster from before the roles (no role passwords in cluster.json) gets
        # them on the next start, and its objects are handed to the owner.
        state_file = tmp_path / "home" / "cluster.json"
        state = json.loads(state_file.read_text())
        state_file.write_text(
            json.dumps({k: v for k, v in state.items() if not k.endswith("_password")})
        )
        run_cli("db", "start", env=env)
        assert invoke_cli("db", "url", env=env).stdout.strip() != app_url
        assert name in invoke_cli("keys", "list", env=env).stdout
    finally:
        run_cli("db", "stop", env=env, check=False)


def test_a_database_made_by_the_superuser_is_handed_to_the_owner(
    fresh_database_url: str, role_passwords: dict[str, str]
) -> None:
    # A private cluster from before the roles: everything was made by the superuser.
    migrate.upgrade(fresh_database_url)
    with psycopg.connect(libpq_conninfo(fresh_database_url), autocommit=True) as conn:
        roles.prepare_database(conn)
        owners = conn.execute(
            "SELECT DISTINCT pg_get_userbyid(c.relowner) FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' "
            "AND c.relname <> 'spatial_ref_sys' AND c.relkind IN ('r', 'S')"
        ).fetchall()
        functions = conn.execute(
            "SELECT DISTINCT pg_get_userbyid(proowner) FROM pg_proc WHERE proname LIKE 'craftmap%'"
        ).fetchall()
    assert owners == [(roles.OWNER_ROLE,)] and functions == [(roles.OWNER_ROLE,)]
    owner = with_role(fresh_database_url, roles.OWNER_ROLE, role_passwords[roles.OWNER_ROLE])
    migrate.downgrade(owner, "0003_api_key_history", app_role=roles.APP_ROLE)
    migrate.upgrade(owner, app_role=roles.APP_ROLE)
    app = with_role(fresh_database_url, roles.APP_ROLE, role_passwords[roles.APP_ROLE])
    with psycopg.connect(libpq_conninfo(app)) as conn:
        conn.execute("SELECT count(*) FROM rate_limit")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("DELETE FROM feature_history")
