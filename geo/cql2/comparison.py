"""Comparisons: =, <>, <, <=, >, >=, LIKE, BETWEEN, IN and IS NULL, folded by CASEI/ACCENTI."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement

from geo.cql2.values import (
    _ACCENTI,
    _CASEI,
    _EXPECTED,
    _NAMES,
    _bind_instant,
    _Operand,
    _parse_instant,
    _show,
)
from geo.cql2.walk import Walker
from geo.kernel.errors import InvalidFilter

_COMPARISONS = ("=", "<>", "<", "<=", ">", ">=")
_FAMILY = {
    "integer": "number",
    "number": "number",
    "string": "string",
    "boolean": "boolean",
    "date": "temporal",
    "datetime": "temporal",
}
_INT64 = 2**63


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


class Comparisons(Walker):
    """The comparison operators of a `Walker`."""

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
