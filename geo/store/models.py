"""ORM models of craftmap's tables (for writes and small reads; hot paths use SQL).

Geometries are stored in EPSG:4326 with GiST indexes and validity checks; areas (ha) and
lengths (km) are generated columns computed by PostGIS on the spheroid. Code lists are
VARCHAR columns with CHECK constraints (easier to extend than PostgreSQL enum types).
"""

from __future__ import annotations

import datetime as dt
import math
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from geoalchemy2 import Geometry, WKBElement
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from geo.kernel import vocab
from geo.kernel.crs import SRID_STORAGE

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base carrying the constraint naming convention."""

    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)


def code_list(enum: type[StrEnum], name: str) -> sa.Enum:
    """A VARCHAR column type whose values are limited to ``enum`` by a CHECK constraint."""
    return sa.Enum(
        enum,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=max(len(member.value) for member in enum),
        values_callable=lambda members: [member.value for member in members],
        validate_strings=True,
    )


def geometry(kind: str) -> Geometry:
    """A geometry column type in the storage CRS; its GiST index is declared explicitly."""
    return Geometry(kind, srid=SRID_STORAGE, spatial_index=False)


def valid_geometry_check(column: str = "geom", *, name: str = "geom_valid") -> sa.CheckConstraint:
    """CHECK that a geometry is valid, non-empty and in lon/lat range."""
    return sa.CheckConstraint(
        f"{column} IS NULL OR (ST_IsValid({column}) AND NOT ST_IsEmpty({column}) "
        f"AND ST_XMin({column}) >= -180 AND ST_XMax({column}) <= 180 "
        f"AND ST_YMin({column}) >= -90 AND ST_YMax({column}) <= 90)",
        name=name,
    )


def gist_index(table: str, column: str = "geom") -> sa.Index:
    """The GiST index of a geometry column."""
    return sa.Index(f"ix_{table}_{column}", column, postgresql_using="gist")


class Timestamped:
    """Creation and update times plus a version number bumped by a trigger on update."""

    created_at: Mapped[dt.datetime] = mapped_column(
        sa.DateTime(timezone=True), server_default=sa.func.now()
    )
    updated_at: Mapped[dt.datetime] = mapped_column(
        sa.DateTime(timezone=True), server_default=sa.func.now()
    )
    version: Mapped[int] = mapped_column(sa.Integer, server_default=sa.text("1"))


class AdminUnit(Timestamped, Base):
    """A province, district or commune under one administrative scheme.

    Codes are reused across the 2025 reform, so a unit is identified by (scheme, code) and
    carries its validity dates; villages find their unit by a spatial join.
    """

    __tablename__ = "admin_unit"
    __table_args__ = (
        sa.UniqueConstraint("scheme", "code", name="uq_admin_unit_scheme_code"),
        sa.CheckConstraint(
            "valid_to IS NULL OR valid_from IS NULL OR valid_to >= valid_from",
            name="validity_order",
        ),
        valid_geometry_check(),
        valid_geometry_check("label_point", name="label_point_valid"),
        gist_index("admin_unit"),
    )

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(16))
    scheme: Mapped[str] = mapped_column(sa.String(32))
    name: Mapped[str] = mapped_column(sa.Text)
    level: Mapped[vocab.AdminLevel] = mapped_column(code_list(vocab.AdminLevel, "level"))
    parent_code: Mapped[str | None] = mapped_column(sa.String(16))
    valid_from: Mapped[dt.date | None] = mapped_column(sa.Date)
    valid_to: Mapped[dt.date | None] = mapped_column(sa.Date)
    source: Mapped[str | None] = mapped_column(sa.Text)
    label_point: Mapped[WKBElement | None] = mapped_column(geometry("POINT"))
    geom: Mapped[WKBElement | None] = mapped_column(geometry("MULTIPOLYGON"))
    area_ha: Mapped[float | None] = mapped_column(
        sa.Double, sa.Computed("ST_Area(geom::geography) / 10000.0", persisted=True)
    )


class Village(Timestamped, Base):
    """A craft village, traditional craft village or traditional craft held in a place."""

    __tablename__ = "craft_village"
    __table_args__ = (
        sa.CheckConstraint("households IS NULL OR households >= 0", name="households_nonneg"),
        sa.CheckConstraint(
            "craft_households IS NULL OR (craft_households >= 0 AND "
            "(households IS NULL OR craft_households <= households))",
            name="craft_households_range",
        ),
        sa.CheckConstraint("workers IS NULL OR workers >= 0", name="workers_nonneg"),
        sa.CheckConstraint(
            "trained_workers IS NULL OR (trained_workers >= 0 AND "
            "(workers IS NULL OR trained_workers <= workers))",
            name="trained_workers_range",
        ),
        sa.CheckConstraint(
            "ocop_stars IS NULL OR ocop_stars BETWEEN 3 AND 5", name="ocop_stars_range"
        ),
        sa.CheckConstraint(
            "ocop_products IS NULL OR ocop_products >= 0", name="ocop_products_nonneg"
        ),
        sa.CheckConstraint("precision_m IS NULL OR precision_m >= 0", name="precision_nonneg"),
        sa.CheckConstraint(
            "recognition_year IS NULL OR recognition_year BETWEEN 1900 AND 2100",
            name="recognition_year_range",
        ),
        sa.CheckConstraint(
            "restored_year IS NULL OR restored_year BETWEEN 1900 AND 2100",
            name="restored_year_range",
        ),
        sa.CheckConstraint(
            "material_demand_t IS NULL OR jsonb_typeof(material_demand_t) = 'object'",
            name="material_demand_object",
        ),
        valid_geometry_check(),
        gist_index("craft_village"),
    )

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(32), unique=True)
    name: Mapped[str] = mapped_column(sa.Text)
    alt_names: Mapped[list[str]] = mapped_column(ARRAY(sa.Text), server_default="{}")
    kind: Mapped[vocab.VillageKind] = mapped_column(code_list(vocab.VillageKind, "kind"))
    crafts: Mapped[list[str]] = mapped_column(ARRAY(sa.Text), server_default="{}")
    craft_group: Mapped[vocab.CraftGroup] = mapped_column(
        code_list(vocab.CraftGroup, "craft_group")
    )
    hamlets: Mapped[list[str]] = mapped_column(ARRAY(sa.Text), server_default="{}")
    commune_code: Mapped[str | None] = mapped_column(sa.String(16))
    commune_name: Mapped[str | None] = mapped_column(sa.Text)
    legacy_commune: Mapped[str | None] = mapped_column(sa.Text)
    legacy_district: Mapped[str | None] = mapped_column(sa.Text)
    recognition_decision: Mapped[str | None] = mapped_column(sa.Text)
    recognition_date: Mapped[dt.date | None] = mapped_column(sa.Date)
    recognition_year: Mapped[int | None] = mapped_column(sa.SmallInteger)
    # When a lost or endangered craft was restored (the programme counts restorations).
    restored_year: Mapped[int | None] = mapped_column(sa.SmallInteger)
    status: Mapped[vocab.VillageStatus] = mapped_column(
        code_list(vocab.VillageStatus, "status"), server_default=vocab.VillageStatus.ACTIVE.value
    )
    operating_effectively: Mapped[bool | None] = mapped_column(sa.Boolean)
    tourism_linked: Mapped[bool | None] = mapped_column(sa.Boolean)
    ocop_products: Mapped[int | None] = mapped_column(sa.SmallInteger)
    ocop_stars: Mapped[int | None] = mapped_column(sa.SmallInteger)
    ip_protected: Mapped[bool | None] = mapped_column(sa.Boolean)
    env_plan: Mapped[bool | None] = mapped_column(sa.Boolean)
    households: Mapped[int | None] = mapped_column(sa.Integer)
    craft_households: Mapped[int | None] = mapped_column(sa.Integer)
    workers: Mapped[int | None] = mapped_column(sa.Integer)
    trained_workers: Mapped[int | None] = mapped_column(sa.Integer)
    material_demand_t: Mapped[dict[str, Any] | None] = mapped_column(JSONB(none_as_null=True))
    geom_precision: Mapped[vocab.GeomPrecision] = mapped_column(
        code_list(vocab.GeomPrecision, "geom_precision")
    )
    precision_m: Mapped[int | None] = mapped_column(sa.Integer)
    geom_source: Mapped[str | None] = mapped_column(sa.Text)
    sources: Mapped[list[str]] = mapped_column(ARRAY(sa.Text), server_default="{}")
    notes: Mapped[str | None] = mapped_column(sa.Text)
    geom: Mapped[WKBElement] = mapped_column(geometry("POINT"))

    stats: Mapped[list[VillageStat]] = relationship(
        back_populates="village", cascade="all, delete-orphan", passive_deletes=True
    )


class VillageStat(Timestamped, Base):
    """One village's yearly figures and programme facts (the indicators' records).

    Every fact is nullable: a missing value is unknown, never "no" or zero.
    """

    __tablename__ = "village_stat"
    __table_args__ = (
        sa.UniqueConstraint("village_id", "year", name="uq_village_stat_village_year"),
        sa.CheckConstraint("year BETWEEN 1990 AND 2100", name="year_range"),
        sa.CheckConstraint(
            "production_value_vnd IS NULL OR production_value_vnd >= 0", name="value_nonneg"
        ),
        sa.CheckConstraint(
            "avg_income_vnd_month IS NULL OR avg_income_vnd_month >= 0", name="income_nonneg"
        ),
        sa.CheckConstraint(
            "trained_workers IS NULL OR workers IS NULL OR trained_workers <= workers",
            name="trained_le_workers",
        ),
        sa.CheckConstraint(
            "establishments IS NULL OR establishments >= 0", name="establishments_nonneg"
        ),
        sa.CheckConstraint(
            "ocop_establishments IS NULL OR (ocop_establishments >= 0 AND "
            "(establishments IS NULL OR ocop_establishments <= establishments))",
            name="ocop_le_establishments",
        ),
        sa.CheckConstraint(
            "ocop_products IS NULL OR ocop_products >= 0", name="ocop_products_nonneg"
        ),
        sa.CheckConstraint("exports_usd IS NULL OR exports_usd >= 0", name="exports_nonneg"),
        sa.CheckConstraint("workers IS NULL OR workers >= 0", name="workers_nonneg"),
    )

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    village_id: Mapped[int] = mapped_column(
        sa.ForeignKey("craft_village.id", ondelete="CASCADE"), index=True
    )
    year: Mapped[int] = mapped_column(sa.SmallInteger)
    production_value_vnd: Mapped[float | None] = mapped_column(sa.Numeric(20, 0))
    avg_income_vnd_month: Mapped[float | None] = mapped_column(sa.Numeric(14, 0))
    workers: Mapped[int | None] = mapped_column(sa.Integer)
    trained_workers: Mapped[int | None] = mapped_column(sa.Integer)
    operating_effectively: Mapped[bool | None] = mapped_column(sa.Boolean)
    tourism_linked: Mapped[bool | None] = mapped_column(sa.Boolean)
    establishments: Mapped[int | None] = mapped_column(sa.Integer)
    ocop_establishments: Mapped[int | None] = mapped_column(sa.Integer)
    ocop_products: Mapped[int | None] = mapped_column(sa.SmallInteger)
    ip_protected: Mapped[bool | None] = mapped_column(sa.Boolean)
    env_plan: Mapped[bool | None] = mapped_column(sa.Boolean)
    exports_usd: Mapped[float | None] = mapped_column(sa.Numeric(16, 0))
    sources: Mapped[list[str]] = mapped_column(ARRAY(sa.Text), server_default="{}")
    actor: Mapped[str | None] = mapped_column(sa.Text)

    village: Mapped[Village] = relationship(back_populates="stats")


class SupplyFigure(Timestamped, Base):
    """One year's tonnes: a village's demand for a material, or a zone's capacity.

    The features carry the current figure (``material_demand_t``, ``annual_capacity_t``);
    these rows keep the figure of each year, and say whether it was measured or estimated
    and on what basis, so an analysis can name where every number came from.
    """

    __tablename__ = "supply_figure"
    __table_args__ = (
        sa.CheckConstraint("(village_id IS NULL) <> (zone_id IS NULL)", name="village_or_zone"),
        sa.CheckConstraint("tonnes >= 0", name="tonnes_nonneg"),
        sa.CheckConstraint("year BETWEEN 1990 AND 2100", name="year_range"),
        sa.CheckConstraint("NOT estimate OR basis IS NOT NULL", name="estimate_needs_basis"),
        sa.UniqueConstraint("village_id", "material", "year", name="uq_supply_figure_village"),
        sa.UniqueConstraint("zone_id", "year", name="uq_supply_figure_zone"),
    )

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    village_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("craft_village.id", ondelete="CASCADE"), index=True
    )
    zone_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("material_zone.id", ondelete="CASCADE"), index=True
    )
    material: Mapped[vocab.Material] = mapped_column(code_list(vocab.Material, "material"))
    year: Mapped[int] = mapped_column(sa.SmallInteger)
    tonnes: Mapped[float] = mapped_column(sa.Double)
    estimate: Mapped[bool] = mapped_column(sa.Boolean, server_default=sa.false())
    basis: Mapped[str | None] = mapped_column(sa.Text)
    sources: Mapped[list[str]] = mapped_column(ARRAY(sa.Text), server_default="{}")
    actor: Mapped[str | None] = mapped_column(sa.Text)


class Programme(Timestamped, Base):
    """A programme or plan with targets: the national 801/QĐ-TTg or a province's plan.

    A province's plan names the national programme it implements as its parent, so
    another province's plan loads beside Thanh Hóa's 4182/QĐ-UBND.
    """

    __tablename__ = "programme"
    __table_args__ = (
        sa.CheckConstraint(
            "(level = 'national') = (province_code IS NULL)", name="province_code_level"
        ),
        sa.CheckConstraint("parent_id IS NULL OR parent_id <> id", name="parent_not_self"),
    )

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(64), unique=True)
    title: Mapped[str] = mapped_column(sa.Text)
    level: Mapped[vocab.ProgrammeLevel] = mapped_column(
        code_list(vocab.ProgrammeLevel, "programme_level")
    )
    province_code: Mapped[str | None] = mapped_column(sa.String(16))
    parent_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("programme.id", ondelete="RESTRICT"), index=True
    )
    decision_date: Mapped[dt.date | None] = mapped_column(sa.Date)
    sources: Mapped[list[str]] = mapped_column(ARRAY(sa.Text), server_default="{}")
    actor: Mapped[str | None] = mapped_column(sa.Text)


class ProgrammeTarget(Timestamped, Base):
    """One target of a programme: an indicator's value by a year (2025, 2030)."""

    __tablename__ = "programme_target"
    __table_args__ = (
        sa.CheckConstraint("year BETWEEN 2000 AND 2100", name="year_range"),
        sa.CheckConstraint("value >= 0", name="value_nonneg"),
        sa.CheckConstraint("unit <> 'percent' OR value <= 100", name="percent_range"),
        sa.UniqueConstraint(
            "programme_id", "indicator", "year", name="uq_programme_target_indicator_year"
        ),
    )

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    programme_id: Mapped[int] = mapped_column(
        sa.ForeignKey("programme.id", ondelete="CASCADE"), index=True
    )
    indicator: Mapped[vocab.Indicator] = mapped_column(code_list(vocab.Indicator, "indicator"))
    year: Mapped[int] = mapped_column(sa.SmallInteger)
    comparison: Mapped[vocab.Comparison] = mapped_column(code_list(vocab.Comparison, "comparison"))
    value: Mapped[float] = mapped_column(sa.Double)
    unit: Mapped[vocab.TargetUnit] = mapped_column(code_list(vocab.TargetUnit, "target_unit"))
    note: Mapped[str | None] = mapped_column(sa.Text)
    sources: Mapped[list[str]] = mapped_column(ARRAY(sa.Text), server_default="{}")
    actor: Mapped[str | None] = mapped_column(sa.Text)


