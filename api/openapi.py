"""OpenAPI 3.0 for ``/api``: OGC API – Features asks for 3.0, FastAPI writes 3.1.

Two steps. ``to_openapi_30`` converts what FastAPI and Pydantic emit: ``anyOf`` with
``null`` becomes ``nullable``, ``const`` becomes a one-value ``enum``, ``examples`` becomes
``example``, numeric ``exclusiveMinimum``/``exclusiveMaximum`` become the 3.0 boolean form,
and the JSON Schema keywords 3.0 lacks are dropped. ``describe`` then says what craftmap
really answers, which FastAPI cannot know: the routes read their own query strings, answer
errors as problem details instead of FastAPI's 422, and speak GeoJSON, JSON Schema, MVT and
HTML. It also writes one items path per collection, with the collection's own feature
schema as request and response body, so that clients (and schemathesis) see what a write
must look like.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Sequence
from http import HTTPStatus
from typing import Any

from api.errors import PROBLEM_JSON
from api.negotiation import GEOJSON, HTML, JSON, MVT, OPENAPI_30, SCHEMA_JSON
from geo.io.export import FILE_FORMATS, FORMATS
from geo.kernel.text import LANGS, Text
from geo.query.features import DEFAULT_LIMIT, MAX_LIMIT
from geo.query.tiles import MAX_ZOOM
from geo.store.catalog import Collection, Prop

_DROPPED = {"$schema", "$id", "contentMediaType", "contentEncoding", "unevaluatedProperties"}


def _schema_30(node: Any) -> Any:
    if isinstance(node, list):
        return [_schema_30(item) for item in node]
    if not isinstance(node, dict):
        return node
    result: dict[str, Any] = {}
    for key, value in node.items():
        if key in _DROPPED:
            continue
        result[key] = _schema_30(value)
    for key in ("anyOf", "oneOf"):
        options = result.get(key)
        if isinstance(options, list) and any(o == {"type": "null"} for o in options):
            rest = [o for o in options if o != {"type": "null"}]
            result.pop(key)
            if len(rest) == 1:
                merged = {**rest[0], **result}
                result = merged
            else:
                result[key] = rest
            result["nullable"] = True
    if isinstance(result.get("type"), list):
        types = [t for t in result["type"] if t != "null"]
        if len(types) < len(result["type"]):
            result["nullable"] = True
        if len(types) == 1:
            result["type"] = types[0]
        else:
            result.pop("type")
            result["anyOf"] = [{"type": t} for t in types]
    if "const" in result:
        result["enum"] = [result.pop("const")]
    if "examples" in result and isinstance(result["examples"], list):
        examples = result.pop("examples")
        if examples:
            result["example"] = examples[0]
    for bound, plain in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
        value = result.get(bound)
        if isinstance(value, int | float) and not isinstance(value, bool):
            result[plain] = value
            result[bound] = True
    return result


def to_openapi_30(document: dict[str, Any]) -> dict[str, Any]:
    """A 3.0.3 copy of FastAPI's 3.1 document."""
    converted = copy.deepcopy(document)
    converted["openapi"] = "3.0.3"
    converted.pop("webhooks", None)
    converted.pop("jsonSchemaDialect", None)
    if "components" in converted and "schemas" in converted["components"]:
        converted["components"]["schemas"] = {
            name: _schema_30(schema) for name, schema in converted["components"]["schemas"].items()
        }
    for path_item in converted.get("paths", {}).values():
        for operation in path_item.values():
            if not isinstance(operation, dict):
                continue
            for parameter in operation.get("parameters", []):
                if "schema" in parameter:
                    parameter["schema"] = _schema_30(parameter["schema"])
            for content_holder in [operation.get("requestBody", {})] + list(
                operation.get("responses", {}).values()
            ):
                for media in content_holder.get("content", {}).values():
                    if "schema" in media:
                        media["schema"] = _schema_30(media["schema"])
    return converted


# -- what craftmap answers ----------------------------------------------------------------------
# Feature ids are PostgreSQL integers (api.params.parse_feature_id).
_MAX_ID = 2**31 - 1
# The query parameters the items routes read themselves (api.params); a queryable of
# the same name, or of a negotiation parameter's (f, lang), stays unlisted as a filter.
ITEMS_PARAMS = (
    "limit",
    "offset",
    "bbox",
    "bbox-crs",
    "datetime",
    "crs",
    "filter",
    "filter-lang",
    "filter-crs",
    "sortby",
    "properties",
)
_NOT_FILTERS = frozenset({*ITEMS_PARAMS, "f", "lang"})
_WRITE_SECURITY: list[dict[str, list[str]]] = [{"bearerAuth": []}, {"apiKey": []}]


def _ref(kind: str, name: str) -> dict[str, str]:
    return {"$ref": f"#/components/{kind}/{name}"}


def _problem_response(status: int, *, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": HTTPStatus(status).phrase,
        # Browsers asking for HTML (f=html or Accept: text/html) get the problem as a page.
        "content": {
            PROBLEM_JSON: {"schema": _ref("schemas", "Problem")},
            HTML: {"schema": {"type": "string"}},
        },
    }
    if headers:
        response["headers"] = headers
    return response


def _header(description: str, *, required: bool = False) -> dict[str, Any]:
    return {"description": description, "required": required, "schema": {"type": "string"}}


def _position() -> dict[str, Any]:
    return {"type": "array", "items": {"type": "number"}, "minItems": 2, "maxItems": 3}


def _geometry_schemas() -> dict[str, dict[str, Any]]:
    """GeoJSON geometries (RFC 7946 §3.1), each a component schema."""

    def geometry(kind: str, coordinates: dict[str, Any]) -> dict[str, Any]:
        return {
            "type": "object",
            "required": ["type", "coordinates"],
            "properties": {"type": {"type": "string", "enum": [kind]}, "coordinates": coordinates},
        }

    def array_of(items: dict[str, Any], min_items: int = 0) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": "array", "items": items}
        if min_items:
            schema["minItems"] = min_items
        return schema

    ring = array_of(_position(), 4)
    polygon = array_of(ring, 1)
    line = array_of(_position(), 2)
    return {
        "Point": geometry("Point", _position()),
        "MultiPoint": geometry("MultiPoint", array_of(_position(), 1)),
        "LineString": geometry("LineString", line),
        "MultiLineString": geometry("MultiLineString", array_of(line, 1)),
        "Polygon": geometry("Polygon", polygon),
        "MultiPolygon": geometry("MultiPolygon", array_of(polygon, 1)),
    }


