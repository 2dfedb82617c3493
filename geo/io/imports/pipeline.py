"""One import: read → map → check → write through the API's write path, all or nothing.

Villages, material zones and admin units are written set-based (bulk.py): staged with
COPY, checked by the rules' own SQL over all rows at once, written in one INSERT and one
UPDATE. Routes, stops and reference layers (and a set whose write a database constraint
refuses) go row by row through `geo.store.writes` (create, or patch of the row with the
same natural key), each row in a savepoint: a row that breaks a rule is reported and
undone while the others are still checked. Either way an imported row obeys the rules an
API write obeys and lands in the history with the actor. A dry run (the default) rolls
the whole transaction back; a real run commits only when no row was rejected.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import shapely
import shapely.geometry
import sqlalchemy as sa
from pyproj import CRS, Transformer
from sqlalchemy.engine import Connection, Engine

from geo.io.files import sha256_of
from geo.io.imports import bulk
from geo.io.imports import values as cells
from geo.io.imports.mapping import ALIASES, ColumnMapping, fold, load_mapping, save_mapping
from geo.io.imports.reading import Source, force_2d, read_source
from geo.kernel import collections as ids
from geo.kernel import vocab
from geo.kernel.crs import CRS84, SRID_STORAGE, import_crs, in_vietnam_box, outside_cause
from geo.kernel.errors import GeoError, InvalidInput
from geo.kernel.text import Text
from geo.store import catalog, models, writes
from geo.store.catalog import Collection, Prop
from geo.store.db import set_actor, translate_errors

Progress = Callable[[int, int], None]
LAYER_PREFIX = "layers/"
TARGETS = (ids.VILLAGES, ids.MATERIAL_ZONES, ids.ADMIN_UNITS, ids.ROUTES, ids.ROUTE_STOPS)
# Natural keys: what decides that a row updates a stored feature (as the demo loader).
KEYS = {
    ids.VILLAGES: ("code",),
    ids.MATERIAL_ZONES: ("code",),
    ids.ROUTES: ("code",),
    ids.ADMIN_UNITS: ("scheme", "code"),
    ids.ROUTE_STOPS: ("route_code", "seq"),
}
# Fields of a row that are not properties but name other features.
_REFERENCES = {ids.ROUTE_STOPS: ("route_code", "village_code")}
_COORDINATES = ("lon", "lat", "x", "y")
_FAMILY = {"Point": "point", "LineString": "line", "MultiPolygon": "polygon"}
_ROUTE = models.table_of(models.TourismRoute)
_VILLAGE = models.table_of(models.Village)
_ADMIN = models.table_of(models.AdminUnit)
_LAYER = models.table_of(models.ReferenceLayer)
_RUN = models.table_of(models.ImportRun)
STATUSES = ("ok", "repaired", "warning", "rejected")


@dataclass
class ImportRequest:
    """What to import where, and how to read it."""

    into: str
    actor: str
    layer: str | None = None
    crs: str | None = None
    encoding: str = "auto"
    mapping: ColumnMapping = field(default_factory=ColumnMapping)
    mapping_name: str | None = None
    save_mapping: str | None = None
    apply: bool = False
    file_name: str | None = None  # the name the user knows (an upload's original name)
    layer_title: str | None = None  # reference layers only
    layer_kind: str = "other"


@dataclass
class RowResult:
    """What happens (or would happen) to one row of the file."""

    row: int
    key: str
    name: str
    status: str = "ok"
    action: str = ""  # insert, update, unchanged; "" when rejected
    reasons: list[str] = field(default_factory=list)

    def reject(self, reason: str) -> None:
        """Mark the row rejected, with why."""
        self.status = "rejected"
        self.action = ""
        self.reasons.append(reason)

    def note(self, reason: str, status: str = "warning") -> None:
        """Add a reason; a warning or repair outranks ok, never a rejection."""
        self.reasons.append(reason)
        if STATUSES.index(status) > STATUSES.index(self.status):
            self.status = status


@dataclass
class ImportOutcome:
    """The report of one import: per row, counts, and what was written."""

    file_name: str
    sha256: str
    into: str
    layer: str
    driver: str
    crs: str
    encoding: str
    applied: bool
    dry_run: bool
    mapping: dict[str, Any]
    notes: list[str]
    rows: list[RowResult]
    reassigned: list[dict[str, Any]] = field(default_factory=list)
    started_at: str = ""
    finished_at: str = ""
    run_id: int | None = None

    @property
    def counts(self) -> dict[str, int]:
        """inserted, updated, unchanged, ok, repaired, warning, rejected, rows."""
        found = dict.fromkeys(("inserted", "updated", "unchanged", *STATUSES), 0)
        for row in self.rows:
            found[row.status] += 1
            if row.action in ("insert", "update", "unchanged"):
                found[{"insert": "inserted", "update": "updated"}.get(row.action, row.action)] += 1
        found["rows"] = len(self.rows)
        return found

    @property
    def message(self) -> str:
        """One line: what happened."""
        c = self.counts
        if c["rejected"]:
            verdict = (
                "nothing was written: fix the rejected rows and import again"
                if not self.dry_run
                else "an import would be refused: fix the rejected rows first"
            )
        elif self.dry_run:
            verdict = "dry run: nothing was written (add --apply to import)"
        else:
            verdict = "imported"
        return (
            f"{self.file_name} → {self.into}: {c['rows']} rows, {c['inserted']} new, "
            f"{c['updated']} changed, {c['unchanged']} unchanged, {c['repaired']} repaired, "
            f"{c['warning']} with warnings, {c['rejected']} rejected; {verdict}"
        )

    def as_json(self) -> dict[str, Any]:
        """The report as JSON."""
        return {
            "file": self.file_name,
            "sha256": self.sha256,
            "into": self.into,
            "layer": self.layer,
            "driver": self.driver,
            "crs": self.crs,
            "encoding": self.encoding,
            "dry_run": self.dry_run,
            "applied": self.applied,
            "message": self.message,
            "counts": self.counts,
            "mapping": self.mapping,
            "notes": self.notes,
            "reassigned": self.reassigned,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "run_id": self.run_id,
            "rows": [
                {
                    "row": r.row,
                    "key": r.key,
                    "name": r.name,
                    "status": r.status,
                    "action": r.action,
                    "reasons": r.reasons,
                }
                for r in self.rows
            ],
        }


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


# -- the target ----------------------------------------------------------------------------------
def check_target(into: str) -> None:
    """Refuse an ``into`` that names no importable collection."""
    if into in TARGETS:
        return
    if into.startswith(LAYER_PREFIX) and into[len(LAYER_PREFIX) :]:
        return
    raise InvalidInput(
        f"--into {into!r}: import into one of {', '.join(TARGETS)}, or layers/<name> for a "
        "reference layer"
    )


def _family_of(into: str) -> str | None:
    if into.startswith(LAYER_PREFIX):
        return None
    return _FAMILY[catalog.BY_ID[into].geometry_type]


# -- columns -------------------------------------------------------------------------------------
def _resolve_columns(
    source: Source, mapping: ColumnMapping, wanted: set[str], notes: list[str]
) -> tuple[dict[str, str], dict[str, str]]:
    """craftmap field → source column; and the aliases that were applied (source → field)."""
    columns = list(source.frame.columns)
    by_fold = {fold(c): c for c in columns}
    chosen: dict[str, str] = {}
    for src, dst in mapping.fields.items():
        column = src if src in columns else by_fold.get(fold(src))
        if column is None:
            raise InvalidInput(
                f"the mapping names a column {src!r} the file does not have; its columns: "
                f"{', '.join(columns)}"
            )
        chosen[dst] = column
    for column in columns:
        if fold(column) in wanted and fold(column) not in chosen and column not in chosen.values():
            chosen[fold(column)] = column
    if source.driver == "ESRI Shapefile":
        # dBase cuts field names at 10 characters: craft_grou is craft_group.
        for column in columns:
            if len(column) != 10 or column in chosen.values():
                continue
            longer = [f for f in wanted if f.startswith(fold(column)) and f not in chosen]
            if len(longer) == 1:
                chosen[longer[0]] = column
                notes.append(f"column {column} read as {longer[0]} (Shapefile names stop at 10)")
    aliases: dict[str, str] = {}
    for column in columns:
        target = ALIASES.get(fold(column))
        if target and target in wanted and target not in chosen and column not in chosen.values():
            chosen[target] = column
            aliases[column] = target
    if aliases:
        notes.append(
            "columns read by their usual Vietnamese/GIS names: "
            + ", ".join(f"{src} → {dst}" for src, dst in aliases.items())
        )
    return chosen, aliases


def _vocabulary(prop: Prop) -> dict[str, Any] | None:
    if prop.enum is None:
        return None
    for table in vocab.LABELS.values():
        if set(table) == set(prop.enum):
            return table
    return None


def _code(prop: Prop, raw: str, mapping: ColumnMapping, translated: dict[str, str]) -> str:
    mapped = mapping.value_for(prop.name, raw)
    if mapped is not None:
        if prop.enum is not None and mapped not in prop.enum:
            raise InvalidInput(
                f"{prop.name}: the mapping turns {raw!r} into {mapped!r}, which is not one of "
                f"the codes {', '.join(prop.enum)}"
            )
        return mapped
    assert prop.enum is not None
    if raw in prop.enum:
        return raw
    for code in prop.enum:
        if fold(code) == fold(raw):
            return code
    labels = _vocabulary(prop) or {}
    for code, label in labels.items():
        if fold(raw) in (fold(label.vi), fold(label.en)):
            translated[f"{prop.name}: {raw}"] = str(code)
            return str(code)
    raise InvalidInput(
        f"{prop.name}: unknown value {raw!r}; allowed codes: {', '.join(prop.enum)} "
        f"(or their labels); map it with --values {prop.name}:{raw}=<code>"
    )


def _property(
    prop: Prop,
    value: Any,
    *,
    comma: bool,
    mapping: ColumnMapping,
    translated: dict[str, str],
) -> Any:
    if prop.type == "integer":
        return cells.integer(value, comma_decimal=comma)
    if prop.type == "number":
        return cells.number(value, comma_decimal=comma)
    if prop.type == "boolean":
        return cells.boolean(value)
    if prop.type == "date":
        return cells.date(value)
    if prop.type == "array":
        return cells.string_list(value)
    if prop.type == "object":
        return cells.json_object(value)
    found = cells.text(value)
    if found is not None and prop.enum is not None:
        return _code(prop, found, mapping, translated)
    return found


# -- geometries ----------------------------------------------------------------------------------
def _table_geometries(
    source: Source, columns: dict[str, str], crs: CRS | None, notes: list[str]
) -> tuple[list[Any], CRS]:
    """Points from lon/lat or x/y columns of a table (CSV, XLSX)."""
    frame = source.frame
    if "lon" in columns and "lat" in columns:
        pair, default = ("lon", "lat"), CRS.from_epsg(SRID_STORAGE)
    elif "x" in columns and "y" in columns:
        pair, default = ("x", "y"), None
    else:
        raise InvalidInput(
            "the table has no coordinate columns: name them lon and lat (degrees, WGS 84) or "
            "x and y (metres, with --crs), or map yours with --map <column>=lon"
        )
    used = crs or default
    if used is None:
        raise InvalidInput(
            "the x and y columns are projected coordinates: say their CRS with --crs, e.g. "
            "--crs EPSG:5897 (VN-2000 / TM-3 105°) or --crs vn2000-tm3:105.5"
        )
    xs, ys = frame[columns[pair[0]]].tolist(), frame[columns[pair[1]]].tolist()
    comma_x, comma_y = cells.decimal_comma(xs), cells.decimal_comma(ys)
    for name, comma in ((pair[0], comma_x), (pair[1], comma_y)):
        if comma:
            notes.append(
                f"column {columns[name]} ({name}) writes the decimal comma: 105,7812 is read "
                "as 105.7812, dots group thousands"
            )
    geometries: list[Any] = []
    for x, y in zip(xs, ys, strict=True):
        try:
            px = cells.number(x, comma_decimal=comma_x)
            py = cells.number(y, comma_decimal=comma_y)
        except InvalidInput as exc:
            geometries.append(exc)
            continue
        geometries.append(None if px is None or py is None else shapely.Point(px, py))
    return geometries, used


def _to_storage(geometries: list[Any], crs: CRS) -> list[Any]:
    if crs.to_epsg() == SRID_STORAGE and crs.is_geographic:
        return geometries
    transformer = Transformer.from_crs(crs, SRID_STORAGE, always_xy=True)

    def move(coords: np.ndarray) -> np.ndarray:
        x, y = transformer.transform(coords[:, 0], coords[:, 1], errcheck=False)
        return np.column_stack([x, y])

    return [
        g if g is None or isinstance(g, Exception) else shapely.transform(g, move)
        for g in geometries
    ]


def _shape_for(collection: Collection | None, geom: Any) -> Any:
    """The geometry as the collection stores it, or an InvalidInput saying why it cannot be."""
    if collection is None or collection.geometry_type == "Geometry":
        return geom
    kind = collection.geometry_type
    if kind == "Point" and geom.geom_type == "MultiPoint" and len(geom.geoms) == 1:
        return geom.geoms[0]
    if kind == "LineString" and geom.geom_type == "MultiLineString":
        merged = shapely.line_merge(geom)
        if merged.geom_type == "LineString":
            return merged
        raise InvalidInput(
            f"expected one line, got {len(geom.geoms)} separate lines (a track with gaps?)"
        )
    if kind == "MultiPolygon" and geom.geom_type == "Polygon":
        return shapely.MultiPolygon([geom])
    if geom.geom_type != kind and not (kind == "MultiPolygon" and geom.geom_type == "MultiPolygon"):
        expected = {"MultiPolygon": "polygon"}.get(kind, kind.lower())
        raise InvalidInput(f"expected a {expected} geometry, got {geom.geom_type}")
    return geom


def _repair(conn: Connection, collection: Collection | None, geom: Any) -> Any:
    """ST_MakeValid in PostGIS, kept only when the result is still the collection's type."""
    kind = collection.geometry_type if collection is not None else "Geometry"
    made = bulk.made_valid(sa.func.ST_GeomFromWKB(shapely.to_wkb(geom), SRID_STORAGE), kind)
    wkb = conn.execute(sa.select(sa.func.ST_AsBinary(made))).scalar()
    repaired = shapely.from_wkb(bytes(wkb)) if wkb is not None else None
    if repaired is None or repaired.is_empty:
        raise InvalidInput("invalid geometry that ST_MakeValid cannot repair to this type")
    return _shape_for(collection, repaired)


