"""The agent process: sources (Modbus poller, MQTT sensors) → normaliser → disk queue → uplink.

Shutdown order matters for "nothing lost": sources stop first, then the uplink flushes what the
broker accepts within a bound, then the databases close. Whatever is not acknowledged stays
in the queue file and goes out first after the next start.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import zoneinfo
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from contract.clock import Clock, ClockWatch
from contract.telemetry import HealthReport, Quality
from contract.timestamps import DEFAULT_MAX_SKEW_S
from edge_agent.buffer import DiskQueue, Drops, QueueStats
from edge_agent.clock_doubt import mark_doubtful
from edge_agent.config import AgentConfig, Subscription
from edge_agent.dbthread import DbThread
from edge_agent.device_health import DeviceHealth
from edge_agent.metrics import AgentSnapshot, LinkState, agent_registry
from edge_agent.normalise import ChangeFilter, Normaliser, Reject
from edge_agent.samples import Sample
from edge_agent.sources import Source
from edge_agent.sources.mqtt.formats import MqttDecoder, PayloadError
from edge_agent.uplink import Uplink
from ops.metrics import serve_metrics
from ops.quarantine import Quarantine

log = logging.getLogger("edge_agent")
DROP_LOG_INTERVAL_S = 10.0
SOURCE_STOP_S = 3.0  # longest wait for a source to finish its current poll after stop
CLEANUP_S = 0.5  # longest wait for a cancelled task
BACKPRESSURE_MAX_S = 1.0  # longest wait of one sink call for the uplink to catch up
COMMIT_SPACING_S = 0.05  # group commit: at most one reading transaction (fsync) per this interval


@dataclass
class Counters:
    readings_in_total: int = 0
    readings_queued_total: int = 0
    rejects_total: int = 0
    commits_total: int = 0  # disk transactions for readings (group commit: fewer than sink calls)
    backpressure_waits_total: int = 0  # sink calls that waited for a connected uplink to catch up
    mqtt_devices: dict[str, DeviceHealth] = field(default_factory=dict)


def agent_clock(cfg: AgentConfig) -> Clock:
    return cfg.clock.build()


class Agent:
    def __init__(self, cfg: AgentConfig, clock: Clock | None = None, profiles: dict[str, Any] | None = None):
        self.cfg = cfg
        self.clock = clock or agent_clock(cfg)
        # the agent's wall clock vs monotonic time: notices steps (a demo clock runs `speed` × faster)
        self.clock_watch = ClockWatch(wall_ns=self.clock.now_ns, rate=cfg.clock.speed)
        self.tz = zoneinfo.ZoneInfo(cfg.timezone)
        skew = cfg.mqtt.max_clock_skew_s if cfg.mqtt is not None else DEFAULT_MAX_SKEW_S
        self.mqtt_decoder = MqttDecoder(self.tz, skew)  # remembers Zigbee2MQTT discovery; counts skips
        self.profiles = profiles
        changes = None
        if cfg.normalise.deadband:
            changes = ChangeFilter(cfg.normalise.deadband, int(cfg.normalise.max_silence_s * 1e9))
        self.normaliser = Normaliser(cfg.site, cfg.agent, changes)
        self.counters = Counters()
        self.db = DbThread()
        self.queue: DiskQueue | None = None
        self.quarantine: Quarantine | None = None
        self.uplink: Uplink | None = None
        self.sources: list[Source] = []
        self._snapshot: QueueStats | None = None
        self._commit_waiting: list[tuple[list[str], asyncio.Future[None]]] = []
        self._committer: asyncio.Future[None] | None = None
        self._last_commit = 0.0
        self._pending_drops: dict[str, int] = {}  # reason → readings lost since the last log line
        self._pending_given_up: dict[str, int] = {}  # reason → readings of sent batches given up
        self._last_drop_log = 0.0

    # ------------------------------------------------------------ the sink

    async def sink(self, samples: Sequence[Sample]) -> None:
        """The `SampleSink` every source calls: returns once the readings are on disk."""
        assert self.queue is not None
        self.counters.readings_in_total += len(samples)
        doubt, news = self.clock_watch.doubt()
        if news is not None:
            log.warning(news)
        samples = mark_doubtful(samples, doubt)
        readings, rejects = self.normaliser.rows(samples)
        for rej in rejects:
            await self._quarantine_reject(rej)
        if readings:
            await self._keep_pace_with_uplink()
            await self._group_commit(readings)

    async def _keep_pace_with_uplink(self) -> None:
        """Back-pressure while the broker is reachable but the uplink falls behind (more unsent
        readings than its in-flight window holds twice): the source waits, so a Modbus line
        polls less (and says it is overloaded) instead of spending the CPU the uplink needs
        on readings that would only pile up on disk. At most `BACKPRESSURE_MAX_S` per call;
        none while the broker is down (then buffering to disk is the point)."""
        assert self.queue is not None
        up = self.cfg.upstream
        limit = 2 * up.batch_size * up.max_inflight
        deadline = time.monotonic() + BACKPRESSURE_MAX_S
        counted = False
        while (
            self.uplink is not None
            and self.uplink.stats.connected
            and self.queue.pending_readings > limit
            and time.monotonic() < deadline
        ):
            if not counted:
                self.counters.backpressure_waits_total += 1
                counted = True
            await asyncio.sleep(0.02)

    async def _group_commit(self, readings: list[str]) -> None:
        """Queue `readings` durably, sharing one transaction (one fsync) with every other sink
        call that arrives while a commit is running: all devices of a poll cycle land together,
        and a caller still returns only once its readings are on disk."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._commit_waiting.append((readings, done))
        if self._committer is None or self._committer.done():
            self._committer = asyncio.ensure_future(self._commit_loop())
        await done

    async def _commit_loop(self) -> None:
        """Commits start at most every `COMMIT_SPACING_S`: samples arriving meanwhile join the
        next transaction, so a busy agent pays one fsync and one thread hand-off per ~50 ms,
        not per poll (the SIGKILL window grows by at most that spacing's readings)."""
        assert self.queue is not None and self.uplink is not None
        while self._commit_waiting:
            wait = self._last_commit + COMMIT_SPACING_S - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            self._last_commit = time.monotonic()
            group, self._commit_waiting = self._commit_waiting, []
            rows = [r for readings, _ in group for r in readings]
            try:
                result = await self.db.run(self.queue.put_rows, rows)
            except Exception as exc:
                for _, fut in group:
                    if not fut.done():
                        fut.set_exception(exc)
                continue
            self.counters.readings_queued_total += result.accepted
            self.counters.commits_total += 1
            self._note_drops(result.drops)
            self.uplink.data_ready.set()
            for _, fut in group:
                if not fut.done():
                    fut.set_result(None)

    async def _quarantine_reject(self, rej: Reject) -> None:
        assert self.quarantine is not None
        self.counters.rejects_total += 1
        s = rej.sample
        payload = json.dumps({k: v for k, v in asdict(s).items()}, ensure_ascii=False, default=str).encode()
        await self.db.run(self.quarantine.add, "normalise", f"{s.device}/{s.point}", rej.reason, payload)
        log.warning("sample %s/%s quarantined: %s", s.device, s.point, rej.reason)

    def _note_drops(self, drops: Drops) -> None:
        for mine, theirs in ((self._pending_drops, drops.dropped), (self._pending_given_up, drops.given_up)):
            for reason, n in theirs.items():
                mine[reason] = mine.get(reason, 0) + n
        self._log_drops()

    def _log_drops(self, force: bool = False) -> None:
        if not (self._pending_drops or self._pending_given_up):
            return
        now = time.monotonic()
        if not force and now - self._last_drop_log < DROP_LOG_INTERVAL_S:
            return
        self._last_drop_log = now
        limits = (
            f"buffer limit {self.cfg.buffer.max_bytes} bytes / {self.cfg.buffer.max_age_s:.0f}s, "
            f"policy {self.cfg.buffer.overflow}"
        )
        if self._pending_drops:
            what = ", ".join(f"{n} ({reason})" for reason, n in sorted(self._pending_drops.items()))
            log.warning("buffer %s: dropped readings %s — %s", self.cfg.buffer.path, what, limits)
        if self._pending_given_up:
            what = ", ".join(f"{n} ({reason})" for reason, n in sorted(self._pending_given_up.items()))
            log.warning(
                "buffer %s: gave up sent batches not yet confirmed, readings %s — counted as dropped "
                "only if ingest asks for them (the broker may have them) — %s",
                self.cfg.buffer.path,
                what,
                limits,
            )
        self._pending_drops.clear()
        self._pending_given_up.clear()

    # ------------------------------------------------------------ MQTT sensors

    async def handle_mqtt(
        self, sub: Subscription, topic: str, payload: bytes, received_ns: int, retained: bool = False
    ) -> None:
        """Decode one sensor message; anything unusable is quarantined with its reason. A
        retained message of unknown age is stored uncertain and does not show its device UP."""
        assert self.quarantine is not None
        try:
            decoded = self.mqtt_decoder.decode(sub, topic, payload, received_ns, retained)
        except PayloadError as exc:
            await self._quarantine_mqtt(topic, str(exc), payload)
            return
        except Exception as exc:  # a decoder bug must not stop the agent: keep the evidence
            log.exception("decoder failure on topic %s", topic)
            await self._quarantine_mqtt(topic, f"internal decoder error: {exc!r}", payload)
            return
        if decoded.ignored:
            return
        if decoded.problems:
            await self._quarantine_mqtt(topic, "; ".join(decoded.problems), payload)
        if decoded.samples and not decoded.fresh:
            await self.sink(decoded.samples)
        elif decoded.samples:
            name = decoded.samples[0].device
            dev = self.counters.mqtt_devices.get(name)
            if dev is None:
                dev = self.counters.mqtt_devices[name] = DeviceHealth(name, "mqtt")
                dev.expected_every_s, dev.silent_after_s = sub.expected_every_s, sub.silent_after_s
            bad = [s.point for s in decoded.samples if s.quality is Quality.BAD]
            reason = next((s.reason for s in decoded.samples if s.reason), None)
            line = dev.record(received_ns, True, bad, len(decoded.samples), reason)
            if line is not None:
                log.info(line)
            await self.sink(decoded.samples)

    async def _quarantine_mqtt(self, topic: str, reason: str, payload: bytes) -> None:
        assert self.quarantine is not None
        await self.db.run(self.quarantine.add, "mqtt", topic, reason, payload)
        log.warning("payload on %s quarantined: %s", topic, reason)

    # ------------------------------------------------------------ health

    def device_health(self) -> list[DeviceHealth]:
        return [d for src in self.sources for d in src.health()]

    def links(self) -> list[LinkState]:
        """The broker connections the config needs, for `/metrics` and the health message."""
        up = self.uplink.stats if self.uplink else None
        out = [
            LinkState(
                "upstream",
                self.cfg.upstream.broker.describe(),
                bool(up and up.connected),
                up.connects_total if up else 0,
                up.last_error if up else None,
            )
        ]
        if self.cfg.mqtt and self.cfg.mqtt.subscriptions:
            south = self.south.stats if self.south is not None else None
            out.append(
                LinkState(
                    "sensors",
                    self.cfg.mqtt.broker.describe(),
                    bool(south and south.connected),
                    south.connects_total if south else 0,
                    south.last_error if south else None,
                )
            )
        return out

    def health(self) -> HealthReport:
        st = self._snapshot or (self.queue.stats() if self.queue else None)
        devices: dict[str, dict[str, Any]] = {}
        if self.poller is not None:
            devices.update(_poller_devices(self.poller.stats()))
        for d in self.device_health():
            devices[d.device] = {**devices.get(d.device, {}), **d.as_dict()}
        age = None
        if st and st.oldest_enq_ns is not None:
            age = max(0.0, (time.time_ns() - st.oldest_enq_ns) / 1e9)
        return HealthReport(
            queue_depth=st.depth if st else 0,
            oldest_unsent_age_s=age,
            dropped_total=st.dropped_total if st else 0,
            quarantined_total=self.quarantine.total if self.quarantine else 0,
            devices=devices,
            dropped=dict(st.dropped) if st else {},
            given_up_batches=st.given_up_batches if st else 0,
            uplink_connected=bool(self.uplink and self.uplink.stats.connected),
            mqtt_decoding=self.mqtt_decoder.stats.summary(),  # skips by rule, unknown keys, names
            brokers={
                link.role: {
                    "address": link.address,
                    "connected": link.connected,
                    "last_reason": link.last_reason,
                }
                for link in self.links()
            },
        )

    def snapshot(self) -> AgentSnapshot:
        """What `/metrics` shows, read in the HTTP thread: only plain values, no I/O."""
        st = self._snapshot
        up = self.uplink.stats if self.uplink else None
        age = 0.0
        if st and st.oldest_enq_ns is not None:
            age = max(0.0, (time.time_ns() - st.oldest_enq_ns) / 1e9)
        return AgentSnapshot(
            queue_depth=st.depth if st else 0,
            queue_bytes=st.bytes if st else 0,
            oldest_unsent_age_s=age,
            dropped=dict(st.dropped) if st else {},
            given_up_batches=st.given_up_batches if st else 0,
            quarantined_total=self.quarantine.total if self.quarantine else 0,
            readings_in_total=self.counters.readings_in_total,
            batches_acked_total=up.batches_acked_total if up else 0,
            readings_acked_total=up.readings_acked_total if up else 0,
            devices=self.device_health(),
            links=self.links(),
            overloaded=self.poller.overloaded_links() if self.poller is not None else {},
            commits_total=self.counters.commits_total,
            backpressure_waits_total=self.counters.backpressure_waits_total,
            retention=replace(ret.stats) if (ret := self.uplink and self.uplink.retention) else None,
            next_seq=self.queue.next_seq if self.queue else 0,
        )

    # ------------------------------------------------------------ lifecycle

    async def _housekeeping(self, stop: asyncio.Event) -> None:
        assert self.queue is not None
        expire_every = min(60.0, max(1.0, self.cfg.buffer.max_age_s / 10))
        last_expire = 0.0
        while not stop.is_set():
            if time.monotonic() - last_expire >= expire_every:
                self._note_drops(await self.db.run(self.queue.expire))
                last_expire = time.monotonic()
            self._snapshot = await self.db.run(self.queue.stats)
            self._log_drops()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 1.0)

    async def open(self) -> None:
        c = self.cfg
        self.queue = await self.db.run(
            DiskQueue,
            c.buffer.path,
            c.site,
            c.agent,
            c.buffer.max_bytes,
            c.buffer.max_age_s,
            c.buffer.overflow,
        )
        self.quarantine = await self.db.run(Quarantine, c.quarantine_path, c.quarantine.max_records)
        self._snapshot = await self.db.run(self.queue.stats)
        self.uplink = Uplink(c, self.queue, self.db, self.clock, self.health)

    async def close(self) -> None:
        if self.queue is not None:
            await self.db.run(self.queue.close)
        if self.quarantine is not None:
            await self.db.run(self.quarantine.close)
        self.db.close()

    async def run(self, stop: asyncio.Event, flush_timeout_s: float = 10.0) -> None:
        await self.open()
        assert self.uplink is not None and self.queue is not None
        st = self._snapshot
        log.info(
            "agent %s/%s starting: %d modbus devices, %d mqtt subscriptions, buffer %s (%d readings, next seq %d)",
            self.cfg.site,
            self.cfg.agent,
            len(self.cfg.modbus),
            len(self.cfg.mqtt.subscriptions) if self.cfg.mqtt else 0,
            self.cfg.buffer.path,
            st.depth if st else 0,
            st.next_seq if st else 0,
        )
        server = None
        if self.cfg.metrics.listen:
            try:
                server = serve_metrics(self.cfg.metrics.listen, agent_registry(self.snapshot))
            except OSError as exc:
                log.error("metrics endpoint %s not started: %s", self.cfg.metrics.listen, exc)
        self.sources = self._build_sources()
        flush = asyncio.Event()
        uplink = asyncio.ensure_future(self.uplink.run(flush, flush_timeout_s))
        house = asyncio.ensure_future(self._housekeeping(flush))
        running = [asyncio.ensure_future(src.run(stop)) for src in self.sources]
        try:
            await _until_stopped_or_done(stop, running)
            # the whole stop fits in flush_timeout_s: sources get part of it, the flush the rest
            deadline = time.monotonic() + flush_timeout_s
            await _bounded(running, min(SOURCE_STOP_S, flush_timeout_s / 4), "sources")
            for t in running:
                if t.done() and not t.cancelled() and t.exception() is not None:
                    log.error("a source stopped with an error: %r", t.exception())
            if self.queue.unacked_readings:
                log.info("sources stopped; flushing upstream (at most %.1fs)", deadline - time.monotonic())
            self.uplink.flush_until(deadline)
            flush.set()
            await _bounded([uplink], max(0.0, deadline - time.monotonic()) + 0.2, "upstream flush")
        finally:
            flush.set()
            await _bounded([*running, uplink, house], CLEANUP_S, "clean-up")
            self._log_drops(force=True)
            for src in self.sources:
                src.close()
            if server is not None:
                server.stop()
            await self.close()
            log.info("agent stopped")

    def _build_sources(self) -> list[Source]:
        """The configured sources; each protocol is a plugin in edge_agent/sources/."""
        out: list[Source] = []
        if self.cfg.modbus:
            from edge_agent.profiles import load_profiles, search_dirs
            from edge_agent.sources.modbus.source import ModbusSource

            profiles = self.profiles or load_profiles(search_dirs(self.cfg.profile_dirs)).profiles
            out.append(ModbusSource(self.cfg.modbus, profiles, self.sink, self.clock))
        if self.cfg.mqtt and self.cfg.mqtt.subscriptions:
            from edge_agent.sources.mqtt.source import MqttSource

            out.append(MqttSource(self.cfg, self.handle_mqtt, self.clock, self.counters.mqtt_devices))
        return out

    @property
    def poller(self) -> Any:
        """The Modbus poller, if configured (reports and tests look at its per-line state)."""
        return _attr_of(self.sources, "modbus", "poller")

    @property
    def south(self) -> Any:
        return _attr_of(self.sources, "mqtt", "south")


