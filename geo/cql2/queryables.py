"""What a filter may name: a public property name, its SQL expression and its JSON type."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.sql.elements import ColumnElement

QUERYABLE_TYPES = (
    "string",
    "integer",
    "number",
    "boolean",
    "date",
    "datetime",
    "array",
    "geometry",
)


@dataclass(frozen=True)
class Queryable:
    """A property a filter may name: its SQL expression and JSON type.

    ``type`` is one of `QUERYABLE_TYPES`; arrays are PostgreSQL ``text[]``.
    """

    name: str
    column: ColumnElement[Any]
    type: str