_GEOMETRY_TYPES = tuple(_geometry_schemas())


def _geometry(kinds: Iterable[str], *, nullable: bool) -> dict[str, Any]:
    chosen = sorted(kinds) if kinds else list(_GEOMETRY_TYPES)
    options = [_ref("schemas", k) for k in chosen if k in _GEOMETRY_TYPES]
    schema: dict[str, Any] = options[0] if len(options) == 1 else {"oneOf": options}
    if nullable:
        # A $ref ignores its siblings in 3.0: wrap it so that null is allowed.
        schema = {"allOf": [schema], "nullable": True} if "$ref" in schema else schema
        schema["nullable"] = True
    return schema


def _components() -> dict[str, Any]:
    link = {
        "type": "object",
        "required": ["href", "rel"],
        "properties": {
            "href": {"type": "string"},
            "rel": {"type": "string"},
            "type": {"type": "string"},
            "title": {"type": "string"},
        },
    }
    links = {"type": "array", "items": _ref("schemas", "Link")}
    feature = {
        "type": "object",
        "required": ["type", "geometry", "properties"],
        "properties": {
            "type": {"type": "string", "enum": ["Feature"]},
            "id": {"oneOf": [{"type": "integer"}, {"type": "string"}]},
            "geometry": _geometry(_GEOMETRY_TYPES, nullable=True),
            "properties": {"type": "object", "nullable": True},
            "links": links,
        },
    }
    schemas: dict[str, Any] = {
        "Problem": {
            "description": "RFC 9457 problem details",
            "type": "object",
            "required": ["type", "title", "status"],
            "properties": {
                "type": {"type": "string"},
                "title": {"type": "string"},
                "status": {"type": "integer", "minimum": 100, "maximum": 599},
                "detail": {"type": "string"},
                "instance": {"type": "string"},
            },
        },
        "Link": link,
        **_geometry_schemas(),
        "Feature": feature,
        "FeatureCollection": _feature_collection(_ref("schemas", "Feature")),
        "JsonSchema": {
            "type": "object",
            "required": ["type", "properties"],
            "properties": {
                "type": {"type": "string", "enum": ["object"]},
                "title": {"type": "string"},
                "properties": {"type": "object"},
            },
        },
        "LandingPage": {
            "type": "object",
            "required": ["title", "links"],
            "properties": {"title": {"type": "string"}, "links": links},
        },
        "Conformance": {
            "type": "object",
            "required": ["conformsTo"],
            "properties": {"conformsTo": {"type": "array", "items": {"type": "string"}}},
        },
        "Collection": {
            "type": "object",
            "required": ["id", "links"],
            "properties": {
                "id": {"type": "string"},
                "title": {"type": "string"},
                "description": {"type": "string"},
                "itemType": {"type": "string"},
                "extent": {"type": "object"},
                "crs": {"type": "array", "items": {"type": "string"}},
                "storageCrs": {"type": "string"},
                "links": links,
            },
        },
        "Collections": {
            "type": "object",
            "required": ["links", "collections"],
            "properties": {
                "links": links,
                "collections": {"type": "array", "items": _ref("schemas", "Collection")},
                "crs": {"type": "array", "items": {"type": "string"}},
            },
        },
        "History": {
            "type": "object",
            "required": ["collection", "featureId", "versions"],
            "properties": {
                "collection": {"type": "string"},
                "featureId": {"type": "integer"},
                "versions": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["history_id", "action", "at", "state"],
                        "properties": {
                            "history_id": {"type": "integer"},
                            "action": {"type": "string"},
                            "at": {"type": "string", "format": "date-time"},
                            "version": {"type": "integer", "nullable": True},
                            "state": {"type": "object"},
                        },
                    },
                },
            },
        },
        "Tileset": {
            "type": "object",
            "required": ["dataType", "crs", "tileMatrixSetURI", "links"],
            "properties": {
                "title": {"type": "string"},
                "dataType": {"type": "string", "enum": ["vector"]},
                "crs": {"type": "string"},
                "tileMatrixSetURI": {"type": "string"},
                "links": links,
                "layers": {"type": "array", "items": {"type": "object", "required": ["id"]}},
                "tileMatrixSetLimits": {"type": "array", "items": {"type": "object"}},
            },
        },
        "Tilesets": {
            "type": "object",
            "required": ["tilesets"],
            "properties": {"tilesets": {"type": "array", "items": _ref("schemas", "Tileset")}},
        },
        "TileJSON": {
            "type": "object",
            "required": ["tilejson", "tiles"],
            "properties": {
                "tilejson": {"type": "string"},
                "tiles": {"type": "array", "items": {"type": "string"}},
                "bounds": {"type": "array", "items": {"type": "number"}},
                "vector_layers": {"type": "array", "items": {"type": "object"}},
            },
        },
        "OpenAPI": {
            "type": "object",
            "required": ["openapi", "info", "paths"],
            "properties": {"openapi": {"type": "string"}},
        },
    }
    return {
        "schemas": schemas,
        "securitySchemes": {
            "bearerAuth": {
                "type": "http",
                "scheme": "bearer",
                "description": "an API key: Authorization: Bearer <key>",
            },
            "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
        },
    }


def _feature_collection(feature: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["type", "features", "numberReturned", "links"],
        "properties": {
            "type": {"type": "string", "enum": ["FeatureCollection"]},
            "features": {"type": "array", "items": feature},
            "numberMatched": {"type": "integer", "minimum": 0},
            "numberReturned": {"type": "integer", "minimum": 0},
            "timeStamp": {"type": "string", "format": "date-time"},
            "links": {"type": "array", "items": _ref("schemas", "Link")},
        },
    }


