"""Per-collection write behaviour lives in geo/store/hooks.py, not in branches of writes.py."""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Connection

import geo.store.writes
from geo.kernel import collections as collection_ids
from geo.kernel.crs import CRS84
from geo.kernel.errors import InvalidInput
from geo.store import catalog, hooks, writes

_COLLECTION_NAMES = {
    name for name in vars(collection_ids) if name.isupper() and not name.startswith("_")
}


def _collection_branches(source: str) -> list[str]:
    """Every place in ``source`` that picks behaviour by which collection is written."""
    found: list[str] = []
    for node in ast.walk(ast.parse(source)):
        where = f"line {getattr(node, 'lineno', '?')}: {ast.unparse(node)[:80]}"
        if isinstance(node, ast.ImportFrom) and node.module == "geo.kernel":
            if any(alias.name == "collections" for alias in node.names):
                found.append(where)
        elif isinstance(node, ast.ImportFrom) and node.module == "geo.kernel.collections":
            found.append(where)
        elif isinstance(node, ast.Attribute) and node.attr in {"is_reference_layer", "layer_id"}:
            found.append(where)
        elif isinstance(node, ast.Compare):
            for operand in (node.left, *node.comparators):
                named = operand.attr if isinstance(operand, ast.Attribute) else None
                named = operand.id if isinstance(operand, ast.Name) else named
                is_collection_id = (
                    isinstance(operand, ast.Attribute)
                    and operand.attr == "id"
                    and isinstance(operand.value, ast.Name)
                    and operand.value.id == "collection"
                )
                if is_collection_id or named in _COLLECTION_NAMES:
                    found.append(where)
    return found


@pytest.mark.parametrize(
    "branch",
    [
        "if collection.id == layers.ROUTES:\n    pass",
        "if collection.id in (a, b):\n    pass",
        "if info is ROUTE_STOPS:\n    pass",
        "if collection.is_reference_layer:\n    pass",
        "values['layer_id'] = collection.layer_id",
        "from geo.kernel import collections as layers",
    ],
)
def test_the_inspection_sees_a_collection_branch(branch: str) -> None:
    assert _collection_branches(branch)


def test_the_generic_write_path_has_no_collection_branch() -> None:
    source = Path(geo.store.writes.__file__).read_text(encoding="utf-8")
    assert _collection_branches(source) == []


def test_every_core_collection_and_reference_layers_have_hooks() -> None:
    assert set(hooks.HOOKS) == {c.id for c in catalog.CORE}
    reference = dataclasses.replace(catalog.ADMIN_UNITS, id="roads", layer_id=1)
    assert isinstance(hooks.hooks_for(reference), hooks.ReferenceLayerHooks)
    unknown = dataclasses.replace(catalog.ADMIN_UNITS, id="not-registered")
    assert type(hooks.hooks_for(unknown)) is hooks.WriteHooks


class _Recorder(hooks.WriteHooks):
    """Hooks of a throwaway collection: record each call; refuse a unit named 'refused'."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, int | None]] = []

    def check(self, conn: Connection, write: hooks.Write) -> None:
        self.calls.append(("check", write.kind, write.feature_id))
        if write.values.get("name") == "refused":
            raise InvalidInput("test-rule: refused by the collection's own hook")

    def before_write(self, conn: Connection, write: hooks.Write) -> None:
        self.calls.append(("before_write", write.kind, write.feature_id))
        write.memo["seen"] = True
        if write.kind != "delete":
            write.values["source"] = "set by before_write"

    def after_write(self, conn: Connection, write: hooks.Write) -> None:
        assert write.memo.get("seen") or write.kind == "restore"
        self.calls.append(("after_write", write.kind, write.feature_id))


def _unit(name: str) -> dict[str, object]:
    properties = {"code": "T-HOOK", "scheme": "test", "name": name, "level": "commune"}
    return {"type": "Feature", "geometry": None, "properties": properties}


def test_a_new_collection_gets_its_behaviour_from_registered_hooks(
    connection: Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A collection the write path has never heard of, over the admin_unit table.
    collection = dataclasses.replace(catalog.ADMIN_UNITS, id="test-hooked-units")
    recorder = _Recorder()
    monkeypatch.setitem(hooks.HOOKS, collection.id, recorder)
    options = writes.WriteOptions(actor="test:hooks", content_crs=CRS84)
    table = collection.table

    written = writes.create(connection, collection, _unit("Xã Thử"), options)
    stored = connection.execute(
        sa.select(table.c.name, table.c.source).where(table.c.id == written.id)
    ).one()
    assert tuple(stored) == ("Xã Thử", "set by before_write")

    writes.patch(connection, collection, written.id, {"properties": {"name": "Xã Mới"}}, options)
    history = writes.history(connection, collection, written.id)
    writes.delete(connection, collection, written.id, options)
    writes.restore(connection, collection, written.id, history[0]["history_id"], actor="test:hooks")
    assert recorder.calls == [
        ("check", "create", None),
        ("before_write", "create", None),
        ("after_write", "create", written.id),
        ("check", "update", written.id),
        ("before_write", "update", written.id),
        ("after_write", "update", written.id),
        ("before_write", "delete", written.id),
        ("after_write", "delete", written.id),
        ("after_write", "restore", written.id),
    ]

    # The hook's rule refuses before anything is written.
    recorder.calls.clear()
    with pytest.raises(InvalidInput, match="test-rule"):
        writes.patch(
            connection, collection, written.id, {"properties": {"name": "refused"}}, options
        )
    assert recorder.calls == [("check", "update", written.id)]
    name = connection.execute(sa.select(table.c.name).where(table.c.id == written.id)).scalar()
    assert name == "Xã Thử"