def _province_outline(conn: Connection) -> Any:
    """The union of the loaded current admin units' boundaries (None when none are loaded)."""
    wkb = conn.execute(sa.select(sa.func.ST_AsBinary(bulk.outline_sql(_ADMIN)))).scalar()
    if wkb is None:
        return None
    outline = shapely.from_wkb(bytes(wkb))
    shapely.prepare(outline)
    return outline


# -- the run ---------------------------------------------------------------------------------------
def run_import(
    engine: Engine, path: Path, request: ImportRequest, progress: Progress | None = None
) -> ImportOutcome:
    """Import ``path`` into ``request.into`` (a dry run unless ``request.apply``).

    Raises
    ------
    InvalidInput
        When the file as a whole is refused: unreadable, no CRS, not in Vietnam, no
        coordinates, a column the mapping names is missing. Row problems are reported.
    """
    check_target(request.into)
    started = _now()
    file_name = request.file_name or path.name
    digest = sha256_of(path)
    collection = catalog.BY_ID.get(request.into)
    mapping = request.mapping
    if request.mapping_name:
        with engine.connect() as conn:
            saved_into, saved = load_mapping(conn, request.mapping_name)
        if saved_into != request.into:
            raise InvalidInput(
                f"mapping {request.mapping_name!r} was saved for {saved_into}, not {request.into}"
            )
        mapping = saved.merged(mapping)
    source = read_source(
        path, layer=request.layer, encoding=request.encoding, family=_family_of(request.into)
    )
    notes = list(source.notes)
    if len(source.layers) > 1:
        notes.append(f"layer {source.layer} of {', '.join(source.layers)} (choose with --layer)")
    # Which craftmap fields the rows may fill.
    if collection is not None:
        props = [p for p in collection.props if not p.read_only]
        wanted = (
            {p.name for p in props} | set(_COORDINATES) | set(_REFERENCES.get(collection.id, ()))
        )
    else:
        props = []
        wanted = set(_COORDINATES)
    columns, _aliases = _resolve_columns(source, mapping, wanted, notes)
    # Reference layers keep every column as a property, under the mapped names.
    if collection is None:
        mapped_sources = set(columns.values())
        for column in source.frame.columns:
            if column not in mapped_sources:
                columns[str(column)] = column
    ignored = [str(c) for c in source.frame.columns if c not in set(columns.values())]
    if ignored:
        notes.append(f"columns not imported (no craftmap field of that name): {', '.join(ignored)}")
    if collection is not None:
        missing = [
            p.name
            for p in props
            if p.required
            and p.name not in columns
            and not (collection.id == ids.ROUTE_STOPS and p.name in ("route_id",))
        ]
        if collection.id == ids.ROUTE_STOPS and "route_code" not in columns:
            missing.append("route_code")
        if missing:
            raise InvalidInput(
                f"the file lacks required columns for {collection.id}: {', '.join(missing)} "
                f"(its columns: {', '.join(map(str, source.frame.columns))}); map yours with "
                "--map <column>=<field>"
            )
    # Geometries, in storage coordinates.
    crs_given = import_crs(request.crs) if request.crs else None
    if source.geometries is not None:
        raw = force_2d(source.geometries)
        crs = crs_given or source.crs
        if crs is None and any(g is not None for g in raw):
            raise InvalidInput(
                f"{file_name}: the file does not say its CRS (a Shapefile without its .prj?): "
                "pass --crs, e.g. --crs EPSG:4326, --crs EPSG:5897 (VN-2000 / TM-3 105°) or "
                "--crs vn2000-tm3:105.5"
            )
        if crs is None:
            crs = CRS.from_epsg(SRID_STORAGE)
        if crs_given is not None and source.crs is not None and not source.crs.equals(crs_given):
            notes.append(f"the file says {source.crs.name}; read as {crs_given.name} (--crs)")
    else:
        raw, crs = _table_geometries(source, columns, crs_given, notes)
    crs_label = request.crs or (f"EPSG:{crs.to_epsg()}" if crs.to_epsg() else crs.name)
    lonlat = _to_storage(raw, crs)
    _refuse_outside_vietnam(raw, lonlat, crs)
    rows = _prepare_rows(source, collection, props, columns, mapping, raw, lonlat, crs, notes)
    outcome = ImportOutcome(
        file_name=file_name,
        sha256=digest,
        into=request.into,
        layer=source.layer,
        driver=source.driver,
        crs=crs_label,
        encoding=source.encoding,
        applied=False,
        dry_run=not request.apply,
        mapping={
            **mapping.as_json(),
            "columns": dict(columns),
        },
        notes=notes,
        rows=[r for r, _ in rows],
        started_at=started,
    )
    _write(engine, outcome, request, collection, rows, mapping, crs_label, progress)
    outcome.finished_at = _now()
    return outcome


