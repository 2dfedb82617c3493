"""The rooms of DESIGN.md stay apart: import direction and where PostGIS SQL may live."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
import tomllib
from pathlib import Path

from tests.conftest import REPO_ROOT

POSTGIS_ASSEMBLY = re.compile(r"ST_AsMVT|ST_AsMVTGeom|ST_TileEnvelope|ST_AsGeoJSON|json_agg")
# Only the composition roots (api/main.py, api/cli.py, migrations/env.py) read the
# environment, the working folder or a settings class; geo/ and maps/ are given values.
ENVIRONMENT_READS = {"environ", "environb", "getenv", "getenvb", "getcwd", "cwd"}
SETTINGS_CLASSES = {"ApiSettings", "DatabaseSettings", "BaseSettings"}
SETTINGS_MODULES = ("pydantic_settings", "api.settings", "ops.settings", "dotenv")


def test_import_contracts_hold() -> None:
    lint_imports = Path(sys.executable).parent / "lint-imports"
    result = subprocess.run(
        [str(lint_imports)], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr
    # Every contract in pyproject.toml is checked, none silently skipped.
    pyproject = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    contracts = pyproject["tool"]["importlinter"]["contracts"]
    assert f"{len(contracts)} kept, 0 broken" in result.stdout


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


def _environment_reads(path: Path) -> list[str]:
    """Where ``path`` reads the environment or reaches for a settings class, as file:line."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names: list[str] = []
        if isinstance(node, ast.Attribute):
            names = [node.attr]
        elif isinstance(node, ast.Name):
            names = [node.id]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [node.module or "", *(alias.name for alias in node.names)]
        for name in names:
            if (
                name in ENVIRONMENT_READS
                or name in SETTINGS_CLASSES
                or name.startswith(SETTINGS_MODULES)
            ):
                found.append(f"{path.relative_to(REPO_ROOT)}:{node.lineno}: {name}")
    return found


def test_only_the_composition_roots_read_settings() -> None:
    offenders = [
        hit
        for room in ("geo", "maps")
        for path in sorted((REPO_ROOT / room).rglob("*.py"))
        for hit in _environment_reads(path)
    ]
    assert offenders == []
