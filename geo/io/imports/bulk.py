"""The set-based write of an import: the rows staged with COPY, checked and written in SQL.

The per-row path (pipeline._write_row) costs about eight round trips a row: a savepoint,
the key lookup, each rule's SELECT, the write, the before/after states. Here the prepared
rows are copied into a temporary table once and every step is one statement over all of
them: the ST_MakeValid repairs, the province outline, the existing keys, each domain rule
(the very SQL `geo.store.rules` gives the API's per-row check), then one INSERT of the
new rows and one UPDATE of those that changed (the history trigger records each changed
row with the transaction's actor; an unchanged row is not touched). The reasons and
actions per row are the per-row path's, word for word.

What the set cannot name row by row, a database constraint broken by the INSERT or UPDATE
(a NOT NULL, a CHECK), makes `write_rows` undo its work and answer False: the caller then
runs the per-row path, whose savepoints name the rows.
"""

from __future__ import annotations

import json
from collections.abc import Collection as Collection_
from typing import Any

import shapely
import sqlalchemy as sa
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import Connection
from sqlalchemy.sql.elements import ColumnElement

from geo.kernel import collections as ids
from geo.kernel.crs import SRID_STORAGE
from geo.kernel.errors import GeoError, InvalidInput
from geo.store import rules, writes
from geo.store.catalog import Collection
from geo.store.hooks import hooks_for

# The collections whose imports are written set-based (routes and stops are few, and
# their hooks draw lines from stops row by row: they keep the per-row path).
SET_BASED = frozenset({ids.VILLAGES, ids.MATERIAL_ZONES, ids.ADMIN_UNITS})
OUTSIDE_PROVINCE = "outside the province (the loaded administrative units)"
_RAW = "import_staging"
_ROWS = "import_rows"

# (row result, prepared row): pipeline.RowResult and pipeline._Prepared.
Row = tuple[Any, Any]


def made_valid(geom: ColumnElement[Any], kind: str) -> ColumnElement[Any]:
    """ST_MakeValid, keeping only the parts of the collection's type (the per-row repair's SQL)."""
    extract = {"Point": 1, "LineString": 2, "MultiPolygon": 3}
    made: ColumnElement[Any] = sa.func.ST_MakeValid(geom)
    if kind in extract:
        made = sa.func.ST_CollectionExtract(made, extract[kind])
    return made


def outline_sql(admin: sa.Table) -> sa.ScalarSelect[Any]:
    """The union of the loaded current admin units' boundaries (null when none are loaded)."""
    return (
        sa.select(sa.func.ST_Union(admin.c.geom))
        .where(
            admin.c.geom.is_not(None),
            sa.or_(admin.c.valid_to.is_(None), admin.c.valid_to >= sa.func.current_date()),
        )
        .scalar_subquery()
    )


def write_rows(
    conn: Connection,
    collection: Collection,
    rows: list[Row],
    key_fields: tuple[str, ...],
    admin: sa.Table,
) -> bool:
    """Check and write the rows not yet rejected, setting each one's status, action and reasons.

    Returns False (and leaves the rows and the database as they were) when a database
    constraint refused the set's write: the per-row path must then name the rows.
    """
    live = [(result, prepared) for result, prepared in rows if result.status != "rejected"]
    if not live:
        return True
    before = [(r.status, r.action, list(r.reasons)) for r, _ in live]
    savepoint = conn.begin_nested()
    try:
        _write(conn, collection, live, key_fields, admin)
    except (GeoError, sa_exc.DBAPIError):
        savepoint.rollback()
        for (result, _), (status, action, reasons) in zip(live, before, strict=True):
            result.status, result.action, result.reasons = status, action, reasons
        return False
    savepoint.commit()
    return True


def _columns(collection: Collection, live: list[Row]) -> list[str]:
    # Every row of a file carries the same properties (those of its mapped columns).
    present = set(live[0][1].properties)
    return [p.name for p in collection.props if p.name in present]


