"""PostGIS statements of craftmap. Every PostGIS-specific query lives here or in geo/sql/."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session
from sqlalchemy.sql.selectable import ScalarSelect

from geo.store import models


def stops_line(route_id: int) -> ScalarSelect[Any]:
    """A route's stops joined in order (NULL with fewer than two stops)."""
    stop = models.table_of(models.RouteStop)
    return (
        sa.select(sa.func.ST_MakeLine(aggregate_order_by(stop.c.geom, stop.c.seq)))
        .where(stop.c.route_id == route_id)
        .having(sa.func.count() >= 2)
        .scalar_subquery()
    )


def draw_route_line_from_stops(conn: Connection | Session, route_id: int) -> None:
    """Set a route's line to its stops joined in order (NULL with fewer than two stops)."""
    route = models.table_of(models.TourismRoute)
    line = stops_line(route_id)
    conn.execute(
        sa.update(route)
        .where(route.c.id == route_id, route.c.geom.is_distinct_from(line))
        .values(geom=line)
    )


def collection_counts(conn: Connection | Session) -> dict[str, int]:
    """Number of features in each core collection and each reference layer."""
    from geo.store import catalog

    parts = [
        sa.select(sa.literal(info.id).label("id"), sa.func.count().label("n")).select_from(
            info.table
        )
        for info in catalog.CORE
    ]
    counts = {row.id: int(row.n) for row in conn.execute(sa.union_all(*parts)).all()}
    layer = models.table_of(models.ReferenceLayer)
    feature = models.table_of(models.ReferenceFeature)
    layer_counts = conn.execute(
        sa.select(layer.c.name, sa.func.count(feature.c.id))
        .select_from(layer.outerjoin(feature, feature.c.layer_id == layer.c.id))
        .group_by(layer.c.name)
        .order_by(layer.c.name)
    ).all()
    counts.update({name: int(n) for name, n in layer_counts})
    return counts
