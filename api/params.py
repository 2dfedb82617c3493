"""Query-string and path parameters: HTTP strings parsed into the typed values geo takes.

Every message here is a 400 (``InvalidInput``) or, for a path that names nothing, a 404
(``NotFound``); geo's query functions never see a raw string.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from collections.abc import Set as AbstractSet
from typing import Any

from starlette.datastructures import QueryParams

from api.openapi import ITEMS_PARAMS
from geo import cql2
from geo.kernel.crs import SRID_STORAGE, ServedCrs, served_crs, untransformable
from geo.kernel.errors import InvalidInput, NotFound
from geo.query import tiles
from geo.query.features import DEFAULT_LIMIT, MAX_LIMIT, MAX_OFFSET, ItemsQuery
from geo.store.catalog import Collection

# Points per side of a bbox checked before PostGIS transforms it (it draws at most 17).
_BBOX_SIDE_POINTS = 33


def items_query(
    params: QueryParams, collection: Collection, *, filter_max_length: int
) -> tuple[ItemsQuery, ServedCrs]:
    """An items request's query string as an :class:`ItemsQuery`, and the CRS to answer in."""
    crs = served_crs(params.get("crs"))
    bbox_crs = served_crs(params.get("bbox-crs"))
    query = ItemsQuery(
        limit=parse_limit(params.get("limit")),
        offset=parse_offset(params.get("offset")),
        bbox=parse_bbox(params.get("bbox"), bbox_crs),
        bbox_crs=bbox_crs,
        interval=parse_datetime(params.get("datetime")),
        sortby=parse_sortby(params.get("sortby"), collection),
        properties=parse_properties(params.get("properties"), collection),
        crs=crs,
    )
    text = params.get("filter")
    if text is not None:
        language = params.get("filter-lang", "cql2-text")
        filter_crs = served_crs(params.get("filter-crs"))
        expression = cql2.parse_filter(text, language, max_length=filter_max_length)
        query.filters.append(
            cql2.filter_to_sql(
                expression,
                collection.queryables(),
                filter_srid=filter_crs.srid,
                swap_axes=filter_crs.swap_axes,
            )
        )
    elif "filter-lang" in params or "filter-crs" in params:
        raise InvalidInput("filter-lang and filter-crs need a filter")
    equalities = property_equalities(params, collection)
    if equalities is not None:
        query.filters.append(cql2.filter_to_sql(equalities, collection.queryables()))
    return query, crs


def property_equalities(params: Mapping[str, str], collection: Collection) -> dict[str, Any] | None:
    """``?material=sedge``: a queryable named as a parameter filters on equality (Part 3).

    Returned as one cql2-json condition, which geo's CQL2 translator turns into SQL as it
    does a ``filter``; None when the query string names no queryable.
    """
    queryables = collection.queryables()
    conditions: list[dict[str, Any]] = []
    for name, value in params.items():
        found = queryables.get(name)
        if name in ITEMS_PARAMS or found is None or found.type in {"geometry", "array"}:
            continue
        conditions.append({"op": "=", "args": [{"property": name}, _typed(found.type, value)]})
    if not conditions:
        return None
    return conditions[0] if len(conditions) == 1 else {"op": "and", "args": conditions}


def _typed(kind: str, value: str) -> Any:
    try:
        if kind == "integer":
            return int(value)
        if kind == "number":
            return float(value)
    except ValueError as exc:
        raise InvalidInput(f"expected a number, got {value!r}") from exc
    if kind == "boolean":
        if value not in {"true", "false"}:
            raise InvalidInput(f"expected true or false, got {value!r}")
        return value == "true"
    return value


def parse_limit(value: str | None) -> int:
    """``limit``: 1 or more; above the maximum it is clamped, as the standard asks."""
    if value is None:
        return DEFAULT_LIMIT
    try:
        limit = int(value)
    except ValueError as exc:
        raise InvalidInput(f"limit must be a whole number, got {value!r}") from exc
    if limit < 1:
        raise InvalidInput(f"limit must be at least 1, got {limit}")
    return min(limit, MAX_LIMIT)


def parse_offset(value: str | None) -> int:
    """``offset``: 0 or more."""
    if value is None:
        return 0
    try:
        offset = int(value)
    except ValueError as exc:
        raise InvalidInput(f"offset must be a whole number, got {value!r}") from exc
    if offset < 0:
        raise InvalidInput(f"offset must not be negative, got {offset}")
    if offset > MAX_OFFSET:
        raise InvalidInput(f"offset must be at most {MAX_OFFSET}, got {value}")
    return offset


