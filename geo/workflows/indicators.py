"""The programme's indicators for a year, read from the records (issue 16 point 2).

Reads, set-based, a handful of queries whatever the number of villages or units: the
programme and its targets; the units (post-2025 communes and wards, the old districts);
the records in the programme's area; every ``village_stat`` row of those records (all
years, one query). The rules are `geo.analysis.indicators`'s; this module only chooses the
records:

- **Area.** A province's plan covers the villages in the communes whose ``parent_code``
  is its ``province_code`` (every village when the database holds one province); a
  national programme covers every village.
- **Communes** are the ``admin_unit`` rows of the current scheme (``valid_to IS NULL``,
  not ``legacy``) at level commune, joined on ``craft_village.commune_code``.
- **Old districts** are the ``legacy`` scheme's districts, joined on
  ``craft_village.legacy_district`` by name: Unicode NFC, case and spacing normalised, and
  the unit word ("Huyện", "Thị xã", "Thành phố", "Quận") optional on either side, so
  "huyện  Thiệu Hóa" and "Thiệu Hóa" both find "Huyện Thiệu Hóa".
- Every unit of the area appears, those with no villages too (``villages = 0``, values
  None), sorted by name in dictionary order (`name_order`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import shapely
import sqlalchemy as sa

from geo.analysis import indicators as ind
from geo.analysis.indicators import (
    IndicatorReport,
    IndicatorSpec,
    IndicatorValue,
    Target,
    TargetCheck,
    UnitIndicators,
)
from geo.kernel import vocab
from geo.kernel.errors import InvalidInput, NotFound
from geo.store import models
from geo.store.db import Connection

if TYPE_CHECKING:
    import geopandas as gpd
    import pandas as pd

__all__ = [
    "IndicatorReport",
    "IndicatorValue",
    "TargetCheck",
    "UnitIndicators",
    "indicator_report",
    "province_table",
    "report_document",
    "unit_frame",
]

LEGACY_SCHEME = "legacy"
LEVELS = ("commune", "district")
_UNIT_WORDS = ("thành phố", "thị xã", "huyện", "quận", "tp.", "tp")

_village = models.table_of(models.Village)
_stat = models.table_of(models.VillageStat)
_unit = models.table_of(models.AdminUnit)
_programme = models.table_of(models.Programme)
_target = models.table_of(models.ProgrammeTarget)


def normalise_name(name: str | None) -> str:
    """A unit name for matching: NFC, lower case, single spaces.

    >>> normalise_name("  Huyện   Thiệu  Hóa ")
    'huyện thiệu hóa'
    """
    if not name:
        return ""
    return re.sub(r"\s+", " ", unicodedata.normalize("NFC", name)).strip().lower()


def bare_name(name: str | None) -> str:
    """A normalised unit name without its unit word.

    >>> bare_name("Huyện Thiệu Hóa"), bare_name("thành phố  Thanh Hóa")
    ('thiệu hóa', 'thanh hóa')
    """
    text = normalise_name(name)
    for word in _UNIT_WORDS:
        if text.startswith(word + " "):
            return text[len(word) + 1 :].strip()
    return text


def name_order(name: str | None) -> tuple[str, str]:
    """A sort key that reads Vietnamese names in dictionary order, not byte order.

    Letters first without their marks (đ as d), the marks deciding ties, so "Hà Trung"
    comes before "Hoằng Hóa" (byte order puts every accented letter after z).

    >>> sorted(["Huyện Hoằng Hóa", "Huyện Hậu Lộc", "Huyện Hà Trung"], key=name_order)
    ['Huyện Hà Trung', 'Huyện Hậu Lộc', 'Huyện Hoằng Hóa']
    """
    text = normalise_name(name)
    bare = unicodedata.normalize("NFD", text.replace("đ", "d"))
    return "".join(c for c in bare if not unicodedata.combining(c)), text


@dataclass(frozen=True)
class Programme:
    """The programme a report is about."""

    id: int
    code: str
    title: str
    level: str
    province_code: str | None


def _current_communes() -> sa.ColumnElement[bool]:
    return sa.and_(
        _unit.c.level == vocab.AdminLevel.COMMUNE.value,
        _unit.c.valid_to.is_(None),
        _unit.c.scheme != LEGACY_SCHEME,
    )


def _find_programme(conn: Connection, code: str | None) -> Programme:
    columns = (
        _programme.c.id,
        _programme.c.code,
        _programme.c.title,
        _programme.c.level,
        _programme.c.province_code,
    )
    if code is not None:
        row = conn.execute(sa.select(*columns).where(_programme.c.code == code)).first()
        if row is None:
            raise NotFound(f"no programme {code!r} is loaded (craftmap programme list)")
        return Programme(row.id, row.code, row.title, str(row.level), row.province_code)
    # The province plan of the data: the plan whose province holds the most villages.
    held = (
        sa.select(sa.func.count())
        .select_from(_village.join(_unit, _unit.c.code == _village.c.commune_code))
        .where(_current_communes(), _unit.c.parent_code == _programme.c.province_code)
        .scalar_subquery()
    )
    row = conn.execute(
        sa.select(*columns)
        .order_by(
            (_programme.c.level == vocab.ProgrammeLevel.PROVINCE.value).desc(),
            held.desc(),
            _programme.c.code,
        )
        .limit(1)
    ).first()
    if row is None:
        raise NotFound("no programme is loaded (craftmap programme load)")
    return Programme(row.id, row.code, row.title, str(row.level), row.province_code)


def _targets(conn: Connection, programme: Programme) -> list[Target]:
    rows = conn.execute(
        sa.select(
            _target.c.indicator,
            _target.c.year,
            _target.c.comparison,
            _target.c.value,
            _target.c.unit,
            _target.c.note,
        )
        .where(_target.c.programme_id == programme.id)
        .order_by(_target.c.id)
    )
    return [
        Target(str(r.indicator), r.year, str(r.comparison), float(r.value), str(r.unit), r.note)
        for r in rows
    ]


def _area(conn: Connection, programme: Programme) -> sa.ColumnElement[bool]:
    """The condition on ``craft_village`` of the programme's area."""
    if programme.province_code is None:
        return sa.true()
    provinces = conn.execute(
        sa.select(sa.func.count(sa.distinct(_unit.c.code))).where(
            _unit.c.level == vocab.AdminLevel.PROVINCE.value,
            _unit.c.valid_to.is_(None),
            _unit.c.scheme != LEGACY_SCHEME,
        )
    ).scalar_one()
    if provinces <= 1:
        return sa.true()
    communes = sa.select(_unit.c.code).where(
        _current_communes(), _unit.c.parent_code == programme.province_code
    )
    return _village.c.commune_code.in_(communes)


