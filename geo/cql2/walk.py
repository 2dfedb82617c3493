"""The walk over a canonical cql2-json tree that every operator family builds on.

`Walker` keeps the nesting depth, dispatches a condition to the handler of its operator,
joins conditions with AND, OR and NOT, and reads operands: properties, literals and the
CASEI and ACCENTI functions. The families (`geo.cql2.comparison`, `spatial`, `temporal`,
`arrays`) subclass it, and `geo.cql2.sql` combines them and fills `Walker.handlers`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement

from geo.cql2.guards import MAX_DEPTH
from geo.cql2.queryables import Queryable
from geo.cql2.values import (
    _ACCENTI,
    _CASEI,
    _NAMES,
    _SURROGATE,
    _WKT_TYPES,
    _finite,
    _Operand,
    _parse_date,
    _parse_timestamp,
    _show,
)
from geo.kernel.errors import InvalidFilter

_ARITHMETIC = ("+", "-", "*", "/", "%", "^", "div")
Handler = Callable[[str, list[Any]], ColumnElement[bool]]


class Walker:
    """What every operator family shares; every method raises only `InvalidFilter`."""

    def __init__(
        self, queryables: Mapping[str, Queryable], filter_srid: int, swap_axes: bool
    ) -> None:
        self.queryables = queryables
        self.filter_srid = filter_srid
        self.swap_axes = swap_axes
        self.depth = 0
        # Every operator the translator knows; geo.cql2.sql fills it from the families.
        self.handlers: dict[str, Handler] = {}

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
