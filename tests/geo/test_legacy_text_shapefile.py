"""A TCVN3 Shapefile as provincial offices have them: the byte path the importer uses.

The DBF holds TCVN3 bytes and no ``.cpg`` says so. Read with ``encoding="latin1"`` every
byte comes back as one character, so ``str.encode("latin1")`` gives the DBF bytes, which
``geo.io.legacy_text`` detects and decodes.
"""

from __future__ import annotations

import unicodedata
from pathlib import Path

import geopandas as gpd
import pyogrio
import pytest
import shapely

from geo.io.legacy_text import decode, detect, encode

VILLAGES = [
    # name, commune, province (.VnTimeH capitals), hand-written TCVN3 bytes of the name
    ("Làng nghề chiếu cói Nga Sơn", "xã Nga Sơn", "THANH HÓA",
     b"L\xb5ng ngh\xd2 chi\xd5u c\xe3i Nga S\xacn"),
    ("Làng mây tre đan Hoằng Thịnh", "xã Hoằng Hóa", "THANH HÓA",
     b"L\xb5ng m\xa9y tre \xaean Ho\xbbng Th\xdenh"),
    ("Vùng luồng Đông Sơn", "xã Đông Sơn", "THANH HÓA",
     b"V\xefng lu\xe5ng \xa7\xabng S\xacn"),
]  # fmt: skip


@pytest.mark.parametrize("encoding", ["tcvn3", "vni"])
def test_legacy_shapefile_names_come_out_as_vietnamese(tmp_path: Path, encoding: str) -> None:
    path = tmp_path / "lang_nghe.shp"
    frame = gpd.GeoDataFrame(
        {
            "ten": [encode(name, encoding).decode("latin1") for name, *_ in VILLAGES],
            "xa": [encode(commune, encoding).decode("latin1") for _, commune, *_ in VILLAGES],
            "tinh": [encode(province, encoding).decode("latin1") for *_, province, _ in VILLAGES],
        },
        geometry=[shapely.Point(105.8 + i / 10, 19.9) for i in range(len(VILLAGES))],
        crs="EPSG:4326",
    )
    pyogrio.write_dataframe(frame, path, encoding="latin1")
    # Offices' files carry no code page file: nothing tells the reader the encoding.
    path.with_suffix(".cpg").unlink(missing_ok=True)
    assert not path.with_suffix(".cpg").exists()

    read = pyogrio.read_dataframe(path, encoding="latin1")
    raw = {column: [cell.encode("latin1") for cell in read[column]] for column in frame.columns[:3]}
    if encoding == "tcvn3":  # the bytes on disk are the hand-written table bytes
        assert raw["ten"] == [village[3] for village in VILLAGES]

    found = detect([cell for column in raw.values() for cell in column])
    assert found == encoding
    names = [decode(cell, found) for cell in raw["ten"]]
    assert names == [name for name, *_ in VILLAGES]
    assert [decode(cell, found) for cell in raw["xa"]] == [commune for _, commune, *_ in VILLAGES]
    assert [decode(cell, found) for cell in raw["tinh"]] == ["THANH HÓA"] * len(VILLAGES)
    assert all(unicodedata.is_normalized("NFC", name) for name in names)


def test_utf8_shapefile_is_left_as_it_is(tmp_path: Path) -> None:
    path = tmp_path / "lang_nghe.shp"
    frame = gpd.GeoDataFrame(
        {"ten": [name for name, *_ in VILLAGES]},
        geometry=[shapely.Point(105.8, 19.9)] * len(VILLAGES),
        crs="EPSG:4326",
    )
    pyogrio.write_dataframe(frame, path, encoding="UTF-8")
    path.with_suffix(".cpg").unlink(missing_ok=True)
    read = pyogrio.read_dataframe(path, encoding="latin1")
    raw = [cell.encode("latin1") for cell in read["ten"]]
    assert detect(raw) == "utf-8"
    assert [decode(cell, "utf-8") for cell in raw] == [name for name, *_ in VILLAGES]


@pytest.mark.parametrize("ldid", [0x00, 0x57, 0x03])
def test_raw_bytes_survive_whatever_code_page_the_dbf_claims(tmp_path: Path, ldid: int) -> None:
    # A DBF's language driver byte (0x57 Windows ANSI, 0x03 cp1252) makes GDAL recode to
    # UTF-8 from that code page; encoding="latin1" must still hand back the bytes on disk,
    # Windows punctuation included.
    cell = b"\x93Chi\xd5u c\xe3i\x94 \x96 Nga S\xacn"
    path = tmp_path / "lang_nghe.shp"
    frame = gpd.GeoDataFrame(
        {"ten": [cell.decode("latin1")]}, geometry=[shapely.Point(105.9, 19.9)], crs="EPSG:4326"
    )
    pyogrio.write_dataframe(frame, path, encoding="latin1")
    path.with_suffix(".cpg").unlink(missing_ok=True)
    dbf = bytearray(path.with_suffix(".dbf").read_bytes())
    dbf[29] = ldid
    path.with_suffix(".dbf").write_bytes(bytes(dbf))

    read = pyogrio.read_dataframe(path, encoding="latin1")
    raw = read["ten"][0].encode("latin1")
    assert raw == cell
    assert detect([raw]) == "tcvn3"
    assert decode(raw, "tcvn3") == "“Chiếu cói” – Nga Sơn"
