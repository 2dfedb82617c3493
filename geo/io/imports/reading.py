"""Reading an import's file through pyogrio/GDAL: pick the layer, decode its text.

Every format goes through GDAL (GeoJSON, GeoPackage, Shapefile and MapInfo in a zip or
beside their siblings, KML/KMZ, GPX, CSV, XLSX, FlatGeobuf); nothing is parsed by hand.
Text comes out NFC: names typed on different machines must compare equal.
"""

from __future__ import annotations

import unicodedata
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import shapely
from pyproj import CRS

from geo.io import legacy_text
from geo.kernel.errors import InvalidInput

if TYPE_CHECKING:
    import pandas as pd

ENCODINGS = ("auto", "utf-8", *legacy_text.LEGACY)
# Drivers whose files carry no reliable encoding: their bytes are read one char per byte
# (latin1), then detected and decoded as UTF-8, TCVN3 or VNI.
_BYTE_DRIVERS = {"ESRI Shapefile", "MapInfo File", "CSV"}
_OPENABLE = (".shp", ".tab", ".mif", ".gpkg", ".geojson", ".json", ".kml", ".gpx", ".fgb", ".csv")
_POINT = {"Point", "MultiPoint", "Point Z", "MultiPoint Z", "3D Point", "3D MultiPoint"}


@dataclass
class Source:
    """One layer of an import's file: attributes as text/numbers, geometries as read."""

    frame: pd.DataFrame
    geometries: list[Any] | None  # shapely geometries in the file's CRS; None: a table
    crs: CRS | None
    driver: str
    layer: str
    layers: list[str]
    encoding: str
    notes: list[str] = field(default_factory=list)


def dataset_path(path: Path) -> str:
    """What GDAL opens for ``path``: a zip through /vsizip/, pointing at its data file."""
    if path.suffix.lower() not in {".zip"}:
        return str(path)
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, OSError) as exc:
        raise InvalidInput(f"{path.name}: not a readable zip archive ({exc})") from exc
    found = sorted(n for n in names if n.lower().endswith(_OPENABLE) and "__MACOSX" not in n)
    if not found:
        raise InvalidInput(
            f"{path.name}: the zip holds no file GDAL reads ({', '.join(names[:5]) or 'empty'})"
        )
    return f"/vsizip/{path}/{found[0]}"


def _open_options(driver_hint: str) -> dict[str, str]:
    # Excel: the first row is the header even when every column holds text.
    return {"HEADERS": "FORCE"} if driver_hint == ".xlsx" else {}


def list_layers(path: Path) -> tuple[str, list[tuple[str, str | None]]]:
    """The dataset GDAL opens and its layers (name, geometry type)."""
    import pyogrio  # type: ignore[import-untyped]

    source = dataset_path(path)
    try:
        layers = pyogrio.list_layers(source)
    except Exception as exc:  # pyogrio's DataSourceError and friends
        raise InvalidInput(
            f"{path.name}: GDAL cannot read it as a vector file ({_short(exc)})"
        ) from exc
    if len(layers) == 0:
        raise InvalidInput(f"{path.name}: the file holds no layer")
    return source, [(str(name), None if kind is None else str(kind)) for name, kind in layers]


def _short(exc: Exception) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:200]


def _family(kind: str | None) -> str | None:
    if kind is None:
        return None
    if "Point" in kind:
        return "point"
    if "Line" in kind:
        return "line"
    if "Polygon" in kind:
        return "polygon"
    return None


def choose_layer(
    source: str, layers: list[tuple[str, str | None]], asked: str | None, family: str | None
) -> str:
    """``asked``, else the first spatial layer with features whose shapes fit the target."""
    import pyogrio

    names = [name for name, _ in layers]
    if asked is not None:
        if asked not in names:
            raise InvalidInput(f"no layer {asked!r} in the file; its layers: {', '.join(names)}")
        return asked
    spatial = [(n, k) for n, k in layers if k is not None]
    if not spatial:
        return names[0]

    def has_features(name: str) -> bool:
        try:
            info = pyogrio.read_info(source, layer=name, force_feature_count=True)
            return int(info.get("features") or 0) > 0
        except Exception:
            return False

    for name, kind in spatial:
        if (family is None or _family(kind) == family) and has_features(name):
            return name
    for name, _ in spatial:
        if has_features(name):
            return name
    return spatial[0][0]


