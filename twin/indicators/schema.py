"""Schema of `indicators.yaml`: district indicators and the per-school counts, as data.

An indicator has its plan metadata (names, 约束性/预期性, baseline, target, year) and a rule
that computes it from per-school facts (rooms by type from BIM, bindings, data received in
the period, reporting agents). Conditions compose with AND; thresholds live here, not in code.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

IndicatorType = Literal["约束性", "预期性"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class HasRooms(_Strict):
    """≥ `min` rooms of these types (with live bound sensors in the period when `live`)."""

    kind: Literal["has_rooms"]
    types: list[str] = Field(min_length=1)
    min: int = Field(default=1, ge=1)
    live: bool = False


class BimManaged(_Strict):
    """An IFC model is loaded, ≥ `min_bound_share` of its rooms of `types` (default: teaching
    rooms) have bound sensors, and (when `require_data`) bound sensors sent data in the period."""

    kind: Literal["bim_managed"]
    min_bound_share: float = Field(ge=0, le=1)
    types: list[str] | None = None
    require_data: bool = True


class AgentsReporting(_Strict):
    """≥ `min` edge agents (gateways) of the school sent data in the period."""

    kind: Literal["agents_reporting"]
    min: int = Field(default=1, ge=1)


Condition = Annotated[HasRooms | BimManaged | AgentsReporting, Field(discriminator="kind")]


class CountSchools(_Strict):
    kind: Literal["count_schools"]
    where: list[Condition] = Field(min_length=1)


class ShareSchools(_Strict):
    kind: Literal["share_schools"]
    where: list[Condition] = Field(min_length=1)


class SumRooms(_Strict):
    kind: Literal["sum_rooms"]
    types: list[str] = Field(min_length=1)
    live: bool = False


class ShareRooms(_Strict):
    """Percent of rooms of `types` that have live bound sensors in the period (coverage)."""

    kind: Literal["share_rooms"]
    types: list[str] = Field(min_length=1)


IndicatorRule = Annotated[CountSchools | ShareSchools | SumRooms | ShareRooms, Field(discriminator="kind")]


class Indicator(_Strict):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]{0,63}$")
    name_zh: str
    name_en: str
    type: IndicatorType
    unit_zh: str
    unit_en: str
    baseline: float | None = None
    baseline_year: int | None = None
    target: float | None = None
    target_comparator: Literal[">=", ">", "<=", "<"] = ">="
    target_year: int | None = None
    source: str | None = Field(default=None, description="plan or form the indicator comes from")
    note: str | None = None
    rule: IndicatorRule

    @model_validator(mode="after")
    def _years(self) -> Indicator:
        if (self.baseline is None) != (self.baseline_year is None):
            raise ValueError("baseline and baseline_year go together")
        if (self.target is None) != (self.target_year is None):
            raise ValueError("target and target_year go together")
        return self


class SchoolCount(_Strict):
    """A per-school count the provincial forms ask for (多媒体教室数 …)."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]{0,63}$")
    name_zh: str
    name_en: str
    types: list[str] = Field(min_length=1)
    note: str | None = None


class RoomTypeLabel(_Strict):
    zh: str
    en: str


class IndicatorsFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    v: Literal[1] = 1
    plan: str
    expected_interval_s: float = Field(default=60, gt=0, description="expected reading interval per series")
    teaching_room_types: list[str] = Field(min_length=1)
    room_types: dict[str, RoomTypeLabel] = Field(default_factory=dict)
    school_counts: list[SchoolCount] = Field(default_factory=list)
    indicators: list[Indicator] = Field(min_length=1)
    worst_rooms: int = Field(default=5, ge=0, le=100)

    @model_validator(mode="after")
    def _unique(self) -> IndicatorsFile:
        for name, ids in (
            ("indicator", [i.id for i in self.indicators]),
            ("school count", [c.id for c in self.school_counts]),
        ):
            dup = sorted({i for i in ids if ids.count(i) > 1})
            if dup:
                raise ValueError(f"duplicate {name} ids: {dup}")
        return self

    def type_zh(self, key: str | None) -> str:
        if key is None:
            return "未分类"
        label = self.room_types.get(key)
        return label.zh if label else key

    def type_en(self, key: str | None) -> str:
        if key is None:
            return "unclassified"
        label = self.room_types.get(key)
        return label.en if label else key
