"""Language choice and the interface strings of the HTML pages (Vietnamese first)."""

from __future__ import annotations

from fastapi import Request

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
    },
}


def request_language(request: Request) -> str:
    """``lang=`` wins, then the first supported ``Accept-Language`` entry, then Vietnamese."""
    asked = request.query_params.get("lang")
    if asked in SUPPORTED:
        return asked
    header = request.headers.get("accept-language", "")
    for part in header.split(","):
        code = part.split(";")[0].strip().lower()[:2]
        if code in SUPPORTED:
            return code
    return "vi"
