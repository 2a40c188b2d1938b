"""Indicators of one campus through the twin's report builder (`twin.indicators.build`).

A report over one campus is a school-level report: city-wide targets are not judged (the
campus's contribution is shown instead); operational figures add coverage and completeness.

`BuildInputs` carries everything a build needs as plain (picklable) data, once for both entry
points: `compute` builds in the calling thread over a store it is given; `compute_in_worker` is
the same build in a worker process (`api.expensive.ProcessBuilds`), which opens the store itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import TYPE_CHECKING

from api.schemas import IndicatorOut, Label
from contract.bindings import BindingTable
from contract.school_time import SchoolTime
from store.base import Store
from store.factory import open_store
from twin.indicators.build import build_report
from twin.model import Campus
from twin.standards import StandardsFile

if TYPE_CHECKING:
    from api.state import AppState
    from store.config import StoreConfig


@dataclass(frozen=True, slots=True)
class BuildInputs:
    """One campus's indicator build over [start, end) ns, as of `now_ns`."""

    campus: Campus
    start: int
    end: int
    tz: tzinfo
    bindings: BindingTable
    standards: StandardsFile
    timetable: SchoolTime
    now_ns: int

    @classmethod
    def of(cls, state: AppState, campus: Campus, start: int, end: int) -> BuildInputs:
        live = state.live
        return cls(
            campus,
            start,
            end,
            state.tz,
            state.loaded.bindings,
            live.standards,
            live.timetable,
            state.now_ns(),
        )


_worker_stores: dict[str, Store] = {}  # per worker process: one open store per config


def compute_in_worker(store_cfg: StoreConfig, inputs: BuildInputs) -> list[IndicatorOut]:
    """`compute` in a worker process, over a store it opens once per config."""
    key = store_cfg.model_dump_json()
    store = _worker_stores.get(key)
    if store is None:
        store = _worker_stores[key] = open_store(store_cfg)
    return compute(inputs, store)


def compute(inputs: BuildInputs, store: Store) -> list[IndicatorOut]:
    campus, start, end, tz = inputs.campus, inputs.start, inputs.end, inputs.tz
    year = datetime.fromtimestamp(end / 1e9, tz).year
    period = (
        f"{datetime.fromtimestamp(start / 1e9, tz).date()}..{datetime.fromtimestamp(end / 1e9, tz).date()}"
    )
    rep = build_report(
        [campus],
        store,
        start,
        end,
        period=period,
        year=year,
        bindings=inputs.bindings,
        standards=inputs.standards,
        timetable=inputs.timetable,
        now_ns=inputs.now_ns,
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
