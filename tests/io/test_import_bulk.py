"""The set-based import (geo/io/imports/bulk.py) against the API's per-row write path.

Two provinces, a commune in each and an exclusion area are loaded in this module's
database (far from the demo's Thanh Hóa), so every rule a zone or a village can break
is live: the province outline, zone-in-province, village-in-commune, exclusions.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import geopandas as gpd
import pytest
import shapely
import shapely.geometry
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from geo.kernel import collections as ids
from geo.kernel.crs import CRS84
from geo.store import catalog, writes
from geo.store.db import set_actor
from tests.io.conftest import ACTOR, do_import
from tests.io.test_import_formats import write_gpkg

P1 = shapely.box(106.0, 21.0, 106.2, 21.2)  # province T91
P2 = shapely.box(106.2, 21.0, 106.4, 21.2)  # province T92
C1 = shapely.box(106.0, 21.0, 106.1, 21.1)  # commune T9101 of T91
C2 = shapely.box(106.25, 21.05, 106.3, 21.1)  # commune T9201 of T92
NO_GO = shapely.box(106.15, 21.15, 106.17, 21.17)  # an exclusion area in T91


@pytest.fixture(scope="module")
def loaded(import_engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> Engine:
    """The module's database with the provinces, communes and exclusion area."""
    units = gpd.GeoDataFrame(
        {
            "code": ["T91", "T92", "T9101", "T9201"],
            "scheme": ["NQ1686/2025"] * 4,
            "name": ["Tỉnh Thử Một", "Tỉnh Thử Hai", "Xã Thử Một", "Xã Thử Hai"],
            "level": ["province", "province", "commune", "commune"],
            "parent_code": [None, None, "T91", "T92"],
        },
        geometry=[P1, P2, C1, C2],
        crs="EPSG:4326",
    )
    folder = tmp_path_factory.mktemp("units")
    done = do_import(import_engine, write_gpkg(units, folder), ids.ADMIN_UNITS, apply=True)
    assert done.applied, done.as_json()
    area = gpd.GeoDataFrame({"ten": ["Rừng đặc dụng"]}, geometry=[NO_GO], crs="EPSG:4326")
    folder = tmp_path_factory.mktemp("no_go")
    done = do_import(
        import_engine,
        write_gpkg(area, folder),
        "layers/vung-cam-thu",
        apply=True,
        layer_kind="exclusion",
    )
    assert done.applied, done.as_json()
    return import_engine


def _prefix() -> str:
    return f"BLK{uuid.uuid4().hex[:6]}"


def _parcel(x: float, y: float, size: float = 0.004) -> shapely.Polygon:
    # An irregular ring, so a reordered or rounded vertex would show in the bytes.
    return shapely.Polygon(
        [(x, y), (x + size, y + size * 0.13), (x + size * 1.071, y + size), (x + 0.0001, y + size)]
    )


def _zones(prefix: str) -> gpd.GeoDataFrame:
    codes = [f"{prefix}-{i}" for i in range(4)]
    return gpd.GeoDataFrame(
        {
            "code": codes,
            "name": ["Vùng luồng Thử", "Vùng mây Thử", "Vùng cói Thử", "Vùng tre Thử"],
            "material": ["luong", "rattan", "sedge", "bamboo"],
            "species": ["Dendrocalamus barbatus", None, None, "Bambusa"],
            "declared_area_ha": [12.5, None, 0.75, 3.0],
            "commune_codes": ["T9101", "", "T9101;T9201", ""],
            "certificate_expiry": [None, "2027-06-30", None, None],
        },
        geometry=[
            _parcel(106.01, 21.01),
            _parcel(106.03, 21.02),
            shapely.box(106.195, 21.05, 106.205, 21.06),  # across T91/T92: the communes name both
            _parcel(106.12, 21.12),
        ],
        crs="EPSG:4326",
    )


def _villages(prefix: str) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {
            "code": [f"{prefix}-v{i}" for i in range(3)],
            "name": ["Làng mây tre đan Thử", "Làng gốm Thử", "Làng dệt Thử"],
            "kind": ["craft_village", "traditional_craft_village", "craft_village"],
            "craft_group": ["G4", "G2", "G2"],
            "geom_precision": ["surveyed", "commune_centroid", "surveyed"],
            "households": [120, 1500, None],
            "commune_code": ["T9101", None, "T9201"],
        },
        geometry=[
            shapely.Point(106.0512345678901, 21.0298765432109),
            shapely.Point(106.15, 21.1),
            shapely.Point(106.27, 21.07),
        ],
        crs="EPSG:4326",
    )


