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
    OperationalResult,
    PlanResult,
    SchoolContext,
    SchoolReport,
    compute_operational,
    compute_plan,
    school_report,
)
from twin.indicators.eyecare import EyeCareSchool, eyecare_school
from twin.indicators.facts import SchoolFacts, gather_school
from twin.indicators.forms import (
    DistrictSheet,
    FormsFile,
    SchoolSheet,
    district_sheet,
    load_forms,
    school_sheet,
)
from twin.indicators.inputs import Jurisdiction, ManualInputs, Provenance, Roster, RosterSchool
from twin.indicators.room_facts import RoomFact, campus_room_facts
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
    room_facts: dict[str, list[RoomFact]]  # school → rooms (flags, designations, suggestions)
    eyecare: list[EyeCareSchool]
    school_forms: list[SchoolSheet]
    district_form: DistrictSheet
    problems: list[str]


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
) -> DistrictReport:
    eye_rule = next((r for r in standards.rules if r.id == cfg.eyecare_rule), None) if standards else None
    by_id = {f.campus_id: f for f in facts}
    rooms = {c.id: campus_room_facts(c, cfg, inputs) for c in campuses}
    rostered = {s.id for s in roster.schools}
    problems = [
        f"campus {c.id} ({c.name}) is loaded in the twin but not in the roster: left out of every figure"
        for c in campuses
        if c.id not in rostered
    ]
    if roster.provenance.source == NO_ROSTER and len(roster.schools) > 1:
        problems.append(
            f"no roster: every share is over the {len(roster.schools)} loaded schools only, not every school "
            "of the jurisdiction (give --roster)"
        )
    ctxs = [
        SchoolContext(s, by_id.get(s.id), rooms.get(s.id, []), inputs.latest(s.id)) for s in roster.schools
    ]
    level = roster.jurisdiction.level
    twins = [c for c in ctxs if c.facts is not None]
    return DistrictReport(
        plan=cfg.plan,
        period=period,
        start=min((f.start for f in facts), default=0),
        end=max((f.end for f in facts), default=0),
        year=year,
        generated_at=generated_at,
        jurisdiction=roster.jurisdiction,
        roster_source=roster.provenance,
        plan_indicators=[compute_plan(i, ctxs, level, year, cfg) for i in cfg.plan_indicators],
        operational=[compute_operational(o, ctxs, cfg) for o in cfg.operational],
        schools=[school_report(c.facts, c.rooms, cfg) for c in twins if c.facts is not None],
        room_facts={c.school.id: c.rooms for c in twins},
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
    )


def build_report(
    campuses: Sequence[Campus],
    store: Store,
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
    loaded campuses (a school-level report for one campus)."""
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
    )
