"""Time sources. Everything that stamps or simulates time takes a `Clock`.

`ScaledClock` makes a school day pass in minutes for the demo and tests: simulators and agents
given the same `origin_ns` and `speed` agree on simulated time across processes, because it
is a pure function of the shared wall clock: origin + (wall - origin) * speed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field


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


class ClockSettings(BaseModel):
    """The `clock:` section of agent and API configs. Demo/test only: production runs at speed 1."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    speed: float = Field(default=1.0, gt=0, le=100_000)
    origin_ns: int | None = None
    offset_ns: int = 0

    def build(self) -> Clock:
        return clock_from(self.speed, self.origin_ns, self.offset_ns)
