"""School time as data: bell schedules, the school calendar and which rooms are used when.

One schema shared by the simulators (who is in a room when) and the standards engine (when a
rule applies: class time, empty time, school days). Loaded with `contract.yamlio.load_model`
so an error names `file:line:col: field`. The shipped `school_time.yaml` is the demo year
(2025-26, Shenzhen): terms, public holidays, 寒暑假 and 调休 make-up school days.
"""

from __future__ import annotations

import csv
import datetime as dt
import itertools
from functools import cache
from pathlib import Path
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from contract.textfile import TextFileError, read_text
from contract.yamlio import ConfigError, format_loc, load_yaml, loads_yaml, locate, validate_doc

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
DayKind = Literal["school", "weekend", "holiday", "vacation", "no_calendar"]
CALENDAR_WARN_DAYS = 60  # warn this many days before the last calendar's end


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

    @property
    def first_day(self) -> dt.date | None:
        """The first day the calendar knows (None: no terms, every week is in term)."""
        if not self.terms:
            return None
        return min([t.start for t in self.terms] + [h.from_ for h in self.holidays])

    @property
    def last_day(self) -> dt.date | None:
        """The last day the calendar knows (None: no terms, it never ends)."""
        if not self.terms:
            return None
        return max([t.end for t in self.terms] + [h.to for h in self.holidays])

    def days_left(self, today: dt.date) -> int | None:
        last = self.last_day
        return None if last is None else (last - today).days

    def notice(self, today: dt.date, where: str = "") -> str | None:
        """The warning to show from `CALENDAR_WARN_DAYS` before the calendar ends (None before)."""
        left = self.days_left(today)
        if left is None or left > CALENDAR_WARN_DAYS:
            return None
        who = f"{where}: " if where else ""
        if left < 0:
            return (
                f"{who}校历已于 {self.last_day} 结束，之后的日期不判定（no_calendar）；请录入新学年校历 / "
                f"the school calendar ended on {self.last_day}: later days are not judged; enter the next year's calendar"
            )
        return (
            f"{who}校历将于 {self.last_day} 结束（剩 {left} 天）；请录入下一学年校历 / "
            f"the school calendar ends on {self.last_day} ({left} days left): enter the next year's calendar"
        )

    def problems(self) -> list[tuple[tuple[str | int, ...], str]]:
        """(field path, message) of inconsistencies: terms that overlap or end before they start,
        public holidays outside every term, 调休 make-up days that are not weekend days or fall on
        a public holiday (a national 调休 Saturday inside 寒假 is allowed: no school either way)."""
        out: list[tuple[tuple[str | int, ...], str]] = []
        for i, t in enumerate(self.terms):
            if t.end < t.start:
                out.append(
                    (("terms", i, "end"), f"term {t.name!r} ends ({t.end}) before it starts ({t.start})")
                )
        order = sorted(range(len(self.terms)), key=lambda i: self.terms[i].start)
        for a, b in itertools.pairwise(order):
            if self.terms[b].start <= self.terms[a].end:
                out.append(
                    (
                        ("terms", b, "start"),
                        f"term {self.terms[b].name!r} starts {self.terms[b].start}, inside term "
                        f"{self.terms[a].name!r} (to {self.terms[a].end})",
                    )
                )
        for i, h in enumerate(self.holidays):
            if h.to < h.from_:
                out.append(
                    (
                        ("holidays", i, "to"),
                        f"{h.name or 'holiday'} ends ({h.to}) before it starts ({h.from_})",
                    )
                )
            elif (
                self.terms
                and h.kind == "holiday"
                and not any(t.start <= h.to and h.from_ <= t.end for t in self.terms)
            ):
                out.append(
                    (
                        ("holidays", i, "from"),
                        f"{h.name or 'holiday'} {h.from_}..{h.to} is outside every term (wrong year?)",
                    )
                )
        for i, d in enumerate(self.make_up_days):
            if d.isoweekday() in self.weekdays:
                out.append(
                    (
                        ("make_up_days", i),
                        f"调休 {d} is a {d:%A}, already a school day (a make-up day is a weekend day)",
                    )
                )
            elif any(h.from_ <= d <= h.to and h.kind == "holiday" for h in self.holidays):
                out.append((("make_up_days", i), f"调休 {d} falls on a holiday"))
        return out

    def day_kind(self, day: dt.date) -> DayKind:
        first, last = self.first_day, self.last_day
        if first is not None and last is not None and not first <= day <= last:
            return "no_calendar"
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


