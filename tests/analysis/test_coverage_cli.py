"""``craftmap analysis coverage`` and ``craftmap analysis what-if``: answers and readable errors."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from geo.store.db import make_engine
from tests.analysis.test_coverage_workflow import LAT, LON, MATERIAL, SIZE
from tests.factories import make_village, make_zone, square
from tests.test_cli import invoke_cli, run_cli


@pytest.fixture
def committed_case(database_url: str) -> Iterator[str]:
    """V1 (10 t) and V2 (10 t, 0.10° north); zone A (8 t) 3.3 km from V1, 7.6 km from V2;
    planned zone P (20 t) 2.2 km north of V2. Committed for the CLI's own process; removed
    after."""
    engine = make_engine(database_url)
    try:
        make_village(engine, at=(LON, LAT), code="T-CC-V1", material_demand_t={MATERIAL: 10})
        make_village(engine, at=(LON, LAT + 0.10), code="T-CC-V2", material_demand_t={MATERIAL: 10})
        make_zone(
            engine,
            geometry=square(LON, LAT + 0.03, SIZE),
            code="T-CC-ZA",
            material=MATERIAL,
            status="existing",
            annual_capacity_t=8,
        )
        make_zone(
            engine,
            geometry=square(LON, LAT + 0.12, SIZE),
            code="T-CC-ZP",
            material=MATERIAL,
            status="planned",
            annual_capacity_t=20,
        )
        yield database_url
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text("DELETE FROM craft_village WHERE code LIKE 'T-CC-%'"))
            conn.execute(sa.text("DELETE FROM material_zone WHERE code LIKE 'T-CC-%'"))
        engine.dispose()


ARGS = ["--material", MATERIAL, "--haul-km", "10", "--mode", "geodesic"]


def test_cli_coverage_in_every_format(committed_case: str, tmp_path: Path) -> None:
    env = {"DATABASE_URL": committed_case}
    # The one real process of `craftmap analysis`: the entry point works; the rest run in
    # this process (tests.test_cli.invoke_cli).
    table = run_cli("analysis", "coverage", *ARGS, env=env).stdout
    assert "distances: geodesic" in table
    # A's 8 t go to V1: unmet 2 + 10 = 12 t.
    assert "unmet 12.0 t" in table
    doc = json.loads(invoke_cli("analysis", "coverage", *ARGS, "--format", "json", env=env).stdout)
    assert doc["totals"]["unmet_t"] == pytest.approx(12.0)
    out = tmp_path / "v.csv"
    invoke_cli("analysis", "coverage", *ARGS, "--format", "csv", "--out", str(out), env=env)
    rows = {r["code"]: r for r in csv.DictReader(io.StringIO(out.read_text(encoding="utf-8")))}
    assert float(rows["T-CC-V1"]["supplied_t"]) == pytest.approx(8.0)
    geo = json.loads(
        invoke_cli("analysis", "coverage", *ARGS, "--format", "geojson", env=env).stdout
    )
    assert {f["properties"]["kind"] for f in geo["features"]} == {"zone", "flow", "village"}
    more = json.loads(
        invoke_cli(
            "analysis",
            "coverage",
            *ARGS,
            "--include",
            "planned",
            "--capacity",
            "T-CC-ZA=12",
            "--format",
            "json",
            env=env,
        ).stdout
    )
    assert more["totals"]["unmet_t"] == pytest.approx(0.0)


def test_cli_what_if_with_a_zone_file(committed_case: str, tmp_path: Path) -> None:
    env = {"DATABASE_URL": committed_case}
    zones = tmp_path / "zones.geojson"
    zones.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    {
                        "type": "Feature",
                        "properties": {"capacity_t": 10, "code": "vùng-mới"},
                        "geometry": square(LON, LAT + 0.11, SIZE),
                    }
                ],
            }
        ),
        encoding="utf-8",
    )
    said = invoke_cli("analysis", "what-if", *ARGS, "--zones", str(zones), env=env).stdout
    # The drawn zone (1.1 km from V2) covers V2: unmet 12 → 2.
    assert "Unmet 12.0 t → 2.0 t" in said
    assert "Newly covered: T-CC-V2" in said
    assert "vùng-mới" in said


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["coverage", "--material", "gold"], "unknown material"),
        (["coverage", "--material", MATERIAL, "--haul-km", "0"], "haul_km"),
        (["coverage", "--material", MATERIAL, "--capacity", "T-CC-ZA"], "--capacity must be"),
        (["coverage", "--material", MATERIAL, "--capacity", "NO-SUCH=5"], "NO-SUCH"),
        (["coverage", "--material", MATERIAL, "--format", "xlsx"], "--format must be"),
        (["coverage", "--material", MATERIAL, "--mode", "road", "--network", "nope"], "nope"),
        (["what-if", "--material", MATERIAL, "--zones", "/no/such/file.geojson"], "--zones"),
    ],
)
def test_cli_bad_input_is_one_readable_line(database_url: str, args: list[str], says: str) -> None:
    result = invoke_cli("analysis", *args, env={"DATABASE_URL": database_url}, check=False)
    assert result.returncode == 1, result.stdout + result.stderr
    assert says in result.stderr
    assert "Traceback" not in result.stderr
