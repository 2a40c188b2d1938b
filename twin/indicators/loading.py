"""Reading and checking the roster and the manual inputs files (YAML, CSV).

Files come from school clerks: Excel on a Chinese Windows writes GBK/GB18030 CSVs, other tools
UTF-8 with or without BOM, so every text file is decoded by `read_text`. Every problem is
reported at once, Chinese first with English (`twin.indicators.messages`), as
`file:line:col: 字段 …：…。改正：… | field …: …. Fix: …`; nothing is dropped: a file with any
problem fails the command (exit 2) instead of being half used.

Checks beyond the schema: a school not in the roster; a designation, equipment flag or
survey of an unknown kind; one figure entered twice for the same school and date (funding per
year, so two files may carry different years of the same date); a figure dated after the
report period (`as_of` in the future); entered before the date it describes
(`entered_at < as_of`); figures that cannot all be true (`inputs.plausibility`).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from contract.yamlio import ConfigError, format_loc, loads_yaml, locate
from twin.indicators.inputs import ManualInputs, Roster, plausibility
from twin.indicators.inputs_csv import load_school_rows
from twin.indicators.messages import problem, validate
from twin.indicators.schema import IndicatorsFile

Period = tuple[dt.date, dt.date]
_DATE = re.compile(r"(?<![\d.-])(\d{4})-(\d{1,2})-(\d{1,2})(?![\d.:-])")


def read_text(path: Path) -> str:
    """UTF-8 (BOM or not), else GB18030 (a superset of GBK, what Excel writes on a Chinese
    Windows); a file that is neither is an error naming the line and column of the first byte
    that does not decode."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(
            str(path), [problem(str(path), "", "无法读取文件", f"cannot read: {exc.strerror}")]
        ) from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        bad = exc.start
    try:
        return data.decode("gb18030")
    except UnicodeDecodeError:
        pass
    head = data[:bad]
    line = head.count(b"\n") + 1
    col = len(head[head.rfind(b"\n") + 1 :].decode("utf-8", errors="replace")) + 1
    raise ConfigError(
        str(path),
        [
            problem(
                f"{path}:{line}:{col}",
                "",
                f"文件编码无法识别（字节 0x{data[bad]:02x} 既非 UTF-8 也非 GBK/GB18030）",
                f"unknown text encoding (byte 0x{data[bad]:02x} is neither UTF-8 nor GBK/GB18030)",
                "在 Excel 中“另存为 → CSV UTF-8（逗号分隔）”后重新提供",
                'in Excel use "Save as → CSV UTF-8 (comma delimited)"',
            )
        ],
    )


def _bad_dates(path: Path, text: str) -> list[str]:
    """Dates that do not exist (2026-09-31): YAML would fail on them without naming a line."""
    out = []
    for n, line in enumerate(text.splitlines(), start=1):
        if line.lstrip().startswith("#"):
            continue
        for m in _DATE.finditer(line):
            try:
                dt.date(*(int(g) for g in m.groups()))
            except ValueError:
                out.append(
                    problem(
                        f"{path}:{n}:{m.start() + 1}",
                        "",
                        f"日期不存在：{m.group(0)}",
                        f"no such date: {m.group(0)}",
                        "按 YYYY-MM-DD 填写真实存在的日期",
                        "write an existing date as YYYY-MM-DD",
                    )
                )
    return out


def _load_yaml(path: Path) -> Any:
    text = read_text(path)
    bad = _bad_dates(path, text)
    if bad:
        raise ConfigError(str(path), bad)
    try:
        doc = loads_yaml(text, str(path))
    except ConfigError as exc:  # "file:line:col: YAML syntax: …" → Chinese first
        raise ConfigError(
            str(path),
            [
                problem(
                    p.split(": ", 1)[0],
                    "",
                    "YAML 格式错误",
                    p.split(": ", 1)[-1],
                    "检查该行的缩进、冒号和引号",
                    "check indentation, colons and quotes on that line",
                )
                for p in exc.problems
            ],
        ) from None
    if doc is None:
        raise ConfigError(
            str(path), [problem(str(path), "", "文件为空", "file is empty", "填写内容", "fill it in")]
        )
    return doc


def _not_found(path: Path, what_zh: str, what_en: str) -> str:
    return problem(
        str(path), "", f"找不到{what_zh}文件", f"{what_en} file not found", "检查路径", "check the path"
    )


