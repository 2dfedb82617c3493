"""OpenAPI 3.0 for ``/api``: OGC API – Features asks for 3.0, FastAPI writes 3.1.

The conversion covers what FastAPI and Pydantic emit: ``anyOf`` with ``null`` becomes
``nullable``, ``const`` becomes a one-value ``enum``, ``examples`` becomes ``example``,
numeric ``exclusiveMinimum``/``exclusiveMaximum`` become the 3.0 boolean form, and the
JSON Schema keywords 3.0 lacks are dropped.
"""

from __future__ import annotations

import copy
from typing import Any

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
