"""Cell values of an imported file → property values, by explicit rules (no silent guesses).

Numbers: Vietnamese files write ``105,7812`` and ``1.500.000``. A column that holds a
comma anywhere uses the decimal comma (its dots group thousands); otherwise the dot is
the decimal mark. Whole-number fields read ``1.500`` as fifteen hundred. Anything else
ambiguous is refused with the value shown.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
import unicodedata
from collections.abc import Iterable
from typing import Any

import numpy as np

from geo.kernel.errors import InvalidInput

LIST_SEPARATOR = ";"
_GROUPED = re.compile(r"^[+-]?\d{1,3}(\.\d{3})+$")
_GROUPED_COMMA_DECIMAL = re.compile(r"^[+-]?\d{1,3}(\.\d{3})*(,\d+)?$")
_PLAIN = re.compile(r"^[+-]?(\d+([.,]\d*)?|[.,]\d+)([eE][+-]?\d+)?$")


def is_blank(value: Any) -> bool:
    """None, NaN, NaT or an empty/whitespace string."""
    import pandas as pd

    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    if value is pd.NaT:
        return True
    return isinstance(value, str) and not value.strip()


def text(value: Any) -> str | None:
    """A cell as NFC text (numbers as written by Python), or None when blank."""
    if is_blank(value):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return unicodedata.normalize("NFC", str(value).strip())


def decimal_comma(values: Iterable[Any]) -> bool:
    """Whether a column writes numbers with the decimal comma (any text cell has a comma)."""
    return any(isinstance(v, str) and "," in v for v in values)


def number(value: Any, *, comma_decimal: bool, whole: bool = False) -> float | None:
    """A number from a cell, by the column's convention (see the module's rules).

    >>> number("105,7812", comma_decimal=True), number("1.500,5", comma_decimal=True)
    (105.7812, 1500.5)
    >>> number("105.7812", comma_decimal=False), number("1.500", comma_decimal=False, whole=True)
    (105.7812, 1500.0)
    >>> number("1.500.000", comma_decimal=False)
    1500000.0
    """
    if is_blank(value):
        return None
    if isinstance(value, bool):
        raise InvalidInput(f"expected a number, got {value!r}")
    if isinstance(value, int | float | np.integer | np.floating):
        result = float(value)
    else:
        raw = str(value).strip().replace("\u00a0", "").replace(" ", "")
        if comma_decimal:
            if not _GROUPED_COMMA_DECIMAL.match(raw) and not _PLAIN.match(raw):
                raise InvalidInput(f"expected a number like 1.500,25 or 105,7812, got {value!r}")
            if raw.count(",") > 1:
                raise InvalidInput(f"{value!r} has two decimal commas")
            raw = raw.replace(".", "").replace(",", ".")
        elif _GROUPED.match(raw) and (whole or raw.count(".") > 1):
            raw = raw.replace(".", "")  # 1.500.000 (or 1.500 for a count)
        elif not _PLAIN.match(raw) or "," in raw:
            raise InvalidInput(f"expected a number, got {value!r}")
        try:
            result = float(raw)
        except ValueError as exc:
            raise InvalidInput(f"expected a number, got {value!r}") from exc
    if not math.isfinite(result):
        raise InvalidInput(f"expected a finite number, got {value!r}")
    return result


def integer(value: Any, *, comma_decimal: bool) -> int | None:
    """A whole number (``1.500`` is fifteen hundred)."""
    result = number(value, comma_decimal=comma_decimal, whole=True)
    if result is None:
        return None
    if not result.is_integer():
        raise InvalidInput(f"expected a whole number, got {value!r}")
    return int(result)


def boolean(value: Any) -> bool | None:
    """true/false, 1/0, yes/no, có/không (Vietnamese), x for a ticked cell."""
    if is_blank(value):
        return None
    if isinstance(value, bool | np.bool_):
        return bool(value)
    word = unicodedata.normalize("NFC", str(value).strip().lower())
    if word in {"true", "1", "1.0", "yes", "có", "co", "x", "đúng"}:
        return True
    if word in {"false", "0", "0.0", "no", "không", "khong", "sai"}:
        return False
    raise InvalidInput(f"expected true or false (có/không), got {value!r}")


def date(value: Any) -> str | None:
    """An ISO date from YYYY-MM-DD, DD/MM/YYYY (the Vietnamese order) or a date cell."""
    import pandas as pd

    if is_blank(value):
        return None
    if isinstance(value, dt.datetime | pd.Timestamp):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    raw = str(value).strip()
    for pattern in ("%Y-%m-%d", "%d/%m/%Y", "%Y-%m-%dT%H:%M:%S", "%Y/%m/%d %H:%M:%S"):
        try:
            return dt.datetime.strptime(raw, pattern).date().isoformat()
        except ValueError:
            continue
    raise InvalidInput(f"expected a date as YYYY-MM-DD or DD/MM/YYYY, got {value!r}")


def string_list(value: Any) -> list[str]:
    """A list from a cell: items separated by ``;``."""
    if is_blank(value):
        return []
    if isinstance(value, list | tuple | np.ndarray):
        return [t for v in value if (t := text(v))]
    return [
        unicodedata.normalize("NFC", part.strip())
        for part in str(value).split(LIST_SEPARATOR)
        if part.strip()
    ]


def json_object(value: Any) -> dict[str, Any] | None:
    """A JSON object from a cell."""
    if is_blank(value):
        return None
    if isinstance(value, dict):
        return value
    try:
        parsed = json.loads(str(value))
    except ValueError as exc:
        raise InvalidInput(f"expected a JSON object, got {str(value)[:40]!r}") from exc
    if not isinstance(parsed, dict):
        raise InvalidInput(f"expected a JSON object, got {str(value)[:40]!r}")
    return parsed


def json_ready(value: Any) -> Any:
    """A cell as a JSON value for a reference feature's free properties (None: leave out)."""
    import pandas as pd

    if is_blank(value):
        return None
    if isinstance(value, np.bool_ | bool):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating | float):
        number_value = float(value)
        return int(number_value) if number_value.is_integer() else number_value
    if isinstance(value, dt.datetime | pd.Timestamp | dt.date):
        return value.isoformat()
    if isinstance(value, list | tuple | np.ndarray):
        return [json_ready(v) for v in value]
    if isinstance(value, str):
        return unicodedata.normalize("NFC", value.strip())
    return str(value)
