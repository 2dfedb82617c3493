"""TCVN3 (ABC) and VNI-Windows text → Unicode (issue 13 point 1, "Text").

The byte strings below are written by hand from the published tables (UniKey's VnConv
tables; VSCII-3 for TCVN3), not produced by the encoder under test.
"""

from __future__ import annotations

import ast
import sys
import unicodedata
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from geo.io import legacy_text
from geo.io.legacy_text import LEGACY, decode, detect, detect_with_score, encode, plausibility
from geo.kernel.errors import InvalidInput

TONES = ("\u0300", "\u0309", "\u0303", "\u0301", "\u0323")
LOWER = sorted(
    {unicodedata.normalize("NFC", v + t) for v in "aăâeêioôơuưy" for t in TONES} | set("ăâêôơưđ")
)
UPPER = sorted(letter.upper() for letter in LOWER)
# Capitals TCVN3 has codes for; its capital toned letters exist only in .VnTimeH.
TCVN3_UPPER = sorted("ĂÂÊÔƠƯĐ")


def test_the_134_letters() -> None:
    assert len(LOWER) == 67
    assert len(set(LOWER) | set(UPPER)) == 134


@pytest.mark.parametrize("letter", LOWER + UPPER)
def test_every_letter_round_trips_in_vni(letter: str) -> None:
    raw = encode(letter, "vni")
    assert decode(raw, "vni") == letter
    # ...alone and between letters, where a trailing modifier could bind to a neighbour.
    assert decode(encode(f"x{letter}{letter}a", "vni"), "vni") == f"x{letter}{letter}a"


@pytest.mark.parametrize("letter", LOWER + TCVN3_UPPER)
def test_every_letter_tcvn3_holds_round_trips(letter: str) -> None:
    raw = encode(letter, "tcvn3")
    assert len(raw) == 1 and raw[0] >= 0xA1
    assert decode(raw, "tcvn3") == letter


@pytest.mark.parametrize("letter", sorted(set(UPPER) - set(TCVN3_UPPER)))
def test_tcvn3_capital_toned_letters_round_trip_among_capitals(letter: str) -> None:
    # .VnTimeH: the lowercase code, read as a capital inside a word of capitals.
    raw = encode(f"XX{letter}", "tcvn3")
    assert raw[2:] == encode(letter.lower(), "tcvn3")
    assert decode(raw, "tcvn3") == f"XX{letter}"
    with pytest.raises(ValueError, match="TCVN3 cannot hold"):
        encode(f"{letter}x", "tcvn3")


# Hand-written from the tables (TCVN3: one byte per letter; VNI: base + modifier byte).
KNOWN = [
    (
        "Làng nghề mây tre đan",
        b"L\xb5ng ngh\xd2 m\xa9y tre \xaean",
        b"La\xf8ng nghe\xe0 ma\xe2y tre \xf1an",
    ),
    ("Thanh Hóa", b"Thanh H\xe3a", b"Thanh Ho\xf9a"),
    ("Nga Sơn", b"Nga S\xacn", b"Nga S\xf4n"),
    ("Hoằng Hóa", b"Ho\xbbng H\xe3a", b"Hoa\xe8ng Ho\xf9a"),
    ("Đông Sơn", b"\xa7\xabng S\xacn", b"\xd1o\xe2ng S\xf4n"),
    ("Luồng", b"Lu\xe5ng", b"Luo\xe0ng"),
    ("Cói", b"C\xe3i", b"Co\xf9i"),
    ("Quảng Xương", b"Qu\xb6ng X\xad\xacng", b"Qua\xfbng X\xf6\xf4ng"),
    ("Thiệu Hóa", b"Thi\xd6u H\xe3a", b"Thie\xe4u Ho\xf9a"),
    ("xã Hà Trung", b"x\xb7 H\xb5 Trung", b"xa\xf5 Ha\xf8 Trung"),
    ("Chiếu cói Nga Sơn", b"Chi\xd5u c\xe3i Nga S\xacn", b"Chie\xe1u co\xf9i Nga S\xf4n"),
    ("sừng", b"s\xf5ng", b"s\xf6\xf8ng"),
    ("Dược liệu", b"D\xad\xeec li\xd6u", b"D\xf6\xf4\xefc lie\xe4u"),
    ("Mỹ nghệ", b"M\xfc ngh\xd6", b"My\xf5 nghe\xe4"),
    ("Quế Phong", b"Qu\xd5 Phong", b"Que\xe1 Phong"),
    ("Nghĩa Đàn", b"Ngh\xdca \xa7\xb5n", b"Ngh\xf3a \xd1a\xf8n"),
    ("Ỷ La", b"\xfb La", b"Y\xdb La"),
]


@pytest.mark.parametrize(("text", "tcvn3", "vni"), KNOWN, ids=[k[0] for k in KNOWN])
def test_known_strings_decode(text: str, tcvn3: bytes, vni: bytes) -> None:
    if text.startswith("Ỷ"):  # TCVN3 has no capital Ỷ: .VnTimeH lowercase code
        assert decode(tcvn3, "tcvn3") == "ỷ La"
    else:
        assert decode(tcvn3, "tcvn3") == text
        assert encode(text, "tcvn3") == tcvn3
    assert decode(vni, "vni") == text
    assert encode(text, "vni") == vni


