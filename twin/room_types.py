"""The room-type file's schema (twin/rules/room_types.yaml): the types and the properties they
own (groups the standards rules name, `like` inheritance, why no rule judges a type) and the
rules that type a room. Only data: no twin model import, so the standards engine can read it.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from contract.yamlio import load_model

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


GROUP_RE = r"^[a-z][a-z0-9_]{0,31}$"


class RoomType(Label):
    """A room type and the properties it owns. Unset properties come from `like` (another type),
    so a new type needs its labels and one line: `music_room: {zh: 音乐教室, en: …, like:
    general_classroom}`."""

    like: str | None = Field(default=None, description="type whose properties this one inherits")
    groups: list[str] | None = Field(
        default=None, description="groups the standards rules name (teaching, lab, library …)"
    )
    judged_by_none_because: str | None = Field(
        default=None,
        description="why no environment rule names this type (a type without it must be named by one)",
    )

    @field_validator("groups")
    @classmethod
    def _group_names(cls, v: list[str] | None) -> list[str] | None:
        for g in v or []:
            if not re.match(GROUP_RE, g):
                raise ValueError(f"group {g!r} must be lower-case letters, digits, _")
        return v


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
    types: dict[str, RoomType]
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
        for key, t in self.types.items():
            seen = [key]
            while t.like is not None:
                if t.like not in self.types:
                    raise ValueError(f"types.{key}: like: unknown room type {t.like!r}")
                if t.like in seen:
                    raise ValueError(f"types.{key}: like: circular ({' → '.join([*seen, t.like])})")
                seen.append(t.like)
                t = self.types[t.like]
        if set(self.groups()) & set(self.types):
            raise ValueError(
                f"group names that are also type keys: {sorted(set(self.groups()) & set(self.types))}"
            )
        return self

    def prop(self, key: str, name: str) -> Any:
        """A type's property, inherited along `like` (None if no type in the chain sets it)."""
        t = self.types.get(key)
        while t is not None:
            value = getattr(t, name)
            if value is not None:
                return value
            t = self.types.get(t.like) if t.like else None
        return None

    def groups_of(self, key: str) -> list[str]:
        return list(self.prop(key, "groups") or [])

    def groups(self) -> dict[str, list[str]]:
        """Group → its type keys, in file order."""
        out: dict[str, list[str]] = {}
        for key in self.types:
            for g in self.groups_of(key):
                out.setdefault(g, []).append(key)
        return out

    def expand(self, names: list[str]) -> list[str] | None:
        """Type keys of a list of type keys and group names; None when a name is neither."""
        groups = self.groups()
        out: list[str] = []
        for n in names:
            keys = groups.get(n, [n] if n in self.types else None)
            if keys is None:
                return None
            out.extend(k for k in keys if k not in out)
        return out

    def label(self, key: str | None, lang: str = "zh") -> str:
        lab = self.types.get(key or "")
        return (lab.zh if lang == "zh" else lab.en) if lab else (key or "")


@lru_cache(maxsize=8)
def _load_cached(path: str) -> RoomTypeRules:
    return load_model(RoomTypeRules, path)


def load_rules(path: str | Path | None = None) -> RoomTypeRules:
    """Rules from YAML (default: the shipped twin/rules/room_types.yaml). Raises ConfigError."""
    return _load_cached(str(Path(path or DEFAULT_RULES).resolve()))
