"""Rounding never below the device's own resolution: what `probe` shows exact reaches the wire
exact (22.64 °C from a float32 register, PM2.5 37.25 from a JSON sensor), and binary noise never does."""

from __future__ import annotations

import struct

import pytest

from contract.quantities import significant_step
from edge_agent.normalise import Normaliser
from edge_agent.samples import Sample
from edge_agent.sources.mqtt.formats import json_step

TS = 1_795_395_600_000_000_000


def _float32(x: float) -> float:
    """What a float32 register pair decodes to: 22.64 → 22.639999389648438."""
    return float(struct.unpack(">f", struct.pack(">f", x))[0])


def _wire(value: float, quantity: str, unit: str, resolution: float | None) -> float | None:
    (r,), rejects = Normaliser("s", "a").normalise(
        [Sample("d", "p", quantity, value, unit, TS, resolution=resolution)]
    )
    assert not rejects
    return r.value


@pytest.mark.parametrize(
    ("raw", "quantity", "unit", "wire"),
    [
        (22.64, "temperature", "°C", 22.64),
        (37.25, "pm25", "µg/m³", 37.25),
        (1008.6, "pressure", "hPa", 1008.6),
        (0.00012, "hcho", "mg/m³", 0.00012),
    ],
)
def test_a_float32_register_keeps_its_digits_without_binary_noise(
    raw: float, quantity: str, unit: str, wire: float
) -> None:
    v = _float32(raw)  # the register's binary value (22.639999389648438 for 22.64)
    assert _wire(v, quantity, unit, significant_step(v, 7)) == wire


@pytest.mark.parametrize(
    ("value", "scale", "step"),
    [
        (22.64, 1.0, 0.01),
        (37.25, 1.0, 0.01),
        (812, 1.0, 1.0),
        (48.0, 1.0, 0.1),
        (215, 0.1, 0.1),
        (True, 1.0, None),
    ],
)
def test_json_numbers_carry_the_step_they_were_written_with(
    value: float, scale: float, step: float | None
) -> None:
    got = json_step(value, scale)
    assert got is None if step is None else got == pytest.approx(step)


def test_a_json_number_is_stored_with_its_own_decimals_and_never_more() -> None:
    assert _wire(37.25, "pm25", "µg/m³", json_step(37.25)) == 37.25
    assert _wire(22.64, "temperature", "°C", json_step(22.64)) == 22.64
    # converted from °F: 0.01 °F is 0.0056 °C, three decimals, not the float's seventeen
    assert _wire(72.75, "temperature", "°F", json_step(72.75)) == 22.639


def test_an_integer_register_still_rounds_to_its_scale() -> None:
    assert _wire(614 * 0.1, "humidity", "%RH", 0.1) == 61.4
