"""Province and commune packages (issue 13, point 4): GeoPackage with QGIS styles, KMZ."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import zipfile
from pathlib import Path

import pyogrio
import pytest
import sqlalchemy as sa
from lxml import etree
from sqlalchemy.engine import Connection

from geo.io.package import Area, parse_area, write_package
from geo.kernel.errors import InvalidInput, LimitExceeded, NotFound
from maps import styles
from maps.styles import PACKAGE_PALETTE
from tests.factories import make_admin_unit, make_village, make_zone

KML = "{http://www.opengis.net/kml/2.2}"
LAYERS = ["villages", "material_zones", "routes", "route_stops", "admin_units", "admin_centres"]


def _count(conn: Connection, sql: str) -> int:
    return int(conn.execute(sa.text(sql)).scalar_one())


def test_province_package_holds_every_feature_of_the_demo(
    connection: Connection, tmp_path: Path
) -> None:
    out = tmp_path / "thanh-hoa.gpkg"
    counts = write_package(connection, Area(code="38"), out, palette=PACKAGE_PALETTE)
    listed = {name for name, _ in pyogrio.list_layers(out)}
    assert set(LAYERS) <= listed and "readme" in listed and "layer_styles" in listed
    # The demo is all Thanh Hóa: the province package holds every feature.
    expected = {
        "villages": _count(connection, "SELECT count(*) FROM craft_village"),
        "material_zones": _count(connection, "SELECT count(*) FROM material_zone"),
        "routes": _count(connection, "SELECT count(*) FROM tourism_route"),
        "route_stops": _count(connection, "SELECT count(*) FROM route_stop"),
        "admin_units": _count(
            connection,
            "SELECT count(*) FROM admin_unit WHERE scheme = 'NQ1686/2025' "
            "AND (code = '38' OR parent_code = '38')",
        ),
    }
    for name, count in expected.items():
        assert counts[name] == count > 0, name
        assert pyogrio.read_info(out, layer=name)["features"] == count, name
    villages = pyogrio.read_dataframe(out, layer="villages")
    assert "Trà Đông" in set(villages["name"])
    # Provenance in gpkg_metadata too, where GDAL and QGIS show it.
    metadata = pyogrio.read_info(out, layer="villages")["dataset_metadata"]
    assert metadata["area"] == "Tỉnh Thanh Hóa (38) / Tỉnh Thanh Hóa (38)"
    assert {"date", "source", "licence", "crs"} <= set(metadata)
    # gpkg_contents carries both languages' descriptions.
    with sqlite3.connect(out) as db:
        description = db.execute(
            "SELECT description FROM gpkg_contents WHERE table_name = 'villages'"
        ).fetchone()[0]
    assert "Làng nghề" in description and "Craft villages" in description


def test_commune_package_holds_only_that_communes_features(
    connection: Connection, tmp_path: Path
) -> None:
    # Xã Pù Luông (14956) by hand from data/demo: villages TH-V-013/014/015 have its code,
    # zones TH-Z-012/013 list it, route TH-R-004 stops at TH-V-015 (2) and TH-V-014 (3).
    # No boundary is loaded: a commune takes the features its code names, nothing by
    # position (TH-Z-001 and TH-Z-004 have no commune code).
    out = tmp_path / "pu-luong.gpkg"
    write_package(connection, parse_area(commune="14956"), out, palette=PACKAGE_PALETTE)
    codes = {
        layer: sorted(pyogrio.read_dataframe(out, layer=layer, read_geometry=False)["code"])
        for layer in ("villages", "material_zones", "routes", "admin_units")
    }
    assert codes == {
        "villages": ["TH-V-013", "TH-V-014", "TH-V-015"],
        "material_zones": ["TH-Z-012", "TH-Z-013"],
        "routes": ["TH-R-004"],
        "admin_units": ["14956"],
    }
    stops = pyogrio.read_dataframe(out, layer="route_stops", read_geometry=False)
    assert sorted(zip(stops["route_code"], stops["seq"], strict=True)) == [
        ("TH-R-004", 2),
        ("TH-R-004", 3),
    ]


HOSTILE = 'Làng "Đúc" <Đồng> & Sứ'
SQUARE = {
    "type": "MultiPolygon",
    "coordinates": [
        [[[105.50, 19.50], [105.60, 19.50], [105.60, 19.60], [105.50, 19.60], [105.50, 19.50]]]
    ],
}


def _bounded_commune(connection: Connection) -> tuple[str, int, int]:
    """A commune with a boundary, a village inside with a hostile name, one outside."""
    make_admin_unit(connection, geometry=SQUARE, code="T-PKG-1", name="Xã Thử Gói")
    inside = make_village(connection, at=(105.55, 19.55), name=HOSTILE)
    outside = make_village(connection, at=(105.70, 19.55), name="Làng ngoài")
    make_zone(
        connection, at=(105.52, 19.52), name="Vùng luồng trong xã", certification_scheme="FSC-FM"
    )
    return "T-PKG-1", inside, outside


def test_bounded_commune_is_selected_by_its_boundary_and_names_round_trip(
    connection: Connection, tmp_path: Path
) -> None:
    code, inside, outside = _bounded_commune(connection)
    out = tmp_path / "commune.gpkg"
    write_package(connection, Area(code=code, scheme="test-factory"), out, palette=PACKAGE_PALETTE)
    villages = pyogrio.read_dataframe(out, layer="villages")
    assert list(villages["id"]) == [inside]
    assert list(villages["name"]) == [HOSTILE]
    zones = pyogrio.read_dataframe(out, layer="material_zones")
    assert list(zones["name"]) == ["Vùng luồng trong xã"]
    readme = pyogrio.read_dataframe(out, layer="readme")
    assert readme["vi"][0] == "Xã Thử Gói (T-PKG-1)"


def _rgba(colour: str) -> str:
    value = colour.lstrip("#")
    return ",".join(str(int(value[i : i + 2], 16)) for i in (0, 2, 4)) + ",255"


def test_layer_styles_hold_a_default_qml_per_layer_in_the_web_palette(
    connection: Connection, tmp_path: Path
) -> None:
    out = tmp_path / "thanh-hoa.gpkg"
    counts = write_package(connection, Area(code="38"), out, palette=PACKAGE_PALETTE)
    with sqlite3.connect(out) as db:
        columns = [row[1] for row in db.execute("PRAGMA table_info(layer_styles)")]
        rows = db.execute(
            "SELECT f_table_name, f_geometry_column, useAsDefault, styleQML FROM layer_styles"
        ).fetchall()
        registered = db.execute(
            "SELECT data_type FROM gpkg_contents WHERE table_name = 'layer_styles'"
        ).fetchone()
    assert columns == [
        "id",
        "f_table_catalog",
        "f_table_schema",
        "f_table_name",
        "f_geometry_column",
        "styleName",
        "styleQML",
        "styleSLD",
        "useAsDefault",
        "description",
        "owner",
        "ui",
        "update_time",
    ]
    assert registered == ("attributes",)
    assert all(r[1] == "geom" for r in rows)
    # One default style per layer (Vietnamese), and an English one beside it.
    assert sorted(r[0] for r in rows if r[2] == 1) == sorted(counts)
    assert sorted(r[0] for r in rows if r[2] == 0) == sorted(counts)
    styles_by_layer = {r[0]: etree.fromstring(r[3].encode()) for r in rows if r[2] == 1}
    english = {r[0]: etree.fromstring(r[3].encode()) for r in rows if r[2] == 0}
    english_labels = [c.get("label") for c in english["villages"].iter("category")]
    assert "Fine-art handicrafts" in english_labels
    expected = {
        "villages": ("craft_group", styles.CRAFT_GROUPS),
        "material_zones": ("material", styles.MATERIALS),
        "routes": ("theme", styles.ROUTES),
    }
    for layer, (column, theme) in expected.items():
        renderer = styles_by_layer[layer].find("renderer-v2")
        assert renderer is not None
        assert renderer.get("type") == "categorizedSymbol" and renderer.get("attr") == column
        values = [c.get("value") for c in renderer.iter("category")]
        assert values == list(theme.colours)
        colours = {
            o.get("value")
            for o in renderer.iter("Option")
            if o.get("name") in {"color", "line_color"}
        }
        for colour in theme.colours.values():
            rgb = _rgba(colour).rsplit(",", 1)[0]
            assert any(c.startswith(rgb + ",") for c in colours), (layer, colour)
    # Vietnamese labels, and the certified outline of the web map on the zones.
    village_labels = [c.get("label") for c in styles_by_layer["villages"].iter("category")]
    assert "Sản xuất hàng thủ công mỹ nghệ" in village_labels
    zones_qml = etree.tostring(styles_by_layer["material_zones"], encoding="unicode")
    assert _rgba(styles.CERTIFIED_OUTLINE) in zones_qml and "certification_scheme" in zones_qml
    admin = styles_by_layer["admin_units"].find("renderer-v2/symbols/symbol/layer")
    assert admin is not None and admin.get("class") == "SimpleFill"
    assert {o.get("name"): o.get("value") for o in admin.iter("Option")}["style"] == "no"
    for layer in ("villages", "material_zones", "admin_units"):
        text_style = styles_by_layer[layer].find("labeling/settings/text-style")
        assert text_style is not None and text_style.get("fieldName") == "name"


def test_kmz_has_a_folder_per_layer_escaped_names_and_reads_back(
    connection: Connection, tmp_path: Path
) -> None:
    _bounded_commune(connection)
    out = tmp_path / "thanh-hoa.kmz"
    counts = write_package(connection, Area(code="38"), out, palette=PACKAGE_PALETTE)
    with zipfile.ZipFile(out) as archive:
        assert archive.namelist()[0] == "doc.kml"
        raw = archive.read("doc.kml")
    assert b"&lt;&#272;&#7891;ng&gt;" in raw or b"&lt;\xc4" in raw or b"&lt;" in raw
    assert HOSTILE.encode() not in raw  # never written raw: < > & are escaped
    root = etree.fromstring(raw)
    folders = root.findall(f"{KML}Document/{KML}Folder")
    assert [f.get("id") for f in folders] == list(counts)
    assert folders[0].findtext(f"{KML}name") == "Làng nghề (Craft villages)"
    with_geometry = {
        "villages": counts["villages"],
        "material_zones": counts["material_zones"],
        "routes": counts["routes"],
        "route_stops": counts["route_stops"],
        "admin_centres": counts["admin_centres"],
    }
    for folder in folders:
        name = folder.get("id")
        if name in with_geometry:
            assert len(folder.findall(f"{KML}Placemark")) == with_geometry[name], name
    names = [p.findtext(f"{KML}name") for p in root.iter(f"{KML}Placemark")]
    assert HOSTILE in names
    # Every placemark wears a style of its own folder's.
    style_ids = {s.get("id") for s in root.iter(f"{KML}Style")}
    for folder in folders:
        for placemark in folder.iter(f"{KML}Placemark"):
            url = placemark.findtext(f"{KML}styleUrl") or ""
            assert url.startswith(f"#{folder.get('id')}-") and url[1:] in style_ids, url
    hostile = next(p for p in root.iter(f"{KML}Placemark") if p.findtext(f"{KML}name") == HOSTILE)
    assert hostile.findtext(f"{KML}styleUrl") == "#villages-G4"  # the factory's group
    # The balloon is HTML: the name in it is HTML-escaped, once more than the XML needs.
    balloon = hostile.findtext(f"{KML}description") or ""
    assert "<td>Làng &quot;Đúc&quot; &lt;Đồng&gt; &amp; Sứ</td>" in balloon
    # The web palette, in KML's aabbggrr order.
    style_colours = {c.text for c in root.iter(f"{KML}color")}
    assert "ffa779cc" in style_colours  # G2 #CC79A7
    # GDAL's LIBKML driver reads it back: the same layers and names.
    layers = [name for name, _ in pyogrio.list_layers(out)]
    assert layers[:2] == ["Làng nghề (Craft villages)", "Vùng nguyên liệu (Raw-material zones)"]
    villages = pyogrio.read_dataframe(out, layer=layers[0])
    assert HOSTILE in set(villages["Name"])
    assert len(villages) == counts["villages"]


def test_bad_areas_are_refused_and_write_nothing(connection: Connection, tmp_path: Path) -> None:
    out = tmp_path / "nothing.gpkg"
    with pytest.raises(NotFound, match="99999"):
        write_package(connection, Area(code="99999"), out, palette=PACKAGE_PALETTE)
    with pytest.raises(InvalidInput, match="province, not a commune"):
        write_package(connection, parse_area(commune="38"), out, palette=PACKAGE_PALETTE)
    with pytest.raises(LimitExceeded, match="more than the 10"):
        write_package(connection, Area(code="38"), out, palette=PACKAGE_PALETTE, max_features=10)
    with pytest.raises(InvalidInput):
        parse_area(bbox="106,20,105,19")
    with pytest.raises(InvalidInput):
        parse_area(area="38", bbox="105,19,106,20")
    with pytest.raises(InvalidInput, match="CRS"):
        write_package(connection, Area(code="38"), out, 2154, palette=PACKAGE_PALETTE)
    assert not out.exists()


def test_bbox_package_in_vn2000(connection: Connection, tmp_path: Path) -> None:
    out = tmp_path / "box.gpkg"
    counts = write_package(
        connection, parse_area(bbox="105.6,19.7,105.9,19.9"), out, 5897, palette=PACKAGE_PALETTE
    )
    inside = _count_sql(
        connection,
        "SELECT count(*) FROM craft_village "
        "WHERE ST_Intersects(geom, ST_MakeEnvelope(105.6, 19.7, 105.9, 19.9, 4326))",
    )
    assert counts["villages"] == inside > 0
    info = pyogrio.read_info(out, layer="villages")
    assert info["crs"] == "EPSG:5897"
    assert 500_000 < info["total_bounds"][0] < 700_000


def _count_sql(conn: Connection, sql: str) -> int:
    return int(conn.execute(sa.text(sql)).scalar_one())


ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "issue13" / "package"
SYSTEM_PYTHON = "/usr/bin/python3"


def _qgis_missing() -> str | None:
    try:
        probe = subprocess.run(
            [SYSTEM_PYTHON, "-c", "import qgis.core"], capture_output=True, timeout=120
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"{SYSTEM_PYTHON} cannot run: {exc}"
    if probe.returncode != 0:
        return f"{SYSTEM_PYTHON} cannot import qgis.core (install python3-qgis)"
    return None


def test_qgis_opens_the_package_styled(connection: Connection, tmp_path: Path) -> None:
    missing = _qgis_missing()
    if missing:
        pytest.skip(missing)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    out = ARTIFACTS / "thanh-hoa.gpkg"
    counts = write_package(connection, Area(code="38"), out, palette=PACKAGE_PALETTE)
    write_package(connection, Area(code="38"), ARTIFACTS / "thanh-hoa.kmz", palette=PACKAGE_PALETTE)
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "XDG_RUNTIME_DIR": str(tmp_path)}
    tmp_path.chmod(0o700)
    # The whole province, and Thanh Hóa city's surroundings where the routes meet.
    city = subprocess.run(
        [
            SYSTEM_PYTHON,
            str(Path(__file__).with_name("qgis_package_check.py")),
            str(out),
            ",".join(counts),
            str(ARTIFACTS / "qgis-city.png"),
            "105.55,19.70,105.95,19.98",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert city.returncode == 0, city.stderr[-2000:]
    ran = subprocess.run(
        [
            SYSTEM_PYTHON,
            str(Path(__file__).with_name("qgis_package_check.py")),
            str(out),
            ",".join(counts),
            str(ARTIFACTS / "qgis.png"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert ran.returncode == 0, ran.stderr[-2000:]
    report = json.loads(ran.stdout.strip().splitlines()[-1])
    for name, count in counts.items():
        layer = report[name]
        assert layer["valid"] and layer["count"] == count, name
        # QGIS finds the layer's own style first in layer_styles and loads it as default.
        assert layer["styles_in_database"][0] == name, name
        assert layer["default_style_loaded"] and layer["labels"], name
    expected = {
        "villages": ("craft_group", styles.CRAFT_GROUPS),
        "material_zones": ("material", styles.MATERIALS),
        "routes": ("theme", styles.ROUTES),
    }
    for name, (column, theme) in expected.items():
        layer = report[name]
        assert layer["renderer"] == "categorizedSymbol" and layer["attr"] == column
        assert [(v, c) for v, _, c in layer["categories"]] == [
            (code, colour.lower()) for code, colour in theme.colours.items()
        ]
    assert report["villages"]["categories"][1][1] == "Sản xuất hàng thủ công mỹ nghệ"
    assert report["admin_units"]["renderer"] == "singleSymbol"
    assert (ARTIFACTS / "qgis.png").stat().st_size > 10_000
    # The English styles beside the defaults load too (legends in both languages).
    assert report["_english_loaded"]
    for lang in ("vi", "en"):
        assert (ARTIFACTS / f"qgis-legend-{lang}.png").stat().st_size > 5_000


def test_reference_layers_are_layers_of_their_own(connection: Connection, tmp_path: Path) -> None:
    layer_id = connection.execute(
        sa.text(
            "INSERT INTO reference_layer (name, title, kind) "
            "VALUES ('rung-dac-dung', 'Rừng đặc dụng', 'exclusion') RETURNING id"
        )
    ).scalar_one()
    connection.execute(
        sa.text(
            "INSERT INTO reference_feature (layer_id, properties, geom) VALUES "
            '(:id, \'{"tên": "Khu bảo tồn Pù Luông", "ha": 17662}\', '
            "ST_GeomFromText('POLYGON((105.1 20.4,105.3 20.4,105.3 20.5,105.1 20.5,105.1 20.4))',"
            " 4326)), "
            '(:id, \'{"tên": "Ngoài Việt Nam"}\', '
            "ST_GeomFromText('POLYGON((100 10,100.1 10,100.1 10.1,100 10.1,100 10))', 4326))"
        ),
        {"id": layer_id},
    )
    out = tmp_path / "thanh-hoa.gpkg"
    counts = write_package(connection, Area(code="38"), out, palette=PACKAGE_PALETTE)
    # No province boundary is loaded: an uncoded feature goes to the nearest province
    # centre, and Thanh Hóa's is the only one, so both are its own (the README says
    # "approximate"); a bbox takes only the one inside.
    assert counts["ref_rung_dac_dung"] == 2
    box = tmp_path / "box.gpkg"
    counts = write_package(
        connection, parse_area(bbox="105,20,106,21"), box, palette=PACKAGE_PALETTE
    )
    assert counts["ref_rung_dac_dung"] == 1
    frame = pyogrio.read_dataframe(box, layer="ref_rung_dac_dung")
    assert list(frame["tên"]) == ["Khu bảo tồn Pù Luông"] and list(frame["ha"]) == [17662]
    with sqlite3.connect(box) as db:
        styled = {row[0] for row in db.execute("SELECT f_table_name FROM layer_styles")}
        description = db.execute(
            "SELECT description FROM gpkg_contents WHERE table_name = 'ref_rung_dac_dung'"
        ).fetchone()[0]
    assert "ref_rung_dac_dung" in styled and "Rừng đặc dụng" in description


def test_a_failed_write_leaves_the_old_package_whole(
    connection: Connection, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from geo.io import package

    out = tmp_path / "thanh-hoa.gpkg"
    write_package(connection, Area(code="38"), out, palette=PACKAGE_PALETTE)
    before = out.read_bytes()

    def broken(*args: object, **kwargs: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(package, "_readme", broken)
    with pytest.raises(OSError, match="disk full"):
        write_package(connection, Area(code="38"), out, palette=PACKAGE_PALETTE)
    assert out.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["thanh-hoa.gpkg"]
