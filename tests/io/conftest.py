"""A database of the import tests' own: imports commit, so they do not share the demo one."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import geopandas as gpd
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from geo.io.imports import ImportOutcome, ImportRequest, run_import
from geo.store.db import make_engine
from tests.conftest import database_with_roles

ACTOR = "test-import"
# Every table an import may write, and the history.
TABLES = (
    "admin_unit",
    "craft_village",
    "material_zone",
    "tourism_route",
    "route_stop",
    "reference_layer",
    "reference_feature",
    "feature_history",
    "import_run",
)


@pytest.fixture(scope="module")
def import_urls(pg_server_url: str, role_passwords: dict[str, str]) -> Iterator[dict[str, str]]:
    """A migrated database with the demo, for this module's imports."""
    with database_with_roles(pg_server_url, role_passwords, prefix="craftmap_import") as urls:
        yield urls


@pytest.fixture(scope="module")
def import_engine(import_urls: dict[str, str]) -> Iterator[Engine]:
    """An engine on it as the app role."""
    engine = make_engine(import_urls["app"])
    yield engine
    engine.dispose()


def table_counts(engine: Engine) -> dict[str, int]:
    """Rows in every table an import writes, and in the history."""
    with engine.connect() as conn:
        return {t: conn.execute(sa.text(f"SELECT count(*) FROM {t}")).scalar_one() for t in TABLES}


def do_import(engine: Engine, path: Path, into: str, **options: Any) -> ImportOutcome:
    """Run an import with the test actor."""
    return run_import(engine, path, ImportRequest(into=into, actor=ACTOR, **options))


def stored(engine: Engine, table: str, codes: list[str]) -> gpd.GeoDataFrame:
    """Stored rows with these codes, ordered by code, geometry in lon/lat."""
    with engine.connect() as conn:
        return gpd.read_postgis(
            sa.text(f"SELECT * FROM {table} WHERE code = ANY(:codes) ORDER BY code"),
            conn,
            params={"codes": codes},
            geom_col="geom",
        )
