"""Yearly supply figures as files: the CSV a planner imports and the demo's figures.

A row names a village (``village_code``, with ``material``) or a zone (``zone_code``; its
``material``, when given, must be the zone's), a ``year``, ``tonnes``, whether it is an
``estimate`` and its ``basis``, and ``sources`` separated by ``;``. The demo loader upserts
the rows and puts the newest figure of each village and material (each zone) into the
feature's current field through the demo's own upsert, so the two always agree.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from geo.kernel import vocab
from geo.kernel.errors import InvalidInput
from geo.store import models

COLUMNS = (
    "village_code",
    "zone_code",
    "material",
    "year",
    "tonnes",
    "estimate",
    "basis",
    "sources",
)
YEAR_MIN, YEAR_MAX = 1990, 2100
MAX_BASIS_CHARS = 4000
MAX_SOURCES, MAX_SOURCE_CHARS = 50, 1000
_TRUE = {"true", "1", "yes", "x", "có", "co"}
_FALSE = {"false", "0", "no", "", "không", "khong"}


@dataclass(frozen=True)
class FigureRow:
    """One figure as read from a file or a request, checked but not yet tied to ids."""

    village_code: str | None
    zone_code: str | None
    material: vocab.Material | None
    year: int
    tonnes: float
    estimate: bool
    basis: str | None
    sources: tuple[str, ...] = field(default_factory=tuple)


def material_of(value: Any) -> vocab.Material:
    """The material code, or InvalidInput naming the codes there are.

    >>> material_of("sedge").value
    'sedge'
    """
    try:
        return vocab.Material(str(value).strip())
    except ValueError:
        codes = ", ".join(m.value for m in vocab.Material)
        raise InvalidInput(f"unknown material {value!r} (one of {codes})") from None


def check_year(year: Any) -> int:
    """A year the table accepts (1990–2100), or InvalidInput."""
    if isinstance(year, bool) or not isinstance(year, int):
        raise InvalidInput(f"year must be a whole number, not {year!r}")
    if not YEAR_MIN <= year <= YEAR_MAX:
        raise InvalidInput(f"year must be between {YEAR_MIN} and {YEAR_MAX}, not {year}")
    return year


def check_figure(
    tonnes: Any, estimate: Any, basis: Any, sources: Any
) -> tuple[float, bool, str | None, tuple[str, ...]]:
    """The checked values of a figure: tonnes ≥ 0 and finite, an estimate has its basis."""
    if isinstance(tonnes, bool) or not isinstance(tonnes, int | float):
        raise InvalidInput(f"tonnes must be a number, not {tonnes!r}")
    if not math.isfinite(float(tonnes)) or tonnes < 0:
        raise InvalidInput(f"tonnes must be a finite number ≥ 0, not {tonnes!r}")
    if not isinstance(estimate, bool):
        raise InvalidInput("estimate must be true or false")
    if basis is not None and not isinstance(basis, str):
        raise InvalidInput("basis must be a text")
    basis = basis.strip() if basis else None
    if estimate and not basis:
        raise InvalidInput("an estimate needs its basis (how it was estimated)")
    if sources is None:
        sources = []
    if not isinstance(sources, list | tuple) or not all(isinstance(s, str) for s in sources):
        raise InvalidInput("sources must be a list of texts")
    kept = tuple(s.strip() for s in sources if s.strip())
    if basis is not None and len(basis) > MAX_BASIS_CHARS:
        raise InvalidInput(f"basis is longer than {MAX_BASIS_CHARS} characters")
    if len(kept) > MAX_SOURCES or any(len(s) > MAX_SOURCE_CHARS for s in kept):
        raise InvalidInput(
            f"at most {MAX_SOURCES} sources of at most {MAX_SOURCE_CHARS} characters each"
        )
    for text in (basis or "", *kept):
        _check_storable(text)
    return float(tonnes), estimate, basis, kept


def _check_storable(text: str) -> None:
    # PostgreSQL text holds neither NUL nor a lone surrogate: refuse them here (400), not
    # as an encoding error from the database.
    if "\x00" in text:
        raise InvalidInput("texts may not contain the NUL character")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInput("texts may not contain lone surrogate characters") from None


_FORMULA_STARTS = ("=", "+", "-", "@")


def _cell(row: Mapping[str, Any], name: str) -> str:
    value = row.get(name)
    text = "" if value is None else str(value).strip()
    # What to_csv wrote as '=… is the text =…: the apostrophe only kept a spreadsheet
    # from running it as a formula.
    return text[1:] if text[:1] == "'" and _formula_like(text) else text


def _formula_like(text: str) -> bool:
    # Leading apostrophes aside, so that adding one (to_csv) and taking one (reading) undo
    # each other whatever the text.
    return text.lstrip("'")[:1] in _FORMULA_STARTS


def _inert(text: str) -> str:
    """A cell a spreadsheet shows as text (``=…`` becomes ``'=…``); reading undoes it.

    >>> _inert("=1+1"), _cell({"c": _inert("=1+1")}, "c")
    ("'=1+1", '=1+1')
    """
    return f"'{text}" if _formula_like(text) else text


def _number(text: str, what: str) -> float:
    # A Vietnamese sheet writes 1.500,5; a program writes 1500.5.
    cleaned = text.replace(" ", "")
    if "," in cleaned:
        cleaned = cleaned.replace(".", "").replace(",", ".")
    try:
        return float(cleaned)
    except ValueError:
        raise InvalidInput(f"{what} must be a number, not {text!r}") from None


def parse_row(row: Mapping[str, Any]) -> FigureRow:
    """One CSV row as a checked figure (InvalidInput says what is wrong)."""
    village, zone = _cell(row, "village_code") or None, _cell(row, "zone_code") or None
    if (village is None) == (zone is None):
        raise InvalidInput("give either village_code or zone_code")
    material_text = _cell(row, "material")
    material = material_of(material_text) if material_text else None
    if village is not None and material is None:
        raise InvalidInput("a village's figure needs its material")
    year_text = _cell(row, "year")
    try:
        year = check_year(int(year_text))
    except ValueError:
        raise InvalidInput(f"year must be a whole number, not {year_text!r}") from None
    estimate_text = _cell(row, "estimate").lower()
    if estimate_text not in _TRUE | _FALSE:
        raise InvalidInput(f"estimate must be true or false, not {estimate_text!r}")
    tonnes_text = _cell(row, "tonnes")
    tonnes, estimate, basis, sources = check_figure(
        _number(tonnes_text, "tonnes") if tonnes_text else None,
        estimate_text in _TRUE,
        _cell(row, "basis") or None,
        _cell(row, "sources").split(";"),
    )
    return FigureRow(village, zone, material, year, tonnes, estimate, basis, sources)


def read_csv(path: Path) -> list[FigureRow]:
    """Every row of a figures CSV, or InvalidInput naming the first bad row (line number)."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"{path.name}: cannot read it as UTF-8 text ({exc})") from exc
    return read_csv_text(text, name=path.name)


def read_csv_text(text: str, *, name: str = "figures") -> list[FigureRow]:
    """The rows of a figures CSV given as text."""
    reader = csv.DictReader(io.StringIO(text))
    missing = {"material", "year", "tonnes"} - set(reader.fieldnames or ())
    if missing or not {"village_code", "zone_code"} & set(reader.fieldnames or ()):
        raise InvalidInput(
            f"{name}: the header must have the columns {', '.join(COLUMNS)}"
            f" (missing: {', '.join(sorted(missing)) or 'village_code or zone_code'})"
        )
    rows = []
    for line, row in enumerate(reader, start=2):
        try:
            rows.append(parse_row(row))
        except InvalidInput as exc:
            raise InvalidInput(f"{name}, line {line}: {exc}") from exc
    return rows


def to_csv(records: Iterable[Mapping[str, Any]]) -> str:
    """Figures (dicts with the CSV's columns) as CSV text in the import's own format."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    for record in records:
        writer.writerow(
            {
                **{name: _inert(str(record.get(name) or "")) for name in COLUMNS},
                "year": str(record["year"]),
                "tonnes": _plain_number(record["tonnes"]),
                "estimate": "true" if record.get("estimate") else "false",
                "sources": _inert(";".join(record.get("sources") or ())),
            }
        )
    return out.getvalue()


def _plain_number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


# -- the demo ----------------------------------------------------------------------------------
def newest(rows: Sequence[FigureRow]) -> tuple[dict[str, dict[str, float]], dict[str, float]]:
    """The newest figure per village and material, and per zone: the current fields' values."""
    demand: dict[str, dict[str, tuple[int, float]]] = {}
    capacity: dict[str, tuple[int, float]] = {}
    for row in rows:
        if row.village_code is not None and row.material is not None:
            by_material = demand.setdefault(row.village_code, {})
            held = by_material.get(row.material.value)
            if held is None or row.year > held[0]:
                by_material[row.material.value] = (row.year, row.tonnes)
        elif row.zone_code is not None:
            held_zone = capacity.get(row.zone_code)
            if held_zone is None or row.year > held_zone[0]:
                capacity[row.zone_code] = (row.year, row.tonnes)
    return (
        {code: {m: t for m, (_, t) in by.items()} for code, by in demand.items()},
        {code: t for code, (_, t) in capacity.items()},
    )


def figure_records(
    conn: Connection, rows: Sequence[FigureRow], actor: str
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Rows for ``supply_figure`` (villages', zones'), with ids looked up by code.

    A zone row takes the zone's material; one that names another material is refused.
    """
    villages = models.table_of(models.Village)
    zones = models.table_of(models.MaterialZone)
    village_ids = dict(
        conn.execute(
            sa.select(villages.c.code, villages.c.id).where(
                villages.c.code.in_({r.village_code for r in rows if r.village_code})
            )
        ).all()
    )
    zone_rows = {
        code: (zid, material)
        for code, zid, material in conn.execute(
            sa.select(zones.c.code, zones.c.id, zones.c.material).where(
                zones.c.code.in_({r.zone_code for r in rows if r.zone_code})
            )
        ).all()
    }
    village_records: list[dict[str, Any]] = []
    zone_records: list[dict[str, Any]] = []
    for row in rows:
        common = {
            "year": row.year,
            "tonnes": row.tonnes,
            "estimate": row.estimate,
            "basis": row.basis,
            "sources": list(row.sources),
            "actor": actor,
        }
        if row.village_code is not None:
            if row.village_code not in village_ids:
                raise InvalidInput(f"unknown village {row.village_code!r}")
            village_records.append(
                {"village_id": village_ids[row.village_code], "material": row.material, **common}
            )
        else:
            assert row.zone_code is not None
            if row.zone_code not in zone_rows:
                raise InvalidInput(f"unknown zone {row.zone_code!r}")
            zone_id, zone_material = zone_rows[row.zone_code]
            if row.material is not None and row.material != zone_material:
                raise InvalidInput(
                    f"zone {row.zone_code} grows {zone_material.value}, not {row.material.value}"
                )
            zone_records.append({"zone_id": zone_id, "material": zone_material, **common})
    return village_records, zone_records
