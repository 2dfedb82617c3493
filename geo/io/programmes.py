"""Programme targets from data files: the national 801/QĐ-TTg, Thanh Hóa's 4182/QĐ-UBND and
any other province's plan, each one CSV file.

A file opens with a header block of ``# key: value`` lines (code, title, level,
province_code, parent, decision_date, sources), then a CSV table with one row per target::

    # code: 4182/QĐ-UBND
    # level: province
    ...
    indicator,year,comparison,value,unit,note,sources
    villages_tourism_linked,2025,at_least,5,count,crafts or villages linked with tourism,S14

Sources are tags separated by ``;``. Loading upserts the programme by ``code`` and its targets
by (programme, indicator, year) through the import's upsert, so a second load of the same
file changes nothing and writes no history; the actor is the transaction's (``set_actor``).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from geo.kernel import vocab
from geo.kernel.errors import InvalidInput
from geo.store import models
from geo.store.db import set_actor, translate_errors

if TYPE_CHECKING:
    from geo.io.ingest import UpsertCounts

HEADER_KEYS = ("code", "title", "level", "province_code", "parent", "decision_date", "sources")
COLUMNS = ("indicator", "year", "comparison", "value", "unit", "note", "sources")


@dataclass(frozen=True)
class ProgrammeFile:
    """One programme file read and checked: the programme's row and its targets' rows."""

    code: str
    programme: dict[str, Any]
    parent: str | None
    targets: list[dict[str, Any]]


def _sources(text: str) -> list[str]:
    return [tag.strip() for tag in text.split(";") if tag.strip()]


def _choice(name: str, value: str, enum: type[StrEnum], where: str) -> str:
    allowed = [member.value for member in enum]
    if value not in allowed:
        raise InvalidInput(f"{where}: {name} {value!r} is not one of {', '.join(allowed)}")
    return value


def read_programme(path: Path) -> ProgrammeFile:
    """Read and check a programme file; every fault is an ``InvalidInput`` naming its line."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"{path.name}: cannot be read as UTF-8 text ({exc})") from exc
    lines = text.splitlines()
    header: dict[str, str] = {}
    first = 0
    for first, line in enumerate(lines):  # noqa: B007 - first is the table's first line
        if not line.startswith("#"):
            break
        key, sep, value = line.lstrip("#").partition(":")
        key = key.strip()
        if not sep or key not in HEADER_KEYS:
            raise InvalidInput(
                f"{path.name}, line {first + 1}: a header line is '# key: value' with a key "
                f"from {', '.join(HEADER_KEYS)}"
            )
        header[key] = value.strip()
    else:
        first = len(lines)
    for key in ("code", "title", "level"):
        if not header.get(key):
            raise InvalidInput(f"{path.name}: the header needs '# {key}: …'")
    level = _choice("level", header["level"], vocab.ProgrammeLevel, path.name)
    province_code = header.get("province_code") or None
    if (level == vocab.ProgrammeLevel.PROVINCE) != (province_code is not None):
        raise InvalidInput(
            f"{path.name}: a province's plan needs '# province_code: …'; a national one has none"
        )
    decision_date = None
    if header.get("decision_date"):
        try:
            decision_date = dt.date.fromisoformat(header["decision_date"])
        except ValueError as exc:
            raise InvalidInput(
                f"{path.name}: decision_date {header['decision_date']!r} is not a date (YYYY-MM-DD)"
            ) from exc
    programme = {
        "code": header["code"],
        "title": header["title"],
        "level": level,
        "province_code": province_code,
        "decision_date": decision_date,
        "sources": _sources(header.get("sources", "")),
    }
    reader = csv.DictReader(io.StringIO("\n".join(lines[first:])))
    if tuple(reader.fieldnames or ()) != COLUMNS:
        raise InvalidInput(
            f"{path.name}, line {first + 1}: the table's columns must be {','.join(COLUMNS)}"
        )
    targets: list[dict[str, Any]] = []
    seen: set[tuple[str, int]] = set()
    for number, row in enumerate(reader, start=first + 2):
        where = f"{path.name}, line {number}"
        if None in row or any(v is None for v in row.values()):
            raise InvalidInput(f"{where}: a row needs exactly {len(COLUMNS)} cells")
        try:
            year = int(row["year"])
            figure = float(row["value"])
        except ValueError as exc:
            raise InvalidInput(f"{where}: year and value must be numbers") from exc
        if not 2000 <= year <= 2100:
            raise InvalidInput(f"{where}: year must be from 2000 to 2100")
        if not math.isfinite(figure) or figure < 0:
            raise InvalidInput(f"{where}: value must be a number ≥ 0")
        unit = _choice("unit", row["unit"].strip(), vocab.TargetUnit, where)
        if unit == vocab.TargetUnit.PERCENT and figure > 100:
            raise InvalidInput(f"{where}: a percent value must be from 0 to 100")
        indicator = _choice("indicator", row["indicator"].strip(), vocab.Indicator, where)
        if (indicator, year) in seen:
            raise InvalidInput(f"{where}: {indicator} for {year} is given twice")
        seen.add((indicator, year))
        targets.append(
            {
                "indicator": indicator,
                "year": year,
                "comparison": _choice(
                    "comparison", row["comparison"].strip(), vocab.Comparison, where
                ),
                "value": figure,
                "unit": unit,
                "note": row["note"].strip() or None,
                "sources": _sources(row["sources"]),
            }
        )
    if not targets:
        raise InvalidInput(f"{path.name}: the file holds no targets")
    return ProgrammeFile(header["code"], programme, header.get("parent") or None, targets)


