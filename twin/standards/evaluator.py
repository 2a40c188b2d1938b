"""Evaluate one standards rule on a room's representative series, averaged as the standard does.

Pure numpy, no I/O. The caller passes the series of the room whose role the rule evaluates
(several desk sensors are averaged window by window: the desk plane's mean, not "any point
fails") and the rule's applicable intervals (twin.standards.context). Each window is judged
if it has enough applicable time (`min_window_min`) and readings over `min_coverage` of it;
the compliant share is a share of applicable *time*, and the room complies when the share is
at least the file's tolerance. Every non-verdict carries its reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt

from contract.quantities import format_against, labels
from twin.standards import intervals as iv
from twin.standards.schema import Rule
from twin.standards.windows import WindowSpan, windows

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
MIN_NS = 60 * 10**9


class Status(StrEnum):
    COMPLIANT = "compliant"
    NON_COMPLIANT = "non_compliant"
    NOT_APPLICABLE = "not_applicable"
    INSUFFICIENT = "insufficient_data"
    NO_SENSOR = "no_sensor"


STATUS_ZH = {
    Status.COMPLIANT: "达标",
    Status.NON_COMPLIANT: "不达标",
    Status.NOT_APPLICABLE: "不适用",
    Status.INSUFFICIENT: "数据不足",
    Status.NO_SENSOR: "无传感器",
}


@dataclass(frozen=True, slots=True)
class Reason:
    zh: str
    en: str


TOO_LITTLE = Reason("数据不足", "too little data")
NO_SENSOR = Reason("无该位置传感器", "no sensor of that role")


@dataclass(frozen=True, slots=True)
class Series:
    """Readings of one point (ns UTC timestamps), with where it measures."""

    point: str
    quantity: str
    ts: I64
    values: F64
    role: str | None = None
    device: str = ""


@dataclass(frozen=True, slots=True)
class Window:
    start: int
    end: int
    value: float | None
    judged: bool  # enough applicable time and data for a verdict
    passes: bool
    weight_s: float


@dataclass(frozen=True, slots=True)
class Verdict:
    """One rule's verdict on a room: the report's over a period, the live state's on the current
    window (which also fills `latest`, `device` and `basis`: what the live view shows beside it).
    The one verdict type of the project."""

    rule_id: str
    status: Status
    reason: Reason | None
    measured: float | None  # the worst judged window (or reading, for instant rules)
    worst_start: int | None
    limit: float | tuple[float, float]
    comparator: str
    unit: str
    standard: str
    clause: str
    label_zh: str
    label_en: str
    compliant_share: float | None  # compliant applicable time / judged applicable time
    applicable_s: float  # time the rule applied in the period (e.g. class time)
    valid_s: float  # part of it in judged windows
    windows_valid: int  # judged windows
    windows_compliant: int
    points: tuple[str, ...] = ()
    windows: tuple[Window, ...] = field(default=(), repr=False)
    quantity: str = ""  # the rule's
    device: str = ""  # the device of `point`
    latest: float | None = None  # live view: the latest fresh reading of `point` (shown with n/a)
    basis: str = ""  # live view: the window judged ("running 1h window", "latest reading" …)

    @property
    def coverage(self) -> float | None:
        return self.valid_s / self.applicable_s if self.applicable_s else None

    @property
    def point(self) -> str:
        """The point the verdict names (the first of `points`; "" without a sensor)."""
        return self.points[0] if self.points else ""

    @property
    def judged(self) -> bool:
        return self.status in (Status.COMPLIANT, Status.NON_COMPLIANT)

    @property
    def value(self) -> float | None:
        """The value to show: the judged window's, else the latest reading."""
        return self.measured if self.judged else self.latest


def passes(rule: Rule, values: F64) -> npt.NDArray[np.bool_]:
    if rule.comparator == "<=":
        return values <= float(rule.limit)  # type: ignore[arg-type]
    if rule.comparator == ">=":
        return values >= float(rule.limit)  # type: ignore[arg-type]
    lo, hi = rule.limit  # type: ignore[misc]
    return (values >= lo) & (values <= hi)


def badness(rule: Rule, values: F64) -> F64:
    """How far past (positive) or inside (negative) the limit a value is; the worst is the max."""
    if rule.comparator == "<=":
        return values - float(rule.limit)  # type: ignore[arg-type]
    if rule.comparator == ">=":
        return float(rule.limit) - values  # type: ignore[arg-type]
    lo, hi = rule.limit  # type: ignore[misc]
    return np.maximum(lo - values, values - hi)


