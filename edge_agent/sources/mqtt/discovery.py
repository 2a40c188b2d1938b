"""Zigbee2MQTT discovery: what each device exposes, from the retained `bridge/devices` message.

Each device's `definition.exposes` lists its properties with unit and access; composite exposes
(`features`) are walked. That is how a VOC sensor's ppb vs µg/m³ or a 1.x light sensor's raw
`illuminance` (no unit) next to `illuminance_lux` (lx) is known per device model instead of
guessed. Pure: bytes in, a table out.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class DeviceExposes:
    friendly_name: str
    model: str | None
    units: dict[str, str] = field(default_factory=dict)  # property → unit ("" when none)


def _walk(exposes: Any, out: dict[str, str]) -> None:
    if not isinstance(exposes, list):
        return
    for e in exposes:
        if not isinstance(e, dict):
            continue
        prop = e.get("property")
        if isinstance(prop, str) and e.get("type") in ("numeric", "binary"):
            unit = e.get("unit")
            out[prop] = unit if isinstance(unit, str) else ("bool" if e.get("type") == "binary" else "")
        _walk(e.get("features"), out)


def parse_bridge_devices(payload: bytes) -> dict[str, DeviceExposes]:
    """friendly name → exposes; devices without a definition (coordinator, unsupported) are left out.
    A payload that is not a device list gives an empty table (the decoder then guesses nothing)."""
    try:
        doc = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return {}
    if not isinstance(doc, list):
        return {}
    out: dict[str, DeviceExposes] = {}
    for d in doc:
        if not isinstance(d, dict) or not isinstance(d.get("friendly_name"), str):
            continue
        definition = d.get("definition")
        if not isinstance(definition, dict):
            continue
        units: dict[str, str] = {}
        _walk(definition.get("exposes"), units)
        model = definition.get("model")
        out[d["friendly_name"]] = DeviceExposes(
            d["friendly_name"], model if isinstance(model, str) else None, units
        )
    return out
