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
from twin.indicators.compute import SchoolContext, room_counts
from twin.indicators.inputs import FORM_SCHOOL_TYPES, SchoolInput, SchoolValues
from twin.indicators.schema import IndicatorsFile

DEFAULT_FORMS = Path(__file__).with_name("forms.yaml")
Origin = Literal["roster", "BIM", "IoT", "entered", "derived"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FormField(_Strict):
    id: str
    en: str
    label: str
    unit: str | None = None
    lines: str = Field(pattern=r"^\d+(-\d+)?$")
    origin: Origin


class SchoolForm(_Strict):
    title_zh: str
    title_en: str
    fields: list[FormField] = Field(min_length=1)


class DistrictForm(_Strict):
    title_zh: str
    title_en: str
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
    return v, _ref(e)


def _ref(e: SchoolInput | None) -> str:
    return f"{e.source}（{e.entered_by}，{e.entered_at}，截至 {e.as_of}）" if e else ""


def _ratio(num: float | None, den: float | None) -> str | None:
    """生机比/师机比 as the forms write them, e.g. '4.5:1' (people per computer)."""
    if not num or not den:
        return None
    return f"{num / den:.1f}:1"


def _bim_count(ctx: SchoolContext, cfg: IndicatorsFile, key: str) -> tuple[Any, str, str]:
    if ctx.facts is not None and ctx.facts.ifc_loaded:
        rooms = room_counts(ctx.rooms, cfg)[key]
        return len(rooms), "BIM", f"IFC {', '.join(ctx.facts.ifc_files)}: {', '.join(rooms) or '-'}"
    v, src = _entered(ctx, key)
    return v, "entered", src


def _school_value(ctx: SchoolContext, field_id: str, cfg: IndicatorsFile) -> tuple[Any, str, str]:
    """(value, origin, source) of one form field for one school."""
    if field_id in ("name", "school_type"):
        return (
            (ctx.school.name if field_id == "name" else ctx.school.type),
            "roster",
            f"roster: {ctx.school.id}",
        )
    if field_id in ("multimedia_classrooms", "recording_classrooms", "computer_rooms"):
        return _bim_count(ctx, cfg, field_id)
    if field_id == "student_computer_ratio":
        return _derived(ctx, "students", "student_terminals")
    if field_id == "teacher_computer_ratio":
        return _derived(ctx, "teachers", "teacher_terminals")
    if field_id.startswith("funding_"):
        return _funding(ctx, int(field_id.removeprefix("funding_")))
    v, src = _entered(ctx, field_id)
    return v, "entered", src


def school_sheet(ctx: SchoolContext, form: SchoolForm, cfg: IndicatorsFile) -> SchoolSheet:
    out = [FieldValue(f.id, f.label, *_school_value(ctx, f.id, cfg)) for f in form.fields]
    return SchoolSheet(ctx.school.id, out, [f.label for f in out if f.missing])


def _derived(ctx: SchoolContext, num: str, den: str) -> tuple[Any, str, str]:
    a, ea = ctx.value(num)
    b, eb = ctx.value(den)
    return _ratio(a, b), "derived", f"{num}/{den}: {_ref(ea) or '-'}; {_ref(eb) or '-'}"


def _funding(ctx: SchoolContext, year: int) -> tuple[Any, str, str]:
    for e in ctx.entries:
        f = e.values.funding_wan
        if f is not None and year in f:
            return f[year], "entered", _ref(e)
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
        origin, src = f.origin, ""
        if f.id.startswith("funding_"):
            year = int(f.id.split("_")[1])
            got = [_funding(c, year)[0] for c in schools]
            lacking = [c.school.id for c, g in zip(schools, got, strict=True) if g is None]
            v = None if lacking else sum(got)
            src = "sum of the schools' entries" + (f"; missing: {', '.join(lacking)}" if lacking else "")
        elif f.id in ("multimedia_share", "recording_total"):
            bim = [c for c in schools if c.facts is not None and c.facts.ifc_loaded]
            counts = [room_counts(c.rooms, cfg) for c in bim]
            if f.id == "multimedia_share":
                homes = [r for c in bim for r in c.rooms if r.room_type in cfg.homeroom_types]
                mm = [r for r in homes if r.has("multimedia", cfg)]
                v = 100.0 * len(mm) / len(homes) if homes and len(bim) == len(schools) else None
                src = f"{len(mm)}/{len(homes)} homerooms multimedia in {len(bim)}/{len(schools)} schools with BIM"
            else:
                v = sum(len(c["recording_classrooms"]) for c in counts) if len(bim) == len(schools) else None
                src = f"{len(bim)}/{len(schools)} schools with BIM"
        elif f.id in ("teacher_computer_ratio", "student_computer_ratio"):
            num, den = (
                ("teachers", "teacher_terminals")
                if f.id.startswith("teacher")
                else ("students", "student_terminals")
            )
            a, la = _sum(schools, num)
            b, lb = _sum(schools, den)
            v = _ratio(a, b)
            src = f"sum {num} / sum {den}" + (
                f"; missing: {', '.join(sorted(set(la + lb)))}" if la or lb else ""
            )
        else:  # teacher-weighted shares of the schools' entries
            pairs = [(c.value(f.id)[0], c.value("teachers")[0]) for c in schools]
            if all(s is not None and n for s, n in pairs):
                v = sum(s * n for s, n in pairs) / sum(n for _, n in pairs)
            src = "teacher-weighted mean of the schools' entries"
        fields.append(FieldValue(f.id, f.label, v, origin, src))
    missing += [f.label for f in fields if f.missing]
    if others:
        missing.append(f"schools of other types (only in 合计): {', '.join(others)}")
    return DistrictSheet(rows, fields, missing)