# -- parameters ---------------------------------------------------------------------------------
# Every parameter's description in both languages, by its English words: the JSON document
# is English, /api?f=html shows the page's language (issue 12). Filled as the parameters
# are described.
PARAMETER_TEXTS: dict[str, Text] = {}


def _said(description: Text) -> str:
    PARAMETER_TEXTS[description.en] = description
    return description.en


def bilingual(description: Text) -> str:
    """A router's parameter description: English in the document, both on the /api page."""
    return _said(description)


def parameter_text(description: str) -> Text | None:
    """Both languages of a parameter description of this document, if it has them."""
    return PARAMETER_TEXTS.get(description)


def _query(name: str, description: Text, schema: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": _said(description),
        "schema": schema,
        **extra,
    }


def _list_param(name: str, description: Text, items: dict[str, Any]) -> dict[str, Any]:
    """A comma-separated list (``style: form``, ``explode: false``)."""
    return _query(
        name,
        description,
        {"type": "array", "items": items, "minItems": 1},
        style="form",
        explode=False,
    )


def _format_param(*, geojson: bool = False) -> dict[str, Any]:
    kinds = ["json", "html", "geojson", *FILE_FORMATS] if geojson else ["json", "html"]
    said = Text(
        "trả lời dạng JSON hoặc trang HTML (nếu không nêu, tiêu đề Accept quyết định)",
        "answer as JSON or as an HTML page (else the Accept header decides)",
    )
    if geojson:
        said = Text(
            said.vi + "; hoặc tải trang này về thành tệp: " + ", ".join(FILE_FORMATS),
            said.en + "; or download this page as a file: " + ", ".join(FILE_FORMATS),
        )
    return _query("f", said, {"type": "string", "enum": kinds})


def _export_format_param() -> dict[str, Any]:
    return _query(
        "f",
        Text(
            "định dạng tệp (mặc định GeoJSON); KML/KMZ luôn là WGS 84",
            "file format (default GeoJSON); KML/KMZ are always WGS 84",
        ),
        {"type": "string", "enum": ["geojson", "json", *FILE_FORMATS], "default": "geojson"},
    )


def _files() -> list[tuple[str, dict[str, Any] | None]]:
    """The file formats of the items and the export (geo.io.export), as response content."""
    binary = {"type": "string", "format": "binary"}
    return [(FORMATS[key].media_type, binary) for key in FILE_FORMATS]


def _lang_param() -> dict[str, Any]:
    return _query(
        "lang",
        Text(
            "ngôn ngữ của tiêu đề và trang (tiếng Việt, trừ khi là en)",
            "language of titles and pages (Vietnamese unless en)",
        ),
        {
            "type": "string",
            "enum": list(LANGS),
        },
    )


def _path_param(name: str, description: Text, schema: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "description": _said(description),
        "schema": schema,
    }


def _header_param(name: str, description: Text, schema: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": name,
        "in": "header",
        "required": False,
        "description": _said(description),
        "schema": schema,
    }


def _crs_schema(crs_uris: Sequence[str]) -> dict[str, Any]:
    return {"type": "string", "enum": list(crs_uris)}


_EQUALS = Text(
    "các đối tượng có {name} bằng giá trị này", "features whose {name} equals this value"
)


def items_parameters(
    crs_uris: Sequence[str], collection: Collection | None = None, *, paged: bool = True
) -> list[dict[str, Any]]:
    """The query parameters of an items (or export) request, typed.

    With a collection, ``sortby`` and ``properties`` list its property names and each
    queryable is a parameter of its own (equality filter, OGC API – Features Part 3).
    """
    crs = _crs_schema(crs_uris)
    if collection is None:
        names: dict[str, Any] = {"type": "string", "minLength": 1}
        sort_keys: dict[str, Any] = {"type": "string", "minLength": 1}
    else:
        names = {"type": "string", "enum": [p.name for p in collection.props]}
        sortable = [p.name for p in collection.props if p.type not in {"object", "array"}]
        sort_keys = {
            "type": "string",
            "enum": [f"{sign}{name}" for name in sortable for sign in ("", "-")],
        }
    parameters = []
    if paged:
        parameters += [
            _query(
                "limit",
                Text(
                    "số đối tượng mỗi trang, từ 1 đến {most} (giá trị lớn hơn được hạ xuống)",
                    "features per page, 1 to {most} (larger values are clamped)",
                ).format(most=f"{MAX_LIMIT:,}".replace(",", " ")),
                {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT},
            ),
            _query(
                "offset",
                Text("số đối tượng bỏ qua (phân trang)", "features to skip (paging)"),
                {"type": "integer", "minimum": 0, "default": 0},
            ),
        ]
    parameters += [
        _query(
            "bbox",
            Text(
                "minx,miny,maxx,maxy (hoặc 6 số kèm độ cao) theo thứ tự trục của bbox-crs",
                "minx,miny,maxx,maxy (or 6 numbers with heights) in the axis order of bbox-crs",
            ),
            {
                "type": "array",
                "items": {"type": "number"},
                "minItems": 4,
                "maxItems": 6,
                "oneOf": [{"maxItems": 4}, {"minItems": 6}],
            },
            style="form",
            explode=False,
        ),
        _query(
            "bbox-crs",
            Text("hệ tọa độ của bbox (mặc định CRS84)", "CRS of bbox (default CRS84)"),
            crs,
        ),
        _query(
            "datetime",
            Text(
                "một thời điểm, hoặc khoảng bắt đầu/kết thúc, với '..' cho đầu để mở (RFC 3339)",
                "instant, or start/end with '..' for an open end (RFC 3339)",
            ),
            {"type": "string"},
        ),
        _query(
            "crs",
            Text(
                "hệ tọa độ của các tọa độ trả về (mặc định CRS84)",
                "CRS of the returned coordinates (default CRS84)",
            ),
            crs,
        ),
        _query(
            "filter",
            Text("bộ lọc CQL2, viết theo filter-lang", "CQL2 filter, in filter-lang"),
            {"type": "string"},
        ),
        _query(
            "filter-lang",
            Text("ngôn ngữ viết filter", "language of filter"),
            {
                "type": "string",
                "enum": ["cql2-text", "cql2-json"],
                "default": "cql2-text",
            },
        ),
        _query(
            "filter-crs",
            Text(
                "hệ tọa độ của các hình học trong bộ lọc (mặc định CRS84)",
                "CRS of the filter's geometries (default CRS84)",
            ),
            crs,
        ),
        _list_param(
            "sortby",
            Text(
                "các thuộc tính để sắp xếp; dấu '-' trước tên để sắp xếp giảm dần",
                "properties to sort by; '-' before a name sorts descending",
            ),
            sort_keys,
        ),
        _list_param("properties", Text("các thuộc tính cần trả về", "properties to return"), names),
        _format_param(geojson=True),
        _lang_param(),
    ]
    if collection is not None:
        for prop in collection.props:
            if prop.type in {"object", "array"} or prop.name in _NOT_FILTERS:
                continue
            schema = {k: v for k, v in prop.json_schema().items() if k != "readOnly"}
            parameters.append(_query(prop.name, _EQUALS.format(name=prop.name), schema))
    return parameters


