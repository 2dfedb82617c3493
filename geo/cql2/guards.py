"""Limits that keep the cql2 parser alive, and the checks of a filter against them.

Every filter is measured here, in one pass and without recursion, before the parser sees
it (`geo.cql2.parse`); the translators check only `MAX_DEPTH` themselves.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from typing import Any

from geo.cql2.values import _SURROGATE, _WKT_TYPES, _show
from geo.kernel.errors import InvalidFilter

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
_DIGITS = frozenset("0123456789.")


def _check_size(text: str, max_length: int) -> None:
    if len(text) > max_length:
        raise InvalidFilter(
            f"the filter is {len(text)} characters long; at most {max_length} are accepted"
        )
    if _SURROGATE.search(text):
        # A lone UTF-16 surrogate (sent as a JSON escape) is no character: neither the
        # parser nor PostgreSQL can encode it.
        raise _lone_surrogate()


def _lone_surrogate() -> InvalidFilter:
    return InvalidFilter("the filter contains a lone surrogate (U+D800–U+DFFF), which is not text")


def _check_literal(kind: str, value: str) -> None:
    limit = MAX_NUMBER_LENGTH if kind == "number" else MAX_STRING_LENGTH
    if len(value) > limit:
        raise InvalidFilter(
            f"a {kind} literal of {len(value)} characters; at most {limit} are accepted"
        )
    if _SURROGATE.search(value):
        raise _lone_surrogate()


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
