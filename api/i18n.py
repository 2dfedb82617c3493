"""The HTML pages' language (from the request) and their texts (``geo.kernel.text.Text``)."""

from __future__ import annotations

from typing import Any

from fastapi import Request

from api.negotiation import vary
from geo.io import export
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
    "download_all": Text("Tải về tất cả đối tượng", "Download all features"),
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

# (pages, issue 12) What feature properties are called on the HTML pages (JSON keeps
# the names). A property not listed here (a reference layer's) shows its name.
PROPERTY_LABELS: dict[str, Text] = {
    "code": Text("Mã", "Code"),
    "name": Text("Tên", "Name"),
    "alt_names": Text("Tên khác", "Other names"),
    "kind": Text("Loại danh hiệu", "Title"),
    "crafts": Text("Nghề", "Crafts"),
    "craft_group": Text("Nhóm ngành nghề", "Craft group"),
    "hamlets": Text("Thôn, xóm", "Hamlets"),
    "commune_code": Text("Mã xã (2025)", "Commune code (2025)"),
    "commune_name": Text("Xã, phường (2025)", "Commune (2025)"),
    "legacy_commune": Text("Xã, phường (trước 2025)", "Commune (before 2025)"),
    "legacy_district": Text("Huyện (trước 2025)", "District (before 2025)"),
    "recognition_decision": Text("Quyết định công nhận", "Recognition decision"),
    "recognition_date": Text("Ngày công nhận", "Recognised on"),
    "recognition_year": Text("Năm công nhận", "Year recognised"),
    "restored_year": Text("Năm khôi phục", "Year restored"),
    "status": Text("Tình trạng", "Status"),
    "operating_effectively": Text("Hoạt động hiệu quả", "Operating effectively"),
    "tourism_linked": Text("Gắn với du lịch", "Linked with tourism"),
    "ocop_products": Text("Sản phẩm OCOP", "OCOP products"),
    "ocop_stars": Text("Hạng sao OCOP", "OCOP stars"),
    "ip_protected": Text("Được bảo hộ sở hữu trí tuệ", "Intellectual property protected"),
    "env_plan": Text("Có phương án bảo vệ môi trường", "Environmental plan"),
    "households": Text("Số hộ", "Households"),
    "craft_households": Text("Số hộ làm nghề", "Craft households"),
    "workers": Text("Số lao động", "Workers"),
    "trained_workers": Text("Lao động qua đào tạo", "Trained workers"),
    "material_demand_t": Text("Nhu cầu nguyên liệu", "Raw-material demand"),
    "geom_precision": Text("Độ chính xác vị trí", "Position accuracy"),
    "precision_m": Text("Sai số vị trí", "Position uncertainty"),
    "geom_source": Text("Nguồn vị trí, ranh giới", "Source of the position or boundary"),
    "sources": Text("Nguồn tư liệu", "Sources"),
    "notes": Text("Ghi chú", "Notes"),
    "material": Text("Nguyên liệu", "Material"),
    "species": Text("Loài", "Species"),
    "species_latin": Text("Tên khoa học", "Scientific name"),
    "land_type": Text("Loại đất", "Land type"),
    "owner_type": Text("Chủ thể quản lý", "Managed by"),
    "owner": Text("Chủ sở hữu, quản lý", "Owner or manager"),
    "certification_scheme": Text("Chứng chỉ", "Certification"),
    "certificate_no": Text("Số chứng chỉ", "Certificate number"),
    "certificate_expiry": Text("Chứng chỉ hết hạn", "Certificate expires"),
    "annual_capacity_t": Text("Sản lượng hằng năm", "Annual output"),
    "harvest_season": Text("Mùa thu hoạch", "Harvest season"),
    "declared_area_ha": Text("Diện tích công bố", "Declared area"),
    "area_ha": Text("Diện tích theo ranh giới", "Area of the boundary"),
    "commune_codes": Text("Mã các xã (2025)", "Commune codes (2025)"),
    "plan_ref": Text("Quy hoạch, kế hoạch", "Plan"),
    "theme": Text("Chủ đề", "Theme"),
    "mode": Text("Phương tiện", "Travel by"),
    "description": Text("Mô tả", "Description"),
    "road_refs": Text("Tuyến đường", "Roads"),
    "length_km": Text("Chiều dài", "Length"),
    "route_id": Text("Tuyến", "Route"),
    "seq": Text("Thứ tự", "Order"),
    "village_id": Text("Làng nghề", "Village"),
    "dwell_min": Text("Thời gian dừng", "Time at the stop"),
    "note": Text("Ghi chú", "Note"),
    "scheme": Text("Hệ thống đơn vị", "Scheme"),
    "level": Text("Cấp", "Level"),
    "parent_code": Text("Mã đơn vị cấp trên", "Parent code"),
    "valid_from": Text("Hiệu lực từ", "Valid from"),
    "valid_to": Text("Hiệu lực đến", "Valid until"),
    "source": Text("Nguồn", "Source"),
    "network_id": Text("Mạng lưới đường", "Road network"),
    "osm_id": Text("Mã OpenStreetMap", "OpenStreetMap id"),
    "source_id": Text("Mã trong tệp nguồn", "Id in the source file"),
    "ref": Text("Số hiệu đường", "Road number"),
    "road_class": Text("Cấp đường", "Road class"),
    "oneway": Text("Đường một chiều", "One-way"),
    "maxspeed": Text("Tốc độ tối đa", "Speed limit"),
    "speed_car": Text("Tốc độ ô tô", "Car speed"),
    "speed_motorbike": Text("Tốc độ xe máy", "Motorbike speed"),
    "speed_bicycle": Text("Tốc độ xe đạp", "Bicycle speed"),
    "speed_walking": Text("Tốc độ đi bộ", "Walking speed"),
    "approximate": Text("Gần đúng", "Approximate"),
    "source_note": Text("Nguồn và độ chính xác", "Source and accuracy"),
    "length_m": Text("Chiều dài", "Length"),
    "updated_at": Text("Cập nhật lần cuối", "Last updated"),
    "version": Text("Phiên bản", "Version"),
}

