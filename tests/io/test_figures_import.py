"""``craftmap figures record|list|import``: all-or-nothing, readable, Vietnamese intact."""

from __future__ import annotations

import csv
import getpass
import io
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from geo.io import figures
from tests.test_cli import invoke_cli, run_cli

HEADER = "village_code,zone_code,material,year,tonnes,estimate,basis,sources\n"
ROWS = (
    'TH-V-035,,sedge,2026,120.5,false,,"Báo cáo của UBND xã Tượng Lĩnh (số 12/BC-UBND);'
    'Phiếu điều tra “chiếu cói” Kén Thôn"\n'
    ',TH-Z-010,sedge,2026,8800,true,"Ước tính: 550 ha × 8 t/ha/vụ × 2 vụ, theo <HTX> Quảng Chính & '
    'tổ hợp tác",S40\n'
)


def _state(engine: Engine) -> tuple[int, int, object, object]:
    with engine.connect() as conn:
        return (
            conn.execute(sa.text("SELECT count(*) FROM supply_figure")).scalar_one(),
            conn.execute(sa.text("SELECT count(*) FROM feature_history")).scalar_one(),
            conn.execute(
                sa.text("SELECT material_demand_t FROM craft_village WHERE code = 'TH-V-035'")
            ).scalar_one(),
            conn.execute(
                sa.text("SELECT annual_capacity_t FROM material_zone WHERE code = 'TH-Z-010'")
            ).scalar_one(),
        )


def test_import_round_trip_and_idempotence(
    import_urls: dict[str, str], import_engine: Engine, tmp_path: Path
) -> None:
    env = {"DATABASE_URL": import_urls["app"]}
    path = tmp_path / "figures.csv"
    path.write_text(HEADER + ROWS, encoding="utf-8")
    before = _state(import_engine)
    # The one real `craftmap` process of this file (the entry point); the rest run in this
    # process (tests.test_cli.invoke_cli).
    dry = run_cli("figures", "import", str(path), "--dry-run", env=env)
    assert "dry run" in dry.stdout and _state(import_engine) == before

    done = invoke_cli("figures", "import", str(path), env=env)
    assert "2 rows: 2 new, 0 changed, 0 unchanged; 2 features" in done.stdout
    after = _state(import_engine)
    assert after[0] == before[0] + 2
    assert after[2] == {"sedge": 120.5} and after[3] == 8800

    listed = invoke_cli("figures", "list", "--year", "2026", "--format", "csv", env=env).stdout
    read_back = figures.read_csv_text(listed)
    assert read_back == figures.read_csv_text(HEADER + ROWS)
    assert "Phiếu điều tra “chiếu cói” Kén Thôn" in listed
    assert "<HTX> Quảng Chính & tổ hợp tác" in listed

    again = invoke_cli("figures", "import", str(path), env=env)
    assert "2 unchanged; 0 features" in again.stdout
    assert _state(import_engine) == after
    with import_engine.connect() as conn:
        actors = (
            conn.execute(
                sa.text(
                    "SELECT DISTINCT actor FROM feature_history WHERE id > (SELECT max(id) - 4"
                    " FROM feature_history)"
                )
            )
            .scalars()
            .all()
        )
    assert actors == [f"cli:{getpass.getuser()}"]

    table = invoke_cli("figures", "list", "--material", "sedge", env=env).stdout
    assert "TH-Z-010" in table and "M  Kén Thôn" in table

    listed_json = invoke_cli(
        "figures", "list", "--year", "2026", "--format", "json", env=env
    ).stdout
    assert '"basis": "Ước tính: 550 ha × 8 t/ha/vụ × 2 vụ' in listed_json


