"""The report as tables with bilingual headers: what XLSX, CSV and HTML all render.

Values stay typed (numbers, fractions for percentages, booleans) so each writer formats them
its own way (Excel number formats, plain CSV numbers, HTML text). A blank form field is the
text MISSING (缺项), never an empty cell.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from twin.indicators.build import DistrictReport
from twin.indicators.compute import OperationalResult, PlanResult, RuleCompliance, SchoolReport, WorstRoom
from twin.indicators.eyecare import EyeCareRoom, EyeCareSchool
from twin.indicators.forms import FormsFile
from twin.indicators.inputs import SURVEY_ITEMS
from twin.indicators.room_facts import RoomFact
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


R = TypeVar("R")
P = TypeVar("P")
Cells = list[tuple[Column, Callable[[R], Any]]]


def table(key: str, title_zh: str, title_en: str, cells: Cells[R], items: Iterable[R]) -> Table:
    """A table from (column, how to read its cell from one item) pairs: a header and its value
    are written side by side, so they cannot drift apart."""
    return Table(
        key, title_zh, title_en, [c for c, _ in cells], [[get(x) for _, get in cells] for x in items]
    )


def _school(width: int) -> Column:
    return Column("学校", "School", width=width)


_CMP_ZH = {">": "超过", ">=": "≥", "=": "", "<": "低于", "<=": "≤"}


def _baseline(r: PlanResult) -> str:
    b = r.indicator.baseline
    return f"{_CMP_ZH[b.comparator]}{b.value:g}（{b.year}）" if b is not None else "-"


def _target(r: PlanResult) -> str:
    t = r.indicator.target
    return f"{t.value:g}（{t.year}，{LEVEL_ZH[t.level]}）" if t is not None else "规划未设目标"


def plan_table(rep: DistrictReport, cfg: IndicatorsFile) -> Table:
    cells: Cells[PlanResult] = [
        (Column("序号", "Row", "int", 6), lambda r: r.indicator.citation.row),
        (Column("指标", "Indicator", width=34), lambda r: f"{r.indicator.name_zh}\n{r.indicator.name_en}"),
        (Column("类型", "Type", width=8), lambda r: r.indicator.type or "现状（表外）"),
        (Column("单位", "Unit", width=6), lambda r: r.indicator.unit_zh),
        (Column("基线（年）", "Baseline (year)", width=14), _baseline),
        (Column("当前值", "Current", "num", 10), lambda r: r.value),
        (
            Column("计数", "Counted / of", width=10),
            lambda r: f"{r.numerator}/{r.denominator}" if r.numerator is not None else "",
        ),
        (Column("目标（年，层级）", "Target (year, level)", width=18), _target),
        (
            Column(f"评判（本报告：{rep.jurisdiction.name}）", "Judgement", width=34),
            lambda r: f"{r.judgement.text_zh}\n{r.judgement.text_en}",
        ),
        (Column("数据来源", "Measured / entered", width=12), lambda r: r.indicator.origin or "未采集"),
        (
            Column("出处", "Source", width=26),
            lambda r: cite(
                cfg, r.indicator.citation.doc, r.indicator.citation.lines, r.indicator.citation.row
            ),
        ),
        (Column("口径说明", "Definition", width=60), lambda r: r.indicator.definition_note or ""),
    ]
    return table("plan", "规划指标", "Plan indicators", cells, rep.plan_indicators)


def _operational_note(cfg: IndicatorsFile, o: OperationalResult) -> str:
    c = o.item.citation
    return (
        (o.item.note or "")
        + (f"；依据 {cite(cfg, c.doc, c.lines)}" if c else "")
        + "（项目运行指标，非规划指标 project figure, not a plan indicator）"
    )


def operational_table(rep: DistrictReport, cfg: IndicatorsFile) -> Table:
    cells: Cells[OperationalResult] = [
        (Column("指标", "Figure", width=34), lambda o: f"{o.item.name_zh}\n{o.item.name_en}"),
        (Column("单位", "Unit", width=6), lambda o: o.item.unit_zh),
        (Column("当前值", "Current", "num", 10), lambda o: o.value),
        (Column("分子/分母", "Of", width=14), lambda o: f"{o.numerator}/{o.denominator}"),
        (Column("说明", "Note", width=60), lambda o: _operational_note(cfg, o)),
    ]
    return table("operational", "运行监测指标", "Operational figures", cells, rep.operational)


def _periods(below: int | None, judged: int | None) -> str:
    return f"{below}/{judged}" if below is not None else "需标准引擎窗口 n/a (engine gives no windows)"


_PERIODS = Column("低于限值课段/评价课段", "Class periods below limit / judged", width=14)
_HOURS_BELOW = Column("低于限值时长(h)", "Hours below limit", "num", 12)
_CLASS_TIME = Column("上课时间达标占比", "Compliant class time", "pct", 12)


def eyecare_tables(rep: DistrictReport) -> list[Table]:
    summary: Cells[EyeCareSchool] = [
        (_school(24), lambda e: e.name),
        (Column("要求", "Requirement", width=30), lambda e: e.requirement_zh),
        (Column("标准条款", "Standard clause", width=16), lambda e: f"{e.standard} {e.clause}"),
        (Column("评价教室", "Classrooms evaluated", "int", 10), lambda e: e.classrooms_evaluated),
        (Column("达标教室", "Compliant", "int", 10), lambda e: e.classrooms_compliant),
        (Column("不达标教室", "Non-compliant", "int", 10), lambda e: e.classrooms_non_compliant),
        (Column("数据不足", "Insufficient data", "int", 10), lambda e: e.classrooms_insufficient),
        (Column("达标教室占比", "Compliant classrooms", "pct", 12), lambda e: e.compliant_classroom_share),
        (_CLASS_TIME, lambda e: e.compliant_time_share),
        (_HOURS_BELOW, lambda e: e.hours_below_limit),
        (_PERIODS, lambda e: _periods(e.periods_below_limit, e.periods_judged)),
        (
            Column("未检测项目", "Survey items missing", width=30),
            lambda e: ", ".join(SURVEY_ITEMS[i][0] for i in e.surveys_missing) or "-",
        ),
    ]
    rooms: Cells[tuple[EyeCareSchool, EyeCareRoom]] = [
        (_school(24), lambda x: x[0].name),
        (Column("教室", "Room", width=10), lambda x: x[1].room),
        (Column("测点", "Series", width=24), lambda x: x[1].series),
        (Column("结论", "Status", width=14), lambda x: x[1].status),
        (_CLASS_TIME, lambda x: x[1].compliant_share),
        (_HOURS_BELOW, lambda x: x[1].hours_below_limit),
        (Column("低于限值读数", "Readings below limit", "int", 12), lambda x: x[1].readings_below_limit),
        (_PERIODS, lambda x: _periods(x[1].periods_below_limit, x[1].periods_judged)),
        (Column("最低照度(lx)", "Lowest lux", "num", 10), lambda x: x[1].worst_lux),
    ]
    surveys: Cells[tuple[EyeCareSchool, dict[str, Any]]] = [
        (_school(24), lambda x: x[0].name),
        (Column("教室", "Room", width=10), lambda x: x[1]["room"]),
        (Column("日期", "Date", width=12), lambda x: x[1]["date"]),
        (Column("项目", "Item", width=18), lambda x: x[1]["item_zh"]),
        (Column("标准条款", "Clause", width=18), lambda x: f"{x[1]['standard']} {x[1]['clause']}"),
        (Column("检测值", "Value", "num", 10), lambda x: x[1]["value"]),
        (Column("单位", "Unit", width=6), lambda x: x[1]["unit"]),
        (Column("结论", "Meets", "bool", 8), lambda x: x[1]["meets"]),
        (Column("来源", "Source", width=30), lambda x: f"{x[1]['source']}（{x[1]['entered_by']}）"),
    ]
    return [
        table("eyecare", "护眼", "Eye care", summary, rep.eyecare),
        table("eyecare_rooms", "护眼-教室明细", "Eye care by classroom", rooms, _each(rep.eyecare, "rooms")),
        table("eyecare_surveys", "护眼-检测记录", "Eye care surveys", surveys, _each(rep.eyecare, "surveys")),
    ]


def _each(parents: Iterable[P], attr: str) -> list[tuple[P, Any]]:
    """(parent, child) for every child in each parent's `attr` list: a detail table's rows."""
    return [(p, c) for p in parents for c in getattr(p, attr)]


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
    by_field: Cells[tuple[Any, Any]] = [
        (Column("学校", "School", width=16), lambda x: x[0].school),
        (Column("栏目", "Field", width=30), lambda x: x[1].label),
        (Column("值", "Value", width=14), lambda x: _or_missing(x[1].value)),
        (Column("来源类别", "Origin", width=10), lambda x: x[1].origin),
        (Column("依据", "Source", width=60), lambda x: x[1].source),
    ]
    source = table(
        "form_sources",
        "填报来源",
        "Where each form value comes from",
        by_field,
        _each(rep.school_forms, "fields"),
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
    schools: Cells[SchoolReport] = [
        (_school(30), lambda s: s.name),
        (Column("站点", "Site id", width=16), lambda s: s.campus_id),
        (Column("BIM模型", "IFC files", width=24), lambda s: ", ".join(s.ifc_files)),
        (Column("房间总数", "Rooms", "int", 10), lambda s: s.rooms_total),
        (Column("教学用房", "Teaching rooms", "int", 10), lambda s: s.teaching_rooms),
        (Column("已绑定房间", "Bound rooms", "int", 10), lambda s: len(s.bound_rooms)),
        (
            Column("在线监测教学用房", "Instrumented teaching rooms", "int", 12),
            lambda s: len(s.instrumented_rooms),
        ),
        (Column("覆盖率", "Coverage", "pct", 10), lambda s: s.coverage),
        (Column("数据完整率", "Data completeness", "pct", 12), lambda s: s.completeness),
        (Column("上报网关数", "Agents reporting", "int", 10), lambda s: len(s.agents)),
        *[_count_cell(k, zh, en) for k, (zh, en) in _COUNT_LABELS.items()],
    ]
    facts: Cells[tuple[str, RoomFact]] = [
        (Column("学校", "School", width=16), lambda x: x[0]),
        (Column("房间", "Room", width=10), lambda x: x[1].room_number),
        (Column("类型", "Type", width=14), lambda x: cfg.type_zh(x[1].room_type)),
        (
            Column("设备", "Equipment", width=40),
            lambda x: "; ".join(f"{cfg.equipment[f].zh}: {ev}" for f, ev in x[1].flags.items()),
        ),
        (
            Column("认定", "Designations", width=40),
            lambda x: "; ".join(f"{cfg.designations[d].zh}: {ev}" for d, ev in x[1].designations.items()),
        ),
        (Column("待确认建议", "Suggestions to review", width=50), lambda x: "; ".join(x[1].suggestions)),
    ]
    noted = [
        (school, r)
        for school, rooms in rep.room_facts.items()
        for r in rooms
        if r.flags or r.designations or r.suggestions
    ]
    comp: Cells[tuple[SchoolReport, RuleCompliance]] = [
        (_school(30), lambda x: x[0].name),
        (Column("标准", "Standard", width=16), lambda x: x[1].standard),
        (Column("条款", "Clause", width=12), lambda x: x[1].clause),
        (Column("指标", "Requirement", width=34), lambda x: f"{x[1].label_zh}\n{x[1].label_en}"),
        (Column("评价房间数", "Rooms evaluated", "int", 10), lambda x: x[1].rooms_evaluated),
        (Column("达标房间", "Compliant rooms", "int", 10), lambda x: x[1].rooms_compliant),
        (Column("不达标房间", "Non-compliant rooms", "int", 10), lambda x: x[1].rooms_non_compliant),
        (Column("数据不足", "Insufficient data", "int", 10), lambda x: x[1].rooms_insufficient),
        (Column("达标时间占比", "Compliant share of time", "pct", 12), lambda x: x[1].compliant_share),
        (Column("有效时长(h)", "Hours with data", "num", 10), lambda x: x[1].valid_h),
        (Column("适用时长(h)", "Applicable hours", "num", 10), lambda x: x[1].applicable_h),
    ]
    worst: Cells[tuple[SchoolReport, WorstRoom]] = [
        (_school(30), lambda x: x[0].name),
        (Column("房间", "Room", width=10), lambda x: x[1].room_number),
        (Column("类型", "Type", width=12), lambda x: cfg.type_zh(x[1].room_type)),
        (Column("指标", "Requirement", width=34), lambda x: x[1].label_zh),
        (Column("达标时间占比", "Compliant share", "pct", 12), lambda x: x[1].compliant_share),
        (Column("最差值", "Worst value", "num", 10), lambda x: x[1].measured),
        (Column("限值", "Limit", width=14), lambda x: x[1].limit),
        (Column("设备/测点", "Device/point", width=26), lambda x: f"{x[1].device}/{x[1].point}"),
    ]
    return [
        plan_table(rep, cfg),
        operational_table(rep, cfg),
        *eyecare_tables(rep),
        *form_tables(rep, forms),
        table("schools", "学校明细", "Schools", schools, rep.schools),
        table("room_facts", "房间属性", "Room facts (non-exclusive)", facts, noted),
        table(
            "compliance",
            "环境达标率（上课时段）",
            "Compliance over class hours",
            comp,
            _each(rep.schools, "compliance"),
        ),
        table("worst_rooms", "达标最差房间", "Worst rooms", worst, _each(rep.schools, "worst")),
    ]


def _count_cell(key: str, zh: str, en: str) -> tuple[Column, Callable[[SchoolReport], Any]]:
    return Column(zh, en, "int", 10), lambda s: len(s.counts[key])


_COUNT_LABELS = {
    "homerooms": ("班级教室", "Homerooms"),
    "multimedia_classrooms": ("多媒体教室", "Multimedia classrooms"),
    "recording_classrooms": ("录播教室", "Recording classrooms"),
    "computer_rooms": ("计算机教室", "Computer rooms"),
    "smart_classrooms": ("智慧教室（认定）", "Smart classrooms (designated)"),
    "new_labs": ("新型实验室（认定）", "New-type labs (designated)"),
}
