"""The programme's indicators, computed from the villages' records (issue 16 point 2).

Pure computations on frames (no database): ``geo.workflows.indicators`` reads the records
and calls them. The rules, one place:

**Crafts and villages.** ``kind = traditional_craft`` is a craft (nghề truyền thống);
``craft_village`` and ``traditional_craft_village`` are villages. ``crafts_*`` indicators
count crafts, ``villages_*`` villages; ``share_villages_ocop`` is about traditional craft
villages only. The other shares and the tourism count follow the wording of the target's
``note`` in the programme file (`scope_kinds`): a note naming crafts ("crafts and villages
operating effectively", 4182) counts both kinds; one naming villages only ("villages
operating effectively", 801) counts villages; a note naming neither ("workers trained")
counts every record.

**In scope in year Y.** Recognised by Y (a record whose recognition year is unknown counts
as existing) and not ``revoked``. ``in_scope`` is that number of records of the
indicator's kinds.

**Restored / recognised.** Events in the programme period, 2021 through Y:
``restored_year`` and the recognition year (``recognition_year``, else the year of
``recognition_date``). ``*_restored_or_recognised`` counts a record once. A record not
counted lacks data (``missing``) when it could have been: its status is ``restored`` but
it has no ``restored_year``, or (for the recognised counts) its recognition year is
unknown.

**Yearly facts of village v for year Y** (`year_frame`): the ``village_stat`` row (v, Y)
where it holds the value; else, only when Y is the current year, the village record's own
field where it has one (the record describes the present), counted in ``from_record``;
else unknown. An older year is never carried forward.

**Shares.** The denominator is the records with known data; ``missing`` says how many lack
it; ``value`` is None when none has it (never 0 for unknown).
``share_workers_trained`` = Σ trained / Σ workers over the records with both;
``share_ocop`` = Σ ocop_establishments / Σ establishments over the records with both;
``share_villages_ocop`` = traditional craft villages with ``ocop_products`` ≥ 1 over those
with a known count. Shares are percents (0–100).

**Growth and income** (matched panels, so a village reporting in one year only cannot
move the figure): ``production_value_growth`` (percent per year) is the compound growth of
the villages with a production value in both 2020 and Y,
``((Σ V_Y / Σ V_2020) ** (1 / (Y − 2020)) − 1) × 100``; the mean of per-village rates would
let a small village's doubling outweigh a large one's standstill, and sums over different
village sets measure who reported, not growth. ``income_vs_2020`` (ratio) is the
worker-weighted mean monthly income in Y over that in 2020, on the villages with income
and workers in both years: the average worker's income, not the average village's.

**Exports** (``exports_usd``) is the sum over the records with a known figure (a lower
bound while any is missing).

**Target checks** (`check_target`). For a target year T ≤ Y the comparison, applied to
the value *of year T* (`judge_past_targets`; ``judged_year``/``judged_value`` say which),
decides ``met`` or ``missed`` (``about`` = within 10 % of the target or above it). For T > Y,
counts follow a pro-rata path from the 2020 baseline, ``expected = target × (Y − 2020) /
(T − 2020)``: ``on_track`` when the value has reached it, else ``behind``; shares, ratios,
growth and exports (a yearly flow) are compared with the target itself: ``on_track`` when
it already holds, else ``behind``. ``no_data`` when the value is None. Per unit only
shares, ratios and growth are checked: counts and exports are the province's (or the
country's) targets.

Examples
--------
>>> check = check_target(
...     4.0, Target("villages_tourism_linked", 2030, "at_least", 10.0, "count"), 2026
... )
>>> check.status, check.expected
('behind', 6.0)
>>> check_target(9.2, Target("production_value_growth", 2025, "about", 10.0, "percent_per_year"),
...              2025).status
'met'
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from geo.kernel import vocab

if TYPE_CHECKING:
    import pandas as pd

BASE_YEAR = 2020
PERIOD_START = 2021
ABOUT_TOLERANCE = 0.10

CRAFTS = frozenset({vocab.VillageKind.TRADITIONAL_CRAFT.value})
VILLAGES = frozenset(
    {vocab.VillageKind.CRAFT_VILLAGE.value, vocab.VillageKind.TRADITIONAL_CRAFT_VILLAGE.value}
)
TRADITIONAL_VILLAGES = frozenset({vocab.VillageKind.TRADITIONAL_CRAFT_VILLAGE.value})
ALL_KINDS = CRAFTS | VILLAGES

# The yearly facts of ``village_stat``; those the village record also holds (its present).
FACTS = (
    "operating_effectively",
    "tourism_linked",
    "establishments",
    "ocop_establishments",
    "ocop_products",
    "ip_protected",
    "env_plan",
    "workers",
    "trained_workers",
    "production_value_vnd",
    "avg_income_vnd_month",
    "exports_usd",
)
RECORD_FACTS = (
    "operating_effectively",
    "tourism_linked",
    "ocop_products",
    "ip_protected",
    "env_plan",
    "workers",
    "trained_workers",
)
# The target units checked per unit; counts and exports are the province's (country's) targets.
UNIT_CHECKED = frozenset(
    {
        vocab.TargetUnit.PERCENT.value,
        vocab.TargetUnit.RATIO.value,
        vocab.TargetUnit.PERCENT_PER_YEAR.value,
    }
)
# Base-year (2020) facts the growth and income panels need.
BASE_FACTS = ("production_value_vnd", "avg_income_vnd_month", "workers")

_I = vocab.Indicator
COUNT_INDICATORS = (
    _I.CRAFTS_RESTORED,
    _I.VILLAGES_RESTORED,
    _I.CRAFTS_RECOGNISED,
    _I.VILLAGES_RECOGNISED,
    _I.CRAFTS_RESTORED_OR_RECOGNISED,
    _I.VILLAGES_RESTORED_OR_RECOGNISED,
    _I.VILLAGES_TOURISM_LINKED,
)
UNITS: dict[str, str] = {
    **{code.value: vocab.TargetUnit.COUNT.value for code in COUNT_INDICATORS},
    _I.SHARE_EFFECTIVE: vocab.TargetUnit.PERCENT.value,
    _I.SHARE_WORKERS_TRAINED: vocab.TargetUnit.PERCENT.value,
    _I.SHARE_OCOP: vocab.TargetUnit.PERCENT.value,
    _I.SHARE_VILLAGES_OCOP: vocab.TargetUnit.PERCENT.value,
    _I.SHARE_IP_PROTECTED: vocab.TargetUnit.PERCENT.value,
    _I.SHARE_ENV_PLAN: vocab.TargetUnit.PERCENT.value,
    _I.PRODUCTION_VALUE_GROWTH: vocab.TargetUnit.PERCENT_PER_YEAR.value,
    _I.INCOME_VS_2020: vocab.TargetUnit.RATIO.value,
    _I.EXPORTS_USD: vocab.TargetUnit.USD.value,
}


# -- the shared contract -------------------------------------------------------------------
@dataclass(frozen=True)
class TargetCheck:
    """One target of an indicator against the report year's value."""

    year: int  # the target's year: 2025 or 2030
    comparison: str  # vocab.Comparison value: at_least | more_than | about
    target: float  # the target's value in its unit (percent 0-100, ratio, count, ...)
    unit: str  # vocab.TargetUnit value
    status: str  # vocab.TargetStatus value: met | on_track | behind | missed | no_data
    expected: float | None  # where the report year should be on the pro-rata path (counts)
    # A target year already past is judged on that year's value, not the report year's:
    # six villages recognised by 2026 do not show that five were by 2025.
    judged_year: int | None = None
    judged_value: float | None = None


