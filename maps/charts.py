"""Charts for the programme's indicators as plain SVG: progress bars, time series, a map.

Server-side drawings with no JavaScript and no web fonts, so that the same markup shows on
the dashboard and prints in the annual report's PDF (WeasyPrint). Every mark that carries
meaning also carries words or a shape (status in text, targets labelled, dash patterns per
line), so a greyscale print loses nothing. Every text from the records is escaped.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from geo.kernel import vocab
from geo.kernel.text import Text, number
from maps.escape import html_text

FONT = "DejaVu Sans, Arial, Helvetica, sans-serif"

TEXT: dict[str, Text] = {
    "value": Text("Giá trị {year}: {value}", "Value {year}: {value}"),
    "no_value": Text("Chưa có số liệu năm {year}", "No data for {year}"),
    "target": Text("Mục tiêu {year}: {value}", "Target {year}: {value}"),
    "expected": Text("Lộ trình {year}: {value}", "On the way in {year}: {value}"),
    "no_data": Text("Chưa có số liệu", "No data"),
    "no_polygon": Text(
        "Đơn vị chưa có ranh giới: vẽ hình tròn tại điểm nhãn",
        "Units without a boundary: drawn as a circle at their label point",
    ),
    "north": Text("Bắc", "N"),
    "target_key": Text("◇ mục tiêu", "◇ target"),
    "year": Text("Năm", "Year"),
    "ratio": Text("{value} lần", "{value}×"),
    "percent_per_year": Text("{value} %/năm", "{value} % a year"),
    "progress_title": Text("Tiến độ so với mục tiêu", "Progress against the targets"),
    "series_title": Text("Diễn biến theo năm", "Year by year"),
}

# A symbol beside each status word, so that a greyscale print still tells them apart.
STATUS_MARK = {"met": "✓", "on_track": "→", "behind": "!", "missed": "✗", "no_data": "–"}
# Okabe–Ito-like hues with distinct lightness (dark green, blue, orange, vermilion, grey).
STATUS_COLOUR = {
    "met": "#117733",
    "on_track": "#0072B2",
    "behind": "#B36200",
    "missed": "#C0392B",
    "no_data": "#8C8C8C",
}

# ColorBrewer YlGnBu: lightness falls steadily, so the classes stay in order in greyscale.
CLASS_COLOURS: dict[int, tuple[str, ...]] = {
    1: ("#2c7fb8",),
    2: ("#a1dab4", "#225ea8"),
    3: ("#edf8b1", "#7fcdbb", "#2c7fb8"),
    4: ("#ffffcc", "#a1dab4", "#41b6c4", "#225ea8"),
    5: ("#ffffcc", "#a1dab4", "#41b6c4", "#2c7fb8", "#253494"),
    6: ("#ffffcc", "#c7e9b4", "#7fcdbb", "#41b6c4", "#2c7fb8", "#253494"),
    7: ("#ffffcc", "#c7e9b4", "#7fcdbb", "#41b6c4", "#1d91c0", "#225ea8", "#0c2c84"),
}
NO_DATA_COLOUR = "#f2f2f2"
NO_DATA_EDGE = "#8c8c8c"
# Line styles of a time series, one per indicator: colour and dash (greyscale-safe).
SERIES_STYLES = (
    ("#0072B2", ""),
    ("#D55E00", "6 3"),
    ("#009E73", "2 2"),
    ("#CC79A7", "8 3 2 3"),
    ("#555555", "1 3"),
)


class TargetLike(Protocol):
    """What the charts read of a ``geo.analysis.indicators.TargetCheck``."""

    @property
    def year(self) -> int: ...
    @property
    def comparison(self) -> str: ...
    @property
    def target(self) -> float: ...
    @property
    def unit(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def expected(self) -> float | None: ...


def quantity(value: float | None, unit: str, lang: str, digits: int | None = None) -> str:
    """A value in its unit as ``lang`` writes it; "—" for no value.

    >>> quantity(85.0, "percent", "vi"), quantity(85.0, "percent", "en")
    ('85,0\\xa0%', '85.0\\xa0%')
    >>> quantity(1.5, "ratio", "vi"), quantity(12.0, "count", "en"), quantity(None, "count", "vi")
    ('1,50 lần', '12', '—')
    >>> quantity(1500.5, "percent_per_year", "vi"), quantity(2500000.0, "usd", "vi")
    ('1.500,5 %/năm', '2.500.000 USD')
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    value = float(value)
    if unit == vocab.TargetUnit.COUNT:
        shown = number(value, lang, 0 if value == round(value) else 1)
        return shown if digits is None else number(value, lang, digits)
    if unit == vocab.TargetUnit.USD:
        return f"{number(value, lang, 0 if digits is None else digits)} USD"
    text = number(value, lang, 1 if digits is None else digits)
    if unit == vocab.TargetUnit.PERCENT:
        return f"{text}\u00a0%"
    if unit == vocab.TargetUnit.RATIO:
        return TEXT["ratio"].format(value=number(value, lang, 2 if digits is None else digits))(
            lang
        )
    if unit == vocab.TargetUnit.PERCENT_PER_YEAR:
        return TEXT["percent_per_year"].format(value=text)(lang)
    return text


