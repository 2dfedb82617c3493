"""One way to say things in two languages: ``Text(vi, en)`` and the language rule.

craftmap speaks Vietnamese first and English second. Every visible string that exists in
both (page texts, map texts, code-list labels, collection titles) is a ``Text``; a keyed
table of them is a plain ``Mapping[str, Text]``. Picking the language happens here and
nowhere else, so the HTTP pages, the maps and the reports cannot disagree on it.

Examples
--------
>>> saved = Text("Đã lưu", "Saved")
>>> saved("en"), saved.in_("vi"), saved("fr")
('Saved', 'Đã lưu', 'Đã lưu')
>>> negotiate(None, "en-GB,vi;q=0.5")
'en'
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

Lang = Literal["vi", "en"]

# In order of preference: Vietnamese is the default, English the other language.
LANGS: tuple[Lang, ...] = ("vi", "en")
DEFAULT_LANG: Lang = "vi"


def language(code: str | None) -> Lang:
    """The supported language ``code`` names; anything else means the default (Vietnamese)."""
    return "en" if code == "en" else DEFAULT_LANG


def other(lang: str) -> Lang:
    """The language a page offers to switch to."""
    return "vi" if language(lang) == "en" else "en"


def negotiate(asked: str | None, accept_language: str = "") -> Lang:
    """``lang=`` wins, then the first supported ``Accept-Language`` entry, then Vietnamese.

    Quality values are not weighed: the header's order decides, as browsers list the
    user's languages best first.
    """
    return asked_language(asked, accept_language) or DEFAULT_LANG


def asked_language(asked: str | None, accept_language: str = "") -> Lang | None:
    """The language a request names (``lang=``, then ``Accept-Language``), or None.

    A JSON problem detail stays English unless a request names Vietnamese this way.

    >>> asked_language(None, "fr, vi"), asked_language(None, "fr"), asked_language("en")
    ('vi', None, 'en')
    """
    if asked in LANGS:
        return language(asked)
    for part in accept_language.split(","):
        code = part.split(";")[0].strip().lower()[:2]
        if code in LANGS:
            return language(code)
    return None


@dataclass(frozen=True, slots=True)
class Text:
    """A text in Vietnamese and English; ``text(lang)`` or ``text.in_(lang)`` picks one."""

    vi: str
    en: str

    def in_(self, lang: str) -> str:
        """The text in ``lang`` (Vietnamese unless ``en``)."""
        return self.en if language(lang) == "en" else self.vi

    def __call__(self, lang: str) -> str:
        return self.in_(lang)

    def format(self, **values: Any) -> Text:
        """Both languages with ``{name}`` fields filled in.

        >>> Text("{n} phút", "{n} min").format(n=5)("en")
        '5 min'
        """
        return Text(self.vi.format(**values), self.en.format(**values))


K = TypeVar("K")


def in_(table: Mapping[K, Text], lang: str) -> dict[K, str]:
    """A whole table in one language (what a template gets as ``t``)."""
    return {key: text.in_(lang) for key, text in table.items()}


# Swaps the English thousands and decimal marks for the Vietnamese ones.
_VI_MARKS = str.maketrans(",.", ".,")


def number(value: float, lang: str, digits: int | None = None, *, grouped: bool = True) -> str:
    """A number as ``lang`` writes it: 1.500,0 in Vietnamese, 1,500.0 in English.

    Whole numbers (ints) get no decimals and other numbers one, unless ``digits`` says.

    >>> number(1500.0, "vi"), number(1500.0, "en"), number(12500, "vi"), number(0.25, "vi", 2)
    ('1.500,0', '1,500.0', '12.500', '0,25')
    >>> number(31.87130601310158, "vi", 1), number(2026, "vi", grouped=False)
    ('31,9', '2026')
    """
    if digits is None:
        digits = 0 if isinstance(value, int) else 1
    english = f"{value:,.{digits}f}" if grouped else f"{value:.{digits}f}"
    return english if language(lang) == "en" else english.translate(_VI_MARKS)


def date_format(lang: str, *, with_time: bool = False) -> str:
    """The ``strftime`` pattern of a date in ``lang``: ``30/11/2026`` or ``2026-11-30``."""
    pattern = "%Y-%m-%d" if language(lang) == "en" else "%d/%m/%Y"
    return f"{pattern} %H:%M" if with_time else pattern
