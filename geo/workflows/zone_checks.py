"""Zone checks (issue 14 point 4): the material zones that need a planner's attention, and why.

Each check is one set-based PostGIS query over the selected zones, on the GiST indexes:

- ``overlap``: zones whose intersection with another zone covers more than
  ``overlap_min_m2`` (geodesic area; default 100 m², so shared borders and slivers from
  digitising are not reported). One row per zone and other zone: a pair shows twice, once
  under each zone, so each zone's list is complete (its item page shows it); the GeoJSON
  has the overlap polygon once per pair.
- ``exclusion``: zones that overlap (error) or only touch (warning: they meet along an
  edge or at a point, zero area) a feature of a reference layer of kind ``exclusion``.
- ``certificate``: certificate expired before the as-of date (error), expiring within
  ``expiring_days`` days of it, the expiry day included (warning), or a certificate
  number recorded without an expiry date (warning, "expiry unknown").
- ``area_mismatch``: ``declared_area_ha`` differs from the boundary's geodesic area
  (``area_ha``) by more than ``area_tolerance_pct`` % of that area and by more than
  `AREA_FLOOR_HA` (small zones are not flagged for rounding), warning.
- ``no_village``: no village within ``haul_km`` (geodesic, ST_DWithin on the spheroid)
  needs the zone's material (``material_demand_t`` has it as a key); while no village
  has a demand figure for that material at all, no village of any craft within reach.
  Lost and revoked villages do not count. Straight-line distance only: road distance
  is the coverage analysis's (issue 14 point 1). Warning.
- ``capacity_unknown``: ``annual_capacity_t`` is not recorded, so the coverage analysis
  cannot count the zone. Info.

Filters (``material``, ``status``, ``zone_id``) choose the zones reported; they are
compared with every zone and every exclusion area. All statuses are included by default,
``proposed`` zones too.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY

from geo.kernel import vocab
from geo.kernel.errors import InvalidInput
from geo.kernel.text import LANGS, Text, date_format, number
from geo.store.db import Connection

CHECKS = (
    "overlap",
    "exclusion",
    "certificate",
    "area_mismatch",
    "no_village",
    "capacity_unknown",
)
SEVERITIES = ("error", "warning", "info")

# What each check is called (the HTML page's headings, the CLI's table).
CHECK_TITLES: dict[str, Text] = {
    "overlap": Text("Chồng lấn giữa các vùng", "Zones overlapping each other"),
    "exclusion": Text("Chạm hoặc chồng lấn vùng cấm", "Touching or overlapping exclusion areas"),
    "certificate": Text("Chứng chỉ hết hạn hoặc sắp hết hạn", "Certificates expired or expiring"),
    "area_mismatch": Text(
        "Diện tích công bố khác diện tích ranh giới", "Declared area differs from the boundary"
    ),
    "no_village": Text(
        "Không có làng nghề trong cự ly vận chuyển", "No village within haul distance"
    ),
    "capacity_unknown": Text("Chưa có sản lượng hằng năm", "Annual output not recorded"),
}
SEVERITY_TITLES: dict[str, Text] = {
    "error": Text("Lỗi", "Error"),
    "warning": Text("Cảnh báo", "Warning"),
    "info": Text("Thông tin", "Info"),
}

DEFAULT_EXPIRING_DAYS = 90
DEFAULT_AREA_TOLERANCE_PCT = 10.0
DEFAULT_OVERLAP_MIN_M2 = 100.0
DEFAULT_HAUL_KM = 50.0
# A declared area is not flagged for a difference of this much or less, whatever the share:
# half a hectare is the rounding of a small plot's declared figure.
AREA_FLOOR_HA = 0.5
# Villages that no longer practise their craft need no material.
_GONE = (vocab.VillageStatus.LOST.value, vocab.VillageStatus.REVOKED.value)
# Degrees of longitude/latitude that certainly hold ``1 km`` of geodesic distance up to
# latitude 26° (a degree of longitude is 100 km there): the index filter before the exact
# test on the spheroid. Vietnam lies between 8° and 23.4° north.
_KM_PER_DEGREE_LOW = 100.0
# Longest haul accepted (a zone supplies no village 1 000 km away).
MAX_HAUL_KM = 1000.0
MAX_EXPIRING_DAYS = 3650


@dataclass(frozen=True)
class ZoneCheckOptions:
    """What to check and with which tolerances (defaults as the module says)."""

    as_of: dt.date
    expiring_days: int = DEFAULT_EXPIRING_DAYS
    area_tolerance_pct: float = DEFAULT_AREA_TOLERANCE_PCT
    overlap_min_m2: float = DEFAULT_OVERLAP_MIN_M2
    haul_km: float = DEFAULT_HAUL_KM
    material: str | None = None
    statuses: tuple[str, ...] = ()
    checks: tuple[str, ...] = CHECKS
    zone_id: int | None = None

    def __post_init__(self) -> None:
        if not 0 <= self.expiring_days <= MAX_EXPIRING_DAYS:
            raise InvalidInput(f"expiring_days must be from 0 to {MAX_EXPIRING_DAYS}")
        _finite("area_tolerance_pct", self.area_tolerance_pct, 0.0, 1000.0)
        _finite("overlap_min_m2", self.overlap_min_m2, 0.0, 1e12)
        _finite("haul_km", self.haul_km, 0.0, MAX_HAUL_KM)
        if self.material is not None and self.material not in set(vocab.Material):
            raise InvalidInput(f"material must be one of: {', '.join(vocab.Material)}")
        statuses = set(vocab.ZoneStatus)
        if any(s not in statuses for s in self.statuses):
            raise InvalidInput(f"status must be one of: {', '.join(vocab.ZoneStatus)}")
        if not self.checks or any(c not in CHECKS for c in self.checks):
            raise InvalidInput(f"checks must be one of: {', '.join(CHECKS)}")
        if not dt.date(1990, 1, 1) <= self.as_of <= dt.date(2100, 12, 31):
            raise InvalidInput("as_of must be from 1990-01-01 to 2100-12-31")

    def stated(self) -> dict[str, Any]:
        """The parameters and tolerances in force, as the answers state them."""
        return {
            "as_of": self.as_of.isoformat(),
            "expiring_days": self.expiring_days,
            "area_tolerance_pct": self.area_tolerance_pct,
            "area_floor_ha": AREA_FLOOR_HA,
            "overlap_min_m2": self.overlap_min_m2,
            "haul_km": self.haul_km,
            "distance": "geodesic",
            "material": self.material,
            "status": list(self.statuses) or None,
            "checks": list(self.checks),
        }


def _finite(name: str, value: float, low: float, high: float) -> None:
    if not (math.isfinite(value) and low <= value <= high):
        raise InvalidInput(f"{name} must be from {low:g} to {high:g}")


def parse_list(name: str, value: str | None, allowed: Iterable[str]) -> tuple[str, ...]:
    """A comma-separated list of codes (``checks=overlap,certificate``); empty if none."""
    if value is None or not value.strip():
        return ()
    known = list(allowed)
    items = tuple(dict.fromkeys(part.strip() for part in value.split(",") if part.strip()))
    if not items or any(item not in known for item in items):
        raise InvalidInput(f"{name} must be one of: {', '.join(known)}")
    return items


def parse_date(name: str, value: str | None, default: dt.date) -> dt.date:
    """An ISO date (``2026-11-30``), or ``default`` when none is given."""
    if value is None or not value.strip():
        return default
    try:
        return dt.date.fromisoformat(value.strip())
    except ValueError:
        raise InvalidInput(f"{name} must be a date (YYYY-MM-DD), got {value[:40]!r}") from None


@dataclass(frozen=True)
class Finding:
    """One reason a zone needs attention, with the figures behind it."""

    zone_id: int
    code: str
    name: str
    material: str
    status: str
    check: str
    kind: str
    severity: str
    reason: Text
    figures: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        """The finding as the JSON answer lists it (both languages of the reason)."""
        return {
            "zone_id": self.zone_id,
            "code": self.code,
            "name": self.name,
            "material": self.material,
            "status": self.status,
            "check": self.check,
            "kind": self.kind,
            "severity": self.severity,
            "reason": {lang: self.reason(lang) for lang in LANGS},
            "figures": self.figures,
        }


@dataclass(frozen=True)
class ZoneChecks:
    """The result: the findings in order (severity, zone code, check), and the options."""

    options: ZoneCheckOptions
    findings: list[Finding]
    zones_checked: int

    def counts(self) -> dict[str, int]:
        """Findings per check, every check asked for listed (zero included)."""
        counts = dict.fromkeys(self.options.checks, 0)
        for finding in self.findings:
            counts[finding.check] += 1
        return counts

    def severity_counts(self) -> dict[str, int]:
        """Findings per severity."""
        counts = dict.fromkeys(SEVERITIES, 0)
        for finding in self.findings:
            counts[finding.severity] += 1
        return counts

    def as_json(self) -> dict[str, Any]:
        """The JSON document of the API and the CLI (the API adds links)."""
        return {
            "parameters": self.options.stated(),
            "zones_checked": self.zones_checked,
            "counts": self.counts(),
            "severity_counts": self.severity_counts(),
            "number_of_findings": len(self.findings),
            "findings": [finding.as_json() for finding in self.findings],
        }

    def has_errors(self) -> bool:
        """Whether any finding is of severity error (the CLI's ``--fail-on error``)."""
        return any(f.severity == "error" for f in self.findings)


# The zones reported: the filters of the options. Each check joins it.
_SELECTED = """
WITH z AS (
    SELECT id, code, name, material, status, geom, area_ha, declared_area_ha,
           certification_scheme, certificate_no, certificate_expiry, annual_capacity_t
    FROM material_zone
    WHERE (CAST(:material AS text) IS NULL OR material = CAST(:material AS text))
      AND (cardinality(CAST(:statuses AS text[])) = 0 OR status = ANY(CAST(:statuses AS text[])))
      AND (CAST(:zone_id AS integer) IS NULL OR id = CAST(:zone_id AS integer))
)
"""

_OVERLAPS = (
    _SELECTED
    + """
SELECT z.id, o.id AS other_id, o.code AS other_code, o.name AS other_name,
       z.area_ha, o.area_ha AS other_area_ha, x.m2,
       CASE WHEN :with_geometry THEN ST_AsGeoJSON(x.g, 7) END AS geometry
FROM z
JOIN material_zone o ON o.id <> z.id AND ST_Intersects(o.geom, z.geom)
CROSS JOIN LATERAL (
    SELECT g, ST_Area(g::geography) AS m2
    FROM (SELECT ST_CollectionExtract(ST_Intersection(z.geom, o.geom), 3) AS g) AS i
) AS x
WHERE NOT ST_Touches(o.geom, z.geom) AND x.m2 > :overlap_min_m2
"""
)

_EXCLUSIONS = (
    _SELECTED
    + """
SELECT z.id, l.name AS layer, l.title AS layer_title, f.id AS feature_id,
       coalesce(f.properties->>'name', f.properties->>'ten', f.properties->>'title')
           AS feature_name,
       x.planar = 0 AS touches,
       CASE WHEN x.planar = 0 THEN 0.0 ELSE ST_Area(x.g::geography) END AS m2,
       CASE WHEN :with_geometry AND x.planar > 0
            THEN ST_AsGeoJSON(ST_CollectionExtract(x.g, 3), 7) END AS geometry
FROM z
JOIN reference_feature f ON ST_Intersects(f.geom, z.geom)
JOIN reference_layer l ON l.id = f.layer_id AND l.kind = 'exclusion'
CROSS JOIN LATERAL (
    SELECT g, ST_Area(g) AS planar FROM (SELECT ST_Intersection(z.geom, f.geom) AS g) AS i
) AS x
"""
)

_CERTIFICATES = (
    _SELECTED
    + """
SELECT z.id, z.certificate_no, z.certification_scheme, z.certificate_expiry,
       z.certificate_expiry - CAST(:as_of AS date) AS days_left
FROM z
WHERE (z.certificate_expiry IS NOT NULL
       AND z.certificate_expiry <= CAST(:as_of AS date) + CAST(:expiring_days AS integer))
   OR (z.certificate_no IS NOT NULL AND z.certificate_expiry IS NULL)
"""
)

_AREAS = (
    _SELECTED
    + """
SELECT z.id, z.declared_area_ha, z.area_ha, z.declared_area_ha - z.area_ha AS diff_ha
FROM z
WHERE z.declared_area_ha IS NOT NULL AND z.area_ha > 0
  AND abs(z.declared_area_ha - z.area_ha)
      > greatest(:area_tolerance_pct / 100.0 * z.area_ha, :area_floor_ha)
"""
)

# Villages that count for a zone: the living ones needing its material, or, while no
# village has a demand figure for it, every living village.
_NO_VILLAGE = (
    _SELECTED
    + """
, demanded AS (
    SELECT DISTINCT jsonb_object_keys(material_demand_t) AS material
    FROM craft_village
    WHERE jsonb_typeof(material_demand_t) = 'object' AND status <> ALL(CAST(:gone AS text[]))
), candidate AS (
    SELECT z.id, z.geom, z.material, d.material IS NOT NULL AS by_demand
    FROM z LEFT JOIN demanded d ON d.material = z.material
)
SELECT c.id, c.by_demand, near.id AS village_id, near.name AS village_name, near.km
FROM candidate c
LEFT JOIN LATERAL (
    SELECT v.id, v.name, ST_Distance(v.geom::geography, c.geom::geography) / 1000.0 AS km
    FROM (
        SELECT v.id, v.name, v.geom FROM craft_village v
        WHERE v.status <> ALL(CAST(:gone AS text[]))
          AND (NOT c.by_demand OR v.material_demand_t ? c.material)
        ORDER BY v.geom <-> c.geom
        LIMIT 8
    ) AS v
    ORDER BY km
    LIMIT 1
) AS near ON true
WHERE NOT EXISTS (
    SELECT 1 FROM craft_village v
    WHERE v.status <> ALL(CAST(:gone AS text[]))
      AND (NOT c.by_demand OR v.material_demand_t ? c.material)
      AND ST_DWithin(v.geom, c.geom, :haul_degrees)
      AND ST_DWithin(v.geom::geography, c.geom::geography, :haul_m)
)
"""
)

_CAPACITY = (
    _SELECTED
    + """
SELECT z.id FROM z WHERE z.annual_capacity_t IS NULL
"""
)

_ZONES = (
    _SELECTED
    + """
SELECT id, code, name, material, status FROM z
"""
)

_ZONE_SHAPES = """
SELECT id, ST_AsGeoJSON(geom, 7) AS geometry FROM material_zone WHERE id = ANY(:ids)
"""


def _bind(options: ZoneCheckOptions, *, with_geometry: bool = False) -> dict[str, Any]:
    return {
        "material": options.material,
        "statuses": list(options.statuses),
        "zone_id": options.zone_id,
        "as_of": options.as_of,
        "expiring_days": options.expiring_days,
        "area_tolerance_pct": options.area_tolerance_pct,
        "area_floor_ha": AREA_FLOOR_HA,
        "overlap_min_m2": options.overlap_min_m2,
        "haul_m": options.haul_km * 1000.0,
        "haul_degrees": options.haul_km / _KM_PER_DEGREE_LOW,
        "gone": list(_GONE),
        "with_geometry": with_geometry,
    }


def _statement(sql: str) -> sa.TextClause:
    arrays = [name for name in ("statuses", "gone") if f":{name}" in sql]
    return sa.text(sql).bindparams(*(sa.bindparam(n, type_=ARRAY(sa.Text)) for n in arrays))


def _ha(value: float, lang: str) -> str:
    return f"{number(value, lang, 2 if abs(value) < 10 else 1)} ha"


# The reasons, as templates: ``{fields}`` are filled in each language by `_reason`.
REASONS: dict[str, Text] = {
    "overlap": Text(
        "Chồng lấn {other}: {area}, bằng {share}% diện tích vùng nhỏ hơn",
        "Overlaps {other} by {area}, {share}% of the smaller zone",
    ),
    "exclusion_touch": Text(
        "Chạm vùng cấm {where} (chung ranh giới, không chồng lấn)",
        "Touches exclusion area {where} (shared edge, no overlap)",
    ),
    "exclusion_overlap": Text(
        "Chồng lấn vùng cấm {where}: {area}", "Overlaps exclusion area {where}: {area}"
    ),
    "expiry_unknown": Text(
        "Chứng chỉ số {number} chưa ghi ngày hết hạn",
        "Certificate {number} has no expiry date recorded",
    ),
    "expired": Text(
        "Chứng chỉ đã hết hạn ngày {day} ({days} ngày trước)",
        "Certificate expired on {day} ({days} days ago)",
    ),
    "expired_yesterday": Text(
        "Chứng chỉ đã hết hạn ngày {day} (1 ngày trước)", "Certificate expired on {day} (1 day ago)"
    ),
    "expiring": Text(
        "Chứng chỉ hết hạn ngày {day} (còn {days} ngày)",
        "Certificate expires on {day} ({days} days left)",
    ),
    "area_mismatch": Text(
        "Diện tích công bố {declared}, theo ranh giới {area}: chênh {diff} ({pct}%)",
        "Declared area {declared}, boundary {area}: off by {diff} ({pct}%)",
    ),
    "no_demand_nearby": Text(
        "Không có làng nghề cần nguyên liệu này trong {km} km",
        "No village needing this material within {km} km",
    ),
    "no_village_nearby": Text(
        "Không có làng nghề nào trong {km} km (chưa làng nào ghi nhu cầu nguyên liệu này)",
        "No village at all within {km} km (no village records a demand for this material yet)",
    ),
    "nearest": Text(
        "{reason}; gần nhất: {village}, cách {km} km", "{reason}; nearest: {village}, {km} km away"
    ),
    "capacity_unknown": Text(
        "Chưa ghi sản lượng hằng năm: phân tích cung ứng chưa tính được vùng này",
        "No annual output recorded: the supply analysis cannot count this zone",
    ),
}


def _reason(key: str, **values: Any) -> Text:
    """``REASONS[key]`` filled in each language; a callable value is asked for its text in
    that language (numbers, dates, areas), any other value is used as it is."""

    def said(lang: str) -> str:
        return REASONS[key](lang).format(
            **{name: value(lang) if callable(value) else value for name, value in values.items()}
        )

    return Text(*(said(lang) for lang in LANGS))


def _area(m2: float) -> Any:
    return lambda lang: _ha(m2 / 10_000.0, lang)


def _num(value: float, digits: int) -> Any:
    return lambda lang: number(value, lang, digits)


def _day(value: dt.date) -> Any:
    return lambda lang: value.strftime(date_format(lang))


def run(conn: Connection, options: ZoneCheckOptions) -> ZoneChecks:
    """Every check asked for, over the selected zones, in one transaction's snapshot."""
    report, _ = _run(conn, options, with_geometry=False)
    return report


def run_geojson(conn: Connection, options: ZoneCheckOptions) -> tuple[ZoneChecks, dict[str, Any]]:
    """The checks and a FeatureCollection: each zone with its reasons (``kind: zone``),
    each overlap between two zones once (``kind: overlap``) and each overlap with an
    exclusion area (``kind: exclusion``), as polygons for a map."""
    report, extra = _run(conn, options, with_geometry=True)
    ids = sorted({f.zone_id for f in report.findings})
    shapes = {
        row.id: json.loads(row.geometry)
        for row in conn.execute(sa.text(_ZONE_SHAPES), {"ids": ids})
    }
    by_zone: dict[int, list[Finding]] = {}
    for finding in report.findings:
        by_zone.setdefault(finding.zone_id, []).append(finding)
    features: list[dict[str, Any]] = []
    for zone_id, found in by_zone.items():
        first = found[0]
        features.append(
            {
                "type": "Feature",
                "id": f"zone-{zone_id}",
                "geometry": shapes.get(zone_id),
                "properties": {
                    "kind": "zone",
                    "zone_id": zone_id,
                    "code": first.code,
                    "name": first.name,
                    "material": first.material,
                    "status": first.status,
                    "severity": min((f.severity for f in found), key=SEVERITIES.index),
                    "reasons": [
                        {
                            "check": f.check,
                            "kind": f.kind,
                            "severity": f.severity,
                            "reason": {lang: f.reason(lang) for lang in LANGS},
                        }
                        for f in found
                    ],
                },
            }
        )
    features.extend(extra)
    return report, {"type": "FeatureCollection", "features": features}


def _run(
    conn: Connection, options: ZoneCheckOptions, *, with_geometry: bool
) -> tuple[ZoneChecks, list[dict[str, Any]]]:
    bound = _bind(options, with_geometry=with_geometry)
    zones = {row.id: row for row in conn.execute(_statement(_ZONES), bound)}
    findings: list[Finding] = []
    shapes: list[dict[str, Any]] = []

    def add(
        zone_id: int, check: str, kind: str, severity: str, reason: Text, **figures: Any
    ) -> None:
        zone = zones[zone_id]
        findings.append(
            Finding(
                zone.id,
                zone.code,
                zone.name,
                zone.material,
                zone.status,
                check,
                kind,
                severity,
                reason,
                figures,
            )
        )

    asked = set(options.checks)
    if "overlap" in asked:
        seen_pairs: set[tuple[int, int]] = set()
        for row in conn.execute(_statement(_OVERLAPS), bound):
            smaller_m2 = min(row.area_ha, row.other_area_ha) * 10_000.0
            share = row.m2 / smaller_m2 * 100.0 if smaller_m2 > 0 else 100.0
            m2, other = row.m2, f"{row.other_name} ({row.other_code})"
            add(
                row.id,
                "overlap",
                "zone",
                "error",
                _reason("overlap", other=other, area=_area(m2), share=_num(share, 1)),
                other_zone_id=row.other_id,
                other_zone_code=row.other_code,
                other_zone_name=row.other_name,
                overlap_m2=round(row.m2, 1),
                overlap_ha=round(row.m2 / 10_000.0, 4),
                share_of_smaller_pct=round(share, 2),
            )
            pair = (min(row.id, row.other_id), max(row.id, row.other_id))
            if with_geometry and row.geometry and pair not in seen_pairs:
                seen_pairs.add(pair)
                shapes.append(
                    {
                        "type": "Feature",
                        "id": f"overlap-{pair[0]}-{pair[1]}",
                        "geometry": json.loads(row.geometry),
                        "properties": {
                            "kind": "overlap",
                            "zone_ids": list(pair),
                            "overlap_m2": round(row.m2, 1),
                            "overlap_ha": round(row.m2 / 10_000.0, 4),
                            "share_of_smaller_pct": round(share, 2),
                        },
                    }
                )
    if "exclusion" in asked:
        for row in conn.execute(_statement(_EXCLUSIONS), bound):
            feature = row.feature_name or f"#{row.feature_id}"
            where = f"{row.layer_title} ({row.layer}), {feature}"
            m2 = row.m2
            reason = (
                _reason("exclusion_touch", where=where)
                if row.touches
                else _reason("exclusion_overlap", where=where, area=_area(m2))
            )
            add(
                row.id,
                "exclusion",
                "touch" if row.touches else "overlap",
                "warning" if row.touches else "error",
                reason,
                layer=row.layer,
                layer_title=row.layer_title,
                feature_id=row.feature_id,
                feature_name=row.feature_name,
                overlap_m2=round(m2, 1),
                overlap_ha=round(m2 / 10_000.0, 4),
            )
            if with_geometry and row.geometry:
                shapes.append(
                    {
                        "type": "Feature",
                        "id": f"exclusion-{row.id}-{row.feature_id}",
                        "geometry": json.loads(row.geometry),
                        "properties": {
                            "kind": "exclusion",
                            "zone_id": row.id,
                            "layer": row.layer,
                            "feature_id": row.feature_id,
                            "overlap_m2": round(m2, 1),
                            "overlap_ha": round(m2 / 10_000.0, 4),
                        },
                    }
                )
    if "certificate" in asked:
        for row in conn.execute(_statement(_CERTIFICATES), bound):
            number_text = row.certificate_no or ""
            if row.certificate_expiry is None:
                add(
                    row.id,
                    "certificate",
                    "expiry_unknown",
                    "warning",
                    _reason("expiry_unknown", number=number_text),
                    certificate_no=row.certificate_no,
                    certification_scheme=row.certification_scheme,
                    certificate_expiry=None,
                    days_left=None,
                )
                continue
            expiry, days = row.certificate_expiry, int(row.days_left)
            expired = days < 0
            add(
                row.id,
                "certificate",
                "expired" if expired else "expiring",
                "error" if expired else "warning",
                _reason(
                    ("expired_yesterday" if days == -1 else "expired") if expired else "expiring",
                    day=_day(expiry),
                    days=abs(days),
                ),
                certificate_no=row.certificate_no,
                certification_scheme=row.certification_scheme,
                certificate_expiry=expiry.isoformat(),
                days_left=days,
            )
    if "area_mismatch" in asked:
        for row in conn.execute(_statement(_AREAS), bound):
            declared, area, diff = row.declared_area_ha, row.area_ha, row.diff_ha
            pct = diff / area * 100.0
            add(
                row.id,
                "area_mismatch",
                "larger" if diff > 0 else "smaller",
                "warning",
                _reason(
                    "area_mismatch",
                    declared=_area(declared * 10_000.0),
                    area=_area(area * 10_000.0),
                    diff=_area(diff * 10_000.0),
                    pct=_num(pct, 1),
                ),
                declared_area_ha=round(declared, 4),
                area_ha=round(area, 4),
                difference_ha=round(diff, 4),
                difference_pct=round(pct, 2),
            )
    if "no_village" in asked:
        haul = options.haul_km
        for row in conn.execute(_statement(_NO_VILLAGE), bound):
            kind = "no_demand_nearby" if row.by_demand else "no_village_nearby"
            reason = _reason(kind, km=_num(haul, 0))
            if row.km is not None:
                reason = _reason(
                    "nearest", reason=reason, village=row.village_name, km=_num(row.km, 1)
                )
            add(
                row.id,
                "no_village",
                kind,
                "warning",
                reason,
                haul_km=haul,
                by_demand=row.by_demand,
                nearest_village_id=row.village_id,
                nearest_village_name=row.village_name,
                nearest_village_km=None if row.km is None else round(row.km, 3),
            )
    if "capacity_unknown" in asked:
        for row in conn.execute(_statement(_CAPACITY), bound):
            add(
                row.id,
                "capacity_unknown",
                "capacity_unknown",
                "info",
                _reason("capacity_unknown"),
                annual_capacity_t=None,
            )
    findings.sort(
        key=lambda f: (SEVERITIES.index(f.severity), f.code, CHECKS.index(f.check), f.kind)
    )
    return ZoneChecks(options, findings, len(zones)), shapes


def findings_of_zone(conn: Connection, zone_id: int, as_of: dt.date) -> list[Finding]:
    """One zone's reasons with the default tolerances (its item page's box)."""
    return run(conn, ZoneCheckOptions(as_of=as_of, zone_id=zone_id)).findings


CSV_COLUMNS = (
    "severity",
    "check",
    "kind",
    "zone_id",
    "code",
    "name",
    "material",
    "status",
    "reason_vi",
    "reason_en",
    "figures",
    "url",
)


def csv_rows(report: ZoneChecks, zone_url: Any) -> Sequence[Mapping[str, Any]]:
    """The findings as flat rows (``CSV_COLUMNS``); ``zone_url(id)`` links each zone."""
    return [
        {
            "severity": f.severity,
            "check": f.check,
            "kind": f.kind,
            "zone_id": f.zone_id,
            "code": f.code,
            "name": f.name,
            "material": f.material,
            "status": f.status,
            "reason_vi": f.reason.vi,
            "reason_en": f.reason.en,
            "figures": "; ".join(f"{k}={v}" for k, v in f.figures.items() if v is not None),
            "url": zone_url(f.zone_id),
        }
        for f in report.findings
    ]


def csv_text(report: ZoneChecks, zone_url: Any) -> str:
    """The findings as CSV for a spreadsheet: UTF-8 with a BOM, so Excel reads the
    Vietnamese letters right (the export's CSV does the same)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS)
    writer.writeheader()
    writer.writerows(csv_rows(report, zone_url))
    return "\ufeff" + buffer.getvalue()
