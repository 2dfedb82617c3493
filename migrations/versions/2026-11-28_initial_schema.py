"""Initial schema: PostGIS, the feature tables, history and API keys.

Revision ID: 0001_initial
Revises:
Create Date: 2026-11-28 15:24:12.301423
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry
from sqlalchemy.dialects import postgresql

revision: str = "0001_initial"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# Tables whose row changes are versioned; repeated here because migrations are static.
HISTORY_TABLES = (
    "admin_unit",
    "craft_village",
    "village_stat",
    "material_zone",
    "tourism_route",
    "route_stop",
    "reference_layer",
    "reference_feature",
)

TOUCH_FUNCTION = """
CREATE FUNCTION craftmap_touch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- updated_at and version feed ETags; the version is the optimistic-concurrency token.
    NEW.updated_at := now();
    NEW.version := OLD.version + 1;
    RETURN NEW;
END
$$
"""

HISTORY_FUNCTION = """
CREATE FUNCTION craftmap_record_history() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    action text;
    row_before jsonb;
    row_after jsonb;
    row_id text;
BEGIN
    IF TG_OP = 'INSERT' THEN
        action := 'create'; row_after := to_jsonb(NEW); row_id := NEW.id::text;
    ELSIF TG_OP = 'UPDATE' THEN
        action := 'update'; row_before := to_jsonb(OLD); row_after := to_jsonb(NEW);
        row_id := NEW.id::text;
    ELSE
        action := 'delete'; row_before := to_jsonb(OLD); row_id := OLD.id::text;
    END IF;
    -- A restore is an insert or update that the caller labels as such.
    IF current_setting('craftmap.action', true) = 'restore' THEN
        action := 'restore';
    END IF;
    INSERT INTO feature_history (table_name, feature_id, action, actor, before, after)
    VALUES (
        TG_TABLE_NAME, row_id, action,
        coalesce(nullif(current_setting('craftmap.actor', true), ''), session_user::text),
        row_before, row_after
    );
    RETURN NULL;
