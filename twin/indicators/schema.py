"""Schema of `indicators.yaml`: plan indicators with provenance, operational figures, equipment.

A plan indicator is quoted from its document: table row (序号) and exact wording, 约束性/预期性,
baseline and target exactly as written, and the geographic level (city/district/school) its
target applies to — a target is judged only in a report at that level. Statements of the
plan's 2020 status (发展现状) are baselines without a target. Operational figures the project
adds (monitoring coverage, data completeness, gateways reporting) are a separate list and are
never judged against a plan.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

IndicatorType = Literal["约束性", "预期性"]
Level = Literal["province", "city", "district", "school"]
LEVEL_ZH: dict[str, str] = {"province": "全省（区）", "city": "全市", "district": "区", "school": "学校"}
LEVEL_RANK: dict[str, int] = {"school": 0, "district": 1, "city": 2, "province": 3}
Comparator = Literal[">=", ">", "<=", "<", "="]
ID = r"^[a-z0-9][a-z0-9_.-]{0,63}$"
_CJK = "\u3000-\u303f\u4e00-\u9fff\uff00-\uffef"
_CJK_SPACE = re.compile(f"\\s+(?=[{_CJK}])|(?<=[{_CJK}])\\s+")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Document(_Strict):
    """A policy document the definitions are quoted from (copies under ../shared/plans/)."""

    file: str
    title_zh: str
    title_en: str
    issuer: str
    year: int
    region: str = Field(
        description="where the document applies (深圳市, 广西壮族自治区): matched against the roster's jurisdiction"
    )


class Citation(_Strict):
    doc: str = Field(description="key of `documents`")
    lines: str = Field(pattern=r"^\d+(-\d+)?$", description="line(s) of the plain-text copy")
    row: int | None = Field(default=None, description="序号 in the plan's indicator table")
    section: str | None = Field(default=None, description="e.g. 发展现状, 主要指标表")
    wording: str = Field(min_length=1, description="the plan's words, restored to reading order")
    printed: list[str] | None = Field(
        default=None,
        description="the same characters as they stand in the plain-text copy when its extraction "
        "scrambled them (004): the citation test finds `printed` on the cited lines as a character "
        "sequence and checks `wording` uses exactly its characters",
    )


class Baseline(_Strict):
    value: float
    year: int
    comparator: Comparator = "="  # "超过60%" is > 60
    wording: str | None = None
    citation: Citation | None = None


class Target(_Strict):
    value: float
    year: int
    comparator: Comparator = ">="
    level: Level


# ------------------------------------------------------------------ measures


class Designated(_Strict):
    """The school has ≥ `min` rooms explicitly designated one of `designations` (pset value,
    classification or the inputs file; never the model's inference), or has entered that
    many (`<designation>s`, e.g. smart_classrooms; indicators.yaml `conflicts` when both)."""

    type: Literal["designated_rooms"]
    designations: list[str] = Field(min_length=1)
    match: Literal["any", "all"] = "any"
    min: int = Field(default=1, ge=1)


class BimModel(_Strict):
    """A BIM (IFC) model of the school is loaded in the twin."""

    type: Literal["bim_model"]


class AgentsReporting(_Strict):
    """≥ `min` edge gateways of the school sent data in the period."""

    type: Literal["agents_reporting"]
    min: int = Field(default=1, ge=1)


class SchoolDesignation(_Strict):
    """An entered designation of the school (实验校, 示范校 …)."""

    type: Literal["school_designation"]
    designation: str


class InputTrue(_Strict):
    """An entered yes/no field of the school is yes (e.g. wireless_deployed), or one of `also`
    (a stronger statement that implies it, e.g. wireless_full_coverage)."""

    type: Literal["input_true"]
    field: str
    also: list[str] = Field(default_factory=list)


class InputPositive(_Strict):
    """An entered figure of the school is given and > 0 (e.g. bandwidth_mbps)."""

    type: Literal["input_positive"]
    field: str


Condition = Annotated[
    Designated | BimModel | AgentsReporting | SchoolDesignation | InputTrue | InputPositive,
    Field(discriminator="type"),
]


class CountSchools(_Strict):
    type: Literal["count_schools"]
    where: Condition


class ShareSchools(_Strict):
    """Percent of the roster's schools (the denominator: every school, twin or not; `among:
    new_build` only the roster's 新建/改扩建 schools)."""

    type: Literal["share_schools"]
    where: Condition
    among: Literal["all", "new_build"] = "all"


class TeacherWeightedShare(_Strict):
    """Percent of teachers over the schools: each school's entered percent `field` weighted by
    its entered 专任教师数."""

    type: Literal["teacher_weighted_share"]
    field: str


class EnteredPair(_Strict):
    """For a school without a model: the entered figures whose ratio stands for the share."""

    numerator: str
    denominator: str


class ShareRoomsWith(_Strict):
    """Percent of rooms of `types` that carry equipment flag `flag` (measured, BIM)."""

    type: Literal["share_rooms_with"]
    types: list[str] = Field(min_length=1)
    flag: str
    entered: EnteredPair | None = Field(default=None, description="schools without a model")


Measure = Annotated[
    CountSchools | ShareSchools | ShareRoomsWith | TeacherWeightedShare, Field(discriminator="type")
]


class PlanIndicator(_Strict):
    id: str = Field(pattern=ID)
    name_zh: str
    name_en: str
    citation: Citation
    type: IndicatorType | None = Field(description="from the plan's table; None for a 发展现状 statement")
    unit_zh: str
    unit_en: str
    baseline: Baseline | None = None
    target: Target | None = None
    measure: Measure | None = Field(default=None, description="None: campus-twin cannot measure it")
    origin: Literal["BIM", "IoT", "entered", "BIM+entered"] | None = None
    definition_note: str | None = Field(default=None, description="口径说明 in Chinese")
    definition_note_en: str | None = None

    @field_validator("definition_note")
    @classmethod
    def _join_folded_chinese(cls, v: str | None) -> str | None:
        """A folded YAML scalar turns line breaks into spaces; Chinese takes none."""
        return _CJK_SPACE.sub("", v) if v else v

    @model_validator(mode="after")
    def _measured_has_origin(self) -> PlanIndicator:
        if (self.measure is None) != (self.origin is None):
            raise ValueError("measure and origin go together")
        return self


class Operational(_Strict):
    """A figure the project adds (运行监测指标): shown, never judged against a plan."""

    id: str = Field(pattern=ID)
    name_zh: str
    name_en: str
    unit_zh: str
    unit_en: str
    type: Literal[
        "teaching_room_coverage",
        "data_completeness",
        "schools_with_gateways",
        "bim_schools",
        "new_build_bim_schools",
        "share_entered",
    ]
    field: str | None = Field(default=None, description="share_entered: the entered yes/no field")
    note: str | None = Field(default=None, description="说明 in Chinese")
    citation: Citation | None = Field(default=None, description="the text that motivates it (never a target)")


class EquipmentMatch(_Strict):
    """An IFC element in the room that sets a flag: its class and predefined/object type."""

    ifc_class: str
    type: str | None = Field(default=None, description="PredefinedType or ObjectType (case-insensitive)")


class EquipmentFlag(_Strict):
    zh: str
    en: str
    elements: list[EquipmentMatch] = Field(default_factory=list)
    pset_property: str | None = Field(default=None, description="boolean in the room pset")


class Designation(_Strict):
    zh: str
    en: str
    suggest_from_types: list[str] = Field(
        default_factory=list, description="room types whose inference is only a suggestion for review"
    )
    suggest_from_names: list[str] = Field(
        default_factory=list, description="regexes on the room's name/LongName that suggest the designation"
    )


class ConflictRule(_Strict):
    """Which figure wins when an entered count and the BIM model's count disagree."""

    prefer: Literal["entered", "BIM"]
    rule_zh: str
    rule_en: str


class IndicatorsFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    v: Literal[2] = 2
    plan: str
    documents: dict[str, Document]
    expected_interval_s: float = Field(default=60, gt=0, description="expected reading interval per series")
    teaching_room_types: list[str] = Field(min_length=1)
    homeroom_types: list[str] = Field(min_length=1, description="rooms a class is taught in by default")
    room_pset: str = Field(description="pset carrying explicit designations and equipment flags")
    designation_property: str
    equipment: dict[str, EquipmentFlag]
    designations: dict[str, Designation]
    school_designations: dict[str, str] = Field(
        default_factory=dict, description="entered designations of a school (实验校 …) → what they mean"
    )
    multimedia_flags: list[str] = Field(min_length=1, description="any of these makes a room multimedia")
    multimedia_room_types: list[str] = Field(
        default_factory=list, description="typed multimedia whatever the equipment"
    )
    conflicts: ConflictRule
    default_region: str = Field(description="the plans used when a roster names no known region (flagged)")
    plan_indicators: list[PlanIndicator] = Field(min_length=1)
    operational: list[Operational] = Field(default_factory=list)
    eyecare_rule: str = Field(description="the standards rule whose verdicts make the 护眼 section")
    survey_items: list[
        Literal["uniformity", "ugr", "ra", "cct", "desk_illuminance", "blackboard_illuminance"]
    ] = Field(default_factory=list, description="GB 7793 items that need a dated survey record per school")
    worst_rooms: int = Field(default=5, ge=0, le=100)

    @model_validator(mode="after")
    def _consistent(self) -> IndicatorsFile:
        for key, d in self.designations.items():
            for pattern in d.suggest_from_names:
                try:
                    re.compile(pattern)
                except re.error as exc:
                    raise ValueError(f"designations.{key}.suggest_from_names: {pattern!r}: {exc}") from None
        from twin.rooms import load_rules

        known = set(load_rules().types)
        listed = {*self.teaching_room_types, *self.homeroom_types, *self.multimedia_room_types}
        if listed - known:
            raise ValueError(f"room types not in twin/rules/room_types.yaml: {sorted(listed - known)}")
        ids = [i.id for i in self.plan_indicators] + [o.id for o in self.operational]
        dup = sorted({i for i in ids if ids.count(i) > 1})
        if dup:
            raise ValueError(f"duplicate indicator ids: {dup}")
        if self.default_region not in {d.region for d in self.documents.values()}:
            raise ValueError(f"default_region {self.default_region!r} is no document's region")
        for ind in self.plan_indicators:
            if ind.citation.doc not in self.documents:
                raise ValueError(f"{ind.id}: citation.doc {ind.citation.doc!r} is not in documents")
            m = ind.measure
            where = getattr(m, "where", None)
            if isinstance(where, Designated) and set(where.designations) - set(self.designations):
                raise ValueError(
                    f"{ind.id}: unknown designations {sorted(set(where.designations) - set(self.designations))}"
                )
            if isinstance(m, ShareRoomsWith) and m.flag not in self.equipment and m.flag != "multimedia":
                raise ValueError(f"{ind.id}: unknown equipment flag {m.flag!r}")
        return self

    def region_of(self, ind: PlanIndicator) -> str:
        return self.documents[ind.citation.doc].region

    def applicable(self, places: set[str]) -> list[PlanIndicator]:
        """The plan indicators of the regions a jurisdiction is in (its name, city or province)."""
        return [i for i in self.plan_indicators if self.region_of(i) in places]

    def type_zh(self, key: str | None) -> str:
        """The room type's Chinese label from the one room-type table (twin/rules/room_types.yaml)."""
        if key is None:
            return "未分类"
        from twin.rooms import load_rules

        return load_rules().label(key)
