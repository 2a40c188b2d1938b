"""护眼 (eye care): desk illuminance over class time from the standards engine's verdicts, and
the GB 7793 items sensors cannot measure as dated survey records.

Named in both plans: 学生用眼卫生 (gx-2023-23 l.17), 可护眼 terminals (sz-14fyp l.388). This
module never evaluates readings itself: `desk_illuminance_verdicts` is the one adapter to the
standards engine (today the verdicts `facts.gather_school` attaches from the existing
evaluator; the integrator swaps this function to the new engine).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from twin.indicators.compute import room_status
from twin.indicators.facts import SchoolFacts
from twin.indicators.inputs import SURVEY_ITEMS, EyeSurvey
from twin.standards.evaluator import STATUS_ZH, Status, Verdict
from twin.standards.schema import Rule


def desk_illuminance_verdicts(facts: SchoolFacts, rule_id: str) -> list[tuple[str, str, Verdict]]:
    """(room number, device/point, verdict) of the desk-illuminance rule for every series."""
    return [
        (r.room_number, f"{x.device}/{x.point}", v)
        for r in facts.rooms
        for x in r.series
        for v in x.verdicts
        if v.rule_id == rule_id
    ]


def periods_below(v: Verdict) -> tuple[int, int] | None:
    """(class periods with a judged reading below the limit, class periods judged) from the
    engine's judged windows, a period being a run of contiguous windows between breaks (a
    double lesson without a break is one period). None when the engine gives no windows (the
    evaluator on main keeps none; the new engine's `Verdict.windows` does)."""
    windows = sorted(getattr(v, "windows", ()) or (), key=lambda w: w.start)
    if not windows:
        return None
    periods: list[list[bool]] = []  # [judged, below]
    prev_end: int | None = None
    for w in windows:
        if prev_end is None or w.start > prev_end:
            periods.append([False, False])
        prev_end = max(prev_end or w.end, w.end)
        if w.judged:
            periods[-1][0] = True
            periods[-1][1] |= not w.passes
    return sum(p[1] for p in periods), sum(p[0] for p in periods)


@dataclass(slots=True)
class EyeCareRoom:
    room: str
    series: str
    status: str
    compliant_share: float | None
    class_hours_with_data: float
    hours_below_limit: float
    readings_below_limit: int
    worst_lux: float | None
    periods_below_limit: int | None  # class periods with desk lux below the limit (lights off or failing)
    periods_judged: int | None


@dataclass(slots=True)
class EyeCareSchool:
    school: str
    name: str
    rule_id: str
    standard: str
    clause: str
    requirement_zh: str
    classrooms_evaluated: int
    classrooms_compliant: int
    classrooms_non_compliant: int
    classrooms_insufficient: int
    compliant_time_share: float | None  # compliant class time / class time with data
    compliant_classroom_share: float | None  # compliant / (compliant + non-compliant)
    hours_below_limit: float
    periods_below_limit: int | None  # None: the engine gives no windows to count them from
    periods_judged: int | None
    rooms: list[EyeCareRoom]
    surveys: list[dict[str, Any]] = field(default_factory=list)
    surveys_missing: list[str] = field(default_factory=list)  # items with no survey record


def eyecare_school(
    facts: SchoolFacts,
    name: str,
    rule_id: str,
    surveys: list[EyeSurvey],
    survey_items: list[str],
    rule: Rule | None = None,
) -> EyeCareSchool:
    """`rule` (the standards rule, when known) names the requirement even without verdicts."""
    items = desk_illuminance_verdicts(facts, rule_id)
    rooms = [
        EyeCareRoom(
            room,
            series,
            f"{STATUS_ZH[v.status]} {v.status.value}",
            v.compliant_share,
            v.valid_s / 3600,
            (1.0 - (v.compliant_share or 0.0)) * v.valid_s / 3600 if v.compliant_share is not None else 0.0,
            v.windows_valid - v.windows_compliant,
            v.measured,
            *(periods_below(v) or (None, None)),
        )
        for room, series, v in items
    ]
    counted = [r for r in rooms if r.periods_judged is not None]
    all_counted = bool(rooms) and len(counted) == len(rooms)
    per_room: dict[str, list[Verdict]] = {}
    for room, _s, v in items:
        per_room.setdefault(room, []).append(v)
    statuses = [room_status(vs) for vs in per_room.values()]
    ok, bad = statuses.count(Status.COMPLIANT), statuses.count(Status.NON_COMPLIANT)
    valid = sum(v.valid_s for _, _, v in items)
    good = sum((v.compliant_share or 0.0) * v.valid_s for _, _, v in items)
    v0 = items[0][2] if items else None
    mine = [s for s in surveys if s.school == facts.campus_id]
    return EyeCareSchool(
        school=facts.campus_id,
        name=name,
        rule_id=rule_id,
        standard=v0.standard if v0 else (rule.standard if rule else ""),
        clause=v0.clause if v0 else (rule.clause if rule else ""),
        requirement_zh=v0.label_zh if v0 else (rule.label_zh if rule else ""),
        classrooms_evaluated=len(per_room),
        classrooms_compliant=ok,
        classrooms_non_compliant=bad,
        classrooms_insufficient=statuses.count(Status.INSUFFICIENT),
        compliant_time_share=good / valid if valid else None,
        compliant_classroom_share=ok / (ok + bad) if ok + bad else None,
        hours_below_limit=sum(r.hours_below_limit for r in rooms),
        periods_below_limit=sum(r.periods_below_limit or 0 for r in counted) if all_counted else None,
        periods_judged=sum(r.periods_judged or 0 for r in counted) if all_counted else None,
        rooms=sorted(
            rooms, key=lambda r: (r.compliant_share if r.compliant_share is not None else 2.0, r.room)
        ),
        surveys=[
            {
                "room": s.room,
                "date": s.date.isoformat(),
                "item": s.item,
                "item_zh": SURVEY_ITEMS[s.item][0],
                "standard": s.standard,
                "clause": s.clause,
                "value": s.value,
                "unit": s.unit,
                "meets": s.meets,
                "source": s.source,
                "entered_by": s.entered_by,
            }
            for s in sorted(mine, key=lambda s: (s.date, s.room, s.item))
        ],
        surveys_missing=[i for i in survey_items if not any(s.item == i for s in mine)],
    )
