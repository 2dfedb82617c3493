"""Recording the yearly supply figures planners analyse: list, record, delete, import.

A figure is one year's tonnes: a village's demand for one material, or a zone's capacity.
Every write runs in the caller's transaction with the actor set, so the history trigger
keeps it. When the recorded year is the newest recorded for that village and material
(that zone), the feature's current field (``material_demand_t[material]``,
``annual_capacity_t``) follows through the features' own write path, so its version,
ETag and history change with it; an older year leaves the feature alone.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from geo.io import figures as files
from geo.kernel import collections as ids
from geo.kernel import vocab
from geo.kernel.crs import served_crs
from geo.kernel.errors import InvalidInput, NotFound
from geo.store import catalog, models, writes
from geo.store.db import set_actor, translate_errors

_FIGURES = models.table_of(models.SupplyFigure)
_VILLAGES = models.table_of(models.Village)
_ZONES = models.table_of(models.MaterialZone)


@dataclass(frozen=True)
class FigureInput:
    """What a planner records: tonnes, measured or estimated (with its basis), sources."""

    tonnes: float
    estimate: bool = False
    basis: str | None = None
    sources: tuple[str, ...] = ()

    @classmethod
    def checked(cls, tonnes: Any, estimate: Any, basis: Any, sources: Any) -> FigureInput:
        """The input with every rule checked (InvalidInput otherwise)."""
        return cls(*files.check_figure(tonnes, estimate, basis, sources))


@dataclass(frozen=True)
class Recorded:
    """What a record did: the figure now stored, and whether the row and the feature changed."""

    figure: dict[str, Any]
    created: bool
    changed: bool
    feature_updated: bool


@dataclass
class ImportSummary:
    """Counts of a figures import (all rows or none)."""

    rows: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    features_updated: int = 0
    dry_run: bool = False
    errors: list[str] = field(default_factory=list)


# -- reading ------------------------------------------------------------------------------------
def _select() -> sa.Select[Any]:
    return (
        sa.select(
            _FIGURES.c.id,
            _FIGURES.c.village_id,
            _FIGURES.c.zone_id,
            sa.func.coalesce(_VILLAGES.c.code, _ZONES.c.code).label("code"),
            sa.func.coalesce(_VILLAGES.c.name, _ZONES.c.name).label("name"),
            _VILLAGES.c.code.label("village_code"),
            _ZONES.c.code.label("zone_code"),
            _FIGURES.c.material,
            _FIGURES.c.year,
            _FIGURES.c.tonnes,
            _FIGURES.c.estimate,
            _FIGURES.c.basis,
            _FIGURES.c.sources,
            _FIGURES.c.actor,
            _FIGURES.c.updated_at,
            _FIGURES.c.version,
        )
        .select_from(_FIGURES)
        .outerjoin(_VILLAGES, _VILLAGES.c.id == _FIGURES.c.village_id)
        .outerjoin(_ZONES, _ZONES.c.id == _FIGURES.c.zone_id)
    )


def _as_dict(row: sa.Row[Any]) -> dict[str, Any]:
    found = dict(row._mapping)
    found["kind"] = "village" if found["village_id"] is not None else "zone"
    found["material"] = vocab.Material(found["material"]).value
    found["sources"] = list(found["sources"] or [])
    updated = found["updated_at"]
    found["updated_at"] = updated.isoformat() if isinstance(updated, dt.datetime) else updated
    return found


def list_figures(
    conn: Connection,
    *,
    material: str | None = None,
    year: int | None = None,
    village: str | None = None,
    zone: str | None = None,
) -> list[dict[str, Any]]:
    """Recorded figures, villages first then zones, by code, material and year.

    ``village``/``zone`` are codes; naming one lists only its figures (both: none match).
    """
    stmt = _select()
    if material is not None:
        stmt = stmt.where(_FIGURES.c.material == files.material_of(material))
    if year is not None:
        stmt = stmt.where(_FIGURES.c.year == files.check_year(year))
    if village is not None:
        stmt = stmt.where(_VILLAGES.c.code == village)
    if zone is not None:
        stmt = stmt.where(_ZONES.c.code == zone)
    stmt = stmt.order_by(
        _FIGURES.c.zone_id.is_not(None),
        sa.func.coalesce(_VILLAGES.c.code, _ZONES.c.code),
        _FIGURES.c.material,
        _FIGURES.c.year,
    )
    return [_as_dict(row) for row in conn.execute(stmt).all()]


def figures_of_feature(
    conn: Connection, collection_id: str, feature_id: int
) -> list[dict[str, Any]]:
    """A village's or a zone's figures, newest year first (for its page)."""
    column = _FIGURES.c.village_id if collection_id == ids.VILLAGES else _FIGURES.c.zone_id
    stmt = (
        _select().where(column == feature_id).order_by(_FIGURES.c.material, _FIGURES.c.year.desc())
    )
    return [_as_dict(row) for row in conn.execute(stmt).all()]


# -- writing ------------------------------------------------------------------------------------
def _village(conn: Connection, code: str) -> Any:
    row = conn.execute(
        sa.select(_VILLAGES.c.id, _VILLAGES.c.material_demand_t).where(_VILLAGES.c.code == code)
    ).first()
    if row is None:
        raise NotFound(f"no village with the code {code!r}")
    return row


def _zone(conn: Connection, code: str) -> Any:
    row = conn.execute(
        sa.select(_ZONES.c.id, _ZONES.c.material, _ZONES.c.annual_capacity_t).where(
            _ZONES.c.code == code
        )
    ).first()
    if row is None:
        raise NotFound(f"no zone with the code {code!r}")
    return row


def _check_version(existing: sa.Row[Any] | None, expected: int | None) -> None:
    if expected is None:
        return
    if existing is None:
        raise writes.PreconditionFailed("no figure is recorded there yet, so If-Match cannot hold")
    if existing.version != expected:
        raise writes.PreconditionFailed(
            f"the figure is at version {existing.version}, the request expected {expected}"
        )


def _store(
    conn: Connection,
    where: Sequence[sa.ColumnElement[bool]],
    values: dict[str, Any],
    data: FigureInput,
    actor: str,
    expected_version: int | None,
) -> tuple[bool, bool]:
    """Insert or update one figure row; (created, changed)."""
    existing = conn.execute(sa.select(_FIGURES).where(*where).with_for_update()).first()
    _check_version(existing, expected_version)
    new = {
        "tonnes": data.tonnes,
        "estimate": data.estimate,
        "basis": data.basis,
        "sources": list(data.sources),
    }
    if existing is None:
        conn.execute(sa.insert(_FIGURES).values(**values, **new, actor=actor))
        return True, True
    if all(getattr(existing, k) == v for k, v in new.items()):
        return False, False
    conn.execute(sa.update(_FIGURES).where(_FIGURES.c.id == existing.id).values(**new, actor=actor))
    return False, True


def _newest(conn: Connection, where: Sequence[sa.ColumnElement[bool]]) -> Any:
    return conn.execute(
        sa.select(_FIGURES.c.year, _FIGURES.c.tonnes)
        .where(*where)
        .order_by(_FIGURES.c.year.desc())
        .limit(1)
    ).first()


def _patch_feature(
    conn: Connection, collection_id: str, feature_id: int, properties: dict[str, Any], actor: str
) -> None:
    # Through the features' write path: the version, the ETag and the history follow.
    collection = catalog.get_collection(conn, collection_id)
    writes.patch(
        conn,
        collection,
        feature_id,
        {"properties": properties},
        writes.WriteOptions(actor=actor, content_crs=served_crs(None)),
    )


def _sync_village(
    conn: Connection, village: sa.Row[Any], material: vocab.Material, actor: str
) -> bool:
    """Put the newest figure of (village, material) into material_demand_t; True if it changed."""
    newest = _newest(conn, [_FIGURES.c.village_id == village.id, _FIGURES.c.material == material])
    current = dict(village.material_demand_t or {})
    if newest is None:
        if material.value not in current:
            return False
        current.pop(material.value)
    else:
        if current.get(material.value) == newest.tonnes:
            return False
        current[material.value] = newest.tonnes
    _patch_feature(conn, ids.VILLAGES, village.id, {"material_demand_t": current or None}, actor)
    return True


def _sync_zone(conn: Connection, zone: sa.Row[Any], actor: str) -> bool:
    """Put the newest figure of the zone into annual_capacity_t; True if it changed."""
    newest = _newest(conn, [_FIGURES.c.zone_id == zone.id])
    value = None if newest is None else newest.tonnes
    if zone.annual_capacity_t == value:
        return False
    _patch_feature(conn, ids.MATERIAL_ZONES, zone.id, {"annual_capacity_t": value}, actor)
    return True


def record_village(
    conn: Connection,
    code: str,
    material: str,
    year: int,
    data: FigureInput,
    *,
    actor: str,
    expected_version: int | None = None,
) -> Recorded:
    """Record a village's demand for ``material`` in ``year`` (insert or replace)."""
    chosen = files.material_of(material)
    files.check_year(year)
    with translate_errors():
        set_actor(conn, actor)
        village = _village(conn, code)
        where = [
            _FIGURES.c.village_id == village.id,
            _FIGURES.c.material == chosen,
            _FIGURES.c.year == year,
        ]
        created, changed = _store(
            conn,
            where,
            {"village_id": village.id, "material": chosen, "year": year},
            data,
            actor,
            expected_version,
        )
        updated = _sync_village(conn, village, chosen, actor)
        figure = _as_dict(conn.execute(_select().where(*where)).one())
    return Recorded(figure, created, changed, updated)


