"""The catalog version: one row that every write to a reference layer or its features bumps.

The app caches the reference-layer collections (their property lists are read from the
features, 2 + K queries a layer) and checks this one row per request instead, by its
version (a sequence number, one per writing statement) and its xmin (the writing
transaction, never reused: not after a rollback, nor after a restore). The trigger runs before the statement, so writers of reference data take the row's lock
before any lock on a reference row (they queue, they cannot deadlock on it).

Revision ID: 0005_catalog_version
Revises: 0004_keys_roles
Create Date: 2026-11-30
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005_catalog_version"
down_revision: str | None = "0004_keys_roles"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("reference_layer", "reference_feature")


def upgrade() -> None:
    """Apply this revision."""
    op.execute("CREATE SEQUENCE catalog_version_seq")
    op.execute(
        """
        CREATE TABLE catalog_version (
            id integer NOT NULL CONSTRAINT ck_catalog_version_one_row CHECK (id = 1),
            version bigint NOT NULL,
            CONSTRAINT pk_catalog_version PRIMARY KEY (id)
        )
        """
    )
    op.execute(
        "INSERT INTO catalog_version (id, version) VALUES (1, nextval('catalog_version_seq'))"
    )
    # Runs as its owner: the app role only reads catalog_version.
    op.execute(
        """
        CREATE FUNCTION craftmap_bump_catalog() RETURNS trigger LANGUAGE plpgsql
        SECURITY DEFINER SET search_path = public, pg_temp AS $$
        BEGIN
            UPDATE catalog_version SET version = nextval('catalog_version_seq');
            RETURN NULL;
        END
        $$
        """
    )
    for table in TABLES:
        op.execute(
            f"CREATE TRIGGER {table}_catalog BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE "
            f"ON {table} FOR EACH STATEMENT EXECUTE FUNCTION craftmap_bump_catalog()"
        )


def downgrade() -> None:
    """Revert this revision."""
    for table in TABLES:
        op.execute(f"DROP TRIGGER IF EXISTS {table}_catalog ON {table}")
    op.execute("DROP FUNCTION IF EXISTS craftmap_bump_catalog()")
    op.execute("DROP TABLE IF EXISTS catalog_version")
    op.execute("DROP SEQUENCE IF EXISTS catalog_version_seq")
