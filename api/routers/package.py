"""A province's or commune's package to download: a styled GeoPackage or a KMZ."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse
from starlette.background import BackgroundTask

from api.deps import SettingsDep, read_connection
from api.openapi import bilingual
from geo.io.package import parse_area, write_package
from geo.kernel.crs import served_crs
from geo.kernel.text import Text
from maps.styles import PACKAGE_PALETTE

router = APIRouter(tags=["data"])

MEDIA_TYPES = {
    "gpkg": "application/geopackage+sqlite3",
    "kmz": "application/vnd.google-earth.kmz",
}


@router.get(
    "/package",
    response_model=None,
    summary="A province's or commune's package (GeoPackage styled for QGIS, or KMZ)",
    responses={
        200: {
            "description": "The package file",
            "content": {
                media: {"schema": {"type": "string", "format": "binary"}}
                for media in MEDIA_TYPES.values()
            },
        },
        400: {"description": "bad area, format or CRS, or an area above the feature limit"},
        404: {"description": "no current administrative unit has the code"},
    },
)
def package(
    request: Request,
    settings: SettingsDep,
    area: Annotated[
        str | None,
        Query(
            description=bilingual(
                Text(
                    "Mã đơn vị hành chính (tỉnh 38, một xã…)",
                    "An administrative unit code (province 38, a commune…)",
                )
            )
        ),
    ] = None,
    commune: Annotated[
        str | None,
        Query(
            description=bilingual(
                Text(
                    "Mã xã (bị từ chối khi đơn vị không phải là xã)",
                    "A commune code (refused when the unit is not a commune)",
                )
            )
        ),
    ] = None,
    bbox: Annotated[
        str | None,
        Query(
            description=bilingual(
                Text(
                    "kinh độ nhỏ nhất, vĩ độ nhỏ nhất, kinh độ lớn nhất, vĩ độ lớn nhất (WGS 84)",
                    "minlon,minlat,maxlon,maxlat (WGS 84)",
                )
            )
        ),
    ] = None,
    scheme: Annotated[
        str | None,
        Query(
            description=bilingual(
                Text(
                    "Hệ thống đơn vị hành chính của mã; mặc định là hệ thống hiện hành",
                    "The code's admin scheme; default the current one",
                )
            )
        ),
    ] = None,
    f: Annotated[
        Literal["gpkg", "kmz"],
        Query(description=bilingual(Text("gpkg (QGIS) hoặc kmz", "gpkg (QGIS) or kmz"))),
    ] = "gpkg",
    crs: Annotated[
        str | None,
        Query(
            description=bilingual(
                Text(
                    "Hệ tọa độ của GeoPackage (KMZ luôn là WGS 84)",
                    "CRS of the GeoPackage (KMZ is always WGS 84)",
                )
            )
        ),
    ] = None,
) -> FileResponse:
    """Every feature of the area, one layer per collection, in the web maps' colours.

    The GeoPackage holds the QGIS styles in its ``layer_styles`` table and a ``readme``
    table (area, date, source, licence); the KMZ a folder per collection.
    """
    chosen = parse_area(area=area, commune=commune, bbox=bbox, scheme=scheme)
    srid = served_crs(crs).srid
    handle, name = tempfile.mkstemp(suffix=f".{f}", prefix="craftmap-package-")
    os.close(handle)
    path = Path(name)
    try:
        with read_connection(request) as conn:
            write_package(
                conn,
                chosen,
                path,
                srid,
                palette=PACKAGE_PALETTE,
                fmt=f,
                max_features=settings.package_max_features,
            )
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    slug = "".join(c if c.isalnum() else "-" for c in chosen.label).strip("-")
    return FileResponse(
        path,
        media_type=MEDIA_TYPES[f],
        filename=f"craftmap-{slug}.{f}",
        background=BackgroundTask(path.unlink, missing_ok=True),
    )
