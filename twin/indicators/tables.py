"""The report as tables with bilingual headers: what XLSX, CSV and HTML all render.

Values stay typed (numbers, fractions for percentages, booleans) so each writer formats them
its own way (Excel number formats, plain CSV numbers, HTML text). A blank form field is the
text MISSING (缺项), never an empty cell.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import Any, Literal, TypeVar

from twin.indicators.build import DistrictReport
from twin.indicators.compute import OperationalResult, PlanResult, RuleCompliance, SchoolReport, WorstRoom
from twin.indicators.eyecare import EyeCareRoom, EyeCareSchool
from twin.indicators.forms import ORIGIN_ZH, FieldValue, FormsFile
from twin.indicators.inputs import SURVEY_ITEMS
from twin.indicators.room_facts import RoomFact
from twin.indicators.schema import LEVEL_ZH, IndicatorsFile

Fmt = Literal["text", "int", "num", "pct", "pct100", "bool"]


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
class Cell:
    """A value whose format is its own (a vertical form mixes counts, percentages, yes/no);
    `missing` is the reason a blank form cell is blank."""

    value: Any
    fmt: Fmt = "text"
    missing: str | None = None


@dataclass(frozen=True, slots=True)
class Table:
    key: str  # file/sheet-safe id
    title_zh: str
    title_en: str
    columns: list[Column]
    rows: list[list[Any]]
    note: str = ""  # shown under the title (a rule, the form's header lines)
    sheet: str | None = None  # XLSX sheet (tables sharing one are stacked); None: its own, title_zh
    page: bool = False  # HTML/print: starts a new page (a form as printed)


MISSING = "【缺项 missing】"


def cite(cfg: IndicatorsFile, doc: str, lines: str, row: int | None = None) -> str:
    """'深圳市教育信息化“十四五”规划 (004_….txt) l.302-307 序号2'."""
    d = cfg.documents[doc]
    return f"{d.title_zh}（{d.file}）l.{lines}" + (f" 序号{row}" if row is not None else "")


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


def _row_order(r: PlanResult) -> tuple[int, int]:
    """序号 order; statements outside the table (no 序号) after the table's rows."""
    row = r.indicator.citation.row
    return (0, row) if row is not None else (1, 0)


def _value_cell(r: PlanResult) -> Cell:
    ind = r.indicator
    if ind.measure is None:
        return Cell("—")  # not a figure campus-twin holds: the judgement column says so
    if r.value is None:
        return Cell(None, "text", "无数据：各校尚未填报")
    if ind.unit_zh == "%":
        return Cell(r.value, "pct100")
    return Cell(r.value, "int" if float(r.value).is_integer() else "num")


def _counted(r: PlanResult) -> str:
    if r.numerator is None:
        return ""
    out = f"{r.numerator}/{r.denominator}"
    return out + (f"\n未填报 {len(r.lacking)} 所：{'、'.join(r.lacking)}" if r.lacking else "")


def plan_table(rep: DistrictReport, cfg: IndicatorsFile) -> Table:
    cells: Cells[PlanResult] = [
        (Column("序号", "Row", "int", 5), lambda r: r.indicator.citation.row),
        (Column("指标", "Indicator", width=30), lambda r: f"{r.indicator.name_zh}\n{r.indicator.name_en}"),
        (
            Column("类型", "Type", width=8),
            lambda r: r.indicator.type or r.indicator.citation.section or "现状（表外）",
        ),
        (Column("单位", "Unit", width=5), lambda r: r.indicator.unit_zh),
        (Column("基线（年）", "Baseline (year)", width=11), _baseline),
        (Column("当前值", "Current", width=9), _value_cell),
        (Column("计数", "Counted / of", width=14), _counted),
        (Column("目标（年，层级）", "Target (year, level)", width=14), _target),
        (
            Column(f"评判（本报告：{rep.jurisdiction.name}）", "Judgement", width=26),
            lambda r: f"{r.judgement.text_zh}\n{r.judgement.text_en}",
        ),
        (Column("数据来源", "Source", width=10), lambda r: ORIGIN_ZH.get(r.indicator.origin, "未采集")),
    ]
    rows = sorted(rep.plan_indicators, key=_row_order)
    regions = "、".join(rep.regions) or "（未注明）"
    return replace(
        table("plan", "规划指标", "Plan indicators", cells, rows), note=f"适用地区 regions：{regions}"
    )


def definitions_table(rep: DistrictReport, cfg: IndicatorsFile) -> Table:
    """口径说明 and 依据 of every plan row, in Chinese, apart from the numbers so both stay readable."""

    def basis(r: PlanResult) -> str:
        c = r.indicator.citation
        return f"{cite(cfg, c.doc, c.lines, c.row)}：“{c.wording}”"

    cells: Cells[PlanResult] = [
        (Column("序号", "Row", "int", 5), lambda r: r.indicator.citation.row),
        (Column("指标", "Indicator", width=28), lambda r: r.indicator.name_zh),
        (Column("口径说明", "Definition", width=60), lambda r: r.indicator.definition_note or "按规划原文"),
        (Column("依据", "Source (document, line, wording)", width=44), basis),
    ]
    rows = sorted(rep.plan_indicators, key=_row_order)
    return table("definitions", "口径说明与依据", "Definitions and sources", cells, rows)


