"""School entries of the manual inputs as CSV: one row per school and date, as a clerk keeps
them in a spreadsheet; decoding (UTF-8 with or without BOM, GBK/GB18030) is
`loading.read_text`.

Columns (English field names or the forms' Chinese labels, `HEADER_ZH`; a unit in brackets is
ignored): `school, as_of, entered_by, entered_at, source` (required), `designations`
(separated by ; or 、), and any field of `SchoolValues`; the funding years as `funding_2020`,
`funding_2021`, … An empty cell is "not entered". Yes/no cells accept 是/否, yes/no, true/false,
1/0. A bad cell is reported as `file:line:col: 字段 <column>：… | field <column>: …`
(`twin.indicators.messages`).
"""

from __future__ import annotations

import csv
import re
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from contract.yamlio import ConfigError
from twin.indicators.inputs import SchoolInput, SchoolValues
from twin.indicators.messages import problem, translate

REQUIRED = ("school", "as_of", "entered_by", "entered_at", "source")
# Column headings as a clerk writes them (the forms' own labels; a unit in brackets is ignored)
HEADER_ZH = {
    "学校": "school",
    "学校编号": "school",
    "统计日期": "as_of",
    "填报人": "entered_by",
    "填报日期": "entered_at",
    "来源": "source",
    "来源文件": "source",
    "学校认定": "designations",
    "通讯地址": "address",
    "邮编": "postcode",
    "班级数": "classes",
    "在校学生数": "students",
    "专任教师数": "teachers",
    "学校网络接入带宽": "bandwidth_mbps",
    "学生用计算机终端数": "student_terminals",
    "教师用计算机终端数": "teacher_terminals",
    "无线校园是否全覆盖": "wireless_full_coverage",
    "是否部署无线网络": "wireless_deployed",
    "是否采用或拟采用学生自带设备学习": "byod",
    "“自带设备”购置、管理等方面具体做法": "byod_practice",
    "多媒体教室数": "multimedia_classrooms",
    "录播教室数": "recording_classrooms",
    "计算机教室数": "computer_rooms",
    "智慧教室数": "smart_classrooms",
    "新型实验室数": "new_labs",
    "智慧校园是否达标": "smart_campus_compliant",
    "是否实现线上线下混合式教学": "blended_teaching",
    "能够运用数字化教学资源进行教学设计的教师比例": "teachers_digital_design_share",
    "广西数字教材规模化应用教师比例": "digital_textbook_teacher_share",
    "教师信息技术应用能力培训覆盖率": "teacher_it_training_coverage",
}
_UNIT = re.compile(r"[（(][^）)]*[）)]\s*$")
_FUNDING_ZH = re.compile(r"^(\d{4})年?.*经费$|^.*经费\s*(\d{4})年?$")


def canonical(header: str) -> str:
    """A heading as the field it names: `classes`, or 班级数, or 学校网络接入带宽（Mbps）."""
    h = _UNIT.sub("", header.strip()).strip()
    if h in HEADER_ZH:
        return HEADER_ZH[h]
    m = _FUNDING_ZH.match(h)
    if m:
        return f"funding_{m.group(1) or m.group(2)}"
    return header.strip()


_BOOL = {
    "是": True,
    "否": False,
    "yes": True,
    "no": False,
    "true": True,
    "false": False,
    "1": True,
    "0": False,
}
_BOOL_FIELDS = {n for n, f in SchoolValues.model_fields.items() if f.annotation == (bool | None)}


def load_school_rows(path: Path, text: str) -> tuple[list[SchoolInput], list[dict[str, tuple[str, str]]]]:
    """The entries of the decoded `text` of `path` and, per entry, where each field is
    (file:line:col, column) for the cross-file checks."""
    rows = list(csv.reader(text.lstrip("\ufeff").splitlines()))
    if not rows:
        raise ConfigError(
            str(path), [problem(str(path), "", "文件为空", "file is empty", "填写内容", "fill it in")]
        )
    written = [h.strip() for h in rows[0]]
    header = [canonical(h) for h in written]
    known = set(REQUIRED) | {"designations"} | set(SchoolValues.model_fields) - {"funding_wan"}
    problems = [
        problem(
            f"{path}:1:{j + 1}",
            h,
            "未知的列名（拼写错误？）",
            "unknown column (check spelling)",
            "对照 docs/indicators.md 的列名改正",
            "use a column name listed in docs/indicators.md",
        )
        for j, h in enumerate(written)
        if header[j] not in known and not (header[j].startswith("funding_") and header[j][8:].isdigit())
    ]
    problems += [
        problem(
            f"{path}:1", h, "缺少必填列", "required column missing", f"加上“{h}”列", f"add the column {h}"
        )
        for h in REQUIRED
        if h not in header
    ]
    if problems:
        raise ConfigError(str(path), problems)
    entries: list[SchoolInput] = []
    locs: list[dict[str, tuple[str, str]]] = []
    for line, row in enumerate(rows[1:], start=2):
        if not any(c.strip() for c in row):
            continue
        cells = {h: (row[j].strip() if j < len(row) else "") for j, h in enumerate(header)}
        col = {h: f"{path}:{line}:{j + 1}" for j, h in enumerate(header)}
        values: dict[str, Any] = {}
        funding: dict[int, str] = {}
        for h, v in cells.items():
            if not v or h in REQUIRED or h == "designations":
                continue
            if h.startswith("funding_"):
                funding[int(h[8:])] = v
            elif h in _BOOL_FIELDS:
                values[h] = _BOOL.get(v.lower(), v)
            else:
                values[h] = v
        if funding:
            values["funding_wan"] = funding
        data = {h: cells[h] for h in REQUIRED} | {
            "designations": [
                d.strip() for d in cells.get("designations", "").replace("、", ";").split(";") if d.strip()
            ],
            "values": values,
        }
        try:
            entries.append(SchoolInput.model_validate(data))
        except ValidationError as exc:
            for err in exc.errors():
                loc = [str(p) for p in err["loc"]]
                name = loc[1] if loc[:1] == ["values"] and len(loc) > 1 else loc[0]
                if name == "funding_wan" and len(loc) > 2:
                    name = f"funding_{loc[2]}"
                problems.append(problem(col.get(name, f"{path}:{line}"), name, *translate(err)))
            continue
        locs.append(
            {k: (col[k], k) for k in REQUIRED}
            | {"designations": (col.get("designations", col["school"]), "designations")}
            | {n: (col[n], n) for n in values if n in col}
            | {f"funding_wan.{y}": (col[f"funding_{y}"], f"funding_{y}") for y in funding}
        )
    if problems:
        raise ConfigError(str(path), problems)
    return entries, locs
