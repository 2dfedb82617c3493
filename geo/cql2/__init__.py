"""CQL2 filters (OGC API – Features Part 3) translated to SQL that PostGIS evaluates.

The ``cql2`` package parses cql2-text and cql2-json into canonical cql2-json; this module
walks that tree and builds a SQLAlchemy Core condition whose values are all bound
parameters, so filters run on the server with the table's indexes and never in Python over
all rows. Every mistake a client can make comes back as `InvalidFilter` naming what is
wrong; nothing a client sends reaches the database unchecked, so a filter that translates
also executes.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any

import cql2 as cql2_parser
import numpy as np
import shapely
import sqlalchemy as sa
from geoalchemy2 import Geography
from pyproj import Transformer
from pyproj.exceptions import CRSError
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.sql.elements import ColumnElement

from geo.kernel.crs import SRID_STORAGE
from geo.kernel.errors import InvalidFilter

LANGUAGES = ("cql2-text", "cql2-json")
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

# -- limits that keep the parser alive -----------------------------------------------------
# The cql2 parser (Rust) recurses once per operator of a chain and per level of nesting; past
# a few thousand it overflows the native stack and the worker dies with SIGSEGV, answering
# nothing. Measured with cql2 0.6.0 by tests/geo/cql2_thresholds.py (each parse in its own
# process, in a thread with the 8 MiB stack glibc gives Python threads, as uvicorn runs sync
# routes), bisecting each shape's size to within 1 %; last size that parsed → first crash:
#   NOT / prefix-minus chain                3 417 → 3 441
#   comparison or LIKE chain (1 = 1 = …)    3 857 → 3 881
#   nested function calls or lists          3 076 → 3 100
#   arithmetic chain (* / + - % ^ div)      8 984 → 9 032  (also f(1) + f(1) + …)
#   AND / OR chain                         16 308 → 16 406
#   nested parentheses                      1 538 → 1 550
#   nested GEOMETRYCOLLECTION              23 632 → 23 827
#   cql2-json, any nesting                  no crash: the parser stops at 128 levels
#   IN lists, function arguments, WKT coordinates: no crash at 100 000 items
# A 1 MiB stack crashes at an eighth of these (421 NOT, 481 comparisons). The shapes add up
# in one filter, so the limits below keep their sum small: at most 256/3 417 + 512/16 308 +
# 10/1 538 ≈ 11 % of the stack of the first crash, nine times below it on an 8 MiB stack.
# Every filter is checked against them before the parser sees it; real filters stay far
# below them.
MAX_FILTER_LENGTH = 16_384  # characters; the default of the CRAFTMAP_FILTER_MAX_LENGTH setting
# Comparison, LIKE, BETWEEN, IN, IS, NOT, arithmetic and minus operators (13× below 3 417).
MAX_OPERATORS = 256
# AND and OR, which the parser flattens (31× below 16 308).
MAX_LOGICAL_OPERATORS = 512
# NOT and minus applied to something other than a number literal (27× below 3 417).
MAX_PREFIX_OPERATORS = 128
# Parentheses of every kind, nested (150× below 1 538).
MAX_PARENTHESES = 10
# The text parser also backtracks: a filter that fails to parse costs about 2^g × its length
# (≈ 0.16 µs per character and level measured), where g is the depth of grouping parentheses
# (those that do not open a function call or a geometry). "(" * 10 and 7 000 characters took
# 1.1 s. This bound keeps the worst case near 0.1 s: 5 levels in 16 384 characters, 10 in 512.
MAX_PARSE_WORK = 2**19
# Values in one list: IN lists, function arguments, arrays (the SQL binds one parameter each).
MAX_LIST_ITEMS = 1_000
# Characters of one text literal or quoted property name, and of one number literal.
MAX_STRING_LENGTH = 1_000
MAX_NUMBER_LENGTH = 64
# Positions in all the geometry literals of a filter (each is transformed and checked).
MAX_GEOMETRY_COORDINATES = 10_000
# Nesting of a cql2-json document; the parser itself refuses deeper ones.
MAX_JSON_DEPTH = 128
# Nesting of the parsed tree, checked while translating it.
MAX_DEPTH = 64

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
_TEMPORAL = (
    "t_after",
    "t_before",
    "t_contains",
    "t_disjoint",
    "t_during",
    "t_equals",
    "t_finishedby",
    "t_finishes",
    "t_intersects",
    "t_meets",
    "t_metby",
    "t_overlappedby",
    "t_overlaps",
    "t_startedby",
    "t_starts",
)
_ARRAY = ("a_contains", "a_containedby", "a_overlaps", "a_equals")
_COMPARISONS = ("=", "<>", "<", "<=", ">", ">=")
_ARITHMETIC = ("+", "-", "*", "/", "%", "^", "div")
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
_DIGITS = frozenset("0123456789.")
_FAMILY = {
    "integer": "number",
    "number": "number",
    "string": "string",
    "boolean": "boolean",
    "date": "temporal",
    "datetime": "temporal",
}
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
_INT64 = 2**63
# Conservative metres per degree: less than a degree of latitude anywhere (110 574 m at
# the equator) and less than a degree of longitude at the equator (111 320 m).
_METRES_PER_DEGREE = 110_000.0


@dataclass(frozen=True)
class Queryable:
    """A property a filter may name: its SQL expression and JSON type.

    ``type`` is one of `QUERYABLE_TYPES`; arrays are PostgreSQL ``text[]``.
    """

    name: str
    column: ColumnElement[Any]
    type: str


def parse_filter(
    text: str, lang: str = "cql2-text", *, max_length: int = MAX_FILTER_LENGTH
) -> dict[str, Any]:
    """Parse a filter into canonical cql2-json.

    Parameters
    ----------
    text
        The filter as sent: cql2-text, or a JSON object in cql2-json.
    lang
        ``"cql2-text"`` or ``"cql2-json"`` (the ``filter-lang`` parameter).
    max_length
        The longest filter accepted, in characters.

    Returns
    -------
    dict
        The filter as canonical cql2-json, ready for `filter_to_sql`.

    Raises
    ------
    InvalidFilter
        For an unknown language, or a filter that does not parse (with the parser's
        message and position), nests too deeply, is not a condition, or exceeds one of
        the limits that keep the parser alive (`MAX_OPERATORS` and the others; the
        message names the limit).

    Examples
    --------
    >>> parse_filter("households > 100")
    {'op': '>', 'args': [{'property': 'households'}, 100.0]}
    >>> parse_filter('{"op": "isNull", "args": [{"property": "workers"}]}', "cql2-json")
    {'op': 'isNull', 'args': [{'property': 'workers'}]}
    """
    if lang not in LANGUAGES:
        raise InvalidFilter(f"filter-lang must be one of {', '.join(LANGUAGES)}, got {lang!r}")
    if not isinstance(text, str):
        raise InvalidFilter(f"a {lang} filter must be text, got {type(text).__name__}")
    _check_size(text, max_length)
    if lang == "cql2-text":
        _check_text_shape(text)
        parse = cql2_parser.parse_text
    else:
        _check_json_shape(text)
        parse = cql2_parser.parse_json
    try:
        parsed = parse(text).to_json()
    except cql2_parser.ParseError as exc:
        message = str(exc)
        if "untagged enum Expr" in message:
            message = (
                "each node must be a condition or value such as "
                '{"op": "=", "args": [{"property": "name"}, "x"]} '
                f"({message})"
            )
        raise InvalidFilter(f"the {lang} filter does not parse: {_brief(message)}") from exc
    except Exception as exc:
        # Malformed geometry literals come back as a bare Exception ("processing geometry
        # `Missing closing parenthesis for type`"), not as ParseError.
        raise InvalidFilter(f"the {lang} filter does not parse: {_brief(str(exc))}") from exc
    if not isinstance(parsed, dict):
        raise InvalidFilter(f"a filter must be a condition such as name = 'x', got {_show(parsed)}")
    return parsed


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
    >>> table = sa.table("village", sa.column("households", sa.Integer))
    >>> known = {"households": Queryable("households", table.c.households, "integer")}
    >>> print(filter_to_sql(parse_filter("households >= 100"), known))
    village.households >= :param_1
    """
    return _Translator(queryables, filter_srid, swap_axes).condition(expr)


