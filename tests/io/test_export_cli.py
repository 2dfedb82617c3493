"""``craftmap export``, run as a user runs it: the file it writes, and readable refusals."""

from __future__ import annotations

from pathlib import Path

import pyogrio
from pyproj import CRS

from tests.test_cli import invoke_cli, run_cli


def test_export_writes_the_filtered_selection(database_url: str, tmp_path: Path) -> None:
    env = {"DATABASE_URL": database_url}
    out = tmp_path / "cói.shp.zip"
    # The one real `craftmap` process of this file (the entry point); the rest run in this
    # process (tests.test_cli.invoke_cli).
    done = run_cli(
        "export",
        "material-zones",
        str(out),
        "--crs",
        "EPSG:5897",
        "--filter",
        "material = 'sedge'",
        "--where",
        "status=existing",
        env=env,
    )
    frame = pyogrio.read_dataframe(out)
    assert len(frame) > 0
    assert set(frame["material"]) == {"sedge"} and set(frame["status"]) == {"existing"}
    assert f"Wrote {len(frame)} features of material-zones to {out}" in done.stdout
    assert "shortened" in done.stderr  # declared_area_ha and friends, listed in README.txt
    assert CRS(pyogrio.read_info(out)["crs"]).equals(CRS.from_epsg(5897), ignore_axis_order=True)
    # Nothing is left beside the file.
    assert sorted(p.name for p in tmp_path.iterdir()) == [out.name]

    kml = invoke_cli(
        "export",
        "routes",
        str(tmp_path / "routes"),
        "--format",
        "kml",
        "--crs",
        "EPSG:5897",
        env=env,
    )
    assert "always WGS 84" in kml.stderr
    assert pyogrio.read_info(tmp_path / "routes")["features"] > 0


def test_bad_requests_get_one_readable_line(database_url: str, tmp_path: Path) -> None:
    env = {"DATABASE_URL": database_url}
    (tmp_path / "taken.gpkg").write_bytes(b"")
    cases = [
        (["villages", str(tmp_path / "x.docx")], "--format"),
        (["villages", str(tmp_path / "x.gpkg"), "--format", "dwg"], "unknown export format"),
        (["no-such", str(tmp_path / "x.gpkg")], "no collection"),
        (["villages", str(tmp_path / "x.gpkg"), "--crs", "EPSG:9999"], "unsupported CRS"),
        (["villages", str(tmp_path / "x.gpkg"), "--filter", "name ==="], "filter"),
        (["villages", str(tmp_path / "x.gpkg"), "--where", "nosuch=1"], "--where"),
        (["villages", str(tmp_path / "x.gpkg"), "--where", "crafts=mây"], "--where"),
        (["villages", str(tmp_path / "taken.gpkg")], "--force"),
        (["villages", str(tmp_path / "nope" / "x.gpkg")], "no folder"),
    ]
    for args, said in cases:
        result = invoke_cli("export", *args, env=env, check=False)
        assert result.returncode == 1, (args, result.stdout, result.stderr)
        assert said in result.stderr and "Traceback" not in result.stderr, (args, result.stderr)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["taken.gpkg"]