def _state(engine: Engine, table: str, codes: list[str]) -> tuple[list[dict[str, Any]], int]:
    """Stored rows (every column but the id and the clocks; geometries as EWKB) and history."""
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                f"SELECT t.*, ST_AsEWKB(t.geom) AS geom_ewkb FROM {table} t "
                "WHERE code = ANY(:codes) ORDER BY code"
            ),
            {"codes": codes},
        ).all()
        history = conn.execute(
            sa.text(
                f"SELECT count(*) FROM feature_history h JOIN {table} t "
                "ON h.table_name = :table AND h.feature_id = t.id::text WHERE t.code = ANY(:codes)"
            ),
            {"codes": codes, "table": table},
        ).scalar_one()
    skipped = {"id", "created_at", "updated_at", "geom"}
    states = [{k: v for k, v in r._mapping.items() if k not in skipped} for r in rows]
    return states, history


def _api_creates(engine: Engine, into: str, frame: gpd.GeoDataFrame, prefix: str) -> None:
    """Each row written as the API writes one: writes.create, with the import's values."""
    collection = catalog.BY_ID[into]
    options = writes.WriteOptions(actor=ACTOR, content_crs=CRS84)
    with engine.begin() as conn:
        set_actor(conn, ACTOR)
        for record, geom in zip(
            frame.drop(columns="geometry").to_dict("records"), frame.geometry, strict=True
        ):
            properties = {k: v for k, v in record.items() if not _blank(v)}
            properties["code"] = properties["code"].replace("API", prefix)
            if "commune_codes" in record:
                properties["commune_codes"] = [c for c in record["commune_codes"].split(";") if c]
            for name in ("households",):
                if name in properties:
                    properties[name] = int(properties[name])
            feature = {
                "type": "Feature",
                "properties": properties,
                "geometry": json.loads(json.dumps(shapely.geometry.mapping(geom))),
            }
            writes.create(conn, collection, feature, options)


def _blank(value: Any) -> bool:
    return value is None or value == "" or (isinstance(value, float) and value != value)


@pytest.mark.parametrize(
    ("into", "table", "make"),
    [(ids.MATERIAL_ZONES, "material_zone", _zones), (ids.VILLAGES, "craft_village", _villages)],
)
def test_import_stores_what_the_api_stores(
    loaded: Engine, tmp_path: Path, into: str, table: str, make: Any
) -> None:
    """The same rows through writes.create and through the import: identical rows, history."""
    api_prefix, import_prefix = _prefix(), _prefix()
    _api_creates(loaded, into, make("API"), api_prefix)
    outcome = do_import(loaded, write_gpkg(make(import_prefix), tmp_path), into, apply=True)
    assert outcome.applied, outcome.as_json()
    assert [r.action for r in outcome.rows] == ["insert"] * len(outcome.rows)
    api_rows, api_history = _state(loaded, table, [f"{api_prefix}-{c}" for c in _suffixes(make)])
    imported, imported_history = _state(
        loaded, table, [f"{import_prefix}-{c}" for c in _suffixes(make)]
    )
    assert len(api_rows) == len(outcome.rows)
    for row in api_rows:
        row["code"] = row["code"].replace(api_prefix, "X")
    for row in imported:
        row["code"] = row["code"].replace(import_prefix, "X")
    assert imported == api_rows
    assert imported_history == api_history == len(outcome.rows)

    # Again with one row changed: one update, the rest unchanged, one more history row.
    frame = make(import_prefix)
    frame.loc[1, "name"] = frame.loc[1, "name"] + " (sửa)"
    (tmp_path / "again").mkdir()
    again = do_import(loaded, write_gpkg(frame, tmp_path / "again"), into, apply=True)
    assert [r.action for r in again.rows] == ["unchanged", "update"] + ["unchanged"] * (
        len(again.rows) - 2
    )
    after, history = _state(loaded, table, [f"{import_prefix}-{c}" for c in _suffixes(make)])
    assert history == imported_history + 1
    assert after[1]["version"] == imported[1]["version"] + 1
    assert [r["version"] for i, r in enumerate(after) if i != 1] == [
        r["version"] for i, r in enumerate(imported) if i != 1
    ]