def target_words(target: TargetLike, lang: str) -> str:
    """A target as a sentence's piece: "Mục tiêu 2025: Ít nhất 80,0 %"."""
    value = f"{vocab.label('comparison', target.comparison, lang).lower()} " + quantity(
        target.target, target.unit, lang
    )
    return TEXT["target"].format(year=target.year, value=value)(lang)


def status_words(status: str, lang: str) -> str:
    """A status as words (``vocab`` target_status labels) with its symbol: "✓ Đạt"."""
    known = status if status in STATUS_MARK else vocab.TargetStatus.NO_DATA.value
    return f"{STATUS_MARK[known]} {vocab.label('target_status', known, lang)}"


def headline_status(targets: Sequence[TargetLike], year: int) -> str:
    """The status that speaks for the report year: the nearest target not yet past.

    >>> from types import SimpleNamespace as T
    >>> headline_status([T(year=2025, status="met"), T(year=2030, status="behind")], 2026)
    'behind'
    >>> headline_status([T(year=2025, status="missed")], 2027), headline_status([], 2026)
    ('missed', 'no_data')
    """
    if not targets:
        return "no_data"
    ahead = [t for t in targets if t.year >= year]
    chosen = min(ahead, key=lambda t: t.year) if ahead else max(targets, key=lambda t: t.year)
    return chosen.status


def _svg(width: float, height: float, body: str, label: str, css_class: str) -> str:
    # viewBox and width 100%: the drawing scales to its box on screen and on paper.
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="cm-chart {css_class}" '
        f'viewBox="0 0 {width:g} {height:g}" width="100%" role="img" '
        f'aria-label="{html_text(label)}" font-family="{FONT}" '
        f'preserveAspectRatio="xMidYMid meet" style="max-width:{width:g}px">'
        f"<title>{html_text(label)}</title>{body}</svg>"
    )


def _text(
    x: float,
    y: float,
    content: str,
    *,
    size: float = 11,
    anchor: str = "start",
    weight: str = "normal",
    fill: str = "#1f2328",
    css_class: str = "",
) -> str:
    klass = f' class="{css_class}"' if css_class else ""
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size:g}" text-anchor="{anchor}" '
        f'font-weight="{weight}" fill="{fill}"{klass}>{html_text(content)}</text>'
    )


def _anchor(x: float, left: float, right: float, half: float) -> tuple[float, str]:
    # Labels near an edge hang inwards instead of running off the drawing.
    if x - half < left:
        return left, "start"
    if x + half > right:
        return right, "end"
    return x, "middle"


def _axis_top(values: Sequence[float], unit: str) -> float:
    top = max([*values, 0.0])
    if unit == vocab.TargetUnit.PERCENT and top <= 100:
        return 100.0
    return _nice(top * 1.1) if top > 0 else 1.0


def _nice(value: float) -> float:
    """The round number (1, 2, 2.5, 5 × 10ⁿ) at or above ``value``.

    >>> _nice(87.0), _nice(0.13), _nice(1.0)
    (100.0, 0.2, 1.0)
    """
    if value <= 0:
        return 1.0
    exponent = math.floor(math.log10(value))
    for mantissa in (1.0, 2.0, 2.5, 5.0, 10.0):
        candidate = mantissa * 10.0**exponent
        if candidate >= value - 1e-12:
            return round(candidate, 12)
    return 10.0 ** (exponent + 1)