def _write(
    conn: Connection,
    collection: Collection,
    live: list[Row],
    key_fields: tuple[str, ...],
    admin: sa.Table,
) -> None:
    table = collection.table
    columns = _columns(collection, live)
    by_row = {result.row: result for result, _ in live}
    # Properties as the write path checks them (types, codes, limits): pure Python.
    invalid: dict[int, str] = {}
    for result, prepared in live:
        try:
            writes.validate_properties(collection, prepared.properties)
        except InvalidInput as exc:
            invalid[result.row] = str(exc)
    _stage(conn, table, columns, live, invalid)
    staging = _staging_table(table, columns)
    rejected: set[int] = set()

    # 1. Invalid geometries: repaired with ST_MakeValid, or rejected (per-row: _repair).
    reason = sa.func.ST_IsValidReason(staging.c.geom)
    found = (
        sa.select(staging.c.row, reason.label("reason"))
        .where(staging.c.geom.is_not(None))
        .subquery("found")
    )
    bad = sa.select(found).where(found.c.reason != "Valid Geometry").subquery("bad")
    made = made_valid(staging.c.geom, collection.geometry_type)
    if collection.geometry_type == "MultiPolygon":
        made = sa.func.ST_Multi(made)
    repaired = conn.execute(
        sa.update(staging)
        .values(geom=sa.case((sa.func.ST_IsEmpty(made), sa.null()), else_=made))
        .where(staging.c.row == bad.c.row)
        .returning(staging.c.row, bad.c.reason, staging.c.geom.is_(None))
    ).all()
    for row, why, failed in sorted(repaired):
        if failed:
            by_row[row].reject(
                f"invalid geometry ({why}): invalid geometry that ST_MakeValid cannot repair "
                "to this type"
            )
            rejected.add(row)
        else:
            by_row[row].note(f"invalid geometry ({why}) repaired with ST_MakeValid", "repaired")

    # 2. The province outline (admin units are what draws it).
    if collection.id != ids.ADMIN_UNITS:
        outline = outline_sql(admin)
        # No admin unit loaded: a null outline, nothing is outside it.
        covered = sa.func.coalesce(sa.func.ST_Covers(outline, staging.c.geom), sa.true())
        outside = conn.execute(
            sa.select(staging.c.row).where(staging.c.geom.is_not(None), sa.not_(covered))
        ).scalars()
        for row in outside:
            if row not in rejected:
                by_row[row].reject(OUTSIDE_PROVINCE)
                rejected.add(row)

    # 3. Properties the write path refuses.
    for row, message in sorted(invalid.items()):
        if row not in rejected:
            by_row[row].reject(message)
            rejected.add(row)

    # 4. The stored rows with the same natural key.
    if key_fields and all(k in columns for k in key_fields):
        conn.execute(
            sa.update(staging)
            .values(id=table.c.id)
            .where(*(table.c[k] == staging.c[k] for k in key_fields))
        )

    # 5. The domain rules, each one statement over the staged rows.
    for row, message in _rule_violations(conn, collection, staging, table, columns, rejected):
        by_row[row].reject(message)
        rejected.add(row)

    # 6. The write: new rows inserted, changed rows updated, unchanged rows left alone.
    if rejected:
        conn.execute(sa.delete(staging).where(_among(staging, rejected)))
    updated = _insert_and_update(conn, table, columns)
    existing = conn.execute(sa.select(staging.c.row, staging.c.id.is_not(None))).all()
    for row, exists in existing:
        result = by_row[row]
        if not exists:
            result.action = "insert"
        elif row in updated:
            result.action = "update"
            result.note(f"{result.key or 'the key'} exists: this row updates it", "ok")
        else:
            result.action = "unchanged"
            result.note(f"{result.key or 'the key'} exists and is unchanged", "ok")


def _stage(
    conn: Connection,
    table: sa.Table,
    columns: list[str],
    live: list[Row],
    invalid: dict[int, str],
) -> None:
    """COPY the rows into a temporary table, then type them as the target's columns."""
    conn.execute(
        sa.text(
            f"CREATE TEMP TABLE {_RAW} (row integer PRIMARY KEY, props jsonb, wkb bytea) "
            "ON COMMIT DROP"
        )
    )
    raw = conn.connection.driver_connection
    assert raw is not None
    with raw.cursor() as cursor, cursor.copy(f"COPY {_RAW} (row, props, wkb) FROM STDIN") as copy:
        for result, prepared in live:
            # Properties the write path refuses are not staged (a NUL cannot be jsonb).
            props = None if result.row in invalid else json.dumps(prepared.properties)
            geom = prepared.geometry
            copy.write_row((result.row, props, None if geom is None else shapely.to_wkb(geom)))
    listed = "".join(f', p."{c}"' for c in columns)
    # Column names come from the table definition, never from the file.
    conn.execute(
        sa.text(
            f"CREATE TEMP TABLE {_ROWS} ON COMMIT DROP AS "
            f"SELECT s.row, NULL::integer AS id{listed}, "
            f"ST_SetSRID(ST_GeomFromWKB(s.wkb), {SRID_STORAGE}) AS geom "
            f"FROM {_RAW} s LEFT JOIN LATERAL jsonb_populate_record(NULL::{table.name}, s.props) p "
            "ON true"
        )
    )
    conn.execute(sa.text(f"ALTER TABLE {_ROWS} ADD PRIMARY KEY (row)"))
    conn.execute(sa.text(f"ANALYZE {_ROWS}"))


def _among(staging: sa.Table, rows: Collection_[int]) -> ColumnElement[bool]:
    # One array parameter: an IN list of 200 000 rows would pass PostgreSQL's 65 535.
    return staging.c.row == sa.any_(sa.literal(sorted(rows), ARRAY(sa.Integer)))


