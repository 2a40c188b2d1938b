"""`agent check` warns when a yes/no point (coil, discrete input, register bit) is mapped to a
count quantity: a PIR written as `occupancy` would be stored as "1 persons"."""

from __future__ import annotations

from device_profiles.loader import load_library
from device_profiles.schema import DeviceProfile, profile_warnings
from edge_agent.commands_check import check_report
from edge_agent.config import AgentConfig


def _pir(quantity: str) -> DeviceProfile:
    return DeviceProfile.model_validate(
        {
            "name": "pir-relay",
            "manufacturer": "x",
            "model": "PIR-485",
            "source": {"title": "PIR-485 manual"},
            "points": [
                {"name": "pir", "quantity": quantity, "table": "discrete_input", "address": 0, "type": "bit"},
                {"name": "count", "quantity": "occupancy", "table": "holding_register", "address": 1},
            ],
        }
    )


def test_bit_point_as_count_quantity_warns_and_presence_does_not() -> None:
    assert profile_warnings(_pir("occupancy")) == [
        "profile pir-relay point pir: a discrete_input bit mapped to occupancy (a count, unit persons); "
        "a yes/no sensor is quantity presence"
    ]
    assert profile_warnings(_pir("presence")) == []  # a register count as occupancy is fine


def test_library_profiles_have_no_warnings() -> None:
    assert [w for p in load_library().values() for w in profile_warnings(p)] == []


def test_agent_check_prints_the_warning() -> None:
    cfg = AgentConfig.model_validate(
        {
            "site": "s",
            "agent": "gw",
            "modbus": [
                {"id": "A-1-pir", "profile": "pir-relay", "transport": {"type": "tcp", "host": "127.0.0.1"}}
            ],
        }
    )
    text, ok = check_report(cfg, {"pir-relay": _pir("occupancy")})
    assert ok
    assert "WARNING: profile pir-relay point pir: a discrete_input bit mapped to occupancy" in text
