"""Indicators of one campus through the twin's report builder (`twin.indicators.build`).

A report over one campus is a school-level report: city-wide targets are not judged (the
campus's contribution is shown instead); operational figures add coverage and completeness.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from api.schemas import IndicatorOut, Label
from twin.indicators.build import build_report
from twin.model import Campus

if TYPE_CHECKING:
    from api.state import AppState


def compute(state: AppState, campus: Campus, start: int, end: int) -> list[IndicatorOut]:
    year = datetime.fromtimestamp(end / 1e9, state.tz).year
    period = f"{state.to_dt(start).date()}..{state.to_dt(end).date()}"
    rep = build_report(
        [campus],
        state.store,
        start,
        end,
        period=period,
        year=year,
        bindings=state.loaded.bindings,
        standards=state.live.standards,
        timetable=state.live.timetable,
        now_ns=state.now_ns(),
    )
    out = [
        IndicatorOut(
            id=r.indicator.id,
            label=Label(zh=r.indicator.name_zh, en=r.indicator.name_en),
            value=r.value,
            unit=f"{r.indicator.unit_zh} {r.indicator.unit_en}".strip(),
            target=r.indicator.target.value if r.indicator.target else None,
            target_year=r.indicator.target.year if r.indicator.target else None,
            expected_now=r.judgement.expected_now,
            on_track=r.judgement.on_track,
        )
        for r in rep.plan_indicators
        if r.value is not None
    ]
    for s in rep.schools:
        out += [
            IndicatorOut(
                id="rooms_total", label=Label(zh="房间总数", en="Rooms"), value=s.rooms_total, unit=None
            ),
            IndicatorOut(
                id="sensor_coverage",
                label=Label(zh="教学用房传感器覆盖率", en="Teaching rooms with live sensors"),
                value=s.coverage,
                unit="1",
            ),
            IndicatorOut(
                id="data_completeness",
                label=Label(zh="数据完整率", en="Data completeness"),
                value=s.completeness,
                unit="1",
            ),
        ]
    return out
