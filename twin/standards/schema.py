"""Schema of `standards.yaml`: one rule per limit of a national standard.

A rule says what is measured (quantity), how the standard averages it (instant, 1 h, 8 h or
24 h mean, arithmetic or — for sound levels — energy mean), the limit, and where and when it
applies (room types, months, occupied/unoccupied time, hours of day). The standard and clause
travel with every verdict so a report can cite them.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from contract.telemetry import CANONICAL_UNITS, QUANTITIES

Comparator = Literal["<=", ">=", "between"]
Averaging = Literal["instant", "1h", "8h", "24h"]
MeanKind = Literal["arithmetic", "energy"]
Occupancy = Literal["occupied", "unoccupied", "any"]

AVERAGING_NS: dict[str, int] = {"1h": 3_600 * 10**9, "8h": 8 * 3_600 * 10**9, "24h": 24 * 3_600 * 10**9}


class Applicability(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    room_types: list[str] | None = Field(default=None, description="room type keys; absent = every room")
    months: list[int] | None = Field(default=None, description="local calendar months 1..12; absent = all")
    occupancy: Occupancy = Field(default="occupied", description="which time of the room counts")
    hours: tuple[int, int] | None = Field(default=None, description="local [start, end) hours of day")
    point_match: str | None = Field(default=None, description="regex the point id must match (search)")
    point_exclude: str | None = Field(default=None, description="regex the point id must not match")

    @field_validator("point_match", "point_exclude")
    @classmethod
    def _regex(cls, v: str | None) -> str | None:
        if v is not None:
            try:
                re.compile(v)
            except re.error as exc:
                raise ValueError(f"invalid regex: {exc}") from None
        return v

    def matches_room(self, room_type: str | None) -> bool:
        return self.room_types is None or room_type in self.room_types

    def matches_point(self, point: str) -> bool:
        if self.point_match is not None and not re.search(self.point_match, point):
            return False
        return not (self.point_exclude is not None and re.search(self.point_exclude, point))

    @field_validator("months")
    @classmethod
    def _months(cls, v: list[int] | None) -> list[int] | None:
        if v is not None and (not v or any(not 1 <= m <= 12 for m in v)):
            raise ValueError("months must be a non-empty list of 1..12")
        return v

    @field_validator("hours")
    @classmethod
    def _hours(cls, v: tuple[int, int] | None) -> tuple[int, int] | None:
        if v is not None and not 0 <= v[0] < v[1] <= 24:
            raise ValueError("hours must be [start, end) with 0 <= start < end <= 24")
        return v


class Rule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]{0,63}$")
    standard: str = Field(description="code and year, e.g. 'GB 7793-2010'")
    standard_title_zh: str
    clause: str = Field(description="clause or table of the standard, e.g. '5.2' or '4.2 表1'")
    quantity: str
    comparator: Comparator
    limit: float | tuple[float, float]
    unit: str
    averaging: Averaging
    mean: MeanKind = "arithmetic"
    min_coverage: float = Field(
        default=0.75, gt=0, le=1, description="share of a window's applicable time that data must cover"
    )
    applies: Applicability = Field(default_factory=Applicability)
    label_zh: str
    label_en: str
    note: str | None = Field(default=None, description="where the repository's use is an interpretation")

    @field_validator("quantity")
    @classmethod
    def _quantity(cls, v: str) -> str:
        if v not in QUANTITIES:
            raise ValueError(f"unknown quantity {v!r}; known: {', '.join(sorted(QUANTITIES))}")
        return v

    def verdict_fields(self) -> dict[str, Any]:
        """The rule's identity, limit and citation as every verdict type carries them."""
        return {
            "rule_id": self.id,
            "limit": self.limit,
            "comparator": self.comparator,
            "unit": self.unit,
            "standard": self.standard,
            "clause": self.clause,
            "label_zh": self.label_zh,
            "label_en": self.label_en,
        }

    @model_validator(mode="after")
    def _consistent(self) -> Rule:
        if self.unit != CANONICAL_UNITS[self.quantity]:
            raise ValueError(f"unit {self.unit!r} is not the canonical {CANONICAL_UNITS[self.quantity]!r}")
        if self.comparator == "between":
            if not isinstance(self.limit, tuple) or self.limit[0] >= self.limit[1]:
                raise ValueError("comparator 'between' needs limit [low, high] with low < high")
        elif isinstance(self.limit, tuple):
            raise ValueError(f"comparator {self.comparator!r} needs a single number as limit")
        return self

    def limit_text(self) -> str:
        if isinstance(self.limit, tuple):
            return f"{self.limit[0]:g}–{self.limit[1]:g} {self.unit}"
        return f"{self.comparator} {self.limit:g} {self.unit}"


class StandardsFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    v: Literal[1] = 1
    timezone: str = "Asia/Shanghai"
    rules: list[Rule] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> StandardsFile:
        ids = [r.id for r in self.rules]
        dup = sorted({i for i in ids if ids.count(i) > 1})
        if dup:
            raise ValueError(f"duplicate rule ids: {dup}")
        return self

    def for_quantity(self, quantity: str) -> list[Rule]:
        return [r for r in self.rules if r.quantity == quantity]
