"""Keep API key writes (creation, revocation) in the history too.

Revision ID: 0003_api_key_history
Revises: 0002_unaccent
Create Date: 2026-11-28
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0003_api_key_history"
down_revision: str | None = "0002_unaccent"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.execute(
        "CREATE TRIGGER api_key_history AFTER INSERT OR UPDATE OR DELETE ON api_key "
        "FOR EACH ROW EXECUTE FUNCTION craftmap_record_history()"
    )


def downgrade() -> None:
    """Revert this revision."""
    op.execute("DROP TRIGGER IF EXISTS api_key_history ON api_key")
