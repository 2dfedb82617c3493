"""Recording a village's yearly programme facts: list, record, delete, import, export.

The indicators are computed from these rows (``village_stat``). Every write runs in the
caller's transaction with the actor set, so the history trigger keeps each insert, update
and delete with its author; a row that would not change is not written at all, so a file
loaded twice leaves no trace the second time. An import writes every row or none.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from geo.io import village_stats as files
from geo.kernel.errors import InvalidInput, NotFound
from geo.store import models, writes
from geo.store.db import set_actor, translate_errors

_STATS = models.table_of(models.VillageStat)
_VILLAGES = models.table_of(models.Village)
_HISTORY = models.table_of(models.FeatureHistory)
_KEYS = models.table_of(models.ApiKey)
# Most history entries a village's page lists (newest first).
HISTORY_LIMIT = 200
FACTS = tuple(files.FACTS)


@dataclass(frozen=True)
class Recorded:
    """What a record did: the row now stored, and whether it was created or changed."""

    stat: dict[str, Any]
    created: bool
    changed: bool


@dataclass
class ImportSummary:
    """Counts of a yearly-facts import (all rows or none)."""

    rows: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    dry_run: bool = False
    villages: int = 0
    years: list[int] = field(default_factory=list)


def check_actor(actor: str) -> str:
    """An actor name the history can hold (no NUL, at most 200 characters)."""
    kept = actor.strip()
    if not kept or "\x00" in kept or len(kept) > 200:
        raise InvalidInput("the actor must be a name of 1 to 200 characters, without NUL")
    return kept


def checked_body(body: Any) -> tuple[dict[str, files.Fact], tuple[str, ...]]:
    """A JSON object of facts (every one optional: absent or null is unknown) and sources."""
    if not isinstance(body, dict):
        raise InvalidInput("the body must be a JSON object of facts")
    allowed = {*FACTS, "sources"}
    unknown = sorted(str(k)[:40] for k in set(body) - allowed)
    if unknown:
        raise InvalidInput(f"unknown members {unknown}; allowed: {', '.join(sorted(allowed))}")
    facts = {name: files.check_value(name, body.get(name)) for name in FACTS}
    files.check_consistent(facts)
    return facts, files.check_sources(body.get("sources"))


# -- reading ---------------------------------------------------------------------------------
def _select() -> sa.Select[Any]:
    return (
        sa.select(
            _STATS.c.id,
            _STATS.c.village_id,
            _VILLAGES.c.code.label("village_code"),
            _VILLAGES.c.name.label("village_name"),
            _STATS.c.year,
            *(_STATS.c[name] for name in FACTS),
            _STATS.c.sources,
            _STATS.c.actor,
            _STATS.c.updated_at,
            _STATS.c.version,
        )
        .select_from(_STATS)
        .join(_VILLAGES, _VILLAGES.c.id == _STATS.c.village_id)
    )


def _as_dict(row: sa.Row[Any]) -> dict[str, Any]:
    found = dict(row._mapping)
    for name in FACTS:
        if isinstance(found[name], Decimal):
            # numeric(20,0) holds whole numbers: an int keeps every digit in JSON.
            found[name] = int(found[name])
    found["sources"] = list(found["sources"] or [])
    updated = found["updated_at"]
    found["updated_at"] = updated.isoformat() if isinstance(updated, dt.datetime) else updated
    return found


def village(conn: Connection, feature_id: int) -> dict[str, Any]:
    """The village's id, code and name, or NotFound."""
    row = conn.execute(
        sa.select(_VILLAGES.c.id, _VILLAGES.c.code, _VILLAGES.c.name).where(
            _VILLAGES.c.id == feature_id
        )
    ).first()
    if row is None:
        raise NotFound(f"no village {feature_id}")
    return dict(row._mapping)


def village_by_code(conn: Connection, code: str) -> dict[str, Any]:
    """The village of a code, or NotFound naming the code."""
    row = conn.execute(
        sa.select(_VILLAGES.c.id, _VILLAGES.c.code, _VILLAGES.c.name).where(
            _VILLAGES.c.code == code
        )
    ).first()
    if row is None:
        raise NotFound(f"no village with the code {code!r}")
    return dict(row._mapping)