def read_source(path: Path, *, layer: str | None, encoding: str, family: str | None) -> Source:
    """Read the chosen layer of ``path`` (see `choose_layer`), text decoded to NFC Unicode.

    Raises
    ------
    InvalidInput
        The file cannot be read, the layer does not exist, or its text is in no known
        encoding.
    """
    import pandas as pd
    import pyogrio

    if encoding not in ENCODINGS:
        raise InvalidInput(f"--encoding must be one of {', '.join(ENCODINGS)}, got {encoding!r}")
    source, layers = list_layers(path)
    chosen = choose_layer(source, layers, layer, family)
    try:
        info = pyogrio.read_info(source, layer=chosen)
    except Exception as exc:
        raise InvalidInput(f"{path.name}: cannot read layer {chosen!r} ({_short(exc)})") from exc
    driver = str(info.get("driver") or "")
    as_bytes = encoding in legacy_text.LEGACY or (encoding == "auto" and driver in _BYTE_DRIVERS)
    options = _open_options(path.suffix.lower())
    try:
        frame = pyogrio.read_dataframe(
            source,
            layer=chosen,
            encoding="latin1" if as_bytes and driver in _BYTE_DRIVERS else None,
            **options,
        )
    except Exception as exc:
        raise InvalidInput(f"{path.name}: cannot read layer {chosen!r} ({_short(exc)})") from exc
    geometries = None
    crs = None
    if "geometry" in frame.columns and hasattr(frame, "crs"):
        geometries = list(frame.geometry.values)
        crs = frame.crs
        frame = pd.DataFrame(frame.drop(columns=frame.geometry.name))
        if all(g is None for g in geometries) and info.get("geometry_type") is None:
            geometries = None
    frame, used = _decode_text(frame, encoding, as_bytes=as_bytes)
    source_info = Source(
        frame=frame,
        geometries=geometries,
        crs=crs,
        driver=driver,
        layer=chosen,
        layers=[name for name, _ in layers],
        encoding=used,
    )
    if used in legacy_text.LEGACY:
        source_info.notes.append(f"text converted from {used.upper()} to Unicode")
    return source_info


def _textual(series: pd.Series) -> bool:
    import pandas as pd

    return series.dtype == object or pd.api.types.is_string_dtype(series.dtype)


def _text_cells(frame: pd.DataFrame) -> list[str]:
    cells = [str(c) for c in frame.columns]
    for column in frame.columns:
        if _textual(frame[column]):
            cells += [v for v in frame[column].tolist() if isinstance(v, str)]
    return cells


def _decode_text(frame: pd.DataFrame, encoding: str, *, as_bytes: bool) -> tuple[pd.DataFrame, str]:
    """Column names and text cells as NFC Unicode, from the bytes when they were kept."""
    import pandas as pd

    used = "utf-8"
    if as_bytes:
        try:
            samples = [cell.encode("latin1") for cell in _text_cells(frame)]
        except UnicodeEncodeError as exc:
            raise InvalidInput(
                f"the text is already Unicode, not {encoding.upper()}: try --encoding utf-8"
            ) from exc
        used = legacy_text.detect(samples) if encoding == "auto" else encoding

        def convert(value: str) -> str:
            raw = value.encode("latin1")
            if used == "utf-8":
                try:
                    return unicodedata.normalize("NFC", raw.decode("utf-8"))
                except UnicodeDecodeError as exc:
                    raise InvalidInput(
                        f"text {raw[:40]!r} is not UTF-8: name the encoding with "
                        "--encoding tcvn3 or --encoding vni"
                    ) from exc
            return legacy_text.decode(raw, used)

    else:

        def convert(value: str) -> str:
            return unicodedata.normalize("NFC", value)

    frame = frame.rename(columns={c: convert(str(c)) for c in frame.columns})
    for column in frame.columns:
        if _textual(frame[column]):
            frame[column] = pd.Series(
                [convert(v) if isinstance(v, str) else v for v in frame[column]],
                index=frame.index,
                dtype=object,
            )
    return frame, used


def force_2d(geometries: list[Any]) -> list[Any]:
    """Geometries without Z or M (craftmap stores 2D)."""
    return [None if g is None else shapely.force_2d(g) for g in geometries]
