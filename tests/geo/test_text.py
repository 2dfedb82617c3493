"""One way to say things in two languages: ``geo.kernel.text`` (issue 11 point 4).

Every bilingual table of the code base is found by walking the modules' globals, so a
table added later is checked without being listed here.
"""

from __future__ import annotations

import ast
import dataclasses
import importlib
import pkgutil
import re
import string
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from geo.kernel import text
from geo.kernel.text import Text

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("api", "geo", "maps", "ops")
TEXT_MODULE = ROOT / "geo" / "kernel" / "text.py"

# Written the same in both languages on purpose.
NEUTRAL = {"API", "JSON"}
# Vietnamese that needs no diacritics; anything else unmarked is English left untranslated.
UNMARKED_VIETNAMESE = {"Tre", "Gai xanh", "Trang", "Trang sau", "OCOP (sao)"}
VIETNAMESE_LETTER = re.compile(
    "[àáảãạăằắẳẵặâầấẩẫậèéẻẽẹêềếểễệìíỉĩịòóỏõọôồốổỗộơờớởỡợùúủũụưừứửữựỳýỷỹỵđ]",
    re.IGNORECASE,
)


def _modules() -> Iterator[Any]:
    for package in PACKAGES:
        root = importlib.import_module(package)
        yield root
        for info in pkgutil.walk_packages(root.__path__, f"{package}."):
            yield importlib.import_module(info.name)


def _texts(value: Any, where: str, seen: set[int]) -> Iterator[tuple[str, Text]]:
    if id(value) in seen:
        return
    seen.add(id(value))
    if isinstance(value, Text):
        yield where, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _texts(item, f"{where}[{key!r}]", seen)
    elif isinstance(value, list | tuple | set | frozenset):
        for index, item in enumerate(value):
            yield from _texts(item, f"{where}[{index}]", seen)
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        for field in dataclasses.fields(value):
            yield from _texts(getattr(value, field.name), f"{where}.{field.name}", seen)


def _all_texts() -> list[tuple[str, Text]]:
    # Every path to every Text: a table imported elsewhere shows up under each name.
    found: list[tuple[str, Text]] = []
    for module in _modules():
        for name, value in vars(module).items():
            found.extend(_texts(value, f"{module.__name__}.{name}", set()))
    return found


FOUND = _all_texts()
TEXTS = list({id(entry): (where, entry) for where, entry in reversed(FOUND)}.values())


def test_the_walk_finds_every_table() -> None:
    # Without this, a walk that found nothing would pass every check below.
    for table in (
        "api.i18n.PAGE",
        "api.i18n.LINK_LABELS",
        "api.i18n.LANGUAGE_NAME",
        "maps.build.TEXT",
        "maps.build.VILLAGE_FIELDS",
        "maps.build.STOP_FIELDS",
        "maps.edit.TEXT",
        "maps.styles.CRAFT_GROUPS",
        "maps.styles.ADMIN_NAME",
        "geo.kernel.vocab.LABELS",
        "geo.store.catalog.VILLAGES",
    ):
        assert any(where.startswith(table) for where, _ in FOUND), table
    assert len(TEXTS) > 120


@pytest.mark.parametrize(("where", "entry"), TEXTS, ids=[where for where, _ in TEXTS])
def test_every_text_is_said_in_both_languages(where: str, entry: Text) -> None:
    assert entry.vi.strip() and entry.en.strip(), f"{where}: a language is missing"
    if entry.vi == entry.en:
        assert entry.vi in NEUTRAL, f"{where}: {entry.vi!r} is not translated"
    else:
        assert VIETNAMESE_LETTER.search(entry.vi) or entry.vi in UNMARKED_VIETNAMESE, (
            f"{where}: {entry.vi!r} has no Vietnamese diacritics: English left in?"
        )
    fields = [
        sorted(name for _, name, _, _ in string.Formatter().parse(side) if name)
        for side in (entry.vi, entry.en)
    ]
    assert fields[0] == fields[1], f"{where}: the languages fill in different fields"


def test_the_check_fails_on_a_missing_translation() -> None:
    for broken in (Text("", "Saved"), Text("Saved", "Saved"), Text("Save it", "Saved")):
        with pytest.raises(AssertionError):
            test_every_text_is_said_in_both_languages("example", broken)


def test_text_picks_vietnamese_unless_english() -> None:
    saved = Text("Đã lưu", "Saved")
    assert (saved("vi"), saved("en"), saved("fr"), saved.in_("")) == (
        "Đã lưu",
        "Saved",
        "Đã lưu",
        "Đã lưu",
    )
    assert text.in_({"saved": saved}, "en") == {"saved": "Saved"}
    assert Text("{n} phút", "{n} min").format(n=5)("en") == "5 min"
    assert (text.other("vi"), text.other("en"), text.other("fr")) == ("en", "vi", "en")


@pytest.mark.parametrize(
    ("asked", "header", "chosen"),
    [
        ("en", "vi", "en"),
        ("vi", "en", "vi"),
        ("fr", "en-GB,vi;q=0.5", "en"),
        (None, "fr, de;q=0.8, EN-us", "en"),
        (None, "fr, de", "vi"),
        (None, "", "vi"),
    ],
)
def test_negotiation_prefers_the_parameter_then_the_header(
    asked: str | None, header: str, chosen: str
) -> None:
    assert text.negotiate(asked, header) == chosen


def _sources(*folders: str) -> Iterator[Path]:
    for folder in folders:
        yield from sorted((ROOT / folder).rglob("*.py"))


PRODUCT = (*PACKAGES, "migrations", "scripts", "bench")


def _is_lang_code(node: ast.AST) -> bool:
    if isinstance(node, ast.Constant):
        return node.value in text.LANGS
    if isinstance(node, ast.Set | ast.Tuple | ast.List):
        return any(_is_lang_code(e) for e in node.elts)
    return False


def _own_lookups(path: Path) -> Iterator[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare) and any(
            _is_lang_code(side) for side in (node.left, *node.comparators)
        ):
            yield f"line {node.lineno}: compares with a language code"
        if isinstance(node, ast.Dict) and {"vi", "en"} <= {
            k.value for k in node.keys if isinstance(k, ast.Constant)
        }:
            yield f"line {node.lineno}: a table keyed by language"
        if isinstance(node, ast.Set | ast.Tuple | ast.List) and {"vi", "en"} <= {
            e.value for e in node.elts if isinstance(e, ast.Constant)
        }:
            yield f"line {node.lineno}: lists the languages"


def test_only_the_kernel_picks_a_language() -> None:
    needle = "def " + "_t("
    found = [
        str(path.relative_to(ROOT))
        for path in _sources(*PRODUCT, "tests")
        if needle in path.read_text("utf-8")
    ]
    assert not found, f"{needle} in {found}"
    # Tests may name the languages (they run each page in both); the code may not.
    own = [
        f"{path.relative_to(ROOT)} {problem}"
        for path in _sources(*PRODUCT)
        if path != TEXT_MODULE
        for problem in _own_lookups(path)
    ]
    assert not own, "\n".join(own)
    templates = ROOT / "api" / "templates"
    chosen = [
        f"{page.name}: {match.group(0)}"
        for page in sorted(templates.glob("*.html"))
        for match in re.finditer(r"lang\s*[!=]=|['\"](?:vi|en)['\"]", page.read_text("utf-8"))
    ]
    assert not chosen, chosen
