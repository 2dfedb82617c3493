"""THROWAWAY stand-in for the legacy-encoding decoders (issue 13, another engineer's module).

Same signatures as the real ``geo/io/legacy_text.py``; the lead takes the real one at
merge. It knows TCVN3's lower-case letters and a few VNI ones: enough for the import tests.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence

LEGACY = ("tcvn3", "vni")

_TCVN3_LETTERS = "ăâêôơưđĂÂÊÔƠƯĐàảãáạằẳẵắặầẩẫấậèẻẽéẹềểễếệìỉĩíịòỏõóọồổỗốộờởỡớợùủũúụừửữứựỳỷỹýỵ"
_TCVN3_BYTES = bytes(
    [0xA8, 0xA9, 0xAA, 0xAB, 0xAC, 0xAD, 0xAE, 0xA1, 0xA2, 0xA3, 0xA4, 0xA5, 0xA6, 0xA7]
    + [0xB5, 0xB6, 0xB7, 0xB8, 0xB9, 0xBB, 0xBC, 0xBD, 0xBE, 0xC6, 0xC7, 0xC8, 0xC9, 0xCA]
    + [0xCB, 0xCC, 0xCE, 0xCF, 0xD0, 0xD1, 0xD2, 0xD3, 0xD4, 0xD5, 0xD6, 0xD7, 0xD8, 0xDC]
    + [0xDD, 0xDE, 0xDF, 0xE1, 0xE2, 0xE3, 0xE4, 0xE5, 0xE6, 0xE7, 0xE8, 0xE9, 0xEA, 0xEB]
    + [0xEC, 0xED, 0xEE, 0xEF, 0xF1, 0xF2, 0xF3, 0xF4, 0xF5, 0xF6, 0xF7, 0xF8, 0xF9, 0xFA]
    + [0xFB, 0xFC, 0xFD, 0xFE]
)
_TCVN3_ENCODE = dict(zip(_TCVN3_LETTERS, _TCVN3_BYTES, strict=True))
_TCVN3_DECODE = {b: c for c, b in _TCVN3_ENCODE.items()}
# A few VNI-Windows letters (base letter + mark byte).
_VNI = {"đ": b"\xf1", "Đ": b"\xd1", "ơ": b"\xf4", "ư": b"\xf6", "à": b"a\xf8", "á": b"a\xf9"}


def decode(raw: bytes, encoding: str) -> str:
    """``raw`` in ``encoding`` (tcvn3, vni, utf-8) as NFC Unicode."""
    if encoding == "tcvn3":
        text = "".join(_TCVN3_DECODE.get(b, chr(b)) for b in raw)
    elif encoding == "vni":
        text = raw.decode("latin1")
        for letter, code in sorted(_VNI.items(), key=lambda kv: -len(kv[1])):
            text = text.replace(code.decode("latin1"), letter)
    else:
        text = raw.decode("utf-8")
    return unicodedata.normalize("NFC", text)


def encode(text: str, encoding: str) -> bytes:
    """``text`` in a legacy encoding (for test fixtures)."""
    text = unicodedata.normalize("NFC", text)
    if encoding == "tcvn3":
        out = bytearray()
        for char in text:
            if char in _TCVN3_ENCODE:
                out.append(_TCVN3_ENCODE[char])
            elif char.lower() in _TCVN3_ENCODE:  # upper-case toned letters: the H fonts
                out.append(_TCVN3_ENCODE[char.lower()])
            else:
                out += char.encode("ascii")
        return bytes(out)
    if encoding == "vni":
        return b"".join(_VNI.get(c, c.encode("ascii")) for c in text)
    return text.encode("utf-8")


def detect(samples: Sequence[bytes]) -> str:
    """ "utf-8", "tcvn3" or "vni": the encoding the text samples are most likely in."""
    high = [s for s in samples if any(b >= 0x80 for b in s)]
    if not high:
        return "utf-8"
    try:
        for sample in high:
            sample.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError:
        pass
    vni_marks = sum(s.count(m) for s in high for m in (b"\xf8", b"\xf9", b"\xf1", b"\xf6"))
    tcvn_marks = sum(1 for s in high for b in s if b in _TCVN3_DECODE)
    return "vni" if vni_marks > tcvn_marks else "tcvn3"
