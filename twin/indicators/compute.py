"""Plan indicators, operational figures and per-school figures: pure, every figure with a trace.

A plan indicator is computed over the roster (every school of the jurisdiction, with or
without a twin) and judged only in a report at its target's own level: a district report
shows its contribution to a city target ("contributes N of 400"), never a verdict against it.
The plan gives no intermediate values, so none are invented: before the target year a
same-level report says whether the target is reached yet, from the target year on whether it
was met. A trace names what made a figure (rooms with their evidence, gateways, entries).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from twin.indicators.facts import RoomFacts, SchoolFacts
from twin.indicators.inputs import RosterSchool, SchoolInput
from twin.indicators.room_facts import RoomFact
from twin.indicators.schema import (
    LEVEL_RANK,
    LEVEL_ZH,
    AgentsReporting,
    BimModel,
    Condition,
    CountSchools,
    Designated,
    IndicatorsFile,
    InputPositive,
    InputTrue,
    Level,
    Operational,
    PlanIndicator,
    SchoolDesignation,
    ShareRoomsWith,
    ShareSchools,
    TeacherWeightedShare,
)
from twin.standards.evaluator import Status


@dataclass(slots=True)
class SchoolContext:
    """Everything known about one roster school: its twin facts (None without a model), room
    facts from the model and inputs, its manual entries (newest first) and the gateways the
    store heard from it in the period (with or without a model)."""

    school: RosterSchool
    facts: SchoolFacts | None
    rooms: list[RoomFact]
    entries: list[SchoolInput]
    agents: dict[str, int] | None = None  # None: no store was read (IoT presence unknown)

    def value(self, name: str) -> tuple[Any, SchoolInput | None]:
        """The newest entered value of `name` and the entry it came from."""
        for e in self.entries:
            if name in e.values.model_fields_set:
                return getattr(e.values, name), e
        return None, None

    @property
    def designations(self) -> dict[str, SchoolInput]:
        out: dict[str, SchoolInput] = {}
        for e in reversed(self.entries):  # newest last: it wins
            for d in e.designations:
                out[d] = e
        return out

    @property
    def modelled(self) -> bool:
        return self.facts is not None and self.facts.ifc_loaded


def room_counts(rooms: list[RoomFact], cfg: IndicatorsFile) -> dict[str, list[str]]:
    """Room numbers per count the forms ask for; facts overlap (a room can be in several)."""
    return {
        "homerooms": [r.room_number for r in rooms if r.room_type in cfg.homeroom_types],
        "multimedia_classrooms": [r.room_number for r in rooms if r.has("multimedia", cfg)],
        "recording_classrooms": [
            r.room_number for r in rooms if r.has("recording", cfg) or r.room_type == "recording_classroom"
        ],
        "computer_rooms": [r.room_number for r in rooms if r.room_type == "computer_room"],
    } | {count_key(d): [r.room_number for r in rooms if d in r.designations] for d in cfg.designations}


def count_key(designation: str) -> str:
    """The count of rooms with a designation, as entered and as in room_counts: smart_classroom → smart_classrooms."""
    return f"{designation}s"


def entry_ref(e: SchoolInput | None) -> str:
    """An entered figure's origin as the report prints it: document, who, when, as of when."""
    return f"{e.source}（{e.entered_by}，{e.entered_at} 填报，截至 {e.as_of}）" if e else ""


# counts a school can state and the model can count (room_counts keys) — resolved by one rule
COUNTS = ("multimedia_classrooms", "recording_classrooms", "computer_rooms", "smart_classrooms", "new_labs")


@dataclass(slots=True)
class Conflict:
    """An entered count and the BIM model's count of the same thing disagree."""

    school: str
    field: str
    entered: float
    entered_source: str
    bim: float
    bim_source: str
    chosen: str  # entered | BIM (indicators.yaml `conflicts.prefer`)

    @property
    def difference(self) -> float:
        return self.entered - self.bim


@dataclass(slots=True)
class Resolved:
    """One figure of one school and where it came from (BIM, entered, none)."""

    value: Any
    origin: str
    source: str
    conflict: Conflict | None = None