class MaterialZone(Timestamped, Base):
    """A concentrated raw-material zone (bamboo and luồng, rattan, sedge, medicinal…)."""

    __tablename__ = "material_zone"
    __table_args__ = (
        sa.CheckConstraint(
            "annual_capacity_t IS NULL OR annual_capacity_t >= 0", name="capacity_nonneg"
        ),
        sa.CheckConstraint(
            "declared_area_ha IS NULL OR declared_area_ha > 0", name="declared_area_positive"
        ),
        sa.CheckConstraint(
            "certification_scheme IS NOT NULL OR certificate_no IS NULL",
            name="certificate_needs_scheme",
        ),
        valid_geometry_check(),
        gist_index("material_zone"),
    )

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(32), unique=True)
    name: Mapped[str] = mapped_column(sa.Text)
    material: Mapped[vocab.Material] = mapped_column(code_list(vocab.Material, "material"))
    species: Mapped[str | None] = mapped_column(sa.Text)
    species_latin: Mapped[str | None] = mapped_column(sa.Text)
    status: Mapped[vocab.ZoneStatus] = mapped_column(
        code_list(vocab.ZoneStatus, "status"), server_default=vocab.ZoneStatus.EXISTING.value
    )
    land_type: Mapped[vocab.LandType | None] = mapped_column(code_list(vocab.LandType, "land_type"))
    owner_type: Mapped[vocab.OwnerType | None] = mapped_column(
        code_list(vocab.OwnerType, "owner_type")
    )
    owner: Mapped[str | None] = mapped_column(sa.Text)
    certification_scheme: Mapped[vocab.CertificationScheme | None] = mapped_column(
        code_list(vocab.CertificationScheme, "certification_scheme")
    )
    certificate_no: Mapped[str | None] = mapped_column(sa.Text)
    certificate_expiry: Mapped[dt.date | None] = mapped_column(sa.Date)
    annual_capacity_t: Mapped[float | None] = mapped_column(sa.Double)
    harvest_season: Mapped[str | None] = mapped_column(sa.Text)
    declared_area_ha: Mapped[float | None] = mapped_column(sa.Double)
    commune_codes: Mapped[list[str]] = mapped_column(ARRAY(sa.Text), server_default="{}")
    legacy_district: Mapped[str | None] = mapped_column(sa.Text)
    plan_ref: Mapped[str | None] = mapped_column(sa.Text)
    geom_source: Mapped[str | None] = mapped_column(sa.Text)
    sources: Mapped[list[str]] = mapped_column(ARRAY(sa.Text), server_default="{}")
    notes: Mapped[str | None] = mapped_column(sa.Text)
    geom: Mapped[WKBElement] = mapped_column(geometry("MULTIPOLYGON"))
    area_ha: Mapped[float] = mapped_column(
        sa.Double, sa.Computed("ST_Area(geom::geography) / 10000.0", persisted=True)
    )