def record_zone(
    conn: Connection,
    code: str,
    year: int,
    data: FigureInput,
    *,
    actor: str,
    material: str | None = None,
    expected_version: int | None = None,
) -> Recorded:
    """Record a zone's capacity in ``year``; ``material``, if named, must be the zone's."""
    files.check_year(year)
    named = files.material_of(material) if material is not None else None
    with translate_errors():
        set_actor(conn, actor)
        zone = _zone(conn, code)
        if named is not None and named != zone.material:
            raise InvalidInput(
                f"zone {code} grows {vocab.Material(zone.material).value}, not {named.value}"
            )
        where = [_FIGURES.c.zone_id == zone.id, _FIGURES.c.year == year]
        created, changed = _store(
            conn,
            where,
            {"zone_id": zone.id, "material": zone.material, "year": year},
            data,
            actor,
            expected_version,
        )
        updated = _sync_zone(conn, zone, actor)
        figure = _as_dict(conn.execute(_select().where(*where)).one())
    return Recorded(figure, created, changed, updated)


def _delete(
    conn: Connection, where: Sequence[sa.ColumnElement[bool]], expected_version: int | None
) -> None:
    existing = conn.execute(sa.select(_FIGURES).where(*where).with_for_update()).first()
    if existing is None:
        raise NotFound("no figure is recorded for that year")
    _check_version(existing, expected_version)
    conn.execute(sa.delete(_FIGURES).where(_FIGURES.c.id == existing.id))


