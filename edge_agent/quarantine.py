"""Payloads the agent could not turn into readings, kept on disk with topic and reason.

A bad payload is evidence for the technician (wrong firmware, wrong mapping), so it is stored,
counted and inspectable (`campus-twin agent quarantine CONFIG`), never a crash and never just a
log line. The table keeps the newest `max_records`; the total count survives trimming/restarts.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

_SCHEMA = """
CREATE TABLE IF NOT EXISTS quarantine(
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ts_ns INTEGER NOT NULL,
    source TEXT NOT NULL,     -- 'mqtt' or 'normalise'
    topic TEXT NOT NULL,      -- MQTT topic, or device/point for a sample
    reason TEXT NOT NULL,
    payload BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""
MAX_PAYLOAD_KEPT = 64 * 1024


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
        return {
            "id": self.id,
            "ts_ns": self.ts_ns,
            "source": self.source,
            "topic": self.topic,
            "reason": self.reason,
            "payload": self.payload.decode("utf-8", errors="replace"),
            "truncated": self.truncated,
        }


class Quarantine:
    def __init__(self, path: str | Path, max_records: int = 10_000, readonly: bool = False) -> None:
        self.path = Path(path)
        self.max_records = max_records
        if readonly:
            self._db = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, isolation_level=None)
        else:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(_SCHEMA)
        row = self._db.execute("SELECT value FROM meta WHERE key='total'").fetchone()
        self.total = int(row[0]) if row else 0

    def add(self, source: str, topic: str, reason: str, payload: bytes) -> None:
        kept = payload[:MAX_PAYLOAD_KEPT]
        if len(payload) > MAX_PAYLOAD_KEPT:
            reason = f"{reason} (payload truncated from {len(payload)} bytes)"
        self._db.execute("BEGIN IMMEDIATE")
        try:
            self._db.execute(
                "INSERT INTO quarantine(ts_ns, source, topic, reason, payload) VALUES (?, ?, ?, ?, ?)",
                (time.time_ns(), source, topic, reason, kept),
            )
            self._db.execute(
                "INSERT INTO meta(key, value) VALUES ('total', 1) "
                "ON CONFLICT(key) DO UPDATE SET value = value + 1"
            )
            self._db.execute(
                "DELETE FROM quarantine WHERE id <= (SELECT MAX(id) FROM quarantine) - ?", (self.max_records,)
            )
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self.total += 1

    def records(self, limit: int = 100) -> list[QuarantineRecord]:
        """Newest first."""
        return [
            QuarantineRecord(int(i), int(ts), src, topic, reason, bytes(p), "truncated from" in reason)
            for i, ts, src, topic, reason, p in self._db.execute(
                "SELECT id, ts_ns, source, topic, reason, payload FROM quarantine ORDER BY id DESC LIMIT ?",
                (limit,),
            )
        ]

    def close(self) -> None:
        self._db.close()