def statistic(rule: Rule, v: F64) -> float:
    if rule.statistic == "energy":
        return float(10.0 * np.log10(np.mean(10.0 ** (v / 10.0))))
    if rule.statistic == "l90":
        return float(np.percentile(v, 10))
    return float(np.mean(v))


def interval_of(series: Sequence[Series]) -> int:
    """Expected reading interval: the median spacing of the readings (60 s without any)."""
    gaps = [np.diff(np.sort(s.ts)) for s in series if len(s.ts) >= 2]
    g = np.concatenate(gaps) if gaps else np.zeros(0, dtype=np.int64)
    g = g[g > 0]
    return int(np.median(g)) if len(g) else MIN_NS


def _pooled(series: Sequence[Series], app: iv.Intervals) -> tuple[I64, F64]:
    ts = np.concatenate([s.ts for s in series]) if series else np.zeros(0, dtype=np.int64)
    vs = np.concatenate([s.values for s in series]) if series else np.zeros(0)
    keep = np.isfinite(vs) & iv.contains(app, ts)
    order = np.argsort(ts[keep], kind="stable")
    return ts[keep][order], vs[keep][order]


def _window_values(
    rule: Rule, spans: Sequence[WindowSpan], ts: I64, vs: F64
) -> tuple[npt.NDArray[np.int64], F64]:
    """(readings, statistic) per window. Means and energy means are vectorised: each window's
    parts are slices of the sorted readings, summed with one `reduceat` (windows may overlap);
    L90 needs each window's readings."""
    n = len(spans)
    counts = np.zeros(n, dtype=np.int64)
    values = np.full(n, np.nan)
    if n == 0 or len(ts) == 0:
        return counts, values
    if rule.statistic == "l90":
        for i, sp in enumerate(spans):
            a, b = np.searchsorted(ts, [sp.start, sp.end])
            t, v = ts[a:b], vs[a:b]
            if len(sp.parts) > 1:
                inside = iv.contains(sp.parts, t)
                v = v[inside]
            counts[i] = len(v)
            if len(v):
                values[i] = statistic(rule, v)
        return counts, values
    parts = np.concatenate([sp.parts for sp in spans])
    owner = np.repeat(np.arange(n), [len(sp.parts) for sp in spans])
    lo = np.searchsorted(ts, parts[:, 0])
    hi = np.searchsorted(ts, parts[:, 1])
    x = 10.0 ** (vs / 10.0) if rule.statistic == "energy" else vs
    idx = np.empty(2 * len(lo), dtype=np.int64)
    idx[0::2], idx[1::2] = lo, hi
    sums = np.add.reduceat(np.append(x, 0.0), np.minimum(idx, len(x)))[0::2]
    k = hi - lo
    sums = np.where(k > 0, sums, 0.0)
    counts = np.bincount(owner, weights=k, minlength=n).astype(np.int64)
    total = np.bincount(owner, weights=sums, minlength=n)
    with np.errstate(invalid="ignore", divide="ignore"):
        values = np.where(counts > 0, total / np.maximum(counts, 1), np.nan)
        if rule.statistic == "energy":
            values = 10.0 * np.log10(values)
    return counts, values


def judge_windows(
    rule: Rule,
    spans: Sequence[WindowSpan],
    ts: I64,
    vs: F64,
    n_series: int,
    interval_ns: int,
    *,
    live_last_min: float | None = None,
) -> list[Window]:
    """Value and verdict of each window. `live_last_min`: the last window is judged once it has
    that many minutes (a running window in the live view) instead of `min_window_min`."""
    counts, values = _window_values(rule, spans, ts, vs)
    app = np.array([sp.applicable_ns for sp in spans], dtype=np.float64)
    need = np.full(len(spans), rule.min_window_min * MIN_NS, dtype=np.float64)
    if live_last_min is not None and len(spans):
        need[-1] = min(need[-1], live_last_min * MIN_NS)
    data_ns = counts / max(n_series, 1) * interval_ns
    if rule.averaging == "instant":
        judged = counts > 0
    else:
        judged = (counts > 0) & (app >= need) & (data_ns >= rule.min_coverage * app)
    ok = judged & ~np.isnan(values) & passes(rule, np.nan_to_num(values))
    return [
        Window(sp.start, sp.end, None if np.isnan(val) else float(val), bool(j), bool(g), sp.weight_ns / 1e9)
        for sp, val, j, g in zip(spans, values.tolist(), judged.tolist(), ok.tolist(), strict=True)
    ]


