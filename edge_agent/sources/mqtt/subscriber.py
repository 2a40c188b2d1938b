"""Subscribe to sensor topics on the site's MQTT broker and hand each message to the agent.

A persistent session (clean_session=False, fixed client id) and manual acks: a QoS 1 message
is acknowledged only after `handle` returned, i.e. after its readings (or its quarantine
record) are on disk, so a crash before that makes the broker redeliver it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import aiomqtt

from contract.clock import Clock
from edge_agent.backoff import Backoff
from edge_agent.config import AgentConfig, Subscription
from edge_agent.mqtt_connect import describe_mqtt_error
from ops.mqtt_client import build_async_client as make_client

log = logging.getLogger("edge_agent.mqtt_south")

Handler = Callable[[Subscription, str, bytes, int, bool], Awaitable[None]]  # … retained


@dataclass
class SouthStats:
    connected: bool = False
    messages_total: int = 0
    unmatched_total: int = 0
    connects_total: int = 0
    last_error: str | None = None


def match(subs: list[Subscription], topic: str) -> Subscription | None:
    t = aiomqtt.Topic(topic)
    for s in subs:
        if t.matches(s.topic_filter):
            return s
    return None


class MqttSouth:
    def __init__(self, cfg: AgentConfig, handle: Handler, clock: Clock) -> None:
        assert cfg.mqtt is not None
        self.cfg, self.south, self.handle, self.clock = cfg, cfg.mqtt, handle, clock
        self.stats = SouthStats()

    async def run(self, stop: asyncio.Event) -> None:
        broker = self.south.broker
        backoff = Backoff(broker.reconnect_min_s, broker.reconnect_max_s)  # as the uplink's
        while not stop.is_set():
            delay = broker.reconnect_min_s
            try:
                client = make_client(broker, self.cfg.client_id("south"), clean_session=False)
                # aiomqtt has no manual-ack option; paho's (pinned 2.x) is set before connecting.
                client._client.manual_ack_set(True)
                async with client:
                    self.stats.connected = True
                    self.stats.connects_total += 1
                    self.stats.last_error = None
                    backoff.reset()
                    for sub in self.south.subscriptions:
                        await client.subscribe(sub.topic_filter, qos=sub.qos)
                    log.info(
                        "sensor broker %s: subscribed to %s",
                        broker.describe(),
                        ", ".join(s.topic_filter for s in self.south.subscriptions),
                    )
                    reader = asyncio.ensure_future(self._read(client))
                    stopper = asyncio.ensure_future(stop.wait())
                    try:
                        await asyncio.wait({reader, stopper}, return_when=asyncio.FIRST_COMPLETED)
                        if reader.done():
                            reader.result()
                    finally:
                        for t in (reader, stopper):
                            t.cancel()
                        await asyncio.gather(reader, stopper, return_exceptions=True)
            except aiomqtt.MqttError as exc:
                reason = describe_mqtt_error(exc)
                delay = backoff.next()
                log.warning(
                    "sensor broker %s %s: %s; retry in %.1fs",
                    broker.describe(),
                    "lost" if self.stats.connected else "unreachable",
                    reason,
                    delay,
                )
                self.stats.last_error = reason
            finally:
                self.stats.connected = False
            if not stop.is_set():
                waiter = asyncio.ensure_future(stop.wait())  # not wait_for: see the Modbus poller _Bus.run
                try:
                    await asyncio.wait({waiter}, timeout=delay)
                finally:
                    waiter.cancel()

    async def _read(self, client: aiomqtt.Client) -> None:
        async for msg in client.messages:
            received = self.clock.now_ns()
            self.stats.messages_total += 1
            name = msg.topic.value
            sub = match(self.south.subscriptions, name)
            payload = msg.payload if isinstance(msg.payload, bytes) else str(msg.payload or "").encode()
            if sub is None:
                self.stats.unmatched_total += 1
            else:
                await self.handle(sub, name, payload, received, bool(msg.retain))
            if msg.qos > 0:
                client._client.ack(msg.mid, msg.qos)
