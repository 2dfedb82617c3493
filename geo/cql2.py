"""CQL2 filters (OGC API – Features Part 3) translated to SQL that PostGIS evaluates.

The ``cql2`` package parses cql2-text and cql2-json into canonical cql2-json; this module
walks that tree and builds a SQLAlchemy expression with bound parameters, so filters run on
the server with the table's indexes and never in Python over all rows.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import cql2 as cql2_parser
import sqlalchemy as sa
from geoalchemy2 import Geography
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.sql.elements import ColumnElement

from geo.crs import SRID_STORAGE
from geo.errors import InvalidFilter

LANGUAGES = ("cql2-text", "cql2-json")
_UNITS_M = {
    "meters": 1.0,
    "metres": 1.0,
    "m": 1.0,
    "kilometers": 1000.0,
    "kilometres": 1000.0,
    "km": 1000.0,
}


@dataclass(frozen=True)
class Queryable:
    """A property a filter may name: its SQL expression and JSON type."""

    name: str
    column: ColumnElement[Any]
    type: str  # string, integer, number, boolean, date, datetime, array, geometry


def parse_filter(text: str, lang: str = "cql2-text") -> dict[str, Any]:
    """Parse a filter into canonical cql2-json.

    Raises
    ------
    InvalidFilter
        For an unknown language or a filter that does not parse.
    """
    if lang not in LANGUAGES:
        raise InvalidFilter(f"filter-lang must be one of {', '.join(LANGUAGES)}, got {lang!r}")
    try:
        source: Any = text
        if lang == "cql2-json":
            source = json.loads(text)
            if not isinstance(source, dict):
                raise InvalidFilter("a cql2-json filter must be a JSON object")
        parsed = cql2_parser.Expr(source).to_json()
    except InvalidFilter:
        raise
    except (ValueError, TypeError) as exc:
        raise InvalidFilter(f"the {lang} filter does not parse: {exc}") from exc
    except Exception as exc:  # the parser's own error types vary between versions
        raise InvalidFilter(f"the {lang} filter does not parse: {exc}") from exc
    if not isinstance(parsed, dict):
        raise InvalidFilter("a filter must be a boolean expression")
    return parsed


class _Translator:
    def __init__(
        self, queryables: Mapping[str, Queryable], filter_srid: int, swap_axes: bool
    ) -> None:
        self.queryables = queryables
        self.filter_srid = filter_srid
        self.swap_axes = swap_axes

    # -- entry ---------------------------------------------------------------------------------
    def boolean(self, node: Any) -> ColumnElement[bool]:
        if isinstance(node, bool):
            return sa.true() if node else sa.false()
        if not isinstance(node, dict) or "op" not in node:
            raise InvalidFilter(
                f"expected a condition, got {json.dumps(node, ensure_ascii=False)[:80]}"
            )
        op = str(node["op"]).lower()
        args = node.get("args")
        if not isinstance(args, list):
            raise InvalidFilter(f"operator {op} needs a list of arguments")
        handler = self._handlers().get(op)
        if handler is None:
            raise InvalidFilter(f"unsupported operator {op!r}")
        return handler(op, args)

    def _handlers(self) -> dict[str, Callable[[str, list[Any]], ColumnElement[bool]]]:
        spatial = {f"s_{name}": self._spatial for name in _SPATIAL}
        temporal = {f"t_{name}": self._temporal for name in _TEMPORAL}
        arrays = dict.fromkeys(_ARRAY, self._array)
        return {
            "and": self._and_or,
            "or": self._and_or,
            "not": self._not,
            "=": self._compare,
            "<>": self._compare,
            "<": self._compare,
            "<=": self._compare,
            ">": self._compare,
            ">=": self._compare,
            "like": self._like,
            "between": self._between,
            "in": self._in,
            "isnull": self._is_null,
            "s_dwithin": self._dwithin,
            **spatial,
            **temporal,
            **arrays,
        }

    # -- logic ---------------------------------------------------------------------------------
    def _and_or(self, op: str, args: list[Any]) -> ColumnElement[bool]:
        if len(args) < 2:
            raise InvalidFilter(f"{op.upper()} needs at least two conditions")
        parts = [self.boolean(a) for a in args]
        return sa.and_(*parts) if op == "and" else sa.or_(*parts)

    def _not(self, op: str, args: list[Any]) -> ColumnElement[bool]:
        self._arity(op, args, 1)
        return sa.not_(self.boolean(args[0]))

    # -- values --------------------------------------------------------------------------------
    def _property(self, node: Any) -> Queryable | None:
        if isinstance(node, dict) and set(node) == {"property"}:
            name = node["property"]
            found = self.queryables.get(str(name))
            if found is None:
                known = ", ".join(sorted(self.queryables))
                raise InvalidFilter(f"unknown property {name!r}; queryables are: {known}")
            return found
        return None

    def _text_operand(self, node: Any) -> tuple[ColumnElement[Any], str | None]:
        """A scalar operand and, for a property, its type; CASEI/ACCENTI fold it."""
        if isinstance(node, dict) and str(node.get("op", "")).lower() in {"casei", "accenti"}:
            inner = node.get("args")
            if not isinstance(inner, list) or len(inner) != 1:
                raise InvalidFilter(f"{node['op'].upper()} takes one argument")
            value, kind = self._text_operand(inner[0])
            if kind not in {None, "string"}:
                raise InvalidFilter(f"{node['op'].upper()} applies to text, not {kind}")
            folded: ColumnElement[Any] = (
                sa.func.craftmap_fold(value)
                if str(node["op"]).lower() == "accenti"
                else sa.func.lower(value)
            )
            return folded, "string"
        prop = self._property(node)
        if prop is not None:
            if prop.type == "geometry":
                raise InvalidFilter(
                    f"{prop.name} is a geometry; compare it with a spatial function"
                )
            return prop.column, prop.type
        return sa.literal(self._literal(node, None)), None

    def _literal(self, node: Any, expected: str | None) -> Any:
        if isinstance(node, dict):
            if "date" in node:
                return self._date(node["date"])
            if "timestamp" in node:
                return self._timestamp(node["timestamp"])
            raise InvalidFilter(f"unexpected value {json.dumps(node, ensure_ascii=False)[:80]}")
        if isinstance(node, list):
            raise InvalidFilter("a list is only allowed after IN or in array functions")
        if expected in {"integer", "number"} and (
            isinstance(node, bool) or not isinstance(node, int | float)
        ):
            raise InvalidFilter(f"expected a number, got {node!r}")
        if expected == "string" and not isinstance(node, str):
            raise InvalidFilter(f"expected text, got {node!r}")
        if expected == "boolean" and not isinstance(node, bool):
            raise InvalidFilter(f"expected true or false, got {node!r}")
        if expected in {"date", "datetime"}:
            if isinstance(node, str):
                return self._date(node) if expected == "date" else self._timestamp(node)
            raise InvalidFilter(f"expected a DATE or TIMESTAMP, got {node!r}")
        return node

    @staticmethod
    def _date(text: Any) -> dt.date:
        try:
            return dt.date.fromisoformat(str(text))
        except ValueError as exc:
            raise InvalidFilter(f"{text!r} is not a date (YYYY-MM-DD)") from exc

    @staticmethod
    def _timestamp(text: Any) -> dt.datetime:
        try:
            return dt.datetime.fromisoformat(str(text).replace("Z", "+00:00"))
        except ValueError as exc:
            raise InvalidFilter(f"{text!r} is not a timestamp (RFC 3339)") from exc

    def _typed_pair(self, op: str, args: list[Any]) -> tuple[ColumnElement[Any], Any]:
        self._arity(op, args, 2)
        left, left_type = self._text_operand(args[0])
        right_prop = self._property(args[1]) if isinstance(args[1], dict) else None
        if right_prop is not None or (isinstance(args[1], dict) and "op" in args[1]):
            right, right_type = self._text_operand(args[1])
            if left_type and right_type and _family(left_type) != _family(right_type):
                raise InvalidFilter(f"cannot compare {left_type} with {right_type} in {op}")
            return left, right
        value = self._literal(args[1], left_type)
        if (
            left_type is not None
            and _family(left_type) == "text"
            and isinstance(left, sa.ColumnElement)
        ):
            if isinstance(args[0], dict) and str(args[0].get("op", "")).lower() == "accenti":
                return left, sa.func.craftmap_fold(sa.literal(value))
            if isinstance(args[0], dict) and str(args[0].get("op", "")).lower() == "casei":
                return left, sa.func.lower(sa.literal(value))
        if left_type == "array":
            raise InvalidFilter(
                "compare arrays with A_EQUALS, A_CONTAINS, A_CONTAINEDBY or A_OVERLAPS"
            )
        return left, value

    def _compare(self, op: str, args: list[Any]) -> ColumnElement[bool]:
        left, right = self._typed_pair(op, args)
        operators: dict[str, Callable[[Any, Any], ColumnElement[bool]]] = {
            "=": lambda a, b: a == b,
            "<>": lambda a, b: a != b,
            "<": lambda a, b: a < b,
            "<=": lambda a, b: a <= b,
            ">": lambda a, b: a > b,
            ">=": lambda a, b: a >= b,
        }
        return operators[op](left, right)

    def _like(self, op: str, args: list[Any]) -> ColumnElement[bool]:
        self._arity(op, args, 2)
        left, left_type = self._text_operand(args[0])
        if left_type not in {None, "string"}:
            raise InvalidFilter(f"LIKE applies to text properties, not {left_type}")
        pattern_node = args[1]
        if isinstance(pattern_node, dict) and str(pattern_node.get("op", "")).lower() in {
            "casei",
            "accenti",
        }:
            pattern, _ = self._text_operand(pattern_node)
        elif isinstance(pattern_node, str):
            pattern = sa.literal(pattern_node)
        else:
            raise InvalidFilter("the LIKE pattern must be text")
        return left.like(pattern)

    def _between(self, op: str, args: list[Any]) -> ColumnElement[bool]:
        self._arity(op, args, 3)
        left, left_type = self._text_operand(args[0])
        if left_type not in {None, "integer", "number", "date", "datetime"}:
            raise InvalidFilter(f"BETWEEN applies to numbers and dates, not {left_type}")
        low = self._literal(args[1], left_type)
        high = self._literal(args[2], left_type)
        return left.between(low, high)

    def _in(self, op: str, args: list[Any]) -> ColumnElement[bool]:
        self._arity(op, args, 2)
        left, left_type = self._text_operand(args[0])
        if not isinstance(args[1], list) or not args[1]:
            raise InvalidFilter("IN needs a non-empty list of values")
        values = [self._literal(v, left_type) for v in args[1]]
        return left.in_(values)

    def _is_null(self, op: str, args: list[Any]) -> ColumnElement[bool]:
        self._arity(op, args, 1)
        prop = self._property(args[0])
        if prop is None:
            raise InvalidFilter("IS NULL applies to a property")
        return prop.column.is_(None)

    # -- space -----------------------------------------------------------------------------------
    def _geometry(self, node: Any) -> ColumnElement[Any]:
        prop = self._property(node)
        if prop is not None:
            if prop.type != "geometry":
                raise InvalidFilter(f"{prop.name} is not a geometry")
            return prop.column
        if isinstance(node, dict) and "bbox" in node:
            box = node["bbox"]
            if (
                not isinstance(box, list)
                or len(box) not in {4, 6}
                or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in box)
            ):
                raise InvalidFilter("BBOX needs 4 or 6 numbers")
            if len(box) == 6:
                box = [box[0], box[1], box[3], box[4]]
            literal: ColumnElement[Any] = sa.func.ST_MakeEnvelope(*box, self.filter_srid)
        elif isinstance(node, dict) and "type" in node:
            literal = sa.func.ST_SetSRID(
                sa.func.ST_GeomFromGeoJSON(json.dumps(node)), self.filter_srid
            )
        else:
            raise InvalidFilter(
                f"expected a geometry, got {json.dumps(node, ensure_ascii=False)[:80]}"
            )
        if self.swap_axes:
            literal = sa.func.ST_FlipCoordinates(literal)
        if self.filter_srid != SRID_STORAGE:
            literal = sa.func.ST_Transform(literal, SRID_STORAGE)
        return literal

    def _spatial(self, op: str, args: list[Any]) -> ColumnElement[bool]:
        self._arity(op, args, 2)
        first, second = self._geometry(args[0]), self._geometry(args[1])
        function = getattr(sa.func, f"ST_{_SPATIAL[op[2:]]}")
        result: ColumnElement[bool] = function(first, second)
        return result

    def _dwithin(self, op: str, args: list[Any]) -> ColumnElement[bool]:
        if len(args) not in {3, 4}:
            raise InvalidFilter(
                "S_DWITHIN takes a geometry, a geometry, a distance and optional units"
            )
        first, second = self._geometry(args[0]), self._geometry(args[1])
        distance = args[2]
        if isinstance(distance, bool) or not isinstance(distance, int | float) or distance < 0:
            raise InvalidFilter("the S_DWITHIN distance must be a non-negative number")
        units = "meters"
        if len(args) == 4:
            unit_node = args[3]
            units = str(
                unit_node["property"]
                if isinstance(unit_node, dict) and "property" in unit_node
                else unit_node
            )
        factor = _UNITS_M.get(units.lower())
        if factor is None:
            raise InvalidFilter(
                f"S_DWITHIN units must be one of {', '.join(_UNITS_M)}, got {units!r}"
            )
        geography = Geography(srid=SRID_STORAGE)
        # Metres on the spheroid, whatever the CRS of the literal.
        result: ColumnElement[bool] = sa.func.ST_DWithin(
            sa.cast(first, geography), sa.cast(second, geography), float(distance) * factor
        )
        return result

    # -- time ------------------------------------------------------------------------------------
    def _interval(self, node: Any, prop_type: str | None) -> tuple[Any, Any]:
        if isinstance(node, dict) and "interval" in node:
            bounds = node["interval"]
            if not isinstance(bounds, list) or len(bounds) != 2:
                raise InvalidFilter("INTERVAL needs a start and an end")
            return tuple(  # type: ignore[return-value]
                None if b == ".." else self._literal(b if not isinstance(b, str) else b, prop_type)
                for b in bounds
            )
        value = self._literal(node, prop_type)
        return value, value

    def _temporal(self, op: str, args: list[Any]) -> ColumnElement[bool]:
        self._arity(op, args, 2)
        prop = self._property(args[0])
        if prop is None or prop.type not in {"date", "datetime"}:
            raise InvalidFilter(f"{op.upper()} applies to a date or date-time property")
        start, end = self._interval(args[1], prop.type)
        column = prop.column
        name = op[2:]
        if name == "before":
            return column < start if start is not None else sa.false()
        if name == "after":
            return column > end if end is not None else sa.false()
        if name == "equals":
            return sa.and_(column >= start, column <= end) if start == end else sa.false()
        conditions = []
        if start is not None:
            conditions.append(column >= start if name == "intersects" else column > start)
        if end is not None:
            conditions.append(column <= end if name == "intersects" else column < end)
        return sa.and_(column.is_not(None), *conditions)

    # -- arrays ----------------------------------------------------------------------------------
    def _array(self, op: str, args: list[Any]) -> ColumnElement[bool]:
        self._arity(op, args, 2)
        prop = self._property(args[0])
        if prop is None or prop.type != "array":
            raise InvalidFilter(f"{op.upper()} applies to a list property")
        values = args[1]
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise InvalidFilter(f"{op.upper()} needs a list of text values")
        literal = sa.cast(sa.literal(values, ARRAY(sa.Text)), ARRAY(sa.Text))
        column = prop.column
        if op == "a_contains":
            return column.op("@>")(literal)
        if op == "a_containedby":
            return column.op("<@")(literal)
        if op == "a_overlaps":
            return column.op("&&")(literal)
        return column == literal

    @staticmethod
    def _arity(op: str, args: list[Any], count: int) -> None:
        if len(args) != count:
            raise InvalidFilter(f"{op.upper()} takes {count} argument{'s' if count > 1 else ''}")


_SPATIAL = {
    "intersects": "Intersects",
    "disjoint": "Disjoint",
    "equals": "Equals",
    "touches": "Touches",
    "within": "Within",
    "overlaps": "Overlaps",
    "crosses": "Crosses",
    "contains": "Contains",
}
_TEMPORAL = ("before", "after", "equals", "during", "intersects")
_ARRAY = ("a_contains", "a_containedby", "a_overlaps", "a_equals")


def _family(kind: str) -> str:
    return {"integer": "number", "number": "number", "string": "text"}.get(kind, kind)


def filter_to_sql(
    expr: dict[str, Any],
    queryables: Mapping[str, Queryable],
    *,
    filter_srid: int = SRID_STORAGE,
    swap_axes: bool = False,
) -> ColumnElement[bool]:
    """Translate canonical cql2-json into a SQL condition.

    Parameters
    ----------
    expr
        The filter, as `parse_filter` returns it.
    queryables
        What the filter may name; the geometry is the queryable called ``geometry``.
    filter_srid
        EPSG code of the filter's geometry literals (CRS84 is 4326, longitude first).
    swap_axes
        True when the literals are latitude first (EPSG:4326 proper, VN-2000 geographic).

    Raises
    ------
    InvalidFilter
        Naming the unknown property, the unsupported operator or the mistyped value.
    """
    try:
        return _Translator(queryables, filter_srid, swap_axes).boolean(expr)
    except InvalidFilter:
        raise
    except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
        raise InvalidFilter(f"the filter is not well formed: {exc}") from exc
