"""Language choice and the interface strings of the HTML pages (Vietnamese first)."""

from __future__ import annotations

from fastapi import Request

from api.negotiation import vary

SUPPORTED = ("vi", "en")

STRINGS: dict[str, dict[str, str]] = {
    "vi": {
        "tagline": "Làng nghề, vùng nguyên liệu và tuyến du lịch — bắt đầu từ Thanh Hóa",
        "collections": "Bộ dữ liệu",
        "collection": "Bộ dữ liệu",
        "features": "Số đối tượng",
        "links": "Liên kết",
        "api_doc": "Tài liệu API (OpenAPI)",
        "health": "Tình trạng dịch vụ",
        "other_language": "English",
        "database_unavailable": "Cơ sở dữ liệu chưa sẵn sàng",
        "conformance": "Các lớp tuân thủ",
        "items_title": "Đối tượng",
        "item": "Đối tượng",
        "property": "Thuộc tính",
        "value": "Giá trị",
        "matched": "Số đối tượng khớp",
        "returned": "Số đối tượng trên trang",
        "next": "Trang sau",
        "prev": "Trang trước",
        "extent": "Phạm vi",
        "queryables": "Thuộc tính truy vấn",
        "schema": "Lược đồ",
        "history": "Lịch sử thay đổi",
        "action": "Thao tác",
        "actor": "Người thực hiện",
        "at": "Thời điểm",
        "version": "Phiên bản",
        "crs_list": "Hệ tọa độ",
        "geometry": "Hình học",
        "json": "JSON",
        "operations": "Các thao tác",
        "path": "Đường dẫn",
        "no_features": "Không có đối tượng nào.",
    },
    "en": {
        "tagline": "Craft villages, raw-material zones and tourism routes — starting with Thanh Hóa",
        "collections": "Collections",
        "collection": "Collection",
        "features": "Features",
        "links": "Links",
        "api_doc": "API documentation (OpenAPI)",
        "health": "Service status",
        "other_language": "Tiếng Việt",
        "database_unavailable": "The database is not ready",
        "conformance": "Conformance classes",
        "items_title": "Features",
        "item": "Feature",
        "property": "Property",
        "value": "Value",
        "matched": "Features matched",
        "returned": "Features on this page",
        "next": "Next page",
        "prev": "Previous page",
        "extent": "Extent",
        "queryables": "Queryables",
        "schema": "Schema",
        "history": "Version history",
        "action": "Action",
        "actor": "By",
        "at": "When",
        "version": "Version",
        "crs_list": "Coordinate reference systems",
        "geometry": "Geometry",
        "json": "JSON",
        "operations": "Operations",
        "path": "Path",
        "no_features": "No features.",
    },
}


def request_language(request: Request) -> str:
    """``lang=`` wins, then the first supported ``Accept-Language`` entry, then Vietnamese."""
    vary(request, "Accept-Language")
    asked = request.query_params.get("lang")
    if asked in SUPPORTED:
        return asked
    header = request.headers.get("accept-language", "")
    for part in header.split(","):
        code = part.split(";")[0].strip().lower()[:2]
        if code in SUPPORTED:
            return code
    return "vi"
