"""cql2-text and cql2-json to canonical cql2-json: the guards, then the ``cql2`` package."""

from __future__ import annotations

import re
from typing import Any

import cql2 as cql2_parser

from geo.cql2.guards import MAX_FILTER_LENGTH, _check_json_shape, _check_size, _check_text_shape
from geo.cql2.values import _show
from geo.kernel.errors import InvalidFilter

LANGUAGES = ("cql2-text", "cql2-json")


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
