"""The route designer's columns: road legs, opening hours and the timetable.

``tourism_route`` gains where its line comes from (``line_source``: straight segments
joining the stops, legs along the road network, or drawn by hand), the day's start time,
the road network its legs follow and the timetable's totals. ``route_stop`` gains opening
hours, an overnight flag, the leg that reaches it (mode, kind, note, km, minutes, line) and
its place in the timetable (day, arrival, departure, wait, a missed window). They are
columns of the features, so the Features API, the history and the ETags carry them.

Revision ID: 0009_route_design
Revises: 0008_supply_figures
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry

revision: str = "0009_route_design"
down_revision: str | None = "0008_supply_figures"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_MODES = ("car", "motorbike", "bicycle", "walking", "boat")


def _code_list(values: tuple[str, ...], name: str) -> sa.Enum:
    return sa.Enum(
        *values,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=max(len(v) for v in values),
    )


def upgrade() -> None:
    """Apply this revision."""
    op.add_column(
        "tourism_route",
        sa.Column(
            "line_source",
            _code_list(("stops", "roads", "drawn"), "line_source"),
            server_default="stops",
            nullable=False,
        ),
    )
    op.add_column(
        "tourism_route",
        sa.Column("start_time", sa.Time(), server_default=sa.text("'08:00'"), nullable=False),
    )
    op.add_column("tourism_route", sa.Column("network_id", sa.Integer(), nullable=True))
    op.create_foreign_key(
        op.f("fk_tourism_route_network_id_road_network"),
        "tourism_route",
        "road_network",
        ["network_id"],
        ["id"],
        ondelete="SET NULL",
    )
    op.create_index(op.f("ix_tourism_route_network_id"), "tourism_route", ["network_id"])
    op.add_column("tourism_route", sa.Column("drive_min", sa.Double(), nullable=True))
    op.add_column("tourism_route", sa.Column("duration_min", sa.Double(), nullable=True))
    op.add_column("tourism_route", sa.Column("days", sa.SmallInteger(), nullable=True))

    op.add_column("route_stop", sa.Column("opens", sa.Time(), nullable=True))
    op.add_column("route_stop", sa.Column("closes", sa.Time(), nullable=True))
    op.add_column(
        "route_stop",
        sa.Column("overnight", sa.Boolean(), server_default=sa.text("false"), nullable=False),
    )
    op.add_column("route_stop", sa.Column("leg_mode", _code_list(_MODES, "leg_mode")))
    op.add_column(
        "route_stop", sa.Column("leg_kind", _code_list(("road", "geodesic", "boat"), "leg_kind"))
    )
    op.add_column("route_stop", sa.Column("leg_note", sa.Text(), nullable=True))
    op.add_column("route_stop", sa.Column("leg_km", sa.Double(), nullable=True))
    op.add_column("route_stop", sa.Column("leg_min", sa.Double(), nullable=True))
    op.add_column(
        "route_stop",
        sa.Column(
            "leg_geom",
            Geometry("LINESTRING", srid=4326, spatial_index=False),
            nullable=True,
        ),
    )
    op.add_column("route_stop", sa.Column("day", sa.SmallInteger(), nullable=True))
    op.add_column("route_stop", sa.Column("arrive_at", sa.Time(), nullable=True))
    op.add_column("route_stop", sa.Column("depart_at", sa.Time(), nullable=True))
    op.add_column("route_stop", sa.Column("wait_min", sa.Double(), nullable=True))
    op.add_column("route_stop", sa.Column("window_problem", sa.Text(), nullable=True))
    op.create_check_constraint(
        "opens_first", "route_stop", "opens IS NULL OR closes IS NULL OR opens < closes"
    )
    op.create_check_constraint(
        "leg_geom_valid",
        "route_stop",
        "leg_geom IS NULL OR (ST_IsValid(leg_geom) AND NOT ST_IsEmpty(leg_geom) "
        "AND ST_XMin(leg_geom) >= -180 AND ST_XMax(leg_geom) <= 180 "
        "AND ST_YMin(leg_geom) >= -90 AND ST_YMax(leg_geom) <= 90)",
    )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_constraint(op.f("ck_route_stop_leg_geom_valid"), "route_stop", type_="check")
    op.drop_constraint(op.f("ck_route_stop_opens_first"), "route_stop", type_="check")
    for column in (
        "window_problem",
        "wait_min",
        "depart_at",
        "arrive_at",
        "day",
        "leg_geom",
        "leg_min",
        "leg_km",
        "leg_note",
        "leg_kind",
        "leg_mode",
        "overnight",
        "closes",
        "opens",
    ):
        op.drop_column("route_stop", column)
    op.drop_index(op.f("ix_tourism_route_network_id"), table_name="tourism_route")
    op.drop_constraint(
        op.f("fk_tourism_route_network_id_road_network"), "tourism_route", type_="foreignkey"
    )
    for column in ("days", "duration_min", "drive_min", "network_id", "start_time", "line_source"):
        op.drop_column("tourism_route", column)
