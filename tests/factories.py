"""Keyword-only builders of valid rows for tests."""

from __future__ import annotations

import uuid
from typing import Any

from geoalchemy2 import WKTElement
from sqlalchemy.orm import Session

from geo import models


def _code(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def make_village(
    session: Session, *, geom: str = "POINT(105.6794 19.8502)", **fields: Any
) -> models.Village:
    """A valid village (Trà Đông's position unless told otherwise)."""
    values: dict[str, Any] = {
        "code": _code("T-V"),
        "name": "Làng thử",
        "kind": "craft_village",
        "craft_group": "G2",
        "geom_precision": "commune_centroid",
        "geom": WKTElement(geom, srid=4326),
    }
    values.update(fields)
    village = models.Village(**values)
    session.add(village)
    session.flush()
    return village


def make_zone(
    session: Session,
    *,
    geom: str = "MULTIPOLYGON(((105.9 20.0, 105.91 20.0, 105.91 20.01, 105.9 20.01, 105.9 20.0)))",
    **fields: Any,
) -> models.MaterialZone:
    """A valid sedge zone near Nga Sơn unless told otherwise."""
    values: dict[str, Any] = {
        "code": _code("T-Z"),
        "name": "Vùng thử",
        "material": "sedge",
        "geom": WKTElement(geom, srid=4326),
    }
    values.update(fields)
    zone = models.MaterialZone(**values)
    session.add(zone)
    session.flush()
    return zone