class TourismRoute(Timestamped, Base):
    """A tourism route through villages; its line is drawn from the ordered stops."""

    __tablename__ = "tourism_route"
    __table_args__ = (valid_geometry_check(), gist_index("tourism_route"))

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(32), unique=True)
    name: Mapped[str] = mapped_column(sa.Text)
    theme: Mapped[vocab.RouteTheme] = mapped_column(code_list(vocab.RouteTheme, "theme"))
    mode: Mapped[vocab.TravelMode] = mapped_column(code_list(vocab.TravelMode, "mode"))
    status: Mapped[vocab.RouteStatus] = mapped_column(
        code_list(vocab.RouteStatus, "status"), server_default=vocab.RouteStatus.DRAFT.value
    )
    description: Mapped[str | None] = mapped_column(sa.Text)
    road_refs: Mapped[list[str]] = mapped_column(ARRAY(sa.Text), server_default="{}")
    sources: Mapped[list[str]] = mapped_column(ARRAY(sa.Text), server_default="{}")
    geom: Mapped[WKBElement | None] = mapped_column(geometry("LINESTRING"))
    length_km: Mapped[float | None] = mapped_column(
        sa.Double, sa.Computed("ST_Length(geom::geography) / 1000.0", persisted=True)
    )
    # The route designer's inputs and results (geo.workflows.route_design): the line's
    # origin, the day's start, the network the legs follow, and the timetable's totals.
    line_source: Mapped[vocab.LineSource] = mapped_column(
        code_list(vocab.LineSource, "line_source"), server_default=vocab.LineSource.STOPS.value
    )
    start_time: Mapped[dt.time] = mapped_column(sa.Time, server_default=sa.text("'08:00'"))
    network_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("road_network.id", ondelete="SET NULL"), index=True
    )
    drive_min: Mapped[float | None] = mapped_column(sa.Double)
    duration_min: Mapped[float | None] = mapped_column(sa.Double)
    days: Mapped[int | None] = mapped_column(sa.SmallInteger)

    stops: Mapped[list[RouteStop]] = relationship(
        back_populates="route",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="RouteStop.seq",
    )


