"""The windows a standard averages over, cut out of the time a rule applies.

Pure functions on interval arrays (ns). Every window stays inside one local day:

- `1h` / `8h`: consecutive runs of 60 (480) minutes of *applicable* time (class time), so a
  break or 大课间 is skipped, not averaged in; the day's remainder is judged as the last
  60 (480) applicable minutes of the day (overlapping the previous window) and weighs only its
  new minutes. A day with less applicable time than the window is one shorter window.
- `class_day` and `24h`: the applicable time of each local day (the day's class time, or the
  whole local day for `time: any`).
- `instant`: one window per reading interval, aligned to local midnight, so several sensors of
  one role are averaged reading by reading.
"""

from __future__ import annotations

from dataclasses import dataclass
from zoneinfo import ZoneInfo

import numpy as np

from twin.standards import intervals as iv
from twin.standards.schema import WINDOW_NS, Rule


@dataclass(frozen=True, slots=True)
class WindowSpan:
    parts: iv.Intervals  # the applicable pieces the window averages over
    applicable_ns: int  # their total
    weight_ns: int  # applicable time the window accounts for in the shares (no double count)

    @property
    def start(self) -> int:
        return int(self.parts[0, 0])

    @property
    def end(self) -> int:
        return int(self.parts[-1, 1])


def slice_applicable(app: iv.Intervals, a: int, b: int) -> iv.Intervals:
    """The part of `app` between `a` and `b` ns of cumulative applicable time."""
    out: list[tuple[int, int]] = []
    cum = 0
    for lo, hi in app.tolist():
        n = hi - lo
        s, e = max(a - cum, 0), min(b - cum, n)
        if s < e:
            out.append((lo + s, lo + e))
        cum += n
        if cum >= b:
            break
    return iv.make(out)


def _span(parts: iv.Intervals, weight: int) -> WindowSpan:
    return WindowSpan(parts, iv.total(parts), weight)


def day_windows(rule: Rule, app_day: iv.Intervals, interval_ns: int, day_start: int) -> list[WindowSpan]:
    total = iv.total(app_day)
    if total == 0:
        return []
    if rule.averaging in ("class_day", "24h"):
        return [_span(app_day, total)]
    if rule.averaging == "instant":
        step = max(interval_ns, 10**9)
        lo = day_start + (int(app_day[0, 0]) - day_start) // step * step
        a = np.arange(lo, int(app_day[-1, 1]), step, dtype=np.int64)
        cov = iv.covered(app_day, a, a + step)
        a, cov = a[cov > 0], cov[cov > 0]
        # the bin's first applicable instant: the bin start if inside an interval, else the
        # start of the next interval
        k = np.searchsorted(app_day[:, 0], a, side="right") - 1
        inside = (k >= 0) & (a < app_day[np.maximum(k, 0), 1])
        first = np.where(inside, a, app_day[np.minimum(k + 1, len(app_day) - 1), 0])
        return [
            WindowSpan(np.array([[f, f + c]], dtype=np.int64), c, c)
            for f, c in zip(first.tolist(), cov.tolist(), strict=True)
        ]
    length = WINDOW_NS[rule.averaging]
    if total <= length:
        return [_span(app_day, total)]
    full, rest = divmod(total, length)
    out = [_span(slice_applicable(app_day, k * length, (k + 1) * length), length) for k in range(full)]
    if rest:
        out.append(_span(slice_applicable(app_day, total - length, total), rest))
    return out


def windows(
    rule: Rule, app: iv.Intervals, start: int, end: int, tz: ZoneInfo, interval_ns: int
) -> list[WindowSpan]:
    """All windows of `rule` in [start, end) given its applicable intervals `app`."""
    out: list[WindowSpan] = []
    for _, lo, hi in iv.local_days(start, end, tz):
        app_day = iv.clip(app, max(lo, start), min(hi, end))
        out.extend(day_windows(rule, app_day, interval_ns, lo))
    return out
