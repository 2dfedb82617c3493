"""(light, issue 17) Statements compiled once per shape, for reads that bind values only.

The express lane (api/express.py) runs a page, a feature or a tile as psycopg text with
bind values: building and compiling the SQLAlchemy statement per request cost more than
PostgreSQL's answer. A statement is built once with values no request carries (the
sentinels), and each bind holding one takes the request's value of that role.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.dialects import postgresql

from geo.kernel.crs import CRS84
from geo.query import features
from geo.store.catalog import Collection

_DIALECT = postgresql.psycopg.dialect()  # type: ignore[no-untyped-call]
# Values no request carries, to find where each request value binds in a compiled statement.
SENTINELS: dict[str, float] = {
    "x0": -1234.5,
    "y0": -2345.5,
    "x1": 3456.5,
    "y1": 4567.5,
    "limit": 987_653,
    "offset": 876_543,
    "id": 1_999_999_937,
}


@dataclass(frozen=True)
class Compiled:
    """A statement compiled once per shape: its text and where each request value binds."""

    text: str
    roles: tuple[tuple[str, str], ...]  # (bind name, role in SENTINELS)
    # The shape's own values (a count cap, an SRID): the same for every request.
    constants: tuple[tuple[str, Any], ...]

    def values(self, given: Mapping[str, Any]) -> dict[str, Any]:
        """The bind values of a request: its own where the sentinels were, the constants.

        A name of ``given`` that the statement binds itself (a tile's z, x, y) is set too.
        """
        bound = dict(self.constants)
        bound.update((name, given[role]) for name, role in self.roles)
        bound.update((name, value) for name, value in given.items() if name in bound)
        return bound


def compile_statement(statement: Any, *, sentinels: bool = True) -> Compiled:
    """``statement`` as psycopg's text and bind roles.

    With ``sentinels`` the statement was built with the sentinel values, and each bind that
    holds one takes the request's value of that role; without, every bind is a constant
    that the request's own values of the same names replace (a tile's z, x, y).
    """
    compiled = statement.compile(dialect=_DIALECT)
    by_value = {value: role for role, value in SENTINELS.items()}
    by_value[SENTINELS["limit"] + 1] = "limit+1"
    roles, constants = [], []
    for name, value in compiled.params.items():
        role = by_value.get(value) if sentinels and isinstance(value, int | float) else None
        if role is None:
            constants.append((name, value))
        else:
            roles.append((name, role))
    return Compiled(str(compiled), tuple(roles), tuple(constants))


def sentinel_page(collection: Collection, query: features.ItemsQuery) -> Any:
    """The page statement of ``query``'s shape, with the sentinels for its values."""
    shaped = features.ItemsQuery(
        limit=int(SENTINELS["limit"]),
        offset=int(SENTINELS["offset"]) if query.offset else 0,
        crs=CRS84,
    )
    if query.bbox is not None:
        shaped.bbox = (SENTINELS["x0"], SENTINELS["y0"], SENTINELS["x1"], SENTINELS["y1"])
        shaped.bbox_crs = CRS84
    return features.items_statement(collection, shaped, counted=True)


def sentinel_item(collection: Collection) -> Any:
    """The statement of one feature, with the sentinel for its id."""
    return features.item_statement(collection, int(SENTINELS["id"]), CRS84)
