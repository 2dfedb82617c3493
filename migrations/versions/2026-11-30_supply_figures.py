"""Yearly supply figures: a village's demand per material, a zone's capacity.

``supply_figure`` keeps one row per village, material and year (demand) or per zone and
year (capacity), marked measured or estimated, an estimate with its basis and sources.
Planners record real figures here year by year; the coverage analysis reads the figure
of the year it is asked for. Rows are versioned in the history like the features.

Revision ID: 0008_supply_figures
Revises: 0007_road_network
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0008_supply_figures"
down_revision: str | None = "0007_road_network"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_MATERIALS = ("luong", "bamboo", "nua", "vau", "rattan", "sedge", "medicinal", "ramie", "other")


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "supply_figure",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("village_id", sa.Integer(), nullable=True),
        sa.Column("zone_id", sa.Integer(), nullable=True),
        sa.Column(
            "material",
            sa.Enum(*_MATERIALS, name="material", native_enum=False, create_constraint=True),
            nullable=False,
        ),
        sa.Column("year", sa.SmallInteger(), nullable=False),
        sa.Column("tonnes", sa.Double(), nullable=False),
        sa.Column("estimate", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("basis", sa.Text(), nullable=True),
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
        sa.CheckConstraint(
            "(village_id IS NULL) <> (zone_id IS NULL)",
            name=op.f("ck_supply_figure_village_or_zone"),
        ),
        sa.CheckConstraint("tonnes >= 0", name=op.f("ck_supply_figure_tonnes_nonneg")),
        sa.CheckConstraint("year BETWEEN 1990 AND 2100", name=op.f("ck_supply_figure_year_range")),
        sa.CheckConstraint(
            "NOT estimate OR basis IS NOT NULL", name=op.f("ck_supply_figure_estimate_needs_basis")
        ),
        sa.ForeignKeyConstraint(
            ["village_id"],
            ["craft_village.id"],
            name=op.f("fk_supply_figure_village_id_craft_village"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["zone_id"],
            ["material_zone.id"],
            name=op.f("fk_supply_figure_zone_id_material_zone"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_supply_figure")),
        sa.UniqueConstraint("village_id", "material", "year", name="uq_supply_figure_village"),
        sa.UniqueConstraint("zone_id", "year", name="uq_supply_figure_zone"),
    )
    op.create_index(op.f("ix_supply_figure_village_id"), "supply_figure", ["village_id"])
    op.create_index(op.f("ix_supply_figure_zone_id"), "supply_figure", ["zone_id"])
    op.execute(
        "CREATE TRIGGER supply_figure_touch BEFORE UPDATE ON supply_figure "
        "FOR EACH ROW EXECUTE FUNCTION craftmap_touch()"
    )
    op.execute(
        "CREATE TRIGGER supply_figure_history AFTER INSERT OR UPDATE OR DELETE ON supply_figure "
        "FOR EACH ROW EXECUTE FUNCTION craftmap_record_history()"
    )


def downgrade() -> None:
    """Revert this revision."""
    op.execute("DROP TRIGGER IF EXISTS supply_figure_history ON supply_figure")
    op.execute("DROP TRIGGER IF EXISTS supply_figure_touch ON supply_figure")
    op.drop_table("supply_figure")
