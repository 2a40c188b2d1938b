"""Threshold breaches as intervals with start and end, from the standards' limits.

Windows: instant rules are read as 5-minute worst values (max for upper limits, min for lower),
averaged rules as 1-hour means; only windows starting while the rule applies (occupied time,
months, hours, via the evaluator's `applicable_intervals`) count. Consecutive breaching
windows form one alert; a run that reaches the end of the period while it is "now" is open.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from api.compliance import LiveEngine
from api.twin_index import SpacePlace
from store.base import Agg, SeriesInfo, Window
from twin.standards import Rule
from twin.standards import intervals as iv
from twin.standards.evaluator import applicable_intervals, passes

NS = 1_000_000_000
INSTANT_EVERY = 300 * NS
MEAN_EVERY = 3600 * NS


@dataclass(frozen=True, slots=True)
class Breach:
    rule: Rule
    series: SeriesInfo
    start: int
    end: int | None
    worst: float | None


def breach_runs(
    windows: Sequence[Window], breaching: Sequence[bool], every: int, period_end: int, open_ended: bool
) -> list[tuple[int, int | None, int, int]]:
    """(start, end or None, first, last window index) of each run of consecutive breaching windows."""
    runs: list[tuple[int, int | None, int, int]] = []
    run_start: int | None = None
    first = 0
    prev_start: int | None = None
    for i, (w, bad) in enumerate(zip(windows, breaching, strict=True)):
        contiguous = prev_start is not None and w.start - prev_start <= every
        if bad and run_start is not None and contiguous:
            prev_start = w.start
            continue
        if run_start is not None:
            assert prev_start is not None
            runs.append((run_start, prev_start + every, first, i - 1))
            run_start = None
        if bad:
            run_start, first = w.start, i
        prev_start = w.start
    if run_start is not None:
        assert prev_start is not None
        end = prev_start + every
        last = len(windows) - 1
        runs.append(
            (run_start, None if open_ended and end >= period_end else min(end, period_end), first, last)
        )
    return runs


def _agg(rule: Rule) -> Agg:
    if rule.averaging != "instant":
        return Agg.MEAN
    return Agg.MIN if rule.comparator == ">=" else Agg.MAX


def room_breaches(
    engine: LiveEngine,
    place: SpacePlace,
    series: Sequence[SeriesInfo],
    start: int,
    end: int,
    now: int,
    quantity: str | None = None,
) -> list[Breach]:
    out: list[Breach] = []
    occupied: iv.Intervals | None = None
    for rule in engine.standards.rules:
        if quantity is not None and rule.quantity != quantity:
            continue
        if not rule.applies.matches_room(place.space.room_type):
            continue
        for s in series:
            if s.quantity != rule.quantity or not rule.applies.matches_point(s.key.point):
                continue
            every = INSTANT_EVERY if rule.averaging == "instant" else MEAN_EVERY
            windows = [
                w for w in engine.store.range(s.key, start, end, every, _agg(rule)) if w.value is not None
            ]
            if not windows:
                continue
            if occupied is None:
                occupied = engine.occupied(series, start, end)
            app = applicable_intervals(rule, occupied, start, end, engine.tz)
            starts = np.array([w.start for w in windows], dtype=np.int64)
            vals = np.array([w.value for w in windows], dtype=np.float64)
            bad = (~passes(rule, vals)) & iv.contains(app, np.maximum(starts, start))
            for run_start, run_end, first, last in breach_runs(windows, bad.tolist(), every, end, end >= now):
                seg = vals[first : last + 1]
                worst = float(seg.min() if rule.comparator == ">=" else seg.max())
                out.append(Breach(rule, s, max(run_start, start), run_end, worst))
    return out
