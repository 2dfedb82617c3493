"""Domain rules checked in PostGIS when a feature is written.

Each rule raises `RuleViolation` with a message that names the rule, so the API answers a
400 that tells the user what to change.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from geoalchemy2 import Geography
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


def in_vietnam(conn: Connection, geom: ColumnElement[Any], rule: str, what: str) -> None:
    """``geom`` lies wholly in Vietnam: the outline every ``*-in-vietnam`` rule shares.

    The outline is the coarse box first, then, once province boundaries are loaded, their
    union: a shape that reaches out of it (a zone across the border with Laos, a route into
    Thailand) breaks the rule even when it starts inside.
    """
    minx, miny, maxx, maxy = VIETNAM_BBOX
    inside_box = conn.execute(
        sa.select(
            sa.func.ST_CoveredBy(
                geom, sa.func.ST_MakeEnvelope(minx, miny, maxx, maxy, SRID_STORAGE)
            )
        )
    ).scalar()
    if not inside_box:
        raise RuleViolation(
            f"{rule}: {what} lies outside Vietnam (longitude {minx}–{maxx}, latitude {miny}–{maxy})"
        )
    has_provinces = conn.execute(sa.select(sa.exists().where(*_current_units("province")))).scalar()
    if has_provinces:
        # Only the provinces the shape touches are merged: a union of every boundary on
        # each write would cost seconds once all 34 provinces are loaded.
        provinces = (
            sa.select(sa.func.ST_Union(_ADMIN.c.geom))
            .where(*_current_units("province"), sa.func.ST_Intersects(_ADMIN.c.geom, geom))
            .scalar_subquery()
        )
        inside = conn.execute(sa.select(sa.func.ST_CoveredBy(geom, provinces))).scalar()
        if not inside:
            raise RuleViolation(
                f"{rule}: {what} lies outside, or reaches out of, every loaded province boundary"
            )


def village_in_vietnam(
    conn: Connection, geom: ColumnElement[Any], commune_code: str | None
) -> None:
    """A village lies in Vietnam, and in its commune when commune boundaries are loaded."""
    in_vietnam(conn, geom, "village-in-vietnam", "the village point")
    if commune_code:
        commune = conn.execute(
            sa.select(_ADMIN.c.name, sa.func.ST_Intersects(_ADMIN.c.geom, geom)).where(
                *_current_units("commune"), _ADMIN.c.code == commune_code
            )
        ).first()
        if commune is not None and not commune[1]:
            raise RuleViolation(
                f"village-in-commune: the village point lies outside {commune[0]} "
                f"(commune {commune_code}); move the point or correct commune_code"
            )


def zone_in_vietnam(conn: Connection, geom: ColumnElement[Any], commune_codes: Any) -> None:
    """A material zone lies in Vietnam, and in the province of its communes when loaded.

    The province is the parent of the current communes the zone names (``commune_codes``);
    a zone that names none is held to the outline of Vietnam alone.
    """
    in_vietnam(conn, geom, "zone-in-vietnam", "the zone")
    listed = commune_codes if isinstance(commune_codes, list | tuple) else []
    codes = [c for c in listed if isinstance(c, str) and c]
    if not codes:
        return
    commune = _ADMIN.alias("commune")
    current_commune = [
        commune.c.level == "commune",
        sa.or_(commune.c.valid_to.is_(None), commune.c.valid_to >= sa.func.current_date()),
        commune.c.code.in_(codes),
    ]
    named = [
        *_current_units("province"),
        _ADMIN.c.code.in_(sa.select(commune.c.parent_code).where(*current_commune)),
    ]
    names = conn.execute(
        sa.select(_ADMIN.c.name, _ADMIN.c.code).where(*named).order_by(_ADMIN.c.code)
    ).all()
    if not names:
        return  # the communes' province has no boundary loaded
    # A zone whose communes lie in two provinces may cover both.
    inside = conn.execute(
        sa.select(
            sa.func.ST_CoveredBy(
                geom, sa.select(sa.func.ST_Union(_ADMIN.c.geom)).where(*named).scalar_subquery()
            )
        )
    ).scalar()
    if not inside:
        listed_names = ", ".join(f"{row.name} ({row.code})" for row in names)
        raise RuleViolation(
            f"zone-in-province: the zone reaches outside {listed_names}, the province of its "
            "communes; redraw the zone or correct commune_codes"
        )


def route_in_vietnam(conn: Connection, geom: ColumnElement[Any]) -> None:
    """A tourism route's line lies in Vietnam."""
    in_vietnam(conn, geom, "route-in-vietnam", "the route line")


def stop_in_vietnam(conn: Connection, geom: ColumnElement[Any]) -> None:
    """A route stop lies in Vietnam."""
    in_vietnam(conn, geom, "stop-in-vietnam", "the stop")


def zone_clear_of_exclusions(
    conn: Connection, geom: ColumnElement[Any], *, allowed: bool
) -> list[str]:
    """A material zone does not overlap an exclusion area, unless the request accepts it.

    Returns the overlapped areas (empty when none); raises when they are not accepted.
    """
    overlap = sa.func.ST_Area(sa.cast(sa.func.ST_Intersection(_REF.c.geom, geom), _geography()))
    rows = conn.execute(
        sa.select(_LAYER.c.name, _REF.c.id, overlap.label("area_m2"))
        .select_from(_REF.join(_LAYER, _LAYER.c.id == _REF.c.layer_id))
        .where(
            _LAYER.c.kind == ReferenceKind.EXCLUSION.value,
            sa.func.ST_Intersects(_REF.c.geom, geom),
            sa.not_(sa.func.ST_Touches(_REF.c.geom, geom)),
        )
        .order_by(_LAYER.c.name, _REF.c.id)
    ).all()
    found = [f"{row.name}/{row.id} ({row.area_m2 / 10_000:.2f} ha)" for row in rows]
    if found and not allowed:
        raise RuleViolation(
            "zone-clear-of-exclusions: the zone overlaps exclusion areas "
            f"{', '.join(found)}; send allow-exclusion-overlap=true to save it knowingly"
        )
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
