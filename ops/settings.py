"""Where the database is: the settings every composition root (app, CLI, migrations) reads."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from geo.store.db import normalise_url
from ops.cluster import LocalCluster


class DatabaseSettings(BaseSettings):
    """Where the database is: ``DATABASE_URL``, or the private cluster under ``CRAFTMAP_HOME``.

    ``DATABASE_URL`` is what the app connects with; ``MIGRATION_DATABASE_URL`` what the
    migrations run with (the schema owner), defaulting to ``DATABASE_URL``. The private
    cluster has a role for each (``geo.store.roles``).
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

    def admin_url(self) -> str:
        """A URL that may create databases: the private cluster's superuser, else DATABASE_URL."""
        if self.uses_private_cluster:
            return self.cluster().url()
        return self.resolved_url()

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
