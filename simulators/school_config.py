"""Schema of `school.yaml`: timetables, holidays, room behaviours and outdoor climate.

Kept declarative so a district can model its own bell times and holidays without Python;
loaded through `contract.yamlio.load_model`, so mistakes name file:line:col and field.
"""

from __future__ import annotations

import datetime as dt
from functools import cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from contract.school_time import SLOT_KINDS, BellSchedule, SchoolTime, SlotKind, load_school_time
from contract.yamlio import load_model

__all__ = ["SLOT_KINDS", "SchoolConfig", "SlotKind", "Timetable", "load_school"]

DEFAULT_PATH = Path(__file__).with_name("school.yaml")

Timetable = BellSchedule  # the bell a room model follows (one schema with the standards engine)


class Behaviour(BaseModel):
    """How one kind of room is used; `inherit` copies unset fields from another behaviour."""

    model_config = ConfigDict(extra="forbid")

    inherit: str | None = None
    occupancy: dict[SlotKind, float] | None = None
    away_prob: float | None = Field(default=None, ge=0, le=1)
    use_prob: float | None = Field(default=None, ge=0, le=1)
    adults_in_lesson: int | None = Field(default=None, ge=0)
    adult_only: bool | None = None
    projector_w: float | None = Field(default=None, ge=0)
    equipment_w: float | None = Field(default=None, ge=0)
    equipment_per_person: bool | None = None
    fresh_air: bool | None = None
    noise_db: dict[SlotKind, float] | None = None

    @field_validator("occupancy")
    @classmethod
    def _fractions(cls, v: dict[str, float] | None) -> dict[str, float] | None:
        for k, f in (v or {}).items():
            if not 0 <= f <= 1:
                raise ValueError(f"occupancy for {k} must be a fraction 0..1, got {f}")
        return v


class ResolvedBehaviour(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    occupancy: dict[str, float]
    away_prob: float = 0.0
    use_prob: float = 1.0
    adults_in_lesson: int = 0
    adult_only: bool = False
    projector_w: float = 0.0
    equipment_w: float = 0.0
    equipment_per_person: bool = False
    fresh_air: bool = False
    noise_db: dict[str, float] = Field(default_factory=dict)


class Climate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    latitude_deg: float = Field(ge=-66, le=66)
    longitude_deg: float = Field(ge=-180, le=180)
    t_mean_c: float
    t_season_amp_c: float = Field(ge=0)
    t_day_amp_c: float = Field(ge=0)
    rh_mean: float = Field(gt=0, le=100)
    rh_season_amp: float = Field(ge=0)
    pm25_mean: float = Field(ge=0)
    pm25_season_amp: float = Field(ge=0)
    co2_ppm: float = Field(gt=200, lt=1000)
    cloudiness_mean: float = Field(ge=0, le=1)


class SchoolConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    v: Literal[1] = Field(default=1, description="schema version")
    school_time: str | None = Field(default=None, description="bells + calendar file; default shipped")
    co2_lps_by_level: dict[str, float]
    co2_lps_adult: float = Field(gt=0)
    behaviours: dict[str, Behaviour]
    room_types: dict[str, str]
    climate: Climate

    @model_validator(mode="after")
    def _references(self) -> SchoolConfig:
        for rt, b in self.room_types.items():
            if b not in self.behaviours:
                raise ValueError(f"room_types.{rt}: unknown behaviour {b!r}")
        if "other" not in self.room_types:
            raise ValueError("room_types needs an 'other' fallback")
        for name, beh in self.behaviours.items():
            if beh.inherit and beh.inherit not in self.behaviours:
                raise ValueError(f"behaviours.{name}.inherit: unknown behaviour {beh.inherit!r}")
            self.resolve(name)  # raises on an inheritance cycle or missing occupancy
        return self

    def resolve(self, name: str) -> ResolvedBehaviour:
        chain: list[Behaviour] = []
        seen: set[str] = set()
        cur: str | None = name
        while cur is not None:
            if cur in seen:
                raise ValueError(f"behaviours.{name}: inheritance cycle through {cur!r}")
            seen.add(cur)
            chain.append(self.behaviours[cur])
            cur = self.behaviours[cur].inherit
        merged: dict[str, object] = {}
        for b in reversed(chain):
            merged.update(b.model_dump(exclude_none=True, exclude={"inherit"}))
        if "occupancy" not in merged:
            raise ValueError(f"behaviours.{name}: no occupancy (directly or inherited)")
        return ResolvedBehaviour.model_validate({"name": name, **merged})

    def behaviour_for(self, room_type: str) -> ResolvedBehaviour:
        return self.resolve(self.room_types.get(room_type, self.room_types["other"]))

    @property
    def time(self) -> SchoolTime:
        """Bells and calendar (contract/school_time.yaml unless `school_time` names a file)."""
        return load_school_time(self.school_time)

    def timetable_for(self, level: str) -> Timetable:
        return self.time.bell_for(level)

    def co2_lps(self, level: str) -> float:
        return self.co2_lps_by_level.get(level, self.co2_lps_adult)

    def is_school_day(self, day: dt.date) -> bool:
        return self.time.calendar.is_school_day(day)


@cache
def _load_cached(path: str) -> SchoolConfig:
    return load_model(SchoolConfig, path)


def load_school(path: str | Path | None = None) -> SchoolConfig:
    return _load_cached(str(path or DEFAULT_PATH))
