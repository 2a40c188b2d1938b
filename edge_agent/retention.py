"""The retained-after-PUBACK window: sent batches kept until ingest says they are *stored*.

A PUBACK only means the broker has a batch; the broker can still lose it (killed with messages
queued in memory, disk wiped, a shared subscription with nobody connected). So on PUBACK a
batch moves from the disk queue's `batches` to `retained` in the same SQLite file and the
same transaction, and leaves only when ingest's retained `durable` message (contract/delivery.py)
covers its seq. Ingest asks for a gap with `resend`; we republish what we retain (same payload,
same seq: idempotent) and answer `gone` for the rest.

Bounds: the window is part of the disk buffer's budget — it holds at most
`min(retention.max_bytes, buffer.max_bytes − bytes still queued)` and `retention.max_age_s`;
retained copies are the first thing given up when the queue needs the room (they already
reached the broker once). A batch evicted before it was confirmed is given up to the queue's
tombstones (buffer.py, reason `retention_gone`), like a sealed batch the queue itself had to
remove; if ingest later asks for one, its readings are counted as dropped with the reason it was
given up for and reported in the `gone` answer — a loss is never silent, and batches that were
stored after all cost nothing.

Runs on the agent's DB thread (like DiskQueue, not thread-safe).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import aiomqtt
from pydantic import BaseModel, ConfigDict, Field

from contract.clock import Clock
from contract.delivery import (
    CONTROL_KINDS,
    Durable,
    Gone,
    Resend,
    control_topic,
    decode_control,
    encode_control,
)
from contract.sqlite_tx import immediate
from contract.telemetry import TelemetryError, topic
from edge_agent.buffer import DiskQueue, SealedBatch
from edge_agent.dbthread import DbThread

log = logging.getLogger("edge_agent.retention")

RETENTION_DROP = "retention_gone"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS retained(
    seq INTEGER PRIMARY KEY,
    enq_ns INTEGER NOT NULL,
    sent_ns INTEGER NOT NULL,
    kept_ns INTEGER NOT NULL,     -- PUBACK time: the age bound counts from here
    n INTEGER NOT NULL,
    payload BLOB NOT NULL
);
"""


class RetentionConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    max_bytes: int = Field(
        default=64 * 1024 * 1024, ge=0, description="never more than what the buffer budget leaves free"
    )
    max_age_s: float = Field(default=6 * 3600, gt=0, description="since the broker's PUBACK")


@dataclass(frozen=True, slots=True)
class ResendAnswer:
    batches: list[SealedBatch]
    gone: list[tuple[int, int, int]] = field(default_factory=list)  # (first, last, readings lost)


@dataclass
class RetentionStats:
    batches: int = 0
    bytes: int = 0
    confirmed_seq: int = -1
    resent_batches_total: int = 0
    gone_readings_total: int = 0
    resend_requests_total: int = 0  # `resend` control messages answered
    gone_batches_total: int = 0  # seqs answered `gone` (evicted before ingest confirmed them)


