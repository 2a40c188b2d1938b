"""School time as data: bell schedules, the school calendar and which rooms are used when.

One schema shared by the simulators (who is in a room when) and the standards engine (when a
rule applies: class time, empty time, school days). Loaded with `contract.yamlio.load_model`
so an error names `file:line:col: field`. The shipped `school_time.yaml` is the demo year
(2025-26, Shenzhen): terms, public holidays, 寒暑假 and 调休 make-up school days.
"""

from __future__ import annotations

import datetime as dt
from functools import cache
from pathlib import Path
from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, model_validator

from contract.yamlio import load_model

DEFAULT_SCHOOL_TIME = Path(__file__).with_name("school_time.yaml")

SlotKind = Literal[
    "arrival",
    "morning_study",
    "lesson",
    "break",
    "big_break",
    "lunch",
    "nap",
    "after_school",
    "evening_study",
]
SLOT_KINDS: tuple[SlotKind, ...] = get_args(SlotKind)
CLASS_KINDS: tuple[SlotKind, ...] = ("lesson", "morning_study", "evening_study")
DayKind = Literal["school", "weekend", "holiday", "vacation"]


def minutes(hhmm: str) -> int:
    h, m = hhmm.split(":")
    value = int(h) * 60 + int(m)
    if not 0 <= value <= 24 * 60:
        raise ValueError(f"{hhmm!r} is not a time of day")
    return value


class Slot(BaseModel):
    model_config = ConfigDict(extra="forbid")

    start: str = Field(pattern=r"^\d{2}:\d{2}$")
    end: str = Field(pattern=r"^\d{2}:\d{2}$")
    kind: SlotKind

    @property
    def start_min(self) -> int:
        return minutes(self.start)

    @property
    def end_min(self) -> int:
        return minutes(self.end)

    @model_validator(mode="after")
    def _ordered(self) -> Slot:
        if self.end_min <= self.start_min:
            raise ValueError(f"slot ends ({self.end}) before it starts ({self.start})")
        return self


class BellSchedule(BaseModel):
    """One school's bell (作息时间表): the slots of a school day in local time."""

    model_config = ConfigDict(extra="forbid")

    evening_study: bool = False
    slots: list[Slot] = Field(min_length=1)

    @model_validator(mode="after")
    def _no_overlap(self) -> BellSchedule:
        for a, b in zip(self.slots, self.slots[1:], strict=False):
            if b.start_min < a.end_min:
                raise ValueError(f"slot {b.start}-{b.end} overlaps {a.start}-{a.end}")
        return self

    def active_slots(self) -> list[Slot]:
        return [s for s in self.slots if s.kind != "evening_study" or self.evening_study]

    def class_minutes(self, lessons: list[int] | None = None) -> list[tuple[int, int]]:
        """(start, end) minutes of class time; `lessons` (1-based) keeps only those lessons."""
        out, n = [], 0
        for s in self.active_slots():
            if s.kind == "lesson":
                n += 1
                if lessons is not None and n not in lessons:
                    continue
            elif s.kind not in CLASS_KINDS or lessons is not None:
                continue
            out.append((s.start_min, s.end_min))
        return out

    def day_span(self) -> tuple[int, int]:
        """First slot start and last slot end (minutes): the school's day in the building."""
        act = self.active_slots()
        return act[0].start_min, max(s.end_min for s in act)


class Holiday(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    from_: dt.date = Field(alias="from")
    to: dt.date
    name: str = ""
    kind: Literal["holiday", "vacation"] = Field(default="holiday", description="vacation = 寒暑假")


class Term(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    start: dt.date
    end: dt.date


class SchoolCalendar(BaseModel):
    """Which days are school days: terms, holidays, 寒暑假 and 调休 make-up days."""

    model_config = ConfigDict(extra="forbid")

    weekdays: list[int] = Field(default_factory=lambda: [1, 2, 3, 4, 5], description="ISO, Monday = 1")
    terms: list[Term] = Field(default_factory=list, description="absent: every week is in term")
    holidays: list[Holiday] = Field(default_factory=list)
    make_up_days: list[dt.date] = Field(default_factory=list, description="weekend days with school (调休)")

    def day_kind(self, day: dt.date) -> DayKind:
        for h in self.holidays:
            if h.from_ <= day <= h.to:
                return h.kind
        if self.terms and not any(t.start <= day <= t.end for t in self.terms):
            return "vacation"
        if day in self.make_up_days:
            return "school"
        return "school" if day.isoweekday() in self.weekdays else "weekend"

    def is_school_day(self, day: dt.date) -> bool:
        return self.day_kind(day) == "school"


class RoomUse(BaseModel):
    """How a room type follows the bell: specialist rooms host a class only in some lessons."""

    model_config = ConfigDict(extra="forbid")

    lessons: list[int] | None = Field(default=None, description="1-based lessons in use; absent = all")
    class_time: bool = Field(default=True, description="false: the room has no class time (corridors…)")


class SchoolTime(BaseModel):
    model_config = ConfigDict(extra="forbid")

    v: Literal[1] = 1
    timezone: str = "Asia/Shanghai"
    calendar: SchoolCalendar = Field(default_factory=SchoolCalendar)
    bells: dict[str, BellSchedule] = Field(min_length=1)
    default_bell: str
    level_bell: dict[str, str] = Field(default_factory=dict, description="school level → bell")
    room_types: dict[str, RoomUse] = Field(default_factory=dict, description="room type → use; absent = all")

    @model_validator(mode="after")
    def _references(self) -> SchoolTime:
        for where, name in [("default_bell", self.default_bell), *self.level_bell.items()]:
            if name not in self.bells:
                raise ValueError(f"{where}: unknown bell {name!r}; known: {', '.join(self.bells)}")
        return self

    def bell_for(self, level: str | None = None) -> BellSchedule:
        return self.bells[self.level_bell.get(level or "", self.default_bell)]

    def use_for(self, room_type: str | None) -> RoomUse:
        return self.room_types.get(room_type or "", RoomUse())


@cache
def _load_cached(path: str) -> SchoolTime:
    return load_model(SchoolTime, path)


def load_school_time(path: str | Path | None = None) -> SchoolTime:
    return _load_cached(str(path or DEFAULT_SCHOOL_TIME))
