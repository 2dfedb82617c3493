"""A village's yearly programme facts as files: the CSV or XLSX a department fills in.

One row per village (``village_code``) and ``year``; a column per fact (:data:`FACTS`) and
``sources`` (tags separated by ``;``). An empty cell is unknown (NULL), never "no" or 0: the
indicators count a village lacking a fact as missing data. A fact column left out of the
file leaves that fact as it is recorded; an empty cell in it makes the fact unknown.

Numbers are whole (đồng, US dollars, people, establishments): ``1500000``, ``1.500.000``
(Vietnamese grouping) and ``1500000,0`` are read; ``1,500`` is refused, since a Vietnamese
sheet reads it as 1.5 and an English one as 1500. Yes/no facts take true/false, yes/no,
1/0 or có/không, with or without diacritics, in any case.

The whole file is checked before anything is written: every bad line is named (up to
:data:`MAX_REPORTED`), and the caller writes nothing.
"""

from __future__ import annotations

import csv
import importlib
import io
import math
import re
import unicodedata
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from geo.kernel.errors import InvalidInput, LimitExceeded

# name -> (kind, largest value the column holds); the bounds are the columns' types in
# geo/store/models.py VillageStat (numeric(20,0), numeric(14,0), integer, smallint).
FACTS: dict[str, tuple[str, int]] = {
    "production_value_vnd": ("number", 10**20 - 1),
    "avg_income_vnd_month": ("number", 10**14 - 1),
    "workers": ("number", 2**31 - 1),
    "trained_workers": ("number", 2**31 - 1),
    "operating_effectively": ("bool", 1),
    "tourism_linked": ("bool", 1),
    "establishments": ("number", 2**31 - 1),
    "ocop_establishments": ("number", 2**31 - 1),
    "ocop_products": ("number", 2**15 - 1),
    "ip_protected": ("bool", 1),
    "env_plan": ("bool", 1),
    "exports_usd": ("number", 10**16 - 1),
}
COLUMNS = ("village_code", "year", *FACTS, "sources")
YEAR_MIN, YEAR_MAX = 1990, 2100
MAX_CODE_CHARS = 32
MAX_SOURCES, MAX_SOURCE_CHARS = 50, 1000
MAX_ROWS = 50_000
MAX_REPORTED = 20
# An XLSX is a zip: its parts, unpacked, may not exceed this (a zip bomb stops here).
MAX_XLSX_UNPACKED = 100_000_000

# đúng/sai: how a Vietnamese Excel writes TRUE/FALSE.
_TRUE = {"true", "yes", "1", "co", "có", "đúng"}
_FALSE = {"false", "no", "0", "khong", "không", "sai"}
# A sheet may carry a title above its header: the header is looked for this far down.
HEADER_SEARCH_ROWS = 10
_FORMULA_STARTS = ("=", "+", "-", "@")
_PLAIN = re.compile(r"\d+")
_VI_GROUPED = re.compile(r"(\d{1,3}(?:\.\d{3})+)(?:,0+)?")
_EN_GROUPED = re.compile(r"\d{1,3}(?:,\d{3})+")
_DECIMAL = re.compile(r"(\d+)[.,](\d+)")
_SPACES = re.compile(r"[\s\u00a0\u202f]+")
_BREAKS = re.compile(r"\s*[\t\r\n]+\s*")

Fact = int | bool | None


@dataclass(frozen=True)
class StatRow:
    """One village's facts of one year, checked but not yet tied to ids.

    ``facts`` holds only the file's fact columns (a value of None is unknown); ``sources``
    is None when the file has no ``sources`` column.
    """

    village_code: str
    year: int
    facts: dict[str, Fact]
    sources: tuple[str, ...] | None = None
    line: int = 0


@dataclass
class _Problems:
    name: str
    found: list[str] = field(default_factory=list)
    count: int = 0

    def add(self, line: int, message: str) -> None:
        self.count += 1
        if len(self.found) < MAX_REPORTED:
            self.found.append(f"line {line}: {message}")

    def raise_any(self) -> None:
        if not self.count:
            return
        more = self.count - len(self.found)
        tail = f"\n… and {more} more" if more > 0 else ""
        rows = "row" if self.count == 1 else "rows"
        raise InvalidInput(
            f"{self.name}: {self.count} bad {rows}, nothing was written:\n"
            + "\n".join(self.found)
            + tail
        )


