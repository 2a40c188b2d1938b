"""Schema of `standards.yaml`: one rule per limit of a national standard.

A rule says what is measured (quantity), over which window the standard averages it (instant
reading, 1 h or 8 h of class time, the day's class time, the local day), which statistic
(arithmetic mean, energy mean for sound levels, L90 background level), the limit, and where
and when it applies: room types, season (from the campus's climate zone), class time / empty
time / any time, and the sensor role (desk plane, blackboard, wall …). The standard and clause
travel with every verdict so a report can cite them.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from contract.quantities import KnownQuantity
from contract.sensor_roles import SENSOR_ROLES
from contract.sensor_roles import SensorRole as Role
from contract.telemetry import CANONICAL_UNITS

Comparator = Literal["<=", ">=", "between"]
Averaging = Literal["instant", "1h", "8h", "class_day", "24h"]
Statistic = Literal["mean", "energy", "l90"]
TimeScope = Literal["class", "empty", "any"]
Season = Literal["summer", "winter"]
ROLES: tuple[Role, ...] = SENSOR_ROLES

HOUR_NS = 3_600 * 10**9
# occupied-time windows: length of the window in applicable time
WINDOW_NS: dict[str, int] = {"1h": HOUR_NS, "8h": 8 * HOUR_NS}


class Applicability(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    room_types: list[str] | None = Field(default=None, description="room type keys; absent = every room")
    season: Season | None = Field(default=None, description="from the campus climate zone; absent = all year")
    time: TimeScope = Field(default="class", description="class time, verified-empty time, or any time")
    hours: tuple[int, int] | None = Field(default=None, description="local [start, end) hours of day")
    roles: list[Role] | None = Field(
        default=None, description="sensor roles evaluated; absent = every indoor role (not outdoor)"
    )

    def matches_room(self, room_type: str | None) -> bool:
        return self.room_types is None or room_type in self.room_types

    def matches_role(self, role: str | None) -> bool:
        if self.roles is None:
            return role != "outdoor"
        return role in self.roles

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
    quantity: KnownQuantity
    comparator: Comparator
    limit: float | tuple[float, float]
    unit: str
    averaging: Averaging
    statistic: Statistic = "mean"
    min_window_min: float = Field(
        default=45,
        ge=0,
        description="applicable minutes a window needs to give a verdict (else insufficient)",
    )
    min_coverage: float = Field(
        default=0.75, gt=0, le=1, description="share of a window's applicable time that readings must cover"
    )
    applies: Applicability = Field(default_factory=Applicability)
    label_zh: str
    label_en: str
    averaging_zh: str = Field(default="", description="the averaging in words, for reasons (e.g. 1小时均值)")
    note: str | None = Field(default=None, description="where the repository's use is an interpretation")

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


class ClimateZone(BaseModel):
    """Months of the summer (cooling) and winter (heating) ranges in one GB 50176 climate zone."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name_zh: str
    summer: list[int]
    winter: list[int]

    @model_validator(mode="after")
    def _months(self) -> ClimateZone:
        for m in [*self.summer, *self.winter]:
            if not 1 <= m <= 12:
                raise ValueError(f"month {m} is not 1..12")
        both = set(self.summer) & set(self.winter)
        if both:
            raise ValueError(f"months {sorted(both)} are both summer and winter")
        return self


class StandardsFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    v: Literal[2] = 2
    timezone: str = "Asia/Shanghai"
    climate_zone: str = Field(description="key of climate_zones: the campus's GB 50176 zone")
    climate_zones: dict[str, ClimateZone] = Field(min_length=1)
    tolerance: float = Field(
        default=0.95, gt=0, le=1, description="compliant share of applicable time a room needs to comply"
    )
    settle_min: float = Field(default=15, ge=0, description="minutes after occupancy not yet 'empty'")
    rules: list[Rule] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> StandardsFile:
        ids = [r.id for r in self.rules]
        dup = sorted({i for i in ids if ids.count(i) > 1})
        if dup:
            raise ValueError(f"duplicate rule ids: {dup}")
        if self.climate_zone not in self.climate_zones:
            raise ValueError(f"climate_zone {self.climate_zone!r} is not one of {sorted(self.climate_zones)}")
        return self

    def season_months(self, season: Season) -> list[int]:
        z = self.climate_zones[self.climate_zone]
        return z.summer if season == "summer" else z.winter

    def for_quantity(self, quantity: str) -> list[Rule]:
        return [r for r in self.rules if r.quantity == quantity]
