"""``craftmap analysis zone-checks`` (issue 14 point 4), run as a user would run it."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import demo_database
from tests.factories import make_zone
from tests.test_cli import invoke_cli, run_cli


@pytest.fixture(scope="module")
def checked_url(pg_server_url: str) -> Iterator[str]:
    """A demo database of the module's own, plus an expired zone and an overlapping pair."""
    with demo_database(pg_server_url, "craftmap_checks") as url:
        make_zone(
            url,
            at=(105.40, 9.60),
            code="T-CHECK-EXPIRED",
            # A terminal escape sequence typed into a name must not reach the terminal.
            name="Vùng hết hạn \x1b[31mđỏ",
            certification_scheme="VietGAP",
            certificate_no="VG-9",
            certificate_expiry="2026-01-01",
            annual_capacity_t=10,
        )
        make_zone(url, at=(105.405, 9.60), code="T-CHECK-OVERLAP", annual_capacity_t=10)
        yield url


def test_table_lists_reasons_in_the_language_asked(checked_url: str) -> None:
    env = {"DATABASE_URL": checked_url}
    result = invoke_cli("analysis", "zone-checks", "--as-of", "2026-06-15", env=env)
    lines = result.stdout.splitlines()
    assert lines[0].startswith("Zone checks as of 15/06/2026: 17 zones checked")
    assert "haul 50 km (straight line)" in result.stdout and "proposed included" in result.stdout
    expired = next(line for line in lines if "T-CHECK-EXPIRED" in line and "certificate" in line)
    assert expired.startswith("error") and "Chứng chỉ đã hết hạn ngày 01/01/2026" in expired
    assert "\x1b" not in result.stdout and "Vùng hết hạn ?[31mđỏ" in result.stdout
    # Errors are listed first, then warnings, then infos.
    severities = [line.split()[0] for line in lines[lines.index("") + 2 :]]
    assert severities == sorted(severities, key=["error", "warning", "info"].index)
    english = invoke_cli(
        "analysis", "zone-checks", "--as-of", "2026-06-15", "--lang", "en", env=env
    ).stdout
    assert "Certificate expired on 2026-01-01 (165 days ago)" in english


def test_json_csv_geojson_and_out(checked_url: str, tmp_path: Path) -> None:
    env = {"DATABASE_URL": checked_url}
    args = ("analysis", "zone-checks", "--as-of", "2026-06-15", "--checks", "overlap,certificate")
    body = json.loads(invoke_cli(*args, "--format", "json", env=env).stdout)
    assert body["parameters"]["checks"] == ["overlap", "certificate"]
    assert sorted((f["code"], f["check"]) for f in body["findings"]) == [
        ("T-CHECK-EXPIRED", "certificate"),
        ("T-CHECK-EXPIRED", "overlap"),
        ("T-CHECK-OVERLAP", "overlap"),
    ]
    out = tmp_path / "checks.csv"
    written = invoke_cli(
        *args, "--format", "csv", "--out", str(out), "--api-root", "https://gis.example", env=env
    )
    assert "Wrote 3 findings" in written.stderr and written.stdout == ""
    data = out.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))
    assert len(rows) == 3 and rows[0]["url"].startswith(
        "https://gis.example/collections/material-zones/items/"
    )
    shapes = json.loads(invoke_cli(*args, "--format", "geojson", env=env).stdout)
    kinds = sorted(f["properties"]["kind"] for f in shapes["features"])
    assert kinds == ["overlap", "zone", "zone"]


def test_exit_codes(checked_url: str) -> None:
    env = {"DATABASE_URL": checked_url}
    base = ("analysis", "zone-checks", "--as-of", "2026-06-15")
    # The list is information: exit 0 even with errors in it...
    assert invoke_cli(*base, env=env, check=False).returncode == 0
    # ...unless asked to fail on them (cron).
    # A real process, as cron runs it: its exit code is what the option is for.
    failed = run_cli(*base, "--fail-on", "error", env=env, check=False)
    assert failed.returncode == 1 and "T-CHECK-EXPIRED" in failed.stdout
    calm = invoke_cli(
        *base, "--fail-on", "error", "--checks", "capacity_unknown", env=env, check=False
    )
    assert calm.returncode == 0
    for bad in (
        ["--as-of", "30/11/2026"],
        ["--haul-km", "-3"],
        ["--checks", "everything"],
        ["--format", "xml"],
        ["--material", "gold"],
    ):
        result = invoke_cli(*base, *bad, env=env, check=False)
        assert result.returncode == 1, bad
        assert result.stderr.startswith("craftmap: ") and "Traceback" not in result.stderr