@dataclass(frozen=True)
class IndicatorValue:
    """One indicator's value for a year, over the province or one unit."""

    indicator: str  # vocab.Indicator value
    unit: str  # vocab.TargetUnit value the value is expressed in
    value: float | None  # None when no record in scope has the data it needs
    numerator: float | None
    denominator: float | None
    in_scope: int  # records the indicator is about in that year
    with_data: int
    missing: int  # in_scope - with_data: records lacking the data it needs
    from_record: int  # values taken from the village record (current year only)
    targets: tuple[TargetCheck, ...]  # the programme's targets for it (2025, 2030)


@dataclass(frozen=True)
class UnitIndicators:
    """The indicators of one commune (post-2025) or old district (historical grouping)."""

    level: str  # "commune" | "district"
    scheme: str  # admin_unit.scheme, e.g. "NQ1686/2025" or "legacy"
    code: str
    name: str
    villages: int  # records in scope in this unit (0: values are None)
    values: dict[str, IndicatorValue]  # keyed by indicator code


@dataclass(frozen=True)
class IndicatorReport:
    """A programme's indicators for a year: the province, its units and the yearly series."""

    programme_code: str
    programme_title: str
    year: int
    province_code: str | None
    province: dict[str, IndicatorValue]  # ordered as the programme's targets
    units: dict[str, list[UnitIndicators]]  # {"commune": [...], "district": [...]} by name
    years_with_data: tuple[int, ...]  # years with village_stat rows (plus the current year)
    series: dict[str, list[tuple[int, float | None]]]  # province value per year
    today: str = ""  # ISO date the report was computed on (the current-year rule)


