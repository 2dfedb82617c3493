"""Programmes and their targets: 801/QĐ-TTg, Thanh Hóa's 4182/QĐ-UBND, other provinces'.

``programme`` keeps one row per programme or plan (national, or a province's, naming the
national programme it implements as its parent); ``programme_target`` one row per
programme, indicator and year (2025, 2030) with how the value binds (at least, more than,
about), its unit and its sources. The figures are data (``data/programmes/*.csv``, loaded
by ``craftmap programme load``), not code. Rows are versioned in the history.

Revision ID: 0010_programme_targets
Revises: 0009_route_design
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0010_programme_targets"
down_revision: str | None = "0009_route_design"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_LEVELS = ("national", "province")
_INDICATORS = (
    "crafts_restored",
    "villages_restored",
    "crafts_recognised",
    "villages_recognised",
    "crafts_restored_or_recognised",
    "villages_restored_or_recognised",
    "villages_tourism_linked",
    "share_effective",
    "share_workers_trained",
    "share_ocop",
    "share_ip_protected",
    "production_value_growth",
    "income_vs_2020",
    "share_env_plan",
    "exports_usd",
)
_COMPARISONS = ("at_least", "more_than", "about")
_UNITS = ("count", "percent", "percent_per_year", "ratio", "usd")
_TABLES = ("programme", "programme_target")


def _code_list(values: Sequence[str], name: str) -> sa.Enum:
    return sa.Enum(
        *values,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=max(len(v) for v in values),
    )


def _bookkeeping() -> list[sa.Column[object]]:
    return [
        sa.Column("sources", postgresql.ARRAY(sa.Text()), server_default="{}", nullable=False),
        sa.Column("actor", sa.Text(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("version", sa.Integer(), server_default=sa.text("1"), nullable=False),
    ]


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "programme",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("level", _code_list(_LEVELS, "programme_level"), nullable=False),
        sa.Column("province_code", sa.String(length=16), nullable=True),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column("decision_date", sa.Date(), nullable=True),
        *_bookkeeping(),
        sa.CheckConstraint(
            "(level = 'national') = (province_code IS NULL)",
            name=op.f("ck_programme_province_code_level"),
        ),
        sa.CheckConstraint(
            "parent_id IS NULL OR parent_id <> id", name=op.f("ck_programme_parent_not_self")
        ),
        sa.ForeignKeyConstraint(
            ["parent_id"],
            ["programme.id"],
            name=op.f("fk_programme_parent_id_programme"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_programme")),
        sa.UniqueConstraint("code", name=op.f("uq_programme_code")),
    )
    op.create_index(op.f("ix_programme_parent_id"), "programme", ["parent_id"])
    op.create_table(
        "programme_target",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("programme_id", sa.Integer(), nullable=False),
        sa.Column("indicator", _code_list(_INDICATORS, "indicator"), nullable=False),
        sa.Column("year", sa.SmallInteger(), nullable=False),
        sa.Column("comparison", _code_list(_COMPARISONS, "comparison"), nullable=False),
        sa.Column("value", sa.Double(), nullable=False),
        sa.Column("unit", _code_list(_UNITS, "target_unit"), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        *_bookkeeping(),
        sa.CheckConstraint(
            "year BETWEEN 2000 AND 2100", name=op.f("ck_programme_target_year_range")
        ),
        sa.CheckConstraint("value >= 0", name=op.f("ck_programme_target_value_nonneg")),
        sa.CheckConstraint(
            "unit <> 'percent' OR value <= 100", name=op.f("ck_programme_target_percent_range")
        ),
        sa.ForeignKeyConstraint(
            ["programme_id"],
            ["programme.id"],
            name=op.f("fk_programme_target_programme_id_programme"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_programme_target")),
        sa.UniqueConstraint(
            "programme_id", "indicator", "year", name="uq_programme_target_indicator_year"
        ),
    )
    op.create_index(op.f("ix_programme_target_programme_id"), "programme_target", ["programme_id"])
    for table in _TABLES:
        op.execute(
            f"CREATE TRIGGER {table}_touch BEFORE UPDATE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION craftmap_touch()"
        )
        op.execute(
            f"CREATE TRIGGER {table}_history AFTER INSERT OR UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION craftmap_record_history()"
        )


def downgrade() -> None:
    """Revert this revision."""
    for table in reversed(_TABLES):
        op.execute(f"DROP TRIGGER IF EXISTS {table}_history ON {table}")
        op.execute(f"DROP TRIGGER IF EXISTS {table}_touch ON {table}")
    op.drop_table("programme_target")
    op.drop_table("programme")