def evaluate_series(
    rule: Rule,
    series: Sequence[Series],
    app: iv.Intervals,
    start: int,
    end: int,
    tz: ZoneInfo,
    *,
    tolerance: float,
    interval_ns: int | None = None,
    na_reason: Reason | None = None,
    live_last_min: float | None = None,
) -> Verdict:
    """Verdict of `rule` over [start, end) on the (already role-selected) `series`.

    `app` is when the rule applies; `na_reason` says why it does not when `app` is empty.
    """
    if not series:
        return _verdict(rule, Status.NO_SENSOR, NO_SENSOR, [], iv.total(app), ())
    interval_ns = interval_ns or interval_of(series)
    points = tuple(sorted({s.point for s in series}))
    device = next(s.device for s in series if s.point == points[0])
    if iv.total(app) == 0:
        return _verdict(rule, Status.NOT_APPLICABLE, na_reason, [], 0, points, device=device)
    spans = windows(rule, app, start, end, tz, interval_ns)
    ts, vs = _pooled(series, app)
    wins = judge_windows(rule, spans, ts, vs, len(series), interval_ns, live_last_min=live_last_min)
    if live_last_min is not None:  # the live view: the current window only
        judged_now = [w for w in wins if w.judged]
        recent = judged_now and judged_now[-1].start >= end - 3 * interval_ns
        wins = judged_now[-1:] if rule.averaging == "instant" and recent else wins[-1:]
    judged = [w for w in wins if w.judged]
    if not judged:
        return _verdict(rule, Status.INSUFFICIENT, TOO_LITTLE, wins, iv.total(app), points, device=device)
    good = sum(w.weight_s for w in judged if w.passes)
    share = good / sum(w.weight_s for w in judged)
    status = Status.COMPLIANT if share >= tolerance - 1e-12 else Status.NON_COMPLIANT
    return _verdict(rule, status, None, wins, iv.total(app), points, share, device)


def _verdict(
    rule: Rule,
    status: Status,
    reason: Reason | None,
    wins: Sequence[Window],
    applicable_ns: int,
    points: tuple[str, ...],
    share: float | None = None,
    device: str = "",
) -> Verdict:
    judged = [w for w in wins if w.judged and w.value is not None]
    measured = worst_start = None
    if judged:
        bad = badness(rule, np.array([w.value for w in judged], dtype=np.float64))
        w = judged[int(np.argmax(bad))]
        measured, worst_start = w.value, w.start
    if status is Status.NON_COMPLIANT and measured is not None:
        reason = breach_reason(rule, measured)
    return Verdict(
        status=status,
        reason=reason,
        measured=measured,
        worst_start=worst_start,
        **rule.verdict_fields(),
        compliant_share=share,
        applicable_s=applicable_ns / iv.NS,
        valid_s=sum(w.weight_s for w in judged),
        windows_valid=len(judged),
        windows_compliant=sum(1 for w in judged if w.passes),
        points=points,
        windows=tuple(wins),
        quantity=rule.quantity,
        device=device,
    )


def breach_reason(rule: Rule, measured: float) -> Reason:
    """'CO₂ 1322 ppm > 1000 ppm（GB/T 18883-2022 1小时均值）' and its English twin."""
    if isinstance(rule.limit, tuple):
        lo, hi = rule.limit
        op, lim = ("<", lo) if measured < lo else (">", hi)
    else:
        op, lim = ("<" if rule.comparator == ">=" else ">"), rule.limit
    label = labels().get(rule.quantity)
    zh_name, en_name = (label.zh, label.en) if label is not None else (rule.quantity, rule.quantity)
    val = format_against(rule.quantity, measured, lim)
    zh = f"{zh_name} {val} {rule.unit} {op} {lim:g} {rule.unit}（{rule.standard} {rule.averaging_zh}）"
    en = f"{en_name} {val} {rule.unit} {op} {lim:g} {rule.unit} ({rule.standard} {rule.clause}, {rule.averaging})"
    return Reason(zh, en)
