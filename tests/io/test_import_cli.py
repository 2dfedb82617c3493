"""``craftmap import``: dry run by default, --apply, reports, a refused file without a traceback."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

from sqlalchemy.engine import Engine

from tests.io.conftest import table_counts
from tests.io.test_import_formats import villages, write_geojson
from tests.test_cli import invoke_cli, run_cli


def test_cli_dry_run_apply_and_reports(
    import_urls: dict[str, str], import_engine: Engine, tmp_path: Path
) -> None:
    env = {"DATABASE_URL": import_urls["app"]}
    source = villages(f"CLI{uuid.uuid4().hex[:6]}")
    path = write_geojson(source, tmp_path)
    before = table_counts(import_engine)
    # The one real `craftmap` process of this file (the entry point); the rest run in this
    # process (tests.test_cli.invoke_cli).
    dry = run_cli(
        "import", str(path), "--into", "villages", "--report", str(tmp_path / "r.json"), env=env
    )
    assert "dry run: nothing was written" in dry.stdout
    assert "checked 3/3 rows" in dry.stderr  # the plain progress on a non-terminal
    assert table_counts(import_engine) == before
    report = json.loads((tmp_path / "r.json").read_text("utf-8"))
    assert report["counts"]["inserted"] == 3 and report["dry_run"] is True

    done = invoke_cli(
        "import",
        str(path),
        "--into",
        "villages",
        "--apply",
        "--report",
        str(tmp_path / "r.html"),
        env=env,
    )
    assert "3 new" in done.stdout and "imported" in done.stdout
    page = (tmp_path / "r.html").read_text("utf-8")
    assert "Báo cáo nhập dữ liệu" in page and "Làng nghề mây tre đan Hoằng Lộc" in page
    assert table_counts(import_engine)["craft_village"] == before["craft_village"] + 3

    csv_run = invoke_cli(
        "import", str(path), "--into", "villages", "--report", str(tmp_path / "r.csv"), env=env
    )
    assert "3 unchanged" in csv_run.stdout
    assert (tmp_path / "r.csv").read_text("utf-8-sig").splitlines()[0] == (
        "row,key,name,status,action,reasons"
    )


def test_cli_refused_file_is_one_readable_line(import_urls: dict[str, str], tmp_path: Path) -> None:
    env = {"DATABASE_URL": import_urls["app"]}
    broken = tmp_path / "lang.zip"
    broken.write_bytes(b"not a zip at all")
    result = invoke_cli(
        "import", str(broken), "--into", "villages", "--apply", env=env, check=False
    )
    assert result.returncode == 1
    assert "not a readable zip archive" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout

    bad_into = invoke_cli("import", str(broken), "--into", "bananas", env=env, check=False)
    assert bad_into.returncode == 1 and "import into one of villages" in bad_into.stderr


def test_cli_rejected_rows_exit_non_zero(import_urls: dict[str, str], tmp_path: Path) -> None:
    env = {"DATABASE_URL": import_urls["app"]}
    source = villages(f"CLR{uuid.uuid4().hex[:6]}")
    source.loc[0, "kind"] = "làng cổ"
    path = write_geojson(source, tmp_path)
    result = invoke_cli("import", str(path), "--into", "villages", "--apply", env=env, check=False)
    assert result.returncode == 1
    assert "row 1" in result.stderr and "kind: unknown value 'làng cổ'" in result.stderr
    assert "nothing was written" in result.stdout
