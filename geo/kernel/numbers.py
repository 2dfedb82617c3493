"""What counts as a number in a JSON body: checked the same way by CQL2 and by writes."""

from __future__ import annotations

import math
from typing import Any


def is_finite_number(value: Any) -> bool:
    """True for a JSON number (not a boolean) that fits a double.

    >>> [is_finite_number(v) for v in (1, 2.5, True, 10**400, float('nan'))]
    [True, True, False, False, False]
    """
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    try:
        return math.isfinite(float(value))
    except OverflowError:
        return False
