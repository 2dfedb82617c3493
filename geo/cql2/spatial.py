"""Spatial functions: S_INTERSECTS and the other predicates, S_DWITHIN, geometry literals."""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

import numpy as np
import shapely
import sqlalchemy as sa
from geoalchemy2 import Geography
from pyproj import Transformer
from pyproj.exceptions import CRSError
from sqlalchemy.sql.elements import ColumnElement

from geo.cql2.values import _GEOJSON_TYPES, _NAMES, _finite, _show
from geo.cql2.walk import Walker
from geo.kernel.crs import SRID_STORAGE
from geo.kernel.errors import InvalidFilter

_UNITS_M = {
    "meters": 1.0,
    "metres": 1.0,
    "m": 1.0,
    "kilometers": 1000.0,
    "kilometres": 1000.0,
    "km": 1000.0,
}
_SPATIAL = {
    "s_intersects": "ST_Intersects",
    "s_disjoint": "ST_Disjoint",
    "s_equals": "ST_Equals",
    "s_touches": "ST_Touches",
    "s_within": "ST_Within",
    "s_overlaps": "ST_Overlaps",
    "s_crosses": "ST_Crosses",
    "s_contains": "ST_Contains",
}
# Conservative metres per degree: less than a degree of latitude anywhere (110 574 m at
# the equator) and less than a degree of longitude at the equator (111 320 m).
_METRES_PER_DEGREE = 110_000.0


def _coordinates_text(x: float, y: float) -> str:
    return f"({x:g} {y:g})"


@lru_cache(maxsize=32)
def _to_storage(srid: int) -> Transformer:
    return Transformer.from_crs(srid, SRID_STORAGE, always_xy=True)


