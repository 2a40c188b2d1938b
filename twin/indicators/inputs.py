"""The school roster (every school of the jurisdiction: the denominator of every share) and the
manual inputs (dated, sourced figures the building and sensors cannot tell).

Both are YAML loaded through `contract.yamlio`, so a wrong field is reported as
`file:line:col: field …`; cross-file checks (a school not in the roster, a figure entered twice
for the same date, an unknown equipment flag) name the line too.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from contract.yamlio import ConfigError, format_loc, load_yaml, locate, validate_doc
from twin.indicators.schema import IndicatorsFile, Level

# The rows of 区域内中小学校简况 (gx-2023-23 附件1, l.47-84), in the form's order.
SchoolType = Literal["小学", "教学点", "初中", "普通高中", "九年一贯制学校", "完全中学", "其他"]
FORM_SCHOOL_TYPES: tuple[str, ...] = ("小学", "教学点", "初中", "普通高中", "九年一贯制学校", "完全中学")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Provenance(_Strict):
    """Who entered a record, when, and from which document."""

    entered_by: str = Field(min_length=1)
    entered_at: dt.date
    source: str = Field(min_length=1, description="the document the figures were copied from")


class Jurisdiction(_Strict):
    level: Level
    name: str
    city: str | None = None


class RosterSchool(_Strict):
    id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$", description="the twin's site id")
    name: str
    type: SchoolType
    district: str
    new_build: bool = Field(default=False, description="新建/改扩建 school")


class Roster(_Strict):
    v: Literal[1] = 1
    jurisdiction: Jurisdiction
    provenance: Provenance
    schools: list[RosterSchool] = Field(min_length=1)

    def get(self, school_id: str) -> RosterSchool | None:
        return next((s for s in self.schools if s.id == school_id), None)


class SchoolValues(_Strict):
    """Figures of the Guangxi 学校简况 (gx-2023-23 附件2) and the plan that only people know."""

    classes: int | None = Field(default=None, ge=0, description="班级数 (teaching classes: enrolment)")
    students: int | None = Field(default=None, ge=0, description="在校学生数")
    teachers: int | None = Field(default=None, ge=0, description="专任教师数")
    bandwidth_mbps: float | None = Field(default=None, gt=0, description="学校网络接入带宽 (Mbps)")
    student_terminals: int | None = Field(default=None, ge=0, description="学生用计算机终端数 (生机比)")
    teacher_terminals: int | None = Field(default=None, ge=0, description="教师用计算机终端数 (师机比)")
    wireless_full_coverage: bool | None = Field(default=None, description="无线校园是否全覆盖")
    byod: bool | None = Field(default=None, description="是否采用或拟采用学生自带设备学习")
    byod_practice: str | None = Field(default=None, description="“自带设备”购置、管理等方面具体做法")
    funding_wan: dict[int, float] | None = Field(
        default=None, description="教育信息化投入经费 (万元) by year"
    )
    digital_textbook_teacher_share: float | None = Field(default=None, ge=0, le=100)
    teacher_it_training_coverage: float | None = Field(default=None, ge=0, le=100)
    multimedia_classrooms: int | None = Field(default=None, ge=0, description="only used without a BIM model")
    recording_classrooms: int | None = Field(default=None, ge=0, description="only used without a BIM model")
    computer_rooms: int | None = Field(default=None, ge=0, description="only used without a BIM model")


class SchoolInput(Provenance):
    school: str
    as_of: dt.date = Field(description="the date the figures describe (e.g. the statistics date)")
    values: SchoolValues = Field(default_factory=SchoolValues)
    designations: list[str] = Field(default_factory=list, description="实验校, 示范校 …")


class RoomInput(Provenance):
    """Explicit room facts: designations and equipment flags (they win over the model)."""

    school: str
    room: str = Field(description="room number (IFC Name)")
    designations: list[str] = Field(default_factory=list)
    equipment: dict[str, bool] = Field(default_factory=dict)


SurveyItem = Literal["uniformity", "ugr", "ra", "cct", "desk_illuminance", "blackboard_illuminance"]
SURVEY_ITEMS: dict[str, tuple[str, str]] = {
    "uniformity": ("课桌面照度均匀度", "Desk illuminance uniformity"),
    "ugr": ("统一眩光值 UGR", "Unified glare rating"),
    "ra": ("显色指数 Ra", "Colour rendering index"),
    "cct": ("光源色温", "Correlated colour temperature"),
    "desk_illuminance": ("课桌面照度（检测）", "Desk illuminance (survey)"),
    "blackboard_illuminance": ("黑板面照度（检测）", "Blackboard illuminance (survey)"),
}


class EyeSurvey(Provenance):
    """A dated lighting survey of one room for a GB 7793 item sensors do not measure."""

    school: str
    room: str
    date: dt.date
    item: SurveyItem
    standard: str = "GB 7793-2010"
    clause: str = Field(min_length=1, description="the clause as cited in the survey report")
    value: float
    unit: str | None = None
    meets: bool = Field(description="the survey's own verdict")


class ManualInputs(_Strict):
    v: Literal[1] = 1
    schools: list[SchoolInput] = Field(default_factory=list)
    rooms: list[RoomInput] = Field(default_factory=list)
    eye_surveys: list[EyeSurvey] = Field(default_factory=list)

    def latest(self, school_id: str) -> list[SchoolInput]:
        """The school's entries, newest `as_of` first (a later figure supersedes an older one)."""
        return sorted((e for e in self.schools if e.school == school_id), key=lambda e: e.as_of, reverse=True)


