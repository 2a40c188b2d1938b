"""Occupied intervals of a room: from its occupancy/presence sensor, or from the timetable.

A sensor reading holds until the next one (at most `max_hold_ns`, so a silent sensor does not
keep a room occupied forever). The timetable gives the class hours used when a room has no
occupancy sensor, and the class hours over which report compliance rates are computed.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field, field_validator

from contract.yamlio import load_model
from twin.standards import intervals as iv

DEFAULT_TIMETABLE = Path(__file__).with_name("timetable.yaml")
_LESSON = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-4]):([0-5]\d)$")


class Timetable(BaseModel):
    model_config = ConfigDict(extra="forbid")

    v: Literal[1] = 1
    timezone: str = "Asia/Shanghai"
    weekdays: list[int] = Field(default_factory=lambda: [1, 2, 3, 4, 5])
    lessons: list[str] = Field(min_length=1, description="'HH:MM-HH:MM' local times")
    holidays: list[date] = Field(default_factory=list)

    @field_validator("lessons")
    @classmethod
    def _lessons(cls, v: list[str]) -> list[str]:
        for s in v:
            m = _LESSON.match(s)
            if not m or (int(m[1]), int(m[2])) >= (int(m[3]), int(m[4])):
                raise ValueError(f"lesson {s!r} is not 'HH:MM-HH:MM' with start < end")
        return v

    @field_validator("weekdays")
    @classmethod
    def _weekdays(cls, v: list[int]) -> list[int]:
        if any(not 1 <= d <= 7 for d in v):
            raise ValueError("weekdays are ISO 1 (Monday) .. 7 (Sunday)")
        return v

    def intervals(self, start: int, end: int) -> iv.Intervals:
        """Lesson intervals inside [start, end)."""
        tz = ZoneInfo(self.timezone)
        holidays = set(self.holidays)
        pairs = []
        for d, _, _ in iv.local_days(start, end, tz):
            if d.isoweekday() not in self.weekdays or d in holidays:
                continue
            base = datetime(d.year, d.month, d.day, tzinfo=tz)
            for s in self.lessons:
                m = _LESSON.match(s)
                assert m is not None  # validated
                a = base + timedelta(hours=int(m[1]), minutes=int(m[2]))
                b = base + timedelta(hours=int(m[3]), minutes=int(m[4]))
                pairs.append((int(a.timestamp()) * iv.NS, int(b.timestamp()) * iv.NS))
        return iv.intersect(iv.make(pairs), iv.make([(start, end)]))


def load_timetable(path: str | Path | None = None) -> Timetable:
    return load_model(Timetable, path or DEFAULT_TIMETABLE)


def from_sensor(ts: npt.ArrayLike, values: npt.ArrayLike, max_hold_ns: int) -> iv.Intervals:
    """Intervals where occupancy (persons) > 0 or presence is true, each reading held until the
    next reading or `max_hold_ns`, whichever comes first."""
    t = np.asarray(ts, dtype=np.int64)
    v = np.asarray(values, dtype=np.float64)
    keep = np.isfinite(v)
    t, v = t[keep], v[keep]
    order = np.argsort(t, kind="stable")
    t, v = t[order], v[order]
    if len(t) == 0:
        return iv.make([])
    nxt = np.append(t[1:], t[-1] + max_hold_ns)
    ends = np.minimum(nxt, t + max_hold_ns)
    on = v > 0
    return iv.normalize(np.stack([t[on], ends[on]], axis=1))