def progress_bar(
    value: float | None,
    targets: Sequence[TargetLike],
    unit: str,
    lang: str,
    *,
    year: int | None = None,
    status: str | None = None,
) -> str:
    """One bar: the value against the 2025 and 2030 targets, the way-point when there is one.

    The value is written in numbers and its status in words; 2025's target is labelled
    above the bar, 2030's below it, each with its year. ``status`` defaults to the status
    that speaks for ``year`` (``headline_status``).
    """
    width, height = 360.0, 102.0
    left, right = 8.0, width - 8.0
    bar_top, bar_height = 40.0, 16.0
    ordered = sorted(targets, key=lambda t: t.year)
    shown_year = year if year is not None else (ordered[0].year if ordered else 0)
    if status is None:
        status = headline_status(ordered, shown_year) if value is not None else "no_data"
    if value is None:
        status = "no_data"
    colour = STATUS_COLOUR.get(status, STATUS_COLOUR["no_data"])
    scale_top = _axis_top(
        [
            *(t.target for t in ordered),
            *(t.expected for t in ordered if t.expected is not None),
            *([value] if value is not None else []),
        ],
        unit,
    )

    def x_of(v: float) -> float:
        return left + (right - left) * max(0.0, min(v, scale_top)) / scale_top

    parts: list[str] = []
    headline = (
        TEXT["value"].format(year=shown_year, value=quantity(value, unit, lang))(lang)
        if value is not None
        else TEXT["no_value"].format(year=shown_year)(lang)
    )
    parts.append(_text(left, 14, headline, size=13, weight="bold", css_class="cm-value"))
    parts.append(
        _text(
            right,
            14,
            status_words(status, lang),
            size=12,
            anchor="end",
            weight="bold",
            fill=colour,
            css_class=f"cm-status cm-status-{status}",
        )
    )
    # The track, then the value's bar; no value draws no bar (never a zero).
    parts.append(
        f'<rect x="{left}" y="{bar_top}" width="{right - left:.1f}" height="{bar_height}" '
        'fill="#ffffff" stroke="#57606a" stroke-width="1"/>'
    )
    if value is not None:
        parts.append(
            f'<rect class="cm-bar" x="{left}" y="{bar_top}" '
            f'width="{x_of(value) - left:.1f}" height="{bar_height}" fill="{colour}"/>'
        )
    for index, target in enumerate(ordered[:2]):
        x = x_of(target.target)
        above = index == 0
        y1, y2 = (
            (bar_top - 6, bar_top + bar_height) if above else (bar_top, bar_top + bar_height + 6)
        )
        parts.append(
            f'<line class="cm-target" x1="{x:.1f}" x2="{x:.1f}" y1="{y1}" y2="{y2}" '
            'stroke="#1f2328" stroke-width="2.5"/>'
        )
        label = target_words(target, lang)
        lx, anchor = _anchor(x, left, right, len(label) * 2.9)
        ly = bar_top - 9 if above else bar_top + bar_height + 21
        parts.append(_text(lx, ly, label, size=10.5, anchor=anchor, css_class="cm-target-label"))
    way = [t for t in ordered if t.expected is not None]
    if way:
        # The way-point of the nearest target ahead: where the value should stand now.
        point = way[0]
        expected = float(point.expected or 0.0)
        x = x_of(expected)
        parts.append(
            f'<line class="cm-expected" x1="{x:.1f}" x2="{x:.1f}" y1="{bar_top}" '
            f'y2="{bar_top + bar_height}" stroke="#1f2328" stroke-width="1.5" '
            'stroke-dasharray="3 2"/>'
            f'<path d="M{x:.1f},{bar_top + bar_height + 1} l-4,7 h8 z" fill="#1f2328"/>'
        )
        label = TEXT["expected"].format(
            year=shown_year, value=quantity(expected, point.unit, lang)
        )(lang)
        lx, anchor = _anchor(x, left, right, len(label) * 2.9)
        parts.append(_text(lx, 96, label, size=10, anchor=anchor, css_class="cm-expected-label"))
    description = "; ".join(
        [headline, status_words(status, lang), *(target_words(t, lang) for t in ordered)]
    )
    return _svg(width, height, "".join(parts), description, "cm-progress")


