"""Coordinate reference systems craftmap stores, measures and serves in.

Storage is WGS 84 longitude/latitude. Areas and lengths are computed on the spheroid
(PostGIS ``geography``), which is right everywhere in Vietnam; VN-2000 systems are for
exchange with cadastral and provincial maps (see shared/DOMAIN.md §7).
"""

SRID_STORAGE = 4326
# VN-2000 / TM-3 zone 482 (central meridian 105°), used by Thanh Hóa's cadastral maps.
SRID_VN2000_TM3_105 = 5897
# VN-2000 / UTM zone 48N, for province-wide work west of 108°E.
SRID_VN2000_UTM48 = 3405

# Mainland Vietnam and its islands (Hoàng Sa, Trường Sa) in storage coordinates, as a
# coarse sanity check on positions; the precise rule uses loaded boundaries.
VIETNAM_BBOX = (102.0, 6.0, 118.0, 24.0)
