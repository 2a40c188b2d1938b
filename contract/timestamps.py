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


def agent_clock_verdict(sent_ns: int, now_ns: int, max_skew_s: float = DEFAULT_MAX_SKEW_S) -> str | None:
    """A receiver's judgement of the sender's clock from a batch's `sent`, against its OWN clock.

    `ahead`: `sent` is more than the skew in the receiver's future: the sender's clock is wrong
    (the readings, stamped by the same clock, are too), since no network delivers early.
    `late`: more than the skew in the past: the sender's clock is behind *or* the broker held
    the batch (ingest down, a backlog): not told apart here, so reported, never restamped.
    None: within the skew."""
    off = (sent_ns - now_ns) / NS
    if off > max_skew_s:
        return "ahead"
    if off < -max_skew_s:
        return "late"
    return None


def describe_offset(offset_ns: int) -> str:
    """`10 d`, `3 h`, `25 min`, `40 s`: an offset's size as a technician says it."""
    a = round(abs(offset_ns) / NS)  # 86399.9998 s measured is the step of a day
    if a >= 86400:
        return f"{a / 86400:.1f} d".replace(".0 d", " d")
    if a >= 3600:
        return f"{a / 3600:.1f} h".replace(".0 h", " h")
    if a >= 120:
        return f"{a / 60:.0f} min"
    return f"{a:.0f} s"
