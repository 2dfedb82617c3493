"""``craftmap stats load|list|export``: counts, history with the actor, readable refusals."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from geo.io import village_stats as files
from geo.store.db import make_engine
from tests.conftest import database_with_roles
from tests.test_cli import invoke_cli

GOOD = (
    "village_code,year,production_value_vnd,workers,trained_workers,env_plan,ip_protected,sources\n"
    'TH-V-005,2024,"12.500.000.000",1.200,800,không,,'
    '"Báo cáo số 12/BC-UBND xã Nga Thanh;Sở NN&PTNT"\n'
    "TH-V-005,2025,98765432109876543210,1300,,có,yes,\n"
    "TH-V-006,2025,,,,,,\n"
)


@pytest.fixture(scope="module")
def stats_urls(pg_server_url: str, role_passwords: dict[str, str]) -> Iterator[dict[str, str]]:
    """A migrated database with the demo, of this module's own (the CLI commits)."""
    with database_with_roles(pg_server_url, role_passwords, prefix="craftmap_stats") as urls:
        yield urls


@pytest.fixture(scope="module")
def stats_engine(stats_urls: dict[str, str]) -> Iterator[Engine]:
    """An engine on it as the app role."""
    engine = make_engine(stats_urls["app"])
    yield engine
    engine.dispose()


def _counts(engine: Engine) -> tuple[int, int]:
    with engine.connect() as conn:
        return (
            conn.execute(sa.text("SELECT count(*) FROM village_stat")).scalar_one(),
            conn.execute(
                sa.text("SELECT count(*) FROM feature_history WHERE table_name = 'village_stat'")
            ).scalar_one(),
        )


def test_load_list_export_and_reload(
    stats_urls: dict[str, str], stats_engine: Engine, tmp_path: Path
) -> None:
    env = {"DATABASE_URL": stats_urls["app"]}
    path = tmp_path / "stats.csv"
    path.write_text(GOOD, encoding="utf-8-sig")
    before = _counts(stats_engine)
    done = invoke_cli("stats", "load", str(path), "--actor", "Sở Công Thương", env=env)
    assert "3 rows: 3 inserted, 0 updated, 0 unchanged" in done.stdout
    after = _counts(stats_engine)
    assert after == (before[0] + 3, before[1] + 3)
    with stats_engine.connect() as conn:
        actors = (
            conn.execute(
                sa.text(
                    "SELECT DISTINCT actor FROM feature_history WHERE table_name = 'village_stat'"
                    " AND id > (SELECT max(id) - 3 FROM feature_history)"
                )
            )
            .scalars()
            .all()
        )
    assert actors == ["Sở Công Thương"]

    # Loaded again: nothing changes, nothing is written (no history rows).
    again = invoke_cli("stats", "load", str(path), env=env)
    assert "3 rows: 0 inserted, 0 updated, 3 unchanged" in again.stdout
    assert _counts(stats_engine) == after

    listed = json.loads(invoke_cli("stats", "list", "TH-V-005", "--json", env=env).stdout)
    years = {s["year"]: s for s in listed["stats"]}
    assert years[2025]["production_value_vnd"] == 98765432109876543210
    assert years[2025]["trained_workers"] is None and years[2024]["ip_protected"] is None
    assert years[2024]["sources"] == ["Báo cáo số 12/BC-UBND xã Nga Thanh", "Sở NN&PTNT"]
    table = invoke_cli("stats", "list", "TH-V-005", env=env).stdout
    assert "2024: production_value_vnd=12500000000, workers=1200" in table

    out = tmp_path / "export.csv"
    invoke_cli("stats", "export", "--out", str(out), env=env)
    exported = files.read_file(out)
    assert _same_values(exported, files.read_csv_text(GOOD))
    # The export loads back as unchanged, as CSV and as XLSX.
    back = invoke_cli("stats", "load", str(out), env=env)
    assert "0 inserted, 0 updated" in back.stdout
    as_xlsx = tmp_path / "export.xlsx"
    invoke_cli("stats", "export", "--out", str(as_xlsx), env=env)
    assert _same_values(files.read_file(as_xlsx), files.read_csv_text(GOOD))
    back = invoke_cli("stats", "load", str(as_xlsx), env=env)
    assert "0 inserted, 0 updated" in back.stdout
    assert _counts(stats_engine) == after


