"""Temporal functions: T_AFTER, T_DURING and the other relations of Allen's interval algebra."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement

from geo.cql2.values import _EXPECTED, _NAMES, _bind_instant, _parse_instant, _show
from geo.cql2.walk import Walker
from geo.kernel.errors import InvalidFilter

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


class Temporal(Walker):
    """The temporal functions of a `Walker`."""

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