# -- single values ---------------------------------------------------------------------------
def check_year(year: Any) -> int:
    """A year the table accepts (1990–2100), or InvalidInput.

    >>> check_year(2026)
    2026
    """
    if isinstance(year, bool) or not isinstance(year, int):
        raise InvalidInput(f"year must be a whole number, not {year!r}")
    if not YEAR_MIN <= year <= YEAR_MAX:
        raise InvalidInput(f"year must be from {YEAR_MIN} to {YEAR_MAX}, not {year}")
    return year


def _storable(text: str, what: str) -> str:
    # PostgreSQL text holds neither NUL nor a lone surrogate: refuse them here (a 400),
    # not as an encoding error from the database.
    if "\x00" in text:
        raise InvalidInput(f"{what} may not contain the NUL character")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInput(f"{what} may not contain lone surrogate characters") from None
    # Control characters (an ESC sequence, a bell) would act on the terminal that lists
    # them (craftmap stats list); no source or code needs one.
    if any(unicodedata.category(c) == "Cc" for c in text):
        raise InvalidInput(f"{what} may not contain control characters")
    return text


def check_code(code: Any) -> str:
    """A village code as given (trimmed), or InvalidInput."""
    if not isinstance(code, str) or not code.strip():
        raise InvalidInput("village_code is required")
    kept = _storable(str(code).strip(), "village_code")
    if len(kept) > MAX_CODE_CHARS:
        raise InvalidInput(f"village_code is longer than {MAX_CODE_CHARS} characters")
    return kept


def check_sources(sources: Any) -> tuple[str, ...]:
    """Source tags: texts, none containing ``;`` (the files' separator), within the limits."""
    if sources is None:
        return ()
    if not isinstance(sources, list | tuple) or not all(isinstance(s, str) for s in sources):
        raise InvalidInput("sources must be a list of texts")
    # A line break typed in a spreadsheet cell (Alt+Enter) is a space in a source tag.
    kept = tuple(
        unicodedata.normalize("NFC", _BREAKS.sub(" ", s).strip()) for s in sources if s.strip()
    )
    if any(";" in s for s in kept):
        raise InvalidInput("a source may not contain ';' (it separates the sources in files)")
    if len(kept) > MAX_SOURCES or any(len(s) > MAX_SOURCE_CHARS for s in kept):
        raise InvalidInput(
            f"at most {MAX_SOURCES} sources of at most {MAX_SOURCE_CHARS} characters each"
        )
    return tuple(_storable(s, "sources") for s in kept)


def _bounded(name: str, value: int) -> int:
    limit = FACTS[name][1]
    if value < 0:
        raise InvalidInput(f"{name} must be ≥ 0, not {value}")
    if value > limit:
        raise InvalidInput(f"{name} is too large ({value}; at most {limit})")
    return value


def check_value(name: str, value: Any) -> Fact:
    """A fact given as a JSON or spreadsheet value (not text), checked; None is unknown.

    >>> check_value("workers", 120), check_value("env_plan", False), check_value("workers", None)
    (120, False, None)
    """
    kind = FACTS[name][0]
    if value is None:
        return None
    if kind == "bool":
        if isinstance(value, bool):
            return value
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        raise InvalidInput(f"{name} must be true, false or null, not {value!r}")
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise InvalidInput(f"{name} must be a whole number or null, not {value!r}")
    if isinstance(value, float | Decimal):
        if not math.isfinite(value):
            raise InvalidInput(f"{name} must be a finite number, not {value}")
        if value != int(value):
            raise InvalidInput(f"{name} must be a whole number, not {value}")
        if isinstance(value, float) and abs(value) >= 2**53:
            # Past 2**53 a float no longer holds every whole number: the digits it shows
            # are not the ones typed.
            raise InvalidInput(f"{name}: {value:.0f} is too large to be exact as a number cell")
        value = int(value)
    return _bounded(name, value)


def parse_bool(name: str, text: str) -> bool | None:
    """A yes/no cell: true/false, yes/no, 1/0, có/không (any case, diacritics optional).

    >>> parse_bool("env_plan", "KHÔNG"), parse_bool("env_plan", "Co"), parse_bool("env_plan", "")
    (False, True, None)
    """
    cleaned = unicodedata.normalize("NFC", text.strip()).casefold()
    if not cleaned:
        return None
    if cleaned in _TRUE:
        return True
    if cleaned in _FALSE:
        return False
    raise InvalidInput(f"{name} must be true/false, yes/no, 1/0 or có/không, not {text!r}")