def _feature_id() -> dict[str, Any]:
    return _path_param(
        "featureId",
        Text("mã số đối tượng", "a feature id"),
        {"type": "integer", "minimum": 1, "maximum": _MAX_ID},
    )


def _collection_id(collection_ids: Sequence[str]) -> dict[str, Any]:
    # The served ids when the document was built; reference layers come and go.
    return _path_param(
        "collectionId",
        Text("mã bộ dữ liệu", "a collection id"),
        {"type": "string", "enum": list(collection_ids)},
    )


def _write_headers(crs_uris: Sequence[str], *, if_match: bool) -> list[dict[str, Any]]:
    content_crs = {"type": "string", "enum": [f"<{uri}>" for uri in crs_uris]}
    headers = [
        _header_param(
            "Content-Crs",
            Text(
                "hệ tọa độ của các tọa độ trong nội dung gửi lên (mặc định CRS84)",
                "CRS of the body's coordinates (default CRS84)",
            ),
            content_crs,
        )
    ]
    if if_match:
        headers.append(
            _header_param(
                "If-Match",
                Text(
                    "ETag của phiên bản mà thay đổi dựa vào; ETag đã cũ được trả lời 412",
                    "the ETag the change is based on; a stale one is answered with 412",
                ),
                {"type": "string"},
            )
        )
        headers.append(
            _header_param(
                "If-None-Match",
                Text(
                    "các ETag (hoặc *) mà đối tượng không được có; nếu có, trả lời 412",
                    "ETags (or *) the feature must not have; when it has one, 412",
                ),
                {"type": "string"},
            )
        )
    return headers


def _overlap_param() -> dict[str, Any]:
    return _query(
        "allow-exclusion-overlap",
        Text("vẫn lưu vùng chồng lấn vùng cấm", "save a zone that overlaps exclusion areas"),
        {"type": "boolean", "default": False},
    )


# -- responses ----------------------------------------------------------------------------------
def _content(*media: tuple[str, dict[str, Any] | None]) -> dict[str, Any]:
    return {kind: ({"schema": schema} if schema else {}) for kind, schema in media}


def _ok(
    description: str, *media: tuple[str, dict[str, Any] | None], **headers: Any
) -> dict[str, Any]:
    response: dict[str, Any] = {"description": description, "content": _content(*media)}
    if headers:
        response["headers"] = headers
    return response


def _errors(*statuses: int) -> dict[str, Any]:
    # Every answer can be a 429 (rate limit) or a 503 (database down), and every resource
    # checks its query string (400).
    chosen = sorted({400, 429, 503, *statuses})
    return {str(s): _ref("responses", str(s)) for s in chosen}


_ERROR_STATUSES = (400, 401, 403, 404, 409, 412, 413, 429, 503)


def _error_responses() -> dict[str, Any]:
    retry = {"Retry-After": _header("seconds to wait before trying again")}
    found: dict[str, Any] = {}
    for status in _ERROR_STATUSES:
        headers = None
        if status == 401:
            headers = {"WWW-Authenticate": _header("how to authenticate", required=True)}
        elif status in {429, 503}:
            headers = retry
        found[str(status)] = _problem_response(status, headers=headers)
    return found


def _html_or(media: str, schema: dict[str, Any] | None) -> tuple[tuple[str, Any], ...]:
    return ((media, schema), (HTML, {"type": "string"}))


def _feature_headers() -> dict[str, Any]:
    return {
        "ETag": _header("version of the feature, for If-Match and If-None-Match", required=True),
        "Content-Crs": _header("CRS of the coordinates, as <URI>", required=True),
    }


def _feature_ok(feature: dict[str, Any], description: str = "the feature") -> dict[str, Any]:
    return _ok(description, *_html_or(GEOJSON, feature), **_feature_headers())


def _written(feature: dict[str, Any], status: int) -> dict[str, Any]:
    if status == 201:
        headers = {
            **_feature_headers(),
            "Location": _header("URL of the new feature", required=True),
        }
        return _ok("created", (GEOJSON, feature), **headers)
    return _ok("the feature as stored", (GEOJSON, feature), **_feature_headers())


def _not_modified() -> dict[str, Any]:
    return {"description": "not modified (If-None-Match)"}