def _refuse_outside_vietnam(raw: list[Any], lonlat: list[Any], crs: CRS) -> None:
    """A file none of whose positions lands in Vietnam is refused, with the likely cause."""
    firsts = []
    inside_any = False
    for before, after in zip(raw, lonlat, strict=True):
        if before is None or isinstance(before, Exception) or before.is_empty:
            continue
        xy = shapely.get_coordinates(after)
        if bool(in_vietnam_box(xy[:, 0], xy[:, 1]).all()):
            inside_any = True
            break
        firsts.append(shapely.get_coordinates(before)[0])
    if inside_any or not firsts:
        return
    x, y = float(firsts[0][0]), float(firsts[0][1])
    raise InvalidInput(
        f"no position of the file lies in Vietnam once read as {crs.name} (the first is "
        f"{x:g} {y:g}): {outside_cause(x, y, geographic=crs.is_geographic)}"
    )


@dataclass
class _Prepared:
    properties: dict[str, Any]
    geometry: Any  # shapely in storage coordinates, or None
    references: dict[str, str | None]


def _prepare_rows(
    source: Source,
    collection: Collection | None,
    props: list[Prop],
    columns: dict[str, str],
    mapping: ColumnMapping,
    raw: list[Any],
    lonlat: list[Any],
    crs: CRS,
    notes: list[str],
) -> list[tuple[RowResult, _Prepared]]:
    frame = source.frame
    translated: dict[str, str] = {}
    commas = {name: cells.decimal_comma(frame[column].tolist()) for name, column in columns.items()}
    for field_name, comma in commas.items():
        prop = collection.prop(field_name) if collection is not None else None
        if comma and prop is not None and prop.type in ("number", "integer"):
            notes.append(f"column {columns[field_name]} ({field_name}) writes the decimal comma")
    key_fields = KEYS.get(collection.id if collection is not None else "", ())
    seen: dict[tuple[str, ...], int] = {}
    prepared: list[tuple[RowResult, _Prepared]] = []
    records = frame.to_dict("records")
    for position, record in enumerate(records, start=1):
        key = " / ".join(
            str(cells.text(record.get(columns[k])) or "") for k in key_fields if k in columns
        )
        name_column = columns.get("name")
        name = cells.text(record.get(name_column)) if name_column else None
        result = RowResult(row=position, key=key, name=name or "")
        properties: dict[str, Any] = {}
        references: dict[str, str | None] = {}
        if collection is not None:
            for prop in props:
                if prop.name not in columns:
                    continue
                try:
                    properties[prop.name] = _property(
                        prop,
                        record.get(columns[prop.name]),
                        comma=commas[prop.name],
                        mapping=mapping,
                        translated=translated,
                    )
                except InvalidInput as exc:
                    message = str(exc)
                    result.reject(
                        message if message.startswith(prop.name) else f"{prop.name}: {message}"
                    )
            for field_name in _REFERENCES.get(collection.id, ()):
                if field_name in columns:
                    references[field_name] = cells.text(record.get(columns[field_name]))
            for prop in props:
                blank = prop.name in properties and properties[prop.name] is None
                if prop.required and prop.name in columns and blank:
                    result.reject(f"{prop.name} is required and empty")
        else:
            for name_key, column in columns.items():
                if name_key in _COORDINATES and source.geometries is None:
                    continue
                value = cells.json_ready(record.get(column))
                if value is not None:
                    properties[name_key] = value
        # The natural key, once per file.
        if key_fields and all(k in columns for k in key_fields) and result.status != "rejected":
            natural = tuple(
                str(properties.get(k) if k in properties else references.get(k)) for k in key_fields
            )
            if natural in seen:
                result.reject(
                    f"duplicate {'/'.join(key_fields)} {key!r} in the file "
                    f"(also row {seen[natural]})"
                )
            else:
                seen[natural] = position
        geometry = _row_geometry(result, collection, raw[position - 1], lonlat[position - 1], crs)
        prepared.append((result, _Prepared(properties, geometry, references)))
    for text_key, code in translated.items():
        notes.append(f"value read by its label: {text_key} → {code}")
    return prepared