def _ticks(top: float, count: int = 4, *, whole: bool = False) -> list[float]:
    """Axis ticks from 0 to ``top``; ``whole`` (counts) keeps them whole numbers.

    >>> _ticks(10.0), _ticks(10.0, whole=True)
    ([0.0, 2.5, 5.0, 7.5, 10.0], [0.0, 5.0, 10.0])
    """
    step = _nice(top / count)
    if whole and step != round(step):
        step = float(math.ceil(step))
        step = next(s for s in (1.0, 2.0, 5.0, 10.0) if s >= step) if step < 10 else step
    return [step * i for i in range(int(top / step + 1e-9) + 1)]


def time_series(
    series: Mapping[str, Sequence[tuple[int, float | None]]],
    targets: Sequence[TargetLike] | Mapping[str, Sequence[TargetLike]],
    unit: str,
    lang: str,
) -> str:
    """A line per indicator over the years with data; a year without data is a gap.

    ``series`` maps an indicator code to its (year, value) pairs; ``targets`` are the
    targets of the one indicator drawn, or a mapping of them per indicator. The x axis runs
    to the last target year, each target drawn as a labelled diamond at its year.
    Each point is a ``circle.cm-point``.
    """
    target_map: dict[str, Sequence[TargetLike]] = (
        {code: list(t) for code, t in targets.items()}
        if isinstance(targets, Mapping)
        else {code: list(targets) for code in series}
    )
    all_targets = [t for ts in target_map.values() for t in ts]
    width, height = 360.0, 220.0 + 16.0 * max(0, len(series) - 1)
    left, right, top, bottom = 50.0, width - 14.0, 26.0, 176.0
    years = sorted({y for pairs in series.values() for y, _ in pairs})
    values = [float(v) for pairs in series.values() for _, v in pairs if v is not None]
    title = TEXT["series_title"](lang)
    if not years:
        body = _text(width / 2, height / 2, TEXT["no_data"](lang), size=13, anchor="middle")
        return _svg(width, height, body, title, "cm-series")
    # The axis runs over the years with data and the target years, so a target before the
    # first year with data is still drawn at its year.
    first = min([*years, *(t.year for t in all_targets)])
    last = max([*years, *(t.year for t in all_targets)])
    if last == first:
        last = first + 1
    scale_top = _axis_top([*values, *(t.target for t in all_targets)], unit)

    def x_of(year: float) -> float:
        return left + (right - left) * (year - first) / (last - first)

    def y_of(v: float) -> float:
        return bottom - (bottom - top) * max(0.0, min(v, scale_top)) / scale_top

    parts: list[str] = []
    ticks = _ticks(scale_top, whole=unit == vocab.TargetUnit.COUNT)
    # Whole ticks (counts, most percents) need no decimals.
    digits = 0 if all(t == round(t) for t in ticks) else (1 if scale_top >= 1 else 2)
    for tick in ticks:
        y = y_of(tick)
        parts.append(
            f'<line x1="{left}" x2="{right}" y1="{y:.1f}" y2="{y:.1f}" stroke="#d0d7de" '
            'stroke-width="1"/>'
        )
        parts.append(
            _text(left - 4, y + 4, quantity(tick, unit, lang, digits), size=10, anchor="end")
        )
    span = last - first
    every = 1 if span <= 10 else (2 if span <= 20 else 5)
    for year in range(first, last + 1):
        if (year - first) % every and year not in years:
            continue
        x = x_of(year)
        parts.append(
            f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{bottom}" y2="{bottom + 4}" stroke="#57606a"/>'
        )
        parts.append(_text(x, bottom + 16, str(year), size=10, anchor="middle"))
    parts.append(f'<line x1="{left}" x2="{right}" y1="{bottom}" y2="{bottom}" stroke="#57606a"/>')
    for index, (code, pairs) in enumerate(series.items()):
        colour, dash = SERIES_STYLES[index % len(SERIES_STYLES)]
        dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
        # Runs of consecutive years with data; a missing year breaks the line.
        runs: list[list[tuple[int, float]]] = []
        previous: int | None = None
        for year, v in sorted(pairs):
            if v is None:
                previous = None
                continue
            if previous is None or year != previous + 1 or not runs:
                runs.append([])
            runs[-1].append((year, float(v)))
            previous = year
        for run in runs:
            if len(run) > 1:
                points = " ".join(f"{x_of(y):.1f},{y_of(v):.1f}" for y, v in run)
                parts.append(
                    f'<polyline class="cm-line" points="{points}" fill="none" '
                    f'stroke="{colour}" stroke-width="2"{dash_attr}/>'
                )
            for y, v in run:
                parts.append(
                    f'<circle class="cm-point" cx="{x_of(y):.1f}" cy="{y_of(v):.1f}" r="3.5" '
                    f'fill="{colour}"><title>{y}: {html_text(quantity(v, unit, lang))}</title>'
                    "</circle>"
                )
        for target in target_map.get(code, ()):
            x, y = x_of(target.year), y_of(target.target)
            parts.append(
                f'<path class="cm-target-mark" d="M{x:.1f},{y - 6:.1f} l6,6 l-6,6 l-6,-6 z" '
                f'fill="#ffffff" stroke="{colour}" stroke-width="2"/>'
            )
            label = f"{target.year}: {quantity(target.target, target.unit, lang)}"
            lx, anchor = _anchor(x, left, right, len(label) * 2.8)
            parts.append(_text(lx, y - 9, label, size=10, anchor=anchor))
        if len(series) > 1:
            ly = bottom + 34 + 16 * index
            parts.append(
                f'<line x1="{left}" x2="{left + 24}" y1="{ly - 4}" y2="{ly - 4}" '
                f'stroke="{colour}" stroke-width="2"{dash_attr}/>'
            )
            parts.append(_text(left + 30, ly, vocab.label("indicator", code, lang), size=10))
    key = TEXT["target_key"](lang)
    parts.append(
        _text(right, bottom + 34 + 16 * max(0, len(series) - 1), key, size=10, anchor="end")
    )
    described = "; ".join(
        f"{vocab.label('indicator', code, lang)}: "
        + ", ".join(f"{y} {quantity(v, unit, lang)}" for y, v in pairs)
        for code, pairs in series.items()
    )
    return _svg(width, height, "".join(parts), f"{title}. {described}", "cm-series")