CSV_KINDS = ("term", "holiday", "vacation", "make_up")


def _calendar_error(name: str, doc: Any, cal: SchoolCalendar, prefix: tuple[str | int, ...] = ()) -> None:
    problems = cal.problems()
    if problems:
        lines = []
        for loc, msg in problems:
            pos = (
                locate(doc, [*prefix, *loc]) if not isinstance(doc, dict) or "_csv_lines" not in doc else None
            )
            if isinstance(doc, dict) and "_csv_lines" in doc:
                where = f"{name}:{doc['_csv_lines'].get(loc[:2], 1)}"
            else:
                where = f"{name}:{pos[0]}:{pos[1]}" if pos else name
            lines.append(f"{where}: field {format_loc([*prefix, *loc])}: {msg}")
        raise ConfigError(name, lines)


def _calendar_from_csv(text: str, name: str) -> tuple[dict[str, Any], dict[tuple[str | int, ...], int]]:
    """`kind,from,to,name` rows (kind: term, holiday, vacation, make_up; a header is optional)."""
    doc: dict[str, list[Any]] = {"terms": [], "holidays": [], "make_up_days": []}
    lines: dict[tuple[str | int, ...], int] = {}
    for n, row in enumerate(csv.reader(text.splitlines()), start=1):
        if not row or not "".join(row).strip() or row[0].lstrip().startswith("#"):
            continue
        cells = [c.strip() for c in row] + ["", "", ""]
        kind, a, b, label = cells[0].lower(), cells[1], cells[2] or cells[1], cells[3]
        if n == 1 and kind == "kind":
            continue
        if kind not in CSV_KINDS:
            raise ConfigError(name, [f"{name}:{n}: kind: {cells[0]!r} is not one of {', '.join(CSV_KINDS)}"])
        try:
            d0, d1 = dt.date.fromisoformat(a), dt.date.fromisoformat(b)
        except ValueError:
            raise ConfigError(name, [f"{name}:{n}: from/to: {a!r}..{b!r} is not YYYY-MM-DD"]) from None
        if kind == "term":
            lines[("terms", len(doc["terms"]))] = n
            doc["terms"].append({"name": label or f"term {len(doc['terms']) + 1}", "start": d0, "end": d1})
        elif kind == "make_up":
            lines[("make_up_days", len(doc["make_up_days"]))] = n
            doc["make_up_days"].append(d0)
        else:
            lines[("holidays", len(doc["holidays"]))] = n
            doc["holidays"].append({"from": d0, "to": d1, "name": label, "kind": kind})
    return doc, lines


def load_calendar(path: str | Path, encoding: str | None = None) -> SchoolCalendar:
    """A district's or school's 校历 from YAML (the `calendar:` schema) or CSV (`kind,from,to,name`),
    UTF-8 or GBK; ConfigError naming file:line for a bad entry or an inconsistent calendar."""
    name = str(path)
    try:
        text, _ = read_text(path, encoding)
    except TextFileError as exc:
        raise ConfigError(name, [str(exc)]) from None
    if Path(path).suffix.lower() == ".csv":
        doc, lines = _calendar_from_csv(text, name)
        try:
            cal = SchoolCalendar.model_validate(doc)
        except ValidationError as exc:
            raise ConfigError(
                name, [f"{name}:{lines.get(tuple(e['loc'][:2]), 1)}: {e['msg']}" for e in exc.errors()]
            ) from None
        _calendar_error(name, {"_csv_lines": lines}, cal)
        return cal
    ydoc = loads_yaml(text, name)
    if ydoc is None:
        raise ConfigError(name, [f"{name}: file is empty"])
    cal = validate_doc(SchoolCalendar, ydoc, name)
    _calendar_error(name, ydoc, cal)
    return cal


@cache
def _load_cached(path: str) -> SchoolTime:
    doc = load_yaml(path)
    if doc is None:
        raise ConfigError(path, [f"{path}: file is empty"])
    st = validate_doc(SchoolTime, doc, path)
    _calendar_error(path, doc, st.calendar, ("calendar",))
    return st


def load_school_time(path: str | Path | None = None) -> SchoolTime:
    return _load_cached(str(path or DEFAULT_SCHOOL_TIME))
