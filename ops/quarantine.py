"""The one quarantine: input a process could not use, kept on disk with its topic and reason.

A bad payload is evidence for the technician (wrong firmware, wrong mapping, a database that
refused a point), so it is stored, counted and inspectable (`campus-twin quarantine show|count`),
never a crash and never just a log line. The agent and ingest used to keep two formats (SQLite
with `max_records` vs JSON lines per day) with two reader commands; both now use this one:

- one SQLite file (WAL, `synchronous=FULL`): readable while the process writes, one fsync per
  commit; `{path, max_records}` in every config (`QuarantineConfig`);
- retention: the newest `max_records` rows are kept; counts per source survive trimming and
  restarts (`counts()`), so metrics never go backwards;
- `autoflush=False` lets ingest make a whole batch's rejects durable with one commit (`flush()`)
  before it acks the batch; the agent commits each record as it comes.

`tests/test_layering.py` rejects a second quarantine implementation anywhere else.
"""

from __future__ import annotations

import base64
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from contract.sqlite_tx import immediate

_SCHEMA = """
CREATE TABLE IF NOT EXISTS quarantine(
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ts_ns INTEGER NOT NULL,
    source TEXT NOT NULL,     -- who refused it: mqtt, normalise (agent); payload, store (ingest)
    topic TEXT NOT NULL,      -- MQTT topic, device/point, or '' when there is none
    reason TEXT NOT NULL,
    payload BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""
MAX_PAYLOAD_KEPT = 64 * 1024
_COUNT_PREFIX = "total:"


class QuarantineConfig(BaseModel):
    """`quarantine: {path, max_records}`; each role documents its default path."""

    model_config = ConfigDict(extra="forbid")

    path: Path | None = Field(default=None, description="SQLite file; default chosen by the role")
    max_records: int = Field(default=10_000, ge=10, description="newest records kept; counts survive")


@dataclass(frozen=True, slots=True)
class QuarantineRecord:
    id: int
    ts_ns: int
    source: str
    topic: str
    reason: str
    payload: bytes
    truncated: bool = False

    def to_json(self) -> dict[str, object]:
        """Text payloads as text; binary ones (CBOR, protobuf, a raw frame) as base64 with
        `payload_encoding: base64`, so the original bytes survive `quarantine show --json`."""
        try:
            payload, encoding = self.payload.decode("utf-8"), "utf-8"
        except UnicodeDecodeError:
            payload, encoding = base64.b64encode(self.payload).decode("ascii"), "base64"
        return {
            "id": self.id,
            "ts_ns": self.ts_ns,
            "source": self.source,
            "topic": self.topic,
            "reason": self.reason,
            "payload": payload,
            "payload_encoding": encoding,
            "truncated": self.truncated,
        }


class Quarantine:
    """Thread-safe; `add` is durable on return unless `autoflush=False` (then at `flush()`)."""

    def __init__(
        self, path: str | Path, max_records: int = 10_000, *, readonly: bool = False, autoflush: bool = True
    ) -> None:
        self.path = Path(path)
        self.max_records = max_records
        self.autoflush = autoflush
        self.readonly = readonly
        self._lock = threading.Lock()
        self._pending: list[tuple[int, str, str, str, bytes]] = []
        if readonly:
            self._db = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, isolation_level=None)
        else:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(_SCHEMA)
        self._counts = self._read_counts()

    def _read_counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for key, value in self._db.execute("SELECT key, value FROM meta"):
            if key.startswith(_COUNT_PREFIX):
                out[key[len(_COUNT_PREFIX) :]] = int(value)
            elif key == "total":  # files written before counts were kept per source
                out["unknown"] = out.get("unknown", 0) + int(value)
        return out

    def add(self, source: str, topic: str | None, reason: str, payload: bytes) -> None:
        kept = payload[:MAX_PAYLOAD_KEPT]
        if len(payload) > MAX_PAYLOAD_KEPT:
            reason = f"{reason} (payload truncated from {len(payload)} bytes)"
        with self._lock:
            self._pending.append((time.time_ns(), source, topic or "", reason, kept))
            self._counts[source] = self._counts.get(source, 0) + 1
        if self.autoflush:
            self.flush()

    def flush(self) -> None:
        """Commit everything added so far in one transaction (one fsync), then trim."""
        with self._lock:
            pending, self._pending = self._pending, []
            if not pending:
                return
            by_source: dict[str, int] = {}
            for _, source, *_rest in pending:
                by_source[source] = by_source.get(source, 0) + 1

            def keep_for_next_flush() -> None:  # nothing lost silently
                self._pending[:0] = pending

            with immediate(self._db, keep_for_next_flush):
                self._db.executemany(
                    "INSERT INTO quarantine(ts_ns, source, topic, reason, payload) VALUES (?, ?, ?, ?, ?)",
                    pending,
                )
                self._db.executemany(
                    "INSERT INTO meta(key, value) VALUES (?, ?) "
                    "ON CONFLICT(key) DO UPDATE SET value = value + excluded.value",
                    [(_COUNT_PREFIX + s, n) for s, n in by_source.items()],
                )
                self._db.execute(
                    "DELETE FROM quarantine WHERE id <= (SELECT MAX(id) FROM quarantine) - ?",
                    (self.max_records,),
                )

    def counts(self) -> dict[str, int]:
        """Records ever quarantined, per source (including trimmed and not yet flushed ones)."""
        with self._lock:
            return dict(self._counts)

    @property
    def total(self) -> int:
        return sum(self.counts().values())

    def records(self, limit: int = 100, source: str | None = None) -> list[QuarantineRecord]:
        """Newest first (committed records only)."""
        where, args = ("WHERE source = ?", (source, limit)) if source else ("", (limit,))
        with self._lock:
            rows = self._db.execute(
                f"SELECT id, ts_ns, source, topic, reason, payload FROM quarantine {where} "
                "ORDER BY id DESC LIMIT ?",
                args,
            ).fetchall()
        return [
            QuarantineRecord(int(i), int(ts), src, topic, reason, bytes(p), "truncated from" in reason)
            for i, ts, src, topic, reason, p in rows
        ]

    def close(self) -> None:
        """Commits what is still pending (a graceful stop loses nothing), then closes."""
        if not self.readonly:
            self.flush()
        self._db.close()
