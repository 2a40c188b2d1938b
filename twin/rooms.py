"""Room types from declarative rules (twin/rules/room_types.yaml), with evidence per decision.

Pure: `classify` looks only at the loaded `Space`, so the same rules type rooms from any
exporter. Facilities staff can always see *why* a room got its type (rule, attribute, value)
and override it per room in the twin config.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from contract.yamlio import load_model
from twin.model import Campus, Evidence, Space

DEFAULT_RULES = Path(__file__).parent / "rules" / "room_types.yaml"


def _compile(patterns: list[str]) -> list[str]:
    for p in patterns:
        try:
            re.compile(p)
        except re.error as exc:
            raise ValueError(f"bad regular expression {p!r}: {exc}") from None
    return patterns


class Label(BaseModel):
    model_config = ConfigDict(extra="forbid")
    zh: str
    en: str


class PsetMatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    pset: str
    property: str
    pattern: str

    _c = field_validator("pattern")(lambda v: _compile([v])[0])


class EquipmentMatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    ifc_class: str
    predefined_type: str | None = None
    name: str | None = Field(default=None, description="regex on the element Name")


class Rule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str
    type: str | None = Field(
        default=None, description="room type key; omitted only with object_type_is_type_key"
    )
    priority: int = 50
    name: list[str] = Field(
        default_factory=list,
        description="regex on LongName, Name, Description or Pset_SpaceCommon.Reference",
    )
    object_type: list[str] = Field(default_factory=list)
    object_type_is_type_key: bool = False
    classification: list[str] = Field(default_factory=list)
    pset: PsetMatch | None = None
    equipment: list[EquipmentMatch] = Field(default_factory=list, description="all must be present")

    _c = field_validator("name", "object_type", "classification")(_compile)

    @model_validator(mode="after")
    def _has_condition(self) -> Rule:
        has = self.name or self.object_type or self.classification or self.pset or self.equipment
        if not has and not self.object_type_is_type_key:
            raise ValueError(f"rule {self.id!r} has no condition")
        if self.type is None and not self.object_type_is_type_key:
            raise ValueError(f"rule {self.id!r} needs 'type'")
        return self


class RoomTypeRules(BaseModel):
    model_config = ConfigDict(extra="forbid")

    v: Literal[1] = Field(default=1, description="schema version")
    types: dict[str, Label]
    default: str = "other"
    rules: list[Rule]

    @model_validator(mode="after")
    def _known_types(self) -> RoomTypeRules:
        unknown = [f"{r.id}: {r.type}" for r in self.rules if r.type and r.type not in self.types]
        if self.default not in self.types:
            unknown.append(f"default: {self.default}")
        if unknown:
            raise ValueError(f"unknown room type keys: {', '.join(unknown)}")
        ids = [r.id for r in self.rules]
        dup = sorted({i for i in ids if ids.count(i) > 1})
        if dup:
            raise ValueError(f"duplicate rule ids: {dup}")
        return self

    def label(self, key: str | None, lang: str = "zh") -> str:
        lab = self.types.get(key or "")
        return (lab.zh if lang == "zh" else lab.en) if lab else (key or "")


@lru_cache(maxsize=8)
def _load_cached(path: str) -> RoomTypeRules:
    return load_model(RoomTypeRules, path)


def load_rules(path: str | Path | None = None) -> RoomTypeRules:
    """Rules from YAML (default: the shipped twin/rules/room_types.yaml). Raises ConfigError."""
    return _load_cached(str(Path(path or DEFAULT_RULES).resolve()))


def _search(patterns: list[str], value: str | None) -> str | None:
    if not value:
        return None
    for p in patterns:
        if re.search(p, value, re.IGNORECASE):
            return p
    return None


def name_values(space: Space) -> list[tuple[str, str | None]]:
    """Where exports put the room's name, most specific first: LongName (Revit, ArchiCAD), Name
    (often the number, sometimes the name), Description (COBie), Pset_SpaceCommon.Reference."""
    ref = space.psets.get("Pset_SpaceCommon", {}).get("Reference")
    return [
        ("LongName", space.long_name),
        ("Name", space.name),
        ("Description", space.description),
        ("Pset_SpaceCommon.Reference", ref if isinstance(ref, str) else None),
    ]


def display_name(space: Space) -> str:
    """The name a person would recognise the room by (for --unmatched listings)."""
    return next((v.strip() for _, v in name_values(space)[:3] if v and v.strip()), space.global_id)


def unmatched_names(campus: Campus) -> list[tuple[str, int]]:
    """Names of rooms no rule matched (typed by the default), digits folded to '#' so "Bath9" and
    "Bath10" count together; most frequent first. What a district extends its rules with."""
    counts: dict[str, int] = {}
    for s in campus.spaces():
        if s.evidence and s.evidence[0].rule == "default":
            key = re.sub(r"\d+", "#", display_name(s))
            counts[key] = counts.get(key, 0) + 1
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))


_REGEX_SYNTAX = re.compile(r"\\[bBdsSwW]|\\|[\^$()?*+\[\]{}.|&'\"]")


def _words(pattern: str) -> list[str]:
    """The literal words of a name pattern ("computer (room|lab)" → computer, room, lab)."""
    return [w for w in _REGEX_SYNTAX.sub(" ", pattern).lower().split() if len(w) > 1]


def _vocabulary(rules: RoomTypeRules) -> dict[str, str]:
    """word → type for every literal word of the name rules and every type's labels (the type it
    names most often); words that name many types ("room") say nothing and are left out."""
    pairs = [(w, r.type) for r in rules.rules if r.type for p in r.name for w in _words(p)]
    pairs += [(lab.lower(), key) for key, t in rules.types.items() for lab in (t.zh, t.en)]
    types: dict[str, list[str]] = {}
    for w, k in pairs:
        if len(w) >= (3 if w.isascii() else 2) and k != rules.default and w not in {"and", "the"}:
            types.setdefault(w, []).append(k)
    return {w: max(ks, key=ks.count) for w, ks in types.items() if len(set(ks)) <= 3}


def closest_type(name: str, rules: RoomTypeRules) -> tuple[str, str, float] | None:
    """The type whose vocabulary word is most like `name` (type, word, similarity 0–1): a hint for
    a name no rule matched ("Klassenzi." → general_classroom via "klassen"), never a decision."""
    from difflib import SequenceMatcher

    low = name.lower()
    best: tuple[float, str, str] | None = None
    for word, key in sorted(_vocabulary(rules).items()):
        m = SequenceMatcher(None, low, word)
        block = m.find_longest_match(0, len(low), 0, len(word)).size
        enough = block >= min(len(word), 3 if word.isascii() else 2)
        score = max(m.ratio(), block / len(word) if enough else 0.0)
        if best is None or score > best[0]:
            best = (score, key, word)
    if best is None or best[0] < 0.65:
        return None
    return best[1], best[2], round(best[0], 2)


def _match(rule: Rule, space: Space, types: Mapping[str, Any]) -> tuple[str, list[Evidence]] | None:
    """(room type, evidence) when every condition of `rule` holds for `space`."""
    ev: list[Evidence] = []
    rtype = rule.type
    if rule.object_type_is_type_key:
        if space.object_type is None or space.object_type not in types:
            return None
        rtype = space.object_type
        ev.append(Evidence(rule.id, "ObjectType", space.object_type))
    if rule.name:
        hit = next(((attr, v) for attr, v in name_values(space) if _search(rule.name, v)), None)
        if hit is None:
            return None
        ev.append(Evidence(rule.id, hit[0], hit[1] or ""))
    if rule.object_type:
        if not _search(rule.object_type, space.object_type):
            return None
        ev.append(Evidence(rule.id, "ObjectType", space.object_type or ""))
    if rule.classification:
        c = next((c for c in space.classifications if _search(rule.classification, c)), None)
        if c is None:
            return None
        ev.append(Evidence(rule.id, "Classification", c))
    if rule.pset:
        v = space.psets.get(rule.pset.pset, {}).get(rule.pset.property)
        if v is None or not _search([rule.pset.pattern], str(v)):
            return None
        ev.append(Evidence(rule.id, f"{rule.pset.pset}.{rule.pset.property}", str(v)))
    for eq in rule.equipment:
        found = next(
            (
                e
                for e in space.equipment_info
                if e.get("ifc_class") == eq.ifc_class
                and (
                    eq.predefined_type is None
                    or eq.predefined_type in (e.get("predefined_type"), e.get("object_type"))
                )
                and (eq.name is None or _search([eq.name], e.get("name")))
            ),
            None,
        )
        if found is None:
            return None
        ev.append(
            Evidence(rule.id, "equipment", f"{eq.ifc_class}:{found.get('name') or found.get('global_id')}")
        )
    assert rtype is not None
    return rtype, ev


def classify(space: Space, rules: RoomTypeRules, override: str | None = None) -> tuple[str, list[Evidence]]:
    """The room type of `space` and the evidence for it. An override wins over every rule."""
    if override is not None:
        return override, [Evidence("override", "config", override)]
    best: tuple[int, int, str, list[Evidence]] | None = None
    for order, rule in enumerate(rules.rules):
        m = _match(rule, space, rules.types)
        if m is not None and (best is None or (rule.priority, -order) > (best[0], best[1])):
            best = (rule.priority, -order, m[0], m[1])
    if best is None:
        return rules.default, [Evidence("default", "none", "no rule matched")]
    return best[2], best[3]


def type_rooms(campus: Campus, rules: RoomTypeRules, overrides: Mapping[str, str] | None = None) -> list[str]:
    """Set room_type/evidence on every space; returns messages for overrides naming no room."""
    overrides = dict(overrides or {})
    unknown_types = [
        f"override {k}: unknown room type {v!r}" for k, v in overrides.items() if v not in rules.types
    ]
    used = set()
    for space in campus.spaces():
        ov = overrides.get(space.room_number)
        if ov is not None and ov in rules.types:
            used.add(space.room_number)
        else:
            ov = None
        space.room_type, space.evidence = classify(space, rules, ov)
    unused = [
        f"override {k}: no room with this number"
        for k in overrides
        if k not in used and overrides[k] in rules.types
    ]
    return unknown_types + unused