def load_roster(path: str | Path) -> Roster:
    p = Path(path)
    if not p.is_file():
        raise ConfigError(str(p), [_not_found(p, "学校名录", "roster")])
    doc = _load_yaml(p)
    roster = validate(Roster, doc, str(p))
    problems, seen = [], set()
    for i, s in enumerate(roster.schools):
        if s.id in seen:
            problems.append(
                _at(
                    p,
                    doc,
                    ["schools", i, "id"],
                    f"学校编号 {s.id!r} 重复",
                    f"school id {s.id!r} listed twice",
                    "每所学校只列一次",
                    "list each school once",
                )
            )
        seen.add(s.id)
    if problems:
        raise ConfigError(str(p), problems)
    return roster


Where = dict[str, tuple[str, str]]  # per school entry: key → (file:line:col, field path)


def load_inputs(
    paths: str | Path | Sequence[str | Path],
    roster: Roster,
    cfg: IndicatorsFile,
    period: Period | None = None,
) -> ManualInputs:
    """Manual inputs from one or more files (YAML: every section; CSV: school entries, one row
    each, see `inputs_csv`), checked against the roster, the known flags and designations, the
    report period and each other."""
    files = [Path(paths)] if isinstance(paths, str | Path) else [Path(p) for p in paths]
    ids = {s.id for s in roster.schools}
    merged: dict[str, list[Any]] = {"schools": [], "rooms": [], "eye_surveys": []}
    where: list[Where] = []
    problems: list[str] = []
    for path in files:
        if not path.is_file():
            problems.append(_not_found(path, "填报数据", "inputs"))
            continue
        try:
            if path.suffix.lower() == ".csv":
                entries, locs = load_school_rows(path, read_text(path))
                merged["schools"] += entries
                where += locs
                continue
            doc = _load_yaml(path)
            part = validate(ManualInputs, doc, str(path))
        except ConfigError as exc:
            problems += exc.problems
            continue
        for section in merged:
            merged[section] += getattr(part, section)
        where += [
            _yaml_where(path, doc, i, e.values.model_fields_set, e.values.funding_wan)
            for i, e in enumerate(part.schools)
        ]
        problems += _room_problems(path, doc, part, cfg, ids, period)
    inputs = ManualInputs(**merged)
    problems += _school_problems(inputs, where, ids, cfg, period)
    if problems:
        raise ConfigError(", ".join(str(f) for f in files), sorted(problems, key=_file_order))
    return inputs


def _yaml_where(path: Path, doc: Any, i: int, names: set[str], funding: dict[int, float] | None) -> Where:
    def at(*loc: str | int) -> tuple[str, str]:
        return _pos(path, doc, ["schools", i, *loc]), format_loc(["schools", i, *loc])

    out = {k: at(k) for k in ("school", "designations", "as_of", "entered_at")}
    out |= {n: at("values", n) for n in names}
    out |= {f"funding_wan.{y}": at("values", "funding_wan", y) for y in funding or {}}
    return out


