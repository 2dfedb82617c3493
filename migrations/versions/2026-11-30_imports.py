"""Imports: saved column mappings, a record of every applied import, upload jobs.

- ``import_mapping``: a column mapping saved by name (``--save-mapping``) for reuse.
- ``import_run``: who imported which file (name, SHA-256), into what, in which CRS and
  encoding, with the counts: written in the import's own transaction.
- ``import_job``: an upload over HTTP, run in the background; its progress and report.

Revision ID: 0006_imports
Revises: 0005_catalog_version
Create Date: 2026-11-30
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0006_imports"
down_revision: str | None = "0005_catalog_version"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.execute(
        """
        CREATE TABLE import_mapping (
            id serial NOT NULL,
            name varchar(63) NOT NULL,
            "into" text NOT NULL,
            mapping jsonb NOT NULL,
            saved_by text NOT NULL,
            saved_at timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT pk_import_mapping PRIMARY KEY (id),
            CONSTRAINT uq_import_mapping_name UNIQUE (name)
        )
        """
    )
    op.execute(
        """
        CREATE TABLE import_run (
            id serial NOT NULL,
            actor text NOT NULL,
            file_name text NOT NULL,
            sha256 varchar(64) NOT NULL,
            "into" text NOT NULL,
            crs text,
            encoding text,
            inserted integer NOT NULL,
            updated integer NOT NULL,
            unchanged integer NOT NULL,
            repaired integer NOT NULL,
            rejected integer NOT NULL,
            started_at timestamptz NOT NULL,
            finished_at timestamptz NOT NULL,
            CONSTRAINT pk_import_run PRIMARY KEY (id)
        )
        """
    )
    op.execute(
        """
        CREATE TABLE import_job (
            id serial NOT NULL,
            status varchar(16) NOT NULL DEFAULT 'queued',
            rows_done integer NOT NULL DEFAULT 0,
            rows_total integer,
            report jsonb,
            error text,
            actor text NOT NULL,
            file_name text NOT NULL,
            sha256 varchar(64) NOT NULL,
            "into" text NOT NULL,
            options jsonb NOT NULL DEFAULT '{}',
            created_at timestamptz NOT NULL DEFAULT now(),
            finished_at timestamptz,
            CONSTRAINT pk_import_job PRIMARY KEY (id),
            CONSTRAINT ck_import_job_status_known
                CHECK (status IN ('queued', 'running', 'done', 'failed'))
        )
        """
    )


def downgrade() -> None:
    """Revert this revision."""
    op.execute("DROP TABLE import_job")
    op.execute("DROP TABLE import_run")
    op.execute("DROP TABLE import_mapping")
