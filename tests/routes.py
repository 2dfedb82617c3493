"""The app's route table, for tests generated from it (so a new route cannot be forgotten)."""

from __future__ import annotations

import re
from collections.abc import Mapping

from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from starlette.routing import Mount

# Values for the path parameters that are no ids (tile 8/113/203 holds Thanh Hóa's
# villages, zones and routes); tests add the ids of features they make (factories.path_ids).
# An import job that does not exist: its routes answer 401 without a key, 404 with one.
PATH_VALUES = {
    "collectionId": "villages",
    "tileMatrix": "8",
    "tileRow": "113",
    "tileCol": "203",
    "jobId": "1",
    "code": "TH-V-005",  # figures: a demo village (a zone code answers 404 on village routes)
    "material": "sedge",
    "year": "2025",
    "indicator": "share_env_plan",  # (dash, issue 16) an indicator of the demo's plan
}


def route_table(app: FastAPI) -> dict[str, set[str]]:
    """Each path of the app's routes with the methods its routes declare (mounts left out)."""
    table: dict[str, set[str]] = {}
    for route in iter_route_contexts(app.router.routes):
        if isinstance(route.original_route, Mount):
            continue
        table.setdefault(route.path_format, set()).update(route.methods or ())
    return table


def concrete(path_format: str, values: Mapping[str, str]) -> str:
    """``path_format`` (``/a/{b}`` or ``/a/{b:path}``) with its parameters from ``values``."""
    return re.sub(r"\{(\w+)(?::\w+)?\}", lambda m: values[m[1]], path_format)