class RouteStop(Timestamped, Base):
    """One ordered stop of a route: a village or a free point, with a dwell time."""

    __tablename__ = "route_stop"
    __table_args__ = (
        sa.UniqueConstraint("route_id", "seq", name="uq_route_stop_route_seq"),
        sa.CheckConstraint("seq >= 1", name="seq_positive"),
        sa.CheckConstraint("dwell_min >= 0", name="dwell_nonneg"),
        sa.CheckConstraint("village_id IS NOT NULL OR name IS NOT NULL", name="village_or_name"),
        sa.CheckConstraint("opens IS NULL OR closes IS NULL OR opens < closes", name="opens_first"),
        valid_geometry_check(),
        valid_geometry_check("leg_geom", name="leg_geom_valid"),
        gist_index("route_stop"),
    )

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    route_id: Mapped[int] = mapped_column(
        sa.ForeignKey("tourism_route.id", ondelete="CASCADE"), index=True
    )
    seq: Mapped[int] = mapped_column(sa.SmallInteger)
    village_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("craft_village.id", ondelete="SET NULL"), index=True
    )
    name: Mapped[str | None] = mapped_column(sa.Text)
    dwell_min: Mapped[int] = mapped_column(sa.Integer, server_default=sa.text("60"))
    note: Mapped[str | None] = mapped_column(sa.Text)
    geom: Mapped[WKBElement] = mapped_column(geometry("POINT"))
    # Opening hours (NULL: always open) and whether the day ends here (an overnight stop).
    opens: Mapped[dt.time | None] = mapped_column(sa.Time)
    closes: Mapped[dt.time | None] = mapped_column(sa.Time)
    overnight: Mapped[bool] = mapped_column(sa.Boolean, server_default=sa.false())
    # The leg that reaches this stop from the previous one (NULL on the first stop):
    # its mode when it differs from the route's (a boat leg), how it was drawn and why.
    leg_mode: Mapped[vocab.TravelMode | None] = mapped_column(
        code_list(vocab.TravelMode, "leg_mode")
    )
    leg_kind: Mapped[vocab.LegKind | None] = mapped_column(code_list(vocab.LegKind, "leg_kind"))
    leg_note: Mapped[str | None] = mapped_column(sa.Text)
    leg_km: Mapped[float | None] = mapped_column(sa.Double)
    leg_min: Mapped[float | None] = mapped_column(sa.Double)
    leg_geom: Mapped[WKBElement | None] = mapped_column(geometry("LINESTRING"))
    # The timetable: day (1, 2, …), arrival and departure clock times, minutes waited for
    # the opening, and why the stop's window is missed (NULL when it is kept).
    day: Mapped[int | None] = mapped_column(sa.SmallInteger)
    arrive_at: Mapped[dt.time | None] = mapped_column(sa.Time)
    depart_at: Mapped[dt.time | None] = mapped_column(sa.Time)
    wait_min: Mapped[float | None] = mapped_column(sa.Double)
    window_problem: Mapped[str | None] = mapped_column(sa.Text)

    route: Mapped[TourismRoute] = relationship(back_populates="stops")