def resolve_count(ctx: SchoolContext, key: str, cfg: IndicatorsFile) -> Resolved:
    """A room count from the model (or the school's entered room list) and/or the entered
    figure; when both exist and differ, `cfg.conflicts.prefer` wins and the other is kept in
    the conflict, never dropped."""
    rooms = room_counts(ctx.rooms, cfg)[key]
    counted = ctx.modelled or (key in {count_key(d) for d in cfg.designations} and bool(rooms))
    where = f"IFC {', '.join(ctx.facts.ifc_files)}" if ctx.modelled and ctx.facts else "房间填报 room entries"
    bim = (
        Resolved(len(rooms), "BIM" if ctx.modelled else "entered", f"{where}: {', '.join(rooms) or '-'}")
        if counted
        else None
    )
    v, e = ctx.value(key)
    entered = Resolved(v, "entered", entry_ref(e)) if e is not None else None
    if bim is None or entered is None:
        return bim or entered or Resolved(None, "none", "")
    if bim.value == entered.value:
        return Resolved(v, "entered+BIM", f"{entered.source}；{bim.source}")
    prefer = cfg.conflicts.prefer
    chosen = entered if prefer == "entered" else bim
    conflict = Conflict(ctx.school.id, key, float(v), entered.source, float(bim.value), bim.source, prefer)
    return Resolved(chosen.value, chosen.origin, chosen.source, conflict)


def conflicts(ctx: SchoolContext, cfg: IndicatorsFile) -> list[Conflict]:
    return [c for k in COUNTS if (c := resolve_count(ctx, k, cfg).conflict) is not None]


def check(cond: Condition, ctx: SchoolContext, cfg: IndicatorsFile) -> tuple[bool | None, str, list[str]]:
    """Whether one school meets `cond`: (ok, detail, names of what made it); ok None: the
    school has not stated it (an entered yes/no not entered yet)."""
    if isinstance(cond, Designated):
        found = {d: resolve_count(ctx, count_key(d), cfg) for d in cond.designations}
        have = [d for d, r in found.items() if (r.value or 0) >= cond.min]
        ok = bool(have) if cond.match == "any" else len(have) == len(cond.designations)
        detail = "; ".join(
            f"{d}: {r.value if r.value is not None else '未填报'} ({r.origin})" for d, r in found.items()
        )
        return ok, detail, [f"{d}: {r.source}" for d, r in found.items() if r.source]
    if isinstance(cond, BimModel):
        f = ctx.facts
        ok = f is not None and f.ifc_loaded
        return (
            ok,
            f"IFC: {', '.join(f.ifc_files) if f and f.ifc_files else 'none loaded'}",
            list(f.ifc_files if f else []),
        )
    if isinstance(cond, AgentsReporting):
        if ctx.agents is None:
            return None, "未读取数据库 no store read", []
        agents = sorted(a for a, n in ctx.agents.items() if n > 0)
        return len(agents) >= cond.min, f"{len(agents)} gateway(s) reported, need ≥{cond.min}", agents
    if isinstance(cond, SchoolDesignation):
        e = ctx.designations.get(cond.designation)
        return e is not None, f"{cond.designation}: {entry_ref(e) if e else 'not entered'}", []
    if isinstance(cond, InputPositive):
        v, e = ctx.value(cond.field)
        if e is None:
            return None, f"{cond.field}: 未填报 not entered", []
        return bool(v and v > 0), f"{cond.field}={v}：{entry_ref(e)}", []
    assert isinstance(cond, InputTrue)
    stated = [(f, *ctx.value(f)) for f in (cond.field, *cond.also)]
    given = [(f, v, e) for f, v, e in stated if e is not None]
    if not given:
        return None, f"{cond.field}: 未填报 not entered", []
    detail = "；".join(f"{f}={'是' if v else '否'}：{entry_ref(e)}" for f, v, e in given)
    return any(v is True for _, v, _ in given), detail, []


@dataclass(slots=True)
class Judgement:
    status: str  # met | not_met | reached | not_reached | contribution | not_judged | no_target | not_measured | no_data
    text_zh: str
    text_en: str
    expected_now: float | None = None  # only a value the plan itself gives for the report year
    on_track: bool | None = None


_CMP = {">=": float.__ge__, ">": float.__gt__, "<=": float.__le__, "<": float.__lt__, "=": float.__eq__}


