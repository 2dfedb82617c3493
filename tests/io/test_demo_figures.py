"""The demo's yearly supply figures: loaded, cited, and agreeing with the features."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from geo.io import figures

DEMO = Path(__file__).resolve().parents[2] / "data" / "demo"


def test_every_estimate_has_a_basis_and_sources_that_sources_md_lists() -> None:
    listed = set(
        re.findall(r"^- \*\*([SF]\d+[a-z]?)\*\*", (DEMO / "SOURCES.md").read_text("utf-8"), re.M)
    )
    with (DEMO / "supply_figures.csv").open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 28
    for row in rows:
        assert row["estimate"] == "true" and row["basis"].startswith("Ước tính"), row
        tags = row["sources"].split(";")
        assert tags and set(tags) <= listed, (row["village_code"] or row["zone_code"], tags)
        # Every tag the basis cites in brackets is one of the row's sources.
        assert set(re.findall(r"\[([SF]\d+[a-z]?)\]", row["basis"])) <= set(tags), row
    zones = {r["zone_code"] for r in rows if r["zone_code"]}
    assert len(zones) == 15


def test_the_demo_load_wrote_the_figures_and_the_features_carry_the_newest(engine: Engine) -> None:
    rows = figures.read_csv(DEMO / "supply_figures.csv")
    demand, capacity = figures.newest(rows)
    with engine.connect() as conn:
        stored = conn.execute(
            sa.text("SELECT count(*) FROM supply_figure WHERE actor = 'test-setup'")
        ).scalar_one()
        villages = dict(
            conn.execute(sa.text("SELECT code, material_demand_t FROM craft_village")).all()
        )
        zones = dict(
            conn.execute(sa.text("SELECT code, annual_capacity_t FROM material_zone")).all()
        )
        unbased = conn.execute(
            sa.text("SELECT count(*) FROM supply_figure WHERE estimate AND basis IS NULL")
        ).scalar_one()
    assert stored >= len(rows)
    assert unbased == 0
    for code, by_material in demand.items():
        assert villages[code] == by_material, code
    for code, tonnes in capacity.items():
        assert zones[code] == tonnes, code
    assert len(capacity) == 15 and all(zones[c] is not None for c in capacity)


def test_the_demo_gives_the_coverage_analysis_something_to_say(engine: Engine) -> None:
    """Sedge has spare capacity; the bamboo, rattan, vầu and nứa villages have no zone in 50 km."""
    with engine.connect() as conn:
        totals = dict(
            conn.execute(
                sa.text(
                    "SELECT 'demand', sum((v.material_demand_t->>'sedge')::float)"
                    " FROM craft_village v"
                    " UNION ALL SELECT 'capacity', sum(annual_capacity_t) FROM material_zone"
                    " WHERE material = 'sedge'"
                )
            ).all()
        )
        short = (
            conn.execute(
                sa.text(
                    "SELECT v.code FROM craft_village v, jsonb_object_keys(v.material_demand_t) m"
                    " WHERE NOT EXISTS (SELECT 1 FROM material_zone z WHERE z.material = m"
                    " AND z.status = 'existing'"
                    " AND ST_DWithin(z.geom::geography, v.geom::geography, 50000))"
                    " ORDER BY 1"
                )
            )
            .scalars()
            .all()
        )
    assert totals["capacity"] > 10 * totals["demand"]
    assert set(short) == {
        "TH-V-003",  # luồng and rattan, 54–55 km away
        "TH-V-017",
        "TH-V-029",
        "TH-V-030",
        "TH-V-038",
        "TH-V-040",
    }


def _rows() -> list[dict[str, str]]:
    with (DEMO / "supply_figures.csv").open(encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_a_basis_that_states_its_result_states_the_tonnes_column() -> None:
    """Where a basis closes its arithmetic with "= 23.097 t" (at the end, or before "(" or "nan"),
    that is the row's tonnes; "= 12.800 t cói Nga Sơn/năm" is an input, not the result."""
    stated = 0
    for row in _rows():
        results = re.findall(r"= (\d{1,3}(?:\.\d{3})*(?:,\d+)?) t(?= \(| nan|$)", row["basis"])
        if not results:
            continue
        stated += 1
        value = float(results[-1].replace(".", "").replace(",", "."))
        assert value == float(row["tonnes"]), (row["village_code"] or row["zone_code"], value)
    assert stated >= 9


def test_the_luong_vau_and_quang_xuong_capacities_rest_on_cited_figures() -> None:
    """The culm weights and Quảng Xương's output are sourced, not assumed (issue 14, point 6)."""
    rows = {r["zone_code"]: r for r in _rows() if r["zone_code"]}
    for code in ("TH-Z-001", "TH-Z-003", "TH-Z-004", "TH-Z-005", "TH-Z-006"):
        assert "F12" in rows[code]["sources"].split(";"), code
        assert "26,7 kg/cây" in rows[code]["basis"] and "giả định" not in rows[code]["basis"]
    assert "F13" in rows["TH-Z-002"]["sources"].split(";")
    assert "8 kg/cây" not in rows["TH-Z-002"]["basis"]
    quang_xuong = rows["TH-Z-010"]
    assert {"F10", "F11"} <= set(quang_xuong["sources"].split(";"))
    assert "giả định" not in quang_xuong["basis"] and quang_xuong["tonnes"] == "7000"