def parse_number(name: str, text: str) -> int | None:
    """A whole number cell; Vietnamese grouping (1.500.000) is read, ambiguous forms refused.

    >>> parse_number("workers", "1.500"), parse_number("workers", "1500,0")
    (1500, 1500)
    >>> parse_number("production_value_vnd", "12 500 000 000"), parse_number("workers", "")
    (12500000000, None)
    """
    cleaned = _SPACES.sub("", text)
    if not cleaned:
        return None
    if cleaned.lower().lstrip("+-") in {"nan", "inf", "infinity"}:
        raise InvalidInput(f"{name} must be a finite number, not {text!r}")
    if cleaned.startswith("-") and cleaned[1:2].isdigit():
        raise InvalidInput(f"{name} must be ≥ 0, not {text!r}")
    if _PLAIN.fullmatch(cleaned):
        value = int(cleaned)
    elif found := _VI_GROUPED.fullmatch(cleaned):
        value = int(found[1].replace(".", ""))
    elif _EN_GROUPED.fullmatch(cleaned):
        raise InvalidInput(
            f"{name}: {text!r} is ambiguous (1,5 or 1500?); write it without grouping "
            "or with dots (1.500)"
        )
    elif found := _DECIMAL.fullmatch(cleaned):
        if found[2].strip("0"):
            raise InvalidInput(f"{name} must be a whole number, not {text!r}")
        value = int(found[1])
    else:
        raise InvalidInput(f"{name} must be a whole number, not {text!r}")
    return _bounded(name, value)


# -- rows ------------------------------------------------------------------------------------
def _text(value: Any) -> str:
    """A cell as text; what to_csv made inert ('=…) reads back as the text it was."""
    text = "" if value is None else str(value).strip()
    return text[1:] if text[:1] == "'" and _formula_like(text) else text


def _formula_like(text: str) -> bool:
    # Leading apostrophes aside, so that adding one (writing) and taking one (reading) undo
    # each other whatever the text.
    return text.lstrip("'")[:1] in _FORMULA_STARTS


def _inert(text: str) -> str:
    """A cell a spreadsheet shows as text (``=…`` becomes ``'=…``); reading undoes it.

    >>> _inert("=HYPERLINK(1)"), _text(_inert("=HYPERLINK(1)"))
    ("'=HYPERLINK(1)", '=HYPERLINK(1)')
    """
    return f"'{text}" if _formula_like(text) else text


def _fact(name: str, cell: Any) -> Fact:
    if FACTS[name][0] == "bool" and isinstance(cell, float) and cell in (0.0, 1.0):
        cell = int(cell)  # a spreadsheet's 1/0 number cell
    if cell is None or isinstance(cell, bool | int | float | Decimal):
        return check_value(name, cell)
    if not isinstance(cell, str):
        raise InvalidInput(f"{name} must be a number or yes/no, not {cell!r}")
    text = _text(cell)
    if FACTS[name][0] == "bool":
        return parse_bool(name, text)
    return parse_number(name, text)


def _year(cell: Any) -> int:
    if isinstance(cell, float) and cell.is_integer():
        cell = int(cell)
    if isinstance(cell, int) and not isinstance(cell, bool):
        return check_year(cell)
    text = _text(cell)
    if not text:
        raise InvalidInput("year is required")
    if not _PLAIN.fullmatch(text):
        raise InvalidInput(f"year must be a whole number, not {text!r}")
    return check_year(int(text))


def parse_row(row: Mapping[str, Any], line: int = 0) -> StatRow:
    """One row (header name -> cell) as checked facts; InvalidInput names every bad column."""
    wrong: list[str] = []
    code, year = "", 0
    try:
        code = check_code(_text(row.get("village_code")))
    except InvalidInput as exc:
        wrong.append(str(exc))
    try:
        year = _year(row.get("year"))
    except InvalidInput as exc:
        wrong.append(str(exc))
    facts: dict[str, Fact] = {}
    for name in FACTS:
        if name in row:
            try:
                facts[name] = _fact(name, row[name])
            except InvalidInput as exc:
                wrong.append(str(exc))
    sources: tuple[str, ...] | None = None
    if "sources" in row:
        try:
            sources = check_sources(_text(row["sources"]).split(";"))
        except InvalidInput as exc:
            wrong.append(str(exc))
    if not wrong:
        try:
            check_consistent(facts)
        except InvalidInput as exc:
            wrong.append(str(exc))
    if wrong:
        raise InvalidInput("; ".join(wrong))
    return StatRow(code, year, facts, sources, line)


