"""Indicators and per-school figures from `SchoolFacts`: pure, every figure with its trace.

A trace names what made a figure: for a school count, each school with the rooms, devices or
agents that satisfied (or failed) each condition; for a room sum, the rooms.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from twin.indicators.facts import RoomFacts, SchoolFacts
from twin.indicators.schema import (
    AgentsReporting,
    BimManaged,
    Condition,
    CountSchools,
    HasRooms,
    Indicator,
    IndicatorsFile,
    ShareRooms,
    ShareSchools,
    SumRooms,
)
from twin.standards.evaluator import Status

NS = 10**9


@dataclass(frozen=True, slots=True)
class ConditionResult:
    kind: str
    ok: bool
    detail: str
    rooms: list[str] = field(default_factory=list)
    devices: list[str] = field(default_factory=list)
    agents: list[str] = field(default_factory=list)


def _rooms_of(school: SchoolFacts, types: list[str]) -> list[RoomFacts]:
    return [r for r in school.rooms if r.room_type in types]


def check(cond: Condition, school: SchoolFacts, teaching_types: list[str]) -> ConditionResult:
    if isinstance(cond, HasRooms):
        rooms = [r for r in _rooms_of(school, cond.types) if r.live or not cond.live]
        devices = sorted({d for r in rooms for d in (r.live_devices if cond.live else r.bound_devices)})
        live = " with live sensors" if cond.live else ""
        return ConditionResult(
            cond.kind,
            len(rooms) >= cond.min,
            f"{len(rooms)} room(s) of {'/'.join(cond.types)}{live}, need ≥{cond.min}",
            [r.room_number for r in rooms],
            devices,
        )
    if isinstance(cond, BimManaged):
        rooms = _rooms_of(school, cond.types or teaching_types)
        bound = [r for r in rooms if r.bound]
        share = len(bound) / len(rooms) if rooms else 0.0
        has_data = any(r.live for r in bound)
        ok = (
            school.ifc_loaded
            and bool(rooms)
            and share >= cond.min_bound_share
            and (has_data or not cond.require_data)
        )
        return ConditionResult(
            cond.kind,
            ok,
            f"IFC {'loaded' if school.ifc_loaded else 'missing'} ({', '.join(school.ifc_files) or '-'}); "
            f"{len(bound)}/{len(rooms)} rooms bound = {share:.0%}, need ≥{cond.min_bound_share:.0%}; "
            f"data in period: {'yes' if has_data else 'no'}",
            [r.room_number for r in bound],
            sorted({d for r in bound for d in r.bound_devices}),
        )
    assert isinstance(cond, AgentsReporting)
    agents = sorted(a for a, n in school.agents.items() if n > 0)
    return ConditionResult(
        cond.kind,
        len(agents) >= cond.min,
        f"{len(agents)} agent(s) reported, need ≥{cond.min}",
        agents=agents,
    )


@dataclass(slots=True)
class IndicatorResult:
    indicator: Indicator
    value: float
    expected_now: float | None  # where the linear path from baseline to target is in the report year
    on_track: bool | None  # None: no target to judge against
    trace: list[dict[str, Any]]


def _meets(value: float, target: float, comparator: str) -> bool:
    return {">=": value >= target, ">": value > target, "<=": value <= target, "<": value < target}[
        comparator
    ]


def judge(ind: Indicator, value: float, year: int) -> tuple[float | None, bool | None]:
    """On track = meets the target by its year, or, before it, the linear path from the baseline."""
    if ind.target is None or ind.target_year is None:
        return None, None
    if year >= ind.target_year or ind.baseline is None or ind.baseline_year is None:
        return ind.target, _meets(value, ind.target, ind.target_comparator)
    span = ind.target_year - ind.baseline_year
    frac = min(max((year - ind.baseline_year) / span, 0.0), 1.0) if span > 0 else 1.0
    expected = ind.baseline + (ind.target - ind.baseline) * frac
    return expected, _meets(value, expected, ">=" if ind.target >= ind.baseline else "<=")


def compute_indicator(
    ind: Indicator, schools: list[SchoolFacts], cfg: IndicatorsFile, year: int
) -> IndicatorResult:
    rule = ind.rule
    trace: list[dict[str, Any]] = []
    if isinstance(rule, CountSchools | ShareSchools):
        n = 0
        for s in schools:
            results = [check(c, s, cfg.teaching_room_types) for c in rule.where]
            ok = all(r.ok for r in results)
            n += ok
            trace.append(
                {
                    "school": s.campus_id,
                    "name": s.name,
                    "counted": ok,
                    "conditions": [_cond_dict(r) for r in results],
                }
            )
        value = float(n) if isinstance(rule, CountSchools) else (100.0 * n / len(schools) if schools else 0.0)
    elif isinstance(rule, SumRooms):
        total = 0
        for s in schools:
            rooms = [r for r in _rooms_of(s, rule.types) if r.live or not rule.live]
            total += len(rooms)
            trace.append(
                {
                    "school": s.campus_id,
                    "name": s.name,
                    "count": len(rooms),
                    "rooms": [r.room_number for r in rooms],
                }
            )
        value = float(total)
    else:
        assert isinstance(rule, ShareRooms)
        live = all_rooms = 0
        for s in schools:
            rooms = _rooms_of(s, rule.types)
            lv = [r for r in rooms if r.live]
            live, all_rooms = live + len(lv), all_rooms + len(rooms)
            trace.append(
                {
                    "school": s.campus_id,
                    "name": s.name,
                    "rooms": len(rooms),
                    "live_rooms": [r.room_number for r in lv],
                    "devices": sorted({d for r in lv for d in r.live_devices}),
                }
            )
        value = 100.0 * live / all_rooms if all_rooms else 0.0
    expected, on_track = judge(ind, value, year)
    return IndicatorResult(ind, value, expected, on_track, trace)


def _cond_dict(r: ConditionResult) -> dict[str, Any]:
    return {
        "kind": r.kind,
        "ok": r.ok,
        "detail": r.detail,
        "rooms": r.rooms,
        "devices": r.devices,
        "agents": r.agents,
    }


# ---------------------------------------------------------------- per-school report


@dataclass(slots=True)
class RuleCompliance:
    rule_id: str
    standard: str
    clause: str
    label_zh: str
    label_en: str
    rooms_evaluated: int
    rooms_compliant: int
    rooms_non_compliant: int
    rooms_insufficient: int
    compliant_share: float | None  # compliant class time / class time with enough data, over rooms
    valid_h: float
    applicable_h: float


@dataclass(slots=True)
class WorstRoom:
    room_number: str
    room_type: str | None
    rule_id: str
    label_zh: str
    compliant_share: float
    measured: float | None
    limit: str
    device: str
    point: str


@dataclass(slots=True)
class SchoolReport:
    campus_id: str
    name: str
    ifc_files: list[str]
    rooms_total: int
    rooms_by_type: dict[str, list[dict[str, Any]]]  # type → [{room, global_id, evidence}]
    teaching_rooms: int
    bound_rooms: list[str]
    instrumented_rooms: list[str]  # teaching rooms with live bound sensors
    coverage: float | None
    received: int
    expected: int
    completeness: float | None
    agents: dict[str, int]
    counts: dict[str, list[str]]  # school count id → room numbers
    compliance: list[RuleCompliance]
    worst: list[WorstRoom]


def _limit_text(v: Any) -> str:
    if isinstance(v.limit, tuple):
        return f"{v.limit[0]:g}–{v.limit[1]:g} {v.unit}"
    return f"{v.comparator} {v.limit:g} {v.unit}"


def school_report(s: SchoolFacts, cfg: IndicatorsFile) -> SchoolReport:
    by_type: dict[str, list[dict[str, Any]]] = {}
    for r in s.rooms:
        by_type.setdefault(r.room_type or "unclassified", []).append(
            {"room": r.room_number, "global_id": r.global_id, "evidence": r.evidence}
        )
    teaching = _rooms_of(s, cfg.teaching_room_types)
    instrumented = [r for r in teaching if r.live]
    series = [x for r in s.rooms for x in r.series]
    received = sum(min(x.received, x.expected) for x in series)
    expected = sum(x.expected for x in series)
    rules: dict[str, list[tuple[RoomFacts, Any, Any]]] = {}
    for r in s.rooms:
        for x in r.series:
            for v in x.verdicts:
                rules.setdefault(v.rule_id, []).append((r, x, v))
    compliance = []
    worst = []
    for rule_id, items in rules.items():
        v0 = items[0][2]
        per_room: dict[str, list[Any]] = {}
        for r, _x, v in items:
            per_room.setdefault(r.room_number, []).append(v)
        statuses = [_room_status(vs) for vs in per_room.values()]
        valid = sum(v.valid_s for _, _, v in items)
        good = sum((v.compliant_share or 0.0) * v.valid_s for _, _, v in items)
        compliance.append(
            RuleCompliance(
                rule_id,
                v0.standard,
                v0.clause,
                v0.label_zh,
                v0.label_en,
                len(per_room),
                statuses.count(Status.COMPLIANT),
                statuses.count(Status.NON_COMPLIANT),
                statuses.count(Status.INSUFFICIENT),
                good / valid if valid else None,
                valid / 3600,
                sum(v.applicable_s for _, _, v in items) / 3600,
            )
        )
        for r, x, v in items:
            if v.compliant_share is not None and v.compliant_share < 1.0:
                worst.append(
                    WorstRoom(
                        r.room_number,
                        r.room_type,
                        rule_id,
                        v.label_zh,
                        v.compliant_share,
                        v.measured,
                        _limit_text(v),
                        x.device,
                        x.point,
                    )
                )
    worst.sort(key=lambda w: (w.compliant_share, w.room_number, w.rule_id))
    return SchoolReport(
        campus_id=s.campus_id,
        name=s.name,
        ifc_files=s.ifc_files,
        rooms_total=len(s.rooms),
        rooms_by_type=dict(sorted(by_type.items())),
        teaching_rooms=len(teaching),
        bound_rooms=[r.room_number for r in s.rooms if r.bound],
        instrumented_rooms=[r.room_number for r in instrumented],
        coverage=len(instrumented) / len(teaching) if teaching else None,
        received=received,
        expected=expected,
        completeness=received / expected if expected else None,
        agents=dict(sorted(s.agents.items())),
        counts={c.id: [r.room_number for r in _rooms_of(s, c.types)] for c in cfg.school_counts},
        compliance=sorted(compliance, key=lambda c: c.rule_id),
        worst=worst[: cfg.worst_rooms],
    )


def _room_status(vs: list[Any]) -> Status:
    st = {v.status for v in vs}
    if Status.NON_COMPLIANT in st:
        return Status.NON_COMPLIANT
    return Status.COMPLIANT if Status.COMPLIANT in st else Status.INSUFFICIENT


@dataclass(slots=True)
class DistrictReport:
    plan: str
    period: str
    start: int
    end: int
    year: int
    generated_at: str
    indicators: list[IndicatorResult]
    schools: list[SchoolReport]


def district_report(
    schools: list[SchoolFacts], cfg: IndicatorsFile, *, period: str, year: int, generated_at: str
) -> DistrictReport:
    start = min((s.start for s in schools), default=0)
    end = max((s.end for s in schools), default=0)
    return DistrictReport(
        plan=cfg.plan,
        period=period,
        start=start,
        end=end,
        year=year,
        generated_at=generated_at,
        indicators=[compute_indicator(i, schools, cfg, year) for i in cfg.indicators],
        schools=[school_report(s, cfg) for s in schools],
    )
