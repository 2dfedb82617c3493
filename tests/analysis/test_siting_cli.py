"""``craftmap analysis sites`` and ``save-site`` on a database of the test's own."""

from __future__ import annotations

import json
from pathlib import Path

import sqlalchemy as sa

from geo.store.db import make_engine
from tests.analysis.test_siting_workflow import at
from tests.factories import make_village
from tests.test_cli import invoke_cli


def test_sites_table_json_save_and_readable_errors(fresh_database_url: str, tmp_path: Path) -> None:
    env = {"DATABASE_URL": fresh_database_url, "CRAFTMAP_HOME": str(tmp_path / "unused")}
    invoke_cli("migrate", env=env)
    make_village(
        fresh_database_url,
        at=at(0, 0),
        code="T-CLI-A",
        name="Làng A",
        material_demand_t={"other": 250.0},
    )
    common = [
        "analysis",
        "sites",
        "--material",
        "other",
        "--k",
        "2",
        "--haul-km",
        "6",
        "--mode",
        "geodesic",
    ]
    table = invoke_cli(*common, env=env).stdout
    assert "T-CLI-A 250.0 t" in table and "1 of the 2 sites" in table
    out = tmp_path / "sites.json"
    invoke_cli(*common, "--format", "json", "--out", str(out), env=env)
    answer = json.loads(out.read_text(encoding="utf-8"))
    cell = answer["sites"][0]["cell"]
    assert answer["totals"]["served_t"] == 250.0

    saved = invoke_cli(*common, "--save", "1", "--name", "Vùng đề xuất A", env=env).stdout
    assert f"DX-{cell}" in saved
    engine = make_engine(fresh_database_url)
    try:
        with engine.connect() as conn:
            row = conn.execute(
                sa.text(
                    "SELECT z.status, z.name, h.actor FROM material_zone z JOIN feature_history h "
                    "ON h.table_name = 'material_zone' AND h.feature_id = z.id::text "
                    "WHERE z.code = :code"
                ),
                {"code": f"DX-{cell}"},
            ).one()
    finally:
        engine.dispose()
    assert row.status == "proposed" and row.name == "Vùng đề xuất A"
    assert row.actor.startswith("cli:")

    again = invoke_cli(
        "analysis",
        "save-site",
        "--cell",
        cell,
        "--name",
        "x",
        "--material",
        "other",
        env=env,
        check=False,
    )
    assert again.returncode == 1 and "Traceback" not in again.stderr
    for bad in (["--k", "0"], ["--material", "gold"], ["--resolution", "12"]):
        result = invoke_cli(*common, *bad, env=env, check=False)
        assert result.returncode == 1, result.stderr
        assert result.stderr.startswith("craftmap: ") and "Traceback" not in result.stderr
