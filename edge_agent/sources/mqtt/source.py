"""MQTT sensors (Zigbee2MQTT, Tasmota, LoRaWAN, custom) as a `Source`: a thin adapter around
`edge_agent/sources/mqtt/` (owned by the sensor-catalogue work; not edited here). Config: the
agent config's `mqtt:` section (edge_agent/README.md)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from contract.clock import Clock
from edge_agent.config import AgentConfig, Subscription
from edge_agent.device_health import DeviceHealth

log = logging.getLogger("edge_agent")

Handler = Callable[[Subscription, str, bytes, int, bool], Awaitable[None]]  # … retained


class MqttSource:
    name = "mqtt"

    def __init__(
        self, cfg: AgentConfig, handle: Handler, clock: Clock, devices: dict[str, DeviceHealth]
    ) -> None:
        from edge_agent.sources.mqtt.subscriber import MqttSouth

        self.south = MqttSouth(cfg, handle, clock)
        self.clock = clock
        self._devices = devices  # filled by the agent's message handler

    @property
    def connected(self) -> bool:
        return bool(self.south.stats.connected)

    async def run(self, stop: asyncio.Event) -> None:
        watchdog = asyncio.ensure_future(self._watch_silence(stop))
        try:
            await self.south.run(stop)
        finally:
            watchdog.cancel()
            await asyncio.wait({watchdog}, timeout=0.5)

    async def _watch_silence(self, stop: asyncio.Event) -> None:
        """MQTT sensors cannot be polled: one that stops sending goes DOWN after its subscription's
        `expected_interval_s × silence_factor` (the same transition lines and gauges as Modbus)."""
        subs = self.south.south.subscriptions
        period = min([1.0, *(s.silent_after_s / 10 for s in subs)])
        while not stop.is_set():
            now = self.clock.now_ns()
            for dev in list(self._devices.values()):
                line = dev.check_silence(now)
                if line is not None:
                    log.warning(line)
            waiter = asyncio.ensure_future(stop.wait())  # not wait_for (see the Modbus poller _Bus.run)
            try:
                await asyncio.wait({waiter}, timeout=period)
            finally:
                waiter.cancel()

    def health(self) -> list[DeviceHealth]:
        return list(self._devices.values())

    def stats(self) -> dict[str, float]:
        s = self.south.stats
        return {"messages": float(s.messages_total), "unmatched": float(s.unmatched_total)}

    def close(self) -> None:
        return None