def _row_geometry(
    result: RowResult, collection: Collection | None, before: Any, after: Any, crs: CRS
) -> Any:
    if isinstance(before, Exception):
        result.reject(f"coordinates: {before}")
        return None
    if after is None or after.is_empty:
        required = collection is None or collection.geometry_required
        if required and not (collection is not None and collection.id == ids.ROUTE_STOPS):
            result.reject("the geometry is missing or empty")
        return None
    xy = shapely.get_coordinates(after)
    if not bool(np.isfinite(xy).all()) or not bool(in_vietnam_box(xy[:, 0], xy[:, 1]).all()):
        first = shapely.get_coordinates(before)[0]
        result.reject(
            "outside Vietnam: "
            + outside_cause(float(first[0]), float(first[1]), geographic=crs.is_geographic)
        )
        return None
    try:
        return _shape_for(collection, after)
    except InvalidInput as exc:
        result.reject(str(exc))
        return None


def _geojson(geom: Any) -> dict[str, Any]:
    mapped = shapely.geometry.mapping(geom)
    parsed: dict[str, Any] = json.loads(json.dumps(mapped))  # tuples → lists, as a request
    return parsed


def _existing_id(
    conn: Connection, collection: Collection, properties: dict[str, Any]
) -> int | None:
    table = collection.table
    keys = KEYS[collection.id]
    if collection.id == ids.ROUTE_STOPS:
        conditions = [
            table.c.route_id == properties.get("route_id"),
            table.c.seq == properties.get("seq"),
        ]
    else:
        conditions = [table.c[k] == properties.get(k) for k in keys]
    return conn.execute(sa.select(table.c.id).where(*conditions)).scalar()


