"""A selection of features written to the files people use, with bounded memory.

GeoPackage, zipped Shapefile, KML/KMZ, CSV, XLSX and FlatGeobuf are written by GDAL
(``pyogrio.write_arrow``), GeoParquet by pyarrow's Parquet writer (GDAL as bundled with
pyogrio has no Parquet driver), GeoJSON as the items endpoint writes it. Rows come from
PostGIS through a server-side cursor ``CHUNK`` at a time, each chunk an Arrow record
batch that the writer consumes before the next is read: memory stays at about one chunk
whatever the size of the selection. The file is written into a folder the caller owns
(the API's is temporary and deleted once the file is sent).

What each format keeps (see also :data:`FORMATS`):

- Every format holds the feature ``id`` and the selected properties, in the collection's
  order, with their types (text, integers, numbers, booleans, dates, date-times, NULLs);
  CSV and KML hold dates as ISO 8601 text. Numbers keep every digit, except in Shapefile,
  KML and XLSX, whose numbers hold 15 significant digits (CSV writes PostgreSQL's text of
  a number, which reads back exactly). Lists are ';'-joined text, except in GeoJSON and
  GeoParquet, which keep them as lists; objects (JSON) are JSON text.
- Geometries are written as stored (vertex order kept) in the requested CRS; GeoJSON
  orients polygon rings as RFC 7946 asks, and Shapefile as its own specification asks.
  Files hold longitude/latitude (east/north) order in every CRS, as GIS files do.
- KML and KMZ are always WGS 84 longitude/latitude (the KML standard allows no other
  CRS): another CRS asked for is not used, and :attr:`Exported.notes` says so.
- A Shapefile's field names are at most 10 characters: longer names are shortened,
  deterministically, and the mapping is listed in ``README.txt`` inside the zip. A
  Shapefile holds one geometry type: a layer of mixed geometries gives one per type.
- CSV is UTF-8 with a byte-order mark (Excel then shows Vietnamese correctly); points
  are ``lon``/``lat`` columns (``x``/``y`` in a projected CRS), other geometries WKT.
- FlatGeobuf has a spatial index (unless features without geometry may occur), which
  orders the features in the file along its Hilbert curve rather than by ``sortby``.
- XLSX is one sheet with a header row: numbers are numbers, dates are dates, date-times
  are UTC, geometries as in CSV.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import zipfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.sql.elements import ColumnElement

from geo.kernel.crs import CRS84, SRID_STORAGE, ServedCrs
from geo.kernel.errors import InvalidInput
from geo.kernel.text import Text
from geo.query import features
from geo.store.catalog import Collection, Prop

if TYPE_CHECKING:
    import pyarrow as pa  # type: ignore[import-untyped]

# Rows per round trip and per record batch. Exporting 50 000 parcels of 65 vertices as a
# GeoPackage raised the server's peak memory by ~40 MB with 2 000 rows, ~165 MB with
# 10 000 and ~485 MB reading every row first (tests/api/test_export_formats.py), for one
# second more than with 10 000 (6.9 s against 5.8 s).
CHUNK = 2_000


@dataclass(frozen=True)
class Format:
    """A file format features can be exported to."""

    key: str  # the value of ``f=`` and ``--format``
    extension: str  # of the file name, without the dot
    media_type: str
    title: Text
    # Other file-name endings the CLI recognises the format by.
    aliases: tuple[str, ...] = ()


FORMATS: dict[str, Format] = {
    f.key: f
    for f in (
        Format(
            "geojson",
            "geojson",
            "application/geo+json",
            Text("GeoJSON (dùng cho web)", "GeoJSON (for the web)"),
            ("json",),
        ),
        Format(
            "gpkg",
            "gpkg",
            "application/geopackage+sqlite3",
            Text("GeoPackage (dùng cho QGIS)", "GeoPackage (for QGIS)"),
        ),
        Format(
            "shp",
            "shp.zip",
            "application/zip",
            Text("Shapefile (nén zip)", "Shapefile (zipped)"),
            ("zip",),
        ),
        Format(
            "kml",
            "kml",
            "application/vnd.google-earth.kml+xml",
            Text("KML (dùng cho Google Earth)", "KML (for Google Earth)"),
        ),
        Format(
            "kmz",
            "kmz",
            "application/vnd.google-earth.kmz",
            Text("KMZ (dùng cho Google Earth, nén)", "KMZ (for Google Earth, zipped)"),
        ),
        Format(
            "csv",
            "csv",
            "text/csv; charset=utf-8",
            Text("CSV (dùng cho Excel, UTF-8)", "CSV (for Excel, UTF-8)"),
        ),
        Format(
            "xlsx",
            "xlsx",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            Text("Bảng tính Excel (XLSX)", "Excel workbook (XLSX)"),
        ),
        Format(
            "fgb",
            "fgb",
            "application/flatgeobuf",
            Text("FlatGeobuf (tệp GIS nhanh)", "FlatGeobuf (fast GIS file)"),
        ),
        Format(
            "parquet",
            "parquet",
            "application/vnd.apache.parquet",
            Text("GeoParquet (dùng cho phân tích dữ liệu)", "GeoParquet (for data analysis)"),
            ("geoparquet",),
        ),
    )
}
# The formats written to a file here; the API streams GeoJSON itself.
FILE_FORMATS = tuple(key for key in FORMATS if key != "geojson")

KML_NOTE = (
    "KML/KMZ is always WGS 84 longitude/latitude (the KML standard allows no other CRS); "
    "the CRS asked for ({asked}) was not used"
)
# Shapefile (dBASE) field names are at most 10 characters.
_SHP_NAME_LENGTH = 10
# Excel refuses sheet names longer than 31 characters.
_SHEET_NAME_LENGTH = 31
_GEOMETRY = "geometry"


def format_named(key: str) -> Format:
    """The format called ``key`` (``gpkg``, ``shp``…).

    Raises
    ------
    InvalidInput
        When craftmap writes no such format (the message lists those it does).
    """
    found = FORMATS.get(key.strip().lower())
    if found is None:
        raise InvalidInput(f"unknown export format {key!r}; formats: {', '.join(FORMATS)}")
    return found


def format_of_path(path: Path) -> Format:
    """The format a file name asks for, by its ending (``.gpkg``, ``.shp.zip``, ``.csv``…).

    Examples
    --------
    >>> format_of_path(Path("làng nghề.shp.zip")).key
    'shp'
    >>> format_of_path(Path("zones.GPKG")).key
    'gpkg'
    """
    name = path.name.lower()
    endings = sorted(
        ((ending, f) for f in FORMATS.values() for ending in (f.extension, *f.aliases)),
        key=lambda pair: -len(pair[0]),
    )
    for ending, found in endings:
        if name.endswith(f".{ending}"):
            return found
    raise InvalidInput(
        f"cannot tell the format of {path.name!r} from its ending; name one with --format "
        f"({', '.join(FORMATS)})"
    )


@dataclass
class Exported:
    """A written export: the file, how many features it holds, and what to tell the user."""

    path: Path
    format: Format
    features: int
    crs: ServedCrs
    notes: list[str] = field(default_factory=list)
    # Shapefile only: property name → the field name in the file, where they differ.
    renamed: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class _Flavour:
    """How a format holds values that not every format has."""

    lists_as_text: bool = True
    dates_as_text: bool = False
    datetimes_as_text: bool = False
    geometry_as_columns: bool = False
    numbers_as_text: bool = False
    kml: bool = False


_FLAVOURS = {
    "gpkg": _Flavour(),
    "shp": _Flavour(datetimes_as_text=True),
    "kml": _Flavour(dates_as_text=True, datetimes_as_text=True, kml=True),
    "kmz": _Flavour(dates_as_text=True, datetimes_as_text=True, kml=True),
    # GDAL's CSV writer keeps 15 significant digits; PostgreSQL's text of a double, all.
    "csv": _Flavour(
        dates_as_text=True, datetimes_as_text=True, geometry_as_columns=True, numbers_as_text=True
    ),
    "xlsx": _Flavour(geometry_as_columns=True),
    "fgb": _Flavour(),
    "parquet": _Flavour(lists_as_text=False),
}


def export(
    conn: Connection,
    collection: Collection,
    query: features.ItemsQuery,
    fmt: Format,
    folder: Path,
) -> Exported:
    """Write the features ``query`` selects to ``folder/<collection id>.<extension>``.

    ``query.limit`` None exports every match; a limit exports that page only. The CRS
    is ``query.crs`` (CRS84 when None), except for KML/KMZ (WGS 84 always).

    Raises
    ------
    InvalidInput
        When the selection cannot be held by the format (a geometry collection in a
        Shapefile).
    """
    crs = query.crs or CRS84
    path = folder / f"{collection.id}.{fmt.extension}"
    if fmt.key == "geojson":
        return Exported(path, fmt, _write_geojson(conn, collection, query, path), crs)
    # pyarrow (25 MB a worker) loads with the first export to a file format, not with the app.
    import pyarrow as pa

    notes: list[str] = []
    if fmt.key in {"kml", "kmz"}:
        if crs.srid != SRID_STORAGE:
            notes.append(KML_NOTE.format(asked=crs.uri))
        crs = CRS84
    flavour = _FLAVOURS[fmt.key]
    if fmt.key == "shp":
        return _write_shapefile(conn, collection, query, crs, path, flavour)
    columns = _columns(collection, query.properties, crs, flavour)
    statement = features.selection_statement(collection, query, [c.sql for c in columns])
    counter = _Counter()
    batches = counter.count(_batches(conn, statement, columns))
    schema = pa.schema([c.field for c in columns])
    if fmt.key == "parquet":
        _write_parquet(batches, schema, collection, crs, path)
    else:
        options, geometry_type = _gdal_options(fmt, collection, flavour)
        import pyogrio  # type: ignore[import-untyped]  # GDAL+geopandas: only on export, not in every worker

        pyogrio.write_arrow(
            pa.RecordBatchReader.from_batches(schema, batches),
            str(path),
            layer=_layer_name(fmt, collection),
            driver=_DRIVERS[fmt.key],
            geometry_name=None if flavour.geometry_as_columns else _GEOMETRY,
            geometry_type=geometry_type,
            crs=None if flavour.geometry_as_columns else _crs_text(crs),
            layer_options=options,
        )
    return Exported(path, fmt, counter.rows, crs, notes)


_DRIVERS = {
    "gpkg": "GPKG",
    "shp": "ESRI Shapefile",
    "kml": "LIBKML",
    "kmz": "LIBKML",
    "csv": "CSV",
    "xlsx": "XLSX",
    "fgb": "FlatGeobuf",
}


def _gdal_options(
    fmt: Format, collection: Collection, flavour: _Flavour
) -> tuple[dict[str, str], str | None]:
    geometry_type = None if flavour.geometry_as_columns else _gdal_geometry_type(collection)
    if fmt.key == "csv":
        return {"WRITE_BOM": "YES"}, geometry_type
    if fmt.key == "fgb":
        # FlatGeobuf's spatial index takes no feature without a geometry.
        return {"SPATIAL_INDEX": "YES" if collection.geometry_required else "NO"}, geometry_type
    return {}, geometry_type


def _gdal_geometry_type(collection: Collection) -> str:
    return "Unknown" if collection.geometry_type == "Geometry" else collection.geometry_type


def _layer_name(fmt: Format, collection: Collection) -> str:
    return collection.id[:_SHEET_NAME_LENGTH] if fmt.key == "xlsx" else collection.id


def _crs_text(crs: ServedCrs) -> str:
    # Files hold east/north order in every CRS; EPSG:4326 is what GIS software expects for
    # longitude/latitude (a GeoPackage's gpkg_spatial_ref_sys, a Shapefile's .prj).
    return f"EPSG:{crs.srid}"


# -- columns -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Column:
    sql: ColumnElement[Any]
    field: pa.Field


def _columns(
    collection: Collection,
    names: Sequence[str] | None,
    crs: ServedCrs,
    flavour: _Flavour,
    *,
    rename: Callable[[str], str] = lambda name: name,
) -> list[_Column]:
    import pyarrow as pa

    props = (
        list(collection.props)
        if names is None
        else [p for n in names if (p := collection.prop(n)) is not None]
    )
    table = collection.table
    columns = [_Column(table.c.id, pa.field(rename(_id_field(flavour)), pa.int64()))]
    for prop in props:
        sql, kind = _property(collection, prop, flavour)
        columns.append(_Column(sql.label(f"p_{len(columns)}"), pa.field(rename(prop.name), kind)))
    geom: ColumnElement[Any] = table.c.geom
    if crs.srid != SRID_STORAGE:
        geom = sa.func.ST_Transform(geom, crs.srid)
    if not flavour.geometry_as_columns:
        columns.append(_Column(sa.func.ST_AsBinary(geom), pa.field(_GEOMETRY, pa.binary())))
    elif collection.geometry_type == "Point":
        east, north = ("lon", "lat") if crs.srid in {SRID_STORAGE, 4756} else ("x", "y")
        columns.append(_Column(sa.func.ST_X(geom), pa.field(east, pa.float64())))
        columns.append(_Column(sa.func.ST_Y(geom), pa.field(north, pa.float64())))
    else:
        columns.append(_Column(sa.func.ST_AsText(geom), pa.field("WKT", pa.string())))
    return columns


def _id_field(flavour: _Flavour) -> str:
    # KML's readers take a field called "id" for the placemark's XML id.
    return "feature_id" if flavour.kml else "id"


def _property(
    collection: Collection, prop: Prop, flavour: _Flavour
) -> tuple[ColumnElement[Any], pa.DataType]:
    import pyarrow as pa

    column = collection.column(prop.name)
    kind = prop.type
    if kind == "integer":
        return column, pa.int64()
    if kind == "number":
        if flavour.numbers_as_text:
            return sa.cast(sa.cast(column, sa.Double), sa.Text), pa.string()
        return sa.cast(column, sa.Double), pa.float64()
    if kind == "boolean":
        return column, pa.bool_()
    if kind == "date":
        if flavour.dates_as_text:
            return sa.func.to_char(column, "YYYY-MM-DD"), pa.string()
        return column, pa.date32()
    if kind == "datetime":
        if flavour.datetimes_as_text:
            utc = sa.func.timezone("UTC", column)
            return sa.func.to_char(utc, 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'), pa.string()
        return column, pa.timestamp("us", tz="UTC")
    if kind in {"array", "object"} and collection.is_reference_layer:
        # A reference layer's lists and objects are JSON values: written as JSON text.
        return sa.cast(collection.table.c.properties[prop.name], sa.Text), pa.string()
    if kind == "array":
        if flavour.lists_as_text:
            return sa.func.array_to_string(column, ";"), pa.string()
        return column, pa.list_(pa.string())
    return sa.cast(column, sa.Text), pa.string()


# -- reading -----------------------------------------------------------------------------------
def _batches(
    conn: Connection, statement: sa.Select[Any], columns: Sequence[_Column]
) -> Iterator[pa.RecordBatch]:
    """The selection as record batches of ``CHUNK`` rows, from a server-side cursor."""
    import pyarrow as pa

    schema = pa.schema([c.field for c in columns])
    raw: Any = conn.connection.dbapi_connection  # psycopg's, for its transaction()
    # A server-side cursor needs a transaction block; the read engine is in autocommit.
    block = raw.transaction() if getattr(raw, "autocommit", False) else contextlib.nullcontext()
    with block:
        rows = conn.execute(statement.execution_options(stream_results=True, yield_per=CHUNK))
        try:
            for part in rows.partitions():
                values = list(zip(*part, strict=True))
                yield pa.record_batch(
                    [pa.array(v, type=f.type) for v, f in zip(values, schema, strict=True)],
                    schema=schema,
                )
        finally:
            rows.close()


class _Counter:
    def __init__(self) -> None:
        self.rows = 0

    def count(self, batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            self.rows += batch.num_rows
            yield batch


# -- writers -----------------------------------------------------------------------------------
def _write_geojson(
    conn: Connection, collection: Collection, query: features.ItemsQuery, path: Path
) -> int:
    # The features as the items endpoint writes them (PostGIS's GeoJSON, streamed).
    result = features.PageResult()
    with path.open("wb") as out:
        out.write(b'{"type":"FeatureCollection","features":[')
        separator = b""
        for batch in features.read_page(conn, collection, query, result):
            if batch:
                out.write(separator + b",".join(batch))
                separator = b","
        out.write(b"]}")
    return result.returned


def _write_parquet(
    batches: Iterator[pa.RecordBatch],
    schema: pa.Schema,
    collection: Collection,
    crs: ServedCrs,
    path: Path,
) -> None:
    """GeoParquet 1.1: WKB geometries, the ``geo`` metadata naming the CRS (PROJJSON)."""
    import pyarrow.parquet as pq  # type: ignore[import-untyped]
    from pyproj import CRS

    kinds = [] if collection.geometry_type == "Geometry" else [collection.geometry_type]
    projjson = CRS.from_user_input("OGC:CRS84") if crs == CRS84 else CRS.from_epsg(crs.srid)
    geo = {
        "version": "1.1.0",
        "primary_column": _GEOMETRY,
        "columns": {
            _GEOMETRY: {
                "encoding": "WKB",
                "geometry_types": kinds,
                "crs": projjson.to_json_dict(),
            }
        },
    }
    with_metadata = schema.with_metadata({b"geo": json.dumps(geo).encode()})
    with pq.ParquetWriter(str(path), with_metadata) as writer:
        for batch in batches:
            writer.write_batch(batch)


# Shapefile: geometry types by family, the file's own suffix, the type GDAL is given.
_SHP_FAMILIES = {
    "POINT": ("point", "Point"),
    "MULTIPOINT": ("multipoint", "MultiPoint"),
    "LINESTRING": ("line", "MultiLineString"),
    "MULTILINESTRING": ("line", "MultiLineString"),
    "POLYGON": ("polygon", "MultiPolygon"),
    "MULTIPOLYGON": ("polygon", "MultiPolygon"),
}


def short_names(names: Sequence[str]) -> dict[str, str]:
    """Field names of at most 10 characters, unique regardless of case, in a fixed way.

    A name that fits is kept; a longer one is cut, and one that would then collide gets a
    number in its last characters.

    Examples
    --------
    >>> short_names(["name", "recognition_date", "recognition_year", "recognition_decision"])
    {'name': 'name', 'recognition_date': 'recognitio', 'recognition_year': 'recognit_1', \
'recognition_decision': 'recognit_2'}
    """
    used: set[str] = set()
    out: dict[str, str] = {}
    for name in names:
        candidate = name[:_SHP_NAME_LENGTH]
        n = 0
        while candidate.lower() in used:
            n += 1
            suffix = f"_{n}"
            candidate = name[: _SHP_NAME_LENGTH - len(suffix)] + suffix
        used.add(candidate.lower())
        out[name] = candidate
    return out


def _write_shapefile(
    conn: Connection,
    collection: Collection,
    query: features.ItemsQuery,
    crs: ServedCrs,
    path: Path,
    flavour: _Flavour,
) -> Exported:
    import pyarrow as pa

    names = ["id", *(query.properties or [p.name for p in collection.props])]
    renamed = short_names(names)
    columns = _columns(collection, query.properties, crs, flavour, rename=renamed.__getitem__)
    schema = pa.schema([c.field for c in columns])
    folder = path.parent / f"{collection.id}-shapefile"
    folder.mkdir()
    table = collection.table
    kind = sa.func.GeometryType(table.c.geom)
    parts: list[tuple[str, str, ColumnElement[bool] | None]]
    if collection.geometry_type != "Geometry":
        parts = [(collection.id, collection.geometry_type, None)]
    else:
        parts = _shapefile_parts(conn, collection, query, kind)
    if query.limit is not None and len(parts) > 1:
        # One page split over several files: the page's ids first, then each file's part.
        page = features.selection_statement(collection, query, [table.c.id])
        query = dataclasses.replace(
            query, limit=None, offset=0, filters=[*query.filters, table.c.id.in_(page)]
        )
    total = 0
    written: list[Path] = []
    for stem, geometry_type, condition in parts:
        part_query = (
            query
            if condition is None
            else dataclasses.replace(query, filters=[*query.filters, condition])
        )
        statement = features.selection_statement(collection, part_query, [c.sql for c in columns])
        counter = _Counter()
        import pyogrio  # GDAL+geopandas: only on export, not in every worker

        pyogrio.write_arrow(
            pa.RecordBatchReader.from_batches(
                schema, counter.count(_batches(conn, statement, columns))
            ),
            str(folder / f"{stem}.shp"),
            layer=stem,
            driver="ESRI Shapefile",
            geometry_name=_GEOMETRY,
            geometry_type=geometry_type,
            crs=_crs_text(crs),
            layer_options={"ENCODING": "UTF-8"},
        )
        total += counter.rows
        written.append(folder / f"{stem}.shp")
    readme = folder / "README.txt"
    readme.write_text(_shapefile_readme(collection, crs, renamed, written), encoding="utf-8")
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for member in sorted(folder.iterdir()):
            archive.write(member, member.name)
            member.unlink()
    folder.rmdir()
    changed = {name: short for name, short in renamed.items() if name != short}
    return Exported(path, FORMATS["shp"], total, crs, [], changed)


def _shapefile_parts(
    conn: Connection,
    collection: Collection,
    query: features.ItemsQuery,
    kind: ColumnElement[Any],
) -> list[tuple[str, str, ColumnElement[bool] | None]]:
    """One Shapefile per geometry family present in a layer of mixed geometries."""
    present = {
        row[0]
        for row in conn.execute(
            sa.select(kind).where(*features.conditions(collection, query)).distinct()
        )
    }
    unknown = sorted(k for k in present if k is not None and k not in _SHP_FAMILIES)
    if unknown:
        raise InvalidInput(
            f"a Shapefile cannot hold {', '.join(unknown)} geometries; export "
            f"{collection.id} as GeoPackage (f=gpkg) instead"
        )
    families: dict[str, tuple[str, list[str]]] = {}
    for found in sorted(k for k in present if k is not None):
        suffix, gdal_type = _SHP_FAMILIES[found]
        families.setdefault(suffix, (gdal_type, []))[1].append(found)
    if not families:
        return [(collection.id, "Point", None)]
    parts: list[tuple[str, str, ColumnElement[bool] | None]] = []
    for n, (suffix, (gdal_type, kinds)) in enumerate(sorted(families.items())):
        condition: ColumnElement[bool] = kind.in_(kinds)
        if n == 0 and None in present:
            # Features without a geometry go with the first file (a Shapefile allows them).
            condition = sa.or_(condition, collection.table.c.geom.is_(None))
        parts.append((f"{collection.id}_{suffix}", gdal_type, condition))
    return parts


def _shapefile_readme(
    collection: Collection, crs: ServedCrs, renamed: dict[str, str], files: list[Path]
) -> str:
    lines = [
        f"craftmap export of {collection.id} ({collection.title.en} / {collection.title.vi})",
        "",
        f"CRS: {crs.title} ({crs.uri}), also in each .prj file.",
        "Text encoding: UTF-8 (each .cpg file says so).",
        "Files: "
        + ", ".join(p.name for p in files)
        + (" (one per geometry type: a Shapefile holds one)" if len(files) > 1 else ""),
        "Lists are written as text joined with ';'. Date-times are UTC, ISO 8601 text.",
        "Text longer than 254 characters is cut (a limit of the dBASE format).",
        "",
        "Field names (a Shapefile field name has at most 10 characters):",
        "",
        "field in file  property",
    ]
    lines += [f"{short:<14} {name}" for name, short in renamed.items()]
    return "\n".join(lines) + "\n"
