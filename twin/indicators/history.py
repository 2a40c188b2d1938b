"""A series' history for the report, read in bulk instead of point by point.

Reading every raw point of a term (≈170 k per series at one a minute) costs a Python object
per point, and most of them are not needed:

- averaged (arithmetic) rules and the received count: every boundary the evaluation cuts time
  at — the period, the lessons that make a room occupied, seasons, hours of day, the windows of
  class time and local days the standards average over — falls on a multiple of one *grain* (their
  GCD: 10 min for the default timetable). Inside a grain window all readings are treated
  alike, so the store averages each window and the window means repeated `count` times give
  the evaluator the same counts and sums (up to float rounding of mean × count);
- instant rules compare each reading, and energy-mean and L90 rules (sound levels) need
  the readings themselves — but only those in the time the rule
  applies (class hours: about a quarter of a term). They are read raw over those spans only
  (spans closer than `MERGE_GAP_NS` merged into one read), which gives the evaluator exactly
  the readings it would keep from a full read. Energy rules use the window means when no
  window holds more than one reading.

When the grain is finer than the expected reading interval there is nothing to gain and the
series is read raw, as before.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt

from contract.telemetry import SeriesKey
from store.base import Agg, Store, Window
from twin.standards import intervals as iv
from twin.standards.schema import Rule
from twin.standards.windows import windows

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
Readings = tuple[I64, F64]


def grain_ns(
    rules: Iterable[Rule],
    applicable: dict[str, iv.Intervals],
    start: int,
    end: int,
    tz: ZoneInfo,
    interval_ns: int,
) -> int | None:
    """The coarsest window (ns, epoch-aligned as the store aligns them) that every evaluation
    boundary falls on — the applicable intervals and the engine's windows of each rule; None
    when it is finer than `interval_ns` (read raw)."""
    g = math.gcd(start, end)
    for rule in rules:
        for b in applicable[rule.id].ravel().tolist():
            g = math.gcd(g, int(b))
        if rule.averaging != "instant":
            for w in windows(rule, applicable[rule.id], start, end, tz, interval_ns):
                for e in w.parts.ravel().tolist():
                    g = math.gcd(g, int(e))
                if g < interval_ns:
                    return None
    return g if g >= max(interval_ns, 1) else None


def _valid(wins: list[Window]) -> Readings:
    ok = [w for w in wins if w.value is not None and w.count > 0]
    return (
        np.array([w.start for w in ok], dtype=np.int64),
        np.array([w.value for w in ok], dtype=np.float64),
    )


MERGE_GAP_NS = 4 * 3600 * 10**9  # one read per school day rather than one per lesson
FULL_READ_SHARE = 0.7  # spans covering more of the period than this: one full read instead


def read_spans(applicable: iv.Intervals, start: int, end: int) -> list[tuple[int, int]]:
    """The applicable intervals as store reads: close ones merged; [] when nothing applies."""
    spans: list[tuple[int, int]] = []
    for a, b in applicable.tolist():
        if spans and a - spans[-1][1] < MERGE_GAP_NS:
            spans[-1] = (spans[-1][0], b)
        else:
            spans.append((a, b))
    if sum(b - a for a, b in spans) > FULL_READ_SHARE * (end - start):
        return [(start, end)]
    return spans


class SeriesHistory:
    """One bound series over [start, end): how many readings it sent, and per rule the
    readings to evaluate (real ones, or window means standing in for them). `with_grain`
    gives the view at one grain (None: raw readings); views share the raw read."""

    def __init__(self, store: Store, key: SeriesKey, start: int, end: int, grain: int | None = None) -> None:
        self.store, self.key, self.start, self.end, self.grain = store, key, start, end, grain
        self._raw: Readings | None = None
        self._spans: dict[tuple[tuple[int, int], ...], Readings] = {}
        self._views: dict[int | None, SeriesHistory] = {grain: self}
        self._received: int | None = None
        if grain is None or grain < 0:
            self.grain = None
            return
        wins = store.range(key, start, end, every=grain, agg=Agg.MEAN)
        wins = [w for w in wins if w.count > 0 and w.value is not None]
        self.w_start = np.array([w.start for w in wins], dtype=np.int64)
        self.w_mean = np.array([w.value for w in wins], dtype=np.float64)
        self.w_count = np.array([w.count for w in wins], dtype=np.int64)
        self._received = int(self.w_count.sum())

    @property
    def received(self) -> int:
        """Readings with a value in the period (one COUNT query unless already read)."""
        if self._received is None:
            if self._raw is not None:
                self._received = len(self._raw[0])
            else:
                wins = self.store.range(
                    self.key, self.start, self.end, every=self.end - self.start, agg=Agg.COUNT
                )
                self._received = int(sum(w.count for w in wins))
        return self._received

    def with_grain(self, grain: int | None) -> SeriesHistory:
        if grain not in self._views:
            view = SeriesHistory(self.store, self.key, self.start, self.end, grain)
            view._raw, view._spans, view._views = self._raw, self._spans, self._views
            self._views[grain] = view
        view = self._views[grain]
        if view._raw is None and self._raw is not None:
            view._raw = self._raw
        return view

    def raw(self) -> Readings:
        if self._raw is None:
            self._raw = _valid(self.store.range(self.key, self.start, self.end))
        return self._raw

    def readings(self, rule: Rule, applicable: iv.Intervals) -> Readings:
        """What to evaluate for `rule`, whose applicable time is `applicable`."""
        if self.grain is None or self._raw is not None:
            return self.raw() if self.grain is None else self._within(applicable)
        if rule.averaging != "instant" and rule.statistic == "mean":
            return np.repeat(self.w_start, self.w_count), np.repeat(self.w_mean, self.w_count)
        if rule.averaging != "instant" and int(self.w_count.max(initial=0)) <= 1:
            return self.w_start, self.w_mean  # one reading per window: the mean is the reading
        return self._within(applicable)

    def _within(self, applicable: iv.Intervals) -> Readings:
        spans = tuple(read_spans(applicable, self.start, self.end))
        if spans == ((self.start, self.end),):
            return self.raw()
        if self._raw is not None:
            return self._raw
        if spans not in self._spans:
            parts = [_valid(self.store.range(self.key, a, b)) for a, b in spans]
            self._spans[spans] = (
                np.concatenate([np.zeros(0, dtype=np.int64), *(t for t, _ in parts)]),
                np.concatenate([np.zeros(0, dtype=np.float64), *(v for _, v in parts)]),
            )
        return self._spans[spans]