@dataclass(frozen=True)
class Classes:
    """Class breaks and the class of each value; ``None`` is the "no data" class.

    ``breaks`` are the classes' upper bounds, ascending; ``lows`` the smallest value in
    each class, so that a legend's ranges never overlap ("0 %", "100 %", not "0 – 100 %").
    """

    breaks: tuple[float, ...]
    lows: tuple[float, ...]
    classes: tuple[int | None, ...]
    scheme: str

    @property
    def k(self) -> int:
        """How many classes there are."""
        return len(self.breaks)

    def colours(self) -> tuple[str, ...]:
        """One fill per class, light to dark."""
        return CLASS_COLOURS.get(self.k, CLASS_COLOURS[5]) if self.k else ()

    def colour(self, klass: int | None) -> str:
        """The fill of a class; "no data" is a pale grey."""
        return NO_DATA_COLOUR if klass is None else self.colours()[klass]

    def ranges(self, unit: str, lang: str) -> list[str]:
        """Each class's range as the page writes numbers: "12,5 – 30,0 %"."""
        out = []
        for lower, upper in zip(self.lows, self.breaks, strict=True):
            low = quantity(lower, unit, lang)
            high = quantity(upper, unit, lang)
            out.append(high if low == high else f"{_bare(low, high)} – {high}")
        return out


def _bare(low: str, high: str) -> str:
    # "12,5 % – 30,0 %" reads better as "12,5 – 30,0 %": drop the unit the two share.
    for suffix in ("\u00a0%", " %/năm", " % a year", " lần", " USD", "×"):
        if low.endswith(suffix) and high.endswith(suffix):
            return low[: -len(suffix)]
    return low


