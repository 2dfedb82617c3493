"""Join the two branches of issue 17: the tile cache and the generalised low-zoom copy.

Both were written side by side from ``0011_programme_facts`` and touch different tables
(``tile_cache``; ``tile_generalised``), so the merge itself changes nothing.

Revision ID: 0013_tiles_merge
Revises: 0012_tile_cache, 0012b_generalised_geometry
Create Date: 2026-12-01
"""

from collections.abc import Sequence

revision: str = "0013_tiles_merge"
down_revision: str | tuple[str, ...] | None = ("0012_tile_cache", "0012b_generalised_geometry")
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Nothing to apply: the merge only joins the two histories."""


def downgrade() -> None:
    """Nothing to revert."""
