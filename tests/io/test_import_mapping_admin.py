"""Issue 13 point 1: saved column mappings, and villages re-assigned after an admin-units import."""

from __future__ import annotations

import uuid
from pathlib import Path

import geopandas as gpd
import pytest
import shapely
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from geo.io.imports import ColumnMapping, parse_inline
from geo.kernel.errors import InvalidInput, NotFound
from tests.io.conftest import ACTOR, do_import, stored, table_counts
from tests.io.test_import_formats import NAMES, villages, write_geojson


def _office_file(tmp_path: Path, prefix: str) -> Path:
    """Villages as a provincial office keeps them: Vietnamese headers and words for codes."""
    source = villages(prefix)
    office = gpd.GeoDataFrame(
        {
            "Mã làng": source["code"],
            "Tên làng": source["name"],
            "Loại": ["Làng nghề", "Làng nghề truyền thống", "Làng nghề"],
            "Nhóm nghề": ["Mây tre đan", "Đúc đồng", "Đúc đồng"],
            "Độ chính xác": ["đo đạc"] * 3,
        },
        geometry=source.geometry,
        crs=source.crs,
    )
    return write_geojson(office, tmp_path)


def test_mapping_saved_by_name_and_reused(import_engine: Engine, tmp_path: Path) -> None:
    prefix = f"MAP{uuid.uuid4().hex[:6]}"
    path = _office_file(tmp_path, prefix)
    # Without a mapping the file lacks craftmap's columns: refused, naming them.
    with pytest.raises(InvalidInput, match="lacks required columns"):
        do_import(import_engine, path, "villages")
    mapping = parse_inline(
        [
            "Mã làng=code",
            "Tên làng=name",
            "Loại=kind",
            "Nhóm nghề=craft_group",
            "Độ chính xác=geom_precision",
        ],
        ["craft_group:Mây tre đan=G4", "craft_group:Đúc đồng=G2"],
    )
    name = f"so-vhttdl-{uuid.uuid4().hex[:6]}"
    dry = do_import(import_engine, path, "villages", mapping=mapping, save_mapping=name)
    # kind by its Vietnamese label, geom_precision too: said in the notes.
    assert dry.counts["rejected"] == 0, dry.as_json()
    assert any("kind: Làng nghề truyền thống → traditional_craft_village" in n for n in dry.notes)
    with import_engine.connect() as conn:
        saved = conn.execute(
            sa.text('SELECT "into", mapping, saved_by FROM import_mapping WHERE name = :n'),
            {"n": name},
        ).one()
    assert saved.into == "villages" and saved.saved_by == ACTOR
    assert saved.mapping["values"]["craft_group"]["Mây tre đan"] == "G4"

    reused = do_import(import_engine, path, "villages", mapping_name=name, apply=True)
    assert reused.applied, reused.as_json()
    back = stored(import_engine, "craft_village", [f"{prefix}-{i}" for i in range(3)])
    assert list(back["name"]) == NAMES
    assert list(back["craft_group"]) == ["G4", "G2", "G2"]
    assert list(back["kind"]) == ["craft_village", "traditional_craft_village", "craft_village"]

    with pytest.raises(NotFound, match="no saved mapping"):
        do_import(import_engine, path, "villages", mapping_name="never-saved")
    with pytest.raises(InvalidInput, match="saved for villages"):
        do_import(import_engine, path, "material-zones", mapping_name=name)


def test_mapping_json_form_is_checked() -> None:
    assert ColumnMapping.from_json({"fields": {"Tên": "name"}}).fields == {"Tên": "name"}
    with pytest.raises(InvalidInput):
        ColumnMapping.from_json({"fields": ["Tên"]})
    with pytest.raises(InvalidInput, match="source=target"):
        parse_inline(["no-equals-sign"], [])


def test_admin_units_import_reassigns_villages(import_engine: Engine, tmp_path: Path) -> None:
    prefix = f"ADM{uuid.uuid4().hex[:6]}"
    source = villages(prefix).iloc[:1].copy()
    source["commune_code"] = ["15835"]  # the legacy commune (Thiệu Trung, before 2025)
    (tmp_path / "v").mkdir()
    assert do_import(
        import_engine, write_geojson(source, tmp_path / "v"), "villages", apply=True
    ).applied
    lon, lat = source.geometry.iloc[0].x, source.geometry.iloc[0].y
    new_code = f"9{uuid.uuid4().int % 10**6:06d}"
    communes = gpd.GeoDataFrame(
        {
            "code": [new_code],
            "scheme": ["NQ1686/2025"],
            "name": ["Xã Thiệu Trung mới"],
            "level": ["commune"],
            "valid_from": ["2025-07-01"],
        },
        geometry=[shapely.box(lon - 0.01, lat - 0.01, lon + 0.01, lat + 0.01)],
        crs="EPSG:4326",
    )
    (tmp_path / "a").mkdir()
    path = write_geojson(communes, tmp_path / "a")
    before = table_counts(import_engine)
    dry = do_import(import_engine, path, "admin-units")
    assert any(c["village"] == f"{prefix}-0" for c in dry.reassigned)
    assert table_counts(import_engine) == before

    outcome = do_import(import_engine, path, "admin-units", apply=True)
    assert outcome.applied, outcome.as_json()
    change = next(c for c in outcome.reassigned if c["village"] == f"{prefix}-0")
    assert change["old_commune_code"] == "15835" and change["new_commune_code"] == new_code
    back = stored(import_engine, "craft_village", [f"{prefix}-0"])
    assert back.loc[0, "commune_code"] == new_code
    assert back.loc[0, "commune_name"] == "Xã Thiệu Trung mới"
    with import_engine.connect() as conn:
        history = conn.execute(
            sa.text(
                "SELECT h.before->>'commune_code', h.after->>'commune_code', h.actor "
                "FROM feature_history h WHERE h.table_name = 'craft_village' "
                "AND h.feature_id = :id ORDER BY h.id DESC LIMIT 1"
            ),
            {"id": str(back.loc[0, "id"])},
        ).one()
    assert tuple(history) == ("15835", new_code, ACTOR)

    # Once boundaries are loaded, a village outside all of them is outside the province.
    outside = villages(f"OUT{uuid.uuid4().hex[:6]}").iloc[[1]]
    (tmp_path / "o").mkdir()
    refused = do_import(import_engine, write_geojson(outside, tmp_path / "o"), "villages")
    assert refused.rows[0].status == "rejected"
    assert "outside the province" in " ".join(refused.rows[0].reasons)
