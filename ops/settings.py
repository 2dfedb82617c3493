"""Where the database is: the settings every composition root (app, CLI, migrations) reads."""

from __future__ import annotations

import json
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
    # PostgreSQL streaming replicas for reads (GET/HEAD); writes always go to the primary.
    # One URL, several separated by commas, or a JSON list of them (`read_urls`).
    read_database_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices(
            "READ_DATABASE_URL",
            "READ_DATABASE_URLS",
            "CRAFTMAP_READ_DATABASE_URL",
            "CRAFTMAP_READ_DATABASE_URLS",
        ),
    )
    # How long a replica that could not be reached is left out before reads try it again.
    read_database_retry_seconds: float = Field(default=5.0, gt=0)
    # The schema owner's URL, for migrations; DATABASE_URL's when not given.
    migration_database_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("MIGRATION_DATABASE_URL", "CRAFTMAP_MIGRATION_DATABASE_URL"),
    )
    home: Path = Path(".craftmap")
    pg_bindir: Path | None = None

    @field_validator("database_url", "migration_database_url")
    @classmethod
    def _psycopg_driver(cls, value: str | None) -> str | None:
        return normalise_url(value) if value else None

    @field_validator("read_database_url")
    @classmethod
    def _read_urls(cls, value: str | None) -> str | None:
        if not value or not value.strip():
            return None
        text = value.strip()
        if text.startswith("["):
            try:
                listed = json.loads(text)
            except json.JSONDecodeError as exc:
                raise ValueError(f"READ_DATABASE_URL is not a JSON list: {exc}") from exc
            if not isinstance(listed, list) or not all(isinstance(u, str) for u in listed):
                raise ValueError("READ_DATABASE_URL as JSON must be a list of URLs")
            urls = [u.strip() for u in listed]
        else:
            urls = [u.strip() for u in text.split(",")]
        urls = [normalise_url(u) for u in urls if u]
        return ",".join(urls) or None

    def read_urls(self) -> list[str]:
        """The read replicas' URLs, in the order given (empty: reads go to the primary)."""
        return self.read_database_url.split(",") if self.read_database_url else []

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