def _school_problems(
    inputs: ManualInputs, where: list[Where], ids: set[str], cfg: IndicatorsFile, period: Period | None
) -> list[str]:
    problems: list[str] = []
    seen: dict[tuple[str, dt.date, str], str] = {}
    for e, loc in zip(inputs.schools, where, strict=True):

        def at(key: str, zh: str, en: str, fix_zh: str, fix_en: str, loc: Where = loc) -> str:
            pos, label = loc.get(key) or loc["school"]
            return problem(pos, label, zh, en, fix_zh, fix_en)

        if e.school not in ids:
            problems.append(
                at(
                    "school",
                    f"学校 {e.school!r} 不在学校名录中",
                    f"school {e.school!r} is not in the roster",
                    "改为名录中的学校编号，或把学校加入名录",
                    "use a roster id or add the school to the roster",
                )
            )
        for d in e.designations:
            if d not in cfg.school_designations:
                known = "、".join(cfg.school_designations)
                problems.append(
                    at(
                        "designations",
                        f"未知的学校认定 {d!r}",
                        f"unknown school designation {d!r}",
                        f"改为 {known} 之一",
                        f"use one of {known}",
                    )
                )
        if period is not None and e.as_of > period[1]:
            problems.append(
                at(
                    "as_of",
                    f"统计日期 {e.as_of} 晚于报告期末 {period[1]}（未来日期）",
                    f"as_of {e.as_of} is after the report period's end {period[1]} (a future date)",
                    "填写数据所描述的日期（不晚于报告期末）",
                    "give the date the figures describe",
                )
            )
        if e.entered_at < e.as_of:
            problems.append(
                at(
                    "entered_at",
                    f"填报日期 {e.entered_at} 早于统计日期 {e.as_of}",
                    f"entered_at {e.entered_at} is before as_of {e.as_of}",
                    "核对两个日期：数据只能在其统计日期之后填报",
                    "a figure is entered on or after the date it describes",
                )
            )
        for name, zh, en, fix_zh, fix_en in plausibility(e.values):
            problems.append(at(name, zh, en, fix_zh, fix_en))
        keys = [n for n in sorted(e.values.model_fields_set) if n != "funding_wan"]
        keys += [f"funding_wan.{y}" for y in sorted(e.values.funding_wan or {})]
        for name in keys:
            key = (e.school, e.as_of, name)
            pos = (loc.get(name) or loc["school"])[0]
            if key in seen:
                problems.append(
                    at(
                        name,
                        f"{e.school} 截至 {e.as_of} 的 {name} 已在 {seen[key]} 填报过",
                        f"{name} of {e.school} as of {e.as_of} already entered at {seen[key]}",
                        "删除重复的一项，或改正其统计日期",
                        "remove the duplicate or correct its as_of",
                    )
                )
            seen.setdefault(key, pos)
    return problems


def _file_order(p: str) -> tuple[str, int, int]:
    """Problems in file, line, column order (numeric)."""
    m = re.match(r"(.*?):(\d+)(?::(\d+))?: ", p)
    return (m.group(1), int(m.group(2)), int(m.group(3) or 0)) if m else (p, 0, 0)


def _room_problems(
    path: Path, doc: Any, inputs: ManualInputs, cfg: IndicatorsFile, ids: set[str], period: Period | None
) -> list[str]:
    """Rooms and surveys: known school, designations and equipment flags; surveys not dated
    after the period."""
    problems: list[str] = []
    for i, r in enumerate(inputs.rooms):
        for j, d in enumerate(r.designations):
            problems += _unknown(
                path, doc, ["rooms", i, "designations", j], d, cfg.designations, "房间认定", "designation"
            )
        for f in r.equipment:
            problems += _unknown(
                path, doc, ["rooms", i, "equipment", f], f, cfg.equipment, "设备标记", "equipment flag"
            )
    for section in ("rooms", "eye_surveys"):
        for i, item in enumerate(getattr(inputs, section)):
            if item.school not in ids:
                problems.append(
                    _at(
                        path,
                        doc,
                        [section, i, "school"],
                        f"学校 {item.school!r} 不在学校名录中",
                        f"school {item.school!r} is not in the roster",
                        "改为名录中的学校编号",
                        "use a roster id",
                    )
                )
    for i, s in enumerate(inputs.eye_surveys):
        if period is not None and s.date > period[1]:
            problems.append(
                _at(
                    path,
                    doc,
                    ["eye_surveys", i, "date"],
                    f"检测日期 {s.date} 晚于报告期末 {period[1]}",
                    f"survey date {s.date} is after the report period's end {period[1]}",
                    "填写检测报告上的日期",
                    "give the date on the survey report",
                )
            )
    return problems


def _pos(path: str | Path, doc: Any, loc: list[str | int]) -> str:
    pos = locate(doc, loc)
    return f"{path}:{pos[0]}:{pos[1]}" if pos else str(path)


def _unknown(
    path: Path, doc: Any, loc: list[str | int], name: str, known: Mapping[str, object], zh: str, en: str
) -> list[str]:
    if name in known:
        return []
    names = ", ".join(known)
    return [
        _at(
            path,
            doc,
            loc,
            f"未知的{zh} {name!r}",
            f"unknown {en} {name!r}",
            f"改为 {names} 之一",
            f"use one of {names}",
        )
    ]


def _at(path: str | Path, doc: Any, loc: list[str | int], zh: str, en: str, fix_zh: str, fix_en: str) -> str:
    return problem(_pos(path, doc, loc), format_loc(loc), zh, en, fix_zh, fix_en)