def check_consistent(facts: Mapping[str, Fact]) -> None:
    """The rules between facts a row can check alone (the database checks them again)."""
    pairs = (("trained_workers", "workers"), ("ocop_establishments", "establishments"))
    for part, whole in pairs:
        a, b = facts.get(part), facts.get(whole)
        if isinstance(a, int) and isinstance(b, int) and a > b:
            raise InvalidInput(f"{part} ({a}) may not exceed {whole} ({b})")


def _header(cells: Sequence[Any], name: str) -> list[str]:
    header = [unicodedata.normalize("NFC", _text(c)).lower() for c in cells]
    unknown = [h for h in header if h and h not in COLUMNS]
    missing = [c for c in ("village_code", "year") if c not in header]
    repeated = sorted({h for h in header if h and header.count(h) > 1})
    if unknown or missing or repeated:
        parts = []
        if missing:
            parts.append(f"missing {', '.join(missing)}")
        if unknown:
            parts.append(f"unknown {', '.join(repr(u[:40]) for u in unknown[:10])}")
        if repeated:
            parts.append(f"repeated {', '.join(repeated)}")
        raise InvalidInput(
            f"{name}: the header must name village_code, year and any of "
            f"{', '.join(COLUMNS[2:])} ({'; '.join(parts)})"
        )
    return header


def _is_blank(values: Sequence[Any]) -> bool:
    return all(v is None or (isinstance(v, str) and not v.strip()) for v in values)


def _rows(cells: Iterable[Sequence[Any]], name: str) -> list[StatRow]:
    lines = enumerate(cells, start=1)
    # The header is the first row naming village_code (a sheet may have a title above it);
    # without one, the first non-blank row, so that the error says what it lacks.
    first: Sequence[Any] | None = None
    header_cells: Sequence[Any] | None = None
    for number, values in lines:
        if any(_text(v).lower() == "village_code" for v in values):
            header_cells = values
            break
        if first is None and not _is_blank(values):
            first = values
        if number >= HEADER_SEARCH_ROWS:
            break
    if header_cells is None:
        if first is None:
            raise InvalidInput(f"{name} is empty")
        header_cells = first
    header = _header(header_cells, name)
    problems = _Problems(name)
    rows: list[StatRow] = []
    seen: dict[tuple[str, int], int] = {}
    for line, values in lines:
        if _is_blank(values):
            continue
        if len(rows) >= MAX_ROWS:
            raise InvalidInput(f"{name}: more than {MAX_ROWS} rows; split the file")
        extra = [v for v in values[len(header) :] if v is not None and str(v).strip()]
        if extra:
            problems.add(line, f"{len(values)} cells, the header has {len(header)}")
            continue
        # A short row (CSV) ends in empty cells: unknown, not a left-out column.
        padded: list[Any] = [*values[: len(header)]]
        padded += [None] * (len(header) - len(padded))
        record = {h: v for h, v in zip(header, padded, strict=True) if h}
        try:
            row = parse_row(record, line)
        except InvalidInput as exc:
            problems.add(line, str(exc))
            continue
        key = (row.village_code, row.year)
        if key in seen:
            problems.add(line, f"{row.village_code} {row.year} is also on line {seen[key]}")
            continue
        seen[key] = line
        rows.append(row)
    problems.raise_any()
    return rows


def read_csv_text(text: str, *, name: str = "village_stats.csv") -> list[StatRow]:
    """The rows of a yearly-facts CSV given as text (``,`` or ``;`` between cells)."""
    text = text.removeprefix("\ufeff")
    head = text[:100_000].split("\n", HEADER_SEARCH_ROWS)[:HEADER_SEARCH_ROWS]
    first_line = next((line for line in head if "village_code" in line.lower()), head[0])
    # A Vietnamese Excel saves "CSV" with ';' between cells.
    delimiter = ";" if first_line.count(";") > first_line.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        return _rows(reader, name)
    except csv.Error as exc:
        raise InvalidInput(f"{name}: not a readable CSV ({exc})") from exc


