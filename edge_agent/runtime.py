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
from collections.abc import Awaitable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from contract.clock import Clock
from contract.telemetry import HealthReport
from edge_agent.buffer import DiskQueue, PutResult, QueueStats
from edge_agent.config import AgentConfig, Subscription
from edge_agent.dbthread import DbThread
from edge_agent.metrics import Metric, MetricsServer, render
from edge_agent.normalise import ChangeFilter, Normaliser, Reject
from edge_agent.quarantine import Quarantine
from edge_agent.samples import Sample
from edge_agent.southbound.formats import MqttDecoder, PayloadError
from edge_agent.uplink import Uplink

log = logging.getLogger("edge_agent")
DROP_LOG_INTERVAL_S = 10.0


@dataclass
class MqttDeviceStats:
    messages_ok: int = 0
    last_ok_ts: int | None = None


@dataclass
class Counters:
    readings_in_total: int = 0
    readings_queued_total: int = 0
    rejects_total: int = 0
    mqtt_devices: dict[str, MqttDeviceStats] = field(default_factory=dict)


def agent_clock(cfg: AgentConfig) -> Clock:
    return cfg.clock.build()


class Agent:
    def __init__(self, cfg: AgentConfig, clock: Clock | None = None, profiles: dict[str, Any] | None = None):
        self.cfg = cfg
        self.clock = clock or agent_clock(cfg)
        self.tz = zoneinfo.ZoneInfo(cfg.timezone)
        self.mqtt_decoder = MqttDecoder(self.tz)  # remembers Zigbee2MQTT discovery; counts skips
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
        self.poller: Any = None
        self.south: Any = None
        self._snapshot: QueueStats | None = None
        self._pending_drops: dict[str, int] = {}
        self._last_drop_log = 0.0

    # ------------------------------------------------------------ the sink

    async def sink(self, samples: Sequence[Sample]) -> None:
        """The `SampleSink` every source calls: returns once the readings are on disk."""
        assert self.queue is not None
        self.counters.readings_in_total += len(samples)
        readings, rejects = self.normaliser.normalise(samples)
        for rej in rejects:
            await self._quarantine_reject(rej)
        if readings:
            result = await self.db.run(self.queue.put, readings)
            self.counters.readings_queued_total += result.accepted
            self._note_drops(result)
            assert self.uplink is not None
            self.uplink.data_ready.set()

    async def _quarantine_reject(self, rej: Reject) -> None:
        assert self.quarantine is not None
        self.counters.rejects_total += 1
        s = rej.sample
        payload = json.dumps({k: v for k, v in asdict(s).items()}, ensure_ascii=False, default=str).encode()
        await self.db.run(self.quarantine.add, "normalise", f"{s.device}/{s.point}", rej.reason, payload)
        log.warning("sample %s/%s quarantined: %s", s.device, s.point, rej.reason)

    def _note_drops(self, result: PutResult) -> None:
        for reason, n in result.dropped.items():
            self._pending_drops[reason] = self._pending_drops.get(reason, 0) + n
        self._log_drops()

    def _log_drops(self, force: bool = False) -> None:
        if not self._pending_drops:
            return
        now = time.monotonic()
        if not force and now - self._last_drop_log < DROP_LOG_INTERVAL_S:
            return
        self._last_drop_log = now
        what = ", ".join(f"{n} ({reason})" for reason, n in sorted(self._pending_drops.items()))
        log.warning(
            "buffer %s: dropped readings %s — buffer limit %d bytes / %.0fs, policy %s",
            self.cfg.buffer.path,
            what,
            self.cfg.buffer.max_bytes,
            self.cfg.buffer.max_age_s,
            self.cfg.buffer.overflow,
        )
        self._pending_drops.clear()

    # ------------------------------------------------------------ MQTT sensors

    async def handle_mqtt(self, sub: Subscription, topic: str, payload: bytes, received_ns: int) -> None:
        """Decode one sensor message; anything unusable is quarantined with its reason."""
        assert self.quarantine is not None
        try:
            decoded = self.mqtt_decoder.decode(sub, topic, payload, received_ns)
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
        if decoded.samples:
            dev = self.counters.mqtt_devices.setdefault(decoded.samples[0].device, MqttDeviceStats())
            dev.messages_ok += 1
            dev.last_ok_ts = received_ns
            await self.sink(decoded.samples)

    async def _quarantine_mqtt(self, topic: str, reason: str, payload: bytes) -> None:
        assert self.quarantine is not None
        await self.db.run(self.quarantine.add, "mqtt", topic, reason, payload)
        log.warning("payload on %s quarantined: %s", topic, reason)

    # ------------------------------------------------------------ health

    def health(self) -> HealthReport:
        st = self._snapshot or (self.queue.stats() if self.queue else None)
        devices: dict[str, dict[str, Any]] = {}
        if self.poller is not None:
            devices.update(_poller_devices(self.poller.stats()))
        for dev_id, d in self.counters.mqtt_devices.items():
            devices[dev_id] = {
                "polls_ok": d.messages_ok,
                "polls_failed": 0,
                "last_ok_ts": d.last_ok_ts,
                "state": "ok",
                "protocol": "mqtt",
            }
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
            uplink_connected=bool(self.uplink and self.uplink.stats.connected),
            mqtt_decoding=self.mqtt_decoder.stats.summary(),  # skips by rule, unknown keys, names
        )

    def metrics(self) -> list[Metric]:
        h = self.health()
        up = self.uplink.stats if self.uplink else None
        st = self._snapshot
        out = [
            Metric(
                "campus_agent_queue_depth",
                "gauge",
                "Readings buffered on disk, not yet acknowledged",
                (({}, h.queue_depth),),
            ),
            Metric(
                "campus_agent_queue_bytes",
                "gauge",
                "Bytes of buffered readings",
                (({}, st.bytes if st else 0),),
            ),
            Metric(
                "campus_agent_oldest_unsent_age_seconds",
                "gauge",
                "Age of the oldest unacknowledged reading",
                (({}, h.oldest_unsent_age_s or 0.0),),
            ),
            Metric(
                "campus_agent_dropped_readings_total",
                "counter",
                "Readings dropped by buffer limits",
                tuple(({"reason": r}, float(n)) for r, n in (st.dropped.items() if st else ())),
            ),
            Metric(
                "campus_agent_quarantined_total",
                "counter",
                "Payloads/samples quarantined",
                (({}, h.quarantined_total),),
            ),
            Metric(
                "campus_agent_readings_in_total",
                "counter",
                "Samples received from sources",
                (({}, self.counters.readings_in_total),),
            ),
            Metric(
                "campus_agent_uplink_connected",
                "gauge",
                "1 when connected upstream",
                (({}, 1.0 if up and up.connected else 0.0),),
            ),
            Metric(
                "campus_agent_batches_acked_total",
                "counter",
                "Batches acknowledged by the broker",
                (({}, up.batches_acked_total if up else 0),),
            ),
            Metric(
                "campus_agent_readings_acked_total",
                "counter",
                "Readings acknowledged by the broker",
                (({}, up.readings_acked_total if up else 0),),
            ),
            Metric(
                "campus_agent_device_polls_total",
                "counter",
                "Polls/messages per device and outcome",
                tuple(
                    (({"device": d, "outcome": o}, float(v.get(f"polls_{o}", 0) or 0)))
                    for d, v in sorted(h.devices.items())
                    for o in ("ok", "failed")
                ),
            ),
        ]
        return out

    def metrics_text(self) -> str:
        return render(self.metrics())

    # ------------------------------------------------------------ lifecycle

    async def _housekeeping(self, stop: asyncio.Event) -> None:
        assert self.queue is not None
        expire_every = min(60.0, max(1.0, self.cfg.buffer.max_age_s / 10))
        last_expire = 0.0
        while not stop.is_set():
            if time.monotonic() - last_expire >= expire_every:
                n = await self.db.run(self.queue.expire)
                if n:
                    self._pending_drops["expired"] = self._pending_drops.get("expired", 0) + n
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
                server = MetricsServer(self.cfg.metrics.listen, self.metrics_text)
                server.start()
            except OSError as exc:
                log.error("metrics endpoint %s not started: %s", self.cfg.metrics.listen, exc)
        sources: list[Awaitable[None]] = []
        if self.cfg.modbus:
            self.poller = self._make_poller()
            sources.append(self.poller.run(stop))
        if self.cfg.mqtt and self.cfg.mqtt.subscriptions:
            from edge_agent.southbound.mqtt import MqttSouth

            self.south = MqttSouth(self.cfg, self.handle_mqtt, self.clock)
            sources.append(self.south.run(stop))
        flush = asyncio.Event()
        uplink = asyncio.ensure_future(self.uplink.run(flush, flush_timeout_s))
        house = asyncio.ensure_future(self._housekeeping(flush))
        try:
            results = await asyncio.gather(*sources, return_exceptions=True)
            for r in results:
                if isinstance(r, BaseException) and not isinstance(r, asyncio.CancelledError):
                    log.error("a source stopped with an error: %r", r)
            if not sources:
                await stop.wait()
            log.info("sources stopped; flushing upstream (at most %.0fs)", flush_timeout_s)
            flush.set()
            await uplink
        finally:
            flush.set()
            uplink.cancel()
            await asyncio.gather(uplink, house, return_exceptions=True)
            self._log_drops(force=True)
            if self.poller is not None:
                self.poller.close()
            if server is not None:
                server.stop()
            await self.close()
            log.info("agent stopped")

    def _make_poller(self) -> Any:
        from device_profiles.loader import LIBRARY_DIR, load_library
        from edge_agent.modbus.poller import ModbusPoller

        profiles = self.profiles or load_library([LIBRARY_DIR, *self.cfg.profile_dirs])
        return ModbusPoller(self.cfg.modbus, profiles, self.sink, self.clock)


def _poller_devices(stats: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The poller's per-device `DeviceStats` as plain dicts for the health report."""
    return {str(dev_id): {**s.as_dict(), "protocol": "modbus"} for dev_id, s in stats.items()}