# Units as the pages write them after a number (ha, km and m are the same in both).
UNITS: dict[str, Text] = {
    "t/yr": Text("tấn/năm", "t/yr"),
    "min": Text("phút", "min"),
}

# The words of the feature pages (issue 12).
FEATURE_PAGE: dict[str, Text] = {
    "yes": Text("Có", "Yes"),
    "no": Text("Không", "No"),
    "approximate_position": Text(
        "Vị trí gần đúng: {where}, ±{size}", "Approximate position: {where}, ±{size}"
    ),
    "surveyed_position": Text("Vị trí đo đạc, ±{size}", "Surveyed position, ±{size}"),
    "provenance": Text("Nguồn và độ chính xác", "Sources and accuracy"),
    "routes_here": Text("Tuyến du lịch qua làng", "Tourism routes through this village"),
    "zones_near": Text(
        "Vùng nguyên liệu trong bán kính {km} km", "Raw-material zones within {km} km"
    ),
    "villages_near": Text("Làng nghề trong bán kính {km} km", "Craft villages within {km} km"),
    "stops": Text("Các điểm dừng", "Stops"),
    "route_map": Text("Xem bản đồ tuyến", "Open the route map"),
    "route_handouts": Text("Tải về cho hướng dẫn viên", "Downloads for the guide"),
    "route_design": Text("Lịch trình theo đường bộ", "Timetable along the roads"),
    "route_corridor": Text("Làng nghề dọc tuyến", "Villages on the way"),
    "route_of_stop": Text("Thuộc tuyến", "Part of the route"),
    "village_of_stop": Text("Làng nghề tại điểm dừng", "Village at this stop"),
    "distance": Text("cách {km}", "{km} away"),
    "inside_zone": Text("nằm trong vùng", "inside the zone"),
    "on_the_map": Text("Xem trên bản đồ", "See it on the map"),
    "none_yet": Text("Chưa có.", "None yet."),
    "updated": Text("Cập nhật {at}, phiên bản {version}", "Updated {at}, version {version}"),
    "parameter": Text("Tham số", "Parameter"),
    "in": Text("Vị trí", "In"),
    "description": Text("Mô tả", "Description"),
    "allowed": Text("Giá trị", "Values"),
    "required": Text("bắt buộc", "required"),
    "on_this_page": Text("Trên trang này", "On this page"),
}

