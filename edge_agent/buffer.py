"""The store-and-forward queue: SQLite in WAL mode with synchronous=FULL (fsync at every commit).

Why SQLite: one file, atomic multi-row transactions (seal = delete readings + insert batch +
bump seq, all or nothing), crash-safe with WAL+FULL, in the stdlib. The file is never
recreated on reconnect or restart (the failure of ThingsBoard's gateway we avoid).

Two stages, both on disk:
- `pending`: readings not yet in a batch, oldest first (insertion order).
- `batches`: sealed batches with their seq, persisted *before* publishing; a batch is deleted
  only by `ack(seq)` after its PUBACK. After a crash, `unacked()` returns them again with the
  same seq, so ingest sees a duplicate, never a gap.

Batches are sealed lazily (only when the uplink can take one), so a long outage piles up
readings, not seq numbers, and overflow drops whole oldest readings first.

Bounds: `max_bytes` counts stored reading bytes (the file itself is larger by SQLite's page
overhead); `max_age_s` expires by enqueue time. Every drop is counted per reason in `meta`
(persisted) and returned to the caller to log — never silent.

Not thread-safe: the agent calls it from a single worker thread.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from contract.telemetry import Reading, encode_row, encode_rows_batch

Overflow = Literal["drop_oldest", "refuse_newest"]
DROP_REASONS = ("overflow_oldest", "overflow_refused", "expired", "retention_gone")  # last: retention.py

_SCHEMA = """
CREATE TABLE IF NOT EXISTS pending(
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    enq_ns INTEGER NOT NULL,
    row TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS batches(
    seq INTEGER PRIMARY KEY,
    enq_ns INTEGER NOT NULL,      -- enqueue time of its oldest reading
    sent_ns INTEGER NOT NULL,     -- the 'sent' value currently inside payload
    n INTEGER NOT NULL,
    payload BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""


@dataclass(frozen=True, slots=True)
class SealedBatch:
    seq: int
    n: int
    enq_ns: int
    payload: bytes  # encode_batch output; `sent` is patched per copy by `payload_for_send`
    sent_ns: int

    def payload_for_send(self, sent_ns: int) -> bytes:
        """This batch with `sent` = now. The header is encoded before the rows and ids hold no
        quotes or commas, so the first `,"sent":N,` is the header's."""
        old = b',"sent":%d,' % self.sent_ns
        return self.payload.replace(old, b',"sent":%d,' % sent_ns, 1)


@dataclass(frozen=True, slots=True)
class PutResult:
    accepted: int
    dropped: dict[str, int]  # reason → readings dropped by this call


@dataclass(frozen=True, slots=True)
class QueueStats:
    pending_readings: int
    sealed_batches: int
    sealed_readings: int
    bytes: int
    oldest_enq_ns: int | None
    next_seq: int
    dropped: dict[str, int]

    @property
    def depth(self) -> int:
        """Readings not yet acknowledged upstream."""
        return self.pending_readings + self.sealed_readings

    @property
    def dropped_total(self) -> int:
        return sum(self.dropped.values())


class DiskQueue:
    def __init__(
        self,
        path: str | Path,
        site: str,
        agent: str,
        max_bytes: int,
        max_age_s: float,
        overflow: Overflow = "drop_oldest",
        wall_ns: Callable[[], int] = time.time_ns,
    ) -> None:
        self.path = Path(path)
        self.site, self.agent = site, agent
        self.max_bytes, self.max_age_ns, self.overflow = max_bytes, int(max_age_s * 1e9), overflow
        self._wall = wall_ns
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)
        self._load_counters()

    # ------------------------------------------------------------ state

    def _load_counters(self) -> None:
        q = self._db.execute
        self._pending, pbytes = q("SELECT COUNT(*), COALESCE(SUM(LENGTH(row)),0) FROM pending").fetchone()
        self._batches, self._batch_readings, bbytes = q(
            "SELECT COUNT(*), COALESCE(SUM(n),0), COALESCE(SUM(LENGTH(payload)),0) FROM batches"
        ).fetchone()
        self._bytes = int(pbytes) + int(bbytes)
        meta = dict(q("SELECT key, value FROM meta").fetchall())
        last_seq = q("SELECT MAX(seq) FROM batches").fetchone()[0]
        self._next_seq = max(int(meta.get("next_seq", 0)), (last_seq + 1) if last_seq is not None else 0)
        self._dropped = {r: int(meta.get(f"dropped_{r}", 0)) for r in DROP_REASONS}

    @property
    def pending_readings(self) -> int:
        """Readings not yet sealed into a batch (a plain counter: safe to read from any thread)."""
        return self._pending

    @property
    def unacked_readings(self) -> int:
        """Readings not yet acknowledged upstream, `stats().depth` without its SQL (plain
        counters: the uplink's loop asks on every wake-up, from the event-loop thread)."""
        return self._pending + self._batch_readings

    @property
    def next_seq(self) -> int:
        """The seq the next sealed batch gets (a plain counter: safe to read from any thread)."""
        return self._next_seq

    def _oldest_enq(self) -> int | None:
        a = self._db.execute("SELECT enq_ns FROM batches ORDER BY seq LIMIT 1").fetchone()
        b = self._db.execute("SELECT enq_ns FROM pending ORDER BY id LIMIT 1").fetchone()
        vals = [x[0] for x in (a, b) if x is not None]
        return min(vals) if vals else None

    def stats(self) -> QueueStats:
        return QueueStats(
            pending_readings=self._pending,
            sealed_batches=self._batches,
            sealed_readings=self._batch_readings,
            bytes=self._bytes,
            oldest_enq_ns=self._oldest_enq(),
            next_seq=self._next_seq,
            dropped=dict(self._dropped),
        )

    def _count_drops(self, drops: dict[str, int]) -> None:
        for reason, n in drops.items():
            if n:
                self._dropped[reason] += n
                self._db.execute(
                    "INSERT INTO meta(key, value) VALUES (?, ?) "
                    "ON CONFLICT(key) DO UPDATE SET value = value + excluded.value",
                    (f"dropped_{reason}", n),
                )

    # ------------------------------------------------------------ writing

    def put(self, readings: Sequence[Reading]) -> PutResult:
        """Durably queue readings (returns after fsync). Applies the overflow policy."""
        return self.put_rows([encode_row(r) for r in readings])

    def put_rows(self, rows: Sequence[str]) -> PutResult:
        """`put` of readings already encoded by `contract.telemetry.encode_row` (the agent's
        normaliser emits rows): stored as they are and spliced into batches by `seal`."""
        if not rows:
            return PutResult(0, {})
        now = self._wall()
        sizes = [len(r) if r.isascii() else len(r.encode()) for r in rows]
        drops = {"overflow_oldest": 0, "overflow_refused": 0}
        self._db.execute("BEGIN IMMEDIATE")
        try:
            need = self._bytes + sum(sizes) - self.max_bytes
            if need > 0 and self.overflow == "refuse_newest":
                keep = len(rows)
                while keep and need > 0:
                    keep -= 1
                    need -= sizes[keep]
                drops["overflow_refused"] = len(rows) - keep
                rows, sizes = rows[:keep], sizes[:keep]
            elif need > 0:
                if sum(sizes) > self.max_bytes:  # the call alone is bigger than the buffer: keep its newest
                    cut = 0
                    while sum(sizes[cut:]) > self.max_bytes:
                        cut += 1
                    drops["overflow_oldest"] += cut
                    rows, sizes = rows[cut:], sizes[cut:]
                    need = self._bytes + sum(sizes) - self.max_bytes
                if need > 0:
                    drops["overflow_oldest"] += self._drop_oldest(need)
            self._db.executemany(
                "INSERT INTO pending(enq_ns, row) VALUES (?, ?)", [(now, row) for row in rows]
            )
            self._count_drops(drops)
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            self._load_counters()
            raise
        self._pending += len(rows)
        self._bytes += sum(sizes)
        return PutResult(len(rows), {k: v for k, v in drops.items() if v})

    def _drop_oldest(self, need: int) -> int:
        """Free at least `need` bytes: oldest pending readings first, then oldest sealed batches
        (their seq then shows as a gap at ingest — which is the truth). Inside a transaction."""
        dropped = 0
        while need > 0:
            rows = self._db.execute("SELECT id, LENGTH(row) FROM pending ORDER BY id LIMIT 500").fetchall()
            if not rows:
                break
            upto, freed, k = rows[-1][0], 0, 0
            for rid, size in rows:
                freed += size
                k += 1
                if freed >= need:
                    upto = rid
                    break
            self._db.execute("DELETE FROM pending WHERE id <= ?", (upto,))
            self._pending -= k
            self._bytes -= freed
            dropped += k
            need -= freed
        while need > 0:
            b = self._db.execute(
                "SELECT seq, n, LENGTH(payload) FROM batches ORDER BY seq LIMIT 1"
            ).fetchone()
            if b is None:
                break
            self._db.execute("DELETE FROM batches WHERE seq = ?", (b[0],))
            self._batches -= 1
            self._batch_readings -= b[1]
            self._bytes -= b[2]
            dropped += b[1]
            need -= b[2]
        return dropped

    def expire(self) -> int:
        """Drop everything enqueued longer ago than max_age; returns readings dropped."""
        cutoff = self._wall() - self.max_age_ns
        self._db.execute("BEGIN IMMEDIATE")
        try:
            p = self._db.execute(
                "SELECT COUNT(*), COALESCE(SUM(LENGTH(row)),0) FROM pending WHERE enq_ns < ?", (cutoff,)
            ).fetchone()
            b = self._db.execute(
                "SELECT COUNT(*), COALESCE(SUM(n),0), COALESCE(SUM(LENGTH(payload)),0) FROM batches "
                "WHERE enq_ns < ?",
                (cutoff,),
            ).fetchone()
            self._db.execute("DELETE FROM pending WHERE enq_ns < ?", (cutoff,))
            self._db.execute("DELETE FROM batches WHERE enq_ns < ?", (cutoff,))
            n = int(p[0]) + int(b[1])
            self._count_drops({"expired": n})
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            self._load_counters()
            raise
        self._pending -= int(p[0])
        self._batches -= int(b[0])
        self._batch_readings -= int(b[1])
        self._bytes -= int(p[1]) + int(b[2])
        return n

    def seal(self, max_readings: int) -> SealedBatch | None:
        """Move up to `max_readings` oldest pending readings into a new batch with the next seq,
        durably, before anyone publishes it. None when nothing is pending."""
        rows = self._db.execute(
            "SELECT id, enq_ns, row FROM pending ORDER BY id LIMIT ?", (max_readings,)
        ).fetchall()
        if not rows:
            return None
        seq, now = self._next_seq, self._wall()
        payload = encode_rows_batch(self.site, self.agent, seq, now, [r[2] for r in rows])
        enq = min(r[1] for r in rows)
        freed = sum(len(r[2]) if r[2].isascii() else len(r[2].encode()) for r in rows)
        self._db.execute("BEGIN IMMEDIATE")
        try:
            self._db.execute("DELETE FROM pending WHERE id <= ?", (rows[-1][0],))
            self._db.execute(
                "INSERT INTO batches(seq, enq_ns, sent_ns, n, payload) VALUES (?, ?, ?, ?, ?)",
                (seq, enq, now, len(rows), payload),
            )
            self._db.execute(
                "INSERT INTO meta(key, value) VALUES ('next_seq', ?) "
                "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (seq + 1,),
            )
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            self._load_counters()
            raise
        self._next_seq = seq + 1
        self._pending -= len(rows)
        self._batches += 1
        self._batch_readings += len(rows)
        self._bytes += len(payload) - freed
        return SealedBatch(seq, len(rows), enq, payload, now)

    def unacked(self, after_seq: int = -1, limit: int = 100) -> list[SealedBatch]:
        """Sealed batches not yet acknowledged, in seq order (oldest first)."""
        return [
            SealedBatch(int(s), int(n), int(e), bytes(p), int(sent))
            for s, e, sent, n, p in self._db.execute(
                "SELECT seq, enq_ns, sent_ns, n, payload FROM batches WHERE seq > ? ORDER BY seq LIMIT ?",
                (after_seq, limit),
            )
        ]

    def ack(self, seq: int) -> bool:
        """The broker has the batch (PUBACK): forget it. False if it was already gone."""
        row = self._db.execute("SELECT n, LENGTH(payload) FROM batches WHERE seq = ?", (seq,)).fetchone()
        if row is None:
            return False
        self._db.execute("DELETE FROM batches WHERE seq = ?", (seq,))  # autocommit: one fsync
        self._batches -= 1
        self._batch_readings -= row[0]
        self._bytes -= row[1]
        return True

    def close(self) -> None:
        self._db.close()
