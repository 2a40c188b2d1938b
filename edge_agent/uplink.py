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
from edge_agent.backoff import Backoff
from edge_agent.buffer import DiskQueue, SealedBatch
from edge_agent.config import AgentConfig
from edge_agent.dbthread import DbThread
from edge_agent.mqtt_connect import describe_mqtt_error
from edge_agent.retention import ControlHandler, Retention
from ops.mqtt_client import build_async_client as make_client
from ops.version import package_version

log = logging.getLogger("edge_agent.uplink")
VERSION = package_version()
CLEANUP_S = 1.0  # longest wait for a cancelled session task


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
        self.retention: Retention | None = None  # delivery hook: opened in run() on the DB thread
        self.control: ControlHandler | None = None

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

    def flush_until(self, deadline: float) -> None:
        """Set the flush deadline (monotonic) before setting `stop`: the caller's whole stop budget."""
        self._flush_deadline = deadline

    def _deadline(self) -> float:
        if self._flush_deadline is None:
            self._flush_deadline = time.monotonic() + self._flush_s
        return self._flush_deadline

    def _flush_over(self, stop: asyncio.Event) -> bool:
        """After `stop`, keep delivering until the queue is empty or the flush time is up."""
        return stop.is_set() and time.monotonic() >= self._deadline()

    def _has_work(self) -> bool:
        return bool(self.queue.unacked_readings)

    async def run(self, stop: asyncio.Event, flush_timeout_s: float = 10.0) -> None:
        """Deliver until `stop`; then flush what the broker accepts within `flush_timeout_s`.

        Returns at once after `stop` when nothing is buffered."""
        self._flush_s = flush_timeout_s
        if self.retention is None:  # delivery hook (edge_agent/retention.py)
            self.retention = await self.db.run(Retention, self.queue, self.cfg.buffer.retention)
            self.control = ControlHandler(self.cfg.site, self.cfg.agent, self.db, self.retention, self.clock)
        broker = self.up.broker
        backoff = Backoff(broker.reconnect_min_s, broker.reconnect_max_s)
        while not self._flush_over(stop):
            if stop.is_set() and not self._has_work():
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
                    self.stats.last_error = None
                    backoff.reset()
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
                            self._topics["status"], self._status("offline"), qos=1, retain=True, timeout=1
                        )
                    break
            except aiomqtt.MqttError as exc:
                reason = describe_mqtt_error(exc)
                self.stats.last_error = reason
                lost = self.stats.connected
                self.stats.connected = False
                delay = backoff.next()
                await self.db.run(self.retention.trim)  # delivery hook: the queue may need the room
                log.warning(
                    "upstream %s %s: %s; %d readings buffered on disk, retry in %.1fs",
                    broker.describe(),
                    "lost" if lost else "unreachable",
                    reason,
                    self.queue.unacked_readings,
                    delay,
                )
                await self._pause(stop, delay)
        st = self.queue.stats()
        if st.depth:
            log.warning(
                "stopped: %d readings stay buffered on disk and are sent after the next start", st.depth
            )

    async def _pause(self, stop: asyncio.Event, delay: float) -> None:
        """Sleep `delay`, cut short by `stop` (and, once stopping, by the flush deadline)."""
        if not stop.is_set():
            waiter = asyncio.ensure_future(stop.wait())
            try:
                await asyncio.wait({waiter}, timeout=delay)
            finally:
                waiter.cancel()
            if not stop.is_set() or not self._has_work():
                return
        await asyncio.sleep(max(0.0, min(delay, self._deadline() - time.monotonic())))

    async def _session(self, client: aiomqtt.Client, stop: asyncio.Event) -> None:
        """Run one connection until stopped and flushed; raises MqttError when it is lost.

        Clean-up waits a bounded time: a task that swallowed its cancellation (Python 3.11's
        `asyncio.wait_for` can) must not hold the shutdown forever, and `over` stops the
        health loop even then."""
        over = asyncio.Event()
        assert self.control is not None
        await self.control.subscribe(client)  # delivery hook: durable / resend
        watcher = asyncio.ensure_future(self._watch(client))
        sender = asyncio.ensure_future(self._send(client, stop))
        health = asyncio.ensure_future(self._health(client, over))
        try:
            done, _ = await asyncio.wait({watcher, sender}, return_when=asyncio.FIRST_COMPLETED)
            for t in done:
                t.result()  # re-raise MqttError from either
        finally:
            over.set()
            self.stats.connected = False
            tasks = {watcher, sender, health}
            for t in tasks:
                t.cancel()
            self.control.cancel()
            _, stuck = await asyncio.wait(tasks, timeout=CLEANUP_S)
            if stuck:
                log.debug("upstream session clean-up: %d task(s) still finishing", len(stuck))

    async def _watch(self, client: aiomqtt.Client) -> None:
        """aiomqtt reports a lost connection through its message iterator; messages are control."""
        assert self.control is not None
        async for message in client.messages:
            await self.control.handle(client, message)
        raise aiomqtt.MqttError("message iterator ended")

    async def _health(self, client: aiomqtt.Client, over: asyncio.Event) -> None:
        while not over.is_set():
            with contextlib.suppress(aiomqtt.MqttError):
                payload = self._status("health", self.health())
                await client.publish(self._topics["health"], payload, qos=1, retain=True)
            if over.is_set():
                return
            waiter = asyncio.ensure_future(over.wait())
            try:
                await asyncio.wait({waiter}, timeout=self.cfg.health_interval_s)
            finally:
                waiter.cancel()

    async def _publish(self, client: aiomqtt.Client, b: SealedBatch) -> SealedBatch:
        payload = b.payload_for_send(self.clock.now_ns())
        await client.publish(self._topics["telemetry"], payload, qos=1)
        return b

    async def _next_batches(
        self, last_seq: int, room: int, stopping: bool, replaying: bool
    ) -> tuple[list[SealedBatch], bool]:
        """Unacknowledged batches first (a replay, paced); then a new batch when one is full,
        when `batch_interval_s` passed since the last seal, or when stopping."""
        if replaying:
            batches = await self.db.run(self.queue.unacked, last_seq, room)
            if batches:
                return batches, True
        pending = self.queue.pending_readings
        due = time.monotonic() - self._last_seal >= self.up.batch_interval_s
        if pending and (pending >= self.up.batch_size or due or stopping):
            b = await self.db.run(self.queue.seal, self.up.batch_size)
            self._last_seal = time.monotonic()
            return ([b] if b else []), False
        return [], False

    async def _send(self, client: aiomqtt.Client, stop: asyncio.Event) -> None:
        inflight: dict[asyncio.Future[SealedBatch], int] = {}
        last_seq = -1
        replaying = True  # until the batches left from before this connection are out
        try:
            while not self._flush_over(stop):
                while len(inflight) < self.up.max_inflight:
                    room = self.up.max_inflight - len(inflight)
                    batches, replaying = await self._next_batches(last_seq, room, stop.is_set(), replaying)
                    if not batches:
                        break
                    for b in batches:
                        if replaying:
                            await self._pace()
                        inflight[asyncio.ensure_future(self._publish(client, b))] = b.seq
                        last_seq = b.seq
                        self.stats.batches_sent_total += 1
                if stop.is_set() and not inflight and not self.queue.unacked_readings:
                    return
                waiters: set[asyncio.Future[Any]] = set(inflight)
                wakers: list[asyncio.Future[Any]] = []
                if not stop.is_set():
                    wakers.append(asyncio.ensure_future(stop.wait()))
                if len(inflight) < self.up.max_inflight:
                    self.data_ready.clear()
                    wakers.append(asyncio.ensure_future(self.data_ready.wait()))
                waiters.update(wakers)
                try:
                    await asyncio.wait(
                        waiters, timeout=min(self.up.batch_interval_s, 0.5), return_when="FIRST_COMPLETED"
                    )
                finally:
                    for w in wakers:
                        w.cancel()
                for fut in [f for f in inflight if f.done()]:
                    seq = inflight.pop(fut)
                    b = fut.result()  # MqttError (timeout/disconnect) ends the session
                    assert self.retention is not None  # delivery hook: PUBACK → retained window
                    if await self.db.run(self.retention.keep, seq):
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