def delete_village(
    conn: Connection,
    code: str,
    material: str,
    year: int,
    *,
    actor: str,
    expected_version: int | None = None,
) -> bool:
    """Delete a village's figure; the feature then carries the newest left. True if it changed."""
    chosen = files.material_of(material)
    files.check_year(year)
    with translate_errors():
        set_actor(conn, actor)
        village = _village(conn, code)
        _delete(
            conn,
            [
                _FIGURES.c.village_id == village.id,
                _FIGURES.c.material == chosen,
                _FIGURES.c.year == year,
            ],
            expected_version,
        )
        return _sync_village(conn, village, chosen, actor)


def delete_zone(
    conn: Connection, code: str, year: int, *, actor: str, expected_version: int | None = None
) -> bool:
    """Delete a zone's figure; the zone then carries the newest left. True if it changed."""
    files.check_year(year)
    with translate_errors():
        set_actor(conn, actor)
        zone = _zone(conn, code)
        _delete(conn, [_FIGURES.c.zone_id == zone.id, _FIGURES.c.year == year], expected_version)
        return _sync_zone(conn, zone, actor)


# -- import -------------------------------------------------------------------------------------
def import_csv(engine: Engine, path: Path, *, actor: str, dry_run: bool = False) -> ImportSummary:
    """Import a figures CSV (the demo's columns): every row or none, in one transaction.

    Raises InvalidInput/NotFound naming the line of the first bad row; nothing is written then.
    """
    rows = files.read_csv(path)
    summary = ImportSummary(rows=len(rows), dry_run=dry_run)
    with engine.connect() as conn:
        transaction = conn.begin()
        try:
            for line, row in enumerate(rows, start=2):
                data = FigureInput(row.tonnes, row.estimate, row.basis, row.sources)
                try:
                    if row.village_code is not None:
                        assert row.material is not None
                        done = record_village(
                            conn, row.village_code, row.material.value, row.year, data, actor=actor
                        )
                    else:
                        assert row.zone_code is not None
                        done = record_zone(
                            conn,
                            row.zone_code,
                            row.year,
                            data,
                            actor=actor,
                            material=row.material.value if row.material else None,
                        )
                except (InvalidInput, NotFound) as exc:
                    raise type(exc)(f"{path.name}, line {line}: {exc}") from exc
                if done.created:
                    summary.inserted += 1
                elif done.changed:
                    summary.updated += 1
                else:
                    summary.unchanged += 1
                summary.features_updated += int(done.feature_updated)
        except BaseException:
            transaction.rollback()
            raise
        if dry_run:
            transaction.rollback()
        else:
            transaction.commit()
    return summary