class Retention:
    def __init__(
        self, queue: DiskQueue, cfg: RetentionConfig, wall_ns: Callable[[], int] = time.time_ns
    ) -> None:
        self.queue, self.cfg, self._wall = queue, cfg, wall_ns
        self._db = queue._db  # same file and transactions as the queue: a batch is never in neither
        self._db.executescript(_SCHEMA)
        self.stats = RetentionStats()
        self._reload()

    def _resync(self) -> None:
        """After a rolled-back transaction: the queue's and the window's counters from the file."""
        self.queue.reload_counters()
        self._reload()

    def _reload(self) -> None:
        q = self._db.execute
        n, b = q("SELECT COUNT(*), COALESCE(SUM(LENGTH(payload)),0) FROM retained").fetchone()
        self.stats.batches, self.stats.bytes = int(n), int(b)
        row = q("SELECT value FROM meta WHERE key = 'confirmed_seq'").fetchone()
        self.stats.confirmed_seq = int(row[0]) if row else -1

    # ------------------------------------------------------------ PUBACK → retained

    def keep(self, seq: int) -> bool:
        """The broker has batch `seq`: move it from the queue to the window (one transaction).
        Same contract as `DiskQueue.ack`: False if it was already gone, or the disk is full (the
        batch stays queued and goes again after the next connect: a duplicate, never a loss)."""
        if not self.cfg.enabled:
            return self.queue.ack(seq)
        return self.queue.unless_full(
            False, f"keeping sent batch {seq}", "stays queued, sent again", self._keep, seq
        )

    def _settle(self, first: int, last: int) -> dict[int, int]:
        with immediate(self._db, self.queue.reload_counters):
            return self.queue.settle_given_up(first, last)

    def _keep(self, seq: int) -> bool:
        with immediate(self._db, self._resync):
            moved = self._db.execute(
                "INSERT OR REPLACE INTO retained(seq, enq_ns, sent_ns, kept_ns, n, payload) "
                "SELECT seq, enq_ns, sent_ns, ?, n, payload FROM batches WHERE seq = ? AND seq > ?",
                (self._wall(), seq, self.stats.confirmed_seq),
            ).rowcount
            if moved:
                (size,) = self._db.execute(
                    "SELECT LENGTH(payload) FROM retained WHERE seq = ?", (seq,)
                ).fetchone()
                self.stats.batches += 1
                self.stats.bytes += int(size)
            acked = self.queue._ack(seq)  # its DELETE joins this transaction
            self._trim()
        return acked

    def trim(self) -> int:
        """Apply the size/age bounds now (the queue grew, or time passed); batches evicted.
        0 when the disk is full (tried again at the next trim)."""
        return self.queue.unless_full(0, "trimming the retention window", "tried again later", self._trim_now)

    def _trim_now(self) -> int:
        with immediate(self._db, self._resync):
            return self._trim()

    def _trim(self) -> int:
        budget = max(0, min(self.cfg.max_bytes, self.queue.max_bytes - self.queue.stats().bytes))
        cutoff = self._wall() - int(self.cfg.max_age_s * 1e9)
        evicted = 0
        while self.stats.batches and (
            self.stats.bytes > budget
            or self._db.execute("SELECT 1 FROM retained WHERE kept_ns < ? LIMIT 1", (cutoff,)).fetchone()
        ):
            rows = self._db.execute(
                "SELECT seq, n, LENGTH(payload) FROM retained ORDER BY seq LIMIT 64"
            ).fetchall()
            for seq, n, size in rows:
                self._db.execute("DELETE FROM retained WHERE seq = ?", (seq,))
                self.queue.give_up(int(seq), int(n), RETENTION_DROP)
                self.stats.batches -= 1
                self.stats.bytes -= int(size)
                evicted += 1
                if self.stats.bytes <= budget:
                    break
        return evicted

    # ------------------------------------------------------------ ingest → agent

    def confirm(self, seq: int) -> int:
        """Ingest stored everything up to `seq`: free it. Returns batches freed."""
        if seq <= self.stats.confirmed_seq:
            return 0
        return self.queue.unless_full(
            0, f"freeing batches ingest stored (up to {seq})", "freed at its next message", self._confirm, seq
        )

    def _confirm(self, seq: int) -> int:
        with immediate(self._db, self.queue.reload_counters):
            n, b = self._db.execute(
                "SELECT COUNT(*), COALESCE(SUM(LENGTH(payload)),0) FROM retained WHERE seq <= ?", (seq,)
            ).fetchone()
            self._db.execute("DELETE FROM retained WHERE seq <= ?", (seq,))
            self.queue.forget_given_up(seq)
            self._db.execute(
                "INSERT INTO meta(key, value) VALUES ('confirmed_seq', ?) "
                "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (seq,),
            )
        self.stats.confirmed_seq = seq
        self.stats.batches -= int(n)
        self.stats.bytes -= int(b)
        return int(n)

    def resend(self, first: int, last: int) -> ResendAnswer:
        """What to republish for seqs first..last, and which sub-ranges are gone (with the
        readings lost: the given-up batches among them, counted once as dropped by the queue).
        Seqs still in the queue are neither: the uplink sends them anyway."""
        last = min(last, self.queue.next_seq - 1)
        if last < first:
            return ResendAnswer([])
        q = self._db.execute
        retained = [
            SealedBatch(int(s), int(n), int(e), bytes(p), int(sent))
            for s, e, sent, n, p in q(
                "SELECT seq, enq_ns, sent_ns, n, payload FROM retained WHERE seq BETWEEN ? AND ? ORDER BY seq",
                (first, last),
            )
        ]
        queued = {int(s) for (s,) in q("SELECT seq FROM batches WHERE seq BETWEEN ? AND ?", (first, last))}
        tombs = self.queue.unless_full(
            {},
            f"counting batches ingest asked for ({first}..{last})",
            "counted when it asks again",
            self._settle,
            first,
            last,
        )
        have = {b.seq for b in retained} | queued
        gone: list[tuple[int, int, int]] = []
        run_start, run_n = -1, 0
        for s in range(first, last + 2):
            missing = s <= last and s not in have
            if missing:
                if run_start < 0:
                    run_start, run_n = s, 0
                run_n += tombs.get(s, 0)
            elif run_start >= 0:
                gone.append((run_start, s - 1, run_n))
                run_start = -1
        lost = sum(n for *_, n in gone)
        self.stats.resend_requests_total += 1
        self.stats.resent_batches_total += len(retained)
        self.stats.gone_batches_total += sum(z - a + 1 for a, z, _ in gone)
        self.stats.gone_readings_total += lost
        return ResendAnswer(retained, gone)