def _missing(path: str | Path, what: str) -> ConfigError:
    return ConfigError(str(path), [f"{path}: {what} file not found"])


def load_roster(path: str | Path) -> Roster:
    if not Path(path).is_file():
        raise _missing(path, "roster")
    doc = load_yaml(path)
    if doc is None:
        raise ConfigError(str(path), [f"{path}: file is empty"])
    roster = validate_doc(Roster, doc, str(path))
    problems, seen = [], set()
    for i, s in enumerate(roster.schools):
        if s.id in seen:
            problems.append(_at(path, doc, ["schools", i, "id"], f"school id {s.id!r} listed twice"))
        seen.add(s.id)
    if problems:
        raise ConfigError(str(path), problems)
    return roster


def load_inputs(
    paths: str | Path | Sequence[str | Path], roster: Roster, cfg: IndicatorsFile
) -> ManualInputs:
    """Manual inputs from one or more files (YAML: every section; CSV: school entries, one row
    each, see `inputs_csv`), checked against the roster, the known flags and designations, and
    each other: one figure entered twice for the same school and date is an error naming both."""
    from twin.indicators.inputs_csv import load_school_rows

    files = [Path(paths)] if isinstance(paths, str | Path) else [Path(p) for p in paths]
    ids = {s.id for s in roster.schools}
    merged: dict[str, list[Any]] = {"schools": [], "rooms": [], "eye_surveys": []}
    where: list[dict[str, tuple[str, str]]] = []  # per school entry: field → (file:line:col, field path)
    problems: list[str] = []
    for path in files:
        if not path.is_file():
            problems.append(f"{path}: inputs file not found")
            continue
        try:
            if path.suffix.lower() == ".csv":
                entries, locs = load_school_rows(path)
                merged["schools"] += entries
                where += locs
                continue
            doc = load_yaml(path)
            if doc is None:
                raise ConfigError(str(path), [f"{path}: file is empty"])
            part = validate_doc(ManualInputs, doc, str(path))
        except ConfigError as exc:
            problems += exc.problems
            continue
        for section in merged:
            merged[section] += getattr(part, section)
        where += [
            {
                "school": (_pos(path, doc, ["schools", i, "school"]), f"schools[{i}].school"),
                "designations": (
                    _pos(path, doc, ["schools", i, "designations"]),
                    f"schools[{i}].designations",
                ),
            }
            | {
                n: (_pos(path, doc, ["schools", i, "values", n]), f"schools[{i}].values.{n}")
                for n in e.values.model_fields_set
            }
            for i, e in enumerate(part.schools)
        ]
        problems += _room_problems(path, doc, part, cfg)
        for section in ("rooms", "eye_surveys"):
            for i, item in enumerate(getattr(part, section)):
                if item.school not in ids:
                    problems.append(
                        _at(path, doc, [section, i, "school"], f"school {item.school!r} is not in the roster")
                    )
    inputs = ManualInputs(**merged)
    seen: dict[tuple[str, dt.date, str], str] = {}
    for e, loc in zip(inputs.schools, where, strict=True):
        if e.school not in ids:
            pos, label = loc["school"]
            problems.append(f"{pos}: field {label}: school {e.school!r} is not in the roster")
        for d in e.designations:
            if d not in cfg.school_designations:
                pos, label = loc["designations"]
                known = ", ".join(cfg.school_designations)
                problems.append(f"{pos}: field {label}: unknown school designation {d!r}: use one of {known}")
        for name in sorted(e.values.model_fields_set):
            key = (e.school, e.as_of, name)
            pos, label = loc[name]
            if key in seen:
                problems.append(
                    f"{pos}: field {label}: {name} of {e.school} as of {e.as_of} already entered at {seen[key]}"
                )
            seen.setdefault(key, pos)
    if problems:
        raise ConfigError(", ".join(str(f) for f in files), sorted(problems, key=_file_order))
    return inputs


def _file_order(problem: str) -> tuple[str, int, int]:
    """Problems in file, line, column order (numeric)."""
    m = re.match(r"(.*?):(\d+)(?::(\d+))?: ", problem)
    return (m.group(1), int(m.group(2)), int(m.group(3) or 0)) if m else (problem, 0, 0)


def _room_problems(path: Path, doc: Any, inputs: ManualInputs, cfg: IndicatorsFile) -> list[str]:
    """Designations and equipment flags of `rooms:` that indicators.yaml does not know."""
    problems: list[str] = []
    for i, r in enumerate(inputs.rooms):
        for j, d in enumerate(r.designations):
            problems += _unknown(
                path, doc, ["rooms", i, "designations", j], d, cfg.designations, "designation"
            )
        for f in r.equipment:
            problems += _unknown(path, doc, ["rooms", i, "equipment", f], f, cfg.equipment, "equipment flag")
    return problems


def _pos(path: str | Path, doc: Any, loc: list[str | int]) -> str:
    pos = locate(doc, loc)
    return f"{path}:{pos[0]}:{pos[1]}" if pos else str(path)


def _unknown(
    path: Path, doc: Any, loc: list[str | int], name: str, known: Mapping[str, object], what: str
) -> list[str]:
    return (
        []
        if name in known
        else [_at(path, doc, loc, f"unknown {what} {name!r}: use one of {', '.join(known)}")]
    )


def _at(path: str | Path, doc: Any, loc: list[str | int], msg: str) -> str:
    return f"{_pos(path, doc, loc)}: field {format_loc(loc)}: {msg}"
