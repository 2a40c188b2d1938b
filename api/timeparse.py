"""Query-string times and durations: ISO 8601 (naive = the API's timezone) and `30s/5m/1h/1d`."""

from __future__ import annotations

import re
from datetime import datetime, tzinfo

_DURATION = re.compile(r"^(\d{1,6})(s|m|h|d|w)$")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
MIN_NS = 946_684_800_000_000_000  # 2000-01-01, as the telemetry contract
MAX_NS = 4_102_444_800_000_000_000  # 2100-01-01
MAX_DURATION_S = 100 * 366 * 86_400  # a century: anything longer overflows date arithmetic


def parse_duration_s(text: str) -> int:
    m = _DURATION.match(text.strip())
    if not m:
        raise ValueError(f"bad duration {text[:40]!r}: expected a number and s/m/h/d/w, e.g. 5m or 1h")
    seconds = int(m.group(1)) * _UNIT_S[m.group(2)]
    if seconds <= 0:
        raise ValueError("duration must be positive")
    if seconds > MAX_DURATION_S:
        raise ValueError(f"duration {text[:40]!r} longer than 100 years")
    return seconds


def parse_time_ns(text: str, tz: tzinfo) -> int:
    """ISO 8601 date or datetime; without an offset it is local time in `tz`."""
    try:
        dt = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(
            f"bad time {text[:40]!r}: expected ISO 8601, e.g. 2026-11-23T08:00:00+08:00"
        ) from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=tz)
    ns = int(dt.timestamp()) * 1_000_000_000 + dt.microsecond * 1000
    if not MIN_NS <= ns < MAX_NS:
        raise ValueError(f"time {text[:40]!r} outside 2000..2100")
    return ns