def judge(ind: PlanIndicator, value: float | None, level: Level, year: int) -> Judgement:
    """Judge `value` of a report at `level` in `year` against the plan, never beyond what it says."""
    if ind.measure is None:
        return Judgement(
            "not_measured", "campus-twin 无法采集，需另行统计", "not measured or entered in campus-twin"
        )
    if value is None:
        return Judgement(
            "no_data",
            "无数据：各校尚未填报或无适用学校",
            "no data: nothing entered or no school it applies to",
        )
    t = ind.target
    if t is None:
        section = ind.citation.section or "现状描述"
        return Judgement("no_target", f"无目标值（{section}）", f"no target value ({section})")
    where_zh = LEVEL_ZH[t.level]
    if t.level != level:
        if LEVEL_RANK[level] < LEVEL_RANK[t.level] and isinstance(ind.measure, CountSchools):
            return Judgement(
                "contribution",
                f"贡献 {value:g} / {t.value:g}（{where_zh}{t.year}年目标）",
                f"contributes {value:g} of {t.value:g} ({t.level}-wide target for {t.year})",
            )
        return Judgement(
            "not_judged",
            f"{where_zh}目标 {t.value:g}{ind.unit_zh}（{t.year}年），不在本级评判",
            f"{t.level}-wide target {t.value:g} {ind.unit_en} for {t.year}: not judged at {level} level",
        )
    met = _CMP[t.comparator](float(value), float(t.value))
    if year >= t.year:
        return Judgement(
            "met" if met else "not_met",
            f"{t.year}年目标 {t.value:g}：{'已达成' if met else '未达成'}",
            f"{t.year} target {t.value:g}: {'met' if met else 'not met'}",
            expected_now=t.value,
            on_track=met,
        )
    return Judgement(
        "reached" if met else "not_reached",
        f"{t.year}年目标 {t.value:g}：{'已提前达成' if met else '尚未达到'}（规划未给出年度值）",
        f"{t.year} target {t.value:g}: {'already reached' if met else 'not reached yet'} (no yearly value in the plan)",
        on_track=True if met else None,
    )


@dataclass(slots=True)
class PlanResult:
    indicator: PlanIndicator
    value: float | None
    numerator: int | None
    denominator: int | None
    judgement: Judgement
    trace: list[dict[str, Any]]
    lacking: list[str] = field(default_factory=list)  # schools that have not entered what it needs


def compute_plan(
    ind: PlanIndicator, schools: list[SchoolContext], level: Level, year: int, cfg: IndicatorsFile
) -> PlanResult:
    m = ind.measure
    trace: list[dict[str, Any]] = []
    value: float | None = None
    num = den = None
    lacking: list[str] = []
    if isinstance(m, CountSchools | ShareSchools):
        among = [
            c for c in schools if not isinstance(m, ShareSchools) or m.among == "all" or c.school.new_build
        ]
        n = 0
        for ctx in among:
            ok, detail, names = check(m.where, ctx, cfg)
            n += bool(ok)
            if ok is None:
                lacking.append(ctx.school.id)
            trace.append(
                {
                    "school": ctx.school.id,
                    "name": ctx.school.name,
                    "counted": bool(ok),
                    "detail": detail,
                    "evidence": names,
                }
            )
        num, den = n, len(among)
        if len(lacking) == len(among):  # nobody stated it: no figure, not 0
            value = None
        else:
            value = float(n) if isinstance(m, CountSchools) else 100.0 * n / len(among)
    elif isinstance(m, TeacherWeightedShare):
        got = wsum = 0.0
        for ctx in schools:
            share, e = ctx.value(m.field)
            teachers, et = ctx.value("teachers")
            if share is None or not teachers:
                lacking.append(ctx.school.id)
                trace.append(
                    {"school": ctx.school.id, "name": ctx.school.name, "detail": "未填报 not entered"}
                )
                continue
            got, wsum = got + share * teachers, wsum + teachers
            trace.append(
                {
                    "school": ctx.school.id,
                    "name": ctx.school.name,
                    "share": share,
                    "teachers": teachers,
                    "detail": f"{entry_ref(e)}；{entry_ref(et)}",
                }
            )
        value = got / wsum if wsum else None
        num, den = round(got / 100), int(wsum)
    elif isinstance(m, ShareRoomsWith):
        hit = total = 0
        for ctx in schools:
            parts = share_parts(ctx, m, cfg)
            if parts is None:
                lacking.append(ctx.school.id)
                trace.append(
                    {
                        "school": ctx.school.id,
                        "name": ctx.school.name,
                        "rooms": None,
                        "detail": "无BIM模型且未填报 no model, not entered",
                    }
                )
                continue
            n, d, src, extra = parts
            hit, total = hit + n, total + d
            trace.append(
                {"school": ctx.school.id, "name": ctx.school.name, "origin": src, "rooms": d, "with_flag": n}
                | extra
            )
        num, den = hit, total
        value = 100.0 * hit / total if total else None
    return PlanResult(ind, value, num, den, judge(ind, value, level, year), trace, lacking)


