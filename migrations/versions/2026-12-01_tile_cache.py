"""The tile cache: built vector tiles kept in an unlogged table, dropped when a write meets them.

``tile_cache`` holds what ``geo.query.tiles.tile`` returned for one layer set (``variant``:
a digest of the layers, their properties, the cap and the tile format) at one z/x/y,
with the tile's candidate box in lon/lat: the same ``ST_Transform(ST_TileEnvelope(z, x,
y), 4326)`` the tile query compares geometries with (``geom && box``), so "a feature's
footprint meets the box" is exactly "the feature is a candidate of the tile". Unlogged:
a crash empties it, which costs rebuilds only, and writes skip the WAL.

Invalidation is in the database, so writes by any worker or by ``psql`` are seen: a
deferred constraint trigger on every table that serves tiles deletes, at commit, the
cached tiles of every layer set holding the row's collection whose box meets the row's
old or new geometry. It first takes an exclusive transaction-level advisory lock per
collection (after one lock every writer takes first, so writers never deadlock on
them); a fill takes the shared locks of its layers without waiting before it builds and
inserts in one statement, and builds uncached when one is taken (geo/store/tile_cache.py).
A writer's delete therefore sees every fill that started before it, and every fill
after it sees the write. Writes to ``reference_layer`` and TRUNCATE drop whole layer sets.

Revision ID: 0012_tile_cache
Revises: 0011_programme_facts
Create Date: 2026-12-01
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0012_tile_cache"
down_revision: str | None = "0011_programme_facts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The tables that serve tiles and the collection each serves (geo/kernel/collections.py
# at this revision); reference_feature rows belong to the layer their layer_id names.
CORE_TABLES = {
    "craft_village": "villages",
    "material_zone": "material-zones",
    "tourism_route": "routes",
    "route_stop": "route-stops",
    "admin_unit": "admin-units",
    "road_edge": "roads",
}
ALL_TABLES = (*CORE_TABLES, "reference_feature")

# The advisory-lock pairs (class, key): key per collection, and one for writers as such.
_LOCKS = """
CREATE FUNCTION craftmap_tile_lock(collection text) RETURNS void LANGUAGE sql AS $$
    SELECT pg_advisory_xact_lock(hashtext('craftmap.tiles'), hashtext('*writers*'));
    SELECT pg_advisory_xact_lock(hashtext('craftmap.tiles'), hashtext(collection));
$$
"""

_DROP_BOXES = """
CREATE FUNCTION craftmap_tile_drop(names text[], boxes geometry[]) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    name text;
BEGIN
    IF names IS NULL OR cardinality(names) = 0 THEN
        RETURN;
    END IF;
    FOREACH name IN ARRAY names LOOP
        PERFORM craftmap_tile_lock(name);
    END LOOP;
    IF current_setting('transaction_isolation') <> 'read committed' THEN
        -- A repeatable-read writer's DELETE would not see tiles filled after its
        -- snapshot: a truncate (no snapshot) drops them all instead.
        TRUNCATE tile_cache;
        RETURN;
    END IF;
    IF boxes IS NULL THEN
        DELETE FROM tile_cache WHERE collections && names;
    ELSE
        -- A fresh snapshot (read committed, after the locks): fills committed so far.
        DELETE FROM tile_cache c USING unnest(boxes) AS b(box)
        WHERE c.envelope && b.box AND c.collections && names;
    END IF;
END
$$
"""

_ROW_TRIGGER = """
CREATE FUNCTION craftmap_tile_invalidate() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    names text[];
    boxes geometry[] := ARRAY[]::geometry[];
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.geom IS NOT NULL THEN
        boxes := boxes || OLD.geom;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') AND NEW.geom IS NOT NULL THEN
        boxes := boxes || NEW.geom;
    END IF;
    IF cardinality(boxes) = 0 THEN
        RETURN NULL;  -- no footprint: in no tile
    END IF;
    IF TG_TABLE_NAME = 'reference_feature' THEN
        -- A layer deleted in the same transaction is dropped whole by its own trigger.
        SELECT array_agg(l.name::text ORDER BY l.name) INTO names FROM reference_layer l
        WHERE l.id IN (
            CASE WHEN TG_OP <> 'INSERT' THEN OLD.layer_id END,
            CASE WHEN TG_OP <> 'DELETE' THEN NEW.layer_id END
        );
    ELSE
        names := ARRAY[TG_ARGV[0]];
    END IF;
    PERFORM craftmap_tile_drop(names, boxes);
    RETURN NULL;
