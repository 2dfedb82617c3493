"""A designed route's stored notes said in the page's language.

The designer stores its notes (why a leg is straight, why a window is missed) in English:
a column holds one text. Pages, hand-outs and printed maps in Vietnamese say them with these
templates; a note that matches none is shown as stored.

>>> note_text("a boat leg, drawn straight", "vi")
'chặng đi thuyền, vẽ thẳng'
>>> note_text("straight line at 40.0 km/h", "vi")
'nối thẳng, tính 40,0 km/h'
"""

from __future__ import annotations

import re

from geo.kernel.text import Text

_NUM = r"(?P<{}>\d+(?:\.\d+)?)"
_NOTE_WORDS: list[tuple[re.Pattern[str], Text]] = [
    (
        re.compile(r"no road network is loaded"),
        Text("chưa nạp mạng lưới đường bộ", "no road network is loaded"),
    ),
    (
        re.compile(r"straight line at " + _NUM.format("kmh") + " km/h"),
        Text("nối thẳng, tính {kmh} km/h", "straight line at {kmh} km/h"),
    ),
    (
        re.compile(
            r"stop (?P<k>\d+) is " + _NUM.format("km") + r" km from the nearest road of network "
            r"(?P<net>\S+) \(more than " + _NUM.format("max") + r" km\)"
        ),
        Text(
            "điểm dừng {k} cách đường gần nhất của mạng {net} {km} km (quá {max} km)",
            "stop {k} is {km} km from the nearest road of network {net} (more than {max} km)",
        ),
    ),
    (
        re.compile(r"stop (?P<k>\d+): network (?P<net>\S+) has no road vertex"),
        Text(
            "điểm dừng {k}: mạng {net} không có nút đường nào",
            "stop {k}: network {net} has no road vertex",
        ),
    ),
    (
        re.compile(
            r"stops (?P<a>\d+) and (?P<b>\d+) are not connected by roads a (?P<mode>\w+) may "
            r"use on network (?P<net>\S+)"
        ),
        Text(
            "không có đường cho {mode} nối điểm dừng {a} với {b} trên mạng {net}",
            "stops {a} and {b} are not connected by roads a {mode} may use on network {net}",
        ),
    ),
    (
        re.compile(r"a boat leg, drawn straight"),
        Text("chặng đi thuyền, vẽ thẳng", "a boat leg, drawn straight"),
    ),
    (
        re.compile(
            r"arrives (?P<at>\d\d:\d\d)(?P<late> \(next day\)| \(day \+\d+\))?, after closing "
            r"at (?P<closes>\d\d:\d\d)"
        ),
        Text(
            "đến lúc {at}{late}, sau giờ đóng cửa {closes}",
            "arrives {at}{late}, after closing at {closes}",
        ),
    ),
    (
        # Said of the stop it reaches: a stop number here would need the input's indexing.
        re.compile(r"no known way from the previous stop"),
        Text("không có đường đi từ điểm dừng trước", "no known way from the previous stop"),
    ),
]
_MODE_WORDS = {
    "car": Text("ô tô", "car"),
    "motorbike": Text("xe máy", "motorbike"),
    "bicycle": Text("xe đạp", "bicycle"),
    "walking": Text("người đi bộ", "walking"),
    "boat": Text("thuyền", "boat"),
}
_LATE_WORDS = {" (next day)": Text(" (hôm sau)", " (next day)")}


def note_text(note: str | None, lang: str) -> str | None:
    """A stored note (or window problem) in ``lang``: its parts said in that language."""
    if note is None:
        return None
    said: list[str] = []
    for part in re.split(r"(; |: )", note):
        if part in ("; ", ": "):
            said.append(part)
            continue
        for pattern, words in _NOTE_WORDS:
            found = pattern.fullmatch(part)
            if found is None:
                continue
            values = {k: v or "" for k, v in found.groupdict().items()}
            vi = dict(values)
            for key in ("kmh", "km", "max"):
                if key in vi:
                    vi[key] = vi[key].replace(".", ",")
            if "mode" in vi:
                vi["mode"] = _MODE_WORDS.get(vi["mode"], Text(vi["mode"], vi["mode"])).vi
            if "late" in vi:
                vi["late"] = _LATE_WORDS.get(vi["late"], Text(vi["late"], vi["late"])).vi
            part = Text(words.vi.format(**vi), words.en.format(**values))(lang)
            break
        said.append(part)
    return "".join(said)
