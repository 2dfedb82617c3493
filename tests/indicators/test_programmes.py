"""Programme targets as data: the seed files, the loader, the CLI and the migration."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from geo.io import programmes
from geo.store import migrate
from geo.store.db import make_engine, set_actor
from tests import PROGRAMMES_DIR
from tests.test_cli import invoke_cli

NATIONAL = PROGRAMMES_DIR / "801-QD-TTg.csv"
THANH_HOA = PROGRAMMES_DIR / "4182-QD-UBND.csv"

# DOMAIN.md §1 (801/QĐ-TTg, [S9][S11]) and §0 (4182/QĐ-UBND's table), copied by hand:
# (indicator, year) -> (comparison, value, unit).
EXPECTED_801 = {
    ("crafts_restored", 2025): ("at_least", 56, "count"),
    ("villages_restored", 2025): ("at_least", 85, "count"),
    ("crafts_recognised", 2025): ("at_least", 116, "count"),
    ("villages_recognised", 2025): ("at_least", 40, "count"),
    ("villages_tourism_linked", 2025): ("at_least", 181, "count"),
    ("share_effective", 2025): ("more_than", 70, "percent"),
    ("share_workers_trained", 2025): ("at_least", 80, "percent"),
    ("share_villages_ocop", 2025): ("at_least", 50, "percent"),
    ("share_ip_protected", 2025): ("at_least", 30, "percent"),
    ("production_value_growth", 2025): ("about", 10, "percent_per_year"),
    ("exports_usd", 2025): ("about", 4e9, "usd"),
    ("share_env_plan", 2025): ("at_least", 100, "percent"),
    ("crafts_restored", 2030): ("at_least", 129, "count"),
    ("villages_restored", 2030): ("at_least", 208, "count"),
    ("crafts_recognised", 2030): ("at_least", 213, "count"),
    ("villages_recognised", 2030): ("at_least", 96, "count"),
    ("villages_tourism_linked", 2030): ("about", 301, "count"),
    ("share_effective", 2030): ("more_than", 80, "percent"),
    ("share_ip_protected", 2030): ("at_least", 50, "percent"),
}
EXPECTED_4182 = {
    ("crafts_restored_or_recognised", 2025): ("at_least", 5, "count"),
    ("villages_restored_or_recognised", 2025): ("at_least", 5, "count"),
    ("villages_tourism_linked", 2025): ("at_least", 5, "count"),
    ("share_effective", 2025): ("more_than", 80, "percent"),
    ("share_workers_trained", 2025): ("at_least", 80, "percent"),
    ("share_ocop", 2025): ("at_least", 50, "percent"),
    ("share_ip_protected", 2025): ("at_least", 30, "percent"),
    ("production_value_growth", 2025): ("about", 10, "percent_per_year"),
    ("income_vs_2020", 2025): ("at_least", 1.5, "ratio"),
    ("share_env_plan", 2025): ("at_least", 100, "percent"),
    ("crafts_restored_or_recognised", 2030): ("at_least", 10, "count"),
    ("villages_restored_or_recognised", 2030): ("at_least", 5, "count"),
    ("villages_tourism_linked", 2030): ("about", 10, "count"),
    ("share_effective", 2030): ("more_than", 90, "percent"),
    ("share_workers_trained", 2030): ("at_least", 100, "percent"),
    ("share_ocop", 2030): ("at_least", 70, "percent"),
    ("share_ip_protected", 2030): ("at_least", 50, "percent"),
    ("production_value_growth", 2030): ("about", 10, "percent_per_year"),
    ("share_env_plan", 2030): ("at_least", 100, "percent"),
}

NGHE_AN = """\
# code: 1234/QĐ-UBND
# title: Kế hoạch bảo tồn và phát triển làng nghề tỉnh Nghệ An (thử)
# level: province
# province_code: 40
# parent: 801/QĐ-TTg
# decision_date: 2023-03-15
# sources: TEST1
indicator,year,comparison,value,unit,note,sources
villages_tourism_linked,2025,at_least,7,count,làng nghề gắn với du lịch,TEST1
share_ocop,2030,at_least,60,percent,,TEST1;TEST2
"""


def _targets(conn: Connection, code: str) -> dict[tuple[str, int], tuple[str, float, str]]:
    rows = conn.execute(
        sa.text(
            "SELECT t.indicator, t.year, t.comparison, t.value, t.unit FROM programme_target t"
            " JOIN programme p ON p.id = t.programme_id WHERE p.code = :code"
        ),
        {"code": code},
    ).all()
    return {(r.indicator, r.year): (r.comparison, r.value, r.unit) for r in rows}


def _history_count(conn: Connection) -> int:
    return conn.execute(
        sa.text(
            "SELECT count(*) FROM feature_history"
            " WHERE table_name IN ('programme', 'programme_target')"
        )
    ).scalar_one()


def test_seed_holds_domain_figures(connection: Connection) -> None:
    # The shared test database is loaded as `craftmap demo load` loads it.
    assert _targets(connection, "801/QĐ-TTg") == EXPECTED_801
    assert _targets(connection, "4182/QĐ-UBND") == EXPECTED_4182
    assert _targets(connection, "801/QĐ-TTg")[("share_effective", 2025)] == (
        "more_than",
        70,
        "percent",
    )
    plan = connection.execute(
        sa.text(
            "SELECT p.level, p.province_code, parent.code AS parent, p.decision_date::text AS d,"
            " p.sources, p.actor FROM programme p JOIN programme parent ON parent.id = p.parent_id"
            " WHERE p.code = '4182/QĐ-UBND'"
        )
    ).one()
    assert (plan.level, plan.province_code, plan.parent, plan.d) == (
        "province",
        "38",
        "801/QĐ-TTg",
        "2022-11-29",
    )
    assert plan.sources == ["S13", "S14", "S15"]
    assert plan.actor == "test-setup"
    # Every target names its sources; the guessed comparisons say so in their note.
    unsourced = connection.execute(
        sa.text("SELECT count(*) FROM programme_target WHERE cardinality(sources) = 0")
    ).scalar_one()
    assert unsourced == 0
    note = connection.execute(
        sa.text(
            "SELECT t.note FROM programme_target t JOIN programme p ON p.id = t.programme_id"
            " WHERE p.code = '4182/QĐ-UBND' AND t.indicator = 'income_vs_2020'"
        )
    ).scalar_one()
    assert "not in the press summary S14" in note


def test_second_load_changes_nothing(connection: Connection) -> None:
    set_actor(connection, "second-load")
    before = _history_count(connection)
    for path in programmes.ordered([THANH_HOA, NATIONAL]):
        counts = programmes.load_programme(connection, path, actor="second-load")
        assert all(c.inserted == 0 and c.updated == 0 for c in counts.values()), counts
    assert _history_count(connection) == before
    assert _targets(connection, "4182/QĐ-UBND") == EXPECTED_4182


def test_national_first() -> None:
    assert programmes.ordered([THANH_HOA, NATIONAL]) == [NATIONAL, THANH_HOA]


def test_another_province_loads_beside_thanh_hoa(connection: Connection, tmp_path: Path) -> None:
    path = tmp_path / "nghe-an.csv"
    path.write_text(NGHE_AN, encoding="utf-8")
    set_actor(connection, "planner:nghe-an")
    counts = programmes.load_programme(connection, path, actor="planner:nghe-an")
    assert counts["programme"].inserted == 1
    assert counts["programme_target"].inserted == 2
    assert _targets(connection, "1234/QĐ-UBND") == {
        ("villages_tourism_linked", 2025): ("at_least", 7, "count"),
        ("share_ocop", 2030): ("at_least", 60, "percent"),
    }
    assert _targets(connection, "4182/QĐ-UBND") == EXPECTED_4182
    parents = dict(
        connection.execute(
            sa.text(
                "SELECT p.province_code, parent.code FROM programme p"
                " JOIN programme parent ON parent.id = p.parent_id"
            )
        ).all()
    )
    assert parents == {"38": "801/QĐ-TTg", "40": "801/QĐ-TTg"}
    history = connection.execute(
        sa.text(
            "SELECT table_name, action, actor, after->>'title' AS title FROM feature_history"
            " WHERE table_name IN ('programme', 'programme_target')"
            " AND actor = 'planner:nghe-an' ORDER BY id"
        )
    ).all()
    assert [(h.table_name, h.action) for h in history] == [
        ("programme", "create"),
        ("programme_target", "create"),
        ("programme_target", "create"),
    ]
    assert history[0].title == "Kế hoạch bảo tồn và phát triển làng nghề tỉnh Nghệ An (thử)"


def test_changed_figure_is_updated_with_history(connection: Connection, tmp_path: Path) -> None:
    path = tmp_path / "4182.csv"
    path.write_text(
        THANH_HOA.read_text(encoding="utf-8").replace(
            "share_ocop,2030,at_least,70,", "share_ocop,2030,at_least,75,"
        ),
        encoding="utf-8",
    )
    set_actor(connection, "planner:revision")
    counts = programmes.load_programme(connection, path, actor="planner:revision")
    assert (counts["programme_target"].updated, counts["programme_target"].inserted) == (1, 0)
    assert _targets(connection, "4182/QĐ-UBND")[("share_ocop", 2030)] == (
        "at_least",
        75,
        "percent",
    )
    actions = connection.execute(
        sa.text(
            "SELECT action, actor FROM feature_history WHERE table_name = 'programme_target'"
            " AND actor = 'planner:revision'"
        )
    ).all()
    assert [(a.action, a.actor) for a in actions] == [("update", "planner:revision")]


# -- the CLI, on a database of its own ---------------------------------------------------
BAD_FILES = {
    "unknown indicator": (
        NGHE_AN.replace("share_ocop,2030", "share_happy,2030"),
        "line 10: indicator 'share_happy' is not one of",
    ),
    "percent over 100": (
        NGHE_AN.replace("at_least,60,percent", "at_least,160,percent"),
        "line 10: a percent value must be from 0 to 100",
    ),
    "value not a number": (
        NGHE_AN.replace(",7,count", ",bảy,count"),
        "line 9: year and value must be numbers",
    ),
    "parent not loaded": (
        NGHE_AN.replace("# parent: 801/QĐ-TTg", "# parent: 999/QĐ-TTg"),
        "the parent programme '999/QĐ-TTg' is not loaded",
    ),
    "province without code": (
        NGHE_AN.replace("# province_code: 40", "# province_code:"),
        "a province's plan needs '# province_code: …'",
    ),
    "bad header line": (
        NGHE_AN.replace("# title:", "# titel:"),
        "line 2: a header line is '# key: value'",
    ),
    "same target twice": (
        NGHE_AN + "share_ocop,2030,at_least,65,percent,,TEST1\n",
        "line 11: share_ocop for 2030 is given twice",
    ),
    "wrong columns": (
        NGHE_AN.replace("indicator,year,", "indicator,yr,"),
        "line 8: the table's columns must be",
    ),
}


def _counts(url: str) -> tuple[int, int, int]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            row = conn.execute(
                sa.text(
                    "SELECT (SELECT count(*) FROM programme), (SELECT count(*) FROM"
                    " programme_target), (SELECT count(*) FROM feature_history)"
                )
            ).one()
            return (row[0], row[1], row[2])
    finally:
        engine.dispose()


def test_cli_loads_lists_and_refuses_bad_files(fresh_database_url: str, tmp_path: Path) -> None:
    migrate.upgrade(fresh_database_url)
    env = {"DATABASE_URL": fresh_database_url, "CRAFTMAP_HOME": str(tmp_path / "unused")}
    # The plan first on the command line: the national programme still loads before it.
    loaded = invoke_cli("programme", "load", str(THANH_HOA), str(NATIONAL), env=env)
    assert "801-QD-TTg.csv" in loaded.stdout.splitlines()[0]
    assert _counts(fresh_database_url)[:2] == (2, len(EXPECTED_801) + len(EXPECTED_4182))
    again = invoke_cli("programme", "load", str(NATIONAL), str(THANH_HOA), env=env)
    assert " 0 new     0 changed" in again.stdout
    assert "new     0 changed" in again.stdout and " 1 new" not in again.stdout
    listed = invoke_cli("programme", "list", env=env).stdout.splitlines()
    assert listed[0].startswith("801/QĐ-TTg") and "19 targets" in listed[0]
    assert listed[1].startswith("4182/QĐ-UBND") and "801/QĐ-TTg" in listed[1]
    assert "Thanh Hóa" in listed[1]

    before = _counts(fresh_database_url)
    good = tmp_path / "good.csv"
    good.write_text(NGHE_AN, encoding="utf-8")
    for name, (text, message) in BAD_FILES.items():
        bad = tmp_path / f"{name.replace(' ', '-')}.csv"
        bad.write_text(text, encoding="utf-8")
        # A good file beside the bad one is not written either: all or nothing.
        result = invoke_cli("programme", "load", str(good), str(bad), env=env, check=False)
        assert result.returncode == 1, name
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("craftmap: "), (name, result.stderr)
        assert message in lines[0], (name, lines[0])
        assert "Traceback" not in result.stderr
        assert _counts(fresh_database_url) == before, name


@pytest.mark.parametrize("target", ["0009_route_design"])
def test_migration_down_and_up(fresh_database_url: str, target: str) -> None:
    def tables() -> set[str]:
        engine = make_engine(fresh_database_url)
        try:
            return set(sa.inspect(engine).get_table_names())
        finally:
            engine.dispose()

    migrate.upgrade(fresh_database_url)
    assert {"programme", "programme_target"} <= tables()
    migrate.downgrade(fresh_database_url, target)
    assert not {"programme", "programme_target"} & tables()
    migrate.upgrade(fresh_database_url)
    engine = make_engine(fresh_database_url)
    try:
        with engine.begin() as conn:
            triggers = set(
                conn.execute(
                    sa.text("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal")
                ).scalars()
            )
            assert {
                "programme_touch",
                "programme_history",
                "programme_target_touch",
                "programme_target_history",
            } <= triggers
            set_actor(conn, "migration-test")
            programmes.load_programme(conn, NATIONAL, actor="migration-test")
            # The touch trigger bumps the version on a change.
            conn.execute(sa.text("UPDATE programme SET title = title || ' (sửa)'"))
            assert conn.execute(sa.text("SELECT version FROM programme")).scalar_one() == 2
    finally:
        engine.dispose()


def test_every_programme_code_has_labels_in_both_languages() -> None:
    from geo.kernel import vocab

    for name, enum in {
        "programme_level": vocab.ProgrammeLevel,
        "indicator": vocab.Indicator,
        "comparison": vocab.Comparison,
        "target_unit": vocab.TargetUnit,
    }.items():
        assert set(vocab.LABELS[name]) == set(enum), name
    assert vocab.label("indicator", "share_ocop", "en") == (
        "Share of rural craft establishments with OCOP-ranked products"
    )
