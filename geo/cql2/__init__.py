"""CQL2 filters (OGC API – Features Part 3) translated to SQL that PostGIS evaluates.

The ``cql2`` package parses cql2-text and cql2-json into canonical cql2-json; this package
walks that tree and builds a SQLAlchemy Core condition whose values are all bound
parameters, so filters run on the server with the table's indexes and never in Python over
all rows. Every mistake a client can make comes back as `InvalidFilter` naming what is
wrong; nothing a client sends reaches the database unchecked, so a filter that translates
also executes.

Its modules, each importing only those below it (the ``cql2-modules`` contract in
pyproject.toml):

- `parse`: text or JSON to canonical cql2-json (`parse_filter`), through the guards;
  `sql`: the translator that combines the operator families (`filter_to_sql`).
- `comparison`, `spatial`, `temporal`, `arrays`: one operator family each.
- `walk`: what the families share (nesting depth, dispatch, AND/OR/NOT, operands).
- `guards`: the limits that keep the parser alive, measured by
  tests/geo/cql2_thresholds.py, and the checks against them.
- `queryables` (what a filter may name) and `values` (how values are read and shown).

Other code imports from `geo.cql2` only: what it may use is re-exported here.
"""

from geo.cql2.guards import (
    MAX_DEPTH,
    MAX_FILTER_LENGTH,
    MAX_GEOMETRY_COORDINATES,
    MAX_JSON_DEPTH,
    MAX_LIST_ITEMS,
    MAX_LOGICAL_OPERATORS,
    MAX_NUMBER_LENGTH,
    MAX_OPERATORS,
    MAX_PARENTHESES,
    MAX_PARSE_WORK,
    MAX_PREFIX_OPERATORS,
    MAX_STRING_LENGTH,
)
from geo.cql2.parse import LANGUAGES, parse_filter
from geo.cql2.queryables import QUERYABLE_TYPES, Queryable
from geo.cql2.sql import filter_to_sql

__all__ = [
    "LANGUAGES",
    "MAX_DEPTH",
    "MAX_FILTER_LENGTH",
    "MAX_GEOMETRY_COORDINATES",
    "MAX_JSON_DEPTH",
    "MAX_LIST_ITEMS",
    "MAX_LOGICAL_OPERATORS",
    "MAX_NUMBER_LENGTH",
    "MAX_OPERATORS",
    "MAX_PARENTHESES",
    "MAX_PARSE_WORK",
    "MAX_PREFIX_OPERATORS",
    "MAX_STRING_LENGTH",
    "QUERYABLE_TYPES",
    "Queryable",
    "filter_to_sql",
    "parse_filter",
]
