"""bench/route_design.py at a tiny scale (a few hundred edges), to keep it working."""

from __future__ import annotations

import json
from pathlib import Path

from bench import route_design
from geo.store import migrate


def test_route_design_bench_at_tiny_scale(fresh_database_url: str, tmp_path: Path) -> None:
    migrate.upgrade(fresh_database_url)
    out = tmp_path / "route_design.json"
    report = route_design.main(
        ["--url", fresh_database_url, "--edges", "300", "--time-limit", "1", "--out", str(out)]
    )
    assert json.loads(out.read_text(encoding="utf-8")) == json.loads(json.dumps(report))
    demo, grid = report["cases"]["demo"], report["cases"]["synthetic"]
    assert demo["network"] == "thanh-hoa-demo" and demo["stops"] == 12
    assert 250 <= grid["built"]["edges"] <= 350 and grid["built"]["components"] == 1
    for case in (demo, grid):
        assert set(case["timings_s"]) == {
            "matrix_s",
            "order_exact_s",
            "order_or_tools_s",
            "legs_s",
            "save_s",
            "design_route_total_s",
        }
        assert case["designed_method"] == "exact"
        assert case["exact_method"] == "exact" and case["or_tools_method"] == "or-tools"
        # Held–Karp is optimal: OR-Tools cannot beat it, and neither is worse than given.
        assert case["exact_min"] <= case["or_tools_min"] + 0.05
        assert case["exact_min"] <= case["given_min"]
    # On the connected grid every pair of stops is joined by road.
    assert grid["road_pairs"] == "132 of 132" and grid["road_legs"] == "11 of 11"
    # design_route's own order is the exact one: the same drive as the measured legs.
    assert grid["designed_drive_min"] == grid["exact_min"]
    assert report["peak_memory_mb"] > 0