def classify(values: Sequence[Any], k: int = 5, scheme: str = "FisherJenks") -> Classes:
    """Class breaks by mapclassify and each value's class; None and NaN stay "no data".

    Fewer distinct values than ``k`` give as many classes as there are values.

    >>> c = classify([10.0, None, 80.0, 20.0, 90.0], k=2)
    >>> c.breaks, c.classes
    ((20.0, 90.0), (0, None, 1, 0, 1))
    >>> classify([5.0, 5.0, None]).classes, classify([None]).breaks
    ((0, 0, None), ())
    """
    import mapclassify  # type: ignore[import-untyped]

    present = [
        None if v is None or (isinstance(v, float) and math.isnan(v)) else float(v) for v in values
    ]
    known = np.array([v for v in present if v is not None], dtype=float)
    if not len(known):
        return Classes((), (), tuple(None for _ in present), scheme)
    distinct = np.unique(known)
    count = max(1, min(int(k), len(distinct)))
    if count == 1:
        breaks: tuple[float, ...] = (float(distinct[-1]),)
    else:
        with warnings.catch_warnings():
            # mapclassify says it runs without numba: true, and of no use to anyone here.
            warnings.simplefilter("ignore", UserWarning)
            classifier = getattr(mapclassify, scheme)(known, k=count)
        breaks = tuple(float(b) for b in classifier.bins)
    classes: list[int | None] = []
    for v in present:
        if v is None:
            classes.append(None)
            continue
        index = next((i for i, b in enumerate(breaks) if v <= b + 1e-9), len(breaks) - 1)
        classes.append(index)
    lows = tuple(
        min(v for v, k in zip(present, classes, strict=True) if k == i and v is not None)
        if i in classes
        else breaks[i]
        for i in range(len(breaks))
    )
    return Classes(breaks, lows, tuple(classes), scheme)