def years_of(conn: Connection, feature_id: int) -> list[dict[str, Any]]:
    """A village's yearly rows, oldest year first."""
    stmt = _select().where(_STATS.c.village_id == feature_id).order_by(_STATS.c.year)
    return [_as_dict(row) for row in conn.execute(stmt).all()]


def list_all(conn: Connection, *, year: int | None = None) -> list[dict[str, Any]]:
    """Every recorded row (the export), by village code and year."""
    stmt = _select().order_by(_VILLAGES.c.code, _STATS.c.year)
    if year is not None:
        stmt = stmt.where(_STATS.c.year == files.check_year(year))
    return [_as_dict(row) for row in conn.execute(stmt).all()]


def history_of(
    conn: Connection, feature_id: int, *, reveal_actors: bool = False, limit: int = HISTORY_LIMIT
) -> list[dict[str, Any]]:
    """Every recorded change of a village's yearly rows, newest first.

    Each entry: ``action`` (create, update, delete), ``year``, ``at``, ``actor`` and
    ``changes`` (fact -> [before, after]; a created row lists its known facts, a deleted
    one what it held). As for features, who wrote is named in full only with
    ``reveal_actors`` (readers with a key): otherwise ``API key (<role>)`` or
    ``command line`` (writes.history).
    """
    state = sa.func.coalesce(_HISTORY.c.after, _HISTORY.c.before)
    is_key = _HISTORY.c.actor.startswith("key:")
    actor = writes.shown_actor(reveal_actors=reveal_actors)
    rows = conn.execute(
        sa.select(
            _HISTORY.c.id,
            _HISTORY.c.action,
            actor.label("actor"),
            _HISTORY.c.at,
            _HISTORY.c.before,
            _HISTORY.c.after,
        )
        .select_from(
            _HISTORY.outerjoin(
                _KEYS,
                sa.and_(is_key, _KEYS.c.prefix == sa.func.split_part(_HISTORY.c.actor, ":", 2)),
            )
        )
        .where(
            _HISTORY.c.table_name == _STATS.name,
            state["village_id"].astext == str(feature_id),
        )
        .order_by(_HISTORY.c.id.desc())
        .limit(limit)
    ).all()
    entries = []
    for row in rows:
        before, after = row.before or {}, row.after or {}
        changes = {
            name: [before.get(name), after.get(name)]
            for name in (*FACTS, "sources")
            if before.get(name) != after.get(name)
            and (before.get(name) not in (None, []) or after.get(name) not in (None, []))
        }
        entries.append(
            {
                "history_id": row.id,
                "action": str(getattr(row.action, "value", row.action)),
                "year": (after or before).get("year"),
                "at": row.at.isoformat(),
                "actor": row.actor,
                "changes": changes,
            }
        )
    return entries


# -- writing ---------------------------------------------------------------------------------
def _check_version(existing: sa.Row[Any] | None, expected: int | None) -> None:
    if expected is None:
        return
    if existing is None:
        raise writes.PreconditionFailed(
            "nothing is recorded for that year, so If-Match cannot hold"
        )
    if existing.version != expected:
        raise writes.PreconditionFailed(
            f"the year's figures are at version {existing.version}, the request expected {expected}"
        )


def _same(existing: sa.Row[Any], new: Mapping[str, Any]) -> bool:
    return all(getattr(existing, k) == v for k, v in new.items())


def _store(
    conn: Connection,
    village_id: int,
    year: int,
    new: dict[str, Any],
    actor: str,
    expected_version: int | None,
) -> tuple[bool, bool]:
    """Insert or update one row; (created, changed). An unchanged row is not written."""
    existing = conn.execute(
        sa.select(_STATS)
        .where(_STATS.c.village_id == village_id, _STATS.c.year == year)
        .with_for_update()
    ).first()
    _check_version(existing, expected_version)
    if existing is None:
        values = dict.fromkeys(FACTS) | {"sources": []} | new
        conn.execute(
            sa.insert(_STATS).values(village_id=village_id, year=year, **values, actor=actor)
        )
        return True, True
    if _same(existing, new):
        return False, False
    conn.execute(sa.update(_STATS).where(_STATS.c.id == existing.id).values(**new, actor=actor))
    return False, True