class ReferenceLayer(Timestamped, Base):
    """A user-imported layer used by analysis (exclusion areas, land use, roads)."""

    __tablename__ = "reference_layer"
    __table_args__ = (sa.CheckConstraint("name ~ '^[a-z0-9][a-z0-9-]{0,62}$'", name="name_slug"),)

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(63), unique=True)
    title: Mapped[str] = mapped_column(sa.Text)
    kind: Mapped[vocab.ReferenceKind] = mapped_column(code_list(vocab.ReferenceKind, "kind"))
    description: Mapped[str | None] = mapped_column(sa.Text)
    source: Mapped[str | None] = mapped_column(sa.Text)


class ReferenceFeature(Timestamped, Base):
    """One feature of a reference layer, with free-form properties."""

    __tablename__ = "reference_feature"
    __table_args__ = (
        sa.CheckConstraint("jsonb_typeof(properties) = 'object'", name="properties_object"),
        valid_geometry_check(),
        gist_index("reference_feature"),
    )

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    layer_id: Mapped[int] = mapped_column(
        sa.ForeignKey("reference_layer.id", ondelete="CASCADE"), index=True
    )
    properties: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default="{}")
    geom: Mapped[WKBElement] = mapped_column(geometry("GEOMETRY"))


class RoadNetwork(Timestamped, Base):
    """A named road network built from one file (an OSM extract or a line layer).

    Its row keeps where the network came from and what the build found; the edges and
    vertices are derived from the file and rebuilt whole, so only this row is versioned
    in the history (a history row per edge would double a 100 000-edge build).
    """

    __tablename__ = "road_network"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(63), unique=True)
    source: Mapped[str | None] = mapped_column(sa.Text)
    source_hash: Mapped[str | None] = mapped_column(sa.String(64))
    approximate: Mapped[bool] = mapped_column(sa.Boolean, server_default=sa.false())
    built_at: Mapped[dt.datetime] = mapped_column(
        sa.DateTime(timezone=True), server_default=sa.func.now()
    )
    built_by: Mapped[str | None] = mapped_column(sa.Text)
    edges: Mapped[int] = mapped_column(sa.Integer, server_default=sa.text("0"))
    vertices: Mapped[int] = mapped_column(sa.Integer, server_default=sa.text("0"))
    components: Mapped[int] = mapped_column(sa.Integer, server_default=sa.text("0"))
    largest_share: Mapped[float | None] = mapped_column(sa.Double)
    length_km: Mapped[float | None] = mapped_column(sa.Double)