def problems_table(rep: DistrictReport) -> Table:
    """What the officer should know before submitting: stale figures, schools outside the
    roster, a roster without a place — the same list as report.json `problems` and stderr."""
    cells: Cells[str] = [(Column("提示", "Notice", width=100), lambda p: p)]
    return table("problems", "提示", "Notices", cells, rep.problems)


def conflicts_table(rep: DistrictReport) -> Table:
    cells: Cells[Any] = [
        (Column("学校", "School", width=14), lambda c: c.school),
        (Column("栏目", "Field", width=16), lambda c: FIELD_ZH.get(c.field, c.field)),
        (Column("填报值", "Entered", "int", 9), lambda c: c.entered),
        (Column("BIM计数", "BIM count", "int", 9), lambda c: c.bim),
        (Column("差值（填报−BIM）", "Difference", "int", 10), lambda c: c.difference),
        (Column("采用", "Used", width=8), lambda c: ORIGIN_ZH[c.chosen]),
        (Column("填报依据", "Entered from", width=34), lambda c: c.entered_source),
        (Column("BIM依据", "Counted in", width=34), lambda c: c.bim_source),
    ]
    t = table("conflicts", "来源冲突", "Entered vs BIM conflicts", cells, rep.conflicts)
    return replace(t, note="规则 rule：" + rep.conflict_rule)


FIELD_ZH = {
    "multimedia_classrooms": "多媒体教室数",
    "recording_classrooms": "录播教室数",
    "computer_rooms": "计算机教室数",
    "smart_classrooms": "智慧教室数",
    "new_labs": "新型实验室数",
}


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


def _why_missing(v: FieldValue) -> str:
    """The reason a form cell is blank, as the person who must fill it reads it."""
    if v.origin == "derived":
        return "缺少计算所需的填报值（见依据列）"
    if v.id in ("multimedia_classrooms", "recording_classrooms", "computer_rooms"):
        return f"无BIM模型且未填报：在填报文件中填写 {v.id}"
    return f"未填报：在填报文件中填写 {v.id}"


def _form_cell(v: FieldValue, fmt: Fmt) -> Cell:
    return Cell(
        v.value, fmt if not isinstance(v.value, str) else "text", _why_missing(v) if v.missing else None
    )


def _form_rows(values: Iterable[tuple[str, FieldValue, Fmt]]) -> list[list[Any]]:
    return [
        [label, _form_cell(v, fmt), ORIGIN_ZH.get(v.origin, v.origin), v.source] for label, v, fmt in values
    ]


_FORM_COLUMNS = [
    Column("栏目", "Field", width=34),
    Column("填报值", "Value", width=18),
    Column("来源", "Origin", width=12),
    Column("依据 / 缺项原因", "Source / why missing", width=60),
]


def form_tables(rep: DistrictReport, forms: FormsFile) -> list[Table]:
    """附件1 and each school's 附件2 laid out as printed: one field per row, top to bottom, each
    school's form on its own page (HTML) and sheet (XLSX)."""
    sf, df = forms.school_form, forms.district_form
    fmts = {f.id: f.fmt for f in sf.fields}
    units = {f.id: f"（{f.unit}）" if f.unit else "" for f in sf.fields}
    out = []
    sheets: set[str] = set()
    for s in rep.school_forms:
        name = next((v.value for v in s.fields if v.id == "name"), s.school) or s.school
        sheet = f"附件2 {name}"[:31]
        if sheet in sheets:  # two long names alike in their first 28 characters: the id tells them apart
            sheet = f"附件2 {s.school}"[:31]
        sheets.add(sheet)
        missing = "、".join(s.missing) or "无"
        out.append(
            Table(
                f"form_school_{s.school}",
                f"附件2 学校简况：{name}",
                sf.title_en,
                _FORM_COLUMNS,
                _form_rows((v.label + units.get(v.id, ""), v, fmts.get(v.id, "text")) for v in s.fields),
                note=f"缺项 missing（{len(s.missing)}）：{missing}",
                sheet=sheet,
                page=True,
            )
        )
    d = rep.district_form
    j = rep.jurisdiction
    head = [
        [
            f.label,
            Cell(
                getattr(j, f.id, None),
                "text",
                None if getattr(j, f.id, None) else "未填报：在学校名录 jurisdiction 中填写 " + f.id,
            ),
            "学校名录",
            rep.roster_source.source,
        ]
        for f in df.header
    ]
    types = Table(
        "form_district_types",
        "附件1 区域内中小学校简况",
        df.title_en,
        [Column("类型", "Type", width=18)] + [Column(c.label, c.en, "int", 14) for c in df.columns],
        [
            [r["type"]]
            + [Cell(r[c.id], "int", None if r[c.id] is not None else "有学校未填报") for c in df.columns]
            for r in d.rows
        ],
        note="学校数来自学校名录；专任教师数、在校学生数为各校填报之和（任一学校未填报即为缺项）",
        sheet="附件1 区域简况",
        page=True,
    )
    dfmt = {f.id: f.fmt for f in df.fields}
    fields = Table(
        "form_district",
        "附件1 其他栏目",
        df.title_en,
        _FORM_COLUMNS,
        head + _form_rows((v.label, v, dfmt.get(v.id, "text")) for v in d.fields),
        note="缺项 missing：" + ("；".join(d.missing) or "无"),
        sheet="附件1 区域简况",
    )
    return [types, fields, *out]


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
        problems_table(rep),
        definitions_table(rep, cfg),
        conflicts_table(rep),
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
