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

A sealed batch has been handed to the uplink, so the broker may already have it: when a bound
removes one, we do not know whether it is lost. It leaves a *tombstone* (seq, readings, reason)
instead of a count; the readings are counted as dropped only if ingest later asks for that seq
(`settle_given_up`, from the retention window's `resend`), and the tombstone is forgotten when
ingest confirms the seq stored (`forget_given_up`). So the drop counters say what was lost,
not what might have been. The retention window (retention.py) gives up its batches the same way.

Storage faults are designed behaviour (buffer_faults.py): a full disk applies the overflow
policy and counts what could not be stored as `disk_full` (one log line, rate-limited), and
never raises; a corrupt file found at start is moved aside (kept for `agent buffer recover`)
and a fresh buffer continues the batch numbers. Any other SQLite failure is raised as
`StorageError`, naming the file.

Not thread-safe: the agent calls it from a single worker thread. Another process may add
readings (`agent buffer recover`): `stats()` rereads the counters when the file changed.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, ParamSpec, TypeVar

from contract.sqlite_tx import immediate
from contract.telemetry import Reading, encode_row, encode_rows_batch
from edge_agent.buffer_faults import (
    WAL_CHECKPOINT_PAGES,
    DiskFull,
    StorageError,
    free_space,
    is_corrupt,
    is_disk_full,
    move_aside,
    storage_error,
)

log = logging.getLogger("edge_agent.buffer")
P = ParamSpec("P")
T = TypeVar("T")

Overflow = Literal["drop_oldest", "refuse_newest"]
DROP_REASONS = (
    "overflow_oldest",
    "overflow_refused",
    "expired",
    "retention_gone",  # retention.py
    "disk_full",  # buffer_faults.py: could not be stored, the disk had no room
    "corrupt_buffer",  # unreadable in a buffer file moved aside as corrupt
)
IN_PLACE_SLACK_BYTES = 64 * 1024  # on a full disk, first free this much more than what comes in
MAX_TOMBSTONES = 1_000_000  # given-up batches remembered; beyond it the oldest are forgotten

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
CREATE TABLE IF NOT EXISTS evicted(  -- tombstones: sent batches given up before ingest confirmed them
    seq INTEGER PRIMARY KEY,
    n INTEGER NOT NULL,
    reason TEXT NOT NULL DEFAULT 'retention_gone'
);
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
class Drops:
    """What one call removed: `dropped` is lost (counted now), `given_up` are readings of sent
    batches removed unconfirmed (counted only if ingest asks for them), both reason → readings."""

    dropped: dict[str, int] = field(default_factory=dict)
    given_up: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class PutResult:
    accepted: int
    drops: Drops


@dataclass(frozen=True, slots=True)
class QueueStats:
    pending_readings: int
    sealed_batches: int
    sealed_readings: int
    bytes: int
    oldest_enq_ns: int | None
    next_seq: int
    dropped: dict[str, int]
    given_up_batches: int = 0  # tombstones: sent batches removed unconfirmed, lost only if asked for

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
        self.disk = DiskFull(self.path, overflow)
        self._unsaved: dict[str, int] = {}  # drops counted while the disk was full, not yet in `meta`
        self._data_version = -1
        self._last_checkpoint = -1.0
        self._full_at_bytes: int | None = None  # what the buffer held when the disk filled
        self.moved_aside: Path | None = None  # where a corrupt file found at start went
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            try:
                self._open()
            except sqlite3.Error as exc:
                if not (is_disk_full(exc, self.path) and self.disk.release_reserve()):
                    raise
                self._db.close()
                self._open()  # started on a full disk: the reserve is the room to open in
                self.disk.hit(exc, "opening it (in the room of its reserve file)")
        except sqlite3.Error as exc:
            if hasattr(self, "_db"):
                self._db.close()
            if is_disk_full(exc, self.path):
                raise StorageError(
                    f"buffer {self.path}: cannot open, the disk is full ({exc}); {free_space(self.path)}"
                ) from None
            if not is_corrupt(exc):
                raise StorageError(f"buffer {self.path}: cannot open: {exc}") from None
            self._start_fresh(exc)
        self.disk.keep_reserve()

    def _open(self) -> None:
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA busy_timeout=5000")  # `agent buffer recover` may write meanwhile
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute(f"PRAGMA wal_autocheckpoint={WAL_CHECKPOINT_PAGES}")  # the reserve covers it
        (check,) = self._db.execute("PRAGMA quick_check(1)").fetchone()
        if check != "ok":
            raise sqlite3.DatabaseError(f"database disk image is malformed ({check})")
        self._db.executescript(_SCHEMA)
        if "reason" not in {c[1] for c in self._db.execute("PRAGMA table_info(evicted)")}:
            # a file from before the queue gave up batches: its tombstones were all retention's
            self._db.execute("ALTER TABLE evicted ADD COLUMN reason TEXT NOT NULL DEFAULT 'retention_gone'")
        self.reload_counters()

    def _start_fresh(self, exc: sqlite3.Error) -> None:
        """The file is corrupt: move it aside (kept), start an empty buffer that continues its
        batch numbers where they can still be read, count what is surely unreadable."""
        from edge_agent.buffer_recover import scan  # only on this rare path

        aside = self.moved_aside = move_aside(self.path)
        found = scan(aside)
        self._open()
        with immediate(self._db, self.reload_counters):
            if found.next_seq is not None:
                self._db.execute(
                    "INSERT OR REPLACE INTO meta(key, value) VALUES ('next_seq', ?)", (found.next_seq,)
                )
            self._count_drops({"corrupt_buffer": found.unreadable})
        self.reload_counters()
        log.error(
            "buffer %s is corrupt (%s): moved aside to %s and a fresh buffer started (next batch %s); "
            "the old file holds %s — `campus-twin agent buffer recover CONFIG %s` queues them for "
            "sending; the unreadable ones are counted as dropped (reason corrupt_buffer)%s",
            self.path,
            exc,
            aside,
            found.next_seq if found.next_seq is not None else "0: its numbers were unreadable",
            found.summary(),
            aside,
            " — how many more is unknown" if found.unknown else "",
        )

    # ------------------------------------------------------------ state

    def reload_counters(self) -> None:
        q = self._db.execute
        self._pending, pbytes = q("SELECT COUNT(*), COALESCE(SUM(LENGTH(row)),0) FROM pending").fetchone()
        self._batches, self._batch_readings, bbytes = q(
            "SELECT COUNT(*), COALESCE(SUM(n),0), COALESCE(SUM(LENGTH(payload)),0) FROM batches"
        ).fetchone()
        self._bytes = int(pbytes) + int(bbytes)
        meta = dict(q("SELECT key, value FROM meta").fetchall())
        last_seq = q("SELECT MAX(seq) FROM batches").fetchone()[0]
        self._next_seq = max(int(meta.get("next_seq", 0)), (last_seq + 1) if last_seq is not None else 0)
        self._dropped = {r: int(meta.get(f"dropped_{r}", 0)) + self._unsaved.get(r, 0) for r in DROP_REASONS}
        self._tombstones = int(q("SELECT COUNT(*) FROM evicted").fetchone()[0])
        self._data_version = int(q("PRAGMA data_version").fetchone()[0])

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
    def given_up_batches(self) -> int:
        """Tombstones held (a plain counter)."""
        return self._tombstones

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
        if int(self._db.execute("PRAGMA data_version").fetchone()[0]) != self._data_version:
            self.reload_counters()  # another process wrote to the file (`agent buffer recover`)
        return QueueStats(
            pending_readings=self._pending,
            sealed_batches=self._batches,
            sealed_readings=self._batch_readings,
            bytes=self._bytes,
            oldest_enq_ns=self._oldest_enq(),
            next_seq=self._next_seq,
            dropped=dict(self._dropped),
            given_up_batches=self._tombstones,
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

    # ------------------------------------------------------------ given-up batches (tombstones)

    def give_up(self, seq: int, n: int, reason: str) -> None:
        """Batch `seq` (n readings), already handed to the broker, leaves the buffer before ingest
        confirmed it: remember it, lost only if ingest asks for it. Inside a transaction."""
        self._db.execute("INSERT OR REPLACE INTO evicted(seq, n, reason) VALUES (?, ?, ?)", (seq, n, reason))
        self._tombstones += 1
        if self._tombstones > MAX_TOMBSTONES:
            extra = self._tombstones - MAX_TOMBSTONES
            self._db.execute(
                "DELETE FROM evicted WHERE seq IN (SELECT seq FROM evicted ORDER BY seq LIMIT ?)", (extra,)
            )
            self._tombstones = MAX_TOMBSTONES

    def settle_given_up(self, first: int, last: int) -> dict[int, int]:
        """Ingest asked for seqs first..last, so the given-up batches among them are lost: count
        their readings as dropped (once, by the reason each was given up for) and forget them.
        Returns seq → readings. Inside a transaction."""
        rows = self._db.execute(
            "SELECT seq, n, reason FROM evicted WHERE seq BETWEEN ? AND ?", (first, last)
        ).fetchall()
        if not rows:
            return {}
        self._db.execute("DELETE FROM evicted WHERE seq BETWEEN ? AND ?", (first, last))
        self._tombstones -= len(rows)
        drops: dict[str, int] = {}
        for _, n, reason in rows:
            drops[reason] = drops.get(reason, 0) + int(n)
        self._count_drops(drops)
        return {int(seq): int(n) for seq, n, _ in rows}

    def forget_given_up(self, upto_seq: int) -> int:
        """Ingest confirmed every seq up to `upto_seq` stored: the given-up batches among them
        reached it after all. Inside a transaction; returns tombstones forgotten."""
        n = max(0, self._db.execute("DELETE FROM evicted WHERE seq <= ?", (upto_seq,)).rowcount)
        self._tombstones -= n
        return n

    # ------------------------------------------------------------ writing

    def put(self, readings: Sequence[Reading]) -> PutResult:
        """Durably queue readings (returns after fsync). Applies the overflow policy."""
        return self.put_rows([encode_row(r) for r in readings])

    def put_rows(self, rows: Sequence[str]) -> PutResult:
        """`put` of readings already encoded by `contract.telemetry.encode_row` (the agent's
        normaliser emits rows): stored as they are and spliced into batches by `seal`.

        A full disk is not an error: see `_put_while_full`."""
        if not rows:
            return PutResult(0, Drops())
        if self.disk.room_again():
            self._full_at_bytes = None
            try:
                self._save_unsaved()
                return self._put_rows(rows)
            except sqlite3.Error as exc:
                if not is_disk_full(exc, self.path):
                    raise storage_error(self.path, f"storing {len(rows)} readings", exc) from exc
                self.disk.hit(exc, "storing readings")
        return self._put_while_full(rows)

    def _put_while_full(self, rows: Sequence[str]) -> PutResult:
        """drop_oldest: every new reading takes the place of old ones (`_put_in_place`: the file
        does not grow, so SQLite keeps reusing its pages); refuse_newest, or when even that finds
        no room: the new readings are not stored. Counted as `disk_full` either way."""
        if self.overflow == "drop_oldest":
            try:
                result = self.with_room(self._put_in_place, rows)
            except sqlite3.Error as exc:
                if not is_disk_full(exc, self.path):
                    raise storage_error(self.path, f"storing {len(rows)} readings", exc) from exc
            else:
                self.disk.count(sum(result.drops.dropped.values()))
                return result
        self._dropped["disk_full"] += len(rows)
        self._unsaved["disk_full"] = self._unsaved.get("disk_full", 0) + len(rows)
        self.disk.count(len(rows))
        return PutResult(0, Drops({"disk_full": len(rows)}))

    def _put_in_place(self, rows: Sequence[str]) -> PutResult:
        """A full disk's drop_oldest: the buffer holds at most what it held when the disk
        filled, like a lower `max_bytes` — the oldest readings beyond it are deleted in the
        same transaction, so the file does not grow. (While the uplink sends, nothing needs
        to go: sent batches free their room.)"""
        if self._full_at_bytes is None:  # less some slack: deleted rows free whole pages only
            self._full_at_bytes = max(0, self._bytes - IN_PLACE_SLACK_BYTES)
        sizes = [len(r) if r.isascii() else len(r.encode()) for r in rows]
        now = self._wall()
        need = self._bytes + sum(sizes) - self._full_at_bytes
        with immediate(self._db, self.reload_counters):
            lost, given_up = self._drop_oldest(need, "disk_full") if need > 0 else (0, 0)
            self._db.executemany(
                "INSERT INTO pending(enq_ns, row) VALUES (?, ?)", [(now, row) for row in rows]
            )
            self._count_drops({"disk_full": lost})
            self._write_unsaved()
        self._unsaved.clear()
        self._pending += len(rows)
        self._bytes += sum(sizes)
        return PutResult(
            len(rows), Drops({"disk_full": lost} if lost else {}, {"disk_full": given_up} if given_up else {})
        )

    def with_room(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """`fn(...)`; on a full disk, once more after a checkpoint (`_checkpoint`) lets SQLite
        reuse its write-ahead log and the pages it freed."""
        try:
            return fn(*args, **kwargs)
        except sqlite3.Error as exc:
            if not is_disk_full(exc, self.path) or not self._checkpoint():
                raise
        return fn(*args, **kwargs)

    def unless_full(
        self, default: T, doing: str, when_full: str, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """`fn(...)` (`with_room`); on a disk still full, `default` (the full disk said once, by
        `DiskFull`); any other storage failure as `StorageError` naming the file and `doing`.
        What the uplink calls goes through here, so a storage error never surprises it."""
        try:
            return self.with_room(fn, *args, **kwargs)
        except sqlite3.Error as exc:
            if not is_disk_full(exc, self.path):
                raise storage_error(self.path, doing, exc) from exc
            self.disk.hit(exc, f"{doing} ({when_full})")
            return default

    def _checkpoint(self) -> bool:
        """Copy the WAL into the database and start it again from its beginning (it keeps its
        room); if that needs room the disk does not have, release the reserve (buffer_faults.py)
        and try once more. At most once a second (a full disk calls on every write)."""
        now = time.monotonic()
        if now - self._last_checkpoint < 1.0:
            return False
        self._last_checkpoint = now
        for _ in range(2):
            try:
                busy, _, _ = self._db.execute("PRAGMA wal_checkpoint(RESTART)").fetchone()
                if not busy:
                    return True
            except sqlite3.Error:
                pass
            if not self.disk.release_reserve():
                return False
        return False

    def _save_unsaved(self) -> None:
        """Drops counted while the disk was full go into `meta` once a write succeeds again."""
        if self._unsaved:
            with immediate(self._db):
                self._write_unsaved()
            self._unsaved.clear()

    def _write_unsaved(self) -> None:
        """Inside a transaction: the unsaved drops into `meta` (the caller clears them after COMMIT)."""
        self._db.executemany(
            "INSERT INTO meta(key, value) VALUES (?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value = value + excluded.value",
            [(f"dropped_{r}", n) for r, n in self._unsaved.items()],
        )

    def _put_rows(self, rows: Sequence[str]) -> PutResult:
        now = self._wall()
        sizes = [len(r) if r.isascii() else len(r.encode()) for r in rows]
        dropped = {"overflow_oldest": 0, "overflow_refused": 0}
        given_up = 0
        with immediate(self._db, self.reload_counters):
            need = self._bytes + sum(sizes) - self.max_bytes
            if need > 0 and self.overflow == "refuse_newest":
                keep = len(rows)
                while keep and need > 0:
                    keep -= 1
                    need -= sizes[keep]
                dropped["overflow_refused"] = len(rows) - keep
                rows, sizes = rows[:keep], sizes[:keep]
            elif need > 0:
                if sum(sizes) > self.max_bytes:  # the call alone is bigger than the buffer: keep its newest
                    cut = 0
                    while sum(sizes[cut:]) > self.max_bytes:
                        cut += 1
                    dropped["overflow_oldest"] += cut
                    rows, sizes = rows[cut:], sizes[cut:]
                    need = self._bytes + sum(sizes) - self.max_bytes
                if need > 0:
                    lost, given_up = self._drop_oldest(need, "overflow_oldest")
                    dropped["overflow_oldest"] += lost
            self._db.executemany(
                "INSERT INTO pending(enq_ns, row) VALUES (?, ?)", [(now, row) for row in rows]
            )
            self._count_drops(dropped)
        self._pending += len(rows)
        self._bytes += sum(sizes)
        return PutResult(
            len(rows),
            Drops({k: v for k, v in dropped.items() if v}, {"overflow_oldest": given_up} if given_up else {}),
        )

    def _drop_oldest(self, need: int, reason: str) -> tuple[int, int]:
        """Free at least `need` bytes: oldest pending readings first (lost), then oldest sealed
        batches (given up: the broker may have them). Inside a transaction; returns
        (readings dropped, readings given up)."""
        dropped = given_up = 0
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
            self.give_up(int(b[0]), int(b[1]), reason)
            self._batches -= 1
            self._batch_readings -= b[1]
            self._bytes -= b[2]
            given_up += b[1]
            need -= b[2]
        return dropped, given_up

    def expire(self) -> Drops:
        """Remove everything enqueued longer ago than max_age: pending readings are dropped,
        sealed batches given up (see the module docstring)."""
        cutoff = self._wall() - self.max_age_ns
        return self.unless_full(Drops(), "expiring old readings", "tried again later", self._expire, cutoff)

    def _expire(self, cutoff: int) -> Drops:
        with immediate(self._db, self.reload_counters):
            p = self._db.execute(
                "SELECT COUNT(*), COALESCE(SUM(LENGTH(row)),0) FROM pending WHERE enq_ns < ?", (cutoff,)
            ).fetchone()
            sealed = self._db.execute(
                "SELECT seq, n, LENGTH(payload) FROM batches WHERE enq_ns < ?", (cutoff,)
            ).fetchall()
            self._db.execute("DELETE FROM pending WHERE enq_ns < ?", (cutoff,))
            self._db.execute("DELETE FROM batches WHERE enq_ns < ?", (cutoff,))
            for seq, n, _ in sealed:
                self.give_up(int(seq), int(n), "expired")
            self._count_drops({"expired": int(p[0])})
        given_up = sum(int(n) for _, n, _ in sealed)
        self._pending -= int(p[0])
        self._batches -= len(sealed)
        self._batch_readings -= given_up
        self._bytes -= int(p[1]) + sum(int(size) for *_, size in sealed)
        return Drops({"expired": int(p[0])} if p[0] else {}, {"expired": given_up} if given_up else {})

    def seal(self, max_readings: int) -> SealedBatch | None:
        """Move up to `max_readings` oldest pending readings into a new batch with the next seq,
        durably, before anyone publishes it. None when nothing is pending, or when the disk is
        full (the readings stay pending; the uplink tries again)."""
        return self.unless_full(None, "sealing a batch", "tried again later", self._seal, max_readings)

    def _seal(self, max_readings: int) -> SealedBatch | None:
        rows = self._db.execute(
            "SELECT id, enq_ns, row FROM pending ORDER BY id LIMIT ?", (max_readings,)
        ).fetchall()
        if not rows:
            return None
        seq, now = self._next_seq, self._wall()
        payload = encode_rows_batch(self.site, self.agent, seq, now, [r[2] for r in rows])
        enq = min(r[1] for r in rows)
        freed = sum(len(r[2]) if r[2].isascii() else len(r[2].encode()) for r in rows)
        with immediate(self._db, self.reload_counters):
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
        """The broker has the batch (PUBACK): forget it. False if it was already gone, or the disk
        is full (then it stays and is sent again after the next connect: a duplicate, not a loss)."""
        return self.unless_full(False, f"removing sent batch {seq}", "kept, sent again", self._ack, seq)

    def _ack(self, seq: int) -> bool:
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
