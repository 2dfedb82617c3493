"""Values in a filter: how messages show them, how they are read and bound, and type names.

The bottom of geo.cql2: the guards, the parser and every translator use these, and this
module imports no other part of geo.cql2.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement

from geo.kernel.errors import InvalidFilter
from geo.kernel.numbers import is_finite_number

_GEOJSON_TYPES = (
    "Point",
    "MultiPoint",
    "LineString",
    "MultiLineString",
    "Polygon",
    "MultiPolygon",
    "GeometryCollection",
)
_WKT_TYPES = {t.upper() for t in _GEOJSON_TYPES} | {"BBOX", "ENVELOPE"}
_NAMES = {
    "integer": "an integer",
    "number": "a number",
    "string": "a string",
    "boolean": "a boolean",
    "date": "a date",
    "datetime": "a date-time",
    "array": "an array",
    "geometry": "a geometry",
    "null": "NULL",
    "list": "a list",
    "interval": "an interval",
}
_EXPECTED = {
    "number": "a number",
    "string": "a text value in quotes",
    "boolean": "true or false",
    "temporal": "DATE('YYYY-MM-DD') or TIMESTAMP('YYYY-MM-DDThh:mm:ssZ')",
}
_NO_FOLD, _CASEI, _ACCENTI = 0, 1, 2
_SURROGATE = re.compile("[\ud800-\udfff]")


@dataclass(frozen=True)
class _Operand:
    """One side of a comparison: a property (or a function of one) or a literal.

    Literals stay Python values until the other side says what SQL type to bind them as,
    so that ``recognition_date > '2020-01-01'`` binds a date and ``kind = 'x'`` binds text
    rather than the column's enum type (which would raise on an unknown value).
    """

    label: str
    kind: str
    column: ColumnElement[Any] | None = None
    value: Any = None
    fold: int = _NO_FOLD


# One rule for numbers in bodies and filters (geo.kernel.numbers).
_finite = is_finite_number


def _show(node: Any) -> str:
    """A value as a client wrote it, shortened for messages."""
    if isinstance(node, bool):
        return "true" if node else "false"
    if node is None:
        return "NULL"
    if isinstance(node, float) and node.is_integer() and abs(node) < 1e15:
        return str(int(node))
    if isinstance(node, int | float):
        if not _finite(node):
            return repr(node) if isinstance(node, float) else "a number beyond double range"
        return repr(node) if abs(node) < 1e15 else f"{float(node):.6g}"
    if isinstance(node, str):
        shown = node if len(node) <= 60 else node[:57] + "..."
        return "'" + shown.replace("'", "''") + "'"
    if isinstance(node, dict) and len(node) == 1:
        key, value = next(iter(node.items()))
        if key in {"date", "timestamp"} and isinstance(value, str):
            return f"{key.upper()}({_show(value)})"
        if key == "property" and isinstance(value, str):
            return f"property {value!r}"
    try:
        text = json.dumps(node, ensure_ascii=False, allow_nan=True)
    except (TypeError, ValueError):
        text = f"a {type(node).__name__}"
    return text if len(text) <= 80 else text[:77] + "..."


def _parse_date(text: Any, shown: str) -> dt.date:
    if isinstance(text, str):
        try:
            return dt.date.fromisoformat(text)
        except ValueError:
            pass
    raise InvalidFilter(f"{shown} is not a date: expected DATE('YYYY-MM-DD')")


def _parse_timestamp(text: Any, shown: str) -> dt.datetime:
    if isinstance(text, str):
        try:
            return dt.datetime.fromisoformat(text.replace("z", "Z"))
        except ValueError:
            pass
    raise InvalidFilter(f"{shown} is not a timestamp: expected TIMESTAMP('YYYY-MM-DDThh:mm:ssZ')")


def _parse_instant(text: str, shown: str) -> dt.date | dt.datetime:
    """An ISO 8601 date or timestamp, as GDAL and the property parameters send them."""
    if len(text) == 10:
        return _parse_date(text, shown)
    try:
        return _parse_timestamp(text, shown)
    except InvalidFilter:
        raise InvalidFilter(
            f"{shown} is not a date or timestamp: expected {_EXPECTED['temporal']}"
        ) from None


def _bind_instant(value: dt.date | dt.datetime) -> ColumnElement[Any]:
    if isinstance(value, dt.datetime):
        return sa.literal(value, sa.DateTime(timezone=value.tzinfo is not None))
    return sa.literal(value, sa.Date())
