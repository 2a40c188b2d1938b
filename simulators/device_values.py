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

from contract.telemetry import CANONICAL_UNITS

# device unit → function of the canonical value, per quantity; '' means "the canonical unit"
_SAME = {"", "1"}
UNIT_ALIASES: dict[str, set[str]] = {
    "temperature": {"°C", "C", "degC", "℃"},
    "humidity": {"%RH", "%", "RH"},
    "co2": {"ppm"},
    "illuminance": {"lx", "lux", "Lux"},
    "pm25": {"µg/m³", "ug/m3", "μg/m³", "ug/m³"},
    "pm10": {"µg/m³", "ug/m3", "μg/m³", "ug/m³"},
    "tvoc": {"mg/m³", "mg/m3"},
    "hcho": {"mg/m³", "mg/m3"},
    "noise": {"dB(A)", "dB", "dBA"},
    "occupancy": {"persons", "person"},
    "presence": {"bool"},
    "power": {"W"},
    "energy": {"kWh"},
    "voltage": {"V"},
    "current": {"A"},
    "power_factor": {"1", "", "PF"},
    "frequency": {"Hz"},
    "pressure": {"hPa"},
    "status": {"1", ""},
}
CONVERSIONS: dict[tuple[str, str], Callable[[float], float]] = {
    ("energy", "Wh"): lambda v: v * 1000.0,
    ("energy", "MWh"): lambda v: v / 1000.0,
    ("power", "kW"): lambda v: v / 1000.0,
    ("illuminance", "klx"): lambda v: v / 1000.0,
    ("current", "mA"): lambda v: v * 1000.0,
    ("temperature", "°F"): lambda v: v * 9 / 5 + 32,
    ("pm25", "mg/m³"): lambda v: v / 1000.0,
    ("pm10", "mg/m³"): lambda v: v / 1000.0,
    ("hcho", "ppb"): lambda v: v * 814.0,  # 1 mg/m³ HCHO ≈ 814 ppb at 25 °C
    ("hcho", "µg/m³"): lambda v: v * 1000.0,
    ("tvoc", "ppb"): lambda v: v * 440.0,  # isobutylene-equivalent convention of most sensors
    ("tvoc", "µg/m³"): lambda v: v * 1000.0,
    ("pressure", "kPa"): lambda v: v / 10.0,
    ("pressure", "Pa"): lambda v: v * 100.0,
}
_PHASE_RE = re.compile(r"(?:_l|_phase_?|_)([123abc])$", re.IGNORECASE)
_PHASE_SHARE = {"1": 0.36, "2": 0.33, "3": 0.31}  # a slightly unbalanced three-phase load
_PHASE_KEY = {"a": "1", "b": "2", "c": "3"}
PER_PHASE_QUANTITIES = {"power", "current"}


def converter(quantity: str, unit: str) -> Callable[[float], float]:
    """Canonical → device unit. Raises ValueError for a unit we cannot produce."""
    if quantity not in CANONICAL_UNITS:
        raise ValueError(f"unknown quantity {quantity!r}")
    if unit in _SAME or unit == CANONICAL_UNITS[quantity] or unit in UNIT_ALIASES.get(quantity, set()):
        return lambda v: v
    conv = CONVERSIONS.get((quantity, unit))
    if conv is None:
        raise ValueError(
            f"cannot simulate {quantity} in unit {unit!r} (add it to simulators/device_values.py)"
        )
    return conv


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
