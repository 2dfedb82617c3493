"""Array functions: A_CONTAINS, A_CONTAINEDBY, A_OVERLAPS and A_EQUALS over ``text[]``."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.sql.elements import ColumnElement

from geo.cql2.values import _NAMES, _show
from geo.cql2.walk import Walker
from geo.kernel.errors import InvalidFilter

_ARRAY = ("a_contains", "a_containedby", "a_overlaps", "a_equals")


class Arrays(Walker):
    """The array functions of a `Walker`."""

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
