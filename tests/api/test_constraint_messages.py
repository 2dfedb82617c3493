"""Every constraint of the migrated database has a rule in words for problem details."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.engine import Connection

from geo.kernel.errors import InvalidInput
from geo.store.constraint_messages import rule_for
from geo.store.db import translate_errors
from tests.api.conftest import bearer
from tests.api.test_write import ZONE

# CHECK, UNIQUE, PRIMARY KEY and FOREIGN KEY constraints of craftmap's own tables (the
# tables of extensions, such as PostGIS's spatial_ref_sys, are not ours to word; nor are
# the bookkeeping tables whose keys no request can break: rate-limit counters, the catalog
# version, and the tile cache, which fills with ON CONFLICT DO NOTHING).
OWN_CONSTRAINTS = """
SELECT c.conname, c.contype, t.relname
FROM pg_constraint c
JOIN pg_class t ON t.oid = c.conrelid
JOIN pg_namespace n ON n.oid = t.relnamespace
WHERE n.nspname = 'public' AND c.contype IN ('c', 'u', 'p', 'f')
  AND t.relname NOT IN ('alembic_version', 'rate_limit', 'catalog_version', 'tile_cache')
  AND NOT EXISTS (
      SELECT 1 FROM pg_depend d
      WHERE d.classid = 'pg_class'::regclass AND d.objid = t.oid AND d.deptype = 'e'
  )
ORDER BY t.relname, c.conname
"""


def test_every_constraint_has_a_rule_in_words(connection: Connection) -> None:
    found = connection.execute(sa.text(OWN_CONSTRAINTS)).all()
    assert len(found) > 50
    checks_and_uniques = [r for r in found if r.contype in {"c", "u"}]
    assert len(checks_and_uniques) > 40
    missing = [r.conname for r in found if rule_for(r.conname) is None]
    assert missing == [], "give these constraints words in geo/store/constraint_messages.py"
    for row in found:
        rule = rule_for(row.conname)
        assert rule is not None
        assert row.conname not in rule.rule and rule.field in rule.rule


def test_a_broken_check_names_field_and_rule(connection: Connection) -> None:
    savepoint = connection.begin_nested()
    with pytest.raises(InvalidInput) as raised, translate_errors():
        connection.execute(
            sa.text(
                "INSERT INTO material_zone (code, name, material, annual_capacity_t, geom) "
                "VALUES ('T-NEG', 'Vùng âm', 'sedge', -5, ST_GeomFromEWKT("
                "'SRID=4326;MULTIPOLYGON(((105.95 20.02,105.96 20.02,105.96 20.03,"
                "105.95 20.02)))'))"
            )
        )
    savepoint.rollback()
    assert str(raised.value) == "annual_capacity_t must be ≥ 0"


def test_a_duplicate_code_names_the_value_not_the_constraint(
    client: TestClient, keys: dict[str, str]
) -> None:
    headers = {**bearer(keys["planner"]), "Content-Type": "application/geo+json"}
    first = client.post("/collections/material-zones/items", json=ZONE, headers=headers)
    assert first.status_code == 201, first.text
    again = client.post("/collections/material-zones/items", json=ZONE, headers=headers)
    assert again.status_code == 409
    assert again.headers["content-type"] == "application/problem+json"
    detail = again.json()["detail"]
    assert detail == "code 'T-Z-NEW' is already used by another material zone"
    assert "uq_" not in detail
