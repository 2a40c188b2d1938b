"""School entries of the manual inputs as CSV: one row per school and date, as a clerk keeps
them in a spreadsheet (Excel "CSV UTF-8" with or without BOM).

Columns: `school, as_of, entered_by, entered_at, source` (required), `designations`
(separated by ; or 、), and any field of `SchoolValues`; the funding years as `funding_2020`,
`funding_2021`, … An empty cell is "not entered". Yes/no cells accept 是/否, yes/no, true/false,
1/0. A bad cell is reported as `file:line:col: field <column>: message`.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from contract.yamlio import ConfigError
from twin.indicators.inputs import SchoolInput, SchoolValues

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


def load_school_rows(path: Path) -> tuple[list[SchoolInput], list[dict[str, tuple[str, str]]]]:
    """The entries and, per entry, where each field is (file:line:col, column) for later checks."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(str(path), [f"{path}: cannot read as UTF-8 CSV: {exc}"]) from None
    rows = list(csv.reader(text.splitlines()))
    if not rows:
        raise ConfigError(str(path), [f"{path}: file is empty"])
    header = [h.strip() for h in rows[0]]
    known = set(REQUIRED) | {"designations"} | set(SchoolValues.model_fields) - {"funding_wan"}
    problems = [
        f"{path}:1:{j + 1}: field {h}: unknown column (check spelling)"
        for j, h in enumerate(header)
        if h not in known and not (h.startswith("funding_") and h[8:].isdigit())
    ]
    problems += [f"{path}:1: field {h}: required column missing" for h in REQUIRED if h not in header]
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
                problems.append(f"{col.get(name, f'{path}:{line}')}: field {name}: {err['msg']}")
            continue
        first_funding = next((col[h] for h in header if h.startswith("funding_")), f"{path}:{line}")
        locs.append(
            {"school": (col["school"], "school")} | {n: (col.get(n, first_funding), n) for n in values}
        )
    if problems:
        raise ConfigError(str(path), problems)
    return entries, locs
