"""The collections craftmap serves, and which table holds each."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from geo import layers, models


@dataclass(frozen=True)
class CollectionInfo:
    """A served collection: its id, table, geometry type and bilingual titles."""

    id: str
    table: sa.Table
    geometry_type: str
    title_vi: str
    title_en: str
    description_vi: str
    description_en: str

    def title(self, lang: str) -> str:
        """Title in ``lang`` (``vi`` unless ``en``)."""
        return self.title_en if lang == "en" else self.title_vi

    def description(self, lang: str) -> str:
        """Description in ``lang`` (``vi`` unless ``en``)."""
        return self.description_en if lang == "en" else self.description_vi


CORE: tuple[CollectionInfo, ...] = (
    CollectionInfo(
        layers.VILLAGES,
        models.table_of(models.Village),
        "Point",
        "Làng nghề",
        "Craft villages",
        "Làng nghề, làng nghề truyền thống và nghề truyền thống đã được công nhận.",
        "Recognised craft villages, traditional craft villages and traditional crafts.",
    ),
    CollectionInfo(
        layers.MATERIAL_ZONES,
        models.table_of(models.MaterialZone),
        "MultiPolygon",
        "Vùng nguyên liệu",
        "Raw-material zones",
        "Vùng nguyên liệu tập trung: tre luồng, mây, cói, dược liệu.",
        "Concentrated raw-material zones: bamboo and luồng, rattan, sedge, medicinal plants.",
    ),
    CollectionInfo(
        layers.ROUTES,
        models.table_of(models.TourismRoute),
        "LineString",
        "Tuyến du lịch",
        "Tourism routes",
        "Tuyến du lịch làng nghề qua các điểm dừng theo thứ tự.",
        "Craft-village tourism routes through ordered stops.",
    ),
    CollectionInfo(
        layers.ROUTE_STOPS,
        models.table_of(models.RouteStop),
        "Point",
        "Điểm dừng",
        "Route stops",
        "Các điểm dừng của tuyến du lịch.",
        "The stops of the tourism routes.",
    ),
    CollectionInfo(
        layers.ADMIN_UNITS,
        models.table_of(models.AdminUnit),
        "MultiPolygon",
        "Đơn vị hành chính",
        "Administrative units",
        "Tỉnh, huyện (trước 2025) và xã, phường, với thời gian hiệu lực.",
        "Provinces, districts (before 2025) and communes, with their validity dates.",
    ),
)

BY_ID = {info.id: info for info in CORE}
