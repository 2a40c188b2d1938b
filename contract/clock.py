"""Time sources. Everything that stamps or simulates time takes a `Clock`.

`ScaledClock` makes a school day pass in minutes for the demo and tests: simulators and agents
given the same `origin_ns` and `speed` agree on simulated time across processes, because it
is a pure function of the shared wall clock: origin + (wall - origin) * speed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field

from contract.timestamps import describe_offset


class Clock(Protocol):
    def now_ns(self) -> int: ...


class WallClock:
    def now_ns(self) -> int:
        return time.time_ns()


@dataclass(frozen=True, slots=True)
class ScaledClock:
    origin_ns: int
    speed: float = 1.0
    offset_ns: int = 0  # shift simulated time, e.g. to start the demo at 07:30 local

    def now_ns(self) -> int:
        wall = time.time_ns()
        return self.origin_ns + self.offset_ns + int((wall - self.origin_ns) * self.speed)


def clock_from(speed: float = 1.0, origin_ns: int | None = None, offset_ns: int = 0) -> Clock:
    if speed == 1.0 and not offset_ns:
        return WallClock()
    return ScaledClock(origin_ns if origin_ns is not None else time.time_ns(), speed, offset_ns)


@dataclass(frozen=True, slots=True)
class SteppedClock:
    """`base` set forward or back by `by_ns` once `after_ns` of monotonic time have passed since
    `start_mono_ns`, per step: an RTC reset or NTP step injected into one process (fault tests),
    without touching the system clock."""

    base: Clock
    steps: tuple[tuple[int, int], ...]  # (after_ns, by_ns)
    start_mono_ns: int

    def now_ns(self) -> int:
        elapsed = time.monotonic_ns() - self.start_mono_ns
        return self.base.now_ns() + sum(by for after, by in self.steps if elapsed >= after)


class ClockStep(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    after_s: float = Field(ge=0, description="seconds after the process started")
    by_s: float = Field(description="the wall clock is set forward (+) or back (-) by this")


class ClockSettings(BaseModel):
    """The `clock:` section of agent and API configs. Demo/test only: production runs at speed 1."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    speed: float = Field(default=1.0, gt=0, le=100_000)
    origin_ns: int | None = None
    offset_ns: int = 0
    steps: tuple[ClockStep, ...] = Field(default=(), description="fault tests: clock steps to inject")

    def build(self) -> Clock:
        clock = clock_from(self.speed, self.origin_ns, self.offset_ns)
        if not self.steps:
            return clock
        steps = tuple((int(s.after_s * 1e9), int(s.by_s * 1e9)) for s in self.steps)
        return SteppedClock(clock, steps, time.monotonic_ns())


STEP_TOLERANCE_S = 60.0  # NTP slews small errors; a jump bigger than this is a step (RTC reset, manual set)
TRUST_AFTER_S = 3600.0  # a stepped clock that stays put this long is believed again


@dataclass
class ClockWatch:
    """Notices the host's wall clock stepping, from the one clock nobody sets: monotonic time.

    Wall and monotonic time advance together; their difference changes only when someone (an
    RTC reset at boot, an NTP step, an operator) sets the wall clock. After a step the agent cannot
    tell which of the two times was right, so readings stamped from then on are *doubtful*:
    `doubt()` returns the reason to mark them uncertain (ingest compares the batch's `sent` with
    its own clock and restamps what is ahead). The doubt ends when the clock steps back to the
    trusted offset or after `trust_after_s` without a further step. Pure apart from its memory;
    both time sources are injectable (tests step the clock without touching the system's)."""

    wall_ns: Callable[[], int] = time.time_ns
    mono_ns: Callable[[], int] = time.monotonic_ns
    rate: float = 1.0  # wall ns per monotonic ns: a demo clock running `speed` times faster
    tolerance_s: float = STEP_TOLERANCE_S
    trust_after_s: float = TRUST_AFTER_S
    steps_total: int = 0
    _trusted: int | None = None  # wall - mono believed right
    _last: int | None = None  # wall - mono at the previous look
    _stepped_mono: int | None = None  # monotonic time of the last step while doubtful
    _reason: str | None = None

    def doubt(self) -> tuple[str | None, str | None]:
        """(reason readings stamped now are doubtful or None, a log line when news or None)."""
        mono = self.mono_ns()
        offset = self.wall_ns() - (mono if self.rate == 1.0 else int(mono * self.rate))
        if self._trusted is None or self._last is None:
            self._trusted = self._last = offset
            return None, None
        tol = int(self.tolerance_s * 1e9)
        news: str | None = None
        if abs(offset - self._last) > tol:
            self.steps_total += 1
            jump = offset - self._last
            if abs(offset - self._trusted) <= tol:
                self._stepped_mono, self._reason = None, None
                news = f"wall clock stepped {_signed(jump)} back to the trusted time: readings are good again"
            else:
                self._stepped_mono = mono
                self._reason = (
                    f"agent wall clock stepped {_signed(offset - self._trusted)} "
                    f"(monotonic clock disagrees); time doubtful"
                )
                news = f"{self._reason}: readings marked uncertain until it is trusted again"
        elif offset != self._last and self._stepped_mono is None:
            self._trusted = offset  # slewing (NTP's small corrections) moves the trusted offset along
        self._last = offset
        if self._stepped_mono is not None and mono - self._stepped_mono >= int(self.trust_after_s * 1e9):
            self._trusted, self._stepped_mono, self._reason = offset, None, None
            news = f"wall clock steady for {self.trust_after_s:.0f} s after a step: trusted again"
        return self._reason, news


def _signed(ns: int) -> str:
    """`+10 d`, `-1 d`, `+3 h`, `-90 s`: a step as a technician says it."""
    return ("+" if ns >= 0 else "-") + describe_offset(ns)
