"""The agent process: sources (edge_agent/sources/: Modbus, MQTT, lines …) → normaliser → disk
queue → uplink.

The runtime knows no protocol: it builds the configured sources from the registry
(`build_sources`), gives them the sink and the quarantine, and runs each, the uplink and the
housekeeping under a `Supervisor` (a failing task is logged with its traceback and restarted;
one failing source never stops the others; an essential task that cannot be kept running stops
the agent with a failure, so `agent run` exits non-zero).

Shutdown order matters for "nothing lost": sources stop first, then the uplink flushes what the
broker accepts within a bound, then the databases close. Whatever is not acknowledged stays
in the queue file and goes out first after the next start.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import time
import zoneinfo
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

from contract.clock import Clock, ClockWatch
from contract.telemetry import HealthReport
from edge_agent.buffer import DiskQueue, Drops, QueueStats
from edge_agent.clock_doubt import mark_doubtful
from edge_agent.config import AgentConfig
from edge_agent.dbthread import DbThread
from edge_agent.device_health import DeviceHealth
from edge_agent.metrics import AgentSnapshot, LinkState, agent_registry
from edge_agent.normalise import ChangeFilter, Normaliser, Reject
from edge_agent.samples import Sample
from edge_agent.sources import Source, SourceContext, build_sources
from edge_agent.supervise import Supervisor
from edge_agent.uplink import Uplink
from ops.metrics import serve_metrics
from ops.quarantine import Quarantine

log = logging.getLogger("edge_agent")
DROP_LOG_INTERVAL_S = 10.0
FLUSH_GRACE_S = 0.2  # the uplink's flush ends this much before the stop's bound
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


def agent_clock(cfg: AgentConfig) -> Clock:
    return cfg.clock.build()


class Agent:
    def __init__(self, cfg: AgentConfig, clock: Clock | None = None, profiles: dict[str, Any] | None = None):
        self.cfg = cfg
        self.clock = clock or agent_clock(cfg)
        # the agent's wall clock vs monotonic time: notices steps (a demo clock runs `speed` × faster)
        self.clock_watch = ClockWatch(wall_ns=self.clock.now_ns, rate=cfg.clock.speed)
        self.tz = zoneinfo.ZoneInfo(cfg.timezone)
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
        self.supervisor = Supervisor()
        self.failure: str | None = None  # why the agent stopped on an error (exit code 1)
        context = SourceContext(
            site=cfg.site,
            agent=cfg.agent,
            timezone=cfg.timezone,
            clock=self.clock,
            sink=self.sink,
            quarantine=self._quarantine_source,
            profile_dirs=cfg.profile_dirs,
            profiles=profiles,
        )
        self.sources: list[Source] = build_sources(cfg, context)
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

    async def _quarantine_source(self, source: str, topic: str, reason: str, payload: bytes) -> None:
        """The `QuarantineSink` of every source: what it cannot decode, stored with the reason."""
        assert self.quarantine is not None
        await self.db.run(self.quarantine.add, source, topic, reason, payload)

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
        return out + [link for src in self.sources for link in src.links()]

    def health(self) -> HealthReport:
        st = self._snapshot or (self.queue.stats() if self.queue else None)
        devices: dict[str, dict[str, Any]] = {}
        extra: dict[str, Any] = {}
        for src in self.sources:
            devices.update(src.device_details())
            extra.update(src.report())
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
            **extra,  # each source's own fields (MQTT: `mqtt_decoding`)
            tasks={
                name: {"failures": t.failures_total, "last_error": t.last_error}
                for name, t in self.supervisor.tasks.items()
                if t.failures_total
            },
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
            overloaded={k: v for src in self.sources for k, v in src.overloaded().items()},
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

    async def run(self, stop: asyncio.Event, flush_timeout_s: float = 10.0) -> int:
        """Run until `stop` (or until every source's input ended, or an essential task cannot be
        kept running). Returns 0, or 1 when the agent stopped on an error (`failure` says why)."""
        await self.open()
        assert self.uplink is not None and self.queue is not None
        st = self._snapshot
        log.info(
            "agent %s/%s starting: %s, buffer %s (%d readings, next seq %d)",
            self.cfg.site,
            self.cfg.agent,
            ", ".join(f"source {src.name}" for src in self.sources) or "no sources",
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
        sup = self.supervisor
        flush = asyncio.Event()
        uplink = self.uplink
        up_task = sup.start("uplink", lambda: uplink.run(flush, flush_timeout_s), flush, essential=True)
        house = sup.start("housekeeping", lambda: self._housekeeping(flush), flush, essential=True)
        running = [
            sup.start(f"source {src.name}", functools.partial(src.run, stop), stop) for src in self.sources
        ]
        try:
            await _until_stopped_or_done(stop, running, sup.fatal_event)
            if sup.fatal is not None:
                self.failure = sup.fatal
                stop.set()
            # the whole stop fits in flush_timeout_s: sources get part of it, the flush the rest
            deadline = time.monotonic() + flush_timeout_s
            await _bounded(running, min(SOURCE_STOP_S, flush_timeout_s / 4), "sources")
            if self.queue.unacked_readings:
                log.info("sources stopped; flushing upstream (at most %.1fs)", deadline - time.monotonic())
            # the uplink aims to be done FLUSH_GRACE_S early, so that one finishing its last
            # PUBACK at its own deadline is not cancelled and the stop still ends by `deadline`
            self.uplink.flush_until(deadline - FLUSH_GRACE_S)
            flush.set()
            await _bounded([up_task], max(0.0, deadline - time.monotonic()), "upstream flush")
        finally:
            flush.set()
            await _bounded([*running, up_task, house], CLEANUP_S, "clean-up")
            self._log_drops(force=True)
            for src in self.sources:
                src.close()
            if server is not None:
                server.stop()
            await self.close()
            if self.failure is None and sup.fatal is not None:
                self.failure = sup.fatal
            if self.failure:
                log.error("agent stopped on an error: %s", self.failure)
            else:
                log.info("agent stopped")
        return 1 if self.failure else 0

    def source(self, name: str) -> Source | None:
        """A configured source by name (reports and tests look at its protocol-specific state)."""
        return next((src for src in self.sources if src.name == name), None)

    @property
    def poller(self) -> Any:
        """The Modbus poller, if configured (reports and tests look at its per-line state)."""
        return _attr_of(self.sources, "modbus", "poller")

    @property
    def south(self) -> Any:
        return _attr_of(self.sources, "mqtt", "south")


async def _until_stopped_or_done(
    stop: asyncio.Event, tasks: Sequence[asyncio.Future[None]], fatal: asyncio.Event
) -> None:
    """Wait for `stop`, for every source to end on its own (then there is nothing to wait for),
    or for an essential task that cannot be kept running (`fatal`)."""
    stopper = asyncio.ensure_future(stop.wait())
    failed = asyncio.ensure_future(fatal.wait())
    try:
        pending: set[asyncio.Future[Any]] = {*tasks, stopper, failed}
        while not stop.is_set() and not fatal.is_set() and (pending - {stopper, failed} or not tasks):
            _, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopper.cancel()
        failed.cancel()


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
