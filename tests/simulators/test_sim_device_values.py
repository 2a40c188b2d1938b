"""Model quantities become profile point values in the device's own units."""

from __future__ import annotations

import numpy as np
import pytest

from device_profiles.loader import load_library
from simulators.device_values import converter, phase_of, point_feeds, values_for

VALUES = {
    "energy": np.array([1234.5]),
    "power": np.array([3000.0]),
    "current": np.array([15.0]),
    "voltage": np.array([221.0]),
    "temperature": np.array([24.0]),
}


def test_units_and_phases() -> None:
    feeds = point_feeds(
        [
            ("energy", "energy", "Wh"),
            ("energy_export", "energy", "kWh"),
            ("power_l1", "power", "W"),
            ("active_power_b", "power", "kW"),
            ("current_c", "current", "A"),
            ("voltage_a", "voltage", "V"),
            ("temperature", "temperature", "°F"),
            ("serial", None, ""),
        ]
    )
    got = values_for(feeds, VALUES, 0)
    assert got["energy"] == pytest.approx(1_234_500.0)
    assert got["energy_export"] == 0.0
    assert got["power_l1"] == pytest.approx(3000 * 0.36)
    assert got["active_power_b"] == pytest.approx(3.0 * 0.33)
    assert got["current_c"] == pytest.approx(15 * 0.31)
    assert got["voltage_a"] == 221.0  # every phase sees the line voltage
    assert got["temperature"] == pytest.approx(75.2)
    assert "serial" not in got
    assert phase_of("power_l2") == "2" and phase_of("pm25") is None and phase_of("co2") is None
    with pytest.raises(ValueError, match="furlongs"):
        converter("co2", "furlongs")


def test_every_library_profile_can_be_fed_by_the_model() -> None:
    for name, profile in load_library().items():
        feeds = point_feeds((p.name, p.quantity, p.unit) for p in profile.points)
        assert feeds, name
