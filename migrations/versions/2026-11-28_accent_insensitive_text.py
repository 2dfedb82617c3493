"""Accent-insensitive text: the unaccent extension and an immutable wrapper.

Vietnamese names are searched with and without diacritics ("tra dong" finds "Trà Đông").
unaccent() itself is only STABLE, so indexes and generated columns need an IMMUTABLE
wrapper that names its dictionary explicitly.

Revision ID: 0002_unaccent
Revises: 0001_initial
Create Date: 2026-11-28
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0002_unaccent"
down_revision: str | None = "0001_initial"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.execute("CREATE EXTENSION IF NOT EXISTS unaccent")
    op.execute(
        """
        CREATE FUNCTION craftmap_fold(value text) RETURNS text
        LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
        RETURN lower(public.unaccent('public.unaccent'::regdictionary, value))
        """
    )


def downgrade() -> None:
    """Revert this revision (the extension stays: other schemas may use it)."""
    op.execute("DROP FUNCTION IF EXISTS craftmap_fold(text)")
