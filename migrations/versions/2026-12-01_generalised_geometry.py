"""A generalised Web-Mercator copy of every line and polygon feature, for low-zoom tiles.

A zoom-8 tile of the national material zones held 11,000-14,000 parcels: PostGIS spent
its time transforming and simplifying each of them for every tile. ``tile_generalised``
holds each feature of the tables whose tiles carry lines or polygons already in Web
Mercator (EPSG:3857) and simplified to half a pixel of a zoom-9 tile at extent 4096
(~9.55 m), with the longer side of its box; ``geo.query.tiles`` reads it at zoom 9 and
below. A feature that collapses to nothing at that tolerance has no row. A partial GiST
index per zoom 0-9 holds only the features at least a pixel of that zoom wide, which are
all a tile at that zoom keeps.

Statement triggers of their own (with transition tables, so a bulk import runs one
statement, not one per row) keep it in step on INSERT, UPDATE (only rows whose geometry
changed), DELETE and TRUNCATE of each table, also for writes made with ``psql``; the
history and touch triggers are not touched. The function runs as its owner (SECURITY
DEFINER): the app role only reads the copy.

Revision ID: 0012b_generalised_geometry
Revises: 0011_programme_facts
Create Date: 2026-12-01
"""

import math
from collections.abc import Sequence

import geoalchemy2
import sqlalchemy as sa
from alembic import op

revision: str = "0012b_generalised_geometry"
down_revision: str | None = "0011_programme_facts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The tables whose tiles carry lines or polygons (villages and route stops are points).
TABLES = ("material_zone", "tourism_route", "admin_unit", "road_edge", "reference_feature")
# Half a pixel of a zoom-9 tile at extent 4096, in Web Mercator metres; must stay equal to
# geo.query.tiles' GENERALISED_TOLERANCE.
TOLERANCE = 40_075_016.685578488 / 2**9 / 4096 / 2

# One expression for the backfill and the triggers. Web Mercator ends at ±85.0511°: a
# reference feature reaching past it is cut there first (ST_Transform would fail).
_GENERALISE = f"""
CREATE FUNCTION craftmap_generalise(g geometry) RETURNS geometry
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = public, pg_temp AS $$
    SELECT ST_Simplify(
        ST_Transform(
            CASE WHEN ST_YMax(g) > 85.0511287798 OR ST_YMin(g) < -85.0511287798
                THEN ST_Intersection(g, ST_MakeEnvelope(-180, -85.0511287798, 180,
                                                        85.0511287798, 4326))
                ELSE g END,
            3857),
        {TOLERANCE!r})
$$
"""

# Per zoom up to 9, one pixel of a 256-pixel tile in metres (floored to the millimetre):
# the smallest feature a tile keeps, and the predicate of that zoom's partial index. Must
# stay equal to geo.store.models.TILE_GENERALISED_MIN_SIZE.
MIN_SIZE = {z: math.floor(40_075_016.685578488 / 2**z / 256 * 1000) / 1000 for z in range(10)}

# A point has no size and always shows: its size is infinite.
_INSERT = """
    INSERT INTO tile_generalised (collection, feature_id, geom, size_m)
    SELECT TG_TABLE_NAME, s.id, s.geom,
           CASE WHEN ST_Dimension(s.geom) = 0 THEN 'Infinity'::double precision
           ELSE greatest(ST_XMax(s.geom) - ST_XMin(s.geom), ST_YMax(s.geom) - ST_YMin(s.geom))
           END
    FROM (SELECT n.id, craftmap_generalise(n.geom) AS geom FROM {rows}) s
    WHERE s.geom IS NOT NULL AND NOT ST_IsEmpty(s.geom);
"""

# Ids never change (serial keys), so an UPDATE's old and new rows pair up by id.
_SYNC = f"""
CREATE FUNCTION craftmap_tile_generalised_sync() RETURNS trigger LANGUAGE plpgsql
SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        DELETE FROM tile_generalised WHERE collection = TG_TABLE_NAME;
    ELSIF TG_OP = 'DELETE' THEN
        DELETE FROM tile_generalised t USING old_rows o
        WHERE t.collection = TG_TABLE_NAME AND t.feature_id = o.id;
    ELSIF TG_OP = 'INSERT' THEN
        {_INSERT.format(rows="new_rows n")}
    ELSE
        DELETE FROM tile_generalised t USING old_rows o JOIN new_rows n ON n.id = o.id
        WHERE t.collection = TG_TABLE_NAME AND t.feature_id = o.id
          AND o.geom IS DISTINCT FROM n.geom;
        {_INSERT.format(rows="new_rows n JOIN old_rows o ON o.id = n.id WHERE o.geom IS DISTINCT FROM n.geom")}
    END IF;
    RETURN NULL;
END
$$
"""


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "tile_generalised",
        sa.Column("collection", sa.Text(), nullable=False),
        sa.Column("feature_id", sa.BigInteger(), nullable=False),
        sa.Column(
            "geom",
            geoalchemy2.types.Geometry(srid=3857, spatial_index=False),
            nullable=False,
        ),
        sa.Column("size_m", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("collection", "feature_id", name=op.f("pk_tile_generalised")),
    )
    op.execute(_GENERALISE)
    for table in TABLES:
        op.execute(
            _INSERT.replace("TG_TABLE_NAME", f"'{table}'").format(
                rows=f"{table} n WHERE n.geom IS NOT NULL"
            )
        )
    # After the backfill: one index build instead of 200,000 insertions into it.
    op.create_index(
        op.f("ix_tile_generalised_geom"), "tile_generalised", ["geom"], postgresql_using="gist"
    )
    for z, size in MIN_SIZE.items():
        op.create_index(
            op.f(f"ix_tile_generalised_geom_z{z}"),
            "tile_generalised",
            ["geom"],
            postgresql_using="gist",
            postgresql_where=sa.text(f"size_m >= {size!r}"),
        )
    op.execute(_SYNC)
    for table in TABLES:
        for event, referencing in (
            ("INSERT", "NEW TABLE AS new_rows"),
            ("UPDATE", "OLD TABLE AS old_rows NEW TABLE AS new_rows"),
            ("DELETE", "OLD TABLE AS old_rows"),
        ):
            op.execute(
                f"CREATE TRIGGER {table}_generalised_{event.lower()} AFTER {event} ON {table} "
                f"REFERENCING {referencing} FOR EACH STATEMENT "
                "EXECUTE FUNCTION craftmap_tile_generalised_sync()"
            )
        op.execute(
            f"CREATE TRIGGER {table}_generalised_truncate AFTER TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION craftmap_tile_generalised_sync()"
        )
    op.execute("ANALYZE tile_generalised")


def downgrade() -> None:
    """Revert this revision."""
    for table in TABLES:
        for event in ("insert", "update", "delete", "truncate"):
            op.execute(f"DROP TRIGGER {table}_generalised_{event} ON {table}")
    op.execute("DROP FUNCTION craftmap_tile_generalised_sync()")
    for z in MIN_SIZE:
        op.drop_index(op.f(f"ix_tile_generalised_geom_z{z}"), table_name="tile_generalised")
    op.drop_index(op.f("ix_tile_generalised_geom"), table_name="tile_generalised")
    op.drop_table("tile_generalised")
    op.execute("DROP FUNCTION craftmap_generalise(geometry)")