def _cost(mode: str, *, reverse: bool) -> sa.Computed:
    # Seconds to travel the edge (pgRouting's cost); -1 where the mode may not go, and
    # against the digitised direction of a one-way for every mode but walking.
    length = "ST_Length(geom::geography)"
    allowed = f"speed_{mode} > 0"
    if reverse and mode != "walking":
        allowed += " AND NOT oneway"
    return sa.Computed(
        f"CASE WHEN {allowed} THEN {length} / (speed_{mode} / 3.6) ELSE -1 END", persisted=True
    )


class RoadVertex(Base):
    """A node of a road network's topology: an edge end shared by the edges meeting there."""

    __tablename__ = "road_vertex"
    __table_args__ = (gist_index("road_vertex"),)

    id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True, autoincrement=False)
    network_id: Mapped[int] = mapped_column(
        sa.ForeignKey("road_network.id", ondelete="CASCADE"), index=True
    )
    geom: Mapped[WKBElement] = mapped_column(geometry("POINT"))


class RoadEdge(Timestamped, Base):
    """One routable edge: a road between two vertices, with its class and speeds by mode.

    ``oneway`` edges may be travelled only in their digitised direction (walking
    excepted); ``cost_*``/``reverse_cost_*`` are seconds as pgRouting reads them.
    """

    __tablename__ = "road_edge"
    __table_args__ = (
        sa.CheckConstraint(
            "speed_car >= 0 AND speed_motorbike >= 0 AND speed_bicycle >= 0 AND speed_walking >= 0",
            name="speeds_nonneg",
        ),
        sa.CheckConstraint("maxspeed IS NULL OR maxspeed > 0", name="maxspeed_positive"),
        valid_geometry_check(),
        gist_index("road_edge"),
        sa.Index("ix_road_edge_source", "source"),
        sa.Index("ix_road_edge_target", "target"),
    )

    id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True)
    network_id: Mapped[int] = mapped_column(
        sa.ForeignKey("road_network.id", ondelete="CASCADE"), index=True
    )
    osm_id: Mapped[int | None] = mapped_column(sa.BigInteger)
    source_id: Mapped[str | None] = mapped_column(sa.Text)
    name: Mapped[str | None] = mapped_column(sa.Text)
    ref: Mapped[str | None] = mapped_column(sa.Text)
    road_class: Mapped[vocab.RoadClass] = mapped_column(code_list(vocab.RoadClass, "road_class"))
    oneway: Mapped[bool] = mapped_column(sa.Boolean, server_default=sa.false())
    maxspeed: Mapped[int | None] = mapped_column(sa.SmallInteger)
    speed_car: Mapped[float] = mapped_column(sa.Double)
    speed_motorbike: Mapped[float] = mapped_column(sa.Double)
    speed_bicycle: Mapped[float] = mapped_column(sa.Double)
    speed_walking: Mapped[float] = mapped_column(sa.Double)
    approximate: Mapped[bool] = mapped_column(sa.Boolean, server_default=sa.false())
    source_note: Mapped[str | None] = mapped_column(sa.Text)
    source: Mapped[int | None] = mapped_column(sa.BigInteger)
    target: Mapped[int | None] = mapped_column(sa.BigInteger)
    geom: Mapped[WKBElement] = mapped_column(geometry("LINESTRING"))
    length_m: Mapped[float] = mapped_column(
        sa.Double, sa.Computed("ST_Length(geom::geography)", persisted=True)
    )
    cost_car: Mapped[float] = mapped_column(sa.Double, _cost("car", reverse=False))
    reverse_cost_car: Mapped[float] = mapped_column(sa.Double, _cost("car", reverse=True))
    cost_motorbike: Mapped[float] = mapped_column(sa.Double, _cost("motorbike", reverse=False))
    reverse_cost_motorbike: Mapped[float] = mapped_column(
        sa.Double, _cost("motorbike", reverse=True)
    )
    cost_bicycle: Mapped[float] = mapped_column(sa.Double, _cost("bicycle", reverse=False))
    reverse_cost_bicycle: Mapped[float] = mapped_column(sa.Double, _cost("bicycle", reverse=True))
    cost_walking: Mapped[float] = mapped_column(sa.Double, _cost("walking", reverse=False))
    reverse_cost_walking: Mapped[float] = mapped_column(sa.Double, _cost("walking", reverse=True))


