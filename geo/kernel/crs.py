"""Coordinate reference systems craftmap stores, measures and serves in.

Storage is WGS 84 longitude/latitude. Areas and lengths are computed on the spheroid
(PostGIS ``geography``), which is right everywhere in Vietnam; VN-2000 systems are for
exchange with cadastral and provincial maps (see shared/DOMAIN.md §7).
"""

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from numpy.typing import ArrayLike
from pyproj import CRS, Transformer

from geo.kernel.errors import InvalidInput

SRID_STORAGE = 4326
# VN-2000 / TM-3 zone 482 (central meridian 105°), used by Thanh Hóa's cadastral maps.
SRID_VN2000_TM3_105 = 5897
# VN-2000 / UTM zone 48N, for province-wide work west of 108°E.
SRID_VN2000_UTM48 = 3405

# Mainland Vietnam and its islands (Hoàng Sa, Trường Sa) in storage coordinates, as a
# coarse sanity check on positions; the precise rule uses loaded boundaries.
VIETNAM_BBOX = (102.0, 6.0, 118.0, 24.0)

CRS84_URI = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
_EPSG_URI = "http://www.opengis.net/def/crs/EPSG/0/{}"


@dataclass(frozen=True)
class ServedCrs:
    """A CRS features can be requested in: its URI, SRID and axis order.

    ``swap_axes`` is true when the CRS's first axis points north (EPSG:4326 proper and
    VN-2000 geographic are latitude first), so coordinates go out as (y, x).
    """

    uri: str
    srid: int
    swap_axes: bool
    title: str


def _served(srid: int) -> ServedCrs:
    crs = CRS.from_epsg(srid)
    first_axis = crs.axis_info[0].direction.lower()
    return ServedCrs(_EPSG_URI.format(srid), srid, first_axis == "north", crs.name)


CRS84 = ServedCrs(CRS84_URI, SRID_STORAGE, False, "WGS 84 (CRS84, longitude/latitude)")
# The order is the order of the `crs` list of every collection.
SERVED_CRS: tuple[ServedCrs, ...] = (
    CRS84,
    _served(4326),
    _served(4756),  # VN-2000 geographic
    _served(SRID_VN2000_TM3_105),  # VN-2000 / TM-3 zone 482 (Thanh Hóa cadastral maps)
    _served(SRID_VN2000_UTM48),  # VN-2000 / UTM 48N
    _served(3406),  # VN-2000 / UTM 49N
    _served(32648),  # WGS 84 / UTM 48N
    _served(32649),  # WGS 84 / UTM 49N
)
_BY_URI = {c.uri: c for c in SERVED_CRS}
# Short spellings people type; the URI forms above are what the standard asks for.
_ALIASES = {
    "CRS84": CRS84,
    "OGC:CRS84": CRS84,
    "[OGC:CRS84]": CRS84,
    **{f"EPSG:{c.srid}": c for c in SERVED_CRS[1:]},
    **{f"[EPSG:{c.srid}]": c for c in SERVED_CRS[1:]},
}


def served_crs(value: str | None) -> ServedCrs:
    """The CRS named by a ``crs``/``bbox-crs``/``filter-crs``/``Content-Crs`` value.

    Examples
    --------
    >>> served_crs(None).srid
    4326
    >>> served_crs("http://www.opengis.net/def/crs/EPSG/0/5897").swap_axes
    False
    >>> served_crs("EPSG:4326").swap_axes
    True

    Raises
    ------
    InvalidInput
        When the CRS is not one craftmap serves (the message lists those it does).
    """
    if value is None or value == "":
        return CRS84
    found = _BY_URI.get(value.strip().strip("<>")) or _ALIASES.get(value.strip())
    if found is None:
        raise InvalidInput(
            f"unsupported CRS {value!r}; supported: {', '.join(c.uri for c in SERVED_CRS)}"
        )
    return found


@lru_cache(maxsize=16)
def _to_lonlat(srid: int) -> Transformer:
    return Transformer.from_crs(srid, SRID_STORAGE, always_xy=True)


