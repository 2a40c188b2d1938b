"""Device health as first-class state: up/down, bad points, last success, the last reason.

A source reports each poll (or message) with `DeviceHealth.record(...)`; the state decides
whether the device went DOWN (nothing answered) or came back UP, and returns one log line
per transition. A device that flaps is not allowed to flood the technician's log: after
`FLAP_LIMIT` transition lines within `FLAP_WINDOW_S`, further transitions are counted and
summarised in the next line that is allowed out. Pure state, no I/O: the caller logs.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

FLAP_LIMIT = 4
FLAP_WINDOW_S = 60.0

State = Literal["pending", "up", "down", "disabled"]


@dataclass
class DeviceHealth:
    """What the health message, `/metrics` and the transition log say about one device."""

    device: str
    protocol: str = "modbus"
    state: State = "pending"
    polls_ok: int = 0  # polls where every point was good or uncertain
    polls_partial: int = 0  # the device answered, some points bad
    polls_failed: int = 0  # no answer at all
    bad_points_last: int = 0
    points_last: int = 0
    bad_points_total: dict[str, int] = field(default_factory=dict)
    last_success_ns: int | None = None
    consecutive_failures: int = 0
    last_reason: str | None = None
    last_hint: str | None = None
    since_mono: float = field(default_factory=time.monotonic)
    expected_every_s: float | None = None  # message sources: the sensor's usual report interval …
    silent_after_s: float | None = None  # … and the silence after which it counts as DOWN
    _log_times: deque[float] = field(default_factory=deque, repr=False)
    _suppressed: int = field(default=0, repr=False)

    @property
    def up(self) -> bool:
        return self.state == "up"

    def record(
        self,
        now_ns: int,
        answered: bool,
        bad_points: Iterable[str] = (),
        points: int = 0,
        reason: str | None = None,
        hint: str | None = None,
        now_mono: float | None = None,
    ) -> str | None:
        """One poll's outcome; returns the log line for a state transition (or None).

        A device that answers but fails every point (Modbus exception 4 on each read from a
        wrong unit id behind a gateway) is DOWN, not "partial": nothing it sent is usable.
        Coming back UP with every point good clears the last reason and hint, so the
        `last_reason` gauge says what is wrong now, not what was wrong once."""
        mono = time.monotonic() if now_mono is None else now_mono
        bad = list(bad_points)
        for p in bad:
            self.bad_points_total[p] = self.bad_points_total.get(p, 0) + 1
        self.bad_points_last, self.points_last = len(bad), points
        if answered and points > 0 and len(bad) >= points:
            answered = False
            reason = f"all {points} points failed: {reason or self.last_reason or 'no value'}"
        if reason is not None:
            self.last_reason, self.last_hint = reason, hint
        elif answered and not bad:
            self.last_reason = self.last_hint = None
        before, elapsed = self.state, mono - self.since_mono
        if answered:
            self.consecutive_failures = 0
            self.last_success_ns = now_ns
            if bad:
                self.polls_partial += 1
            else:
                self.polls_ok += 1
            self.state = "up"
        else:
            self.consecutive_failures += 1
            self.polls_failed += 1
            self.state = "down"
        if self.state == before:
            return None
        self.since_mono = mono
        if before == "pending" and self.state == "up":
            return None  # the first good poll is not news
        if self.state == "up":
            line = f"device {self.device} UP after {elapsed:.0f} s"
            if bad:
                line += f" ({len(bad)} of {points} points bad: {self.last_reason})"
        else:
            line = f"device {self.device} DOWN: {self.last_reason or 'no answer'}"
            if hint:
                line += f"; {hint}"
        return self._rate_limited(line, mono)

    def check_silence(self, now_ns: int, now_mono: float | None = None) -> str | None:
        """For sources that cannot poll (MQTT sensors): a device that sent nothing for
        `silent_after_s` goes DOWN with a reason saying how long and how often it should report;
        its next message (`record`) brings it UP. Returns the transition's log line or None."""
        if self.state != "up" or self.silent_after_s is None or self.last_success_ns is None:
            return None
        silent_s = (now_ns - self.last_success_ns) / 1e9
        if silent_s < self.silent_after_s:
            return None
        reason = f"silent for {_duration(silent_s)}, expected every {_duration(self.expected_every_s or 0)}"
        hint = "check the sensor's battery, radio link or gateway/bridge"
        return self.record(now_ns, False, (), 0, reason, hint, now_mono)

    def _rate_limited(self, line: str, mono: float) -> str | None:
        while self._log_times and mono - self._log_times[0] > FLAP_WINDOW_S:
            self._log_times.popleft()
        if len(self._log_times) >= FLAP_LIMIT:
            self._suppressed += 1
            return None
        self._log_times.append(mono)
        if self._suppressed:
            line += f" (flapping: {self._suppressed} more transitions not logged)"
            self._suppressed = 0
        return line

    def as_dict(self) -> dict[str, Any]:
        """The health message's entry for this device (plain JSON types)."""
        return {
            "protocol": self.protocol,
            "state": self.state,
            "up": self.up,
            "polls_ok": self.polls_ok,
            "polls_partial": self.polls_partial,
            "polls_failed": self.polls_failed,
            "bad_points": self.bad_points_last,
            "points": self.points_last,
            "last_ok_ts": self.last_success_ns,
            "consecutive_failures": self.consecutive_failures,
            "last_reason": self.last_reason,
            "hint": self.last_hint,
        }


def _duration(seconds: float) -> str:
    """`45 s`, `5 min`, `2 h`: how a technician says it."""
    if seconds < 120:
        return f"{seconds:.0f} s" if seconds >= 10 else f"{seconds:.1f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.0f} h"
