"""Feature properties as an HTML page shows them: labels, rounded numbers with units.

The JSON API keeps codes and raw numbers; this is for people reading a page in Vietnamese
or English. Numbers follow the page's language (``geo.kernel.text.number``): ``1.500,0 ha`` in
Vietnamese, ``1,500.0 ha`` in English.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from api.i18n import FEATURE_PAGE, FIGURES_PAGE, PROPERTY_LABELS, UNITS
from geo.kernel import collections as ids
from geo.kernel.text import date_format, number
from geo.kernel.vocab import label
from geo.store.catalog import Collection, Prop

# Which code list a property's values come from, per collection.
VOCABULARY: dict[tuple[str, str], str] = {
    (ids.VILLAGES, "kind"): "village_kind",
    (ids.VILLAGES, "craft_group"): "craft_group",
    (ids.VILLAGES, "status"): "village_status",
    (ids.VILLAGES, "geom_precision"): "geom_precision",
    (ids.MATERIAL_ZONES, "material"): "material",
    (ids.MATERIAL_ZONES, "status"): "zone_status",
    (ids.MATERIAL_ZONES, "land_type"): "land_type",
    (ids.MATERIAL_ZONES, "owner_type"): "owner_type",
    (ids.ROUTES, "theme"): "route_theme",
    (ids.ROUTES, "mode"): "travel_mode",
    (ids.ROUTES, "status"): "route_status",
    (ids.ADMIN_UNITS, "level"): "admin_level",
    (ids.ROADS, "road_class"): "road_class",
}

# Shown elsewhere on the page (the title, the provenance block, the footer, the links).
_NOT_IN_TABLE = {
    "name",
    "geom_precision",
    "precision_m",
    "geom_source",
    "sources",
    "created_at",
    "updated_at",
    "version",
    "route_id",
    # A road edge's network and its row in the source file say nothing to a reader.
    "network_id",
    "source_id",
    "village_id",
}
_PROVENANCE = ("geom_source", "sources")
# Years and ordinals are numbers written without thousands separators.
_UNGROUPED = {"recognition_year", "year", "seq", "ocop_stars", "version", "osm_id", "network_id"}
# Columns of the list pages, per collection (others: their first properties).
LIST_COLUMNS: dict[str, tuple[str, ...]] = {
    ids.VILLAGES: ("kind", "crafts", "commune_name", "legacy_district", "status"),
    ids.MATERIAL_ZONES: ("material", "status", "declared_area_ha", "legacy_district"),
    ids.ROUTES: ("theme", "mode", "status", "length_km"),
    ids.ROUTE_STOPS: ("route_id", "seq", "dwell_min"),
    ids.ADMIN_UNITS: ("level", "code", "scheme", "valid_from", "valid_to"),
    ids.ROADS: ("ref", "road_class", "oneway", "speed_car", "length_m", "approximate"),
}


@dataclass(frozen=True)
class Row:
    """One line of a property table: what it is, and its value as text."""

    name: str
    label: str
    value: str


def _decimals(value: float, unit: str | None) -> int:
    if unit in {"t/yr", "min", "km/h"}:
        return 0
    # Small areas and lengths keep two places (a 0.4 ha plot is not "0,4" of nothing).
    return 2 if abs(value) < 1 and value != 0 else 1


def unit_text(unit: str, lang: str) -> str:
    """The unit as the page writes it (``tấn/năm`` on a Vietnamese page)."""
    found = UNITS.get(unit)
    return unit if found is None else found(lang)


def distance(metres: float, lang: str) -> str:
    """A distance: metres below 1 km, else km with one decimal (``1,8 km``)."""
    if metres < 1000:
        return f"{number(metres, lang, 0)} m"
    return f"{number(metres / 1000, lang, 1)} km"


def _date(value: str, lang: str) -> str:
    try:
        if "T" in value:
            moment = dt.datetime.fromisoformat(value)
            return moment.strftime(date_format(lang, with_time=True))
        day = dt.date.fromisoformat(value)
    except ValueError:
        return value
    return day.strftime(date_format(lang))


def value_text(collection: Collection, prop: Prop | None, name: str, value: Any, lang: str) -> str:
    """One property value as text: a label, a rounded number with its unit, a date…"""
    if value is None or value == "" or value == [] or value == {}:
        return ""
    if isinstance(value, bool):
        return FEATURE_PAGE["yes" if value else "no"](lang)
    vocabulary = VOCABULARY.get((collection.id, name))
    if isinstance(value, list):
        return ", ".join(value_text(collection, prop, name, item, lang) for item in value)
    if isinstance(value, dict):
        # material → tonnes a year (material_demand_t)
        return "; ".join(
            f"{label('material', str(k), lang)}: {value_text(collection, prop, '', v, lang)}"
            + (f" {unit_text('t/yr', lang)}" if name == "material_demand_t" else "")
            for k, v in value.items()
        )
    if vocabulary is not None:
        return label(vocabulary, str(value), lang)
    unit = prop.unit if prop is not None else None
    if isinstance(value, int | float):
        if name == "ocop_stars":
            return "★" * int(value) if 0 < value <= 5 else str(value)
        if unit == "m":
            return distance(float(value), lang)
        if isinstance(value, int) and unit is None:
            return number(value, lang, grouped=name not in _UNGROUPED)
        text = number(float(value), lang, _decimals(float(value), unit))
        return f"{text} {unit_text(unit, lang)}" if unit else text
    if prop is not None and prop.type in {"date", "datetime"}:
        return _date(str(value), lang)
    return str(value)


def property_label(name: str, lang: str) -> str:
    """What a property is called on a page (its name where it has no label)."""
    found = PROPERTY_LABELS.get(name)
    return name if found is None else found(lang)


def _row(collection: Collection, name: str, value: Any, lang: str) -> Row | None:
    text = value_text(collection, collection.prop(name), name, value, lang)
    return Row(name, property_label(name, lang), text) if text else None


def feature_rows(collection: Collection, properties: Mapping[str, Any], lang: str) -> list[Row]:
    """The property table of a feature page: labelled, formatted, without empty rows."""
    if collection.is_reference_layer:
        shown = [n for n in properties if n not in {"created_at", "updated_at", "version"}]
    else:
        shown = [n for n in properties if n not in _NOT_IN_TABLE]
    return [row for n in shown if (row := _row(collection, n, properties[n], lang)) is not None]


def position_text(properties: Mapping[str, Any], lang: str) -> str:
    """How exact a point is, in words: ``Vị trí gần đúng: tâm xã, ±1,8 km``."""
    precision = properties.get("geom_precision")
    if not precision:
        return ""
    metres = properties.get("precision_m")
    size = distance(float(metres), lang) if metres is not None else "?"
    if precision == "surveyed":
        return FEATURE_PAGE["surveyed_position"].format(size=size)(lang)
    where = label("geom_precision", str(precision), lang)
    if metres is None:
        return where
    return FEATURE_PAGE["approximate_position"].format(where=where, size=size)(lang)


def provenance_rows(collection: Collection, properties: Mapping[str, Any], lang: str) -> list[Row]:
    """Where the data comes from and how exact its position is (the page's source block)."""
    rows: list[Row] = []
    position = position_text(properties, lang)
    if position:
        rows.append(Row("geom_precision", property_label("geom_precision", lang), position))
    for name in _PROVENANCE:
        row = _row(collection, name, properties.get(name), lang)
        if row is not None:
            rows.append(row)
    return rows


def updated_text(properties: Mapping[str, Any], lang: str) -> str:
    """The page footer's "updated on …, version n" (empty when the feature has neither)."""
    at, version = properties.get("updated_at"), properties.get("version")
    if not at or version is None:
        return ""
    return FEATURE_PAGE["updated"].format(at=_date(str(at), lang), version=version)(lang)


def list_columns(collection: Collection, asked: Sequence[str] | None) -> list[str]:
    """The columns of a list page: those asked for, else the collection's usual ones."""
    if asked:
        return [n for n in asked if n != "name"]
    usual = LIST_COLUMNS.get(collection.id)
    if usual is not None:
        return list(usual)
    return [p.name for p in collection.props if p.name != "name"][:8]


def list_cells(
    collection: Collection, features: Sequence[Mapping[str, Any]], columns: Sequence[str], lang: str
) -> tuple[list[tuple[str, str]], list[list[str]]]:
    """Header (name, label) and cells of a list page, dropping columns empty on every row."""
    cells = [
        [
            value_text(collection, collection.prop(c), c, f["properties"].get(c), lang)
            for c in columns
        ]
        for f in features
    ]
    kept = [i for i, _ in enumerate(columns) if any(row[i] for row in cells)]
    header = [(columns[i], property_label(columns[i], lang)) for i in kept]
    return header, [[row[i] for i in kept] for row in cells]


def figure_rows(found: Sequence[Mapping[str, Any]], lang: str) -> list[dict[str, Any]]:
    """Yearly supply figures with the texts a page shows (labels, tonnes in the page's format).

    ``extra_sources`` are the source tags the basis does not already cite in brackets.
    """
    rows = []
    for f in found:
        basis = f.get("basis") or ""
        rows.append(
            {
                **f,
                "kind_text": FIGURES_PAGE["demand" if f["kind"] == "village" else "capacity"](lang),
                "material_text": label("material", f["material"], lang),
                "tonnes_text": number(f["tonnes"], lang, 0 if f["tonnes"] >= 10 else 1),
                "status_text": FIGURES_PAGE["estimate" if f["estimate"] else "measured"](lang),
                "extra_sources": [s for s in f.get("sources") or () if f"[{s}]" not in basis],
                "href": (
                    f"/collections/{ids.VILLAGES if f['kind'] == 'village' else ids.MATERIAL_ZONES}"
                    f"/items/{f['village_id'] or f['zone_id']}?f=html&lang={lang}"
                ),
            }
        )
    return rows