# Every operation FastAPI lists, keyed by (method, path): its extra parameters and responses.
# Kept here rather than in each route's decorator so that one place says what /api promises.
def _operations(
    crs_uris: Sequence[str], collection_ids: Sequence[str]
) -> dict[tuple[str, str], dict[str, Any]]:
    f_lang = [_format_param(), _lang_param()]
    tile_path = [
        _path_param(
            "tileMatrix",
            Text("mức thu phóng", "zoom level"),
            {"type": "integer", "minimum": 0, "maximum": MAX_ZOOM},
        ),
        _path_param(
            "tileRow",
            Text("hàng trong lưới ô", "row in the matrix"),
            {"type": "integer", "minimum": 0},
        ),
        _path_param(
            "tileCol",
            Text("cột trong lưới ô", "column in the matrix"),
            {"type": "integer", "minimum": 0},
        ),
    ]
    tile_query = [
        _query(
            "properties",
            Text("các thuộc tính đưa vào ô bản đồ", "properties to put in the tile"),
            {"type": "string"},
        ),
        _header_param(
            "If-None-Match",
            Text("ETag của ô bản đồ đang giữ", "ETag of a tile held"),
            {"type": "string"},
        ),
    ]
    tile_responses = {
        "200": _ok(
            "a Mapbox vector tile",
            (MVT, {"type": "string", "format": "binary"}),
            ETag=_header("version of the tile", required=True),
            **{"Cache-Control": _header("how long the tile may be kept", required=True)},
        ),
        "204": {"description": "empty tile"},
        "304": _not_modified(),
    }
    feature = _ref("schemas", "Feature")
    collection_path = [_collection_id(collection_ids)]
    item_path = [*collection_path, _feature_id()]
    items_doc = {
        "parameters": [*collection_path, *items_parameters(crs_uris)],
        "responses": {
            "200": _ok(
                "a page of features",
                *_html_or(GEOJSON, _ref("schemas", "FeatureCollection")),
                *_files(),
                **{"Content-Crs": _header("CRS of the coordinates (JSON and files)")},
            ),
            **_errors(404),
        },
    }
    return {
        ("get", "/"): {
            "parameters": f_lang,
            "responses": {
                "200": _ok("landing page", *_html_or(JSON, _ref("schemas", "LandingPage"))),
                **_errors(),
            },
        },
        ("get", "/conformance"): {
            "parameters": f_lang,
            "responses": {
                "200": _ok("conformance classes", *_html_or(JSON, _ref("schemas", "Conformance"))),
                **_errors(),
            },
        },
        ("get", "/collections"): {
            "parameters": f_lang,
            "responses": {
                "200": _ok("collections", *_html_or(JSON, _ref("schemas", "Collections"))),
                **_errors(),
            },
        },
        ("get", "/collections/{collectionId}"): {
            "parameters": [*collection_path, *f_lang],
            "responses": {
                "200": _ok("a collection", *_html_or(JSON, _ref("schemas", "Collection"))),
                **_errors(404),
            },
        },
        ("get", "/collections/{collectionId}/queryables"): {
            "parameters": [*collection_path, *f_lang],
            "responses": {
                "200": _ok("queryables", *_html_or(SCHEMA_JSON, _ref("schemas", "JsonSchema"))),
                **_errors(404),
            },
        },
        ("get", "/collections/{collectionId}/schema"): {
            "parameters": [*collection_path, *f_lang],
            "responses": {
                "200": _ok("feature schema", *_html_or(SCHEMA_JSON, _ref("schemas", "JsonSchema"))),
                **_errors(404),
            },
        },
        ("get", "/collections/{collectionId}/items"): items_doc,
        ("post", "/collections/{collectionId}/items"): {
            "parameters": [
                *collection_path,
                _overlap_param(),
                *_write_headers(crs_uris, if_match=False),
            ],
            "requestBody": {
                "required": True,
                "content": {JSON: {"schema": feature}, GEOJSON: {"schema": feature}},
            },
            "responses": {"201": _written(feature, 201), **_errors(401, 403, 404, 409, 413)},
            "security": _WRITE_SECURITY,
        },
        ("get", "/collections/{collectionId}/export"): {
            "parameters": [
                *collection_path,
                *items_parameters(crs_uris, paged=False)[:-2],
                _export_format_param(),
            ],
            "responses": {
                "200": _ok(
                    "every matching feature",
                    (GEOJSON, _ref("schemas", "FeatureCollection")),
                    *_files(),
                    **{"Content-Crs": _header("CRS of the coordinates", required=True)},
                ),
                **_errors(404),
            },
        },
        ("get", "/collections/{collectionId}/items/{featureId}"): {
            "parameters": [
                *item_path,
                _query(
                    "crs",
                    Text(
                        "hệ tọa độ của các tọa độ trả về (mặc định CRS84)",
                        "CRS of the returned coordinates (default CRS84)",
                    ),
                    _crs_schema(crs_uris),
                ),
                *f_lang,
                _header_param(
                    "If-None-Match",
                    Text("ETag của phiên bản đang giữ", "ETag of a version held"),
                    {"type": "string"},
                ),
            ],
            "responses": {"200": _feature_ok(feature), "304": _not_modified(), **_errors(404)},
        },
        ("put", "/collections/{collectionId}/items/{featureId}"): {
            "parameters": [*item_path, _overlap_param(), *_write_headers(crs_uris, if_match=True)],
            "requestBody": {
                "required": True,
                "content": {JSON: {"schema": feature}, GEOJSON: {"schema": feature}},
            },
            "responses": {"200": _written(feature, 200), **_errors(401, 403, 404, 409, 412, 413)},
            "security": _WRITE_SECURITY,
        },
        ("patch", "/collections/{collectionId}/items/{featureId}"): {
            "parameters": [*item_path, _overlap_param(), *_write_headers(crs_uris, if_match=True)],
            "requestBody": {
                "required": True,
                "content": {
                    "application/merge-patch+json": {"schema": {"type": "object"}},
                    JSON: {"schema": {"type": "object"}},
                },
            },
            "responses": {"200": _written(feature, 200), **_errors(401, 403, 404, 409, 412, 413)},
            "security": _WRITE_SECURITY,
        },
        ("delete", "/collections/{collectionId}/items/{featureId}"): {
            "parameters": [
                *item_path,
                _header_param(
                    "If-Match",
                    Text(
                        "ETag của phiên bản mà lệnh xóa dựa vào", "the ETag the delete is based on"
                    ),
                    {"type": "string"},
                ),
            ],
            "responses": {
                "204": {"description": "deleted (kept in the history)"},
                **_errors(401, 403, 404, 409, 412),
            },
            "security": _WRITE_SECURITY,
        },
        ("get", "/collections/{collectionId}/items/{featureId}/history"): {
            "parameters": [*item_path, *f_lang],
            "responses": {
                "200": _ok("every recorded version", *_html_or(JSON, _ref("schemas", "History"))),
                **_errors(404),
            },
        },
        ("post", "/collections/{collectionId}/items/{featureId}/history/{historyId}/restore"): {
            "parameters": [
                *item_path,
                _path_param(
                    "historyId",
                    Text("mã số mục lịch sử", "a history entry id"),
                    {"type": "integer", "minimum": 1, "maximum": 2**63 - 1},
                ),
            ],
            "responses": {"200": _written(feature, 200), **_errors(401, 403, 404, 409)},
            "security": _WRITE_SECURITY,
        },
        (
            "get",
            "/collections/{collectionId}/tiles/WebMercatorQuad/{tileMatrix}/{tileRow}/{tileCol}",
        ): {
            "parameters": [*collection_path, *tile_path, *tile_query],
            "responses": {**tile_responses, **_errors(404)},
        },
        ("get", "/tiles/WebMercatorQuad/{tileMatrix}/{tileRow}/{tileCol}"): {
            "parameters": [*tile_path, *tile_query],
            # 404: a row or column outside the matrix (OGC API – Tiles /req/core/tc-error).
            "responses": {**tile_responses, **_errors(404)},
        },
        ("get", "/collections/{collectionId}/tiles"): {
            "parameters": collection_path,
            "responses": {
                "200": _ok("tilesets", (JSON, _ref("schemas", "Tilesets"))),
                **_errors(404),
            },
        },
        ("get", "/collections/{collectionId}/tiles/WebMercatorQuad"): {
            "parameters": collection_path,
            "responses": {
                "200": _ok("tileset", (JSON, _ref("schemas", "Tileset"))),
                **_errors(404),
            },
        },
        ("get", "/collections/{collectionId}/tiles/WebMercatorQuad/tilejson.json"): {
            "parameters": collection_path,
            "responses": {
                "200": _ok("TileJSON 3", (JSON, _ref("schemas", "TileJSON"))),
                **_errors(404),
            },
        },
        ("get", "/tiles"): {
            "parameters": [],
            "responses": {"200": _ok("tilesets", (JSON, _ref("schemas", "Tilesets"))), **_errors()},
        },
        # (tiles, issue 10) the combined tileset's document, which /tiles links as `self`.
        ("get", "/tiles/WebMercatorQuad"): {
            "parameters": [],
            "responses": {"200": _ok("tileset", (JSON, _ref("schemas", "Tileset"))), **_errors()},
        },
        ("get", "/tiles/WebMercatorQuad/tilejson.json"): {
            "parameters": [],
            "responses": {
                "200": _ok("TileJSON 3", (JSON, _ref("schemas", "TileJSON"))),
                **_errors(),
            },
        },
        ("get", "/tileMatrixSets"): {
            "parameters": [],
            "responses": {
                "200": _ok(
                    "tiling schemes", (JSON, {"type": "object", "required": ["tileMatrixSets"]})
                ),
                **_errors(),
            },
        },
        ("get", "/tileMatrixSets/WebMercatorQuad"): {
            "parameters": [],
            "responses": {
                "200": _ok("tile matrix set", (JSON, {"type": "object", "required": ["id"]})),
                **_errors(),
            },
        },
        ("get", "/api"): {
            "parameters": f_lang,
            "responses": {
                "200": _ok("this document", *_html_or(OPENAPI_30, _ref("schemas", "OpenAPI"))),
                **_errors(),
            },
        },
        ("get", "/health"): {
            "parameters": [],
            "responses": {
                "200": _ok(
                    "the process is up",
                    (
                        JSON,
                        {
                            "type": "object",
                            "required": ["status"],
                            "properties": {"status": {"type": "string", "enum": ["ok"]}},
                        },
                    ),
                ),
                "429": _ref("responses", "429"),
            },
        },
        ("get", "/ready"): {
            "parameters": [],
            "responses": {
                "200": _ok(
                    "the database is reachable and migrated",
                    (JSON, {"type": "object", "required": ["status"]}),
                ),
                "429": _ref("responses", "429"),
                "503": _ref("responses", "503"),
            },
        },
        ("get", "/maps"): {
            "parameters": [_lang_param()],
            "responses": {"200": _ok("map page", (HTML, {"type": "string"})), **_errors()},
        },
        ("get", "/maps/routes/{routeId}"): {
            "parameters": [
                _path_param(
                    "routeId",
                    Text("mã số tuyến", "a route id"),
                    {"type": "integer", "minimum": 1, "maximum": _MAX_ID},
                ),
                _lang_param(),
            ],
            "responses": {"200": _ok("map page", (HTML, {"type": "string"})), **_errors(404)},
        },
        ("get", "/maps/edit"): {
            "parameters": [
                _lang_param(),
                _query(
                    "role",
                    Text("chế độ soạn thảo (quy hoạch hoặc du lịch)", "which editor preset"),
                    {"type": "string", "enum": ["planner", "tourism"]},
                ),
            ],
            "responses": {"200": _ok("editor page", (HTML, {"type": "string"})), **_errors()},
        },
    }


