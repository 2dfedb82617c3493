"""The head revision /ready expects, read without Alembic, is Alembic's own."""

from __future__ import annotations

from alembic.script import ScriptDirectory

from geo.store import migrate


def test_the_head_read_from_the_files_is_alembics() -> None:
    script = ScriptDirectory.from_config(migrate.alembic_config(""))
    assert migrate.head_revision() == script.get_current_head()