def _poller_devices(stats: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The poller's per-device `DeviceStats` as plain dicts for the health report."""
    return {str(dev_id): {**s.as_dict(), "protocol": "modbus"} for dev_id, s in stats.items()}


async def _until_stopped_or_done(stop: asyncio.Event, tasks: Sequence[asyncio.Future[None]]) -> None:
    """Wait for `stop`, or for every source to end on its own (then there is nothing to wait for)."""
    stopper = asyncio.ensure_future(stop.wait())
    try:
        pending: set[asyncio.Future[Any]] = {*tasks, stopper}
        while not stop.is_set() and (pending - {stopper} or not tasks):
            _, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopper.cancel()


async def _bounded(tasks: Sequence[asyncio.Future[Any]], timeout_s: float, what: str) -> None:
    """Wait for `tasks` at most `timeout_s`, then cancel the rest and wait at most CLEANUP_S more.

    Never an unbounded gather: a task that swallows its cancellation cannot hang the stop."""
    live = [t for t in tasks if not t.done()]
    if not live:
        return
    _, pending = await asyncio.wait(live, timeout=timeout_s)
    if not pending:
        return
    log.warning("%s did not finish within %.1fs; cancelled", what, timeout_s)
    for t in pending:
        t.cancel()
    await asyncio.wait(pending, timeout=CLEANUP_S)


def _attr_of(sources: Sequence[Source], name: str, attr: str) -> Any:
    """A protocol-specific object of a named source (without importing its module)."""
    for src in sources:
        if src.name == name:
            return getattr(src, attr, None)
    return None