_SERVER_COLUMNS = {"version", "updated_at", "created_at"}


def _row_state(conn: Connection, table: sa.Table, feature_id: int) -> dict[str, Any]:
    row = conn.execute(sa.select(table).where(table.c.id == feature_id)).one()
    state = {k: v for k, v in row._mapping.items() if k not in _SERVER_COLUMNS}
    for name in ("geom", "label_point"):
        if state.get(name) is not None:
            state[name] = bytes(state[name].data)
    return state


def _resolve_stop(conn: Connection, prepared: _Prepared, result: RowResult) -> None:
    """A stop's route_code and village_code → ids; its point the village's when it has none."""
    route_code = prepared.references.get("route_code")
    route_id = conn.execute(sa.select(_ROUTE.c.id).where(_ROUTE.c.code == route_code)).scalar()
    if route_id is None:
        result.reject(f"route_code {route_code!r} names no route (import the routes first)")
        return
    prepared.properties["route_id"] = route_id
    village_code = prepared.references.get("village_code")
    if village_code:
        village = conn.execute(
            sa.select(_VILLAGE.c.id, sa.func.ST_AsBinary(_VILLAGE.c.geom)).where(
                _VILLAGE.c.code == village_code
            )
        ).first()
        if village is None:
            result.reject(f"village_code {village_code!r} names no village")
            return
        prepared.properties["village_id"] = village[0]
        if prepared.geometry is None:
            prepared.geometry = shapely.from_wkb(bytes(village[1]))
    if prepared.geometry is None:
        result.reject("a stop needs a point, or a village_code whose village gives it one")


