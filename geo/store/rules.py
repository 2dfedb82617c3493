"""Domain rules checked in PostGIS when a feature is written.

Each rule raises `RuleViolation` with a message that names the rule, so the API answers a
400 that tells the user what to change.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from geoalchemy2 import Geography
from sqlalchemy.dialects.postgresql import ARRAY, aggregate_order_by
from sqlalchemy.engine import Connection
from sqlalchemy.sql.elements import ColumnElement

from geo.kernel.crs import SRID_STORAGE, VIETNAM_BBOX
from geo.kernel.errors import InvalidInput
from geo.kernel.vocab import ReferenceKind
from geo.store import models, queries

# A stop counts as on its route's line within this distance (metres).
STOP_ON_LINE_TOLERANCE_M = 50.0

_ADMIN = models.table_of(models.AdminUnit)
_REF = models.table_of(models.ReferenceFeature)
_LAYER = models.table_of(models.ReferenceLayer)
_STOP = models.table_of(models.RouteStop)
_ROUTE = models.table_of(models.TourismRoute)


class RuleViolation(InvalidInput):
    """A write breaks a domain rule; the message starts with the rule's name."""


def _current_units(level: str) -> list[ColumnElement[bool]]:
    return [
        _ADMIN.c.level == level,
        _ADMIN.c.geom.is_not(None),
        sa.or_(_ADMIN.c.valid_to.is_(None), _ADMIN.c.valid_to >= sa.func.current_date()),
    ]


@dataclass(frozen=True)
class Check:
    """One domain rule as SQL over a geometry (and its other inputs).

    ``failing`` is true, or a non-null value the message names, when the rule is broken;
    false or null when it holds. The API's per-row check selects it for one geometry, the
    import's set-based check for every staged row at once: one rule, one predicate.
    """

    failing: ColumnElement[Any]
    message: Callable[[Any], str]


def broken(value: Any) -> bool:
    """Whether a check's ``failing`` value says the rule is broken."""
    return value is not None and value is not False


def first_violation(checks: list[Check], values: Sequence[Any]) -> str | None:
    """The message of the first broken check (checks run in order), or None."""
    for check, value in zip(checks, values, strict=True):
        if broken(value):
            return check.message(value)
    return None


def _raise_first(conn: Connection, checks: list[Check]) -> None:
    if not checks:
        return
    values = conn.execute(sa.select(*(c.failing for c in checks))).one()
    message = first_violation(checks, values)
    if message is not None:
        raise RuleViolation(message)


def in_vietnam_checks(geom: ColumnElement[Any], rule: str, what: str) -> list[Check]:
    """``geom`` lies wholly in Vietnam: the outline every ``*-in-vietnam`` rule shares.

    The outline is the coarse box first, then, once province boundaries are loaded, their
    union: a shape that reaches out of it (a zone across the border with Laos, a route into
    Thailand) breaks the rule even when it starts inside.
    """
    minx, miny, maxx, maxy = VIETNAM_BBOX
    in_box = sa.func.ST_CoveredBy(
        geom, sa.func.ST_MakeEnvelope(minx, miny, maxx, maxy, SRID_STORAGE)
    )
    # Only the provinces the shape touches are merged: a union of every boundary on
    # each write would cost seconds once all 34 provinces are loaded.
    provinces = (
        sa.select(sa.func.ST_Union(_ADMIN.c.geom))
        .where(*_current_units("province"), sa.func.ST_Intersects(_ADMIN.c.geom, geom))
        .correlate_except(_ADMIN)
        .scalar_subquery()
    )
    has_provinces = sa.exists().where(*_current_units("province"))
    in_provinces = sa.func.coalesce(sa.func.ST_CoveredBy(geom, provinces), sa.false())
    return [
        Check(
            sa.not_(sa.func.coalesce(in_box, sa.false())),
            lambda _: (
                f"{rule}: {what} lies outside Vietnam "
                f"(longitude {minx}–{maxx}, latitude {miny}–{maxy})"
            ),
        ),
        Check(
            sa.and_(has_provinces, sa.not_(in_provinces)),
            lambda _: (
                f"{rule}: {what} lies outside, or reaches out of, every loaded province boundary"
            ),
        ),
    ]


