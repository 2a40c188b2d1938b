"""The district report as tables with bilingual headers: what XLSX, CSV and HTML all render.

Values stay typed (numbers, fractions for percentages, booleans) so each writer formats them
its own way (Excel number formats, plain CSV numbers, HTML text).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from twin.indicators.compute import DistrictReport
from twin.indicators.schema import IndicatorsFile

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


def build_tables(rep: DistrictReport, cfg: IndicatorsFile) -> list[Table]:
    ind = Table(
        "indicators",
        "指标汇总",
        "Indicators",
        [
            Column("指标", "Indicator", width=34),
            Column("类型", "Type", width=8),
            Column("单位", "Unit", width=8),
            Column("基线值", "Baseline", "num", 10),
            Column("基线年", "Baseline year", "int", 10),
            Column("当前值", "Current", "num", 10),
            Column("目标值", "Target", "num", 10),
            Column("目标年", "Target year", "int", 10),
            Column("本年应达", "Expected now", "num", 10),
            Column("进度达标", "On track", "bool", 10),
            Column("说明", "Definition", width=60),
        ],
        [
            [
                f"{r.indicator.name_zh}\n{r.indicator.name_en}",
                r.indicator.type,
                r.indicator.unit_zh,
                r.indicator.baseline,
                r.indicator.baseline_year,
                r.value,
                r.indicator.target,
                r.indicator.target_year,
                r.expected_now,
                r.on_track,
                r.indicator.note or "",
            ]
            for r in rep.indicators
        ],
    )
    count_cols = [Column(c.name_zh, c.name_en, "int", 10) for c in cfg.school_counts]
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
            *count_cols,
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
                *[len(s.counts[c.id]) for c in cfg.school_counts],
            ]
            for s in rep.schools
        ],
    )
    types = Table(
        "room_types",
        "房间类型（BIM）",
        "Rooms by type (BIM)",
        [
            Column("学校", "School", width=30),
            Column("类型", "Type", width=16),
            Column("类型代码", "Type key", width=20),
            Column("数量", "Count", "int", 8),
            Column("房间", "Rooms", width=40),
            Column("依据", "Evidence", width=60),
        ],
        [
            [
                s.name,
                cfg.type_zh(None if t == "unclassified" else t),
                t,
                len(rooms),
                ", ".join(r["room"] for r in rooms),
                "; ".join(sorted({e for r in rooms for e in r["evidence"]})),
            ]
            for s in rep.schools
            for t, rooms in s.rooms_by_type.items()
        ],
    )
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
    return [ind, schools, types, comp, worst]