def parse_bbox(value: str | None, crs: ServedCrs) -> tuple[float, float, float, float] | None:
    """``bbox`` as (min x, min y, max x, max y) in storage axis order (x = longitude/easting).

    Four or six numbers in the axis order of ``bbox-crs`` (latitude first for EPSG:4326).
    """
    if value is None:
        return None
    try:
        numbers = [float(part) for part in value.split(",")]
    except ValueError as exc:
        raise InvalidInput(f"bbox must be 4 or 6 comma-separated numbers, got {value!r}") from exc
    if len(numbers) == 6:
        numbers = [numbers[0], numbers[1], numbers[3], numbers[4]]
    if len(numbers) != 4:
        raise InvalidInput(f"bbox must be 4 or 6 comma-separated numbers, got {value!r}")
    if not all(math.isfinite(n) for n in numbers):
        raise InvalidInput(f"bbox numbers must be finite, got {value!r}")
    a1, a2, b1, b2 = numbers
    minx, miny, maxx, maxy = (a2, a1, b2, b1) if crs.swap_axes else (a1, a2, b1, b2)
    if miny > maxy:
        raise InvalidInput("bbox: the lower corner must come first (min y > max y)")
    if crs.srid == SRID_STORAGE and not (-180 <= minx <= 180 and -180 <= maxx <= 180):
        raise InvalidInput("bbox: longitudes must lie between -180 and 180")
    if crs.srid == SRID_STORAGE and not (-90 <= miny <= 90 and -90 <= maxy <= 90):
        raise InvalidInput("bbox: latitudes must lie between -90 and 90")
    if crs.srid != SRID_STORAGE:
        _check_bbox_domain((minx, miny, maxx, maxy), crs)
    return (minx, miny, maxx, maxy)


def _check_bbox_domain(bbox: tuple[float, float, float, float], crs: ServedCrs) -> None:
    """Refuse a bbox whose outline PostGIS could not transform to longitude/latitude."""
    minx, miny, maxx, maxy = bbox
    if minx > maxx:
        # Only longitudes wrap around (a CRS84 box may cross the antimeridian).
        raise InvalidInput("bbox: the lower corner must come first (min x > max x)")
    steps = [i / (_BBOX_SIDE_POINTS - 1) for i in range(_BBOX_SIDE_POINTS)]
    xs = [minx + (maxx - minx) * t for t in steps]
    ys = [miny + (maxy - miny) * t for t in steps]
    east = xs + xs + [minx] * len(ys) + [maxx] * len(ys)
    north = [miny] * len(xs) + [maxy] * len(xs) + ys + ys
    bad = untransformable(crs.srid, east, north)
    if bad is not None:
        x, y = east[bad], north[bad]
        shown = f"({y:g} {x:g})" if crs.swap_axes else f"({x:g} {y:g})"
        raise InvalidInput(
            f"bbox: the point {shown} lies outside EPSG:{crs.srid}, whose coordinates cannot "
            "be transformed to longitude/latitude there"
        )


def _instant(text: str, *, end: bool) -> dt.datetime | None:
    text = text.strip()
    if text in {"", ".."}:
        return None
    try:
        if len(text) == 10:
            day = dt.date.fromisoformat(text)
            moment = dt.datetime.combine(day, dt.time.max if end else dt.time.min)
            return moment.replace(tzinfo=dt.UTC)
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise InvalidInput(f"datetime: {text!r} is not an RFC 3339 date or date-time") from exc
    if moment.tzinfo is None:
        raise InvalidInput(f"datetime: {text!r} needs a time zone (e.g. Z)")
    return moment


def parse_datetime(value: str | None) -> tuple[dt.datetime | None, dt.datetime | None] | None:
    """``datetime``: an instant, or an interval ``start/end`` with ``..`` for open ends."""
    if value is None:
        return None
    if "/" in value:
        start_text, _, end_text = value.partition("/")
        start, end = _instant(start_text, end=False), _instant(end_text, end=True)
        if start is not None and end is not None and start > end:
            raise InvalidInput("datetime: the interval ends before it starts")
        return (start, end)
    instant_start = _instant(value, end=False)
    instant_end = _instant(value, end=True) if len(value.strip()) == 10 else instant_start
    if instant_start is None:
        raise InvalidInput("datetime: '..' is only allowed as an end of an interval")
    return (instant_start, instant_end)


