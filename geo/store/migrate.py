"""Run Alembic migrations programmatically (used by the CLI and the tests)."""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory

from geo.store.db import MIGRATIONS_DIR


def alembic_config(url: str, *, app_role: str | None = None) -> Config:
    """An Alembic configuration pointed at craftmap's migrations and at ``url``.

    ``url`` is the migration (owner) role's; ``app_role``, when the app connects as
    another role, is granted its rights after every migration (see ``geo.store.roles``).
    """
    # No ini file: the migrations folder travels inside the installed package.
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["database_url"] = url
    config.attributes["app_role"] = app_role
    return config


def upgrade(url: str, revision: str = "head", *, app_role: str | None = None) -> None:
    """Migrate the database at ``url`` up to ``revision``."""
    command.upgrade(alembic_config(url, app_role=app_role), revision)


def downgrade(url: str, revision: str, *, app_role: str | None = None) -> None:
    """Migrate the database at ``url`` down to ``revision`` (``base`` empties it)."""
    command.downgrade(alembic_config(url, app_role=app_role), revision)


def head_revision() -> str:
    """The newest revision in the migrations folder."""
    head = ScriptDirectory.from_config(alembic_config("")).get_current_head()
    if head is None:
        raise RuntimeError("the migrations folder has no revisions")
    return head
