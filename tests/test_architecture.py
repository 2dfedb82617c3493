"""The rooms of DESIGN.md stay apart: import direction and where PostGIS SQL may live."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO_ROOT

POSTGIS_ASSEMBLY = re.compile(r"ST_AsMVT|ST_AsMVTGeom|ST_TileEnvelope|ST_AsGeoJSON|json_agg")


def test_import_contracts_hold() -> None:
    lint_imports = Path(sys.executable).parent / "lint-imports"
    result = subprocess.run(
        [str(lint_imports)], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "7 kept, 0 broken" in result.stdout


def test_postgis_assembly_sql_lives_only_in_geo() -> None:
    offenders = [
        str(path.relative_to(REPO_ROOT))
        for room in ("api", "maps")
        for path in (REPO_ROOT / room).rglob("*")
        if path.is_file()
        and path.suffix in {".py", ".sql", ".html"}
        and POSTGIS_ASSEMBLY.search(path.read_text(encoding="utf-8"))
    ]
    assert offenders == []


def test_types_check_strictly() -> None:
    mypy = Path(sys.executable).parent / "mypy"
    result = subprocess.run([str(mypy)], cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:]


def test_ruff_is_clean() -> None:
    ruff = Path(sys.executable).parent / "ruff"
    result = subprocess.run(
        [str(ruff), "check", "."], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout[-3000:]