def test_a_bad_row_writes_nothing_and_names_its_line(
    import_urls: dict[str, str], import_engine: Engine, tmp_path: Path
) -> None:
    env = {"DATABASE_URL": import_urls["app"]}
    before = _state(import_engine)
    for bad_row, words in (
        ("TH-V-999,,sedge,2027,10,false,,\n", "no village with the code 'TH-V-999'"),
        (",TH-Z-010,luong,2027,10,false,,\n", "grows sedge, not luong"),
        ("TH-V-035,,sedge,2027,10,true,,\n", "an estimate needs its basis"),
        ("TH-V-035,,sedge,2027,-3,false,,\n", "tonnes must be a finite number ≥ 0"),
        ("TH-V-035,,sedge,1850,3,false,,\n", "year must be between 1990 and 2100"),
        ("TH-V-035,,vàng,2027,3,false,,\n", "unknown material 'vàng'"),
        ("TH-V-035,,sedge,2027,nan,false,,\n", "tonnes must be a finite number"),
    ):
        path = tmp_path / "bad.csv"
        good = "TH-V-035,,sedge,2027,99,false,,\n"
        path.write_text(HEADER + good + bad_row, encoding="utf-8")
        result = invoke_cli("figures", "import", str(path), env=env, check=False)
        assert result.returncode == 1, result.stdout
        assert "line 3" in result.stderr and words in result.stderr, result.stderr
        assert "Traceback" not in result.stderr + result.stdout
        assert _state(import_engine) == before


def test_record_a_village_and_a_zone(import_urls: dict[str, str], import_engine: Engine) -> None:
    env = {"DATABASE_URL": import_urls["app"]}
    done = invoke_cli(
        "figures",
        "record",
        "--village",
        "TH-V-040",
        "--material",
        "vau",
        "--year",
        "2024",
        "--tonnes",
        "120",
        "--estimate",
        "--basis",
        "Ước tính: 80 hộ × 1,5 t",
        "--source",
        "F2",
        "--source",
        "F3",
        env=env,
    )
    # 2024 is older than the demo's 2025: the village keeps its 2025 figure.
    assert "TH-V-040 vau 2024: 120 t (recorded)" in done.stdout
    assert "current figure follows" not in done.stdout
    zone = invoke_cli(
        "figures", "record", "--zone", "TH-Z-008", "--year", "2030", "--tonnes", "310", env=env
    )
    assert "TH-Z-008 rattan 2030: 310 t (recorded); the feature's current figure follows" in (
        zone.stdout
    )
    refused = invoke_cli(
        "figures",
        "record",
        "--village",
        "TH-V-040",
        "--material",
        "vau",
        "--year",
        "2024",
        "--tonnes",
        "1",
        "--estimate",
        env=env,
        check=False,
    )
    assert refused.returncode == 1 and "an estimate needs its basis" in refused.stderr
    assert "Traceback" not in refused.stderr
    rows = list(
        csv.DictReader(
            io.StringIO(
                invoke_cli(
                    "figures", "list", "--material", "vau", "--format", "csv", env=env
                ).stdout
            )
        )
    )
    assert {(r["village_code"], r["year"], r["sources"]) for r in rows} >= {
        ("TH-V-040", "2024", "F2;F3")
    }


def test_csv_cells_a_spreadsheet_would_run_are_inert_and_read_back_equal() -> None:
    rows = [
        {
            "village_code": "TH-V-035",
            "zone_code": None,
            "material": "sedge",
            "year": 2026,
            "tonnes": 12.25,
            "estimate": True,
            "basis": '=HYPERLINK("http://evil.example","bấm vào đây")',
            "sources": ["+cmd|' /C calc'!A0", "@SUM(1)", "'=already quoted", "-2"],
        }
    ]
    text = figures.to_csv(rows)
    cells = next(csv.DictReader(io.StringIO(text)))
    assert cells["basis"].startswith("'=") and cells["sources"].startswith("'+")
    (back,) = figures.read_csv_text(text)
    assert back.basis == rows[0]["basis"]
    assert list(back.sources) == rows[0]["sources"]
    assert back.tonnes == 12.25 and back.year == 2026 and back.estimate is True