def load_programme(conn: Connection, path: Path, *, actor: str) -> dict[str, UpsertCounts]:
    """Upsert one programme file's programme and targets; returns per-table counts.

    ``actor`` is written on new rows (the history trigger reads the transaction's actor,
    which the caller sets). The parent programme must be loaded first.
    """
    # Imported here: ingest's demo loader imports this module to load the seed files.
    from geo.io import ingest

    data = read_programme(path)
    programme_table = models.table_of(models.Programme)
    parent_id = None
    if data.parent is not None:
        parent_id = conn.execute(
            sa.select(programme_table.c.id).where(programme_table.c.code == data.parent)
        ).scalar_one_or_none()
        if parent_id is None:
            raise InvalidInput(
                f"{path.name}: the parent programme {data.parent!r} is not loaded; "
                "load its file first"
            )
    record = {**data.programme, "parent_id": parent_id, "actor": actor}
    programmes = ingest.upsert(conn, programme_table, [record], key=["code"], insert_only=["actor"])
    programme_id = conn.execute(
        sa.select(programme_table.c.id).where(programme_table.c.code == data.code)
    ).scalar_one()
    targets = ingest.upsert(
        conn,
        models.table_of(models.ProgrammeTarget),
        [{**t, "programme_id": programme_id, "actor": actor} for t in data.targets],
        key=["programme_id", "indicator", "year"],
        insert_only=["actor"],
    )
    return {"programme": programmes, "programme_target": targets}


def load_programmes(
    engine: Engine, paths: Sequence[Path], *, actor: str, dry_run: bool = False
) -> list[tuple[str, dict[str, UpsertCounts]]]:
    """Load programme files in one transaction (all or nothing), in the order given."""
    results: list[tuple[str, dict[str, UpsertCounts]]] = []
    with engine.connect() as conn, translate_errors():
        transaction = conn.begin()
        try:
            set_actor(conn, actor)
            for path in paths:
                results.append((path.name, load_programme(conn, path, actor=actor)))
        except BaseException:
            transaction.rollback()
            raise
        if dry_run:
            transaction.rollback()
        else:
            transaction.commit()
    return results


def ordered(paths: Sequence[Path]) -> list[Path]:
    """National programmes before provinces' plans, so a plan finds its parent."""

    def national_first(path: Path) -> tuple[int, str]:
        try:
            level = read_programme(path).programme["level"]
        except InvalidInput:
            level = ""  # the load names the fault
        return (0 if level == vocab.ProgrammeLevel.NATIONAL else 1, path.name)

    return sorted(paths, key=national_first)


def list_programmes(engine: Engine | Connection) -> list[dict[str, Any]]:
    """Every programme with its parent's code and its number of targets, national first.

    Takes a connection too, so that a request reads them in its own transaction.
    """
    p = models.table_of(models.Programme)
    parent = p.alias("parent")
    t = models.table_of(models.ProgrammeTarget)
    count = (
        sa.select(sa.func.count())
        .where(t.c.programme_id == p.c.id)
        .scalar_subquery()
        .label("targets")
    )
    stmt = (
        sa.select(
            p.c.code,
            p.c.level,
            p.c.province_code,
            parent.c.code.label("parent"),
            p.c.decision_date,
            p.c.title,
            count,
        )
        .outerjoin(parent, parent.c.id == p.c.parent_id)
        .order_by(p.c.level, p.c.province_code, p.c.code)
    )
    if isinstance(engine, Connection):
        return [dict(row._mapping) for row in engine.execute(stmt)]
    with engine.connect() as conn:
        return [dict(row._mapping) for row in conn.execute(stmt)]
