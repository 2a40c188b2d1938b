"""The load-benchmark simulator (simulators/modbus_static.py, in its own process) answers the
poller exactly what the full simulator's register image holds, and exceptions where it must."""

from __future__ import annotations

import pytest

from bench.modbus_sims import StaticSims
from device_profiles.loader import load_library
from edge_agent.sources.modbus.config import ModbusDevice
from edge_agent.sources.modbus.poller import ModbusPoller
from simulators.modbus_server import SimDevice

pytestmark = pytest.mark.integration


async def test_static_simulator_serves_the_profile_image_to_the_poller() -> None:
    lib = load_library()
    profile = lib["classroom-air-monitor"]
    expected = SimDevice(1, profile).values
    with StaticSims("classroom-air-monitor", units=3, processes=1) as sims:
        devices = [
            ModbusDevice.model_validate(
                {
                    "id": f"S-{u}",
                    "profile": profile.name,
                    "unit_id": u,
                    "timeout_s": 0.5,
                    "retries": 0,
                    "transport": {"type": "tcp", "host": "127.0.0.1", "port": sims.ports[0]},
                }
            )
            for u in (1, 3, 9)  # unit 9 is not served: exception 0x0B
        ]
        poller = ModbusPoller(devices, lib, lambda s: None)  # type: ignore[arg-type,return-value]
        try:
            samples = await poller.poll_once()
        finally:
            poller.close()
    for unit in ("S-1", "S-3"):
        got = {s.point: s.value for s in samples if s.device == unit}
        assert got == {k: pytest.approx(v) for k, v in expected.items() if k in got} and got
        assert all(s.quality.value == "good" for s in samples if s.device == unit)
    gone = [s for s in samples if s.device == "S-9"]
    assert gone and all(s.quality.value == "bad" for s in gone)
    assert (gone[0].reason or "").startswith("modbus exception 11 (gateway target device failed"), gone[
        0
    ].reason