# -- one items path per collection ----------------------------------------------------------------
def _response_property(collection: Collection, prop: Prop) -> dict[str, Any]:
    if collection.is_reference_layer and not prop.read_only:
        # Any JSON value may be stored under any key of a reference feature: the type the
        # layer's first feature shows need not hold for the others.
        return {"title": prop.name, "nullable": True}
    # Served values may be null unless the column is required; read-only ones are served too.
    schema = {"title": prop.name, **prop.json_schema()}
    schema.pop("readOnly", None)
    if not prop.required:
        schema["nullable"] = True
    return schema


def _write_property(prop: Prop) -> dict[str, Any]:
    schema = {"title": prop.name, **prop.json_schema()}
    if not prop.required:
        # null clears an optional property (and deletes it in a merge patch); OpenAPI 3.0.3
        # wants null in the enum too.
        schema["nullable"] = True
        if "enum" in schema:
            schema["enum"] = [*schema["enum"], None]
    return schema


def feature_schema(collection: Collection, *, for_write: bool = False) -> dict[str, Any]:
    """The GeoJSON Feature of a collection, as served or as a create/replace body."""
    properties: dict[str, Any]
    if for_write:
        properties = {
            "type": "object",
            "properties": {p.name: _write_property(p) for p in collection.props},
            "required": [p.name for p in collection.props if p.required],
        }
        if not collection.is_reference_layer:
            properties["additionalProperties"] = False
        if not properties["required"]:
            properties.pop("required")
        # Routes may come without a line (drawn from their stops), admin units without a
        # boundary: the catalog says which (geometry_required), as /schema does.
        geometry = _geometry(
            collection.accepted_geometries, nullable=not collection.geometry_required
        )
    else:
        properties = {
            "type": "object",
            "properties": {p.name: _response_property(collection, p) for p in collection.props},
        }
        geometry = _geometry(
            [collection.geometry_type] if collection.geometry_type in _GEOMETRY_TYPES else [],
            nullable=True,
        )
    schema: dict[str, Any] = {
        "type": "object",
        "required": ["type", "geometry", "properties"],
        "properties": {
            "type": {"type": "string", "enum": ["Feature"]},
            "geometry": geometry,
            "properties": properties,
        },
    }
    if for_write:
        schema["required"] = ["type", "geometry"] + (
            ["properties"] if "required" in properties else []
        )
    else:
        schema["properties"]["id"] = {"type": "integer"}
        schema["properties"]["links"] = {"type": "array", "items": _ref("schemas", "Link")}
    return schema