class ControlHandler:
    """The agent's side of the control topics, on the uplink's connection: subscribe to its own
    `durable` and `resend` topics, free on `durable`, republish or answer `gone` on `resend`."""

    def __init__(self, site: str, agent: str, db: DbThread, retention: Retention, clock: Clock) -> None:
        self.retention, self.db, self.clock = retention, db, clock
        self.topics = {k: control_topic(site, agent, k) for k in CONTROL_KINDS}
        self.telemetry = topic(site, agent, "telemetry")
        self._tasks: set[asyncio.Task[None]] = set()

    async def subscribe(self, client: aiomqtt.Client) -> None:
        await client.subscribe([(self.topics["durable"], 1), (self.topics["resend"], 1)])

    async def handle(self, client: aiomqtt.Client, message: aiomqtt.Message) -> None:
        name = str(message.topic)
        if name not in (self.topics["durable"], self.topics["resend"]):
            return
        payload = message.payload if isinstance(message.payload, bytes) else str(message.payload).encode()
        try:
            msg = decode_control(payload, name)
        except TelemetryError as exc:
            log.warning("control message ignored: %s", exc)
            return
        if isinstance(msg, Durable):
            freed = await self.db.run(self.retention.confirm, msg.seq)
            log.debug("ingest stored up to seq %d: %d retained batches freed", msg.seq, freed)
        elif isinstance(msg, Resend):
            task = asyncio.ensure_future(self._resend(client, msg.first, msg.last))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _resend(self, client: aiomqtt.Client, first: int, last: int) -> None:
        answer = await self.db.run(self.retention.resend, first, last)
        with contextlib.suppress(aiomqtt.MqttError):
            for b in answer.batches:
                await client.publish(self.telemetry, b.payload_for_send(self.clock.now_ns()), qos=1)
            for a, z, readings in answer.gone:
                await client.publish(
                    self.topics["gone"],
                    encode_control(Gone.model_validate({"from": a, "to": z, "readings": readings})),
                    qos=1,
                )
        if answer.gone:
            log.warning(
                "ingest asked for seq %d..%d: %d resent; no longer retained: %s (%d readings lost, counted)",
                first,
                last,
                len(answer.batches),
                ", ".join(f"{a}..{z}" for a, z, _ in answer.gone),
                sum(n for *_, n in answer.gone),
            )
        else:
            log.info("ingest asked for seq %d..%d: %d batches resent", first, last, len(answer.batches))

    def cancel(self) -> None:
        for t in self._tasks:
            t.cancel()
