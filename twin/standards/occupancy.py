"""When a room is in class, occupied and verifiably empty, from school time and presence sensors.

Class time comes from the shared school time (contract/school_time.yaml: the bell of the
school's level, the calendar's school days, the room type's lessons). A presence/occupancy
sensor, when the room has one, narrows class time to when the room was actually in use and
decides empty time; without one, empty time is what lies outside the school's day. Both leave
a settle time after use (a room is not "empty" the second the class leaves).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt

from contract.school_time import SchoolTime, load_school_time
from twin.standards import intervals as iv

Timetable = SchoolTime  # the name the report path uses for the school time it is given
load_timetable = load_school_time
OCCUPANCY_QUANTITIES = ("occupancy", "presence")
HOLD_NS = 15 * 60 * 10**9


def _local_span(base: datetime, a_min: int, b_min: int) -> tuple[int, int]:
    a = base + timedelta(minutes=a_min)
    b = base + timedelta(minutes=b_min)
    return int(a.timestamp()) * iv.NS, int(b.timestamp()) * iv.NS


def class_intervals(
    school: SchoolTime, start: int, end: int, room_type: str | None = None, level: str | None = None
) -> iv.Intervals:
    """Class time (lessons, 早读, 晚自习) of a room type on the school days in [start, end)."""
    use = school.use_for(room_type)
    if not use.class_time:
        return iv.make([])
    tz = ZoneInfo(school.timezone)
    spans = school.bell_for(level).class_minutes(use.lessons)
    pairs: list[tuple[int, int]] = []
    for d, _, _ in iv.local_days(start, end, tz):
        if school.calendar.is_school_day(d):
            base = datetime(d.year, d.month, d.day, tzinfo=tz)
            pairs.extend(_local_span(base, a, b) for a, b in spans)
    return iv.intersect(iv.make(pairs), iv.make([(start, end)]))


def school_day_intervals(school: SchoolTime, start: int, end: int, level: str | None = None) -> iv.Intervals:
    """From the first to the last bell of each school day: the building is in use."""
    tz = ZoneInfo(school.timezone)
    a, b = school.bell_for(level).day_span()
    pairs = []
    for d, _, _ in iv.local_days(start, end, tz):
        if school.calendar.is_school_day(d):
            pairs.append(_local_span(datetime(d.year, d.month, d.day, tzinfo=tz), a, b))
    return iv.make(pairs)


def empty_intervals(
    school: SchoolTime,
    start: int,
    end: int,
    settle_ns: int,
    *,
    occupied: iv.Intervals | None = None,
    level: str | None = None,
) -> iv.Intervals:
    """Verified-empty time: the presence sensor's empty time, else outside the school's day;
    in both cases from `settle_ns` after the room was last in use."""
    used = (
        occupied if occupied is not None else school_day_intervals(school, start - 86_400 * iv.NS, end, level)
    )
    grown = iv.normalize(np.stack([used[:, 0], used[:, 1] + settle_ns], axis=1)) if len(used) else used
    return iv.complement(grown, start, end)


def from_sensor(ts: npt.ArrayLike, values: npt.ArrayLike, max_hold_ns: int = HOLD_NS) -> iv.Intervals:
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


def sensed_intervals(ts: npt.ArrayLike, max_hold_ns: int = HOLD_NS) -> iv.Intervals:
    """When a presence sensor reported at all (its readings held as in `from_sensor`)."""
    t = np.sort(np.asarray(ts, dtype=np.int64))
    if len(t) == 0:
        return iv.make([])
    nxt = np.append(t[1:], t[-1] + max_hold_ns)
    return iv.normalize(np.stack([t, np.minimum(nxt, t + max_hold_ns)], axis=1))
