"""From loaded campuses, a store, the roster and the manual inputs to the report (CLI and API).

`assemble` is pure (facts in, report out) so data-driven cases can pin it; `build_report`
reads the store through `facts.gather_school` and calls it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from contract.bindings import BindingTable
from store.base import Store
from twin.indicators import load_indicators
from twin.indicators.compute import (
    Conflict,
    OperationalResult,
    PlanResult,
    SchoolContext,
    SchoolReport,
    compute_operational,
    compute_plan,
    conflicts,
    school_report,
)
from twin.indicators.eyecare import EyeCareSchool, eyecare_school
from twin.indicators.facts import SchoolFacts, gather_school, store_agents
from twin.indicators.forms import (
    DistrictSheet,
    FormsFile,
    SchoolSheet,
    district_sheet,
    load_forms,
    school_sheet,
)
from twin.indicators.inputs import Jurisdiction, ManualInputs, Provenance, Roster, RosterSchool
from twin.indicators.room_facts import RoomFact, campus_room_facts, entered_room_facts
from twin.indicators.schema import IndicatorsFile
from twin.model import Campus
from twin.standards import StandardsFile, load_standards
from twin.standards.occupancy import Timetable, load_timetable


@dataclass(slots=True)
class DistrictReport:
    plan: str
    period: str
    start: int
    end: int
    year: int
    generated_at: str
    jurisdiction: Jurisdiction
    roster_source: Provenance
    plan_indicators: list[PlanResult]
    operational: list[OperationalResult]
    schools: list[SchoolReport]  # schools with a twin
    conflicts: list[Conflict]  # entered vs BIM counts that disagree (indicators.yaml `conflicts`)
    room_facts: dict[str, list[RoomFact]]  # school → rooms (flags, designations, suggestions)
    eyecare: list[EyeCareSchool]
    school_forms: list[SchoolSheet]
    district_form: DistrictSheet
    problems: list[str]
    regions: list[str]  # the plan regions that apply to the jurisdiction
    conflict_rule: str


NO_ROSTER = "loaded twin (no roster)"


def roster_of(campuses: Sequence[Campus]) -> Roster:
    """A stand-in roster when none is given (API: one campus): a school-level report, or for
    several campuses a part of the city whose shares cover the loaded schools only."""
    level: Any = "school" if len(campuses) == 1 else "district"
    name = campuses[0].name if len(campuses) == 1 else "已加载学校 loaded schools"
    return Roster(
        jurisdiction=Jurisdiction(level=level, name=name),
        provenance=Provenance(entered_by="campus-twin", entered_at=dt.date.today(), source=NO_ROSTER),
        schools=[RosterSchool(id=c.id, name=c.name, type="其他", district="-") for c in campuses],
    )


def assemble(
    facts: Sequence[SchoolFacts],
    campuses: Sequence[Campus],
    roster: Roster,
    inputs: ManualInputs,
    cfg: IndicatorsFile,
    forms: FormsFile,
    *,
    period: str,
    year: int,
    generated_at: str,
    standards: StandardsFile | None = None,
    agents: dict[str, dict[str, int]] | None = None,
) -> DistrictReport:
    """The report from what is known: the roster and inputs alone make every form; a school's
    model (`facts`) and the gateways the store heard (`agents`: school → agent → readings, for
    schools with or without a model; None: no store, IoT presence unknown) add what they
    measure."""
    eye_rule = next((r for r in standards.rules if r.id == cfg.eyecare_rule), None) if standards else None
    by_id = {f.campus_id: f for f in facts}
    rooms = {c.id: campus_room_facts(c, cfg, inputs) for c in campuses}
    rostered = {s.id for s in roster.schools}
    problems = [
        f"学校 {c.id}（{c.name}）有BIM模型但不在学校名录中，未计入任何数字 | campus {c.id} ({c.name}) is loaded "
        "in the twin but not in the roster: left out of every figure"
        for c in campuses
        if c.id not in rostered
    ]
    if roster.provenance.source == NO_ROSTER and len(roster.schools) > 1:
        problems.append(
            f"未提供学校名录：各比例只按已加载的 {len(roster.schools)} 所学校计算 | no roster: every share is over "
            f"the {len(roster.schools)} loaded schools only, not every school of the jurisdiction (give --roster)"
        )
    ctxs = [
        SchoolContext(
            s,
            by_id.get(s.id),
            rooms.get(s.id) or entered_room_facts(s.id, inputs),
            inputs.latest(s.id),
            agents.get(s.id, {}) if agents is not None else None,
        )
        for s in roster.schools
    ]
    problems += stale_problems(ctxs, period)
    level = roster.jurisdiction.level
    places = roster.jurisdiction.places
    regions = sorted({d.region for d in cfg.documents.values()})
    if not places & set(regions):
        problems.append(
            f"学校名录未注明所在地区（city/province 为 {'、'.join(regions)} 之一），按默认地区 {cfg.default_region} "
            f"的规划列出 | the roster names no region of a plan ({', '.join(regions)}): the plans of "
            f"{cfg.default_region} are listed"
        )
        places = places | {cfg.default_region}
    twins = [c for c in ctxs if c.facts is not None]
    return DistrictReport(
        plan="；".join(sorted({cfg.documents[i.citation.doc].title_zh for i in cfg.applicable(places)}))
        or cfg.plan,
        period=period,
        start=min((f.start for f in facts), default=0),
        end=max((f.end for f in facts), default=0),
        year=year,
        generated_at=generated_at,
        jurisdiction=roster.jurisdiction,
        roster_source=roster.provenance,
        plan_indicators=[compute_plan(i, ctxs, level, year, cfg) for i in cfg.applicable(places)],
        operational=[compute_operational(o, ctxs, cfg) for o in cfg.operational],
        schools=[school_report(c.facts, c.rooms, cfg) for c in twins if c.facts is not None],
        conflicts=[x for c in ctxs for x in conflicts(c, cfg)],
        room_facts={c.school.id: c.rooms for c in ctxs if c.rooms},
        eyecare=[
            eyecare_school(
                c.facts, c.school.name, cfg.eyecare_rule, inputs.eye_surveys, list(cfg.survey_items), eye_rule
            )
            for c in twins
            if c.facts is not None
        ],
        school_forms=[school_sheet(c, forms.school_form, cfg) for c in ctxs],
        district_form=district_sheet(ctxs, forms.district_form, cfg),
        problems=problems,
        regions=sorted(set(regions) & places),
        conflict_rule=f"{cfg.conflicts.rule_zh} | {cfg.conflicts.rule_en}",
    )


STALE_DAYS = 365


def stale_problems(ctxs: Sequence[SchoolContext], period: str) -> list[str]:
    """Entries still supplying a figure but dated more than a year before the period starts:
    used (nothing newer exists) and flagged, so the officer can ask for a new figure."""
    try:
        start = dt.date.fromisoformat(period.split("..")[0].strip())
    except ValueError:
        return []
    out = []
    for c in ctxs:
        used: dict[int, list[str]] = {}
        for name in sorted({n for e in c.entries for n in e.values.model_fields_set}):
            _, e = c.value(name)
            if e is not None and (start - e.as_of).days > STALE_DAYS:
                used.setdefault(id(e), []).append(name)
        for e in c.entries:
            if id(e) in used:
                out.append(
                    f"{c.school.id}：{', '.join(used[id(e)])} 仍用 {e.as_of} 的数据（早于报告期一年以上，已过期，请更新）"
                    f" | {c.school.id}: {', '.join(used[id(e)])} still from {e.as_of}, over a year before the period (stale)"
                )
    return out


def build_report(
    campuses: Sequence[Campus],
    store: Store | None,
    start: int,
    end: int,
    *,
    period: str,
    year: int,
    roster: Roster | None = None,
    inputs: ManualInputs | None = None,
    bindings: BindingTable | None = None,
    indicators: IndicatorsFile | None = None,
    forms: FormsFile | None = None,
    standards: StandardsFile | None = None,
    timetable: Timetable | None = None,
    interval_s: float | None = None,
    now_ns: int | None = None,
) -> DistrictReport:
    """Report over [start, end); `bindings` None = each campus's own bindings; no roster = the
    loaded campuses (a school-level report for one campus); no store = from the models and
    inputs alone (no IoT figures)."""
    cfg = indicators or load_indicators()
    std = standards or load_standards()
    tt = timetable or load_timetable()
    rost = roster or roster_of(campuses)
    wanted = {s.id for s in rost.schools}
    facts = [
        gather_school(
            c,
            bindings,
            store,
            start,
            end,
            standards=std,
            timetable=tt,
            interval_s=interval_s or cfg.expected_interval_s,
            now_ns=now_ns,
        )
        for c in campuses
        if c.id in wanted
    ]
    heard = store_agents(store, [s.id for s in rost.schools], start, end) if store is not None else None
    generated = dt.datetime.now(dt.UTC).astimezone().isoformat(timespec="seconds")
    return assemble(
        facts,
        campuses,
        rost,
        inputs or ManualInputs(),
        cfg,
        forms or load_forms(),
        period=period,
        year=year,
        generated_at=generated,
        standards=std,
        agents=heard,
    )
