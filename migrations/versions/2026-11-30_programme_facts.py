"""The yearly facts the programme's indicators are computed from.

``village_stat`` held a village's yearly production value, income and workers. The
programme's indicators also need, per village and year, whether it operated effectively,
was linked with tourism, had IP-protected products and an environmental plan, how many of
its establishments had OCOP-ranked products, its OCOP product count and its exports; they
become nullable columns of the same yearly row (a missing value is unknown, never "no").
``craft_village.restored_year`` dates a restoration the way ``recognition_year`` dates a
recognition. ``share_villages_ocop`` joins the indicator codes: the national programme
counts traditional villages with OCOP products, Thanh Hóa's plan establishments.

Revision ID: 0011_programme_facts
Revises: 0010_programme_targets
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0011_programme_facts"
down_revision: str | None = "0010_programme_targets"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OLD_INDICATORS = (
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
_NEW_INDICATORS = (*_OLD_INDICATORS, "share_villages_ocop")


def _indicator_check(values: Sequence[str]) -> None:
    op.drop_constraint(op.f("ck_programme_target_indicator"), "programme_target", type_="check")
    listed = ", ".join(f"'{value}'" for value in values)
    op.create_check_constraint(
        op.f("ck_programme_target_indicator"), "programme_target", f"indicator IN ({listed})"
    )


def upgrade() -> None:
    """Apply this revision."""
    op.add_column("craft_village", sa.Column("restored_year", sa.SmallInteger(), nullable=True))
    op.create_check_constraint(
        op.f("ck_craft_village_restored_year_range"),
        "craft_village",
        "restored_year IS NULL OR restored_year BETWEEN 1900 AND 2100",
    )
    for name, kind in (
        ("operating_effectively", sa.Boolean()),
        ("tourism_linked", sa.Boolean()),
        ("establishments", sa.Integer()),
        ("ocop_establishments", sa.Integer()),
        ("ocop_products", sa.SmallInteger()),
        ("ip_protected", sa.Boolean()),
        ("env_plan", sa.Boolean()),
        ("exports_usd", sa.Numeric(16, 0)),
        ("actor", sa.Text()),
    ):
        op.add_column("village_stat", sa.Column(name, kind, nullable=True))
    op.add_column(
        "village_stat",
        sa.Column("sources", postgresql.ARRAY(sa.Text()), server_default="{}", nullable=False),
    )
    for name, rule in (
        ("establishments_nonneg", "establishments IS NULL OR establishments >= 0"),
        (
            "ocop_le_establishments",
            "ocop_establishments IS NULL OR (ocop_establishments >= 0 AND "
            "(establishments IS NULL OR ocop_establishments <= establishments))",
        ),
        ("ocop_products_nonneg", "ocop_products IS NULL OR ocop_products >= 0"),
        ("exports_nonneg", "exports_usd IS NULL OR exports_usd >= 0"),
        ("workers_nonneg", "workers IS NULL OR workers >= 0"),
    ):
        op.create_check_constraint(op.f(f"ck_village_stat_{name}"), "village_stat", rule)
    _indicator_check(_NEW_INDICATORS)


def downgrade() -> None:
    """Revert this revision."""
    op.execute("DELETE FROM programme_target WHERE indicator = 'share_villages_ocop'")
    _indicator_check(_OLD_INDICATORS)
    for name in (
        "establishments_nonneg",
        "ocop_le_establishments",
        "ocop_products_nonneg",
        "exports_nonneg",
        "workers_nonneg",
    ):
        op.drop_constraint(op.f(f"ck_village_stat_{name}"), "village_stat", type_="check")
    for name in (
        "sources",
        "actor",
        "exports_usd",
        "env_plan",
        "ip_protected",
        "ocop_products",
        "ocop_establishments",
        "establishments",
        "tourism_linked",
        "operating_effectively",
    ):
        op.drop_column("village_stat", name)
    op.drop_constraint(op.f("ck_craft_village_restored_year_range"), "craft_village", type_="check")
    op.drop_column("craft_village", "restored_year")