def _suffixes(make: Any) -> list[str]:
    return [str(c).split("-", 1)[1] for c in make("P")["code"]]


def test_each_rule_names_its_rows_as_the_per_row_path_did(loaded: Engine, tmp_path: Path) -> None:
    """A file whose rows break different rules: the reasons and actions, word for word."""
    prefix = _prefix()
    base = gpd.GeoDataFrame(
        {
            "code": [f"{prefix}-same", f"{prefix}-changed"],
            "name": ["Vùng luồng cũ", "Vùng mây cũ"],
            "material": ["luong", "rattan"],
        },
        geometry=[_parcel(106.02, 21.12), _parcel(106.05, 21.13)],
        crs="EPSG:4326",
    )
    (tmp_path / "base").mkdir()
    first = do_import(loaded, write_gpkg(base, tmp_path / "base"), ids.MATERIAL_ZONES, apply=True)
    assert first.applied, first.as_json()
    bowtie = shapely.Polygon(
        [(106.08, 21.08), (106.09, 21.09), (106.09, 21.08), (106.08, 21.09), (106.08, 21.08)]
    )
    flat = shapely.Polygon([(106.08, 21.03), (106.09, 21.03), (106.085, 21.03), (106.08, 21.03)])
    rows = [
        (f"{prefix}-ok", "Vùng tốt", [], _parcel(106.03, 21.03)),
        (f"{prefix}-bkk", "Vùng ở Bangkok", [], _parcel(100.5, 13.75)),
        (f"{prefix}-nogo", "Vùng trong rừng đặc dụng", [], _parcel(106.155, 21.155)),
        (f"{prefix}-bowtie", "Vùng nơ", [], bowtie),
        (f"{prefix}-flat", "Vùng dẹt", [], flat),
        (f"{prefix}-ok", "Vùng trùng mã", [], _parcel(106.04, 21.04)),
        (f"{prefix}-same", "Vùng luồng cũ", [], _parcel(106.02, 21.12)),
        (f"{prefix}-changed", "Vùng mây mới", [], _parcel(106.05, 21.13)),
        (f"{prefix}-sea", "Vùng ngoài tỉnh", [], _parcel(106.5, 21.3)),
        (f"{prefix}-wrong", "Vùng sai xã", ["T9201"], _parcel(106.06, 21.06)),
        (f"{prefix}-bowtie-nogo", "Vùng nơ trong rừng", [], _bowtie_at(106.158, 21.158)),
    ]
    frame = gpd.GeoDataFrame(
        {
            "code": [r[0] for r in rows],
            "name": [r[1] for r in rows],
            "material": ["luong"] * len(rows),
            "commune_codes": [";".join(r[2]) for r in rows],
        },
        geometry=[r[3] for r in rows],
        crs="EPSG:4326",
    )
    frame.loc[6, "material"] = "luong"
    frame.loc[7, "material"] = "rattan"
    # The stored "same" zone has no commune_codes: the file's empty cell leaves it so.
    outcome = do_import(loaded, write_gpkg(frame, tmp_path), ids.MATERIAL_ZONES, apply=True)
    assert not outcome.applied
    got = [(r.status, r.action, r.reasons) for r in outcome.rows]
    outline = "outside the province (the loaded administrative units)"
    assert got == [
        ("ok", "insert", []),
        (
            "rejected",
            "",
            [
                "outside Vietnam: longitude 100.5, latitude 13.75 lies outside Vietnam "
                "(longitude 102–118, latitude 6–24)"
            ],
        ),
        (
            "rejected",
            "",
            [
                "zone-clear-of-exclusions: the zone overlaps exclusion areas "
                f"vung-cam-thu/{_no_go_id(loaded)} (17.54 ha); send "
                "allow-exclusion-overlap=true to save it knowingly"
            ],
        ),
        (
            "repaired",
            "insert",
            ["invalid geometry (Self-intersection[106.085 21.085]) repaired with ST_MakeValid"],
        ),
        (
            "rejected",
            "",
            [
                "invalid geometry (Self-intersection[106.085 21.03]): invalid geometry that "
                "ST_MakeValid cannot repair to this type"
            ],
        ),
        ("rejected", "", [f"duplicate code '{prefix}-ok' in the file (also row 1)"]),
        ("ok", "unchanged", [f"{prefix}-same exists and is unchanged"]),
        ("ok", "update", [f"{prefix}-changed exists: this row updates it"]),
        ("rejected", "", [outline]),
        (
            "rejected",
            "",
            [
                "zone-in-province: the zone reaches outside Tỉnh Thử Hai (T92), the province "
                "of its communes; redraw the zone or correct commune_codes"
            ],
        ),
        (
            "rejected",
            "",
            [
                "invalid geometry (Self-intersection[106.159 21.159]) repaired with ST_MakeValid",
                "zone-clear-of-exclusions: the zone overlaps exclusion areas "
                f"vung-cam-thu/{_no_go_id(loaded)} (2.30 ha); send "
                "allow-exclusion-overlap=true to save it knowingly",
            ],
        ),
    ]
    counts = outcome.counts
    assert (counts["inserted"], counts["updated"], counts["unchanged"]) == (2, 1, 1)
    # All or nothing: the changed zone keeps its old name, the new ones are not there.
    with loaded.connect() as conn:
        names = dict(
            conn.execute(
                sa.text("SELECT code, name FROM material_zone WHERE code LIKE :p"),
                {"p": f"{prefix}-%"},
            ).all()
        )
    assert names == {f"{prefix}-same": "Vùng luồng cũ", f"{prefix}-changed": "Vùng mây cũ"}