def record(
    conn: Connection,
    feature_id: int,
    year: int,
    facts: Mapping[str, files.Fact],
    sources: Sequence[str],
    *,
    actor: str,
    expected_version: int | None = None,
) -> Recorded:
    """Record (insert or replace) a village's facts of a year; a fact not given is unknown."""
    files.check_year(year)
    new: dict[str, Any] = {name: facts.get(name) for name in FACTS}
    new["sources"] = list(sources)
    with translate_errors():
        set_actor(conn, actor)
        village(conn, feature_id)
        created, changed = _store(conn, feature_id, year, new, actor, expected_version)
        stat = _as_dict(
            conn.execute(
                _select().where(_STATS.c.village_id == feature_id, _STATS.c.year == year)
            ).one()
        )
    return Recorded(stat, created, changed)


def delete(
    conn: Connection,
    feature_id: int,
    year: int,
    *,
    actor: str,
    expected_version: int | None = None,
) -> None:
    """Delete a village's facts of a year (the history keeps the row)."""
    files.check_year(year)
    with translate_errors():
        set_actor(conn, actor)
        village(conn, feature_id)
        existing = conn.execute(
            sa.select(_STATS)
            .where(_STATS.c.village_id == feature_id, _STATS.c.year == year)
            .with_for_update()
        ).first()
        if existing is None:
            raise NotFound(f"nothing is recorded for village {feature_id} in {year}")
        _check_version(existing, expected_version)
        conn.execute(sa.delete(_STATS).where(_STATS.c.id == existing.id))


# -- import ----------------------------------------------------------------------------------
def import_rows(
    conn: Connection,
    rows: Sequence[files.StatRow],
    *,
    actor: str,
    name: str = "file",
    dry_run: bool = False,
) -> ImportSummary:
    """Upsert checked rows by (village, year) in a savepoint: every row or none.

    Unknown village codes are all named (with their lines) before anything is written. A
    fact column the file left out keeps its recorded value.
    """
    actor = check_actor(actor)
    summary = ImportSummary(rows=len(rows), dry_run=dry_run)
    codes = {row.village_code for row in rows}
    ids = dict(
        conn.execute(
            sa.select(_VILLAGES.c.code, _VILLAGES.c.id).where(_VILLAGES.c.code.in_(codes))
        ).all()
    )
    unknown = [row for row in rows if row.village_code not in ids]
    if unknown:
        listed = "\n".join(
            f"line {row.line}: no village with the code {row.village_code!r}"
            for row in unknown[: files.MAX_REPORTED]
        )
        more = len(unknown) - files.MAX_REPORTED
        tail = f"\n… and {more} more" if more > 0 else ""
        raise InvalidInput(
            f"{name}: {len(unknown)} rows name unknown villages, nothing was written:\n"
            f"{listed}{tail}"
        )
    savepoint = conn.begin_nested()
    try:
        set_actor(conn, actor)
        for row in rows:
            new: dict[str, Any] = dict(row.facts)
            if row.sources is not None:
                new["sources"] = list(row.sources)
            try:
                with translate_errors():
                    created, changed = _store(
                        conn, ids[row.village_code], row.year, new, actor, None
                    )
            except InvalidInput as exc:
                raise InvalidInput(
                    f"{name}, line {row.line} ({row.village_code} {row.year}): {exc};"
                    " nothing was written"
                ) from exc
            if created:
                summary.inserted += 1
            elif changed:
                summary.updated += 1
            else:
                summary.unchanged += 1
    except BaseException:
        savepoint.rollback()
        raise
    if dry_run:
        savepoint.rollback()
    else:
        savepoint.commit()
    summary.villages = len(codes)
    summary.years = sorted({row.year for row in rows})
    return summary


def import_file(engine: Engine, path: Path, *, actor: str, dry_run: bool = False) -> ImportSummary:
    """Read a CSV/XLSX file and import it in one transaction (InvalidInput names bad lines)."""
    rows = files.read_file(path)
    with engine.begin() as conn:
        return import_rows(conn, rows, actor=actor, name=path.name, dry_run=dry_run)