def in_vietnam(conn: Connection, geom: ColumnElement[Any], rule: str, what: str) -> None:
    """Raise `RuleViolation` unless ``geom`` lies wholly in Vietnam (`in_vietnam_checks`)."""
    _raise_first(conn, in_vietnam_checks(geom, rule, what))


def village_checks(geom: ColumnElement[Any], commune_code: ColumnElement[Any]) -> list[Check]:
    """A village lies in Vietnam, and in its commune when commune boundaries are loaded.

    ``commune_code`` is SQL (null or empty: no commune named).
    """
    # The commune the point lies outside, named as the message shows it.
    outside_commune = (
        sa.select(
            sa.case(
                (sa.func.ST_Intersects(_ADMIN.c.geom, geom), sa.null()),
                else_=_ADMIN.c.name + " (commune " + _ADMIN.c.code + ")",
            )
        )
        .where(*_current_units("commune"), _ADMIN.c.code == commune_code)
        .limit(1)
        .correlate_except(_ADMIN)
        .scalar_subquery()
    )
    return [
        *in_vietnam_checks(geom, "village-in-vietnam", "the village point"),
        Check(
            outside_commune,
            lambda commune: (
                f"village-in-commune: the village point lies outside {commune}; move the "
                "point or correct commune_code"
            ),
        ),
    ]


def village_in_vietnam(
    conn: Connection, geom: ColumnElement[Any], commune_code: str | None
) -> None:
    """Raise `RuleViolation` unless the village keeps `village_checks`."""
    checks = village_checks(geom, sa.literal(commune_code or None, sa.Text))
    _raise_first(conn, checks if commune_code else checks[:-1])


def zone_checks(geom: ColumnElement[Any], commune_codes: ColumnElement[Any]) -> list[Check]:
    """A material zone lies in Vietnam, and in the province of its communes when loaded.

    The province is the parent of the current communes the zone names (``commune_codes``,
    SQL text[]); a zone that names none is held to the outline of Vietnam alone. A zone
    whose communes lie in two provinces may cover both.
    """
    commune = _ADMIN.alias("commune")
    current_commune = [
        commune.c.level == "commune",
        sa.or_(commune.c.valid_to.is_(None), commune.c.valid_to >= sa.func.current_date()),
        commune.c.code == sa.any_(commune_codes),
    ]
    named = [
        *_current_units("province"),
        # Explicit: a staged row's codes two levels up correlate too (bulk import).
        _ADMIN.c.code.in_(
            sa.select(commune.c.parent_code).where(*current_commune).correlate_except(commune)
        ),
    ]
    listed = sa.func.string_agg(
        _ADMIN.c.name + " (" + _ADMIN.c.code + ")",
        aggregate_order_by(sa.literal_column("', '"), _ADMIN.c.code),
    )
    inside = sa.func.coalesce(
        sa.func.ST_CoveredBy(geom, sa.func.ST_Union(_ADMIN.c.geom)), sa.false()
    )
    # No named province with a boundary: the aggregate is null, the rule holds.
    outside_province = (
        sa.select(sa.case((inside, sa.null()), else_=listed))
        .where(*named)
        .correlate_except(_ADMIN)
        .scalar_subquery()
    )
    return [
        *in_vietnam_checks(geom, "zone-in-vietnam", "the zone"),
        Check(
            outside_province,
            lambda names: (
                f"zone-in-province: the zone reaches outside {names}, the province of its "
                "communes; redraw the zone or correct commune_codes"
            ),
        ),
    ]


def zone_in_vietnam(conn: Connection, geom: ColumnElement[Any], commune_codes: Any) -> None:
    """Raise `RuleViolation` unless the zone keeps `zone_checks`."""
    listed = commune_codes if isinstance(commune_codes, list | tuple) else []
    codes = [c for c in listed if isinstance(c, str) and c]
    checks = zone_checks(geom, sa.literal(codes, ARRAY(sa.Text)))
    _raise_first(conn, checks if codes else checks[:-1])


