"""MQTT sensors (Zigbee2MQTT, Tasmota, LoRaWAN, custom) as a `Source`: the subscriber
(`subscriber.py`), the payload decoding (`formats.py`), per-sensor health (silent → DOWN) and the
quarantine of what cannot be decoded. Config: the agent YAML's `mqtt:` section (`config.py`)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any
from zoneinfo import ZoneInfo

from contract.telemetry import Quality
from edge_agent.device_health import DeviceHealth
from edge_agent.metrics import LinkState
from edge_agent.sources import SourceBase, SourceContext
from edge_agent.sources.mqtt.config import MqttSouthConfig, Subscription
from edge_agent.sources.mqtt.formats import MqttDecoder, PayloadError
from edge_agent.sources.mqtt.subscriber import MqttSouth

log = logging.getLogger("edge_agent")


class MqttSource(SourceBase):
    name = "mqtt"

    def __init__(self, section: MqttSouthConfig, ctx: SourceContext) -> None:
        self.section = section
        self.ctx = ctx
        self.clock = ctx.clock
        # remembers Zigbee2MQTT discovery; counts skips, unknown keys and names
        self.decoder = MqttDecoder(ZoneInfo(ctx.timezone), section.max_clock_skew_s)
        self.south = MqttSouth(section, ctx.client_id("south"), self.handle, ctx.clock)
        self._devices: dict[str, DeviceHealth] = {}

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

    async def handle(
        self, sub: Subscription, topic: str, payload: bytes, received_ns: int, retained: bool = False
    ) -> None:
        """Decode one sensor message; anything unusable is quarantined with its reason. Returns
        once its readings (or its quarantine record) are on disk: the subscriber acks after. A
        retained message of unknown age is stored uncertain and does not show its device UP."""
        try:
            decoded = self.decoder.decode(sub, topic, payload, received_ns, retained)
        except PayloadError as exc:
            await self._quarantine(topic, str(exc), payload)
            return
        except Exception as exc:  # a decoder bug must not stop the agent: keep the evidence
            log.exception("decoder failure on topic %s", topic)
            await self._quarantine(topic, f"internal decoder error: {exc!r}", payload)
            return
        if decoded.ignored:
            return
        if decoded.problems:
            await self._quarantine(topic, "; ".join(decoded.problems), payload)
        if decoded.samples and not decoded.fresh:
            await self.ctx.sink(decoded.samples)
        elif decoded.samples:
            name = decoded.samples[0].device
            dev = self._devices.get(name)
            if dev is None:
                dev = self._devices[name] = DeviceHealth(name, "mqtt")
                dev.expected_every_s, dev.silent_after_s = sub.expected_every_s, sub.silent_after_s
            bad = [s.point for s in decoded.samples if s.quality is Quality.BAD]
            reason = next((s.reason for s in decoded.samples if s.reason), None)
            line = dev.record(received_ns, True, bad, len(decoded.samples), reason)
            if line is not None:
                log.info(line)
            await self.ctx.sink(decoded.samples)

    async def _quarantine(self, topic: str, reason: str, payload: bytes) -> None:
        await self.ctx.quarantine("mqtt", topic, reason, payload)
        log.warning("payload on %s quarantined: %s", topic, reason)

    async def _watch_silence(self, stop: asyncio.Event) -> None:
        """MQTT sensors cannot be polled: one that stops sending goes DOWN after its subscription's
        `expected_interval_s × silence_factor` (the same transition lines and gauges as Modbus)."""
        subs = self.section.subscriptions
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

    def links(self) -> list[LinkState]:
        s = self.south.stats
        return [
            LinkState("sensors", self.section.broker.describe(), s.connected, s.connects_total, s.last_error)
        ]

    def report(self) -> dict[str, Any]:
        return {"mqtt_decoding": self.decoder.stats.summary()}  # skips by rule, unknown keys, names

    def stats(self) -> dict[str, float]:
        s = self.south.stats
        return {"messages": float(s.messages_total), "unmatched": float(s.unmatched_total)}
