"""The Modbus poller as a `Source` (config: the agent config's `modbus:` list, see
edge_agent/README.md; profiles: device_profiles/)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

from contract.clock import Clock
from device_profiles.schema import DeviceProfile
from edge_agent.device_health import DeviceHealth
from edge_agent.samples import SampleSink
from edge_agent.sources import SourceBase
from edge_agent.sources.modbus.config import ModbusDevice
from edge_agent.sources.modbus.poller import ModbusPoller


class ModbusSource(SourceBase):
    name = "modbus"

    def __init__(
        self,
        devices: Sequence[ModbusDevice],
        profiles: Mapping[str, DeviceProfile],
        sink: SampleSink,
        clock: Clock,
    ) -> None:
        self.poller = ModbusPoller(devices, profiles, sink, clock)

    async def run(self, stop: asyncio.Event) -> None:
        await self.poller.run(stop)

    def health(self) -> list[DeviceHealth]:
        return list(self.poller.health().values())

    def device_details(self) -> dict[str, dict[str, Any]]:
        """The poller's scheduling state per device (state, next poll, requests)."""
        return {str(i): {**s.as_dict(), "protocol": "modbus"} for i, s in self.poller.stats().items()}

    def overloaded(self) -> dict[str, float]:
        return self.poller.overloaded_links()

    def stats(self) -> dict[str, float]:
        return {"sink_errors": float(self.poller.sink_errors)}

    def close(self) -> None:
        self.poller.close()
