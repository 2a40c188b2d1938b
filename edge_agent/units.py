"""Unit conversion to the contract's canonical units, from the quantity catalogue's aliases.

Why data: device manuals spell units many ways (℃, lux, Wh, mg/m³); adding a spelling or a
conversion is a line in contract/quantities.yaml, never code. Conversions are per quantity
because the same symbol means different things ("%" is %RH for humidity, ×0.01 for power_factor).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from contract.quantities import Catalogue, catalogue


class UnitError(ValueError):
    """No conversion from the source unit to the quantity's canonical unit."""


@dataclass(frozen=True, slots=True)
class Linear:
    scale: float
    offset: float

    def __call__(self, value: float) -> float:
        return value * self.scale + self.offset


IDENTITY = Linear(1.0, 0.0)


@dataclass(frozen=True, eq=False)  # hashed by identity: the normaliser caches rules per converter
class UnitConverter:
    canonical: dict[str, str]  # quantity → canonical unit
    by_quantity: dict[tuple[str, str], Linear]  # (quantity, from) → f

    def converter(self, quantity: str, unit: str) -> Linear:
        """The function taking `unit` to the canonical unit of `quantity`, or UnitError."""
        target = self.canonical.get(quantity)
        if target is None:
            raise UnitError(f"unknown quantity {quantity!r}")
        if unit == target:
            return IDENTITY
        f = self.by_quantity.get((quantity, unit))
        if f is None:
            known = sorted(u for q, u in self.by_quantity if q == quantity)
            raise UnitError(
                f"no conversion from {unit!r} to {target!r} for {quantity} "
                f"(known: {', '.join(repr(u) for u in [target, *known])}; see contract/quantities.yaml)"
            )
        return f


def build_converter(cat: Catalogue) -> UnitConverter:
    by_q = {(q, a.unit): Linear(a.scale, a.offset) for q, s in cat.quantities.items() for a in s.aliases}
    return UnitConverter(cat.canonical_units(), by_q)


@lru_cache(maxsize=1)
def default_converter() -> UnitConverter:
    return build_converter(catalogue())
