"""Column mappings: which source field fills which craftmap field, and value maps.

A mapping is given inline (``--map src=dst``, ``--values field:src=code``), from a JSON
file, or by the name it was saved under (table ``import_mapping``).
"""

from __future__ import annotations

import json
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.engine import Connection

from geo.kernel.errors import InvalidInput, NotFound
from geo.store import models

_TABLE = models.table_of(models.ImportMapping)

# Obvious Vietnamese (and common GIS) names of craftmap fields; used only when the file has
# no column of the craftmap name itself, and always stated in the report.
ALIASES: dict[str, str] = {
    "ten": "name",
    "tên": "name",
    "ten_lang": "name",
    "tên_làng": "name",
    "ma": "code",
    "mã": "code",
    "ma_lang": "code",
    "mã_làng": "code",
    "ma_vung": "code",
    "kinh_do": "lon",
    "kinh độ": "lon",
    "kinhdo": "lon",
    "vi_do": "lat",
    "vĩ độ": "lat",
    "vido": "lat",
    "longitude": "lon",
    "lng": "lon",
    "long": "lon",
    "latitude": "lat",
    "easting": "x",
    "east": "x",
    "northing": "y",
    "north": "y",
}


def fold(value: str) -> str:
    """NFC, trimmed and case-folded: how source values and names are compared."""
    return unicodedata.normalize("NFC", value).strip().casefold()


@dataclass
class ColumnMapping:
    """Source field → craftmap field, and per craftmap field a map of source values to codes."""

    fields: dict[str, str] = field(default_factory=dict)
    values: dict[str, dict[str, str]] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        """The mapping as stored and reported."""
        return {"fields": dict(self.fields), "values": {k: dict(v) for k, v in self.values.items()}}

    @classmethod
    def from_json(cls, data: Any) -> ColumnMapping:
        """A mapping from its JSON form (``{"fields": {...}, "values": {...}}``)."""
        if not isinstance(data, dict):
            raise InvalidInput('a mapping is a JSON object: {"fields": {...}, "values": {...}}')
        fields = data.get("fields", {})
        values = data.get("values", {})
        if not isinstance(fields, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in fields.items()
        ):
            raise InvalidInput('a mapping\'s "fields" maps source names to craftmap names')
        if not isinstance(values, dict) or not all(
            isinstance(m, dict)
            and all(isinstance(a, str) and isinstance(b, str) for a, b in m.items())
            for m in values.values()
        ):
            raise InvalidInput(
                'a mapping\'s "values" maps a craftmap field to {source value: code}'
            )
        return cls(
            {_nfc(k): v for k, v in fields.items()},
            {f: {_nfc(a): b for a, b in m.items()} for f, m in values.items()},
        )

    def merged(self, other: ColumnMapping) -> ColumnMapping:
        """This mapping with ``other``'s entries on top."""
        values = {k: dict(v) for k, v in self.values.items()}
        for target, pairs in other.values.items():
            values.setdefault(target, {}).update(pairs)
        return ColumnMapping({**self.fields, **other.fields}, values)

    def value_for(self, target: str, value: str) -> str | None:
        """The code a source value maps to for ``target``, if the mapping names it."""
        wanted = fold(value)
        for source, code in self.values.get(target, {}).items():
            if fold(source) == wanted:
                return code
        return None


def _nfc(value: str) -> str:
    return unicodedata.normalize("NFC", value)


def parse_inline(maps: list[str], values: list[str]) -> ColumnMapping:
    """``--map src=dst`` and ``--values field:src=code`` options as a mapping.

    >>> parse_inline(["Tên làng=name"], ["material:Luồng=luong"]).as_json()
    {'fields': {'Tên làng': 'name'}, 'values': {'material': {'Luồng': 'luong'}}}
    """
    mapping = ColumnMapping()
    for item in maps:
        source, sep, target = item.rpartition("=")
        if not sep or not source.strip() or not target.strip():
            raise InvalidInput(f"--map takes source=target, got {item!r}")
        mapping.fields[_nfc(source.strip())] = target.strip()
    for item in values:
        target, sep, rest = item.partition(":")
        source, sep2, code = rest.rpartition("=")
        if not sep or not sep2 or not target.strip() or not source.strip():
            raise InvalidInput(f"--values takes field:source value=code, got {item!r}")
        mapping.values.setdefault(target.strip(), {})[_nfc(source.strip())] = code.strip()
    return mapping


def read_mapping_file(path: Path) -> ColumnMapping:
    """A mapping from a JSON file."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InvalidInput(f"{path.name}: not a readable JSON mapping ({exc})") from exc
    return ColumnMapping.from_json(data)


def load_mapping(conn: Connection, name: str) -> tuple[str, ColumnMapping]:
    """A saved mapping: the collection it was saved for, and the mapping."""
    row = conn.execute(sa.select(_TABLE).where(_TABLE.c.name == name)).first()
    if row is None:
        known = conn.execute(sa.select(_TABLE.c.name).order_by(_TABLE.c.name)).scalars().all()
        raise NotFound(f"no saved mapping {name!r}; saved: {', '.join(known) or 'none yet'}")
    return row.into, ColumnMapping.from_json(row.mapping)


def save_mapping(
    conn: Connection, name: str, into: str, mapping: ColumnMapping, *, actor: str
) -> None:
    """Save (or replace) a mapping under ``name``."""
    if not name.strip() or len(name) > 63:
        raise InvalidInput("a mapping's name is 1 to 63 characters")
    statement = insert(_TABLE).values(
        name=name.strip(), into=into, mapping=mapping.as_json(), saved_by=actor
    )
    conn.execute(
        statement.on_conflict_do_update(
            index_elements=[_TABLE.c.name],
            set_={
                "into": statement.excluded.into,
                "mapping": statement.excluded.mapping,
                "saved_by": statement.excluded.saved_by,
                "saved_at": sa.func.now(),
            },
        )
    )


def list_mappings(conn: Connection) -> list[dict[str, Any]]:
    """Every saved mapping: name, collection, mapping, who saved it and when."""
    rows = conn.execute(sa.select(_TABLE).order_by(_TABLE.c.name)).all()
    return [
        {
            "name": r.name,
            "into": r.into,
            "mapping": r.mapping,
            "saved_by": r.saved_by,
            "saved_at": r.saved_at.isoformat(),
        }
        for r in rows
    ]