def _units(conn: Connection, programme: Programme, level: str) -> pd.DataFrame:
    import pandas as pd

    if level == "commune":
        where: sa.ColumnElement[bool] = _current_communes()
    else:
        where = sa.and_(
            _unit.c.level == vocab.AdminLevel.DISTRICT.value, _unit.c.scheme == LEGACY_SCHEME
        )
    if programme.province_code is not None:
        where = sa.and_(where, _unit.c.parent_code == programme.province_code)
    rows = conn.execute(sa.select(_unit.c.scheme, _unit.c.code, _unit.c.name).where(where)).all()
    rows = sorted(rows, key=lambda row: (name_order(row.name), row.code))
    return pd.DataFrame([tuple(row) for row in rows], columns=["scheme", "code", "name"])


def _as_float(column: sa.Column[Any]) -> sa.ColumnElement[Any]:
    """A fact as float8 (booleans 1/0, NULL kept): the frame's columns come out numeric."""
    value: sa.ColumnElement[Any] = column
    if isinstance(column.type, sa.Boolean):
        value = sa.cast(column, sa.Integer)
    return sa.cast(value, sa.Float).label(column.key)


def _records(conn: Connection, area: sa.ColumnElement[bool]) -> pd.DataFrame:
    import pandas as pd

    recognised = sa.func.coalesce(
        _village.c.recognition_year,
        sa.cast(sa.extract("year", _village.c.recognition_date), sa.Integer),
    )
    stmt = sa.select(
        _village.c.id,
        # As text: the code-list type's per-row conversion to an enum costs more than the rest.
        sa.cast(_village.c.kind, sa.Text).label("kind"),
        sa.cast(_village.c.status, sa.Text).label("status"),
        _village.c.commune_code,
        _village.c.legacy_district,
        recognised.label("recognised_year"),
        _village.c.restored_year,
        *(_as_float(_village.c[fact]) for fact in ind.RECORD_FACTS),
    ).where(area)
    rows = [tuple(row) for row in conn.execute(stmt).all()]
    columns = [
        "id",
        "kind",
        "status",
        "commune_code",
        "legacy_district",
        "recognised_year",
        "restored_year",
        *ind.RECORD_FACTS,
    ]
    frame = pd.DataFrame(rows, columns=columns).set_index("id")
    for column in ("recognised_year", "restored_year"):
        frame[column] = pd.to_numeric(frame[column], errors="coerce").astype("float64")
    return frame


