"""The school roster (every school of the jurisdiction: the denominator of every share) and the
manual inputs (dated, sourced figures the building and sensors cannot tell): the models and the
pure plausibility rules. Reading and checking files is `twin.indicators.loading`.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from twin.indicators.schema import Level

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
    """The reporting body. Its place (`name`, `city`, `province`) selects the plan sets that
    apply: a plan's region must be one of them (docs/indicators.md, "Regions")."""

    level: Level
    name: str
    city: str | None = None
    province: str | None = None
    address: str | None = Field(default=None, description="通讯地址 (附件1)")
    postcode: str | None = Field(default=None, pattern=r"^\d{6}$", description="邮编 (附件1)")

    @property
    def places(self) -> set[str]:
        return {p for p in (self.name, self.city, self.province) if p}


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
    """Figures of the Guangxi 学校简况 (gx-2023-23 附件2) and the plan that only people know.
    Room counts may also come from the BIM model: `forms.yaml` `conflicts` says which wins."""

    address: str | None = Field(default=None, description="通讯地址")
    postcode: str | None = Field(default=None, pattern=r"^\d{6}$", description="邮编")
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
    multimedia_classrooms: int | None = Field(default=None, ge=0, description="多媒体教室数")
    recording_classrooms: int | None = Field(default=None, ge=0, description="录播教室数")
    computer_rooms: int | None = Field(default=None, ge=0, description="计算机教室数")
    smart_classrooms: int | None = Field(default=None, ge=0, description="认定的智慧教室数 (sz-14fyp 序号2)")
    new_labs: int | None = Field(default=None, ge=0, description="认定的新型实验室数 (sz-14fyp 序号2)")
    smart_campus_compliant: bool | None = Field(
        default=None, description="新建、改扩建学校智慧校园达标 (sz-14fyp 序号1)"
    )
    blended_teaching: bool | None = Field(default=None, description="实现线上线下混合式教学 (sz-14fyp 序号8)")
    teachers_digital_design_share: float | None = Field(
        default=None,
        ge=0,
        le=100,
        description="能够运用数字化教学资源进行教学设计的教师比例 % (sz-14fyp 序号11)",
    )
    wireless_deployed: bool | None = Field(default=None, description="部署了无线网络 (sz-14fyp l.46-48)")


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

    @field_validator("room", mode="before")
    @classmethod
    def _room_number(cls, v: Any) -> Any:
        """`room: 301` in YAML is a number; the room is named 301 all the same."""
        return str(v) if isinstance(v, int) and not isinstance(v, bool) else v


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


def plausibility(v: SchoolValues) -> list[tuple[str, str, str, str, str]]:
    """Figures of one entry that cannot all be true: (field, zh, en, fix_zh, fix_en). Bounds
    are wide on purpose (a 教学点 has a handful of pupils, a special school few per teacher):
    they catch a typo or a swapped column, not an unusual school."""
    out = []
    if v.teachers is not None and v.students is not None and v.teachers > v.students:
        out.append(
            (
                "teachers",
                f"专任教师数 {v.teachers} 多于在校学生数 {v.students}",
                f"{v.teachers} teachers for {v.students} students",
                "核对两栏是否填反或多打了一位",
                "check for swapped columns or an extra digit",
            )
        )
    if v.classes and v.students is not None and v.students / v.classes > 100:
        out.append(
            (
                "students",
                f"平均每班 {v.students / v.classes:.0f} 名学生（{v.students} 人 / {v.classes} 班）",
                f"{v.students / v.classes:.0f} students per class",
                "核对在校学生数与班级数",
                "check students and classes",
            )
        )
    if v.classes is not None and v.students is not None and v.classes > v.students:
        out.append(
            (
                "classes",
                f"班级数 {v.classes} 多于在校学生数 {v.students}",
                f"{v.classes} classes for {v.students} students",
                "核对两栏是否填反",
                "check for swapped columns",
            )
        )
    return out
