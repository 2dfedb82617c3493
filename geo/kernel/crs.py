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
