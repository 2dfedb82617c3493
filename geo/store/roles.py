"""Least-privilege database roles: an owner for migrations, an app role for serving.

- the **owner** role (``craftmap_owner``) owns the database and every schema object; the
  migrations run as it;
- the **app** role (``craftmap_app``) logs in to serve requests: it reads and writes rows
  of the feature tables and may only read ``feature_history`` (the history trigger writes
  there as its owner, SECURITY DEFINER) and ``alembic_version``; it owns nothing, so it
  cannot drop, alter or truncate anything;
- the superuser is for administration (creating the roles, the database, extensions).

With one URL for both (an external server configured with ``DATABASE_URL`` only), the
app and the migrations share a role and nothing here is applied.
"""

from __future__ import annotations

import psycopg
import sqlalchemy as sa
from psycopg import sql
from sqlalchemy.engine import Connection

OWNER_ROLE = "craftmap_owner"
APP_ROLE = "craftmap_app"
# Tables the app role may read but never change.
READ_ONLY_TABLES = frozenset(
    {"feature_history", "alembic_version", "catalog_version", "tile_generalised"}
)
# PostGIS is not a trusted extension: a superuser creates it before the owner migrates.
EXTENSIONS = ("postgis", "unaccent", "pgrouting")


def ensure_roles(conn: psycopg.Connection, *, owner_password: str, app_password: str) -> None:
    """Create (or re-password) the owner and app login roles; run as a superuser."""
    for role, password in ((OWNER_ROLE, owner_password), (APP_ROLE, app_password)):
        exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone()
        verb = sql.SQL("ALTER" if exists else "CREATE")
        conn.execute(
            sql.SQL(
                "{} ROLE {} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION "
                "NOBYPASSRLS PASSWORD {}"
            ).format(verb, sql.Identifier(role), sql.Literal(password))
        )


def prepare_database(conn: psycopg.Connection) -> None:
    """Hand the current database to the owner role and set the app role's default rights.

    Run as a superuser, connected to the database. Idempotent: objects an earlier
    craftmap created as the superuser are handed to the owner too.
    """
    owner, app = sql.Identifier(OWNER_ROLE), sql.Identifier(APP_ROLE)
    database = conn.execute("SELECT current_database()").fetchone()
    assert database is not None
    conn.execute(
        sql.SQL("ALTER DATABASE {} OWNER TO {}").format(sql.Identifier(database[0]), owner)
    )
    conn.execute(sql.SQL("ALTER SCHEMA public OWNER TO {}").format(owner))
    for extension in EXTENSIONS:
        conn.execute(sql.SQL("CREATE EXTENSION IF NOT EXISTS {}").format(sql.Identifier(extension)))
    _hand_over_objects(conn)
    conn.execute(
        sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(sql.Identifier(database[0]), app)
    )
    conn.execute(sql.SQL("GRANT USAGE ON SCHEMA public TO {}").format(app))
    conn.execute(sql.SQL("REVOKE CREATE ON SCHEMA public FROM PUBLIC, {}").format(app))
    # Tables and sequences later migrations create are the app's to use at once.
    conn.execute(
        sql.SQL(
            "ALTER DEFAULT PRIVILEGES FOR ROLE {} IN SCHEMA public "
            "GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {}"
        ).format(owner, app)
    )
    conn.execute(
        sql.SQL(
            "ALTER DEFAULT PRIVILEGES FOR ROLE {} IN SCHEMA public "
            "GRANT USAGE, SELECT ON SEQUENCES TO {}"
        ).format(owner, app)
    )


def _hand_over_objects(conn: psycopg.Connection) -> None:
    """Give the owner role the tables, sequences and functions another role created.

    Extension members (spatial_ref_sys, PostGIS's functions) stay with their extension.
    """
    not_in_extension = (
        "NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = {catalog}::regclass "
        "AND d.objid = o.oid AND d.deptype = 'e')"
    )
    relations = conn.execute(
        "SELECT o.relname, o.relkind FROM pg_class o "
        "JOIN pg_namespace n ON n.oid = o.relnamespace "
        "WHERE n.nspname = 'public' AND o.relkind IN ('r', 'p', 'v', 'm', 'S') "
        "AND pg_get_userbyid(o.relowner) <> %s "
        # A sequence owned by a column follows its table.
        "AND NOT (o.relkind = 'S' AND EXISTS (SELECT 1 FROM pg_depend d "
        "WHERE d.classid = 'pg_class'::regclass AND d.objid = o.oid AND d.deptype IN ('a', 'i'))) "
        "AND " + not_in_extension.format(catalog="'pg_class'"),
        (OWNER_ROLE,),
    ).fetchall()
    for name, kind in relations:
        what = {"S": "SEQUENCE", "v": "VIEW", "m": "MATERIALIZED VIEW"}.get(kind, "TABLE")
        conn.execute(
            sql.SQL("ALTER {} public.{} OWNER TO {}").format(
                sql.SQL(what), sql.Identifier(name), sql.Identifier(OWNER_ROLE)
            )
        )
    functions = conn.execute(
        "SELECT o.oid::regprocedure::text FROM pg_proc o "
        "JOIN pg_namespace n ON n.oid = o.pronamespace "
        "WHERE n.nspname = 'public' AND pg_get_userbyid(o.proowner) <> %s "
        "AND " + not_in_extension.format(catalog="'pg_proc'"),
        (OWNER_ROLE,),
    ).fetchall()
    for (signature,) in functions:
        # regprocedure text is already a quoted, schema-resolvable signature.
        conn.execute(
            sql.SQL("ALTER FUNCTION {} OWNER TO {}").format(
                sql.SQL(signature), sql.Identifier(OWNER_ROLE)
            )
        )


def grant_app_privileges(conn: Connection, app_role: str) -> None:
    """Grant ``app_role`` its rights on what the current role owns (after each migration).

    Idempotent. Default privileges already cover new tables; this also takes back writes
    on the read-only tables and covers objects that predate the default privileges.
    """
    if conn.execute(sa.text("SELECT current_user")).scalar() == app_role:
        return  # one role for both: it owns everything already
    quote = conn.dialect.identifier_preparer.quote
    owned = conn.execute(
        sa.text(
            "SELECT o.relname, o.relkind FROM pg_class o "
            "JOIN pg_namespace n ON n.oid = o.relnamespace "
            "WHERE n.nspname = 'public' AND o.relkind IN ('r', 'p', 'v', 'm', 'S') "
            "AND o.relowner = (SELECT oid FROM pg_roles WHERE rolname = current_user)"
        )
    ).all()
    role = quote(app_role)
    for name, kind in owned:
        target = f"public.{quote(name)}"
        if kind == "S":
            statements = [f"GRANT USAGE, SELECT ON SEQUENCE {target} TO {role}"]
        elif name in READ_ONLY_TABLES or kind in {"v", "m"}:
            statements = [
                f"REVOKE ALL ON {target} FROM {role}",
                f"GRANT SELECT ON {target} TO {role}",
            ]
        else:
            statements = [
                f"REVOKE TRUNCATE, REFERENCES, TRIGGER ON {target} FROM {role}",
                f"GRANT SELECT, INSERT, UPDATE, DELETE ON {target} TO {role}",
            ]
        for statement in statements:
            conn.execute(sa.text(statement))
