"""The quantity catalogue (`quantities.yaml`): the one owner of what a quantity is.

Canonical unit, unit aliases and conversions, zh/en labels, IFC sensor type, plausible range,
resolution and the standards that use it. Every layer reads it through `catalogue()` (loaded
once) and checks names with `check_quantity` / `KnownQuantity`, so adding or changing a quantity
is one YAML edit. Pure: reading the packaged file is the only I/O.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from contract.yamlio import load_model

CATALOGUE_FILE = Path(__file__).with_name("quantities.yaml")

QuantityKind = Literal["measure", "count", "boolean", "state"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Label(_Strict):
    zh: str = Field(min_length=1)
    en: str = Field(min_length=1)


class UnitAlias(_Strict):
    """Another unit or spelling: canonical = value × scale + offset."""

    unit: str
    scale: float = 1.0
    offset: float = 0.0


class QuantitySpec(_Strict):
    unit: str
    kind: QuantityKind
    label: Label
    ifc: str | None = Field(description="IfcSensorTypeEnum value; null → USERDEFINED + ObjectType")
    range: tuple[float | None, float | None] | None = None
    resolution: float = Field(gt=0)
    aliases: tuple[UnitAlias, ...] = ()
    standards: tuple[str, ...] = ()
    home_assistant: tuple[str, ...] = Field(
        default=(), description="Home Assistant `component.device_class` values that carry this quantity"
    )
    note: str | None = None

    @property
    def decimals(self) -> int:
        """Display decimals that show one resolution step (0.1 → 1, 0.001 → 3, 1 → 0)."""
        return decimals_for(self.resolution)

    @property
    def valid_min(self) -> float | None:
        return self.range[0] if self.range else None

    @property
    def valid_max(self) -> float | None:
        return self.range[1] if self.range else None

    def round(self, value: float) -> float:
        """`value` at this quantity's resolution, without float noise (61.400000000000006 → 61.4)."""
        return round_to(value, self.resolution)

    @model_validator(mode="after")
    def _consistent(self) -> QuantitySpec:
        seen = {self.unit}
        for a in self.aliases:
            if a.unit in seen:
                raise ValueError(f"unit {a.unit!r} listed twice")
            seen.add(a.unit)
        if self.range and None not in self.range and self.range[0] > self.range[1]:  # type: ignore[operator]
            raise ValueError(f"range {list(self.range)} is reversed")
        return self


class Catalogue(_Strict):
    v: Literal[1] = Field(default=1, description="schema version")
    quantities: dict[str, QuantitySpec]

    @model_validator(mode="after")
    def _names(self) -> Catalogue:
        for name in self.quantities:
            if not name.isidentifier() or name != name.lower():
                raise ValueError(f"quantity name {name!r} must be lower_snake_case")
        return self

    def spec(self, quantity: str) -> QuantitySpec:
        """The quantity's spec; KeyError with the known names for an unknown one."""
        try:
            return self.quantities[quantity]
        except KeyError:
            raise KeyError(unknown_quantity_message(quantity)) from None

    def canonical_units(self) -> dict[str, str]:
        return {q: s.unit for q, s in self.quantities.items()}


@lru_cache(maxsize=1)
def catalogue() -> Catalogue:
    """The catalogue, loaded once per process (ConfigError with file:line:col on a bad edit)."""
    return load_model(Catalogue, CATALOGUE_FILE)


def quantity_names() -> frozenset[str]:
    return frozenset(catalogue().quantities)


def unknown_quantity_message(v: object) -> str:
    return f"unknown quantity {v!r}; known: {', '.join(sorted(catalogue().quantities))}"


def check_quantity(v: str) -> str:
    """The one 'known quantity' check (pydantic validators call it through `KnownQuantity`)."""
    if v not in catalogue().quantities:
        raise ValueError(unknown_quantity_message(v))
    return v


KnownQuantity = Annotated[str, AfterValidator(check_quantity)]


def labels() -> Mapping[str, Label]:
    return {q: s.label for q, s in catalogue().quantities.items()}


def decimals_for(resolution: float) -> int:
    """Decimals that show one step of `resolution`: 0.1 → 1, 0.05 → 2, 0.0556 → 2, 1 or 10 → 0."""
    if not math.isfinite(resolution) or resolution <= 0:
        return 6
    return max(0, math.ceil(-math.log10(resolution) - 1e-9))


def significant_step(value: float, digits: int) -> float | None:
    """The step of `value` written with `digits` significant digits (a float32 register holds
    about 7: 22.64 → 1e-05), so rounding to it removes the binary noise (22.639999389648438) and
    never a digit the device measured. None for 0 and non-finite values (nothing to round)."""
    if value == 0 or not math.isfinite(value):
        return None
    return 10.0 ** (math.floor(math.log10(abs(value))) - digits + 1)


def round_to(value: float, resolution: float) -> float:
    """`value` at the decimals of `resolution`, as the shortest float that prints it.

    Removes binary noise such as 61.400000000000006 (a raw 614 × 0.1) or -5.300000000000001
    before a value reaches the wire, stores and exports; never invents precision.
    """
    if not math.isfinite(value):
        return value
    out = float(f"{value:.{decimals_for(resolution)}f}")
    return 0.0 if out == 0 else out  # no "-0.0" on the wire


def format_against(quantity: str, value: float, limit: float) -> str:
    """`value` at the quantity's display decimals, with more decimals (up to 3 more) while the
    rounded text would equal the limit's: a 21.96 °C breach of a 22 °C floor reads "21.96", not
    a puzzling "22.0 < 22"."""
    spec = catalogue().quantities.get(quantity)
    decimals = spec.decimals if spec is not None else 2
    for extra in range(4):
        text = f"{value:.{decimals + extra}f}"
        if value == limit or float(text) != limit:
            return text
    return text
