"""The app's route table, for tests generated from it (so a new route cannot be forgotten)."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from starlette.routing import Mount


def route_table(app: FastAPI) -> dict[str, set[str]]:
    """Each path of the app's routes with the methods its routes declare (mounts left out)."""
    table: dict[str, set[str]] = {}
    for route in iter_route_contexts(app.router.routes):
        if isinstance(route.original_route, Mount):
            continue
        table.setdefault(route.path_format, set()).update(route.methods or ())
    return table
