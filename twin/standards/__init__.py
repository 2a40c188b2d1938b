"""Classroom environment standards as data (standards.yaml) and their one evaluation engine.

`load_standards()` reads the bundled file (or another path) through `contract.yamlio`, so a
bad edit reports `file:line:col: field …`. A rule's `applies.room_types` names room types or
groups of them (`teaching`, `lab`, `library` …), both owned by twin/rules/room_types.yaml: a
name that is neither is refused at its `file:line:col`, and groups are expanded to the types
they hold at load. `twin.standards.engine.Engine` is what every consumer calls (report, live
state, API status and alerts, `campus-twin standards check`).
"""

from __future__ import annotations

from pathlib import Path

from contract.yamlio import ConfigError, format_loc, load_yaml, locate, validate_doc
from twin.standards.schema import Rule, StandardsFile

DEFAULT_STANDARDS = Path(__file__).with_name("standards.yaml")

__all__ = ["DEFAULT_STANDARDS", "Rule", "StandardsFile", "load_standards"]


def load_standards(path: str | Path | None = None) -> StandardsFile:
    from twin.room_types import load_rules

    name = str(path or DEFAULT_STANDARDS)
    doc = load_yaml(name)
    if doc is None:
        raise ConfigError(name, [f"{name}: file is empty"])
    std = validate_doc(StandardsFile, doc, name)
    types = load_rules()
    known = sorted(types.types) + sorted(types.groups())
    problems: list[str] = []
    rules = []
    for i, rule in enumerate(std.rules):
        names = rule.applies.room_types
        if names is None:
            rules.append(rule)
            continue
        for j, n in enumerate(names):
            if types.expand([n]) is None:
                loc: list[str | int] = ["rules", i, "applies", "room_types", j]
                pos = locate(doc, loc)
                where = f"{name}:{pos[0]}:{pos[1]}" if pos else name
                problems.append(
                    f"{where}: field {format_loc(loc)}: unknown room type or group {n!r}; known: {', '.join(known)}"
                )
        expanded = types.expand(names) or []
        rules.append(
            rule.model_copy(update={"applies": rule.applies.model_copy(update={"room_types": expanded})})
        )
    if problems:
        raise ConfigError(name, problems)
    return std.model_copy(update={"rules": rules})
