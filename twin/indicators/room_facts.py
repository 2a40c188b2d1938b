"""Non-exclusive room facts: equipment flags and explicit designations, each with its evidence.

A room has one type (from the room-typing rules) but many facts: a homeroom with a projector
is a homeroom *and* a multimedia classroom. Equipment comes from IFC elements in the space,
a boolean in the room pset, or the inputs file (which wins). 智慧教室/新型实验室 count only
when designated explicitly (pset value, classification, inputs file); a room the rules typed
as one is listed as a suggestion to review, never counted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from twin.indicators.inputs import ManualInputs
from twin.indicators.schema import IndicatorsFile
from twin.model import Campus, Space


@dataclass(slots=True)
class RoomFact:
    global_id: str
    room_number: str
    room_type: str | None
    flags: dict[str, str] = field(default_factory=dict)  # flag → evidence
    designations: dict[str, str] = field(default_factory=dict)  # designation → evidence
    suggestions: list[str] = field(default_factory=list)  # designations inferred, to review

    def has(self, flag: str, cfg: IndicatorsFile) -> bool:
        if flag == "multimedia":  # equipment, or a room the rules typed by its name as multimedia
            return (
                any(f in self.flags for f in cfg.multimedia_flags)
                or self.room_type in cfg.multimedia_room_types
            )
        return flag in self.flags


def _element_flags(space: Space, cfg: IndicatorsFile) -> dict[str, str]:
    out: dict[str, str] = {}
    for el in space.equipment_info:
        cls = str(el.get("ifc_class") or "")
        kinds = {str(el.get(k) or "").upper() for k in ("predefined_type", "object_type")}
        for flag, spec in cfg.equipment.items():
            for m in spec.elements:
                if cls.lower() == m.ifc_class.lower() and (m.type is None or m.type.upper() in kinds):
                    out.setdefault(
                        flag, f"IFC {cls} {el.get('global_id') or ''} ({el.get('name') or '-'})".strip()
                    )
    pset = space.psets.get(cfg.room_pset, {})
    for flag, spec in cfg.equipment.items():
        if spec.pset_property and pset.get(spec.pset_property) is True:
            out.setdefault(flag, f"pset {cfg.room_pset}.{spec.pset_property}=true")
    return out


def _designations(space: Space, cfg: IndicatorsFile) -> dict[str, str]:
    out: dict[str, str] = {}
    raw = space.psets.get(cfg.room_pset, {}).get(cfg.designation_property)
    words = [w.strip() for w in re.split(r"[,，、;；]", str(raw))] if raw else []
    for key, d in cfg.designations.items():
        if key in words or d.zh in words:
            out[key] = f"pset {cfg.room_pset}.{cfg.designation_property}={raw}"
        elif any(d.zh in c for c in space.classifications):
            out[key] = f"classification {next(c for c in space.classifications if d.zh in c)}"
    return out


def campus_room_facts(campus: Campus, cfg: IndicatorsFile, inputs: ManualInputs | None) -> list[RoomFact]:
    """Facts of every space of `campus`, inputs-file entries applied last (they win)."""
    overrides = {r.room: r for r in (inputs.rooms if inputs else []) if r.school == campus.id}
    out = []
    for space in campus.spaces():
        number = space.room_number
        fact = RoomFact(
            space.global_id, number, space.room_type, _element_flags(space, cfg), _designations(space, cfg)
        )
        ov = overrides.get(number)
        if ov is not None:
            where = f"inputs ({ov.source}, {ov.entered_by}, {ov.entered_at})"
            for flag, on in ov.equipment.items():
                if on:
                    fact.flags[flag] = where
                else:
                    fact.flags.pop(flag, None)
            for name in ov.designations:
                fact.designations[name] = where
        names = " ".join(n for n in (space.name, space.long_name) if n)
        for key, d in cfg.designations.items():
            if key in fact.designations:
                continue
            if space.room_type in d.suggest_from_types:
                evidence = "; ".join(f"{e.rule}: {e.attribute}={e.value}" for e in space.evidence)
                fact.suggestions.append(
                    f"{d.zh} {d.en}? typed {space.room_type} by rules ({evidence or '-'})"
                )
            elif any(re.search(p, names) for p in d.suggest_from_names):
                fact.suggestions.append(f"{d.zh} {d.en}? named {names!r}")
        out.append(fact)
    return out


def entered_room_facts(school: str, inputs: ManualInputs | None) -> list[RoomFact]:
    """Rooms of a school without a model, from the inputs file alone (designations, equipment):
    they count wherever a room fact counts, with the entry as evidence."""
    out = []
    for r in inputs.rooms if inputs else []:
        if r.school != school:
            continue
        where = f"inputs ({r.source}, {r.entered_by}, {r.entered_at})"
        out.append(
            RoomFact(
                "",
                r.room,
                None,
                {f: where for f, on in r.equipment.items() if on},
                dict.fromkeys(r.designations, where),
            )
        )
    return out