def untransformable(srid: int, east: ArrayLike, north: ArrayLike) -> int | None:
    """Index of the first position PostGIS could not bring to longitude/latitude, or None.

    PostGIS raises (a 500, until this check) on a position beyond a projection's domain,
    on one that is not finite, and on a latitude past a pole; a position no coordinate
    operation can reach comes back from PROJ as infinity. ``east`` and ``north`` are the
    first and second coordinates in east/north order (longitude first), whatever the CRS's
    own axis order.

    Examples
    --------
    >>> untransformable(SRID_VN2000_TM3_105, [571_000.0, 1e12], [2_195_000.0, 1e12])
    1
    >>> untransformable(SRID_STORAGE, [105.7, 105.8], [19.8, 19.9]) is None
    True
    """
    x = np.asarray(east, dtype=float)
    y = np.asarray(north, dtype=float)
    if x.size == 0:
        return None
    if srid == SRID_STORAGE:
        lon, lat = x, y
    else:
        lon, lat = _to_lonlat(srid).transform(x, y, errcheck=False)
    with np.errstate(invalid="ignore"):
        good = np.isfinite(x) & np.isfinite(y) & (np.abs(lon) <= 180) & (np.abs(lat) <= 90)
    return None if good.all() else int(np.argmin(good))


# -- CRSs of imported files (issue 13) ------------------------------------------------------
# The official datum shift from VN-2000 to WGS 84 (7 parameters, Circular 973/2001/TT-TCĐC).
VN2000_TO_WGS84 = 6960
_TM3_PREFIX = "vn2000-tm3:"


@lru_cache(maxsize=32)
def vn2000_tm3(central_meridian: float) -> CRS:
    """A province's VN-2000 TM-3 zone: EPSG codes only some central meridians.

    Transverse Mercator with scale 0.9999 and false easting 500 km on the VN-2000 datum,
    bound to WGS 84 by the official EPSG:6960 shift, so every tool transforms it alike.

    Examples
    --------
    >>> crs = vn2000_tm3(105.0)  # EPSG:5897 has this meridian: both give the same point
    >>> mine = Transformer.from_crs(crs, 4326, always_xy=True).transform(571_000, 2_195_000)
    >>> epsg = Transformer.from_crs(5897, 4326, always_xy=True).transform(571_000, 2_195_000)
    >>> all(abs(a - b) < 1e-9 for a, b in zip(mine, epsg))
    True
    """
    from pyproj._crs import CoordinateOperation
    from pyproj.crs import ProjectedCRS
    from pyproj.crs.coordinate_operation import TransverseMercatorConversion

    if not 102.0 <= central_meridian <= 118.0:
        raise InvalidInput(
            "a VN-2000 TM-3 central meridian lies in Vietnam (102°–118°E), "
            f"got {central_meridian:g}"
        )
    projected = ProjectedCRS(
        conversion=TransverseMercatorConversion(
            latitude_natural_origin=0,
            longitude_natural_origin=central_meridian,
            false_easting=500_000,
            false_northing=0,
            scale_factor_natural_origin=0.9999,
        ),
        geodetic_crs=CRS.from_epsg(4756),
        name=f"VN-2000 / TM-3 {central_meridian:g}",
    )
    return CRS.from_json_dict(
        {
            "type": "BoundCRS",
            "source_crs": projected.to_json_dict(),
            "target_crs": CRS.from_epsg(SRID_STORAGE).to_json_dict(),
            "transformation": CoordinateOperation.from_epsg(VN2000_TO_WGS84).to_json_dict(),
        }
    )