def _stats(conn: Connection, area: sa.ColumnElement[bool]) -> pd.DataFrame:
    """Every yearly row of the area's records: one query for all villages and years."""
    import pandas as pd

    stmt = (
        sa.select(
            _stat.c.village_id, _stat.c.year, *(_as_float(_stat.c[fact]) for fact in ind.FACTS)
        )
        .select_from(_stat.join(_village, _village.c.id == _stat.c.village_id))
        .where(area)
    )
    # Plain tuples: pandas probes SQLAlchemy rows for attributes, 10x slower at 30 000 rows.
    rows = [tuple(row) for row in conn.execute(stmt).all()]
    return pd.DataFrame(rows, columns=["village_id", "year", *ind.FACTS])


def _district_keys(records: pd.DataFrame, districts: pd.DataFrame) -> pd.Series:
    full: dict[str, str] = {}
    bare: dict[str, str | None] = {}
    for code, name in zip(districts["code"], districts["name"], strict=True):
        full[normalise_name(name)] = code
        key = bare_name(name)
        bare[key] = None if key in bare and bare[key] != code else code

    def find(name: Any) -> str | None:
        if not isinstance(name, str) or not name.strip():
            return None
        return full.get(normalise_name(name)) or bare.get(bare_name(name))

    names = records["legacy_district"]
    found = {name: find(name) for name in names.dropna().unique().tolist()}
    return names.map(found)


def indicator_report(
    conn: Connection, *, programme: str | None, year: int, today: dt.date
) -> IndicatorReport:
    """The programme's indicators for ``year``: the province, every unit, the yearly series.

    ``programme`` None is the province plan of the data (the plan whose province holds the
    most villages, else the national programme). An unknown programme is ``NotFound``; a
    year outside 2000–2100 ``InvalidInput``.
    """
    if not 2000 <= year <= 2100:
        raise InvalidInput(f"year must be from 2000 to 2100, not {year}")
    found = _find_programme(conn, programme)
    specs = ind.specs_of(_targets(conn, found))
    area = _area(conn, found)
    records = _records(conn, area)
    stats = _stats(conn, area)
    units = {level: _units(conn, found, level) for level in LEVELS}
    records["district_code"] = _district_keys(records, units["district"])
    unit_columns = {"commune": "commune_code", "district": "district_code"}

    frame = ind.year_frame(records, stats, year=year, current_year=today.year)
    computed = ind.compute(frame, specs, year=year, by=tuple(unit_columns.values()))
    # Targets whose year is past are judged on that year's values (a 2025 target in 2026).
    past_years = sorted({t.year for spec in specs for t in spec.targets if t.year < year})
    past = {
        each: ind.compute(
            ind.year_frame(records, stats, year=each, current_year=today.year),
            specs,
            year=each,
            by=tuple(unit_columns.values()),
        )
        for each in past_years
    }
    unit_lists: dict[str, list[UnitIndicators]] = {}
    for level, column in unit_columns.items():
        groups = computed[column]
        empty = ind.empty_values(specs, year)
        unit_lists[level] = []
        for scheme, code, name in units[level].itertuples(index=False):
            values = (
                {
                    spec.indicator: groups.groups[spec.indicator].get(code, empty[spec.indicator])
                    for spec in specs
                }
                if groups.scope_counts.get(code, 0)
                else empty
            )
            then = {
                each: {
                    spec.indicator: hit
                    for spec in specs
                    if (hit := result[column].groups[spec.indicator].get(code)) is not None
                }
                for each, result in past.items()
            }
            unit_lists[level].append(
                UnitIndicators(
                    level=level,
                    scheme=scheme,
                    code=code,
                    name=name,
                    villages=groups.scope_counts.get(code, 0),
                    values=ind.judge_past_targets(values, then),
                )
            )

    years = sorted({int(y) for y in stats["year"].unique()} | {today.year})
    series: dict[str, list[tuple[int, float | None]]] = {spec.indicator: [] for spec in specs}
    for each in years:
        values = (
            computed[""].total
            if each == year
            else _province(records, stats, specs, each, today.year)
        )
        for spec in specs:
            series[spec.indicator].append((each, values[spec.indicator].value))
    return IndicatorReport(
        programme_code=found.code,
        programme_title=found.title,
        year=year,
        province_code=found.province_code,
        province=ind.judge_past_targets(
            computed[""].total, {each: result[""].total for each, result in past.items()}
        ),
        units=unit_lists,
        years_with_data=tuple(years),
        series=series,
        today=today.isoformat(),
    )