def _bowtie_at(x: float, y: float) -> shapely.Polygon:
    d = 0.002
    return shapely.Polygon([(x, y), (x + d, y + d), (x + d, y), (x, y + d), (x, y)])


def _no_go_id(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(
                sa.text(
                    "SELECT f.id FROM reference_feature f JOIN reference_layer l "
                    "ON l.id = f.layer_id WHERE l.name = 'vung-cam-thu'"
                )
            ).scalar_one()
        )


def test_statements_do_not_grow_with_the_rows(loaded: Engine, tmp_path: Path) -> None:
    """The set-based path: as many SQL statements for 60 zones as for 3 (no per-row trips)."""

    def statements(count: int) -> int:
        prefix = _prefix()
        frame = gpd.GeoDataFrame(
            {
                "code": [f"{prefix}-{i}" for i in range(count)],
                "name": [f"Vùng luồng số {i}" for i in range(count)],
                "material": ["luong"] * count,
            },
            geometry=[_parcel(106.01 + 0.001 * (i % 50), 21.01 + 0.002 * i) for i in range(count)],
            crs="EPSG:4326",
        )
        folder = tmp_path / str(count)
        folder.mkdir()
        path = write_gpkg(frame, folder)
        seen: list[str] = []

        def record(*args: Any) -> None:
            seen.append(args[2])

        sa.event.listen(loaded, "before_cursor_execute", record)
        try:
            outcome = do_import(loaded, path, ids.MATERIAL_ZONES, apply=True)
        finally:
            sa.event.remove(loaded, "before_cursor_execute", record)
        assert outcome.applied and outcome.counts["inserted"] == count, outcome.as_json()
        return len(seen)

    assert statements(60) == statements(3)


def test_a_broken_constraint_is_named_on_its_row(loaded: Engine, tmp_path: Path) -> None:
    """A CHECK only the database knows (a certificate without its scheme) names its row.

    The set's INSERT cannot say which row broke it: the import redoes the rows one by one.
    """
    prefix = _prefix()
    frame = gpd.GeoDataFrame(
        {
            "code": [f"{prefix}-a", f"{prefix}-b"],
            "name": ["Vùng luồng có chứng chỉ", "Vùng luồng thiếu tổ chức cấp"],
            "material": ["luong", "luong"],
            "certification_scheme": ["FSC-FM", None],
            "certificate_no": ["FSC-C123456", "FSC-C654321"],
        },
        geometry=[_parcel(106.07, 21.15), _parcel(106.08, 21.16)],
        crs="EPSG:4326",
    )
    outcome = do_import(loaded, write_gpkg(frame, tmp_path), ids.MATERIAL_ZONES)
    assert [(r.status, r.action) for r in outcome.rows] == [("ok", "insert"), ("rejected", "")]
    assert outcome.rows[0].reasons == []
    assert outcome.rows[1].reasons == ["certificate_no needs a certification_scheme"]
