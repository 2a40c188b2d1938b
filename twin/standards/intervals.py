"""Half-open time intervals [start, end) in ns as (n, 2) int64 arrays: the algebra the engine
uses to say *when* a rule applies (class or empty time ∩ season ∩ hours of day) and to cut windows.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt

Intervals = npt.NDArray[np.int64]  # shape (n, 2), sorted, disjoint, non-empty after normalize()
NS = 10**9


def make(pairs: Iterable[tuple[int, int]]) -> Intervals:
    arr = np.array([[int(a), int(b)] for a, b in pairs], dtype=np.int64).reshape(-1, 2)
    return normalize(arr)


def normalize(iv: Intervals) -> Intervals:
    """Sort, drop empty, merge overlapping or touching intervals (vectorised)."""
    iv = iv[iv[:, 1] > iv[:, 0]]
    if len(iv) <= 1:
        return iv.reshape(-1, 2)
    iv = iv[np.argsort(iv[:, 0], kind="stable")]
    reach = np.maximum.accumulate(iv[:, 1])
    first = np.flatnonzero(np.r_[True, iv[1:, 0] > reach[:-1]])
    return np.stack([iv[first, 0], np.maximum.reduceat(iv[:, 1], first)], axis=1).astype(np.int64)


def intersect(a: Intervals, b: Intervals) -> Intervals:
    i = j = 0
    out: list[tuple[int, int]] = []
    while i < len(a) and j < len(b):
        lo, hi = max(a[i, 0], b[j, 0]), min(a[i, 1], b[j, 1])
        if lo < hi:
            out.append((int(lo), int(hi)))
        if a[i, 1] < b[j, 1]:
            i += 1
        else:
            j += 1
    return np.array(out, dtype=np.int64).reshape(-1, 2)


def clip(iv: Intervals, lo: int, hi: int) -> Intervals:
    """The intervals inside [lo, hi) — a sorted, disjoint array sliced, not intersected."""
    a = int(np.searchsorted(iv[:, 1], lo, side="right"))
    b = int(np.searchsorted(iv[:, 0], hi, side="left"))
    out = iv[a:b].copy()
    if len(out):
        out[0, 0] = max(int(out[0, 0]), lo)
        out[-1, 1] = min(int(out[-1, 1]), hi)
    return out[out[:, 1] > out[:, 0]]


def complement(a: Intervals, start: int, end: int) -> Intervals:
    out: list[tuple[int, int]] = []
    cur = start
    for lo, hi in a:
        if hi <= start or lo >= end:
            continue
        if lo > cur:
            out.append((cur, int(lo)))
        cur = max(cur, int(hi))
    if cur < end:
        out.append((cur, end))
    return np.array(out, dtype=np.int64).reshape(-1, 2)


def contains(iv: Intervals, ts: npt.NDArray[np.int64]) -> npt.NDArray[np.bool_]:
    """Which timestamps fall inside one of the intervals."""
    if len(iv) == 0:
        return np.zeros(len(ts), dtype=bool)
    k = np.searchsorted(iv[:, 0], ts, side="right") - 1
    ok = k >= 0
    out = np.zeros(len(ts), dtype=bool)
    out[ok] = ts[ok] < iv[k[ok], 1]
    return out


def covered(
    iv: Intervals, starts: npt.NDArray[np.int64], ends: npt.NDArray[np.int64]
) -> npt.NDArray[np.int64]:
    """ns of each [starts[i], ends[i]) covered by the intervals (vectorised via a cumulative sum)."""
    if len(iv) == 0:
        return np.zeros(len(starts), dtype=np.int64)
    cum = np.concatenate([[0], np.cumsum(iv[:, 1] - iv[:, 0])])

    def upto(t: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
        k = np.searchsorted(iv[:, 0], t, side="right")  # intervals starting at or before t
        full = cum[np.maximum(k - 1, 0)]
        last = np.where(k > 0, np.minimum(t, iv[np.maximum(k - 1, 0), 1]) - iv[np.maximum(k - 1, 0), 0], 0)
        return np.where(k > 0, full + np.maximum(last, 0), 0)

    return upto(ends) - upto(starts)


def total(iv: Intervals) -> int:
    return int((iv[:, 1] - iv[:, 0]).sum()) if len(iv) else 0


def _ns(dt: datetime) -> int:
    return int(dt.timestamp()) * NS


def local_days(start: int, end: int, tz: ZoneInfo) -> list[tuple[date, int, int]]:
    """(local date, midnight ns, next midnight ns) for each local day touching [start, end)."""
    d = datetime.fromtimestamp(start // NS, tz).date()
    out = []
    while True:
        lo = _ns(datetime(d.year, d.month, d.day, tzinfo=tz))
        nd = d + timedelta(days=1)
        hi = _ns(datetime(nd.year, nd.month, nd.day, tzinfo=tz))
        if lo >= end:
            break
        out.append((d, lo, hi))
        d = nd
    return out


def months_mask(start: int, end: int, months: Iterable[int], tz: ZoneInfo) -> Intervals:
    allowed = set(months)
    return make((lo, hi) for d, lo, hi in local_days(start, end, tz) if d.month in allowed)


def hours_mask(start: int, end: int, hours: tuple[int, int], tz: ZoneInfo) -> Intervals:
    pairs = []
    for d, _, _ in local_days(start, end, tz):
        base = datetime(d.year, d.month, d.day, tzinfo=tz)
        pairs.append((_ns(base + timedelta(hours=hours[0])), _ns(base + timedelta(hours=hours[1]))))
    return make(pairs)