# -- guarding the parser -------------------------------------------------------------------
# cql2-text as tokens, only as far as counting needs: a quote left open runs to the end.
_TEXT_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
    | (?P<string>'(?:[^']|'')*'?)
    | (?P<name>"(?:[^"]|"")*"?)
    | (?P<number>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
    | (?P<word>[^\W\d]\w*(?:[:.]\w+)*)
    | (?P<operator><=|>=|<>|!=|[-+*/%^=<>])
    | (?P<open>\()
    | (?P<close>\))
    | (?P<comma>,)
    | (?P<other>.)
    """,
    re.VERBOSE | re.DOTALL,
)
_LOGICAL_WORDS = frozenset({"AND", "OR"})
_OPERATOR_WORDS = frozenset({"NOT", "LIKE", "BETWEEN", "IN", "IS", "DIV"})
# Tokens after which "-" subtracts; elsewhere it negates (or signs a number literal).
_VALUE_ENDS = frozenset({"string", "name", "number", "word", "close"})
_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_JSON_BRACKET = re.compile(r"[\[\]{}]")
_SURROGATE = re.compile("[\ud800-\udfff]")


_PEST_POSITION = re.compile(r"--> (\d+):(\d+)")
_PEST_LINE = re.compile(r"^\s*\d+ \| (.*)$", re.MULTILINE)
_PEST_EXPECTED = re.compile(r"^\s*= (.*)$", re.MULTILINE)


def _brief(message: str, limit: int = 400) -> str:
    """The parser's message without its copy of a long filter line (and caret line)."""
    position, line = _PEST_POSITION.search(message), _PEST_LINE.search(message)
    if len(message) <= limit or position is None or line is None:
        return message if len(message) <= limit else message[: limit - 3] + "..."
    row, column = position.groups()
    start = max(0, int(column) - 31)
    near = line.group(1)[start : start + 40]
    expected = _PEST_EXPECTED.search(message)
    reason = f": {expected.group(1)}" if expected else ""
    return f"at line {row}, column {column} (near {near!r}){reason}"[:limit]


def _check_size(text: str, max_length: int) -> None:
    if len(text) > max_length:
        raise InvalidFilter(
            f"the filter is {len(text)} characters long; at most {max_length} are accepted"
        )
    if _SURROGATE.search(text):
        # A lone UTF-16 surrogate (sent as a JSON escape) is no character: neither the
        # parser nor PostgreSQL can encode it.
        raise InvalidFilter(
            "the filter contains a lone surrogate (U+D800–U+DFFF), which is not text"
        )


def _lone_surrogate() -> InvalidFilter:
    return InvalidFilter("the filter contains a lone surrogate (U+D800–U+DFFF), which is not text")


def _check_literal(kind: str, value: str) -> None:
    limit = MAX_NUMBER_LENGTH if kind == "number" else MAX_STRING_LENGTH
    if len(value) > limit:
        raise InvalidFilter(
            f"a {kind} literal of {len(value)} characters; at most {limit} are accepted"
        )
    if _SURROGATE.search(value):
        raise InvalidFilter(
            "the filter contains a lone surrogate (U+D800–U+DFFF), which is not text"
        )


def _check_counts(operators: int, logical: int) -> None:
    if operators > MAX_OPERATORS:
        raise InvalidFilter(
            f"the filter has {operators} operators (comparisons, LIKE, BETWEEN, IN, IS, NOT, "
            f"arithmetic); at most {MAX_OPERATORS} are accepted"
        )
    if logical > MAX_LOGICAL_OPERATORS:
        raise InvalidFilter(
            f"the filter joins conditions with {logical} AND/OR operators; at most "
            f"{MAX_LOGICAL_OPERATORS} are accepted"
        )


def _too_many_items(count: int) -> InvalidFilter:
    return InvalidFilter(
        f"a list of {count} or more values; at most {MAX_LIST_ITEMS} are accepted in one list "
        "(IN, arrays, function arguments)"
    )


def _too_many_coordinates() -> InvalidFilter:
    return InvalidFilter(
        f"the geometry literals have more than {MAX_GEOMETRY_COORDINATES} positions; "
        f"at most {MAX_GEOMETRY_COORDINATES} are accepted"
    )


def _check_text_shape(text: str) -> None:
    """Refuse cql2-text that would crash or hog the parser (see `MAX_OPERATORS`).

    One pass over the tokens, without recursion. The counts are upper bounds of what the
    parser builds, whatever mistakes the filter holds.
    """
    operators = logical = prefix = coordinates = 0
    depth = deepest = grouping = deepest_grouping = 0
    # Per open parenthesis: "group", "call" or "geometry", and the items it holds so far.
    opened: list[list[Any]] = []
    previous = word = ""
    for token in _TEXT_TOKEN.finditer(text):
        kind = token.lastgroup or "other"
        value = token.group()
        if kind == "space":
            continue
        inside = opened[-1][0] if opened else ""
        if kind in {"string", "name", "number"}:
            quoted = kind != "number" and len(value) > 1 and value[-1] == value[0]
            _check_literal(kind, value[1:-1] if quoted else value.lstrip("'\""))
            if kind == "number" and inside == "geometry" and previous != "number":
                coordinates += 1
                if coordinates > MAX_GEOMETRY_COORDINATES:
                    raise _too_many_coordinates()
        elif kind == "word":
            word = value.upper()
            if word in _LOGICAL_WORDS:
                logical += 1
                kind = "keyword"
            elif word in _OPERATOR_WORDS:
                operators += 1
                prefix += word == "NOT"
                kind = "keyword"
        elif kind == "operator":
            if value == "-" and previous not in _VALUE_ENDS:
                if text[token.end() : token.end() + 1] in _DIGITS:
                    kind = "sign"  # "-5" is one literal, not an operator
                else:
                    operators += 1
                    prefix += 1
            else:
                operators += 1
        elif kind == "open":
            if previous == "word":
                paren = "geometry" if word in _WKT_TYPES else "call"
            else:
                paren = "geometry" if inside == "geometry" else "group"
            opened.append([paren, 1])
            depth += 1
            deepest = max(deepest, depth)
            if paren == "group":
                grouping += 1
                deepest_grouping = max(deepest_grouping, grouping)
        elif kind == "close" and opened:
            depth -= 1
            grouping -= opened.pop()[0] == "group"
        elif kind == "comma" and opened and inside != "geometry":
            opened[-1][1] += 1
            if opened[-1][1] > MAX_LIST_ITEMS:
                raise _too_many_items(opened[-1][1])
        previous = kind
    if deepest > MAX_PARENTHESES:
        raise InvalidFilter(
            f"the filter nests parentheses {deepest} deep; at most {MAX_PARENTHESES} "
            "levels are accepted"
        )
    if prefix > MAX_PREFIX_OPERATORS:
        raise InvalidFilter(
            f"the filter has {prefix} NOT or minus operators; at most "
            f"{MAX_PREFIX_OPERATORS} are accepted"
        )
    _check_counts(operators, logical)
    if 2**deepest_grouping * len(text) > MAX_PARSE_WORK:
        allowed = int(math.log2(MAX_PARSE_WORK / len(text)))
        raise InvalidFilter(
            f"the filter nests parentheses {deepest_grouping} deep in {len(text)} characters; "
            f"a filter this long may nest at most {allowed} levels (every level doubles the "
            f"parser's work, so depth and length are limited together: at most "
            f"{MAX_PARENTHESES} levels in {MAX_PARSE_WORK >> MAX_PARENTHESES} characters)"
        )


def _check_json_shape(text: str) -> None:
    """Refuse cql2-json that would crash or hog the parser, counted as for cql2-text.

    The nesting is measured on the raw text, without recursion, before any parser (Python's
    or cql2's) meets the document; the rest is counted on Python's reading of it.
    """
    depth = deepest = 0
    for bracket in _JSON_BRACKET.findall(_JSON_STRING.sub("", text)):
        depth += 1 if bracket in "[{" else -1
        deepest = max(deepest, depth)
    if deepest > MAX_JSON_DEPTH:
        raise InvalidFilter(
            f"the cql2-json filter does not parse: it nests {deepest} levels deep, beyond the "
            f"recursion limit of {MAX_JSON_DEPTH}"
        )
    try:
        document = json.loads(
            text,
            object_pairs_hook=_json_members,
            parse_int=_json_number(int),
            parse_float=_json_number(float),
            parse_constant=_json_constant,
        )
    except json.JSONDecodeError:
        return  # not JSON: the parser says where, and builds nothing deep from it
    except (ValueError, RecursionError) as exc:
        raise InvalidFilter(f"the cql2-json filter does not parse: {exc}") from exc
    operators = logical = coordinates = 0
    stack: list[Any] = [document]
    while stack:
        node = stack.pop()
        if isinstance(node, str):
            _check_literal("string", node)
        elif isinstance(node, list):
            if len(node) > MAX_LIST_ITEMS:
                raise _too_many_items(len(node))
            stack.extend(node)
        elif isinstance(node, dict):
            stack.extend(node)  # the member names
            op, args = node.get("op"), node.get("args")
            if isinstance(op, str) and op.lower() in {"and", "or"}:
                logical += max(1, len(args) - 1) if isinstance(args, list) else 1
            elif op is not None:
                operators += 1
            if "coordinates" in node:
                coordinates += _positions(node["coordinates"])
                if coordinates > MAX_GEOMETRY_COORDINATES:
                    raise _too_many_coordinates()
                stack.extend(v for k, v in node.items() if k != "coordinates")
            else:
                stack.extend(node.values())
    _check_counts(operators, logical)


def _json_members(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # Python keeps the last of repeated members, the parser need not: what is checked must
    # be what is parsed.
    members = dict(pairs)
    if len(members) != len(pairs):
        names = [name for name, _ in pairs]
        repeated = next(name for i, name in enumerate(names) if name in names[:i])
        raise InvalidFilter(f"the cql2-json filter repeats the member {_show(repeated)}")
    return members


def _json_number(kind: Callable[[str], Any]) -> Callable[[str], Any]:
    def read(text: str) -> Any:
        _check_literal("number", text)
        return kind(text)

    return read


def _json_constant(name: str) -> Any:
    raise InvalidFilter(f"{name} is not a JSON number")


def _positions(coordinates: Any) -> int:
    """How many positions (innermost lists) a GeoJSON ``coordinates`` member holds."""
    count = 0
    stack = [coordinates]
    while stack:
        node = stack.pop()
        if isinstance(node, list) and any(isinstance(item, list) for item in node):
            stack.extend(node)
        else:
            count += 1
            if count > MAX_GEOMETRY_COORDINATES:
                break
    return count


# -- values --------------------------------------------------------------------------------
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


def _finite(value: Any) -> bool:
    """True for a JSON number (not a boolean) that fits a double."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    try:
        return math.isfinite(float(value))
    except OverflowError:
        return False


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


def _fold(sql: ColumnElement[Any], fold: int) -> ColumnElement[Any]:
    if fold == _ACCENTI:
        # craftmap_fold is lower(unaccent(...)): ACCENTI folds case too, which is what a
        # Vietnamese search means ("tra dong" finds "Trà Đông").
        folded: ColumnElement[Any] = sa.func.craftmap_fold(sql)
        return folded
    if fold == _CASEI:
        lowered: ColumnElement[Any] = sa.func.lower(sql)
        return lowered
    return sql


def _coordinates_text(x: float, y: float) -> str:
    return f"({x:g} {y:g})"


@lru_cache(maxsize=32)
def _to_storage(srid: int) -> Transformer:
    return Transformer.from_crs(srid, SRID_STORAGE, always_xy=True)


class _Translator:
    """Walks one canonical cql2-json tree; every method raises only `InvalidFilter`."""

    def __init__(
        self, queryables: Mapping[str, Queryable], filter_srid: int, swap_axes: bool
    ) -> None:
        self.queryables = queryables
        self.filter_srid = filter_srid
        self.swap_axes = swap_axes
        self.depth = 0
        self.handlers: dict[str, Callable[[str, list[Any]], ColumnElement[bool]]] = {
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

    @contextmanager
    def _nested(self) -> Iterator[None]:
        if self.depth >= MAX_DEPTH:
            raise InvalidFilter(f"the filter nests more than {MAX_DEPTH} levels deep")
        self.depth += 1
        try:
            yield
        finally:
            self.depth -= 1

    # -- conditions ------------------------------------------------------------------------
    def condition(self, node: Any) -> ColumnElement[bool]:
        with self._nested():
            if isinstance(node, bool):
                return sa.true() if node else sa.false()
            if isinstance(node, dict) and "property" in node and "op" not in node:
                prop = self._property(node)
                if prop.type != "boolean":
                    raise InvalidFilter(
                        f"property {prop.name!r} is {_NAMES.get(prop.type, prop.type)}, "
                        "not a condition; compare it with a value"
                    )
                return prop.column.is_(True)
            op, args = self._op_args(node)
            handler = self.handlers.get(op)
            if handler is None:
                if op in {"casei", "accenti"} or op in _ARITHMETIC:
                    raise InvalidFilter(f"{op.upper()}(...) is a value, not a condition")
                raise InvalidFilter(
                    f"unsupported operator {node.get('op')!r}; supported: "
                    f"{', '.join(sorted(self.handlers))}"
                )
            return handler(op, args)

    @staticmethod
    def _op_args(node: Any) -> tuple[str, list[Any]]:
        if not isinstance(node, dict) or not isinstance(node.get("op"), str):
            raise InvalidFilter(f"expected a condition, got {_show(node)}")
        args = node.get("args")
        if not isinstance(args, list):
            raise InvalidFilter(f"operator {node['op']!r} needs a list of arguments")
        return node["op"].lower(), args

    @staticmethod
    def _arity(op: str, args: list[Any], *counts: int) -> None:
        if len(args) not in counts:
            wanted = " or ".join(str(c) for c in counts)
            raise InvalidFilter(
                f"{op.upper()} takes {wanted} argument{'s' if counts != (1,) else ''}, "
                f"got {len(args)}"
            )

    def _and_or(self, op: str, args: list[Any]) -> ColumnElement[bool]:
        if len(args) < 2:
            raise InvalidFilter(f"{op.upper()} needs at least two conditions, got {len(args)}")
        parts = [self.condition(a) for a in args]
        return sa.and_(*parts) if op == "and" else sa.or_(*parts)

    def _not(self, op: str, args: list[Any]) -> ColumnElement[bool]:
        self._arity(op, args, 1)
        return sa.not_(self.condition(args[0]))

    # -- operands --------------------------------------------------------------------------
    def _property(self, node: dict[str, Any]) -> Queryable:
        name = node["property"]
        found = self.queryables.get(name) if isinstance(name, str) else None
        if found is None:
            known = ", ".join(sorted(self.queryables))
            raise InvalidFilter(f"unknown property {_show(name)}; queryables are: {known}")
        return found

    def _scalar(self, node: Any) -> _Operand:
        with self._nested():
            return self._scalar_inner(node)

    def _scalar_inner(self, node: Any) -> _Operand:
        if isinstance(node, bool):
            return _Operand(_show(node), "boolean", value=node)
        if node is None:
            return _Operand("NULL", "null")
        if isinstance(node, int | float):
            if not _finite(node):
                raise InvalidFilter(f"{_show(node)} is not a usable number (finite, double range)")
            return _Operand(_show(node), "number", value=node)
        if isinstance(node, str):
            if "\x00" in node:
                raise InvalidFilter(f"text values cannot contain NUL characters: {_show(node)}")
            if _SURROGATE.search(node):
                raise InvalidFilter("text values cannot contain lone surrogates (U+D800–U+DFFF)")
            return _Operand(_show(node), "string", value=node)
        if isinstance(node, list):
            return _Operand(_show(node), "list", value=node)
        if not isinstance(node, dict):
            raise InvalidFilter(f"unexpected value {_show(node)}")
        if "op" in node:
            return self._function(node)
        if "property" in node:
            prop = self._property(node)
            return _Operand(f"property {prop.name!r}", prop.type, column=prop.column)
        if "date" in node:
            return _Operand(_show(node), "date", value=_parse_date(node["date"], _show(node)))
        if "timestamp" in node:
            shown = _show(node)
            return _Operand(shown, "datetime", value=_parse_timestamp(node["timestamp"], shown))
        if "interval" in node:
            return _Operand(_show(node), "interval", value=node)
        if "type" in node or "bbox" in node:
            return _Operand(_show(node), "geometry", value=node)
        raise InvalidFilter(f"unexpected value {_show(node)}")

    def _function(self, node: dict[str, Any]) -> _Operand:
        op, args = self._op_args(node)
        if op in {"casei", "accenti"}:
            self._arity(op, args, 1)
            inner = self._scalar(args[0])
            if inner.kind != "string":
                raise InvalidFilter(
                    f"{op.upper()} applies to text; {inner.label} is "
                    f"{_NAMES.get(inner.kind, inner.kind)}"
                )
            fold = _ACCENTI if op == "accenti" else _CASEI
            return replace(inner, label=f"{op.upper()}({inner.label})", fold=max(inner.fold, fold))
        if op in _ARITHMETIC:
            raise InvalidFilter(f"arithmetic ({node['op']}) is not supported in filters")
        if op in self.handlers:
            raise InvalidFilter(f"{op.upper()}(...) is a condition, not a value")
        if op.upper() in _WKT_TYPES:
            # The parser reads a geometry it cannot make sense of as a function call.
            raise InvalidFilter(
                f"malformed {op.upper()} literal {_show(args)}: check its coordinates "
                "(x y pairs, rings closed)"
            )
        raise InvalidFilter(f"unsupported function {node['op']!r}")

    # -- comparisons -----------------------------------------------------------------------
    def _typed(self, op: str, operands: list[_Operand]) -> list[ColumnElement[Any]]:
        """SQL for operands that must share one type, as the first property dictates."""
        anchor = next((o for o in operands if o.column is not None), operands[0])
        family = _FAMILY.get(anchor.kind)
        if family is None:
            hint = {
                "array": "; use A_EQUALS, A_CONTAINS, A_CONTAINEDBY or A_OVERLAPS",
                "geometry": "; use a spatial function such as S_INTERSECTS",
                "null": "; use IS NULL",
                "interval": "; use a temporal function such as T_DURING",
            }.get(anchor.kind, "")
            raise InvalidFilter(
                f"{op.upper()} cannot compare {anchor.label} "
                f"({_NAMES.get(anchor.kind, anchor.kind)}){hint}"
            )
        fold = max(o.fold for o in operands)
        result = []
        for operand in operands:
            if operand.kind == "null":
                raise InvalidFilter(f"{op.upper()} NULL is never true; use IS NULL")
            if operand.column is not None:
                if _FAMILY.get(operand.kind) != family:
                    raise InvalidFilter(
                        f"{op.upper()} cannot compare {anchor.label} "
                        f"({_NAMES.get(anchor.kind, anchor.kind)}) with {operand.label} "
                        f"({_NAMES.get(operand.kind, operand.kind)})"
                    )
                sql = operand.column
            else:
                sql = self._bind(op, operand, anchor, family)
            result.append(_fold(sql, fold))
        return result

    @staticmethod
    def _bind(op: str, operand: _Operand, anchor: _Operand, family: str) -> ColumnElement[Any]:
        value = operand.value
        if family == "number" and operand.kind == "number":
            if anchor.kind == "integer" and abs(value) < _INT64 and float(value).is_integer():
                # An integer parameter keeps a btree index on an integer column usable.
                return sa.literal(int(value), sa.BigInteger())
            return sa.literal(float(value), sa.Double())
        if family == "string" and operand.kind == "string":
            return sa.literal(value, sa.Text())
        if family == "boolean" and operand.kind == "boolean":
            return sa.literal(value, sa.Boolean())
        if family == "temporal" and operand.kind in {"date", "datetime"}:
            return _bind_instant(value)
        if family == "temporal" and operand.kind == "string":
            return _bind_instant(_parse_instant(value, operand.label))
        if anchor.column is None:
            raise InvalidFilter(f"{op.upper()} cannot compare {anchor.label} with {operand.label}")
        raise InvalidFilter(
            f"{anchor.label} is {_NAMES.get(anchor.kind, anchor.kind)}: expected "
            f"{_EXPECTED[family]}, got {operand.label}"
        )

    def _compare(self, op: str, args: list[Any]) -> ColumnElement[bool]:
        self._arity(op, args, 2)
        left, right = self._typed(op, [self._scalar(args[0]), self._scalar(args[1])])
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
        value, pattern = self._scalar(args[0]), self._scalar(args[1])
        for operand in (value, pattern):
            if operand.kind != "string":
                raise InvalidFilter(
                    f"LIKE applies to text: {operand.label} is "
                    f"{_NAMES.get(operand.kind, operand.kind)}"
                )
        if isinstance(pattern.value, str):
            trailing = len(pattern.value) - len(pattern.value.rstrip("\\"))
            if trailing % 2:
                raise InvalidFilter(
                    f"the LIKE pattern {pattern.label} ends with an escape character (\\)"
                )
        left, right = self._typed(op, [value, pattern])
        return left.like(right)

    def _between(self, op: str, args: list[Any]) -> ColumnElement[bool]:
        self._arity(op, args, 3)
        operands = [self._scalar(a) for a in args]
        if _FAMILY.get(operands[0].kind) not in {"number", "temporal"}:
            raise InvalidFilter(
                f"BETWEEN applies to numbers, dates and date-times: {operands[0].label} is "
                f"{_NAMES.get(operands[0].kind, operands[0].kind)}"
            )
        value, low, high = self._typed(op, operands)
        return value.between(low, high)

    def _in(self, op: str, args: list[Any]) -> ColumnElement[bool]:
        self._arity(op, args, 2)
        if not isinstance(args[1], list) or not args[1]:
            raise InvalidFilter(f"IN needs a non-empty list of values, got {_show(args[1])}")
        value, *options = self._typed(op, [self._scalar(a) for a in [args[0], *args[1]]])
        return value.in_(options)

    def _is_null(self, op: str, args: list[Any]) -> ColumnElement[bool]:
        self._arity(op, args, 1)
        operand = self._scalar(args[0])
        if operand.column is not None:
            return operand.column.is_(None)
        return sa.true() if operand.kind == "null" else sa.false()

    # -- space -----------------------------------------------------------------------------
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

    # -- time ------------------------------------------------------------------------------
    def _period(self, op: str, node: Any) -> tuple[ColumnElement[Any] | None, ...]:
        """(start, end) of an instant or interval; None is an open end ("..")."""
        if isinstance(node, dict) and "interval" in node and "op" not in node:
            bounds = node["interval"]
            if not isinstance(bounds, list) or len(bounds) != 2:
                raise InvalidFilter(f"INTERVAL needs a start and an end, got {_show(bounds)}")
            start, end = (None if b == ".." else self._instant(op, b) for b in bounds)
            return start, end
        instant = self._instant(op, node)
        return instant, instant

    def _instant(self, op: str, node: Any) -> ColumnElement[Any]:
        operand = self._scalar(node)
        if operand.column is not None:
            if operand.kind not in {"date", "datetime"} or operand.fold:
                raise InvalidFilter(
                    f"{op.upper()} needs dates or date-times: {operand.label} is "
                    f"{_NAMES.get(operand.kind, operand.kind)}"
                )
            return operand.column
        if operand.kind in {"date", "datetime"}:
            return _bind_instant(operand.value)
        if operand.kind == "string":
            return _bind_instant(_parse_instant(operand.value, operand.label))
        raise InvalidFilter(
            f"{op.upper()} needs dates or date-times: expected {_EXPECTED['temporal']} or "
            f"INTERVAL(start, end), got {operand.label}"
        )

    def _temporal(self, op: str, args: list[Any]) -> ColumnElement[bool]:
        self._arity(op, args, 2)
        a0, a1 = self._period(op, args[0])
        b0, b1 = self._period(op, args[1])
        # Allen's interval relations as CQL2 defines them; an instant is an interval whose
        # start and end coincide, and an open end lies beyond every instant.
        relations: dict[str, Callable[[], list[ColumnElement[bool]]]] = {
            "t_after": lambda: [_lt(b1, a0, ends=(True, False))],
            "t_before": lambda: [_lt(a1, b0, ends=(True, False))],
            "t_contains": lambda: [
                _lt(a0, b0, ends=(False, False)),
                _lt(b1, a1, ends=(True, True)),
            ],
            "t_disjoint": lambda: [
                sa.or_(_lt(a1, b0, ends=(True, False)), _lt(b1, a0, ends=(True, False)))
            ],
            "t_during": lambda: [
                _lt(b0, a0, ends=(False, False)),
                _lt(a1, b1, ends=(True, True)),
            ],
            "t_equals": lambda: [_eq(a0, b0), _eq(a1, b1)],
            "t_finishedby": lambda: [_lt(a0, b0, ends=(False, False)), _eq(a1, b1)],
            "t_finishes": lambda: [_lt(b0, a0, ends=(False, False)), _eq(a1, b1)],
            "t_intersects": lambda: [
                sa.not_(_lt(a1, b0, ends=(True, False))),
                sa.not_(_lt(b1, a0, ends=(True, False))),
            ],
            "t_meets": lambda: [_eq(a1, b0, ends=(True, False))],
            "t_metby": lambda: [_eq(a0, b1, ends=(False, True))],
            "t_overlappedby": lambda: [
                _lt(b0, a0, ends=(False, False)),
                _lt(a0, b1, ends=(False, True)),
                _lt(b1, a1, ends=(True, True)),
            ],
            "t_overlaps": lambda: [
                _lt(a0, b0, ends=(False, False)),
                _lt(b0, a1, ends=(False, True)),
                _lt(a1, b1, ends=(True, True)),
            ],
            "t_startedby": lambda: [_eq(a0, b0), _lt(b1, a1, ends=(True, True))],
            "t_starts": lambda: [_eq(a0, b0), _lt(a1, b1, ends=(True, True))],
        }
        return sa.and_(*relations[op]())

    # -- arrays ----------------------------------------------------------------------------
    def _array_side(self, op: str, node: Any) -> ColumnElement[Any]:
        operand = self._scalar(node)
        if operand.column is not None and operand.kind == "array" and not operand.fold:
            return operand.column
        if operand.column is None and operand.kind == "list":
            for item in operand.value:
                if not isinstance(item, str) or "\x00" in item:
                    raise InvalidFilter(
                        f"{op.upper()} compares lists of text: {_show(item)} is not text"
                    )
            return sa.cast(sa.literal(operand.value, ARRAY(sa.Text())), ARRAY(sa.Text()))
        raise InvalidFilter(
            f"{op.upper()} needs arrays: {operand.label} is "
            f"{_NAMES.get(operand.kind, operand.kind)}; write a list as ('a', 'b')"
        )

    def _array(self, op: str, args: list[Any]) -> ColumnElement[bool]:
        self._arity(op, args, 2)
        left, right = self._array_side(op, args[0]), self._array_side(op, args[1])
        contains = left.op("@>", is_comparison=True)
        contained = left.op("<@", is_comparison=True)
        if op == "a_contains":
            return contains(right)
        if op == "a_containedby":
            return contained(right)
        if op == "a_overlaps":
            return left.op("&&", is_comparison=True)(right)
        # Equal as sets, as the CQL2 reference implementation has it.
        return sa.and_(contains(right), contained(right))


def _position(bound: ColumnElement[Any] | None, is_end: bool) -> int:
    """Where a bound sits on the extended time line: -1 is -∞, 0 a value, 1 is +∞."""
    if bound is not None:
        return 0
    return 1 if is_end else -1


def _known(answer: bool, a: ColumnElement[Any] | None, b: ColumnElement[Any] | None) -> Any:
    """A comparison with an open bound: its answer, yet unknown where the value is NULL.

    ``x = x`` and ``x <> x`` are NULL for a NULL property, as ``x < y`` would be, so a
    record without a date matches neither T_DURING(date, INTERVAL('..', '..')) nor its NOT.
    """
    value = a if a is not None else b
    if value is None:
        return sa.true() if answer else sa.false()
    return value == value if answer else value != value


def _lt(
    a: ColumnElement[Any] | None, b: ColumnElement[Any] | None, *, ends: tuple[bool, bool]
) -> ColumnElement[bool]:
    """``a < b`` where None is an open bound: -∞ for a start, +∞ for an end.

    ``ends`` says, for ``a`` and ``b``, whether each is an end (True) or a start (False).
    """
    if a is not None and b is not None:
        return a < b
    result: ColumnElement[bool] = _known(_position(a, ends[0]) < _position(b, ends[1]), a, b)
    return result


def _eq(
    a: ColumnElement[Any] | None,
    b: ColumnElement[Any] | None,
    *,
    ends: tuple[bool, bool] = (False, False),
) -> ColumnElement[bool]:
    """``a = b`` where None is an open bound (equal only to the same open bound)."""
    if a is not None and b is not None:
        return a == b
    result: ColumnElement[bool] = _known(_position(a, ends[0]) == _position(b, ends[1]), a, b)
    return result