def share_parts(
    ctx: SchoolContext, m: ShareRoomsWith, cfg: IndicatorsFile
) -> tuple[int, int, str, dict[str, Any]] | None:
    """(rooms with the flag, rooms, origin, trace detail) of one school for a room share. The
    entered pair (e.g. 多媒体教室数 / 班级数, capped at the rooms) when the school entered both
    and entered figures win (`cfg.conflicts`) or it has no model; else the model's rooms of
    `m.types` with the flag; None when neither is known."""
    a, ea = ctx.value(m.entered.numerator) if m.entered else (None, None)
    b, eb = ctx.value(m.entered.denominator) if m.entered else (None, None)
    if a is not None and b and (not ctx.modelled or cfg.conflicts.prefer == "entered"):
        return min(int(a), int(b)), int(b), "entered", {"detail": f"{entry_ref(ea)}；{entry_ref(eb)}"}
    if ctx.modelled:
        rooms = [r for r in ctx.rooms if r.room_type in m.types]
        with_flag = [r for r in rooms if r.has(m.flag, cfg)]
        return (
            len(with_flag),
            len(rooms),
            "BIM",
            {
                "with_flag_rooms": [r.room_number for r in with_flag],
                "without_flag_rooms": [r.room_number for r in rooms if r not in with_flag],
            },
        )
    return None


@dataclass(slots=True)
class OperationalResult:
    item: Operational
    value: float | None
    numerator: int
    denominator: int
    trace: list[dict[str, Any]] = field(default_factory=list)


def compute_operational(
    op: Operational, schools: list[SchoolContext], cfg: IndicatorsFile
) -> OperationalResult:
    twins = [c for c in schools if c.facts is not None]
    if op.type == "bim_schools":
        ok = [c.school.id for c in twins if c.facts is not None and c.facts.ifc_loaded]
        return OperationalResult(op, float(len(ok)), len(ok), len(schools), [{"schools": ok}])
    if op.type == "new_build_bim_schools":
        new = [c for c in schools if c.school.new_build]
        ok = [c.school.id for c in new if c.facts is not None and c.facts.ifc_loaded]
        return OperationalResult(
            op,
            float(len(ok)),
            len(ok),
            len(new),
            [{"schools": ok, "without": [c.school.id for c in new if c.school.id not in ok]}],
        )
    if op.type == "schools_with_gateways":
        ok = [c.school.id for c in schools if c.agents and any(n > 0 for n in c.agents.values())]
        return OperationalResult(op, float(len(ok)), len(ok), len(schools), [{"schools": ok}])
    if op.type == "share_entered":
        assert op.field is not None
        yes = [c.school.id for c in schools if c.value(op.field)[0] is True]
        unknown = [c.school.id for c in schools if c.value(op.field)[1] is None]
        value = 100.0 * len(yes) / len(schools) if schools else None
        return OperationalResult(
            op, value, len(yes), len(schools), [{"schools": yes, "not_entered": unknown}]
        )
    trace = []
    num = den = 0
    for c in twins:
        assert c.facts is not None
        if op.type == "teaching_room_coverage":
            teaching = [r for r in c.facts.rooms if r.room_type in cfg.teaching_room_types]
            live = [r.room_number for r in teaching if r.live]
            n, d = len(live), len(teaching)
            trace.append({"school": c.school.id, "live_rooms": live, "teaching_rooms": d})
        else:
            series = [x for r in c.facts.rooms for x in r.series]
            n = sum(min(x.received, x.expected) for x in series)
            d = sum(x.expected for x in series)
            trace.append({"school": c.school.id, "received": n, "expected": d})
        num, den = num + n, den + d
    return OperationalResult(op, 100.0 * num / den if den else None, num, den, trace)


def _rooms_of(school: SchoolFacts, types: list[str]) -> list[RoomFacts]:
    return [r for r in school.rooms if r.room_type in types]


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
    counts: dict[str, list[str]]  # room count id (room_counts) → room numbers
    compliance: list[RuleCompliance]
    worst: list[WorstRoom]


def _limit_text(v: Any) -> str:
    if isinstance(v.limit, tuple):
        return f"{v.limit[0]:g}–{v.limit[1]:g} {v.unit}"
    return f"{v.comparator} {v.limit:g} {v.unit}"


def school_report(s: SchoolFacts, rooms: list[RoomFact], cfg: IndicatorsFile) -> SchoolReport:
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
        statuses = [room_status(vs) for vs in per_room.values()]
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
        counts=room_counts(rooms, cfg),
        compliance=sorted(compliance, key=lambda c: c.rule_id),
        worst=worst[: cfg.worst_rooms],
    )


def room_status(vs: list[Any]) -> Status:
    """A room's status over its series: non-compliant if any is, compliant if any is, else insufficient."""
    st = {v.status for v in vs}
    if Status.NON_COMPLIANT in st:
        return Status.NON_COMPLIANT
    return Status.COMPLIANT if Status.COMPLIANT in st else Status.INSUFFICIENT
