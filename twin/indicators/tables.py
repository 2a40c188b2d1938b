"""The report as tables with bilingual headers: what XLSX, CSV and HTML all render.

Values stay typed (numbers, fractions for percentages, booleans) so each writer formats them
its own way (Excel number formats, plain CSV numbers, HTML text). A blank form field is the
text MISSING (缺项), never an empty cell.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from twin.indicators.build import DistrictReport
from twin.indicators.forms import FormsFile
from twin.indicators.inputs import SURVEY_ITEMS
from twin.indicators.schema import LEVEL_ZH, IndicatorsFile

Fmt = Literal["text", "int", "num", "pct", "bool"]


@dataclass(frozen=True, slots=True)
class Column:
    zh: str
    en: str
    fmt: Fmt = "text"
    width: int = 14  # characters, for XLSX

    @property
    def header(self) -> str:
        return f"{self.zh}\n{self.en}"


@dataclass(frozen=True, slots=True)
class Table:
    key: str  # file/sheet-safe id
    title_zh: str
    title_en: str
    columns: list[Column]
    rows: list[list[Any]]


MISSING = "【缺项 missing】"


def cite(cfg: IndicatorsFile, doc: str, lines: str, row: int | None = None) -> str:
    """'深圳市教育信息化“十四五”规划 (004_….txt) l.302-307 序号2'."""
    d = cfg.documents[doc]
    return f"{d.title_zh}（{d.file}）l.{lines}" + (f" 序号{row}" if row is not None else "")


def _or_missing(v: Any) -> Any:
    return MISSING if v is None else ("是" if v is True else "否" if v is False else v)


def plan_table(rep: DistrictReport, cfg: IndicatorsFile) -> Table:
    j = rep.jurisdiction
    return Table(
        "plan",
        "规划指标",
        "Plan indicators",
        [
            Column("序号", "Row", "int", 6),
            Column("指标", "Indicator", width=34),
            Column("类型", "Type", width=8),
            Column("单位", "Unit", width=6),
            Column("基线（年）", "Baseline (year)", width=14),
            Column("当前值", "Current", "num", 10),
            Column("计数", "Counted / of", width=10),
            Column("目标（年，层级）", "Target (year, level)", width=18),
            Column(f"评判（本报告：{j.name}）", "Judgement", width=34),
            Column("数据来源", "Measured / entered", width=12),
            Column("出处", "Source", width=26),
            Column("口径说明", "Definition", width=60),
        ],
        [
            [
                r.indicator.citation.row,
                f"{r.indicator.name_zh}\n{r.indicator.name_en}",
                r.indicator.type or "现状（表外）",
                r.indicator.unit_zh,
                (
                    f"{_CMP_ZH[b.comparator]}{b.value:g}（{b.year}）"
                    if (b := r.indicator.baseline) is not None
                    else "-"
                ),
                r.value,
                f"{r.numerator}/{r.denominator}" if r.numerator is not None else "",
                (
                    f"{t.value:g}（{t.year}，{LEVEL_ZH[t.level]}）"
                    if (t := r.indicator.target) is not None
                    else "规划未设目标"
                ),
                f"{r.judgement.text_zh}\n{r.judgement.text_en}",
                r.indicator.origin or "未采集",
                cite(cfg, r.indicator.citation.doc, r.indicator.citation.lines, r.indicator.citation.row),
                r.indicator.definition_note or "",
            ]
            for r in rep.plan_indicators
        ],
    )


_CMP_ZH = {">": "超过", ">=": "≥", "=": "", "<": "低于", "<=": "≤"}


def operational_table(rep: DistrictReport, cfg: IndicatorsFile) -> Table:
    return Table(
        "operational",
        "运行监测指标",
        "Operational figures",
        [
            Column("指标", "Figure", width=34),
            Column("单位", "Unit", width=6),
            Column("当前值", "Current", "num", 10),
            Column("分子/分母", "Of", width=14),
            Column("说明", "Note", width=60),
        ],
        [
            [
                f"{o.item.name_zh}\n{o.item.name_en}",
                o.item.unit_zh,
                o.value,
                f"{o.numerator}/{o.denominator}",
                (o.item.note or "")
                + (
                    f"；依据 {cite(cfg, o.item.citation.doc, o.item.citation.lines)}"
                    if o.item.citation
                    else ""
                )
                + "（项目运行指标，非规划指标 project figure, not a plan indicator）",
            ]
            for o in rep.operational
        ],
    )


def _periods(below: int | None, judged: int | None) -> str:
    return f"{below}/{judged}" if below is not None else "需标准引擎窗口 n/a (engine gives no windows)"


def eyecare_tables(rep: DistrictReport) -> list[Table]:
    summary = Table(
        "eyecare",
        "护眼",
        "Eye care",
        [
            Column("学校", "School", width=24),
            Column("要求", "Requirement", width=30),
            Column("标准条款", "Standard clause", width=16),
            Column("评价教室", "Classrooms evaluated", "int", 10),
            Column("达标教室", "Compliant", "int", 10),
            Column("不达标教室", "Non-compliant", "int", 10),
            Column("数据不足", "Insufficient data", "int", 10),
            Column("达标教室占比", "Compliant classrooms", "pct", 12),
            Column("上课时间达标占比", "Compliant class time", "pct", 12),
            Column("低于限值时长(h)", "Hours below limit", "num", 12),
            Column("低于限值课段/评价课段", "Class periods below limit / judged", width=14),
            Column("未检测项目", "Survey items missing", width=30),
        ],
        [
            [
                e.name,
                e.requirement_zh,
                f"{e.standard} {e.clause}",
                e.classrooms_evaluated,
                e.classrooms_compliant,
                e.classrooms_non_compliant,
                e.classrooms_insufficient,
                e.compliant_classroom_share,
                e.compliant_time_share,
                e.hours_below_limit,
                _periods(e.periods_below_limit, e.periods_judged),
                ", ".join(SURVEY_ITEMS[i][0] for i in e.surveys_missing) or "-",
            ]
            for e in rep.eyecare
        ],
    )
    rooms = Table(
        "eyecare_rooms",
        "护眼-教室明细",
        "Eye care by classroom",
        [
            Column("学校", "School", width=24),
            Column("教室", "Room", width=10),
            Column("测点", "Series", width=24),
            Column("结论", "Status", width=14),
            Column("上课时间达标占比", "Compliant class time", "pct", 12),
            Column("低于限值时长(h)", "Hours below limit", "num", 12),
            Column("低于限值读数", "Readings below limit", "int", 12),
            Column("低于限值课段/评价课段", "Class periods below limit / judged", width=14),
            Column("最低照度(lx)", "Lowest lux", "num", 10),
        ],
        [
            [
                e.name,
                r.room,
                r.series,
                r.status,
                r.compliant_share,
                r.hours_below_limit,
                r.readings_below_limit,
                _periods(r.periods_below_limit, r.periods_judged),
                r.worst_lux,
            ]
            for e in rep.eyecare
            for r in e.rooms
        ],
    )
    surveys = Table(
        "eyecare_surveys",
        "护眼-检测记录",
        "Eye care surveys",
        [
            Column("学校", "School", width=24),
            Column("教室", "Room", width=10),
            Column("日期", "Date", width=12),
            Column("项目", "Item", width=18),
            Column("标准条款", "Clause", width=18),
            Column("检测值", "Value", "num", 10),
            Column("单位", "Unit", width=6),
            Column("结论", "Meets", "bool", 8),
            Column("来源", "Source", width=30),
        ],
        [
            [
                e.name,
                s["room"],
                s["date"],
                s["item_zh"],
                f"{s['standard']} {s['clause']}",
                s["value"],
                s["unit"],
                s["meets"],
                f"{s['source']}（{s['entered_by']}）",
            ]
            for e in rep.eyecare
            for s in e.surveys
        ],
    )
    return [summary, rooms, surveys]


def form_tables(rep: DistrictReport, forms: FormsFile) -> list[Table]:
    sf = forms.school_form
    school = Table(
        "form_school",
        "学校基本信息",
        sf.title_en,
        [Column(f.label + (f"（{f.unit}）" if f.unit else ""), f.en, width=14) for f in sf.fields]
        + [Column("缺项", "Missing", width=40)],
        [[_or_missing(v.value) for v in s.fields] + ["、".join(s.missing) or "无"] for s in rep.school_forms],
    )
    source = Table(
        "form_sources",
        "填报来源",
        "Where each form value comes from",
        [
            Column("学校", "School", width=16),
            Column("栏目", "Field", width=30),
            Column("值", "Value", width=14),
            Column("来源类别", "Origin", width=10),
            Column("依据", "Source", width=60),
        ],
        [
            [s.school, v.label, _or_missing(v.value), v.origin, v.source]
            for s in rep.school_forms
            for v in s.fields
        ],
    )
    d = rep.district_form
    df = forms.district_form
    cols = df.columns
    district = Table(
        "form_district",
        "区域内中小学校简况",
        df.title_en,
        [Column("类型", "Type", width=30)]
        + [Column(c.label, c.en, width=14) for c in cols]
        + [Column("依据", "Source", width=50)],
        [[r["type"]] + [_or_missing(r[c.id]) for c in cols] + ["roster; entered"] for r in d.rows]
        + [[f.label, _or_missing(f.value), "", "", f.source] for f in d.fields]
        + [["缺项 Missing", "; ".join(d.missing) or "无", "", "", ""]],
    )
    return [school, district, source]


def build_tables(rep: DistrictReport, cfg: IndicatorsFile, forms: FormsFile) -> list[Table]:
    schools = Table(
        "schools",
        "学校明细",
        "Schools",
        [
            Column("学校", "School", width=30),
            Column("站点", "Site id", width=16),
            Column("BIM模型", "IFC files", width=24),
            Column("房间总数", "Rooms", "int", 10),
            Column("教学用房", "Teaching rooms", "int", 10),
            Column("已绑定房间", "Bound rooms", "int", 10),
            Column("在线监测教学用房", "Instrumented teaching rooms", "int", 12),
            Column("覆盖率", "Coverage", "pct", 10),
            Column("数据完整率", "Data completeness", "pct", 12),
            Column("上报网关数", "Agents reporting", "int", 10),
            *[Column(zh, en, "int", 10) for zh, en in _COUNT_LABELS.values()],
        ],
        [
            [
                s.name,
                s.campus_id,
                ", ".join(s.ifc_files),
                s.rooms_total,
                s.teaching_rooms,
                len(s.bound_rooms),
                len(s.instrumented_rooms),
                s.coverage,
                s.completeness,
                len(s.agents),
                *[len(s.counts[k]) for k in _COUNT_LABELS],
            ]
            for s in rep.schools
        ],
    )
    facts = Table(
        "room_facts",
        "房间属性",
        "Room facts (non-exclusive)",
        [
            Column("学校", "School", width=16),
            Column("房间", "Room", width=10),
            Column("类型", "Type", width=14),
            Column("设备", "Equipment", width=40),
            Column("认定", "Designations", width=40),
            Column("待确认建议", "Suggestions to review", width=50),
        ],
        [
            [
                school,
                r.room_number,
                cfg.type_zh(r.room_type),
                "; ".join(f"{cfg.equipment[f].zh}: {ev}" for f, ev in r.flags.items()),
                "; ".join(f"{cfg.designations[d].zh}: {ev}" for d, ev in r.designations.items()),
                "; ".join(r.suggestions),
            ]
            for school, rooms in rep.room_facts.items()
            for r in rooms
            if r.flags or r.designations or r.suggestions
        ],
    )
    out = [
        plan_table(rep, cfg),
        operational_table(rep, cfg),
        *eyecare_tables(rep),
        *form_tables(rep, forms),
        schools,
        facts,
    ]
    comp = Table(
        "compliance",
        "环境达标率（上课时段）",
        "Compliance over class hours",
        [
            Column("学校", "School", width=30),
            Column("标准", "Standard", width=16),
            Column("条款", "Clause", width=12),
            Column("指标", "Requirement", width=34),
            Column("评价房间数", "Rooms evaluated", "int", 10),
            Column("达标房间", "Compliant rooms", "int", 10),
            Column("不达标房间", "Non-compliant rooms", "int", 10),
            Column("数据不足", "Insufficient data", "int", 10),
            Column("达标时间占比", "Compliant share of time", "pct", 12),
            Column("有效时长(h)", "Hours with data", "num", 10),
            Column("适用时长(h)", "Applicable hours", "num", 10),
        ],
        [
            [
                s.name,
                c.standard,
                c.clause,
                f"{c.label_zh}\n{c.label_en}",
                c.rooms_evaluated,
                c.rooms_compliant,
                c.rooms_non_compliant,
                c.rooms_insufficient,
                c.compliant_share,
                c.valid_h,
                c.applicable_h,
            ]
            for s in rep.schools
            for c in s.compliance
        ],
    )
    worst = Table(
        "worst_rooms",
        "达标最差房间",
        "Worst rooms",
        [
            Column("学校", "School", width=30),
            Column("房间", "Room", width=10),
            Column("类型", "Type", width=12),
            Column("指标", "Requirement", width=34),
            Column("达标时间占比", "Compliant share", "pct", 12),
            Column("最差值", "Worst value", "num", 10),
            Column("限值", "Limit", width=14),
            Column("设备/测点", "Device/point", width=26),
        ],
        [
            [
                s.name,
                w.room_number,
                cfg.type_zh(w.room_type),
                w.label_zh,
                w.compliant_share,
                w.measured,
                w.limit,
                f"{w.device}/{w.point}",
            ]
            for s in rep.schools
            for w in s.worst
        ],
    )
    return [*out, comp, worst]


_COUNT_LABELS = {
    "homerooms": ("班级教室", "Homerooms"),
    "multimedia_classrooms": ("多媒体教室", "Multimedia classrooms"),
    "recording_classrooms": ("录播教室", "Recording classrooms"),
    "computer_rooms": ("计算机教室", "Computer rooms"),
    "smart_classrooms": ("智慧教室（认定）", "Smart classrooms (designated)"),
    "new_labs": ("新型实验室（认定）", "New-type labs (designated)"),
}