def test_vnitimeh_capitals_come_back_from_context() -> None:
    assert decode(b"THANH H\xe3A", "tcvn3") == "THANH HÓA"
    assert decode(b"H\xe5 CH\xdd MINH", "tcvn3") == "HỒ CHÍ MINH"  # from the whole cell
    assert decode(b"H\xe5 Ch\xdd Minh", "tcvn3") == "Hồ Chí Minh"
    assert decode(b"L\xb5NG NGH\xd2 Nga S\xacn", "tcvn3") == "LÀNG NGHỀ Nga Sơn"
    assert decode(b"\xa7\xabNG S\xacN", "tcvn3") == "ĐÔNG SƠN"  # lowercase ô/ơ codes too
    assert decode(b"\xa7\xabng", "tcvn3") == "Đông"


def test_vni_reads_capital_modifiers_after_lowercase_and_shape_then_tone() -> None:
    assert decode(b"Ho\xd9a", "vni") == "Hóa"
    assert decode(b"HO\xf9A", "vni") == "HÓA"
    assert decode(b"Ngo\xe2\xf9", "vni") == "Ngố"
    # A modifier with no vowel before it is the cp1252 letter the byte shows.
    assert decode(b"\xe9t\xe9", "vni") == "été"


def test_ascii_digits_and_windows_punctuation_pass_through() -> None:
    raw = b"KV-01, 1.500,0 ha \x93Tre\x94 \x96 100%"
    for name in LEGACY:
        assert decode(raw, name) == "KV-01, 1.500,0 ha “Tre” – 100%"
    assert decode(b"\x81\xa0", "tcvn3") == "\x81\xa0"  # cp1252's undefined bytes, NBSP


@pytest.mark.parametrize("name", LEGACY)
def test_decode_is_nfc(name: str) -> None:
    for _text, tcvn3, vni in KNOWN:
        out = decode(tcvn3 if name == "tcvn3" else vni, name)
        assert unicodedata.is_normalized("NFC", out)
    assert unicodedata.is_normalized("NFC", decode(b"Ngo\xe2\xf9", "vni"))


def test_encode_refuses_what_the_encoding_cannot_hold() -> None:
    with pytest.raises(ValueError, match="no code for '中'"):
        encode("Làng 中", "vni")
    assert encode("café", "tcvn3") == b"caf\xd0"  # é is a Vietnamese letter
    with pytest.raises(ValueError, match="TCVN3 has no code for 'ü'"):
        encode("Müller", "tcvn3")  # cp1252 0xFC is ỹ in TCVN3
    with pytest.raises(ValueError, match="VNI cannot hold 'ë' in 'Noaël' .* as 'ặ'"):
        encode("Noaël", "vni")  # cp1252 ë after a vowel is VNI's breve and dot
    with pytest.raises(ValueError):
        encode("Hóa", "utf-16")


def test_decode_names_its_encodings() -> None:
    assert decode("Thanh Hóa".encode(), "UTF-8") == "Thanh Hóa"
    assert decode(b"caf\xe9", "cp1252") == "café"
    with pytest.raises(InvalidInput, match="unknown text encoding 'viscii'"):
        decode(b"x", "viscii")
    with pytest.raises(InvalidInput, match="not valid UTF-8"):
        decode(b"H\xe3a", "utf-8")


# Short realistic cells: village and commune names of Thanh Hóa and Nghệ An.
NAMES = [
    "Làng nghề mây tre đan Hoằng Thịnh",
    "Thôn Bái Xuân, xã Hoằng Hóa",
    "Nga Sơn",
    "Chiếu cói Nga Thanh",
    "Đông Sơn",
    "Rừng luồng Bá Thước",
    "Quế Phong",
    "Làng đá Nhồi",
    "Thiệu Trung",
    "Vùng nguyên liệu cói",
]


def test_detect_tcvn3() -> None:
    samples = [encode(name, "tcvn3") for name in NAMES]
    assert detect(samples) == "tcvn3"
    assert detect([b"Nga S\xacn", b"\xa7\xabng S\xacn"]) == "tcvn3"
    assert detect([b"Thanh H\xe3a"]) == "tcvn3"
    name, score = detect_with_score(samples)
    assert (name, score) == ("tcvn3", 1.0)


def test_detect_vni() -> None:
    samples = [encode(name, "vni") for name in NAMES]
    assert detect(samples) == "vni"
    assert detect([b"Nga S\xf4n", b"\xd1o\xe2ng S\xf4n"]) == "vni"
    assert detect([b"Thanh Ho\xf9a"]) == "vni"
    assert detect([b"La\xf8ng nghe\xe0 ma\xe2y tre \xf1an"]) == "vni"


