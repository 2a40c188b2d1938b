"""Evaluate one standards rule on a room's representative series, averaged as the standard does.

Pure numpy, no I/O. The caller passes the series of the room whose role the rule evaluates
(several desk sensors are averaged window by window: the desk plane's mean, not "any point
fails") and the rule's applicable intervals (twin.standards.engine). Coverage and averaging
are per point, then per room: duplicates collapse, each reading stands for the time to the
point's next one (at most its expected spacing there), a point counts in a window when it
covers `min_coverage` of it, and the window's value is the mean of the points that count
(docs/standards.md, "Coverage and averaging"). A window is judged with enough applicable time
(`min_window_min`) and a point that counts; the compliant share is a share of applicable
*time*, and the room complies when the share is at least the file's tolerance. Every
non-verdict carries its reason.
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
    NO_CALENDAR = "no_calendar"  # the day is beyond every school calendar the campus has


STATUS_ZH = {
    Status.COMPLIANT: "达标",
    Status.NON_COMPLIANT: "不达标",
    Status.NOT_APPLICABLE: "不适用",
    Status.INSUFFICIENT: "数据不足",
    Status.NO_SENSOR: "无传感器",
    Status.NO_CALENDAR: "无校历",
}


@dataclass(frozen=True, slots=True)
class Reason:
    zh: str
    en: str
    code: str = ""  # machine-readable kind where a consumer needs one (e.g. "no_calendar")


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
    held: I64 | None = None  # ns each reading stands for (store-side window means); None: inferred


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
    """Typical reading interval of a set of series: the smallest of their median spacings, in
    whole seconds and at most a minute (jitter of a slower logger never moves the step). Only the step of `instant` windows uses it: coverage and weights are per point
    (`prepare`)."""
    meds = []
    for s in series:
        d = np.diff(np.unique(s.ts))
        if len(d):
            meds.append(int(np.median(d)))
    if not meds:
        return MIN_NS
    return max(10**9, min(MIN_NS, round(min(meds) / 10**9) * 10**9))


@dataclass(frozen=True, slots=True)
class Point:
    """One point's readings ready to average: duplicates collapsed, non-finite values dropped,
    sorted, and the time `hold` (ns) each reading stands for."""

    point: str
    ts: I64
    values: F64
    hold: I64


BULK_MIN_COUNT = 5  # readings per store-side window for its mean to stand in for them
MEDIAN_OF = 5  # spacings around a reading that decide its expected spacing
_CHUNK = 1 << 18


def collapse(ts: I64, values: F64) -> tuple[I64, F64]:
    """Sorted readings with one value per timestamp — the last given, as the store keeps a
    redelivered point (two overlapping logger exports count once) — and no NaN/inf."""
    keep = np.isfinite(values)
    ts, values = ts[keep], values[keep]
    if len(ts) and bool(np.any(np.diff(ts) <= 0)):
        order = np.argsort(ts, kind="stable")
        ts, values = ts[order], values[order]
        last = np.r_[ts[1:] != ts[:-1], True]
        ts, values = ts[last], values[last]
    return ts.astype(np.int64, copy=False), values.astype(np.float64, copy=False)


def expected_spacing(ts: I64) -> I64:
    """Expected spacing after each reading: the median of the `MEDIAN_OF` spacings around it.
    A logger that changes its interval takes the new spacing within two readings; a gap is one
    long spacing among short ones and never becomes the expectation."""
    d = np.diff(ts)
    if len(d) == 0:
        return np.full(len(ts), MIN_NS, dtype=np.int64)
    h = MEDIAN_OF // 2
    pad = np.pad(d, h, mode="edge")
    out = np.empty(len(d), dtype=np.int64)
    for a in range(0, len(d), _CHUNK):  # bounded memory on a multi-million-row export
        b = min(a + _CHUNK, len(d))
        win = np.stack([pad[a + k : b + k] for k in range(MEDIAN_OF)])
        out[a:b] = np.partition(win, h, axis=0)[h]
    return np.append(out, out[-1])


def prepare(s: Series) -> Point:
    """A reading stands for the time until the next one, at most the expected spacing there (a
    dead point's last reading, a gap); `Series.held` (the report's store-side windows) gives it."""
    ts, vs = collapse(s.ts, s.values)
    if s.held is not None:
        keep = np.isfinite(s.values)
        return Point(s.point, s.ts[keep], s.values[keep], s.held[keep])
    if len(ts) == 0:
        return Point(s.point, ts, vs, np.zeros(0, dtype=np.int64))
    exp = expected_spacing(ts)
    nxt = np.append(np.diff(ts), exp[-1])
    return Point(s.point, ts, vs, np.minimum(nxt, exp))


def held_from_windows(starts: I64, counts: I64, grain: int) -> I64 | None:
    """Held time of store-side window means (one per `grain` window with `counts` readings): the
    count times the point's expected spacing there (median of `MEDIAN_OF` windows' grain/count),
    at most the window. None when the point reads fewer than `BULK_MIN_COUNT` times per window
    (the estimate would be coarse: read it raw)."""
    if len(counts) == 0:
        return np.zeros(0, dtype=np.int64)
    if float(np.median(counts)) < BULK_MIN_COUNT:
        return None
    est = grain // np.maximum(counts, 1)
    h = MEDIAN_OF // 2
    pad = np.pad(est, h, mode="edge")
    win = np.stack([pad[k : k + len(est)] for k in range(MEDIAN_OF)])
    spacing = np.partition(win, h, axis=0)[h]
    return np.minimum(counts * spacing, grain).astype(np.int64)


def within(p: Point, app: iv.Intervals) -> Point:
    """The readings taken while the rule applies: one taken in the break before a lesson does
    not stand for the lesson (its hold, inferred from the whole series, is kept)."""
    keep = iv.contains(app, p.ts)
    return p if bool(keep.all()) else Point(p.point, p.ts[keep], p.values[keep], p.hold[keep])


def _integrals(p: Point, x: F64, at: I64) -> tuple[I64, F64]:
    """Held time and ∫x dt of point `p` from -inf to each time in `at` (vectorised)."""
    if len(p.ts) == 0:
        return np.zeros(len(at), dtype=np.int64), np.zeros(len(at))
    cum_h = np.concatenate([[0], np.cumsum(p.hold)])
    cum_x = np.concatenate([[0.0], np.cumsum(x * p.hold)])
    k = np.searchsorted(p.ts, at, side="right") - 1
    kk = np.maximum(k, 0)
    part = np.clip(at - p.ts[kk], 0, p.hold[kk])
    held = np.where(k >= 0, cum_h[kk] + part, 0)
    integ = np.where(k >= 0, cum_x[kk] + x[kk] * part, 0.0)
    return held.astype(np.int64), integ


def _weighted_l90(values: F64, weights: F64) -> float:
    """The level exceeded 90 % of the held time (lower 10 % quantile, inverted CDF)."""
    order = np.argsort(values, kind="stable")
    cum = np.cumsum(weights[order])
    return float(values[order][int(np.searchsorted(cum, 0.1 * cum[-1], side="left"))])


def point_windows(rule: Rule, spans: Sequence[WindowSpan], p: Point) -> tuple[I64, F64]:
    """(held ns, time-weighted statistic) of one point in each window."""
    n = len(spans)
    held = np.zeros(n, dtype=np.int64)
    values = np.full(n, np.nan)
    if n == 0 or len(p.ts) == 0:
        return held, values
    ends = p.ts + p.hold
    if rule.statistic == "l90":
        for i, sp in enumerate(spans):
            a = int(np.searchsorted(ends, sp.start, side="right"))
            b = int(np.searchsorted(p.ts, sp.end, side="left"))
            w = iv.covered(sp.parts, p.ts[a:b], ends[a:b]).astype(np.float64)
            if w.sum() > 0:
                held[i] = int(w.sum())
                values[i] = _weighted_l90(p.values[a:b][w > 0], w[w > 0])
        return held, values
    parts = np.concatenate([sp.parts for sp in spans])
    owner = np.repeat(np.arange(n), [len(sp.parts) for sp in spans])
    x = 10.0 ** (p.values / 10.0) if rule.statistic == "energy" else p.values
    h1, x1 = _integrals(p, x, parts[:, 1])
    h0, x0 = _integrals(p, x, parts[:, 0])
    held = np.bincount(owner, weights=h1 - h0, minlength=n).astype(np.int64)
    integ = np.bincount(owner, weights=x1 - x0, minlength=n)
    with np.errstate(invalid="ignore", divide="ignore"):
        values = np.where(held > 0, integ / np.maximum(held, 1), np.nan)
        if rule.statistic == "energy":
            values = 10.0 * np.log10(values)
    return held, values


def judge_windows(
    rule: Rule,
    spans: Sequence[WindowSpan],
    points: Sequence[Point],
    *,
    live_last_min: float | None = None,
) -> list[Window]:
    """Value and verdict of each window. Each point's time-weighted value counts when its readings
    cover `min_coverage` of the window's applicable time; the room's value is the mean of the
    points that count (energy mean for sound levels), so a silent point lowers nothing and a
    point's sampling rate does not decide its weight. `live_last_min`: the last window is judged
    once it has that many minutes (a running window in the live view) instead of `min_window_min`."""
    n = len(spans)
    app = np.array([sp.applicable_ns for sp in spans], dtype=np.float64)
    need = np.full(n, rule.min_window_min * MIN_NS, dtype=np.float64)
    if live_last_min is not None and n:
        need[-1] = min(need[-1], live_last_min * MIN_NS)
    acc = np.zeros(n)
    cnt = np.zeros(n, dtype=np.int64)
    for p in points:
        held, vals = point_windows(rule, spans, p)
        ok = held > 0 if rule.averaging == "instant" else (held > 0) & (held >= rule.min_coverage * app - 0.5)
        ok &= ~np.isnan(vals)
        x = 10.0 ** (vals / 10.0) if rule.statistic == "energy" else vals
        acc += np.where(ok, x, 0.0)
        cnt += ok
    with np.errstate(invalid="ignore", divide="ignore"):
        values = np.where(cnt > 0, acc / np.maximum(cnt, 1), np.nan)
        if rule.statistic == "energy":
            values = 10.0 * np.log10(values)
    judged = cnt > 0 if rule.averaging == "instant" else (cnt > 0) & (app >= need)
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
    na_reason: Reason | None = None,
    live_last_min: float | None = None,
    prepared: Sequence[Point] | None = None,
) -> Verdict:
    """Verdict of `rule` over [start, end) on the (already role-selected) `series`.

    `app` is when the rule applies; `na_reason` says why it does not when `app` is empty.
    `prepared`: the series already through `prepare` (the engine prepares each point once).
    """
    if not series:
        return _verdict(rule, Status.NO_SENSOR, NO_SENSOR, [], iv.total(app), ())
    points = tuple(sorted({s.point for s in series}))
    device = next(s.device for s in series if s.point == points[0])
    if iv.total(app) == 0:
        return _verdict(rule, Status.NOT_APPLICABLE, na_reason, [], 0, points, device=device)
    step = interval_of(series)
    spans = windows(rule, app, start, end, tz, step)
    pts = [within(p, app) for p in (prepared if prepared is not None else [prepare(s) for s in series])]
    wins = judge_windows(rule, spans, pts, live_last_min=live_last_min)
    if live_last_min is not None:  # the live view: the current window only
        judged_now = [w for w in wins if w.judged]
        recent = judged_now and judged_now[-1].start >= end - 3 * step
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
