"""The indicator charts as SVG (issue 16 point 4): progress bars and time series."""

from __future__ import annotations

import re
from dataclasses import dataclass
from xml.etree import ElementTree

import pytest

from maps import charts


@dataclass(frozen=True)
class Target:
    year: int
    comparison: str
    target: float
    unit: str
    status: str
    expected: float | None = None


TARGETS = (
    Target(2025, "at_least", 80.0, "percent", "met"),
    Target(2030, "at_least", 100.0, "percent", "behind", expected=86.0),
)


def _texts(svg: str) -> list[str]:
    root = ElementTree.fromstring(svg)
    return ["".join(t.itertext()) for t in root.iter("{http://www.w3.org/2000/svg}text")]


def test_progress_bar_writes_value_both_targets_status_and_way_point_in_vietnamese() -> None:
    svg = charts.progress_bar(82.5, TARGETS, "percent", "vi", year=2026)
    texts = _texts(svg)
    assert "Giá trị 2026: 82,5\u00a0%" in texts
    assert "Mục tiêu 2025: ít nhất 80,0\u00a0%" in texts
    assert "Mục tiêu 2030: ít nhất 100,0\u00a0%" in texts
    assert "Lộ trình 2026: 86,0\u00a0%" in texts
    # The status that speaks for 2026 is 2030's (the nearest target ahead), in words.
    assert "! Chậm tiến độ" in texts
    assert 'class="cm-bar"' in svg
    assert "<script" not in svg and "@font-face" not in svg


def test_progress_bar_in_english_and_without_a_value_draws_no_bar() -> None:
    svg = charts.progress_bar(None, TARGETS, "percent", "en", year=2026)
    texts = _texts(svg)
    assert "No data for 2026" in texts
    assert "– No data" in texts
    assert "Target 2025: at least 80.0\u00a0%" in texts
    assert 'class="cm-bar"' not in svg


def test_ratio_and_growth_units_are_written_in_the_pages_format() -> None:
    assert charts.quantity(1.5, "ratio", "vi") == "1,50 lần"
    assert charts.quantity(1500.5, "percent", "vi") == "1.500,5\u00a0%"
    assert charts.quantity(1500.5, "percent", "en") == "1,500.5\u00a0%"
    assert charts.quantity(10.0, "percent_per_year", "en") == "10.0 % a year"
    assert charts.quantity(None, "percent", "vi") == "—"


def test_time_series_breaks_the_line_at_a_year_without_data() -> None:
    series = {"share_env_plan": [(2021, 40.0), (2022, None), (2023, 55.0), (2024, 60.0)]}
    svg = charts.time_series(series, TARGETS, "percent", "vi")
    assert svg.count('class="cm-point"') == 3
    # One line (2023–2024); 2021 stands alone: a missing year is a gap, never a zero.
    assert svg.count('class="cm-line"') == 1
    points = re.search(r'class="cm-line" points="([^"]+)"', svg)
    assert points is not None and len(points.group(1).split()) == 2
    assert svg.count('class="cm-target-mark"') == 2
    texts = _texts(svg)
    assert "2025: 80,0\u00a0%" in texts and "2030: 100,0\u00a0%" in texts
    assert "2030" in texts  # the x axis runs to the last target year


def test_time_series_without_data_says_so() -> None:
    svg = charts.time_series({"share_env_plan": []}, (), "percent", "en")
    assert "No data" in _texts(svg)


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_record_text_is_escaped_in_every_chart(lang: str) -> None:
    svg = charts.progress_bar(1.0, (), "<img src=x onerror=alert(1)>", lang, year=2026)
    assert "<img" not in svg
    ElementTree.fromstring(svg)  # well-formed: it embeds in the PDF as it is


def test_a_target_before_the_first_year_with_data_stays_on_the_axis() -> None:
    counts = (
        Target(2025, "at_least", 5.0, "count", "met"),
        Target(2030, "at_least", 10.0, "count", "on_track", expected=6.0),
    )
    svg = charts.time_series({"villages_tourism_linked": [(2026, 6.0)]}, counts, "count", "vi")
    root = ElementTree.fromstring(svg)
    marks = [e for e in root.iter() if e.get("class") == "cm-target-mark"]
    xs = [float(e.get("d", "M0,0").split(",")[0][1:]) for e in marks]
    assert len(xs) == 2 and all(x >= 50 for x in xs) and xs[0] < xs[1]
    texts = _texts(svg)
    assert "2025" in texts and "2026" in texts
    # Counts get whole-number ticks.
    assert not any("," in t for t in texts if t[:1].isdigit() and len(t) <= 4)