# -- targets and their checks -------------------------------------------------------------
@dataclass(frozen=True)
class Target:
    """One programme target as the analysis needs it."""

    indicator: str
    year: int
    comparison: str
    value: float
    unit: str
    note: str | None = None


def holds(value: float, comparison: str, target: float) -> bool:
    """Whether ``value`` satisfies ``comparison`` against ``target``.

    >>> holds(9.0, "about", 10.0), holds(8.9, "about", 10.0), holds(80.0, "more_than", 80.0)
    (True, False, False)
    """
    if comparison == vocab.Comparison.MORE_THAN:
        return value > target
    if comparison == vocab.Comparison.ABOUT:
        return value >= target * (1 - ABOUT_TOLERANCE) - 1e-9
    return value >= target - 1e-9


def check_target(value: float | None, target: Target, year: int) -> TargetCheck:
    """The status of ``target`` in report year ``year`` (see the module's rules)."""
    expected: float | None = None
    if target.year > year and target.unit == vocab.TargetUnit.COUNT:
        span = target.year - BASE_YEAR
        expected = target.value * max(year - BASE_YEAR, 0) / span if span > 0 else target.value
    if value is None:
        status = vocab.TargetStatus.NO_DATA
    elif target.year <= year:
        met = holds(value, target.comparison, target.value)
        status = vocab.TargetStatus.MET if met else vocab.TargetStatus.MISSED
    elif expected is not None:
        ahead = value >= expected - 1e-9
        status = vocab.TargetStatus.ON_TRACK if ahead else vocab.TargetStatus.BEHIND
    else:
        ahead = holds(value, target.comparison, target.value)
        status = vocab.TargetStatus.ON_TRACK if ahead else vocab.TargetStatus.BEHIND
    return TargetCheck(
        year=target.year,
        comparison=target.comparison,
        target=target.value,
        unit=target.unit,
        status=status.value,
        expected=expected,
    )


def nearest_target(checks: Sequence[TargetCheck], year: int) -> TargetCheck | None:
    """The first target not yet past in ``year``, else the latest one (a map's status)."""
    ordered = sorted(checks, key=lambda check: check.year)
    for check in ordered:
        if check.year >= year:
            return check
    return ordered[-1] if ordered else None


