"""Issue 13 point 1: dry run, all-or-nothing, history, refused files, CRS diagnosis, TCVN3."""

from __future__ import annotations

import uuid
import zipfile
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio
import pytest
import shapely
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from geo.io import legacy_text
from geo.kernel.crs import vn2000_tm3
from geo.kernel.errors import InvalidInput
from tests.io.conftest import ACTOR, do_import, stored, table_counts
from tests.io.test_import_formats import NAMES, villages, write_geojson


def _code() -> str:
    return f"CHK{uuid.uuid4().hex[:8]}"


def test_dry_run_writes_nothing_then_apply_then_again_nothing(
    import_engine: Engine, tmp_path: Path
) -> None:
    source = villages(_code())
    path = write_geojson(source, tmp_path)
    before = table_counts(import_engine)
    dry = do_import(import_engine, path, "villages")
    assert dry.dry_run and not dry.applied
    assert dry.counts["inserted"] == 3 and dry.counts["rejected"] == 0
    assert table_counts(import_engine) == before

    applied = do_import(import_engine, path, "villages", apply=True)
    assert applied.applied and applied.counts["inserted"] == 3
    after = table_counts(import_engine)
    assert after["craft_village"] == before["craft_village"] + 3
    assert after["feature_history"] == before["feature_history"] + 3
    assert after["import_run"] == before["import_run"] + 1
    with import_engine.connect() as conn:
        actors = (
            conn.execute(
                sa.text(
                    "SELECT DISTINCT h.actor FROM feature_history h JOIN craft_village v "
                    "ON h.feature_id = v.id::text AND h.table_name = 'craft_village' "
                    "WHERE v.code = ANY(:codes)"
                ),
                {"codes": list(source["code"])},
            )
            .scalars()
            .all()
        )
        run = conn.execute(
            sa.text("SELECT * FROM import_run WHERE id = :id"), {"id": applied.run_id}
        ).one()
    assert actors == [ACTOR]
    assert (run.file_name, run.into, run.inserted, run.actor) == (
        "data.geojson",
        "villages",
        3,
        ACTOR,
    )
    assert run.sha256 == applied.sha256 and len(run.sha256) == 64

    again = do_import(import_engine, path, "villages", apply=True)
    assert again.counts["unchanged"] == 3 and again.counts["inserted"] == 0
    assert all("unchanged" in " ".join(r.reasons) for r in again.rows)
    final = table_counts(import_engine)
    assert final["feature_history"] == after["feature_history"]
    assert final["craft_village"] == after["craft_village"]

    # A changed row is an update, said so, and lands in the history.
    changed = source.copy()
    changed.loc[0, "households"] = 121
    path2 = tmp_path / "changed"
    path2.mkdir()
    outcome = do_import(import_engine, write_geojson(changed, path2), "villages", apply=True)
    assert outcome.counts["updated"] == 1 and outcome.counts["unchanged"] == 2
    assert "updates it" in " ".join(outcome.rows[0].reasons)
    assert table_counts(import_engine)["feature_history"] == final["feature_history"] + 1


def test_two_rows_one_bad_writes_nothing(import_engine: Engine, tmp_path: Path) -> None:
    source = villages(_code()).iloc[:2].copy()
    source.loc[1, "craft_group"] = "Mây tre đan"  # not a code, nor a label
    path = write_geojson(source, tmp_path)
    before = table_counts(import_engine)
    outcome = do_import(import_engine, path, "villages", apply=True)
    assert not outcome.applied
    assert [r.status for r in outcome.rows] == ["ok", "rejected"]
    reason = " ".join(outcome.rows[1].reasons)
    assert "craft_group" in reason and "'Mây tre đan'" in reason and "G1" in reason
    assert "nothing was written" in outcome.message
    assert table_counts(import_engine) == before

    # The value map fixes it.
    from geo.io.imports import ColumnMapping

    fixed = do_import(
        import_engine,
        path,
        "villages",
        mapping=ColumnMapping(values={"craft_group": {"Mây tre đan": "G4"}}),
    )
    assert fixed.counts["rejected"] == 0


def test_domain_rules_and_duplicates_are_reported(import_engine: Engine, tmp_path: Path) -> None:
    source = villages(_code())
    source.loc[1, "code"] = source.loc[0, "code"]  # duplicate within the file
    source.loc[2, "households"] = -5  # households-nonneg
    path = write_geojson(source, tmp_path)
    before = table_counts(import_engine)
    outcome = do_import(import_engine, path, "villages")
    statuses = [r.status for r in outcome.rows]
    assert statuses == ["ok", "rejected", "rejected"]
    assert "duplicate code" in " ".join(outcome.rows[1].reasons)
    assert "households" in " ".join(outcome.rows[2].reasons)
    assert table_counts(import_engine) == before


def test_invalid_polygon_is_repaired_and_said(import_engine: Engine, tmp_path: Path) -> None:
    bowtie = shapely.Polygon([(105.95, 20.0), (105.96, 20.01), (105.96, 20.0), (105.95, 20.01)])
    assert not bowtie.is_valid
    frame = gpd.GeoDataFrame(
        {"code": [_code()], "name": ["Vùng cói Nga Sơn"], "material": ["Cói"]},
        geometry=[bowtie],
        crs="EPSG:4326",
    )
    outcome = do_import(import_engine, write_geojson(frame, tmp_path), "material-zones")
    row = outcome.rows[0]
    assert row.status == "repaired", row.reasons
    assert "ST_MakeValid" in " ".join(row.reasons)
    assert any("material: Cói → sedge" in n for n in outcome.notes)