def route_in_vietnam(conn: Connection, geom: ColumnElement[Any]) -> None:
    """A tourism route's line lies in Vietnam."""
    in_vietnam(conn, geom, "route-in-vietnam", "the route line")


def stop_in_vietnam(conn: Connection, geom: ColumnElement[Any]) -> None:
    """A route stop lies in Vietnam."""
    in_vietnam(conn, geom, "stop-in-vietnam", "the stop")


def exclusion_overlaps(geom: ColumnElement[Any]) -> sa.Select[Any]:
    """The exclusion areas ``geom`` overlaps: layer name, feature id, overlap in m²."""
    overlap = sa.func.ST_Area(sa.cast(sa.func.ST_Intersection(_REF.c.geom, geom), _geography()))
    return (
        sa.select(_LAYER.c.name, _REF.c.id, overlap.label("area_m2"))
        .select_from(_REF.join(_LAYER, _LAYER.c.id == _REF.c.layer_id))
        .where(
            _LAYER.c.kind == ReferenceKind.EXCLUSION.value,
            sa.func.ST_Intersects(_REF.c.geom, geom),
            sa.not_(sa.func.ST_Touches(_REF.c.geom, geom)),
        )
    )


def exclusion_label(name: str, feature_id: int, area_m2: float) -> str:
    """One overlapped exclusion area as the rule's message lists it."""
    return f"{name}/{feature_id} ({area_m2 / 10_000:.2f} ha)"


def exclusions_message(found: list[str]) -> str:
    """zone-clear-of-exclusions broken by the overlaps ``found`` (`exclusion_label`)."""
    return (
        "zone-clear-of-exclusions: the zone overlaps exclusion areas "
        f"{', '.join(found)}; send allow-exclusion-overlap=true to save it knowingly"
    )


def zone_clear_of_exclusions(
    conn: Connection, geom: ColumnElement[Any], *, allowed: bool
) -> list[str]:
    """A material zone does not overlap an exclusion area, unless the request accepts it.

    Returns the overlapped areas (empty when none); raises when they are not accepted.
    """
    rows = conn.execute(exclusion_overlaps(geom).order_by(_LAYER.c.name, _REF.c.id)).all()
    found = [exclusion_label(row.name, row.id, row.area_m2) for row in rows]
    if found and not allowed:
        raise RuleViolation(exclusions_message(found))
    return found


def _geography() -> Geography:
    return Geography(srid=SRID_STORAGE)


def route_passes_stops(conn: Connection, route_id: int, line: ColumnElement[Any]) -> None:
    """Every stop of a route lies on its line (within the tolerance)."""
    distance = sa.func.ST_Distance(sa.cast(_STOP.c.geom, _geography()), sa.cast(line, _geography()))
    far = conn.execute(
        sa.select(_STOP.c.seq, distance.label("metres"))
        .where(_STOP.c.route_id == route_id, distance > STOP_ON_LINE_TOLERANCE_M)
        .order_by(_STOP.c.seq)
    ).all()
    if far:
        listed = ", ".join(f"stop {row.seq} is {row.metres:,.0f} m away" for row in far)
        raise RuleViolation(
            f"route-passes-stops: the line must pass within {STOP_ON_LINE_TOLERANCE_M:.0f} m "
            f"of every stop; {listed}"
        )


def line_follows_stops(conn: Connection, route_id: int) -> bool:
    """Whether a route's line is the one drawn from its stops (or it has none yet)."""
    drawn = queries.stops_line(route_id)
    row = conn.execute(
        sa.select(sa.or_(_ROUTE.c.geom.is_(None), sa.func.ST_Equals(_ROUTE.c.geom, drawn))).where(
            _ROUTE.c.id == route_id
        )
    ).first()
    return bool(row[0]) if row is not None and row[0] is not None else True
