"""Where aggregation windows start, and which range/window inputs a store accepts (pure).

Every backend groups `[start, end)` into windows `origin + k·every`. `origin` puts window starts
on local midnight in the caller's time zone (so a daily window is a school day, not 08:00–08:00
Beijing time) and on a Monday for whole weeks; without a zone it is the epoch (UTC). The zone's
UTC offset at `start` is used for the whole range: exact for zones without daylight saving time
(China), and off by the DST shift after a change elsewhere.

Bounds keep every backend's integer arithmetic inside 64 bits (SQLite raises OverflowError and
InfluxDB answers with wrong windows past them): callers get `ValueError` naming the input, and
the API turns it into a 422.
"""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo

NS = 1_000_000_000
DAY_NS = 86_400 * NS
WEEK_NS = 7 * DAY_NS
MONDAY_NS = 4 * DAY_NS  # 1970-01-01 was a Thursday; 1970-01-05 a Monday
MAX_TS_NS = 4_102_444_800 * NS  # 2100-01-01
MIN_TS_NS = -MAX_TS_NS  # 1840: symmetric, so ts ± every stays far inside 64 bits
MAX_EVERY_NS = 3_660 * DAY_NS  # ten years: windows beyond that are one window anyway


def check_range(start: int, end: int, every: int | None) -> None:
    """Raise ValueError unless the range and window are ones every store computes exactly."""
    if not MIN_TS_NS <= start <= MAX_TS_NS or not MIN_TS_NS <= end <= MAX_TS_NS:
        raise ValueError(f"range must lie within 1840..2100 (ns since epoch), got {start}..{end}")
    if every is not None and not 0 < every <= MAX_EVERY_NS:
        raise ValueError(f"every must be 1 ns .. {MAX_EVERY_NS // DAY_NS} days, got {every} ns")


def window_origin(every: int, tz: tzinfo | None, start: int) -> int:
    """An instant (ns, in [0, every)) at which a window starts: local midnight of `tz` for
    windows of whole hours/days, a local Monday midnight for whole weeks, the epoch otherwise."""
    if tz is None or every % (3600 * NS):
        return 0
    at = datetime.fromtimestamp(start / NS, UTC)
    offset = tz.utcoffset(at.astimezone(tz))
    off_ns = int(offset.total_seconds()) * NS if offset is not None else 0
    origin = -off_ns + (MONDAY_NS if every % WEEK_NS == 0 else 0)
    return origin % every


def window_start(ts: int, every: int, origin: int) -> int:
    """Start of the window containing `ts` (floor division, also before the origin)."""
    return ts - (ts - origin) % every
