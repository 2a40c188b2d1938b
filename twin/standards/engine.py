"""The standards engine: one place that decides when each rule applies to a room, evaluates
it and turns breaches into episodes. The report, the live state, the API's room status and
plan colouring, the alerts and `campus-twin standards check` all call `Engine`.

All times are ns UTC in, local (the campus time zone) inside: seasons, school days, class time,
local days. Occupancy is the room's presence sensor when it has one, else the school time
(bell + calendar + room type).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from zoneinfo import ZoneInfo

import numpy as np

from contract.school_time import SchoolTime, load_school_time
from twin.standards import intervals as iv
from twin.standards import load_standards
from twin.standards.evaluator import (
    Point,
    Reason,
    Series,
    Status,
    Verdict,
    badness,
    evaluate_series,
    prepare,
)
from twin.standards.occupancy import (
    OCCUPANCY_QUANTITIES,
    class_intervals,
    empty_intervals,
    from_sensor,
    sensed_intervals,
)
from twin.standards.roles import RolesFile, load_roles
from twin.standards.schema import Rule, StandardsFile

NS = iv.NS
NOT_IN_CLASS = Reason("不在上课时间", "not in class")
HOLIDAY = Reason("假期", "holiday")
NO_SCHOOL = Reason("非上学日", "not a school day")
OUT_OF_SEASON = Reason("不在适用季节", "out of season")
NOT_EMPTY = Reason(
    "无空置时段（背景噪声只在空置时测）", "no verified-empty time (background is measured empty)"
)
NO_CLASS_TIME = Reason("该房间无上课时间", "room has no class time")
log = logging.getLogger("twin.standards")


def no_calendar(campus: str, days: Sequence[date]) -> Reason:
    """Why a day is not judged when no school calendar covers it — never "holiday"."""
    span = f"{days[0]}" if len(days) == 1 else f"{days[0]}..{days[-1]}"
    who = f"{campus} " if campus else ""
    return Reason(
        f"无校历：{who}{span} 不在已录入的校历内",
        f"no calendar: {who}{span} is beyond the school calendar",
        "no_calendar",
    )


EPISODE_GAP_NS = 35 * 60 * NS  # breaches closer than this (a break, the 大课间) are one episode
LIVE_MIN = 10.0  # minutes a running window needs in the live view
# how a rule reads a chosen series (the report's bulk store reads); the engine judges what it returns
Readings = Callable[[Rule, iv.Intervals, Series], Series]


@dataclass(frozen=True, slots=True)
class Episode:
    """One breach episode of a room and quantity, listing every rule it breaks."""

    quantity: str
    start: int
    end: int | None  # None while it goes on
    rules: tuple[str, ...]
    worst: float
    unit: str
    severity: str  # "warning" or "severe" (worst ≥ 50 % past the limit)
    points: tuple[str, ...] = ()
    verdicts: tuple[Verdict, ...] = field(default=(), repr=False)


@dataclass(frozen=True, slots=True)
class Presence:
    occupied: iv.Intervals
    sensed: iv.Intervals


def presence_of(series: Sequence[Series], hold_ns: int = 15 * 60 * NS) -> Presence | None:
    occ = [s for s in series if s.quantity in OCCUPANCY_QUANTITIES]
    if not occ:
        return None
    ts = np.concatenate([s.ts for s in occ])
    vs = np.concatenate([s.values for s in occ])
    return Presence(from_sensor(ts, vs, hold_ns), sensed_intervals(ts, hold_ns))


class Engine:
    def __init__(
        self,
        standards: StandardsFile | None = None,
        school: SchoolTime | None = None,
        roles: RolesFile | None = None,
        *,
        level: str | None = None,
        campus: str = "",
    ) -> None:
        self.campus = campus
        self._warned: set[date] = set()
        self.standards = standards or load_standards()
        self.school = school or load_school_time()
        self.roles = roles or load_roles()
        self.level = level
        self.tz = ZoneInfo(self.standards.timezone)
        self._class_memo: dict[tuple[str | None, int, int], iv.Intervals] = {}

    # ---------------------------------------------------------------- applicability
    def rules_for(self, room_type: str | None, quantities: set[str] | None = None) -> list[Rule]:
        return [
            r
            for r in self.standards.rules
            if r.applies.matches_room(room_type) and (quantities is None or r.quantity in quantities)
        ]

    def applicable(
        self, rule: Rule, room_type: str | None, start: int, end: int, presence: Presence | None
    ) -> tuple[iv.Intervals, Reason | None]:
        """When `rule` applies to a room of `room_type` in [start, end), and if never, why not."""
        a = rule.applies
        whole = iv.make([(start, end)])
        days = iv.local_days(start, end, self.tz)
        if a.season is not None:
            months = self.standards.season_months(a.season)
            whole = iv.intersect(whole, iv.months_mask(start, end, months, self.tz))
            if not len(whole):
                return whole, OUT_OF_SEASON
        if a.hours is not None:
            whole = iv.intersect(whole, iv.hours_mask(start, end, a.hours, self.tz))
        if a.time == "any":
            return whole, None
        kind_of = {d: self.school.calendar.day_kind(d) for d, _, _ in days}
        kinds = set(kind_of.values())
        unknown = [d for d, k in kind_of.items() if k == "no_calendar"]
        if unknown:
            self._warn(unknown)
            known = iv.make((lo, hi) for d, lo, hi in days if kind_of[d] != "no_calendar")
            whole = iv.intersect(whole, known)
        if a.time == "class":
            out = iv.intersect(self._class(room_type, start, end), whole)
            if presence is not None:  # in use per the sensor; unsensed time keeps the timetable
                unsensed = iv.complement(presence.sensed, start, end)
                out = iv.intersect(out, iv.normalize(np.concatenate([presence.occupied, unsensed])))
            if len(out):
                return out, None
            if "school" not in kinds:
                if unknown and not kinds & {"holiday", "vacation"}:
                    return out, no_calendar(self.campus, unknown)
                return out, HOLIDAY if kinds & {"holiday", "vacation"} else NO_SCHOOL
            if not self.school.use_for(room_type).class_time:
                return out, NO_CLASS_TIME
            return out, NOT_IN_CLASS
        settle = int(self.standards.settle_min * 60 * NS)
        occupied = None
        if presence is not None:
            occupied = presence.occupied
        empty = empty_intervals(self.school, start, end, settle, occupied=occupied, level=self.level)
        if presence is not None:
            empty = iv.intersect(empty, presence.sensed)
        out = iv.intersect(empty, whole)
        if not len(out) and unknown and len(unknown) == len(days):
            return out, no_calendar(self.campus, unknown)
        return out, None if len(out) else NOT_EMPTY

    def _warn(self, days: list[date]) -> None:
        new = [d for d in days if d not in self._warned]
        if new:
            self._warned.update(new)
            log.warning("%s", no_calendar(self.campus, new).en + " (verdicts: no_calendar)")

    def calendar_notice(self, now: int) -> str | None:
        """The warning to show from 60 days before the campus's last calendar ends."""
        today = datetime.fromtimestamp(now // NS, self.tz).date()
        return self.school.calendar.notice(today, self.campus)

    def _class(self, room_type: str | None, start: int, end: int) -> iv.Intervals:
        """Class time of a room type in [start, end): the whole local days covering it are
        computed once per room type and day (every rule of every room asks, with a running
        `end`), then clipped to [start, end) — the same intervals as `class_intervals`."""
        first = self.day_start(start)
        last = self.day_start(self.day_start(end - 1) + 36 * 3600 * NS)  # next local midnight
        key = (room_type, first, last)
        hit = self._class_memo.get(key)
        if hit is None:
            if len(self._class_memo) > 1024:
                self._class_memo.clear()
            hit = self._class_memo[key] = class_intervals(self.school, first, last, room_type, self.level)
        return iv.intersect(hit, iv.make([(start, end)]))

    def in_class(self, room_type: str | None, now: int) -> bool:
        """Is `now` class time for a room of this type (the occupancy fallback without a sensor)?"""
        lessons = self._class(room_type, now - 86_400 * NS, now + 86_400 * NS)
        return bool(iv.contains(lessons, np.array([now], dtype=np.int64))[0])

    def role_of(self, s: Series) -> str | None:
        return self.roles.role_of(s.device, s.point, s.quantity, s.role)

    # ---------------------------------------------------------------- evaluation
    def evaluate_room(
        self,
        room_type: str | None,
        series: Sequence[Series],
        start: int,
        end: int,
        *,
        all_rules: bool = False,
        live: bool = False,
        presence: Presence | None = None,
        readings: Readings | None = None,
    ) -> list[Verdict]:
        """Verdict per rule for one room over [start, end). Rules of quantities the room does
        not measure are left out unless `all_rules` (then: no_sensor).

        `presence`: the room's presence (default: from its occupancy series). `readings`: how a
        chosen series is read for a rule (the report's bulk store reads); default: as given."""
        if presence is None:
            presence = presence_of(series)
        return [
            v for v, _ in self._evaluate(room_type, series, presence, start, end, all_rules, live, readings)
        ]

    def _evaluate(
        self,
        room_type: str | None,
        series: Sequence[Series],
        presence: Presence | None,
        start: int,
        end: int,
        all_rules: bool,
        live: bool,
        readings: Readings | None = None,
    ) -> list[tuple[Verdict, iv.Intervals]]:
        quantities = None if all_rules else {s.quantity for s in series}
        prepared: dict[int, Point] = {}  # each point collapsed and its spacing inferred once
        out = []
        for rule in self.rules_for(room_type, quantities):
            chosen = [
                s
                for s in series
                if s.quantity == rule.quantity and rule.applies.matches_role(self.role_of(s))
            ]
            app, why = self.applicable(rule, room_type, start, end, presence)
            if readings is not None and chosen and iv.total(app):
                chosen = [readings(rule, app, s) for s in chosen]
                pts = [prepare(s) for s in chosen]
            else:
                pts = [prepared.setdefault(id(s), prepare(s)) for s in chosen]
            v = evaluate_series(
                rule,
                chosen,
                app,
                start,
                end,
                self.tz,
                tolerance=self.standards.tolerance,
                na_reason=why,
                live_last_min=LIVE_MIN if live else None,
                prepared=pts,
            )
            if v.status is Status.NOT_APPLICABLE and why is not None and why.code == "no_calendar":
                v = _replace(v, Status.NO_CALENDAR, why)
            out.append((v, app))
        return out

    def day_start(self, now: int) -> int:
        d = datetime.fromtimestamp(now // NS, self.tz).date()
        return int(datetime(d.year, d.month, d.day, tzinfo=self.tz).timestamp()) * NS

    def live_room(self, room_type: str | None, series: Sequence[Series], now: int) -> list[Verdict]:
        """The room now: each rule on its current (running) window of today; a rule that does
        not apply at this moment is not_applicable with the reason (not in class, holiday …)."""
        start = self.day_start(now)
        presence = presence_of(series)
        out = []
        for v, app in self._evaluate(room_type, series, presence, start, now + 1, False, True):
            if v.status not in (Status.NO_SENSOR, Status.NO_CALENDAR):
                now_in = bool(len(app)) and bool(iv.contains(app, np.array([now], dtype=np.int64))[0])
                if not now_in:
                    why = v.reason if v.status is Status.NOT_APPLICABLE else None
                    why = why or self._why_not_now(self.rule(v.rule_id), room_type, now, presence)
                    st = Status.NO_CALENDAR if why.code == "no_calendar" else Status.NOT_APPLICABLE
                    v = _replace(v, st, why)
            out.append(v)
        return out

    def _why_not_now(self, rule: Rule, room_type: str | None, now: int, presence: Presence | None) -> Reason:
        if rule.applies.time == "class":
            d = datetime.fromtimestamp(now // NS, self.tz).date()
            kind = self.school.calendar.day_kind(d)
            if kind == "no_calendar":
                return no_calendar(self.campus, [d])
            if kind in ("holiday", "vacation"):
                return HOLIDAY
            if kind == "weekend":
                return NO_SCHOOL
            return NOT_IN_CLASS
        if rule.applies.time == "empty":
            return Reason(
                "有人或刚下课（背景噪声只在空置时测）", "room in use (background is measured empty)"
            )
        return OUT_OF_SEASON

    def rule(self, rule_id: str) -> Rule:
        for r in self.standards.rules:
            if r.id == rule_id:
                return r
        raise KeyError(rule_id)

    # ---------------------------------------------------------------- episodes
    def episodes(self, verdicts: Sequence[Verdict], *, now: int | None = None) -> list[Episode]:
        """Breaching windows of all rules of a quantity merged into episodes (one alert each)."""
        bad: dict[str, list[tuple[int, int, float, Verdict]]] = {}
        for v in verdicts:
            rule = self.rule(v.rule_id)
            for w in v.windows:
                if w.judged and not w.passes and w.value is not None:
                    bad.setdefault(rule.quantity, []).append((w.start, w.end, w.value, v))
        out: list[Episode] = []
        for q, items in bad.items():
            items.sort(key=lambda x: x[0])
            group: list[tuple[int, int, float, Verdict]] = []
            for it in items:
                if group and it[0] > max(g[1] for g in group) + EPISODE_GAP_NS:
                    out.append(self._episode(q, group, now))
                    group = []
                group.append(it)
            if group:
                out.append(self._episode(q, group, now))
        return sorted(out, key=lambda e: (e.start, e.quantity))

    def _episode(self, q: str, group: list[tuple[int, int, float, Verdict]], now: int | None) -> Episode:
        rules = tuple(dict.fromkeys(g[3].rule_id for g in group))
        worst_item = max(group, key=lambda g: float(badness(self.rule(g[3].rule_id), np.array([g[2]]))[0]))
        rule = self.rule(worst_item[3].rule_id)
        excess = float(badness(rule, np.array([worst_item[2]]))[0])
        scale = (rule.limit[1] - rule.limit[0]) if isinstance(rule.limit, tuple) else abs(float(rule.limit))
        end = max(g[1] for g in group)
        is_open = now is not None and end >= now - 60 * NS
        points = tuple(sorted({p for g in group for p in g[3].points}))
        return Episode(
            quantity=q,
            start=min(g[0] for g in group),
            end=None if is_open else end,
            rules=rules,
            worst=worst_item[2],
            unit=rule.unit,
            severity="severe" if scale and excess >= 0.5 * scale else "warning",
            points=points,
            verdicts=tuple(dict.fromkeys(g[3] for g in group)),
        )


def _replace(v: Verdict, status: Status, reason: Reason | None) -> Verdict:
    return replace(v, status=status, reason=reason)
