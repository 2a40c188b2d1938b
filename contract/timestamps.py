"""Timestamps that cannot lie: one rule for a device's clock, used by the agent and ingest.

A device time before the plausible epoch (a Tasmota before NTP sync sends 1970-01-01T08:…) or
more than the allowed skew ahead of the receive time (a clock set to 2031) is replaced by the
receive time, and the caller marks the reading uncertain with the returned reason: the value is
kept (never lost), and no series ever gets a last timestamp in the future.
"""

from __future__ import annotations

from datetime import UTC, datetime

DEFAULT_MAX_SKEW_S = 300.0
# No school sensor installed today sends readings from before 2020: earlier means "clock not set".
PLAUSIBLE_SINCE_NS = 1_577_836_800_000_000_000  # 2020-01-01T00:00:00Z
NS = 1_000_000_000


def iso(ts_ns: int) -> str:
    """ns UTC as ISO 8601 for a reason text (out-of-range values stay readable)."""
    try:
        return datetime.fromtimestamp(ts_ns / NS, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (OverflowError, OSError, ValueError):
        return f"{ts_ns} ns"


def check_device_time(
    ts_ns: int,
    received_ns: int,
    max_skew_s: float = DEFAULT_MAX_SKEW_S,
    since_ns: int = PLAUSIBLE_SINCE_NS,
) -> tuple[int, str | None]:
    """(timestamp to store, reason or None). With a reason the caller sets quality uncertain."""
    if ts_ns < since_ns:
        return received_ns, f"device clock not set (device time {iso(ts_ns)}); stamped at receipt"
    ahead = (ts_ns - received_ns) / NS
    if ahead > max_skew_s:
        return received_ns, (
            f"device clock skewed: device time {iso(ts_ns)} is {ahead:.0f}s ahead of receipt "
            f"(max {max_skew_s:.0f}s); stamped at receipt"
        )
    return ts_ns, None