def scope_kinds(indicator: str, note: str | None) -> frozenset[str]:
    """The record kinds an indicator counts (see the module's rules).

    >>> sorted(scope_kinds("share_effective", "crafts and villages operating effectively"))
    ['craft_village', 'traditional_craft', 'traditional_craft_village']
    >>> sorted(scope_kinds("share_effective", "villages operating effectively"))
    ['craft_village', 'traditional_craft_village']
    """
    if indicator.startswith("crafts_"):
        return CRAFTS
    if indicator == _I.SHARE_VILLAGES_OCOP:
        return TRADITIONAL_VILLAGES
    if indicator.startswith("villages_") and indicator != _I.VILLAGES_TOURISM_LINKED:
        return VILLAGES
    # The note's own words, before any "(…)" remark on where the figure came from.
    words = (note or "").lower().split(" (")[0]
    if "crafts" in words.replace(",", " ").split():
        return ALL_KINDS
    if "villages" in words:
        return VILLAGES
    return ALL_KINDS


@dataclass(frozen=True)
class IndicatorSpec:
    """An indicator as a programme asks for it: its kinds and its targets."""

    indicator: str
    unit: str
    kinds: frozenset[str]
    targets: tuple[Target, ...] = field(default=())


def specs_of(targets: Sequence[Target]) -> list[IndicatorSpec]:
    """One spec per indicator, in the order the targets are given."""
    grouped: dict[str, list[Target]] = {}
    for target in targets:
        grouped.setdefault(target.indicator, []).append(target)
    specs = []
    for indicator, own in grouped.items():
        note = next((t.note for t in own if t.note), None)
        unit = UNITS.get(indicator, own[0].unit)
        specs.append(
            IndicatorSpec(
                indicator,
                unit,
                scope_kinds(indicator, note),
                tuple(sorted(own, key=lambda t: t.year)),
            )
        )
    return specs


# -- the yearly frame ------------------------------------------------------------------------
def year_frame(
    records: pd.DataFrame, stats: pd.DataFrame, *, year: int, current_year: int
) -> pd.DataFrame:
    """One row per record with its facts for ``year`` and its 2020 base facts.

    ``records``: one row per village (index ``id``; ``kind``, ``status``,
    ``recognised_year``, ``restored_year``, the record's own facts `RECORD_FACTS`, any unit
    keys). ``stats``: ``village_stat`` rows (``village_id``, ``year``, `FACTS`).
    Adds, per fact, the value for ``year`` (booleans as 1.0/0.0, unknown NaN) and
    ``<fact>_rec`` (taken from the record), and ``<fact>_base`` for `BASE_FACTS`.
    """
    import pandas as pd

    frame = records.copy()
    own = stats[stats["year"] == year].set_index("village_id")
    base = stats[stats["year"] == BASE_YEAR].set_index("village_id")
    for fact in FACTS:
        values = _numeric(own[fact]).reindex(frame.index) if fact in own else _nan(frame)
        from_record = pd.Series(False, index=frame.index)
        if year == current_year and fact in RECORD_FACTS and fact in frame:
            record = _numeric(frame[fact])
            from_record = values.isna() & record.notna()
            values = values.where(values.notna(), record)
        frame[f"{fact}_y"] = values
        frame[f"{fact}_rec"] = from_record
    for fact in BASE_FACTS:
        frame[f"{fact}_base"] = (
            _numeric(base[fact]).reindex(frame.index) if fact in base else _nan(frame)
        )
    return frame


def _numeric(series: pd.Series) -> pd.Series:
    import pandas as pd

    if series.dtype == "float64":
        return series
    return pd.to_numeric(series.astype("object"), errors="coerce").astype("float64")


def _nan(frame: pd.DataFrame) -> pd.Series:
    import pandas as pd

    return pd.Series(np.nan, index=frame.index, dtype="float64")


# -- per-record contributions and their sums ----------------------------------------------
# Each indicator becomes, per record, five columns: in scope, has data, from the record,
# and up to four sums; the province and every unit are then one groupby-sum each, so a
# whole country's units cost one pass, not one computation per unit.
SUMS = ("s1", "s2", "s3", "s4")