END
$$
"""


def upgrade() -> None:
    """Apply this revision."""
    op.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    op.create_geospatial_table(
        "admin_unit",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=16), nullable=False),
        sa.Column("scheme", sa.String(length=32), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column(
            "level",
            sa.Enum(
                "province",
                "district",
                "commune",
                name="level",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("parent_code", sa.String(length=16), nullable=True),
        sa.Column("valid_from", sa.Date(), nullable=True),
        sa.Column("valid_to", sa.Date(), nullable=True),
        sa.Column("source", sa.Text(), nullable=True),
        sa.Column(
            "label_point",
            Geometry(
                geometry_type="POINT",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
            ),
            nullable=True,
        ),
        sa.Column(
            "geom",
            Geometry(
                geometry_type="MULTIPOLYGON",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
            ),
            nullable=True,
        ),
        sa.Column(
            "area_ha",
            sa.Double(),
            sa.Computed("ST_Area(geom::geography) / 10000.0", persisted=True),
            nullable=True,
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
            name=op.f("ck_admin_unit_geom_valid"),
        ),
        sa.CheckConstraint(
            "label_point IS NULL OR (ST_IsValid(label_point) AND NOT ST_IsEmpty(label_point) AND ST_XMin(label_point) >= -180 AND ST_XMax(label_point) <= 180 AND ST_YMin(label_point) >= -90 AND ST_YMax(label_point) <= 90)",
            name=op.f("ck_admin_unit_label_point_valid"),
        ),
        sa.CheckConstraint(
            "valid_to IS NULL OR valid_from IS NULL OR valid_to >= valid_from",
            name=op.f("ck_admin_unit_validity_order"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_admin_unit")),
        sa.UniqueConstraint("scheme", "code", name="uq_admin_unit_scheme_code"),
    )
    op.create_geospatial_index(
        "ix_admin_unit_geom",
        "admin_unit",
        ["geom"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_table(
        "api_key",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column(
            "role",
            sa.Enum(
                "viewer",
                "planner",
                "tourism",
                "admin",
                name="role",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("length(key_hash) = 64", name=op.f("ck_api_key_hash_length")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_key")),
        sa.UniqueConstraint("prefix", name=op.f("uq_api_key_prefix")),
    )
    op.create_geospatial_table(
        "craft_village",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("alt_names", postgresql.ARRAY(sa.Text()), server_default="{}", nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "craft_village",
                "traditional_craft_village",
                "traditional_craft",
                name="kind",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("crafts", postgresql.ARRAY(sa.Text()), server_default="{}", nullable=False),
        sa.Column(
            "craft_group",
            sa.Enum(
                "G1",
                "G2",
                "G3",
                "G4",
                "G5",
                "G6",
                "G7",
                name="craft_group",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("hamlets", postgresql.ARRAY(sa.Text()), server_default="{}", nullable=False),
        sa.Column("commune_code", sa.String(length=16), nullable=True),
        sa.Column("commune_name", sa.Text(), nullable=True),
        sa.Column("legacy_commune", sa.Text(), nullable=True),
        sa.Column("legacy_district", sa.Text(), nullable=True),
        sa.Column("recognition_decision", sa.Text(), nullable=True),
        sa.Column("recognition_date", sa.Date(), nullable=True),
        sa.Column("recognition_year", sa.SmallInteger(), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "active",
                "at_risk",
                "lost",
                "restored",
                "revoked",
                name="status",
                native_enum=False,
                create_constraint=True,
            ),
            server_default="active",
            nullable=False,
        ),
        sa.Column("operating_effectively", sa.Boolean(), nullable=True),
        sa.Column("tourism_linked", sa.Boolean(), nullable=True),
        sa.Column("ocop_products", sa.SmallInteger(), nullable=True),
        sa.Column("ocop_stars", sa.SmallInteger(), nullable=True),
        sa.Column("ip_protected", sa.Boolean(), nullable=True),
        sa.Column("env_plan", sa.Boolean(), nullable=True),
        sa.Column("households", sa.Integer(), nullable=True),
        sa.Column("craft_households", sa.Integer(), nullable=True),
        sa.Column("workers", sa.Integer(), nullable=True),
        sa.Column("trained_workers", sa.Integer(), nullable=True),
        sa.Column("material_demand_t", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column(
            "geom_precision",
            sa.Enum(
                "surveyed",
                "hamlet",
                "commune_centroid",
                "district",
                name="geom_precision",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("precision_m", sa.Integer(), nullable=True),
        sa.Column("geom_source", sa.Text(), nullable=True),
        sa.Column("sources", postgresql.ARRAY(sa.Text()), server_default="{}", nullable=False),
        sa.Column("notes", sa.Text(), nullable=True),
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
            "material_demand_t IS NULL OR jsonb_typeof(material_demand_t) = 'object'",
            name=op.f("ck_craft_village_material_demand_object"),
        ),
        sa.CheckConstraint(
            "craft_households IS NULL OR (craft_households >= 0 AND (households IS NULL OR craft_households <= households))",
            name=op.f("ck_craft_village_craft_households_range"),
        ),
        sa.CheckConstraint(
            "geom IS NULL OR (ST_IsValid(geom) AND NOT ST_IsEmpty(geom) AND ST_XMin(geom) >= -180 AND ST_XMax(geom) <= 180 AND ST_YMin(geom) >= -90 AND ST_YMax(geom) <= 90)",
            name=op.f("ck_craft_village_geom_valid"),
        ),
        sa.CheckConstraint(
            "households IS NULL OR households >= 0", name=op.f("ck_craft_village_households_nonneg")
        ),
        sa.CheckConstraint(
            "ocop_products IS NULL OR ocop_products >= 0",
            name=op.f("ck_craft_village_ocop_products_nonneg"),
        ),
        sa.CheckConstraint(
            "ocop_stars IS NULL OR ocop_stars BETWEEN 3 AND 5",
            name=op.f("ck_craft_village_ocop_stars_range"),
        ),
        sa.CheckConstraint(
            "precision_m IS NULL OR precision_m >= 0",
            name=op.f("ck_craft_village_precision_nonneg"),
        ),
        sa.CheckConstraint(
            "recognition_year IS NULL OR recognition_year BETWEEN 1900 AND 2100",
            name=op.f("ck_craft_village_recognition_year_range"),
        ),
        sa.CheckConstraint(
            "trained_workers IS NULL OR (trained_workers >= 0 AND (workers IS NULL OR trained_workers <= workers))",
            name=op.f("ck_craft_village_trained_workers_range"),
        ),
        sa.CheckConstraint(
            "workers IS NULL OR workers >= 0", name=op.f("ck_craft_village_workers_nonneg")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_craft_village")),
        sa.UniqueConstraint("code", name=op.f("uq_craft_village_code")),
    )
    op.create_geospatial_index(
        "ix_craft_village_geom",
        "craft_village",
        ["geom"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_table(
        "feature_history",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("table_name", sa.String(length=63), nullable=False),
        sa.Column("feature_id", sa.Text(), nullable=False),
        sa.Column(
            "action",
            sa.Enum(
                "create",
                "update",
                "delete",
                "restore",
                name="action",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column(
            "at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("before", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("after", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feature_history")),
    )
    op.create_index(
        "ix_feature_history_feature",
        "feature_history",
        ["table_name", "feature_id", "id"],
        unique=False,
    )
    op.create_geospatial_table(
        "material_zone",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column(
            "material",
            sa.Enum(
                "luong",
                "bamboo",
                "nua",
                "vau",
                "rattan",
                "sedge",
                "medicinal",
                "ramie",
                "other",
                name="material",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("species", sa.Text(), nullable=True),
        sa.Column("species_latin", sa.Text(), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "existing",
                "planned",
                "proposed",
                name="status",
                native_enum=False,
                create_constraint=True,
            ),
            server_default="existing",
            nullable=False,
        ),
        sa.Column(
            "land_type",
            sa.Enum(
                "production_forest",
                "protection_forest",
                "special_use_forest",
                "farmland",
                "under_canopy",
                name="land_type",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=True,
        ),
        sa.Column(
            "owner_type",
            sa.Enum(
                "household",
                "household_group",
                "state_forest_company",
                "cooperative",
                "enterprise",
                "commune",
                name="owner_type",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=True,
        ),
        sa.Column("owner", sa.Text(), nullable=True),
        sa.Column(
            "certification_scheme",
            sa.Enum(
                "FSC-FM",
                "FSC-CoC",
                "PEFC",
                "VFCS",
                "organic",
                "VietGAP",
                "GACP-WHO",
                name="certification_scheme",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=True,
        ),
        sa.Column("certificate_no", sa.Text(), nullable=True),
        sa.Column("certificate_expiry", sa.Date(), nullable=True),
        sa.Column("annual_capacity_t", sa.Double(), nullable=True),
        sa.Column("harvest_season", sa.Text(), nullable=True),
        sa.Column("declared_area_ha", sa.Double(), nullable=True),
        sa.Column(
            "commune_codes", postgresql.ARRAY(sa.Text()), server_default="{}", nullable=False
        ),
        sa.Column("legacy_district", sa.Text(), nullable=True),
        sa.Column("plan_ref", sa.Text(), nullable=True),
        sa.Column("geom_source", sa.Text(), nullable=True),
        sa.Column("sources", postgresql.ARRAY(sa.Text()), server_default="{}", nullable=False),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column(
            "geom",
            Geometry(
                geometry_type="MULTIPOLYGON",
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
            "area_ha",
            sa.Double(),
            sa.Computed("ST_Area(geom::geography) / 10000.0", persisted=True),
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
            "annual_capacity_t IS NULL OR annual_capacity_t >= 0",
            name=op.f("ck_material_zone_capacity_nonneg"),
        ),
        sa.CheckConstraint(
            "certification_scheme IS NOT NULL OR certificate_no IS NULL",
            name=op.f("ck_material_zone_certificate_needs_scheme"),
        ),
        sa.CheckConstraint(
            "declared_area_ha IS NULL OR declared_area_ha > 0",
            name=op.f("ck_material_zone_declared_area_positive"),
        ),
        sa.CheckConstraint(
            "geom IS NULL OR (ST_IsValid(geom) AND NOT ST_IsEmpty(geom) AND ST_XMin(geom) >= -180 AND ST_XMax(geom) <= 180 AND ST_YMin(geom) >= -90 AND ST_YMax(geom) <= 90)",
            name=op.f("ck_material_zone_geom_valid"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_material_zone")),
        sa.UniqueConstraint("code", name=op.f("uq_material_zone_code")),
    )
    op.create_geospatial_index(
        "ix_material_zone_geom",
        "material_zone",
        ["geom"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_table(
        "reference_layer",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=63), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "exclusion",
                "land_use",
                "roads",
                "other",
                name="kind",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("source", sa.Text(), nullable=True),
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
            "name ~ '^[a-z0-9][a-z0-9-]{0,62}$'", name=op.f("ck_reference_layer_name_slug")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reference_layer")),
        sa.UniqueConstraint("name", name=op.f("uq_reference_layer_name")),
    )
    op.create_geospatial_table(
        "tourism_route",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column(
            "theme",
            sa.Enum(
                "craft_village",
                "heritage_craft",
                "community_ethnic",
                "city",
                name="theme",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column(
            "mode",
            sa.Enum(
                "car",
                "motorbike",
                "bicycle",
                "walking",
                "boat",
                name="mode",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column(
            "status",
            sa.Enum(
                "draft",
                "planned",
                "operating",
                "retired",
                name="status",
                native_enum=False,
                create_constraint=True,
            ),
            server_default="draft",
            nullable=False,
        ),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("road_refs", postgresql.ARRAY(sa.Text()), server_default="{}", nullable=False),
        sa.Column("sources", postgresql.ARRAY(sa.Text()), server_default="{}", nullable=False),
        sa.Column(
            "geom",
            Geometry(
                geometry_type="LINESTRING",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
            ),
            nullable=True,
        ),
        sa.Column(
            "length_km",
            sa.Double(),
            sa.Computed("ST_Length(geom::geography) / 1000.0", persisted=True),
            nullable=True,
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
            name=op.f("ck_tourism_route_geom_valid"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tourism_route")),
        sa.UniqueConstraint("code", name=op.f("uq_tourism_route_code")),
    )
    op.create_geospatial_index(
        "ix_tourism_route_geom",
        "tourism_route",
        ["geom"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_geospatial_table(
        "reference_feature",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("layer_id", sa.Integer(), nullable=False),
        sa.Column(
            "properties",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default="{}",
            nullable=False,
        ),
        sa.Column(
            "geom",
            Geometry(
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
            "jsonb_typeof(properties) = 'object'",
            name=op.f("ck_reference_feature_properties_object"),
        ),
        sa.CheckConstraint(
            "geom IS NULL OR (ST_IsValid(geom) AND NOT ST_IsEmpty(geom) AND ST_XMin(geom) >= -180 AND ST_XMax(geom) <= 180 AND ST_YMin(geom) >= -90 AND ST_YMax(geom) <= 90)",
            name=op.f("ck_reference_feature_geom_valid"),
        ),
        sa.ForeignKeyConstraint(
            ["layer_id"],
            ["reference_layer.id"],
            name=op.f("fk_reference_feature_layer_id_reference_layer"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reference_feature")),
    )
    op.create_geospatial_index(
        "ix_reference_feature_geom",
        "reference_feature",
        ["geom"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_index(
        op.f("ix_reference_feature_layer_id"), "reference_feature", ["layer_id"], unique=False
    )
    op.create_geospatial_table(
        "route_stop",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("route_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.SmallInteger(), nullable=False),
        sa.Column("village_id", sa.Integer(), nullable=True),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("dwell_min", sa.Integer(), server_default=sa.text("60"), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
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
        sa.CheckConstraint("dwell_min >= 0", name=op.f("ck_route_stop_dwell_nonneg")),
        sa.CheckConstraint(
            "geom IS NULL OR (ST_IsValid(geom) AND NOT ST_IsEmpty(geom) AND ST_XMin(geom) >= -180 AND ST_XMax(geom) <= 180 AND ST_YMin(geom) >= -90 AND ST_YMax(geom) <= 90)",
            name=op.f("ck_route_stop_geom_valid"),
        ),
        sa.CheckConstraint("seq >= 1", name=op.f("ck_route_stop_seq_positive")),
        sa.CheckConstraint(
            "village_id IS NOT NULL OR name IS NOT NULL", name=op.f("ck_route_stop_village_or_name")
        ),
        sa.ForeignKeyConstraint(
            ["route_id"],
            ["tourism_route.id"],
            name=op.f("fk_route_stop_route_id_tourism_route"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["village_id"],
            ["craft_village.id"],
            name=op.f("fk_route_stop_village_id_craft_village"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_route_stop")),
        sa.UniqueConstraint("route_id", "seq", name="uq_route_stop_route_seq"),
    )
    op.create_geospatial_index(
        "ix_route_stop_geom",
        "route_stop",
        ["geom"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_index(op.f("ix_route_stop_route_id"), "route_stop", ["route_id"], unique=False)
    op.create_index(op.f("ix_route_stop_village_id"), "route_stop", ["village_id"], unique=False)
    op.create_table(
        "village_stat",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("village_id", sa.Integer(), nullable=False),
        sa.Column("year", sa.SmallInteger(), nullable=False),
        sa.Column("production_value_vnd", sa.Numeric(precision=20, scale=0), nullable=True),
        sa.Column("avg_income_vnd_month", sa.Numeric(precision=14, scale=0), nullable=True),
        sa.Column("workers", sa.Integer(), nullable=True),
        sa.Column("trained_workers", sa.Integer(), nullable=True),
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
            "avg_income_vnd_month IS NULL OR avg_income_vnd_month >= 0",
            name=op.f("ck_village_stat_income_nonneg"),
        ),
        sa.CheckConstraint(
            "production_value_vnd IS NULL OR production_value_vnd >= 0",
            name=op.f("ck_village_stat_value_nonneg"),
        ),
        sa.CheckConstraint(
            "trained_workers IS NULL OR workers IS NULL OR trained_workers <= workers",
            name=op.f("ck_village_stat_trained_le_workers"),
        ),
        sa.CheckConstraint("year BETWEEN 1990 AND 2100", name=op.f("ck_village_stat_year_range")),
        sa.ForeignKeyConstraint(
            ["village_id"],
            ["craft_village.id"],
            name=op.f("fk_village_stat_village_id_craft_village"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_village_stat")),
        sa.UniqueConstraint("village_id", "year", name="uq_village_stat_village_year"),
    )
    op.create_index(
        op.f("ix_village_stat_village_id"), "village_stat", ["village_id"], unique=False
    )
    op.execute(TOUCH_FUNCTION)
    op.execute(HISTORY_FUNCTION)
    for table in HISTORY_TABLES:
        op.execute(
            f"CREATE TRIGGER {table}_touch BEFORE UPDATE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION craftmap_touch()"
        )
        op.execute(
            f"CREATE TRIGGER {table}_history AFTER INSERT OR UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION craftmap_record_history()"
        )


def downgrade() -> None:
    """Revert this revision (the PostGIS extension stays: other schemas may use it)."""
    for table in HISTORY_TABLES:
        op.execute(f"DROP TRIGGER IF EXISTS {table}_history ON {table}")
        op.execute(f"DROP TRIGGER IF EXISTS {table}_touch ON {table}")
    op.execute("DROP FUNCTION IF EXISTS craftmap_record_history()")
    op.execute("DROP FUNCTION IF EXISTS craftmap_touch()")
    op.drop_index(op.f("ix_village_stat_village_id"), table_name="village_stat")
    op.drop_table("village_stat")
    op.drop_index(op.f("ix_route_stop_village_id"), table_name="route_stop")
    op.drop_index(op.f("ix_route_stop_route_id"), table_name="route_stop")
    op.drop_geospatial_index(
        "ix_route_stop_geom", table_name="route_stop", postgresql_using="gist", column_name="geom"
    )
    op.drop_geospatial_table("route_stop")
    op.drop_index(op.f("ix_reference_feature_layer_id"), table_name="reference_feature")
    op.drop_geospatial_index(
        "ix_reference_feature_geom",
        table_name="reference_feature",
        postgresql_using="gist",
        column_name="geom",
    )
    op.drop_geospatial_table("reference_feature")
    op.drop_geospatial_index(
        "ix_tourism_route_geom",
        table_name="tourism_route",
        postgresql_using="gist",
        column_name="geom",
    )
    op.drop_geospatial_table("tourism_route")
    op.drop_table("reference_layer")
    op.drop_geospatial_index(
        "ix_material_zone_geom",
        table_name="material_zone",
        postgresql_using="gist",
        column_name="geom",
    )
    op.drop_geospatial_table("material_zone")
    op.drop_index("ix_feature_history_feature", table_name="feature_history")
    op.drop_table("feature_history")
    op.drop_geospatial_index(
        "ix_craft_village_geom",
        table_name="craft_village",
        postgresql_using="gist",
        column_name="geom",
    )
    op.drop_geospatial_table("craft_village")
    op.drop_table("api_key")
    op.drop_geospatial_index(
        "ix_admin_unit_geom", table_name="admin_unit", postgresql_using="gist", column_name="geom"
    )
    op.drop_geospatial_table("admin_unit")
