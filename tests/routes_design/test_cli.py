"""``craftmap route design`` and ``craftmap route preview`` against a fresh database."""

from __future__ import annotations

import json
from pathlib import Path

import sqlalchemy as sa

from geo.store import migrate
from geo.store.db import make_engine
from tests.factories import make_route
from tests.routes_design import network_cases as net
from tests.routes_design.network_cases import at
from tests.test_cli import invoke_cli, run_cli


def test_route_design_and_preview_commands(fresh_database_url: str, tmp_path: Path) -> None:
    migrate.upgrade(fresh_database_url)
    engine = make_engine(fresh_database_url)
    try:
        with engine.begin() as conn:
            net.build(conn)
            route_id = make_route(
                conn, stops=[at("S0"), at("N2"), at("S2")], mode="car", code="T-CLI-1"
            )
    finally:
        engine.dispose()
    env = {"DATABASE_URL": fresh_database_url}
    # One real process for the entry point; the other answers in-process (invoke_cli).
    out = run_cli("route", "design", "T-CLI-1", "--optimise", env=env).stdout
    assert "method exact" in out and "saving" in out and "road" in out
    assert "Điểm dừng 1" in out
    as_json = json.loads(
        invoke_cli("route", "design", str(route_id), "--format", "json", env=env).stdout
    )
    assert as_json["order_after"] == [1, 2, 3] and as_json["saved"] is True
    assert [leg["kind"] for leg in as_json["legs"]] == ["road", "road"]

    missing = invoke_cli("route", "design", "NO-SUCH", env=env, check=False)
    assert missing.returncode == 1 and "no tourism route 'NO-SUCH'" in missing.stderr
    bad = invoke_cli("route", "design", "T-CLI-1", "--end", "moon", env=env, check=False)
    assert bad.returncode == 1 and "end must be" in bad.stderr and "Traceback" not in bad.stderr

    stops = tmp_path / "stops.json"
    stops.write_text(
        json.dumps({"stops": [{"lon": x, "lat": y} for x, y in (at("S0"), at("N0"))]}),
        encoding="utf-8",
    )
    preview = invoke_cli("route", "preview", "--stops", str(stops), env=env).stdout
    assert "(preview)" in preview and "road" in preview
    stops.write_text('{"stops": [{"lon": "x"}]}', encoding="utf-8")
    refused = invoke_cli("route", "preview", "--stops", str(stops), env=env, check=False)
    assert refused.returncode == 1 and "lon must be a finite number" in refused.stderr
    engine = make_engine(fresh_database_url)
    try:
        with engine.connect() as conn:
            line_source = conn.execute(
                sa.text("SELECT line_source FROM tourism_route WHERE code = 'T-CLI-1'")
            ).scalar_one()
    finally:
        engine.dispose()
    assert line_source == "roads"