@dataclass(frozen=True)
class _Parts:
    scope: pd.Series
    data: pd.Series
    rec: pd.Series
    sums: tuple[pd.Series, ...]


Finisher = Callable[[list[np.ndarray], np.ndarray], tuple[np.ndarray, ...]]


def _in_scope(frame: pd.DataFrame, kinds: frozenset[str], year: int) -> pd.Series:
    recognised = frame["recognised_year"]
    return (
        frame["kind"].isin(kinds)
        & (frame["status"] != vocab.VillageStatus.REVOKED.value)
        & (recognised.isna() | (recognised <= year))
    )


def _in_period(years: pd.Series, year: int) -> pd.Series:
    return years.notna() & (years >= PERIOD_START) & (years <= year)


def _event_count(
    frame: pd.DataFrame, scope: pd.Series, year: int, *, restored: bool, recognised: bool
) -> _Parts:
    import pandas as pd

    counted = pd.Series(False, index=frame.index)
    unknown = pd.Series(False, index=frame.index)
    if restored:
        counted |= _in_period(frame["restored_year"], year)
        unknown |= (frame["status"] == vocab.VillageStatus.RESTORED.value) & frame[
            "restored_year"
        ].isna()
    if recognised:
        counted |= _in_period(frame["recognised_year"], year)
        unknown |= frame["recognised_year"].isna()
    data = scope & (counted | ~unknown)
    return _Parts(scope, data, _false(frame), (_ones(frame, scope & counted),))


def _flag_count(frame: pd.DataFrame, scope: pd.Series, fact: str) -> _Parts:
    values = frame[f"{fact}_y"]
    data = scope & values.notna()
    return _Parts(scope, data, data & frame[f"{fact}_rec"], (_ones(frame, data & (values > 0)),))


def _flag_share(frame: pd.DataFrame, scope: pd.Series, fact: str) -> _Parts:
    values = frame[f"{fact}_y"]
    data = scope & values.notna()
    return _Parts(
        scope,
        data,
        data & frame[f"{fact}_rec"],
        (_ones(frame, data & (values > 0)), _ones(frame, data)),
    )


def _ratio_share(frame: pd.DataFrame, scope: pd.Series, part: str, whole: str) -> _Parts:
    top, bottom = frame[f"{part}_y"], frame[f"{whole}_y"]
    data = scope & top.notna() & bottom.notna()
    rec = data & (frame[f"{part}_rec"] | frame[f"{whole}_rec"])
    return _Parts(scope, data, rec, (top.where(data, 0.0), bottom.where(data, 0.0)))


def _growth(frame: pd.DataFrame, scope: pd.Series) -> _Parts:
    now, then = frame["production_value_vnd_y"], frame["production_value_vnd_base"]
    data = scope & now.notna() & then.notna()
    rec = data & frame["production_value_vnd_rec"]
    return _Parts(scope, data, rec, (now.where(data, 0.0), then.where(data, 0.0)))


def _income(frame: pd.DataFrame, scope: pd.Series) -> _Parts:
    income, workers = frame["avg_income_vnd_month_y"], frame["workers_y"]
    income0, workers0 = frame["avg_income_vnd_month_base"], frame["workers_base"]
    data = scope & income.notna() & workers.notna() & income0.notna() & workers0.notna()
    rec = data & (frame["avg_income_vnd_month_rec"] | frame["workers_rec"])
    return _Parts(
        scope,
        data,
        rec,
        (
            (income * workers).where(data, 0.0),
            workers.where(data, 0.0),
            (income0 * workers0).where(data, 0.0),
            workers0.where(data, 0.0),
        ),
    )


def _sum(frame: pd.DataFrame, scope: pd.Series, fact: str) -> _Parts:
    values = frame[f"{fact}_y"]
    data = scope & values.notna()
    return _Parts(scope, data, data & frame[f"{fact}_rec"], (values.where(data, 0.0),))