# (pages, issue 12) Problem details in Vietnamese: status titles, then the common details
# (geo's English messages) as patterns whose named groups fill the Vietnamese text.
PROBLEM_TITLES: dict[int, Text] = {
    400: Text("Yêu cầu không hợp lệ", "Bad Request"),
    401: Text("Chưa xác thực", "Unauthorized"),
    403: Text("Không có quyền", "Forbidden"),
    404: Text("Không tìm thấy", "Not Found"),
    405: Text("Phương thức không được hỗ trợ", "Method Not Allowed"),
    406: Text("Không có định dạng phù hợp", "Not Acceptable"),
    409: Text("Xung đột dữ liệu", "Conflict"),
    412: Text("Điều kiện tiên quyết không thỏa", "Precondition Failed"),
    413: Text("Nội dung quá lớn", "Request Entity Too Large"),
    415: Text("Kiểu nội dung không được hỗ trợ", "Unsupported Media Type"),
    428: Text("Cần điều kiện tiên quyết", "Precondition Required"),
    429: Text("Quá nhiều yêu cầu", "Too Many Requests"),
    500: Text("Lỗi máy chủ", "Internal Server Error"),
    503: Text("Dịch vụ tạm thời không sẵn sàng", "Service Unavailable"),
}

# Detail patterns, tried in order; each matches a whole detail (or a clause of one).
PROBLEM_DETAILS: tuple[tuple[str, Text], ...] = (
    (
        r"no feature (?P<id>\S+) in (?P<collection>\S+)",
        Text(
            "không có đối tượng {id} trong bộ dữ liệu {collection}",
            "no feature {id} in {collection}",
        ),
    ),
    (
        r"no feature (?P<id>.+): feature ids are whole numbers from 1 to 2147483647",
        Text(
            "không có đối tượng {id}: mã đối tượng là số nguyên từ 1 đến 2147483647",
            "no feature {id}: feature ids are whole numbers from 1 to 2147483647",
        ),
    ),
    (r"no collection (?P<id>.+)", Text("không có bộ dữ liệu {id}", "no collection {id}")),
    (
        r"no route (?P<id>\S+) \(or it has no line yet\)",
        Text(
            "không có tuyến {id} (hoặc tuyến chưa có đường đi)",
            "no route {id} (or it has no line yet)",
        ),
    ),
    (
        r"no history for feature (?P<id>\S+) in (?P<collection>\S+)",
        Text(
            "không có lịch sử của đối tượng {id} trong {collection}",
            "no history for feature {id} in {collection}",
        ),
    ),
    (r"Not Found", Text("Không tìm thấy", "Not Found")),
    (r"Method Not Allowed", Text("Phương thức không được hỗ trợ", "Method Not Allowed")),
    (r"internal error", Text("lỗi nội bộ của máy chủ", "internal error")),
    (
        r"unknown query parameter (?P<names>.+); allowed: (?P<allowed>.+)",
        Text(
            "tham số không được hỗ trợ: {names}; các tham số được phép: {allowed}",
            "unknown query parameter {names}; allowed: {allowed}",
        ),
    ),
    (
        r"(?P<field>[\w-]+) must be a whole number, got (?P<value>.+)",
        Text(
            "{field} phải là số nguyên, nhận được {value}",
            "{field} must be a whole number, got {value}",
        ),
    ),
    (
        r"bbox must be 4 or 6 comma-separated numbers, got (?P<value>.+)",
        Text(
            "bbox phải gồm 4 hoặc 6 số cách nhau bởi dấu phẩy, nhận được {value}",
            "bbox must be 4 or 6 comma-separated numbers, got {value}",
        ),
    ),
    (
        r"(?P<field>\w+) is required",
        Text("cần có {field}", "{field} is required"),
    ),
    (
        r"(?P<field>\w+) must be ≥ (?P<low>[\d.]+) and not more than (?P<other>\w+)",
        Text(
            "{field} phải ≥ {low} và không lớn hơn {other}",
            "{field} must be ≥ {low} and not more than {other}",
        ),
    ),
    (
        r"(?P<field>\w+) must be (?P<op>[≥>]) (?P<low>[\d.]+)",
        Text("{field} phải {op} {low}", "{field} must be {op} {low}"),
    ),
    (
        r"(?P<field>\w+) must be from (?P<low>\S+) to (?P<high>\S+)",
        Text("{field} phải từ {low} đến {high}", "{field} must be from {low} to {high}"),
    ),
    (
        r"(?P<field>\w+) must not be more than (?P<other>\w+)",
        Text("{field} không được lớn hơn {other}", "{field} must not be more than {other}"),
    ),
    (
        r"(?P<field>\w+) must be one of: (?P<allowed>.+)",
        Text(
            "{field} phải là một trong các giá trị: {allowed}",
            "{field} must be one of: {allowed}",
        ),
    ),
    (
        r"(?P<field>.+?) (?P<value>'[^']*'|\([^)]*\)) is already used by another (?P<noun>.+)",
        Text(
            "{field} {value} đã được dùng cho một {noun} khác",
            "{field} {value} is already used by another {noun}",
        ),
    ),
    (
        r"(?P<field>\w+) must name an existing (?P<noun>.+?)(?P<rest> \(.*\))?",
        Text(
            "{field} phải trỏ tới một {noun} đã có{rest}",
            "{field} must name an existing {noun}{rest}",
        ),
    ),
    (
        r"(?P<field>\w+) must be a valid, non-empty geometry with longitudes from -180 to 180 "
        r"and latitudes from -90 to 90",
        Text(
            "{field} phải là một hình học hợp lệ, không rỗng, kinh độ từ -180 đến 180 "
            "và vĩ độ từ -90 đến 90",
            "{field} must be a valid, non-empty geometry with longitudes from -180 to 180 "
            "and latitudes from -90 to 90",
        ),
    ),
    (
        r"a value breaks a rule of the data model",
        Text(
            "một giá trị vi phạm quy tắc của mô hình dữ liệu",
            "a value breaks a rule of the data model",
        ),
    ),
    (
        r"invalid value: (?P<why>.+)",
        Text("giá trị không hợp lệ: {why}", "invalid value: {why}"),
    ),
    (
        r"the database cannot be reached; retry later",
        Text(
            "không kết nối được cơ sở dữ liệu; vui lòng thử lại sau",
            "the database cannot be reached; retry later",
        ),
    ),
    # (coverage, issue 14) the supply analysis's parameters
    (
        r"unknown material (?P<value>'[^']*'); one of (?P<allowed>.+)",
        Text(
            "không có nguyên liệu {value}; chọn một trong: {allowed}",
            "unknown material {value}; one of {allowed}",
        ),
    ),
    (
        r"haul_km must be more than 0 and at most (?P<most>\S+) km",
        Text(
            "haul_km phải lớn hơn 0 và không quá {most} km",
            "haul_km must be more than 0 and at most {most} km",
        ),
    ),
    (
        r"capacity must be CODE:tonnes pairs separated by commas, got (?P<value>.+)",
        Text(
            "capacity phải là các cặp MÃ:tấn cách nhau bằng dấu phẩy, nhận được {value}",
            "capacity must be CODE:tonnes pairs separated by commas, got {value}",
        ),
    ),
    (
        r"mode=road needs a road network, and none is loaded",
        Text(
            "mode=road cần một mạng đường, nhưng chưa nạp mạng đường nào",
            "mode=road needs a road network, and none is loaded",
        ),
    ),
    (
        r"no material zone (?P<code>.+)",
        Text("không có vùng nguyên liệu {code}", "no material zone {code}"),
    ),
    # (siting, issue 14) the siting suggestions' parameters
    (
        r"k must be between 1 and (?P<most>\d+), got (?P<value>\S+)",
        Text(
            "k phải từ 1 đến {most}, nhận được {value}",
            "k must be between 1 and {most}, got {value}",
        ),
    ),
    (
        r"resolution must be an H3 resolution from (?P<low>\d+) to (?P<high>\d+), "
        r"got (?P<value>\S+)",
        Text(
            "resolution phải là độ phân giải H3 từ {low} đến {high}, nhận được {value}",
            "resolution must be an H3 resolution from {low} to {high}, got {value}",
        ),
    ),
    (
        r"a (?P<haul>\S+) km haul holds about (?P<cells>\d+) cells of resolution "
        r"(?P<resolution>\d) per village, more than (?P<most>\d+): choose a coarser "
        r"resolution or a shorter haul",
        Text(
            "cự ly {haul} km chứa khoảng {cells} ô độ phân giải {resolution} quanh mỗi làng, "
            "quá {most}: chọn độ phân giải thô hơn hoặc cự ly ngắn hơn",
            "a {haul} km haul holds about {cells} cells of resolution {resolution} per "
            "village, more than {most}: choose a coarser resolution or a shorter haul",
        ),
    ),
    (
        r"more than (?P<most>\d+) candidate cells: choose a coarser resolution or a "
        r"shorter haul",
        Text(
            "quá {most} ô ứng viên: chọn độ phân giải thô hơn hoặc cự ly ngắn hơn",
            "more than {most} candidate cells: choose a coarser resolution or a shorter haul",
        ),
    ),
)