def _write(
    engine: Engine,
    outcome: ImportOutcome,
    request: ImportRequest,
    core: Collection | None,
    rows: list[tuple[RowResult, _Prepared]],
    mapping: ColumnMapping,
    crs_label: str,
    progress: Progress | None,
) -> None:
    options = writes.WriteOptions(actor=request.actor, content_crs=CRS84)
    total = len(rows)
    with engine.connect() as conn, translate_errors():
        transaction = conn.begin()
        try:
            set_actor(conn, request.actor)
            collection = core if core is not None else _reference_collection(conn, request)
            if collection.id in bulk.SET_BASED and bulk.write_rows(
                conn, collection, rows, KEYS[collection.id], _ADMIN
            ):
                if progress is not None:
                    progress(total, total)
            else:
                outline = _province_outline(conn) if collection.id != ids.ADMIN_UNITS else None
                for done, (result, prepared) in enumerate(rows, start=1):
                    if result.status != "rejected":
                        _write_row(conn, collection, result, prepared, outline, options)
                    if progress is not None:
                        progress(done, total)
            if core is None and not any(r.status == "rejected" for r, _ in rows):
                _replace_layer_features(conn, collection, rows, options)
            rejected = any(r.status == "rejected" for r, _ in rows)
            if collection.id == ids.ADMIN_UNITS and not rejected:
                outcome.reassigned = reassign_villages(conn, options)
            if request.save_mapping:
                save_mapping(conn, request.save_mapping, request.into, mapping, actor=request.actor)
            if request.apply and not rejected:
                counts = outcome.counts
                outcome.finished_at = _now()
                outcome.run_id = conn.execute(
                    sa.insert(_RUN)
                    .values(
                        actor=request.actor,
                        file_name=outcome.file_name,
                        sha256=outcome.sha256,
                        into=outcome.into,
                        crs=crs_label,
                        encoding=outcome.encoding,
                        inserted=counts["inserted"],
                        updated=counts["updated"],
                        unchanged=counts["unchanged"],
                        repaired=counts["repaired"],
                        rejected=0,
                        started_at=dt.datetime.fromisoformat(outcome.started_at),
                        finished_at=dt.datetime.fromisoformat(outcome.finished_at),
                    )
                    .returning(_RUN.c.id)
                ).scalar_one()
                transaction.commit()
                outcome.applied = True
            else:
                transaction.rollback()
                if request.save_mapping:
                    # Nothing else is written, but the mapping the user named is kept.
                    with conn.begin():
                        save_mapping(
                            conn, request.save_mapping, request.into, mapping, actor=request.actor
                        )
        except BaseException:
            if transaction.is_active:
                transaction.rollback()
            raise


