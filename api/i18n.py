"""The HTML pages' language (from the request) and their texts (``geo.kernel.text.Text``)."""

from __future__ import annotations

from typing import Any

from fastapi import Request

from api.negotiation import vary
from geo.kernel import text
from geo.kernel.text import Lang, Text

# Each language's name in itself: the header links to the other one.
LANGUAGE_NAME = Text("Tiếng Việt", "English")

PAGE: dict[str, Text] = {
    "tagline": Text(
        "Làng nghề, vùng nguyên liệu và tuyến du lịch — bắt đầu từ Thanh Hóa",
        "Craft villages, raw-material zones and tourism routes — starting with Thanh Hóa",
    ),
    "collections": Text("Bộ dữ liệu", "Collections"),
    "collection": Text("Bộ dữ liệu", "Collection"),
    "features": Text("Số đối tượng", "Features"),
    "links": Text("Liên kết", "Links"),
    "api_doc": Text("Tài liệu API (OpenAPI)", "API documentation (OpenAPI)"),
    "health": Text("Tình trạng dịch vụ", "Service status"),
    "database_unavailable": Text("Cơ sở dữ liệu chưa sẵn sàng", "The database is not ready"),
    "conformance": Text("Các lớp tuân thủ", "Conformance classes"),
    "map": Text("Bản đồ", "Map"),
    "draw_and_edit": Text("Vẽ và sửa", "Draw and edit"),
    "items_title": Text("Đối tượng", "Features"),
    "item": Text("Đối tượng", "Feature"),
    "property": Text("Thuộc tính", "Property"),
    "value": Text("Giá trị", "Value"),
    "matched": Text("Số đối tượng khớp", "Features matched"),
    "returned": Text("Số đối tượng trên trang", "Features on this page"),
    "next": Text("Trang sau", "Next page"),
    "prev": Text("Trang trước", "Previous page"),
    "extent": Text("Phạm vi", "Extent"),
    "queryables": Text("Thuộc tính truy vấn", "Queryables"),
    "schema": Text("Lược đồ", "Schema"),
    "history": Text("Lịch sử thay đổi", "Version history"),
    "action": Text("Thao tác", "Action"),
    "actor": Text("Người thực hiện", "By"),
    "at": Text("Thời điểm", "When"),
    "version": Text("Phiên bản", "Version"),
    "crs_list": Text("Hệ tọa độ", "Coordinate reference systems"),
    "geometry": Text("Hình học", "Geometry"),
    "json": Text("JSON", "JSON"),
    "operations": Text("Các thao tác", "Operations"),
    "path": Text("Đường dẫn", "Path"),
    "no_features": Text("Không có đối tượng nào.", "No features."),
}

# What links are called on the HTML pages, by JSON title first, then by rel. The JSON
# titles are English, so a title's English text is the title itself.
LINK_LABELS: dict[str, Text] = {
    "self": Text("Trang này dạng JSON", "This page as JSON"),
    "alternate": Text("Trang này dạng HTML", "This page as HTML"),
    "service-desc": Text(
        "Định nghĩa API (OpenAPI 3.0, JSON)", "API definition (OpenAPI 3.0, JSON)"
    ),
    "service-doc": Text("Tài liệu API (HTML)", "API documentation (HTML)"),
    "conformance": PAGE["conformance"],
    "data": PAGE["collections"],
    # The two map pages share rel "related": they are told apart by their JSON title.
    "Map": PAGE["map"],
    "Draw and edit": PAGE["draw_and_edit"],
    "http://www.opengis.net/def/rel/ogc/1.0/tilesets-vector": Text(
        "Bộ ô bản đồ vector", "Vector tilesets"
    ),
    "http://www.opengis.net/def/rel/ogc/1.0/tiling-schemes": Text(
        "Lưới ô bản đồ", "Tile matrix sets"
    ),
    "service-status": PAGE["health"],
    "Features (GeoJSON)": Text("Đối tượng (GeoJSON)", "Features (GeoJSON)"),
    "Features (HTML)": Text("Đối tượng (HTML)", "Features (HTML)"),
    "http://www.opengis.net/def/rel/ogc/1.0/queryables": PAGE["queryables"],
    "http://www.opengis.net/def/rel/ogc/1.0/schema": PAGE["schema"],
}


def request_language(request: Request) -> Lang:
    """``lang=`` wins, then the first supported ``Accept-Language`` entry, then Vietnamese."""
    vary(request, "Accept-Language")
    return text.negotiate(
        request.query_params.get("lang"), request.headers.get("accept-language", "")
    )


def page_texts(lang: Lang) -> dict[str, Any]:
    """What every page template gets for its language: ``t``, ``link_labels`` and the
    other language's code and name for the header's switch."""
    other = text.other(lang)
    return {
        "lang": lang,
        "t": text.in_(PAGE, lang),
        "link_labels": text.in_(LINK_LABELS, lang),
        "other_lang": other,
        "other_language": LANGUAGE_NAME(other),
    }
