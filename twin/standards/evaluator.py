"""Evaluate a standards rule on one series, averaged the way the standard averages it.

Pure numpy, no I/O: the caller passes timestamps (ns UTC), values, the occupied intervals of
the room and the period. Windows (clock hours, local days) are weighed by the part of them the
rule applies to (e.g. the occupied minutes of an hour), so the compliant share is a share of
applicable *time*, not of windows. A window counts only if its readings cover `min_coverage`
of its applicable time (readings × expected interval), else the data is insufficient.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt

from twin.standards import intervals as iv
from twin.standards.schema import AVERAGING_NS, Rule


class Status(StrEnum):
    COMPLIANT = "compliant"
    NON_COMPLIANT = "non_compliant"
    INSUFFICIENT = "insufficient_data"


STATUS_ZH = {Status.COMPLIANT: "达标", Status.NON_COMPLIANT: "不达标", Status.INSUFFICIENT: "数据不足"}


@dataclass(frozen=True, slots=True)
class Verdict:
    rule_id: str
    status: Status
    measured: float | None  # the worst valid window mean (or reading, for instant rules)
    worst_start: int | None  # ns of the start of that window (or the reading's ts)
    limit: float | tuple[float, float]
    comparator: str
    unit: str
    standard: str
    clause: str
    label_zh: str
    label_en: str
    compliant_share: float | None  # compliant applicable time / applicable time with valid data
    applicable_s: float  # time the rule applied in the period (e.g. occupied time)
    valid_s: float  # part of it with enough data
    windows_valid: int
    windows_compliant: int

    @property
    def coverage(self) -> float | None:
        return self.valid_s / self.applicable_s if self.applicable_s else None


def passes(rule: Rule, values: npt.NDArray[np.float64]) -> npt.NDArray[np.bool_]:
    if rule.comparator == "<=":
        return values <= float(rule.limit)  # type: ignore[arg-type]
    if rule.comparator == ">=":
        return values >= float(rule.limit)  # type: ignore[arg-type]
    lo, hi = rule.limit  # type: ignore[misc]
    return (values >= lo) & (values <= hi)


def badness(rule: Rule, values: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """How far past (positive) or inside (negative) the limit a value is; the worst is the max."""
    if rule.comparator == "<=":
        return values - float(rule.limit)  # type: ignore[arg-type]
    if rule.comparator == ">=":
        return float(rule.limit) - values  # type: ignore[arg-type]
    lo, hi = rule.limit  # type: ignore[misc]
    return np.maximum(lo - values, values - hi)


def applicable_intervals(
    rule: Rule, occupied: iv.Intervals, start: int, end: int, tz: ZoneInfo
) -> iv.Intervals:
    """When in [start, end) the rule applies: occupancy ∩ months ∩ hours of day."""
    a = rule.applies
    whole = iv.make([(start, end)])
    if a.occupancy == "occupied":
        out = iv.intersect(iv.normalize(occupied), whole)
    elif a.occupancy == "unoccupied":
        out = iv.complement(iv.normalize(occupied), start, end)
    else:
        out = whole
    if a.months is not None:
        out = iv.intersect(out, iv.months_mask(start, end, a.months, tz))
    if a.hours is not None:
        out = iv.intersect(out, iv.hours_mask(start, end, a.hours, tz))
    return out


def _means(
    rule: Rule, idx: npt.NDArray[np.int64], values: npt.NDArray[np.float64], n: int
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.int64]]:
    counts = np.bincount(idx, minlength=n)
    x = 10.0 ** (values / 10.0) if rule.mean == "energy" else values
    sums = np.bincount(idx, weights=x, minlength=n)
    with np.errstate(invalid="ignore", divide="ignore"):
        m = sums / counts
        if rule.mean == "energy":
            m = 10.0 * np.log10(m)
    return m, counts


def evaluate(
    rule: Rule,
    ts: npt.ArrayLike,
    values: npt.ArrayLike,
    occupied: iv.Intervals,
    start: int,
    end: int,
    *,
    interval_ns: int | None = None,
    tz: ZoneInfo | str = "Asia/Shanghai",
) -> Verdict:
    """Verdict of `rule` over [start, end) for one series.

    `occupied` are the room's occupied intervals; `interval_ns` the expected reading interval
    (default: the median spacing of the readings), used to weigh instant readings and to judge
    whether a window has enough data.
    """
    zone = ZoneInfo(tz) if isinstance(tz, str) else tz
    t = np.asarray(ts, dtype=np.int64)
    v = np.asarray(values, dtype=np.float64)
    keep = (t >= start) & (t < end) & np.isfinite(v)
    t, v = t[keep], v[keep]
    order = np.argsort(t, kind="stable")
    t, v = t[order], v[order]
    if interval_ns is None:
        interval_ns = int(np.median(np.diff(t))) if len(t) >= 2 else 0
    app = applicable_intervals(rule, occupied, start, end, zone)
    applicable_ns = iv.total(app)
    inside = iv.contains(app, t)
    t, v = t[inside], v[inside]

    if rule.averaging == "instant":
        window_vals = v
        window_starts = t
        ok_windows = np.ones(len(v), dtype=bool)
        step = float(interval_ns) if interval_ns > 0 else float(applicable_ns) / max(len(v), 1)
        weights = np.full(len(v), step)
        valid_ns = min(step * len(v), float(applicable_ns))
    else:
        every = AVERAGING_NS[rule.averaging]
        edges = iv.window_edges(start, end, every, zone)
        w_start = np.maximum(edges, start)
        w_end = np.minimum(edges + every, end)
        w_app = iv.covered(app, w_start, w_end).astype(np.float64)
        idx = np.searchsorted(edges, t, side="right") - 1
        means, counts = _means(rule, idx, v, len(edges))
        data_ns = np.minimum(counts * float(interval_ns), w_app)
        ok_windows = (w_app > 0) & (counts > 0) & (data_ns >= rule.min_coverage * w_app)
        window_vals = means
        window_starts = edges
        weights = w_app
        valid_ns = float(weights[ok_windows].sum())

    good = passes(rule, window_vals) & ok_windows
    n_valid = int(ok_windows.sum())
    status, measured, worst_start, share = Status.INSUFFICIENT, None, None, None
    if n_valid and valid_ns > 0:
        bad = np.where(ok_windows, badness(rule, window_vals), -np.inf)
        worst = int(np.argmax(bad))
        measured, worst_start = float(window_vals[worst]), int(window_starts[worst])
        share = float(weights[good].sum()) / float(weights[ok_windows].sum())
        status = Status.COMPLIANT if int(good.sum()) == n_valid else Status.NON_COMPLIANT
    return Verdict(
        status=status,
        measured=measured,
        worst_start=worst_start,
        **rule.verdict_fields(),
        compliant_share=share,
        applicable_s=applicable_ns / iv.NS,
        valid_s=valid_ns / iv.NS,
        windows_valid=n_valid,
        windows_compliant=int(good.sum()),
    )
