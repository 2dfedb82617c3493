"""SQL assembly: one translator made of every operator family, and `filter_to_sql`.

The translation builds a SQLAlchemy Core condition whose values are all bound parameters;
the families it combines never import one another.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.sql.elements import ColumnElement

from geo.cql2.arrays import _ARRAY, Arrays
from geo.cql2.comparison import _COMPARISONS, Comparisons
from geo.cql2.queryables import Queryable
from geo.cql2.spatial import _SPATIAL, Spatial
from geo.cql2.temporal import _TEMPORAL, Temporal
from geo.kernel.crs import SRID_STORAGE


class _Translator(Comparisons, Spatial, Temporal, Arrays):
    """Walks one canonical cql2-json tree; every method raises only `InvalidFilter`."""

    def __init__(
        self, queryables: Mapping[str, Queryable], filter_srid: int, swap_axes: bool
    ) -> None:
        super().__init__(queryables, filter_srid, swap_axes)
        self.handlers = {
            "and": self._and_or,
            "or": self._and_or,
            "not": self._not,
            **dict.fromkeys(_COMPARISONS, self._compare),
            "like": self._like,
            "between": self._between,
            "in": self._in,
            "isnull": self._is_null,
            **dict.fromkeys(_SPATIAL, self._spatial),
            "s_dwithin": self._dwithin,
            **dict.fromkeys(_TEMPORAL, self._temporal),
            **dict.fromkeys(_ARRAY, self._array),
        }


def filter_to_sql(
    expr: dict[str, Any],
    queryables: Mapping[str, Queryable],
    *,
    filter_srid: int = SRID_STORAGE,
    swap_axes: bool = False,
) -> ColumnElement[bool]:
    """Translate canonical cql2-json into a SQL condition with bound parameters.

    Parameters
    ----------
    expr
        The filter, as `parse_filter` returns it.
    queryables
        What the filter may name, by public name; the geometry is the queryable of type
        ``"geometry"`` (named ``geometry``).
    filter_srid
        EPSG code of the filter's geometry literals (CRS84 is 4326, longitude first).
    swap_axes
        True when the literals are latitude (northing) first, as EPSG:4326 proper and
        VN-2000 geographic are; they are flipped before being transformed to storage.

    Returns
    -------
    ColumnElement[bool]
        A condition for the WHERE clause of a query over the queryables' table.

    Raises
    ------
    InvalidFilter
        Naming the unknown property (and the known ones), the unsupported operator, or
        the mistyped value and the type the property needs.

    Examples
    --------
    >>> import sqlalchemy as sa
    >>> from geo.cql2 import parse_filter
    >>> table = sa.table("village", sa.column("households", sa.Integer))
    >>> known = {"households": Queryable("households", table.c.households, "integer")}
    >>> print(filter_to_sql(parse_filter("households >= 100"), known))
    village.households >= :param_1
    """
    return _Translator(queryables, filter_srid, swap_axes).condition(expr)
