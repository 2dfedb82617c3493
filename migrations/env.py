"""Alembic environment: craftmap's metadata and the database from settings."""

from alembic import context
from geoalchemy2 import alembic_helpers

from geo.store.db import make_engine
from geo.store.models import Base
from geo.store.roles import grant_app_privileges
from ops.settings import DatabaseSettings

config = context.config
target_metadata = Base.metadata


def _url() -> str:
    # A caller (geo.store.migrate, tests) may pass the URL in; otherwise read the settings:
    # migrations run as the owner role (MIGRATION_DATABASE_URL, else DATABASE_URL).
    given = config.attributes.get("database_url")
    return str(given) if given else DatabaseSettings().migration_url()


def _app_role() -> str | None:
    # The role the app connects as, when it is not the one migrating (least privilege).
    if config.attributes.get("database_url"):
        given = config.attributes.get("app_role")
        return str(given) if given else None
    return DatabaseSettings().app_role()


def _include_object(obj, name, type_, reflected, compare_to):  # type: ignore[no-untyped-def]
    # PostGIS's own table and Alembic's bookkeeping are not part of our models.
    # rate_limit is the rate limiter's scratch table (api/auth.py), not a model; tile_cache
    # the tile cache's (geo/query/tile_cache.py).
    if type_ == "table" and name in {
        "spatial_ref_sys",
        "alembic_version",
        "rate_limit",
        "tile_cache",
    }:
        return False
    return alembic_helpers.include_object(obj, name, type_, reflected, compare_to)


def run_migrations_offline() -> None:
    """Emit SQL without a connection."""
    context.configure(
        url=_url(),
        target_metadata=target_metadata,
        literal_binds=True,
        include_object=_include_object,
        render_item=alembic_helpers.render_item,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Run migrations on a live connection."""
    connectable = config.attributes.get("connection")
    if connectable is not None:
        _run(connectable)
        return
    engine = make_engine(_url(), pool_size=1)
    try:
        with engine.connect() as connection:
            _run(connection)
    finally:
        engine.dispose()


def _run(connection) -> None:  # type: ignore[no-untyped-def]
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        include_object=_include_object,
        process_revision_directives=alembic_helpers.writer,
        render_item=alembic_helpers.render_item,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
        app_role = _app_role()
        if app_role is not None:
            grant_app_privileges(connection, app_role)


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
