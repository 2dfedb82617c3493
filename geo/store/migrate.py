"""Run Alembic migrations programmatically (used by the CLI and the tests)."""

from __future__ import annotations

import ast
import sys
from typing import TYPE_CHECKING

from geo.store.db import MIGRATIONS_DIR

if TYPE_CHECKING:
    from alembic.config import Config

# Alembic (with Mako and Pygments, ~14 MB a worker) loads only to migrate: /ready reads the
# head from the revision files itself (head_revision).


def alembic_config(url: str, *, app_role: str | None = None) -> Config:
    """An Alembic configuration pointed at craftmap's migrations and at ``url``.

    ``url`` is the migration (owner) role's; ``app_role``, when the app connects as
    another role, is granted its rights after every migration (see ``geo.store.roles``).
    """
    from alembic.config import Config

    # No ini file: the migrations folder travels inside the installed package. Today's
    # stdout, not the one Alembic's signature captured when it was (lazily) imported.
    config = Config(stdout=sys.stdout)
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["database_url"] = url
    config.attributes["app_role"] = app_role
    return config


def upgrade(url: str, revision: str = "head", *, app_role: str | None = None) -> None:
    """Migrate the database at ``url`` up to ``revision``."""
    from alembic import command

    command.upgrade(alembic_config(url, app_role=app_role), revision)


def downgrade(url: str, revision: str, *, app_role: str | None = None) -> None:
    """Migrate the database at ``url`` down to ``revision`` (``base`` empties it)."""
    from alembic import command

    command.downgrade(alembic_config(url, app_role=app_role), revision)


def head_revision() -> str:
    """The newest revision in the migrations folder.

    Read from the ``revision``/``down_revision`` assignments of the revision files, the
    values Alembic's ``ScriptDirectory.get_current_head`` reads (tests/geo/test_migrate_head.py
    compares the two), so that ``/ready`` does not load Alembic into every worker.
    """
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in (MIGRATIONS_DIR / "versions").glob("*.py"):
        values: dict[str, object] = {}
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            target: ast.expr
            if isinstance(node, ast.AnnAssign) and node.value is not None:
                target, value = node.target, node.value
            elif isinstance(node, ast.Assign) and len(node.targets) == 1:
                target, value = node.targets[0], node.value
            else:
                continue
            if isinstance(target, ast.Name) and target.id in {"revision", "down_revision"}:
                values[target.id] = ast.literal_eval(value)
        if "revision" not in values:
            continue
        revisions.add(str(values["revision"]))
        down = values.get("down_revision")
        if isinstance(down, str):
            parents.add(down)
        elif isinstance(down, tuple | list):
            parents.update(str(d) for d in down)
    heads = revisions - parents
    if not heads:
        raise RuntimeError("the migrations folder has no revisions")
    if len(heads) > 1:
        raise RuntimeError(f"the migrations folder has several heads: {', '.join(sorted(heads))}")
    return heads.pop()
