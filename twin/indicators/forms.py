"""The Guangxi forms (学校基本信息, 区域内中小学校简况) filled from roster, BIM and entered data.

Field names and order come from `forms.yaml` (quoted from gx-2023-23). Each value says where it
came from (roster, BIM, entered with its document, or derived from entered figures); a blank is
marked missing and listed per school, so the bureau knows what still has to be collected.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from contract.yamlio import load_model
from twin.indicators.compute import SchoolContext, entry_ref, resolve_count, share_parts
from twin.indicators.inputs import FORM_SCHOOL_TYPES, SchoolValues
from twin.indicators.schema import EnteredPair, IndicatorsFile, ShareRoomsWith

DEFAULT_FORMS = Path(__file__).with_name("forms.yaml")
ORIGIN_ZH: dict[str | None, str] = {
    "BIM": "BIM模型",
    "IoT": "物联网（数据库）",
    "entered": "填报",
    "BIM+entered": "BIM模型+填报",
    "entered+BIM": "填报=BIM模型",
    "roster": "学校名录",
    "derived": "由填报值计算",
    "none": "无",
    None: "未采集",
}
Origin = Literal["roster", "BIM", "IoT", "entered", "derived", "BIM+entered"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FormField(_Strict):
    id: str
    en: str
    label: str
    unit: str | None = None
    lines: str = Field(pattern=r"^\d+(-\d+)?$")
    origin: Origin
    fmt: Literal["text", "int", "num", "pct", "pct100", "bool"] = "text"
    definition_zh: str | None = Field(default=None, description="口径说明")


class SchoolForm(_Strict):
    title_zh: str
    title_en: str
    fields: list[FormField] = Field(min_length=1)


class DistrictForm(_Strict):
    title_zh: str
    title_en: str
    header: list[FormField] = Field(default_factory=list)
    types_lines: str
    columns: list[FormField] = Field(min_length=1)
    fields: list[FormField]


SCHOOL_COMPUTED = {"name", "school_type", "student_computer_ratio", "teacher_computer_ratio"}
DISTRICT_IDS = {"schools", "teachers", "students", "multimedia_share", "recording_total"}
DISTRICT_IDS |= {"teacher_computer_ratio", "student_computer_ratio"}
DISTRICT_IDS |= {"digital_textbook_teacher_share", "teacher_it_training_coverage"}


class FormsFile(_Strict):
    v: Literal[1] = 1
    doc: str
    school_form: SchoolForm
    district_form: DistrictForm

    @model_validator(mode="after")
    def _known_ids(self) -> FormsFile:
        """A field id the code does not fill would silently read as missing: refuse it."""
        school_ok = SCHOOL_COMPUTED | set(SchoolValues.model_fields)
        for f in self.school_form.fields:
            if f.id not in school_ok and not re.fullmatch(r"funding_\d{4}", f.id):
                raise ValueError(f"school_form field {f.id!r}: unknown id")
        for f in self.district_form.header:
            if f.id not in ("name", "address", "postcode"):
                raise ValueError(f"district_form header {f.id!r}: unknown id")
        for f in [*self.district_form.columns, *self.district_form.fields]:
            if f.id not in DISTRICT_IDS and not re.fullmatch(r"funding_\d{4}", f.id):
                raise ValueError(f"district_form field {f.id!r}: unknown id")
        return self


def load_forms(path: str | Path | None = None) -> FormsFile:
    return load_model(FormsFile, path or DEFAULT_FORMS)


@dataclass(slots=True)
class FieldValue:
    id: str
    label: str
    value: Any  # None = missing
    origin: str  # where this value came from (may differ from the form's default, e.g. entered without BIM)
    source: str

    @property
    def missing(self) -> bool:
        return self.value is None


@dataclass(slots=True)
class SchoolSheet:
    school: str
    fields: list[FieldValue]
    missing: list[str] = field(default_factory=list)  # labels, in form order


def _entered(ctx: SchoolContext, name: str) -> tuple[Any, str]:
    v, e = ctx.value(name)
    return v, entry_ref(e)


NOT_APPLICABLE = "不适用"


def _ratio(num: float | None, den: float | None) -> str | None:
    """生机比/师机比 as the forms write them, e.g. '4.5:1' (people per computer)."""
    if not num or not den:
        return None
    return f"{num / den:.1f}:1"


def _school_value(ctx: SchoolContext, field_id: str, cfg: IndicatorsFile) -> tuple[Any, str, str]:
    """(value, origin, source) of one form field for one school."""
    if field_id in ("name", "school_type"):
        return (
            (ctx.school.name if field_id == "name" else ctx.school.type),
            "roster",
            f"学校名录 roster: {ctx.school.id}",
        )
    if field_id in ("multimedia_classrooms", "recording_classrooms", "computer_rooms"):
        r = resolve_count(ctx, field_id, cfg)
        return r.value, r.origin, r.source
    if field_id == "student_computer_ratio":
        return _derived(ctx, "students", "student_terminals")
    if field_id == "teacher_computer_ratio":
        return _derived(ctx, "teachers", "teacher_terminals")
    if field_id.startswith("funding_"):
        return _funding(ctx, int(field_id.removeprefix("funding_")))
    if field_id == "byod_practice":
        byod, e = ctx.value("byod")
        if byod is False:  # the form asks for the practice only of schools that use BYOD
            return NOT_APPLICABLE, "entered", f"是否采用自带设备=否：{entry_ref(e)}"
    v, src = _entered(ctx, field_id)
    return v, "entered", src


def school_sheet(ctx: SchoolContext, form: SchoolForm, cfg: IndicatorsFile) -> SchoolSheet:
    out = [FieldValue(f.id, f.label, *_school_value(ctx, f.id, cfg)) for f in form.fields]
    return SchoolSheet(ctx.school.id, out, [f.label for f in out if f.missing])


def _derived(ctx: SchoolContext, num: str, den: str) -> tuple[Any, str, str]:
    a, ea = ctx.value(num)
    b, eb = ctx.value(den)
    return _ratio(a, b), "derived", f"{num}/{den}：{entry_ref(ea) or '-'}；{entry_ref(eb) or '-'}"


def _funding(ctx: SchoolContext, year: int) -> tuple[Any, str, str]:
    for e in ctx.entries:
        f = e.values.funding_wan
        if f is not None and year in f:
            return f[year], "entered", entry_ref(e)
    return None, "entered", ""


@dataclass(slots=True)
class DistrictSheet:
    rows: list[dict[str, Any]]  # {type, schools, teachers, students, missing: [...]}
    fields: list[FieldValue]
    missing: list[str]


def _sum(ctxs: list[SchoolContext], name: str) -> tuple[float | None, list[str]]:
    """Sum of an entered figure; None with the schools lacking it when any school lacks it."""
    vals = [(c, c.value(name)[0]) for c in ctxs]
    lacking = [c.school.id for c, v in vals if v is None]
    return (None if lacking else sum(v for _, v in vals)), lacking


def district_sheet(schools: list[SchoolContext], form: DistrictForm, cfg: IndicatorsFile) -> DistrictSheet:
    rows = []
    missing: list[str] = []
    for t in (*FORM_SCHOOL_TYPES, "合计"):
        ctxs = [c for c in schools if t == "合计" or c.school.type == t]
        row: dict[str, Any] = {"type": t, "schools": len(ctxs)}
        for col in ("teachers", "students"):
            row[col], lacking = _sum(ctxs, col)
            if lacking:
                missing.append(f"{t} {col}: {', '.join(lacking)}")
        rows.append(row)
    others = [c.school.id for c in schools if c.school.type not in FORM_SCHOOL_TYPES]
    fields = []
    for f in form.fields:
        v: Any = None
        origin: str = f.origin
        src = ""
        if f.id.startswith("funding_"):
            year = int(f.id.split("_")[1])
            got = [_funding(c, year)[0] for c in schools]
            lacking = [c.school.id for c, g in zip(schools, got, strict=True) if g is None]
            v = None if lacking else sum(got)
            src = "各校填报之和 sum of the schools' entries" + (
                f"；缺 missing：{', '.join(lacking)}" if lacking else ""
            )
        elif f.id == "recording_total":
            got = [(c, resolve_count(c, "recording_classrooms", cfg)) for c in schools]
            lacking = [c.school.id for c, r in got if r.value is None]
            v = None if lacking else sum(r.value for _, r in got)
            origin = _origins([r.origin for _, r in got])
            src = "各校录播教室数之和：" + "；".join(
                f"{c.school.id} {r.value if r.value is not None else '缺'}（{ORIGIN_ZH.get(r.origin, r.origin)}）"
                for c, r in got
            )
        elif f.id == "multimedia_share":
            parts = [(c, _multimedia_parts(c, cfg)) for c in schools]
            lacking = [c.school.id for c, p in parts if p is None]
            mm = sum(p[0] for _, p in parts if p is not None)
            rooms = sum(p[1] for _, p in parts if p is not None)
            v = 100.0 * mm / rooms if rooms and not lacking else None
            origin = _origins([p[2] for _, p in parts if p is not None])
            src = f"多媒体教室 {mm} / 班级教室 {rooms}" + (f"；缺：{', '.join(lacking)}" if lacking else "")
        elif f.id in ("teacher_computer_ratio", "student_computer_ratio"):
            num, den = (
                ("teachers", "teacher_terminals")
                if f.id.startswith("teacher")
                else ("students", "student_terminals")
            )
            a, la = _sum(schools, num)
            b, lb = _sum(schools, den)
            v = _ratio(a, b)
            src = f"各校 {num} 之和 / {den} 之和" + (
                f"；缺 missing：{', '.join(sorted(set(la + lb)))}" if la or lb else ""
            )
        else:  # teacher-weighted shares of the schools' entries
            pairs = [(c.value(f.id)[0], c.value("teachers")[0]) for c in schools]
            if all(s is not None and n for s, n in pairs):
                v = sum(s * n for s, n in pairs) / sum(n for _, n in pairs)
            src = "各校填报值按专任教师数加权平均 teacher-weighted mean of the schools' entries"
        fields.append(FieldValue(f.id, f.label, v, origin, src))
    missing += [f.label for f in fields if f.missing]
    if others:
        missing.append(f"schools of other types (only in 合计): {', '.join(others)}")
    return DistrictSheet(rows, fields, missing)


def _origins(origins: list[str]) -> str:
    """One origin for a district figure made of the schools' figures."""
    parts = {p for o in origins for p in o.split("+") if p in ("BIM", "entered")}
    return "+".join(sorted(parts)) or "entered"


def _multimedia_parts(ctx: SchoolContext, cfg: IndicatorsFile) -> tuple[int, int, str] | None:
    """多媒体教室 / 班级教室 of one school, by the plan's own multimedia share (`share_parts`)."""
    m = ShareRoomsWith(
        type="share_rooms_with",
        types=list(cfg.homeroom_types),
        flag="multimedia",
        entered=EnteredPair(numerator="multimedia_classrooms", denominator="classes"),
    )
    parts = share_parts(ctx, m, cfg)
    return None if parts is None else (parts[0], parts[1], parts[2])