def import_crs(value: str) -> CRS:
    """The CRS an import's ``--crs`` names: ``EPSG:n``, a served URI, or ``vn2000-tm3:<lon>``.

    Examples
    --------
    >>> import_crs("EPSG:5897").to_epsg()
    5897
    >>> import_crs("vn2000-tm3:105.5").name
    'VN-2000 / TM-3 105.5'
    >>> import_crs("CRS84").to_epsg()
    4326

    Raises
    ------
    InvalidInput
        When the value names no CRS (the message shows the accepted spellings).
    """
    text = value.strip()
    if text.lower().startswith(_TM3_PREFIX):
        try:
            meridian = float(text[len(_TM3_PREFIX) :].replace(",", "."))
        except ValueError:
            meridian = float("nan")
        if meridian != meridian:  # NaN: not a number
            raise InvalidInput(
                f"--crs {value!r}: give the central meridian in degrees, e.g. vn2000-tm3:105.5"
            )
        return vn2000_tm3(meridian)
    try:
        return CRS.from_epsg(served_crs(text).srid)
    except InvalidInput:
        pass
    upper = text.upper()
    if upper.startswith("EPSG:") and upper[5:].isdigit():
        try:
            return CRS.from_epsg(int(upper[5:]))
        except Exception as exc:  # pyproj's CRSError: an unknown code
            raise InvalidInput(f"--crs {value!r}: EPSG has no such CRS") from exc
    raise InvalidInput(
        f"--crs {value!r} is not a CRS craftmap knows: give EPSG:<code> (e.g. EPSG:5897 for "
        "VN-2000 / TM-3 105°), a CRS URI, or vn2000-tm3:<central meridian> for a province's "
        "own TM-3 zone"
    )


def in_vietnam_box(lon: ArrayLike, lat: ArrayLike) -> np.ndarray:
    """Which positions lie in the coarse box of Vietnam (``VIETNAM_BBOX``)."""
    minx, miny, maxx, maxy = VIETNAM_BBOX
    x = np.asarray(lon, dtype=float)
    y = np.asarray(lat, dtype=float)
    with np.errstate(invalid="ignore"):
        return (x >= minx) & (x <= maxx) & (y >= miny) & (y <= maxy)


def outside_cause(x: float, y: float, *, geographic: bool) -> str:
    """The likely reason a file's position ``(x, y)`` (as read, before transforming) misses Vietnam.

    ``geographic`` says whether the CRS the file was read in is in degrees.

    Examples
    --------
    >>> outside_cause(571_000, 2_195_000, geographic=True)[:60]
    'the coordinates look like VN-2000 TM-3 or UTM metres read as'
    >>> outside_cause(19.8, 105.7, geographic=True)
    'latitude and longitude look swapped (Vietnam is at longitude 102–118, latitude 6–24)'
    >>> outside_cause(100.1, 15.2, geographic=True)
    'longitude 100.1, latitude 15.2 lies outside Vietnam (longitude 102–118, latitude 6–24)'
    >>> outside_cause(105.7, 19.8, geographic=False)[:44]
    'the coordinates look like degrees read as me'
    """
    if geographic:
        if 100_000 <= abs(x) <= 1_000_000 and 600_000 <= abs(y) <= 2_700_000:
            return (
                "the coordinates look like VN-2000 TM-3 or UTM metres read as WGS 84 degrees: "
                "give the file's CRS with --crs (e.g. EPSG:5897, or vn2000-tm3:105.5 for a "
                "province's own zone)"
            )
        if 600_000 <= abs(x) <= 2_700_000 and 100_000 <= abs(y) <= 1_000_000:
            return (
                "the coordinates look like VN-2000 metres with X (north) and Y (east) in the "
                "surveyors' order, read as WGS 84 degrees: map the north column to y, the east "
                "column to x, and give --crs"
            )
        if bool(in_vietnam_box([y], [x])[0]):
            return (
                "latitude and longitude look swapped (Vietnam is at longitude 102–118, "
                "latitude 6–24)"
            )
        if abs(x) <= 180 and abs(y) <= 90:
            return (
                f"longitude {x:g}, latitude {y:g} lies outside Vietnam (longitude 102–118, "
                "latitude 6–24)"
            )
    elif abs(x) <= 180 and abs(y) <= 90 and bool(in_vietnam_box([x], [y])[0]):
        return (
            "the coordinates look like degrees read as metres: the file is in longitude/"
            "latitude, not in the projected CRS it was read in (give --crs EPSG:4326)"
        )
    elif bool(in_vietnam_box([y], [x])[0]) or (
        600_000 <= abs(x) <= 2_700_000 and 100_000 <= abs(y) <= 1_000_000
    ):
        return "X and Y look swapped (surveyors write X for north): map them the other way round"
    return (
        "the coordinates are not in Vietnam in the CRS they were read in: check the file's "
        "CRS (--crs) and which columns are x/y"
    )
