"""From model quantities (canonical units, per room) to a device's point values (its units).

A Modbus device exposes the points of its profile: each point names a contract quantity and
the device's own unit (e.g. an energy meter counting Wh), so the value is converted from the
canonical unit here and encoded by the server with the profile's scale/type/order. Phase
points of a three-phase meter (`…_l1`, `…_a`, `…_phase2`) get a share of the room's load.
An MQTT sensor reports the `quantities` its campus-spec entry lists.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

import numpy as np

from contract.quantities import catalogue

_PHASE_RE = re.compile(r"(?:_l|_phase_?|_)([123abc])$", re.IGNORECASE)
_PHASE_SHARE = {"1": 0.36, "2": 0.33, "3": 0.31}  # a slightly unbalanced three-phase load
_PHASE_KEY = {"a": "1", "b": "2", "c": "3"}
PER_PHASE_QUANTITIES = {"power", "current"}


def converter(quantity: str, unit: str) -> Callable[[float], float]:
    """Canonical → device unit: the inverse of the quantity catalogue's alias conversion (the
    agent applies the forward one). '' means "the canonical unit". Raises ValueError for a unit
    the catalogue does not know."""
    spec = catalogue().quantities.get(quantity)
    if spec is None:
        raise ValueError(f"unknown quantity {quantity!r}")
    if unit in ("", spec.unit):
        return lambda v: v
    for a in spec.aliases:
        if a.unit == unit:
            scale, offset = a.scale, a.offset
            return lambda v: (v - offset) / scale
    raise ValueError(f"cannot simulate {quantity} in unit {unit!r} (add it to contract/quantities.yaml)")


def phase_of(point_name: str) -> str | None:
    m = _PHASE_RE.search(point_name)
    if not m:
        return None
    key = m.group(1).lower()
    return _PHASE_KEY.get(key, key)


@dataclass(frozen=True, slots=True)
class PointFeed:
    """How one point's value comes out of the model's per-room arrays."""

    point: str
    quantity: str
    share: float  # 1.0, or the phase share of a three-phase meter's power/current
    convert: Callable[[float], float]

    def value(self, values: Mapping[str, np.ndarray], room_index: int) -> float:
        if self.share == 0.0:
            return 0.0
        return self.convert(float(values[self.quantity][room_index]) * self.share)


def point_feeds(points: Iterable[tuple[str, str | None, str]]) -> list[PointFeed]:
    """Feeds for (point name, quantity, device unit) triples; points without a quantity
    (strings such as a serial number) are left to the server's defaults."""
    feeds = []
    for name, quantity, unit in points:
        if quantity is None:
            continue
        phase = phase_of(name)
        share = _PHASE_SHARE.get(phase, 1.0) if phase and quantity in PER_PHASE_QUANTITIES else 1.0
        if quantity == "energy" and "export" in name:
            share = 0.0  # a school room does not feed the grid
        feeds.append(PointFeed(name, quantity, share, converter(quantity, unit)))
    return feeds


def values_for(
    feeds: Iterable[PointFeed], values: Mapping[str, np.ndarray], room_index: int
) -> dict[str, float]:
    return {f.point: f.value(values, room_index) for f in feeds}