def test_tm3_parcel_area(import_engine: Engine, tmp_path: Path) -> None:
    """A 1 000 m × 2 000 m parcel in VN-2000 TM-3 (105.5°) is 200 ha, to 0.1 %."""
    x0, y0 = 560_000.0, 2_200_000.0
    parcel = shapely.box(x0, y0, x0 + 1000, y0 + 2000)
    code = _code()
    frame = gpd.GeoDataFrame(
        {"code": [code], "name": ["Vùng luồng đo đạc"], "material": ["luong"]},
        geometry=[parcel],
        crs=vn2000_tm3(105.5),
    )
    path = tmp_path / "parcel.shp"
    pyogrio.write_dataframe(frame, path)
    path.with_suffix(".prj").unlink()  # the forestry office's file: no .prj
    with pytest.raises(InvalidInput, match="pass --crs"):
        do_import(import_engine, path, "material-zones", apply=True)
    outcome = do_import(import_engine, path, "material-zones", apply=True, crs="vn2000-tm3:105.5")
    assert outcome.applied, outcome.as_json()
    back = stored(import_engine, "material_zone", [code])
    assert back.loc[0, "area_ha"] == pytest.approx(200.0, rel=1e-3)


def test_tm3_metres_declared_wgs84_are_refused_with_cause(
    import_engine: Engine, tmp_path: Path
) -> None:
    frame = gpd.GeoDataFrame(
        {"code": [_code()], "name": ["Vùng luồng"], "material": ["luong"]},
        geometry=[shapely.box(560_000, 2_200_000, 561_000, 2_202_000)],
        crs="EPSG:4326",  # wrong: these are TM-3 metres
    )
    path = write_geojson(frame, tmp_path)
    before = table_counts(import_engine)
    with pytest.raises(InvalidInput, match="look like VN-2000 TM-3 or UTM metres read as WGS 84"):
        do_import(import_engine, path, "material-zones", apply=True)
    assert table_counts(import_engine) == before


def test_swapped_lat_lon_is_named(import_engine: Engine, tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {
            "code": [_code()],
            "name": ["Làng"],
            "kind": ["craft_village"],
            "craft_group": ["G2"],
            "geom_precision": ["surveyed"],
            "lon": ["19.8"],
            "lat": ["105.7"],
        }
    )
    path = tmp_path / "swapped.csv"
    frame.to_csv(path, index=False)
    with pytest.raises(InvalidInput, match="latitude and longitude look swapped"):
        do_import(import_engine, path, "villages")


def test_broken_zip_is_refused(import_engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "lang_nghe.zip"
    path.write_bytes(b"PK\x03\x04 this is not really a zip")
    before = table_counts(import_engine)
    with pytest.raises(InvalidInput, match="not a readable zip"):
        do_import(import_engine, path, "villages", apply=True)
    garbage = tmp_path / "lang_nghe.gpkg"
    garbage.write_bytes(b"\x00\x01garbage" * 100)
    with pytest.raises(InvalidInput, match="GDAL cannot read it"):
        do_import(import_engine, garbage, "villages", apply=True)
    assert table_counts(import_engine) == before


def test_missing_required_columns(import_engine: Engine, tmp_path: Path) -> None:
    source = villages(_code()).drop(columns=["kind", "craft_group"])
    before = table_counts(import_engine)
    with pytest.raises(
        InvalidInput, match="lacks required columns for villages: kind, craft_group"
    ):
        do_import(import_engine, write_geojson(source, tmp_path), "villages", apply=True)
    assert table_counts(import_engine) == before


@pytest.mark.parametrize("encoding", ["tcvn3", "vni"])
def test_legacy_encoded_shapefile_end_to_end(
    import_engine: Engine, tmp_path: Path, encoding: str
) -> None:
    """A TCVN3 (ABC) or VNI Shapefile without .cpg: names come out as proper Vietnamese."""
    source = villages(_code())
    folder = tmp_path / encoding
    folder.mkdir()
    # Write the dBase bytes in the legacy encoding: latin1 maps each byte to one char.
    legacy = source.copy()
    legacy["name"] = [legacy_text.encode(n, encoding).decode("latin1") for n in NAMES]
    legacy = legacy.rename(columns={"name": "ten"})
    pyogrio.write_dataframe(legacy, folder / "lang.shp", encoding="latin1")
    # Such files come without a .cpg (or with a wrong one): the bytes must be detected.
    (folder / "lang.cpg").unlink(missing_ok=True)
    archive = tmp_path / f"lang_{encoding}.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        for file in folder.iterdir():
            zipped.write(file, file.name)
    outcome = do_import(import_engine, archive, "villages", apply=True)
    assert outcome.applied, outcome.as_json()
    assert outcome.encoding == encoding
    assert any("ten → name" in note for note in outcome.notes)
    back = stored(import_engine, "craft_village", list(source["code"]))
    assert list(back["name"]) == NAMES
