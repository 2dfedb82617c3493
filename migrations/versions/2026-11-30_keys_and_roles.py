"""Keys and roles: rate-limit counters, history written for a least-privilege app role.

- ``rate_limit``: fixed-window counters shared by every worker process (one upsert per
  counted request). UNLOGGED: a crash only forgets the current minute's counts.
- ``craftmap_record_history`` runs as its owner (SECURITY DEFINER, fixed search_path), so
  the app role records history without being granted any write on ``feature_history``.
- The api_key history trigger ignores ``last_used_at``: stamping use is not a change of
  the key worth a history entry.

Revision ID: 0004_keys_roles
Revises: 0003_api_key_history
Create Date: 2026-11-30
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0004_keys_roles"
down_revision: str | None = "0003_api_key_history"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.execute(
        """
        CREATE UNLOGGED TABLE rate_limit (
            bucket text NOT NULL,
            window_start timestamptz NOT NULL,
            hits integer NOT NULL,
            CONSTRAINT pk_rate_limit PRIMARY KEY (bucket)
        )
        """
    )
    op.execute(
        "ALTER FUNCTION craftmap_record_history() SECURITY DEFINER "
        "SET search_path = public, pg_temp"
    )
    op.execute("DROP TRIGGER IF EXISTS api_key_history ON api_key")
    op.execute(
        "CREATE TRIGGER api_key_history "
        "AFTER INSERT OR DELETE OR UPDATE OF prefix, key_hash, name, role, revoked_at "
        "ON api_key FOR EACH ROW EXECUTE FUNCTION craftmap_record_history()"
    )


def downgrade() -> None:
    """Revert this revision."""
    op.execute("DROP TRIGGER IF EXISTS api_key_history ON api_key")
    op.execute(
        "CREATE TRIGGER api_key_history AFTER INSERT OR UPDATE OR DELETE ON api_key "
        "FOR EACH ROW EXECUTE FUNCTION craftmap_record_history()"
    )
    op.execute("ALTER FUNCTION craftmap_record_history() SECURITY INVOKER RESET search_path")
    op.execute("DROP TABLE IF EXISTS rate_limit")