def _same_values(exported: list[files.StatRow], loaded: list[files.StatRow]) -> bool:
    """Every loaded row's facts (the file's columns) and sources are in the export."""
    ours = {(r.village_code, r.year): r for r in exported}
    for row in loaded:
        found = ours.get((row.village_code, row.year))
        if found is None or found.sources != (row.sources or ()):
            return False
        if {name: found.facts[name] for name in row.facts} != row.facts:
            return False
    return True


def test_bad_files_are_readable_errors_and_write_nothing(
    stats_urls: dict[str, str], stats_engine: Engine, tmp_path: Path
) -> None:
    env = {"DATABASE_URL": stats_urls["app"]}
    before = _counts(stats_engine)
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "village_code,year,workers,env_plan\n"
        "TH-V-005,2019,10,có\n"
        "TH-V-005,2020,NaN,có\n"
        "TH-V-006,2020,5,maybe\n",
        encoding="utf-8",
    )
    answer = invoke_cli("stats", "load", str(bad), env=env, check=False)
    assert answer.returncode == 1 and "Traceback" not in answer.stderr
    assert "2 bad rows" in answer.stderr and "line 3: workers" in answer.stderr
    assert "line 4: env_plan" in answer.stderr
    unknown = tmp_path / "unknown.csv"
    unknown.write_text("village_code,year\nTH-V-005,2019\nTH-V-404,2019\n", encoding="utf-8")
    answer = invoke_cli("stats", "load", str(unknown), env=env, check=False)
    assert answer.returncode == 1 and "line 3: no village with the code 'TH-V-404'" in answer.stderr
    missing = invoke_cli("stats", "list", "TH-V-404", env=env, check=False)
    assert missing.returncode == 1 and "TH-V-404" in missing.stderr
    assert _counts(stats_engine) == before


def test_a_bad_actor_is_refused_readably(
    stats_urls: dict[str, str], stats_engine: Engine, tmp_path: Path
) -> None:
    env = {"DATABASE_URL": stats_urls["app"]}
    path = tmp_path / "one.csv"
    path.write_text("village_code,year,workers\nTH-V-005,2018,3\n", encoding="utf-8")
    before = _counts(stats_engine)
    for actor in ("", "a\x00b", "x" * 201):
        answer = invoke_cli("stats", "load", str(path), "--actor", actor, env=env, check=False)
        assert answer.returncode == 1 and "the actor must be" in answer.stderr, actor
        assert "Traceback" not in answer.stderr
    assert _counts(stats_engine) == before


def test_delete_a_year_keeps_it_in_the_history(
    stats_urls: dict[str, str], stats_engine: Engine, tmp_path: Path
) -> None:
    env = {"DATABASE_URL": stats_urls["app"]}
    path = tmp_path / "one.csv"
    path.write_text("village_code,year,workers\nTH-V-007,2017,12\n", encoding="utf-8")
    invoke_cli("stats", "load", str(path), env=env)
    before = _counts(stats_engine)
    done = invoke_cli("stats", "delete", "TH-V-007", "2017", "--actor", "Phòng Kinh tế", env=env)
    assert "2017 deleted" in done.stdout
    assert _counts(stats_engine) == (before[0] - 1, before[1] + 1)
    with stats_engine.connect() as conn:
        last = conn.execute(
            sa.text(
                "SELECT action, actor, before->>'workers' FROM feature_history"
                " WHERE table_name = 'village_stat' ORDER BY id DESC LIMIT 1"
            )
        ).one()
    assert tuple(last) == ("delete", "Phòng Kinh tế", "12")
    again = invoke_cli("stats", "delete", "TH-V-007", "2017", env=env, check=False)
    assert again.returncode == 1 and "nothing is recorded" in again.stderr