def _province(
    records: pd.DataFrame,
    stats: pd.DataFrame,
    specs: Sequence[IndicatorSpec],
    year: int,
    current_year: int,
) -> dict[str, IndicatorValue]:
    frame = ind.year_frame(records, stats, year=year, current_year=current_year)
    return ind.compute(frame, specs, year=year)[""].total


def report_document(report: IndicatorReport) -> dict[str, Any]:
    """The report as plain JSON-ready values (the dataclasses' fields, tuples as lists)."""
    document = dataclasses.asdict(report)
    document["series"] = {
        code: [[year, value] for year, value in points] for code, points in report.series.items()
    }
    return document


def province_table(report: IndicatorReport) -> str:
    """The province's indicators as a plain-text table (the CLI's answer)."""
    lines = [
        f"{report.programme_code} - {report.year} (province {report.province_code or 'all'})",
        f"{'indicator':33} {'value':>14} {'unit':16} {'data':>9} {'missing':>7}  targets",
    ]
    for code, value in report.province.items():
        whole = value.unit in (vocab.TargetUnit.COUNT, vocab.TargetUnit.USD)
        shown = "-" if value.value is None else f"{value.value:,.{0 if whole else 2}f}"
        targets = "  ".join(
            f"{check.year} {check.comparison} {check.target:g}: {check.status}"
            + (f" (expected {check.expected:g})" if check.expected is not None else "")
            + (
                f" (on {check.judged_year}'s value "
                f"{'-' if check.judged_value is None else format(check.judged_value, '.4g')})"
                if check.judged_year is not None
                else ""
            )
            for check in value.targets
        )
        lines.append(
            f"{code:33} {shown:>14} {value.unit:16} {value.with_data:>4}/{value.in_scope:<4} "
            f"{value.missing:>7}  {targets}"
        )
    return "\n".join(lines)


def unit_frame(
    conn: Connection, report: IndicatorReport, *, level: str, indicator: str
) -> gpd.GeoDataFrame:
    """One row per unit of ``level``: code, name, villages, value, missing, status, geometry.

    ``status`` is that of the nearest target (the first not yet past, else the latest;
    None when the indicator has no target checked per unit). The geometry is the unit's
    polygon, else its label point (None when it has neither); EPSG:4326.
    """
    import geopandas as gpd
    import pandas as pd

    if level not in report.units:
        raise InvalidInput(f"level must be one of {', '.join(report.units)}, not {level!r}")
    if indicator not in report.province:
        raise InvalidInput(
            f"indicator {indicator!r} is not one of the programme's: {', '.join(report.province)}"
        )
    units = report.units[level]
    shapes: dict[tuple[str, str], Any] = {}
    if units:
        keys = [(unit.scheme, unit.code) for unit in units]
        rows = conn.execute(
            sa.select(
                _unit.c.scheme,
                _unit.c.code,
                sa.func.ST_AsBinary(sa.func.coalesce(_unit.c.geom, _unit.c.label_point)),
            ).where(sa.tuple_(_unit.c.scheme, _unit.c.code).in_(keys))
        )
        shapes = {
            (scheme, code): shapely.from_wkb(bytes(wkb)) if wkb is not None else None
            for scheme, code, wkb in rows
        }
    records = []
    for unit in units:
        value = unit.values[indicator]
        nearest = ind.nearest_target(value.targets, report.year)
        records.append(
            {
                "code": unit.code,
                "name": unit.name,
                "villages": unit.villages,
                "value": value.value,
                "missing": value.missing,
                "status": nearest.status if nearest else None,
                "geometry": shapes.get((unit.scheme, unit.code)),
            }
        )
    columns = ["code", "name", "villages", "value", "missing", "status", "geometry"]
    frame = pd.DataFrame(records, columns=columns)
    return gpd.GeoDataFrame(frame, geometry="geometry", crs="EPSG:4326")