class FeatureHistory(Base):
    """Every write to a feature table, recorded by a database trigger (before and after)."""

    __tablename__ = "feature_history"
    __table_args__ = (sa.Index("ix_feature_history_feature", "table_name", "feature_id", "id"),)

    id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True)
    table_name: Mapped[str] = mapped_column(sa.String(63))
    feature_id: Mapped[str] = mapped_column(sa.Text)
    action: Mapped[vocab.HistoryAction] = mapped_column(code_list(vocab.HistoryAction, "action"))
    actor: Mapped[str] = mapped_column(sa.Text)
    at: Mapped[dt.datetime] = mapped_column(
        sa.DateTime(timezone=True), server_default=sa.func.now()
    )
    before: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSONB)


class CatalogVersion(Base):
    """One row whose version changes with every write to a reference layer or its features.

    A statement trigger sets it from a sequence (migration 0005); with the row's xmin it
    keys the cache of reference-layer collections in geo/store/catalog.py.
    """

    __tablename__ = "catalog_version"
    __table_args__ = (sa.CheckConstraint("id = 1", name="one_row"),)

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=False)
    version: Mapped[int] = mapped_column(sa.BigInteger)


# The zooms served from tile_generalised and, for each, the smallest feature (the longer
# side of its box, in Web Mercator metres, floored to the millimetre) a tile keeps: one
# pixel of a 256-pixel tile. A partial GiST index per zoom holds only those features, so a
# zoom-8 tile reads the 2,800 parcels it keeps, not the 14,000 whose boxes meet it.
TILE_GENERALISED_MIN_SIZE = {
    z: math.floor(40_075_016.685578488 / 2**z / 256 * 1000) / 1000 for z in range(10)
}


class TileGeneralised(Base):
    """Each line or polygon feature in Web Mercator, simplified for the low-zoom tiles.

    Triggers of its own on the feature tables keep it in step (migration 0012b), so writes
    made with ``psql`` are seen too; ``geo.query.tiles`` reads it at zoom 9 and below
    instead of transforming and simplifying every feature for every tile. A feature that
    collapses to nothing at the zoom-9 tolerance has no row.
    """

    __tablename__ = "tile_generalised"
    __table_args__ = (
        gist_index("tile_generalised"),
        *(
            sa.Index(
                f"ix_tile_generalised_geom_z{z}",
                "geom",
                postgresql_using="gist",
                postgresql_where=sa.text(f"size_m >= {size!r}"),
            )
            for z, size in TILE_GENERALISED_MIN_SIZE.items()
        ),
    )

    # The feature table's name (material_zone, reference_feature…) and its row's id.
    collection: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    feature_id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True)
    geom: Mapped[WKBElement] = mapped_column(
        Geometry("GEOMETRY", srid=3857, spatial_index=False), nullable=False
    )
    # The longer side of the geometry's box in Web Mercator metres (infinite for points,
    # which always show): the low-zoom tiles leave out what is smaller than a pixel.
    size_m: Mapped[float] = mapped_column(sa.Double, nullable=False)