def _ones(frame: pd.DataFrame, mask: pd.Series) -> pd.Series:
    return mask.astype("float64").reindex(frame.index)


def _false(frame: pd.DataFrame) -> pd.Series:
    import pandas as pd

    return pd.Series(False, index=frame.index)


# Finishers turn the summed columns of every group at once (numpy arrays, one entry per
# group) into (value, numerator, denominator), NaN where there is none.
def _finish_count(sums: list[np.ndarray], with_data: np.ndarray) -> tuple[np.ndarray, ...]:
    value = np.where(with_data > 0, sums[0], np.nan)
    return value, value, np.full_like(value, np.nan)


def _finish_share(sums: list[np.ndarray], with_data: np.ndarray) -> tuple[np.ndarray, ...]:
    top = np.where(with_data > 0, sums[0], np.nan)
    bottom = np.where(with_data > 0, sums[1], np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        value = np.where(bottom > 0, 100.0 * top / bottom, np.nan)
    return value, top, bottom


def _finisher_growth(year: int) -> Finisher:
    def finish(sums: list[np.ndarray], with_data: np.ndarray) -> tuple[np.ndarray, ...]:
        now = np.where(with_data > 0, sums[0], np.nan)
        then = np.where(with_data > 0, sums[1], np.nan)
        if year <= BASE_YEAR:
            return np.full_like(now, np.nan), now, then
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(then > 0, now / then, np.nan)
            value = (np.power(ratio, 1.0 / (year - BASE_YEAR)) - 1.0) * 100.0
        return value, now, then

    return finish


def _finish_income(sums: list[np.ndarray], with_data: np.ndarray) -> tuple[np.ndarray, ...]:
    paid, workers, paid0, workers0 = sums
    with np.errstate(divide="ignore", invalid="ignore"):
        ok = (with_data > 0) & (workers > 0) & (workers0 > 0)
        mean = np.where(ok, paid / workers, np.nan)
        mean0 = np.where(ok, paid0 / workers0, np.nan)
        value = np.where(mean0 > 0, mean / mean0, np.nan)
    return value, mean, mean0


def _parts(spec: IndicatorSpec, frame: pd.DataFrame, year: int) -> tuple[_Parts, Finisher]:
    scope = _in_scope(frame, spec.kinds, year)
    code = spec.indicator
    if code in (_I.CRAFTS_RESTORED, _I.VILLAGES_RESTORED):
        return _event_count(frame, scope, year, restored=True, recognised=False), _finish_count
    if code in (_I.CRAFTS_RECOGNISED, _I.VILLAGES_RECOGNISED):
        return _event_count(frame, scope, year, restored=False, recognised=True), _finish_count
    if code in (_I.CRAFTS_RESTORED_OR_RECOGNISED, _I.VILLAGES_RESTORED_OR_RECOGNISED):
        parts = _event_count(frame, scope, year, restored=True, recognised=True)
        return parts, _finish_count
    if code == _I.VILLAGES_TOURISM_LINKED:
        return _flag_count(frame, scope, "tourism_linked"), _finish_count
    if code == _I.SHARE_EFFECTIVE:
        return _flag_share(frame, scope, "operating_effectively"), _finish_share
    if code == _I.SHARE_IP_PROTECTED:
        return _flag_share(frame, scope, "ip_protected"), _finish_share
    if code == _I.SHARE_ENV_PLAN:
        return _flag_share(frame, scope, "env_plan"), _finish_share
    if code == _I.SHARE_VILLAGES_OCOP:
        return _flag_share(frame, scope, "ocop_products"), _finish_share
    if code == _I.SHARE_WORKERS_TRAINED:
        return _ratio_share(frame, scope, "trained_workers", "workers"), _finish_share
    if code == _I.SHARE_OCOP:
        return _ratio_share(frame, scope, "ocop_establishments", "establishments"), _finish_share
    if code == _I.PRODUCTION_VALUE_GROWTH:
        return _growth(frame, scope), _finisher_growth(year)
    if code == _I.INCOME_VS_2020:
        return _income(frame, scope), _finish_income
    if code == _I.EXPORTS_USD:
        return _sum(frame, scope, "exports_usd"), _finish_count
    raise ValueError(f"no rule for indicator {code!r}")


@dataclass(frozen=True)
class Computed:
    """Indicators over the whole frame and per group of ``by``."""

    total: dict[str, IndicatorValue]
    groups: dict[str, dict[Any, IndicatorValue]]
    scope_counts: dict[Any, int]


def _holds_many(values: np.ndarray, comparison: str, target: float) -> np.ndarray:
    if comparison == vocab.Comparison.MORE_THAN:
        return values > target
    if comparison == vocab.Comparison.ABOUT:
        return values >= target * (1 - ABOUT_TOLERANCE) - 1e-9
    return values >= target - 1e-9


def _statuses(values: np.ndarray, target: Target, year: int) -> list[TargetCheck]:
    """`check_target` for many values at once (one object per status, shared)."""
    expected = check_target(None, target, year).expected
    S = vocab.TargetStatus
    with np.errstate(invalid="ignore"):
        if target.year <= year:
            good = _holds_many(values, target.comparison, target.value)
            yes, no = S.MET.value, S.MISSED.value
        else:
            if expected is not None:
                good = values >= expected - 1e-9
            else:
                good = _holds_many(values, target.comparison, target.value)
            yes, no = S.ON_TRACK.value, S.BEHIND.value
    status = np.where(np.isnan(values), S.NO_DATA.value, np.where(good, yes, no))
    made = {
        code: TargetCheck(
            year=target.year,
            comparison=target.comparison,
            target=target.value,
            unit=target.unit,
            status=code,
            expected=expected,
        )
        for code in (S.NO_DATA.value, yes, no)
    }
    return [made[code] for code in status.tolist()]


def _values(
    spec: IndicatorSpec,
    finish: Finisher,
    summed: pd.DataFrame,
    year: int,
    *,
    every_target: bool,
) -> list[IndicatorValue]:
    """One IndicatorValue per row of ``summed`` (the summed contribution columns)."""
    key = spec.indicator
    scope = summed[f"{key}|scope"].to_numpy(dtype="int64")
    data = summed[f"{key}|data"].to_numpy(dtype="int64")
    rec = summed[f"{key}|rec"].to_numpy(dtype="int64")
    sums = [summed[f"{key}|{n}"].to_numpy(dtype="float64") for n in SUMS if f"{key}|{n}" in summed]
    value, numerator, denominator = finish(sums, data)
    targets = [t for t in spec.targets if every_target or t.unit in UNIT_CHECKED]
    checks = [_statuses(value, target, year) for target in targets]
    out = []

    # NaN (x != x) and ±inf become None: a value that cannot be computed is not a number.
    def clean(numbers: np.ndarray) -> list[float | None]:
        return [x if math.isfinite(x) else None for x in numbers.tolist()]

    rows = zip(
        clean(value),
        clean(numerator),
        clean(denominator),
        scope.tolist(),
        data.tolist(),
        rec.tolist(),
        zip(*checks, strict=True) if checks else ((),) * len(scope),
        strict=True,
    )
    for v, n, d, in_scope, with_data, from_record, own in rows:
        out.append(
            IndicatorValue(
                indicator=key,
                unit=spec.unit,
                value=v,
                numerator=n,
                denominator=d,
                in_scope=in_scope,
                with_data=with_data,
                missing=in_scope - with_data,
                from_record=from_record,
                targets=tuple(own),
            )
        )
    return out


def compute(
    frame: pd.DataFrame,
    specs: Sequence[IndicatorSpec],
    *,
    year: int,
    by: Sequence[str] = (),
) -> dict[str, Computed]:
    """The indicators of ``specs`` for ``year`` over ``frame`` and per value of each ``by``.

    ``frame`` is a `year_frame`. Returns ``{"": Computed(total...)}`` and one entry per
    column of ``by`` with its groups (a record with no value in that column is in no group).
    Per group only the targets in `UNIT_CHECKED` units are checked.
    """
    import pandas as pd

    columns: dict[str, pd.Series] = {}
    finishers: dict[str, Finisher] = {}
    for spec in specs:
        parts, finish = _parts(spec, frame, year)
        finishers[spec.indicator] = finish
        key = spec.indicator
        columns[f"{key}|scope"] = parts.scope.astype("int64")
        columns[f"{key}|data"] = parts.data.astype("int64")
        columns[f"{key}|rec"] = parts.rec.astype("int64")
        for name, values in zip(SUMS, parts.sums, strict=False):
            columns[f"{key}|{name}"] = values.astype("float64")
    # A unit's villages: its records in scope (any kind) in that year.
    columns["__records"] = _in_scope(frame, ALL_KINDS, year).astype("int64")
    wide = pd.DataFrame(columns, index=frame.index)

    totals = wide.sum(axis=0).to_frame().T
    total = {
        spec.indicator: _values(spec, finishers[spec.indicator], totals, year, every_target=True)
        for spec in specs
    }
    result = {
        "": Computed(
            total={code: values[0] for code, values in total.items()},
            groups={},
            scope_counts={"": int(totals["__records"].iloc[0])},
        )
    }
    for column in by:
        keys = frame[column]
        known = keys.notna()
        grouped = wide[known].groupby(keys[known]).sum()
        groups: dict[str, dict[Any, IndicatorValue]] = {}
        for spec in specs:
            per_unit = _values(spec, finishers[spec.indicator], grouped, year, every_target=False)
            groups[spec.indicator] = dict(zip(grouped.index.tolist(), per_unit, strict=True))
        counts = dict(
            zip(grouped.index.tolist(), grouped["__records"].astype(int).tolist(), strict=True)
        )
        result[column] = Computed(total={}, groups=groups, scope_counts=counts)
    return result


def judge_past_targets(
    current: dict[str, IndicatorValue], past: Mapping[int, Mapping[str, IndicatorValue]]
) -> dict[str, IndicatorValue]:
    """``current`` with each target of a year in ``past`` replaced by its check in that year.

    ``past`` maps a target year T (before the report year) to the values computed for T;
    a target of year T is then met or missed on T's value, which ``judged_value`` keeps.
    A value missing from ``past[T]`` (a unit with no records that year) is no data.
    """
    judged: dict[str, IndicatorValue] = {}
    for code, value in current.items():
        checks = []
        for check in value.targets:
            then = past.get(check.year)
            if then is None:
                checks.append(check)
                continue
            old = then.get(code)
            own = next((c for c in old.targets if c.year == check.year), None) if old else None
            status = own.status if own is not None else vocab.TargetStatus.NO_DATA.value
            checks.append(
                replace(
                    check,
                    status=status,
                    expected=None,
                    judged_year=check.year,
                    judged_value=old.value if old is not None else None,
                )
            )
        judged[code] = replace(value, targets=tuple(checks))
    return judged


def empty_values(specs: Sequence[IndicatorSpec], year: int) -> dict[str, IndicatorValue]:
    """The values of a unit with no records: every value None, nothing in scope."""
    return {
        spec.indicator: IndicatorValue(
            indicator=spec.indicator,
            unit=spec.unit,
            value=None,
            numerator=None,
            denominator=None,
            in_scope=0,
            with_data=0,
            missing=0,
            from_record=0,
            targets=tuple(
                check_target(None, target, year)
                for target in spec.targets
                if target.unit in UNIT_CHECKED
            ),
        )
        for spec in specs
    }