END
$$
"""

_LAYER_TRIGGER = """
CREATE FUNCTION craftmap_tile_invalidate_layer() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    names text[] := ARRAY[]::text[];
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        names := names || OLD.name::text;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        names := names || NEW.name::text;
    END IF;
    PERFORM craftmap_tile_drop(names, NULL);
    RETURN NULL;
END
$$
"""

_TRUNCATE_TRIGGER = """
CREATE FUNCTION craftmap_tile_invalidate_truncate() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    names text[];
BEGIN
    IF TG_TABLE_NAME = 'reference_feature' THEN
        SELECT array_agg(l.name::text ORDER BY l.name) INTO names FROM reference_layer l;
    ELSE
        names := ARRAY[TG_ARGV[0]];
    END IF;
    PERFORM craftmap_tile_drop(names, NULL);
    RETURN NULL;
END
$$
"""


def upgrade() -> None:
    """Apply this revision."""
    op.execute(
        """
        CREATE UNLOGGED TABLE tile_cache (
            variant text NOT NULL,
            z smallint NOT NULL,
            x integer NOT NULL,
            y integer NOT NULL,
            collections text[] NOT NULL,
            data bytea NOT NULL,
            etag text NOT NULL,
            envelope geometry(Polygon, 4326) NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT pk_tile_cache PRIMARY KEY (variant, z, x, y)
        )
        """
    )
    op.execute("CREATE INDEX ix_tile_cache_envelope ON tile_cache USING gist (envelope)")
    op.execute(_LOCKS)
    op.execute(_DROP_BOXES)
    op.execute(_ROW_TRIGGER)
    op.execute(_LAYER_TRIGGER)
    op.execute(_TRUNCATE_TRIGGER)
    for table in ALL_TABLES:
        argument = f"'{CORE_TABLES[table]}'" if table in CORE_TABLES else ""
        # Deferred: it runs at commit, after the write is final (see the module's text).
        op.execute(
            f"CREATE CONSTRAINT TRIGGER {table}_tile_cache AFTER INSERT OR UPDATE OR DELETE "
            f"ON {table} DEFERRABLE INITIALLY DEFERRED FOR EACH ROW "
            f"EXECUTE FUNCTION craftmap_tile_invalidate({argument})"
        )
        op.execute(
            f"CREATE TRIGGER {table}_tile_cache_truncate AFTER TRUNCATE ON {table} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION craftmap_tile_invalidate_truncate({argument})"
        )
    op.execute(
        "CREATE CONSTRAINT TRIGGER reference_layer_tile_cache AFTER INSERT OR UPDATE OR DELETE "
        "ON reference_layer DEFERRABLE INITIALLY DEFERRED FOR EACH ROW "
        "EXECUTE FUNCTION craftmap_tile_invalidate_layer()"
    )


def downgrade() -> None:
    """Revert this revision."""
    op.execute("DROP TRIGGER IF EXISTS reference_layer_tile_cache ON reference_layer")
    for table in ALL_TABLES:
        op.execute(f"DROP TRIGGER IF EXISTS {table}_tile_cache ON {table}")
        op.execute(f"DROP TRIGGER IF EXISTS {table}_tile_cache_truncate ON {table}")
    op.execute("DROP FUNCTION IF EXISTS craftmap_tile_invalidate_truncate()")
    op.execute("DROP FUNCTION IF EXISTS craftmap_tile_invalidate_layer()")
    op.execute("DROP FUNCTION IF EXISTS craftmap_tile_invalidate()")
    op.execute("DROP FUNCTION IF EXISTS craftmap_tile_drop(text[], geometry[])")
    op.execute("DROP FUNCTION IF EXISTS craftmap_tile_lock(text)")
    op.execute("DROP TABLE IF EXISTS tile_cache")
