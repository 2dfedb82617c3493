"""Files → PostGIS: craftmap's import path (demo data, user imports, the benchmark).

Imports are all-or-nothing: every row is upserted by its natural key inside one
transaction, rows that did not change are left alone (so a second load writes nothing and
adds no history), and a dry run does the same work and rolls it back.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import shapely
import sqlalchemy as sa
from geoalchemy2.shape import from_shape
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.sql.dml import ReturningInsert

from geo.io import figures, network, programmes
from geo.kernel.crs import SRID_STORAGE
from geo.kernel.errors import InvalidInput
from geo.store import models
from geo.store.db import set_actor, translate_errors

if TYPE_CHECKING:
    import geopandas as gpd
    import pandas as pd

LIST_SEPARATOR = ";"
FIGURES_FILE = "supply_figures.csv"


@dataclass
class UpsertCounts:
    """How many rows an upsert inserted, changed and left as they were."""

    inserted: int = 0
    updated: int = 0
    unchanged: int = 0


@dataclass
class ImportReport:
    """Per-table counts of one import, and whether it was rolled back as a dry run."""

    tables: dict[str, UpsertCounts] = field(default_factory=dict)
    dry_run: bool = False

    @property
    def written(self) -> int:
        """Rows inserted or changed over all tables."""
        return sum(c.inserted + c.updated for c in self.tables.values())


# -- reading cells --------------------------------------------------------------------------
def _is_blank(value: Any) -> bool:
    if isinstance(value, list | tuple | np.ndarray):
        return False
    return value is None or (isinstance(value, float) and math.isnan(value)) or value == ""


def _text(value: Any) -> str | None:
    return None if _is_blank(value) else str(value).strip() or None


def _int(value: Any) -> int | None:
    if _is_blank(value):
        return None
    number = float(value)
    if not number.is_integer():
        raise InvalidInput(f"expected a whole number, got {value!r}")
    return int(number)


def _float(value: Any) -> float | None:
    return None if _is_blank(value) else float(value)


def _bool(value: Any) -> bool | None:
    if _is_blank(value):
        return None
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in {"true", "1", "yes", "có"}:
        return True
    if text in {"false", "0", "no", "không"}:
        return False
    raise InvalidInput(f"expected true or false, got {value!r}")


def _date(value: Any) -> dt.date | None:
    if _is_blank(value):
        return None
    try:
        return dt.date.fromisoformat(str(value).strip())
    except ValueError as exc:
        raise InvalidInput(f"expected a date as YYYY-MM-DD, got {value!r}") from exc


def _list(value: Any) -> list[str]:
    if _is_blank(value):
        return []
    if isinstance(value, list | tuple | np.ndarray):
        return [str(v).strip() for v in value if not _is_blank(v)]
    return [part.strip() for part in str(value).split(LIST_SEPARATOR) if part.strip()]


_CONVERTERS = {
    sa.Text: _text,
    sa.String: _text,
    sa.Integer: _int,
    sa.SmallInteger: _int,
    sa.Double: _float,
    sa.Numeric: _float,
    sa.Boolean: _bool,
    sa.Date: _date,
}


def _convert(column: sa.Column[Any], value: Any) -> Any:
    col_type = column.type
    if isinstance(col_type, sa.ARRAY):
        return _list(value)
    if isinstance(col_type, sa.Enum):
        return _text(value)
    for sql_type, converter in _CONVERTERS.items():
        if isinstance(col_type, sql_type):
            return converter(value)
    return None if _is_blank(value) else value


def frame_to_records(
    frame: pd.DataFrame, table: sa.Table, *, geometry_kind: str | None = None
) -> list[dict[str, Any]]:
    """Rows of ``frame`` as column → value dicts for ``table`` (unknown columns ignored).

    Values are converted to the column types (lists split on ``;``); a geometry column
    in a GeoDataFrame is converted to ``geometry_kind`` ("MULTIPOLYGON" promotes polygons).

    Raises
    ------
    InvalidInput
        Naming the row and column of a value that cannot be read.
    """
    import geopandas as gpd

    writable = {
        c.name: c
        for c in table.columns
        if not c.primary_key and c.computed is None and c.name not in _SERVER_MANAGED
    }
    records: list[dict[str, Any]] = []
    geometries = None
    if isinstance(frame, gpd.GeoDataFrame) and frame.geometry.name in frame:
        geometries = _prepared_geometries(frame, geometry_kind)
    for position, (_, row) in enumerate(frame.iterrows()):
        record: dict[str, Any] = {}
        for name, column in writable.items():
            if name == "geom" or name not in row.index:
                continue
            try:
                record[name] = _convert(column, row[name])
            except (InvalidInput, ValueError) as exc:
                raise InvalidInput(f"row {position + 1}, column {name}: {exc}") from exc
        if geometries is not None:
            record["geom"] = from_shape(geometries[position], srid=SRID_STORAGE)
        records.append(record)
    return records


_SERVER_MANAGED = {"created_at", "updated_at", "version"}


def _prepared_geometries(frame: gpd.GeoDataFrame, kind: str | None) -> list[Any]:
    if frame.crs is not None and frame.crs.to_epsg() != SRID_STORAGE:
        frame = frame.to_crs(SRID_STORAGE)
    geoms = list(frame.geometry.values)
    for position, geom in enumerate(geoms):
        if geom is None or geom.is_empty:
            raise InvalidInput(f"row {position + 1}: the geometry is missing or empty")
        if not geom.is_valid:
            raise InvalidInput(
                f"row {position + 1}: invalid geometry ({shapely.is_valid_reason(geom)})"
            )
        if kind is not None and geom.geom_type not in _ACCEPTED_TYPES[kind]:
            raise InvalidInput(
                f"row {position + 1}: expected a {kind.lower()} geometry, got {geom.geom_type}"
            )
    if kind == "MULTIPOLYGON":
        # Storage is MULTIPOLYGON so that one column type holds both shapes.
        geoms = [shapely.MultiPolygon([g]) if g.geom_type == "Polygon" else g for g in geoms]
    return geoms


_ACCEPTED_TYPES = {
    "POINT": {"Point"},
    "LINESTRING": {"LineString"},
    "MULTIPOLYGON": {"Polygon", "MultiPolygon"},
}


# -- writing ---------------------------------------------------------------------------------
def upsert(
    conn: Connection,
    table: sa.Table,
    records: Sequence[Mapping[str, Any]],
    *,
    key: Sequence[str],
    insert_only: Sequence[str] = (),
) -> UpsertCounts:
    """Insert ``records`` or update the rows with the same ``key``; skip unchanged rows.

    ``insert_only`` columns are written with a new row and neither compared nor changed
    later (who first recorded a figure stays its actor when a second load finds it equal).
    """
    counts = UpsertCounts()
    if not records:
        return counts
    columns = list(records[0].keys())
    updatable = [c for c in columns if c not in key and c not in insert_only]
    base = insert(table)
    stmt: ReturningInsert[tuple[bool]] = base.on_conflict_do_update(
        index_elements=[table.c[k] for k in key],
        set_={c: base.excluded[c] for c in updatable},
        where=sa.tuple_(*[table.c[c] for c in updatable]).is_distinct_from(
            sa.tuple_(*[base.excluded[c] for c in updatable])
        ),
        # xmax is 0 on a freshly inserted row version, non-zero on an updated one.
    ).returning(sa.literal_column("xmax = 0", sa.Boolean).label("inserted"))
    if any(list(record.keys()) != columns for record in records):
        raise InvalidInput("every record of one import must have the same columns")
    # Batches of multi-row INSERTs: unchanged rows return nothing, so they are the rest.
    for start in range(0, len(records), _BATCH):
        batch = [dict(r) for r in records[start : start + _BATCH]]
        returned = (
            conn.execute(stmt, batch).all()
            if len(batch) > 1
            else conn.execute(stmt, batch[0]).all()
        )
        inserted = sum(1 for row in returned if row.inserted)
        counts.inserted += inserted
        counts.updated += len(returned) - inserted
        counts.unchanged += len(batch) - len(returned)
    return counts


_BATCH = 1000


def _read_csv(path: Path) -> pd.DataFrame:
    import pandas as pd

    return pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")


def read_villages(path: Path) -> gpd.GeoDataFrame:
    """Villages from a CSV with ``lon``/``lat`` columns (WGS 84) or any OGR vector file."""
    import geopandas as gpd
    import pandas as pd

    if path.suffix.lower() == ".csv":
        frame = _read_csv(path)
        try:
            lon = pd.to_numeric(frame["lon"])
            lat = pd.to_numeric(frame["lat"])
        except (KeyError, ValueError) as exc:
            raise InvalidInput(f"{path.name}: lon and lat must be numbers ({exc})") from exc
        return gpd.GeoDataFrame(frame, geometry=gpd.points_from_xy(lon, lat), crs=SRID_STORAGE)
    return gpd.read_file(path, engine="pyogrio")


def load_villages(
    conn: Connection, path: Path, *, demand: Mapping[str, Mapping[str, float]] | None = None
) -> UpsertCounts:
    """Upsert villages by ``code``; ``demand`` (code → material → t/yr) sets material_demand_t."""
    frame = read_villages(path)
    records = frame_to_records(frame, models.table_of(models.Village), geometry_kind="POINT")
    if demand is not None:
        for record in records:
            record["material_demand_t"] = (
                dict(demand[record["code"]]) if record["code"] in demand else None
            )
    return upsert(conn, models.table_of(models.Village), records, key=["code"])


def load_material_zones(
    conn: Connection, path: Path, *, capacity: Mapping[str, float] | None = None
) -> UpsertCounts:
    """Upsert material zones by ``code`` from any OGR vector file (GeoJSON, GPKG, SHP…).

    ``capacity`` (code → t/yr), when given, is each zone's annual_capacity_t.
    """
    import geopandas as gpd

    frame = gpd.read_file(path, engine="pyogrio")
    table = models.table_of(models.MaterialZone)
    records = frame_to_records(frame, table, geometry_kind="MULTIPOLYGON")
    if capacity is not None:
        for record in records:
            record["annual_capacity_t"] = capacity.get(record["code"])
    return upsert(conn, table, records, key=["code"])


def load_supply_figures(
    conn: Connection, rows: Sequence[figures.FigureRow], actor: str
) -> UpsertCounts:
    """Upsert the yearly figures: villages' by (village, material, year), zones' by (zone, year)."""
    table = models.table_of(models.SupplyFigure)
    village_records, zone_records = figures.figure_records(conn, rows, actor)
    counts = upsert(
        conn, table, village_records, key=["village_id", "material", "year"], insert_only=["actor"]
    )
    zone_counts = upsert(conn, table, zone_records, key=["zone_id", "year"], insert_only=["actor"])
    return UpsertCounts(
        counts.inserted + zone_counts.inserted,
        counts.updated + zone_counts.updated,
        counts.unchanged + zone_counts.unchanged,
    )


def load_admin_units(conn: Connection, path: Path) -> UpsertCounts:
    """Upsert administrative units by (scheme, code); ``lon``/``lat`` become the label point."""
    frame = _read_csv(path)
    records = frame_to_records(frame, models.table_of(models.AdminUnit))
    for record, (_, row) in zip(records, frame.iterrows(), strict=True):
        lon, lat = _float(row.get("lon")), _float(row.get("lat"))
        record["label_point"] = (
            from_shape(shapely.Point(lon, lat), srid=SRID_STORAGE)
            if lon is not None and lat is not None
            else None
        )
    return upsert(conn, models.table_of(models.AdminUnit), records, key=["scheme", "code"])


def load_routes(
    conn: Connection, routes_path: Path, stops_path: Path
) -> tuple[UpsertCounts, UpsertCounts]:
    """Upsert routes by ``code`` and their stops by (route, seq), then draw each line.

    A stop names a village by ``village_code`` (its point is the village's) or is a free
    point with ``name``, ``lon`` and ``lat``. A route's line joins its stops in order until
    routing on a road network draws the real path.
    """
    from geo.store import queries

    route_table = models.table_of(models.TourismRoute)
    routes = frame_to_records(_read_csv(routes_path), route_table)
    route_counts = upsert(conn, route_table, routes, key=["code"])
    route_ids = dict(
        conn.execute(
            sa.select(route_table.c.code, route_table.c.id).where(
                route_table.c.code.in_([r["code"] for r in routes])
            )
        ).all()
    )
    village_table = models.table_of(models.Village)
    stops_frame = _read_csv(stops_path)
    village_codes = sorted({c for c in stops_frame.get("village_code", []) if c})
    villages = {
        code: (vid, geom)
        for code, vid, geom in conn.execute(
            sa.select(village_table.c.code, village_table.c.id, village_table.c.geom).where(
                village_table.c.code.in_(village_codes)
            )
        ).all()
    }
    stop_table = models.table_of(models.RouteStop)
    stops: list[dict[str, Any]] = []
    for position, (_, row) in enumerate(stops_frame.iterrows(), start=1):
        route_id = route_ids.get(row["route_code"])
        if route_id is None:
            raise InvalidInput(f"stop row {position}: unknown route_code {row['route_code']!r}")
        village_code = _text(row.get("village_code"))
        if village_code:
            if village_code not in villages:
                raise InvalidInput(f"stop row {position}: unknown village_code {village_code!r}")
            village_id, geom = villages[village_code]
        else:
            lon, lat = _float(row.get("lon")), _float(row.get("lat"))
            if lon is None or lat is None or not _text(row.get("name")):
                raise InvalidInput(
                    f"stop row {position}: a stop without a village needs name, lon and lat"
                )
            village_id, geom = None, from_shape(shapely.Point(lon, lat), srid=SRID_STORAGE)
        stops.append(
            {
                "route_id": route_id,
                "seq": _int(row["seq"]),
                "village_id": village_id,
                "name": _text(row.get("name")),
                "dwell_min": _int(row.get("dwell_min")) or 0,
                "note": _text(row.get("note")),
                "geom": geom,
            }
        )
    stop_counts = upsert(conn, stop_table, stops, key=["route_id", "seq"])
    for route_id in route_ids.values():
        kept = [s["seq"] for s in stops if s["route_id"] == route_id]
        conn.execute(
            sa.delete(stop_table).where(
                stop_table.c.route_id == route_id, stop_table.c.seq.not_in(kept)
            )
        )
        queries.draw_route_line_from_stops(conn, route_id)
    return route_counts, stop_counts


@contextlib.contextmanager
def _all_or_nothing(engine: Engine, actor: str, *, dry_run: bool) -> Iterator[Connection]:
    """One transaction for a whole import: rolled back on any error, and for a dry run."""
    with engine.connect() as conn, translate_errors():
        transaction = conn.begin()
        try:
            set_actor(conn, actor)
            yield conn
        except BaseException:
            transaction.rollback()
            raise
        if dry_run:
            transaction.rollback()
        else:
            transaction.commit()


def load_demo(
    engine: Engine,
    *,
    demo_dir: Path,
    actor: str = "demo-loader",
    dry_run: bool = False,
    programmes_dir: Path | None = None,
) -> ImportReport:
    """Load the Thanh Hóa demo dataset from ``demo_dir`` idempotently in one transaction.

    The folder is the caller's to find (``craftmap demo load --folder``): where a checkout
    or an installed app keeps ``data/demo`` is a question for the composition root.
    ``programmes_dir`` (``data/programmes``), when given, holds the programme files whose
    targets are loaded too (801/QĐ-TTg, 4182/QĐ-UBND).
    """
    report = ImportReport(dry_run=dry_run)
    figures_path = demo_dir / FIGURES_FILE
    # The yearly figures are the one source of the features' current figures: the newest
    # of each goes into the same upsert as the rest of the row, so a second load is a no-op.
    figure_rows = figures.read_csv(figures_path) if figures_path.exists() else None
    demand, capacity = figures.newest(figure_rows) if figure_rows is not None else (None, None)
    with _all_or_nothing(engine, actor, dry_run=dry_run) as conn:
        report.tables["admin_unit"] = load_admin_units(conn, demo_dir / "admin_units.csv")
        report.tables["craft_village"] = load_villages(
            conn, demo_dir / "villages.csv", demand=demand
        )
        report.tables["material_zone"] = load_material_zones(
            conn, demo_dir / "material_zones.geojson", capacity=capacity
        )
        if figure_rows is not None:
            report.tables["supply_figure"] = load_supply_figures(conn, figure_rows, actor)
        routes, stops = load_routes(
            conn, demo_dir / "tourism_routes.csv", demo_dir / "route_stops.csv"
        )
        report.tables["tourism_route"] = routes
        report.tables["route_stop"] = stops
        if (demo_dir / network.DEMO_FILE).exists():
            edges, built = network.load_demo_network(conn, demo_dir, actor=actor)
            report.tables["road_edge"] = (
                UpsertCounts(inserted=edges) if built else UpsertCounts(unchanged=edges)
            )
        if programmes_dir is not None:
            files = programmes.ordered(sorted(programmes_dir.glob("*.csv")))
            for path in files:
                for table, counts in programmes.load_programme(conn, path, actor=actor).items():
                    total = report.tables.setdefault(table, UpsertCounts())
                    total.inserted += counts.inserted
                    total.updated += counts.updated
                    total.unchanged += counts.unchanged
    return report


def import_reference_layer(
    engine: Engine,
    path: Path,
    *,
    name: str,
    title: str,
    kind: str,
    actor: str,
    replace: bool = False,
    dry_run: bool = False,
) -> int:
    """Import any OGR vector file as a reference layer (a collection of its own).

    All-or-nothing: the layer and its features are written in one transaction. With
    ``replace`` the layer's previous features are deleted first (kept in the history).
    Returns the number of features imported.
    """
    import geopandas as gpd

    try:
        frame = gpd.read_file(path, engine="pyogrio")
    except Exception as exc:  # pyogrio raises its own error types for unreadable files
        raise InvalidInput(f"{path}: cannot read it as a vector file ({exc})") from exc
    if frame.crs is None:
        raise InvalidInput(f"{path}: the file does not say its CRS")
    geometries = _prepared_geometries(frame, None)
    properties = json.loads(frame.drop(columns=frame.geometry.name).to_json(orient="records"))
    layer_table = models.table_of(models.ReferenceLayer)
    feature_table = models.table_of(models.ReferenceFeature)
    with _all_or_nothing(engine, actor, dry_run=dry_run) as conn:
        layer_id = conn.execute(
            sa.select(layer_table.c.id).where(layer_table.c.name == name)
        ).scalar()
        if layer_id is not None and not replace:
            raise InvalidInput(f"a reference layer named {name!r} exists; use --replace")
        if layer_id is None:
            layer_id = conn.execute(
                sa.insert(layer_table)
                .values(name=name, title=title, kind=kind, source=str(path.name))
                .returning(layer_table.c.id)
            ).scalar_one()
        else:
            conn.execute(sa.delete(feature_table).where(feature_table.c.layer_id == layer_id))
        rows = [
            {
                "layer_id": layer_id,
                "properties": {k: v for k, v in props.items() if v is not None},
                "geom": from_shape(geom, srid=SRID_STORAGE),
            }
            for props, geom in zip(properties, geometries, strict=True)
        ]
        if rows:
            conn.execute(sa.insert(feature_table), rows)
    return len(rows)