def _staging_table(table: sa.Table, columns: list[str]) -> sa.Table:
    return sa.Table(
        _ROWS,
        sa.MetaData(),
        sa.Column("row", sa.Integer, primary_key=True),
        sa.Column("id", sa.Integer),
        *(sa.Column(c, table.c[c].type) for c in columns),
        sa.Column("geom", sa.types.NullType()),
    )


def _rule_violations(
    conn: Connection,
    collection: Collection,
    staging: sa.Table,
    table: sa.Table,
    columns: list[str],
    rejected: set[int],
) -> list[tuple[int, str]]:
    """(row, reason) of each staged row breaking a domain rule, the first rule it breaks.

    The rules and their order are the collection's hooks' (`WriteHooks.set_checks`).
    """
    stored = table.alias("stored")

    def value(name: str) -> ColumnElement[Any]:
        # A patch keeps a stored value the file has no column for; a create has none.
        return staging.c[name] if name in columns else stored.c[name]

    rule_set = hooks_for(collection).set_checks(staging.c.geom, value)
    checks = rule_set.checks
    if not checks:
        return []
    alive = sa.and_(staging.c.geom.is_not(None), sa.not_(_among(staging, rejected)))
    found = conn.execute(
        sa.select(staging.c.row, *(c.failing for c in checks))
        .select_from(staging.outerjoin(stored, stored.c.id == staging.c.id))
        .where(alive)
        .order_by(staging.c.row)
    ).all()
    violations: list[tuple[int, str]] = []
    clear: list[int] = []
    for row in found:
        message = rules.first_violation(checks, row[1:])
        if message is None:
            clear.append(row[0])
        else:
            violations.append((row[0], message))
    if rule_set.exclusions and clear:
        overlaps = rules.exclusion_overlaps(staging.c.geom).lateral("overlaps")
        listed = (
            sa.select(staging.c.row, overlaps.c.name, overlaps.c.id, overlaps.c.area_m2)
            .select_from(staging.join(overlaps, sa.true()))
            .where(_among(staging, clear))
            .order_by(staging.c.row, overlaps.c.name, overlaps.c.id)
        )
        areas: dict[int, list[str]] = {}
        for row, name, feature_id, area_m2 in conn.execute(listed):
            areas.setdefault(row, []).append(rules.exclusion_label(name, feature_id, area_m2))
        violations += [(row, rules.exclusions_message(labels)) for row, labels in areas.items()]
    return sorted(violations)


def _defaults(conn: Connection, table: sa.Table) -> dict[str, str]:
    """Each column's DEFAULT expression, as the catalog holds it (a patch's emptied value)."""
    rows = conn.execute(
        sa.text(
            "SELECT a.attname, pg_get_expr(d.adbin, d.adrelid) FROM pg_attrdef d "
            "JOIN pg_attribute a ON a.attrelid = d.adrelid AND a.attnum = d.adnum "
            "WHERE d.adrelid = CAST(:table AS regclass) AND a.attgenerated = ''"
        ),
        {"table": table.name},
    ).all()
    return {str(name): str(expression) for name, expression in rows}


def _insert_and_update(conn: Connection, table: sa.Table, columns: list[str]) -> set[int]:
    """Insert the staged rows with no stored twin, update those whose values differ.

    Returns the rows updated. As the per-row path's patch: a value the file leaves empty
    goes back to the column's default (or null), a column the file lacks keeps its value,
    a row without a geometry keeps the stored one. New rows take ids in file order.
    """
    written = [*columns, "geom"]
    listed = ", ".join(f'"{c}"' for c in written)
    conn.execute(
        sa.text(
            f"INSERT INTO {table.name} ({listed}) "
            f"SELECT {listed} FROM {_ROWS} WHERE id IS NULL ORDER BY row"
        )
    )
    defaults = _defaults(conn, table)
    # As hooks.fill_missing: the columns with a server default get it back, others null.
    new = {
        c: f'coalesce(s."{c}", {defaults[c]})'
        if table.c[c].server_default is not None and c in defaults
        else f's."{c}"'
        for c in columns
    }
    new["geom"] = "coalesce(s.geom, t.geom)"
    assignments = ", ".join(f'"{c}" = {new[c]}' for c in written)
    # Geometries compare by their bytes, as the per-row path's before/after states.
    old = [f't."{c}"' for c in columns] + ["ST_AsEWKB(t.geom)"]
    fresh = [new[c] for c in columns] + [f"ST_AsEWKB({new['geom']})"]
    differs = f"ROW({', '.join(old)}) IS DISTINCT FROM ROW({', '.join(fresh)})"
    updated = conn.execute(
        sa.text(
            f"UPDATE {table.name} t SET {assignments} FROM {_ROWS} s "
            f"WHERE t.id = s.id AND {differs} RETURNING s.row"
        )
    ).scalars()
    return set(updated)
