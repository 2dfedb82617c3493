"""The road network: pgRouting, named networks, their edges and vertices.

- ``road_network``: one row per built network (source file, hash, what the build found);
  versioned in the history like the feature tables.
- ``road_edge``: the routable edges, split at intersections, with class, one-way flag,
  speeds by mode and pgRouting's ``cost``/``reverse_cost`` per mode as generated columns
  (seconds; -1 where the mode may not go or against a one-way). Edges and vertices are
  derived data rebuilt whole from the file, so they carry no history trigger: a
  100 000-edge build would write 100 000 history rows for nothing a person changed.
- ``road_vertex``: the nodes, from ``pgr_extractVertices``.

pgRouting is not a trusted extension: the private cluster and the test set-up create it as
the superuser (geo.store.roles.EXTENSIONS); ``IF NOT EXISTS`` then makes this a no-op.

Revision ID: 0007_road_network
Revises: 0006_imports
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry

revision: str = "0007_road_network"
down_revision: str | None = "0006_imports"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.execute("CREATE EXTENSION IF NOT EXISTS pgrouting")
    op.create_table(
        "road_network",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=63), nullable=False),
        sa.Column("source", sa.Text(), nullable=True),
        sa.Column("source_hash", sa.String(length=64), nullable=True),
        sa.Column("approximate", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column(
            "built_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("built_by", sa.Text(), nullable=True),
        sa.Column("edges", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("vertices", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("components", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("largest_share", sa.Double(), nullable=True),
        sa.Column("length_km", sa.Double(), nullable=True),
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
        sa.PrimaryKeyConstraint("id", name=op.f("pk_road_network")),
        sa.UniqueConstraint("name", name=op.f("uq_road_network_name")),
    )
    op.create_geospatial_table(
        "road_edge",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("network_id", sa.Integer(), nullable=False),
        sa.Column("osm_id", sa.BigInteger(), nullable=True),
        sa.Column("source_id", sa.Text(), nullable=True),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("ref", sa.Text(), nullable=True),
        sa.Column(
            "road_class",
            sa.Enum(
                "motorway",
                "trunk",
                "primary",
                "secondary",
                "tertiary",
                "unclassified",
                "residential",
                "service",
                "track",
                "path",
                "ferry",
                name="road_class",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("oneway", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("maxspeed", sa.SmallInteger(), nullable=True),
        sa.Column("speed_car", sa.Double(), nullable=False),
        sa.Column("speed_motorbike", sa.Double(), nullable=False),
        sa.Column("speed_bicycle", sa.Double(), nullable=False),
        sa.Column("speed_walking", sa.Double(), nullable=False),
        sa.Column("approximate", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("source_note", sa.Text(), nullable=True),
        sa.Column("source", sa.BigInteger(), nullable=True),
        sa.Column("target", sa.BigInteger(), nullable=True),
        sa.Column(
            "geom",
            Geometry(
                geometry_type="LINESTRING",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.Column(
            "length_m",
            sa.Double(),
            sa.Computed("ST_Length(geom::geography)", persisted=True),
            nullable=False,
        ),
        sa.Column(
            "cost_car",
            sa.Double(),
            sa.Computed(
                "CASE WHEN speed_car > 0 THEN ST_Length(geom::geography) / (speed_car / 3.6) ELSE -1 END",
                persisted=True,
            ),
            nullable=False,
        ),
        sa.Column(
            "reverse_cost_car",
            sa.Double(),
            sa.Computed(
                "CASE WHEN speed_car > 0 AND NOT oneway THEN ST_Length(geom::geography) / (speed_car / 3.6) ELSE -1 END",
                persisted=True,
            ),
            nullable=False,
        ),
        sa.Column(
            "cost_motorbike",
            sa.Double(),
            sa.Computed(
                "CASE WHEN speed_motorbike > 0 THEN ST_Length(geom::geography) / (speed_motorbike / 3.6) ELSE -1 END",
                persisted=True,
            ),
            nullable=False,
        ),
        sa.Column(
            "reverse_cost_motorbike",
            sa.Double(),
            sa.Computed(
                "CASE WHEN speed_motorbike > 0 AND NOT oneway THEN ST_Length(geom::geography) / (speed_motorbike / 3.6) ELSE -1 END",
                persisted=True,
            ),
            nullable=False,
        ),
        sa.Column(
            "cost_bicycle",
            sa.Double(),
            sa.Computed(
                "CASE WHEN speed_bicycle > 0 THEN ST_Length(geom::geography) / (speed_bicycle / 3.6) ELSE -1 END",
                persisted=True,
            ),
            nullable=False,
        ),
        sa.Column(
            "reverse_cost_bicycle",
            sa.Double(),
            sa.Computed(
                "CASE WHEN speed_bicycle > 0 AND NOT oneway THEN ST_Length(geom::geography) / (speed_bicycle / 3.6) ELSE -1 END",
                persisted=True,
            ),
            nullable=False,
        ),
        sa.Column(
            "cost_walking",
            sa.Double(),
            sa.Computed(
                "CASE WHEN speed_walking > 0 THEN ST_Length(geom::geography) / (speed_walking / 3.6) ELSE -1 END",
                persisted=True,
            ),
            nullable=False,
        ),
        sa.Column(
            "reverse_cost_walking",
            sa.Double(),
            sa.Computed(
                "CASE WHEN speed_walking > 0 THEN ST_Length(geom::geography) / (speed_walking / 3.6) ELSE -1 END",
                persisted=True,
            ),
            nullable=False,
        ),
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
            "geom IS NULL OR (ST_IsValid(geom) AND NOT ST_IsEmpty(geom) AND ST_XMin(geom) >= -180 AND ST_XMax(geom) <= 180 AND ST_YMin(geom) >= -90 AND ST_YMax(geom) <= 90)",
            name=op.f("ck_road_edge_geom_valid"),
        ),
        sa.CheckConstraint(
            "maxspeed IS NULL OR maxspeed > 0", name=op.f("ck_road_edge_maxspeed_positive")
        ),
        sa.CheckConstraint(
            "speed_car >= 0 AND speed_motorbike >= 0 AND speed_bicycle >= 0 AND speed_walking >= 0",
            name=op.f("ck_road_edge_speeds_nonneg"),
        ),
        sa.ForeignKeyConstraint(
            ["network_id"],
            ["road_network.id"],
            name=op.f("fk_road_edge_network_id_road_network"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_road_edge")),
    )
    op.create_geospatial_index(
        "ix_road_edge_geom",
        "road_edge",
        ["geom"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_index(op.f("ix_road_edge_network_id"), "road_edge", ["network_id"], unique=False)
    op.create_index("ix_road_edge_source", "road_edge", ["source"], unique=False)
    op.create_index("ix_road_edge_target", "road_edge", ["target"], unique=False)
    op.create_geospatial_table(
        "road_vertex",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("network_id", sa.Integer(), nullable=False),
        sa.Column(
            "geom",
            Geometry(
                geometry_type="POINT",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["network_id"],
            ["road_network.id"],
            name=op.f("fk_road_vertex_network_id_road_network"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_road_vertex")),
    )
    op.create_geospatial_index(
        "ix_road_vertex_geom",
        "road_vertex",
        ["geom"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_index(op.f("ix_road_vertex_network_id"), "road_vertex", ["network_id"], unique=False)
    op.execute(
        "CREATE TRIGGER road_network_touch BEFORE UPDATE ON road_network "
        "FOR EACH ROW EXECUTE FUNCTION craftmap_touch()"
    )
    op.execute(
        "CREATE TRIGGER road_network_history AFTER INSERT OR UPDATE OR DELETE ON road_network "
        "FOR EACH ROW EXECUTE FUNCTION craftmap_record_history()"
    )


def downgrade() -> None:
    """Revert this revision."""
    op.execute("DROP TRIGGER IF EXISTS road_network_history ON road_network")
    op.execute("DROP TRIGGER IF EXISTS road_network_touch ON road_network")
    op.drop_index(op.f("ix_road_vertex_network_id"), table_name="road_vertex")
    op.drop_geospatial_index(
        "ix_road_vertex_geom", table_name="road_vertex", postgresql_using="gist", column_name="geom"
    )
    op.drop_geospatial_table("road_vertex")
    op.drop_index("ix_road_edge_target", table_name="road_edge")
    op.drop_index("ix_road_edge_source", table_name="road_edge")
    op.drop_index(op.f("ix_road_edge_network_id"), table_name="road_edge")
    op.drop_geospatial_index(
        "ix_road_edge_geom", table_name="road_edge", postgresql_using="gist", column_name="geom"
    )
    op.drop_geospatial_table("road_edge")
    op.drop_table("road_network")
    # The pgRouting extension stays, as PostGIS does: other schemas may use it.
