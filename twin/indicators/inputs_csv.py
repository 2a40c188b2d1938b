"""School entries of the manual inputs as CSV: one row per school and date, as a clerk keeps
them in a spreadsheet; decoding (UTF-8 with or without BOM, GBK/GB18030) is
`loading.read_text`.

Columns: `school, as_of, entered_by, entered_at, source` (required), `designations`
(separated by ; or 、), and any field of `SchoolValues`; the funding years as `funding_2020`,
`funding_2021`, … An empty cell is "not entered". Yes/no cells accept 是/否, yes/no, true/false,
1/0. A bad cell is reported as `file:line:col: 字段 <column>：… | field <column>: …`
(`twin.indicators.messages`).
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from contract.yamlio import ConfigError
from twin.indicators.inputs import SchoolInput, SchoolValues
from twin.indicators.messages import problem, translate

REQUIRED = ("school", "as_of", "entered_by", "entered_at", "source")
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
    header = [h.strip() for h in rows[0]]
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
        for j, h in enumerate(header)
        if h not in known and not (h.startswith("funding_") and h[8:].isdigit())
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