# The words of the data model that problem details name (constraint_messages.NOUNS).
PROBLEM_NOUNS: dict[str, Text] = {
    "administrative unit": Text("đơn vị hành chính", "administrative unit"),
    "village": Text("làng nghề", "village"),
    "material zone": Text("vùng nguyên liệu", "material zone"),
    "route": Text("tuyến du lịch", "route"),
    "route stop": Text("điểm dừng", "route stop"),
    "reference layer": Text("lớp tham chiếu", "reference layer"),
    "reference feature": Text("đối tượng tham chiếu", "reference feature"),
    "village statistic": Text("số liệu làng nghề", "village statistic"),
    "API key": Text("khóa API", "API key"),
}

# (figures, issue 14) The yearly supply figures page and the item pages' figure table.
FIGURES_PAGE: dict[str, Text] = {
    "title": Text("Số liệu cung – cầu nguyên liệu theo năm", "Yearly supply figures"),
    "intro": Text(
        "Nhu cầu nguyên liệu của làng nghề và sản lượng của vùng nguyên liệu, từng năm; "
        "số ước tính ghi rõ cách ước tính và nguồn.",
        "Villages' raw-material demand and zones' output, year by year; every estimate "
        "says how it was made and where its figures come from.",
    ),
    "figures": Text("Số liệu theo năm", "Yearly figures"),
    "kind": Text("Loại", "Kind"),
    "village": Text("Làng nghề", "Village"),
    "zone": Text("Vùng nguyên liệu", "Zone"),
    "demand": Text("Nhu cầu", "Demand"),
    "capacity": Text("Sản lượng", "Capacity"),
    "name": Text("Tên", "Name"),
    "material": Text("Nguyên liệu", "Material"),
    "year": Text("Năm", "Year"),
    "tonnes": Text("Tấn/năm", "Tonnes/year"),
    "status": Text("Số liệu", "Figure"),
    "estimate": Text("Ước tính", "Estimate"),
    "measured": Text("Đo đếm", "Measured"),
    "basis": Text("Cơ sở ước tính", "Basis"),
    "sources": Text("Nguồn", "Sources"),
    "none": Text("Chưa có số liệu nào.", "No figures yet."),
    # (facts, issue 16) The village page links its yearly programme figures.
    "stats_link": Text(
        "Số liệu chương trình theo năm (lao động, giá trị sản xuất, OCOP…)",
        "Yearly programme figures (workers, production value, OCOP…)",
    ),
    "filter": Text("Lọc", "Filter"),
    "all": Text("Tất cả", "All"),
    "csv": Text("Tải CSV", "Download CSV"),
    "sources_file": Text(
        "Mã nguồn [Sn], [Fn]: xem data/demo/SOURCES.md.",
        "Source tags [Sn], [Fn]: see data/demo/SOURCES.md.",
    ),
}