class ApiKey(Base):
    """An API key: only its SHA-256 hash and a short lookup prefix are stored."""

    __tablename__ = "api_key"
    __table_args__ = (sa.CheckConstraint("length(key_hash) = 64", name="hash_length"),)

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    prefix: Mapped[str] = mapped_column(sa.String(16), unique=True)
    key_hash: Mapped[str] = mapped_column(sa.String(64))
    name: Mapped[str] = mapped_column(sa.Text)
    role: Mapped[vocab.Role] = mapped_column(code_list(vocab.Role, "role"))
    created_at: Mapped[dt.datetime] = mapped_column(
        sa.DateTime(timezone=True), server_default=sa.func.now()
    )
    revoked_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime(timezone=True))
    last_used_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime(timezone=True))


class ImportMapping(Base):
    """A saved column mapping for imports: source field → craftmap field, plus value maps."""

    __tablename__ = "import_mapping"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(63), unique=True)
    into: Mapped[str] = mapped_column(sa.Text)
    # {"fields": {source: target}, "values": {target: {source value: code}}}
    mapping: Mapped[dict[str, Any]] = mapped_column(JSONB)
    saved_by: Mapped[str] = mapped_column(sa.Text)
    saved_at: Mapped[dt.datetime] = mapped_column(
        sa.DateTime(timezone=True), server_default=sa.func.now()
    )


class ImportRun(Base):
    """Who imported what: one row per applied import (file, hash, target, counts)."""

    __tablename__ = "import_run"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    actor: Mapped[str] = mapped_column(sa.Text)
    file_name: Mapped[str] = mapped_column(sa.Text)
    sha256: Mapped[str] = mapped_column(sa.String(64))
    into: Mapped[str] = mapped_column(sa.Text)
    crs: Mapped[str | None] = mapped_column(sa.Text)
    encoding: Mapped[str | None] = mapped_column(sa.Text)
    inserted: Mapped[int] = mapped_column(sa.Integer)
    updated: Mapped[int] = mapped_column(sa.Integer)
    unchanged: Mapped[int] = mapped_column(sa.Integer)
    repaired: Mapped[int] = mapped_column(sa.Integer)
    rejected: Mapped[int] = mapped_column(sa.Integer)
    started_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True))
    finished_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True))


class ImportJob(Base):
    """An import uploaded over HTTP, run in the background: its state, progress and report."""

    __tablename__ = "import_job"
    __table_args__ = (
        sa.CheckConstraint(
            "status IN ('queued', 'running', 'done', 'failed')", name="status_known"
        ),
    )

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    status: Mapped[str] = mapped_column(sa.String(16), server_default="queued")
    rows_done: Mapped[int] = mapped_column(sa.Integer, server_default=sa.text("0"))
    rows_total: Mapped[int | None] = mapped_column(sa.Integer)
    report: Mapped[dict[str, Any] | None] = mapped_column(JSONB(none_as_null=True))
    error: Mapped[str | None] = mapped_column(sa.Text)
    actor: Mapped[str] = mapped_column(sa.Text)
    file_name: Mapped[str] = mapped_column(sa.Text)
    sha256: Mapped[str] = mapped_column(sa.String(64))
    into: Mapped[str] = mapped_column(sa.Text)
    options: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default="{}")
    created_at: Mapped[dt.datetime] = mapped_column(
        sa.DateTime(timezone=True), server_default=sa.func.now()
    )
    finished_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime(timezone=True))


def table_of(model: type[Base]) -> sa.Table:
    """The Core ``Table`` of a mapped class (typed, for SQL built with Core)."""
    table = model.__table__
    assert isinstance(table, sa.Table)
    return table


# Tables whose every row change is written to feature_history by a trigger.
HISTORY_TABLES = (
    AdminUnit.__tablename__,
    Village.__tablename__,
    VillageStat.__tablename__,
    MaterialZone.__tablename__,
    TourismRoute.__tablename__,
    RouteStop.__tablename__,
    ReferenceLayer.__tablename__,
    ReferenceFeature.__tablename__,
    RoadNetwork.__tablename__,
    Programme.__tablename__,
    ProgrammeTarget.__tablename__,
)
