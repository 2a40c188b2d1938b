"""Rejected input on disk: one JSON line per reject, fsynced before the MQTT message is acked.

A reject is never just a log line: the payload (or the refused line-protocol line), the topic
and the reason are kept so an operator can see what a gateway sent and replay it after a fix.
Files are per UTC day (`quarantine-YYYYMMDD.jsonl`) so old ones can be deleted by date.
"""

from __future__ import annotations

import base64
import json
import os
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

RejectKind = Literal["payload", "store"]


@dataclass(frozen=True, slots=True)
class Reject:
    received_ns: int
    kind: RejectKind  # payload: broke the contract; store: the database refused the point
    topic: str | None
    reason: str
    payload: bytes

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "received_ns": self.received_ns,
            "kind": self.kind,
            "topic": self.topic,
            "reason": self.reason,
        }
        try:
            doc["payload"] = self.payload.decode("utf-8")
        except UnicodeDecodeError:
            doc["payload_b64"] = base64.b64encode(self.payload).decode()
        return doc

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> Reject:
        raw = doc["payload"].encode() if "payload" in doc else base64.b64decode(doc.get("payload_b64", ""))
        return cls(int(doc["received_ns"]), doc["kind"], doc.get("topic"), str(doc["reason"]), raw)


class Quarantine:
    """Append-only; `add` buffers, `flush` makes everything added so far durable."""

    def __init__(self, directory: str | Path) -> None:
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self._pending: list[Reject] = []
        self._lock = threading.Lock()
        self.total: Counter[str] = Counter()

    def add(self, kind: RejectKind, topic: str | None, reason: str, payload: bytes) -> None:
        with self._lock:
            self._pending.append(Reject(time.time_ns(), kind, topic, reason, payload))
            self.total[kind] += 1

    def flush(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, []
        if not pending:
            return
        by_file: dict[Path, list[str]] = {}
        for r in pending:
            day = time.strftime("%Y%m%d", time.gmtime(r.received_ns / 1e9))
            by_file.setdefault(self.dir / f"quarantine-{day}.jsonl", []).append(
                json.dumps(r.to_json(), ensure_ascii=False)
            )
        for path, lines in by_file.items():
            with path.open("a", encoding="utf-8") as f:
                f.write("\n".join(lines) + "\n")
                f.flush()
                os.fsync(f.fileno())


def read_rejects(directory: str | Path) -> Iterator[Reject]:
    """Every quarantined reject, oldest file first (for `campus-twin ingest quarantine`)."""
    for path in sorted(Path(directory).glob("quarantine-*.jsonl")):
        with path.open(encoding="utf-8") as f:
            for line in f:
                if line.strip():
                    yield Reject.from_json(json.loads(line))