# (pages, issue 12) What each operation does, on /api?f=html (the JSON keeps English).
OPERATION_SUMMARIES: dict[str, Text] = {
    "Yearly supply figures": Text("Số liệu cung – cầu theo năm", "Yearly supply figures"),
    "Record a village's yearly demand": Text(
        "Ghi nhu cầu nguyên liệu hằng năm của một làng nghề", "Record a village's yearly demand"
    ),
    "Record a zone's yearly capacity": Text(
        "Ghi sản lượng hằng năm của một vùng nguyên liệu", "Record a zone's yearly capacity"
    ),
    "Delete a village's yearly demand": Text(
        "Xóa nhu cầu nguyên liệu một năm của làng nghề", "Delete a village's yearly demand"
    ),
    "Delete a zone's yearly capacity": Text(
        "Xóa sản lượng một năm của vùng nguyên liệu", "Delete a zone's yearly capacity"
    ),
    # (facts, issue 16)
    "A village's yearly programme figures": Text(
        "Số liệu chương trình theo năm của một làng nghề", "A village's yearly programme figures"
    ),
    "Record a village's figures of a year (admin)": Text(
        "Ghi số liệu một năm của làng nghề (quản trị)",
        "Record a village's figures of a year (admin)",
    ),
    "Delete a village's figures of a year (admin)": Text(
        "Xóa số liệu một năm của làng nghề (quản trị)",
        "Delete a village's figures of a year (admin)",
    ),
    "Import yearly figures from a CSV or XLSX file (admin)": Text(
        "Nhập số liệu hằng năm từ tệp CSV hoặc XLSX (quản trị)",
        "Import yearly figures from a CSV or XLSX file (admin)",
    ),
    "A collection": Text("Một bộ dữ liệu", "A collection"),
    "A feature": Text("Một đối tượng", "A feature"),
    "A route's map": Text("Bản đồ của một tuyến", "A route's map"),
    "A vector tile of every collection (one layer each)": Text(
        "Ô bản đồ vector của mọi bộ dữ liệu (mỗi bộ một lớp)",
        "A vector tile of every collection (one layer each)",
    ),
    "A vector tile of one collection": Text(
        "Ô bản đồ vector của một bộ dữ liệu", "A vector tile of one collection"
    ),
    "API definition (OpenAPI 3.0)": Text(
        "Định nghĩa API (OpenAPI 3.0)", "API definition (OpenAPI 3.0)"
    ),
    "Collections": Text("Các bộ dữ liệu", "Collections"),
    "Conformance classes": Text("Các lớp tuân thủ", "Conformance classes"),
    "Create a feature": Text("Thêm một đối tượng", "Create a feature"),
    "Delete a feature": Text("Xóa một đối tượng", "Delete a feature"),
    "Draw and save features": Text("Vẽ và lưu đối tượng", "Draw and save features"),
    "Every matching feature in one streamed GeoJSON file": Text(
        "Mọi đối tượng khớp trong một tệp GeoJSON",
        "Every matching feature in one streamed GeoJSON file",
    ),
    "Feature schema": Text("Lược đồ đối tượng", "Feature schema"),
    "Features": Text("Các đối tượng", "Features"),
    "Landing page": Text("Trang chủ", "Landing page"),
    "Overview map": Text("Bản đồ tổng quan", "Overview map"),
    "Queryables": Text("Thuộc tính truy vấn", "Queryables"),
    "Replace a feature": Text("Thay thế một đối tượng", "Replace a feature"),
    "Restore a feature to a recorded version (admin)": Text(
        "Khôi phục đối tượng về một phiên bản đã lưu (quản trị)",
        "Restore a feature to a recorded version (admin)",
    ),
    "TileJSON of a collection": Text("TileJSON của một bộ dữ liệu", "TileJSON of a collection"),
    "TileJSON of all": Text("TileJSON của mọi bộ dữ liệu", "TileJSON of all"),
    "Tileset metadata of a collection": Text(
        "Thông tin bộ ô bản đồ của một bộ dữ liệu", "Tileset metadata of a collection"
    ),
    "Tileset metadata of all collections": Text(
        "Thông tin bộ ô bản đồ của mọi bộ dữ liệu", "Tileset metadata of all collections"
    ),
    "Tilesets of a collection": Text(
        "Các bộ ô bản đồ của một bộ dữ liệu", "Tilesets of a collection"
    ),
    "Tilesets of all collections": Text(
        "Các bộ ô bản đồ của mọi bộ dữ liệu", "Tilesets of all collections"
    ),
    "Tiling schemes": Text("Các lưới ô bản đồ", "Tiling schemes"),
    "Update a feature": Text("Cập nhật một đối tượng", "Update a feature"),
    "Version history of a feature": Text(
        "Lịch sử phiên bản của đối tượng", "Version history of a feature"
    ),
    "WebMercatorQuad": Text("Lưới ô WebMercatorQuad", "WebMercatorQuad"),
}
# The per-collection operations of /api, by the English words before the collection id.
COLLECTION_OPERATIONS: dict[str, Text] = {
    "Features of": Text("Các đối tượng của {id}", "Features of {id}"),
    "Create a feature in": Text("Thêm một đối tượng vào {id}", "Create a feature in {id}"),
    "A feature of": Text("Một đối tượng của {id}", "A feature of {id}"),
    "Replace a feature of": Text("Thay thế một đối tượng của {id}", "Replace a feature of {id}"),
    "Update a feature of": Text("Cập nhật một đối tượng của {id}", "Update a feature of {id}"),
    "Delete a feature of": Text("Xóa một đối tượng của {id}", "Delete a feature of {id}"),
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
    # The collection's export links (rel "enclosure"), one per file format.
    **{
        f"All features: {f.title.en}": Text(
            f"Tải về tất cả đối tượng: {f.title.vi}", f"All features: {f.title.en}"
        )
        for f in export.FORMATS.values()
    },
}


