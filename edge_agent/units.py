"""Unit conversion to the contract's canonical units, driven by `units.yaml` (data, not code).

Why a table: device manuals spell units many ways (℃, lux, Wh, mg/m³); adding a spelling or a
conversion must not need a code change. Lookup prefers a quantity-specific rule.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator

from contract.telemetry import CANONICAL_UNITS, QUANTITIES
from contract.yamlio import load_model

UNITS_FILE = Path(__file__).with_name("units.yaml")


class Conversion(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    from_unit: str = Field(alias="from")
    to_unit: str = Field(alias="to")
    scale: float = 1.0
    offset: float = 0.0
    quantity: str | None = None

    @model_validator(mode="after")
    def _canonical_target(self) -> Conversion:
        if self.to_unit not in set(CANONICAL_UNITS.values()):
            raise ValueError(f"target {self.to_unit!r} is not a canonical unit")
        if self.quantity is not None:
            if self.quantity not in QUANTITIES:
                raise ValueError(f"unknown quantity {self.quantity!r}")
            if CANONICAL_UNITS[self.quantity] != self.to_unit:
                raise ValueError(f"{self.quantity} is canonical in {CANONICAL_UNITS[self.quantity]!r}")
        return self


class UnitTable(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    conversions: list[Conversion]


class UnitError(ValueError):
    """No conversion from the source unit to the quantity's canonical unit."""


@dataclass(frozen=True, slots=True)
class Linear:
    scale: float
    offset: float

    def __call__(self, value: float) -> float:
        return value * self.scale + self.offset


IDENTITY = Linear(1.0, 0.0)


@dataclass(frozen=True)
class UnitConverter:
    by_quantity: dict[tuple[str, str], Linear]  # (quantity, from) → f
    generic: dict[tuple[str, str], Linear]  # (to, from) → f

    def converter(self, quantity: str, unit: str) -> Linear:
        """The function taking `unit` to the canonical unit of `quantity`, or UnitError."""
        target = CANONICAL_UNITS.get(quantity)
        if target is None:
            raise UnitError(f"unknown quantity {quantity!r}")
        if unit == target:
            return IDENTITY
        f = self.by_quantity.get((quantity, unit)) or self.generic.get((target, unit))
        if f is None:
            raise UnitError(
                f"no conversion from {unit!r} to {target!r} for {quantity} (see edge_agent/units.yaml)"
            )
        return f


def build_converter(table: UnitTable) -> UnitConverter:
    by_q: dict[tuple[str, str], Linear] = {}
    generic: dict[tuple[str, str], Linear] = {}
    for c in table.conversions:
        f = Linear(c.scale, c.offset)
        if c.quantity:
            by_q[(c.quantity, c.from_unit)] = f
        else:
            generic[(c.to_unit, c.from_unit)] = f
    return UnitConverter(by_q, generic)


@lru_cache(maxsize=1)
def default_converter() -> UnitConverter:
    return build_converter(load_model(UnitTable, UNITS_FILE))