def svg_choropleth(
    frame: Any,
    classes: Classes,
    lang: str,
    title: str,
    *,
    unit: str = "count",
    value_column: str = "value",
) -> str:
    """A static map of the units (from ``unit_frame``), coloured by ``classes``.

    Units without a polygon are circles at their label point. The legend lists the
    class ranges in the page's number format and the "no data" class; a north arrow and
    a scale bar sit in the corners. Lon/lat are drawn in an equirectangular projection
    scaled by the cosine of the middle latitude (true enough for a province).
    """
    width, height = 640.0, 520.0
    map_left, map_top, map_right, map_bottom = 10.0, 40.0, 440.0, 500.0
    parts: list[str] = [_text(10, 24, title, size=15, weight="bold", css_class="cm-map-title")]
    geometries = [g for g in frame.geometry if g is not None and not g.is_empty]
    drawn_circle = False
    if geometries:
        minx = min(g.bounds[0] for g in geometries)
        miny = min(g.bounds[1] for g in geometries)
        maxx = max(g.bounds[2] for g in geometries)
        maxy = max(g.bounds[3] for g in geometries)
        pad = max(maxx - minx, maxy - miny, 0.01) * 0.04
        minx, miny, maxx, maxy = minx - pad, miny - pad, maxx + pad, maxy + pad
        kx = math.cos(math.radians((miny + maxy) / 2))
        span_x, span_y = (maxx - minx) * kx, maxy - miny
        scale = min((map_right - map_left) / span_x, (map_bottom - map_top) / span_y)
        off_x = map_left + ((map_right - map_left) - span_x * scale) / 2
        off_y = map_top + ((map_bottom - map_top) - span_y * scale) / 2

        def xy(lon: float, lat: float) -> str:
            return f"{off_x + (lon - minx) * kx * scale:.1f},{off_y + (maxy - lat) * scale:.1f}"

        def rings(geometry: Any) -> str:
            polygons = geometry.geoms if geometry.geom_type == "MultiPolygon" else [geometry]
            path = []
            for polygon in polygons:
                for ring in (polygon.exterior, *polygon.interiors):
                    coords = list(ring.coords)
                    path.append("M" + " L".join(xy(x, y) for x, y, *_ in coords) + " Z")
            return " ".join(path)

        polygons, circles = [], []
        for (_, row), klass in zip(frame.iterrows(), classes.classes, strict=False):
            geometry = row.geometry
            if geometry is None or geometry.is_empty:
                continue
            fill = classes.colour(klass)
            value = row.get(value_column)
            tip = f"{row.get('name', '')}: " + (
                quantity(float(value), unit, lang)
                if value is not None and not (isinstance(value, float) and math.isnan(value))
                else TEXT["no_data"](lang)
            )
            tooltip = f"<title>{html_text(tip)}</title>"
            stroke = NO_DATA_EDGE if klass is None else "#ffffff"
            dash = ' stroke-dasharray="3 2"' if klass is None else ""
            if geometry.geom_type in {"Polygon", "MultiPolygon"}:
                polygons.append(
                    f'<path class="cm-unit" d="{rings(geometry)}" fill="{fill}" '
                    f'stroke="{stroke}" stroke-width="0.8"{dash} fill-rule="evenodd">'
                    f"{tooltip}</path>"
                )
            else:
                point = geometry if geometry.geom_type == "Point" else geometry.centroid
                cx, cy = xy(point.x, point.y).split(",")
                drawn_circle = True
                circles.append(
                    f'<circle class="cm-unit cm-unit-point" cx="{cx}" cy="{cy}" r="6" '
                    f'fill="{fill}" stroke="#1f2328" stroke-width="1">{tooltip}</circle>'
                )
        parts.extend(polygons)
        parts.extend(circles)
        # Scale bar: a round length about a quarter of the map's width.
        km_per_px = 111.32 / scale
        length_km = _nice(km_per_px * (map_right - map_left) / 4 * 0.8)
        bar_px = length_km / km_per_px
        bx, by = map_left + 6, map_bottom - 8
        parts.append(
            f'<rect x="{bx:.1f}" y="{by - 5:.1f}" width="{bar_px / 2:.1f}" height="5" '
            'fill="#1f2328"/>'
            f'<rect x="{bx + bar_px / 2:.1f}" y="{by - 5:.1f}" width="{bar_px / 2:.1f}" '
            'height="5" fill="#ffffff" stroke="#1f2328" stroke-width="1"/>'
        )
        parts.append(_text(bx, by - 9, "0", size=9, anchor="middle"))
        parts.append(
            _text(
                bx + bar_px,
                by - 9,
                f"{number(length_km, lang, 0 if length_km >= 1 else 1)} km",
                size=9,
                anchor="middle",
                css_class="cm-scale",
            )
        )
    else:
        parts.append(_text(map_left + 10, map_top + 30, TEXT["no_data"](lang), size=13))
    # North arrow, top right of the map area.
    nx, ny = map_right - 18, map_top + 8
    parts.append(
        f'<g class="cm-north"><path d="M{nx},{ny} l8,22 l-8,-6 l-8,6 z" fill="#1f2328"/>'
        + _text(nx, ny + 36, TEXT["north"](lang), size=12, anchor="middle", weight="bold")
        + "</g>"
    )
    # Legend, right of the map.
    lx, ly = 456.0, 60.0
    parts.append(_text(lx, ly, vocab.label("target_unit", unit, lang), size=11, weight="bold"))
    entries = list(zip(classes.colours(), classes.ranges(unit, lang), strict=False))
    for index, (colour, text) in enumerate(entries):
        y = ly + 12 + index * 22
        parts.append(
            f'<rect class="cm-legend-swatch" x="{lx}" y="{y}" width="18" height="14" '
            f'fill="{colour}" stroke="#57606a" stroke-width="0.8"/>'
        )
        parts.append(_text(lx + 24, y + 11, text, size=10.5, css_class="cm-legend-range"))
    y = ly + 12 + len(entries) * 22
    parts.append(
        f'<rect x="{lx}" y="{y}" width="18" height="14" fill="{NO_DATA_COLOUR}" '
        f'stroke="{NO_DATA_EDGE}" stroke-width="1" stroke-dasharray="3 2"/>'
    )
    parts.append(_text(lx + 24, y + 11, TEXT["no_data"](lang), size=10.5))
    if drawn_circle:
        y += 24
        parts.append(f'<circle cx="{lx + 9}" cy="{y + 7}" r="6" fill="#ffffff" stroke="#1f2328"/>')
        for row_index, line in enumerate(_wrap(TEXT["no_polygon"](lang), 26)):
            parts.append(_text(lx + 24, y + 11 + row_index * 13, line, size=9.5))
    return _svg(width, height, "".join(parts), title, "cm-choropleth")


def _wrap(text: str, width: int) -> list[str]:
    """Words in lines of at most ``width`` characters (SVG text does not wrap).

    >>> _wrap("a bb ccc dddd", 6)
    ['a bb', 'ccc', 'dddd']
    """
    lines: list[str] = []
    for word in text.split():
        if lines and len(lines[-1]) + 1 + len(word) <= width:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return lines
