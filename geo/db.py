"""Database settings, engine and transaction helpers shared by the app, CLI and migrations."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session

from geo import constraint_messages
from geo.cluster import LocalCluster
from geo.errors import Conflict, DatabaseUnavailable, InvalidInput

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


class DatabaseSettings(BaseSettings):
    """Where the database is: ``DATABASE_URL``, or the private cluster under ``CRAFTMAP_HOME``.

    ``DATABASE_URL`` is what the app connects with; ``MIGRATION_DATABASE_URL`` what the
    migrations run with (the schema owner), defaulting to ``DATABASE_URL``. The private
    cluster has a role for each (``geo.roles``).
    """

    model_config = SettingsConfigDict(env_prefix="CRAFTMAP_", env_file=".env", extra="ignore")

    database_url: str | None = Field(
        default=None, validation_alias=AliasChoices("DATABASE_URL", "CRAFTMAP_DATABASE_URL")
    )
    # A PostgreSQL streaming replica for reads (GET/HEAD); writes always go to the primary.
    read_database_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("READ_DATABASE_URL", "CRAFTMAP_READ_DATABASE_URL"),
    )
    # The schema owner's URL, for migrations; DATABASE_URL's when not given.
    migration_database_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("MIGRATION_DATABASE_URL", "CRAFTMAP_MIGRATION_DATABASE_URL"),
    )
    home: Path = Path(".craftmap")
    pg_bindir: Path | None = None

    @field_validator("database_url", "read_database_url", "migration_database_url")
    @classmethod
    def _psycopg_driver(cls, value: str | None) -> str | None:
        return normalise_url(value) if value else None

    @property
    def uses_private_cluster(self) -> bool:
        """True when no external server is configured."""
        return self.database_url is None

    def cluster(self) -> LocalCluster:
        """The private cluster under ``home``."""
        return LocalCluster(self.home, pg_bindir=self.pg_bindir)

    def resolved_url(self) -> str:
        """The URL the app connects with (the private cluster's app role when none is set)."""
        if self.database_url is not None:
            return self.database_url
        return self.cluster().app_url()

    def migration_url(self) -> str:
        """The URL migrations run with: the schema owner's."""
        if self.migration_database_url is not None:
            return self.migration_database_url
        if self.database_url is not None:
            return self.database_url
        return self.cluster().owner_url()

    def app_role(self) -> str | None:
        """The app's role when it is not the migrations' (it is granted DML after each)."""
        app = sa.engine.make_url(self.resolved_url()).username
        owner = sa.engine.make_url(self.migration_url()).username
        return app if app and app != owner else None


def normalise_url(url: str) -> str:
    """Make any PostgreSQL URL use the psycopg 3 driver.

    Examples
    --------
    >>> normalise_url("postgresql://u:p@h/db")
    'postgresql+psycopg://u:p@h/db'
    >>> normalise_url("postgres://u@h/db")
    'postgresql+psycopg://u@h/db'
    """
    for prefix in ("postgresql+psycopg2://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def make_engine(url: str, *, pool_size: int = 5, for_reads: bool = False) -> Engine:
    """An engine for ``url``.

    The default engine checks each connection before use. A read engine (``for_reads``)
    skips that round trip and runs in autocommit, which saves the BEGIN and ROLLBACK
    round trips of every request: on a single-feature read these took longer than the
    query. A connection lost to a restart then fails one request (503) and the pool is
    refilled.
    """
    options: dict[str, Any] = {"pool_pre_ping": True}
    if for_reads:
        options = {"pool_pre_ping": False, "isolation_level": "AUTOCOMMIT"}
    return sa.create_engine(
        normalise_url(url),
        pool_size=pool_size,
        max_overflow=pool_size,
        connect_args={"application_name": "craftmap", "connect_timeout": 5},
        **options,
    )


def set_actor(session: Session | Connection, actor: str) -> None:
    """Name who makes the writes of the current transaction (read by the history trigger)."""
    session.execute(sa.text("SELECT set_config('craftmap.actor', :actor, true)"), {"actor": actor})


@contextlib.contextmanager
def translate_errors() -> Iterator[None]:
    """Turn database errors into domain errors at the connection boundary."""
    try:
        yield
    except sa_exc.IntegrityError as exc:
        # The message names the field and the rule in words, never a constraint's name.
        sqlstate = getattr(exc.orig, "sqlstate", None)
        diag = getattr(exc.orig, "diag", None)
        worded = constraint_messages.describe(
            sqlstate,
            getattr(diag, "constraint_name", None),
            getattr(diag, "message_detail", None),
            getattr(diag, "column_name", None),
        )
        if sqlstate == "23505":
            raise Conflict(worded) from exc
        raise InvalidInput(worded) from exc
    except sa_exc.DataError as exc:
        # Wrong SRID or geometry type, out-of-range numbers, malformed values.
        message = getattr(getattr(exc.orig, "diag", None), "message_primary", None)
        raise InvalidInput(f"invalid value: {message or exc.orig}") from exc
    except sa_exc.OperationalError as exc:
        raise DatabaseUnavailable("the database cannot be reached") from exc


def schema_revision(engine: Engine) -> str | None:
    """The Alembic revision the database is at, or None when it was never migrated.

    Raises
    ------
    DatabaseUnavailable
        When the server cannot be reached.
    """
    try:
        with engine.connect() as conn:
            exists = conn.execute(sa.text("SELECT to_regclass('alembic_version')")).scalar()
            if exists is None:
                return None
            return conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
    except sa_exc.OperationalError as exc:
        raise DatabaseUnavailable("the database cannot be reached") from exc
    except sa_exc.DBAPIError as exc:
        raise DatabaseUnavailable(f"the database answered with an error: {exc.orig}") from exc
