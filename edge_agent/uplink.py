"""Upstream delivery: sealed batches from the disk queue → broker, QoS 1, deleted only on PUBACK.

Per connection: publish the retained `online` birth (the will is a retained `offline`), resend
every unacknowledged batch oldest first with its original seq, then seal and send new ones.
At most `max_inflight` batches await PUBACK; publishes are paced to `replay_rate` batches/s so
a long backlog does not flood ingest. Any error tears the connection down; the disk queue is
the only state, so the next connection simply starts again from the oldest unacked batch.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import aiomqtt

from contract.clock import Clock
from contract.telemetry import HealthReport, Status, encode_status, topic
from edge_agent.buffer import DiskQueue, SealedBatch
from edge_agent.config import AgentConfig
from edge_agent.dbthread import DbThread
from edge_agent.mqtt_connect import make_client

log = logging.getLogger("edge_agent.uplink")
VERSION = "0.1.0"


@dataclass
class UplinkStats:
    connected: bool = False
    connects_total: int = 0
    batches_sent_total: int = 0
    batches_acked_total: int = 0
    readings_acked_total: int = 0
    resent_total: int = 0
    last_error: str | None = None


class Uplink:
    def __init__(
        self,
        cfg: AgentConfig,
        queue: DiskQueue,
        db: DbThread,
        clock: Clock,
        health: Callable[[], HealthReport],
    ) -> None:
        self.cfg, self.queue, self.db, self.clock, self.health = cfg, queue, db, clock, health
        self.up = cfg.upstream
        self.stats = UplinkStats()
        self.data_ready = asyncio.Event()  # set by the sink after queuing readings
        self._last_seal = time.monotonic()
        self._last_publish = 0.0
        self._flush_s: float = 10.0
        self._flush_deadline: float | None = None
        self._topics = {k: topic(cfg.site, cfg.agent, k) for k in ("telemetry", "status", "health")}

    def _status(
        self, state: Literal["online", "offline", "health"], health: HealthReport | None = None
    ) -> bytes:
        return encode_status(
            Status(
                site=self.cfg.site,
                agent=self.cfg.agent,
                state=state,
                ts=self.clock.now_ns(),
                version=VERSION,
                health=health,
            )
        )

    def _flush_over(self, stop: asyncio.Event) -> bool:
        """After `stop`, keep delivering until the queue is empty or the flush time is up."""
        if not stop.is_set():
            return False
        if self._flush_deadline is None:
            self._flush_deadline = time.monotonic() + self._flush_s
        return time.monotonic() >= self._flush_deadline

    async def run(self, stop: asyncio.Event, flush_timeout_s: float = 10.0) -> None:
        """Deliver until `stop`; then flush what the broker accepts within `flush_timeout_s`."""
        self._flush_s, self._flush_deadline = flush_timeout_s, None
        broker = self.up.broker
        delay = broker.reconnect_min_s
        while not self._flush_over(stop):
            if stop.is_set() and not self.queue.stats().depth and self.stats.connects_total:
                return
            try:
                client = make_client(
                    broker,
                    self.cfg.client_id("up"),
                    will=aiomqtt.Will(self._topics["status"], self._status("offline"), qos=1, retain=True),
                    clean_session=True,
                    timeout=self.up.publish_timeout_s,
                    max_inflight_messages=self.up.max_inflight + 4,
                )
                async with client:
                    self.stats.connected = True
                    self.stats.connects_total += 1
                    delay = broker.reconnect_min_s
                    st = await self.db.run(self.queue.stats)
                    log.info(
                        "upstream connected to %s; %d readings buffered, %d batches awaiting ack (resent first)",
                        broker.describe(),
                        st.depth,
                        st.sealed_batches,
                    )
                    await client.publish(self._topics["status"], self._status("online"), qos=1, retain=True)
                    await self._session(client, stop)
                    with contextlib.suppress(aiomqtt.MqttError):
                        await client.publish(
                            self._topics["status"], self._status("offline"), qos=1, retain=True, timeout=2
                        )
                    return
            except aiomqtt.MqttError as exc:
                self.stats.last_error = str(exc)
                lost = self.stats.connected
                self.stats.connected = False
                depth = self.queue.stats().depth
                what = "lost" if lost else "unreachable"
                log.warning(
                    "upstream %s %s: %s; %d readings buffered on disk, retry in %.1fs",
                    broker.describe(),
                    what,
                    exc,
                    depth,
                    delay,
                )
            if stop.is_set():
                assert self._flush_deadline is not None
                await asyncio.sleep(max(0.0, min(delay, self._flush_deadline - time.monotonic())))
            else:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), delay)
            delay = min(delay * 2, broker.reconnect_max_s)
        st = self.queue.stats()
        if st.depth:
            log.warning(
                "stopped: %d readings stay buffered on disk and are sent after the next start", st.depth
            )

    async def _session(self, client: aiomqtt.Client, stop: asyncio.Event) -> None:
        """Run one connection until stopped and flushed; raises MqttError when it is lost."""
        watcher = asyncio.ensure_future(self._watch(client))
        sender = asyncio.ensure_future(self._send(client, stop))
        health = asyncio.ensure_future(self._health(client))
        try:
            done, _ = await asyncio.wait({watcher, sender}, return_when=asyncio.FIRST_COMPLETED)
            for t in done:
                t.result()  # re-raise MqttError from either
        finally:
            self.stats.connected = False
            for t in (watcher, sender, health):
                t.cancel()
            await asyncio.gather(watcher, sender, health, return_exceptions=True)

    @staticmethod
    async def _watch(client: aiomqtt.Client) -> None:
        """aiomqtt reports a lost connection through its message iterator."""
        async for _ in client.messages:
            pass
        raise aiomqtt.MqttError("message iterator ended")

    async def _health(self, client: aiomqtt.Client) -> None:
        while True:
            with contextlib.suppress(aiomqtt.MqttError):
                payload = self._status("health", self.health())
                await client.publish(self._topics["health"], payload, qos=1, retain=True)
            await asyncio.sleep(self.cfg.health_interval_s)

    async def _publish(self, client: aiomqtt.Client, b: SealedBatch) -> SealedBatch:
        payload = b.payload_for_send(self.clock.now_ns())
        await client.publish(self._topics["telemetry"], payload, qos=1)
        return b

    async def _next_batches(self, last_seq: int, room: int, stopping: bool) -> list[SealedBatch]:
        batches = await self.db.run(self.queue.unacked, last_seq, room)
        if batches:
            return batches
        st = self.queue.stats()
        due = time.monotonic() - self._last_seal >= self.up.batch_interval_s
        if st.pending_readings and (st.pending_readings >= self.up.batch_size or due or stopping):
            b = await self.db.run(self.queue.seal, self.up.batch_size)
            self._last_seal = time.monotonic()
            return [b] if b else []
        return []

    async def _send(self, client: aiomqtt.Client, stop: asyncio.Event) -> None:
        inflight: dict[asyncio.Future[SealedBatch], int] = {}
        last_seq = -1
        try:
            while not self._flush_over(stop):
                while len(inflight) < self.up.max_inflight:
                    room = self.up.max_inflight - len(inflight)
                    batches = await self._next_batches(last_seq, room, stop.is_set())
                    if not batches:
                        break
                    for b in batches:
                        await self._pace()
                        inflight[asyncio.ensure_future(self._publish(client, b))] = b.seq
                        last_seq = b.seq
                        self.stats.batches_sent_total += 1
                if stop.is_set() and not inflight and not self.queue.stats().depth:
                    return
                waiters: set[asyncio.Future[Any]] = set(inflight)
                wake: asyncio.Future[Any] | None = None
                if len(inflight) < self.up.max_inflight:
                    self.data_ready.clear()
                    wake = asyncio.ensure_future(self.data_ready.wait())
                    waiters.add(wake)
                await asyncio.wait(
                    waiters, timeout=min(self.up.batch_interval_s, 0.5), return_when="FIRST_COMPLETED"
                )
                if wake is not None:
                    wake.cancel()
                for fut in [f for f in inflight if f.done()]:
                    seq = inflight.pop(fut)
                    b = fut.result()  # MqttError (timeout/disconnect) ends the session
                    if await self.db.run(self.queue.ack, seq):
                        self.stats.batches_acked_total += 1
                        self.stats.readings_acked_total += b.n
        finally:
            for fut in inflight:
                fut.cancel()

    async def _pace(self) -> None:
        gap = 1.0 / self.up.replay_rate - (time.monotonic() - self._last_publish)
        if gap > 0:
            await asyncio.sleep(gap)
        self._last_publish = time.monotonic()
