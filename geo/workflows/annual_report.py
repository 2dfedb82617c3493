"""What the annual programme report needs, read in one go: the indicators (province, units,
series), the records needing action and a map frame per share indicator.

The PDF (``maps.report``) and the XLSX (``geo.io.report_xlsx``) are drawn from this one
value, so the two files of one request say the same thing.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from geo.analysis.indicators import IndicatorReport
from geo.kernel import vocab
from geo.store.db import Connection
from geo.workflows.indicators import indicator_report, unit_frame
from geo.workflows.programme_actions import ActionLists, records_needing_action

# Indicators mapped by commune: the shares (a count or a growth rate per commune says
# little on a map; the tables carry them).
MAPPED_UNITS = frozenset({vocab.TargetUnit.PERCENT.value})


@dataclass(frozen=True)
class AnnualReport:
    """The report's data: indicators, action lists, and map frames keyed by indicator."""

    report: IndicatorReport
    actions: ActionLists
    maps: dict[str, Any]  # indicator code -> unit_frame(level="commune") (a GeoDataFrame)
    generated_at: dt.date | dt.datetime  # a day (the HTTP files: the same bytes all day) or a time


def annual_report(
    conn: Connection,
    *,
    programme: str | None,
    year: int,
    today: dt.date,
    generated_at: dt.date | dt.datetime,
    with_maps: bool = True,
) -> AnnualReport:
    """Read everything the annual report shows for ``year`` and ``programme``.

    Raises ``NotFound`` for an unknown programme and ``InvalidInput`` for a year outside
    2000-2100 (from ``indicator_report``). ``with_maps=False`` skips the map frames (the
    XLSX has no maps).
    """
    report = indicator_report(conn, programme=programme, year=year, today=today)
    actions = records_needing_action(conn, today=today)
    maps: dict[str, Any] = {}
    if with_maps:
        for code, value in report.province.items():
            if value.unit in MAPPED_UNITS:
                maps[code] = unit_frame(conn, report, level="commune", indicator=code)
    return AnnualReport(report=report, actions=actions, maps=maps, generated_at=generated_at)