@pytest.mark.parametrize("name", NAMES)
def test_detect_each_name_alone(name: str) -> None:
    for encoding in LEGACY:
        raw = encode(name, encoding)
        if name == "Nga Sơn" and encoding == "vni":
            # Truly ambiguous alone: TCVN3 reads the same bytes as "Nga Sụn".
            assert decode(raw, "tcvn3") == "Nga Sụn"
            assert detect([raw]) == "tcvn3"
            continue
        assert detect([raw]) == encoding, (name, encoding, raw)


def test_detect_utf8_and_ascii() -> None:
    assert detect([name.encode() for name in NAMES]) == "utf-8"
    assert detect([b"Nga Son", b"KV-01", b""]) == "utf-8"
    assert detect([]) == "utf-8"


FRENCH = [
    "Le château de la Loire, façade restaurée",
    "Élève à l'école, où est le café ?",
    "Noël à Orléans — déjà vu",
    "naïve résumé for the café owner",
    "Straße, Müller & Söhne",
]


def test_detect_does_not_take_western_text_for_vietnamese() -> None:
    samples = [text.encode("cp1252") for text in FRENCH]
    assert detect(samples) == "cp1252"
    for raw in samples:
        assert detect([raw]) == "cp1252", raw
    assert decode(samples[0], detect(samples)) == FRENCH[0]


def test_plausibility() -> None:
    assert plausibility("Làng nghề Đông Sơn") == 1.0
    assert plausibility("KV-01") == 1.0  # nothing to judge
    assert plausibility("Lµng nghÒ") < 1.0
    assert plausibility("hoựa") == 0.0  # a vowel run no Vietnamese syllable has
    assert plausibility("ộlốve") == 0.0  # two tones
    assert plausibility("Nghiêng ngoẵng khuỷu") == 1.0
    # Spelling rules that tell VNI's one-byte letters from TCVN3's: -c/-ch/-p/-t take only
    # sắc or nặng, -ch/-nh follow only a, ê, i (Thịnh, Quỳnh, but no "Thũnh").
    assert plausibility("lũch") == 0.0
    assert plausibility("Thũnh") == 0.0
    assert plausibility("du lịch Long Thịnh Quỳnh Lưu huỳnh quách") == 1.0
    assert detect([b"du l\xf2ch"]) == "vni"  # TCVN3 would read "du lũch"
    assert detect([b"Long Th\xf2nh"]) == "vni"  # TCVN3: "Long Thũnh"
    assert plausibility("thũt kũp") == 0.0
    assert detect([b"th\xf2t k\xf2p"]) == "vni"  # "thịt kịp"; TCVN3: "thũt kũp"


VNI_ALPHABET = st.sampled_from(
    [*LOWER, *UPPER, *(chr(c) for c in range(0x20, 0x7F)), "\u00a0", "“", "”", "–"]
)
TCVN3_ALPHABET = st.sampled_from(
    [*LOWER, *TCVN3_UPPER, *(chr(c) for c in range(0x20, 0x7F)), "\u00a0", "“", "”", "–"]
)


@given(st.lists(VNI_ALPHABET, max_size=30).map("".join), st.sampled_from(["NFC", "NFD"]))
def test_vni_round_trip_property(text: str, form: str) -> None:
    text = unicodedata.normalize(form, text)
    assert decode(encode(text, "vni"), "vni") == unicodedata.normalize("NFC", text)


@given(st.lists(TCVN3_ALPHABET, max_size=30).map("".join), st.sampled_from(["NFC", "NFD"]))
def test_tcvn3_round_trip_property(text: str, form: str) -> None:
    text = unicodedata.normalize(form, text)
    try:
        raw = encode(text, "tcvn3")
    except ValueError:
        # Only a lowercase letter among capitals (read as .VnTimeH) is refused.
        raw = b"".join(
            legacy_text._encode_char(ch, "tcvn3") for ch in unicodedata.normalize("NFC", text)
        )
        back = decode(raw, "tcvn3")
        assert back != unicodedata.normalize("NFC", text)
        assert back.lower() == unicodedata.normalize("NFC", text).lower()
        return
    assert decode(raw, "tcvn3") == unicodedata.normalize("NFC", text)


@given(
    st.lists(
        st.sampled_from([*LOWER, *(chr(c) for c in range(0x20, 0x7F) if not chr(c).isupper())]),
        max_size=30,
    ).map("".join)
)
def test_tcvn3_holds_every_lowercase_text(text: str) -> None:
    # Without capitals the .VnTimeH reading never applies: nothing is refused.
    assert decode(encode(text, "tcvn3"), "tcvn3") == text


@given(
    st.lists(st.sampled_from(NAMES), min_size=3, max_size=6, unique=True), st.sampled_from(LEGACY)
)
def test_detect_a_column_of_names(names: list[str], encoding: str) -> None:
    assert detect([encode(name, encoding) for name in names]) == encoding


def test_the_module_needs_only_the_standard_library_and_the_kernel() -> None:
    # The import engineer runs it on raw DBF/CSV bytes; no database, no GDAL here.
    tree = ast.parse(Path(legacy_text.__file__).read_text(encoding="utf-8"))
    imported = {
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    } | {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    for name in imported:
        top = name.split(".")[0]
        assert top in sys.stdlib_module_names or name.startswith("geo.kernel"), name