def _write_row(
    conn: Connection,
    collection: Collection,
    result: RowResult,
    prepared: _Prepared,
    outline: Any,
    options: writes.WriteOptions,
) -> None:
    savepoint = conn.begin_nested()
    try:
        if collection.id == ids.ROUTE_STOPS:
            _resolve_stop(conn, prepared, result)
            if result.status == "rejected":
                savepoint.rollback()
                return
        geom = prepared.geometry
        if geom is not None and not geom.is_valid:
            reason = shapely.is_valid_reason(geom)
            try:
                geom = _repair(conn, collection, geom)
            except InvalidInput as exc:
                result.reject(f"invalid geometry ({reason}): {exc}")
                savepoint.rollback()
                return
            result.note(f"invalid geometry ({reason}) repaired with ST_MakeValid", "repaired")
        if geom is not None and outline is not None and not outline.covers(geom):
            if collection.is_reference_layer:
                result.note("outside the province (the loaded administrative units)")
            else:
                result.reject("outside the province (the loaded administrative units)")
                savepoint.rollback()
                return
        if collection.is_reference_layer:
            prepared.geometry = geom
            savepoint.rollback()
            result.action = "insert"
            return
        feature: dict[str, Any] = {"type": "Feature", "properties": prepared.properties}
        if geom is not None:
            feature["geometry"] = _geojson(geom)
        existing = _existing_id(conn, collection, prepared.properties)
        if existing is None:
            if "geometry" not in feature:
                feature["geometry"] = None
            writes.create(conn, collection, feature, options)
            result.action = "insert"
            savepoint.commit()
            return
        before = _row_state(conn, collection.table, existing)
        writes.patch(conn, collection, existing, feature, options)
        if _row_state(conn, collection.table, existing) == before:
            savepoint.rollback()
            result.action = "unchanged"
            result.note(f"{result.key or 'the key'} exists and is unchanged", "ok")
            return
        savepoint.commit()
        result.action = "update"
        result.note(f"{result.key or 'the key'} exists: this row updates it", "ok")
    except GeoError as exc:
        if savepoint.is_active:
            savepoint.rollback()
        result.reject(str(exc))