def parse_sortby(value: str | None, collection: Collection) -> list[tuple[str, bool]]:
    """``sortby``: property names, ``-`` for descending; returns (name, descending) pairs."""
    if value is None:
        return []
    order: list[tuple[str, bool]] = []
    sortable = {p.name for p in collection.props if p.type not in {"object", "array"}}
    seen: set[str] = set()
    for raw in value.split(","):
        name = raw.strip()
        descending = name.startswith("-")
        name = name.lstrip("+-").strip()
        if name not in sortable:
            listed = ", ".join(sorted(sortable))
            raise InvalidInput(f"sortby: cannot sort by {_shorten(name)!r}; sortable: {listed}")
        # A name again adds nothing to the order (thousands of them made PostgreSQL fail).
        if name not in seen:
            seen.add(name)
            order.append((name, descending))
    return order


def parse_properties(value: str | None, collection: Collection) -> list[str] | None:
    """``properties``: which properties to return (an empty value returns none)."""
    return parse_property_names(value, {p.name for p in collection.props})


def parse_tile_properties(value: str | None, collections: Sequence[Collection]) -> list[str] | None:
    """``properties`` of a tile request, checked as items checks it.

    Raises
    ------
    InvalidInput
        When a name is not a property a tile of these collections carries.
    """
    return parse_property_names(value, set(tiles.tile_properties(collections)))


def parse_property_names(value: str | None, known: AbstractSet[str]) -> list[str] | None:
    """``properties`` checked against the names ``known`` (items and tiles share it).

    Raises
    ------
    InvalidInput
        Naming the unknown properties and the known ones.
    """
    if value is None:
        return None
    # Each name once, in the order given: repeats made one SQL argument each.
    names = list(dict.fromkeys(n.strip() for n in value.split(",") if n.strip()))
    unknown = [n for n in names if n not in known]
    if unknown:
        listed = ", ".join(repr(_shorten(n)) for n in unknown[:10])
        more = f" and {len(unknown) - 10} more" if len(unknown) > 10 else ""
        raise InvalidInput(f"properties: unknown {listed}{more}; known: {', '.join(sorted(known))}")
    return names


def _shorten(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def whole_number(value: str, maximum: int) -> int | None:
    """``value`` as a whole number from 0 to ``maximum``, or None when it is not one.

    Only ASCII digits count: ``int()`` also reads other scripts' digits ("١", "²"), signs
    and spaces, which name no feature or tile. The length is checked before ``int()``, which
    refuses strings of more than 4 300 digits with a ValueError (a 500 before, issue 17).

    Examples
    --------
    >>> whole_number("0042", 100), whole_number("101", 100), whole_number("9" * 5000, 100)
    (42, None, None)
    >>> whole_number("0" * 5000 + "7", 100), whole_number("+1", 100), whole_number("١", 100)
    (7, None, None)
    """
    if not (value.isascii() and value.isdigit()):
        return None
    digits = value.lstrip("0") or "0"
    if len(digits) > len(str(maximum)):
        return None
    number = int(digits)
    return number if number <= maximum else None


def parse_feature_id(value: str) -> int:
    """Feature ids are positive integers (PostgreSQL ``integer``).

    Raises
    ------
    NotFound
        When ``value`` is not one: a path that names no feature is a 404 (OGC API –
        Features Part 1, Table 3), not a 400 — no feature has that id.
    """
    found = whole_number(value, 2**31 - 1)
    if not found:
        raise NotFound(f"no feature {value!r}: feature ids are whole numbers from 1 to 2147483647")
    return found


def parse_history_id(value: str) -> int:
    """History entry ids are positive integers too; anything else names no entry (404)."""
    found = whole_number(value, 2**63 - 1)
    if not found:
        raise NotFound(f"no history entry {value!r}: ids are whole numbers")
    return found


def parse_tile(matrix: str, row: str, col: str) -> tiles.Tile:
    """Check a tile address (``tileMatrix/tileRow/tileCol``) against the grid.

    Raises
    ------
    NotFound
        When a part is not a whole number or lies outside the matrix. These are path parts,
        not query parameters: OGC API – Tiles Part 1 (OGC 20-057, /req/core/tc-error) answers
        a tile matrix, row or column outside the tile matrix set (or its limits) with 404,
        as OGC API – Features Part 1 (Table 3) does for any path that names no resource.
    """
    z, y, x = (whole_number(part, 2**tiles.MAX_ZOOM) for part in (matrix, row, col))
    if z is None or y is None or x is None:
        raise NotFound(
            f"no tile {matrix}/{row}/{col}: tileMatrix, tileRow and tileCol are whole numbers"
        )
    if not 0 <= z <= tiles.MAX_ZOOM:
        raise NotFound(f"no tile matrix {matrix}: tileMatrix is between 0 and {tiles.MAX_ZOOM}")
    size = 2**z
    if not (0 <= x < size and 0 <= y < size):
        raise NotFound(f"no tile {row}/{col} at zoom {z}: tileRow and tileCol are 0 to {size - 1}")
    return tiles.Tile(z, x, y)
