"""Input errors for the people who type the figures in: Chinese first, English alongside, the
place (`file:line:col`) and how to fix it, on one line each.

Roster and inputs files are filled in by school clerks and district officers, so their
validation errors are translated here from pydantic's error types instead of being printed in
pydantic's English (`contract.yamlio` keeps the English form for technicians' config files).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from contract.yamlio import ConfigError, format_loc, locate, to_plain

M = TypeVar("M", bound=BaseModel)


def problem(where: str, field: str, zh: str, en: str, fix_zh: str = "", fix_en: str = "") -> str:
    """`where: 字段 f：中文。改正：… | field f: English. Fix: …` (one line, greppable)."""
    head = f"{where}: 字段 {field}：{zh}" if field else f"{where}: {zh}"
    tail = f"field {field}: {en}" if field else en
    if fix_zh:
        head += f"。改正：{fix_zh}"
    if fix_en:
        tail += f". Fix: {fix_en}"
    return f"{head} | {tail}"


def _ctx(err: Any, key: str) -> Any:
    v = (err.get("ctx") or {}).get(key)
    return f"{v:g}" if isinstance(v, float) else v


def translate(err: Any) -> tuple[str, str, str, str]:
    """(zh, en, fix_zh, fix_en) for one pydantic error."""
    t, got = err["type"], err.get("input")
    shown = repr(got) if not isinstance(got, dict | list) else "…"
    if t == "missing":
        return "缺少必填项", "required field missing", "补上此项", "add the field"
    if t == "extra_forbidden":
        return (
            "未知字段（拼写错误？）",
            "unknown field (check spelling)",
            "对照 docs/indicators.md 的字段名改正或删除",
            "use a field name listed in docs/indicators.md or remove it",
        )
    if t in ("int_parsing", "int_type", "int_from_float"):
        return (
            f"应为整数，实际为 {shown}",
            f"must be a whole number, got {shown}",
            "只填阿拉伯数字，不带单位或文字",
            "write digits only, without units or words",
        )
    if t in ("float_parsing", "float_type"):
        return (
            f"应为数字，实际为 {shown}",
            f"must be a number, got {shown}",
            "只填数字，不带单位或文字",
            "write a number without units or words",
        )
    if t in ("bool_parsing", "bool_type"):
        return (
            f"应为“是”或“否”，实际为 {shown}",
            f"must be yes or no, got {shown}",
            "填 是/否（或 true/false）",
            "write 是/否 (or true/false)",
        )
    if t.startswith("date") or t.startswith("datetime"):
        return (
            f"日期无效：{shown}",
            f"not a valid date: {shown}",
            "按 YYYY-MM-DD 填写真实存在的日期",
            "write an existing date as YYYY-MM-DD",
        )
    if t in ("greater_than_equal", "greater_than"):
        lim = _ctx(err, "ge") if t == "greater_than_equal" else _ctx(err, "gt")
        op = "≥" if t == "greater_than_equal" else ">"
        return (
            f"应 {op} {lim}，实际为 {shown}",
            f"must be {op} {lim}, got {shown}",
            "核对数值",
            "check the figure",
        )
    if t in ("less_than_equal", "less_than"):
        lim = _ctx(err, "le") if t == "less_than_equal" else _ctx(err, "lt")
        op = "≤" if t == "less_than_equal" else "<"
        return (
            f"应 {op} {lim}，实际为 {shown}",
            f"must be {op} {lim}, got {shown}",
            "百分比填 0–100 之间的数（如 85 表示 85%）",
            "a percentage is a number 0–100 (85 means 85 %)",
        )
    if t == "literal_error":
        expected = _ctx(err, "expected") or ""
        return (
            f"取值 {shown} 不在可选范围内：{expected}",
            f"{shown} is not one of {expected}",
            "改为可选值之一",
            "use one of the allowed values",
        )
    if t == "string_type":
        return f"应为文字，实际为 {shown}", f"must be text, got {shown}", "加引号写成文字", "quote it as text"
    if t in ("string_too_short", "too_short"):
        return "不能为空", "must not be empty", "填写内容", "fill it in"
    if t == "string_pattern_mismatch":
        pattern = _ctx(err, "pattern") or ""
        return (
            f"格式不对：{shown}",
            f"wrong format: {shown} (pattern {pattern})",
            "按示例格式填写",
            "follow the example",
        )
    return "取值无效", str(err.get("msg", t)), "核对此项", "check the value"


def validation_problems(
    name: str, doc: Any, exc: ValidationError, prefix: Sequence[str | int] = ()
) -> list[str]:
    out = []
    for err in exc.errors():
        loc = [*prefix, *(p for p in err["loc"] if isinstance(p, int | str))]
        pos = locate(doc, loc) if doc is not None else None
        where = f"{name}:{pos[0]}:{pos[1]}" if pos else name
        out.append(problem(where, format_loc(loc), *translate(err)))
    return out


def validate(model: type[M], doc: Any, name: str) -> M:
    """`model` from a loaded YAML document; ConfigError with Chinese-first problems."""
    try:
        return model.model_validate(to_plain(doc))
    except ValidationError as exc:
        raise ConfigError(name, validation_problems(name, doc, exc)) from None
