"""MQTT sensors (Zigbee2MQTT, Tasmota, LoRaWAN, custom) as a `Source`: a thin adapter around
`edge_agent/southbound/` (owned by the sensor-catalogue work; not edited here). Config: the
agent config's `mqtt:` section (edge_agent/README.md)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from contract.clock import Clock
from edge_agent.config import AgentConfig, Subscription
from edge_agent.device_health import DeviceHealth

Handler = Callable[[Subscription, str, bytes, int], Awaitable[None]]


class MqttSource:
    name = "mqtt"

    def __init__(
        self, cfg: AgentConfig, handle: Handler, clock: Clock, devices: dict[str, DeviceHealth]
    ) -> None:
        from edge_agent.southbound.mqtt import MqttSouth

        self.south = MqttSouth(cfg, handle, clock)
        self._devices = devices  # filled by the agent's message handler

    @property
    def connected(self) -> bool:
        return bool(self.south.stats.connected)

    async def run(self, stop: asyncio.Event) -> None:
        await self.south.run(stop)

    def health(self) -> list[DeviceHealth]:
        return list(self._devices.values())

    def stats(self) -> dict[str, float]:
        s = self.south.stats
        return {"messages": float(s.messages_total), "unmatched": float(s.unmatched_total)}

    def close(self) -> None:
        return None