def read_csv_bytes(data: bytes, *, name: str = "village_stats.csv") -> list[StatRow]:
    """The rows of a yearly-facts CSV in UTF-8 (with or without BOM)."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidInput(
            f"{name} is not UTF-8 text; save it as “CSV UTF-8” (Excel) or UTF-8"
        ) from None
    return read_csv_text(text, name=name)


def read_xlsx_bytes(data: bytes, *, name: str = "village_stats.xlsx") -> list[StatRow]:
    """The rows of the first sheet of a yearly-facts XLSX (header on its first row)."""
    # Imported by name: openpyxl ships no type hints, and only the XLSX path needs it.
    openpyxl: Any = importlib.import_module("openpyxl")

    buffer = io.BytesIO(data)
    try:
        with zipfile.ZipFile(buffer) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, OSError, ValueError):
        raise InvalidInput(f"{name} is not an XLSX workbook") from None
    if unpacked > MAX_XLSX_UNPACKED:
        raise LimitExceeded(
            f"{name} unpacks to more than {MAX_XLSX_UNPACKED} bytes",
            limit="xlsx_unpacked_bytes",
            value=MAX_XLSX_UNPACKED,
        )
    try:
        # Formulas stay the text they are (data_only=False): nothing in the file is run.
        book = openpyxl.load_workbook(buffer, read_only=True, data_only=False)
    except Exception as exc:  # openpyxl raises many kinds on a damaged file
        raise InvalidInput(f"{name} is not a readable XLSX workbook") from exc
    try:
        sheet = book.worksheets[0] if book.worksheets else None
        if sheet is None:
            raise InvalidInput(f"{name} has no sheet")
        return _rows(sheet.iter_rows(values_only=True), name)
    finally:
        book.close()


def read_bytes(data: bytes, filename: str) -> list[StatRow]:
    """A CSV or XLSX upload by its name's suffix."""
    name = Path(filename).name or "upload"
    suffix = Path(name).suffix.lower()
    if suffix == ".csv":
        return read_csv_bytes(data, name=name)
    if suffix == ".xlsx":
        return read_xlsx_bytes(data, name=name)
    raise InvalidInput(f"{name!r}: send a .csv (UTF-8) or .xlsx file")


def read_file(path: Path) -> list[StatRow]:
    """Every row of a yearly-facts CSV or XLSX file, or InvalidInput naming the bad lines."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InvalidInput(f"{path.name}: cannot read it ({exc.strerror})") from exc
    return read_bytes(data, path.name)


# -- writing ---------------------------------------------------------------------------------
def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | Decimal | float):
        return str(int(value))
    return _inert(str(value))


def to_csv(records: Iterable[Mapping[str, Any]]) -> str:
    """Yearly facts (dicts with the columns; ``sources`` a list) as CSV the reader takes back."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for record in records:
        writer.writerow(
            [
                _cell_text(record["village_code"]),
                str(record["year"]),
                *(_cell_text(record.get(name)) for name in FACTS),
                _inert(";".join(record.get("sources") or ())),
            ]
        )
    return out.getvalue()


def to_xlsx(records: Iterable[Mapping[str, Any]]) -> bytes:
    """The same table as an XLSX workbook; texts stay texts (a leading ``=`` is no formula)."""
    openpyxl: Any = importlib.import_module("openpyxl")
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "village_stats"
    sheet.append(list(COLUMNS))
    for record in records:
        values: list[Any] = [record["village_code"], int(record["year"])]
        for name in FACTS:
            value = record.get(name)
            values.append(int(value) if isinstance(value, Decimal) else value)
        values.append(";".join(record.get("sources") or ()))
        sheet.append([None if v is None else v for v in values])
    for row in sheet.iter_rows(min_row=2):
        for cell in row:
            if isinstance(cell.value, str):
                # openpyxl stores "=…" as a formula unless told it is a string.
                cell.data_type = "s"
            elif isinstance(cell.value, int) and abs(cell.value) >= 2**53:
                # A spreadsheet number is a double: past 2**53 it loses digits; keep text.
                cell.value = str(cell.value)
                cell.data_type = "s"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