# A spot in Thanh Hóa (the demo province), for the example bodies: a reader can send one
# as it is and see it created.
_EXAMPLE_LON, _EXAMPLE_LAT = 105.7, 19.8
_EXAMPLE_GEOMETRIES: dict[str, dict[str, Any]] = {
    "Point": {"type": "Point", "coordinates": [_EXAMPLE_LON, _EXAMPLE_LAT]},
    "LineString": {
        "type": "LineString",
        "coordinates": [[_EXAMPLE_LON, _EXAMPLE_LAT], [_EXAMPLE_LON + 0.01, _EXAMPLE_LAT]],
    },
    "Polygon": {
        "type": "Polygon",
        "coordinates": [
            [
                [_EXAMPLE_LON, _EXAMPLE_LAT],
                [_EXAMPLE_LON + 0.01, _EXAMPLE_LAT],
                [_EXAMPLE_LON + 0.01, _EXAMPLE_LAT + 0.01],
                [_EXAMPLE_LON, _EXAMPLE_LAT + 0.01],
                [_EXAMPLE_LON, _EXAMPLE_LAT],
            ]
        ],
    },
}


def _example_value(prop: Prop) -> Any:
    if prop.enum:
        return prop.enum[0]
    if prop.type in {"integer", "number"}:
        return int(prop.minimum) if prop.minimum is not None else 1
    if prop.type == "boolean":
        return False
    if prop.type == "date":
        return "2025-01-01"
    if prop.type == "datetime":
        return "2025-01-01T00:00:00Z"
    if prop.type == "array":
        return []
    if prop.type == "object":
        return {}
    return f"example {prop.name}"[: prop.max_length or None]


# (route_id, seq) is unique: the example stop comes after the stops a route has.
_EXAMPLE_VALUES = {("route-stops", "seq"): 99}


def example_feature(collection: Collection) -> dict[str, Any]:
    """A Feature a create request may send: the required properties, a small geometry."""
    kinds = sorted(collection.accepted_geometries)
    geometry = next(
        (_EXAMPLE_GEOMETRIES[k] for k in ("Point", "Polygon", "LineString") if k in kinds),
        None,
    )
    # A stop needs a village or a name (a database check): the name serves every collection.
    properties = {
        p.name: _EXAMPLE_VALUES.get((collection.id, p.name), _example_value(p))
        for p in collection.props
        if p.required or p.name == "name"
    }
    return {"type": "Feature", "geometry": geometry, "properties": properties}


def merge_patch_schema(collection: Collection) -> dict[str, Any]:
    """An RFC 7396 merge patch of a collection's Feature: any part, null deletes."""
    properties: dict[str, Any] = {
        "type": "object",
        "properties": {p.name: _write_property(p) for p in collection.props},
    }
    if not collection.is_reference_layer:
        properties["additionalProperties"] = False
    return {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "type": {"type": "string", "enum": ["Feature"]},
            "geometry": _geometry(
                collection.accepted_geometries, nullable=not collection.geometry_required
            ),
            "properties": properties,
        },
    }


def _schema_name(collection: Collection) -> str:
    return "".join(part.capitalize() for part in collection.id.replace("_", "-").split("-"))


