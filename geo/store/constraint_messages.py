"""What each database constraint means, in words a client can act on.

PostgreSQL names the constraint a row broke ("ck_material_zone_capacity_nonneg"); a problem
detail should say "annual_capacity_t must be ≥ 0". Rules that follow from the metadata
(unique keys, code lists, foreign keys, geometry validity) are worded here from the
metadata; the other CHECK constraints carry a hand-written rule in ``CHECK_RULES``. A test
walks every constraint of the migrated database, so a new one without words fails it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.sql.schema import ColumnCollectionConstraint

from geo.store.models import Base

# What one row of each table is called in a message.
NOUNS = {
    "admin_unit": "administrative unit",
    "api_key": "API key",
    "craft_village": "village",
    "feature_history": "history entry",
    "material_zone": "material zone",
    "reference_feature": "reference feature",
    "reference_layer": "reference layer",
    "road_edge": "road edge",
    "road_network": "road network",
    "import_job": "import job",
    "import_mapping": "import mapping",
    "import_run": "import run",
    "programme": "programme",
    "programme_target": "programme target",
    "route_stop": "route stop",
    "supply_figure": "supply figure",
    "tourism_route": "route",
    "village_stat": "village statistic",
}

# CHECK constraints whose rule is not a code list or a geometry check: (field, rule).
CHECK_RULES: dict[str, tuple[str, str]] = {
    "ck_programme_province_code_level": (
        "province_code",
        "a province's plan needs its province_code; a national programme has none",
    ),
    "ck_programme_parent_not_self": ("parent_id", "parent_id must not be the programme's own id"),
    "ck_programme_target_year_range": ("year", "year must be from 2000 to 2100"),
    "ck_programme_target_value_nonneg": ("value", "value must be ≥ 0"),
    "ck_programme_target_percent_range": (
        "value",
        "a percent value must be from 0 to 100",
    ),
    "ck_supply_figure_village_or_zone": (
        "village_id",
        "exactly one of village_id (a demand) or zone_id (a capacity) must be set",
    ),
    "ck_supply_figure_tonnes_nonneg": ("tonnes", "tonnes must be ≥ 0"),
    "ck_supply_figure_year_range": ("year", "year must be from 1990 to 2100"),
    "ck_supply_figure_estimate_needs_basis": (
        "basis",
        "an estimate needs its basis: set basis to how it was estimated",
    ),
    "ck_admin_unit_validity_order": ("valid_to", "valid_to must not be before valid_from"),
    "ck_api_key_hash_length": ("key_hash", "key_hash must be a 64-digit SHA-256 hex digest"),
    "ck_craft_village_material_demand_object": (
        "material_demand_t",
        "material_demand_t must be a JSON object (material → tonnes per year)",
    ),
    "ck_craft_village_ocop_products_nonneg": ("ocop_products", "ocop_products must be ≥ 0"),
    "ck_craft_village_precision_nonneg": ("precision_m", "precision_m must be ≥ 0"),
    "ck_craft_village_workers_nonneg": ("workers", "workers must be ≥ 0"),
    "ck_craft_village_ocop_stars_range": ("ocop_stars", "ocop_stars must be from 3 to 5"),
    "ck_craft_village_recognition_year_range": (
        "recognition_year",
        "recognition_year must be from 1900 to 2100",
    ),
    "ck_craft_village_households_nonneg": ("households", "households must be ≥ 0"),
    "ck_craft_village_craft_households_range": (
        "craft_households",
        "craft_households must be ≥ 0 and not more than households",
    ),
    "ck_craft_village_trained_workers_range": (
        "trained_workers",
        "trained_workers must be ≥ 0 and not more than workers",
    ),
    "ck_material_zone_certificate_needs_scheme": (
        "certificate_no",
        "certificate_no needs a certification_scheme",
    ),
    "ck_material_zone_declared_area_positive": (
        "declared_area_ha",
        "declared_area_ha must be > 0",
    ),
    "ck_material_zone_capacity_nonneg": ("annual_capacity_t", "annual_capacity_t must be ≥ 0"),
    "ck_reference_layer_name_slug": (
        "name",
        "name must be 1 to 63 lowercase letters, digits or '-', starting with a letter or digit",
    ),
    "ck_reference_feature_properties_object": (
        "properties",
        "properties must be a JSON object",
    ),
    "ck_route_stop_dwell_nonneg": ("dwell_min", "dwell_min must be ≥ 0"),
    "ck_route_stop_village_or_name": ("village_id", "a route stop needs a village_id or a name"),
    "ck_route_stop_seq_positive": ("seq", "seq must be ≥ 1"),
    "ck_route_stop_opens_first": ("opens", "opens must be earlier than closes"),
    "ck_route_stop_leg_geom_valid": ("leg_geom", "leg_geom must be a valid line in lon/lat range"),
    "ck_village_stat_value_nonneg": ("production_value_vnd", "production_value_vnd must be ≥ 0"),
    "ck_village_stat_income_nonneg": ("avg_income_vnd_month", "avg_income_vnd_month must be ≥ 0"),
    "ck_village_stat_trained_le_workers": (
        "trained_workers",
        "trained_workers must not be more than workers",
    ),
    "ck_village_stat_year_range": ("year", "year must be from 1990 to 2100"),
    "ck_village_stat_establishments_nonneg": ("establishments", "establishments must be ≥ 0"),
    "ck_village_stat_ocop_le_establishments": (
        "ocop_establishments",
        "ocop_establishments must be from 0 to establishments",
    ),
    "ck_village_stat_ocop_products_nonneg": ("ocop_products", "ocop_products must be ≥ 0"),
    "ck_village_stat_exports_nonneg": ("exports_usd", "exports_usd must be ≥ 0"),
    "ck_village_stat_workers_nonneg": ("workers", "workers must be ≥ 0"),
    "ck_craft_village_restored_year_range": (
        "restored_year",
        "restored_year must be from 1900 to 2100",
    ),
    "ck_import_job_status_known": (
        "status",
        "status must be one of queued, running, done, failed",
    ),
    "ck_road_edge_maxspeed_positive": ("maxspeed", "maxspeed must be > 0 km/h when given"),
    "ck_road_edge_speeds_nonneg": (
        "speed_car",
        "speed_car, speed_motorbike, speed_bicycle and speed_walking must be ≥ 0 km/h",
    ),
}

GENERIC = "a value breaks a rule of the data model"

# "Key (code)=(TH-001) already exists." / "Key (village_id)=(9) is not present in table …"
_KEY_DETAIL = re.compile(r"Key \((?P<columns>.*)\)=\((?P<values>.*)\)", re.DOTALL)


@dataclass(frozen=True)
class Rule:
    """A constraint in words: the field it is about and how the rule reads."""

    field: str
    rule: str
    kind: str  # "unique", "check" or "foreign key"
    table: str


def _noun(table: str) -> str:
    return NOUNS.get(table, table.replace("_", " "))


def _rules() -> dict[str, Rule]:
    found: dict[str, Rule] = {}
    for table in Base.metadata.tables.values():
        noun = _noun(table.name)
        for constraint in table.constraints:
            name = str(constraint.name) if constraint.name else None
            if name is None:
                continue
            columns = (
                [c.name for c in constraint.columns]
                if isinstance(constraint, ColumnCollectionConstraint)
                else []
            )
            if isinstance(constraint, sa.UniqueConstraint | sa.PrimaryKeyConstraint):
                found[name] = Rule(
                    " and ".join(columns),
                    f"{' and '.join(columns)} must not be used by another {noun}",
                    "unique",
                    table.name,
                )
            elif isinstance(constraint, sa.ForeignKeyConstraint):
                target = _noun(constraint.referred_table.name)
                found[name] = Rule(
                    columns[0],
                    f"{columns[0]} must name an existing {target}",
                    "foreign key",
                    table.name,
                )
            elif isinstance(constraint, sa.CheckConstraint):
                found[name] = _check_rule(table, name)
    return found


def _check_rule(table: sa.Table, name: str) -> Rule:
    if name in CHECK_RULES:
        field, rule = CHECK_RULES[name]
        return Rule(field, rule, "check", table.name)
    for column in table.columns:
        # Code lists (non-native enums) are named ck_<table>_<enum name>.
        if isinstance(column.type, sa.Enum) and name == f"ck_{table.name}_{column.type.name}":
            allowed = ", ".join(column.type.enums)
            return Rule(
                column.name, f"{column.name} must be one of: {allowed}", "check", table.name
            )
        if name == f"ck_{table.name}_{column.name}_valid":
            return Rule(
                column.name,
                f"{column.name} must be a valid, non-empty geometry with longitudes from -180 "
                "to 180 and latitudes from -90 to 90",
                "check",
                table.name,
            )
    return Rule("", "", "check", table.name)


RULES: dict[str, Rule] = _rules()


def rule_for(constraint: str | None) -> Rule | None:
    """The worded rule of a constraint, or None when it has no words (a test forbids that)."""
    found = RULES.get(constraint or "")
    return found if found is not None and found.rule else None


def describe(
    sqlstate: str | None, constraint: str | None, detail: str | None, column: str | None = None
) -> str:
    """A client-facing message for an integrity error, never naming the constraint.

    ``detail`` is PostgreSQL's DETAIL line (it holds the offending key of a unique or
    foreign-key violation); ``column`` the column of a NOT NULL violation.
    """
    if sqlstate == "23502":
        return f"{column} is required" if column else GENERIC
    rule = rule_for(constraint)
    if rule is None:
        return GENERIC
    match = _KEY_DETAIL.match(detail or "")
    if rule.kind == "unique" and match:
        values = match["values"]
        shown = f"'{values}'" if "," not in match["columns"] else f"({values})"
        return f"{rule.field} {shown} is already used by another {_noun(rule.table)}"
    if rule.kind == "foreign key" and match:
        return f"{rule.rule} ({rule.field} {match['values']} does not)"
    return rule.rule
