"""One call from loaded campuses and a store to the district report (CLI and API share it)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from contract.bindings import BindingTable
from store.base import Store
from twin.indicators import load_indicators
from twin.indicators.compute import DistrictReport, district_report
from twin.indicators.facts import gather_school
from twin.indicators.schema import IndicatorsFile
from twin.model import Campus
from twin.standards import StandardsFile, load_standards
from twin.standards.occupancy import Timetable, load_timetable


def build_report(
    campuses: Sequence[Campus],
    store: Store,
    start: int,
    end: int,
    *,
    period: str,
    year: int,
    bindings: BindingTable | None = None,
    indicators: IndicatorsFile | None = None,
    standards: StandardsFile | None = None,
    timetable: Timetable | None = None,
    interval_s: float | None = None,
    now_ns: int | None = None,
) -> DistrictReport:
    """District report over [start, end); `bindings` None = each campus's own bindings."""
    cfg = indicators or load_indicators()
    std = standards or load_standards()
    tt = timetable or load_timetable()
    facts = [
        gather_school(
            c,
            bindings,
            store,
            start,
            end,
            standards=std,
            timetable=tt,
            interval_s=interval_s or cfg.expected_interval_s,
            now_ns=now_ns,
        )
        for c in campuses
    ]
    generated = dt.datetime.now(dt.UTC).astimezone().isoformat(timespec="seconds")
    return district_report(facts, cfg, period=period, year=year, generated_at=generated)
