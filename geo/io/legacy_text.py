"""Legacy Vietnamese text encodings: TCVN3 (ABC) and VNI-Windows → Unicode NFC.

Files from provincial offices often carry names typed in the 1990s–2000s font encodings,
not in Unicode: a DBF cell reading ``Thanh H\\xe3a`` is "Thanh Hóa" in the ``.VnTime``
font. This module turns such bytes into Unicode NFC (so names match and search works),
writes them back (to make test fixtures), and tells the encodings apart.

- ``tcvn3`` is TCVN 5712:1993 VN3, the "ABC" code of the ``.VnTime``/``.VnArial`` fonts:
  one byte per letter, 67 lowercase letters and 7 uppercase base letters (Ă Â Ê Ô Ơ Ư Đ)
  in 0xA1–0xFE. It is the code of the ABC-era office data of the north (VNI was the
  south's) and the one the converters people use (UniKey, the Excel macros) read; a DBF
  or TAB holding it declares only a Latin code page, so the import is told or guesses
  (:func:`detect`). It is *not* libiconv's/glibc's ``TCVN`` (TCVN 5712 VN1): VN1 shares
  VN3's 0xA0–0xFF lowercase layout but also puts capital toned letters on C0 controls,
  0x80–0x9F and the bytes VN3 leaves free, and reads 0xB0–0xB4 as combining tones. A
  VN3 file read as VN1 turns its Windows punctuation (0x80–0x9F: “ ” –) into capitals.
- ``vni`` is VNI-Windows (the ``VNI-Times`` fonts): an ASCII base letter followed by one
  modifier byte (tone, shape, or shape and tone in one byte), and single bytes for
  đ ơ ư, the i-letters and ỵ.

Capital toned letters in TCVN3 have no codes: people switched to the all-capitals font
``.VnTimeH``, which draws the lowercase codes as capitals, so ``THANH HÓA`` is stored as
``THANH H\\xe3A``. The bytes keep no trace of the font, so :func:`decode` restores
capitals from context: within a word whose other letters (ASCII and the seven capital
bases, the only letters whose case the bytes record) are all capitals, at least two of
them, the Vietnamese letters are capitals too; and if every such letter of the whole
text is a capital (at least two), all are. "H\\xe5 CH\\xdd MINH" is "HỒ CHÍ MINH" while
"H\\xe5 Ch\\xdd Minh" stays "Hồ Chí Minh". A capital that the font switch put on a
lowercase word (``Ủy``, typed ``\\xf1y``) cannot be recovered and comes out lowercase;
:func:`encode` refuses text that TCVN3 cannot give back (``ValueError``).

Unknown bytes (and ASCII) pass through as Windows-1252, which is what the fonts showed.

Tables — TCVN3: UniKey's VnConv ``data.cpp`` (Pham Kim Long; ``SingleByteTables``,
TCVN3 row, as shipped in fcitx5-unikey), checked against the VSCII-3 description
(Wikipedia "VSCII": 67 lowercase, 7 uppercase, NBSP) and glibc's ``TCVN5712-1`` for
0xA0–0xFF. VNI: UniKey's ``DoubleByteTables`` VNI-WIN row (base byte + tone byte),
checked against duydev/vietnamese-conversion ``src/charsets.ts``. Both checked against
the vietunicode.sourceforge.net comparison table ("Bảng đối chiếu encoding các bộ chữ
hiện hành với Unicode").

>>> decode(b"L\\xb5ng ngh\\xd2 m\\xa9y tre \\xaean", "tcvn3")
'Làng nghề mây tre đan'
>>> decode(b"Nga S\\xf4n", "vni")
'Nga Sơn'
>>> detect([b"Thanh H\\xe3a", b"Nga S\\xacn"])
'tcvn3'
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

from geo.kernel.errors import InvalidInput

LEGACY: tuple[str, ...] = ("tcvn3", "vni")
# What detect() answers; decode() reads all of them.
DETECTED: tuple[str, ...] = ("utf-8", "tcvn3", "vni", "cp1252")

VOWELS = "aăâeêioôơuưy"
# Tones in the order both tables list them: huyền, hỏi, ngã, sắc, nặng.
TONES = ("\u0300", "\u0309", "\u0303", "\u0301", "\u0323")


def _toned(base: str, tone: str) -> str:
    return unicodedata.normalize("NFC", base + tone)


# --- TCVN3 (VN3) ------------------------------------------------------------------------
# Lowercase toned letters, tones in TONES order (UniKey data.cpp, TCVN3 row).
_TCVN3_TONED: dict[str, tuple[int, int, int, int, int]] = {
    "a": (0xB5, 0xB6, 0xB7, 0xB8, 0xB9),
    "ă": (0xBB, 0xBC, 0xBD, 0xBE, 0xC6),
    "â": (0xC7, 0xC8, 0xC9, 0xCA, 0xCB),
    "e": (0xCC, 0xCE, 0xCF, 0xD0, 0xD1),
    "ê": (0xD2, 0xD3, 0xD4, 0xD5, 0xD6),
    "i": (0xD7, 0xD8, 0xDC, 0xDD, 0xDE),
    "o": (0xDF, 0xE1, 0xE2, 0xE3, 0xE4),
    "ô": (0xE5, 0xE6, 0xE7, 0xE8, 0xE9),
    "ơ": (0xEA, 0xEB, 0xEC, 0xED, 0xEE),
    "u": (0xEF, 0xF1, 0xF2, 0xF3, 0xF4),
    "ư": (0xF5, 0xF6, 0xF7, 0xF8, 0xF9),
    "y": (0xFA, 0xFB, 0xFC, 0xFD, 0xFE),
}
_TCVN3_BASES: dict[str, int] = {
    "Ă": 0xA1, "Â": 0xA2, "Ê": 0xA3, "Ô": 0xA4, "Ơ": 0xA5, "Ư": 0xA6, "Đ": 0xA7,
    "ă": 0xA8, "â": 0xA9, "ê": 0xAA, "ô": 0xAB, "ơ": 0xAC, "ư": 0xAD, "đ": 0xAE,
}  # fmt: skip

_TCVN3_DECODE: dict[int, str] = {code: letter for letter, code in _TCVN3_BASES.items()}
for _base, _codes in _TCVN3_TONED.items():
    for _tone, _code in zip(TONES, _codes, strict=True):
        _TCVN3_DECODE[_code] = _toned(_base, _tone)
_TCVN3_ENCODE: dict[str, int] = {letter: code for code, letter in _TCVN3_DECODE.items()}
# .VnTimeH capitals: the lowercase code (UniKey writes them the same way).
for _code, _letter in list(_TCVN3_DECODE.items()):
    if _letter.islower() and _letter.upper() not in _TCVN3_ENCODE:
        _TCVN3_ENCODE[_letter.upper()] = _code
# Letters whose case the TCVN3 bytes do not record.
_TCVN3_CASELESS = frozenset(letter for letter in _TCVN3_DECODE.values() if letter.islower())

# --- VNI-Windows ------------------------------------------------------------------------
# Modifier bytes, lowercase code (uppercase = code - 0x20), tones in TONES order
# (UniKey data.cpp, VNI-WIN row: 0xf961 is "a" + 0xF9 = á).
_VNI_TONE = (0xF8, 0xFB, 0xF5, 0xF9, 0xEF)
_VNI_CIRCUMFLEX = 0xE2
_VNI_CIRCUMFLEX_TONE = (0xE0, 0xE5, 0xE3, 0xE1, 0xE4)
_VNI_BREVE = 0xEA
_VNI_BREVE_TONE = (0xE8, 0xFA, 0xFC, 0xE9, 0xEB)
# Letters VNI writes as one byte (lowercase code; uppercase = code - 0x20).
_VNI_SINGLE: dict[str, int] = {
    "đ": 0xF1, "ơ": 0xF4, "ư": 0xF6,
    "ì": 0xEC, "ỉ": 0xE6, "ĩ": 0xF3, "í": 0xED, "ị": 0xF2, "ỵ": 0xEE,
}  # fmt: skip


def _vni_table() -> dict[str, bytes]:
    lower: dict[str, bytes] = {letter: bytes([code]) for letter, code in _VNI_SINGLE.items()}
    for base in "aeouy":
        for tone, mod in zip(TONES, _VNI_TONE, strict=True):
            lower.setdefault(_toned(base, tone), base.encode() + bytes([mod]))
    for base in "aeo":
        lower[_toned(base, "\u0302")] = base.encode() + bytes([_VNI_CIRCUMFLEX])
        for tone, mod in zip(TONES, _VNI_CIRCUMFLEX_TONE, strict=True):
            lower[_toned(base + "\u0302", tone)] = base.encode() + bytes([mod])
    lower["ă"] = b"a" + bytes([_VNI_BREVE])
    for tone, mod in zip(TONES, _VNI_BREVE_TONE, strict=True):
        lower[_toned("ă", tone)] = b"a" + bytes([mod])
    for letter in "ơư":
        for tone, mod in zip(TONES, _VNI_TONE, strict=True):
            lower[_toned(letter, tone)] = bytes([_VNI_SINGLE[letter], mod])
    table = dict(lower)
    for letter, raw in lower.items():
        # Capitals: capital base, capital modifier (each 0x20 below its lowercase code).
        table[letter.upper()] = bytes(
            [raw[0] - 0x20 if raw[0] >= 0xC0 else ord(chr(raw[0]).upper())]
            + [byte - 0x20 for byte in raw[1:]]
        )
    return table


_VNI_ENCODE = _vni_table()
_VNI_DECODE_SINGLE: dict[int, str] = {
    raw[0]: letter for letter, raw in _VNI_ENCODE.items() if len(raw) == 1
}
# (base letter, modifier byte) → letter; modifiers of either case are read.
_VNI_DECODE_PAIR: dict[tuple[str, int], str] = {}
for _letter, _raw in _VNI_ENCODE.items():
    if len(_raw) == 2:
        _base_letter = _VNI_DECODE_SINGLE.get(_raw[0], chr(_raw[0]))
        for _mod in (_raw[1], _raw[1] ^ 0x20):
            _VNI_DECODE_PAIR[(_base_letter, _mod)] = _letter
_VNI_MODIFIERS = frozenset(mod for _, mod in _VNI_DECODE_PAIR)


def _cp1252(byte: int) -> str:
    # The five bytes cp1252 leaves undefined pass through as the C1 controls Windows gives.
    return bytes([byte]).decode("cp1252", errors="ignore") or chr(byte)


def _name(encoding: str) -> str:
    name = encoding.strip().lower().replace("_", "-")
    name = {"utf8": "utf-8", "windows-1252": "cp1252"}.get(name, name)
    if name not in DETECTED:
        raise InvalidInput(f"unknown text encoding {encoding!r}: use one of {', '.join(DETECTED)}")
    return name


def _decode_tcvn3(raw: bytes) -> str:
    text = "".join(_TCVN3_DECODE.get(byte) or _cp1252(byte) for byte in raw)
    return _restore_capitals(text)


def _capitals_context(letters: str) -> bool:
    cased = [ch for ch in letters if ch.isalpha() and ch not in _TCVN3_CASELESS]
    return len(cased) >= 2 and all(ch.isupper() for ch in cased)


def _restore_capitals(text: str) -> str:
    """Capital toned letters typed in the .VnTimeH font (module docstring)."""
    if not any(ch in _TCVN3_CASELESS for ch in text):
        return text
    if _capitals_context(text):
        return "".join(ch.upper() if ch in _TCVN3_CASELESS else ch for ch in text)

    def word(match: re.Match[str]) -> str:
        found = match.group()
        if not _capitals_context(found):
            return found
        return "".join(ch.upper() if ch in _TCVN3_CASELESS else ch for ch in found)

    return re.sub(r"[^\W\d_]+", word, text)


def _decode_vni(raw: bytes) -> str:
    out: list[str] = []
    for byte in raw:
        if byte in _VNI_MODIFIERS and out:
            joined = _VNI_DECODE_PAIR.get((out[-1], byte))
            if joined is None:
                # A shape byte then a tone byte after it ("a" + â + ´): read both.
                bare = unicodedata.normalize("NFD", out[-1])[0]
                shaped = _VNI_DECODE_PAIR.get((bare, byte))
                if shaped is not None and not _marks(shaped) <= _marks(out[-1]):
                    joined = _join_marks(out[-1], shaped)
            if joined is not None:
                out[-1] = joined
                continue
        out.append(_VNI_DECODE_SINGLE.get(byte) or _cp1252(byte))
    return "".join(out)


def _marks(letter: str) -> set[str]:
    return set(unicodedata.normalize("NFD", letter)[1:])


def _join_marks(first: str, second: str) -> str | None:
    # One shape mark and one tone mark, each from one of the two letters.
    marks = _marks(first) | _marks(second)
    tones = [mark for mark in marks if mark in TONES]
    shapes = sorted(mark for mark in marks if mark not in TONES)
    if len(tones) > 1 or len(shapes) > 1:
        return None
    letter = _toned(unicodedata.normalize("NFD", first)[0], "".join(shapes + tones))
    return letter if len(letter) == 1 else None


def decode(raw: bytes, encoding: str) -> str:
    """Bytes in ``encoding`` (``tcvn3``, ``vni``, or ``utf-8``/``cp1252``) → Unicode NFC.

    >>> decode(b"Hoa\\xe8ng Ho\\xf9a", "vni")
    'Hoằng Hóa'
    >>> decode(b"\\xa7\\xabng S\\xacn", "tcvn3")
    'Đông Sơn'
    """
    name = _name(encoding)
    if name == "tcvn3":
        text = _decode_tcvn3(raw)
    elif name == "vni":
        text = _decode_vni(raw)
    elif name == "utf-8":
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidInput(f"text is not valid UTF-8: {exc.reason}") from None
    else:
        text = "".join(_cp1252(byte) for byte in raw)
    return unicodedata.normalize("NFC", text)


def encode(text: str, encoding: str) -> bytes:
    """Unicode → ``tcvn3`` or ``vni`` bytes; ``ValueError`` where the encoding cannot hold it.

    TCVN3 writes capital toned letters with the lowercase codes (the ``.VnTimeH`` way),
    which decode gives back only inside a word or text of capitals.

    >>> encode("Thanh Hóa", "tcvn3")
    b'Thanh H\\xe3a'
    >>> encode("THANH HÓA", "tcvn3")
    b'THANH H\\xe3A'
    >>> encode("Ủy ban", "tcvn3")
    Traceback (most recent call last):
    ...
    ValueError: TCVN3 cannot hold 'Ủ' in 'Ủy ban' (it would read back as 'ủ')
    """
    name = encoding.strip().lower()
    if name not in LEGACY:
        raise ValueError(f"encode writes {', '.join(LEGACY)}, not {encoding!r}")
    text = unicodedata.normalize("NFC", text)
    raw = b"".join(_encode_char(ch, name) for ch in text)
    if decode(raw, name) != text:
        # Context changed the reading (a VNI modifier after a vowel, a TCVN3 capital):
        # name the first character whose prefix no longer reads back.
        for end in range(1, len(text) + 1):
            prefix = text[:end]
            back = decode(b"".join(_encode_char(ch, name) for ch in prefix), name)
            if back != prefix:
                shown = back[end - 1] if len(back) >= end else back[-1:]
                raise ValueError(
                    f"{name.upper()} cannot hold {text[end - 1]!r} in {text!r} "
                    f"(it would read back as {shown!r})"
                )
    return raw


def _encode_char(ch: str, name: str) -> bytes:
    if ch.isascii():
        return ch.encode("ascii")
    if name == "tcvn3" and ch in _TCVN3_ENCODE:
        return bytes([_TCVN3_ENCODE[ch]])
    if name == "vni" and ch in _VNI_ENCODE:
        return _VNI_ENCODE[ch]
    try:
        raw = ch.encode("cp1252")
    except UnicodeEncodeError:
        raise ValueError(f"{name.upper()} has no code for {ch!r}") from None
    if name == "tcvn3" and raw[0] in _TCVN3_DECODE:
        raise ValueError(f"TCVN3 has no code for {ch!r} (its byte is {_TCVN3_DECODE[raw[0]]!r})")
    if name == "vni" and raw[0] in _VNI_DECODE_SINGLE:
        raise ValueError(f"VNI has no code for {ch!r} (its byte is {_VNI_DECODE_SINGLE[raw[0]]!r})")
    return raw


# --- How Vietnamese a text looks ----------------------------------------------------------
_LETTER = {  # every Vietnamese letter (both cases) → (toneless lowercase letter, tone)
    _toned(base, tone): (base, tone) for base in VOWELS for tone in ("", *TONES)
}
_LETTER |= {letter.upper(): value for letter, value in _LETTER.items()}
_LETTER |= {ch: (ch.lower(), "") for ch in "bcdđghklmnpqrstvxBCDĐGHKLMNPQRSTVX"}
_ONSET = "(?:ngh|ng|nh|ch|gh|gi|kh|ph|qu|th|tr|[bcdđghklmnprstvx])?"
# Rhymes: nuclei that may close with a consonant, nuclei that end in a glide and stand
# alone (Vietnamese spelling; "gi"/"qu" are onsets).
_CLOSABLE = "iê|yê|uyê|uô|ươ|oa|oă|oe|uâ|uê|uy|ưa|ua|ia|oo|[aăâeêioôơuưy]"
_OPEN = "oai|oao|oay|oeo|uây|uôi|ươi|ươu|uyu|iêu|yêu|ai|ao|au|ay|âu|ây|eo|êu|iu|oi|ôi|ơi|ui|ưi|ưu"
_SYLLABLE = re.compile(f"{_ONSET}(?:(?P<nucleus>{_CLOSABLE})(?P<coda>ch|ng|nh|[cmnpt])?|{_OPEN})")
_NEUTRAL = re.compile(r"[\x00-\x7f\s\u2000-\u206f€]")


def _syllable(word: str) -> bool:
    tones = 0
    tone = ""
    plain = []
    for ch in word:
        if ch.isascii() and ch.isalpha():
            plain.append(ch.lower())
            continue
        if ch not in _LETTER:
            return False
        base, mark = _LETTER[ch]
        if mark:
            tones += 1
            tone = mark
        plain.append(base)
    match = _SYLLABLE.fullmatch("".join(plain))
    if tones > 1 or match is None:
        return False
    coda, nucleus = match["coda"], match["nucleus"]
    # Stopped syllables (-c, -ch, -p, -t) take only the sắc or nặng tone, and -ch/-nh
    # follow only a, ê, i (anh, ênh, inh, oanh, uênh, uynh, quỳnh).
    if coda in ("c", "ch", "p", "t") and tone not in ("\u0301", "\u0323"):
        return False
    return coda not in ("ch", "nh") or nucleus in ("a", "ê", "i", "y", "oa", "uê", "uy")


def plausibility(text: str) -> float:
    """Share of a text's non-ASCII words and signs that are Vietnamese syllables, 0…1.

    A wrong decoding leaves symbols (``µ``, ``¸``), two tones on one syllable or vowel
    runs no Vietnamese word has; ASCII-only words say nothing and are not counted.

    >>> plausibility("Làng nghề Đông Sơn")
    1.0
    >>> plausibility("L\\xb5ng ngh\\xd2 Th\\xb8nh")  # TCVN3 bytes read as cp1252
    0.3333333333333333
    >>> plausibility("Un élève du café")
    0.0
    """
    judged = good = 0
    for match in re.finditer(r"[^\W\d_]+|\S", text):
        token = match.group()
        if token.isascii() or _NEUTRAL.fullmatch(token):
            continue
        judged += 1
        good += token.isalpha() and _syllable(token)
    return 1.0 if judged == 0 else good / judged


def detect(samples: Sequence[bytes]) -> str:
    """``utf-8``, ``tcvn3``, ``vni`` or ``cp1252`` for the raw bytes of some text cells.

    ASCII only, or valid UTF-8: ``utf-8`` (nothing to guess). Otherwise the legacy
    reading that looks most Vietnamese (:func:`plausibility`, at least 0.75) wins; if
    neither looks Vietnamese the bytes are plain Windows-1252 (a French or English text),
    ``cp1252``. Both readings can be Vietnamese ("Que\\xe1" is VNI "Quế" and TCVN3
    "Queỏ"); then the bytes decide (:func:`_tell`). Give a column's worth of cells: one
    short name can be truly ambiguous (VNI "Nga S\\xf4n" is TCVN3 "Nga Sụn").
    """
    return detect_with_score(samples)[0]


def _tell(samples: Sequence[bytes]) -> str:
    """The encoding the bytes themselves point to when both readings look Vietnamese.

    0xA1–0xBF hold TCVN3's capitals, its a/ă tones and its đ, ơ, ư, and VNI uses none of
    them; a vowel followed by a modifier byte of its case is how VNI writes most toned
    vowels. Without either sign TCVN3 wins: the north's encoding, where Thanh Hóa is.
    """
    tcvn3 = sum(0xA1 <= byte <= 0xBF for raw in samples for byte in raw)
    vni = sum(
        (_VNI_DECODE_SINGLE.get(base) or chr(base), mod) in _VNI_DECODE_PAIR
        and (0x61 <= base <= 0x7A or base >= 0xE0) == (mod >= 0xE0)  # VNI keeps the case
        for raw in samples
        for base, mod in zip(raw, raw[1:], strict=False)
    )
    return "vni" if vni > 0 and tcvn3 == 0 else "tcvn3"


def detect_with_score(samples: Sequence[bytes]) -> tuple[str, float]:
    """:func:`detect` and how plausible its reading is (for "TCVN3 detected, 0.97")."""
    legacy = [raw for raw in samples if not raw.isascii()]
    if not legacy:
        return "utf-8", 1.0
    try:
        for raw in legacy:
            raw.decode("utf-8")
    except UnicodeDecodeError:
        pass
    else:
        return "utf-8", 1.0
    scores = {name: plausibility("\n".join(decode(raw, name) for raw in legacy)) for name in LEGACY}
    if scores["tcvn3"] != scores["vni"]:
        best = max(LEGACY, key=lambda name: scores[name])
    else:
        best = _tell(legacy)
    if scores[best] < 0.75:
        return "cp1252", 1.0 - scores[best]
    return best, scores[best]