def _add_collection_paths(
    document: dict[str, Any], collections: Sequence[Collection], crs_uris: Sequence[str]
) -> None:
    """``/collections/<id>/items`` and ``…/items/{featureId}`` with the collection's schemas.

    GDAL reads the queryables listed as parameters to send property filters to the server.
    """
    operations = _operations(crs_uris, [c.id for c in collections])
    schemas = document["components"]["schemas"]
    paths = document["paths"]
    for collection in collections:
        name = _schema_name(collection)
        safe_id = "".join(c if c.isalnum() else "_" for c in collection.id)
        schemas[f"{name}Feature"] = feature_schema(collection)
        schemas[f"{name}FeatureCollection"] = _feature_collection(_ref("schemas", f"{name}Feature"))
        schemas[f"{name}FeatureInput"] = feature_schema(collection, for_write=True)
        schemas[f"{name}FeaturePatch"] = merge_patch_schema(collection)
        served = _ref("schemas", f"{name}Feature")
        body = _ref("schemas", f"{name}FeatureInput")
        example = example_feature(collection)
        patch_body = _ref("schemas", f"{name}FeaturePatch")
        overlap = [_overlap_param()] if collection.id == "material-zones" else []

        def specific(method: str, generic_path: str, **changes: Any) -> dict[str, Any]:
            operation: dict[str, Any] = copy.deepcopy(document["paths"][generic_path][method])
            operation["parameters"] = [
                p for p in operation["parameters"] if p.get("name") != "collectionId"
            ]
            operation.update(changes)
            return operation

        items = "/collections/{collectionId}/items"
        item = "/collections/{collectionId}/items/{featureId}"
        errors_write = _errors(401, 403, 409, 413)
        paths[f"/collections/{collection.id}/items"] = {
            "get": specific(
                "get",
                items,
                operationId=f"get_items_{safe_id}",
                summary=f"Features of {collection.id}",
                parameters=items_parameters(crs_uris, collection),
                responses={
                    **operations[("get", items)]["responses"],
                    "200": _ok(
                        "a page of features",
                        *_html_or(GEOJSON, _ref("schemas", f"{name}FeatureCollection")),
                        *_files(),
                        **{"Content-Crs": _header("CRS of the coordinates (JSON and files)")},
                    ),
                    **_errors(),
                },
            ),
            "post": specific(
                "post",
                items,
                operationId=f"create_item_{safe_id}",
                summary=f"Create a feature in {collection.id}",
                parameters=[*overlap, *_write_headers(crs_uris, if_match=False)],
                requestBody={
                    "required": True,
                    "content": {
                        JSON: {"schema": body, "example": example},
                        GEOJSON: {"schema": body, "example": example},
                    },
                },
                responses={"201": _written(served, 201), **errors_write},
            ),
        }
        item_id = [_feature_id()]
        paths[f"/collections/{collection.id}/items/{{featureId}}"] = {
            "get": specific(
                "get",
                item,
                operationId=f"get_item_{safe_id}",
                summary=f"A feature of {collection.id}",
                responses={"200": _feature_ok(served), "304": _not_modified(), **_errors(404)},
            ),
            "put": specific(
                "put",
                item,
                operationId=f"replace_item_{safe_id}",
                summary=f"Replace a feature of {collection.id}",
                parameters=[*item_id, *overlap, *_write_headers(crs_uris, if_match=True)],
                requestBody={
                    "required": True,
                    "content": {JSON: {"schema": body}, GEOJSON: {"schema": body}},
                },
                responses={"200": _written(served, 200), **_errors(401, 403, 404, 409, 412, 413)},
            ),
            "patch": specific(
                "patch",
                item,
                operationId=f"update_item_{safe_id}",
                summary=f"Update a feature of {collection.id}",
                parameters=[*item_id, *overlap, *_write_headers(crs_uris, if_match=True)],
                requestBody={
                    "required": True,
                    "content": {
                        "application/merge-patch+json": {"schema": patch_body},
                        JSON: {"schema": patch_body},
                    },
                },
                responses={"200": _written(served, 200), **_errors(401, 403, 404, 409, 412, 413)},
            ),
            "delete": specific(
                "delete",
                item,
                operationId=f"delete_item_{safe_id}",
                summary=f"Delete a feature of {collection.id}",
            ),
        }


# Routes FastAPI documents from their signatures (the multipart upload of imports), with
# the key they need and the statuses craftmap adds.
_EXTRA_STATUSES: dict[tuple[str, str], tuple[int, ...]] = {
    ("post", "/imports"): (401, 403, 413),
    ("get", "/imports/{jobId}"): (401, 403, 404),
    ("get", "/imports/{jobId}/report"): (401, 403, 404),
    ("put", "/figures/villages/{code}/{material}/{year}"): (401, 403, 404, 412, 413),
    ("put", "/figures/zones/{code}/{year}"): (401, 403, 404, 412, 413),
    ("delete", "/figures/villages/{code}/{material}/{year}"): (401, 403, 404, 412),
    ("delete", "/figures/zones/{code}/{year}"): (401, 403, 404, 412),
    ("post", "/routes/{routeId}/design"): (401, 403, 404, 412, 413),
    # (facts, issue 16) a village's yearly programme figures: admin key
    ("put", "/collections/villages/items/{featureId}/stats/{year}"): (401, 403, 404, 412, 413),
    ("delete", "/collections/villages/items/{featureId}/stats/{year}"): (401, 403, 404, 412),
    ("post", "/collections/villages/stats:import"): (401, 403, 413),
}
# Routes that need no key but answer statuses FastAPI does not know (the route designer).
_OPEN_STATUSES: dict[tuple[str, str], tuple[int, ...]] = {
    ("get", "/routes/{routeId}/design"): (404,),
    ("post", "/routes/design/preview"): (413,),
    ("get", "/collections/villages/items/{featureId}/stats"): (404,),
}


def describe(
    document: dict[str, Any], collections: Sequence[Collection], crs_uris: Sequence[str]
) -> dict[str, Any]:
    """The 3.0 document completed with what craftmap answers, and a path set per collection."""
    described = copy.deepcopy(document)
    components = described.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    # craftmap answers invalid requests with 400 problem details, never FastAPI's 422.
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    extra = _components()
    schemas.update(extra["schemas"])
    components["securitySchemes"] = extra["securitySchemes"]
    components["responses"] = _error_responses()
    known = _operations(crs_uris, [c.id for c in collections])
    for path, path_item in described["paths"].items():
        for method, operation in path_item.items():
            doc = known.get((method, path))
            if doc is not None:
                operation.pop("requestBody", None)
                operation.update(copy.deepcopy(doc))
            else:
                # A route not described above still answers errors the craftmap way.
                responses = operation.setdefault("responses", {})
                responses.pop("422", None)
                responses.update(
                    _errors(
                        *_EXTRA_STATUSES.get((method, path), ()),
                        *_OPEN_STATUSES.get((method, path), ()),
                    )
                )
                if (method, path) in _EXTRA_STATUSES:
                    operation["security"] = _WRITE_SECURITY
    _add_collection_paths(described, collections, crs_uris)
    return described