def export_title(fmt: export.Format) -> str:
    """The JSON title of a collection's export link (LINK_LABELS names it on pages)."""
    return f"All features: {fmt.title.en}"


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


# (route designer, issue 15) A route's saved design: legs along the roads and the timetable.
ROUTE_DESIGN_PAGE: dict[str, Text] = {
    "title": Text("Lịch trình tuyến", "Route timetable"),
    "intro": Text(
        "Các chặng theo đường bộ giữa các điểm dừng, giờ đến, giờ đi và thời gian lái xe "
        "mỗi chặng. Chặng không đi theo đường bộ được đánh dấu và ghi rõ lý do.",
        "The legs along the roads between the stops, arrival and departure times and the "
        "driving time of each leg. A leg that does not follow the roads is marked, with why.",
    ),
    "not_designed": Text(
        "Tuyến này chưa được thiết kế theo đường bộ.",
        "This route has not been designed along the roads yet.",
    ),
    "seq": Text("Thứ tự", "No."),
    "minutes": Text("{m} phút", "{m} min"),
    "hours_minutes": Text("{h} giờ {m:02d}", "{h} h {m:02d}"),
    "stop": Text("Điểm dừng", "Stop"),
    "day": Text("Ngày", "Day"),
    "arrive": Text("Đến", "Arrive"),
    "depart": Text("Đi", "Leave"),
    "leg": Text("Chặng đến", "Leg to here"),
    "drive": Text("Lái xe", "Drive"),
    "wait": Text("Chờ mở cửa", "Wait"),
    "dwell": Text("Dừng", "Dwell"),
    "hours": Text("Giờ mở cửa", "Opening hours"),
    "problem": Text("Vấn đề", "Problem"),
    "overnight": Text("nghỉ đêm", "overnight"),
    "mode": Text("Phương tiện", "Travel mode"),
    "start": Text("Khởi hành", "Start"),
    "length": Text("Chiều dài", "Length"),
    "drive_total": Text("Tổng thời gian lái xe", "Total driving"),
    "duration": Text("Tổng thời gian", "Total duration"),
    "days": Text("Số ngày", "Days"),
    "network": Text("Mạng lưới đường", "Road network"),
    "none": Text("không có", "none"),
    "fallbacks": Text("Chặng không theo đường bộ", "Legs not along the roads"),
    "unreachable": Text("Điểm dừng lỡ giờ mở cửa", "Stops whose opening hours are missed"),
    "kind_road": Text("theo đường bộ", "along the roads"),
    "kind_geodesic": Text("đường thẳng (dự phòng)", "straight line (fallback)"),
    "kind_boat": Text("đi thuyền (đường thẳng)", "by boat (straight)"),
    "route": Text("Trang của tuyến", "The route's page"),
    "json": Text("JSON", "JSON"),
}