class Spatial(Walker):
    """The spatial functions of a `Walker`; literals are read in its filter CRS."""

    def _geometry(self, op: str, node: Any) -> tuple[ColumnElement[Any], bool]:
        """A geometry in storage coordinates, and whether it is a literal."""
        operand = self._scalar(node)
        if operand.column is not None and operand.kind == "geometry" and not operand.fold:
            return operand.column, False
        if operand.column is None and operand.kind == "geometry":
            return self._geometry_literal(operand.value), True
        raise InvalidFilter(
            f"{op.upper()} needs geometries: {operand.label} is "
            f"{_NAMES.get(operand.kind, operand.kind)}, not a geometry"
        )

    def _geometry_literal(self, node: dict[str, Any]) -> ColumnElement[Any]:
        shape: shapely.Geometry
        if "type" in node:
            kind = node["type"]
            if kind not in _GEOJSON_TYPES:
                raise InvalidFilter(
                    f"{_show(kind)} is not a geometry type; expected one of "
                    f"{', '.join(_GEOJSON_TYPES)}"
                )
            try:
                shape = shapely.from_geojson(json.dumps(node, allow_nan=False))
            except (TypeError, ValueError, shapely.errors.GEOSException) as exc:
                raise InvalidFilter(f"the {kind} literal is not valid GeoJSON: {exc}") from exc
            if shape.is_empty:
                raise InvalidFilter(f"the {kind} literal is empty")
            if not shapely.is_valid(shape):
                reason = shapely.is_valid_reason(shape)
                raise InvalidFilter(f"the {kind} literal is not a valid geometry: {reason}")
            # Re-written from the checked shape, so that members PostGIS would read but
            # shapely ignores (a "crs", say) never reach the database.
            geojson = shapely.to_geojson(shape)
            literal: ColumnElement[Any] = sa.func.ST_SetSRID(
                sa.func.ST_GeomFromGeoJSON(sa.literal(geojson, sa.Text())), self.filter_srid
            )
        else:
            box = node["bbox"]
            if (
                not isinstance(box, list)
                or len(box) not in {4, 6}
                or not all(_finite(v) for v in box)
            ):
                raise InvalidFilter(f"BBOX needs 4 or 6 finite numbers, got {_show(box)}")
            # The 3D form is (minx, miny, minz, maxx, maxy, maxz); filters are 2D.
            x1, y1, x2, y2 = (box[0], box[1], box[3], box[4]) if len(box) == 6 else box
            if x1 > x2 or y1 > y2:
                raise InvalidFilter(
                    f"BBOX{tuple(box)} must list the lower corner first (a box across the "
                    "antimeridian is not supported)"
                )
            shape = shapely.box(x1, y1, x2, y2)
            literal = sa.func.ST_MakeEnvelope(
                float(x1), float(y1), float(x2), float(y2), self.filter_srid
            )
        self._check_coordinates(shape)
        if self.swap_axes:
            literal = sa.func.ST_FlipCoordinates(literal)
        if self.filter_srid != SRID_STORAGE:
            xmin, ymin, xmax, ymax = shapely.bounds(shape).tolist()
            extent = max(xmax - xmin, ymax - ymin)
            if extent > 0:
                # Straight edges in the literal's CRS are curves in storage coordinates.
                literal = sa.func.ST_Segmentize(literal, extent / 16)
            literal = sa.func.ST_Transform(literal, SRID_STORAGE)
        return literal

    def _check_coordinates(self, shape: shapely.Geometry) -> None:
        """Refuse coordinates PostGIS could not transform, in terms the client can fix."""
        xy = shapely.get_coordinates(shape)
        if self.swap_axes:
            xy = xy[:, ::-1]
        if len(xy) == 0:
            return
        if self.filter_srid == SRID_STORAGE:
            lon, lat = xy[:, 0], xy[:, 1]
        else:
            try:
                transformer = _to_storage(self.filter_srid)
            except CRSError as exc:
                raise InvalidFilter(f"unknown filter CRS EPSG:{self.filter_srid}") from exc
            lon, lat = transformer.transform(xy[:, 0], xy[:, 1], errcheck=False)
        bad = ~(np.isfinite(lon) & np.isfinite(lat) & (np.abs(lon) <= 180) & (np.abs(lat) <= 90))
        if bad.any():
            x, y = xy[bad.argmax()].tolist()
            given = _coordinates_text(*((y, x) if self.swap_axes else (x, y)))
            if self.filter_srid != SRID_STORAGE:
                raise InvalidFilter(f"the coordinates {given} lie outside EPSG:{self.filter_srid}")
            order = "latitude first" if self.swap_axes else "longitude first"
            raise InvalidFilter(
                f"the coordinates {given} are not a longitude/latitude pair "
                f"(this filter CRS writes {order})"
            )

    def _spatial(self, op: str, args: list[Any]) -> ColumnElement[bool]:
        self._arity(op, args, 2)
        (first, _), (second, _) = self._geometry(op, args[0]), self._geometry(op, args[1])
        # The ST_ predicates inline to `geom && literal AND _ST_...(...)`, so the GiST
        # index on the column narrows the rows before the exact test.
        result: ColumnElement[bool] = getattr(sa.func, _SPATIAL[op])(first, second)
        return result

    def _dwithin(self, op: str, args: list[Any]) -> ColumnElement[bool]:
        self._arity(op, args, 3, 4)
        (first, first_literal), (second, second_literal) = (
            self._geometry(op, args[0]),
            self._geometry(op, args[1]),
        )
        distance = args[2]
        if not _finite(distance) or distance < 0:
            raise InvalidFilter(
                f"the S_DWITHIN distance must be a non-negative number, got {_show(distance)}"
            )
        units = "meters"
        if len(args) == 4:
            # cql2-text units are bare words, which the parser reads as property names.
            unit_node = args[3]
            if isinstance(unit_node, dict) and isinstance(unit_node.get("property"), str):
                units = unit_node["property"]
            elif isinstance(unit_node, str):
                units = unit_node
            else:
                units = _show(unit_node)
        factor = _UNITS_M.get(units.lower())
        if factor is None:
            raise InvalidFilter(
                f"S_DWITHIN units must be one of {', '.join(_UNITS_M)}, got {units!r}"
            )
        metres = float(distance) * factor
        geography = Geography(srid=SRID_STORAGE)
        within: ColumnElement[bool] = sa.func.ST_DWithin(
            sa.cast(first, geography), sa.cast(second, geography), metres
        )
        if first_literal == second_literal:
            return within
        column, literal = (second, first) if first_literal else (first, second)
        box = self._reach(literal, metres)
        overlaps = column.op("&&", is_comparison=True)
        # The copies a turn east and west catch circles that cross the antimeridian.
        near = sa.or_(
            overlaps(box),
            overlaps(sa.func.ST_Translate(box, 360.0, 0.0)),
            overlaps(sa.func.ST_Translate(box, -360.0, 0.0)),
        )
        return sa.and_(near, within)

    @staticmethod
    def _reach(literal: ColumnElement[Any], metres: float) -> ColumnElement[Any]:
        """A box in degrees that holds every point within ``metres`` of ``literal``.

        The geography cast in ST_DWithin cannot use the geometry column's GiST index; this
        box lets `&&` use it. It is deliberately loose (the exact test follows): degrees
        of longitude shrink with the cosine of the farthest latitude reached, and a circle
        that comes near a pole takes every longitude.
        """
        dy: ColumnElement[float] = sa.literal(metres / _METRES_PER_DEGREE, sa.Double())
        reach = (
            sa.func.greatest(
                sa.func.abs(sa.func.ST_YMin(literal)), sa.func.abs(sa.func.ST_YMax(literal))
            )
            + dy
        )
        cosine: ColumnElement[float] = sa.func.cos(sa.func.radians(reach), type_=sa.Double())
        dx = sa.case((reach >= 89.0, sa.literal(360.0, sa.Double())), else_=dy / cosine)
        expanded: ColumnElement[Any] = sa.func.ST_Expand(literal, dx, dy)
        return expanded