# -- reference layers ------------------------------------------------------------------------------
def _reference_collection(conn: Connection, request: ImportRequest) -> Collection:
    name = request.into[len(LAYER_PREFIX) :]
    layer_id = conn.execute(sa.select(_LAYER.c.id).where(_LAYER.c.name == name)).scalar()
    if layer_id is None:
        if request.layer_kind not in {k.value for k in vocab.ReferenceKind}:
            raise InvalidInput(
                f"a reference layer's kind is one of "
                f"{', '.join(k.value for k in vocab.ReferenceKind)}, got {request.layer_kind!r}"
            )
        conn.execute(
            sa.insert(_LAYER).values(
                name=name,
                title=request.layer_title or name,
                kind=request.layer_kind,
                source=request.file_name,
            )
        )
    return catalog.get_collection(conn, name)


def _replace_layer_features(
    conn: Connection,
    collection: Collection,
    rows: list[tuple[RowResult, _Prepared]],
    options: writes.WriteOptions,
) -> None:
    """A reference layer's features become the file's: unchanged when they are the same."""
    table = collection.table
    stored = conn.execute(
        sa.select(table.c.id, table.c.properties, sa.func.ST_AsBinary(table.c.geom)).where(
            *collection.base_filter()
        )
    ).all()

    def signature(properties: dict[str, Any], wkb: bytes) -> tuple[str, bytes]:
        return json.dumps(properties, sort_keys=True), wkb

    old = sorted(signature(dict(r[1]), bytes(r[2])) for r in stored)
    new = sorted(
        signature(p.properties, shapely.to_wkb(p.geometry))
        for _, p in rows
        if p.geometry is not None
    )
    if old == new:
        for result, _ in rows:
            result.action = "unchanged"
        return
    for row in stored:
        writes.delete(conn, collection, row[0], options)
    for result, prepared in rows:
        feature = {
            "type": "Feature",
            "properties": prepared.properties,
            "geometry": _geojson(prepared.geometry),
        }
        writes.create(conn, collection, feature, options)
        result.action = "insert"


# -- after an admin-units import -------------------------------------------------------------------
def reassign_villages(conn: Connection, options: writes.WriteOptions) -> list[dict[str, Any]]:
    """Villages whose point lies in another current commune than they name move to it.

    Current communes are those of the post-2025 scheme (no end of validity) with a
    boundary. Each change is written through the write path, so the history has it.
    """
    commune = _ADMIN.alias("commune")
    found = (
        sa.select(commune.c.code, commune.c.name)
        .where(
            commune.c.level == "commune",
            commune.c.geom.is_not(None),
            commune.c.valid_to.is_(None),
            sa.func.ST_Covers(commune.c.geom, _VILLAGE.c.geom),
        )
        .order_by(commune.c.code)
        .limit(1)
        .lateral("found")
    )
    rows = conn.execute(
        sa.select(
            _VILLAGE.c.id,
            _VILLAGE.c.code,
            _VILLAGE.c.name,
            _VILLAGE.c.commune_code,
            found.c.code.label("new_code"),
            found.c.name.label("new_name"),
        )
        .select_from(_VILLAGE.join(found, sa.true()))
        .where(_VILLAGE.c.commune_code.is_distinct_from(found.c.code))
        .order_by(_VILLAGE.c.code)
    ).all()
    changes = []
    villages = catalog.BY_ID[ids.VILLAGES]
    for row in rows:
        writes.patch(
            conn,
            villages,
            row.id,
            {"properties": {"commune_code": row.new_code, "commune_name": row.new_name}},
            options,
        )
        changes.append(
            {
                "village": row.code,
                "name": row.name,
                "old_commune_code": row.commune_code,
                "new_commune_code": row.new_code,
                "new_commune_name": row.new_name,
            }
        )
    return changes


# Who may write a reference layer that does not exist yet: who may write any (catalog.py).
_NEW_LAYER_ROLES = frozenset({vocab.Role.PLANNER, vocab.Role.ADMIN})


def target_collection(conn: Connection, into: str) -> Collection:
    """The collection ``into`` names (a new reference layer: one with its future roles).

    For the API's role check before an upload is run.
    """
    check_target(into)
    if into in catalog.BY_ID:
        return catalog.BY_ID[into]
    name = into[len(LAYER_PREFIX) :]
    try:
        return catalog.get_collection(conn, name)
    except GeoError:
        return Collection(
            id=name,
            table=models.table_of(models.ReferenceFeature),
            geometry_type="Geometry",
            accepted_geometries=frozenset(),
            title=Text(name, name),
            description=Text(name, name),
            props=(),
            write_roles=_NEW_LAYER_ROLES,
        )
